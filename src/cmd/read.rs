//! `scry read`: turns flags into a filter, a time window and output
//! options, runs them over each trace in time order and writes what the
//! analysis crate prints to standard output, streaming.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::Context;
use memmap2::Mmap;
use scry_analyze::output::{CONTAINER_FORMAT, OutputOptions};
use scry_analyze::state::State;
use scry_analyze::{
    BufferMode, Catalog, Ctx, Filter, Prepared, Printer, Scan, TimeMode, TimeSpec, Window, scan,
    scan_stream,
};
use scry_format::{DecodedChunk, FormatError, IndexEntry, ReadOptions, TraceFile};

use crate::cli::ReadArgs;
use crate::exit::{Code, UsageError};
use crate::open::{Trace, open_trace};

/// Output is handed to stdout in blocks of about this size.
const BLOCK: usize = 1 << 20;

/// What happens to each matching event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Print,
    Count,
    Quiet,
}

/// Why a scan stopped early.
enum Stop {
    Limit,
    Io(io::Error),
}

/// Standard output with our own block buffer: the printer appends lines to
/// `buf` directly, with no second copy through a `BufWriter`.
struct Sink {
    out: io::Stdout,
    buf: Vec<u8>,
    /// On a terminal every line is shown as soon as it is printed.
    each_line: bool,
}

impl Sink {
    fn commit(&mut self) -> io::Result<()> {
        if self.each_line || self.buf.len() >= BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut out = self.out.lock();
        out.write_all(&self.buf)?;
        self.buf.clear();
        out.flush()
    }
}

/// The state of one `read` across all its traces.
struct Reader {
    mode: Mode,
    printer: Printer,
    sink: Sink,
    matched: u64,
    limit: u64,
}

impl Reader {
    fn visit(&mut self, ctx: &scry_analyze::Ctx<'_>) -> ControlFlow<Stop> {
        match self.mode {
            Mode::Count | Mode::Quiet => self.matched += 1,
            Mode::Print => {
                if !self.printer.print(ctx, &mut self.sink.buf) {
                    return ControlFlow::Continue(());
                }
                self.matched += 1;
                if let Err(error) = self.sink.commit() {
                    return ControlFlow::Break(Stop::Io(error));
                }
            }
        }
        if self.matched >= self.limit {
            return ControlFlow::Break(Stop::Limit);
        }
        ControlFlow::Continue(())
    }
}

pub fn run(args: &ReadArgs) -> anyhow::Result<Code> {
    let (paths, filter_text) = split_inputs(&args.read, &args.inputs, "read")?;
    let mode = if args.count {
        Mode::Count
    } else if args.quiet {
        Mode::Quiet
    } else {
        Mode::Print
    };
    let options = OutputOptions {
        format: args.format.as_deref().map(|format| match format {
            // `-pc`, `-pcontainer`: sysdig's container-aware default line.
            "c" | "container" => CONTAINER_FORMAT.to_owned(),
            other => other.to_owned(),
        }),
        json: args.json,
        time: TimeMode::from_letter(&args.time).unwrap_or_default(),
        buffers: if args.hex {
            BufferMode::Hex
        } else if args.ascii {
            BufferMode::Ascii
        } else {
            BufferMode::Inline
        },
        buffer_len: args.snaplen,
    };
    let mut printer = Printer::new(&options).map_err(|error| {
        let source = options.format.as_deref().unwrap_or_default();
        UsageError(format!("bad output format\n{}", error.render(source)))
    })?;
    let since = parse_time(args.since.as_deref(), "--since")?;
    let until = parse_time(args.until.as_deref(), "--until")?;

    let mut traces = Vec::with_capacity(paths.len());
    for path in &paths {
        traces.push((path.clone(), open_trace(path, ReadOptions::default())?));
    }
    // Segments and files are read in the order of their first event, so
    // that rotated segments make one stream whatever their names.
    traces.sort_by_key(|(_, trace)| match trace {
        Trace::Mapped(trace) => trace.time_range().map_or(u64::MAX, |(first, _)| first),
        Trace::Stream(_) => u64::MAX,
    });
    let window = window(&traces, since, until)?;

    // Every filter and format is checked against every trace before
    // anything is printed.
    let mut compiled = Vec::with_capacity(traces.len());
    for (_, trace) in &traces {
        let table = match trace {
            Trace::Mapped(trace) => &trace.header().event_table,
            Trace::Stream(reader) => &reader.header().event_table,
        };
        let prepared = Prepared::from_table(table);
        let filter = compile_filter(&filter_text, prepared.catalog_of(table))?;
        bind(&mut printer, prepared.catalog_of(table))?;
        compiled.push((prepared, filter));
    }

    let mut reader = Reader {
        mode,
        printer,
        sink: Sink {
            out: io::stdout(),
            buf: Vec::with_capacity(BLOCK + (64 << 10)),
            each_line: mode == Mode::Print && io::stdout().is_terminal(),
        },
        matched: 0,
        limit: match mode {
            Mode::Quiet => 1,
            _ => args.limit.unwrap_or(u64::MAX),
        },
    };
    if reader.limit == 0 {
        return Ok(Code::NothingMatched);
    }
    let threads = args.threads.unwrap_or_else(scry_format::default_threads);
    let mut next = 0;
    while next < traces.len() {
        let group = overlapping(&traces[next..]);
        let range = next..next + group;
        next += group;
        let stop = if group == 1 {
            let (path, trace) = &mut traces[range.start];
            let (prepared, filter) = &compiled[range.start];
            read_trace(
                path,
                trace,
                prepared,
                filter.as_ref(),
                window,
                threads,
                &mut reader,
            )?
        } else {
            merge(
                &traces[range.clone()],
                &compiled[range],
                window,
                &mut reader,
            )?
        };
        match stop {
            Some(Stop::Io(error)) => return Err(error).context("writing the output"),
            Some(Stop::Limit) => break,
            None => {}
        }
    }
    reader.sink.flush().context("writing the output")?;
    if mode == Mode::Count {
        let mut out = io::stdout().lock();
        writeln!(out, "{}", reader.matched)?;
        out.flush()?;
    }
    Ok(if reader.matched > 0 {
        Code::Ok
    } else {
        Code::NothingMatched
    })
}

