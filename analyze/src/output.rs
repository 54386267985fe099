//! Printing matching events: sysdig's default line, `-p` custom formats made
//! of `%field` tokens and literal text, JSON Lines whose keys are filter
//! field names, the `-t` time modes of `evt.outputtime`, and the `-A`/`-X`
//! buffer dumps.
//!
//! A format is parsed once ([`Format::parse`]) and bound to each trace's
//! event table ([`Printer::bind`]), because parameter fields such as
//! `evt.arg.fd` sit at different positions in different tables. Printing
//! then appends one line per event to a byte buffer the caller owns, so the
//! hot path allocates only where a field's value is built for the event.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Write;

use crate::compile::{Catalog, FilterError};
use crate::fields::{Ctx, Field};
use crate::filter::Span;
use crate::value::{Value, printable};

/// sysdig's default line (its non-terminal form, reference §3.1).
pub const DEFAULT_FORMAT: &str =
    "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info";

/// sysdig's default line with container columns (`-pc`).
pub const CONTAINER_FORMAT: &str = "*%evt.num %evt.outputtime %evt.cpu %container.name \
     (%container.id) %proc.name (%thread.tid:%thread.vtid) %evt.dir %evt.type %evt.info";

/// The keys of a JSON line when no `-p` format is given: what a script
/// usually wants, each a filter field name. `fd.name` is left out of events
/// without an fd rather than written as `null`.
const DEFAULT_JSON: &[&str] = &[
    "evt.num",
    "evt.time",
    "evt.rawtime",
    "evt.cpu",
    "proc.name",
    "proc.pid",
    "thread.tid",
    "evt.type",
    "evt.res",
    "evt.rawres",
    "evt.info",
    "fd.name",
];

/// The pseudo-field whose text follows the time mode (`-t`).
const OUTPUT_TIME: &str = "evt.outputtime";

/// How `evt.outputtime` is shown (`-t`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TimeMode {
    /// `HH:MM:SS.nnnnnnnnn` of the event (UTC: a trace is read the same way
    /// on every machine).
    #[default]
    Human,
    /// Seconds and nanoseconds since the epoch.
    Absolute,
    /// Time since the first displayed event.
    Relative,
    /// The event's own duration (syscall entry to exit).
    Latency,
    /// Time since the previously displayed event.
    Delta,
}

impl TimeMode {
    /// The mode for sysdig's `-t` letter.
    pub fn from_letter(letter: &str) -> Option<TimeMode> {
        Some(match letter {
            "h" => TimeMode::Human,
            "a" => TimeMode::Absolute,
            "r" => TimeMode::Relative,
            "d" => TimeMode::Latency,
            "D" => TimeMode::Delta,
            _ => return None,
        })
    }
}

/// How I/O buffers are shown besides their dotted form in `evt.info`
/// (`-A`, `-X`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BufferMode {
    /// Only inline, non-printable bytes as `.`.
    #[default]
    Inline,
    /// Printable ASCII and line ends, under the event's line.
    Ascii,
    /// A hex dump with an ASCII column, under the event's line.
    Hex,
}

impl BufferMode {
    /// The mode sysdig's `-A` (ASCII) and `-X` (hex) flags ask for; hex
    /// wins when both are given.
    pub fn from_flags(ascii: bool, hex: bool) -> BufferMode {
        match (ascii, hex) {
            (_, true) => BufferMode::Hex,
            (true, false) => BufferMode::Ascii,
            (false, false) => BufferMode::Inline,
        }
    }
}

/// Everything that decides how an event is printed.
#[derive(Debug, Clone, Default)]
pub struct OutputOptions {
    /// A `-p` format; `None` for the default line (or the default JSON keys).
    pub format: Option<String>,
    /// JSON Lines instead of text.
    pub json: bool,
    /// How `evt.outputtime` is shown.
    pub time: TimeMode,
    /// Buffer dumps.
    pub buffers: BufferMode,
    /// At most this many bytes of a buffer are shown (`-s`).
    pub buffer_len: Option<usize>,
}

#[derive(Debug, Clone)]
enum Token {
    Text(Vec<u8>),
    Field(Column),
}

