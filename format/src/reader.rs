//! Reading a whole trace held in memory (a `Vec`, a slice, or a memory map
//! owned by the caller): random access to chunks through the index, parallel
//! decoding, verification, and recovery of files that were cut off or
//! damaged.

use std::cell::RefCell;
use std::ops::ControlFlow;

use crate::block::{self, BlockRef, FLAG_ZSTD, HeaderStep, Step, kind};
use crate::chunk::DecodedChunk;
use crate::error::{FormatError, Result};
use crate::index::{ContainerEntry, IndexEntry, PayloadLayout, StatsEntry};
use crate::model::{CaptureStats, FileHeader, Snapshot};
use crate::pipeline::ChunkPool;

/// How strictly to treat damage.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Fail on the first damaged block instead of skipping it.
    pub strict: bool,
}

/// A damaged region that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset where the damage starts.
    pub offset: u64,
    /// Bytes skipped.
    pub len: u64,
    /// What was wrong.
    pub reason: String,
}

/// What the threads decoding chunks do beyond the event headers, for what
/// their reader will look at: work done there is off the visiting thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepare {
    /// Nothing: parameters and buffer contents are found on first use.
    Headers,
    /// Find where each event's parameters lie.
    Params,
    /// That, and decompress the buffer contents.
    Buffers,
}

/// Where and why a file ends early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// Offset of the first byte that is not part of a complete block.
    pub offset: u64,
    /// Bytes after that offset that could not be used.
    pub partial_bytes: u64,
}

/// What the index (or, without one, a scan of the file) says is in it.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub(crate) chunks: Vec<IndexEntry>,
    pub(crate) stats: Vec<StatsEntry>,
    pub(crate) containers: Vec<ContainerEntry>,
    pub(crate) damage: Vec<Damage>,
    pub(crate) truncation: Option<Truncation>,
    pub(crate) has_index: bool,
}

impl Layout {
    /// Takes one checked block found while scanning.
    pub(crate) fn add_block(
        &mut self,
        offset: u64,
        block: BlockRef<'_>,
        next_num: &mut u64,
    ) -> Result<()> {
        match block.kind {
            kind::CHUNK => {
                let mut summary = crate::codec::decode_summary(block.meta)
                    .map_err(|e| FormatError::corrupt("chunk summary", offset, e.0))?;
                // Number events by position, so a lost chunk does not shift
                // the numbers of the ones after it inconsistently.
                if summary.first_num < *next_num {
                    summary.first_num = *next_num;
                }
                *next_num = summary.first_num.saturating_add(u64::from(summary.events));
                self.chunks.push(IndexEntry {
                    offset,
                    block_len: block.len as u64,
                    summary,
                });
            }
            kind::STATS => {
                let stats = crate::codec::decode_stats(block.meta)
                    .map_err(|e| FormatError::corrupt("statistics", offset, e.0))?;
                self.stats.push(StatsEntry { offset, stats });
            }
            kind::CONTAINER => {
                let info = crate::codec::decode_container(block.meta)
                    .map_err(|e| FormatError::corrupt("container record", offset, e.0))?;
                self.containers.push(ContainerEntry { offset, info });
            }
            // A second snapshot, a stray index or a kind from a newer minor
            // version: nothing this reader needs.
            _ => {}
        }
        Ok(())
    }
}

thread_local! {
    /// One zstd context per decoding thread, reused for every chunk.
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Decompresses a zstd frame into `out` with this thread's context; false
/// when the frame is damaged or does not fit `out`'s capacity.
pub(crate) fn decompress_to(frame: &[u8], out: &mut Vec<u8>) -> bool {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let decompressor = match slot.as_mut() {
            Some(decompressor) => decompressor,
            None => match zstd::bulk::Decompressor::new() {
                Ok(made) => slot.insert(made),
                Err(_) => return false,
            },
        };
        decompressor.decompress_to_buffer(frame, out).is_ok()
    })
}

