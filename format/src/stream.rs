//! Reading a trace from a stream (a pipe, stdin) front to back, without
//! seeking and without holding the file in memory. The index footer is not
//! needed: every chunk carries its own summary.

use std::io::{self, Read};
use std::ops::ControlFlow;

use crate::block::{self, HeaderStep, Step, kind};
use crate::chunk::DecodedChunk;
use crate::error::{FormatError, Result};
use crate::index::{ContainerEntry, IndexEntry};
use crate::model::{CaptureStats, FileHeader, Snapshot};
use crate::reader::{
    Damage, Layout, Prepare, ReadOptions, Truncation, decode_chunk_block, decode_snapshot_block,
};

const READ_SIZE: usize = 1 << 20;

/// One item of a stream, in file order.
#[derive(Debug)]
pub enum StreamItem {
    /// A chunk, still compressed.
    Chunk(RawChunk),
    /// A statistics record.
    Stats(CaptureStats),
}

/// A chunk block as read from the stream, decoded on demand (possibly on
/// another thread).
#[derive(Debug)]
pub struct RawChunk {
    /// Where the chunk is and what it holds.
    pub entry: IndexEntry,
    block: Vec<u8>,
}

impl RawChunk {
    /// Decompresses and decodes the chunk.
    ///
    /// # Errors
    /// Undecodable data, with the chunk's offset.
    pub fn decode(&self) -> Result<DecodedChunk> {
        let mut chunk = DecodedChunk::default();
        self.decode_into(&mut chunk)?;
        Ok(chunk)
    }

    fn decode_into(&self, chunk: &mut DecodedChunk) -> Result<()> {
        match block::next_step(&self.block, true) {
            Step::Block(block) => decode_chunk_block(
                block,
                self.entry.offset,
                self.entry.summary.first_num,
                chunk,
                Prepare::Headers,
            ),
            _ => Err(FormatError::corrupt(
                "chunk",
                self.entry.offset,
                "block changed after checking",
            )),
        }
    }
}

/// A trace read front to back, chunk by chunk: a `.scry` file read as a
/// stream ([`StreamReader`]), or a capture in another format converted as
/// it is read ([`crate::scap::ScapStream`]).
pub trait ChunkSource {
    /// The file header.
    fn header(&self) -> &FileHeader;

    /// The state snapshot the events start from.
    fn snapshot(&self) -> &Snapshot;

    /// Hands every chunk to `visit`, in order, decoding on `threads`
    /// threads. Records of the event types `params_of` marks `false` (by
    /// type id) may come without their parameters: a reader that never
    /// looks into them says so, and a source that would have to convert
    /// them leaves them out. `None` asks for every parameter.
    ///
    /// # Errors
    /// As the implementations say.
    fn stream_chunks<B>(
        &mut self,
        threads: usize,
        params_of: Option<&[bool]>,
        visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>>;
}

impl<R: Read + Send> ChunkSource for StreamReader<R> {
    fn header(&self) -> &FileHeader {
        &self.header
    }

    fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Every parameter is stored already: `params_of` changes nothing.
    fn stream_chunks<B>(
        &mut self,
        threads: usize,
        _params_of: Option<&[bool]>,
        visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>> {
        self.for_each_chunk(threads, visit)
    }
}

impl<D: AsRef<[u8]> + Send + Sync> ChunkSource for crate::scap::ScapStream<D> {
    fn header(&self) -> &FileHeader {
        self.header()
    }

    fn snapshot(&self) -> &Snapshot {
        self.snapshot()
    }

