//! What the engine's integration tests share: traces written again with
//! other chunk sizes, and views summed by a sequential scan.
// Each test file uses a part of this module.
#![allow(dead_code)]

use std::ops::ControlFlow;

use scry_analyze::summary::{Bound, Summary, ViewSpec};
use scry_analyze::{Prepared, Scan, scan};
use scry_format::{TraceFile, TraceWriter, WriterOptions};

/// `spec` bound as `bound`, summed over every event of `trace` by a
/// sequential scan with `options`, which is given the state the view
/// needs.
pub fn summarize(
    trace: &TraceFile<Vec<u8>>,
    prepared: &Prepared,
    spec: &ViewSpec,
    bound: &Bound,
    options: &Scan<'_>,
) -> Summary {
    let options = Scan {
        caller_needs_state: bound.needs_state(),
        caller_reads_no_fds: !bound.needs_fds(),
        ..options.clone()
    };
    let mut summary = Summary::new(spec);
    let flow = scan(
        trace,
        prepared,
        &options,
        |e| panic!("{e}"),
        |ctx| {
            summary.add(bound, ctx);
            ControlFlow::<()>::Continue(())
        },
    )
    .unwrap();
    assert!(flow.is_continue());
    summary
}

/// `trace`'s events written again with `chunk_events` events per chunk.
pub fn rechunk(trace: &TraceFile<Vec<u8>>, chunk_events: u32) -> TraceFile<Vec<u8>> {
    let options = WriterOptions {
        chunk_events,
        ..WriterOptions::default()
    };
    let mut writer =
        TraceWriter::new(Vec::new(), trace.header(), trace.snapshot(), options).unwrap();
    let flow = trace.for_each_chunk(
        1,
        |_| true,
        |chunk| {
            for event in chunk.unwrap().iter() {
                writer.push(&event.to_event()).unwrap();
            }
            ControlFlow::<()>::Continue(())
        },
    );
    assert!(flow.unwrap().is_continue());
    TraceFile::open(writer.finish().unwrap()).unwrap()
}