#[derive(Debug, Clone)]
struct Column {
    /// The field as written (`proc.aname[2]`): the JSON key.
    name: String,
    /// Where the name starts in the format, for error carets.
    span: Span,
    /// `%10proc.name`: exactly this many characters.
    width: Option<usize>,
    /// Left out of a JSON line, instead of `null`, when missing.
    optional: bool,
}

/// A parsed output format: literal text and field columns.
#[derive(Debug, Clone)]
pub struct Format {
    tokens: Vec<Token>,
    /// A leading `*`: print the line even when a field is missing.
    always: bool,
}

fn is_field_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'_'
}

impl Format {
    /// Parses a `-p` format. Escapes `\n`, `\t`, `\e` and `\\` are
    /// expanded; `%%` is a literal `%`. Field names are checked only when
    /// the format is bound to a trace ([`Printer::bind`]).
    ///
    /// # Errors
    /// A `%` not followed by a field name, or an unclosed `[`.
    pub fn parse(source: &str) -> Result<Format, FilterError> {
        let bytes = source.as_bytes();
        let (always, mut at) = match bytes.first() {
            Some(b'*') => (true, 1),
            _ => (false, 0),
        };
        let mut tokens = Vec::new();
        let mut text = Vec::new();
        while at < bytes.len() {
            match bytes[at] {
                b'\\' if at + 1 < bytes.len() => {
                    let escaped = match bytes[at + 1] {
                        b'n' => Some(b'\n'),
                        b't' => Some(b'\t'),
                        b'e' => Some(0x1b),
                        b'\\' => Some(b'\\'),
                        _ => None,
                    };
                    match escaped {
                        Some(byte) => {
                            text.push(byte);
                            at += 2;
                        }
                        None => {
                            text.push(b'\\');
                            at += 1;
                        }
                    }
                }
                b'%' if bytes.get(at + 1) == Some(&b'%') => {
                    text.push(b'%');
                    at += 2;
                }
                b'%' => {
                    let percent = at;
                    at += 1;
                    let digits = bytes[at..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    let width = match digits {
                        0 => None,
                        _ => source[at..at + digits].parse().ok(),
                    };
                    at += digits;
                    let start = at;
                    while at < bytes.len() && is_field_char(bytes[at]) {
                        at += 1;
                    }
                    // A sentence may end right after a field: `%proc.name.`
                    while at > start && bytes[at - 1] == b'.' {
                        at -= 1;
                    }
                    if at == start {
                        return Err(FilterError {
                            span: Span::new(percent, (percent + 1 + digits).max(percent + 1)),
                            message: "'%' must be followed by a field name (write %% for a \
                                      literal %)"
                                .to_owned(),
                        });
                    }
                    if bytes.get(at) == Some(&b'[') {
                        let close = source[at..].find(']').ok_or_else(|| FilterError {
                            span: Span::new(at, source.len()),
                            message: "unclosed '[' in a field argument".to_owned(),
                        })?;
                        at += close + 1;
                    }
                    if !text.is_empty() {
                        tokens.push(Token::Text(std::mem::take(&mut text)));
                    }
                    tokens.push(Token::Field(Column {
                        name: source[start..at].to_owned(),
                        span: Span::new(start, at),
                        width,
                        optional: false,
                    }));
                }
                byte => {
                    text.push(byte);
                    at += 1;
                }
            }
        }
        if !text.is_empty() {
            tokens.push(Token::Text(text));
        }
        Ok(Format { tokens, always })
    }

    /// The keys of the default JSON line.
    fn default_json() -> Format {
        let tokens = DEFAULT_JSON
            .iter()
            .map(|name| {
                Token::Field(Column {
                    name: (*name).to_owned(),
                    span: Span::new(0, 0),
                    width: None,
                    optional: *name == "fd.name",
                })
            })
            .collect();
        Format {
            tokens,
            always: true,
        }
    }

    fn columns(&self) -> impl Iterator<Item = &Column> {
        self.tokens.iter().filter_map(|t| match t {
            Token::Field(column) => Some(column),
            Token::Text(_) => None,
        })
    }
}

/// A column bound to one trace.
#[derive(Debug, Clone)]
enum Bound {
    OutputTime,
    /// `evt.info` and `evt.args`, written straight into the line.
    Args,
    /// `evt.time`, written without building a string.
    Clock,
    Field(Field),
}

/// A format's fields resolved against one trace's event table
/// ([`Printer::resolve`]).
#[derive(Debug, Default)]
pub struct Binding {
    bound: Vec<Bound>,
    buffer: Option<Field>,
}

/// Prints events in one format; keeps what the relative time modes need
/// from one displayed event to the next, across traces.
#[derive(Debug)]
pub struct Printer {
    format: Format,
    source: String,
    json: bool,
    time: TimeMode,
    buffers: BufferMode,
    buffer_len: usize,
    bound: Vec<Bound>,
    buffer: Option<Field>,
    first_shown: Option<u64>,
    last_shown: Option<u64>,
    /// Reused per event: one column's text, before padding.
    scratch: Vec<u8>,
    /// `HH:MM:SS.` of the last second printed.
    clock: Clock,
}

impl Printer {
    /// A printer for `options`; bind it to a trace before printing.
    ///
    /// # Errors
    /// A malformed `-p` format, with the span to underline.
    pub fn new(options: &OutputOptions) -> Result<Printer, FilterError> {
        let (format, source) = match (&options.format, options.json) {
            (Some(source), _) => (Format::parse(source)?, source.clone()),
            (None, true) => (Format::default_json(), String::new()),
            (None, false) => (Format::parse(DEFAULT_FORMAT)?, DEFAULT_FORMAT.to_owned()),
        };
        Ok(Printer {
            format,
            source,
            json: options.json,
            time: options.time,
            buffers: options.buffers,
            buffer_len: options.buffer_len.unwrap_or(usize::MAX),
            bound: Vec::new(),
            buffer: None,
            first_shown: None,
            last_shown: None,
            scratch: Vec::new(),
            clock: Clock::default(),
        })
    }

