//! `scry top`: a built-in view or one made of `--by`/`--sum`, summed over
//! the traces and printed as a table or JSON Lines.

use std::convert::Infallible;
use std::io::{self, IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::Arc;

use anyhow::Context;
use scry_analyze::Ctx;
use scry_analyze::summary::{
    self, Aggregate, Bound, Column, Measure, RunSums, Summary, TableStyle, Unit, ViewSpec,
};

use crate::cli::TopArgs;
use crate::exit::{Code, UsageError};
use crate::traces::{ChunkVisitor, Visitor, split_inputs};

/// Accumulates one summary over every trace.
struct Top {
    summary: Summary,
    bounds: Vec<Arc<Bound>>,
    current: usize,
}

impl ChunkVisitor for Top {
    type Work = RunSums;

    /// Workers from three threads on. With two, the sequential scan is as
    /// fast and lighter: a parallel scan replays the state twice (in order,
    /// then per run), which costs what the second worker gains.
    fn workers(&mut self, count: usize) -> Option<Vec<RunSums>> {
        let bound = &self.bounds[self.current];
        (count > 2).then(|| {
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
    let mut top = Top {
        summary: Summary::new(&spec),
        bounds,
        current: 0,
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
    let mut table = top.summary.finish_top(args.rows);
    for measure in unrecorded.into_iter().rev() {
        table.remove_measure(measure);
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
