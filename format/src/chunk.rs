//! Event chunks: how a run of events is encoded before compression, and the
//! decoded form the analyser iterates over.
//!
//! A chunk payload is a string table, then the event headers stored column
//! by column (all timestamps, then all thread ids, …), then the events'
//! parameters. Strings (paths, names, argv) are interned per chunk, so a
//! chunk decodes alone. Thread ids are delta-encoded; times and latencies
//! are packed (a bit length per value, then only the bits below its leading
//! one); return values and parameter counts may be stored against the
//! previous event of the same type; an integer parameter equal to the
//! return value is a tag alone. Columns compress better than rows (like
//! values sit together) and decode in tight, predictable loops. Chunks of
//! format 1.0 to 1.2 ([`PayloadLayout::Lengths`]) still decode.
//!
//! Decoding does not copy strings or buffers: [`DecodedChunk`] keeps the
//! decompressed payload and its views point into it, and parameters are
//! decoded only when asked for, so iterating over a chunk allocates nothing
//! per event.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

use rustc_hash::FxHashMap;

use crate::codec::{put_sockaddr, read_sockaddr};
use crate::index::{ChunkSummary, PayloadLayout, SummaryBuilder};
use crate::model::{Event, EventType, SockAddr, Value};
use crate::wire::{Cursor, Malformed, WireResult, put_bytes, put_ivarint, put_uvarint};

/// Value tags in event records.
mod tag {
    pub(super) const ABSENT: u8 = 0;
    pub(super) const INT: u8 = 1;
    pub(super) const UINT: u8 = 2;
    pub(super) const FD: u8 = 3;
    pub(super) const STR: u8 = 4;
    pub(super) const BYTES: u8 = 5;
    pub(super) const SOCKADDR: u8 = 6;
    pub(super) const STR_LIST: u8 = 7;
    /// A signed integer, an unsigned one or an fd equal to the event's
    /// return value, which is not repeated: `read`'s size, `mmap`'s address
    /// with `MAP_FIXED` (1.3).
    pub(super) const INT_RET: u8 = 8;
    pub(super) const UINT_RET: u8 = 9;
    pub(super) const FD_RET: u8 = 10;
}

/// The header columns, in payload order: the first eight in both layouts,
/// the two length columns only in [`PayloadLayout::Lengths`].
const COLUMNS: usize = 10;
const PACKED_COLUMNS: usize = 8;
mod column {
    pub(super) const TS: usize = 0;
    pub(super) const TID: usize = 1;
    pub(super) const TGID: usize = 2;
    pub(super) const CPU: usize = 3;
    pub(super) const TYPE: usize = 4;
    pub(super) const RET: usize = 5;
    pub(super) const LATENCY: usize = 6;
    pub(super) const PARAM_COUNT: usize = 7;
    pub(super) const PARAM_LEN: usize = 8;
    pub(super) const BLOB_LEN: usize = 9;
}

/// How the return value column of a packed payload is stored (its first
/// byte).
mod ret_mode {
    /// Each value as it is.
    pub(super) const PLAIN: u8 = 0;
    /// Each value minus the previous one of an event of the same type:
    /// addresses from `mmap` and `brk`, which are long but close together.
    pub(super) const BY_TYPE: u8 = 1;
}

/// How the time column of a packed payload is differenced (its first byte).
mod ts_mode {
    /// Each time minus the previous event's.
    pub(super) const DELTA: u8 = 0;
    /// Each time minus the previous event's and minus the event's own
    /// latency: the gap between the previous event's end and this one's
    /// start, which is smaller when events follow one another on one CPU.
    pub(super) const GAP: u8 = 1;
}

/// The header fields of a chunk's events, one column per field: what a
/// chunk being built collects and what a decoded chunk holds.
#[derive(Debug, Default)]
struct HeaderColumns {
    ts: Vec<u64>,
    tid: Vec<u32>,
    tgid: Vec<u32>,
    cpu: Vec<u16>,
    event_type: Vec<EventType>,
    ret: Vec<i64>,
    latency: Vec<u64>,
    param_count: Vec<u16>,
}

impl HeaderColumns {
    fn len(&self) -> usize {
        self.ts.len()
    }

    /// Adds the fields of one event but its parameter count, which is
    /// known once its parameters are written.
    fn push(&mut self, head: &EventHead) {
        self.ts.push(head.ts);
        self.tid.push(head.tid);
        self.tgid.push(head.tgid);
        self.cpu.push(head.cpu);
        self.event_type.push(head.event_type);
        self.ret.push(head.ret);
        self.latency.push(head.latency);
    }

    fn clear(&mut self) {
        self.ts.clear();
        self.tid.clear();
        self.tgid.clear();
        self.cpu.clear();
        self.event_type.clear();
        self.ret.clear();
        self.latency.clear();
        self.param_count.clear();
    }
}

/// Encodes events into a chunk payload.
///
/// The header fields are kept as plain columns of values while events come
/// in, and varint-encoded only by [`ChunkBuilder::finish`]: a chunk built
/// to be read at once ([`ChunkBuilder::into_decoded`]) never pays for an
/// encoding it would decode again.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    strings: FxHashMap<Vec<u8>, u32>,
    /// The string table as the payload holds it (varint length, bytes).
    string_table: Vec<u8>,
    /// Where each string's bytes are in `string_table`.
    string_spans: Vec<(u32, u32)>,
    headers: HeaderColumns,
    /// End of each event's parameters in `params`.
    param_ends: Vec<u32>,
    /// End of each event's buffer bytes in `blob`.
    blob_ends: Vec<u32>,
    params: Vec<u8>,
    /// Buffer contents, kept apart from the rest so that a scan that does
    /// not look at them does not pay for decompressing them.
    blob: Vec<u8>,
    /// Containers of the events' processes, for the summary.
    containers: BTreeSet<String>,
    containers_incomplete: bool,
    /// Reused by [`ParamEncoder::str_list`].
    scratch: Vec<u8>,
}

