//! Ordered parallel decoding: worker threads decompress and decode chunks
//! while the caller consumes them strictly in file order.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};
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
    let window = threads * 4;
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

/// Decodes chunks on `threads` threads and visits them in order, recycling
/// each chunk's buffers once it has been visited, so a long walk allocates
/// only a window's worth of chunks. With `strict`, the first chunk that fails
/// to decode ends the walk and is returned as the error.
pub(crate) fn decode_ordered<T: Send, B>(
    items: impl Iterator<Item = T>,
    threads: usize,
    strict: bool,
    decode: impl Fn(T, &mut DecodedChunk) -> Result<()> + Sync,
    mut visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
) -> Result<ControlFlow<B>> {
    let pool: Mutex<Vec<DecodedChunk>> = Mutex::new(Vec::new());
    let lock = || pool.lock().unwrap_or_else(PoisonError::into_inner);
    let mut failure = None;
    let flow = ordered_map(
        items,
        threads,
        |item| {
            let mut chunk = lock().pop().unwrap_or_default();
            decode(item, &mut chunk).map(|()| chunk)
        },
        |result| match result {
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
        },
    );
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
}
