//! Views as data: each view is a key (what a row stands for), columns, a
//! default sort and where Enter drills to. Tables are computed from the
//! [`EventIndex`] over a [`Selection`] (filter, time range and the drill
//! predicates of every level above), so a drill-down step is one pass over
//! compact columns, never over the trace.

use std::cmp::Ordering;
use std::fmt::Write as _;

use rustc_hash::{FxHashMap, FxHashSet};

use scry_analyze::filter::quote_value;
use scry_format::thousands;

use crate::index::{EventIndex, Mask, NO_OBJECT, class};

/// Every view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewId {
    /// Processes, by pid.
    Procs,
    /// Threads, by tid.
    Threads,
    /// Files, by path.
    Files,
    /// Directories of the files.
    Dirs,
    /// Network connections, by tuple.
    Conns,
    /// Server ports.
    Ports,
    /// Containers.
    Containers,
    /// System calls, by type.
    Syscalls,
    /// Failed calls, by type and error.
    Errors,
    /// Users.
    Users,
    /// Commands of interactive users under their session shells
    /// (csysdig's spy_users).
    Spy,
    /// Processes as a tree of parents and children.
    Tree,
    /// The raw event list.
    Events,
    /// Events the capture lost, when.
    Drops,
}

/// How a column's values are shown and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColKind {
    /// Text, left aligned.
    Text,
    /// A count, right aligned.
    Num,
    /// A byte count, right aligned with a unit.
    Bytes,
    /// A timestamp (ns since the epoch), shown as clock time.
    Time,
    /// A duration in ns, right aligned with a unit.
    Nanos,
}

impl ColKind {
    /// Whether a sort on it starts with the largest values (amounts);
    /// text and times start with the first.
    pub fn largest_first(self) -> bool {
        matches!(self, ColKind::Num | ColKind::Bytes | ColKind::Nanos)
    }
}

/// One column of a view.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header text.
    pub title: &'static str,
    /// Width in cells; 0 takes what is left.
    pub width: u16,
    /// Value kind.
    pub kind: ColKind,
}

const fn col(title: &'static str, width: u16, kind: ColKind) -> Column {
    Column { title, width, kind }
}

use ColKind::{Bytes, Nanos, Num, Text, Time};

/// A view's definition.
#[derive(Debug)]
pub struct ViewDef {
    /// Its id.
    pub id: ViewId,
    /// Short name, for the view switcher and `:name`.
    pub name: &'static str,
    /// Title.
    pub title: &'static str,
    /// Columns.
    pub columns: &'static [Column],
    /// Default sort column (descending for numbers, ascending for text).
    pub sort: usize,
    /// The share of the width, in percent, the column of width 0 gets at
    /// least, narrowing text columns (see [`column_widths`]).
    pub fill_share: u16,
    /// Where Enter goes: the first of these whose key is not already
    /// pinned by a level above.
    pub drill: &'static [ViewId],
    /// One line on what the view shows.
    pub about: &'static str,
}

