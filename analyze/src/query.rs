//! Running a filter over a trace: chunks are decoded in parallel, state is
//! replayed in file order on the calling thread, and every event that
//! matches is handed to the caller with its context.
//!
//! The chunk index is used to skip work without breaking state: a chunk
//! that cannot match (by event types, processes, containers or time) is not
//! evaluated, and when neither the filter nor the caller needs state it is
//! not even decompressed. Chunks that all start after `--until` are not
//! read at all: the scan ends before them.

use std::ops::{ControlFlow, Range};

use scry_format::{
    ChunkSource, DecodedChunk, EventTable, EventType, EventView, FormatError, IndexEntry, Prepare,
    TraceFile,
};

use crate::compile::{Catalog, Filter};
use crate::fields::Ctx;
use crate::state::{ProcessEffect, ProcessEvents, State};
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
#[derive(Debug, Clone, Default)]
pub struct Scan<'f> {
    /// Only events that match.
    pub filter: Option<&'f Filter>,
    /// Only events in this window.
    pub window: Window,
    /// The caller reads state fields of matching events (process names…),
    /// so state must be replayed even if the filter does not need it.
    pub caller_needs_state: bool,
    /// The state fields the caller reads are all of processes (`proc.*`,
    /// `user.*`…), none of fds: with a filter that reads no fds either,
    /// chunks that change no process need not be replayed.
    pub caller_reads_no_fds: bool,
    /// The caller reads the I/O buffers of most events it is handed
    /// (`evt.info`): they are decompressed by the decoding threads.
    pub caller_reads_buffers: bool,
    /// The caller reads no event parameters (it counts events): a source
    /// that converts events as it reads them ([`ChunkSource`]) may leave
    /// them out of the records that neither the filter nor the state
    /// looks into.
    pub caller_reads_no_params: bool,
    /// Replay every chunk when state is needed, even those that leave the
    /// processes as they were (to check that leaving them out changes
    /// nothing).
    pub replay_every_chunk: bool,
    /// Decoding threads.
    pub threads: usize,
    /// How many events of a chunk a worker of [`crate::scan_parallel`]
    /// takes at once; 0 for its default.
    pub slice_events: usize,
}

impl Scan<'_> {
    /// What the decoding threads prepare of each chunk: the parameters
    /// when the state is replayed from them or the caller reads them, so
    /// that the visiting thread does not walk them itself.
    pub(crate) fn prepare(&self, with_state: bool) -> Prepare {
        if self.caller_reads_buffers {
            Prepare::Buffers
        } else if with_state || !self.caller_reads_no_params {
            Prepare::Params
        } else {
            Prepare::Headers
        }
    }
}

/// The per-trace tables a scan and a filter compilation need.
#[derive(Debug)]
pub struct Prepared {
    /// Facts per event type.
    pub types: TypeTable,
    /// What each event type may do to processes.
    pub processes: ProcessEvents,
}

impl Prepared {
    /// Prepares `trace` for queries.
    pub fn new<D: AsRef<[u8]>>(trace: &TraceFile<D>) -> Self {
        Self::from_table(&trace.header().event_table)
    }