impl ChunkBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of events added so far.
    pub fn events(&self) -> u32 {
        self.headers.len() as u32
    }

    /// Approximate payload size so far, in bytes.
    pub fn raw_len(&self) -> usize {
        // About two bytes per header field once encoded.
        self.string_table.len() + 20 * self.headers.len() + self.params.len() + self.blob.len()
    }

    fn intern(&mut self, text: &[u8]) -> u32 {
        if let Some(&id) = self.strings.get(text) {
            return id;
        }
        let id = self.string_spans.len() as u32;
        put_uvarint(&mut self.string_table, text.len() as u64);
        let start = self.string_table.len() as u32;
        self.string_table.extend_from_slice(text);
        self.string_spans.push((start, text.len() as u32));
        self.strings.insert(text.to_vec(), id);
        id
    }

    /// Adds one event; `container` is the container id of its process, for
    /// the chunk summary, `None` when unknown.
    pub fn push(&mut self, event: &Event, container: Option<&str>) {
        self.push_encoded(&EventHead::of(event), container, |params| {
            for value in &event.params {
                params.value(value);
            }
        });
    }

    /// Adds one event whose parameters `encode` writes one by one, in
    /// order, straight into the chunk: the way to convert events from
    /// another format without building an owned [`Event`] for each.
    #[inline]
    pub fn push_encoded(
        &mut self,
        head: &EventHead,
        container: Option<&str>,
        encode: impl FnOnce(&mut ParamEncoder<'_>),
    ) {
        match container {
            Some(id) => {
                if !self.containers.contains(id) {
                    self.containers.insert(id.to_owned());
                }
            }
            None => self.containers_incomplete = true,
        }
        self.headers.push(head);
        let mut params = std::mem::take(&mut self.params);
        let mut encoder = ParamEncoder {
            builder: self,
            out: &mut params,
            count: 0,
            ret: head.ret,
        };
        encode(&mut encoder);
        let count = encoder.count;
        self.headers
            .param_count
            .push(u16::try_from(count).unwrap_or(u16::MAX));
        self.param_ends
            .push(u32::try_from(params.len()).unwrap_or(u32::MAX));
        self.blob_ends
            .push(u32::try_from(self.blob.len()).unwrap_or(u32::MAX));
        self.params = params;
    }

    /// Forgets every event, keeping the allocations.
    pub fn clear(&mut self) {
        self.strings.clear();
        self.string_table.clear();
        self.string_spans.clear();
        self.headers.clear();
        self.param_ends.clear();
        self.blob_ends.clear();
        self.params.clear();
        self.blob.clear();
        self.containers.clear();
        self.containers_incomplete = false;
    }

    /// The summary of the events added so far, numbered from `first_num`.
    fn summary(&self, first_num: u64, raw_len: u32) -> ChunkSummary {
        let mut summary = SummaryBuilder::default();
        for at in 0..self.headers.len() {
            summary.add(
                self.headers.ts[at],
                self.headers.event_type[at],
                self.headers.tgid[at],
            );
        }
        for id in &self.containers {
            summary.add_container(id);
        }
        if self.containers_incomplete {
            summary.containers_unknown();
        }
        let blob_len = u32::try_from(self.blob.len()).unwrap_or(u32::MAX);
        summary.finish(first_num, raw_len, blob_len)
    }

    /// Finishes the chunk: its summary, its uncompressed payload (and
    /// parameter part, for a chunk of [`SPLIT_EVENTS`] events or more), and
    /// the buffer contents its events point into.
    pub fn finish(self, first_num: u64) -> FinishedChunk {
        let n = self.headers.len();
        let split = n >= SPLIT_EVENTS;
        let mut payload = Vec::with_capacity(self.raw_len() + 64);
        let mut params = Vec::new();
        let strings_out = if split { &mut params } else { &mut payload };
        put_uvarint(strings_out, self.string_spans.len() as u64);
        strings_out.extend_from_slice(&self.string_table);
        put_uvarint(&mut payload, n as u64);
        let mut column = Vec::with_capacity(n * 2);
        let mut put_column = |payload: &mut Vec<u8>, fill: &dyn Fn(&mut Vec<u8>)| {
            column.clear();
            fill(&mut column);
            put_bytes(payload, &column);
        };
        put_column(&mut payload, &|c| {
            let (mode, values) = self.ts_column();
            c.push(mode);
            put_packed(c, &values);
        });
        put_column(&mut payload, &|c| {
            let mut prev = 0u32;
            for &tid in &self.headers.tid {
                put_ivarint(c, i64::from(tid) - i64::from(prev));
                prev = tid;
            }
        });
        put_column(&mut payload, &|c| {
            for (&tgid, &tid) in self.headers.tgid.iter().zip(&self.headers.tid) {
                put_ivarint(c, i64::from(tgid) - i64::from(tid));
            }
        });
        put_column(&mut payload, &|c| {
            self.headers
                .cpu
                .iter()
                .for_each(|&v| put_uvarint(c, v.into()));
        });
        put_column(&mut payload, &|c| {
            self.headers
                .event_type
                .iter()
                .for_each(|&v| put_uvarint(c, v.into()));
        });
        put_column(&mut payload, &|c| {
            let (mode, values) = self.ret_column();
            c.push(mode);
            values.iter().for_each(|&v| put_uvarint(c, v));
        });
        put_column(&mut payload, &|c| put_packed(c, &self.headers.latency));
        put_column(&mut payload, &|c| {
            // Most events of a type have as many parameters as the last
            // one of the type: the differences are nearly all zero.
            let counts = self
                .headers
                .param_count
                .iter()
                .map(|&count| i64::from(count));
            for difference in self.differences_by_type(counts) {
                put_uvarint(c, difference);
            }
        });
        let layout = if split {
            params.extend_from_slice(&self.params);
            PayloadLayout::Split
        } else {
            payload.extend_from_slice(&self.params);
            PayloadLayout::Packed
        };
        let raw_len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        let mut summary = self.summary(first_num, raw_len);
        summary.layout = layout;
        FinishedChunk {
            summary,
            payload,
            params,
            blob: self.blob,
        }
    }

    /// The time column of a packed payload: its mode and values, whichever
    /// of the two differencings takes fewer bits.
    fn ts_column(&self) -> (u8, Vec<u64>) {
        let mut deltas = Vec::with_capacity(self.headers.ts.len());
        let mut gaps = Vec::with_capacity(self.headers.ts.len());
        let mut prev = 0u64;
        for (&ts, &latency) in self.headers.ts.iter().zip(&self.headers.latency) {
            let delta = ts.wrapping_sub(prev);
            deltas.push(crate::wire::zigzag(delta as i64));
            gaps.push(crate::wire::zigzag(delta.wrapping_sub(latency) as i64));
            prev = ts;
        }
        let bits = |values: &[u64]| {
            values
                .iter()
                .map(|v| u64::from(64 - v.leading_zeros()))
                .sum::<u64>()
        };
        if bits(&gaps) < bits(&deltas) {
            (ts_mode::GAP, gaps)
        } else {
            (ts_mode::DELTA, deltas)
        }
    }

    /// Each of `values` (one per event) minus the value of the previous
    /// event of the same type (0 for the first of its type), zigzagged.
    fn differences_by_type(&self, values: impl Iterator<Item = i64>) -> Vec<u64> {
        let mut last: FxHashMap<EventType, i64> = FxHashMap::default();
        values
            .zip(&self.headers.event_type)
            .map(|(value, &event_type)| {
                let previous = last.insert(event_type, value).unwrap_or(0);
                crate::wire::zigzag(value.wrapping_sub(previous))
            })
            .collect()
    }

    /// The return value column of a packed payload: its mode and values,
    /// whichever of the two takes fewer varint bytes.
    fn ret_column(&self) -> (u8, Vec<u64>) {
        let plain: Vec<u64> = self
            .headers
            .ret
            .iter()
            .map(|&v| crate::wire::zigzag(v))
            .collect();
        let by_type = self.differences_by_type(self.headers.ret.iter().copied());
        let bytes = |values: &[u64]| values.iter().map(|&v| varint_len(v)).sum::<usize>();
        if bytes(&by_type) < bytes(&plain) {
            (ret_mode::BY_TYPE, by_type)
        } else {
            (ret_mode::PLAIN, plain)
        }
    }

    /// The events as a decoded chunk numbered from `first_num`, without
    /// encoding them: for events converted to be read at once.
    pub fn into_decoded(mut self, first_num: u64) -> DecodedChunk {
        let mut chunk = DecodedChunk::default();
        self.decode_into(first_num, &mut chunk);
        chunk
    }

    /// As [`ChunkBuilder::into_decoded`], into `chunk` (whose allocations
    /// come back to this builder): a converter that hands chunks to a
    /// reader and gets them back allocates nothing once it runs.
    pub fn decode_into(&mut self, first_num: u64, chunk: &mut DecodedChunk) {
        let table_len = self.string_table.len() as u32;
        let mut payload = std::mem::take(&mut chunk.payload);
        payload.clear();
        payload.extend_from_slice(&self.string_table);
        payload.extend_from_slice(&self.params);
        chunk.payload = payload;
        std::mem::swap(&mut chunk.strings, &mut self.string_spans);
        std::mem::swap(&mut chunk.headers, &mut self.headers);
        let mut bounds = chunk.reusable_bounds();
        bounds.params.push(table_len);
        bounds
            .params
            .extend(self.param_ends.iter().map(|&end| end + table_len));
        bounds.blobs.push(0);
        bounds.blobs.extend_from_slice(&self.blob_ends);
        let _ = chunk.bounds.set(bounds);
        chunk.first_num = first_num;
        chunk.offset = 0;
        chunk.blob_source.clear();
        chunk.frames_compressed = false;
        chunk.blob_len = self.blob.len();
        let mut blob = chunk.blob.take().unwrap_or_default();
        std::mem::swap(&mut blob, &mut self.blob);
        let _ = chunk.blob.set(blob);
        self.clear();
    }
}

/// Chunks of this many events or more are written in the split layout:
/// their parameters in a frame of their own, which scans of event headers
/// do not decompress. Smaller chunks (small captures, chunks sealed early)
/// keep one frame, which compresses a little better.
pub const SPLIT_EVENTS: usize = 2048;

/// A chunk ready to be written, from [`ChunkBuilder::finish`].
#[derive(Debug)]
pub struct FinishedChunk {
    /// Its summary; `summary.layout` says how the parts below divide.
    pub summary: ChunkSummary,
    /// The payload: in the split layout, the event count and header
    /// columns alone.
    pub payload: Vec<u8>,
    /// In the split layout, the string table and the parameters; empty
    /// otherwise.
    pub params: Vec<u8>,
    /// The buffer contents the events point into.
    pub blob: Vec<u8>,
}

/// The header fields of one event, for [`ChunkBuilder::push_encoded`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventHead {
    /// Wall-clock time, ns since the epoch.
    pub ts: u64,
    /// Thread id.
    pub tid: u32,
    /// Process id.
    pub tgid: u32,
    /// CPU.
    pub cpu: u16,
    /// Event type.
    pub event_type: EventType,
    /// Return value.
    pub ret: i64,
    /// Syscall duration in ns, 0 when not measured.
    pub latency: u64,
}