    /// The format's source text, for error carets (empty for the default
    /// JSON keys).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Resolves the format's fields against a trace's event table.
    ///
    /// # Errors
    /// An unknown field or a bad argument, with the span to underline.
    pub fn bind(&mut self, catalog: Catalog<'_>) -> Result<(), FilterError> {
        let mut binding = self.resolve(catalog)?;
        self.swap_binding(&mut binding);
        Ok(())
    }

    /// The format's fields resolved against a trace's event table, kept
    /// apart from the printer so that a reader merging several traces can
    /// move between them event by event ([`Printer::swap_binding`]) without
    /// resolving names again.
    ///
    /// # Errors
    /// An unknown field or a bad argument, with the span to underline.
    pub fn resolve(&self, catalog: Catalog<'_>) -> Result<Binding, FilterError> {
        let resolve = |name: &str| catalog.field(name);
        let bound = self
            .format
            .columns()
            .map(|column| {
                if column.name == OUTPUT_TIME {
                    return Ok(Bound::OutputTime);
                }
                if column.name == "evt.info" || column.name == "evt.args" {
                    return Ok(Bound::Args);
                }
                if column.name == "evt.time" {
                    return Ok(Bound::Clock);
                }
                resolve(&column.name)
                    .map(Bound::Field)
                    .map_err(|message| FilterError {
                        span: column.span,
                        message,
                    })
            })
            .collect::<Result<_, _>>()?;
        let buffer = match self.buffers {
            BufferMode::Inline => None,
            _ => resolve("evt.buffer").ok(),
        };
        Ok(Binding { bound, buffer })
    }

    /// Exchanges the printer's binding with `binding`; the time modes'
    /// memory of the last displayed event stays with the printer.
    pub fn swap_binding(&mut self, binding: &mut Binding) {
        std::mem::swap(&mut self.bound, &mut binding.bound);
        std::mem::swap(&mut self.buffer, &mut binding.buffer);
    }

    /// Whether printing reads the reconstructed state (process names, fds).
    pub fn needs_state(&self) -> bool {
        self.bound.iter().any(|b| match b {
            Bound::Field(field) => field.needs_state(),
            Bound::Args => true,
            Bound::OutputTime | Bound::Clock => false,
        })
    }

    /// Whether printing reads fd tables (`evt.info`, `fd.*`), not only
    /// processes.
    pub fn needs_fds(&self) -> bool {
        self.bound.iter().any(|b| match b {
            Bound::Field(field) => field.needs_fds(),
            Bound::Args => true,
            Bound::OutputTime | Bound::Clock => false,
        })
    }

