//! Chunk summaries and the file index. Each chunk carries a small summary
//! (event numbers, time range, event types, processes, containers) in the
//! clear, next to its compressed events; the index in the footer repeats
//! them all so a reader can plan a query (seek by time, skip chunks that
//! cannot match) without touching the chunks themselves.

use std::collections::BTreeSet;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::model::{CaptureStats, ContainerInfo, EventType};

/// A chunk lists at most this many distinct tgids; past that it only says
/// "many" and cannot be skipped by process.
pub const MAX_SUMMARY_TGIDS: usize = 256;

/// What a chunk contains, in brief.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChunkSummary {
    /// Zero-based number of the chunk's first event within the file.
    pub first_num: u64,
    /// Number of events in the chunk.
    pub events: u32,
    /// Earliest event timestamp.
    pub min_ts: u64,
    /// Latest event timestamp.
    pub max_ts: u64,
    /// Size of the decompressed payload in bytes.
    pub raw_len: u32,
    /// Size of the decompressed buffer contents in bytes.
    pub blob_len: u32,
    /// Event types present with their counts, sorted by type.
    pub types: Vec<(EventType, u32)>,
    /// Distinct tgids present, sorted; incomplete when `tgids_overflow`.
    pub tgids: Vec<u32>,
    /// More than [`MAX_SUMMARY_TGIDS`] tgids were present.
    pub tgids_overflow: bool,
    /// Container ids of the processes present, sorted (`host` included).
    pub containers: Vec<String>,
    /// Some events belong to processes whose container the writer did not
    /// know: `containers` may be incomplete.
    pub containers_incomplete: bool,
    /// How the chunk's payload is laid out.
    pub layout: PayloadLayout,
}

/// How a chunk payload lays out its event headers (FORMAT.md, "Chunk
/// payload"). The summary names it, so every chunk says how to decode it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadLayout {
    /// Format 1.0 to 1.2: ten varint columns, among them every event's
    /// parameter and buffer lengths.
    #[default]
    Lengths,
    /// Format 1.3: eight columns; times and latencies as bit lengths plus
    /// packed bits, parameter counts against the previous event of the same
    /// type, and the parameter and buffer lengths found by walking the
    /// parameters.
    Packed,
    /// Format 1.4: the packed layout with the string table and the
    /// parameters in a frame of their own, after the payload's.
    Split,
}

impl PayloadLayout {
    /// The number chunk summaries store (field 12; absent = 0).
    pub(crate) fn code(self) -> u64 {
        match self {
            PayloadLayout::Lengths => 0,
            PayloadLayout::Packed => 1,
            PayloadLayout::Split => 2,
        }
    }

    pub(crate) fn from_code(code: u64) -> crate::wire::WireResult<Self> {
        match code {
            0 => Ok(PayloadLayout::Lengths),
            1 => Ok(PayloadLayout::Packed),
            2 => Ok(PayloadLayout::Split),
            _ => Err(crate::wire::Malformed("unknown chunk payload layout")),
        }
    }
}

impl ChunkSummary {
    /// Whether the chunk may hold events in `[from, to]` (inclusive).
    pub fn overlaps(&self, from: u64, to: u64) -> bool {
        self.events > 0 && self.min_ts <= to && self.max_ts >= from
    }

    /// Whether the chunk may hold events of `event_type`.
    pub fn may_contain_type(&self, event_type: EventType) -> bool {
        self.types
            .binary_search_by_key(&event_type, |&(t, _)| t)
            .is_ok()
    }

    /// Whether the chunk may hold events of process `tgid`.
    pub fn may_contain_tgid(&self, tgid: u32) -> bool {
        self.tgids_overflow || self.tgids.binary_search(&tgid).is_ok()
    }

    /// Whether the chunk may hold events of container `id`.
    pub fn may_contain_container(&self, id: &str) -> bool {
        self.containers_incomplete || self.containers.iter().any(|c| c == id)
    }
}

/// Where a chunk is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexEntry {
    /// Byte offset of the chunk's block in the file.
    pub offset: u64,
    /// Length of the whole block in bytes.
    pub block_len: u64,
    /// Its summary.
    pub summary: ChunkSummary,
}

/// Where a statistics record is and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsEntry {
    /// Byte offset of the statistics block in the file.
    pub offset: u64,
    /// The counters.
    pub stats: CaptureStats,
}

/// Where a container record is and what it says: a container first seen
/// during the capture, described when it was (format 1.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerEntry {
    /// Byte offset of the container block in the file.
    pub offset: u64,
    /// The container.
    pub info: ContainerInfo,
}

/// Accumulates a [`ChunkSummary`] while a chunk is being built.
#[derive(Debug, Default)]
pub(crate) struct SummaryBuilder {
    events: u32,
    min_ts: u64,
    max_ts: u64,
    types: FxHashMap<EventType, u32>,
    tgids: FxHashSet<u32>,
    tgids_overflow: bool,
    containers: BTreeSet<String>,
    containers_incomplete: bool,
}

impl SummaryBuilder {
    #[inline]
    pub(crate) fn add(&mut self, ts: u64, event_type: EventType, tgid: u32) {
        if self.events == 0 {
            self.min_ts = ts;
            self.max_ts = ts;
        } else {
            self.min_ts = self.min_ts.min(ts);
            self.max_ts = self.max_ts.max(ts);
        }
        self.events += 1;
        *self.types.entry(event_type).or_insert(0) += 1;
        if !self.tgids_overflow && self.tgids.insert(tgid) && self.tgids.len() > MAX_SUMMARY_TGIDS {
            self.tgids_overflow = true;
            self.tgids.clear();
        }
    }

    pub(crate) fn add_container(&mut self, id: &str) {
        if !self.containers.contains(id) {
            self.containers.insert(id.to_owned());
        }
    }

    pub(crate) fn containers_unknown(&mut self) {
        self.containers_incomplete = true;
    }

    pub(crate) fn finish(self, first_num: u64, raw_len: u32, blob_len: u32) -> ChunkSummary {
        let mut types: Vec<_> = self.types.into_iter().collect();
        types.sort_unstable();
        let mut tgids: Vec<_> = self.tgids.into_iter().collect();
        tgids.sort_unstable();
        ChunkSummary {
            first_num,
            events: self.events,
            min_ts: self.min_ts,
            max_ts: self.max_ts,
            raw_len,
            blob_len,
            types,
            tgids,
            tgids_overflow: self.tgids_overflow,
            containers: self.containers.into_iter().collect(),
            containers_incomplete: self.containers_incomplete,
            layout: PayloadLayout::Packed,
        }
    }
}