/// Every view, in the switcher's order.
pub static VIEWS: &[ViewDef] = &[
    ViewDef {
        id: ViewId::Procs,
        name: "procs",
        title: "Processes",
        columns: &[
            col("PID", 7, Num),
            col("NAME", 15, Text),
            col("USER", 8, Text),
            col("EVENTS", 8, Num),
            col("TIME", 9, Nanos),
            col("ERRORS", 6, Num),
            col("READ", 9, Bytes),
            col("WRITE", 9, Bytes),
            col("NET", 9, Bytes),
            col("OPENS", 5, Num),
            col("CONTAINER", 10, Text),
            col("COMMAND", 0, Text),
        ],
        sort: 3,
        fill_share: 0,
        drill: &[ViewId::Files, ViewId::Conns, ViewId::Events],
        about: "processes with their activity; Enter shows their files, d their connections",
    },
    ViewDef {
        id: ViewId::Threads,
        name: "threads",
        title: "Threads",
        columns: &[
            col("TID", 8, Num),
            col("PID", 8, Num),
            col("NAME", 16, Text),
            col("EVENTS", 9, Num),
            col("TIME", 10, Nanos),
            col("ERRORS", 7, Num),
            col("READ", 10, Bytes),
            col("WRITE", 10, Bytes),
            col("COMMAND", 0, Text),
        ],
        sort: 3,
        fill_share: 0,
        drill: &[ViewId::Events],
        about: "threads with their activity; Enter shows their events",
    },
    ViewDef {
        id: ViewId::Files,
        name: "files",
        title: "Files",
        columns: &[
            col("OPENS", 6, Num),
            col("READ", 10, Bytes),
            col("WRITE", 10, Bytes),
            col("EVENTS", 8, Num),
            col("TIME", 10, Nanos),
            col("ERRORS", 7, Num),
            col("PROCS", 6, Num),
            col("NAME", 0, Text),
        ],
        sort: 3,
        fill_share: 0,
        drill: &[ViewId::Procs, ViewId::Events],
        about: "files and directories touched; Enter shows the processes that touched one",
    },
    ViewDef {
        id: ViewId::Dirs,
        name: "dirs",
        title: "Directories",
        columns: &[
            col("OPENS", 6, Num),
            col("READ", 10, Bytes),
            col("WRITE", 10, Bytes),
            col("EVENTS", 8, Num),
            col("ERRORS", 7, Num),
            col("FILES", 6, Num),
            col("DIRECTORY", 0, Text),
        ],
        sort: 3,
        fill_share: 0,
        drill: &[ViewId::Files, ViewId::Procs, ViewId::Events],
        about: "directories of the files touched; Enter shows their files",
    },
    ViewDef {
        id: ViewId::Conns,
        name: "conns",
        title: "Connections",
        columns: &[
            col("PROTO", 5, Text),
            col("IN", 10, Bytes),
            col("OUT", 10, Bytes),
            col("EVENTS", 8, Num),
            col("ERRORS", 7, Num),
            col("PROCS", 6, Num),
            col("CONNECTION", 0, Text),
        ],
        sort: 3,
        fill_share: 0,
        drill: &[ViewId::Procs, ViewId::Events],
        about: "network connections (client->server); Enter shows the processes using one",
    },
    ViewDef {
        id: ViewId::Ports,
        name: "ports",
        title: "Server ports",
        columns: &[
            col("PORT", 7, Num),
            col("CONNS", 6, Num),
            col("IN", 10, Bytes),
            col("OUT", 10, Bytes),
            col("EVENTS", 8, Num),
            col("ERRORS", 7, Num),
            col("PROCS", 6, Num),
        ],
        sort: 4,
        fill_share: 0,
        drill: &[ViewId::Conns, ViewId::Procs, ViewId::Events],
        about: "server ports of the connections; Enter shows their connections",
    },
    ViewDef {
        id: ViewId::Containers,
        name: "containers",
        title: "Containers",
        columns: &[
            col("PROCS", 6, Num),
            col("EVENTS", 9, Num),
            col("ERRORS", 7, Num),
            col("READ", 10, Bytes),
            col("WRITE", 10, Bytes),
            col("NET", 10, Bytes),
            col("CONTAINER", 0, Text),
        ],
        sort: 1,
        fill_share: 0,
        drill: &[ViewId::Procs, ViewId::Events],
        about: "containers (host outside any); Enter shows their processes",
    },
    ViewDef {
        id: ViewId::Syscalls,
        name: "syscalls",
        title: "System calls",
        columns: &[
            col("CALLS", 9, Num),
            col("TIME", 10, Nanos),
            col("ERRORS", 7, Num),
            col("BYTES", 10, Bytes),
            col("PROCS", 6, Num),
            col("SYSCALL", 0, Text),
        ],
        sort: 0,
        fill_share: 0,
        drill: &[ViewId::Procs, ViewId::Events],
        about: "system calls by type; Enter shows the processes that made one",
    },
    ViewDef {
        id: ViewId::Errors,
        name: "errors",
        title: "Errors",
        columns: &[
            col("COUNT", 8, Num),
            col("PROCS", 6, Num),
            col("ERROR", 14, Text),
            col("SYSCALL", 0, Text),
        ],
        sort: 0,
        fill_share: 0,
        drill: &[ViewId::Procs, ViewId::Events],
        about: "failed system calls by call and error; Enter shows who failed",
    },
    ViewDef {
        id: ViewId::Users,
        name: "users",
        title: "Users",
        columns: &[
            col("PROCS", 6, Num),
            col("EXECS", 6, Num),
            col("EVENTS", 9, Num),
            col("ERRORS", 7, Num),
            col("USER", 0, Text),
        ],
        sort: 2,
        fill_share: 0,
        drill: &[ViewId::Spy, ViewId::Procs, ViewId::Events],
        about: "users with their activity; Enter shows the commands they ran",
    },
    ViewDef {
        id: ViewId::Spy,
        name: "spy",
        title: "Commands executed",
        columns: &[
            col("TIME", 15, Time),
            col("USER", 10, Text),
            col("PID", 8, Num),
            col("SHELL", 8, Num),
            col("COMMAND", 0, Text),
        ],
        sort: 0,
        fill_share: 0,
        drill: &[ViewId::Events],
        about: "commands of interactive users under their login shells (spy_users)",
    },
    ViewDef {
        id: ViewId::Tree,
        name: "tree",
        title: "Process tree",
        columns: &[
            col("PID", 8, Num),
            col("PPID", 8, Num),
            col("EVENTS", 9, Num),
            col("ERRORS", 7, Num),
            col("PROCESS", 30, Text),
            col("COMMAND", 0, Text),
        ],
        sort: usize::MAX,
        fill_share: 0,
        drill: &[ViewId::Files, ViewId::Events],
        about: "processes under their parents; Enter shows a process' files",
    },
    ViewDef {
        id: ViewId::Events,
        name: "events",
        title: "Events",
        columns: &[
            col("NUM", 8, Num),
            col("TIME", 15, Time),
            col("PID", 7, Num),
            col("PROCESS", 15, Text),
            col("TID", 7, Num),
            col("TYPE", 12, Text),
            col("RES", 12, Text),
            col("OBJECT", 28, Text),
            col("ARGS", 0, Text),
        ],
        sort: 0,
        fill_share: 25,
        drill: &[],
        about: "every event in order; Enter shows one with every field",
    },
    ViewDef {
        id: ViewId::Drops,
        name: "drops",
        title: "Drops",
        columns: &[
            col("TIME", 15, Time),
            col("LOST", 9, Num),
            col("SO FAR", 9, Num),
            col("INTERVAL", 10, Nanos),
            col("RATE", 0, Text),
        ],
        sort: 0,
        fill_share: 0,
        drill: &[ViewId::Events],
        about: "events the capture lost, when; Enter shows the events of that interval",
    },
];

/// Text columns are not narrowed below this.
const TEXT_MIN: u16 = 8;

/// The width of each of `columns` in a table `width` cells wide, one cell
/// between columns. The column of width 0 takes what is left, but at least
/// `share` percent of the width (the event list's arguments must not
/// shrink to a few letters): the text columns give up cells for it, each
/// in proportion to what it has above [`TEXT_MIN`]; numbers keep theirs.
pub fn column_widths(columns: &[Column], width: u16, share: u16) -> Vec<u16> {
    let mut widths: Vec<u16> = columns.iter().map(|c| c.width).collect();
    let Some(fill) = columns.iter().position(|c| c.width == 0) else {
        return widths;
    };
    let spacing = u32::try_from(columns.len().saturating_sub(1)).unwrap_or(u32::MAX);
    let room = u32::from(width).saturating_sub(spacing);
    let wanted = u32::from(width) * u32::from(share) / 100;
    let fixed: u32 = widths.iter().map(|&w| u32::from(w)).sum();
    let slack = |c: &Column| match c.kind {
        ColKind::Text if c.width > TEXT_MIN => u32::from(c.width - TEXT_MIN),
        _ => 0,
    };
    let total_slack: u32 = columns.iter().map(slack).sum();
    let deficit = (fixed + wanted).saturating_sub(room).min(total_slack);
    if deficit > 0 {
        let mut taken = 0;
        for (w, c) in widths.iter_mut().zip(columns) {
            let share = deficit * slack(c) / total_slack;
            *w -= share as u16;
            taken += share;
        }
        // What rounding left: from the widest, one cell each.
        while taken < deficit {
            let widest = (0..columns.len())
                .filter(|&at| slack(&columns[at]) > 0 && widths[at] > TEXT_MIN)
                .max_by_key(|&at| (widths[at], std::cmp::Reverse(at)));
            let Some(at) = widest else { break };
            widths[at] -= 1;
            taken += 1;
        }
    }
    let fixed: u32 = widths.iter().map(|&w| u32::from(w)).sum();
    widths[fill] = u16::try_from(room.saturating_sub(fixed)).unwrap_or(0);
    widths
}

/// The definition of `id`.
pub fn def(id: ViewId) -> &'static ViewDef {
    VIEWS
        .iter()
        .find(|v| v.id == id)
        .unwrap_or(&VIEWS[VIEWS.len() - 1])
}

