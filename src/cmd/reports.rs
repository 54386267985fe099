//! The reports beyond tables: `spy users`, `spy file`, `echo`, `tree` and
//! `slow`. Each turns its flags into a filter and a visitor; what the
//! events mean is the analysis crate's (`scry_analyze::reports`).

use std::convert::Infallible;
use std::io::{self, Write};
use std::ops::ControlFlow;

use anyhow::Context;
use scry_analyze::reports::echo::{self, EchoStyle};
use scry_analyze::reports::slow::Slowest;
use scry_analyze::reports::tree::{self, TreeBuilder, TreeTypes};
use scry_analyze::reports::users::UserCommands;
use scry_analyze::{BufferMode, Ctx, Filter, OutputOptions, Printer, TimeMode, human};

use super::read::Sink;
use crate::cli::{EchoArgs, SlowArgs, SpyCommand, SpyFileArgs, SpyUsersArgs, TreeArgs};
use crate::exit::{Code, UsageError};
use crate::traces::{Visitor, compile_filter, split_inputs};

/// Why a streaming report stopped early: its output went away.
struct Closed(io::Error);

/// Prints each event a report finds, as it finds it; per trace, what the
/// report needs to know of the trace's event types.
struct Streaming<T, F> {
    per_trace: Vec<T>,
    current: usize,
    sink: Sink,
    printed: u64,
    needs_state: bool,
    write: F,
}

impl<T, F: FnMut(&T, &Ctx<'_>, &mut Vec<u8>) -> bool> Visitor for Streaming<T, F> {
    type Stop = Closed;

    fn needs_state(&self) -> bool {
        self.needs_state
    }

    fn enter(&mut self, trace: usize) {
        self.current = trace;
    }

    fn visit(&mut self, ctx: &Ctx<'_>) -> ControlFlow<Closed> {
        if (self.write)(&self.per_trace[self.current], ctx, &mut self.sink.buf) {
            self.printed += 1;
            if let Err(error) = self.sink.commit() {
                return ControlFlow::Break(Closed(error));
            }
        }
        ControlFlow::Continue(())
    }
}

impl<T, F: FnMut(&T, &Ctx<'_>, &mut Vec<u8>) -> bool> Streaming<T, F> {
    /// Runs the report over `traces` and says whether it printed anything.
    fn run(mut self, traces: &mut crate::traces::Traces) -> anyhow::Result<Code> {
        if let Some(Closed(error)) = traces.scan(&mut self)? {
            return Err(error).context("writing the output");
        }
        self.sink.flush().context("writing the output")?;
        Ok(if self.printed > 0 {
            Code::Ok
        } else {
            Code::NothingMatched
        })
    }
}

pub fn spy(command: &SpyCommand) -> anyhow::Result<Code> {
    match command {
        SpyCommand::Users(args) => spy_users(args),
        SpyCommand::File(args) => spy_file(args),
    }
}

fn spy_users(args: &SpyUsersArgs) -> anyhow::Result<Code> {
    let (paths, filter) = split_inputs(&args.inputs, &[], "scry spy users FILE… [FILTER]")?;
    let mut traces = super::open(paths, &filter, &args.selection)?;
    let per_trace = traces
        .catalogs()
        .map(|c| UserCommands::new(c.table))
        .collect();
    let json = args.json;
    Streaming {
        per_trace,
        current: 0,
        sink: Sink::stdout(true),
        printed: 0,
        needs_state: true,
        write: |users: &UserCommands, ctx: &Ctx<'_>, out: &mut Vec<u8>| {
            let Some(command) = users.command(ctx) else {
                return false;
            };
            if json {
                command.write_json(out);
            } else {
                command.write_text(out);
            }
            true
        },
    }
    .run(&mut traces)
}

/// What `spy file` prints of each event: when, who, what, and the call's
/// arguments (the data of reads and writes among them).
const SPY_FILE_FORMAT: &str =
    "*%evt.num %evt.datetime %user.name %proc.name (%proc.pid) %evt.type %evt.info";

fn spy_file(args: &SpyFileArgs) -> anyhow::Result<Code> {
    let filter = if args.target.starts_with('/') {
        scry_analyze::reports::path_filter(&args.target)
    } else {
        args.target.clone()
    };
    let options = OutputOptions {
        format: (!args.json).then(|| SPY_FILE_FORMAT.to_owned()),
        json: args.json,
        time: TimeMode::default(),
        buffers: if args.hex {
            BufferMode::Hex
        } else if args.ascii {
            BufferMode::Ascii
        } else {
            BufferMode::Inline
        },
        buffer_len: None,
    };
    let mut traces = super::open(args.files.clone(), &filter, &args.selection)?;
    let printers = printers(&traces, &options)?;
    Streaming {
        per_trace: printers,
        current: 0,
        sink: Sink::stdout(true),
        printed: 0,
        needs_state: true,
        write: |printer: &std::cell::RefCell<Printer>, ctx: &Ctx<'_>, out: &mut Vec<u8>| {
            printer.borrow_mut().print(ctx, out)
        },
    }
    .run(&mut traces)
}

/// One printer per trace, bound to its event table.
fn printers(
    traces: &crate::traces::Traces,
    options: &OutputOptions,
) -> anyhow::Result<Vec<std::cell::RefCell<Printer>>> {
    traces
        .catalogs()
        .map(|catalog| {
            let mut printer = Printer::new(options)
                .map_err(|e| UsageError(format!("bad output format\n{}", e.render(""))))?;
            printer.bind(catalog).map_err(|e| {
                UsageError(format!("bad output format\n{}", e.render(printer.source())))
            })?;
            Ok(std::cell::RefCell::new(printer))
        })
        .collect()
}

