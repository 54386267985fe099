//! scap events into the model's records.
//!
//! Older captures hold two events per syscall, an enter and an exit with
//! the same name; the model has one record per syscall, written at exit.
//! An enter event is kept aside per thread until its exit comes, and the
//! record takes each argument from the exit when it has it and from the
//! enter otherwise (so old layouts, which put the arguments in the enter
//! event, and current ones, which repeat them in the exit, both work).
//!
//! Syscalls the model decodes are given the model's parameter names,
//! order and flag values (libscap normalises open and clone flags and
//! fcntl commands to its own constants; the analyser expects Linux's).
//! Everything else keeps libscap's names and values under its own name,
//! so no event of the capture is lost.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rustc_hash::FxHashMap;

use super::meta::{Le, cgroup_path, split_nul, trim_nul};
use super::schema::{EVENT_MAX, EVENTS, EventSchema, SYSCALL_NAMES};
use crate::chunk::{ChunkBuilder, EventHead, ParamEncoder};
use crate::event_table::{EventTable, EventTypeInfo, PROCEXIT, UNKNOWN_SYSCALL};
use crate::model::{EventType, SockAddr};

/// Most parameters kept per event (execve, the largest, has 31).
const MAX_PARAMS: usize = 32;
/// First type id given to scap events the model has no type for.
pub(super) const FIRST_SCAP_TYPE: EventType = 2000;
/// x86_64 numbers of the syscalls that do not return.
const NR_EXIT: u64 = 60;
const NR_EXIT_GROUP: u64 = 231;
/// The name given to libscap's `procexit` of a thread that is not its
/// process' last: the model's `procexit` means the whole process ended.
const THREAD_EXIT: &str = "thread_exit";
const PPM_CL_CLONE_THREAD: u64 = 1 << 13;

/// `ppm_param_type` ids this module looks at.
mod pt {
    pub(super) const INT8: u8 = 1;
    pub(super) const INT16: u8 = 2;
    pub(super) const INT32: u8 = 3;
    pub(super) const INT64: u8 = 4;
    pub(super) const CHARBUF: u8 = 9;
    pub(super) const BYTEBUF: u8 = 10;
    pub(super) const ERRNO: u8 = 11;
    pub(super) const SOCKADDR: u8 = 12;
    pub(super) const SOCKTUPLE: u8 = 13;
    pub(super) const FD: u8 = 14;
    pub(super) const PID: u8 = 15;
    pub(super) const FDLIST: u8 = 16;
    pub(super) const FSPATH: u8 = 17;
    pub(super) const IPV4ADDR: u8 = 26;
    pub(super) const DYN: u8 = 27;
    pub(super) const DOUBLE: u8 = 33;
    pub(super) const IPV6ADDR: u8 = 38;
    pub(super) const IPADDR: u8 = 40;
    pub(super) const FSRELPATH: u8 = 43;
    pub(super) const FD32: u8 = 47;
    pub(super) const PID32: u8 = 48;
}

/// One event as found in an event block. Its parameters are located when
/// asked for: most events are converted without looking at more than one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Raw<'b> {
    pub(super) cpu: u16,
    pub(super) ts: u64,
    pub(super) tid: u64,
    pub(super) code: u16,
    /// The whole event, header included.
    bytes: &'b [u8],
    layout: Layout,
}

/// Where an event's parameters are: its length table's offset, the width
/// of each length, and how many there are (checked to fit the event).
#[derive(Debug, Clone, Copy, Default)]
struct Layout {
    table: u8,
    large: bool,
    count: u16,
}

impl Raw<'_> {
    #[inline]
    fn param(&self, index: usize) -> Option<&[u8]> {
        let Layout {
            table,
            large,
            count,
        } = self.layout;
        if index >= usize::from(count).min(MAX_PARAMS) {
            return None;
        }
        let lens = &self.bytes[usize::from(table)..];
        let length_at = |i: usize| -> usize {
            if large {
                let at = i * 4;
                u32::from_le_bytes([lens[at], lens[at + 1], lens[at + 2], lens[at + 3]]) as usize
            } else {
                let at = i * 2;
                usize::from(u16::from_le_bytes([lens[at], lens[at + 1]]))
            }
        };
        let width = if large { 4 } else { 2 };
        let mut at = usize::from(table) + usize::from(count) * width;
        for i in 0..index {
            at += length_at(i);
        }
        self.bytes.get(at..at + length_at(index))
    }
}

/// What parsing needs to know of each event code, in one small table: the
/// width of its parameter lengths, how many parameters the schema gives it,
/// and the count last found for its V1 events (`u8::MAX`: none yet). V1
/// events do not say how many parameters they have; a capture's events of
/// one code all have the same number, so the count that fitted the last
/// one is tried first.
#[derive(Debug, Clone)]
pub(super) struct Codes(Vec<CodeFacts>);

#[derive(Debug, Clone, Copy)]
struct CodeFacts {
    large: bool,
    expected: u8,
    v1_count: u8,
}

impl Default for Codes {
    fn default() -> Self {
        Codes(
            EVENTS
                .iter()
                .map(|schema| CodeFacts {
                    large: schema.large,
                    expected: schema.params.len().min(MAX_PARAMS) as u8,
                    v1_count: u8::MAX,
                })
                .collect(),
        )
    }
}

/// The bytes `n` parameters take in `lens` (their length table, then
/// their values), table included, if the table fits.
#[inline]
fn params_size(lens: &[u8], n: usize, large: bool) -> Option<usize> {
    let table = n * if large { 4 } else { 2 };
    let lengths = lens.get(..table)?;
    // At most 1024 lengths of 32 bits: the sum cannot overflow.
    let values: usize = if large {
        lengths
            .chunks_exact(4)
            .map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)
            .sum()
    } else {
        lengths
            .chunks_exact(2)
            .map(|l| usize::from(u16::from_le_bytes([l[0], l[1]])))
            .sum()
    };
    Some(table + values)
}

