//! The background writer: decodes the probe's records into events, and
//! encodes, compresses and writes them, on its own thread, so that none of
//! that work stalls the draining of kernel buffers.
//!
//! The drain loop hands over batches through a bounded channel. If the
//! writer falls behind, the drain loop blocks, the kernel buffers fill, and
//! the kernel side counts what it cannot deliver: data is never dropped
//! without being counted.
//!
//! The writer thread is also where the user-space half of a capture filter
//! runs (it sees every event, in time order, and the events it leaves out
//! are counted), where the event limit is enforced (it is a limit on events
//! written), and where the container of new processes is followed.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use scry_format::{CaptureStats, Event, FileHeader, Snapshot, TraceWriter, WriterOptions};

use crate::containers::{ContainerTracker, Described};
use crate::decode;
use crate::error::{CaptureError, Result};
use crate::reorder::Records;
use crate::{EventSelector, Rotation};

/// How often pending events are sealed into a chunk even if it is not full:
/// the most a crash of the capture can lose.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Batches in flight between the drain loop and the writer.
const QUEUE_BATCHES: usize = 256;
/// Written batches handed back to the drain loop for reuse.
const SPARE_BATCHES: usize = 8;

pub(crate) enum Message {
    /// Probe records, in time order.
    Records(Records),
    /// Events, in time order.
    #[cfg(test)]
    Events(Vec<Event>),
    Stats(CaptureStats),
}

/// What the writer did.
#[derive(Debug, Clone, Copy, Default)]
pub struct SinkReport {
    /// Events written.
    pub events: u64,
    /// Bytes written (before each file's index), over every segment.
    pub bytes: u64,
    /// Files written: 1 unless the capture rotates.
    pub segments: u32,
    /// Events left out by the capture filter.
    pub filtered: u64,
}

/// What the writer has done so far, readable from the drain loop while it
/// runs.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Events written, over every segment.
    pub(crate) events: AtomicU64,
    /// Events left out by the capture filter.
    pub(crate) filtered: AtomicU64,
    /// Bytes written, over every segment.
    pub(crate) bytes: AtomicU64,
    /// The segment being written, from 0.
    pub(crate) segment: AtomicU32,
    /// The event limit was reached: later events are not written.
    pub(crate) limit_reached: AtomicBool,
}

/// What the writer does besides writing.
pub(crate) struct Plan {
    /// Turns the probe's clock into wall time.
    pub(crate) boot_time_ns: u64,
    /// The user-space half of the capture filter.
    pub(crate) selector: Option<Box<dyn EventSelector>>,
    /// Write at most this many events.
    pub(crate) max_events: Option<u64>,
}

pub(crate) struct Sink {
    tx: Option<SyncSender<Message>>,
    /// Batches the writer is done with: the drain loop fills them again,
    /// instead of allocating (and faulting in) fresh memory for millions of
    /// records a second.
    spare: Receiver<Records>,
    thread: Option<JoinHandle<Result<SinkReport>>>,
    counters: Arc<Counters>,
}

/// How a rotated capture opens its next segment, and when.
pub(crate) struct Segments<W> {
    /// Opens segment `n` (the first, 0, is opened before the writer starts).
    pub(crate) open: Box<dyn FnMut(u32) -> std::io::Result<W> + Send>,
    /// A fresh state snapshot: every segment must be readable alone.
    pub(crate) snapshot: Box<dyn FnMut() -> Snapshot + Send>,
    /// The header of every segment (its creation time is refreshed).
    pub(crate) header: FileHeader,
    /// When to start the next segment.
    pub(crate) policy: Rotation,
}

