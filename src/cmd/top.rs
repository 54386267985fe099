//! `scry top`: a built-in view or one made of `--by`/`--sum`, summed over
//! the traces and printed as a table or JSON Lines.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{self, IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::Arc;

use anyhow::Context;
use scry_analyze::summary::{
    self, Aggregate, Bound, Column, Measure, RunSums, Summary, TableStyle, Unit, ViewSpec,
};
use scry_analyze::{Ctx, Value};
use scry_format::ValueRef;

use crate::cli::TopArgs;
use crate::exit::{Code, UsageError};
use crate::traces::{ChunkVisitor, Visitor, split_inputs};

/// Accumulates one summary over every trace.
struct Top {
    summary: Summary,
    bounds: Vec<Arc<Bound>>,
    current: usize,
    /// The CPU time samples of the procs view, when a trace has them.
    cpu: Option<CpuSamples>,
}

/// Nanoseconds in a clock tick of the `procinfo` counters (`USER_HZ`,
/// 100 on Linux, which `/proc/PID/stat` counts in).
const TICK_NS: u64 = 10_000_000;

/// The CPU time of processes, from the `procinfo` events of sysdig
/// captures: per thread, cumulative user and system ticks sampled about
/// once a second; what a thread used over the capture is its last sample
/// less its first.
#[derive(Debug, Default)]
struct CpuSamples {
    /// Per trace, the `procinfo` type and where its user and system
    /// counters are among its parameters.
    types: Vec<Option<(u16, usize, usize)>>,
    /// Per (process, thread): the smallest and largest sample, in ticks.
    threads: HashMap<(u32, u32), (u64, u64)>,
}

impl CpuSamples {
    /// What the traces' event tables say about `procinfo`; `None` when no
    /// trace has it.
    fn new<'a>(tables: impl Iterator<Item = &'a scry_format::EventTable>) -> Option<CpuSamples> {
        let types: Vec<_> = tables
            .map(|table| {
                let id = table.id_of("procinfo")?;
                let params = &table.get(id)?.params;
                let at = |name: &str| params.iter().position(|p| p == name);
                Some((id, at("cpu_usr")?, at("cpu_sys")?))
            })
            .collect();
        types.iter().any(Option::is_some).then(|| CpuSamples {
            types,
            threads: HashMap::new(),
        })
    }

    fn add(&mut self, trace: usize, ctx: &Ctx<'_>) {
        let Some(Some((id, usr, sys))) = self.types.get(trace).copied() else {
            return;
        };
        let event = &ctx.event;
        if event.event_type() != id {
            return;
        }
        let ticks = |at| match event.param(at)? {
            ValueRef::Uint(n) => Some(n),
            ValueRef::Int(n) => u64::try_from(n).ok(),
            _ => None,
        };
        let (Some(usr), Some(sys)) = (ticks(usr), ticks(sys)) else {
            return;
        };
        let total = usr + sys;
        let entry = self
            .threads
            .entry((event.tgid(), event.tid()))
            .or_insert((total, total));
        entry.0 = entry.0.min(total);
        entry.1 = entry.1.max(total);
    }

    /// CPU time of each process, ns.
    fn per_process(&self) -> HashMap<u32, u64> {
        let mut out = HashMap::new();
        for (&(pid, _), &(first, last)) in &self.threads {
            *out.entry(pid).or_default() += (last - first) * TICK_NS;
        }
        out
    }
}

impl ChunkVisitor for Top {
    type Work = RunSums;

    /// Workers from three threads on. With two, the sequential scan is as
    /// fast and lighter: a parallel scan replays the state twice (in order,
    /// then per run), which costs what the second worker gains.
    fn workers(&mut self, count: usize) -> Option<Vec<RunSums>> {
        let bound = &self.bounds[self.current];
        // CPU samples are taken in order, event by event.
        (count > 2 && self.cpu.is_none()).then(|| {
            (0..count)
                .map(|_| RunSums::new(self.summary.spec(), Arc::clone(bound)))
                .collect()
        })
    }