/// A view by name (or unambiguous prefix).
pub fn by_name(name: &str) -> Option<&'static ViewDef> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    VIEWS
        .iter()
        .find(|v| v.name == name)
        .or_else(|| VIEWS.iter().find(|v| v.name.starts_with(name)))
}

/// What a drill-down step narrows to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pred {
    /// A process.
    Pid(u32),
    /// A thread.
    Tid(u32),
    /// A file, socket…: an index into the objects.
    Object(u32),
    /// A directory: an index into the directories.
    Dir(u32),
    /// A server port.
    Port(u16),
    /// A container: an index into the containers.
    Container(u32),
    /// A user: an index into the users.
    User(u32),
    /// An event type: an index into the types.
    Type(u16),
    /// A failed call: type and return value.
    Error(u16, i64),
    /// A stretch of time (ns since the epoch, inclusive).
    Span(u64, u64),
}

impl Pred {
    /// The step as filter text (`proc.pid=42`), for breadcrumbs.
    pub fn filter_text(&self, index: &EventIndex) -> String {
        let name = |table: &[String], at: u32| {
            table
                .get(at as usize)
                .map(|s| quote_value(s))
                .unwrap_or_default()
        };
        match *self {
            Pred::Pid(pid) => format!("proc.pid={pid}"),
            Pred::Tid(tid) => format!("thread.tid={tid}"),
            Pred::Object(id) => match index.objects.get(id as usize) {
                Some(o) => format!("fd.name={}", quote_value(&o.name)),
                None => "fd.name=?".to_owned(),
            },
            Pred::Dir(id) => format!("fd.directory={}", name(&index.dirs, id)),
            Pred::Port(port) => format!("fd.sport={port}"),
            Pred::Container(id) => format!("container.id={}", name(&index.containers, id)),
            Pred::User(id) => format!("user.name={}", name(&index.users, id)),
            Pred::Type(id) => format!("evt.type={}", name(&index.types, u32::from(id))),
            Pred::Error(id, ret) => format!(
                "evt.type={} and evt.res={}",
                name(&index.types, u32::from(id)),
                error_name(ret)
            ),
            Pred::Span(from, to) => format!("evt.rawtime>={from} and evt.rawtime<={to}"),
        }
    }

    /// Views whose key this step already fixes: drilling into them again
    /// would show one row.
    fn pins(&self) -> &'static [ViewId] {
        match self {
            Pred::Pid(_) => &[ViewId::Procs, ViewId::Tree, ViewId::Spy],
            Pred::Tid(_) => &[ViewId::Threads, ViewId::Procs, ViewId::Tree, ViewId::Spy],
            Pred::Object(_) => &[ViewId::Files, ViewId::Conns],
            Pred::Dir(_) => &[ViewId::Dirs],
            Pred::Port(_) => &[ViewId::Ports],
            Pred::Container(_) => &[ViewId::Containers],
            Pred::User(_) => &[ViewId::Users],
            Pred::Type(_) => &[ViewId::Syscalls],
            Pred::Error(..) => &[ViewId::Errors, ViewId::Syscalls],
            Pred::Span(..) => &[ViewId::Drops],
        }
    }
}

/// Every view a row of `view` can be drilled into, given the steps
/// already taken, Enter's first.
pub fn drill_targets(view: ViewId, preds: &[Pred]) -> Vec<ViewId> {
    def(view)
        .drill
        .iter()
        .copied()
        .filter(|target| !preds.iter().any(|p| p.pins().contains(target)))
        .collect()
}

/// The errno name of a negative return value, or the number.
pub fn error_name(ret: i64) -> String {
    scry_analyze::fields::errno_name(ret).map_or_else(|| ret.to_string(), str::to_owned)
}

/// The events of the allowed processes or objects, whichever are fewer,
/// when they are a small part of the trace.
fn candidates(
    index: &EventIndex,
    procs: Option<&[bool]>,
    objects: Option<&[bool]>,
) -> Option<Vec<u32>> {
    let lists = |allowed: Option<&[bool]>, postings: &'_ crate::index::Postings| {
        allowed.map(|allowed| {
            let lists: Vec<usize> = allowed
                .iter()
                .enumerate()
                .filter(|(_, ok)| **ok)
                .map(|(key, _)| key)
                .collect();
            let total: usize = lists.iter().map(|&key| postings.get(key).len()).sum();
            (lists, total)
        })
    };
    let by_proc = lists(procs, &index.by_proc).map(|(l, n)| (l, n, &index.by_proc));
    let by_object = lists(objects, &index.by_object).map(|(l, n)| (l, n, &index.by_object));
    let (keys, total, postings) = match (by_proc, by_object) {
        (Some(a), Some(b)) => {
            if a.1 <= b.1 {
                a
            } else {
                b
            }
        }
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return None,
    };
    // Past a quarter of the events a plain scan is as quick.
    if total > index.len() / 4 {
        return None;
    }
    let mut events = Vec::with_capacity(total);
    for &key in &keys {
        events.extend_from_slice(postings.get(key));
    }
    // Each event has one process and one object, so the lists are
    // disjoint: sorting restores file order.
    if keys.len() > 1 {
        events.sort_unstable();
    }
    Some(events)
}

/// Below this many events per thread a pass is not split.
const PARALLEL_MIN: usize = 512 * 1024;

/// Which events a table is computed from.
#[derive(Debug)]
pub struct Selection<'a> {
    index: &'a EventIndex,
    mask: Option<&'a Mask>,
    range: Option<(u64, u64)>,
    procs: Option<Vec<bool>>,
    objects: Option<Vec<bool>>,
    types: Option<Vec<bool>>,
    tid: Option<u32>,
    ret: Option<i64>,
    /// No event can match (contradicting steps).
    none: bool,
    /// The only events that can match, in order, when the steps name few
    /// processes or objects: read from the postings instead of scanning.
    candidates: Option<Vec<u32>>,
    /// Nothing narrows: every event is selected.
    everything: bool,
}

fn narrow(slot: &mut Option<Vec<bool>>, len: usize, keep: impl Fn(usize) -> bool) {
    let table = slot.get_or_insert_with(|| vec![true; len]);
    for (at, ok) in table.iter_mut().enumerate() {
        *ok = *ok && keep(at);
    }
}

