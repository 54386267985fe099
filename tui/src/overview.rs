//! The overview: one screen that sums up the capture (or the selected
//! time range and filter) in tiles, each with a total, a detail line and a
//! sparkline over time, each a door into its view; and the capture-wide
//! time-line the range is chosen on.

use rustc_hash::{FxHashMap, FxHashSet};
use scry_format::thousands;

use crate::app::TIMELINE_STEPS;
use crate::index::{EventIndex, class};
use crate::views::{Selection, ViewId, bytes, error_name};

/// A tile of the overview.
#[derive(Debug)]
pub struct Tile {
    /// Its title.
    pub title: &'static str,
    /// The view Enter opens.
    pub view: ViewId,
    /// What its sparkline counts.
    pub series: &'static str,
}

/// The tiles, in reading order (two rows of four).
pub static TILES: &[Tile] = &[
    Tile {
        title: "Events",
        view: ViewId::Events,
        series: "events",
    },
    Tile {
        title: "Processes",
        view: ViewId::Procs,
        series: "spawns",
    },
    Tile {
        title: "Files",
        view: ViewId::Files,
        series: "opens",
    },
    Tile {
        title: "Network",
        view: ViewId::Conns,
        series: "bytes",
    },
    Tile {
        title: "Errors",
        view: ViewId::Errors,
        series: "errors",
    },
    Tile {
        title: "Containers",
        view: ViewId::Containers,
        series: "container events",
    },
    Tile {
        title: "Users",
        view: ViewId::Spy,
        series: "commands run",
    },
    Tile {
        title: "Drops",
        view: ViewId::Drops,
        series: "events lost",
    },
];

/// Buckets of the overview's sparklines; drawn resampled to their width.
const BUCKETS: usize = 240;

/// One tile's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileStat {
    /// The main figure.
    pub value: String,
    /// A line of detail.
    pub detail: String,
    /// Counts over time.
    pub series: Vec<u64>,
}

/// The overview's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    /// One per tile of [`TILES`].
    pub tiles: Vec<TileStat>,
    /// The time span summarised.
    pub span: (u64, u64),
}

impl Overview {
    /// Sums up the events of `sel` over `span`.
    pub fn compute(index: &EventIndex, sel: &Selection<'_>, span: (u64, u64)) -> Overview {
        let (from, to) = span;
        let scale = Scale::new(from, to, BUCKETS);
        let host = index.containers.iter().position(|c| c == "host");
        // Whether each process entry runs in a container, looked up per
        // event; `None` when none does, the common case.
        let inside: Vec<bool> = index
            .procs
            .iter()
            .map(|p| host.is_none_or(|h| p.container as usize != h))
            .collect();
        let inside = inside.contains(&true).then_some(&inside[..]);
        let procs = index.procs.len();
        let parts = sel.fold(
            || Tally::new(procs, scale),
            |t: &mut Tally, i| t.add(index, i, inside),
        );
        let mut parts = parts.into_iter();
        let mut tally = parts.next().unwrap_or_else(|| Tally::new(procs, scale));
        for part in parts {
            tally.merge(part);
        }
        // Processes, containers and users are told from the process
        // entries seen, once, rather than per event.
        let mut pids = FxHashSet::default();
        let mut containers = FxHashSet::default();
        let mut users = FxHashSet::default();
        for (proc, _) in index.procs.iter().zip(&tally.seen).filter(|(_, s)| **s) {
            pids.insert(proc.pid);
            containers.insert(proc.container);
            users.insert(proc.user);
        }
        let Tally {
            mut series,
            events,
            spawns,
            execs,
            opens,
            conns,
            errors,
            file_read,
            file_write,
            net_in,
            net_out,
            contained,
            error_kinds,
            ..
        } = tally;
        // The Users tile opens the commands of interactive users: its
        // sparkline counts those, not every exec.
        for command in &index.commands {
            let at = command.ordinal as usize;
            if sel.contains(at) {
                series[6][scale.at(index.ts[at])] += 1;
            }
        }
        let mut drops_total = 0;
        let mut previous = None;
        for &(ts, cumulative) in &index.drops {
            let lost = previous.map_or(cumulative, |p| cumulative.saturating_sub(p));
            previous = Some(cumulative);
            if ts >= from && ts <= to {
                drops_total += lost;
                series[7][scale.at(ts)] += lost;
            }
        }
        let seconds = (to.saturating_sub(from)) as f64 / 1e9;
        let top_error = error_kinds
            .iter()
            .max_by_key(|&(ret, n)| (*n, std::cmp::Reverse(*ret)))
            .map(|(&ret, &n)| format!("most: {} ×{}", error_name(ret), thousands(n)));
        let mut user_names: Vec<&str> = users
            .iter()
            .filter_map(|&u| index.users.get(u as usize).map(String::as_str))
            .collect();
        user_names.sort_unstable();
        let mut series = series.into_iter();
        let mut tile = |value: String, detail: String| TileStat {
            value,
            detail,
            series: series.next().unwrap_or_default(),
        };
        let tiles = vec![
            tile(thousands(events), format!("over {seconds:.2} s")),
            tile(
                format!("{} pids", thousands(pids.len() as u64)),
                format!("{} spawned, {} exec", thousands(spawns), thousands(execs)),
            ),
            tile(
                format!("{} opened", thousands(opens)),
                format!("{} read, {} written", bytes(file_read), bytes(file_write)),
            ),
            tile(
                format!("{} conns", thousands(conns)),
                format!("{} in, {} out", bytes(net_in), bytes(net_out)),
            ),
            tile(
                thousands(errors),
                top_error.unwrap_or_else(|| "no failed calls".to_owned()),
            ),
            tile(
                thousands(containers.len() as u64),
                if contained == 0 {
                    "host only".to_owned()
                } else {
                    format!("{} events in containers", thousands(contained))
                },
            ),
            tile(thousands(users.len() as u64), user_names.join(", ")),
            tile(
                thousands(drops_total),
                if drops_total == 0 {
                    "nothing lost".to_owned()
                } else {
                    let share = drops_total as f64 * 100.0 / (drops_total + events).max(1) as f64;
                    format!("{share:.2}% of events lost")
                },
            ),
        ];
        Overview { tiles, span }
    }
}