/// Parses the event of an event block body. `large` blocks have 32-bit
/// parameter lengths; `flags` blocks carry a u32 of flags after the cpu;
/// `v1` events have no parameter count in their header.
#[inline]
pub(super) fn parse<'b>(
    body: &'b [u8],
    v1: bool,
    flags: bool,
    large: bool,
    codes: &mut Codes,
) -> Result<Raw<'b>, String> {
    let start = if flags { 6 } else { 2 };
    let header = if v1 { 22 } else { 26 };
    if body.len() < start + 22 {
        return Err("event block shorter than its event".to_owned());
    }
    let cpu = u16::from_le_bytes([body[0], body[1]]);
    let word = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().unwrap_or([0; 8]));
    let ts = word(start);
    let tid = word(start + 8);
    let len =
        u32::from_le_bytes(body[start + 16..start + 20].try_into().unwrap_or([0; 4])) as usize;
    let code = u16::from_le_bytes([body[start + 20], body[start + 21]]);
    if len < header || start + len > body.len() {
        return Err(format!(
            "event of type {code} declares {len} bytes, its block holds {}",
            body.len() - start
        ));
    }
    let bytes = &body[start..start + len];
    let facts = codes.0.get_mut(usize::from(code));
    let large = large || facts.as_ref().is_some_and(|f| f.large);
    let lens = &bytes[header..];
    // The bytes `n` parameters take, table included, if their table fits.
    let size = |n: usize| params_size(lens, n, large);
    let count = if v1 {
        // The count is whatever makes the lengths add up to the event's
        // size: the last count of this code, else the table's count and
        // fewer, then more.
        let exact = |n: usize| size(n) == Some(lens.len());
        match facts {
            Some(facts) if facts.v1_count != u8::MAX && exact(usize::from(facts.v1_count)) => {
                usize::from(facts.v1_count)
            }
            facts => {
                let expected = facts.as_ref().map_or(0, |f| usize::from(f.expected));
                let found = (0..=expected)
                    .rev()
                    .chain(expected + 1..=MAX_PARAMS)
                    .find(|&n| exact(n))
                    .ok_or_else(|| {
                        format!("event of type {code}: parameter lengths do not add up")
                    })?;
                if let Some(facts) = facts {
                    facts.v1_count = found as u8;
                }
                found
            }
        }
    } else {
        let n = u32::from_le_bytes([bytes[22], bytes[23], bytes[24], bytes[25]]) as usize;
        if n > 1024 || size(n).is_none_or(|sum| sum > lens.len()) {
            return Err(format!(
                "event of type {code}: {n} parameters do not fit in {len} bytes"
            ));
        }
        n
    };
    Ok(Raw {
        cpu,
        ts,
        tid,
        code,
        bytes,
        layout: Layout {
            table: header as u8,
            large,
            count: count as u16,
        },
    })
}

/// Where a record parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loc {
    /// The exit (or standalone) event's parameter.
    Exit(u8),
    /// The matching enter event's parameter.
    Enter(u8),
    /// The syscall's return value.
    Ret,
}

/// How a parameter's bytes become a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// By its `ppm_param_type`.
    Plain(u8),
    /// libscap open flags into `O_*`.
    OpenFlags,
    /// libscap clone flags into `CLONE_*`.
    CloneFlags,
    /// libscap fcntl commands into `F_*`.
    FcntlCmd,
    /// The client end of a socket tuple.
    TupleClient,
    /// The server end of a socket tuple.
    TupleServer,
    /// A NUL-separated argument list, after the exit's parameter `0`
    /// (argv\[0\], which libscap keeps apart).
    Args(u8),
    /// The first controller's path of a cgroup list.
    Cgroup,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    loc: Loc,
    conv: Conv,
}

/// What a record needs beyond its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    None,
    /// The generic syscall event: its type is its native number.
    Generic,
    /// clone, fork, vfork, clone3: a new thread or process.
    Clone,
    /// execve, execveat: the thread may have a new process id.
    Exec,
    /// A thread ended.
    ProcExit,
}

/// How to turn one event code into records.
#[derive(Debug, Clone)]
struct Plan {
    event_type: EventType,
    /// Index of the exit's return value parameter.
    ret: Option<u8>,
    /// For each record parameter, where to look, in order of preference.
    params: Vec<Vec<Source>>,
    special: Special,
    /// Indices of the `pid` and `flags` parameters (clone, exec).
    pid: Option<u8>,
    flags: Option<u8>,
}

/// The model's names where libscap names a syscall differently.
fn model_name(scap: &str) -> &str {
    match scap {
        "pread" => "pread64",
        "pwrite" => "pwrite64",
        "prlimit" => "prlimit64",
        other => other,
    }
}

/// Where each parameter the model decodes comes from, by libscap name,
/// when it is not the parameter of the same name. `$ret` is the return
/// value, `$client`/`$server` the ends of the `tuple` parameter, `$args`
/// the argument list with argv\[0\] and `$cgroup` the cgroup list.
fn aliases(syscall: &str, param: &str) -> Option<&'static [&'static str]> {
    Some(match (syscall, param) {
        ("open" | "creat" | "openat" | "openat2", "fd") => &["$ret"],
        ("dup" | "dup2" | "dup3", "oldfd") => &["oldfd", "fd"],
        ("dup" | "dup2" | "dup3", "newfd") => &["newfd", "$ret"],
        ("connect", "addr") => &["addr", "$server"],
        ("connect", "local") => &["$client"],
        ("accept" | "accept4", "fd") => &[],
        ("accept" | "accept4", "addr") => &["$client"],
        ("accept" | "accept4", "local") => &["$server"],
        ("symlink", "oldpath") => &["target"],
        ("symlink", "newpath") => &["linkpath"],
        ("unlink" | "rmdir", "path") => &["path", "name"],
        ("linkat", "olddirfd") => &["olddir"],
        ("linkat", "newdirfd") => &["newdir"],
        ("tgkill", "tgid") => &["pid"],
        ("tkill", "pid") => &["tid"],
        ("clone" | "clone3" | "fork" | "vfork", "child_tid") => &[],
        ("execve" | "execveat", "filename") => &["filename", "exe"],
        ("execve" | "execveat", "args") => &["$args"],
        ("execve" | "execveat", "exe") => &["trusted_exepath"],
        ("execve" | "execveat", "euid") => &["euid", "uid"],
        ("execve" | "execveat", "egid") => &["egid", "gid"],
        ("execve" | "execveat", "cgroup") => &["$cgroup"],
        _ => return None,
    })
}