impl<'a> Selection<'a> {
    /// Events of `index` in `mask` (all without one), in `range`, that
    /// every step of `preds` keeps.
    pub fn new(
        index: &'a EventIndex,
        mask: Option<&'a Mask>,
        range: Option<(u64, u64)>,
        preds: &[Pred],
    ) -> Self {
        let mut sel = Selection {
            index,
            mask,
            range,
            procs: None,
            objects: None,
            types: None,
            tid: None,
            ret: None,
            none: false,
            candidates: None,
            everything: false,
        };
        let (procs, objects) = (index.procs.len(), index.objects.len());
        for pred in preds {
            match *pred {
                Pred::Pid(pid) => narrow(&mut sel.procs, procs, |p| index.procs[p].pid == pid),
                Pred::Container(c) => {
                    narrow(&mut sel.procs, procs, |p| index.procs[p].container == c);
                }
                Pred::User(u) => narrow(&mut sel.procs, procs, |p| index.procs[p].user == u),
                Pred::Object(id) => narrow(&mut sel.objects, objects, |o| o == id as usize),
                Pred::Dir(d) => narrow(&mut sel.objects, objects, |o| {
                    index.objects[o].dir == d && index.objects[o].is_file()
                }),
                Pred::Port(port) => narrow(&mut sel.objects, objects, |o| {
                    index.objects[o].is_net() && index.objects[o].port == port
                }),
                Pred::Type(t) => {
                    narrow(&mut sel.types, index.types.len(), |x| x == usize::from(t));
                }
                Pred::Error(t, ret) => {
                    narrow(&mut sel.types, index.types.len(), |x| x == usize::from(t));
                    sel.none |= sel.ret.is_some_and(|r| r != ret);
                    sel.ret = Some(ret);
                }
                Pred::Tid(tid) => {
                    sel.none |= sel.tid.is_some_and(|t| t != tid);
                    sel.tid = Some(tid);
                }
                Pred::Span(from, to) => {
                    let (from, to) = match sel.range {
                        Some((a, b)) => (a.max(from), b.min(to)),
                        None => (from, to),
                    };
                    sel.none |= from > to;
                    sel.range = Some((from, to));
                }
            }
        }
        sel.candidates = candidates(index, sel.procs.as_deref(), sel.objects.as_deref());
        sel.everything =
            mask.is_none() && range.is_none() && preds.is_empty() && sel.candidates.is_none();
        sel
    }

    /// Whether event `i` is selected.
    #[inline]
    pub fn matches(&self, i: usize) -> bool {
        let index = self.index;
        if self.mask.is_some_and(|m| !m.get(i)) {
            return false;
        }
        if let Some((from, to)) = self.range {
            let ts = index.ts[i];
            if ts < from || ts > to {
                return false;
            }
        }
        if let Some(procs) = &self.procs
            && !procs[index.proc[i] as usize]
        {
            return false;
        }
        if let Some(objects) = &self.objects {
            let obj = index.obj[i];
            if obj == NO_OBJECT || !objects[obj as usize] {
                return false;
            }
        }
        if let Some(types) = &self.types
            && !types[usize::from(index.etype[i])]
        {
            return false;
        }
        if self.tid.is_some_and(|t| t != index.tid[i]) {
            return false;
        }
        if self.ret.is_some_and(|r| r != index.ret[i]) {
            return false;
        }
        true
    }

    /// Whether a moment is in the selected time range.
    pub fn in_range(&self, ts: u64) -> bool {
        self.range.is_none_or(|(from, to)| ts >= from && ts <= to)
    }

    /// Whether event `i` is selected, contradicting steps included.
    pub fn contains(&self, i: usize) -> bool {
        !self.none && self.matches(i)
    }

    /// Runs `visit` over every selected event, on several threads for a
    /// big index: each thread takes a contiguous part of the events, in
    /// order, with its own state from `make`. The states come back in the
    /// order of their parts, for the caller to merge.
    pub fn fold<T: Send>(
        &self,
        make: impl Fn() -> T + Sync,
        visit: impl Fn(&mut T, usize) + Sync,
    ) -> Vec<T> {
        let len = match (&self.candidates, self.none) {
            (_, true) => 0,
            (Some(events), _) => events.len(),
            (None, _) => self.index.len(),
        };
        // `range` is a range of positions: in the candidates if any, else
        // of events.
        let run = |range: std::ops::Range<usize>| {
            let mut state = make();
            match &self.candidates {
                Some(events) => {
                    for &i in &events[range] {
                        if self.matches(i as usize) {
                            visit(&mut state, i as usize);
                        }
                    }
                }
                None if self.everything => {
                    for i in range {
                        visit(&mut state, i);
                    }
                }
                None => {
                    for i in range {
                        if self.matches(i) {
                            visit(&mut state, i);
                        }
                    }
                }
            }
            state
        };
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let parts = threads.min(len / PARALLEL_MIN).max(1);
        if parts == 1 {
            return vec![run(0..len)];
        }
        let step = len.div_ceil(parts);
        std::thread::scope(|scope| {
            let run = &run;
            let handles: Vec<_> = (0..parts)
                .map(|part| {
                    let range = part * step..((part + 1) * step).min(len);
                    scope.spawn(move || run(range))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }

    /// Calls `visit` with every selected event, in order.
    pub fn for_each(&self, mut visit: impl FnMut(usize)) {
        if self.none {
            return;
        }
        match &self.candidates {
            Some(events) => {
                for &i in events {
                    if self.matches(i as usize) {
                        visit(i as usize);
                    }
                }
            }
            None => {
                for i in 0..self.index.len() {
                    if self.everything || self.matches(i) {
                        visit(i);
                    }
                }
            }
        }
    }
}

/// One cell of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A count.
    Num(u64),
    /// Bytes.
    Bytes(u64),
    /// A timestamp.
    Time(u64),
    /// A duration, ns.
    Nanos(u64),
}

impl Cell {
    fn cmp_value(&self, other: &Cell) -> Ordering {
        match (self, other) {
            (Cell::Text(a), Cell::Text(b)) => a.cmp(b),
            (a, b) => a.number().cmp(&b.number()),
        }
    }

    fn number(&self) -> u64 {
        match self {
            Cell::Num(n) | Cell::Bytes(n) | Cell::Time(n) | Cell::Nanos(n) => *n,
            Cell::Text(_) => 0,
        }
    }

    /// The cell as shown.
    pub fn render(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Num(n) => n.to_string(),
            Cell::Bytes(n) => bytes(*n),
            Cell::Time(ns) => clock(*ns),
            Cell::Nanos(ns) => scry_analyze::human::duration(*ns),
        }
    }
}

/// A byte count with a binary unit (`1.5 KiB`).
pub fn bytes(n: u64) -> String {
    scry_analyze::human::bytes(n)
}

/// A timestamp as UTC clock time with microseconds.
pub fn clock(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let day = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        day / 3600,
        day / 60 % 60,
        day % 60,
        ns % 1_000_000_000 / 1000
    )
}

/// A row: what it stands for and its cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The step Enter pushes.
    pub key: Pred,
    /// Cells, one per column.
    pub cells: Vec<Cell>,
}

