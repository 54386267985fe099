//! `slow`: the slowest calls of a capture, slowest first, as sysdig's
//! `fileslower` and `topscalls_time` answer it: which calls took longest,
//! by whom, on what.
//!
//! Calls are kept in a bounded heap, so memory stays the same however many
//! calls cross the threshold; each is kept as the line it prints.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A kept call: its latency, its event number (reversed, so that among
/// equal latencies the earlier event ranks higher) and its printed line.
type Call = (u64, Reverse<u64>, Vec<u8>);

/// The slowest calls seen so far, with their printed lines.
#[derive(Debug)]
pub struct Slowest {
    limit: usize,
    /// Smallest latency on top, so the fastest kept call is the one to
    /// drop; ties keep the earlier event.
    heap: BinaryHeap<Reverse<Call>>,
}

impl Slowest {
    /// Keeps the `limit` slowest calls (0 keeps every one).
    pub fn new(limit: usize) -> Slowest {
        Slowest {
            limit: if limit == 0 { usize::MAX } else { limit },
            heap: BinaryHeap::new(),
        }
    }

    /// Whether a call of `latency` ns would be kept.
    pub fn wants(&self, latency: u64) -> bool {
        self.heap.len() < self.limit
            || self
                .heap
                .peek()
                .is_some_and(|Reverse((fastest, _, _))| latency > *fastest)
    }

    /// Offers event number `num`, `latency` ns long, printed as `line`.
    pub fn offer(&mut self, latency: u64, num: u64, line: Vec<u8>) {
        if !self.wants(latency) {
            return;
        }
        self.heap.push(Reverse((latency, Reverse(num), line)));
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    /// The latencies, event numbers and lines, slowest call first, ties
    /// in event order.
    pub fn finish(self) -> Vec<(u64, u64, Vec<u8>)> {
        let mut calls: Vec<_> = self.heap.into_iter().map(|Reverse(call)| call).collect();
        calls.sort_by(|a, b| b.cmp(a));
        calls
            .into_iter()
            .map(|(latency, Reverse(num), line)| (latency, num, line))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_slowest_first_and_earliest_on_ties() {
        let mut slowest = Slowest::new(3);
        for (num, latency) in [(1, 5), (2, 50), (3, 7), (4, 50), (5, 1), (6, 9)] {
            slowest.offer(latency, num, format!("e{num}").into_bytes());
        }
        let lines: Vec<String> = slowest
            .finish()
            .into_iter()
            .map(|(_, _, line)| String::from_utf8(line).expect("UTF-8"))
            .collect();
        assert_eq!(lines, ["e2", "e4", "e6"]);
    }
}