impl EventHead {
    /// The header of an owned event.
    pub fn of(event: &Event) -> Self {
        EventHead {
            ts: event.ts,
            tid: event.tid,
            tgid: event.tgid,
            cpu: event.cpu,
            event_type: event.event_type,
            ret: event.ret,
            latency: event.latency,
        }
    }
}

/// Writes one event's parameters into a chunk, in order; each call adds
/// one parameter.
#[derive(Debug)]
pub struct ParamEncoder<'b> {
    builder: &'b mut ChunkBuilder,
    out: &'b mut Vec<u8>,
    count: u64,
    /// The event's return value, which integers equal to it refer to.
    ret: i64,
}

impl ParamEncoder<'_> {
    /// A parameter that was not captured.
    pub fn absent(&mut self) {
        self.count += 1;
        self.out.push(tag::ABSENT);
    }

    /// A signed integer.
    pub fn int(&mut self, value: i64) {
        self.count += 1;
        if value == self.ret {
            self.out.push(tag::INT_RET);
            return;
        }
        self.out.push(tag::INT);
        put_ivarint(self.out, value);
    }

    /// An unsigned integer.
    pub fn uint(&mut self, value: u64) {
        self.count += 1;
        if value == self.ret as u64 {
            self.out.push(tag::UINT_RET);
            return;
        }
        self.out.push(tag::UINT);
        put_uvarint(self.out, value);
    }

    /// A file descriptor.
    pub fn fd(&mut self, value: i64) {
        self.count += 1;
        if value == self.ret {
            self.out.push(tag::FD_RET);
            return;
        }
        self.out.push(tag::FD);
        put_ivarint(self.out, value);
    }

    /// Text, interned in the chunk's string table.
    pub fn str(&mut self, text: &[u8]) {
        self.count += 1;
        self.out.push(tag::STR);
        let id = self.builder.intern(text);
        put_uvarint(self.out, id.into());
    }

    /// Buffer contents.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.count += 1;
        self.out.push(tag::BYTES);
        put_uvarint(self.out, bytes.len() as u64);
        self.builder.blob.extend_from_slice(bytes);
    }

    /// A socket address.
    pub fn sockaddr(&mut self, addr: &SockAddr) {
        self.count += 1;
        self.out.push(tag::SOCKADDR);
        put_sockaddr(self.out, addr);
    }

    /// A list of strings.
    pub fn str_list<'t>(&mut self, items: impl IntoIterator<Item = &'t [u8]>) {
        self.count += 1;
        self.out.push(tag::STR_LIST);
        let mut ids = std::mem::take(&mut self.builder.scratch);
        ids.clear();
        let mut len = 0u64;
        for item in items {
            let id = self.builder.intern(item);
            put_uvarint(&mut ids, id.into());
            len += 1;
        }
        put_uvarint(self.out, len);
        self.out.extend_from_slice(&ids);
        self.builder.scratch = ids;
    }

    /// An owned value of the model.
    pub fn value(&mut self, value: &Value) {
        match value {
            Value::Absent => self.absent(),
            Value::Int(v) => self.int(*v),
            Value::Uint(v) => self.uint(*v),
            Value::Fd(v) => self.fd(*v),
            Value::Str(text) => self.str(text),
            Value::Bytes(bytes) => self.bytes(bytes),
            Value::SockAddr(addr) => self.sockaddr(addr),
            Value::StrList(items) => self.str_list(items.iter().map(Vec::as_slice)),
        }
    }
}

/// The bytes `value` takes as a varint.
fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros()).div_ceil(7) as usize
}

/// Appends `values` packed: one byte per value with its bit length, then,
/// least significant first, the bits of each value below its leading one.
/// Times and latencies in nanoseconds have a few leading bits that repeat
/// and low bits that are noise: the lengths compress, and the noise takes
/// its own width instead of a varint's eight bits per seven.
fn put_packed(out: &mut Vec<u8>, values: &[u64]) {
    out.extend(values.iter().map(|v| (64 - v.leading_zeros()) as u8));
    let mut pending = 0u128;
    let mut bits = 0u32;
    for &value in values {
        let below = (64 - value.leading_zeros()).saturating_sub(1);
        pending |= u128::from(value & ((1u64 << below) - 1)) << bits;
        bits += below;
        if bits >= 64 {
            out.extend_from_slice(&(pending as u64).to_le_bytes());
            pending >>= 64;
            bits -= 64;
        }
    }
    out.extend_from_slice(&(pending as u64).to_le_bytes()[..bits.div_ceil(8) as usize]);
}

/// Decodes a column written by [`put_packed`] holding `count` values into
/// `out`.
fn decode_packed(bytes: &[u8], count: usize, out: &mut Vec<u64>) -> WireResult<()> {
    let (lengths, packed) = bytes
        .split_at_checked(count)
        .ok_or(Malformed("packed column shorter than its events"))?;
    if lengths.iter().any(|&length| length > 64) {
        return Err(Malformed("packed value longer than 64 bits"));
    }
    let total_bits: u64 = lengths
        .iter()
        .map(|&length| u64::from(length.saturating_sub(1)))
        .sum();
    if packed.len() as u64 != total_bits.div_ceil(8) {
        return Err(Malformed("packed column differs in length from its values"));
    }
    // Each value's bits are read from the eight bytes at the byte where
    // they start (a ninth when they straddle it), from a copy padded so
    // that every read is whole.
    let mut padded = [0u8; 64];
    let mut heap = Vec::new();
    let source: &[u8] = if packed.len() + 9 <= padded.len() {
        padded[..packed.len()].copy_from_slice(packed);
        &padded
    } else {
        heap.reserve_exact(packed.len() + 9);
        heap.extend_from_slice(packed);
        heap.resize(packed.len() + 9, 0);
        &heap
    };
    let mut bit = 0usize;
    out.clear();
    out.extend(lengths.iter().map(|&length| {
        let below = u32::from(length.saturating_sub(1));
        let byte = bit >> 3;
        let shift = (bit & 7) as u32;
        let word = source
            .get(byte..byte + 9)
            .and_then(|window| window.first_chunk::<9>())
            .copied()
            .unwrap_or_default();
        let first = u64::from_le_bytes([
            word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
        ]);
        // The ninth byte supplies the bits a shift pushed out of the word.
        let low = (first >> shift) | (u64::from(word[8]) << 1 << (63 - shift));
        bit += below as usize;
        // Length 0 is the value 0, length 1 the value 1.
        (u64::from(length != 0) << below) | (low & ((1u64 << below) - 1))
    }));
    Ok(())
}

/// Reads a string table at the start of `bytes` into `strings` (where each
/// string lies in `bytes`); returns where the table ends.
fn read_string_table(bytes: &[u8], strings: &mut Vec<(u32, u32)>) -> WireResult<usize> {
    strings.clear();
    let mut cursor = Cursor::new(bytes);
    let string_count: usize = cursor.uvarint_as("string count too large")?;
    strings.reserve(string_count.min(bytes.len()));
    for _ in 0..string_count {
        let len: usize = cursor.uvarint_as("string length too large")?;
        let start = cursor.position();
        cursor.take(len)?;
        strings.push((start as u32, len as u32));
    }
    Ok(cursor.position())
}

/// Finds where each event's parameters and buffer bytes end in a packed
/// payload, which does not store those lengths, by skipping over the
/// parameters from `start`; returns the buffer bytes they take. A loop
/// over the payload's bytes rather than over decoded values: it runs for
/// every event of every chunk read.
#[inline(never)]
fn walk_params(
    payload: &[u8],
    start: usize,
    counts: &[u16],
    param_bounds: &mut Vec<u32>,
    blob_bounds: &mut Vec<u32>,
    small_firsts: &mut Vec<i8>,
) -> WireResult<u64> {
    const END: Malformed = Malformed("parameters run past the payload");
    // The payload is at most 4 GiB (checked by the caller), so offsets fit.
    param_bounds.clear();
    param_bounds.resize(counts.len() + 1, 0);
    param_bounds[0] = start as u32;
    blob_bounds.clear();
    blob_bounds.resize(counts.len() + 1, 0);
    small_firsts.clear();
    small_firsts.resize(counts.len(), NO_SMALL_FIRST);
    let mut at = start;
    let mut blob = 0u64;
    let ends = param_bounds[1..].iter_mut().zip(&mut blob_bounds[1..]);
    for ((&count, small_first), (param_end, blob_end)) in
        counts.iter().zip(small_firsts.iter_mut()).zip(ends)
    {
        if count > 0
            && let Some(&[tag, byte]) = payload.get(at..at + 2)
            && (tag == tag::FD || tag == tag::INT)
            && byte < 0x80
        {
            // A one-byte zigzag varint: -64..=63.
            *small_first = crate::wire::unzigzag(u64::from(byte)) as i8;
        }
        for _ in 0..count {
            let tag = *payload.get(at).ok_or(END)?;
            match tag {
                tag::INT | tag::UINT | tag::FD | tag::STR => {
                    // Mostly a one-byte varint.
                    at = match payload.get(at + 1) {
                        Some(&byte) if byte < 0x80 => at + 2,
                        _ => skip_long_varint(payload, at + 1)?,
                    };
                }
                tag::ABSENT | tag::INT_RET | tag::UINT_RET | tag::FD_RET => at += 1,
                _ => {
                    let mut cursor = Cursor::new(payload.get(at..).unwrap_or_default());
                    blob = blob
                        .checked_add(skip_value(&mut cursor)?)
                        .filter(|&blob| blob <= u64::from(u32::MAX))
                        .ok_or(Malformed("buffer lengths overflow"))?;
                    at += cursor.position();
                }
            }
        }
        *param_end = at as u32;
        *blob_end = blob as u32;
    }
    if at != payload.len() {
        return Err(Malformed("parameters longer than their events"));
    }
    Ok(blob)
}