/// The event table of an imported capture and how each scap event code
/// maps into it.
pub(super) struct Mapping {
    pub(super) table: EventTable,
    thread_exit: EventType,
    /// What each event code is, so that an event is classified by one
    /// lookup.
    kinds: Vec<CodeKind>,
    plans: Vec<Option<Plan>>,
    /// The model's type of each libscap syscall code, for generic events.
    generic: Vec<Option<EventType>>,
}

impl std::fmt::Debug for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping")
            .field("types", &self.table.entries().len())
            .finish_non_exhaustive()
    }
}

/// What an event code is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    /// Not in the schema (a newer writer's).
    Unknown,
    /// The enter event of a syscall; `generic` for the generic syscall
    /// event, whose enter may be all there is (`exit`, `exit_group`).
    Enter { generic: bool },
    /// The exit event of a syscall.
    Exit,
    /// An event that is not half of a syscall (`procexit`, `switch`…).
    Single,
}

fn code_kind(code: usize) -> CodeKind {
    match EVENTS.get(code) {
        None => CodeKind::Unknown,
        Some(schema) if schema.name.is_empty() => CodeKind::Unknown,
        Some(schema) if !schema.syscall => CodeKind::Single,
        Some(schema) if code.is_multiple_of(2) => CodeKind::Enter {
            generic: schema.name == "syscall",
        },
        Some(_) => CodeKind::Exit,
    }
}

/// The parameter names that describe every version of the events called
/// `name`: the longest exit layout, then names only other versions have.
fn union_params(name: &str) -> Vec<String> {
    let versions: Vec<(usize, &EventSchema)> = EVENTS
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == name)
        .collect();
    let names_of = |code: usize, schema: &EventSchema| -> Vec<&'static str> {
        let exit = !schema.syscall || !code.is_multiple_of(2);
        let skip = usize::from(exit && schema.syscall && returns_first(schema));
        schema.params.iter().skip(skip).map(|p| p.0).collect()
    };
    let mut lists: Vec<(bool, Vec<&str>)> = versions
        .iter()
        .map(|&(code, s)| (s.syscall && code.is_multiple_of(2), names_of(code, s)))
        .collect();
    // Exit layouts first, longest first.
    lists.sort_by_key(|(enter, list)| (*enter, std::cmp::Reverse(list.len())));
    let mut out: Vec<String> = Vec::new();
    for (_, list) in lists {
        for name in list {
            if !out.iter().any(|n| n == name) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// Whether an exit layout starts with the return value.
fn returns_first(schema: &EventSchema) -> bool {
    schema
        .params
        .first()
        .is_some_and(|p| matches!(p.0, "res" | "fd"))
}

impl Mapping {
    /// The table and plans for every code of the schema.
    pub(super) fn new() -> Self {
        let builtin = EventTable::builtin_x86_64();
        let decodes = |name: &str| {
            builtin.id_of(name).is_some_and(|id| {
                builtin
                    .get(id)
                    .is_some_and(|e| e.params.first().is_none_or(|p| p != "a0"))
            })
        };
        let mut entries: Vec<EventTypeInfo> = builtin.entries().to_vec();
        let mut own: FxHashMap<&str, EventType> = FxHashMap::default();
        let mut next_own = FIRST_SCAP_TYPE;
        let mut rewritten: Vec<&str> = Vec::new();
        for schema in EVENTS.iter().filter(|s| !s.name.is_empty()) {
            let name = model_name(schema.name);
            if name == "syscall" || name == "procexit" || own.contains_key(name) {
                continue;
            }
            match builtin.id_of(name) {
                Some(_) if decodes(name) => {}
                Some(id) if schema.syscall => {
                    if !rewritten.contains(&name) {
                        rewritten.push(name);
                        let params = union_params(schema.name);
                        if let Some(entry) = entries.iter_mut().find(|e| e.id == id) {
                            entry.params = params;
                        }
                    }
                }
                _ => {
                    own.insert(name, next_own);
                    entries.push(EventTypeInfo {
                        id: next_own,
                        name: name.to_owned(),
                        params: union_params(schema.name),
                    });
                    next_own += 1;
                }
            }
        }
        let thread_exit = next_own;
        entries.push(EventTypeInfo {
            id: thread_exit,
            name: THREAD_EXIT.to_owned(),
            params: union_params("procexit"),
        });
        let table = EventTable::new(entries);
        let plans = (0..EVENT_MAX)
            .map(|code| plan(&table, &own, code))
            .collect();
        let generic = SYSCALL_NAMES
            .iter()
            .map(|name| {
                let name = model_name(name);
                table
                    .id_of(name)
                    .filter(|&id| id < crate::FIRST_SPECIAL_TYPE)
            })
            .collect();
        Mapping {
            table,
            thread_exit,
            kinds: (0..EVENT_MAX).map(code_kind).collect(),
            plans,
            generic,
        }
    }
}

/// The plan of one code, `None` for unused codes and enter events.
fn plan(table: &EventTable, own: &FxHashMap<&str, EventType>, code: usize) -> Option<Plan> {
    let schema = &EVENTS[code];
    if schema.name.is_empty() || (schema.syscall && code.is_multiple_of(2)) {
        return None;
    }
    let enter = schema.syscall.then(|| &EVENTS[code - 1]);
    let name = model_name(schema.name);
    let (event_type, special) = match name {
        "syscall" => (UNKNOWN_SYSCALL, Special::Generic),
        "procexit" => (PROCEXIT, Special::ProcExit),
        _ => {
            let id = own.get(name).copied().or_else(|| table.id_of(name))?;
            let special = match name {
                "clone" | "clone3" | "fork" | "vfork" => Special::Clone,
                "execve" | "execveat" => Special::Exec,
                _ => Special::None,
            };
            (id, special)
        }
    };
    let find = |s: &EventSchema, wanted: &str| s.params.iter().position(|p| p.0 == wanted);
    let ret = (schema.syscall && returns_first(schema)).then_some(0u8);
    let conv_of = |s: &EventSchema, at: usize, model_param: &str| -> Conv {
        let (_, ty, info) = s.params[at];
        match info {
            "file_flags" | "creat_flags" => Conv::OpenFlags,
            "clone_flags" => Conv::CloneFlags,
            "fcntl_commands" => Conv::FcntlCmd,
            _ if model_param == "cgroup" => Conv::Cgroup,
            _ => Conv::Plain(ty),
        }
    };
    let mut params = Vec::new();
    if special != Special::Generic && special != Special::ProcExit {
        let entry = table.get(event_type)?;
        for model_param in &entry.params {
            let candidates: Vec<&str> = aliases(name, model_param)
                .map(<[&str]>::to_vec)
                .unwrap_or_else(|| vec![model_param.as_str()]);
            let mut sources = Vec::new();
            for candidate in candidates {
                match candidate {
                    "$ret" => sources.push(Source {
                        loc: Loc::Ret,
                        conv: Conv::Plain(pt::INT64),
                    }),
                    "$client" | "$server" => {
                        let conv = if candidate == "$client" {
                            Conv::TupleClient
                        } else {
                            Conv::TupleServer
                        };
                        if let Some(at) = find(schema, "tuple") {
                            sources.push(Source {
                                loc: Loc::Exit(at as u8),
                                conv,
                            });
                        }
                        if let Some(at) = enter.and_then(|e| find(e, "tuple")) {
                            sources.push(Source {
                                loc: Loc::Enter(at as u8),
                                conv,
                            });
                        }
                    }
                    "$args" => {
                        if let (Some(args), Some(exe)) = (find(schema, "args"), find(schema, "exe"))
                        {
                            sources.push(Source {
                                loc: Loc::Exit(args as u8),
                                conv: Conv::Args(exe as u8),
                            });
                        }
                    }
                    "$cgroup" => {
                        if let Some(at) = find(schema, "cgroups") {
                            sources.push(Source {
                                loc: Loc::Exit(at as u8),
                                conv: Conv::Cgroup,
                            });
                        }
                    }
                    scap_name => {
                        if let Some(at) = find(schema, scap_name) {
                            sources.push(Source {
                                loc: Loc::Exit(at as u8),
                                conv: conv_of(schema, at, model_param),
                            });
                        }
                        if let Some(e) = enter
                            && let Some(at) = find(e, scap_name)
                        {
                            sources.push(Source {
                                loc: Loc::Enter(at as u8),
                                conv: conv_of(e, at, model_param),
                            });
                        }
                    }
                }
            }
            params.push(sources);
        }
    }
    let index = |wanted: &str| find(schema, wanted).map(|at| at as u8);
    Some(Plan {
        event_type,
        ret,
        params,
        special,
        pid: index("pid"),
        flags: index("flags"),
    })
}

/// An enter event waiting for its exit.
#[derive(Debug, Default)]
struct Stash {
    code: u16,
    ts: u64,
    /// The event, when its exit's record is to carry parameters.
    bytes: Option<Vec<u8>>,
    layout: Layout,
    /// Waiting for its exit.
    live: bool,
}

/// The enter event of each thread, kept until its exit comes. Threads
/// are never forgotten (their slots are reused), and the last one looked
/// up is found without hashing: an exit mostly follows its enter.
#[derive(Debug)]
struct Pending {
    stashes: Vec<Stash>,
    slots: FxHashMap<u64, u32>,
    /// The tid and slot of the last lookup (`u64::MAX`: none).
    last: (u64, u32),
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            stashes: Vec::new(),
            slots: FxHashMap::default(),
            last: (u64::MAX, 0),
        }
    }
}

