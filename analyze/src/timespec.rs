//! Points in a trace's time named on the command line (`--since`,
//! `--until`): an RFC 3339 instant, an offset from the trace's first event
//! (`+5s`), or a duration back from its last event (`15m`: the last fifteen
//! minutes of the capture).

/// A point in time, before it is placed in a trace's time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// Nanoseconds since the epoch.
    At(u64),
    /// Nanoseconds after the first event.
    AfterStart(u64),
    /// Nanoseconds before the last event.
    BeforeEnd(u64),
}

impl TimeSpec {
    /// Parses `2026-11-25T05:00:00Z` (any offset, optional fraction),
    /// `+5s`, `15m`, `1.5h`, `500ms`; a bare number is seconds.
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse(text: &str) -> Result<TimeSpec, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "'{text}' is not a time: use RFC 3339 (2026-11-25T05:00:00Z), an offset from \
                 the first event (+5s) or a duration back from the last one (15m)"
            )
        };
        if let Some(offset) = text.strip_prefix('+') {
            return duration(offset).map(TimeSpec::AfterStart).ok_or_else(bad);
        }
        if text.contains('T') || text.contains('t') || text.matches('-').count() >= 2 {
            return rfc3339(text).map(TimeSpec::At).ok_or_else(bad);
        }
        duration(text).map(TimeSpec::BeforeEnd).ok_or_else(bad)
    }

    /// Parses a duration alone (`10ms`, `1.5s`, `500us`; a bare number is
    /// seconds) into nanoseconds.
    ///
    /// # Errors
    /// A message naming the accepted forms.
    pub fn parse_duration(text: &str) -> Result<u64, String> {
        duration(text.trim()).ok_or_else(|| {
            format!("'{text}' is not a duration: use a number with a unit (500us, 10ms, 2s, 1m)")
        })
    }

    /// The instant this names in a trace spanning `first..=last`.
    pub fn resolve(self, first: u64, last: u64) -> u64 {
        match self {
            TimeSpec::At(ns) => ns,
            TimeSpec::AfterStart(ns) => first.saturating_add(ns),
            TimeSpec::BeforeEnd(ns) => last.saturating_sub(ns),
        }
    }
}

/// `5s`, `1.5m`, `250ms`, `2h`, `1d`, or bare seconds, in nanoseconds.
fn duration(text: &str) -> Option<u64> {
    let units: [(&str, f64); 7] = [
        ("ns", 1.0),
        ("us", 1e3),
        ("ms", 1e6),
        ("s", 1e9),
        ("m", 60e9),
        ("h", 3600e9),
        ("d", 86_400e9),
    ];
    let (number, scale) = units
        .iter()
        .find_map(|&(unit, scale)| text.strip_suffix(unit).map(|n| (n, scale)))
        .unwrap_or((text, 1e9));
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let ns = number.parse::<f64>().ok()? * scale;
    (ns.is_finite() && ns < u64::MAX as f64).then_some(ns as u64)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` in nanoseconds since the
/// epoch.
fn rfc3339(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if bytes.len() < 19 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[13] != b':' {
        return None;
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') || bytes[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if bytes.get(at) == Some(&b'.') {
        let digits = bytes[at + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        for (i, &b) in bytes[at + 1..at + 1 + digits].iter().enumerate().take(9) {
            nanos += i64::from(b - b'0') * 10i64.pow(8 - i as u32);
        }
        at += 1 + digits;
    }
    let offset = match &text[at..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && matches!(zone.as_bytes()[0], b'+' | b'-') => {
            if zone.as_bytes()[3] != b':' {
                return None;
            }
            let minutes = num(at + 1..at + 3)? * 60 + num(at + 4..at + 6)?;
            if zone.starts_with('-') {
                -minutes * 60
            } else {
                minutes * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos as u64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date, after Howard
/// Hinnant's `days_from_civil` algorithm.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_instants_offsets_and_durations() {
        let at = |text: &str| match TimeSpec::parse(text) {
            Ok(TimeSpec::At(ns)) => scry_format::format_rfc3339(ns),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(at("2026-11-25T05:00:00Z"), "2026-11-25T05:00:00.000000000Z");
        assert_eq!(
            at("2026-11-25T07:00:00.25+02:00"),
            "2026-11-25T05:00:00.250000000Z"
        );
        assert_eq!(at("2000-02-29 00:00:01z"), "2000-02-29T00:00:01.000000000Z");
        assert_eq!(
            TimeSpec::parse("+5s"),
            Ok(TimeSpec::AfterStart(5_000_000_000))
        );
        assert_eq!(
            TimeSpec::parse("+250ms"),
            Ok(TimeSpec::AfterStart(250_000_000))
        );
        assert_eq!(
            TimeSpec::parse("15m"),
            Ok(TimeSpec::BeforeEnd(900_000_000_000))
        );
        assert_eq!(TimeSpec::parse("2"), Ok(TimeSpec::BeforeEnd(2_000_000_000)));
        for bad in [
            "",
            "+",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "5x",
            "-5s",
            "1e3s",
        ] {
            assert!(TimeSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resolves_against_the_trace_range() {
        assert_eq!(TimeSpec::AfterStart(5).resolve(100, 200), 105);
        assert_eq!(TimeSpec::BeforeEnd(5).resolve(100, 200), 195);
        assert_eq!(TimeSpec::At(7).resolve(100, 200), 7);
    }
}
