//! A scan whose per-event work runs on several threads: decoding threads
//! decode chunks, one thread replays state through them in file order
//! (which only it can do), and worker threads do the rest (filtering,
//! formatting) slice by slice of a chunk, each from a copy of the state as
//! of the start of its slice, which it replays again event by event. What
//! the workers make of each slice comes back to the caller in file order.
//!
//! The copies are cheap ([`State`] shares its processes until they change),
//! and replaying is cheap next to formatting, so the work spreads over
//! every core while every event still sees exactly the state a sequential
//! scan would show it. Memory stays bounded: a few slices, and the chunks
//! they belong to, are in flight at once, whatever the length of the
//! trace.

use std::ops::{ControlFlow, Range};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex, PoisonError};

use scry_format::{
    ChunkPool, DecodedChunk, EventView, FormatError, IndexEntry, TraceFile, ordered_map_fed,
};

use crate::compile::Filter;
use crate::fields::Ctx;
use crate::query::{ChunkPlan, Described, Prepared, Replay, Scan};
use crate::state::State;

/// How many events of a chunk a worker takes at once, unless the scan
/// says otherwise: small enough that what it makes of them (a slice's
/// lines) stays small, large enough that a copy of the state per slice
/// costs next to nothing.
const SLICE: usize = 8192;

/// What the worker threads of [`scan_parallel`] do with the events of a
/// slice of a chunk. Each worker thread has one, used for slice after
/// slice.
pub trait ChunkWork: Send {
    /// What the work on a slice produces, handed to the caller in file
    /// order.
    type Output: Send;

    /// One event the scan selects, with the state as of that event.
    fn event(&mut self, ctx: &Ctx<'_>);

    /// The slice's events have all been seen: what came of them.
    fn finish(&mut self) -> Self::Output;
}

/// A slice of a chunk on its way to a worker, with the state as of its
/// first event.
struct Job {
    chunk: Arc<DecodedChunk>,
    events: Range<usize>,
    /// `None` when no state is needed: the workers then share the
    /// snapshot's.
    state: Option<State>,
    /// What of the slice's events goes into the state: every change, or
    /// those to processes only, as the sequential scan replays the chunk
    /// ([`ChunkPlan::replays_fds`]).
    replay: Replay,
}

/// Visits, in file order, what `workers` make of the events of `trace`
/// that `scan` selects, as [`crate::scan`] would hand them over one by
/// one. Chunks are decoded on `scan.threads` threads and worked on by as
/// many threads as there are `workers` (none, no work). Damaged chunks are
/// skipped and reported through `on_damage`. When `visit` stops the scan,
/// it returns once the threads have finished the chunks they hold.
///
/// # Errors
/// Only with a strict trace: the first damaged chunk (what came before it
/// has been visited).
pub fn scan_parallel<D, W, B>(
    trace: &TraceFile<D>,
    prepared: &Prepared,
    scan: &Scan<'_>,
    workers: Vec<W>,
    on_damage: impl FnMut(FormatError) + Send,
    mut visit: impl FnMut(W::Output) -> ControlFlow<B>,
) -> Result<ControlFlow<B>, FormatError>
where
    D: AsRef<[u8]> + Sync,
    W: ChunkWork,
{
    let described = Described::new(&trace.header().event_table, prepared);
    let hostname = trace.header().machine.hostname.as_str();
    let first_ts = trace.time_range().map_or(0, |(first, _)| first);
    let with_state = scan.caller_needs_state || scan.filter.is_some_and(Filter::needs_state);
    let chunks = trace.chunks();
    let plan = ChunkPlan::new(chunks, prepared, scan);
    let initial = State::of_trace(trace);
    let window = scan.window;
    let filter = scan.filter;
    if workers.is_empty() {
        return Ok(ControlFlow::Continue(()));
    }
    let threads = workers.len();
    let workers = Mutex::new(workers);
    let pool = ChunkPool::new();
    let (jobs, job_rx) = sync_channel::<Job>(0);

    // One slice, on a worker thread: replay, filter, work.
    let work = |job: Job| {
        let Job {
            chunk,
            events,
            mut state,
            replay,
        } = job;
        let mut worker = workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .expect("one worker per thread");
        let mut visit = |event: EventView<'_>, state: &State| {
            let ts = event.ts();
            if ts < window.since || ts > window.until {
                return;
            }
            let (names, info) = described.get(event.event_type());
            let ctx = Ctx::new(event, info, state, first_ts, hostname, names);
            if filter.is_none_or(|filter| filter.matches(&ctx)) {
                worker.event(&ctx);
            }
        };
        // One loop per way of replaying, each compiled on its own: the
        // choice is made once per slice, not per event.
        match (&mut state, replay) {
            (Some(state), Replay::Processes) => {
                for event in chunk.iter_range(events) {
                    state.apply_to_processes(&event);
                    visit(event, state);
                }
            }
            (Some(state), _) => {
                for event in chunk.iter_range(events) {
                    state.apply(&event);
                    visit(event, state);
                }
            }
            // Without a state of their own, the events see the snapshot's.
            (None, _) => {
                for event in chunk.iter_range(events) {
                    visit(event, &initial);
                }
            }
        }
        let output = worker.finish();
        workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(worker);
        // The last one done with the chunk hands its buffers back.
        if let Ok(chunk) = Arc::try_unwrap(chunk) {
            pool.give_back(chunk);
        }
        output
    };

