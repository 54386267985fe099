//! Running a filter over a trace: chunks are decoded in parallel, state is
//! replayed in file order on the calling thread, and every event that
//! matches is handed to the caller with its context.
//!
//! The chunk index is used to skip work without breaking state: a chunk
//! that cannot match (by event types, processes, containers or time) is not
//! evaluated, and when neither the filter nor the caller needs state it is
//! not even decompressed. Chunks that all start after `--until` are not
//! read at all: the scan ends before them.

use std::ops::ControlFlow;

use std::io::Read;

use scry_format::{DecodedChunk, EventTable, FormatError, IndexEntry, StreamReader, TraceFile};

use crate::compile::{Catalog, Filter};
use crate::fields::Ctx;
use crate::state::State;
use crate::types::TypeTable;

/// A time window, inclusive, in ns since the epoch.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Earliest event time.
    pub since: u64,
    /// Latest event time.
    pub until: u64,
}

impl Window {
    /// How many chunks, from the start of `chunks` (in file order), a scan
    /// of this window reads: past that point every chunk starts after
    /// `until`, so neither its events nor the state they build can matter.
    /// The capture writes events in time order, but an event that reached
    /// it late may sit after later ones, so the cut is where the first
    /// events of all the remaining chunks are past `until`, not merely of
    /// the next one.
    pub fn chunks_to_read(&self, chunks: &[IndexEntry]) -> usize {
        let mut end = chunks.len();
        while end > 0 {
            let summary = &chunks[end - 1].summary;
            if summary.events > 0 && summary.min_ts <= self.until {
                break;
            }
            end -= 1;
        }
        end
    }
}

impl Default for Window {
    fn default() -> Self {
        Window {
            since: 0,
            until: u64::MAX,
        }
    }
}

/// What a scan looks at.
#[derive(Debug, Default)]
pub struct Scan<'f> {
    /// Only events that match.
    pub filter: Option<&'f Filter>,
    /// Only events in this window.
    pub window: Window,
    /// The caller reads state fields of matching events (process names…),
    /// so state must be replayed even if the filter does not need it.
    pub caller_needs_state: bool,
    /// Decoding threads.
    pub threads: usize,
}

/// The per-trace tables a scan and a filter compilation need.
#[derive(Debug)]
pub struct Prepared {
    /// Facts per event type.
    pub types: TypeTable,
}

impl Prepared {
    /// Prepares `trace` for queries.
    pub fn new<D: AsRef<[u8]>>(trace: &TraceFile<D>) -> Self {
        Prepared {
            types: TypeTable::new(&trace.header().event_table),
        }
    }

    /// Prepares a trace read as a stream, from its event table.
    pub fn from_table(table: &EventTable) -> Self {
        Prepared {
            types: TypeTable::new(table),
        }
    }

    /// The catalog to compile filters against, for a trace read as a
    /// stream.
    pub fn catalog_of<'a>(&'a self, table: &'a EventTable) -> Catalog<'a> {
        Catalog {
            table,
            types: &self.types,
        }
    }

    /// The catalog to compile filters against.
    pub fn catalog<'a, D: AsRef<[u8]>>(&'a self, trace: &'a TraceFile<D>) -> Catalog<'a> {
        Catalog {
            table: &trace.header().event_table,
            types: &self.types,
        }
    }
}

