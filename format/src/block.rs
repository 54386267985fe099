//! Framing: the file header, the blocks that follow it, and the trailer.
//!
//! Every block starts with a 20-byte header (sync marker, kind, flags,
//! lengths, CRC-32) so a reader can check it, skip it by length when its
//! kind is unknown, and find the next one after damage by searching for the
//! sync marker. These functions work on byte slices and do no I/O; the
//! readers decide what to do with what they return.

use crate::error::{FormatError, Result};
use crate::model::FileHeader;

/// The first 8 bytes of every scry trace. The high first byte and the
/// CR-LF/EOF bytes catch 7-bit and text-mode transfers, as PNG's do.
pub const MAGIC: [u8; 8] = [0x89, b'S', b'C', b'R', b'Y', b'\r', b'\n', 0x1a];
/// Major format version: readers reject files with a higher major version.
pub const VERSION_MAJOR: u16 = 1;
/// Minor format version: additions that older readers of the same major
/// version can safely ignore.
pub const VERSION_MINOR: u16 = 4;

/// Magic, major, minor, header length.
const FILE_PREFIX_LEN: usize = 8 + 2 + 2 + 4;
/// Marks the start of every block.
pub(crate) const BLOCK_SYNC: [u8; 4] = *b"SCBK";
pub(crate) const BLOCK_HEADER_LEN: usize = 20;
/// No block is larger than this; a longer length field means damage.
pub(crate) const MAX_BLOCK_LEN: usize = 1 << 30;
/// Index offset (8), its CRC-32 (4), trailer magic (4).
pub(crate) const TRAILER_LEN: usize = 16;
const TRAILER_MAGIC: [u8; 4] = *b"SCYE";

/// Block kinds. Unknown kinds are skipped by readers.
pub(crate) mod kind {
    pub(crate) const SNAPSHOT: u8 = 1;
    pub(crate) const CHUNK: u8 = 2;
    pub(crate) const STATS: u8 = 3;
    pub(crate) const INDEX: u8 = 4;
    /// A container first seen during the capture (1.4).
    pub(crate) const CONTAINER: u8 = 5;
}

/// Block flag: the body is one zstd frame.
pub(crate) const FLAG_ZSTD: u8 = 1;

/// Encodes the file header with its prefix and checksum.
pub(crate) fn encode_file_header(header: &FileHeader) -> Vec<u8> {
    let body = crate::codec::encode_header(header);
    let mut out = Vec::with_capacity(FILE_PREFIX_LEN + body.len() + 4);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION_MAJOR.to_le_bytes());
    out.extend_from_slice(&VERSION_MINOR.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    let crc = crc32fast::hash(&out[8..]);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The parsed file header and where the first block starts.
#[derive(Debug)]
pub(crate) struct ParsedFileHeader {
    pub(crate) header: FileHeader,
    pub(crate) version: (u16, u16),
    pub(crate) len: usize,
}

/// Outcome of looking at the start of a file that may be incomplete.
pub(crate) enum HeaderStep {
    Parsed(Box<ParsedFileHeader>),
    /// At least this many bytes are needed.
    NeedMore(usize),
}

/// Parses the file header from the start of `data`.
///
/// # Errors
/// [`FormatError::Empty`], [`FormatError::BadMagic`],
/// [`FormatError::UnsupportedVersion`] or a corrupt header. A header that is
/// merely incomplete gives [`HeaderStep::NeedMore`].
pub(crate) fn parse_file_header(data: &[u8]) -> Result<HeaderStep> {
    if data.is_empty() {
        return Ok(HeaderStep::NeedMore(FILE_PREFIX_LEN));
    }
    let magic_len = data.len().min(MAGIC.len());
    if data[..magic_len] != MAGIC[..magic_len] {
        return Err(FormatError::BadMagic);
    }
    if data.len() < FILE_PREFIX_LEN {
        return Ok(HeaderStep::NeedMore(FILE_PREFIX_LEN));
    }
    let major = u16::from_le_bytes([data[8], data[9]]);
    let minor = u16::from_le_bytes([data[10], data[11]]);
    let body_len = u32::from_le_bytes([data[12], data[13], data[14], data[15]]) as usize;
    let total = FILE_PREFIX_LEN + body_len.min(MAX_BLOCK_LEN) + 4;
    let checksum_ok = data.len() >= total && body_len <= MAX_BLOCK_LEN && {
        let stored = u32::from_le_bytes([
            data[total - 4],
            data[total - 3],
            data[total - 2],
            data[total - 1],
        ]);
        crc32fast::hash(&data[8..total - 4]) == stored
    };
    if major != VERSION_MAJOR {
        // A bit flip in the version bytes must not read as "upgrade scry":
        // only a header whose checksum holds is a genuine other version.
        if checksum_ok || data.len() < total {
            return Err(FormatError::UnsupportedVersion {
                found_major: major,
                found_minor: minor,
                supported: VERSION_MAJOR,
            });
        }
        return Err(FormatError::corrupt(
            "file header",
            0,
            format!(
                "checksum mismatch (it names format version {major}.{minor}: the header is damaged)"
            ),
        ));
    }
    if body_len > MAX_BLOCK_LEN {
        return Err(FormatError::corrupt(
            "file header",
            0,
            "header length is implausible",
        ));
    }
    if data.len() < total {
        return Ok(HeaderStep::NeedMore(total));
    }
    if !checksum_ok {
        return Err(FormatError::corrupt("file header", 0, "checksum mismatch"));
    }
    let header = crate::codec::decode_header(&data[FILE_PREFIX_LEN..total - 4])
        .map_err(|e| FormatError::corrupt("file header", 0, e.0))?;
    Ok(HeaderStep::Parsed(Box::new(ParsedFileHeader {
        header,
        version: (major, minor),
        len: total,
    })))
}

/// Appends one block.
pub(crate) fn encode_block(out: &mut Vec<u8>, kind: u8, flags: u8, meta: &[u8], body: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&BLOCK_SYNC);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&out[start + 4..start + 16]);
    hasher.update(meta);
    hasher.update(body);
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(body);
}