/// The little-endian u32 length at `at` in a chunk body, if the body
/// holds it.
fn length_at(body: &[u8], at: usize) -> Option<usize> {
    let bytes = body.get(at..at + 4)?;
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize)
}

/// Decompresses a chunk block's body and decodes its events into `chunk`,
/// reusing its buffers.
pub(crate) fn decode_chunk_block(
    block: BlockRef<'_>,
    offset: u64,
    first_num: u64,
    chunk: &mut DecodedChunk,
    prepare: Prepare,
) -> Result<()> {
    let corrupt = |reason: String| FormatError::corrupt("chunk", offset, reason);
    let summary = crate::codec::decode_summary(block.meta)
        .map_err(|e| FormatError::corrupt("chunk summary", offset, e.0))?;
    let raw_len = summary.raw_len as usize;
    if raw_len > block::MAX_BLOCK_LEN {
        return Err(corrupt(format!("implausible payload size {raw_len}")));
    }
    // The body is the main frame's length, the main frame, in the split
    // layout the parameter frame's lengths and the parameter frame, then
    // the buffer contents (kept as they are until a parameter needs them).
    let main_len = length_at(block.body, 0)
        .ok_or_else(|| corrupt("chunk body shorter than its length field".to_owned()))?;
    let main = block
        .body
        .get(4..4 + main_len)
        .ok_or_else(|| corrupt("chunk body shorter than its main frame".to_owned()))?;
    let compressed = block.flags & FLAG_ZSTD != 0;
    let mut blob = &block.body[4 + main_len..];
    if summary.layout == PayloadLayout::Split {
        let (Some(frame_len), Some(params_len)) = (length_at(blob, 0), length_at(blob, 4)) else {
            return Err(corrupt(
                "chunk body shorter than its parameter frame's lengths".to_owned(),
            ));
        };
        if params_len > block::MAX_BLOCK_LEN {
            return Err(corrupt(format!(
                "implausible parameter frame size {params_len}"
            )));
        }
        let frame = blob
            .get(8..8 + frame_len)
            .ok_or_else(|| corrupt("chunk body shorter than its parameter frame".to_owned()))?;
        chunk.set_params_frame(frame, params_len, compressed);
        blob = &blob[8 + frame_len..];
    }
    if summary.blob_len as usize > block::MAX_BLOCK_LEN
        || (summary.blob_len == 0) != blob.is_empty()
    {
        return Err(corrupt(
            "buffer contents differ from the summary".to_owned(),
        ));
    }
    chunk.set_blob(blob, summary.blob_len as usize, compressed);
    if prepare == Prepare::Buffers {
        chunk.preload_blob(decompress_to);
    }
    let payload = chunk.payload_buffer();
    payload.clear();
    if compressed {
        payload.reserve(raw_len);
        DECOMPRESSOR
            .with(|cell| {
                let mut slot = cell.borrow_mut();
                let decompressor = match slot.as_mut() {
                    Some(decompressor) => decompressor,
                    None => slot.insert(zstd::bulk::Decompressor::new()?),
                };
                decompressor.decompress_to_buffer(main, payload)
            })
            .map_err(|e| corrupt(format!("decompression failed: {e}")))?;
    } else {
        payload.extend_from_slice(main);
    }
    if payload.len() != raw_len {
        return Err(corrupt("payload size differs from its summary".to_owned()));
    }
    chunk
        .decode_payload(first_num, offset, summary.layout)
        .map_err(|e| corrupt(e.0.to_owned()))?;
    if chunk.len() != summary.events as usize {
        return Err(corrupt("event count differs from its summary".to_owned()));
    }
    if prepare != Prepare::Headers {
        chunk.prepare_params();
    }
    Ok(())
}

