//! Small helpers for human-readable output: thousands separators, byte
//! sizes, durations and timestamps; and creating trace files.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// `1234567` as `1,234,567`.
pub fn count(value: u64) -> String {
    scry_format::thousands(value)
}

/// A byte count in binary units (`8.0 MiB`).
pub fn bytes(value: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = value as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// A duration in nanoseconds, with a unit that fits (`1.234 s`, `15 ms`).
pub fn duration(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        _ => format!("{:.3} s", ns as f64 / 1e9),
    }
}

/// A timestamp as RFC 3339 UTC, or `-` when unknown.
pub fn time(ns: u64) -> String {
    if ns == 0 {
        "-".to_owned()
    } else {
        scry_format::format_rfc3339(ns)
    }
}

/// `text` as a JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Creates (or truncates) `path` readable and writable by its owner only:
/// traces hold secrets (buffers, command lines).
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: tighten it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_counts_sizes_and_durations() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(8 << 20), "8.0 MiB");
        assert_eq!(duration(1_500), "1.5 µs");
        assert_eq!(duration(2_500_000_000), "2.500 s");
    }
}
