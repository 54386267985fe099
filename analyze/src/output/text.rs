//! The byte-level pieces of printed lines: the clock time, zero-padded
//! numbers, fixed-width columns, JSON strings and buffer dumps.

use std::cell::Cell;
use std::io::Write;

use crate::render::eight_digits;
use crate::value::printable;

/// Writes `HH:MM:SS.nnnnnnnnn` (UTC) of timestamps, as `evt.time`: events
/// come many to a second, so the seconds' text is kept from one to the
/// next.
#[derive(Debug, Clone)]
pub(super) struct Clock {
    /// The second since the epoch `text` is of.
    secs: Cell<u64>,
    /// `HH:MM:SS.`
    text: Cell<[u8; 9]>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            secs: Cell::new(u64::MAX),
            text: Cell::new(*b"00:00:00."),
        }
    }
}

impl Clock {
    pub(super) fn write(&self, ns: u64, out: &mut Vec<u8>) {
        let (secs, nanos) = (ns / 1_000_000_000, ns % 1_000_000_000);
        if secs != self.secs.get() {
            let day = secs % 86_400;
            let mut text = *b"00:00:00.";
            for (at, part) in [(0, day / 3600), (3, day / 60 % 60), (6, day % 60)] {
                text[at] = b'0' + (part / 10) as u8;
                text[at + 1] = b'0' + (part % 10) as u8;
            }
            self.secs.set(secs);
            self.text.set(text);
        }
        // `HH:MM:SS.`, the first digit of the nanoseconds and the other
        // eight, computed at once: two fixed-size copies.
        let mut head = [0u8; 10];
        head[..9].copy_from_slice(&self.text.get());
        head[9] = b'0' + (nanos / 100_000_000) as u8;
        out.extend_from_slice(&head);
        out.extend_from_slice(&eight_digits((nanos % 100_000_000) as u32).to_le_bytes());
    }
}

/// `n` in decimal, zero-padded to at least `digits` digits.
pub(super) fn push_num(out: &mut Vec<u8>, mut n: u64, digits: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    while n > 0 || buf.len() - at < digits.max(1) {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&buf[at..]);
}

/// `%Nfield`: the text padded with spaces or cut to exactly `width`
/// characters.
pub(super) fn pad(text: &[u8], width: usize, out: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(text);
    let mut chars = 0;
    for ch in text.chars().take(width) {
        let mut utf8 = [0; 4];
        out.extend_from_slice(ch.encode_utf8(&mut utf8).as_bytes());
        chars += 1;
    }
    out.resize(out.len() + (width - chars), b' ');
}

/// Bytes that cannot appear as such in a JSON string.
const JSON_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

/// `text` as a JSON string literal.
pub(crate) fn push_json_str(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    push_json_escaped(text, out);
    out.push(b'"');
}

/// `text` escaped for the inside of a JSON string literal.
fn push_json_escaped(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut plain = 0;
    while let Some(skip) = bytes[plain..]
        .iter()
        .position(|&b| JSON_ESCAPE[usize::from(b)])
    {
        let at = plain + skip;
        out.extend_from_slice(&bytes[plain..at]);
        match bytes[at] {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            byte => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 15)]);
            }
        }
        plain = at + 1;
    }
    out.extend_from_slice(&bytes[plain..]);
}

/// Bytes as a JSON string literal, invalid UTF-8 replaced.
pub(super) fn push_json_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    push_json_bytes_escaped(bytes, out);
    out.push(b'"');
}

/// Bytes escaped for the inside of a JSON string literal, invalid UTF-8
/// replaced.
pub(crate) fn push_json_bytes_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => push_json_escaped(text, out),
        Err(_) => push_json_escaped(&String::from_utf8_lossy(bytes), out),
    }
}

/// How many bytes of a block [`special_in`] looks at together.
const BLOCK: usize = 16;

/// 1 for a byte that cannot stand in a JSON string as it is (anything but
/// printable ASCII other than `"` and `\\`), else 0.
#[inline(always)]
fn special(b: u8) -> u8 {
    u8::from(b.wrapping_sub(0x20) >= 0x5f) | u8::from(b == b'"') | u8::from(b == b'\\')
}

/// Whether a block of bytes holds any [`special`] one: a fixed-size loop
/// the compiler turns into a few vector instructions.
#[inline(always)]
fn special_in(block: &[u8; BLOCK]) -> bool {
    block.iter().fold(0, |seen, &b| seen | special(b)) != 0
}

