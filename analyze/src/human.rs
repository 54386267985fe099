//! Numbers for people: thousands separators, byte sizes in binary units
//! and durations with a unit that fits. Scripts get raw numbers instead.

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

/// A duration in nanoseconds, with a unit that fits (`1.234 s`, `15.0 ms`);
/// from a minute on, in minutes, hours and days (`2m 05s`, `3h 02m 10s`,
/// `5d 13h 17m`), as thousands of seconds say little to people.
pub fn duration(ns: u64) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let secs = ns / 1_000_000_000;
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} ms", ns as f64 / 1e6),
        _ if secs < MINUTE => format!("{:.3} s", ns as f64 / 1e9),
        _ if secs < HOUR => format!("{}m {:02}s", secs / MINUTE, secs % MINUTE),
        _ if secs < DAY => format!(
            "{}h {:02}m {:02}s",
            secs / HOUR,
            secs % HOUR / MINUTE,
            secs % MINUTE
        ),
        _ => format!(
            "{}d {:02}h {:02}m",
            secs / DAY,
            secs % DAY / HOUR,
            secs % HOUR / MINUTE
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_counts_sizes_and_durations() {
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(8 << 20), "8.0 MiB");
        assert_eq!(bytes(10 << 10), "10.0 KiB");
        assert_eq!(duration(1_500), "1.5 µs");
        assert_eq!(duration(2_500_000_000), "2.500 s");
        assert_eq!(duration(59_999_000_000), "59.999 s");
        assert_eq!(duration(125_000_000_000), "2m 05s");
        assert_eq!(
            duration(3 * 3_600_000_000_000 + 130_000_000_000),
            "3h 02m 10s"
        );
        assert_eq!(duration(479_834_091_000_000), "5d 13h 17m");
    }
}
