//! Puts the records from the per-CPU buffers into one time-ordered stream.
//!
//! Each CPU's buffer is in time order, but the buffers are drained one after
//! the other, so a record from one CPU can arrive after a later record from
//! another. Records are held for a short window and released in time order
//! once no earlier record can still arrive.
//!
//! Records stay the probe's bytes until the writer thread decodes them: a
//! drain copies them out of the rings into one buffer, the window holds
//! those buffers and a small entry per record, and a release copies the
//! records it lets go, in order, into a batch for the writer. A busy host
//! keeps a tenth of a second of records in flight, and as bytes that is a
//! few megabytes written in sequence, where decoded events would be a
//! scattered heap many times larger.

use std::collections::VecDeque;

/// How long a record is held back. A drain first has every CPU send what
/// it staged, then reads every ring to the end (a ring it could not, or a
/// CPU caught building a record, holds the release back on its own), so a
/// record older than the drain's start has arrived, with one exception: a
/// probe program that read the clock just before its CPU flushed, and
/// staged its record just after, delivers that record with the next drain.
/// Four drain intervals cover it with room to spare.
pub(crate) const WINDOW_NS: u64 = 20_000_000;

/// The records of one drain, in the order the rings gave them.
#[derive(Debug, Default)]
pub(crate) struct Drain {
    bytes: Vec<u8>,
    records: Vec<Span>,
}

impl Drain {
    /// Adds a record whose event happened at `ts`.
    pub(crate) fn push(&mut self, ts: u64, record: &[u8]) {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(record);
        self.records.push(Span {
            ts,
            start,
            len: record.len() as u32,
        });
    }

    /// Number of records.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }
}

/// Where a record is in its drain's bytes.
#[derive(Debug, Clone, Copy)]
struct Span {
    ts: u64,
    start: u32,
    len: u32,
}

/// Records in time order, as bytes: what the writer gets.
#[derive(Debug, Default)]
pub(crate) struct Records {
    bytes: Vec<u8>,
    /// End of each record in `bytes`.
    ends: Vec<u32>,
}

impl Records {
    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Forgets every record, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    fn push(&mut self, record: &[u8]) {
        self.bytes.extend_from_slice(record);
        self.ends.push(self.bytes.len() as u32);
    }

    /// The records, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.bytes[start as usize..end as usize])
    }
}

/// A record held back: its time and where its bytes are.
#[derive(Debug, Clone, Copy)]
struct Pending {
    span: Span,
    /// Number of the drain it came with (see [`Reorder::first_drain`]).
    drain: u64,
}

/// The bytes of one drain, and how many of its records are still held.
#[derive(Debug)]
struct Held {
    bytes: Vec<u8>,
    held: usize,
}

/// Records not yet released, in time order. Every operation costs in
/// proportion to the records it adds or releases, not to the window held:
/// a drain's records are newer than almost everything pending, so only the
/// short tail they overlap is re-sorted, and releasing pops from the front.
#[derive(Debug, Default)]
pub(crate) struct Reorder {
    pending: VecDeque<Pending>,
    /// The bytes of the drains with records still pending, oldest first.
    drains: VecDeque<Held>,
    /// Number of the first drain in `drains`.
    first_drain: u64,
    /// Buffers of drains wholly released, for the next drains.
    spare: Vec<Vec<u8>>,
}