/// Visits, in file order, every event of `trace` that `scan` selects.
/// Damaged chunks are skipped and reported through `on_damage`.
///
/// # Errors
/// Only with a strict trace: the first damaged chunk.
pub fn scan<D: AsRef<[u8]>, B>(
    trace: &TraceFile<D>,
    prepared: &Prepared,
    scan: &Scan<'_>,
    mut on_damage: impl FnMut(FormatError),
    mut visit: impl FnMut(&Ctx<'_>) -> ControlFlow<B>,
) -> Result<ControlFlow<B>, FormatError> {
    let table = &trace.header().event_table;
    let hostname = trace.header().machine.hostname.as_str();
    let first_ts = trace.time_range().map_or(0, |(first, _)| first);
    let window = scan.window;
    let relevant = |entry: &IndexEntry| {
        entry.summary.overlaps(window.since, window.until)
            && scan
                .filter
                .is_none_or(|filter| filter.chunk_may_match(&entry.summary))
    };
    let with_state = scan.caller_needs_state || scan.filter.is_some_and(Filter::needs_state);
    // Which chunks are evaluated, by position; the others only feed state.
    let chunks = trace.chunks();
    let evaluate: Vec<bool> = chunks.iter().map(relevant).collect();
    let mut state = State::new(trace.snapshot(), table);
    // Chunks from `end` on start after the window: the scan stops there.
    let end = chunks
        .get(window.chunks_to_read(chunks))
        .map_or(u64::MAX, |entry| entry.summary.first_num);
    let select =
        |entry: &IndexEntry| entry.summary.first_num < end && (with_state || relevant(entry));
    trace.for_each_chunk(scan.threads.max(1), select, |chunk| {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                on_damage(error);
                return ControlFlow::Continue(());
            }
        };
        let position = chunks.partition_point(|c| c.summary.first_num < chunk.first_num());
        let wanted = evaluate.get(position).copied().unwrap_or(true);
        let events = Events {
            prepared,
            scan,
            table,
            hostname,
            first_ts,
        };
        events.visit(chunk, wanted, with_state, &mut state, &mut visit)
    })
}

/// What visiting the events of one decoded chunk needs.
struct Events<'a> {
    prepared: &'a Prepared,
    scan: &'a Scan<'a>,
    table: &'a EventTable,
    hostname: &'a str,
    first_ts: u64,
}

impl Events<'_> {
    /// Replays `chunk` into `state` and visits the events that the scan
    /// selects (none unless `wanted`).
    fn visit<B>(
        &self,
        chunk: &DecodedChunk,
        wanted: bool,
        with_state: bool,
        state: &mut State,
        visit: &mut impl FnMut(&Ctx<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let window = self.scan.window;
        for event in chunk.iter() {
            if with_state {
                state.apply(&event);
            }
            if !wanted || event.ts() < window.since || event.ts() > window.until {
                continue;
            }
            let names = self
                .table
                .get(event.event_type())
                .map_or(&[][..], |e| &e.params[..]);
            let info = self.prepared.types.get(event.event_type());
            let ctx = Ctx::new(event, info, state, self.first_ts, self.hostname, names);
            if self.scan.filter.is_none_or(|filter| filter.matches(&ctx)) {
                visit(&ctx)?;
            }
        }
        ControlFlow::Continue(())
    }
}

/// Visits, in file order, every event of a trace read as a stream that
/// `scan` selects, as [`scan`] does for a file. Without an index up front no
/// chunk is skipped, and `evt.reltime` counts from the first event read.
/// Damaged chunks are skipped and reported through `on_damage`.
/// `chunk_done` is called after the events of each chunk: the input may
/// now be quiet for a while (a live capture), so what the visits produced
/// is worth handing on.
///
/// # Errors
/// I/O errors; with a strict reader, the first damaged chunk.
pub fn scan_stream<R: Read + Send, B>(
    reader: &mut StreamReader<R>,
    prepared: &Prepared,
    scan: &Scan<'_>,
    mut on_damage: impl FnMut(FormatError),
    mut visit: impl FnMut(&Ctx<'_>) -> ControlFlow<B>,
    mut chunk_done: impl FnMut() -> ControlFlow<B>,
) -> Result<ControlFlow<B>, FormatError> {
    // The reader is borrowed mutably while it streams: keep what the
    // visits need apart from it.
    let table = reader.header().event_table.clone();
    let hostname = reader.header().machine.hostname.clone();
    let mut state = State::new(reader.snapshot(), &table);
    let with_state = scan.caller_needs_state || scan.filter.is_some_and(Filter::needs_state);
    let mut first_ts = None;
    reader.for_each_chunk(scan.threads.max(1), |chunk| {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                on_damage(error);
                return ControlFlow::Continue(());
            }
        };
        let first = *first_ts.get_or_insert_with(|| chunk.iter().next().map_or(0, |e| e.ts()));
        let events = Events {
            prepared,
            scan,
            table: &table,
            hostname: &hostname,
            first_ts: first,
        };
        events.visit(chunk, true, with_state, &mut state, &mut visit)?;
        chunk_done()
    })
}
