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
use crate::cli::{EchoArgs, ReportArgs, SlowArgs, SpyCommand, SpyFileArgs};
use crate::exit::{Code, UsageError};
use crate::traces::{Traces, Visitor, compile_filter, expand_directories, split_inputs};

/// Why a streaming report stopped early: its output went away.
struct Closed(io::Error);

/// Hands every event to `each`, with what the report keeps for the
/// event's trace (its event types, a bound printer…).
struct Each<T, F> {
    per_trace: Vec<T>,
    current: usize,
    each: F,
}

impl<T, S, F: FnMut(&mut T, &Ctx<'_>) -> ControlFlow<S>> Visitor for Each<T, F> {
    type Stop = S;

    fn needs_state(&self) -> bool {
        true
    }

    fn enter(&mut self, trace: usize) {
        self.current = trace;
    }

    fn visit(&mut self, ctx: &Ctx<'_>) -> ControlFlow<S> {
        (self.each)(&mut self.per_trace[self.current], ctx)
    }
}

/// Runs a report that prints as it goes: `write` appends what an event
/// shows and says whether it printed anything. Exits 1 when nothing was.
fn stream<T>(
    traces: &mut Traces,
    per_trace: Vec<T>,
    mut write: impl FnMut(&mut T, &Ctx<'_>, &mut Vec<u8>) -> bool,
) -> anyhow::Result<Code> {
    let mut sink = Sink::stdout(true);
    let mut printed = 0u64;
    let stop = traces.scan(&mut Each {
        per_trace,
        current: 0,
        each: |item: &mut T, ctx: &Ctx<'_>| {
            if write(item, ctx, &mut sink.buf) {
                printed += 1;
                if let Err(error) = sink.commit() {
                    return ControlFlow::Break(Closed(error));
                }
            }
            ControlFlow::Continue(())
        },
    })?;
    if let Some(Closed(error)) = stop {
        return Err(error).context("writing the output");
    }
    sink.flush().context("writing the output")?;
    Ok(if printed > 0 {
        Code::Ok
    } else {
        Code::NothingMatched
    })
}

/// Writes a report built at the end of the scan; exits 1 when it is empty.
fn write_all(out: &[u8], empty: bool) -> anyhow::Result<Code> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(out)
        .and_then(|()| stdout.flush())
        .context("writing the output")?;
    Ok(if empty {
        Code::NothingMatched
    } else {
        Code::Ok
    })
}

pub fn spy(command: &SpyCommand) -> anyhow::Result<Code> {
    match command {
        SpyCommand::Users(args) => spy_users(args),
        SpyCommand::File(args) => spy_file(args),
    }
}