    fn collect(&mut self, run: Summary) -> ControlFlow<Infallible> {
        self.summary.merge(run);
        ControlFlow::Continue(())
    }

    /// Whole chunks: a summary stays small however many events it sums.
    fn run_events(&self) -> usize {
        usize::MAX
    }
}

impl Visitor for Top {
    type Stop = Infallible;

    fn needs_state(&self) -> bool {
        self.bounds.iter().any(|bound| bound.needs_state())
    }

    fn reads_no_fds(&self) -> bool {
        !self.bounds.iter().any(|bound| bound.needs_fds())
    }

    fn enter(&mut self, trace: usize) {
        self.current = trace;
    }

    fn visit(&mut self, ctx: &Ctx<'_>) -> ControlFlow<Infallible> {
        self.summary.add(&self.bounds[self.current], ctx);
        if let Some(cpu) = &mut self.cpu {
            cpu.add(self.current, ctx);
        }
        ControlFlow::Continue(())
    }
}

/// The view the flags ask for, and the remaining arguments (traces and
/// filter).
fn spec_of(args: &TopArgs) -> anyhow::Result<(ViewSpec, &[String])> {
    let first = args.inputs.first().map_or("", String::as_str);
    let (base, rest) = match summary::view(first) {
        Some(view) => (Some(view.clone()), &args.inputs[1..]),
        None if !args.by.is_empty() => (None, &args.inputs[..]),
        None => {
            let names: Vec<&str> = summary::view_names().collect();
            return Err(UsageError(format!(
                "unknown view '{first}': one of {} (or --by FIELD)",
                names.join(", ")
            ))
            .into());
        }
    };
    let mut spec = base.unwrap_or_else(|| ViewSpec {
        name: "custom".to_owned(),
        title: "events by the chosen fields".to_owned(),
        keys: Vec::new(),
        labels: Vec::new(),
        measures: vec![Measure {
            header: "EVENTS".to_owned(),
            aggregate: Aggregate::Count,
            field: None,
            when: None,
            unit: Unit::Count,
        }],
        restrict: None,
        sort: 0,
    });
    if !args.by.is_empty() {
        spec.keys = args
            .by
            .iter()
            .map(|field| Column::new(&field.to_ascii_uppercase(), field))
            .collect();
        spec.labels.clear();
    }
    if !args.sum.is_empty() {
        spec.measures = args
            .sum
            .iter()
            .map(|field| Measure {
                header: field.to_ascii_uppercase(),
                aggregate: Aggregate::Sum,
                field: Some(field.clone()),
                when: io_only(field).then(|| IO_EVENTS.to_owned()),
                unit: unit_of(field),
            })
            .chain(std::iter::once(Measure {
                header: "EVENTS".to_owned(),
                aggregate: Aggregate::Count,
                field: None,
                when: None,
                unit: Unit::Count,
            }))
            .collect();
        spec.sort = 0;
    }
    if let Some(column) = &args.sort {
        spec.sort = spec.measure_index(column).ok_or_else(|| {
            let headers: Vec<String> = spec
                .measures
                .iter()
                .map(|m| m.header.to_ascii_lowercase())
                .collect();
            UsageError(format!(
                "--sort {column}: the {} view measures {}",
                spec.name,
                headers.join(", ")
            ))
        })?;
    }
    Ok((spec, rest))
}

/// Which events a sum of an [`io_only`] field counts, unless the filter
/// chooses the events itself.
const IO_EVENTS: &str = "evt.is_io=true";

/// Fields whose sum means bytes moved only over I/O calls: on other calls
/// the return value is an fd, a pid or an address (mmap), which summed
/// make nonsense. sysdig's `fdbytes_by` sums them over I/O events alone.
fn io_only(field: &str) -> bool {
    matches!(field, "evt.rawres" | "evt.buflen")
}

