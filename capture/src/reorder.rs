//! Puts events from the per-CPU buffers into one time-ordered stream.
//!
//! Each CPU's buffer is in time order, but the buffers are drained one after
//! the other, so an event from one CPU can arrive after a later event from
//! another. Events are held for a short window and released in time order
//! once no earlier event can still arrive.

use scry_format::Event;

/// How long an event is held back: far longer than one drain cycle, so the
/// buffers of every CPU have been read past it.
pub(crate) const WINDOW_NS: u64 = 100_000_000;

#[derive(Debug, Default)]
pub(crate) struct Reorder {
    pending: Vec<Event>,
}

impl Reorder {
    pub(crate) fn push(&mut self, event: Event) {
        self.pending.push(event);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Releases, in time order, every event older than `now - WINDOW_NS`.
    pub(crate) fn release(&mut self, now_ns: u64) -> Vec<Event> {
        self.release_before(now_ns.saturating_sub(WINDOW_NS))
    }

    /// Releases everything, in time order.
    pub(crate) fn release_all(&mut self) -> Vec<Event> {
        self.release_before(u64::MAX)
    }

    fn release_before(&mut self, watermark: u64) -> Vec<Event> {
        // Stable: events with equal timestamps keep their arrival order.
        self.pending.sort_by_key(|event| event.ts);
        let ready = self.pending.partition_point(|event| event.ts <= watermark);
        let rest = self.pending.split_off(ready);
        std::mem::replace(&mut self.pending, rest)
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
        for (ts, tid) in [(300, 1), (100, 2), (200_000_000, 3), (150, 4)] {
            reorder.push(at(ts, tid));
        }
        let ready = reorder.release(150_000_000);
        assert_eq!(
            ready.iter().map(|e| e.tid).collect::<Vec<_>>(),
            vec![2, 4, 1]
        );
        assert_eq!(reorder.len(), 1);
        assert_eq!(reorder.release_all().len(), 1);
    }
}