fn table_of(trace: &Trace) -> &scry_format::EventTable {
    match trace {
        Trace::Mapped(trace) => &trace.header().event_table,
        Trace::Stream(reader) => &reader.header().event_table,
    }
}

/// Scans one trace; `Some` when the whole read must stop.
fn read_trace(
    path: &Path,
    trace: &mut Trace,
    prepared: &Prepared,
    filter: Option<&Filter>,
    window: Window,
    threads: usize,
    reader: &mut Reader,
) -> anyhow::Result<Option<Stop>> {
    bind(&mut reader.printer, prepared.catalog_of(table_of(trace)))?;
    let options = Scan {
        filter,
        window,
        caller_needs_state: reader.mode == Mode::Print && reader.printer.needs_state(),
        threads,
    };
    let name = path.display().to_string();
    let on_damage = |error: FormatError| {
        eprintln!("scry: warning: {name}: skipped a damaged chunk: {error}");
    };
    let flow = match trace {
        Trace::Mapped(trace) => {
            if let Some(cut) = trace.truncation() {
                eprintln!(
                    "scry: warning: {name} is truncated at byte {}: reading its complete chunks",
                    cut.offset
                );
            }
            scan(trace, prepared, &options, on_damage, |ctx| {
                reader.visit(ctx)
            })
        }
        Trace::Stream(stream) => {
            let flow = scan_stream(stream, prepared, &options, on_damage, |ctx| {
                reader.visit(ctx)
            });
            if let Some(cut) = stream.truncation() {
                eprintln!(
                    "scry: warning: {name} is truncated at byte {}: read its complete chunks",
                    cut.offset
                );
            }
            flow
        }
    }
    .with_context(|| format!("cannot read {name}"))?;
    Ok(match flow {
        ControlFlow::Break(stop) => Some(stop),
        ControlFlow::Continue(()) => None,
    })
}

fn compile_filter(text: &str, catalog: Catalog<'_>) -> anyhow::Result<Option<Filter>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    Filter::new(text, catalog)
        .map(Some)
        .map_err(|error| UsageError(format!("bad filter\n{}", error.render(text))).into())
}

fn bind(printer: &mut Printer, catalog: Catalog<'_>) -> anyhow::Result<()> {
    printer.bind(catalog).map_err(|error| {
        UsageError(format!(
            "bad output format\n{}",
            error.render(printer.source())
        ))
        .into()
    })
}

/// Which arguments are traces and which make up the filter: with `-r`,
/// every positional argument is filter; otherwise the first is a trace,
/// and so is each one after it that names an existing file, `-`, or looks
/// like a trace name, up to the first that does not.
pub(crate) fn split_inputs(
    read: &[PathBuf],
    inputs: &[String],
    command: &str,
) -> anyhow::Result<(Vec<PathBuf>, String)> {
    let mut named: Vec<PathBuf> = read.to_vec();
    let mut rest = inputs.iter().peekable();
    if named.is_empty() {
        if let Some(first) = rest.next() {
            named.push(PathBuf::from(first));
        }
        while let Some(arg) = rest.next_if(|arg| is_trace_arg(arg)) {
            named.push(PathBuf::from(arg));
        }
    }
    let filter = rest.map(String::as_str).collect::<Vec<_>>().join(" ");
    if named.is_empty() {
        return Err(UsageError(format!("no trace given: scry {command} FILE… [FILTER]")).into());
    }
    let mut paths = Vec::with_capacity(named.len());
    for path in named {
        if path.is_dir() {
            let segments = segments(&path)?;
            if segments.is_empty() {
                return Err(UsageError(format!("{} holds no trace files", path.display())).into());
            }
            paths.extend(segments);
        } else {
            paths.push(path);
        }
    }
    if paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(UsageError("standard input (-) can be read only once".to_owned()).into());
    }
    Ok((paths, filter))
}