    /// Whether printing reads I/O buffers (`evt.info`, `evt.buffer`, a
    /// dump).
    pub fn reads_buffers(&self) -> bool {
        self.buffer.is_some()
            || self.bound.iter().any(|b| match b {
                Bound::Field(field) => {
                    matches!(field.def().name, "evt.buffer" | "evt.arg" | "evt.rawarg")
                }
                Bound::Args => true,
                Bound::OutputTime | Bound::Clock => false,
            })
    }

    /// Appends the event's line (and any buffer dump) to `out`. Returns
    /// false, leaving `out` as it was, when the format has no `*` and one
    /// of its fields does not apply to the event.
    pub fn print(&mut self, ctx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let printed = if self.json {
            self.print_json(ctx, out)
        } else {
            self.print_text(ctx, out)
        };
        if !printed {
            out.truncate(start);
            return false;
        }
        let ts = ctx.event.ts();
        self.first_shown.get_or_insert(ts);
        self.last_shown = Some(ts);
        true
    }

    /// The time of `evt.outputtime` in ns: absolute, or a span for the
    /// relative modes.
    fn output_ns(&self, ctx: &Ctx<'_>) -> u64 {
        let ts = ctx.event.ts();
        match self.time {
            TimeMode::Human | TimeMode::Absolute => ts,
            TimeMode::Relative => ts.saturating_sub(self.first_shown.unwrap_or(ts)),
            TimeMode::Latency => ctx.event.latency(),
            TimeMode::Delta => ts.saturating_sub(self.last_shown.unwrap_or(ts)),
        }
    }

    fn write_output_time(&self, ctx: &Ctx<'_>, out: &mut Vec<u8>) {
        let ns = self.output_ns(ctx);
        if self.time == TimeMode::Human {
            self.clock.write(ns, out);
        } else {
            push_num(out, ns / 1_000_000_000, 1);
            out.push(b'.');
            push_num(out, ns % 1_000_000_000, 9);
        }
    }

    fn print_text(&mut self, ctx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
        let mut columns = self.bound.iter();
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut printed = true;
        for token in &self.format.tokens {
            let column = match token {
                Token::Text(text) => {
                    out.extend_from_slice(text);
                    continue;
                }
                Token::Field(column) => column,
            };
            let Some(bound) = columns.next() else { break };
            let target: &mut Vec<u8> = if column.width.is_some() {
                scratch.clear();
                &mut scratch
            } else {
                &mut *out
            };
            match bound {
                Bound::OutputTime => self.write_output_time(ctx, target),
                Bound::Args => crate::render::write_args(ctx, target),
                Bound::Clock => self.clock.write(ctx.event.ts(), target),
                Bound::Field(field) => match field.extract(ctx) {
                    Some(value) => self.write_text(&value, target),
                    None if self.format.always => target.extend_from_slice(b"<NA>"),
                    None => {
                        printed = false;
                        break;
                    }
                },
            }
            if let Some(width) = column.width {
                pad(&scratch, width, out);
            }
        }
        self.scratch = scratch;
        if !printed {
            return false;
        }
        out.push(b'\n');
        if let Some(Value::Bytes(bytes)) = self.buffer.as_ref().and_then(|f| f.extract(ctx)) {
            let bytes = &bytes[..bytes.len().min(self.buffer_len)];
            match self.buffers {
                BufferMode::Ascii => ascii_dump(bytes, out),
                BufferMode::Hex => hex_dump(bytes, out),
                BufferMode::Inline => {}
            }
        }
        true
    }

    fn write_text(&self, value: &Value<'_>, out: &mut Vec<u8>) {
        match value {
            Value::Num(n) => crate::render::push_int(out, *n),
            Value::Str(s) => push_lossy(s, out),
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Ip(ip) => {
                let _ = write!(out, "{ip}");
            }
            Value::Bytes(b) => {
                let b = &b[..b.len().min(self.buffer_len)];
                out.extend_from_slice(printable(b).as_bytes());
            }
        }
    }

