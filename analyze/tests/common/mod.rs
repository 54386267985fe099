//! What the engine's integration tests share: traces written again with
//! other chunk sizes.

use std::ops::ControlFlow;

use scry_format::{TraceFile, TraceWriter, WriterOptions};

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