fn is_trace_arg(arg: &str) -> bool {
    arg == "-"
        || Path::new(arg).exists()
        || [".scry", ".scap", ".scap.gz"]
            .iter()
            .any(|ext| arg.ends_with(ext))
}

/// The trace files of a directory of segments, by name (`read` orders
/// them by time once opened).
fn segments(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_trace = [".scry", ".scap", ".gz"]
            .iter()
            .any(|ext| name.ends_with(ext))
            || name.contains(".scry");
        if !name.starts_with('.') && is_trace && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn parse_time(text: Option<&str>, flag: &str) -> anyhow::Result<Option<TimeSpec>> {
    text.map(|text| {
        TimeSpec::parse(text).map_err(|message| UsageError(format!("{flag}: {message}")))
    })
    .transpose()
    .map_err(Into::into)
}

/// The window `--since`/`--until` name; offsets and durations are placed in
/// the time range of all the traces together.
fn window(
    traces: &[(PathBuf, Trace)],
    since: Option<TimeSpec>,
    until: Option<TimeSpec>,
) -> anyhow::Result<Window> {
    let relative = [since, until]
        .iter()
        .flatten()
        .any(|spec| !matches!(spec, TimeSpec::At(_)));
    if relative && traces.iter().any(|(_, t)| matches!(t, Trace::Stream(_))) {
        return Err(UsageError(
            "offsets and durations in --since/--until need trace files, not a stream: \
             use RFC 3339 times"
                .to_owned(),
        )
        .into());
    }
    let range = traces
        .iter()
        .filter_map(|(_, trace)| match trace {
            Trace::Mapped(trace) => trace.time_range(),
            Trace::Stream(_) => None,
        })
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
        .unwrap_or((0, 0));
    Ok(Window {
        since: since.map_or(0, |spec| spec.resolve(range.0, range.1)),
        until: until.map_or(u64::MAX, |spec| spec.resolve(range.0, range.1)),
    })
}

/// How many traces from the start of `traces` (sorted by first event) must
/// be merged event by event because their time ranges overlap; 1 when the
/// first one can be read alone, as rotated segments are.
fn overlapping(traces: &[(PathBuf, Trace)]) -> usize {
    let range = |trace: &Trace| match trace {
        Trace::Mapped(trace) => trace.time_range(),
        Trace::Stream(_) => None,
    };
    let Some((_, mut last)) = traces.first().and_then(|(_, t)| range(t)) else {
        return 1;
    };
    let mut count = 1;
    for (_, trace) in &traces[1..] {
        match range(trace) {
            Some((first, end)) if first <= last => {
                last = last.max(end);
                count += 1;
            }
            _ => break,
        }
    }
    count
}

/// One trace of a merge: its chunks arrive decoded, in file order, from a
/// thread of their own; `state` has replayed every event up to the current
/// one.
struct Cursor<'t> {
    trace: &'t TraceFile<Mmap>,
    prepared: &'t Prepared,
    filter: Option<&'t Filter>,
    window: Window,
    with_state: bool,
    first_ts: u64,
    state: State,
    chunks: Receiver<(Result<DecodedChunk, FormatError>, bool)>,
    chunk: DecodedChunk,
    /// Whether the current chunk's events may match (the chunk index says
    /// so); the others only feed state.
    wanted: bool,
    /// The event after the current one in `chunk`.
    next: usize,
}