    fn print_json(&mut self, ctx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
        out.push(b'{');
        let mut first = true;
        for (column, bound) in self.format.columns().zip(&self.bound) {
            let value = match bound {
                Bound::OutputTime => Some(Value::Num(self.output_ns(ctx).into())),
                Bound::Args => {
                    self.scratch.clear();
                    crate::render::write_args(ctx, &mut self.scratch);
                    Some(Value::Str(Cow::Borrowed(&self.scratch[..])))
                }
                Bound::Clock => {
                    self.scratch.clear();
                    self.clock.write(ctx.event.ts(), &mut self.scratch);
                    Some(Value::Str(Cow::Borrowed(&self.scratch[..])))
                }
                Bound::Field(field) => field.extract(ctx),
            };
            if value.is_none() && (column.optional || !self.format.always) {
                if column.optional {
                    continue;
                }
                return false;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            push_json_str(&column.name, out);
            out.push(b':');
            match value {
                None => out.extend_from_slice(b"null"),
                Some(Value::Num(n)) => crate::render::push_int(out, n),
                Some(Value::Bool(b)) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                Some(Value::Str(s)) => push_json_bytes(&s, out),
                Some(Value::Ip(ip)) => push_json_str(&ip.to_string(), out),
                Some(Value::Bytes(b)) => {
                    let b = &b[..b.len().min(self.buffer_len)];
                    let mut text = Vec::new();
                    match self.buffers {
                        BufferMode::Inline => text.extend_from_slice(printable(b).as_bytes()),
                        BufferMode::Ascii => ascii_dump(b, &mut text),
                        BufferMode::Hex => hex_dump(b, &mut text),
                    }
                    push_json_bytes(&text, out);
                }
            }
        }
        out.extend_from_slice(b"}\n");
        true
    }
}

/// Writes `HH:MM:SS.nnnnnnnnn` (UTC) of timestamps, as `evt.time`: events
/// come many to a second, so the seconds' text is kept from one to the
/// next.
#[derive(Debug, Clone)]
struct Clock {
    /// The second since the epoch `text` is of.
    secs: Cell<u64>,
    /// `HH:MM:SS.`
    text: Cell<[u8; 9]>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            secs: Cell::new(u64::MAX),
            text: Cell::new(*b"00:00:00."),
        }
    }
}

impl Clock {
    fn write(&self, ns: u64, out: &mut Vec<u8>) {
        let (secs, nanos) = (ns / 1_000_000_000, ns % 1_000_000_000);
        if secs != self.secs.get() {
            let day = secs % 86_400;
            let mut text = *b"00:00:00.";
            for (at, part) in [(0, day / 3600), (3, day / 60 % 60), (6, day % 60)] {
                text[at] = b'0' + (part / 10) as u8;
                text[at + 1] = b'0' + (part % 10) as u8;
            }
            self.secs.set(secs);
            self.text.set(text);
        }
        let mut line = [0u8; 18];
        line[..9].copy_from_slice(&self.text.get());
        let mut rest = nanos;
        for digit in line[9..].iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        out.extend_from_slice(&line);
    }
}

/// `n` in decimal, zero-padded to at least `digits` digits.
fn push_num(out: &mut Vec<u8>, mut n: u64, digits: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    while n > 0 || buf.len() - at < digits.max(1) {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&buf[at..]);
}

/// Bytes as UTF-8, invalid sequences replaced; valid text (nearly all) is
/// copied as is.
fn push_lossy(bytes: &[u8], out: &mut Vec<u8>) {
    match std::str::from_utf8(bytes) {
        Ok(_) => out.extend_from_slice(bytes),
        Err(_) => out.extend_from_slice(String::from_utf8_lossy(bytes).as_bytes()),
    }
}

/// `%Nfield`: the text padded with spaces or cut to exactly `width`
/// characters.
fn pad(text: &[u8], width: usize, out: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(text);
    let mut chars = 0;
    for ch in text.chars().take(width) {
        let mut utf8 = [0; 4];
        out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
        chars += 1;
    }
    out.resize(out.len() + (width - chars), b' ');
}

/// Bytes that cannot appear as such in a JSON string.
const JSON_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

/// `text` as a JSON string literal.
pub(crate) fn push_json_str(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut plain = 0;
    while let Some(skip) = bytes[plain..]
        .iter()
        .position(|&b| JSON_ESCAPE[usize::from(b)])
    {
        let at = plain + skip;
        out.extend_from_slice(&bytes[plain..at]);
        match bytes[at] {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            byte => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 15)]);
            }
        }
        plain = at + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