fn spy_users(args: &ReportArgs) -> anyhow::Result<Code> {
    let (paths, filter) = split_inputs(&args.inputs, &[], "scry spy users FILE… [FILTER]")?;
    let mut traces = super::open(paths, &filter, &args.selection)?;
    let per_trace = traces
        .catalogs()
        .map(|c| UserCommands::new(c.table))
        .collect();
    let json = args.json;
    stream(
        &mut traces,
        per_trace,
        |users: &mut UserCommands, ctx, out| {
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
    )
}

/// What `spy file` prints of each event: when, who, what, and the call's
/// arguments (the data of reads and writes among them).
const SPY_FILE_FORMAT: &str =
    "*%evt.num %evt.datetime %user.name %proc.name (%proc.pid) %evt.type %evt.info";

fn spy_file(args: &SpyFileArgs) -> anyhow::Result<Code> {
    // An empty filter would select every event: not a file spied on.
    if args.target.trim().is_empty() {
        return Err(UsageError(
            "scry spy file needs a path (/etc/shadow) or a filter, not an empty argument"
                .to_owned(),
        )
        .into());
    }
    let filter = if args.target.starts_with('/') {
        scry_analyze::reports::path_filter(&args.target)
    } else {
        args.target.clone()
    };
    let options = OutputOptions {
        format: (!args.json).then(|| SPY_FILE_FORMAT.to_owned()),
        json: args.json,
        time: TimeMode::default(),
        buffers: BufferMode::from_flags(args.ascii, args.hex),
        buffer_len: None,
    };
    let paths = expand_directories(&args.files)?;
    let mut traces = super::open(paths, &filter, &args.selection)?;
    let printers = printers(&traces, &options)?;
    stream(&mut traces, printers, |printer: &mut Printer, ctx, out| {
        printer.print(ctx, out)
    })
}

/// One printer per trace, bound to its event table.
fn printers(traces: &Traces, options: &OutputOptions) -> anyhow::Result<Vec<Printer>> {
    traces
        .catalogs()
        .map(|catalog| {
            let mut printer = Printer::new(options)
                .map_err(|e| UsageError(format!("bad output format\n{}", e.render(""))))?;
            printer.bind(catalog).map_err(|e| {
                UsageError(format!("bad output format\n{}", e.render(printer.source())))
            })?;
            Ok(printer)
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
    stream(&mut traces, per_trace, |(), ctx, out| {
        echo::write(ctx, style, out)
    })
}

pub fn tree(args: &ReportArgs) -> anyhow::Result<Code> {
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
    // The tree is built from every event; the filter only marks.
    let mut builder = TreeBuilder::default();
    let _ = traces.scan(&mut Each {
        per_trace,
        current: 0,
        each: |(types, filter): &mut (TreeTypes, Option<Filter>), ctx: &Ctx<'_>| {
            let matched = filter.as_ref().is_none_or(|f| f.matches(ctx));
            builder.add(types, ctx, matched);
            ControlFlow::<Infallible>::Continue(())
        },
    })?;
    let nodes = builder.finish(!filter.trim().is_empty());
    let mut out = Vec::new();
    if args.json {
        tree::write_json(&nodes, &mut out);
    } else {
        tree::write_text(&nodes, &mut out);
    }
    write_all(&out, nodes.is_empty())
}

/// The `--threshold` of `slow` in nanoseconds. A bare number is refused
/// rather than read as seconds: `-t 10` more likely means milliseconds,
/// and seconds would hide every call. Zero needs no unit.
fn parse_threshold(text: &str) -> anyhow::Result<u64> {
    let trimmed = text.trim();
    let bare = trimmed.ends_with(|c: char| c.is_ascii_digit() || c == '.');
    if bare && trimmed.parse::<f64>().is_ok_and(|n| n != 0.0) {
        return Err(UsageError(format!(
            "--threshold: '{trimmed}' has no unit: write {trimmed}ms, {trimmed}us or {trimmed}s"
        ))
        .into());
    }
    scry_analyze::TimeSpec::parse_duration(text)
        .map_err(|message| UsageError(format!("--threshold: {message}")).into())
}

/// What `slow` prints after the duration and the event number (both
/// padded to their column once every line is known): the call and its
/// arguments.
const SLOW_FORMAT: &str = "*%evt.datetime %proc.name (%proc.pid) %evt.type %evt.info";

/// The fields of each call in `slow -j`.
const SLOW_JSON: &str =
    "*%evt.num %evt.rawtime %evt.latency %proc.name %proc.pid %thread.tid %evt.type %evt.info";

pub fn slow(args: &SlowArgs) -> anyhow::Result<Code> {
    let threshold = parse_threshold(&args.threshold)?;
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
    // Calls are printed when kept, and only the slowest are kept.
    let mut slowest = Slowest::new(args.rows);
    let json = args.json;
    let _ = traces.scan(&mut Each {
        per_trace: printers(&traces, &options)?,
        current: 0,
        each: |printer: &mut Printer, ctx: &Ctx<'_>| {
            let latency = ctx.event.latency();
            if slowest.wants(latency) {
                let mut line = Vec::new();
                if printer.print(ctx, &mut line) {
                    slowest.offer(latency, ctx.event.num(), line);
                }
            }
            ControlFlow::<Infallible>::Continue(())
        },
    })?;
    let calls = slowest.finish();
    // Events are kept by index; evt.num counts them from 1.
    let num_width = calls
        .iter()
        .map(|(_, num, _)| (num + 1).to_string().len())
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    for (latency, num, line) in &calls {
        if !json {
            let duration = human::duration(*latency);
            let _ = write!(out, "{duration:>10}  {:>num_width$} ", num + 1);
        }
        out.extend_from_slice(line);
    }
    write_all(&out, calls.is_empty())
}