impl Pending {
    /// The slot of `tid`, made if it has none.
    #[inline]
    fn slot(&mut self, tid: u64) -> &mut Stash {
        if self.last.0 != tid {
            let next = self.stashes.len() as u32;
            let slot = *self.slots.entry(tid).or_insert(next);
            if slot == next {
                self.stashes.push(Stash::default());
            }
            self.last = (tid, slot);
        }
        &mut self.stashes[self.last.1 as usize]
    }

    /// The slot of `tid`, if it has one.
    #[inline]
    fn get(&mut self, tid: u64) -> Option<&mut Stash> {
        if self.last.0 != tid {
            let slot = *self.slots.get(&tid)?;
            self.last = (tid, slot);
        }
        self.stashes.get_mut(self.last.1 as usize)
    }

    fn live(&self) -> usize {
        self.stashes.iter().filter(|stash| stash.live).count()
    }

    fn clear(&mut self) {
        *self = Pending::default();
    }
}

/// Counters of what the conversion did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversionStats {
    /// Events read from the capture.
    pub scap_events: u64,
    /// Records written.
    pub records: u64,
    /// Enter events folded into their exit's record.
    pub paired: u64,
    /// Enter events whose exit is not in the capture (the capture ended,
    /// or the exit was dropped): not kept.
    pub unpaired_enters: u64,
    /// Events of codes this reader does not know (from a newer writer).
    pub unknown_events: u64,
    /// Events whose bytes did not decode.
    pub undecodable_events: u64,
}

/// The stateful part of the conversion: pending enters and the process
/// of every thread.
pub(super) struct Converter {
    mapping: Mapping,
    state: ConvState,
    /// Per event type: its records carry their parameters (`None`: all).
    params_of: Option<Vec<bool>>,
}

struct ConvState {
    pending: Pending,
    tgids: FxHashMap<u64, u32>,
    last: (u64, u32),
    stats: ConversionStats,
}

impl std::fmt::Debug for Converter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Converter")
            .field("stats", &self.state.stats)
            .finish_non_exhaustive()
    }
}