/// Bytes as a JSON string literal, invalid UTF-8 replaced.
fn push_json_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => push_json_str(text, out),
        Err(_) => push_json_str(&String::from_utf8_lossy(bytes), out),
    }
}

/// `-A`: the printable bytes and line ends of a buffer, on lines of their
/// own, ending with a line end.
fn ascii_dump(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend(
        bytes
            .iter()
            .copied()
            .filter(|&b| (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t'),
    );
    if out.last().is_some_and(|&b| b != b'\n') {
        out.push(b'\n');
    }
}

/// `-X`: sysdig's hex dump, 16 bytes a line in groups of two, with an ASCII
/// column; each line starts with a tab.
pub fn hex_dump(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (line, row) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "\t0x{:04x}:", line * 16);
        for (i, byte) in row.iter().enumerate() {
            if i % 2 == 0 {
                out.push(b' ');
            }
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 15)]);
        }
        // Align the ASCII column of a short last line.
        let missing = 16 - row.len();
        out.resize(out.len() + missing * 2 + missing.div_ceil(2), b' ');
        if row.len() % 2 == 1 {
            out.pop();
        }
        out.extend_from_slice(b"  ");
        out.extend_from_slice(printable(row).as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn names(format: &Format) -> Vec<(&str, Option<usize>)> {
        format
            .columns()
            .map(|c| (c.name.as_str(), c.width))
            .collect()
    }

    #[test]
    fn parses_fields_widths_and_literal_text() {
        let format = Format::parse("*%evt.num) %10proc.name|%proc.aname[2]. %evt.arg.fd").unwrap();
        assert!(format.always);
        assert_eq!(
            names(&format),
            [
                ("evt.num", None),
                ("proc.name", Some(10)),
                ("proc.aname[2]", None),
                ("evt.arg.fd", None)
            ]
        );
        let Token::Text(text) = &format.tokens[1] else {
            panic!()
        };
        assert_eq!(text, b") ");
        let format = Format::parse(r"100%% %proc.name\t\n").unwrap();
        assert!(!format.always);
        let Token::Text(text) = &format.tokens[2] else {
            panic!()
        };
        assert_eq!(text, b"\t\n");
    }

    #[test]
    fn a_lone_percent_is_an_error_with_a_caret() {
        let error = Format::parse("%proc.name % x").unwrap_err();
        assert_eq!(error.span.start, 11);
        assert!(Format::parse("%proc.aname[2").is_err());
    }

    #[test]
    fn pads_and_cuts_to_the_width() {
        let mut out = Vec::new();
        pad(b"bash", 6, &mut out);
        pad(b"systemd-journald", 6, &mut out);
        assert_eq!(out, b"bash  system");
    }

    #[test]
    fn escapes_json_strings() {
        let mut out = Vec::new();
        push_json_str("a\"b\\c\nd\u{1}é", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn dumps_buffers_in_hex_with_an_ascii_column() {
        let mut out = Vec::new();
        hex_dump(b"HTTP/1.1 200 OK\r\nabc", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\t0x0000: 4854 5450 2f31 2e31 2032 3030 204f 4b0d  HTTP/1.1 200 OK.\n\
             \t0x0010: 0a61 6263                                .abc\n"
        );
        let mut out = Vec::new();
        ascii_dump(b"a\x01b\nc", &mut out);
        assert_eq!(out, b"ab\nc\n");
    }

    #[test]
    fn writes_the_clock_time_of_each_event() {
        let clock = Clock::default();
        let mut out = Vec::new();
        // 2025-11-25T05:00:00.000001573Z, the same second, the next ones.
        for ns in [
            1_764_046_800_000_001_573,
            1_764_046_800_999_999_999,
            1_764_046_801_000_000_000,
            17_640_503_995,
        ] {
            clock.write(ns, &mut out);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "05:00:00.000001573 05:00:00.999999999 05:00:01.000000000 00:00:17.640503995 "
        );
    }

    #[test]
    fn writes_zero_padded_numbers() {
        let mut out = Vec::new();
        push_num(&mut out, 7, 2);
        push_num(&mut out, 0, 1);
        push_num(&mut out, 1234, 2);
        assert_eq!(out, b"0701234");
    }
}