pub(crate) fn decode_snapshot_block(block: BlockRef<'_>, offset: u64) -> Result<Snapshot> {
    if block.kind != kind::SNAPSHOT {
        return Err(FormatError::corrupt(
            "snapshot",
            offset,
            "the first block is not a state snapshot",
        ));
    }
    let bytes = if block.flags & FLAG_ZSTD != 0 {
        // Bounded: a crafted frame must not expand without limit.
        let decoder = zstd::stream::read::Decoder::new(block.body)?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(decoder, block::MAX_BLOCK_LEN as u64 + 1),
            &mut out,
        )
        .map_err(|e| {
            FormatError::corrupt("snapshot", offset, format!("decompression failed: {e}"))
        })?;
        if out.len() > block::MAX_BLOCK_LEN {
            return Err(FormatError::corrupt(
                "snapshot",
                offset,
                "larger than 1 GiB once decompressed",
            ));
        }
        out
    } else {
        block.body.to_vec()
    };
    crate::codec::decode_snapshot(&bytes).map_err(|e| FormatError::corrupt("snapshot", offset, e.0))
}

/// A trace file held in memory.
#[derive(Debug)]
pub struct TraceFile<D: AsRef<[u8]>> {
    data: D,
    header: FileHeader,
    version: (u16, u16),
    snapshot: Snapshot,
    layout: Layout,
    options: ReadOptions,
    /// Where the blocks after the snapshot start.
    body_start: usize,
}

impl<D: AsRef<[u8]>> TraceFile<D> {
    /// Opens a trace with default (lenient) options.
    ///
    /// # Errors
    /// See [`TraceFile::open_with`].
    pub fn open(data: D) -> Result<Self> {
        Self::open_with(data, ReadOptions::default())
    }

    /// Opens a trace: parses the header and the snapshot, then reads the
    /// index, or rebuilds it by scanning when the file has none (cut off) or
    /// it is damaged.
    ///
    /// # Errors
    /// An empty file, bad magic, an unsupported version or a damaged header
    /// always fail; a damaged snapshot or block fails only when `strict`.
    pub fn open_with(data: D, options: ReadOptions) -> Result<Self> {
        let bytes = data.as_ref();
        if bytes.is_empty() {
            return Err(FormatError::Empty);
        }
        let parsed = match block::parse_file_header(bytes)? {
            HeaderStep::Parsed(parsed) => parsed,
            HeaderStep::NeedMore(needed) => {
                return Err(FormatError::TruncatedHeader {
                    needed: needed as u64,
                    actual: bytes.len() as u64,
                });
            }
        };
        let mut layout = Layout::default();
        let snapshot_offset = parsed.len;
        let mut snapshot = Snapshot::default();
        let mut body_start = snapshot_offset;
        match block::next_step(&bytes[snapshot_offset..], true) {
            Step::Block(block) => {
                body_start += block.len;
                match decode_snapshot_block(block, snapshot_offset as u64) {
                    Ok(decoded) => snapshot = decoded,
                    Err(error) if options.strict => return Err(error),
                    Err(error) => layout.damage.push(Damage {
                        offset: snapshot_offset as u64,
                        len: block.len as u64,
                        reason: error.to_string(),
                    }),
                }
            }
            Step::End | Step::NeedMore(_) => {
                layout.truncation = Some(Truncation {
                    offset: snapshot_offset as u64,
                    partial_bytes: (bytes.len() - snapshot_offset) as u64,
                });
                return Ok(TraceFile {
                    data,
                    header: parsed.header,
                    version: parsed.version,
                    snapshot,
                    layout,
                    options,
                    body_start,
                });
            }
            Step::Damaged { skip, reason } => {
                if options.strict {
                    return Err(FormatError::corrupt(
                        "snapshot",
                        snapshot_offset as u64,
                        reason,
                    ));
                }
                layout.damage.push(Damage {
                    offset: snapshot_offset as u64,
                    len: skip as u64,
                    reason: format!("state snapshot: {reason}"),
                });
                body_start += skip;
            }
        }
        if !read_index(bytes, body_start, &mut layout) {
            layout = scan(bytes, body_start, layout.damage, options)?;
        }
        Ok(TraceFile {
            data,
            header: parsed.header,
            version: parsed.version,
            snapshot,
            layout,
            options,
            body_start,
        })
    }

    /// The file header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The format version of the file, `(major, minor)`.
    pub fn version(&self) -> (u16, u16) {
        self.version
    }