/// Where records go: a chunk, and the container of each process when the
/// chunk is to be written with a summary (`None`: no summary).
pub(super) struct Sink<'s> {
    pub(super) chunk: &'s mut ChunkBuilder,
    pub(super) containers: Option<&'s FxHashMap<u32, String>>,
}

impl Sink<'_> {
    #[inline]
    fn push(&mut self, head: &EventHead, emit: &Emit<'_>) {
        let container = match self.containers {
            Some(containers) => containers.get(&head.tgid).map(String::as_str),
            None => None,
        };
        self.chunk.push_encoded(head, container, |params| {
            if emit.wanted {
                emit.encode(params, head);
            }
        });
    }
}

/// The parameters of a record, ready to encode.
struct Emit<'r> {
    plan: &'r Plan,
    exit: Raw<'r>,
    enter: Option<Raw<'r>>,
    special: Option<(Special, u64)>,
    /// The record carries its parameters.
    wanted: bool,
}

impl ConvState {
    fn tgid(&mut self, tid: u64) -> u32 {
        if self.last.0 == tid {
            return self.last.1;
        }
        let tgid = self.tgids.get(&tid).copied().unwrap_or(tid as u32);
        self.last = (tid, tgid);
        tgid
    }

    fn set_tgid(&mut self, tid: u64, tgid: u32) {
        self.tgids.insert(tid, tgid);
        if self.last.0 == tid {
            self.last.1 = tgid;
        }
    }
}

impl Converter {
    /// A converter whose threads start with the processes of `threads`
    /// (tid, tgid), from the capture's process list.
    pub(super) fn new(mapping: Mapping, threads: impl IntoIterator<Item = (u64, u32)>) -> Self {
        Converter {
            mapping,
            state: ConvState {
                pending: Pending::default(),
                tgids: threads.into_iter().collect(),
                last: (u64::MAX, 0),
                stats: ConversionStats::default(),
            },
            params_of: None,
        }
    }

    /// Records of the event types `params_of` marks `false` (by type id)
    /// are made without their parameters; `None` keeps them all.
    pub(super) fn set_params_of(&mut self, params_of: Option<Vec<bool>>) {
        self.params_of = params_of;
    }

    /// Ends the conversion: enters still waiting for their exit are
    /// counted as unpaired.
    pub(super) fn finish(&mut self) -> ConversionStats {
        let waiting = self.state.pending.live();
        self.state.stats.unpaired_enters += waiting as u64;
        self.state.pending.clear();
        self.state.stats.clone()
    }

    /// Counts an event whose bytes did not decode.
    pub(super) fn undecodable(&mut self) {
        self.state.stats.scap_events += 1;
        self.state.stats.undecodable_events += 1;
    }

    /// Takes one event; `Record` when it completes one.
    #[inline]
    pub(super) fn take(&mut self, raw: Raw<'_>, sink: &mut Sink<'_>) {
        let Converter {
            mapping,
            state,
            params_of,
        } = self;
        state.stats.scap_events += 1;
        let code = usize::from(raw.code);
        let kind = mapping
            .kinds
            .get(code)
            .copied()
            .unwrap_or(CodeKind::Unknown);
        if let CodeKind::Enter { generic } = kind {
            let never_returns = generic
                && raw
                    .param(1)
                    .map(le_uint)
                    .is_some_and(|nr| nr == NR_EXIT || nr == NR_EXIT_GROUP);
            if !never_returns {
                // The enter's parameters matter only to an exit whose
                // record carries parameters (a generic event's type is
                // known only from its parameters).
                let keep = generic
                    || mapping
                        .plans
                        .get(code + 1)
                        .and_then(Option::as_ref)
                        .is_some_and(|plan| wants(params_of.as_deref(), plan.event_type));
                let stash = state.pending.slot(raw.tid);
                if stash.live {
                    state.stats.unpaired_enters += 1;
                }
                stash.code = raw.code;
                stash.ts = raw.ts;
                if keep {
                    let bytes = stash.bytes.get_or_insert_default();
                    bytes.clear();
                    bytes.extend_from_slice(raw.bytes);
                } else if let Some(bytes) = &mut stash.bytes {
                    // Keeps the allocation for a later enter.
                    bytes.clear();
                }
                stash.layout = if keep { raw.layout } else { Layout::default() };
                stash.live = true;
                return;
            }
            // exit and exit_group have no exit event: the enter is the
            // record.
            return record(
                mapping,
                state,
                params_of.as_deref(),
                raw,
                false,
                code + 1,
                sink,
            );
        }
        if kind == CodeKind::Unknown {
            state.stats.unknown_events += 1;
            return;
        }
        let mut paired = false;
        if kind == CodeKind::Exit
            && let Some(stash) = state.pending.get(raw.tid)
            && stash.live
        {
            if usize::from(stash.code) + 1 == code {
                state.stats.paired += 1;
                paired = true;
            } else {
                state.stats.unpaired_enters += 1;
                stash.live = false;
            }
        }
        record(
            mapping,
            state,
            params_of.as_deref(),
            raw,
            paired,
            code,
            sink,
        );
    }
}

