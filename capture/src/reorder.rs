//! Puts events from the per-CPU buffers into one time-ordered stream.
//!
//! Each CPU's buffer is in time order, but the buffers are drained one after
//! the other, so an event from one CPU can arrive after a later event from
//! another. Events are held for a short window and released in time order
//! once no earlier event can still arrive.

use std::collections::VecDeque;

use scry_format::Event;

/// How long an event is held back: far longer than one drain cycle, so the
/// buffers of every CPU have been read past it.
pub(crate) const WINDOW_NS: u64 = 100_000_000;

/// Events not yet released, in time order. Every operation costs in
/// proportion to the events it adds or releases, not to the window held:
/// a drain's batch is newer than almost everything pending, so only the
/// short tail it overlaps is re-sorted, and releasing pops from the front.
#[derive(Debug, Default)]
pub(crate) struct Reorder {
    pending: VecDeque<Event>,
}

impl Reorder {
    /// Moves one drain's events, in any order, out of `batch`.
    pub(crate) fn push_batch(&mut self, batch: &mut Vec<Event>) {
        let Some(oldest_new) = batch.iter().map(|event| event.ts).min() else {
            return;
        };
        let sorted_len = self.pending.len();
        self.pending.extend(batch.drain(..));
        let pending = self.pending.make_contiguous();
        // Pending events at or before the batch's oldest stay where they
        // are; the ones after it and the batch are sorted together. Stable:
        // events with equal timestamps keep their arrival order.
        let from = pending[..sorted_len].partition_point(|event| event.ts <= oldest_new);
        pending[from..].sort_by_key(|event| event.ts);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Appends to `out`, in time order, every event older than
    /// `now - WINDOW_NS`.
    pub(crate) fn release(&mut self, now_ns: u64, out: &mut Vec<Event>) {
        self.release_before(now_ns.saturating_sub(WINDOW_NS), out);
    }

    /// Appends everything to `out`, in time order.
    pub(crate) fn release_all(&mut self, out: &mut Vec<Event>) {
        self.release_before(u64::MAX, out);
    }

    fn release_before(&mut self, watermark: u64, out: &mut Vec<Event>) {
        let ready = self.pending.partition_point(|event| event.ts <= watermark);
        out.extend(self.pending.drain(..ready));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ts: u64, tid: u32) -> Event {
        Event {
            ts,
            tid,
            ..Event::default()
        }
    }

    #[test]
    fn releases_only_what_is_older_than_the_window_in_order() {
        let mut reorder = Reorder::default();
        reorder.push_batch(&mut vec![at(300, 1), at(100, 2), at(200_000_000, 3)]);
        reorder.push_batch(&mut vec![at(150, 4), at(300, 5), at(120, 6)]);
        let mut ready = Vec::new();
        reorder.release(150_000_000, &mut ready);
        assert_eq!(
            ready.iter().map(|e| e.tid).collect::<Vec<_>>(),
            vec![2, 6, 4, 1, 5]
        );
        assert_eq!(reorder.len(), 1);
        reorder.push_batch(&mut vec![at(250_000_000, 7), at(199_000_000, 8)]);
        assert_eq!(
            {
                let mut rest = Vec::new();
                reorder.release_all(&mut rest);
                rest
            }
            .iter()
            .map(|e| e.tid)
            .collect::<Vec<_>>(),
            vec![8, 3, 7]
        );
    }
}