/// The overview's counts over part of the events.
#[derive(Debug)]
struct Tally {
    series: Vec<Vec<u64>>,
    events: u64,
    spawns: u64,
    execs: u64,
    opens: u64,
    conns: u64,
    errors: u64,
    file_read: u64,
    file_write: u64,
    net_in: u64,
    net_out: u64,
    contained: u64,
    /// Per process entry, whether some event counted is its.
    seen: Vec<bool>,
    error_kinds: FxHashMap<i64, u64>,
    /// The sparkline bucket of the latest event.
    bucket: Cursor,
}

impl Tally {
    /// Nothing counted, for an index of `procs` process entries and
    /// sparklines over `scale`.
    fn new(procs: usize, scale: Scale) -> Self {
        Tally {
            series: vec![vec![0; BUCKETS]; TILES.len()],
            events: 0,
            spawns: 0,
            execs: 0,
            opens: 0,
            conns: 0,
            errors: 0,
            file_read: 0,
            file_write: 0,
            net_in: 0,
            net_out: 0,
            contained: 0,
            seen: vec![false; procs],
            error_kinds: FxHashMap::default(),
            bucket: Cursor::new(scale),
        }
    }

    /// Counts event `i`; `inside` tells, per process entry, whether it
    /// runs in a container (`None`: none does).
    #[inline]
    fn add(&mut self, index: &EventIndex, i: usize, inside: Option<&[bool]>) {
        let b = self.bucket.at(index.ts[i]);
        let bits = index.class[i];
        self.events += 1;
        self.series[0][b] += 1;
        let proc_id = index.proc[i] as usize;
        if let Some(seen) = self.seen.get_mut(proc_id) {
            *seen = true;
        }
        if bits & class::SPAWN != 0 {
            self.spawns += 1;
            self.series[1][b] += 1;
        }
        if bits & class::EXEC != 0 {
            self.execs += 1;
        }
        if bits & class::OPEN != 0 {
            self.opens += 1;
            self.series[2][b] += 1;
        }
        if bits & (class::READ | class::WRITE) != 0 {
            let moved = index.io_bytes(i);
            if bits & class::NET != 0 {
                if bits & class::READ != 0 {
                    self.net_in += moved;
                } else {
                    self.net_out += moved;
                }
                self.series[3][b] += moved;
            } else if bits & class::READ != 0 {
                self.file_read += moved;
            } else {
                self.file_write += moved;
            }
        }
        if bits & class::CONNECT != 0 {
            self.conns += 1;
        }
        if bits & class::ERROR != 0 {
            self.errors += 1;
            self.series[4][b] += 1;
            *self.error_kinds.entry(index.ret[i]).or_default() += 1;
        }
        if inside.is_some_and(|inside| inside.get(proc_id).copied().unwrap_or(true)) {
            self.contained += 1;
            self.series[5][b] += 1;
        }
    }