/// The writer thread's side: the open segment and what is needed to start
/// the next one.
struct WriterState<W: Write> {
    writer: Option<TraceWriter<W>>,
    options: WriterOptions,
    segments: Option<Segments<W>>,
    segment: u32,
    segment_started: Instant,
    /// Bytes of the segment's header and snapshot: a size rotation waits for
    /// at least one chunk after them, or a snapshot larger than the limit
    /// would make a segment per event.
    segment_start_bytes: u64,
    /// The latest statistics, repeated at the end of each segment so that
    /// every segment says how lossy the capture was.
    last_stats: Option<CaptureStats>,
    events_before: u64,
    bytes_before: u64,
    tracker: ContainerTracker,
    /// The containers the current file describes.
    described: Described,
    selector: Option<Box<dyn EventSelector>>,
    /// The selector's verdicts on the current batch.
    keep: Vec<bool>,
    limit: u64,
    filtered: u64,
    counters: Arc<Counters>,
    boot_time_ns: u64,
    /// Events the records of a batch are decoded into, batch after batch:
    /// the same few thousand, warm in the cache.
    decoded: Vec<Event>,
    /// Records that could not be decoded: losses, in the statistics.
    undecodable: u64,
}

impl<W: Write> WriterState<W> {
    fn current(&mut self) -> Result<&mut TraceWriter<W>> {
        self.writer.as_mut().ok_or_else(|| {
            CaptureError::io(
                "writing the trace",
                std::io::Error::other("no segment is open"),
            )
        })
    }

    /// Events written so far, over every segment.
    fn events_total(&self) -> u64 {
        self.events_before + self.writer.as_ref().map_or(0, TraceWriter::events_written)
    }

    /// Decodes a batch of records and writes their events.
    fn push_records(&mut self, records: &Records) -> Result<()> {
        let mut decoded = std::mem::take(&mut self.decoded);
        let mut count = 0;
        for record in records.iter() {
            if count == decoded.len() {
                decoded.push(Event::default());
            }
            match decode::decode_into(record, self.boot_time_ns, &mut decoded[count]) {
                Ok(()) => count += 1,
                Err(_) => self.undecodable += 1,
            }
        }
        let written = self.push_batch(&decoded[..count]);
        self.decoded = decoded;
        written
    }

    /// Writes the events of one batch that the capture filter keeps, up to
    /// the event limit; follows the containers of all of them.
    fn push_batch(&mut self, events: &[Event]) -> Result<()> {
        self.keep.clear();
        if let Some(selector) = self.selector.as_mut() {
            selector.select(events, &mut self.keep);
        }
        for (index, event) in events.iter().enumerate() {
            // Past the limit the capture is over: nothing more is written
            // or counted as filtered.
            if self.events_total() >= self.limit {
                break;
            }
            let kept = self.keep.get(index).copied().unwrap_or(true);
            let tracker = &self.tracker;
            let writer = self.writer.as_mut().ok_or_else(|| {
                CaptureError::io(
                    "writing the trace",
                    std::io::Error::other("no segment is open"),
                )
            })?;
            let after = tracker.before(writer, event);
            self.described.record(writer, &after, event.ts)?;
            if kept {
                self.current()?.push(event)?;
            } else {
                self.filtered += 1;
            }
            after.apply(self.current()?);
            if kept {
                // The byte count grows only when a chunk is sealed, so a
                // size rotation happens right after one: between chunks,
                // at chunk size granularity even inside a large batch.
                self.rotate_if_due(true)?;
            }
        }
        if self.events_total() >= self.limit {
            self.counters.limit_reached.store(true, Ordering::Relaxed);
        }
        self.publish();
        Ok(())
    }

    /// Makes the counters visible to the drain loop.
    fn publish(&self) {
        let bytes = self.bytes_before + self.writer.as_ref().map_or(0, TraceWriter::bytes_written);
        let counters = &self.counters;
        counters
            .events
            .store(self.events_total(), Ordering::Relaxed);
        counters.filtered.store(self.filtered, Ordering::Relaxed);
        counters.bytes.store(bytes, Ordering::Relaxed);
        counters.segment.store(self.segment, Ordering::Relaxed);
    }

    /// Writes statistics with the writer's own counts of what it wrote and
    /// left out, exact at this point of the file.
    fn write_stats(&mut self, stats: CaptureStats) -> Result<()> {
        let stats = CaptureStats {
            events_written: self.events_total(),
            events_filtered: self.filtered,
            undecodable: stats.undecodable + self.undecodable,
            ..stats
        };
        self.current()?.write_stats(&stats)?;
        self.last_stats = Some(stats);
        self.publish();
        Ok(())
    }