/// Where the varint at `at` ends, for one longer than a byte.
#[inline]
fn skip_long_varint(payload: &[u8], at: usize) -> WireResult<usize> {
    let mut end = at;
    while end < at + 10 {
        match payload.get(end) {
            Some(&byte) if byte < 0x80 => return Ok(end + 1),
            Some(_) => end += 1,
            None => break,
        }
    }
    Err(Malformed("parameters run past the payload"))
}

/// Skips one tagged value, returning how many buffer bytes it takes.
#[inline]
fn skip_value(cursor: &mut Cursor<'_>) -> WireResult<u64> {
    match cursor.u8()? {
        tag::ABSENT | tag::INT_RET | tag::UINT_RET | tag::FD_RET => {}
        tag::INT | tag::UINT | tag::FD | tag::STR => {
            cursor.uvarint()?;
        }
        tag::BYTES => return cursor.uvarint(),
        tag::SOCKADDR => {
            read_sockaddr(cursor)?;
        }
        tag::STR_LIST => {
            let count = cursor.uvarint()?;
            for _ in 0..count {
                cursor.uvarint()?;
            }
        }
        _ => return Err(Malformed("unknown value tag")),
    }
    Ok(0)
}

/// Decodes a column of `count` varints into `out`, converting each with
/// `convert` (which refuses values out of range by returning `None`).
/// Written as one `extend` per column, flagging a failure instead of
/// returning on it, so that the loop stores into reserved space without a
/// capacity check or an early exit per value.
#[inline]
fn decode_column<T: Copy + Default>(
    bytes: &[u8],
    out: &mut Vec<T>,
    count: usize,
    mut convert: impl FnMut(u64) -> Option<T>,
) -> WireResult<()> {
    out.clear();
    let mut failed = false;
    // A column of as many bytes as values, none with the continuation
    // bit, holds one-byte varints only (counts, cpus, small deltas): no
    // varint decoding needed.
    if bytes.len() == count && bytes.iter().fold(0, |high, &b| high | b) < 0x80 {
        out.extend(bytes.iter().map(|&byte| {
            convert(u64::from(byte)).unwrap_or_else(|| {
                failed = true;
                T::default()
            })
        }));
    } else {
        if bytes.len() < count {
            return Err(Malformed("column shorter than its events"));
        }
        let mut cursor = Cursor::new(bytes);
        out.extend((0..count).map(|_| {
            cursor
                .uvarint()
                .ok()
                .and_then(&mut convert)
                .unwrap_or_else(|| {
                    failed = true;
                    T::default()
                })
        }));
        if !cursor.is_empty() && !failed {
            return Err(Malformed("column longer than its events"));
        }
    }
    if failed {
        return Err(Malformed("column value out of range or cut off"));
    }
    Ok(())
}

/// In [`ParamBounds::small_firsts`], an event whose first parameter is not
/// a one-byte fd or integer (which are -64..=63).
const NO_SMALL_FIRST: i8 = i8::MIN;

/// Where each event's parameters and buffer bytes lie in a chunk.
#[derive(Debug, Default)]
struct ParamBounds {
    /// Start of each event's parameters in the payload, plus the end.
    params: Vec<u32>,
    /// Start of each event's buffer bytes in the blob, plus the end.
    blobs: Vec<u32>,
    /// Each event's first parameter when it is an fd or an integer of one
    /// varint byte (the fd of most calls, which every fd field looks up),
    /// [`NO_SMALL_FIRST`] otherwise.
    small_firsts: Vec<i8>,
    /// Why a packed payload's parameters could not be walked; every event
    /// then reads as having none, and [`DecodedChunk::validate`] reports it.
    damage: Option<&'static str>,
    /// A split payload's parameter frame, decompressed: the string table
    /// then the parameters. Empty for other layouts, whose parameters and
    /// strings are in the payload.
    frame: Vec<u8>,
    /// Where each string of the frame's table lies in it.
    strings: Vec<(u32, u32)>,
}

/// A decoded chunk: its events, ready to iterate.
///
/// Event headers (time, thread, type, return value) are decoded up front,
/// one array per field; parameters are decoded when a view asks for them,
/// because most queries look at the parameters of few events.
#[derive(Debug, Default)]
pub struct DecodedChunk {
    first_num: u64,
    offset: u64,
    payload: Vec<u8>,
    strings: Vec<(u32, u32)>,
    headers: HeaderColumns,
    /// Where each event's parameters and buffer bytes lie. An older layout
    /// stores them; a packed payload does not, and they are found by a walk
    /// over its parameters when one is first asked for, so that scans that
    /// look at event headers only never pay for it (or on the decoding
    /// thread, by [`DecodedChunk::prepare_params`]).
    bounds: OnceLock<ParamBounds>,
    /// The allocations of the previous chunk's bounds, for the next walk.
    spare_bounds: Mutex<ParamBounds>,
    /// Where the parameters start in a packed payload.
    params_start: usize,
    /// A split payload's parameter frame as stored (zstd, or raw), and its
    /// length decompressed; empty for other layouts.
    params_frame: Vec<u8>,
    params_frame_len: usize,
    /// Whether the chunk is in the split layout.
    split: bool,
    /// The buffer contents as stored (one zstd frame, or raw).
    blob_source: Vec<u8>,
    /// Whether the buffer and parameter frames are zstd frames (one flag
    /// of the chunk's block covers both).
    frames_compressed: bool,
    blob_len: usize,
    /// The buffer contents, decompressed on first use.
    blob: OnceLock<Vec<u8>>,
    /// The allocation of the previous chunk's buffer contents, for the
    /// next [`DecodedChunk::preload_blob`].
    spare_blob: Vec<u8>,
    /// Scratch space for decoding packed payloads: a value per event type.
    by_type: Vec<i64>,
}

impl DecodedChunk {
    /// Events held in memory as a decoded chunk, numbered from `first_num`:
    /// what lets code written for the views of a file (filters, state
    /// replay) look at events that were never written, such as those a
    /// capture is about to write.
    ///
    /// # Errors
    /// Only if the encoding were inconsistent (a bug): reported, not
    /// panicked on.
    pub fn from_events(events: &[Event], first_num: u64) -> crate::Result<DecodedChunk> {
        let mut builder = ChunkBuilder::new();
        for event in events {
            builder.push(event, None);
        }
        Ok(builder.into_decoded(first_num))
    }

    /// Decodes a payload and blob produced by [`ChunkBuilder::finish`].
    #[cfg(test)]
    pub(crate) fn decode(
        payload: Vec<u8>,
        blob: Vec<u8>,
        first_num: u64,
    ) -> WireResult<DecodedChunk> {
        let mut chunk = DecodedChunk {
            payload,
            ..DecodedChunk::default()
        };
        chunk.set_blob(&blob, blob.len(), false);
        chunk.decode_payload(first_num, 0, PayloadLayout::Packed)?;
        chunk.validate_params()?;
        Ok(chunk)
    }

    /// Decodes what [`ChunkBuilder::finish`] gave, in whichever layout.
    #[cfg(test)]
    pub(crate) fn decode_finished(finished: FinishedChunk, first_num: u64) -> WireResult<Self> {
        let mut chunk = DecodedChunk {
            payload: finished.payload,
            ..DecodedChunk::default()
        };
        chunk.set_params_frame(&finished.params, finished.params.len(), false);
        chunk.set_blob(&finished.blob, finished.blob.len(), false);
        chunk.decode_payload(first_num, 0, finished.summary.layout)?;
        chunk.validate_params()?;
        Ok(chunk)
    }