    /// Adds what another thread counted.
    fn merge(&mut self, other: Tally) {
        for (mine, theirs) in self.series.iter_mut().zip(&other.series) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        self.events += other.events;
        self.spawns += other.spawns;
        self.execs += other.execs;
        self.opens += other.opens;
        self.conns += other.conns;
        self.errors += other.errors;
        self.file_read += other.file_read;
        self.file_write += other.file_write;
        self.net_in += other.net_in;
        self.net_out += other.net_out;
        self.contained += other.contained;
        for (mine, theirs) in self.seen.iter_mut().zip(&other.seen) {
            *mine |= theirs;
        }
        for (ret, n) in other.error_kinds {
            *self.error_kinds.entry(ret).or_default() += n;
        }
    }
}

/// Timestamps over a span, mapped to equal buckets: bucket
/// `(ts - first) * count / (last - first + 1)`, computed in 64 bits
/// whenever that cannot overflow (a 128-bit division is a call, per event).
#[derive(Debug, Clone, Copy)]
struct Scale {
    first: u64,
    width: u128,
    count: usize,
}

impl Scale {
    fn new(first: u64, last: u64, count: usize) -> Self {
        Scale {
            first,
            width: (u128::from(last.saturating_sub(first)) + 1).max(1),
            count: count.max(1),
        }
    }

    /// The bucket of `ts`; those outside the span go to the nearest end.
    #[inline]
    fn at(&self, ts: u64) -> usize {
        let offset = ts.saturating_sub(self.first);
        let at = match (
            offset.checked_mul(self.count as u64),
            u64::try_from(self.width),
        ) {
            (Some(scaled), Ok(width)) => (scaled / width) as usize,
            _ => (u128::from(offset) * self.count as u128 / self.width) as usize,
        };
        at.min(self.count - 1)
    }

    /// The timestamps of the span that fall in `bucket`: `[from, until)`,
    /// or a part of it when its ends do not fit in 64 bits.
    fn bounds(&self, bucket: usize) -> (u64, u64) {
        let count = self.count as u128;
        let start = |b: usize| {
            let offset = (b as u128 * self.width).div_ceil(count);
            u64::try_from(u128::from(self.first) + offset).unwrap_or(u64::MAX)
        };
        (start(bucket), start(bucket + 1))
    }
}

/// [`Scale::at`] for timestamps that mostly come in order: the bucket of
/// the previous one, and its bounds, answer most without a division.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    scale: Scale,
    bucket: usize,
    from: u64,
    until: u64,
}

impl Cursor {
    fn new(scale: Scale) -> Self {
        Cursor {
            scale,
            bucket: 0,
            from: 1,
            until: 0,
        }
    }

    /// `Scale::at(ts)`.
    #[inline]
    fn at(&mut self, ts: u64) -> usize {
        if ts < self.from || ts >= self.until {
            self.bucket = self.scale.at(ts);
            (self.from, self.until) = self.scale.bounds(self.bucket);
        }
        self.bucket
    }
}

/// Events over the whole capture, in [`TIMELINE_STEPS`] buckets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Counts per bucket.
    pub counts: Vec<u64>,
    /// First and last timestamps.
    pub span: (u64, u64),
}

impl Timeline {
    /// Counts the events of `index` over its time range.
    pub fn new(index: &EventIndex) -> Self {
        let steps = usize::from(TIMELINE_STEPS);
        let mut counts = vec![0; steps];
        let Some((first, last)) = index.time_range() else {
            return Timeline::default();
        };
        let mut cursor = Cursor::new(Scale::new(first, last, steps));
        for &ts in &index.ts {
            counts[cursor.at(ts)] += 1;
        }
        Timeline {
            counts,
            span: (first, last),
        }
    }