impl Reorder {
    /// Takes one drain's records, in any order, leaving `drain` empty (with
    /// a recycled buffer).
    pub(crate) fn push_drain(&mut self, drain: &mut Drain) {
        let Some(oldest_new) = drain.records.iter().map(|r| r.ts).min() else {
            return;
        };
        let number = self.first_drain + self.drains.len() as u64;
        let sorted_len = self.pending.len();
        self.pending
            .extend(drain.records.drain(..).map(|span| Pending {
                span,
                drain: number,
            }));
        let fresh = self.spare.pop().unwrap_or_default();
        self.drains.push_back(Held {
            bytes: std::mem::replace(&mut drain.bytes, fresh),
            held: self.pending.len() - sorted_len,
        });
        let pending = self.pending.make_contiguous();
        // Pending records at or before the drain's oldest stay where they
        // are; the ones after it and the drain's are sorted together.
        // Stable: records with equal timestamps keep their arrival order.
        let from = pending[..sorted_len].partition_point(|p| p.span.ts <= oldest_new);
        pending[from..].sort_by_key(|p| p.span.ts);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Appends to `out`, in time order, every record older than
    /// `now - WINDOW_NS`.
    pub(crate) fn release(&mut self, now_ns: u64, out: &mut Records) {
        self.release_before(now_ns.saturating_sub(WINDOW_NS), out);
    }

    /// Appends everything to `out`, in time order.
    pub(crate) fn release_all(&mut self, out: &mut Records) {
        self.release_before(u64::MAX, out);
    }

    fn release_before(&mut self, watermark: u64, out: &mut Records) {
        while let Some(next) = self.pending.front().copied() {
            if next.span.ts > watermark {
                break;
            }
            self.pending.pop_front();
            let held = &mut self.drains[(next.drain - self.first_drain) as usize];
            let start = next.span.start as usize;
            out.push(&held.bytes[start..start + next.span.len as usize]);
            held.held -= 1;
        }
        // Drains are released oldest first, give or take the records of one
        // drain interval, so their buffers free up in order.
        while self.drains.front().is_some_and(|held| held.held == 0) {
            let mut done = self.drains.pop_front().expect("a front drain");
            self.first_drain += 1;
            done.bytes.clear();
            self.spare.push(done.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(records: &[(u64, u8)]) -> Drain {
        let mut drain = Drain::default();
        for &(ts, tag) in records {
            drain.push(ts, &[tag; 3]);
        }
        drain
    }

    fn tags(records: &Records) -> Vec<u8> {
        records.iter().map(|r| r[0]).collect()
    }

    #[test]
    fn releases_only_what_is_older_than_the_window_in_order() {
        let mut reorder = Reorder::default();
        reorder.push_drain(&mut drain(&[(300, 1), (100, 2), (200_000_000, 3)]));
        reorder.push_drain(&mut drain(&[(150, 4), (300, 5), (120, 6)]));
        let mut ready = Records::default();
        reorder.release(150_000_000, &mut ready);
        assert_eq!(tags(&ready), vec![2, 6, 4, 1, 5]);
        assert!(ready.iter().all(|r| r.len() == 3));
        assert_eq!(reorder.len(), 1);
        reorder.push_drain(&mut drain(&[(250_000_000, 7), (199_000_000, 8)]));
        let mut rest = Records::default();
        reorder.release_all(&mut rest);
        assert_eq!(tags(&rest), vec![8, 3, 7]);
    }

    #[test]
    fn the_buffers_of_released_drains_are_reused() {
        let mut reorder = Reorder::default();
        let mut next = Drain::default();
        let mut released = 0;
        for round in 0..1000u64 {
            next.push(round * 1_000_000, &[round as u8; 40]);
            reorder.push_drain(&mut next);
            assert_eq!(next.len(), 0, "the drain is taken");
            let mut out = Records::default();
            reorder.release(round * 1_000_000, &mut out);
            released += out.len();
            // A window's worth of drains is held, no more.
            let window = (WINDOW_NS / 1_000_000) as usize;
            assert!(
                reorder.drains.len() <= window + 1,
                "{}",
                reorder.drains.len()
            );
        }
        assert_eq!(released, 1000 - (WINDOW_NS / 1_000_000) as usize);
        assert_eq!(reorder.spare.len(), 1, "one buffer goes round");
        let mut out = Records::default();
        reorder.release_all(&mut out);
        assert_eq!(released + out.len(), 1000);
        assert!(reorder.drains.is_empty());
    }
}