    /// Keeps the chunk's buffer contents as stored, to be decompressed when
    /// a parameter first needs them.
    pub(crate) fn set_blob(&mut self, source: &[u8], len: usize, compressed: bool) {
        self.blob_source.clear();
        self.blob_source.extend_from_slice(source);
        self.frames_compressed = compressed;
        self.blob_len = len;
        if let Some(old) = self.blob.take() {
            self.spare_blob = old;
        }
    }

    /// Decompresses the buffer contents now, with `decompress` (which
    /// fills its output from a zstd frame, false on failure), reusing the
    /// allocation of the chunk's previous contents: for a reader that will
    /// look at most buffers, on the thread that decodes the chunk. Damaged
    /// contents are left to the lazy path, which reports them.
    pub(crate) fn preload_blob(&mut self, decompress: impl FnOnce(&[u8], &mut Vec<u8>) -> bool) {
        if self.blob.get().is_some() || self.blob_len == 0 {
            return;
        }
        let mut out = std::mem::take(&mut self.spare_blob);
        out.clear();
        let loaded = if self.frames_compressed {
            out.reserve(self.blob_len);
            decompress(&self.blob_source, &mut out)
        } else {
            out.extend_from_slice(&self.blob_source);
            true
        };
        if loaded && out.len() == self.blob_len {
            let _ = self.blob.set(out);
        } else {
            self.spare_blob = out;
        }
    }

    fn load_blob(&self) -> Result<Vec<u8>, &'static str> {
        let blob = if self.frames_compressed {
            zstd::bulk::decompress(&self.blob_source, self.blob_len)
                .map_err(|_| "buffer contents do not decompress")?
        } else {
            self.blob_source.clone()
        };
        if blob.len() != self.blob_len {
            return Err("buffer contents differ in size from the summary");
        }
        Ok(blob)
    }

    /// The buffer contents; empty if they are damaged (which
    /// [`DecodedChunk::validate`] reports).
    #[inline]
    fn blob(&self) -> &[u8] {
        self.blob
            .get_or_init(|| self.load_blob().unwrap_or_default())
    }

    /// The buffer to decompress a payload into before
    /// [`DecodedChunk::decode_payload`]; reusing a chunk reuses its buffers.
    pub(crate) fn payload_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.payload
    }

    /// Decodes the string table and the event headers of the payload held in
    /// [`DecodedChunk::payload_buffer`], replacing any events decoded before.
    pub(crate) fn decode_payload(
        &mut self,
        first_num: u64,
        offset: u64,
        layout: PayloadLayout,
    ) -> WireResult<()> {
        self.first_num = first_num;
        self.offset = offset;
        let mut bounds = self.reusable_bounds();
        let DecodedChunk {
            payload,
            strings,
            headers:
                HeaderColumns {
                    ts,
                    tid,
                    tgid,
                    cpu,
                    event_type,
                    ret,
                    latency,
                    param_count,
                },
            blob_len,
            by_type,
            params_start: start_of_params,
            split,
            bounds: bounds_slot,
            spare_bounds,
            ..
        } = self;
        // Every column is cleared by its decoding; a chunk that fails to
        // decode is never looked at.
        strings.clear();
        let payload: &[u8] = payload;
        if payload.len() > u32::MAX as usize {
            return Err(Malformed("payload larger than 4 GiB"));
        }
        *split = layout == PayloadLayout::Split;
        // A split payload's strings are with its parameters.
        let table_end = if *split {
            0
        } else {
            read_string_table(payload, strings)?
        };
        let mut cursor = Cursor::new(payload.get(table_end..).unwrap_or_default());
        let n: usize = cursor.uvarint_as("event count too large")?;
        if n > payload.len() {
            return Err(Malformed("more events than payload bytes"));
        }
        let column_count = match layout {
            PayloadLayout::Lengths => COLUMNS,
            PayloadLayout::Packed | PayloadLayout::Split => PACKED_COLUMNS,
        };
        let mut columns = [&[][..]; COLUMNS];
        for column in &mut columns[..column_count] {
            *column = cursor.bytes()?;
        }
        let params_start = table_end + cursor.position();
        *start_of_params = params_start;
        if *split && params_start != payload.len() {
            return Err(Malformed(
                "bytes after the header columns of a split payload",
            ));
        }

        let mut thread = 0i64;
        decode_column(columns[column::TID], tid, n, |delta| {
            thread = thread.checked_add(crate::wire::unzigzag(delta))?;
            u32::try_from(thread).ok()
        })?;
        // tgid is stored relative to the event's tid.
        let threads: &[u32] = tid;
        let mut index = 0;
        decode_column(columns[column::TGID], tgid, n, |delta| {
            let group = i64::from(threads[index]).checked_add(crate::wire::unzigzag(delta))?;
            index += 1;
            u32::try_from(group).ok()
        })?;
        decode_column(columns[column::CPU], cpu, n, |v| u16::try_from(v).ok())?;
        decode_column(columns[column::TYPE], event_type, n, |v| {
            u16::try_from(v).ok()
        })?;
        if layout == PayloadLayout::Lengths {
            decode_column(columns[column::RET], ret, n, |v| {
                Some(crate::wire::unzigzag(v))
            })?;
            let mut at = 0u64;
            decode_column(columns[column::TS], ts, n, |delta| {
                at = at.wrapping_add(crate::wire::unzigzag(delta) as u64);
                Some(at)
            })?;
            decode_column(columns[column::LATENCY], latency, n, Some)?;
            decode_column(columns[column::PARAM_COUNT], param_count, n, |v| {
                u16::try_from(v).ok()
            })?;
            let mut end = params_start as u64;
            decode_column(columns[column::PARAM_LEN], &mut bounds.params, n, |len| {
                end = end.checked_add(len)?;
                u32::try_from(end).ok()
            })?;
            bounds.params.insert(0, params_start as u32);
            if end != payload.len() as u64 {
                return Err(Malformed("parameter lengths do not add up to the payload"));
            }
            let mut end = 0u64;
            decode_column(columns[column::BLOB_LEN], &mut bounds.blobs, n, |len| {
                end = end.checked_add(len)?;
                u32::try_from(end).ok()
            })?;
            bounds.blobs.insert(0, 0);
            if end != *blob_len as u64 {
                return Err(Malformed(
                    "buffer lengths do not add up to the buffer contents",
                ));
            }
            let _ = bounds_slot.set(bounds);
            return Ok(());
        }

        // Per event type, the last return value and parameter count while
        // the columns that store differences from them decode.
        let types: &[EventType] = event_type;
        let type_count = usize::from(types.iter().copied().max().unwrap_or(0)) + 1;
        let (&mode, rets) = columns[column::RET]
            .split_first()
            .ok_or(Malformed("return value column without its mode"))?;
        match mode {
            ret_mode::PLAIN => decode_column(rets, ret, n, |v| Some(crate::wire::unzigzag(v)))?,
            ret_mode::BY_TYPE => {
                by_type.clear();
                by_type.resize(type_count, 0);
                let mut index = 0;
                decode_column(rets, ret, n, |v| {
                    let last = &mut by_type[usize::from(types[index])];
                    index += 1;
                    *last = last.wrapping_add(crate::wire::unzigzag(v));
                    Some(*last)
                })?;
            }
            _ => return Err(Malformed("unknown return value column mode")),
        }
        decode_packed(columns[column::LATENCY], n, latency)?;
        let (&mode, packed_ts) = columns[column::TS]
            .split_first()
            .ok_or(Malformed("time column without its mode"))?;
        decode_packed(packed_ts, n, ts)?;
        let mut at = 0u64;
        match mode {
            ts_mode::DELTA => ts.iter_mut().for_each(|value| {
                at = at.wrapping_add(crate::wire::unzigzag(*value) as u64);
                *value = at;
            }),
            ts_mode::GAP => ts
                .iter_mut()
                .zip(latency.iter())
                .for_each(|(value, latency)| {
                    at = at
                        .wrapping_add(crate::wire::unzigzag(*value) as u64)
                        .wrapping_add(*latency);
                    *value = at;
                }),
            _ => return Err(Malformed("unknown time column mode")),
        }
        by_type.clear();
        by_type.resize(type_count, 0);
        let mut index = 0;
        decode_column(columns[column::PARAM_COUNT], param_count, n, |delta| {
            let last = &mut by_type[usize::from(types[index])];
            index += 1;
            *last = last.checked_add(crate::wire::unzigzag(delta))?;
            u16::try_from(*last).ok()
        })?;
        // The bounds are walked on first use.
        *spare_bounds.get_mut().unwrap_or_else(|e| e.into_inner()) = bounds;
        Ok(())
    }

    /// Empty bounds with the allocations of the ones held before, leaving
    /// the chunk without bounds.
    fn reusable_bounds(&mut self) -> ParamBounds {
        let spare = self
            .spare_bounds
            .get_mut()
            .unwrap_or_else(|e| e.into_inner());
        let mut bounds = self.bounds.take().unwrap_or_else(|| std::mem::take(spare));
        bounds.params.clear();
        bounds.blobs.clear();
        bounds.damage = None;
        bounds.frame.clear();
        bounds.strings.clear();
        bounds
    }

    /// Keeps a split payload's parameter frame as stored, to be
    /// decompressed with the walk over the parameters; a chunk of another
    /// layout has none.
    pub(crate) fn set_params_frame(&mut self, source: &[u8], len: usize, compressed: bool) {
        self.params_frame.clear();
        self.params_frame.extend_from_slice(source);
        self.params_frame_len = len;
        self.frames_compressed = compressed;
    }

    /// Finds the bounds of every event's parameters now rather than on
    /// first use: on the thread that decodes a chunk for a reader that
    /// will look at parameters.
    pub(crate) fn prepare_params(&mut self) {
        if self.bounds.get().is_none() {
            let bounds = self.walk();
            let _ = self.bounds.set(bounds);
        }
    }

    /// The bounds of a packed payload's parameters, walked.
    #[cold]
    fn walk(&self) -> ParamBounds {
        let mut bounds =
            std::mem::take(&mut *self.spare_bounds.lock().unwrap_or_else(|e| e.into_inner()));
        let walked = if self.split {
            self.load_params_frame(&mut bounds).and_then(|start| {
                walk_params(
                    &bounds.frame,
                    start,
                    &self.headers.param_count,
                    &mut bounds.params,
                    &mut bounds.blobs,
                    &mut bounds.small_firsts,
                )
            })
        } else {
            walk_params(
                &self.payload,
                self.params_start,
                &self.headers.param_count,
                &mut bounds.params,
                &mut bounds.blobs,
                &mut bounds.small_firsts,
            )
        };
        bounds.damage = match walked {
            Ok(end) if end == self.blob_len as u64 => None,
            Ok(_) => Some("buffer lengths do not add up to the buffer contents"),
            Err(Malformed(reason)) => Some(reason),
        };
        if bounds.damage.is_some() {
            bounds.params.clear();
            bounds
                .params
                .resize(self.len() + 1, self.params_start as u32);
            bounds.blobs.clear();
            bounds.blobs.resize(self.len() + 1, 0);
            bounds.small_firsts.clear();
            bounds.small_firsts.resize(self.len(), NO_SMALL_FIRST);
        }
        bounds
    }

    /// Decompresses a split payload's parameter frame into `bounds.frame`
    /// and reads its string table; returns where the parameters start.
    fn load_params_frame(&self, bounds: &mut ParamBounds) -> WireResult<usize> {
        let frame = &mut bounds.frame;
        frame.clear();
        if self.frames_compressed {
            frame.reserve(self.params_frame_len);
            if !crate::reader::decompress_to(&self.params_frame, frame) {
                return Err(Malformed("the parameter frame does not decompress"));
            }
        } else {
            frame.extend_from_slice(&self.params_frame);
        }
        if frame.len() != self.params_frame_len {
            return Err(Malformed(
                "the parameter frame differs in size from its length",
            ));
        }
        if frame.len() > u32::MAX as usize {
            return Err(Malformed("parameter frame larger than 4 GiB"));
        }
        read_string_table(frame, &mut bounds.strings)
    }

    #[inline]
    fn bounds(&self) -> &ParamBounds {
        self.bounds.get_or_init(|| self.walk())
    }

    /// Decodes every parameter of every event, to find damage that the lazy
    /// accessors would otherwise only meet when asked.
    ///
    /// # Errors
    /// The first undecodable parameter, with the chunk's offset.
    pub fn validate(&self) -> crate::Result<()> {
        self.validate_params()
            .map_err(|e| crate::FormatError::corrupt("event parameters", self.offset, e.0))
    }

    fn validate_params(&self) -> WireResult<()> {
        if let Some(damage) = self.bounds().damage {
            return Err(Malformed(damage));
        }
        if self.blob.get().is_none() {
            self.load_blob().map_err(Malformed)?;
        }
        for index in 0..self.len() {
            let mut cursor = Cursor::new(self.param_bytes(index));
            let mut blob = self.blob_span(index);
            for _ in 0..self.headers.param_count[index] {
                decode_value(self, &mut cursor, &mut blob, self.headers.ret[index])?;
            }
            if !cursor.is_empty() || blob.start != blob.end {
                return Err(Malformed("parameter bytes left over"));
            }
        }
        Ok(())
    }

    #[inline]
    fn blob_span(&self, index: usize) -> std::ops::Range<usize> {
        let blobs = &self.bounds().blobs;
        blobs[index] as usize..blobs[index + 1] as usize
    }

    #[inline]
    fn param_bytes(&self, index: usize) -> &[u8] {
        let bounds = self.bounds();
        let start = bounds.params[index] as usize;
        let end = bounds.params[index + 1] as usize;
        self.param_source(bounds)
            .get(start..end)
            .unwrap_or_default()
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// Whether the chunk holds no events.
    pub fn is_empty(&self) -> bool {
        self.headers.len() == 0
    }

    /// Zero-based number of the first event within the file.
    pub fn first_num(&self) -> u64 {
        self.first_num
    }

    /// Byte offset of the chunk's block in its file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The event at `index`, if any.
    pub fn get(&self, index: usize) -> Option<EventView<'_>> {
        (index < self.len()).then_some(EventView { chunk: self, index })
    }

    /// Iterates over the events in file order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = EventView<'_>> + '_ {
        (0..self.len()).map(move |index| EventView { chunk: self, index })
    }

    /// Iterates over the events at positions `range` (those the chunk
    /// has), in file order.
    pub fn iter_range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl ExactSizeIterator<Item = EventView<'_>> + '_ {
        let end = range.end.min(self.len());
        (range.start.min(end)..end).map(move |index| EventView { chunk: self, index })
    }

    /// Where parameters and strings are read from: the payload, or a
    /// split payload's parameter frame.
    #[inline]
    fn param_source<'s>(&'s self, bounds: &'s ParamBounds) -> &'s [u8] {
        if self.split {
            &bounds.frame
        } else {
            &self.payload
        }
    }

    #[inline]
    fn string(&self, id: u32) -> WireResult<&[u8]> {
        let (source, table): (&[u8], &[(u32, u32)]) = if self.split {
            let bounds = self.bounds();
            (&bounds.frame, &bounds.strings)
        } else {
            (&self.payload, &self.strings)
        };
        let &(start, len) = table
            .get(id as usize)
            .ok_or(Malformed("string index out of range"))?;
        let start = start as usize;
        Ok(source.get(start..start + len as usize).unwrap_or_default())
    }
}