    std::thread::scope(|scope| {
        let (plan, initial, pool) = (&plan, &initial, &pool);
        // The thread owns the sending side: when it is done, the workers'
        // feeder sees the end of the jobs.
        let replay = scope.spawn(move || {
            replay_in_order(
                trace,
                plan,
                initial,
                with_state,
                scan,
                pool,
                on_damage,
                |job| jobs.send(job).is_ok(),
            )
        });
        // A few slices ready while the workers are busy keep them fed.
        let flow = ordered_map_fed(job_rx.into_iter(), threads, threads * 2, work, &mut visit);
        let replayed = match replay.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        replayed?;
        Ok(flow)
    })
}

/// The replaying thread of [`scan_parallel`]: decodes the chunks the plan
/// reads (ahead, on `scan.threads` threads), replays them into the state
/// in file order, and hands each slice of a chunk whose events may match
/// to `send` with a copy of the state as of its start; stops when `send`
/// refuses.
#[allow(clippy::too_many_arguments)]
fn replay_in_order<D: AsRef<[u8]> + Sync>(
    trace: &TraceFile<D>,
    plan: &ChunkPlan,
    initial: &State,
    with_state: bool,
    scan: &Scan<'_>,
    pool: &ChunkPool,
    mut on_damage: impl FnMut(FormatError),
    mut send: impl FnMut(Job) -> bool,
) -> Result<(), FormatError> {
    let chunks = trace.chunks();
    let position_of = |first_num: u64| chunks.partition_point(|c| c.summary.first_num < first_num);
    let select = |entry: &IndexEntry| plan.decode(position_of(entry.summary.first_num));
    let slice = match scan.slice_events {
        0 => SLICE,
        events => events,
    };
    let mut state = with_state.then(|| initial.clone());
    // The first chunk not accounted for yet: the skippable ones before the
    // next decoded chunk are checked against the state when it arrives.
    let mut unseen = 0;
    let on_chunk = |chunk: Result<DecodedChunk, FormatError>| {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                on_damage(error);
                return ControlFlow::Continue(());
            }
        };
        let position = position_of(chunk.first_num());
        if let Some(state) = &mut state {
            plan.replay_skipped(trace, unseen..position, state, &mut on_damage);
        }
        unseen = unseen.max(position + 1);
        let replay = Replay::of(true, plan.replays_fds(position));
        if !plan.evaluate(position) {
            if let Some(state) = &mut state {
                replay.apply_all(state, &chunk);
            }
            pool.give_back(chunk);
            return ControlFlow::Continue(());
        }
        let chunk = Arc::new(chunk);
        let mut first = 0;
        while first < chunk.len() {
            let events = first..first.saturating_add(slice).min(chunk.len());
            first = events.end;
            let start = state.clone();
            if let Some(state) = &mut state {
                for event in chunk.iter_range(events.clone()) {
                    replay.apply(state, &event);
                }
            }
            let job = Job {
                chunk: Arc::clone(&chunk),
                events,
                state: start,
                replay,
            };
            if !send(job) {
                return ControlFlow::Break(());
            }
        }
        // The last one done with the chunk hands its buffers back.
        if let Ok(chunk) = Arc::try_unwrap(chunk) {
            pool.give_back(chunk);
        }
        ControlFlow::Continue(())
    };
    trace
        .for_each_chunk_owned(
            scan.threads.max(1),
            select,
            scan.prepare(with_state),
            pool,
            on_chunk,
        )
        .map(|_| ())
}