    fn stream_chunks<B>(
        &mut self,
        threads: usize,
        params_of: Option<&[bool]>,
        visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>> {
        self.for_each_chunk(threads, params_of, visit)
    }
}

/// Reads a trace from any [`Read`], front to back.
#[derive(Debug)]
pub struct StreamReader<R: Read> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    done: bool,
    header: FileHeader,
    version: (u16, u16),
    snapshot: Snapshot,
    layout: Layout,
    next_num: u64,
    options: ReadOptions,
}

impl<R: Read> StreamReader<R> {
    /// Reads the header and the snapshot.
    ///
    /// # Errors
    /// As [`crate::TraceFile::open_with`], plus I/O errors.
    pub fn open(inner: R, options: ReadOptions) -> Result<Self> {
        let mut reader = StreamReader {
            inner,
            buf: Vec::new(),
            start: 0,
            offset: 0,
            eof: false,
            done: false,
            header: FileHeader::default(),
            version: (0, 0),
            snapshot: Snapshot::default(),
            layout: Layout::default(),
            next_num: 0,
            options,
        };
        let parsed = loop {
            match block::parse_file_header(&reader.buf)? {
                HeaderStep::Parsed(parsed) => break parsed,
                HeaderStep::NeedMore(needed) => {
                    if !reader.fill(needed)? {
                        if reader.buf.is_empty() {
                            return Err(FormatError::Empty);
                        }
                        return Err(FormatError::TruncatedHeader {
                            needed: needed as u64,
                            actual: reader.buf.len() as u64,
                        });
                    }
                }
            }
        };
        reader.consume(parsed.len);
        reader.header = parsed.header;
        reader.version = parsed.version;
        let snapshot_offset = reader.offset;
        loop {
            let at_eof = reader.eof;
            match block::next_step(&reader.buf[reader.start..], at_eof) {
                Step::Block(block) => {
                    let len = block.len;
                    match decode_snapshot_block(block, snapshot_offset) {
                        Ok(snapshot) => reader.snapshot = snapshot,
                        Err(error) if options.strict => return Err(error),
                        Err(error) => reader.layout.damage.push(Damage {
                            offset: snapshot_offset,
                            len: len as u64,
                            reason: error.to_string(),
                        }),
                    }
                    reader.consume(len);
                    break;
                }
                Step::NeedMore(needed) if !at_eof => {
                    reader.fill(needed)?;
                }
                Step::NeedMore(_) | Step::End => {
                    reader.finish_truncated();
                    break;
                }
                Step::Damaged { skip, reason } => {
                    if options.strict {
                        return Err(FormatError::corrupt("snapshot", snapshot_offset, reason));
                    }
                    reader.layout.damage.push(Damage {
                        offset: snapshot_offset,
                        len: skip as u64,
                        reason: format!("state snapshot: {reason}"),
                    });
                    reader.consume(skip);
                    break;
                }
            }
        }
        Ok(reader)
    }

    /// The file header.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The format version, `(major, minor)`.
    pub fn version(&self) -> (u16, u16) {
        self.version
    }

    /// The state snapshot.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Damage skipped so far.
    pub fn damage(&self) -> &[Damage] {
        &self.layout.damage
    }

    /// Set once the stream has ended early.
    pub fn truncation(&self) -> Option<&Truncation> {
        self.layout.truncation.as_ref()
    }

    /// Statistics records read so far.
    pub fn stats(&self) -> impl Iterator<Item = &CaptureStats> {
        self.layout.stats.iter().map(|entry| &entry.stats)
    }

    /// The containers first seen during the capture (format 1.4) read so
    /// far, in file order.
    pub fn recorded_containers(&self) -> &[ContainerEntry] {
        &self.layout.containers
    }

    /// The next chunk or statistics record, `None` at the end.
    ///
    /// # Errors
    /// I/O errors, and damage when `strict`.
    pub fn next_item(&mut self) -> Result<Option<StreamItem>> {
        while !self.done {
            let at_eof = self.eof;
            let pos = self.offset;
            let data = &self.buf[self.start..];
            match block::next_step(data, at_eof) {
                Step::End if at_eof => self.finish_truncated(),
                Step::End | Step::NeedMore(_) if !at_eof => {
                    let needed = match block::next_step(data, false) {
                        Step::NeedMore(needed) => needed,
                        _ => block::BLOCK_HEADER_LEN,
                    };
                    self.fill(needed)?;
                }
                Step::End | Step::NeedMore(_) => self.finish_truncated(),
                Step::Damaged { skip, reason } => {
                    if self.options.strict {
                        return Err(FormatError::corrupt("block", pos, reason));
                    }
                    self.layout.damage.push(Damage {
                        offset: pos,
                        len: skip as u64,
                        reason: reason.to_owned(),
                    });
                    self.consume(skip);
                }
                Step::Block(block) => {
                    let len = block.len;
                    let item = match block.kind {
                        kind::CHUNK | kind::STATS | kind::CONTAINER => {
                            let before = (self.layout.chunks.len(), self.layout.stats.len());
                            if let Err(error) =
                                self.layout.add_block(pos, block, &mut self.next_num)
                            {
                                if self.options.strict {
                                    return Err(error);
                                }
                                self.layout.damage.push(Damage {
                                    offset: pos,
                                    len: len as u64,
                                    reason: error.to_string(),
                                });
                                None
                            } else if self.layout.chunks.len() > before.0 {
                                let entry = self.layout.chunks.pop().unwrap_or_default();
                                Some(StreamItem::Chunk(RawChunk {
                                    entry,
                                    block: data[..len].to_vec(),
                                }))
                            } else if self.layout.stats.len() > before.1 {
                                self.layout
                                    .stats
                                    .last()
                                    .map(|entry| StreamItem::Stats(entry.stats.clone()))
                            } else {
                                // A container record: kept in the layout.
                                None
                            }
                        }
                        kind::INDEX => {
                            self.finish_after_index(len)?;
                            None
                        }
                        _ => None,
                    };
                    self.consume(len);
                    if item.is_some() {
                        return Ok(item);
                    }
                }
            }
        }
        Ok(None)
    }