    fn rotate_if_due(&mut self, size_only: bool) -> Result<()> {
        let (Some(segments), Some(writer)) = (&self.segments, &self.writer) else {
            return Ok(());
        };
        let bytes = writer.bytes_written();
        let by_size = segments
            .policy
            .max_bytes
            .is_some_and(|max| bytes >= max && bytes > self.segment_start_bytes);
        let by_time = !size_only
            && segments
                .policy
                .interval
                .is_some_and(|every| self.segment_started.elapsed() >= every);
        if by_size || by_time {
            self.rotate()
        } else {
            Ok(())
        }
    }

    /// Closes the current segment completely (pending chunk, statistics,
    /// index, trailer) before the next one is opened, so every event lands in
    /// exactly one segment and a failure to open the next leaves only whole
    /// files behind.
    fn rotate(&mut self) -> Result<()> {
        let (Some(segments), Some(mut writer)) = (self.segments.as_mut(), self.writer.take())
        else {
            return Ok(());
        };
        writer.flush_chunk()?;
        // The segment ends on purpose, so its last record says it closed
        // cleanly, with the writer's own cumulative count and the latest
        // kernel counters (at most a second old: only the capture loop can
        // read fresh ones).
        let closing = CaptureStats {
            ts: crate::machine::realtime_ns(),
            events_written: self.events_before + writer.events_written(),
            events_filtered: self.filtered,
            is_final: true,
            ..self.last_stats.clone().unwrap_or_default()
        };
        writer.write_stats(&closing)?;
        self.events_before += writer.events_written();
        self.bytes_before += writer.bytes_written();
        writer.finish()?;
        self.segment += 1;
        let snapshot = (segments.snapshot)();
        segments.header.created_ns = crate::machine::realtime_ns();
        let out = (segments.open)(self.segment)
            .map_err(|e| CaptureError::io(format!("opening segment {}", self.segment + 1), e))?;
        let writer = TraceWriter::new(out, &segments.header, &snapshot, self.options.clone())?;
        self.described = Described::of(&snapshot);
        self.segment_start_bytes = writer.bytes_written();
        self.writer = Some(writer);
        self.segment_started = Instant::now();
        self.publish();
        Ok(())
    }

    fn finish(mut self) -> Result<SinkReport> {
        let writer = self.writer.take().ok_or_else(|| {
            CaptureError::io(
                "writing the trace",
                std::io::Error::other("no segment is open"),
            )
        })?;
        let events = self.events_before + writer.events_written();
        let bytes = self.bytes_before + writer.bytes_written();
        writer.finish()?;
        Ok(SinkReport {
            events,
            bytes,
            segments: self.segment + 1,
            filtered: self.filtered,
        })
    }
}