    /// The state snapshot at the start of the file.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Every readable chunk, in file order.
    pub fn chunks(&self) -> &[IndexEntry] {
        &self.layout.chunks
    }

    /// Every statistics record, in file order.
    pub fn stats(&self) -> &[StatsEntry] {
        &self.layout.stats
    }

    /// The containers first seen during the capture (format 1.4), in file
    /// order: those the snapshot could not describe. A container appears
    /// at most once in a file, here or in the snapshot.
    pub fn recorded_containers(&self) -> &[ContainerEntry] {
        &self.layout.containers
    }

    /// The last statistics record, i.e. the capture's totals.
    pub fn final_stats(&self) -> Option<&CaptureStats> {
        self.layout.stats.last().map(|entry| &entry.stats)
    }

    /// Damaged regions found while opening.
    pub fn damage(&self) -> &[Damage] {
        &self.layout.damage
    }

    /// Set when the file ends early (the writer did not finish).
    pub fn truncation(&self) -> Option<&Truncation> {
        self.layout.truncation.as_ref()
    }

    /// Whether the file was opened through its index footer.
    pub fn has_index(&self) -> bool {
        self.layout.has_index
    }

    /// Total events in the readable chunks.
    pub fn event_count(&self) -> u64 {
        self.layout
            .chunks
            .iter()
            .map(|c| u64::from(c.summary.events))
            .sum()
    }

    /// Earliest and latest event timestamps, if there are events.
    pub fn time_range(&self) -> Option<(u64, u64)> {
        let chunks = self.layout.chunks.iter().filter(|c| c.summary.events > 0);
        chunks.fold(None, |range, c| {
            let (lo, hi) = range.unwrap_or((c.summary.min_ts, c.summary.max_ts));
            Some((lo.min(c.summary.min_ts), hi.max(c.summary.max_ts)))
        })
    }

    /// Decodes one chunk.
    ///
    /// # Errors
    /// A checksum mismatch or undecodable data, with the chunk's offset.
    pub fn decode_chunk(&self, entry: &IndexEntry) -> Result<DecodedChunk> {
        let mut chunk = DecodedChunk::default();
        decode_at(self.data.as_ref(), entry, &mut chunk, Prepare::Headers)?;
        Ok(chunk)
    }

