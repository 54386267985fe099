//! Printing matching events: sysdig's default line, `-p` custom formats made
//! of `%field` tokens and literal text, JSON Lines whose keys are filter
//! field names, the `-t` time modes of `evt.outputtime`, and the `-A`/`-X`
//! buffer dumps.
//!
//! A format is parsed once ([`Format::parse`]) and bound to each trace's
//! event table ([`Printer::bind`]), because parameter fields such as
//! `evt.arg.fd` sit at different positions in different tables. Binding
//! turns the format into a list of steps: literal text, and columns that
//! the common fields (those of the default line and the default JSON keys)
//! write straight from the event, any other field going through its
//! generic extraction. Printing then appends one line per event to a byte
//! buffer the caller owns: no allocation, no formatting machinery, numbers
//! and times written digit by digit.

mod format;
mod text;

use std::io::Write;

pub use format::Format;
pub use text::hex_dump;
pub(crate) use text::{is_json_plain, push_json_bytes_escaped, push_json_str};

use crate::compile::{Catalog, FilterError};
use crate::fields::{Ctx, Field, direction};
use crate::render::{
    AsIs, InJson, Literal, TextStyle, push_i64, push_lossy, push_printable, push_u64, write_args,
};
use crate::value::Value;
use format::Token;
use text::{Clock, ascii_dump, pad, push_json_bytes, push_num};

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

/// What a column writes, resolved against one trace. The common fields
/// have a variant of their own, written without building a [`Value`].
#[derive(Debug, Clone)]
enum Col {
    /// `evt.outputtime`, as `-t` says.
    OutputTime,
    /// `evt.time`.
    Clock,
    /// `evt.num`.
    Num,
    /// `evt.rawtime`.
    RawTime,
    /// `evt.cpu`.
    Cpu,
    /// `proc.pid`.
    Pid,
    /// `thread.tid`.
    Tid,
    /// `proc.name`.
    ProcName,
    /// `evt.type`.
    Type,
    /// `evt.dir`.
    Dir,
    /// `evt.res`.
    Res,
    /// `evt.rawres`.
    RawRes,
    /// `evt.info` and `evt.args`.
    Args,
    /// `fd.name`.
    FdName,
    /// Any other field.
    Field(Field),
}

impl Col {
    /// The column for a field, by the name the format gives it.
    fn of(name: &str, field: Field) -> Col {
        match name {
            "evt.num" => Col::Num,
            "evt.rawtime" => Col::RawTime,
            "evt.cpu" => Col::Cpu,
            "proc.pid" => Col::Pid,
            "thread.tid" => Col::Tid,
            "proc.name" => Col::ProcName,
            "evt.type" => Col::Type,
            "evt.dir" => Col::Dir,
            "evt.res" => Col::Res,
            "evt.rawres" => Col::RawRes,
            "fd.name" => Col::FdName,
            _ => Col::Field(field),
        }
    }
}

/// One step of printing a line.
#[derive(Debug, Clone)]
enum Op {
    /// Literal text.
    Text(Literal),
    /// A column of a text line, after the literal text before it (one
    /// step for both); `%10proc.name` gives it a width.
    Column {
        before: Literal,
        col: Col,
        width: Option<usize>,
    },
    /// A key and its value in a JSON line: `"proc.name":` is the key.
    Key {
        key: Literal,
        col: Col,
        /// Left out when missing, instead of `null`.
        optional: bool,
    },
}

/// A format's columns resolved against one trace's event table
/// ([`Printer::resolve`]).
#[derive(Debug, Clone, Default)]
pub struct Binding {
    ops: Vec<Op>,
    buffer: Option<Field>,
    needs_state: bool,
    needs_fds: bool,
    reads_buffers: bool,
}