impl Cursor<'_> {
    fn ctx(&self, index: usize) -> Option<Ctx<'_>> {
        let event = self.chunk.get(index)?;
        let table = &self.trace.header().event_table;
        let names = table
            .get(event.event_type())
            .map_or(&[][..], |e| &e.params[..]);
        let info = self.prepared.types.get(event.event_type());
        let hostname = self.trace.header().machine.hostname.as_str();
        Some(Ctx::new(
            event,
            info,
            &self.state,
            self.first_ts,
            hostname,
            names,
        ))
    }

    /// Moves to the next event that matches and returns its time; the
    /// current event is then `next - 1`.
    fn advance(&mut self, on_damage: &mut impl FnMut(FormatError)) -> Option<u64> {
        loop {
            if self.next >= self.chunk.len() {
                let (chunk, wanted) = self.chunks.recv().ok()?;
                match chunk {
                    Ok(chunk) => (self.chunk, self.wanted) = (chunk, wanted),
                    Err(error) => on_damage(error),
                }
                self.next = 0;
                continue;
            }
            let index = self.next;
            self.next += 1;
            let event = self.chunk.get(index)?;
            if self.with_state {
                self.state.apply(&event);
            }
            let ts = event.ts();
            if !self.wanted || ts < self.window.since || ts > self.window.until {
                continue;
            }
            let ctx = self.ctx(index)?;
            if self.filter.is_none_or(|filter| filter.matches(&ctx)) {
                return Some(ts);
            }
        }
    }
}

/// Reads traces whose time ranges overlap as one stream: the matching
/// event with the earliest time goes first, ties going to the trace named
/// first (in time order of first events) and then to file order. Each
/// trace keeps its own state, replayed in its own order, and its chunks are
/// decoded ahead on a thread of its own.
fn merge(
    traces: &[(PathBuf, Trace)],
    compiled: &[(Prepared, Option<Filter>)],
    window: Window,
    reader: &mut Reader,
) -> anyhow::Result<Option<Stop>> {
    let mut files = Vec::with_capacity(traces.len());
    let mut bindings = Vec::with_capacity(traces.len());
    for ((path, trace), (prepared, _)) in traces.iter().zip(compiled) {
        let Trace::Mapped(trace) = trace else {
            unreachable!("only trace files are merged");
        };
        if let Some(cut) = trace.truncation() {
            eprintln!(
                "scry: warning: {} is truncated at byte {}: reading its complete chunks",
                path.display(),
                cut.offset
            );
        }
        let catalog = prepared.catalog(trace);
        bindings.push(reader.printer.resolve(catalog).map_err(|error| {
            UsageError(format!(
                "bad output format\n{}",
                error.render(reader.printer.source())
            ))
        })?);
        files.push(&**trace);
    }
    let caller_needs_state = reader.mode == Mode::Print && reader.printer.needs_state();
    std::thread::scope(|scope| {
        let mut cursors = Vec::with_capacity(files.len());
        for (&trace, (prepared, filter)) in files.iter().zip(compiled) {
            let filter = filter.as_ref();
            let with_state = caller_needs_state || filter.is_some_and(Filter::needs_state);
            let relevant = move |entry: &IndexEntry| {
                entry.summary.overlaps(window.since, window.until)
                    && filter.is_none_or(|filter| filter.chunk_may_match(&entry.summary))
            };
            // A few chunks decoded ahead keep each trace's thread busy
            // while memory stays bounded.
            let (send, chunks) = sync_channel(4);
            scope.spawn(move || {
                for entry in trace.chunks() {
                    let wanted = relevant(entry);
                    if !(with_state || wanted) {
                        continue;
                    }
                    if send.send((trace.decode_chunk(entry), wanted)).is_err() {
                        return;
                    }
                }
            });
            cursors.push(Cursor {
                trace,
                prepared,
                filter,
                window,
                with_state,
                first_ts: trace.time_range().map_or(0, |(first, _)| first),
                state: State::new(trace.snapshot(), &trace.header().event_table),
                chunks,
                chunk: DecodedChunk::default(),
                wanted: false,
                next: 0,
            });
        }
        let names: Vec<String> = traces
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        let on_damage = |i: usize| {
            let name = &names[i];
            move |error: FormatError| {
                eprintln!("scry: warning: {name}: skipped a damaged chunk: {error}");
            }
        };
        let mut heads = BinaryHeap::with_capacity(cursors.len());
        for (i, cursor) in cursors.iter_mut().enumerate() {
            if let Some(ts) = cursor.advance(&mut on_damage(i)) {
                heads.push(Reverse((ts, i)));
            }
        }
        // The printer holds the binding of `bound`; `bindings[bound]` is a
        // placeholder until the printer moves to another trace.
        let mut bound = None;
        while let Some(Reverse((_, i))) = heads.pop() {
            if bound != Some(i) {
                if let Some(previous) = bound {
                    reader.printer.swap_binding(&mut bindings[previous]);
                }
                reader.printer.swap_binding(&mut bindings[i]);
                bound = Some(i);
            }
            let cursor = &cursors[i];
            if let Some(ctx) = cursor.ctx(cursor.next - 1)
                && let ControlFlow::Break(stop) = reader.visit(&ctx)
            {
                return Ok(Some(stop));
            }
            if let Some(ts) = cursors[i].advance(&mut on_damage(i)) {
                heads.push(Reverse((ts, i)));
            }
        }
        Ok(None)
    })
}