#[inline]
fn record(
    mapping: &Mapping,
    state: &mut ConvState,
    params_of: Option<&[bool]>,
    raw: Raw<'_>,
    paired: bool,
    code: usize,
    sink: &mut Sink<'_>,
) {
    let Some(plan) = mapping.plans.get(code).and_then(Option::as_ref) else {
        state.stats.unknown_events += 1;
        if paired && let Some(stash) = state.pending.get(raw.tid) {
            stash.live = false;
        }
        return;
    };
    let param = |at: Option<u8>| at.and_then(|at| raw.param(usize::from(at)));
    let mut ret = param(plan.ret).map_or(0, le_int);
    let mut event_type = plan.event_type;
    let mut special = None;
    let mut tgid = state.tgid(raw.tid);
    match plan.special {
        Special::Generic => {
            // By libscap's syscall code, which names the syscall whatever
            // the architecture; else by the native number.
            let by_code = raw
                .param(0)
                .map(le_uint)
                .and_then(|code| mapping.generic.get(usize::try_from(code).ok()?).copied())
                .flatten();
            let by_number = raw
                .param(1)
                .map(le_uint)
                .and_then(|nr| EventType::try_from(nr).ok())
                .filter(|&nr| nr < crate::FIRST_SPECIAL_TYPE && mapping.table.get(nr).is_some());
            if let Some(id) = by_code.or(by_number) {
                event_type = id;
            }
        }
        Special::Clone => {
            let flags = param(plan.flags).map_or(0, le_uint);
            if ret == 0 {
                if let Some(pid) = param(plan.pid).map(le_int) {
                    tgid = pid as u32;
                    state.set_tgid(raw.tid, tgid);
                }
            } else if ret > 0 {
                let child = ret as u64;
                let child_tgid = if flags & PPM_CL_CLONE_THREAD != 0 {
                    tgid
                } else {
                    child as u32
                };
                state.set_tgid(child, child_tgid);
            }
        }
        Special::Exec => {
            if ret == 0
                && let Some(pid) = param(plan.pid)
            {
                tgid = le_int(pid) as u32;
                state.set_tgid(raw.tid, tgid);
            }
        }
        Special::ProcExit => {
            // The raw wait status is the record's return value, as the
            // model's capture writes it.
            ret = raw.param(0).map_or(0, le_int);
            special = Some((Special::ProcExit, ret as u64));
            if tgid != raw.tid as u32 {
                event_type = mapping.thread_exit;
            }
        }
        Special::None => {}
    }
    state.stats.records += 1;
    let wanted = wants(params_of, event_type);
    let mut latency = 0;
    let enter = if paired {
        state.pending.get(raw.tid).and_then(|stash| {
            if !stash.live {
                return None;
            }
            stash.live = false;
            latency = raw.ts.saturating_sub(stash.ts);
            if !wanted {
                return None;
            }
            let stash: &Stash = stash;
            Some(Raw {
                cpu: raw.cpu,
                ts: stash.ts,
                tid: raw.tid,
                code: stash.code,
                bytes: stash.bytes.as_deref().unwrap_or_default(),
                layout: stash.layout,
            })
        })
    } else {
        None
    };
    let head = EventHead {
        ts: raw.ts,
        tid: raw.tid as u32,
        tgid,
        cpu: raw.cpu,
        event_type,
        ret,
        latency,
    };
    let emit = Emit {
        plan,
        exit: raw,
        enter,
        special,
        wanted,
    };
    sink.push(&head, &emit);
}

impl Emit<'_> {
    /// Writes the record's parameters.
    fn encode(&self, out: &mut ParamEncoder<'_>, head: &EventHead) {
        if let Some((Special::ProcExit, raw_status)) = self.special {
            // The model's exit status and signal; newer captures have
            // them as parameters, older ones only the raw wait status.
            let status = self
                .exit
                .param(1)
                .map_or((raw_status >> 8) & 0xff, |p| le_int(p) as u64);
            if head.event_type == PROCEXIT {
                let signal = self.exit.param(2).map_or(raw_status & 0x7f, le_uint);
                out.uint(status);
                out.uint(signal);
            } else {
                for (at, &(_, ty, _)) in EVENTS[usize::from(self.exit.code)]
                    .params
                    .iter()
                    .enumerate()
                {
                    match self.exit.param(at).filter(|b| !b.is_empty()) {
                        Some(bytes) => plain(out, ty, bytes),
                        None => out.absent(),
                    }
                }
            }
            return;
        }
        for sources in &self.plan.params {
            let found = sources.iter().find_map(|source| {
                let bytes = match source.loc {
                    Loc::Exit(at) => self.exit.param(usize::from(at)),
                    Loc::Enter(at) => self.enter.as_ref()?.param(usize::from(at)),
                    Loc::Ret => return Some((source, &[][..])),
                };
                bytes.filter(|b| !b.is_empty()).map(|b| (source, b))
            });
            match found {
                None => out.absent(),
                Some((source, _)) if source.loc == Loc::Ret => out.fd(head.ret),
                Some((source, bytes)) => self.value(out, source.conv, bytes),
            }
        }
    }

    fn value(&self, out: &mut ParamEncoder<'_>, conv: Conv, bytes: &[u8]) {
        match conv {
            Conv::Plain(ty) => plain(out, ty, bytes),
            Conv::OpenFlags => out.uint(open_flags(le_uint(bytes))),
            Conv::CloneFlags => out.uint(clone_flags(le_uint(bytes))),
            Conv::FcntlCmd => out.uint(fcntl_cmd(le_uint(bytes))),
            Conv::TupleClient | Conv::TupleServer => {
                match tuple(bytes).map(|(client, server)| {
                    if conv == Conv::TupleClient {
                        client
                    } else {
                        server
                    }
                }) {
                    Some(Some(addr)) => out.sockaddr(&addr),
                    _ => out.absent(),
                }
            }
            Conv::Args(exe) => {
                let first = self.exit.param(usize::from(exe)).map(trim_nul);
                out.str_list(first.into_iter().chain(split_nul(bytes)));
            }
            Conv::Cgroup => out.str(cgroup_path(bytes)),
        }
    }
}

/// Whether records of `event_type` carry their parameters, by `params_of`.
#[inline]
fn wants(params_of: Option<&[bool]>, event_type: EventType) -> bool {
    params_of.is_none_or(|wanted| wanted.get(usize::from(event_type)).copied().unwrap_or(true))
}