/// Decodes one tagged value; strings resolve through the chunk's table and
/// buffer bytes are taken, in order, from the event's span of the blob.
/// Inlined into the iterator over parameters: the value then goes to its
/// reader in registers, not through memory.
#[inline(always)]
fn decode_value<'a>(
    chunk: &'a DecodedChunk,
    cursor: &mut Cursor<'a>,
    blob: &mut std::ops::Range<usize>,
    ret: i64,
) -> WireResult<ValueRef<'a>> {
    Ok(match cursor.u8()? {
        tag::ABSENT => ValueRef::Absent,
        tag::INT_RET => ValueRef::Int(ret),
        tag::UINT_RET => ValueRef::Uint(ret as u64),
        tag::FD_RET => ValueRef::Fd(ret),
        tag::INT => ValueRef::Int(cursor.ivarint()?),
        tag::UINT => ValueRef::Uint(cursor.uvarint()?),
        tag::FD => ValueRef::Fd(cursor.ivarint()?),
        tag::STR => ValueRef::Str(chunk.string(cursor.uvarint_as("string index out of range")?)?),
        tag::BYTES => {
            let len: usize = cursor.uvarint_as("buffer length too large")?;
            let end = blob.start.checked_add(len).filter(|&end| end <= blob.end);
            let end = end.ok_or(Malformed("buffer bytes out of range"))?;
            let bytes = chunk
                .blob()
                .get(blob.start..end)
                .ok_or(Malformed("buffer bytes out of range"))?;
            blob.start = end;
            ValueRef::Bytes(bytes)
        }
        tag::SOCKADDR => ValueRef::SockAddr(read_sockaddr(cursor)?),
        tag::STR_LIST => {
            let count: usize = cursor.uvarint_as("list too long")?;
            let start = cursor.position();
            for _ in 0..count {
                chunk.string(cursor.uvarint_as("string index out of range")?)?;
            }
            let ids = Cursor::new(cursor.slice_from(start));
            ValueRef::StrList(StrListRef {
                chunk,
                ids,
                len: count,
            })
        }
        _ => return Err(Malformed("unknown value tag")),
    })
}

