//! `tree`: the process tree of a capture: every process that did
//! something, under its parent, with the program it ended up running, when
//! it started, how long it lived and how it ended.
//!
//! The tree is built from every event (clone, exec and exit move it); a
//! filter only marks processes, and the tree then keeps the marked ones and
//! their ancestors.

use std::io::Write;

use rustc_hash::FxHashMap;
use scry_format::EventTable;

use super::{is_type, types_named};
use crate::fields::Ctx;
use crate::human;
use crate::output::push_json_str;
use crate::render::{clock_time, push_int};
use crate::state::{Process, State, UNKNOWN_ID};

/// One process of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid (0 when unknown).
    pub ppid: u32,
    /// The command line it last ran.
    pub cmdline: String,
    /// Its user's name (or uid), if known.
    pub user: Option<String>,
    /// When it started, ns since the epoch, 0 when unknown.
    pub start: u64,
    /// When it exited, if it did during the capture.
    pub end: Option<u64>,
    /// Its exit status, if it exited.
    pub status: Option<i64>,
    /// The signal that killed it, if one did.
    pub signal: Option<i64>,
    /// It had an event that matched the filter.
    pub matched: bool,
}

/// Builds the tree, one event at a time.
#[derive(Debug, Default)]
pub struct TreeBuilder {
    nodes: FxHashMap<u32, Node>,
}

/// The event types of one trace that move the tree.
#[derive(Debug)]
pub struct TreeTypes {
    execs: Vec<bool>,
    exits: Vec<bool>,
}

impl TreeTypes {
    /// Reads the event types of one trace.
    pub fn new(table: &EventTable) -> TreeTypes {
        TreeTypes {
            execs: types_named(table, &["execve", "execveat"]),
            exits: types_named(table, &["procexit"]),
        }
    }
}

fn node_of(process: &Process, state: &State, ts: u64) -> Node {
    let mut cmdline = String::from_utf8_lossy(&process.comm).into_owned();
    for arg in &process.args {
        cmdline.push(' ');
        cmdline.push_str(&String::from_utf8_lossy(arg));
    }
    Node {
        pid: process.pid,
        ppid: process.ppid,
        cmdline,
        user: (process.uid != UNKNOWN_ID).then(|| {
            state
                .user(process.uid)
                .map_or_else(|| process.uid.to_string(), |u| u.name.clone())
        }),
        start: if process.start_ts != 0 {
            process.start_ts
        } else {
            ts
        },
        end: None,
        status: None,
        signal: None,
        matched: false,
    }
}

impl TreeBuilder {
    /// Adds one event; `matched` says whether it matched the filter.
    pub fn add(&mut self, types: &TreeTypes, ctx: &Ctx<'_>, matched: bool) {
        let event = &ctx.event;
        let tgid = event.tgid();
        let kind = event.event_type();
        // A process is placed when first seen, and again while its parent
        // is unknown: a vfork child's first event comes before its
        // parent's vfork returns and names it.
        let parent_known = self.nodes.get(&tgid).map(|n| n.ppid != 0);
        if parent_known != Some(true) {
            let Some(process) = ctx.state.process(tgid) else {
                return;
            };
            match self.nodes.get_mut(&tgid) {
                Some(node) => node.ppid = process.ppid,
                None => {
                    let node = node_of(process, ctx.state, event.ts());
                    self.nodes.insert(tgid, node);
                }
            }
            // Ancestors the capture never saw act still belong in the tree.
            for level in 1..64 {
                match ctx.state.ancestor(tgid, level) {
                    Some(p) if !self.nodes.contains_key(&p.pid) => {
                        self.nodes.insert(p.pid, node_of(p, ctx.state, 0));
                    }
                    Some(_) => {}
                    None => break,
                }
            }
        }
        let Some(node) = self.nodes.get_mut(&tgid) else {
            return;
        };
        node.matched |= matched;
        if is_type(&types.execs, kind) && event.ret() == 0 {
            if let Some(process) = ctx.state.process(tgid) {
                let fresh = node_of(process, ctx.state, event.ts());
                node.cmdline = fresh.cmdline;
                node.user = fresh.user;
            }
        } else if is_type(&types.exits, kind) {
            node.end = Some(event.ts());
            node.status = event.param_int(0);
            node.signal = event.param_int(1).filter(|&s| s != 0);
        }
    }