/// A little-endian unsigned integer of 1 to 8 bytes.
#[inline]
fn le_uint(bytes: &[u8]) -> u64 {
    match *bytes {
        [a, b, c, d, e, f, g, h] => u64::from_le_bytes([a, b, c, d, e, f, g, h]),
        [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
        [a, b] => u64::from(u16::from_le_bytes([a, b])),
        [a] => u64::from(a),
        _ => {
            let mut buf = [0u8; 8];
            let n = bytes.len().min(8);
            buf[..n].copy_from_slice(&bytes[..n]);
            u64::from_le_bytes(buf)
        }
    }
}

/// A little-endian signed integer of 1 to 8 bytes, sign-extended.
#[inline]
fn le_int(bytes: &[u8]) -> i64 {
    let n = bytes.len().min(8);
    if n == 0 {
        return 0;
    }
    let shift = 64 - 8 * n as u32;
    ((le_uint(bytes) << shift) as i64) >> shift
}

/// A value by its `ppm_param_type`.
fn plain(out: &mut ParamEncoder<'_>, ty: u8, bytes: &[u8]) {
    match ty {
        pt::INT8 | pt::INT16 | pt::INT32 | pt::INT64 | pt::ERRNO | pt::PID | pt::PID32 => {
            out.int(le_int(bytes));
        }
        pt::FD | pt::FD32 => out.fd(le_int(bytes)),
        pt::CHARBUF | pt::FSPATH | pt::FSRELPATH => out.str(trim_nul(bytes)),
        pt::BYTEBUF => out.bytes(bytes),
        pt::SOCKADDR => match sockaddr(bytes) {
            Some(addr) => out.sockaddr(&addr),
            None => out.bytes(bytes),
        },
        pt::SOCKTUPLE => match tuple(bytes) {
            Some((client, server)) => {
                out.str(tuple_text(client.as_ref(), server.as_ref()).as_bytes())
            }
            None => out.bytes(bytes),
        },
        pt::FDLIST => out.str(fdlist_text(bytes).as_bytes()),
        pt::IPV4ADDR | pt::IPV6ADDR | pt::IPADDR => match ip(bytes) {
            Some(ip) => out.str(ip.to_string().as_bytes()),
            None => out.bytes(bytes),
        },
        pt::DOUBLE if bytes.len() == 8 => {
            out.str(f64::from_bits(le_uint(bytes)).to_string().as_bytes());
        }
        pt::DYN => match bytes.get(1..) {
            Some(value) if value.len() <= 8 => out.int(le_int(value)),
            Some(value) => out.bytes(value),
            None => out.absent(),
        },
        _ if bytes.len() <= 8 => out.uint(le_uint(bytes)),
        _ => out.bytes(bytes),
    }
}

fn ip(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?))),
        16 => Some(IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(bytes).ok()?,
        ))),
        _ => None,
    }
}

/// libscap socket families.
const AF_UNIX: u8 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// A `PT_SOCKADDR`: family, then the address (ports in host order).
fn sockaddr(bytes: &[u8]) -> Option<SockAddr> {
    let (&family, rest) = bytes.split_first()?;
    Some(match family {
        AF_INET if rest.len() >= 6 => SockAddr::Inet(SocketAddr::new(
            ip(&rest[..4])?,
            u16::from_le_bytes([rest[4], rest[5]]),
        )),
        AF_INET6 if rest.len() >= 18 => SockAddr::Inet(SocketAddr::new(
            ip(&rest[..16])?,
            u16::from_le_bytes([rest[16], rest[17]]),
        )),
        AF_UNIX => SockAddr::Unix(trim_nul(rest).to_vec()),
        other => SockAddr::Other {
            family: u16::from(other),
            data: rest.to_vec(),
        },
    })
}

/// A `PT_SOCKTUPLE`: its client and server ends. A unix tuple only has
/// the path (of the server's socket).
type Tuple = (Option<SockAddr>, Option<SockAddr>);

fn tuple(bytes: &[u8]) -> Option<Tuple> {
    let (&family, rest) = bytes.split_first()?;
    let inet = |ip_len: usize| -> Option<Tuple> {
        if rest.len() < 2 * (ip_len + 2) {
            return None;
        }
        let end = |at: usize| -> Option<SockAddr> {
            let port = u16::from_le_bytes([rest[at + ip_len], rest[at + ip_len + 1]]);
            Some(SockAddr::Inet(SocketAddr::new(
                ip(&rest[at..at + ip_len])?,
                port,
            )))
        };
        Some((end(0), end(ip_len + 2)))
    };
    match family {
        AF_INET => inet(4),
        AF_INET6 => inet(16),
        AF_UNIX if rest.len() >= 16 => {
            let path = trim_nul(&rest[16..]);
            Some((None, Some(SockAddr::Unix(path.to_vec()))))
        }
        _ => None,
    }
}

fn addr_text(addr: &SockAddr) -> String {
    match addr {
        SockAddr::Inet(SocketAddr::V4(v4)) => v4.to_string(),
        SockAddr::Inet(SocketAddr::V6(v6)) => v6.to_string(),
        SockAddr::Unix(path) => String::from_utf8_lossy(path).into_owned(),
        SockAddr::Other { family, .. } => format!("family {family}"),
    }
}

fn tuple_text(client: Option<&SockAddr>, server: Option<&SockAddr>) -> String {
    match (client, server) {
        (Some(c), Some(s)) => format!("{}->{}", addr_text(c), addr_text(s)),
        (None, Some(s)) => addr_text(s),
        (Some(c), None) => addr_text(c),
        (None, None) => String::new(),
    }
}

/// A `PT_FDLIST` (poll): `fd:flags` pairs.
fn fdlist_text(bytes: &[u8]) -> String {
    let mut le = Le::new(bytes);
    let Ok(count) = le.u16("fd list") else {
        return String::new();
    };
    let mut text = String::new();
    for _ in 0..count {
        let (Ok(fd), Ok(flags)) = (le.u64("fd"), le.u16("flags")) else {
            break;
        };
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("{}:{flags}", fd as i64));
    }
    text
}