/// A borrowed view of one decoded event.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    chunk: &'a DecodedChunk,
    index: usize,
}

impl<'a> EventView<'a> {
    /// Zero-based number of the event within the file (`evt.num` is this
    /// plus one).
    #[inline]
    pub fn num(&self) -> u64 {
        self.chunk.first_num.saturating_add(self.index as u64)
    }
    /// Timestamp, ns since the epoch.
    #[inline]
    pub fn ts(&self) -> u64 {
        self.chunk.headers.ts[self.index]
    }
    /// Thread id.
    #[inline]
    pub fn tid(&self) -> u32 {
        self.chunk.headers.tid[self.index]
    }
    /// Process id.
    #[inline]
    pub fn tgid(&self) -> u32 {
        self.chunk.headers.tgid[self.index]
    }
    /// CPU.
    #[inline]
    pub fn cpu(&self) -> u16 {
        self.chunk.headers.cpu[self.index]
    }
    /// Event type.
    #[inline]
    pub fn event_type(&self) -> EventType {
        self.chunk.headers.event_type[self.index]
    }
    /// Return value.
    #[inline]
    pub fn ret(&self) -> i64 {
        self.chunk.headers.ret[self.index]
    }
    /// Syscall duration in ns, 0 when not measured.
    #[inline]
    pub fn latency(&self) -> u64 {
        self.chunk.headers.latency[self.index]
    }
    /// Number of parameters.
    #[inline]
    pub fn param_count(&self) -> usize {
        usize::from(self.chunk.headers.param_count[self.index])
    }

    /// Parameter `index`, if present.
    pub fn param(&self, index: usize) -> Option<ValueRef<'a>> {
        self.params().nth(index)
    }

    /// Parameter `index` if it is an fd or an integer: the fast path for the
    /// lookups every fd field makes, which skips building a [`ValueRef`].
    #[inline]
    pub fn param_int(&self, index: usize) -> Option<i64> {
        // The first parameter (the fd of most calls) in one byte, as the
        // walk found it: no cursor, no skipping, no call.
        if index == 0
            && let Some(&first) = self.chunk.bounds().small_firsts.get(self.index)
            && first != NO_SMALL_FIRST
        {
            return Some(first.into());
        }
        self.param_int_decoded(index)
    }

    #[inline(never)]
    fn param_int_decoded(&self, index: usize) -> Option<i64> {
        if index >= self.param_count() {
            return None;
        }
        let mut cursor = Cursor::new(self.chunk.param_bytes(self.index));
        if index > 0 {
            let mut blob = self.chunk.blob_span(self.index);
            for _ in 0..index {
                decode_value(self.chunk, &mut cursor, &mut blob, self.ret()).ok()?;
            }
        }
        match cursor.u8().ok()? {
            tag::FD | tag::INT => cursor.ivarint().ok(),
            tag::FD_RET | tag::INT_RET => Some(self.ret()),
            _ => None,
        }
    }

    /// All parameters, in order. Parameters are decoded as the iterator
    /// advances; damaged parameter bytes end it early (`scry verify` reports
    /// such damage).
    #[inline]
    pub fn params(&self) -> Params<'a> {
        let bytes = self.chunk.param_bytes(self.index);
        Params {
            chunk: self.chunk,
            cursor: Cursor::new(bytes),
            blob: self.chunk.blob_span(self.index),
            remaining: self.param_count(),
            ret: self.ret(),
        }
    }

    /// An owned copy of the event.
    pub fn to_event(&self) -> Event {
        Event {
            ts: self.ts(),
            tid: self.tid(),
            tgid: self.tgid(),
            cpu: self.cpu(),
            event_type: self.event_type(),
            ret: self.ret(),
            latency: self.latency(),
            params: self.params().map(|value| value.to_value()).collect(),
        }
    }
}

/// Iterator over an event's parameters.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    chunk: &'a DecodedChunk,
    cursor: Cursor<'a>,
    blob: std::ops::Range<usize>,
    remaining: usize,
    ret: i64,
}

impl<'a> Iterator for Params<'a> {
    type Item = ValueRef<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<ValueRef<'a>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        match decode_value(self.chunk, &mut self.cursor, &mut self.blob, self.ret) {
            Ok(value) => Some(value),
            Err(_) => {
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

/// A borrowed event parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef<'a> {
    /// Not captured.
    Absent,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A file descriptor.
    Fd(i64),
    /// Text as the kernel gave it.
    Str(&'a [u8]),
    /// Buffer contents.
    Bytes(&'a [u8]),
    /// A socket address.
    SockAddr(SockAddrRef<'a>),
    /// A list of strings.
    StrList(StrListRef<'a>),
}

impl ValueRef<'_> {
    /// An owned copy.
    pub fn to_value(&self) -> Value {
        match *self {
            ValueRef::Absent => Value::Absent,
            ValueRef::Int(v) => Value::Int(v),
            ValueRef::Uint(v) => Value::Uint(v),
            ValueRef::Fd(v) => Value::Fd(v),
            ValueRef::Str(text) => Value::Str(text.to_vec()),
            ValueRef::Bytes(bytes) => Value::Bytes(bytes.to_vec()),
            ValueRef::SockAddr(addr) => Value::SockAddr(addr.to_sockaddr()),
            ValueRef::StrList(list) => Value::StrList(list.iter().map(<[u8]>::to_vec).collect()),
        }
    }
}

/// A borrowed socket address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockAddrRef<'a> {
    /// IPv4 or IPv6 with port.
    Inet(SocketAddr),
    /// A unix-domain path.
    Unix(&'a [u8]),
    /// Another family.
    Other {
        /// The `sa_family` value.
        family: u16,
        /// The address bytes.
        data: &'a [u8],
    },
}

impl SockAddrRef<'_> {
    /// An owned copy.
    pub fn to_sockaddr(&self) -> SockAddr {
        match *self {
            SockAddrRef::Inet(addr) => SockAddr::Inet(addr),
            SockAddrRef::Unix(path) => SockAddr::Unix(path.to_vec()),
            SockAddrRef::Other { family, data } => SockAddr::Other {
                family,
                data: data.to_vec(),
            },
        }
    }
}

/// A borrowed list of strings (already checked against the string table).
#[derive(Clone)]
pub struct StrListRef<'a> {
    chunk: &'a DecodedChunk,
    ids: Cursor<'a>,
    len: usize,
}

impl<'a> StrListRef<'a> {
    /// Number of strings.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The strings, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let chunk = self.chunk;
        let mut ids = self.ids;
        (0..self.len).map_while(move |_| {
            let id = ids.uvarint_as::<u32>("string index out of range").ok()?;
            chunk.string(id).ok()
        })
    }
}

impl Copy for StrListRef<'_> {}

impl std::fmt::Debug for StrListRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl PartialEq for StrListRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for StrListRef<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_round_trips_every_value_kind() {
        let event = Event {
            ts: 1_700_000_000_000_000_000,
            tid: 42,
            tgid: 40,
            cpu: 1,
            event_type: 257,
            ret: -2,
            latency: 1500,
            params: vec![
                Value::Absent,
                Value::Int(-5),
                Value::Uint(u64::MAX),
                Value::Fd(3),
                Value::Str(b"/etc/passwd".to_vec()),
                Value::Bytes(vec![0, 1, 2, 255]),
                Value::SockAddr(SockAddr::Inet("127.0.0.1:8080".parse().unwrap())),
                Value::SockAddr(SockAddr::Inet("[::1]:443".parse().unwrap())),
                Value::SockAddr(SockAddr::Unix(b"\0abstract".to_vec())),
                Value::SockAddr(SockAddr::Other {
                    family: 16,
                    data: vec![9, 9],
                }),
                Value::StrList(vec![
                    b"ls".to_vec(),
                    b"-l".to_vec(),
                    b"/etc/passwd".to_vec(),
                ]),
            ],
        };
        let mut second = event.clone();
        second.ts -= 10; // out of order on purpose
        second.tid = 7;
        let mut builder = ChunkBuilder::new();
        builder.push(&event, Some("host"));
        builder.push(&second, None);
        let FinishedChunk {
            summary,
            payload,
            blob,
            ..
        } = builder.finish(100);
        assert_eq!(summary.events, 2);
        assert_eq!(summary.min_ts, second.ts);
        assert_eq!(summary.containers, vec!["host".to_owned()]);
        let chunk = DecodedChunk::decode(payload, blob, 100).unwrap();
        let decoded: Vec<Event> = chunk.iter().map(|e| e.to_event()).collect();
        assert_eq!(decoded, vec![event, second]);
        assert_eq!(chunk.get(1).unwrap().num(), 101);
        let in_memory = DecodedChunk::from_events(&decoded, 7).unwrap();
        let again: Vec<Event> = in_memory.iter().map(|e| e.to_event()).collect();
        assert_eq!(again, decoded);
        assert_eq!(in_memory.get(0).unwrap().num(), 7);
    }