/// The rows of a view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    /// Aggregated rows.
    Groups(Vec<Row>),
    /// Event ordinals (the event list), cells made when shown.
    Events(Vec<u32>),
}

/// A computed view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The view.
    pub view: ViewId,
    /// Its rows, sorted.
    pub rows: Rows,
    /// Sort column and whether descending; `None` keeps the natural
    /// order (time for events, the tree for the tree).
    pub sort: Option<(usize, bool)>,
}

impl Table {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match &self.rows {
            Rows::Groups(rows) => rows.len(),
            Rows::Events(events) => events.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Running totals of one group.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    events: u64,
    time: u64,
    errors: u64,
    read: u64,
    write: u64,
    net: u64,
    opens: u64,
    execs: u64,
    procs: u64,
    objects: u64,
}

impl Acc {
    /// Adds the counts of `other` (distinct counts are not merged).
    fn merge(&mut self, other: &Acc) {
        self.events += other.events;
        self.time += other.time;
        self.errors += other.errors;
        self.read += other.read;
        self.write += other.write;
        self.net += other.net;
        self.opens += other.opens;
        self.execs += other.execs;
    }

    #[inline(always)]
    fn add(&mut self, index: &EventIndex, i: usize) {
        let bits = index.class[i];
        self.events += 1;
        self.time += index.latency[i];
        if bits & class::ERROR != 0 {
            self.errors += 1;
        }
        let moved = index.io_bytes(i);
        if bits & class::READ != 0 {
            self.read += moved;
        }
        if bits & class::WRITE != 0 {
            self.write += moved;
        }
        if bits & class::NET != 0 {
            self.net += moved;
        }
        if bits & class::OPEN != 0 {
            self.opens += 1;
        }
        if bits & class::EXEC != 0 {
            self.execs += 1;
        }
    }
}

/// Groups selected events by a key, counting distinct processes and
/// objects per group when the view shows them. Keys that are indexes into
/// the index's tables are counted in a vector, the others in a map.
struct Groups {
    dense: Vec<Acc>,
    sparse: FxHashMap<u64, Acc>,
    is_dense: bool,
    distinct_procs: bool,
    distinct_objects: bool,
    seen_procs: FxHashSet<(u64, u32)>,
    seen_objects: FxHashSet<(u64, u32)>,
    last_proc: Option<(u64, u32)>,
    last_object: Option<(u64, u32)>,
}

impl Groups {
    /// Groups for keys below `dense` (a vector), or any keys (`None`).
    fn new(dense: Option<usize>, distinct_procs: bool, distinct_objects: bool) -> Self {
        Groups {
            dense: vec![Acc::default(); dense.unwrap_or(0)],
            sparse: FxHashMap::default(),
            is_dense: dense.is_some(),
            distinct_procs,
            distinct_objects,
            seen_procs: FxHashSet::default(),
            seen_objects: FxHashSet::default(),
            last_proc: None,
            last_object: None,
        }
    }

    // Called for every event of a table: inlined into each view's loop.
    #[inline(always)]
    fn add(&mut self, index: &EventIndex, i: usize, key: u64) {
        let acc = if self.is_dense {
            match self.dense.get_mut(key as usize) {
                Some(acc) => acc,
                None => return,
            }
        } else {
            self.sparse.entry(key).or_default()
        };
        acc.add(index, i);
        // Runs of events of one process on one object are the common case:
        // the sets are only asked when something changed.
        if self.distinct_procs {
            let pid = index.procs[index.proc[i] as usize].pid;
            if self.last_proc != Some((key, pid)) {
                self.last_proc = Some((key, pid));
                self.seen_procs.insert((key, pid));
            }
        }
        if self.distinct_objects {
            let obj = index.obj[i];
            if obj != NO_OBJECT && self.last_object != Some((key, obj)) {
                self.last_object = Some((key, obj));
                self.seen_objects.insert((key, obj));
            }
        }
    }

    /// Adds the groups another thread counted.
    fn merge(&mut self, other: Groups) {
        for (acc, more) in self.dense.iter_mut().zip(&other.dense) {
            acc.merge(more);
        }
        for (key, more) in &other.sparse {
            self.sparse.entry(*key).or_default().merge(more);
        }
        self.seen_procs.extend(other.seen_procs);
        self.seen_objects.extend(other.seen_objects);
    }