    /// Decodes the chosen chunks on `threads` threads and visits them in file
    /// order. A damaged chunk is passed to `visit` as an error, which may
    /// skip it and go on or stop. With `strict` set the first error stops
    /// the walk and is returned.
    ///
    /// # Errors
    /// Only in strict mode: the first chunk that fails to decode.
    pub fn for_each_chunk<B>(
        &self,
        threads: usize,
        select: impl Fn(&IndexEntry) -> bool,
        visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>> {
        self.for_each_chunk_prepared(threads, select, Prepare::Headers, visit)
    }

    /// As [`TraceFile::for_each_chunk`], with the decoding threads also
    /// doing what `prepare` asks of them: finding where each event's
    /// parameters lie, for a reader that looks at the parameters of many
    /// events (replaying the state), or decompressing buffer contents too,
    /// for one that looks at most of them (printing `evt.info`), rather
    /// than on first use on the visiting thread.
    ///
    /// # Errors
    /// Only in strict mode: the first chunk that fails to decode.
    pub fn for_each_chunk_prepared<B>(
        &self,
        threads: usize,
        select: impl Fn(&IndexEntry) -> bool,
        prepare: Prepare,
        visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>> {
        let data = self.data.as_ref();
        let chosen = self.layout.chunks.iter().filter(|entry| select(entry));
        let decode =
            |entry: &IndexEntry, chunk: &mut DecodedChunk| decode_at(data, entry, chunk, prepare);
        crate::pipeline::decode_ordered(chosen, threads, self.options.strict, decode, visit)
    }

    /// As [`TraceFile::for_each_chunk`], handing each chunk over to
    /// `visit` to keep, so that its events can be used on another thread
    /// while the next chunks are decoded. Chunks are decoded into the
    /// buffers of those given back to `pool`; the decoding threads also do
    /// what `prepare` asks of them.
    ///
    /// # Errors
    /// Only in strict mode: the first chunk that fails to decode.
    pub fn for_each_chunk_owned<B>(
        &self,
        threads: usize,
        select: impl Fn(&IndexEntry) -> bool,
        prepare: Prepare,
        pool: &ChunkPool,
        visit: impl FnMut(Result<DecodedChunk>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>> {
        let data = self.data.as_ref();
        let chosen = self.layout.chunks.iter().filter(|entry| select(entry));
        let decode =
            |entry: &IndexEntry, chunk: &mut DecodedChunk| decode_at(data, entry, chunk, prepare);
        crate::pipeline::decode_owned(chosen, threads, self.options.strict, pool, decode, visit)
    }

    /// Checks every checksum and decodes every chunk.
    pub fn verify(&self, threads: usize) -> VerifyReport {
        let data = self.data.as_ref();
        // Every block, not only those the index names: statistics and any
        // bytes between blocks are checked too.
        let walked = scan(
            data,
            self.body_start,
            self.layout.damage.clone(),
            ReadOptions::default(),
        );
        let (damage, truncation) = match walked {
            Ok(walked) => (
                walked.damage,
                walked.truncation.or_else(|| self.layout.truncation.clone()),
            ),
            Err(_) => (self.layout.damage.clone(), self.layout.truncation.clone()),
        };
        let mut report = VerifyReport {
            damage,
            truncation,
            ..VerifyReport::default()
        };
        let _ = crate::pipeline::ordered_map(
            self.layout.chunks.iter(),
            threads,
            |entry| {
                let mut chunk = DecodedChunk::default();
                let result = decode_at(data, entry, &mut chunk, Prepare::Params)
                    .and_then(|()| chunk.validate());
                (entry, result.map(|()| chunk.len()))
            },
            |(entry, result)| {
                match result {
                    Ok(events) => {
                        report.chunks_ok += 1;
                        report.events_ok += events as u64;
                    }
                    Err(error) => report.damage.push(Damage {
                        offset: entry.offset,
                        len: entry.block_len,
                        reason: error.to_string(),
                    }),
                }
                ControlFlow::<()>::Continue(())
            },
        );
        report.damage.sort_by_key(|d| d.offset);
        report.damage.dedup_by_key(|d| d.offset);
        report
    }
}

/// The outcome of [`TraceFile::verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Chunks that decoded with good checksums.
    pub chunks_ok: u64,
    /// Events in those chunks.
    pub events_ok: u64,
    /// Every damaged region, in file order.
    pub damage: Vec<Damage>,
    /// Set when the file ends early.
    pub truncation: Option<Truncation>,
}

impl VerifyReport {
    /// Whether the file is whole and undamaged.
    pub fn is_clean(&self) -> bool {
        self.damage.is_empty() && self.truncation.is_none()
    }
}

fn decode_at(
    data: &[u8],
    entry: &IndexEntry,
    chunk: &mut DecodedChunk,
    prepare: Prepare,
) -> Result<()> {
    let start = usize::try_from(entry.offset).unwrap_or(usize::MAX);
    let bytes = data.get(start..).unwrap_or_default();
    match block::next_step(bytes, true) {
        Step::Block(block) if block.kind == kind::CHUNK => {
            decode_chunk_block(block, entry.offset, entry.summary.first_num, chunk, prepare)
        }
        Step::Block(_) => Err(FormatError::corrupt(
            "chunk",
            entry.offset,
            "the index points at another kind of block",
        )),
        Step::Damaged { reason, .. } => Err(FormatError::corrupt("chunk", entry.offset, reason)),
        Step::NeedMore(_) | Step::End => Err(FormatError::corrupt(
            "chunk",
            entry.offset,
            "the chunk is cut off",
        )),
    }
}

/// Reads the footer index; false when there is none or it is unusable, in
/// which case the caller scans.
fn read_index(bytes: &[u8], body_start: usize, layout: &mut Layout) -> bool {
    use crate::codec::IndexedSummary;
    let Some(offset) = block::parse_trailer(bytes) else {
        return false;
    };
    let Ok(offset) = usize::try_from(offset) else {
        return false;
    };
    let index_end = bytes.len() - block::TRAILER_LEN;
    if offset < body_start || offset > index_end {
        return false;
    }
    let Step::Block(block) = block::next_step(&bytes[offset..index_end], true) else {
        return false;
    };
    if block.kind != kind::INDEX || offset + block.len != index_end {
        return false;
    }
    let Ok((entries, stats, containers)) = crate::codec::decode_index(block.meta) else {
        return false;
    };
    let in_bounds =
        |at: u64, len: u64| at >= body_start as u64 && at.saturating_add(len) <= offset as u64;
    if !entries
        .iter()
        .all(|(c, _)| in_bounds(c.offset, c.block_len))
        || !stats.iter().all(|s| in_bounds(s.offset, 0))
        || !containers.iter().all(|c| in_bounds(c.offset, 0))
    {
        return false;
    }
    let mut chunks = Vec::with_capacity(entries.len());
    for (mut entry, summary) in entries {
        if let IndexedSummary::InBlock(crc) = summary {
            // Only the summary is read here, not the whole block: a summary
            // that is not the one the index vouched for sends the reader to
            // the scan, which checks every block.
            let start = entry.offset as usize;
            let block_bytes = &bytes[start..start + entry.block_len as usize];
            let Some(meta) = block::chunk_meta(block_bytes) else {
                return false;
            };
            if crc32fast::hash(meta) != crc {
                return false;
            }
            let Ok(decoded) = crate::codec::decode_summary(meta) else {
                return false;
            };
            entry.summary = decoded;
        }
        chunks.push(entry);
    }
    layout.chunks = chunks;
    layout.stats = stats;
    layout.containers = containers;
    layout.has_index = true;
    true
}

/// Rebuilds the layout by walking every block from `start`.
fn scan(bytes: &[u8], start: usize, damage: Vec<Damage>, options: ReadOptions) -> Result<Layout> {
    let mut layout = Layout {
        damage,
        ..Layout::default()
    };
    let mut pos = start;
    let mut next_num = 0u64;
    let mut saw_index = false;
    loop {
        if saw_index {
            // After the index only the trailer may follow.
            let rest = &bytes[pos..];
            if rest.len() != block::TRAILER_LEN || block::parse_trailer(rest).is_none() {
                layout.truncation = Some(Truncation {
                    offset: pos as u64,
                    partial_bytes: rest.len() as u64,
                });
            }
            break;
        }
        match block::next_step(&bytes[pos..], true) {
            Step::End => break,
            Step::Block(block) => {
                saw_index = block.kind == kind::INDEX;
                if let Err(error) = layout.add_block(pos as u64, block, &mut next_num) {
                    if options.strict {
                        return Err(error);
                    }
                    layout.damage.push(Damage {
                        offset: pos as u64,
                        len: block.len as u64,
                        reason: error.to_string(),
                    });
                }
                pos += block.len;
            }
            Step::NeedMore(_) => {
                let partial_bytes = (bytes.len() - pos) as u64;
                layout.truncation = Some(Truncation {
                    offset: pos as u64,
                    partial_bytes,
                });
                break;
            }
            Step::Damaged { skip, reason } => {
                if options.strict {
                    return Err(FormatError::corrupt("block", pos as u64, reason));
                }
                layout.damage.push(Damage {
                    offset: pos as u64,
                    len: skip as u64,
                    reason: reason.to_owned(),
                });
                pos += skip;
            }
        }
    }
    if !saw_index && layout.truncation.is_none() {
        // Every block is complete but the writer never wrote its index:
        // the capture was killed between two blocks.
        layout.truncation = Some(Truncation {
            offset: bytes.len() as u64,
            partial_bytes: 0,
        });
    }
    Ok(layout)
}