    /// The tree in depth-first order, children by start time: each node
    /// with its depth. With `only_matched`, the nodes that matched and
    /// their ancestors.
    pub fn finish(self, only_matched: bool) -> Vec<(usize, Node)> {
        let mut nodes = self.nodes;
        if only_matched {
            let mut keep: Vec<u32> = Vec::new();
            for node in nodes.values().filter(|n| n.matched) {
                let mut pid = node.pid;
                while let Some(n) = nodes.get(&pid) {
                    keep.push(pid);
                    if n.ppid == pid {
                        break;
                    }
                    pid = n.ppid;
                }
            }
            keep.sort_unstable();
            nodes.retain(|pid, _| keep.binary_search(pid).is_ok());
        }
        let mut children: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut roots = Vec::new();
        for node in nodes.values() {
            if node.ppid != node.pid && nodes.contains_key(&node.ppid) {
                children.entry(node.ppid).or_default().push(node.pid);
            } else {
                roots.push(node.pid);
            }
        }
        let order = |pids: &mut Vec<u32>| pids.sort_by_key(|pid| (nodes[pid].start, *pid));
        order(&mut roots);
        for list in children.values_mut() {
            order(list);
        }
        let mut out = Vec::with_capacity(nodes.len());
        let mut stack: Vec<(usize, u32)> = roots.iter().rev().map(|&pid| (0, pid)).collect();
        while let Some((depth, pid)) = stack.pop() {
            if let Some(kids) = children.get(&pid) {
                stack.extend(kids.iter().rev().map(|&kid| (depth + 1, kid)));
            }
            if let Some(node) = nodes.get(&pid) {
                out.push((depth, node.clone()));
            }
        }
        out
    }
}

/// The name of signal `n` (`SIGKILL`), or its number.
fn signal_name(n: i64) -> String {
    const NAMES: [&str; 32] = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(n)
        .ok()
        .and_then(|i| NAMES.get(i))
        .map_or_else(|| format!("signal {n}"), |name| (*name).to_owned())
}

/// Command lines longer than this are cut in the text tree (JSON keeps
/// them whole): a daemon's environment on its command line would bury the
/// tree.
const CMDLINE_SHOWN: usize = 160;

fn shortened(cmdline: &str) -> std::borrow::Cow<'_, str> {
    match cmdline.char_indices().nth(CMDLINE_SHOWN) {
        Some((cut, _)) => format!("{}…", &cmdline[..cut]).into(),
        None => cmdline.into(),
    }
}

/// For each node of a depth-first tree, whether it is its parent's last
/// child: no node of the same depth follows it before a shallower one. One
/// pass from the end, remembering which depths have a later sibling.
fn last_children(tree: &[(usize, Node)]) -> Vec<bool> {
    let mut last = vec![false; tree.len()];
    let mut sibling_below: Vec<bool> = Vec::new();
    for (i, (depth, _)) in tree.iter().enumerate().rev() {
        sibling_below.resize(depth + 1, false);
        last[i] = !sibling_below[*depth];
        sibling_below[*depth] = true;
    }
    last
}

/// Writes the tree with box-drawing guides, one process per line:
/// `├─ 1234 cmdline  [20:05:32.336 · 1.3 ms · exit 0]`.
pub fn write_text(tree: &[(usize, Node)], out: &mut Vec<u8>) {
    // Whether the ancestor at each depth still has siblings below: its
    // guide line continues.
    let last = last_children(tree);
    let mut open: Vec<bool> = Vec::new();
    for (&last, (depth, node)) in last.iter().zip(tree) {
        let depth = *depth;
        open.truncate(depth);
        for &continues in open.iter().take(depth).skip(1) {
            out.extend_from_slice(if continues { "│  " } else { "   " }.as_bytes());
        }
        if depth > 0 {
            out.extend_from_slice(if last { "└─ " } else { "├─ " }.as_bytes());
        }
        open.resize(depth + 1, false);
        open[depth] = !last;
        let _ = write!(out, "{} {}  [", node.pid, shortened(&node.cmdline));
        // The parts known, apart by " · ": a process seen only in the
        // snapshot has no start time, and so no lifetime either.
        let mut parts: Vec<String> = Vec::with_capacity(3);
        if node.start != 0 {
            parts.push(clock_time(node.start));
        }
        match (node.end, node.status, node.signal) {
            (Some(end), status, signal) => {
                if node.start != 0 {
                    parts.push(human::duration(end.saturating_sub(node.start)));
                }
                parts.push(match signal {
                    Some(signal) => format!("killed by {}", signal_name(signal)),
                    None => format!("exit {}", status.unwrap_or(0)),
                });
            }
            (None, ..) => parts.push("running".to_owned()),
        }
        out.extend_from_slice(parts.join(" · ").as_bytes());
        out.extend_from_slice(b"]\n");
    }
}