    /// Prepares a trace read as a stream, from its event table.
    pub fn from_table(table: &EventTable) -> Self {
        Prepared {
            types: TypeTable::new(table),
            processes: ProcessEvents::new(table),
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

/// Which chunks of a trace file a scan reads, and what for.
///
/// A chunk whose index summary rules out a match is still replayed when
/// state is needed, unless the scan needs processes only (no fds) and the
/// chunk holds no event that changes a process: then, provided every
/// process it names is known and alive when the scan reaches it
/// ([`ChunkPlan::must_replay`]), it leaves the processes as they were and
/// is not even decompressed. Chunks after one holding an event that reads
/// fds into a process (`fchdir`) are never left out, since the fd changes
/// they hold may then matter.
#[derive(Debug)]
pub struct ChunkPlan {
    /// Per chunk: its events may match and are evaluated.
    evaluate: Vec<bool>,
    /// Per chunk: need not be replayed if its processes are all alive.
    skippable: Vec<bool>,
    /// Chunks from this position on are not read.
    end: usize,
    with_state: bool,
    /// Chunks from this position on are replayed without their fd
    /// changes: nothing after them reads fds.
    fds_until: usize,
}

impl ChunkPlan {
    /// The plan of `scan` over `chunks` (a trace's index, in file order).
    pub fn new(chunks: &[IndexEntry], prepared: &Prepared, scan: &Scan<'_>) -> Self {
        let window = scan.window;
        let filter = scan.filter;
        let evaluate: Vec<bool> = chunks
            .iter()
            .map(|entry| {
                entry.summary.overlaps(window.since, window.until)
                    && filter.is_none_or(|filter| filter.chunk_may_match(&entry.summary))
            })
            .collect();
        let end = window.chunks_to_read(chunks);
        let with_state = scan.caller_needs_state || filter.is_some_and(Filter::needs_state);
        let needs_fds = (scan.caller_needs_state && !scan.caller_reads_no_fds)
            || filter.is_some_and(Filter::needs_fds);
        let mut skippable = vec![false; chunks.len()];
        let mut fds_until = chunks.len();
        if with_state && !needs_fds && !scan.replay_every_chunk {
            let effects = &prepared.processes;
            let effect_in = |entry: &IndexEntry, wanted: &dyn Fn(ProcessEffect) -> bool| {
                entry
                    .summary
                    .types
                    .iter()
                    .any(|&(event_type, _)| wanted(effects.effect(event_type)))
            };
            // Fd changes left out would matter to a later event that
            // rebuilds a process from its fds: nothing before the last
            // such event is left out.
            let first = chunks[..end]
                .iter()
                .rposition(|entry| effect_in(entry, &|e| e == ProcessEffect::ChangesFromFds))
                .map_or(0, |last| last + 1);
            fds_until = first;
            for at in first..end {
                let entry = &chunks[at];
                skippable[at] = !evaluate[at]
                    && !entry.summary.tgids_overflow
                    && !effect_in(entry, &|e| e != ProcessEffect::None);
            }
        }
        ChunkPlan {
            evaluate,
            skippable,
            end,
            with_state,
            fds_until,
        }
    }

    /// How many chunks, from the first, the scan reads at all.
    pub fn end(&self) -> usize {
        self.end
    }

    /// Whether the events of chunk `at` are evaluated.
    pub fn evaluate(&self, at: usize) -> bool {
        self.evaluate.get(at).copied().unwrap_or(true)
    }

    /// Whether chunk `at` is left out unless [`ChunkPlan::must_replay`]
    /// says otherwise when the scan reaches it.
    pub fn skippable(&self, at: usize) -> bool {
        self.skippable.get(at).copied().unwrap_or(false)
    }

    /// Whether the fd changes of chunk `at` are replayed: the scan needs
    /// fds, or some later event rebuilds a process from them.
    pub fn replays_fds(&self, at: usize) -> bool {
        at < self.fds_until
    }

    /// Whether chunk `at` is decoded ahead of the scan: it is read and
    /// neither left out nor skippable.
    pub fn decode(&self, at: usize) -> bool {
        at < self.end && !self.skippable(at) && (self.with_state || self.evaluate(at))
    }

    /// Whether a skippable chunk must be replayed after all: some process
    /// it names is unknown or exiting in `state` (the state as the scan
    /// reaches the chunk), so its events could create or revive one.
    pub fn must_replay(entry: &IndexEntry, state: &State) -> bool {
        entry.summary.tgids_overflow || !entry.summary.tgids.iter().all(|&t| state.is_live(t))
    }

    /// Replays into `state`, in order, those of the chunks `range` that the
    /// scan leaves out but that may change a process it reads
    /// ([`ChunkPlan::must_replay`]): the ones before the next chunk the
    /// scan decodes.
    pub(crate) fn replay_skipped<D: AsRef<[u8]>>(
        &self,
        trace: &TraceFile<D>,
        range: Range<usize>,
        state: &mut State,
        on_damage: &mut impl FnMut(FormatError),
    ) {
        for at in range {
            let entry = &trace.chunks()[at];
            if self.skippable(at) && Self::must_replay(entry, state) {
                match trace.decode_chunk(entry) {
                    Ok(skipped) => {
                        Replay::of(true, self.replays_fds(at)).apply_all(state, &skipped)
                    }
                    Err(error) => on_damage(error),
                }
            }
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
    let with_state = scan.caller_needs_state || scan.filter.is_some_and(Filter::needs_state);
    let chunks = trace.chunks();
    let plan = ChunkPlan::new(chunks, prepared, scan);
    let mut state = State::of_trace(trace);
    let position_of = |first_num: u64| chunks.partition_point(|c| c.summary.first_num < first_num);
    let select = |entry: &IndexEntry| plan.decode(position_of(entry.summary.first_num));
    let types = scan.filter.and_then(Filter::event_types);
    let described = Described::new(table, prepared);
    let events = Events {
        described: &described,
        scan,
        hostname,
        first_ts,
        types: types.as_deref(),
    };
    // The first chunk the scan has not accounted for yet: the skippable
    // ones before the next decoded chunk are checked against the state
    // when it arrives.
    let mut unseen = 0;
    let on_chunk = |chunk: Result<&DecodedChunk, FormatError>| {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                on_damage(error);
                return ControlFlow::Continue(());
            }
        };
        let position = position_of(chunk.first_num());
        plan.replay_skipped(trace, unseen..position, &mut state, &mut on_damage);
        unseen = unseen.max(position + 1);
        events.visit(
            chunk,
            plan.evaluate(position),
            Replay::of(with_state, plan.replays_fds(position)),
            &mut state,
            &mut visit,
        )
    };
    let threads = scan.threads.max(1);
    trace.for_each_chunk_prepared(threads, select, scan.prepare(with_state), on_chunk)
}

/// What of a chunk's events is replayed into the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    Nothing,
    /// Every change.
    Everything,
    /// The changes to processes and threads, not to fds.
    Processes,
}

impl Replay {
    pub(crate) fn of(with_state: bool, fds: bool) -> Self {
        match (with_state, fds) {
            (false, _) => Replay::Nothing,
            (true, true) => Replay::Everything,
            (true, false) => Replay::Processes,
        }
    }

    /// Replays one event into `state`.
    #[inline]
    pub(crate) fn apply(self, state: &mut State, event: &EventView<'_>) {
        match self {
            Replay::Nothing => {}
            Replay::Everything => state.apply(event),
            Replay::Processes => state.apply_to_processes(event),
        }
    }

    /// Replays every event of `chunk` into `state`.
    pub(crate) fn apply_all(self, state: &mut State, chunk: &DecodedChunk) {
        for event in chunk.iter() {
            self.apply(state, &event);
        }
    }
}

/// What an event's type says of it, by type id: its parameter names and
/// its facts, found with one lookup per event.
pub(crate) struct Described<'a> {
    by_id: Vec<(&'a [String], &'a crate::TypeInfo)>,
    prepared: &'a Prepared,
}

impl<'a> Described<'a> {
    pub(crate) fn new(table: &'a EventTable, prepared: &'a Prepared) -> Self {
        let by_id = (0..table.id_bound())
            .map(|id| {
                let id = EventType::try_from(id).unwrap_or(EventType::MAX);
                let names = table.get(id).map_or(&[][..], |e| &e.params[..]);
                (names, prepared.types.get(id))
            })
            .collect();
        Described { by_id, prepared }
    }

