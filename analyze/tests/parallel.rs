//! The parallel scan against the sequential one: the same events, in the
//! same order, each printed from the same state, whatever the chunk and
//! slice sizes, with or without a filter, with chunks left out by the
//! index; and summaries of runs merged in order against one summary of all.
#![allow(clippy::unwrap_used)]

mod common;

use common::{rechunk, summarize};

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use scry_analyze::summary::{self, RunSums, Summary};
use scry_analyze::{
    ChunkWork, Ctx, Filter, OutputOptions, Prepared, Printer, Scan, scan, scan_parallel,
};
use scry_format::TraceFile;

fn sample(name: &str) -> TraceFile<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples")
        .join(name);
    TraceFile::open(std::fs::read(path).unwrap()).unwrap()
}

/// Prints the events of a slice into lines of its own.
struct Lines {
    printer: Printer,
    out: Vec<u8>,
}

impl ChunkWork for Lines {
    type Output = Vec<u8>;

    fn event(&mut self, ctx: &Ctx<'_>) {
        self.printer.print(ctx, &mut self.out);
    }

    fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

fn printer(trace: &TraceFile<Vec<u8>>, prepared: &Prepared, options: &OutputOptions) -> Printer {
    let mut printer = Printer::new(options).unwrap();
    printer.bind(prepared.catalog(trace)).unwrap();
    printer
}

/// What the sequential scan prints, and what the parallel one prints with
/// `workers` workers and slices of `slice_events` events.
fn both(
    trace: &TraceFile<Vec<u8>>,
    filter: &str,
    options: &OutputOptions,
    workers: usize,
    slice_events: usize,
) -> (String, String) {
    let prepared = Prepared::new(trace);
    let compiled =
        (!filter.is_empty()).then(|| Filter::new(filter, prepared.catalog(trace)).unwrap());
    let mut sequential = printer(trace, &prepared, options);
    let scan_options = Scan {
        filter: compiled.as_ref(),
        caller_needs_state: sequential.needs_state(),
        caller_reads_no_fds: !sequential.needs_fds(),
        caller_reads_buffers: sequential.reads_buffers(),
        threads: 2,
        slice_events,
        ..Scan::default()
    };
    let mut expected = Vec::new();
    let flow = scan(
        trace,
        &prepared,
        &scan_options,
        |e| panic!("{e}"),
        |ctx| {
            sequential.print(ctx, &mut expected);
            ControlFlow::<()>::Continue(())
        },
    )
    .unwrap();
    assert!(flow.is_continue());
    let lines = (0..workers)
        .map(|_| Lines {
            printer: printer(trace, &prepared, options),
            out: Vec::new(),
        })
        .collect();
    let mut got = Vec::new();
    let flow = scan_parallel(
        trace,
        &prepared,
        &scan_options,
        lines,
        |e| panic!("{e}"),
        |out| {
            got.extend_from_slice(&out);
            ControlFlow::<()>::Continue(())
        },
    )
    .unwrap();
    assert!(flow.is_continue());
    (
        String::from_utf8(expected).unwrap(),
        String::from_utf8(got).unwrap(),
    )
}

#[test]
fn every_line_is_printed_from_the_same_state_in_the_same_order() {
    let formats = [
        OutputOptions::default(),
        OutputOptions {
            json: true,
            ..OutputOptions::default()
        },
        OutputOptions {
            format: Some("%evt.num %proc.name %proc.cmdline %fd.name %user.name".to_owned()),
            ..OutputOptions::default()
        },
    ];
    for name in ["incident.scry", "workload.scry"] {
        let original = sample(name);
        for chunk_events in [7, 64, 100_000] {
            let trace = rechunk(&original, chunk_events);
            for filter in ["", "fd.typechar=f or evt.type=execve", "proc.name=sh"] {
                for options in &formats {
                    for (workers, slice) in [(1, 0), (2, 3), (3, 50), (2, 0)] {
                        let (expected, got) = both(&trace, filter, options, workers, slice);
                        assert!(!expected.is_empty() || !filter.is_empty());
                        assert!(
                            expected == got,
                            "{name}, chunks of {chunk_events}, filter {filter:?}, \
                             {workers} workers, slices of {slice}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn chunks_left_out_by_the_index_are_left_out_alike() {
    // Process fields only, and a filter the index rules out for most
    // chunks: some are neither decoded nor replayed.
    let trace = rechunk(&sample("workload.scry"), 16);
    let options = OutputOptions {
        format: Some("%evt.num %proc.name %proc.exepath %user.name".to_owned()),
        ..OutputOptions::default()
    };
    let (expected, got) = both(&trace, "evt.type=execve", &options, 2, 5);
    assert!(!expected.is_empty());
    assert_eq!(expected, got);
}

#[test]
fn a_visitor_that_stops_ends_the_scan() {
    let trace = rechunk(&sample("workload.scry"), 32);
    let prepared = Prepared::new(&trace);
    let options = OutputOptions::default();
    let scan_options = Scan {
        caller_needs_state: true,
        threads: 2,
        slice_events: 4,
        ..Scan::default()
    };
    let workers = (0..2)
        .map(|_| Lines {
            printer: printer(&trace, &prepared, &options),
            out: Vec::new(),
        })
        .collect();
    let mut seen = 0;
    let flow = scan_parallel(
        &trace,
        &prepared,
        &scan_options,
        workers,
        |e| panic!("{e}"),
        |_| {
            seen += 1;
            if seen == 10 {
                ControlFlow::Break(seen)
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .unwrap();
    assert_eq!(flow, ControlFlow::Break(10));
}

#[test]
fn summaries_of_runs_merged_in_order_are_the_whole_summary() {
    let trace = rechunk(&sample("workload.scry"), 64);
    let prepared = Prepared::new(&trace);
    for name in summary::view_names() {
        let spec = summary::view(name).unwrap();
        let bound = Arc::new(spec.bind(prepared.catalog(&trace)).unwrap());
        let scan_options = Scan {
            caller_needs_state: bound.needs_state(),
            caller_reads_no_fds: !bound.needs_fds(),
            threads: 2,
            slice_events: 5,
            ..Scan::default()
        };
        let whole = summarize(&trace, &prepared, spec, &bound, &scan_options);
        let workers = (0..2)
            .map(|_| RunSums::new(spec, Arc::clone(&bound)))
            .collect();
        let mut merged = Summary::new(spec);
        let flow = scan_parallel(
            &trace,
            &prepared,
            &scan_options,
            workers,
            |e| panic!("{e}"),
            |run| {
                merged.merge(run);
                ControlFlow::<()>::Continue(())
            },
        )
        .unwrap();
        assert!(flow.is_continue());
        let json = |summary: Summary| {
            let mut out = Vec::new();
            summary::write_json(&summary.finish(), &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let expected = json(whole);
        assert!(
            !expected.is_empty() || name == "containers",
            "the {name} view is empty"
        );
        assert_eq!(expected, json(merged), "the {name} view");
    }
}

#[test]
fn the_first_rows_are_those_of_the_whole_sorted_table() {
    let trace = sample("incident.scry");
    let prepared = Prepared::new(&trace);
    for name in summary::view_names() {
        let spec = summary::view(name).unwrap();
        let bound = spec.bind(prepared.catalog(&trace)).unwrap();
        let scan_options = Scan {
            caller_needs_state: bound.needs_state(),
            caller_reads_no_fds: !bound.needs_fds(),
            ..Scan::default()
        };
        let summarize = || {
            let mut summary = Summary::new(spec);
            let flow = scan(
                &trace,
                &prepared,
                &scan_options,
                |e| panic!("{e}"),
                |ctx| {
                    summary.add(&bound, ctx);
                    ControlFlow::<()>::Continue(())
                },
            )
            .unwrap();
            assert!(flow.is_continue());
            summary
        };
        let json = |table: &summary::Table| {
            let mut out = Vec::new();
            summary::write_json(table, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        let whole = summarize().finish();
        for n in [1, 3, 8] {
            let mut cut = whole.clone();
            cut.truncate(n);
            let first = summarize().finish_top(n);
            assert_eq!(json(&first), json(&cut), "the first {n} rows of {name}");
        }
    }
}