    /// Every group that counted an event, with its distinct counts.
    fn finish(self) -> FxHashMap<u64, Acc> {
        let mut totals: FxHashMap<u64, Acc> = if self.is_dense {
            self.dense
                .into_iter()
                .enumerate()
                .filter(|(_, acc)| acc.events > 0)
                .map(|(key, acc)| (key as u64, acc))
                .collect()
        } else {
            self.sparse
        };
        for (key, _) in &self.seen_procs {
            if let Some(acc) = totals.get_mut(key) {
                acc.procs += 1;
            }
        }
        for (key, _) in &self.seen_objects {
            if let Some(acc) = totals.get_mut(key) {
                acc.objects += 1;
            }
        }
        totals
    }
}

/// Counts the events of `sel` in the groups `key` puts them in (none for
/// `None`), on every core, and merges the parts.
fn group_by(
    sel: &Selection<'_>,
    index: &EventIndex,
    new: impl Fn() -> Groups + Sync,
    key: impl Fn(usize) -> Option<u64> + Sync,
) -> Groups {
    let parts = sel.fold(&new, |groups: &mut Groups, i| {
        if let Some(key) = key(i) {
            groups.add(index, i, key);
        }
    });
    let mut parts = parts.into_iter();
    let mut groups = parts.next().unwrap_or_else(new);
    for part in parts {
        groups.merge(part);
    }
    groups
}

/// Computes `view` over `sel`, sorted by its default column.
pub fn compute(view: ViewId, index: &EventIndex, sel: &Selection<'_>) -> Table {
    let d = def(view);
    // Numbers sort largest first, text and the event list's order
    // (number, time) first to last.
    let sort = (d.sort != usize::MAX).then(|| {
        (
            d.sort,
            view != ViewId::Events && d.columns[d.sort].kind.largest_first(),
        )
    });
    let rows = match view {
        ViewId::Events => {
            let parts = sel.fold(Vec::new, |events: &mut Vec<u32>, i| events.push(i as u32));
            Rows::Events(parts.concat())
        }
        ViewId::Spy => Rows::Groups(spy_rows(index, sel)),
        ViewId::Drops => Rows::Groups(drop_rows(index, sel)),
        ViewId::Tree => Rows::Groups(tree_rows(index, sel)),
        _ => Rows::Groups(group_rows(view, index, sel)),
    };
    let mut table = Table {
        view,
        rows,
        sort: None,
    };
    if view != ViewId::Events {
        sort_table(&mut table, index, sort);
    } else {
        table.sort = sort;
    }
    table
}

fn group_rows(view: ViewId, index: &EventIndex, sel: &Selection<'_>) -> Vec<Row> {
    let dense = match view {
        // Processes are counted per entry, then per pid.
        ViewId::Procs => Some(index.procs.len()),
        ViewId::Files | ViewId::Conns => Some(index.objects.len()),
        ViewId::Dirs => Some(index.dirs.len()),
        ViewId::Containers => Some(index.containers.len()),
        ViewId::Syscalls => Some(index.types.len()),
        ViewId::Users => Some(index.users.len()),
        _ => None,
    };
    let columns = def(view).columns;
    let shows = |title: &str| columns.iter().any(|c| c.title == title);
    let (distinct_procs, distinct_objects) = (shows("PROCS"), shows("FILES") || shows("CONNS"));
    let new = || Groups::new(dense, distinct_procs, distinct_objects);
    let object = |i: usize| {
        let obj = index.obj[i];
        (obj != NO_OBJECT).then(|| (obj, &index.objects[obj as usize]))
    };
    let proc = |i: usize| &index.procs[index.proc[i] as usize];
    // One loop per view, each with its key inlined.
    let groups = match view {
        ViewId::Procs => group_by(sel, index, new, |i| Some(u64::from(index.proc[i]))),
        ViewId::Threads => group_by(sel, index, new, |i| Some(u64::from(index.tid[i]))),
        ViewId::Files => group_by(sel, index, new, |i| {
            object(i)
                .filter(|(_, o)| o.is_file())
                .map(|(obj, _)| u64::from(obj))
        }),
        ViewId::Dirs => group_by(sel, index, new, |i| {
            object(i)
                .filter(|(_, o)| o.is_file())
                .map(|(_, o)| u64::from(o.dir))
        }),
        ViewId::Conns => group_by(sel, index, new, |i| {
            object(i)
                .filter(|(_, o)| o.is_net())
                .map(|(obj, _)| u64::from(obj))
        }),
        ViewId::Ports => group_by(sel, index, new, |i| {
            object(i)
                .filter(|(_, o)| o.is_net() && o.port != 0)
                .map(|(_, o)| u64::from(o.port))
        }),
        ViewId::Containers => group_by(sel, index, new, |i| Some(u64::from(proc(i).container))),
        ViewId::Syscalls => group_by(sel, index, new, |i| Some(u64::from(index.etype[i]))),
        ViewId::Errors => group_by(sel, index, new, |i| {
            (index.class[i] & class::ERROR != 0).then(|| {
                (u64::from(index.etype[i]) << 32) | (index.ret[i].unsigned_abs() & 0xffff_ffff)
            })
        }),
        ViewId::Users => group_by(sel, index, new, |i| Some(u64::from(proc(i).user))),
        ViewId::Spy | ViewId::Tree | ViewId::Events | ViewId::Drops => new(),
    };
    // The latest process entry of each pid names its row.
    let mut latest: FxHashMap<u32, usize> = FxHashMap::default();
    if matches!(view, ViewId::Procs | ViewId::Threads) {
        for (at, p) in index.procs.iter().enumerate() {
            latest.insert(p.pid, at);
        }
    }
    let mut thread_pid: FxHashMap<u32, u32> = FxHashMap::default();
    if view == ViewId::Threads {
        sel.for_each(|i| {
            thread_pid
                .entry(index.tid[i])
                .or_insert(index.procs[index.proc[i] as usize].pid);
        });
    }
    let mut totals = groups.finish();
    if view == ViewId::Procs {
        let mut by_pid: FxHashMap<u64, Acc> = FxHashMap::default();
        for (proc_id, acc) in totals {
            let pid = index.procs[proc_id as usize].pid;
            by_pid.entry(u64::from(pid)).or_default().merge(&acc);
        }
        totals = by_pid;
    }
    let text = |table: &[String], at: u64| table.get(at as usize).cloned().unwrap_or_default();
    totals
        .into_iter()
        .map(|(key, a)| {
            let k32 = key as u32;
            let (pred, cells) = match view {
                ViewId::Procs => {
                    let p = latest.get(&k32).map(|&at| &index.procs[at]);
                    let p = p.cloned().unwrap_or_default();
                    (
                        Pred::Pid(k32),
                        vec![
                            Cell::Num(key),
                            Cell::Text(p.name),
                            Cell::Text(text(&index.users, u64::from(p.user))),
                            Cell::Num(a.events),
                            Cell::Nanos(a.time),
                            Cell::Num(a.errors),
                            Cell::Bytes(a.read),
                            Cell::Bytes(a.write),
                            Cell::Bytes(a.net),
                            Cell::Num(a.opens),
                            Cell::Text(text(&index.containers, u64::from(p.container))),
                            Cell::Text(p.cmdline),
                        ],
                    )
                }
                ViewId::Threads => {
                    let pid = thread_pid.get(&k32).copied().unwrap_or(0);
                    let p = latest.get(&pid).map(|&at| &index.procs[at]);
                    let p = p.cloned().unwrap_or_default();
                    (
                        Pred::Tid(k32),
                        vec![
                            Cell::Num(key),
                            Cell::Num(u64::from(pid)),
                            Cell::Text(p.name),
                            Cell::Num(a.events),
                            Cell::Nanos(a.time),
                            Cell::Num(a.errors),
                            Cell::Bytes(a.read),
                            Cell::Bytes(a.write),
                            Cell::Text(p.cmdline),
                        ],
                    )
                }
                ViewId::Files => (
                    Pred::Object(k32),
                    vec![
                        Cell::Num(a.opens),
                        Cell::Bytes(a.read),
                        Cell::Bytes(a.write),
                        Cell::Num(a.events),
                        Cell::Nanos(a.time),
                        Cell::Num(a.errors),
                        Cell::Num(a.procs),
                        Cell::Text(index.objects[k32 as usize].name.clone()),
                    ],
                ),
                ViewId::Dirs => (
                    Pred::Dir(k32),
                    vec![
                        Cell::Num(a.opens),
                        Cell::Bytes(a.read),
                        Cell::Bytes(a.write),
                        Cell::Num(a.events),
                        Cell::Num(a.errors),
                        Cell::Num(a.objects),
                        Cell::Text(text(&index.dirs, key)),
                    ],
                ),
                ViewId::Conns => {
                    let o = &index.objects[k32 as usize];
                    let proto = if o.kind == b'6' { "ipv6" } else { "ipv4" };
                    (
                        Pred::Object(k32),
                        vec![
                            Cell::Text(proto.to_owned()),
                            Cell::Bytes(a.read),
                            Cell::Bytes(a.write),
                            Cell::Num(a.events),
                            Cell::Num(a.errors),
                            Cell::Num(a.procs),
                            Cell::Text(o.name.clone()),
                        ],
                    )
                }
                ViewId::Ports => (
                    Pred::Port(key as u16),
                    vec![
                        Cell::Num(key),
                        Cell::Num(a.objects),
                        Cell::Bytes(a.read),
                        Cell::Bytes(a.write),
                        Cell::Num(a.events),
                        Cell::Num(a.errors),
                        Cell::Num(a.procs),
                    ],
                ),
                ViewId::Containers => (
                    Pred::Container(k32),
                    vec![
                        Cell::Num(a.procs),
                        Cell::Num(a.events),
                        Cell::Num(a.errors),
                        Cell::Bytes(a.read),
                        Cell::Bytes(a.write),
                        Cell::Bytes(a.net),
                        Cell::Text(text(&index.containers, key)),
                    ],
                ),
                ViewId::Syscalls => (
                    Pred::Type(key as u16),
                    vec![
                        Cell::Num(a.events),
                        Cell::Nanos(a.time),
                        Cell::Num(a.errors),
                        Cell::Bytes(a.read + a.write),
                        Cell::Num(a.procs),
                        Cell::Text(text(&index.types, key)),
                    ],
                ),
                ViewId::Errors => {
                    let etype = (key >> 32) as u16;
                    let ret = -((key & 0xffff_ffff) as i64);
                    (
                        Pred::Error(etype, ret),
                        vec![
                            Cell::Num(a.events),
                            Cell::Num(a.procs),
                            Cell::Text(error_name(ret)),
                            Cell::Text(text(&index.types, u64::from(etype))),
                        ],
                    )
                }
                _ => (
                    Pred::User(k32),
                    vec![
                        Cell::Num(a.procs),
                        Cell::Num(a.execs),
                        Cell::Num(a.events),
                        Cell::Num(a.errors),
                        Cell::Text(text(&index.users, key)),
                    ],
                ),
            };
            Row { key: pred, cells }
        })
        .collect()
}

/// The commands of interactive users, as `scry spy users` lists them:
/// each indented under its session shell.
fn spy_rows(index: &EventIndex, sel: &Selection<'_>) -> Vec<Row> {
    index
        .commands
        .iter()
        .filter(|c| sel.contains(c.ordinal as usize))
        .map(|c| Row {
            key: Pred::Pid(c.pid),
            cells: vec![
                Cell::Time(index.ts[c.ordinal as usize]),
                Cell::Text(c.user.clone()),
                Cell::Num(u64::from(c.pid)),
                Cell::Num(u64::from(c.shell)),
                Cell::Text(format!(
                    "{:indent$}{}",
                    "",
                    c.text,
                    indent = usize::from(c.depth) * 2
                )),
            ],
        })
        .collect()
}

/// One row per drop counter that went up in the selected time: when, how
/// many events were lost since the counter before it, over how long.
fn drop_rows(index: &EventIndex, sel: &Selection<'_>) -> Vec<Row> {
    let start = index.time_range().map(|(first, _)| first);
    let mut rows = Vec::new();
    let mut previous: Option<(u64, u64)> = None;
    for &(ts, so_far) in &index.drops {
        // Each file counts from zero: a counter that went down starts one.
        let (since, lost) = match previous {
            Some((at, before)) if so_far >= before => (at, so_far - before),
            _ => (start.map_or(ts, |first| first.min(ts)), so_far),
        };
        previous = Some((ts, so_far));
        if lost == 0 || !sel.in_range(ts) {
            continue;
        }
        let seconds = (ts - since) as f64 / 1e9;
        let rate = if seconds > 0.0 {
            format!(
                "{} lost/s",
                thousands((lost as f64 / seconds).round() as u64)
            )
        } else {
            String::new()
        };
        rows.push(Row {
            key: Pred::Span(since, ts),
            cells: vec![
                Cell::Time(ts),
                Cell::Num(lost),
                Cell::Num(so_far),
                Cell::Nanos(ts - since),
                Cell::Text(rate),
            ],
        });
    }
    rows
}

fn tree_rows(index: &EventIndex, sel: &Selection<'_>) -> Vec<Row> {
    let mut per_pid: FxHashMap<u32, Acc> = FxHashMap::default();
    sel.for_each(|i| {
        let pid = index.procs[index.proc[i] as usize].pid;
        per_pid.entry(pid).or_default().add(index, i);
    });
    let mut latest: FxHashMap<u32, usize> = FxHashMap::default();
    for (at, p) in index.procs.iter().enumerate() {
        if per_pid.contains_key(&p.pid) {
            latest.insert(p.pid, at);
        }
    }
    let mut children: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    let mut roots = Vec::new();
    for (&pid, &at) in &latest {
        let ppid = index.procs[at].ppid;
        if ppid != pid && latest.contains_key(&ppid) {
            children.entry(ppid).or_default().push(pid);
        } else {
            roots.push(pid);
        }
    }
    roots.sort_unstable();
    for list in children.values_mut() {
        list.sort_unstable();
    }
    let mut rows = Vec::new();
    // Depth-first, iteratively: deep trees (fork bombs) must not overflow
    // the stack.
    let mut stack: Vec<(u32, usize)> = roots.iter().rev().map(|&pid| (pid, 0)).collect();
    let mut guard = FxHashSet::default();
    while let Some((pid, depth)) = stack.pop() {
        if !guard.insert(pid) {
            continue;
        }
        let p = &index.procs[latest[&pid]];
        let a = per_pid.get(&pid).copied().unwrap_or_default();
        let mut name = String::new();
        for _ in 0..depth {
            name.push_str("  ");
        }
        let _ = write!(name, "{}{}", if depth > 0 { "└ " } else { "" }, p.name);
        rows.push(Row {
            key: Pred::Pid(pid),
            cells: vec![
                Cell::Num(u64::from(pid)),
                Cell::Num(u64::from(p.ppid)),
                Cell::Num(a.events),
                Cell::Num(a.errors),
                Cell::Text(name),
                Cell::Text(p.cmdline.clone()),
            ],
        });
        if let Some(kids) = children.get(&pid) {
            stack.extend(kids.iter().rev().map(|&kid| (kid, depth + 1)));
        }
    }
    rows
}

/// Sorts `table` by `sort` (column, descending); `None` restores the
/// natural order only for events (the tree keeps its shape until sorted).
pub fn sort_table(table: &mut Table, index: &EventIndex, sort: Option<(usize, bool)>) {
    table.sort = sort;
    match &mut table.rows {
        Rows::Groups(rows) => {
            let Some((column, descending)) = sort else {
                return;
            };
            rows.sort_by(|a, b| {
                let by = match (a.cells.get(column), b.cells.get(column)) {
                    (Some(x), Some(y)) => x.cmp_value(y),
                    _ => Ordering::Equal,
                };
                let by = if descending { by.reverse() } else { by };
                // Ties are broken by the whole row so the order is stable
                // from one run to the next.
                by.then_with(|| {
                    a.cells
                        .iter()
                        .zip(&b.cells)
                        .map(|(x, y)| x.cmp_value(y))
                        .find(|o| o.is_ne())
                        .unwrap_or(Ordering::Equal)
                })
            });
        }
        Rows::Events(events) => {
            let (column, descending) = sort.unwrap_or((0, false));
            let name = |i: u32| &index.procs[index.proc[i as usize] as usize];
            let obj = |i: u32| {
                let o = index.obj[i as usize];
                if o == NO_OBJECT {
                    ""
                } else {
                    index.objects[o as usize].name.as_str()
                }
            };
            match column {
                2 => events.sort_by_key(|&i| (name(i).pid, i)),
                3 => events.sort_by(|&a, &b| name(a).name.cmp(&name(b).name).then(a.cmp(&b))),
                4 => events.sort_by_key(|&i| (index.tid[i as usize], i)),
                5 => events.sort_by(|&a, &b| {
                    index.types[usize::from(index.etype[a as usize])]
                        .cmp(&index.types[usize::from(index.etype[b as usize])])
                        .then(a.cmp(&b))
                }),
                6 => events.sort_by_key(|&i| (index.ret[i as usize], i)),
                7 => events.sort_by(|&a, &b| obj(a).cmp(obj(b)).then(a.cmp(&b))),
                _ => events.sort_unstable(),
            }
            if descending {
                events.reverse();
            }
        }
    }
}

/// The cells of one event row of the event list, but its arguments.
pub fn event_cells(index: &EventIndex, ordinal: usize) -> Vec<Cell> {
    let p = &index.procs[index.proc[ordinal] as usize];
    let ret = index.ret[ordinal];
    let obj = index.obj[ordinal];
    let res = if ret < 0 && index.class[ordinal] & class::ERROR != 0 {
        error_name(ret)
    } else {
        ret.to_string()
    };
    vec![
        Cell::Num(index.num[ordinal] + 1),
        Cell::Time(index.ts[ordinal]),
        Cell::Num(u64::from(p.pid)),
        Cell::Text(p.name.clone()),
        Cell::Num(u64::from(index.tid[ordinal])),
        Cell::Text(
            index
                .types
                .get(usize::from(index.etype[ordinal]))
                .cloned()
                .unwrap_or_default(),
        ),
        Cell::Text(res),
        Cell::Text(if obj == NO_OBJECT {
            String::new()
        } else {
            index.objects[obj as usize].name.clone()
        }),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::source::{Progress, Source, Traces};

    #[test]
    fn the_last_column_gets_a_share_of_the_width() {
        let share = def(ViewId::Events).fill_share;
        let events = &def(ViewId::Events).columns;
        for width in [80u16, 100, 120, 160] {
            let widths = column_widths(events, width, share);
            let used: u32 =
                widths.iter().map(|&w| u32::from(w)).sum::<u32>() + (widths.len() as u32 - 1);
            assert_eq!(used, u32::from(width), "{widths:?}");
            // Narrower, the text columns reach their minimum first.
            let args = *widths.last().unwrap();
            assert!(width < 120 || args * 100 >= width * share, "{widths:?}");
            for (w, c) in widths.iter().zip(events.iter()) {
                // Numbers and times keep their width; text keeps a minimum.
                match c.kind {
                    ColKind::Text if c.width > 0 => assert!(*w >= TEXT_MIN.min(c.width)),
                    ColKind::Text => {}
                    _ => assert_eq!(*w, c.width),
                }
            }
        }
        // Wide enough, nothing shrinks.
        let widths = column_widths(events, 250, share);
        assert!(
            widths
                .iter()
                .zip(events.iter())
                .all(|(w, c)| c.width == 0 || *w == c.width)
        );
    }

    fn workload() -> EventIndex {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/workload.scry");
        let trace = scry_format::TraceFile::open(std::fs::read(path).unwrap()).unwrap();
        let source = Traces::new(vec![("workload.scry".to_owned(), trace)], 1);
        source.index("", &Progress::new(0)).unwrap().0
    }

    fn selected(sel: &Selection<'_>) -> Vec<usize> {
        let mut events = Vec::new();
        sel.for_each(|i| events.push(i));
        events
    }

    #[test]
    fn postings_select_what_a_scan_selects() {
        let index = workload();
        let mut steps: Vec<Vec<Pred>> =
            index.procs.iter().map(|p| vec![Pred::Pid(p.pid)]).collect();
        steps.extend((0..index.objects.len() as u32).map(|o| vec![Pred::Object(o)]));
        steps.push(vec![
            Pred::Pid(index.procs[0].pid),
            Pred::Type(index.etype[0]),
        ]);
        let mut used = 0;
        for preds in steps {
            let sel = Selection::new(&index, None, None, &preds);
            used += usize::from(sel.candidates.is_some());
            let via_postings = selected(&sel);
            let scan = Selection {
                candidates: None,
                ..Selection::new(&index, None, None, &preds)
            };
            assert_eq!(via_postings, selected(&scan), "{preds:?}");
            let parts = sel.fold(Vec::new, |v: &mut Vec<usize>, i| v.push(i));
            assert_eq!(parts.concat(), via_postings);
        }
        assert!(used > 0, "small selections read the postings");
    }
}