    #[test]
    fn integer_parameters_read_alike_on_the_fast_and_the_decoding_path() {
        let values = [
            0,
            1,
            -1,
            63,
            -64,
            64,
            3,
            1000,
            -100,
            1 << 40,
            i64::MIN,
            i64::MAX,
        ];
        let events: Vec<Event> = values
            .iter()
            .flat_map(|&n| {
                [Value::Fd(n), Value::Int(n)].map(|first| Event {
                    params: vec![first, Value::Str(b"x".to_vec()), Value::Fd(n)],
                    ..Event::default()
                })
            })
            .chain([Event {
                params: vec![Value::Uint(5), Value::Int(6)],
                ..Event::default()
            }])
            .chain([Event::default()])
            .collect();
        let chunk = DecodedChunk::from_events(&events, 0).unwrap();
        for (event, view) in events.iter().zip(chunk.iter()) {
            for index in 0..4 {
                let expected = match event.params.get(index) {
                    Some(Value::Fd(n) | Value::Int(n)) => Some(*n),
                    _ => None,
                };
                assert_eq!(view.param_int(index), expected, "{event:?} #{index}");
            }
        }
    }

    #[test]
    fn bad_string_index_is_an_error_not_a_panic() {
        let mut builder = ChunkBuilder::new();
        builder.push(
            &Event {
                params: vec![Value::Str(b"x".to_vec())],
                ..Event::default()
            },
            None,
        );
        let FinishedChunk {
            mut payload, blob, ..
        } = builder.finish(0);
        let last = payload.len() - 1;
        payload[last] = 9; // string id 9 of 1
        assert!(DecodedChunk::decode(payload, blob, 0).is_err());
    }

    #[test]
    fn packed_columns_round_trip_at_the_edges_and_refuse_stray_bytes() {
        let values = [
            0,
            1,
            2,
            3,
            127,
            128,
            12_345,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX,
            0,
            1_534_527_342_999_999_999,
        ];
        let mut column = Vec::new();
        put_packed(&mut column, &values);
        let mut back = Vec::new();
        decode_packed(&column, values.len(), &mut back).unwrap();
        assert_eq!(back, values);
        let mut longer = column.clone();
        longer.push(0);
        assert!(decode_packed(&longer, values.len(), &mut back).is_err());
        assert!(decode_packed(&column[..column.len() - 1], values.len(), &mut back).is_err());
        assert!(decode_packed(&[65], 1, &mut back).is_err());
    }

    #[test]
    fn parameters_are_walked_on_first_use_and_damage_reads_as_none() {
        let event = Event {
            params: vec![Value::Str(b"x".to_vec()), Value::Int(300)],
            ..Event::default()
        };
        let mut builder = ChunkBuilder::new();
        builder.push(&event, None);
        let FinishedChunk {
            summary, payload, ..
        } = builder.finish(0);
        assert_eq!(summary.layout, PayloadLayout::Packed);
        let decode = |payload: Vec<u8>| {
            let mut chunk = DecodedChunk::default();
            *chunk.payload_buffer() = payload;
            chunk.decode_payload(0, 0, summary.layout).unwrap();
            chunk
        };

        let chunk = decode(payload.clone());
        assert!(chunk.bounds.get().is_none(), "headers alone walk nothing");
        assert_eq!(chunk.get(0).unwrap().to_event(), event);
        assert!(chunk.bounds.get().is_some());
        let mut prepared = decode(payload.clone());
        prepared.prepare_params();
        assert!(prepared.bounds.get().is_some());
        assert!(prepared.validate().is_ok());

        // The last varint loses its final byte: the headers still read,
        // the parameters read as none, and validation says why.
        let mut cut = payload;
        cut.pop();
        let chunk = decode(cut);
        let view = chunk.get(0).unwrap();
        assert_eq!(view.param_count(), 2);
        assert_eq!(view.params().count(), 0);
        assert_eq!(view.param_int(1), None);
        let error = chunk.validate().unwrap_err().to_string();
        assert!(error.contains("parameters run past the payload"), "{error}");
    }

    fn round_trip(events: &[Event]) -> ChunkBuilder {
        let mut builder = ChunkBuilder::new();
        for event in events {
            builder.push(event, None);
        }
        let mut again = ChunkBuilder::new();
        for event in events {
            again.push(event, None);
        }
        let chunk = DecodedChunk::decode_finished(again.finish(0), 0).unwrap();
        let decoded: Vec<Event> = chunk.iter().map(|e| e.to_event()).collect();
        assert_eq!(decoded, events);
        builder
    }

    #[test]
    fn large_chunks_split_their_parameters_into_a_frame_of_their_own() {
        let events: Vec<Event> = (0..SPLIT_EVENTS as u64 + 5)
            .map(|i| Event {
                ts: 1_700_000_000_000_000_000 + i * 1_000,
                tid: 100 + (i % 3) as u32,
                tgid: 100,
                event_type: (i % 4) as u16,
                ret: i as i64 - 2,
                latency: i % 700,
                params: vec![
                    Value::Fd(3),
                    Value::Str(format!("/tmp/file{}", i % 9).into_bytes()),
                    Value::Bytes(vec![i as u8; (i % 5) as usize]),
                    Value::Int(i as i64 - 2),
                ],
                ..Event::default()
            })
            .collect();
        let mut builder = ChunkBuilder::new();
        for event in &events {
            builder.push(event, None);
        }
        let finished = builder.finish(0);
        assert_eq!(finished.summary.layout, PayloadLayout::Split);
        assert!(!finished.params.is_empty());
        let chunk = DecodedChunk::decode_finished(finished, 0).unwrap();
        let decoded: Vec<Event> = chunk.iter().map(|e| e.to_event()).collect();
        assert_eq!(decoded, events);
        // One event fewer than the threshold keeps one frame.
        round_trip(&events[..SPLIT_EVENTS - 1]);
        let mut small = ChunkBuilder::new();
        for event in &events[..SPLIT_EVENTS - 1] {
            small.push(event, None);
        }
        let finished = small.finish(0);
        assert_eq!(finished.summary.layout, PayloadLayout::Packed);
        assert!(finished.params.is_empty());
    }

    #[test]
    fn every_column_mode_round_trips() {
        // Syscalls one after another on one CPU: times as gaps; mmap
        // addresses close together: returns by type; parameters equal to
        // the return value: tags alone.
        let sequential: Vec<Event> = (0..40u64)
            .map(|i| Event {
                ts: 1_700_000_000_000_000_000 + i * 5_000 + (i * 7919) % 1000,
                latency: 1_000 + (i * 104_729) % 3_000,
                event_type: 9,
                ret: 0x7f00_0000_0000 + (i as i64) * 0x20_0000,
                params: if i % 2 == 0 {
                    vec![
                        Value::Uint(0x7f00_0000_0000 + i * 0x20_0000),
                        Value::Uint(4096),
                    ]
                } else {
                    vec![Value::Int(0x7f00_0000_0000 + (i as i64) * 0x20_0000)]
                },
                ..Event::default()
            })
            .collect();
        let builder = round_trip(&sequential);
        assert_eq!(builder.ts_column().0, ts_mode::GAP);
        assert_eq!(builder.ret_column().0, ret_mode::BY_TYPE);
        let ret_tags = builder
            .params
            .iter()
            .filter(|&&b| b == tag::UINT_RET || b == tag::INT_RET);
        assert_eq!(ret_tags.count(), 40);

        // Long blocking calls ending close together: times as deltas;
        // small, varied returns and fds equal to them.
        let blocking: Vec<Event> = (0..40u64)
            .map(|i| Event {
                ts: 1_700_000_000_000_000_000 + i * 10,
                latency: 1_000_000_000 + i * 1_000_003,
                event_type: 7 + (i % 3) as u16,
                ret: (i % 5) as i64 - 2,
                params: vec![Value::Fd((i % 5) as i64 - 2); (i % 4) as usize],
                ..Event::default()
            })
            .collect();
        let builder = round_trip(&blocking);
        assert_eq!(builder.ts_column().0, ts_mode::DELTA);
        assert_eq!(builder.ret_column().0, ret_mode::PLAIN);
        assert!(builder.params.iter().all(|&b| b == tag::FD_RET));
    }
}