/// libscap open flags (`PPM_O_*`) into Linux's `O_*`.
pub(super) fn open_flags(ppm: u64) -> u64 {
    // Access mode: PPM_O_RDONLY is a bit of its own.
    let mut flags = match ppm & 3 {
        2 => 0o1,
        3 => 0o2,
        _ => 0,
    };
    const BITS: [(u64, u64); 12] = [
        (1 << 2, 0o100),        // O_CREAT
        (1 << 3, 0o2000),       // O_APPEND
        (1 << 4, 0o10000),      // O_DSYNC
        (1 << 5, 0o200),        // O_EXCL
        (1 << 6, 0o4000),       // O_NONBLOCK
        (1 << 7, 0o4010000),    // O_SYNC
        (1 << 8, 0o1000),       // O_TRUNC
        (1 << 9, 0o40000),      // O_DIRECT
        (1 << 10, 0o200000),    // O_DIRECTORY
        (1 << 11, 0o100000),    // O_LARGEFILE
        (1 << 12, 0o2000000),   // O_CLOEXEC
        (1 << 13, 0o20_200000), // O_TMPFILE
    ];
    for (from, to) in BITS {
        if ppm & from != 0 {
            flags |= to;
        }
    }
    flags
}

/// libscap clone flags (`PPM_CL_*`) into Linux's `CLONE_*`.
fn clone_flags(ppm: u64) -> u64 {
    const BITS: [(u64, u64); 23] = [
        (1 << 0, 0x0000_0400),  // CLONE_FILES
        (1 << 1, 0x0000_0200),  // CLONE_FS
        (1 << 2, 0x8000_0000),  // CLONE_IO
        (1 << 3, 0x0800_0000),  // CLONE_NEWIPC
        (1 << 4, 0x4000_0000),  // CLONE_NEWNET
        (1 << 5, 0x0002_0000),  // CLONE_NEWNS
        (1 << 6, 0x2000_0000),  // CLONE_NEWPID
        (1 << 7, 0x0400_0000),  // CLONE_NEWUTS
        (1 << 8, 0x0000_8000),  // CLONE_PARENT
        (1 << 9, 0x0010_0000),  // CLONE_PARENT_SETTID
        (1 << 10, 0x0000_2000), // CLONE_PTRACE
        (1 << 11, 0x0000_0800), // CLONE_SIGHAND
        (1 << 12, 0x0004_0000), // CLONE_SYSVSEM
        (1 << 13, 0x0001_0000), // CLONE_THREAD
        (1 << 14, 0x0080_0000), // CLONE_UNTRACED
        (1 << 15, 0x0000_0100), // CLONE_VM
        (1 << 20, 0x1000_0000), // CLONE_NEWUSER
        (1 << 23, 0x0020_0000), // CLONE_CHILD_CLEARTID
        (1 << 24, 0x0100_0000), // CLONE_CHILD_SETTID
        (1 << 25, 0x0008_0000), // CLONE_SETTLS
        (1 << 26, 0x0200_0000), // CLONE_STOPPED (now CLONE_NEWCGROUP's bit)
        (1 << 27, 0x0000_4000), // CLONE_VFORK
        (1 << 28, 0x0200_0000), // CLONE_NEWCGROUP
    ];
    BITS.iter()
        .filter(|(from, _)| ppm & from != 0)
        .fold(0, |flags, (_, to)| flags | to)
}

/// libscap fcntl commands (`PPM_FCNTL_*`) into Linux's `F_*`.
fn fcntl_cmd(ppm: u64) -> u64 {
    match ppm {
        1 => 0,     // F_DUPFD
        2 => 1,     // F_GETFD
        3 => 2,     // F_SETFD
        4 => 3,     // F_GETFL
        5 => 4,     // F_SETFL
        6 => 5,     // F_GETLK
        8 => 6,     // F_SETLK
        9 => 7,     // F_SETLKW
        10 => 8,    // F_SETOWN
        12 => 9,    // F_GETOWN
        13 => 10,   // F_SETSIG
        15 => 11,   // F_GETSIG
        21 => 15,   // F_SETOWN_EX
        22 => 16,   // F_GETOWN_EX
        23 => 1024, // F_SETLEASE
        24 => 1025, // F_GETLEASE
        25 => 1029, // F_CANCELLK
        26 => 1030, // F_DUPFD_CLOEXEC
        27 => 1026, // F_NOTIFY
        28 => 1031, // F_SETPIPE_SZ
        29 => 1032, // F_GETPIPE_SZ
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_linux_values() {
        // O_RDONLY|O_CLOEXEC as libscap writes it (the sample's 4097).
        assert_eq!(open_flags(4097), 0o2000000);
        // PPM_O_RDWR|PPM_O_CREAT|PPM_O_TRUNC.
        assert_eq!(open_flags(3 | 4 | 256), 0o2 | 0o100 | 0o1000);
        assert_eq!(clone_flags(1 << 13 | 1 << 15), 0x0001_0100);
        assert_eq!(fcntl_cmd(26), 1030);
    }

    #[test]
    fn integers_of_any_width() {
        assert_eq!(le_int(&[0xfe, 0xff, 0xff, 0xff]), -2);
        assert_eq!(le_int(&(-100i64).to_le_bytes()), -100);
        assert_eq!(le_uint(&[1, 1]), 257);
    }

    #[test]
    fn every_decoded_parameter_has_a_source() {
        let mapping = Mapping::new();
        let wanted = [
            "open", "openat", "close", "read", "write", "connect", "accept", "execve", "clone",
            "socket", "dup2", "pipe", "bind", "unlinkat", "renameat", "chdir", "setuid",
        ];
        let mut missing = Vec::new();
        for name in wanted {
            let id = mapping.table.id_of(name).expect(name);
            let plans: Vec<&Plan> = mapping
                .plans
                .iter()
                .flatten()
                .filter(|p| p.event_type == id)
                .collect();
            assert!(!plans.is_empty(), "{name} has no scap event");
            let entry = mapping.table.get(id).unwrap();
            for (i, param) in entry.params.iter().enumerate() {
                if !plans.iter().any(|p| !p.params[i].is_empty()) {
                    missing.push(format!("{name}.{param}"));
                }
            }
        }
        // What libscap does not record: accept's listening fd, the address
        // of plain reads and writes, the flags dup2, pipe and renameat do
        // not have, clone's child tid pointer, execve's dirfd.
        assert_eq!(
            missing,
            [
                "read.addr",
                "write.addr",
                "accept.fd",
                "execve.dirfd",
                "clone.child_tid",
                "dup2.flags",
                "pipe.flags",
                "renameat.flags",
            ]
        );
    }
}