impl Sink {
    /// Starts the writer thread; the header and snapshot are written before
    /// this returns, so an unwritable output fails the capture at once. With
    /// `segments`, it starts a new self-contained file whenever the rotation
    /// policy says so. The plan's selector starts from `snapshot`.
    pub(crate) fn spawn<W: Write + Send + 'static>(
        out: W,
        header: &FileHeader,
        snapshot: &Snapshot,
        options: WriterOptions,
        segments: Option<Segments<W>>,
        mut plan: Plan,
    ) -> Result<Sink> {
        let writer = TraceWriter::new(out, header, snapshot, options.clone())?;
        let segment_start_bytes = writer.bytes_written();
        if let Some(selector) = plan.selector.as_mut() {
            selector.begin(header, snapshot);
        }
        let counters = Arc::new(Counters::default());
        let mut state = WriterState {
            writer: Some(writer),
            options,
            segments,
            segment: 0,
            segment_started: Instant::now(),
            segment_start_bytes,
            last_stats: None,
            events_before: 0,
            bytes_before: 0,
            tracker: ContainerTracker::new(&header.event_table),
            described: Described::of(snapshot),
            selector: plan.selector,
            keep: Vec::new(),
            limit: plan.max_events.unwrap_or(u64::MAX),
            filtered: 0,
            counters: Arc::clone(&counters),
            boot_time_ns: plan.boot_time_ns,
            decoded: Vec::new(),
            undecodable: 0,
        };
        state.publish();
        let (tx, rx) = mpsc::sync_channel::<Message>(QUEUE_BATCHES);
        let (spare_tx, spare) = mpsc::sync_channel::<Records>(SPARE_BATCHES);
        let thread = std::thread::Builder::new()
            .name("scry-writer".into())
            .spawn(move || -> Result<SinkReport> {
                // A writer that falls behind blocks the drain loop.
                crate::machine::prioritize_this_thread();
                let mut last_flush = Instant::now();
                loop {
                    let timeout = FLUSH_INTERVAL.saturating_sub(last_flush.elapsed());
                    match rx.recv_timeout(timeout) {
                        Ok(Message::Records(mut records)) => {
                            state.push_records(&records)?;
                            records.clear();
                            // Full: the drain loop has spares enough.
                            let _ = spare_tx.try_send(records);
                        }
                        #[cfg(test)]
                        Ok(Message::Events(events)) => state.push_batch(&events)?,
                        Ok(Message::Stats(stats)) => {
                            let is_final = stats.is_final;
                            state.write_stats(stats)?;
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
                        state.current()?.flush_chunk()?;
                        state.publish();
                        last_flush = Instant::now();
                    }
                    state.rotate_if_due(false)?;
                }
                state.finish()
            })
            .map_err(|e| CaptureError::io("starting the writer thread", e))?;
        Ok(Sink {
            tx: Some(tx),
            spare,
            thread: Some(thread),
            counters,
        })
    }

    /// An empty batch the writer is done with, if there is one.
    pub(crate) fn written_batch(&self) -> Option<Records> {
        self.spare.try_recv().ok()
    }

    /// What the writer has done so far.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
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
            None,
            Plan {
                boot_time_ns: 0,
                selector: None,
                max_events: None,
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

    /// A file in memory that the test can read after the writer thread
    /// is done with it.
    #[derive(Clone, Default)]
    struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Keeps the events of even threads, and checks that it sees every
    /// event, in order, from the snapshot on.
    struct EvenThreads {
        began: bool,
        seen: u64,
    }

    impl EventSelector for EvenThreads {
        fn begin(&mut self, _: &FileHeader, _: &Snapshot) {
            self.began = true;
        }
        fn select(&mut self, events: &[Event], keep: &mut Vec<bool>) {
            assert!(self.began);
            for event in events {
                assert_eq!(event.ts, self.seen, "every event, in order");
                self.seen += 1;
                keep.push(event.tid % 2 == 0);
            }
        }
    }

    #[test]
    fn the_selector_decides_what_is_written_and_the_rest_is_counted() {
        let file = Shared::default();
        let mut sink = Sink::spawn(
            file.clone(),
            &FileHeader::default(),
            &Snapshot::default(),
            WriterOptions::default(),
            None,
            Plan {
                boot_time_ns: 0,
                selector: Some(Box::new(EvenThreads {
                    began: false,
                    seen: 0,
                })),
                max_events: Some(30),
            },
        )
        .unwrap();
        for batch in 0..10u64 {
            let events: Vec<Event> = (batch * 10..batch * 10 + 10)
                .map(|i| Event {
                    ts: i,
                    tid: i as u32,
                    tgid: i as u32,
                    ..Event::default()
                })
                .collect();
            sink.send(Message::Events(events)).unwrap();
        }
        let report = sink.finish(CaptureStats::default()).unwrap();
        // 30 kept (tids 0, 2, … 58) and the 29 odd ones between them left
        // out; what comes after the limit is neither.
        assert_eq!(report.events, 30);
        assert_eq!(report.filtered, 29);
        let data = file.0.lock().unwrap().clone();
        let trace = scry_format::TraceFile::open(data).unwrap();
        let stats = trace.final_stats().unwrap();
        assert_eq!(stats.events_written, 30);
        assert_eq!(stats.events_filtered, 29);
        let mut tids = Vec::new();
        let _ = trace.for_each_chunk(
            1,
            |_| true,
            |chunk| {
                tids.extend(chunk.unwrap().iter().map(|e| e.tid()));
                std::ops::ControlFlow::<()>::Continue(())
            },
        );
        assert_eq!(tids, (0..30).map(|i| i * 2).collect::<Vec<u32>>());
    }
}