    #[inline]
    pub(crate) fn get(&self, id: EventType) -> (&'a [String], &'a crate::TypeInfo) {
        match self.by_id.get(usize::from(id)) {
            Some(&found) => found,
            None => (&[], self.prepared.types.get(id)),
        }
    }
}

/// What visiting the events of one decoded chunk needs.
struct Events<'a> {
    described: &'a Described<'a>,
    scan: &'a Scan<'a>,
    hostname: &'a str,
    first_ts: u64,
    /// The event types the filter can match, by type id (`None`: any):
    /// events of other types are not evaluated.
    types: Option<&'a [bool]>,
}

impl Events<'_> {
    /// Replays `chunk` into `state` and visits the events that the scan
    /// selects (none unless `wanted`).
    fn visit<B>(
        &self,
        chunk: &DecodedChunk,
        wanted: bool,
        replay: Replay,
        state: &mut State,
        visit: &mut impl FnMut(&Ctx<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        if !wanted {
            replay.apply_all(state, chunk);
            return ControlFlow::Continue(());
        }
        let window = self.scan.window;
        // Times are read only to be compared with a window: a scan of the
        // whole trace leaves their column unread.
        let windowed = window.since > 0 || window.until < u64::MAX;
        for event in chunk.iter() {
            replay.apply(state, &event);
            if windowed && (event.ts() < window.since || event.ts() > window.until) {
                continue;
            }
            if let Some(types) = self.types
                && !types
                    .get(usize::from(event.event_type()))
                    .copied()
                    .unwrap_or(true)
            {
                continue;
            }
            let (names, info) = self.described.get(event.event_type());
            let ctx = Ctx::new(event, info, state, self.first_ts, self.hostname, names);
            if self.scan.filter.is_none_or(|filter| filter.matches(&ctx)) {
                visit(&ctx)?;
            }
        }
        ControlFlow::Continue(())
    }
}

/// The event types whose records a scan of a stream looks into, by type id
/// (`None`: all): those the filter may match, those that change the state
/// when it is replayed, and all of them when the caller reads parameters.
fn params_read(table: &EventTable, scan: &Scan<'_>, with_state: bool) -> Option<Vec<bool>> {
    if !scan.caller_reads_no_params {
        return None;
    }
    let bound = table.id_bound();
    let mut read = match scan.filter {
        // A type the filter's bitmap does not reach is taken as read.
        Some(filter) => {
            let mut types = filter.event_types()?;
            types.resize(bound.max(types.len()), true);
            types
        }
        None => vec![false; bound],
    };
    if with_state {
        for (read, changes) in read.iter_mut().zip(State::changing_types(table)) {
            *read |= changes;
        }
    }
    Some(read)
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
pub fn scan_stream<S: ChunkSource, B>(
    reader: &mut S,
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
    let params_of = params_read(&table, scan, with_state);
    let types = scan.filter.and_then(Filter::event_types);
    let described = Described::new(&table, prepared);
    reader.stream_chunks(scan.threads.max(1), params_of.as_deref(), |chunk| {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                on_damage(error);
                return ControlFlow::Continue(());
            }
        };
        let first = *first_ts.get_or_insert_with(|| chunk.iter().next().map_or(0, |e| e.ts()));
        let events = Events {
            described: &described,
            scan,
            hostname: &hostname,
            first_ts: first,
            types: types.as_deref(),
        };
        events.visit(
            chunk,
            true,
            Replay::of(with_state, true),
            &mut state,
            &mut visit,
        )?;
        chunk_done()
    })
}