pub fn echo(args: &EchoArgs) -> anyhow::Result<Code> {
    let (paths, filter) = split_inputs(&args.inputs, &[], "scry echo FILE… [FILTER]")?;
    let filter = if filter.trim().is_empty() {
        "evt.is_io=true".to_owned()
    } else {
        format!("evt.is_io=true and ({filter})")
    };
    let mut traces = super::open(paths, &filter, &args.selection)?;
    let style = if args.json {
        EchoStyle::Json
    } else if args.hex {
        EchoStyle::Hex
    } else {
        EchoStyle::Text
    };
    let per_trace = traces.catalogs().map(|_| ()).collect();
    Streaming {
        per_trace,
        current: 0,
        sink: Sink::stdout(true),
        printed: 0,
        needs_state: true,
        write: |(): &(), ctx: &Ctx<'_>, out: &mut Vec<u8>| echo::write(ctx, style, out),
    }
    .run(&mut traces)
}

/// Builds the process tree from every event; the filter only marks.
struct Tree {
    builder: TreeBuilder,
    per_trace: Vec<(TreeTypes, Option<Filter>)>,
    current: usize,
}

impl Visitor for Tree {
    type Stop = Infallible;

    fn needs_state(&self) -> bool {
        true
    }

    fn enter(&mut self, trace: usize) {
        self.current = trace;
    }

    fn visit(&mut self, ctx: &Ctx<'_>) -> ControlFlow<Infallible> {
        let (types, filter) = &self.per_trace[self.current];
        let matched = filter.as_ref().is_none_or(|f| f.matches(ctx));
        self.builder.add(types, ctx, matched);
        ControlFlow::Continue(())
    }
}

pub fn tree(args: &TreeArgs) -> anyhow::Result<Code> {
    let (paths, filter) = split_inputs(&args.inputs, &[], "scry tree FILE… [FILTER]")?;
    let mut traces = super::open(paths, "", &args.selection)?;
    let per_trace = traces
        .catalogs()
        .map(|catalog| {
            Ok((
                TreeTypes::new(catalog.table),
                compile_filter(&filter, catalog)?,
            ))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let filtered = !filter.trim().is_empty();
    let mut visitor = Tree {
        builder: TreeBuilder::default(),
        per_trace,
        current: 0,
    };
    let _ = traces.scan(&mut visitor)?;
    let nodes = visitor.builder.finish(filtered);
    let mut out = Vec::new();
    if args.json {
        tree::write_json(&nodes, &mut out);
    } else {
        tree::write_text(&nodes, &mut out);
    }
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .context("writing the output")?;
    Ok(if nodes.is_empty() {
        Code::NothingMatched
    } else {
        Code::Ok
    })
}

/// What `slow` prints after the duration: the call and its arguments.
const SLOW_FORMAT: &str = "*%evt.num %evt.datetime %proc.name (%proc.pid) %evt.type %evt.info";

/// The fields of each call in `slow -j`.
const SLOW_JSON: &str =
    "*%evt.num %evt.rawtime %evt.latency %proc.name %proc.pid %thread.tid %evt.type %evt.info";

/// Keeps the slowest calls, each as its printed line.
struct Slow {
    slowest: Slowest,
    printers: Vec<std::cell::RefCell<Printer>>,
    current: usize,
    json: bool,
}

impl Visitor for Slow {
    type Stop = Infallible;

    fn needs_state(&self) -> bool {
        true
    }

    fn enter(&mut self, trace: usize) {
        self.current = trace;
    }

    fn visit(&mut self, ctx: &Ctx<'_>) -> ControlFlow<Infallible> {
        let latency = ctx.event.latency();
        if self.slowest.wants(latency) {
            let mut line = Vec::new();
            if !self.json {
                let _ = write!(line, "{:>10}  ", human::duration(latency));
            }
            if self.printers[self.current]
                .borrow_mut()
                .print(ctx, &mut line)
            {
                self.slowest.offer(latency, ctx.event.num(), line);
            }
        }
        ControlFlow::Continue(())
    }
}

pub fn slow(args: &SlowArgs) -> anyhow::Result<Code> {
    let threshold = scry_analyze::TimeSpec::parse_duration(&args.threshold)
        .map_err(|message| UsageError(format!("--threshold: {message}")))?;
    let (paths, filter) = split_inputs(&args.inputs, &[], "scry slow FILE… [FILTER]")?;
    let mut parts = vec![format!("evt.latency>={threshold}")];
    if args.files {
        parts.push("fd.type=file and evt.is_io=true".to_owned());
    }
    if !args.waits {
        parts.push("evt.is_wait=false".to_owned());
    }
    if !filter.trim().is_empty() {
        parts.push(format!("({filter})"));
    }
    let mut traces = super::open(paths, &parts.join(" and "), &args.selection)?;
    let options = OutputOptions {
        format: Some(if args.json { SLOW_JSON } else { SLOW_FORMAT }.to_owned()),
        json: args.json,
        time: TimeMode::default(),
        buffers: BufferMode::Inline,
        buffer_len: None,
    };
    let mut visitor = Slow {
        slowest: Slowest::new(args.rows),
        printers: printers(&traces, &options)?,
        current: 0,
        json: args.json,
    };
    let _ = traces.scan(&mut visitor)?;
    let calls = visitor.slowest.finish();
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    for (_, line) in &calls {
        stdout.write_all(line).context("writing the output")?;
    }
    stdout.flush().context("writing the output")?;
    Ok(if calls.is_empty() {
        Code::NothingMatched
    } else {
        Code::Ok
    })
}