/// Prints events in one format; keeps what the relative time modes need
/// from one displayed event to the next, across traces.
#[derive(Debug, Clone)]
pub struct Printer {
    format: Format,
    source: String,
    json: bool,
    time: TimeMode,
    buffers: BufferMode,
    buffer_len: usize,
    binding: Binding,
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
            (None, true) => (
                Format::default_json(options.time != TimeMode::default()),
                String::new(),
            ),
            (None, false) => (Format::parse(DEFAULT_FORMAT)?, DEFAULT_FORMAT.to_owned()),
        };
        Ok(Printer {
            format,
            source,
            json: options.json,
            time: options.time,
            buffers: options.buffers,
            buffer_len: options.buffer_len.unwrap_or(usize::MAX),
            binding: Binding::default(),
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
        let mut binding = Binding::default();
        let mut text = Vec::new();
        for token in &self.format.tokens {
            let column = match token {
                Token::Text(literal) => {
                    text.extend_from_slice(literal);
                    continue;
                }
                Token::Field(column) => column,
            };
            let col = match column.name.as_str() {
                OUTPUT_TIME => Col::OutputTime,
                "evt.info" | "evt.args" => {
                    binding.needs_state = true;
                    binding.needs_fds = true;
                    binding.reads_buffers = true;
                    Col::Args
                }
                "evt.time" => Col::Clock,
                name => {
                    let field = catalog.value_field(name).map_err(|message| FilterError {
                        span: column.span,
                        message,
                    })?;
                    binding.needs_state |= field.needs_state();
                    binding.needs_fds |= field.needs_fds();
                    binding.reads_buffers |=
                        matches!(field.def().name, "evt.buffer" | "evt.arg" | "evt.rawarg");
                    Col::of(name, field)
                }
            };
            if self.json {
                let mut key = Vec::new();
                push_json_str(&column.name, &mut key);
                key.push(b':');
                binding.ops.push(Op::Key {
                    key: Literal::new(&key),
                    col,
                    optional: column.optional,
                });
            } else {
                binding.ops.push(Op::Column {
                    before: Literal::new(&std::mem::take(&mut text)),
                    col,
                    width: column.width,
                });
            }
        }
        if !text.is_empty() {
            binding.ops.push(Op::Text(Literal::new(&text)));
        }
        binding.buffer = match self.buffers {
            BufferMode::Inline => None,
            _ => catalog.field("evt.buffer").ok(),
        };
        binding.reads_buffers |= binding.buffer.is_some();
        Ok(binding)
    }

    /// Exchanges the printer's binding with `binding`; the time modes'
    /// memory of the last displayed event stays with the printer.
    pub fn swap_binding(&mut self, binding: &mut Binding) {
        std::mem::swap(&mut self.binding, binding);
    }

    /// Whether printing reads the reconstructed state (process names, fds).
    pub fn needs_state(&self) -> bool {
        self.binding.needs_state
    }

    /// Whether printing reads fd tables (`evt.info`, `fd.*`), not only
    /// processes.
    pub fn needs_fds(&self) -> bool {
        self.binding.needs_fds
    }

    /// Whether printing reads I/O buffers (`evt.info`, `evt.buffer`, a
    /// dump).
    pub fn reads_buffers(&self) -> bool {
        self.binding.reads_buffers
    }

    /// Whether each line depends on the lines printed before it (`-t r`,
    /// `-t D`): such a printer must see the events one after the other,
    /// while any other can print runs of events apart and have its lines
    /// put together in order.
    pub fn is_sequential(&self) -> bool {
        matches!(self.time, TimeMode::Relative | TimeMode::Delta)
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

    /// Writes a column as text (escaped for a JSON string in style
    /// [`InJson`]); false when its field does not apply to the event.
    #[inline(always)]
    fn write_column<S: TextStyle>(&self, col: &Col, ctx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
        let event = &ctx.event;
        match col {
            Col::OutputTime => self.write_output_time(ctx, out),
            Col::Clock => self.clock.write(event.ts(), out),
            Col::Num => push_u64(out, event.num() + 1),
            Col::RawTime => push_u64(out, event.ts()),
            Col::Cpu => push_u64(out, event.cpu().into()),
            Col::Pid => push_u64(out, event.tgid().into()),
            Col::Tid => push_u64(out, event.tid().into()),
            Col::ProcName => match ctx.process_ref() {
                Some(process) if !process.info().comm.is_empty() => {
                    S::text(&process.info().comm, out);
                }
                _ => return false,
            },
            Col::Type => S::text(ctx.info.name.as_bytes(), out),
            Col::Dir => out.extend_from_slice(direction(ctx.info)),
            Col::Res => write_res(event.ret(), out),
            Col::RawRes => push_i64(out, event.ret()),
            Col::Args => write_args::<S>(ctx, self.buffer_len, out),
            Col::FdName => match ctx.fd() {
                Some(fd) => S::text(&fd.name, out),
                None => return false,
            },
            Col::Field(field) => match field.extract(ctx) {
                Some(value) => self.write_text(&value, out),
                None => return false,
            },
        }
        true
    }

    fn print_text(&mut self, ctx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
        let always = self.format.always;
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut printed = true;
        for op in &self.binding.ops {
            match op {
                Op::Text(text) => text.push(out),
                Op::Column {
                    before,
                    col,
                    width: None,
                } => {
                    before.push(out);
                    if !self.write_column::<AsIs>(col, ctx, out) {
                        if !always {
                            printed = false;
                            break;
                        }
                        out.extend_from_slice(b"<NA>");
                    }
                }
                Op::Column {
                    before,
                    col,
                    width: Some(width),
                } => {
                    before.push(out);
                    scratch.clear();
                    if !self.write_column::<AsIs>(col, ctx, &mut scratch) {
                        if !always {
                            printed = false;
                            break;
                        }
                        scratch.clear();
                        scratch.extend_from_slice(b"<NA>");
                    }
                    pad(&scratch, *width, out);
                }
                Op::Key { .. } => {}
            }
        }
        self.scratch = scratch;
        if !printed {
            return false;
        }
        out.push(b'\n');
        if let Some(Value::Bytes(bytes)) = self.binding.buffer.as_ref().and_then(|f| f.extract(ctx))
        {
            let bytes = &bytes[..bytes.len().min(self.buffer_len)];
            match self.buffers {
                BufferMode::Ascii => ascii_dump(bytes, out),
                BufferMode::Hex => text::hex_dump(bytes, out),
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
            Value::Bytes(b) => push_printable(&b[..b.len().min(self.buffer_len)], out),
        }
    }

    /// Writes a column as a JSON value; false when its field does not
    /// apply to the event.
    #[inline(always)]
    fn write_json(&self, col: &Col, ctx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
        let event = &ctx.event;
        match col {
            Col::OutputTime => push_u64(out, self.output_ns(ctx)),
            Col::Num => push_u64(out, event.num() + 1),
            Col::RawTime => push_u64(out, event.ts()),
            Col::Cpu => push_u64(out, event.cpu().into()),
            Col::Pid => push_u64(out, event.tgid().into()),
            Col::Tid => push_u64(out, event.tid().into()),
            Col::RawRes => push_i64(out, event.ret()),
            Col::Clock
            | Col::Res
            | Col::ProcName
            | Col::Type
            | Col::Dir
            | Col::Args
            | Col::FdName => {
                out.push(b'"');
                if !self.write_column::<InJson>(col, ctx, out) {
                    out.pop();
                    return false;
                }
                out.push(b'"');
            }
            Col::Field(field) => {
                let Some(value) = field.extract(ctx) else {
                    return false;
                };
                match value {
                    Value::Num(n) => crate::render::push_int(out, n),
                    Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
                    Value::Str(s) => push_json_bytes(&s, out),
                    Value::Ip(ip) => push_json_str(&ip.to_string(), out),
                    Value::Bytes(b) => {
                        let b = &b[..b.len().min(self.buffer_len)];
                        let mut text = Vec::new();
                        match self.buffers {
                            BufferMode::Inline => push_printable(b, &mut text),
                            BufferMode::Ascii => ascii_dump(b, &mut text),
                            BufferMode::Hex => text::hex_dump(b, &mut text),
                        }
                        push_json_bytes(&text, out);
                    }
                }
            }
        }
        true
    }

    fn print_json(&mut self, ctx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
        let always = self.format.always;
        out.push(b'{');
        let mut first = true;
        for op in &self.binding.ops {
            let Op::Key { key, col, optional } = op else {
                continue;
            };
            let before = out.len();
            if !first {
                out.push(b',');
            }
            key.push(out);
            if !self.write_json(col, ctx, out) {
                if *optional {
                    out.truncate(before);
                    continue;
                }
                if !always {
                    return false;
                }
                out.extend_from_slice(b"null");
            }
            first = false;
        }
        out.extend_from_slice(b"}\n");
        true
    }
}

/// `evt.res`: `SUCCESS`, or the errno name of a failure (its number when
/// it has none).
fn write_res(ret: i64, out: &mut Vec<u8>) {
    if ret >= 0 {
        out.extend_from_slice(b"SUCCESS");
    } else {
        match crate::fields::errno_name(ret) {
            Some(name) => out.extend_from_slice(name.as_bytes()),
            None => push_i64(out, ret),
        }
    }
}