/// Whether text can stand inside a JSON string literal as it is. Text of
/// a block or more is checked a block at a time (the last block overlaps
/// the one before); shorter text byte by byte.
#[inline]
pub(crate) fn is_json_plain(text: &[u8]) -> bool {
    if text.len() < BLOCK {
        return text.iter().fold(0, |seen, &b| seen | special(b)) == 0;
    }
    let mut special = false;
    for block in text.chunks_exact(BLOCK) {
        if let Ok(block) = <&[u8; BLOCK]>::try_from(block) {
            special |= special_in(block);
        }
    }
    if let Some(last) = text
        .get(text.len() - BLOCK..)
        .and_then(|b| <&[u8; BLOCK]>::try_from(b).ok())
    {
        special |= special_in(last);
    }
    !special
}

/// `-A`: the printable bytes and line ends of a buffer, on lines of their
/// own, ending with a line end.
pub(super) fn ascii_dump(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend(
        bytes
            .iter()
            .copied()
            .filter(|&b| (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t'),
    );
    if out.last().is_some_and(|&b| b != b'\n') {
        out.push(b'\n');
    }
}

/// `-X`: sysdig's hex dump, 16 bytes a line in groups of two, with an ASCII
/// column; each line starts with a tab.
pub fn hex_dump(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (line, row) in bytes.chunks(16).enumerate() {
        let _ = write!(out, "\t0x{:04x}:", line * 16);
        for (i, byte) in row.iter().enumerate() {
            if i % 2 == 0 {
                out.push(b' ');
            }
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 15)]);
        }
        // Align the ASCII column of a short last line.
        let missing = 16 - row.len();
        out.resize(out.len() + missing * 2 + missing.div_ceil(2), b' ');
        if row.len() % 2 == 1 {
            out.pop();
        }
        out.extend_from_slice(b"  ");
        out.extend_from_slice(printable(row).as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    #[test]
    fn pads_and_cuts_to_the_width() {
        let mut out = Vec::new();
        pad(b"bash", 6, &mut out);
        pad(b"systemd-journald", 6, &mut out);
        assert_eq!(out, b"bash  system");
    }

    #[test]
    fn tells_text_that_needs_no_json_escaping() {
        for (text, plain) in [
            (&b"plain text of some length, longer than a block"[..], true),
            (b"", true),
            (b"short", true),
            (b"tab\there", false),
            (b"0123456789abcdef\"", false),
            (b"\"0123456789abcdef0", false),
            (b"0123456789abcdef0123456789\\", false),
            (b"\xff", false),
            (b"caf\xc3\xa9", false),
            (b"del\x7f", false),
        ] {
            assert_eq!(
                is_json_plain(text),
                plain,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn escapes_json_strings() {
        let mut out = Vec::new();
        push_json_str("a\"b\\c\nd\u{1}é", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn dumps_buffers_in_hex_with_an_ascii_column() {
        let mut out = Vec::new();
        hex_dump(b"HTTP/1.1 200 OK\r\nabc", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\t0x0000: 4854 5450 2f31 2e31 2032 3030 204f 4b0d  HTTP/1.1 200 OK.\n\
             \t0x0010: 0a61 6263                                .abc\n"
        );
        let mut out = Vec::new();
        ascii_dump(b"a\x01b\nc", &mut out);
        assert_eq!(out, b"ab\nc\n");
    }

    #[test]
    fn writes_the_clock_time_of_each_event() {
        let clock = Clock::default();
        let mut out = Vec::new();
        // 2025-11-25T05:00:00.000001573Z, the same second, the next ones.
        for ns in [
            1_764_046_800_000_001_573,
            1_764_046_800_999_999_999,
            1_764_046_801_000_000_000,
            17_640_503_995,
        ] {
            clock.write(ns, &mut out);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "05:00:00.000001573 05:00:00.999999999 05:00:01.000000000 00:00:17.640503995 "
        );
    }

    #[test]
    fn writes_zero_padded_numbers() {
        let mut out = Vec::new();
        push_num(&mut out, 7, 2);
        push_num(&mut out, 0, 1);
        push_num(&mut out, 1234, 2);
        assert_eq!(out, b"0701234");
    }
}
