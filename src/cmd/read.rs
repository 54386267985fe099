//! `scry read`: turns flags into a filter, a time window and output
//! options, runs them over each trace in time order and writes what the
//! analysis crate prints to standard output, streaming.

use std::io::{self, IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use scry_analyze::output::{Binding, CONTAINER_FORMAT, OutputOptions};
use scry_analyze::{BufferMode, ChunkWork, Ctx, Printer, TimeMode};

use crate::cli::ReadArgs;
use crate::exit::{Code, UsageError};
use crate::traces::{ChunkVisitor, Query, Traces, Visitor, split_inputs};

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
pub struct Sink {
    out: io::Stdout,
    pub buf: Vec<u8>,
    /// On a terminal every line is shown as soon as it is printed.
    each_line: bool,
}

impl Sink {
    /// Standard output; `lines` shows each line as soon as it is complete
    /// when standard output is a terminal.
    pub fn stdout(lines: bool) -> Sink {
        Sink {
            out: io::stdout(),
            buf: Vec::with_capacity(BLOCK + (64 << 10)),
            each_line: lines && io::stdout().is_terminal(),
        }
    }

    /// Hands what was printed to standard output when the block is full
    /// (or at once on a terminal).
    pub fn commit(&mut self) -> io::Result<()> {
        if self.each_line || self.buf.len() >= BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        let mut out = self.out.lock();
        out.write_all(&self.buf)?;
        self.buf.clear();
        out.flush()
    }

    /// Hands a block of whole lines printed elsewhere to standard output,
    /// after what was printed here.
    fn write_block(&mut self, block: &[u8]) -> io::Result<()> {
        let mut out = self.out.lock();
        if !self.buf.is_empty() {
            out.write_all(&self.buf)?;
            self.buf.clear();
        }
        out.write_all(block)?;
        out.flush()
    }
}

/// Blocks of output given back once written, for the workers to print
/// into again.
type Spare = Arc<Mutex<Vec<Vec<u8>>>>;

/// A worker thread's printer: the lines of a run of events (a slice of a
/// chunk) go into a block of their own, written out in order by the
/// reading thread.
struct PrintWork {
    printer: Printer,
    block: Vec<u8>,
    lines: u64,
    spare: Spare,
}

impl ChunkWork for PrintWork {
    type Output = (Vec<u8>, u64);

    fn event(&mut self, ctx: &Ctx<'_>) {
        if self.printer.print(ctx, &mut self.block) {
            self.lines += 1;
        }
    }

    fn finish(&mut self) -> (Vec<u8>, u64) {
        let next = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        (
            std::mem::replace(&mut self.block, next),
            std::mem::take(&mut self.lines),
        )
    }
}

/// The state of one `read` across all its traces.
struct Reader {
    mode: Mode,
    printer: Printer,
    /// The printer's fields resolved for each trace; the one of the trace
    /// being read is inside the printer, a placeholder here.
    bindings: Vec<Binding>,
    bound: Option<usize>,
    sink: Sink,
    matched: u64,
    limit: u64,
    /// Blocks the worker threads print into, when they do.
    spare: Spare,
}

impl Visitor for Reader {
    type Stop = Stop;

    fn needs_state(&self) -> bool {
        self.mode == Mode::Print && self.printer.needs_state()
    }

    fn reads_no_fds(&self) -> bool {
        !self.printer.needs_fds()
    }

    fn reads_buffers(&self) -> bool {
        self.mode == Mode::Print && self.printer.reads_buffers()
    }

    fn reads_no_params(&self) -> bool {
        self.mode != Mode::Print
    }

    fn enter(&mut self, trace: usize) {
        if self.bound != Some(trace) {
            if let Some(previous) = self.bound {
                self.printer.swap_binding(&mut self.bindings[previous]);
            }
            self.printer.swap_binding(&mut self.bindings[trace]);
            self.bound = Some(trace);
        }
    }

    fn visit(&mut self, ctx: &Ctx<'_>) -> ControlFlow<Stop> {
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

    /// A stream may go quiet after a chunk (`scry record -w - | scry read -`):
    /// what was printed goes out now rather than when the block fills.
    fn chunk_done(&mut self) -> ControlFlow<Stop> {
        if self.sink.buf.is_empty() {
            return ControlFlow::Continue(());
        }
        match self.sink.flush() {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => ControlFlow::Break(Stop::Io(error)),
        }
    }
}

impl ChunkVisitor for Reader {
    type Work = PrintWork;

    /// Lines are printed run by run on worker threads unless each depends
    /// on the one before (`-t r`, `-t D`), a limit must stop the scan at an
    /// exact event, or a terminal shows each line at once.
    fn workers(&mut self, count: usize) -> Option<Vec<PrintWork>> {
        let independent = self.mode == Mode::Print
            && self.limit == u64::MAX
            && !self.printer.is_sequential()
            && !self.sink.each_line;
        independent.then(|| {
            (0..count)
                .map(|_| PrintWork {
                    printer: self.printer.clone(),
                    block: Vec::new(),
                    lines: 0,
                    spare: Arc::clone(&self.spare),
                })
                .collect()
        })
    }

    fn collect(&mut self, (mut block, lines): (Vec<u8>, u64)) -> ControlFlow<Stop> {
        self.matched += lines;
        let written = self.sink.write_block(&block);
        block.clear();
        self.spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(block);
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => ControlFlow::Break(Stop::Io(error)),
        }
    }
}

pub fn run(args: &ReadArgs) -> anyhow::Result<Code> {
    let (paths, filter_text) = split_inputs(&args.inputs, &args.read, "scry read FILE… [FILTER]")?;
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
        buffers: BufferMode::from_flags(args.ascii, args.hex),
        buffer_len: args.snaplen,
    };
    let printer = Printer::new(&options).map_err(|error| {
        let source = options.format.as_deref().unwrap_or_default();
        UsageError(format!("bad output format\n{}", error.render(source)))
    })?;
    let mut traces = Traces::open(&Query {
        paths,
        filter: &filter_text,
        since: args.since.as_deref(),
        until: args.until.as_deref(),
        threads: args.threads,
        strict: args.strict,
    })?;
    // Every format is checked against every trace before anything is
    // printed.
    let bindings = traces
        .catalogs()
        .map(|catalog| {
            printer.resolve(catalog).map_err(|error| {
                UsageError(format!(
                    "bad output format\n{}",
                    error.render(printer.source())
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut reader = Reader {
        mode,
        printer,
        bindings,
        bound: None,
        sink: Sink::stdout(mode == Mode::Print),
        matched: 0,
        spare: Spare::default(),
        limit: match mode {
            Mode::Quiet => 1,
            _ => args.limit.unwrap_or(u64::MAX),
        },
    };
    match traces.scan_chunks(&mut reader)? {
        Some(Stop::Io(error)) => return Err(error).context("writing the output"),
        Some(Stop::Limit) | None => {}
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
