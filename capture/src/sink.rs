//! The background writer: encodes, compresses and writes events on its own
//! thread, so that compression never stalls the draining of kernel buffers.
//!
//! The drain loop hands over batches through a bounded channel. If the
//! writer falls behind, the drain loop blocks, the kernel buffers fill, and
//! the kernel side counts what it cannot deliver: data is never dropped
//! without being counted.

use std::io::Write;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use scry_format::{CaptureStats, Event, FileHeader, Snapshot, TraceWriter, WriterOptions};

use crate::error::{CaptureError, Result};

/// How often pending events are sealed into a chunk even if it is not full:
/// the most a crash of the capture can lose.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Batches in flight between the drain loop and the writer.
const QUEUE_BATCHES: usize = 256;

pub(crate) enum Message {
    Events(Vec<Event>),
    Stats(CaptureStats),
}

/// What the writer did.
#[derive(Debug, Clone, Copy, Default)]
pub struct SinkReport {
    /// Events written.
    pub events: u64,
    /// Bytes written.
    pub bytes: u64,
}

pub(crate) struct Sink {
    tx: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<Result<SinkReport>>>,
}

impl Sink {
    /// Starts the writer thread; the header and snapshot are written before
    /// this returns, so an unwritable output fails the capture at once.
    pub(crate) fn spawn<W: Write + Send + 'static>(
        out: W,
        header: &FileHeader,
        snapshot: &Snapshot,
        options: WriterOptions,
    ) -> Result<Sink> {
        let mut writer = TraceWriter::new(out, header, snapshot, options)?;
        let (tx, rx) = mpsc::sync_channel::<Message>(QUEUE_BATCHES);
        let thread = std::thread::Builder::new()
            .name("scry-writer".into())
            .spawn(move || -> Result<SinkReport> {
                let mut last_flush = Instant::now();
                loop {
                    let timeout = FLUSH_INTERVAL.saturating_sub(last_flush.elapsed());
                    match rx.recv_timeout(timeout) {
                        Ok(Message::Events(events)) => {
                            for event in &events {
                                writer.push(event)?;
                            }
                        }
                        Ok(Message::Stats(stats)) => {
                            let is_final = stats.is_final;
                            writer.write_stats(&stats)?;
                            if is_final {
                                break;
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        // The capture went away without a final record: still
                        // close the file properly.
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    if last_flush.elapsed() >= FLUSH_INTERVAL {
                        writer.flush_chunk()?;
                        last_flush = Instant::now();
                    }
                }
                let events = writer.events_written();
                let bytes_before_footer = writer.bytes_written();
                writer.finish()?;
                Ok(SinkReport {
                    events,
                    bytes: bytes_before_footer,
                })
            })
            .map_err(|e| CaptureError::io("starting the writer thread", e))?;
        Ok(Sink {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hands a message to the writer; blocks while it is behind.
    pub(crate) fn send(&mut self, message: Message) -> Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(message).is_ok());
        if sent {
            return Ok(());
        }
        // The writer thread ended early: its error says why.
        match self.join() {
            Err(error) => Err(error),
            Ok(_) => Err(CaptureError::io(
                "writing the trace",
                std::io::Error::other("the writer stopped"),
            )),
        }
    }

    /// Writes the final statistics, the index and the trailer, and waits for
    /// the writer to finish.
    pub(crate) fn finish(mut self, final_stats: CaptureStats) -> Result<SinkReport> {
        self.send(Message::Stats(CaptureStats {
            is_final: true,
            ..final_stats
        }))?;
        self.join()
    }

    fn join(&mut self) -> Result<SinkReport> {
        self.tx = None;
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(CaptureError::io(
                    "writing the trace",
                    std::io::Error::other("the writer panicked"),
                ))
            }),
            None => Err(CaptureError::io(
                "writing the trace",
                std::io::Error::other("the writer already stopped"),
            )),
        }
    }
}

impl Drop for Sink {
    /// A sink dropped without `finish` (the capture failed) still writes
    /// what it was given and closes the file with its index.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_the_file_and_the_file_is_complete() {
        let mut sink = Sink::spawn(
            Vec::new(),
            &FileHeader::default(),
            &Snapshot::default(),
            WriterOptions {
                chunk_events: 3,
                ..WriterOptions::default()
            },
        )
        .unwrap();
        let events: Vec<Event> = (0..10)
            .map(|i| Event {
                ts: i,
                tid: 1,
                tgid: 1,
                ..Event::default()
            })
            .collect();
        sink.send(Message::Events(events)).unwrap();
        let report = sink
            .finish(CaptureStats {
                ts: 99,
                ..CaptureStats::default()
            })
            .unwrap();
        assert_eq!(report.events, 10);
    }
}
