//! Ordered parallel decoding: worker threads decompress and decode chunks
//! while the caller consumes them strictly in file order. The ordered
//! worker pools underneath serve other stages too (formatting the events
//! of decoded chunks), and are public for that.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError, mpsc};
use std::thread;

use crate::chunk::DecodedChunk;
use crate::error::Result;

/// How many threads to decode with by default: one per available core.
pub fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, usize::from)
}

/// Applies `work` to every item on `threads` worker threads and hands the
/// results to `visit` in the items' order. At most a small window of results
/// is held at once, so memory stays bounded whatever the file size. `visit`
/// can stop early by returning `ControlFlow::Break`.
pub(crate) fn ordered_map<T, R, B>(
    items: impl Iterator<Item = T>,
    threads: usize,
    work: impl Fn(T) -> R + Sync,
    visit: impl FnMut(R) -> ControlFlow<B>,
) -> ControlFlow<B>
where
    T: Send,
    R: Send,
{
    ordered_map_window(items, threads, threads * 4, work, visit)
}

/// [`ordered_map`] with at most `window` items (at least one) between
/// being handed to the workers and being visited.
fn ordered_map_window<T, R, B>(
    items: impl Iterator<Item = T>,
    threads: usize,
    window: usize,
    work: impl Fn(T) -> R + Sync,
    mut visit: impl FnMut(R) -> ControlFlow<B>,
) -> ControlFlow<B>
where
    T: Send,
    R: Send,
{
    if threads <= 1 {
        for item in items {
            visit(work(item))?;
        }
        return ControlFlow::Continue(());
    }
    let window = window.max(1);
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, T)>(window);
    let job_rx = Mutex::new(job_rx);
    let (result_tx, result_rx) = mpsc::channel::<(u64, thread::Result<R>)>();
    thread::scope(|scope| {
        for _ in 0..threads {
            let result_tx = result_tx.clone();
            let (job_rx, work) = (&job_rx, &work);
            scope.spawn(move || {
                loop {
                    let job = job_rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok((seq, item)) = job else { break };
                    // A panic is handed to the caller's thread instead of
                    // leaving it waiting for a result that never comes.
                    let result = panic::catch_unwind(AssertUnwindSafe(|| work(item)));
                    if result_tx.send((seq, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(result_tx);
        // Dropped on every way out, unwinding included: closing the job
        // channel is what ends the workers, which the scope waits for.
        let jobs = CloseOnDrop(Some(job_tx));
        let mut items = items.fuse();
        let mut sent = 0u64;
        let mut next = 0u64;
        let mut exhausted = false;
        let mut pending = BTreeMap::new();
        loop {
            while !exhausted && sent - next < window as u64 {
                match items.next() {
                    Some(item) => {
                        if !jobs.send((sent, item)) {
                            exhausted = true;
                        }
                        sent += 1;
                    }
                    None => exhausted = true,
                }
            }
            if exhausted && next == sent {
                return ControlFlow::Continue(());
            }
            let Ok((seq, result)) = result_rx.recv() else {
                return ControlFlow::Continue(());
            };
            pending.insert(seq, result);
            while let Some(result) = pending.remove(&next) {
                next += 1;
                match result {
                    Ok(result) => visit(result)?,
                    Err(payload) => panic::resume_unwind(payload),
                }
            }
        }
    })
}

/// The sending side of the job channel, closed when dropped.
struct CloseOnDrop<T>(Option<mpsc::SyncSender<T>>);

impl<T> CloseOnDrop<T> {
    fn send(&self, job: T) -> bool {
        self.0.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }
}

impl<T> Drop for CloseOnDrop<T> {
    fn drop(&mut self) {
        self.0.take();
    }
}

/// What a fed walk's workers and feeder report to the visiting thread.
enum Report<R> {
    /// The result of item number `seq`.
    Done(u64, thread::Result<R>),
    /// The feeder has sent every item: there were this many.
    End(u64),
}

/// Applies `work` to every item on `threads` worker threads and hands the
/// results to `visit`, on the calling thread, in the items' order; for
/// items that can be slow to come (chunks read from a pipe, chunks another
/// thread is still preparing): a thread of their own waits for them, so
/// each result is visited as soon as it and those before it are ready,
/// never held back while the next item is awaited. At most `window` items
/// (at least one) are between the feeder and the visitor at once, which
/// bounds memory whatever the number of items. A panic in `work` reaches
/// the caller.
///
/// When `visit` stops early, the walk returns once the feeder is done with
/// the item it is waiting for (at once at the end of the input).
pub fn ordered_map_fed<T, R, B>(
    items: impl Iterator<Item = T> + Send,
    threads: usize,
    window: usize,
    work: impl Fn(T) -> R + Sync,
    mut visit: impl FnMut(R) -> ControlFlow<B>,
) -> ControlFlow<B>
where
    T: Send,
    R: Send,
{
    if threads <= 1 {
        for item in items {
            visit(work(item))?;
        }
        return ControlFlow::Continue(());
    }
    let window = window.max(1);
    // Tokens bound the items in flight to `window`, so sending a job never
    // blocks: the feeder only ever waits for a token or for its input.
    let (job_tx, job_rx) = mpsc::sync_channel::<(u64, T)>(window);
    let job_rx = Mutex::new(job_rx);
    let stopped = AtomicBool::new(false);
    thread::scope(|scope| {
        let (report_tx, reports) = mpsc::channel::<Report<R>>();
        // One token per item in flight: the feeder takes one before each
        // item, the visitor gives it back once the item is visited.
        let (tokens, token_rx) = mpsc::sync_channel::<()>(window);
        for _ in 0..window {
            let _ = tokens.send(());
        }
        let (job_rx, work, stopped) = (&job_rx, &work, &stopped);
        for _ in 0..threads {
            let report_tx = report_tx.clone();
            scope.spawn(move || {
                // Runs until the feeder is gone and the queue is empty.
                loop {
                    let job = job_rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    let Ok((seq, item)) = job else { break };
                    let result = panic::catch_unwind(AssertUnwindSafe(|| work(item)));
                    let _ = report_tx.send(Report::Done(seq, result));
                }
            });
        }
        scope.spawn(move || {
            let mut sent = 0u64;
            for item in items {
                let go_on = token_rx.recv().is_ok() && !stopped.load(Ordering::Relaxed);
                if !go_on || job_tx.send((sent, item)).is_err() {
                    return;
                }
                sent += 1;
            }
            let _ = report_tx.send(Report::End(sent));
        });
        // Set on every way out, unwinding included, with `tokens` dropped
        // alongside: the feeder stops at its next item.
        let _stop = SetOnDrop(stopped);
        let mut next = 0u64;
        let mut total = None;
        let mut pending = BTreeMap::new();
        loop {
            if total == Some(next) {
                return ControlFlow::Continue(());
            }
            match reports.recv() {
                Ok(Report::Done(seq, result)) => {
                    pending.insert(seq, result);
                }
                Ok(Report::End(count)) => total = Some(count),
                // Every sender is gone: the feeder stopped without an end
                // (its input failed) and every result has been reported.
                Err(_) => return ControlFlow::Continue(()),
            }
            while let Some(result) = pending.remove(&next) {
                next += 1;
                let _ = tokens.try_send(());
                match result {
                    Ok(result) => visit(result)?,
                    Err(payload) => panic::resume_unwind(payload),
                }
            }
        }
    })
}

/// Sets its flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Decodes chunks on `threads` threads and visits them in order, recycling
/// each chunk's buffers once it has been visited, so a long walk allocates
/// only a window's worth of chunks. With `strict`, the first chunk that fails
/// to decode ends the walk and is returned as the error.
pub(crate) fn decode_ordered<T: Send, B>(
    items: impl Iterator<Item = T>,
    threads: usize,
    strict: bool,
    decode: impl Fn(T, &mut DecodedChunk) -> Result<()> + Sync,
    visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
) -> Result<ControlFlow<B>> {
    decode_with(strict, decode, visit, |work, visit| {
        ordered_map(items, threads, work, visit)
    })
}

/// As [`decode_ordered`], for chunks read from a stream: see
/// [`ordered_map_fed`].
pub(crate) fn decode_ordered_fed<T: Send, B>(
    items: impl Iterator<Item = T> + Send,
    threads: usize,
    strict: bool,
    decode: impl Fn(T, &mut DecodedChunk) -> Result<()> + Sync,
    visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
) -> Result<ControlFlow<B>> {
    decode_with(strict, decode, visit, |work, visit| {
        ordered_map_fed(items, threads, threads * 4, work, visit)
    })
}

/// Decoded chunks given back once their events have been used, so that
/// decoding more chunks reuses their buffers instead of allocating (and
/// faulting in) fresh ones: see [`crate::TraceFile::for_each_chunk_owned`].
#[derive(Debug, Default)]
pub struct ChunkPool {
    spare: Mutex<Vec<DecodedChunk>>,
}

impl ChunkPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes back a chunk that is no longer needed.
    pub fn give_back(&self, chunk: DecodedChunk) {
        self.lock().push(chunk);
    }

    fn take(&self) -> DecodedChunk {
        self.lock().pop().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<DecodedChunk>> {
        self.spare.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// As [`decode_ordered`], handing each chunk over to `visit` to keep (to
/// pass on to another thread), its buffers taken from `pool`.
pub(crate) fn decode_owned<T: Send, B>(
    items: impl Iterator<Item = T>,
    threads: usize,
    strict: bool,
    pool: &ChunkPool,
    decode: impl Fn(T, &mut DecodedChunk) -> Result<()> + Sync,
    mut visit: impl FnMut(Result<DecodedChunk>) -> ControlFlow<B>,
) -> Result<ControlFlow<B>> {
    let mut failure = None;
    let work = |item| {
        let mut chunk = pool.take();
        match decode(item, &mut chunk) {
            Ok(()) => Ok(chunk),
            Err(error) => {
                pool.give_back(chunk);
                Err(error)
            }
        }
    };
    // The visitor keeps the chunks it is handed (passes them on): a
    // short window ahead bounds what is decoded but not yet used.
    let flow = ordered_map_window(items, threads, threads + 2, work, |result| match result {
        Ok(chunk) => visit(Ok(chunk)).map_break(Some),
        Err(error) if strict => {
            failure = Some(error);
            ControlFlow::Break(None)
        }
        Err(error) => visit(Err(error)).map_break(Some),
    });
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(match flow {
        ControlFlow::Break(Some(b)) => ControlFlow::Break(b),
        _ => ControlFlow::Continue(()),
    })
}

/// A decoding walk, with `walk` deciding how items reach the workers.
fn decode_with<T, B>(
    strict: bool,
    decode: impl Fn(T, &mut DecodedChunk) -> Result<()> + Sync,
    mut visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
    walk: impl FnOnce(
        &(dyn Fn(T) -> Result<DecodedChunk> + Sync),
        &mut dyn FnMut(Result<DecodedChunk>) -> ControlFlow<Option<B>>,
    ) -> ControlFlow<Option<B>>,
) -> Result<ControlFlow<B>> {
    let pool: Mutex<Vec<DecodedChunk>> = Mutex::new(Vec::new());
    let lock = || pool.lock().unwrap_or_else(PoisonError::into_inner);
    let mut failure = None;
    let work = |item| {
        let mut chunk = lock().pop().unwrap_or_default();
        decode(item, &mut chunk).map(|()| chunk)
    };
    let mut each = |result: Result<DecodedChunk>| match result {
        Ok(chunk) => {
            let flow = visit(Ok(&chunk));
            lock().push(chunk);
            flow.map_break(Some)
        }
        Err(error) if strict => {
            failure = Some(error);
            ControlFlow::Break(None)
        }
        Err(error) => visit(Err(error)).map_break(Some),
    };
    let flow = walk(&work, &mut each);
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(match flow {
        ControlFlow::Break(Some(b)) => ControlFlow::Break(b),
        _ => ControlFlow::Continue(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_order() {
        let mut seen = Vec::new();
        let flow: ControlFlow<()> = ordered_map(
            0..1000u64,
            3,
            |x| x * 2,
            |r| {
                seen.push(r);
                ControlFlow::Continue(())
            },
        );
        assert!(flow.is_continue());
        assert_eq!(seen, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_worker_fails_the_walk_instead_of_hanging_it() {
        let outcome = std::panic::catch_unwind(|| {
            ordered_map(
                0..100u64,
                2,
                |x| if x == 37 { panic!("bad chunk") } else { x },
                |_| ControlFlow::<()>::Continue(()),
            )
        });
        assert!(outcome.is_err());
    }

    #[test]
    fn a_panicking_visitor_does_not_hang_the_workers() {
        let outcome = std::panic::catch_unwind(|| {
            ordered_map(
                0..100u64,
                2,
                |x| x,
                |x| {
                    if x == 5 {
                        panic!("visitor")
                    } else {
                        ControlFlow::<()>::Continue(())
                    }
                },
            )
        });
        assert!(outcome.is_err());
    }

    #[test]
    fn visitor_can_stop_early() {
        let mut seen = 0;
        let flow = ordered_map(
            0..1000u64,
            2,
            |x| x,
            |r| {
                seen += 1;
                if r == 10 {
                    ControlFlow::Break(r)
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert_eq!(flow, ControlFlow::Break(10));
        assert_eq!(seen, 11);
    }

    #[test]
    fn fed_results_come_back_in_order_and_can_stop() {
        let mut seen = Vec::new();
        let flow: ControlFlow<()> = ordered_map_fed(
            0..1000u64,
            3,
            12,
            |x| x * 2,
            |r| {
                seen.push(r);
                ControlFlow::Continue(())
            },
        );
        assert!(flow.is_continue());
        assert_eq!(seen, (0..1000).map(|x| x * 2).collect::<Vec<_>>());
        let flow = ordered_map_fed(
            0..1000u64,
            2,
            1,
            |x| x,
            |r| {
                if r == 10 {
                    ControlFlow::Break(r)
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        assert_eq!(flow, ControlFlow::Break(10));
    }

    #[test]
    fn fed_panics_reach_the_caller() {
        let worker = std::panic::catch_unwind(|| {
            ordered_map_fed(
                0..100u64,
                2,
                8,
                |x| if x == 37 { panic!("bad chunk") } else { x },
                |_| ControlFlow::<()>::Continue(()),
            )
        });
        assert!(worker.is_err());
        let visitor = std::panic::catch_unwind(|| {
            ordered_map_fed(
                0..100u64,
                2,
                8,
                |x| x,
                |x| {
                    if x == 5 {
                        panic!("visitor")
                    } else {
                        ControlFlow::<()>::Continue(())
                    }
                },
            )
        });
        assert!(visitor.is_err());
    }

    #[test]
    fn a_fed_item_is_visited_before_the_next_one_comes() {
        // Items come one at a time, each only once the one before it has
        // been visited: a walk that waits for more items before visiting
        // would never end.
        let (item_tx, item_rx) = mpsc::channel::<u64>();
        let (seen_tx, seen_rx) = mpsc::channel::<u64>();
        item_tx.send(0).unwrap();
        let producer = thread::spawn(move || {
            for next in 1..20 {
                // A generous bound: only a stalled walk takes this long.
                match seen_rx.recv_timeout(std::time::Duration::from_secs(60)) {
                    Ok(_) => item_tx.send(next).unwrap(),
                    Err(_) => return false,
                }
            }
            true
        });
        let mut visited = Vec::new();
        let flow = ordered_map_fed(
            item_rx.into_iter(),
            2,
            8,
            |x| x,
            |x| {
                visited.push(x);
                let _ = seen_tx.send(x);
                ControlFlow::<()>::Continue(())
            },
        );
        assert!(flow.is_continue());
        assert!(producer.join().unwrap(), "the walk stalled");
        assert_eq!(visited, (0..20).collect::<Vec<_>>());
    }
}