/// Whether a filter says which calls it wants (their type, category or
/// I/O direction): then sums count every call it lets through.
fn chooses_events(filter: &str) -> bool {
    ["evt.type", "evt.is_io", "evt.category", "syscall.type"]
        .iter()
        .any(|field| filter.contains(field))
}

/// Sizes and times show in their units; other fields as plain numbers.
fn unit_of(field: &str) -> Unit {
    match field {
        "evt.rawres" | "evt.buflen" => Unit::Bytes,
        "evt.latency" | "proc.duration" => Unit::Nanos,
        _ => Unit::Count,
    }
}

pub fn run(args: &TopArgs) -> anyhow::Result<Code> {
    let (mut spec, rest) = spec_of(args)?;
    let (paths, filter) = split_inputs(rest, &[], "scry top VIEW FILE… [FILTER]")?;
    if chooses_events(&filter) {
        for measure in &mut spec.measures {
            if measure.field.as_deref().is_some_and(io_only)
                && measure.when.as_deref() == Some(IO_EVENTS)
            {
                measure.when = None;
            }
        }
    }
    let mut traces = super::open(paths, &filter, &args.selection)?;
    let bounds = traces
        .catalogs()
        .map(|catalog| {
            spec.bind(catalog)
                .map(Arc::new)
                .map_err(|error| UsageError(format!("bad view field\n{}", error.render())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The procs view shows CPU time when the traces carry samples of it
    // (sysdig's topprocs_cpu); rows are then ranked by it.
    let cpu = (spec.name == "procs" && args.by.is_empty() && args.sum.is_empty())
        .then(|| CpuSamples::new(traces.catalogs().map(|c| c.table)))
        .flatten();
    let mut top = Top {
        summary: Summary::new(&spec),
        bounds,
        current: 0,
        cpu,
    };
    // Nothing stops a summary early: it sees every selected event.
    let _ = traces.scan_chunks(&mut top)?;
    // A trace that records no durations at all (some .scap captures, an
    // import) would show a TIME of 0 on every row: the column is left out,
    // unless asked for with --sum.
    let unrecorded: Vec<usize> = (0..spec.measures.len())
        .filter(|&m| {
            spec.measures[m].field.as_deref() == Some("evt.latency")
                && !args.sum.iter().any(|f| f == "evt.latency")
                && top.summary.is_zero(m)
        })
        .collect();
    let cpu = top.cpu.as_ref().map(CpuSamples::per_process);
    let mut table = match cpu {
        Some(_) => top.summary.finish(),
        None => {
            let (table, rest) = top.summary.finish_top_leaving(args.rows);
            // The command ends once the table is printed: the rows cut and
            // the summary's tables (a row and its texts per file or
            // connection seen) are left to the system, not freed one by
            // one.
            std::mem::forget(rest);
            table
        }
    };
    for measure in unrecorded.into_iter().rev() {
        table.remove_measure(measure);
    }
    if let Some(cpu) = cpu {
        table.insert_measure(
            0,
            Measure {
                header: "CPU".to_owned(),
                aggregate: Aggregate::Sum,
                field: None,
                when: None,
                unit: Unit::Nanos,
            },
            |keys| {
                keys.first()
                    .and_then(Value::as_num)
                    .and_then(|pid| u32::try_from(pid).ok())
                    .and_then(|pid| cpu.get(&pid).copied())
                    .map_or(0, |ns| i64::try_from(ns).unwrap_or(i64::MAX))
            },
        );
        if args.sort.is_none() {
            table.spec.sort = 0;
        }
        let sort = table.spec.sort;
        table.sort_by_measure(sort);
        if args.rows > 0 {
            table.truncate(args.rows);
        }
    }
    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = io::BufWriter::new(stdout.lock());
    if args.json {
        summary::write_json(&table, &mut out)
    } else {
        let style = TableStyle {
            human: args.human || terminal,
            color: terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        summary::write_table(&table, style, &mut out)
    }
    .and_then(|()| out.flush())
    .context("writing the output")?;
    Ok(if table.rows.is_empty() {
        Code::NothingMatched
    } else {
        Code::Ok
    })
}