/// A checked block inside a larger buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockRef<'a> {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) meta: &'a [u8],
    pub(crate) body: &'a [u8],
    /// Header, meta and body together.
    pub(crate) len: usize,
}

/// What is at the start of a buffer of blocks.
pub(crate) enum Step<'a> {
    /// A complete block whose checksum is good.
    Block(BlockRef<'a>),
    /// The buffer ends inside a block (at end of file: the file is cut off).
    NeedMore(usize),
    /// Damage: skip this many bytes and look again.
    Damaged { skip: usize, reason: &'static str },
    /// The buffer is empty.
    End,
}

fn read_u32(data: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// Position of the next sync marker after the first byte, if any.
fn find_sync(data: &[u8]) -> Option<usize> {
    data.windows(BLOCK_SYNC.len())
        .skip(1)
        .position(|window| window == BLOCK_SYNC)
        .map(|p| p + 1)
}

/// Position of the next complete block with a good checksum after the first
/// byte. Bytes that merely look like a sync marker (inside compressed data
/// of a cut-off last block) do not count.
fn next_valid_block(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = find_sync(&data[from..]) {
        let at = from + found;
        if block_checks_out(&data[at..]) {
            return Some(at);
        }
        from = at;
    }
    None
}

/// Whether `data` starts with a complete block whose checksum is good.
fn block_checks_out(data: &[u8]) -> bool {
    if data.len() < BLOCK_HEADER_LEN || data[..4] != BLOCK_SYNC {
        return false;
    }
    let total = BLOCK_HEADER_LEN + read_u32(data, 8) as usize + read_u32(data, 12) as usize;
    let Some(block) = data.get(..total) else {
        return false;
    };
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&block[4..16]);
    hasher.update(&block[BLOCK_HEADER_LEN..]);
    hasher.finalize() == read_u32(block, 16)
}

/// How far to skip to reach the next sync marker: to the marker, or to the
/// last bytes that could still begin one.
fn next_sync(data: &[u8]) -> usize {
    find_sync(data).unwrap_or_else(|| data.len().saturating_sub(BLOCK_SYNC.len() - 1).max(1))
}

/// The meta of the chunk block that is exactly `block` (header, meta and
/// body), without checking the block's CRC; `None` if it is not one.
pub(crate) fn chunk_meta(block: &[u8]) -> Option<&[u8]> {
    if block.len() < BLOCK_HEADER_LEN || block[..4] != BLOCK_SYNC || block[4] != kind::CHUNK {
        return None;
    }
    let meta_len = read_u32(block, 8) as usize;
    let body_len = read_u32(block, 12) as usize;
    if BLOCK_HEADER_LEN
        .checked_add(meta_len)?
        .checked_add(body_len)?
        != block.len()
    {
        return None;
    }
    block.get(BLOCK_HEADER_LEN..BLOCK_HEADER_LEN + meta_len)
}

/// Looks at the block at the start of `data`. `at_eof` says that no bytes
/// follow `data`, which decides whether an oversized length is a cut-off
/// file or a damaged length field.
pub(crate) fn next_step(data: &[u8], at_eof: bool) -> Step<'_> {
    if data.is_empty() {
        return Step::End;
    }
    if data.len() < BLOCK_SYNC.len() {
        return if at_eof && !BLOCK_SYNC.starts_with(data) {
            Step::Damaged {
                skip: data.len(),
                reason: "stray bytes after the last block",
            }
        } else {
            Step::NeedMore(BLOCK_HEADER_LEN)
        };
    }
    if data[..4] != BLOCK_SYNC {
        return Step::Damaged {
            skip: next_sync(data),
            reason: "no block header where one was expected",
        };
    }
    if data.len() < BLOCK_HEADER_LEN {
        return Step::NeedMore(BLOCK_HEADER_LEN);
    }
    let meta_len = read_u32(data, 8) as usize;
    let body_len = read_u32(data, 12) as usize;
    let total = BLOCK_HEADER_LEN + meta_len + body_len;
    if meta_len > MAX_BLOCK_LEN || body_len > MAX_BLOCK_LEN {
        return Step::Damaged {
            skip: next_sync(data),
            reason: "block length is implausible",
        };
    }
    if data.len() < total {
        // At the end of the file a block that does not fit is either the
        // last, cut-off block, or one whose length field is damaged. A later
        // sync marker tells them apart.
        if at_eof && let Some(skip) = next_valid_block(data) {
            return Step::Damaged {
                skip,
                reason: "block runs past the next block",
            };
        }
        return Step::NeedMore(total);
    }
    let stored = read_u32(data, 16);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&data[4..16]);
    hasher.update(&data[BLOCK_HEADER_LEN..total]);
    if hasher.finalize() != stored {
        let length_is_plausible = data.len() == total || data[total..].starts_with(&BLOCK_SYNC);
        let skip = if length_is_plausible {
            total
        } else {
            next_sync(data)
        };
        return Step::Damaged {
            skip,
            reason: "checksum mismatch",
        };
    }
    Step::Block(BlockRef {
        kind: data[4],
        flags: data[5],
        meta: &data[BLOCK_HEADER_LEN..BLOCK_HEADER_LEN + meta_len],
        body: &data[BLOCK_HEADER_LEN + meta_len..total],
        len: total,
    })
}

