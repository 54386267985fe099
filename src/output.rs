//! Small helpers for human-readable output: timestamps and JSON strings
//! (counts, sizes and durations come from the analysis crate); and
//! creating trace files.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub use scry_analyze::human::{bytes, count, duration};

/// `n` things with thousands separators, the noun singular for one:
/// `1 chunk`, `1,024 chunks`.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
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