    /// Decodes the remaining chunks on `threads` threads and visits them in
    /// order; damaged chunks reach `visit` as errors (or stop the walk when
    /// `strict`). Statistics records are collected into [`Self::stats`].
    /// The input is read on a thread of its own, so each chunk is visited
    /// as soon as it is decoded, even while the next one is slow to come (a
    /// live capture on a pipe).
    ///
    /// # Errors
    /// I/O errors, and damage when `strict`.
    pub fn for_each_chunk<B>(
        &mut self,
        threads: usize,
        visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>>
    where
        R: Send,
    {
        let strict = self.options.strict;
        let mut failure = None;
        let items = std::iter::from_fn(|| {
            loop {
                match self.next_item() {
                    Ok(Some(StreamItem::Chunk(chunk))) => return Some(chunk),
                    Ok(Some(StreamItem::Stats(_))) => continue,
                    Ok(None) => return None,
                    Err(error) => {
                        failure = Some(error);
                        return None;
                    }
                }
            }
        });
        let decode = |raw: RawChunk, chunk: &mut DecodedChunk| raw.decode_into(chunk);
        let flow = crate::pipeline::decode_ordered_fed(items, threads, strict, decode, visit)?;
        match failure {
            Some(error) => Err(error),
            None => Ok(flow),
        }
    }

    /// Skips the index block and checks that the trailer ends the stream.
    fn finish_after_index(&mut self, index_len: usize) -> Result<()> {
        self.fill(index_len + block::TRAILER_LEN + 1)?;
        let rest = &self.buf[self.start + index_len..];
        if rest.len() < block::TRAILER_LEN
            || block::parse_trailer(&rest[..block::TRAILER_LEN]).is_none()
        {
            self.layout.truncation = Some(Truncation {
                offset: self.offset + index_len as u64,
                partial_bytes: rest.len() as u64,
            });
        } else if rest.len() > block::TRAILER_LEN {
            self.layout.damage.push(Damage {
                offset: self.offset + (index_len + block::TRAILER_LEN) as u64,
                len: (rest.len() - block::TRAILER_LEN) as u64,
                reason: "bytes after the end of the trace".to_owned(),
            });
        }
        self.done = true;
        Ok(())
    }

    fn finish_truncated(&mut self) {
        let partial_bytes = (self.buf.len() - self.start) as u64;
        self.layout.truncation = Some(Truncation {
            offset: self.offset,
            partial_bytes,
        });
        self.done = true;
    }

    fn consume(&mut self, len: usize) {
        self.start += len;
        self.offset += len as u64;
    }

    /// Reads until `needed` bytes are buffered past `start`; false at EOF.
    fn fill(&mut self, needed: usize) -> io::Result<bool> {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        while self.buf.len() - self.start < needed {
            if self.eof {
                return Ok(false);
            }
            // Grow by at most one read at a time: memory follows the bytes
            // that actually arrive, not the lengths a header claims.
            let old_len = self.buf.len();
            self.buf.resize(old_len + READ_SIZE, 0);
            let read = loop {
                match self.inner.read(&mut self.buf[old_len..]) {
                    Ok(read) => break read,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        self.buf.truncate(old_len);
                        return Err(error);
                    }
                }
            };
            self.buf.truncate(old_len + read);
            if read == 0 {
                self.eof = true;
            }
        }
        Ok(true)
    }
}
