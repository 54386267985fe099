//! The block layer of a scap file: the pcapng-style sequence of
//! `type, length, body, padding, length` records, read from a byte slice
//! (a plain capture, mapped) or from a gzip stream (`sysdig -z`), which is
//! decompressed as it is read rather than into memory.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

/// Bytes of a block's header (type and length) plus its trailer.
const FRAMING: usize = 12;
/// Larger blocks are taken for damage: the biggest real ones (process
/// lists of very busy hosts) are a few MiB.
const MAX_BLOCK: usize = 256 << 20;
/// How much of the gzip stream is decompressed at a time.
const READ_SIZE: usize = 1 << 20;

/// The two compressions a capture may come in.
pub(super) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// What the next read found.
#[derive(Debug)]
pub(super) enum Next<'b> {
    /// A whole block: its type and its body (everything between the length
    /// and the trailer, padding and options included).
    Block { kind: u32, body: &'b [u8] },
    /// The input ended cleanly between two blocks.
    End,
    /// The input ends inside a block: `partial` bytes of it are present.
    Truncated { partial: u64 },
    /// The block cannot be delimited; nothing after it can be trusted.
    Damaged(String),
}

enum Source<'a> {
    /// The whole capture and the position of the next block.
    Slice { data: &'a [u8], pos: usize },
    Gzip {
        decoder: Box<MultiGzDecoder<&'a [u8]>>,
        /// Decompressed bytes not consumed yet are `buf[start..]`.
        buf: Vec<u8>,
        start: usize,
        eof: bool,
        /// Why the stream stopped early, if it did.
        error: Option<io::Error>,
    },
}

/// Reads blocks front to back.
pub(super) struct Blocks<'a> {
    source: Source<'a>,
    /// Offset of the next block in the (decompressed) capture.
    offset: u64,
}

impl std::fmt::Debug for Blocks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocks")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<'a> Blocks<'a> {
    /// Blocks of `bytes`, decompressed first if they are gzip.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        let source = if is_gzip(bytes) {
            Source::Gzip {
                decoder: Box::new(MultiGzDecoder::new(bytes)),
                buf: Vec::with_capacity(READ_SIZE),
                start: 0,
                eof: false,
                error: None,
            }
        } else {
            Source::Slice {
                data: bytes,
                pos: 0,
            }
        };
        Blocks { source, offset: 0 }
    }

    /// Offset of the next block in the decompressed capture.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    /// The decompression error that ended a gzip stream early, if any.
    pub(super) fn stream_error(&self) -> Option<&io::Error> {
        match &self.source {
            Source::Gzip { error, .. } => error.as_ref(),
            Source::Slice { .. } => None,
        }
    }

    /// Makes at least `want` bytes available and returns what is there
    /// (fewer only at the end of the input).
    fn available(&mut self, want: usize) -> &[u8] {
        match &mut self.source {
            Source::Slice { data, pos } => &data[*pos..],
            Source::Gzip {
                decoder,
                buf,
                start,
                eof,
                error,
            } => {
                while buf.len() - *start < want && !*eof {
                    if *start > 0 {
                        buf.drain(..*start);
                        *start = 0;
                    }
                    let have = buf.len();
                    let grow = (want - have).max(READ_SIZE);
                    buf.resize(have + grow, 0);
                    let mut filled = have;
                    while filled < buf.len() {
                        match decoder.read(&mut buf[filled..]) {
                            Ok(0) => {
                                *eof = true;
                                break;
                            }
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                *error = Some(e);
                                *eof = true;
                                break;
                            }
                        }
                    }
                    buf.truncate(filled);
                }
                &buf[*start..]
            }
        }
    }

    /// The first `n` bytes not read yet (fewer at the end of the input).
    pub(super) fn peek(&mut self, n: usize) -> &[u8] {
        let bytes = self.available(n);
        &bytes[..n.min(bytes.len())]
    }

    fn consume(&mut self, len: usize) {
        self.offset += len as u64;
        match &mut self.source {
            Source::Slice { pos, .. } => *pos += len,
            Source::Gzip { start, .. } => *start += len,
        }
    }

    /// The next block.
    pub(super) fn next_block(&mut self) -> Next<'_> {
        let head = self.available(8);
        if head.is_empty() {
            return Next::End;
        }
        if head.len() < 8 {
            return Next::Truncated {
                partial: head.len() as u64,
            };
        }
        let kind = u32_at(head, 0);
        let total = u32_at(head, 4) as usize;
        if total < FRAMING || !total.is_multiple_of(4) || total > MAX_BLOCK {
            return Next::Damaged(format!(
                "block of type {kind:#x} declares an impossible length of {total} bytes"
            ));
        }
        let bytes = self.available(total);
        if bytes.len() < total {
            return Next::Truncated {
                partial: bytes.len() as u64,
            };
        }
        if u32_at(bytes, total - 4) as usize != total {
            return Next::Damaged(format!(
                "block of type {kind:#x} ends with a length that differs from its start"
            ));
        }
        self.consume(total);
        let (bytes, end) = match &self.source {
            Source::Slice { data, pos } => (*data, *pos),
            Source::Gzip { buf, start, .. } => (&buf[..], *start),
        };
        Next::Block {
            kind,
            body: &bytes[end - total + 8..end - 4],
        }
    }
}

/// A little-endian u32 at `at` (the caller checked the length).
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