/// Encodes the trailer that points at the index block.
pub(crate) fn encode_trailer(index_offset: u64) -> [u8; TRAILER_LEN] {
    let mut out = [0u8; TRAILER_LEN];
    let offset = index_offset.to_le_bytes();
    out[..8].copy_from_slice(&offset);
    out[8..12].copy_from_slice(&crc32fast::hash(&offset).to_le_bytes());
    out[12..].copy_from_slice(&TRAILER_MAGIC);
    out
}

/// The index offset from a file's last bytes, if they are a valid trailer.
pub(crate) fn parse_trailer(data: &[u8]) -> Option<u64> {
    let trailer = data.get(data.len().checked_sub(TRAILER_LEN)?..)?;
    if trailer[12..] != TRAILER_MAGIC || crc32fast::hash(&trailer[..8]) != read_u32(trailer, 8) {
        return None;
    }
    let mut offset = [0u8; 8];
    offset.copy_from_slice(&trailer[..8]);
    Some(u64::from_le_bytes(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_block(&mut out, kind, 0, b"m", body);
        out
    }

    #[test]
    fn block_round_trips() {
        let data = block(kind::STATS, b"hello");
        match next_step(&data, true) {
            Step::Block(b) => {
                assert_eq!(
                    (b.kind, b.meta, b.body, b.len),
                    (kind::STATS, &b"m"[..], &b"hello"[..], data.len())
                );
            }
            _ => panic!("expected a block"),
        }
    }

    #[test]
    fn cut_block_needs_more() {
        let data = block(kind::CHUNK, b"hello world");
        for cut in 1..data.len() {
            assert!(
                matches!(next_step(&data[..cut], true), Step::NeedMore(_)),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn flipped_body_byte_is_skipped_by_length() {
        let mut data = block(kind::CHUNK, b"hello world");
        let first_len = data.len();
        data.extend(block(kind::CHUNK, b"second"));
        data[first_len - 2] ^= 0x40;
        match next_step(&data, true) {
            Step::Damaged { skip, .. } => assert_eq!(skip, first_len),
            _ => panic!("expected damage"),
        }
    }

    #[test]
    fn damaged_length_resyncs_on_the_next_marker() {
        let mut data = block(kind::CHUNK, b"hello world");
        let first_len = data.len();
        data.extend(block(kind::CHUNK, b"second"));
        data[12] = 0x7f; // body length now runs past the second block
        match next_step(&data, true) {
            Step::Damaged { skip, .. } => assert_eq!(skip, first_len),
            _ => panic!("expected damage"),
        }
    }

    #[test]
    fn trailer_round_trips_and_rejects_garbage() {
        let trailer = encode_trailer(12345);
        assert_eq!(parse_trailer(&trailer), Some(12345));
        let mut bad = trailer;
        bad[0] ^= 1;
        assert_eq!(parse_trailer(&bad), None);
        assert_eq!(parse_trailer(&trailer[1..]), None);
    }
}
