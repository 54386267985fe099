//! Text forms shared by every scry front end: timestamps as RFC 3339 UTC
//! (without a calendar dependency), counts with thousands separators, and
//! the backslash escapes of the kernel's and systemd's names.

/// Formats `ns` since the Unix epoch as `2024-05-01T12:34:56.123456789Z`.
pub fn format_rfc3339(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let nanos = ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// How a name escapes a byte after a backslash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// `\NNN`, three octal digits, as in `/proc/*/mountinfo`.
    Octal,
    /// `\xNN`, two hex digits, as in systemd unit names.
    Hex,
}

/// `text` with its escapes undone; a backslash that starts no escape is
/// kept as it is.
pub fn unescape(text: &[u8], escape: Escape) -> Vec<u8> {
    let (prefix, radix) = match escape {
        Escape::Octal => (&b"\\"[..], 8),
        Escape::Hex => (&b"\\x"[..], 16),
    };
    let width = prefix.len() + if radix == 8 { 3 } else { 2 };
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let byte = text
            .get(at..at + width)
            .and_then(|escaped| escaped.strip_prefix(prefix))
            .and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, radix).ok());
        match byte {
            Some(byte) => {
                out.push(byte);
                at += width;
            }
            None => {
                out.push(text[at]);
                at += 1;
            }
        }
    }
    out
}

/// Converts days since 1970-01-01 to a proleptic Gregorian date, after
/// Howard Hinnant's `civil_from_days` algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undoes_octal_and_hex_escapes() {
        assert_eq!(unescape(b"my\\040group", Escape::Octal), b"my group");
        assert_eq!(unescape(b"/a\\134b\\04", Escape::Octal), b"/a\\b\\04");
        assert_eq!(unescape(b"web\\x2dapp\\x2", Escape::Hex), b"web-app\\x2");
        assert_eq!(unescape(b"\\x2d", Escape::Octal), b"\\x2d");
        assert_eq!(unescape(b"\\999", Escape::Octal), b"\\999");
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_rfc3339(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(
            format_rfc3339(1_764_028_800_500_000_000),
            "2025-11-25T00:00:00.500000000Z"
        );
    }
}