/// Writes the tree as JSON Lines, one process per line in tree order,
/// with its parent's pid and depth.
pub fn write_json(tree: &[(usize, Node)], out: &mut Vec<u8>) {
    for (depth, node) in tree {
        out.extend_from_slice(b"{\"proc.pid\":");
        push_int(out, i128::from(node.pid));
        out.extend_from_slice(b",\"proc.ppid\":");
        push_int(out, i128::from(node.ppid));
        out.extend_from_slice(b",\"depth\":");
        push_int(out, *depth as i128);
        out.extend_from_slice(b",\"proc.cmdline\":");
        push_json_str(&node.cmdline, out);
        out.extend_from_slice(b",\"user.name\":");
        match &node.user {
            Some(user) => push_json_str(user, out),
            None => out.extend_from_slice(b"null"),
        }
        let optional = |out: &mut Vec<u8>, key: &[u8], value: Option<i128>| {
            out.extend_from_slice(key);
            match value {
                Some(v) => push_int(out, v),
                None => out.extend_from_slice(b"null"),
            }
        };
        let start = (node.start != 0).then_some(node.start);
        optional(out, b",\"start\":", start.map(i128::from));
        optional(out, b",\"end\":", node.end.map(i128::from));
        optional(out, b",\"exit_code\":", node.status.map(i128::from));
        optional(out, b",\"signal\":", node.signal.map(i128::from));
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(pid: u32, ppid: u32, start: u64) -> Node {
        Node {
            pid,
            ppid,
            cmdline: format!("p{pid}"),
            user: Some("root".to_owned()),
            start,
            end: Some(start + 1_000),
            status: Some(0),
            signal: None,
            matched: pid == 4,
        }
    }

    fn builder(nodes: &[Node]) -> TreeBuilder {
        TreeBuilder {
            nodes: nodes.iter().map(|n| (n.pid, n.clone())).collect(),
        }
    }

    #[test]
    fn children_follow_their_parent_by_start_time_with_guides() {
        let nodes = [
            node(1, 0, 10),
            node(3, 1, 30),
            node(2, 1, 20),
            node(4, 2, 40),
            node(5, 0, 50),
        ];
        let tree = builder(&nodes).finish(false);
        let order: Vec<(usize, u32)> = tree.iter().map(|(d, n)| (*d, n.pid)).collect();
        assert_eq!(order, [(0, 1), (1, 2), (2, 4), (1, 3), (0, 5)]);
        let mut out = Vec::new();
        write_text(&tree, &mut out);
        let text = String::from_utf8(out).expect("UTF-8");
        let guides: Vec<&str> = text
            .lines()
            .map(|l| l.split(" p").next().unwrap_or(""))
            .collect();
        assert_eq!(guides, ["1", "├─ 2", "│  └─ 4", "└─ 3", "5"]);
    }

    #[test]
    fn a_filter_keeps_matches_and_their_ancestors() {
        let nodes = [
            node(1, 0, 10),
            node(2, 1, 20),
            node(3, 1, 30),
            node(4, 2, 40),
        ];
        let tree = builder(&nodes).finish(true);
        let pids: Vec<u32> = tree.iter().map(|(_, n)| n.pid).collect();
        assert_eq!(pids, [1, 2, 4]);
    }

    /// What is known of a process is written apart by " · ", and nothing
    /// stands for what is not (a process seen only in the snapshot has no
    /// start time, and so no lifetime).
    #[test]
    fn the_bracket_holds_only_what_is_known() {
        let running = Node {
            end: None,
            status: None,
            ..node(1, 0, 0)
        };
        let exited_unseen = node(2, 1, 0);
        let killed = Node {
            signal: Some(9),
            ..node(3, 1, 1_000_000_000)
        };
        let tree = builder(&[running, exited_unseen, killed]).finish(false);
        let mut out = Vec::new();
        write_text(&tree, &mut out);
        let text = String::from_utf8(out).expect("UTF-8");
        let brackets: Vec<&str> = text
            .lines()
            .map(|l| l.split_once('[').map_or("", |(_, b)| b))
            .collect();
        assert_eq!(brackets[0], "running]");
        assert_eq!(brackets[1], "exit 0]");
        assert!(
            brackets[2].ends_with(" · 1.0 µs · killed by SIGKILL]"),
            "{}",
            brackets[2]
        );
    }
}