    /// From the chunk index alone, before indexing: each chunk's events
    /// spread over its time range.
    pub fn from_chunks(chunks: &[(u64, u64, u32)]) -> Self {
        let steps = usize::from(TIMELINE_STEPS);
        let Some(first) = chunks.iter().map(|c| c.0).min() else {
            return Timeline::default();
        };
        let last = chunks.iter().map(|c| c.1).max().unwrap_or(first);
        let width = u128::from(last - first) + 1;
        let at =
            |ts: u64| ((u128::from(ts - first) * steps as u128 / width) as usize).min(steps - 1);
        let mut counts = vec![0; steps];
        for &(from, to, events) in chunks {
            let (a, b) = (at(from), at(to));
            let share = u64::from(events) / (b - a + 1) as u64;
            for count in &mut counts[a..=b] {
                *count += share.max(1);
            }
        }
        Timeline {
            counts,
            span: (first, last),
        }
    }
}

/// `series` summed into `width` buckets.
pub fn resample(series: &[u64], width: usize) -> Vec<u64> {
    if width == 0 || series.is_empty() {
        return Vec::new();
    }
    if width >= series.len() {
        // Wider than the data: each bucket spreads over several cells.
        return (0..width)
            .map(|x| series[x * series.len() / width])
            .collect();
    }
    let mut out = vec![0; width];
    for (at, &value) in series.iter().enumerate() {
        out[at * width / series.len()] += value;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_those_of_the_128_bit_formula() {
        let exact = |first: u64, last: u64, count: usize, ts: u64| {
            let width = u128::from(last - first) + 1;
            ((u128::from(ts.saturating_sub(first)) * count as u128 / width) as usize).min(count - 1)
        };
        let spans = [
            (0, 0),
            (1_000, 1_999),
            (1_764_046_800_000_000_000, 1_764_046_860_000_000_000),
            // Too wide for 64 bits: the scaled offset overflows them.
            (0, u64::MAX / 3),
            (0, u64::MAX),
        ];
        for (first, last) in spans {
            for count in [1, 240, 1000] {
                let scale = Scale::new(first, last, count);
                let width = last - first;
                for ts in [
                    first,
                    first + width / 7,
                    first + width / 2,
                    last - width / 1000,
                    last,
                ] {
                    assert_eq!(
                        scale.at(ts),
                        exact(first, last, count, ts),
                        "{first} {last} {ts}"
                    );
                }
                assert_eq!(scale.at(first.saturating_sub(1)), 0);
            }
        }
    }

    #[test]
    fn a_cursor_finds_the_buckets_of_its_scale() {
        let spans = [
            (0, 0),
            (1_000, 1_006),
            (1_764_046_800_000_000_000, 1_764_046_800_000_999_999),
            (5, u64::MAX / 3),
            (0, u64::MAX),
        ];
        for (first, last) in spans {
            for count in [1, 7, 240, 1000] {
                let scale = Scale::new(first, last, count);
                let mut cursor = Cursor::new(scale);
                let width = last - first;
                // In order, with repeats; backwards; out of the span.
                let mut times: Vec<u64> = (0..=3000u64)
                    .map(|k| first + (width / 3000).saturating_mul(k) + k % 3)
                    .map(|ts| ts.min(last))
                    .collect();
                times.extend(times.clone().iter().rev());
                times.extend([first.saturating_sub(1), last, last.saturating_add(1), 0]);
                times.extend([u64::MAX, first, last / 2 + first / 2]);
                for ts in times {
                    assert_eq!(cursor.at(ts), scale.at(ts), "{first} {last} {count} {ts}");
                }
            }
        }
    }

    #[test]
    fn resampling_keeps_totals() {
        let series: Vec<u64> = (0..240).collect();
        for width in [1, 7, 60, 239] {
            let out = resample(&series, width);
            assert_eq!(out.len(), width);
            assert_eq!(out.iter().sum::<u64>(), series.iter().sum::<u64>());
        }
    }
}
