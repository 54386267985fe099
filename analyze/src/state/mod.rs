//! State reconstruction: the processes, threads, file descriptors, users,
//! groups and containers of the traced machine, replayed from a file's
//! snapshot and then event by event, so that every event can be described
//! the way sysdig describes it (process name and ancestry, what its fd is).
//!
//! [`State::new`] seeds the tables from the snapshot; [`State::apply`] takes
//! the events in file order. After `apply(e)` the lookups describe the world
//! as of `e`'s exit: a new fd (open, socket, accept, pipe, dup) is present,
//! an exec'd process has its new name and arguments, while a closed fd and
//! an exited process stay visible for their own event and go when the next
//! one is applied. Exited processes are dropped, so memory follows the live
//! processes and their open fds, not the length of the trace.
//!
//! Threads use their process' fd table; a process made with `CLONE_FILES`
//! (and not `CLONE_THREAD`) uses its creator's, as the kernel shares it,
//! until an exec or `unshare(CLONE_FILES)` gives it a copy of its own.
//!
//! Captures may start with an empty snapshot: a thread or process first
//! seen in an event is then created with what the event says (its ids) and
//! filled in by later clone and exec events.

mod dispatch;
mod events;
mod fds;
mod recent;
pub(crate) mod text;

pub use events::CLONE_THREAD;
pub use recent::RecentIds;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rustc_hash::{FxHashMap, FxHashSet};
use scry_format::{
    ContainerInfo, EventTable, EventView, FdInfo, FdKind, GroupInfo, ProcessInfo, Snapshot,
    SockAddr, UserInfo,
};

use dispatch::Dispatch;
use fds::FdTable;

/// Container id of processes outside any container.
const HOST: &str = "host";
/// Slots of the cache of threads lately found in the tables.
const SEEN: usize = 64;
/// Ids not known yet (and `-1`, "no id", to the kernel).
pub(crate) const UNKNOWN_ID: u32 = u32::MAX;
const O_CLOEXEC: u64 = 0o2_000_000;

/// A thread.
#[derive(Debug, Clone, Default)]
pub struct Thread {
    /// Thread id.
    pub tid: u32,
    /// Its process.
    pub tgid: u32,
    /// Thread name (`comm`), empty when unknown.
    pub comm: Vec<u8>,
    /// The name was taken from the process because the thread was first
    /// seen in one of its own events, not named by its creation.
    assumed_comm: bool,
}

/// A process (thread group).
///
/// Fields that are not known yet (a process first seen mid-life in a
/// capture without a snapshot) are empty, 0, or for user and group ids
/// `u32::MAX`.
#[derive(Debug, Clone, Default)]
pub struct Process {
    /// Process id (tgid).
    pub pid: u32,
    /// Parent process id, 0 when unknown.
    pub ppid: u32,
    /// Process id inside its pid namespace, 0 when unknown.
    pub vpid: u32,
    /// Session id.
    pub sid: u32,
    /// Process group id.
    pub pgid: u32,
    /// `comm`: the kernel's task name, at most 15 bytes.
    pub comm: Vec<u8>,
    /// The executable as given to `execve` (its `filename`).
    pub exe: Vec<u8>,
    /// Full path of the executable.
    pub exepath: Vec<u8>,
    /// Arguments without `argv[0]`.
    pub args: Vec<Vec<u8>>,
    /// Current working directory.
    pub cwd: Vec<u8>,
    /// Real user id.
    pub uid: u32,
    /// Effective user id.
    pub euid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective group id.
    pub egid: u32,
    /// Audit login uid, `u32::MAX` when unset.
    pub loginuid: u32,
    /// Controlling terminal (`major << 20 | minor`), 0 when none.
    pub tty: u32,
    /// Effective capability set.
    pub cap_effective: CapSet,
    /// Permitted capability set.
    pub cap_permitted: CapSet,
    /// Inheritable capability set.
    pub cap_inheritable: CapSet,
    /// Start time, ns since the epoch, 0 when unknown.
    pub start_ts: u64,
    /// Container id, `host` outside containers.
    pub container_id: String,
    /// Mount namespace (inode number), 0 when unknown: known for the
    /// processes of the snapshot and inherited by their forks; a fork
    /// into a new namespace makes it unknown (`unshare` and `setns` are not
    /// followed).
    pub mntns: u64,
    /// Whether the executable is a memfd (`/memfd:…`), i.e. has no file.
    pub exe_from_memfd: bool,
    /// Whether the process is exiting (`exit_group`) or has exited
    /// (`procexit`, the last event it is visible for).
    pub exited: bool,
    /// `comm` and the arguments joined by spaces, built on first use and
    /// dropped whenever either changes ([`Process::names_changed`]), so
    /// that filters on the command line read it without building it per
    /// event.
    cmdline: OnceLock<Box<[u8]>>,
    /// The executable and the arguments joined by spaces, kept likewise.
    exeline: OnceLock<Box<[u8]>>,
}

impl Process {
    /// The command line as sysdig shows it (`proc.cmdline`): the name and
    /// the arguments, joined by spaces.
    pub fn cmdline(&self) -> &[u8] {
        self.cmdline.get_or_init(|| join(&self.comm, &self.args))
    }

    /// The executable and the arguments, joined by spaces
    /// (`proc.exeline`).
    pub fn exeline(&self) -> &[u8] {
        self.exeline.get_or_init(|| join(&self.exe, &self.args))
    }

    /// The arguments joined by spaces (`proc.args`): the tail of
    /// [`Process::cmdline`].
    pub fn joined_args(&self) -> &[u8] {
        let line = self.cmdline();
        if self.args.is_empty() {
            return &[];
        }
        let skip = if self.comm.is_empty() {
            0
        } else {
            self.comm.len() + 1
        };
        &line[skip..]
    }

    /// Must follow every change to `comm`, `exe` or `args`: the cached
    /// command lines are rebuilt on their next use.
    pub fn names_changed(&mut self) {
        self.cmdline = OnceLock::new();
        self.exeline = OnceLock::new();
    }
}

/// `first` and `args` joined by spaces.
fn join(first: &[u8], args: &[Vec<u8>]) -> Box<[u8]> {
    let mut out = first.to_vec();
    for arg in args {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(arg);
    }
    out.into_boxed_slice()
}

/// A capability set: its bits, and the names sysdig shows for them
/// (`thread.cap_effective`), rendered on first use and kept with the bits
/// they describe. The default is the unknown set of a process first seen
/// mid-life, before any exec or capset says what it holds.
#[derive(Debug, Clone, Default)]
pub struct CapSet {
    bits: u64,
    known: bool,
    names: OnceLock<Box<[u8]>>,
}

/// Capability names by bit number, as libsinsp knows them: bits past
/// the last are not shown.
const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

impl CapSet {
    /// The set with these bits.
    pub fn new(bits: u64) -> Self {
        CapSet {
            bits,
            known: true,
            names: OnceLock::new(),
        }
    }

    /// Its bits (bit N is capability N); 0 while unknown.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// Whether the set is known.
    pub fn is_known(&self) -> bool {
        self.known
    }

    /// Its capabilities' names in bit order, separated by spaces
    /// (`CAP_CHOWN CAP_DAC_OVERRIDE …`), empty for the empty set; `None`
    /// while unknown.
    pub fn names(&self) -> Option<&[u8]> {
        if !self.known {
            return None;
        }
        let names = self.names.get_or_init(|| {
            let mut out = Vec::new();
            for (bit, name) in CAP_NAMES.iter().enumerate() {
                if self.bits & (1 << bit) != 0 {
                    if !out.is_empty() {
                        out.push(b' ');
                    }
                    out.extend_from_slice(name.as_bytes());
                }
            }
            out.into_boxed_slice()
        });
        Some(names)
    }
}

/// What one file descriptor refers to.
#[derive(Debug, Clone, Default)]
pub struct FdEntry {
    /// Its kind.
    pub kind: FdKind,
    /// Absolute path for files; `client->server` tuple text for IP sockets
    /// (`10.0.0.5:43210->93.184.216.34:443`, IPv6 in brackets); the path of
    /// unix sockets; `pipe:[N]`, `anon_inode:[eventfd]`, `/memfd:NAME`…
    pub name: Vec<u8>,
    /// Open flags (`O_*`).
    pub flags: u32,
    /// Local address of a socket.
    pub local: Option<SockAddr>,
    /// Remote address of a socket.
    pub remote: Option<SockAddr>,
    /// IP protocol: 6 TCP, 17 UDP, 0 unknown or not IP.
    pub l4proto: u8,
    /// The process is the server end (the fd came from `accept`).
    pub is_server: bool,
    /// Close-on-exec.
    pub cloexec: bool,
    /// What tells this entry's contents apart ([`FdEntry::identity`]);
    /// 0 for none.
    identity: u64,
}

impl FdEntry {
    /// A number for what the entry says, unique to the trace's
    /// replay: two entries with the same identity have the same contents
    /// (an entry shared by fds and processes keeps it, one changed gets a
    /// new one), so that a reader may remember what it made of an entry
    /// by this number instead of by its name. `None` for entries not held
    /// in an fd table (a failed open's).
    pub fn identity(&self) -> Option<std::num::NonZeroU64> {
        std::num::NonZeroU64::new(self.identity)
    }
}

/// A process with what belongs to it.
/// A process and its fd table, as found by [`State::process_ref`].
#[derive(Debug, Clone, Copy)]
pub struct ProcessRef<'a> {
    entry: &'a ProcEntry,
    /// Its fd table: its own, or the one it shares (`CLONE_FILES`).
    fds: &'a FdTable,
}

impl<'a> ProcessRef<'a> {
    /// The process.
    pub fn info(self) -> &'a Process {
        &self.entry.info
    }

    /// Its fd `fd`, if open.
    pub fn fd(self, fd: i64) -> Option<&'a FdEntry> {
        self.fds.get(&fd).map(|entry| &**entry)
    }

    /// What filters remember of the process as it is now.
    pub(crate) fn memo(self) -> &'a Memo {
        &self.entry.memo
    }
}

/// One word that a filter may keep in a process: the results of its tests
/// that read nothing but the process (`proc.cmdline contains x`,
/// `user.name=root`), so that the events after the first one of the
/// process are not tested again. What the word means is the filter's
/// business; the state only wipes it whenever the process changes, which
/// is what makes it safe to trust.
///
/// Atomic because processes are shared between copies of a state on other
/// threads; a word written by two threads at once loses one of them, and
/// the tests are then done again.
#[derive(Debug, Default)]
pub(crate) struct Memo(AtomicU64);

impl Memo {
    /// The word, 0 when nothing is remembered.
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    #[inline]
    pub(crate) fn set(&self, word: u64) {
        self.0.store(word, Ordering::Relaxed);
    }

    fn forget(&mut self) {
        *self.0.get_mut() = 0;
    }
}

impl Clone for Memo {
    fn clone(&self) -> Self {
        Memo(AtomicU64::new(self.get()))
    }
}

/// Laid out in the order written (`repr(C)`), the fields an fd lookup
/// reads first: the table and whose it is share the entry's first cache
/// line, apart from the process' record.
#[derive(Debug, Clone, Default)]
#[repr(C)]
struct ProcEntry {
    /// The process whose fd table it uses (created with `CLONE_FILES` but
    /// not `CLONE_THREAD`), 0 for its own. That process uses its own.
    fds_of: u32,
    /// Its fd table, shared by its threads; empty while it uses another
    /// process' table.
    fds: FdTable,
    info: Process,
    /// The processes that use its fd table.
    sharers: Vec<u32>,
    /// What filters remember of it; wiped by every change
    /// ([`Processes::get_mut`]).
    memo: Memo,
    /// Its known threads, so that reaping it needs no scan.
    tids: Vec<u32>,
    /// Whether any process was ever given it as parent: only then can its
    /// exit leave children to re-parent.
    has_children: bool,
}

impl ProcEntry {
    /// A process known only by its id.
    fn unknown(pid: u32) -> Self {
        ProcEntry {
            info: Process {
                pid,
                uid: UNKNOWN_ID,
                euid: UNKNOWN_ID,
                gid: UNKNOWN_ID,
                egid: UNKNOWN_ID,
                loginuid: UNKNOWN_ID,
                container_id: HOST.to_owned(),
                ..Process::default()
            },
            ..ProcEntry::default()
        }
    }
}

/// What an event type may do to the processes and threads of the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessEffect {
    /// Nothing, beyond making a thread first seen known (with its
    /// process' identity): it may change fds only.
    None,
    /// It may change processes or threads (clone, exec, exit, set*id…).
    Changes,
    /// It may change processes from what their fds are (`fchdir` sets the
    /// cwd from an fd, `execveat` resolves against one): replaying it needs
    /// every fd change before it.
    ChangesFromFds,
}

/// [`ProcessEffect`] of every event type of a trace, for planning which
/// chunks a scan that needs processes but not fds can leave unread: a
/// chunk none of whose types change processes, whose processes are all
/// known and alive, leaves every process as it found it (see
/// [`State::is_live`]).
#[derive(Debug, Clone, Default)]
pub struct ProcessEvents {
    effects: Vec<ProcessEffect>,
}

impl ProcessEvents {
    /// The effects of the types of `table`.
    pub fn new(table: &EventTable) -> Self {
        let dispatch = Dispatch::new(table);
        let effects = (0..=table.entries().iter().map(|e| e.id).max().unwrap_or(0))
            .map(|id| dispatch.process_effect(id))
            .collect();
        ProcessEvents { effects }
    }

    /// The effect of events of type `event_type`; types outside the
    /// table do nothing to the state.
    pub fn effect(&self, event_type: u16) -> ProcessEffect {
        self.effects
            .get(usize::from(event_type))
            .copied()
            .unwrap_or(ProcessEffect::None)
    }
}

/// A change that takes effect when the next event is applied, so that the
/// event that caused it still sees what it acted on.
#[derive(Debug, Clone, Copy)]
enum Deferred {
    CloseFd { tgid: u32, fd: i64 },
    CloseRange { tgid: u32, first: i64, last: i64 },
    RemoveThread { tid: u32 },
    Reap { tgid: u32 },
}

/// A new process whose clone record came before its parent's: its parent
/// is not known yet. What it did meanwhile decides what it may inherit
/// once the parent's record arrives.
#[derive(Debug, Clone, Default)]
struct Orphan {
    /// It has exec'd: its identity no longer comes from the parent, nor
    /// its close-on-exec fds.
    exec_seen: bool,
    /// Fds it closed, which must not come back from the parent's table.
    closed: Vec<i64>,
}

/// The tables of a state that the events never change: what to do with
/// each event type, and the snapshot's users, groups and containers.
struct Fixed {
    dispatch: Dispatch,
    users: FxHashMap<u32, UserInfo>,
    groups: FxHashMap<u32, GroupInfo>,
    containers: FxHashMap<String, ContainerInfo>,
}

/// The processes of a state. Each is shared between the state and its
/// copies ([`State::clone`]) until one of them changes it, which then
/// changes a copy of its own: copying a state costs a reference count per
/// process, not a copy of every fd table.
///
/// Processes sit in slots that do not move while they live, found by pid
/// through a hash map, and for the pids of the latest events through a
/// small table of slots filled as events are replayed ([`Processes::note`]):
/// every field of an event's process looks it up, and most events belong
/// to a few busy processes.
#[derive(Debug, Clone, Default)]
struct Processes {
    slot_of: FxHashMap<u32, u32>,
    slots: Vec<Option<(u32, Arc<ProcEntry>)>>,
    free: Vec<u32>,
    /// The slots of pids lately noted; an entry whose process goes is
    /// forgotten.
    recent: RecentIds<RECENT>,
}

/// Entries of [`Processes::recent`].
const RECENT: usize = 64;

impl Processes {
    #[inline]
    fn slot(&self, pid: u32) -> Option<usize> {
        if let Some(slot) = self.recent.get(pid) {
            return Some(slot as usize);
        }
        self.slot_by_hash(pid)
    }

    // Apart, so that the common case above saves no registers for it.
    #[inline(never)]
    fn slot_by_hash(&self, pid: u32) -> Option<usize> {
        self.slot_of.get(&pid).map(|&slot| slot as usize)
    }

    /// Makes `pid`'s process quick to find until another pid takes its
    /// place in the table of recent ones: done when a process is made and
    /// when a thread is met again after the threads changed, which is
    /// often enough for the busy ones.
    #[inline]
    fn note(&mut self, pid: u32) {
        if self.recent.get(pid).is_some() {
            return;
        }
        if let Some(&slot) = self.slot_of.get(&pid) {
            self.recent.put(pid, slot);
        }
    }

    #[inline]
    fn entry_mut(&mut self, pid: u32) -> Option<&mut Arc<ProcEntry>> {
        let slot = self.slot(pid)?;
        self.slots[slot].as_mut().map(|(_, entry)| entry)
    }

    #[inline]
    fn get(&self, pid: &u32) -> Option<&ProcEntry> {
        let slot = self.slot(*pid)?;
        self.slots[slot].as_ref().map(|(_, entry)| &**entry)
    }

    /// The process, to change: what filters remember of it is forgotten.
    fn get_mut(&mut self, pid: &u32) -> Option<&mut ProcEntry> {
        self.entry_mut(*pid).map(changing)
    }

    /// The fd table of the process, to change: what filters remember of
    /// the process stays, as they remember nothing of its fds.
    fn fds_mut(&mut self, pid: &u32) -> Option<&mut FdTable> {
        self.entry_mut(*pid)
            .map(|entry| &mut Arc::make_mut(entry).fds)
    }

    fn get_or_insert_with(&mut self, pid: u32, new: impl FnOnce() -> ProcEntry) -> &mut ProcEntry {
        let slot = self.slot_or_new(pid);
        changing(
            &mut self.slots[slot]
                .get_or_insert_with(|| (pid, Arc::new(new())))
                .1,
        )
    }

    fn insert(&mut self, pid: u32, entry: ProcEntry) {
        let slot = self.slot_or_new(pid);
        self.slots[slot] = Some((pid, Arc::new(entry)));
    }

    /// The slot of `pid`, a free one given to it when it has none.
    fn slot_or_new(&mut self, pid: u32) -> usize {
        if let Some(slot) = self.slot(pid) {
            return slot;
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            // Each process takes hundreds of bytes: memory runs out long
            // before four billion of them.
            u32::try_from(self.slots.len() - 1).expect("fewer than 4 billion processes")
        });
        self.slot_of.insert(pid, slot);
        self.recent.put(pid, slot);
        slot as usize
    }

    fn remove(&mut self, pid: &u32) -> Option<Arc<ProcEntry>> {
        let slot = self.slot_of.remove(pid)?;
        self.recent.forget(*pid);
        self.free.push(slot);
        self.slots[slot as usize].take().map(|(_, entry)| entry)
    }

    fn len(&self) -> usize {
        self.slot_of.len()
    }

    fn iter(&self) -> impl Iterator<Item = (&u32, &ProcEntry)> {
        self.slots
            .iter()
            .flatten()
            .map(|(pid, entry)| (pid, &**entry))
    }

    fn values(&self) -> impl Iterator<Item = &ProcEntry> {
        self.iter().map(|(_, entry)| entry)
    }
}

/// A process about to change, made its own (not shared with copies of the
/// state) and with nothing remembered of it.
fn changing(entry: &mut Arc<ProcEntry>) -> &mut ProcEntry {
    let entry = Arc::make_mut(entry);
    entry.memo.forget();
    entry
}

/// The reconstructed state of the traced machine.
///
/// A state can be cloned cheaply (its processes are shared until changed),
/// so that a copy taken at the start of a run of events can replay them on
/// another thread while this one goes on.
#[derive(Clone)]
pub struct State {
    fixed: Arc<Fixed>,
    threads: FxHashMap<u32, Thread>,
    processes: Processes,
    orphans: FxHashMap<u32, Orphan>,
    deferred: Vec<Deferred>,
    /// Threads lately found in the tables, one slot per tid modulo
    /// [`SEEN`]: (tid, tgid, the [`State::thread_generation`] they were
    /// found in). Events of a few busy threads interleave; this spares
    /// them a table lookup each.
    seen: [(u32, u32, u64); SEEN],
    /// Counts the changes to which threads are in the tables: a thread
    /// in `seen` is known to be there only if none happened since.
    thread_generation: u64,
    /// Counts the events replayed that may change a process or thread
    /// (exec, clone, exit, set*id…).
    process_changes: u64,
    /// Pipes get names from this counter: the records carry no inode.
    next_pipe: u64,
    /// The file the last failed open asked for, with the (number, time)
    /// of its event: libsinsp describes a failed open by it (fd -1).
    failed_open: Option<(u64, u64, FdEntry)>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("processes", &self.processes.len())
            .field("threads", &self.threads.len())
            .field("fds", &self.fd_count())
            .field("users", &self.fixed.users.len())
            .field("groups", &self.fixed.groups.len())
            .field("containers", &self.fixed.containers.len())
            .finish_non_exhaustive()
    }
}

impl State {
    /// Starts from a file's snapshot; `table` is the file's event table
    /// (parameters are looked up by name once, here).
    pub fn new(snapshot: &Snapshot, table: &EventTable) -> State {
        State::with_containers(snapshot, table, [])
    }

    /// The state at the start of `trace`: its snapshot, and the containers
    /// it describes in container records.
    pub fn of_trace<D: AsRef<[u8]>>(trace: &scry_format::TraceFile<D>) -> State {
        State::with_containers(
            trace.snapshot(),
            &trace.header().event_table,
            trace.recorded_containers().iter().map(|c| &c.info),
        )
    }

    /// As [`State::new`], knowing also the containers the file describes
    /// after its snapshot (its container records,
    /// `TraceFile::recorded_containers`): those started during the capture.
    pub fn with_containers<'a>(
        snapshot: &Snapshot,
        table: &EventTable,
        recorded: impl IntoIterator<Item = &'a ContainerInfo>,
    ) -> State {
        let mut containers: FxHashMap<String, ContainerInfo> = snapshot
            .containers
            .iter()
            .map(|c| (c.id.clone(), c.clone()))
            .collect();
        for c in recorded {
            containers.entry(c.id.clone()).or_insert_with(|| c.clone());
        }
        let mut state = State {
            fixed: Arc::new(Fixed {
                dispatch: Dispatch::new(table),
                users: snapshot.users.iter().map(|u| (u.uid, u.clone())).collect(),
                groups: snapshot.groups.iter().map(|g| (g.gid, g.clone())).collect(),
                containers,
            }),
            threads: FxHashMap::default(),
            processes: Processes::default(),
            orphans: FxHashMap::default(),
            deferred: Vec::new(),
            seen: [(0, 0, u64::MAX); SEEN],
            thread_generation: 0,
            process_changes: 0,
            next_pipe: 0,
            failed_open: None,
        };
        for info in &snapshot.processes {
            let entry = ProcEntry {
                info: process_from_snapshot(info),
                ..ProcEntry::default()
            };
            state.processes.insert(info.pid, entry);
        }
        let ppids: Vec<u32> = state.processes.values().map(|p| p.info.ppid).collect();
        for ppid in ppids {
            if let Some(parent) = state.processes.get_mut(&ppid) {
                parent.has_children = true;
            }
        }
        for thread in &snapshot.threads {
            state.add_thread(thread.tid, thread.tgid, Some(&thread.comm));
        }
        let threadless: Vec<u32> = state
            .processes
            .iter()
            .filter(|(_, p)| p.tids.is_empty())
            .map(|(&pid, _)| pid)
            .collect();
        for pid in threadless {
            state.add_thread(pid, pid, None);
        }
        let listening = listening_addresses(&snapshot.fds);
        for info in &snapshot.fds {
            let entry = fd_from_snapshot(info, &listening);
            state
                .processes
                .get_or_insert_with(info.pid, || ProcEntry::unknown(info.pid))
                .fds
                .open(i64::from(info.fd), entry);
        }
        // Fds may name processes the process list lacked.
        let missing: Vec<u32> = state
            .processes
            .iter()
            .filter(|(_, p)| p.tids.is_empty())
            .map(|(&pid, _)| pid)
            .collect();
        for pid in missing {
            state.add_thread(pid, pid, None);
        }
        state
    }

    /// The event types of `table` that change the state (by id): what a
    /// capture that keeps only some event types must still record for the
    /// state of the rest to be right.
    pub fn changing_types(table: &EventTable) -> Vec<bool> {
        let dispatch = Dispatch::new(table);
        (0..table.id_bound())
            .map(|id| u16::try_from(id).is_ok_and(|id| dispatch.slot(id).is_some()))
            .collect()
    }

    /// Updates the state with one event, in file order. See the module
    /// documentation for what is visible after it.
    pub fn apply(&mut self, event: &EventView<'_>) {
        if !self.deferred.is_empty() {
            self.run_deferred();
        }
        match self.fixed.dispatch.slot(event.event_type()) {
            None => self.ensure_thread(event.tid(), event.tgid()),
            Some(&slot) => self.handle(&slot, event),
        }
    }

    /// As [`State::apply`], but an event that changes no process
    /// ([`ProcessEffect::None`]) only makes its thread known: the fds it
    /// opens or closes are left as they were. For a scan that reads no fds,
    /// from the point after which no event rebuilds a process from its fds
    /// ([`ProcessEffect::ChangesFromFds`]): processes and threads end up as
    /// [`State::apply`] leaves them.
    pub fn apply_to_processes(&mut self, event: &EventView<'_>) {
        if !self.deferred.is_empty() {
            self.run_deferred();
        }
        let event_type = event.event_type();
        match self.fixed.dispatch.slot(event_type) {
            Some(&slot)
                if self.fixed.dispatch.process_effect(event_type) != ProcessEffect::None =>
            {
                self.handle(&slot, event);
            }
            _ => self.ensure_thread(event.tid(), event.tgid()),
        }
    }

    /// A number that changes whenever a process or thread may have
    /// changed (not their fds): what was read of the processes and threads
    /// of this state holds while it stays the same.
    pub fn process_generation(&self) -> u64 {
        self.process_changes.wrapping_add(self.thread_generation)
    }

    /// Whether process `tgid` is known and has not begun to exit. Replaying
    /// an event of a live process whose type changes no process
    /// ([`ProcessEffect::None`]) leaves every process as it was: the event
    /// can at most make a new thread of it known, or change its fds.
    pub fn is_live(&self, tgid: u32) -> bool {
        self.processes.get(&tgid).is_some_and(|p| !p.info.exited)
    }

    /// A thread.
    pub fn thread(&self, tid: u32) -> Option<&Thread> {
        self.threads.get(&tid)
    }

    /// A process.
    pub fn process(&self, tgid: u32) -> Option<&Process> {
        self.processes.get(&tgid).map(|p| &p.info)
    }

    /// Process `tgid` with its fd table, for callers that look up both: one
    /// lookup instead of two.
    pub fn process_ref(&self, tgid: u32) -> Option<ProcessRef<'_>> {
        let entry = self.processes.get(&tgid)?;
        let fds = match entry.fds_of {
            0 => &entry.fds,
            owner => self.shared_table(owner, entry),
        };
        Some(ProcessRef { entry, fds })
    }

    /// The table a process created with `CLONE_FILES` shares with `owner`;
    /// apart from [`State::process_ref`], whose common case it would slow.
    #[inline(never)]
    fn shared_table<'a>(&'a self, owner: u32, entry: &'a ProcEntry) -> &'a FdTable {
        self.processes.get(&owner).map_or(&entry.fds, |o| &o.fds)
    }

    /// The fd table entry of process `tgid` (threads share their process'
    /// table, processes made with `CLONE_FILES` their creator's).
    pub fn fd(&self, tgid: u32, fd: i64) -> Option<&FdEntry> {
        self.process_ref(tgid)?.fd(fd)
    }

    /// The process whose fd table process `tgid` uses: itself, or the one
    /// it shares a table with.
    fn table_of(&self, tgid: u32) -> u32 {
        match self.processes.get(&tgid) {
            Some(p) if p.fds_of != 0 => p.fds_of,
            _ => tgid,
        }
    }

    /// The fd table process `tgid` uses, to change.
    fn table_mut(&mut self, tgid: u32) -> Option<&mut FdTable> {
        let owner = self.table_of(tgid);
        self.processes.fds_mut(&owner)
    }

    /// Process `tgid` gets an fd table of its own, as `unshare(CLONE_FILES)`
    /// and exec give it: a copy of the one it shared, while the processes
    /// that shared its table keep that table between them.
    fn unshare_fds(&mut self, tgid: u32) {
        let Some(process) = self.processes.get(&tgid) else {
            return;
        };
        let owner = process.fds_of;
        if owner != 0 {
            let table = self
                .processes
                .get(&owner)
                .map(|o| o.fds.clone())
                .unwrap_or_default();
            if let Some(o) = self.processes.get_mut(&owner) {
                o.sharers.retain(|&p| p != tgid);
            }
            if let Some(process) = self.processes.get_mut(&tgid) {
                process.fds = table;
                process.fds_of = 0;
            }
        } else if !process.sharers.is_empty() {
            let table = process.fds.clone();
            let sharers = self
                .processes
                .get_mut(&tgid)
                .map(|p| std::mem::take(&mut p.sharers))
                .unwrap_or_default();
            self.hand_table_over(table, sharers);
        }
    }

    /// The processes `sharers` go on sharing `table` without the process
    /// that held it: the first of them holds it now.
    fn hand_table_over(&mut self, table: FdTable, sharers: Vec<u32>) {
        let Some((&holder, rest)) = sharers.split_first() else {
            return;
        };
        for &other in rest {
            if let Some(p) = self.processes.get_mut(&other) {
                p.fds_of = holder;
            }
        }
        if let Some(p) = self.processes.get_mut(&holder) {
            p.fds = table;
            p.fds_of = 0;
            p.sharers = rest.to_vec();
        }
    }

    /// What a failed open (`event`, the last event applied) asked for: a
    /// file named by the path it gave, resolved as a successful open's
    /// would be. `None` for any other event.
    pub fn failed_open(&self, event: &EventView<'_>) -> Option<&FdEntry> {
        match &self.failed_open {
            Some((num, ts, entry)) if *num == event.num() && *ts == event.ts() => Some(entry),
            _ => None,
        }
    }

    /// Every open fd of process `tgid`, in no particular order.
    pub fn fds(&self, tgid: u32) -> impl Iterator<Item = (i64, &FdEntry)> + '_ {
        self.process_ref(tgid)
            .into_iter()
            .flat_map(|p| p.fds.iter().map(|(fd, entry)| (fd, &**entry)))
    }

    /// How many threads of process `tgid` are known.
    pub fn thread_count(&self, tgid: u32) -> usize {
        self.processes.get(&tgid).map_or(0, |p| p.tids.len())
    }

    /// Ancestor `level` of process `tgid` (0 = itself, 1 = parent, …),
    /// following ppid.
    pub fn ancestor(&self, tgid: u32, level: usize) -> Option<&Process> {
        let mut process = self.process(tgid)?;
        for _ in 0..level {
            if process.ppid == 0 || process.ppid == process.pid {
                return None;
            }
            process = self.process(process.ppid)?;
        }
        Some(process)
    }

    /// A user, from the snapshot's user table.
    pub fn user(&self, uid: u32) -> Option<&UserInfo> {
        self.fixed.users.get(&uid)
    }

    /// A group, from the snapshot's group table.
    pub fn group(&self, gid: u32) -> Option<&GroupInfo> {
        self.fixed.groups.get(&gid)
    }

    /// A container by id; a unique prefix of at least 12 characters (the
    /// short form tools print) also finds it.
    pub fn container(&self, id: &str) -> Option<&ContainerInfo> {
        if let Some(found) = self.fixed.containers.get(id) {
            return Some(found);
        }
        if id.len() < 12 || id == HOST {
            return None;
        }
        let mut matches = self
            .fixed
            .containers
            .values()
            .filter(|c| c.id.starts_with(id));
        match (matches.next(), matches.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// How many processes are tracked.
    pub fn process_count(&self) -> usize {
        self.processes.len()
    }

    /// How many fds are tracked, over all processes.
    pub fn fd_count(&self) -> usize {
        self.processes.values().map(|p| p.fds.len()).sum()
    }

    /// Records thread `tid` of process `tgid` (creating the process if it
    /// is new) with the given name, or its process' name.
    fn add_thread(&mut self, tid: u32, tgid: u32, comm: Option<&[u8]>) {
        if let Some(old) = self.threads.get(&tid).map(|t| t.tgid)
            && old != tgid
            && let Some(process) = self.processes.get_mut(&old)
        {
            process.tids.retain(|&t| t != tid);
        }
        let process = self
            .processes
            .get_or_insert_with(tgid, || ProcEntry::unknown(tgid));
        if !process.tids.contains(&tid) {
            process.tids.push(tid);
        }
        let assumed_comm = comm.is_none();
        let comm = comm.map_or_else(|| process.info.comm.clone(), <[u8]>::to_vec);
        self.threads.insert(
            tid,
            Thread {
                tid,
                tgid,
                comm,
                assumed_comm,
            },
        );
        self.thread_generation += 1;
    }

    /// Makes sure the thread of an event and its process are known.
    #[inline]
    fn ensure_thread(&mut self, tid: u32, tgid: u32) {
        let slot = tid as usize % SEEN;
        if self.seen[slot] != (tid, tgid, self.thread_generation) {
            self.meet_thread(slot, tid, tgid);
        }
    }

    /// [`State::ensure_thread`] for a thread not in `seen`, apart so that
    /// the common case stays small enough to inline.
    #[inline(never)]
    fn meet_thread(&mut self, slot: usize, tid: u32, tgid: u32) {
        self.processes.note(tgid);
        if self.threads.get(&tid).is_none_or(|t| t.tgid != tgid) {
            self.add_thread(tid, tgid, None);
        }
        self.seen[slot] = (tid, tgid, self.thread_generation);
    }

    fn run_deferred(&mut self) {
        let mut deferred = std::mem::take(&mut self.deferred);
        for change in deferred.drain(..) {
            match change {
                Deferred::CloseFd { tgid, fd } => {
                    if let Some(fds) = self.table_mut(tgid) {
                        fds.remove(&fd);
                    }
                }
                Deferred::CloseRange { tgid, first, last } => {
                    if let Some(fds) = self.table_mut(tgid) {
                        fds.retain(|fd, _| !(first..=last).contains(fd));
                    }
                }
                Deferred::RemoveThread { tid } => self.remove_thread(tid),
                Deferred::Reap { tgid } => self.remove_process(tgid),
            }
        }
        // Keep the allocation for the next time.
        self.deferred = deferred;
    }

    fn remove_thread(&mut self, tid: u32) {
        if let Some(thread) = self.threads.remove(&tid)
            && let Some(process) = self.processes.get_mut(&thread.tgid)
        {
            process.tids.retain(|&t| t != tid);
        }
        self.thread_generation += 1;
    }

    /// Drops a process with its threads and fds; its children go to the
    /// nearest pid-namespace init above it, as the kernel re-parents
    /// orphans (child subreapers are not known to the trace).
    fn remove_process(&mut self, tgid: u32) {
        let Some(process) = self.processes.remove(&tgid) else {
            return;
        };
        if process.fds_of != 0 {
            if let Some(owner) = self.processes.get_mut(&process.fds_of) {
                owner.sharers.retain(|&p| p != tgid);
            }
        } else if !process.sharers.is_empty() {
            self.hand_table_over(process.fds.clone(), process.sharers.clone());
        }
        for &tid in &process.tids {
            if self.threads.get(&tid).is_some_and(|t| t.tgid == tgid) {
                self.threads.remove(&tid);
            }
        }
        self.orphans.remove(&tgid);
        self.thread_generation += 1;
        if !process.has_children {
            return;
        }
        let reaper = self.reaper_above(process.info.ppid);
        // Only the children are changed (and so copied, when shared).
        let children: Vec<u32> = self
            .processes
            .iter()
            .filter(|(_, other)| other.info.ppid == tgid)
            .map(|(&pid, _)| pid)
            .collect();
        let adopted = !children.is_empty();
        for child in children {
            if let Some(other) = self.processes.get_mut(&child) {
                other.info.ppid = reaper;
            }
        }
        if adopted && let Some(reaper) = self.processes.get_mut(&reaper) {
            reaper.has_children = true;
        }
    }

    /// The init of the pid namespace of `pid` (the nearest process at or
    /// above it whose namespace pid is 1), else 1.
    fn reaper_above(&self, pid: u32) -> u32 {
        let mut at = pid;
        // Bounded: ppid links may form a cycle in a damaged trace.
        for _ in 0..64 {
            let Some(process) = self.process(at) else {
                break;
            };
            if process.vpid == 1 {
                return process.pid;
            }
            if process.ppid == 0 || process.ppid == at {
                break;
            }
            at = process.ppid;
        }
        1
    }
}

fn process_from_snapshot(info: &ProcessInfo) -> Process {
    let exe = if info.exe.is_empty() {
        info.args.first().cloned().unwrap_or_default()
    } else {
        info.exe.clone()
    };
    Process {
        pid: info.pid,
        ppid: info.ppid,
        vpid: info.vpid,
        sid: info.sid,
        pgid: info.pgid,
        comm: info.comm.clone(),
        exe_from_memfd: info.exe.starts_with(b"/memfd:"),
        exe,
        exepath: info.exe.clone(),
        args: info.args.iter().skip(1).cloned().collect(),
        cwd: info.cwd.clone(),
        uid: info.uid,
        euid: info.euid,
        gid: info.gid,
        egid: info.egid,
        loginuid: info.loginuid,
        tty: info.tty,
        cap_effective: CapSet::new(info.cap_effective),
        cap_permitted: CapSet::new(info.cap_permitted),
        cap_inheritable: CapSet::new(info.cap_inheritable),
        start_ts: info.start_ts,
        container_id: if info.container_id.is_empty() {
            HOST.to_owned()
        } else {
            info.container_id.clone()
        },
        mntns: info.mntns,
        exited: false,
        cmdline: OnceLock::new(),
        exeline: OnceLock::new(),
    }
}

/// Local addresses of the snapshot's listening IP sockets (bound, no
/// peer), so that its connected sockets can tell their role: one whose
/// local address is listened on was accepted, the process is its server.
fn listening_addresses(fds: &[FdInfo]) -> FxHashSet<std::net::SocketAddr> {
    fds.iter()
        .filter(|fd| fd.remote.is_none())
        .filter_map(|fd| match fd.local {
            Some(SockAddr::Inet(addr)) if addr.port() != 0 => Some(addr),
            _ => None,
        })
        .collect()
}

fn fd_from_snapshot(info: &FdInfo, listening: &FxHashSet<std::net::SocketAddr>) -> FdEntry {
    let is_server = match (&info.local, &info.remote) {
        (Some(SockAddr::Inet(local)), Some(_)) => {
            let wildcard = std::net::SocketAddr::new(
                match local {
                    std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
                    std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
                },
                local.port(),
            );
            listening.contains(local) || listening.contains(&wildcard)
        }
        _ => false,
    };
    let name = if info.name.is_empty() && (info.local.is_some() || info.remote.is_some()) {
        text::socket_name(info.local.as_ref(), info.remote.as_ref(), is_server)
    } else {
        info.name.clone()
    };
    FdEntry {
        kind: info.kind,
        name,
        flags: info.flags,
        local: info.local.clone(),
        remote: info.remote.clone(),
        l4proto: info.l4proto,
        is_server,
        cloexec: u64::from(info.flags) & O_CLOEXEC != 0,
        identity: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pid: u32, comm: &str) -> ProcEntry {
        let mut entry = ProcEntry::unknown(pid);
        entry.info.comm = comm.as_bytes().to_vec();
        entry
    }

    fn comm(processes: &Processes, pid: u32) -> Option<String> {
        let entry = processes.get(&pid)?;
        Some(String::from_utf8_lossy(&entry.info.comm).into_owned())
    }

    /// Pids that share an entry of the recent table, noted in turn, and
    /// slots freed and taken again: each pid still finds its own process.
    #[test]
    fn processes_are_found_through_recent_pids_and_reused_slots() {
        let mut processes = Processes::default();
        let pids = [7, 7 + RECENT as u32, 7 + 2 * RECENT as u32, 9];
        for pid in pids {
            processes.insert(pid, named(pid, &format!("p{pid}")));
        }
        for round in 0..3 {
            for pid in pids {
                if round > 0 {
                    processes.note(pid);
                }
                assert_eq!(comm(&processes, pid), Some(format!("p{pid}")));
            }
        }
        let gone = processes.remove(&pids[1]).map(|e| e.info.pid);
        assert_eq!(gone, Some(pids[1]));
        assert_eq!(comm(&processes, pids[1]), None);
        // The freed slot goes to a new process; the old pid stays unknown.
        processes.insert(200, named(200, "new"));
        processes.note(pids[1]);
        assert_eq!(comm(&processes, pids[1]), None);
        assert_eq!(comm(&processes, 200), Some("new".to_owned()));
        processes.get_or_insert_with(pids[1], || named(pids[1], "again"));
        assert_eq!(comm(&processes, pids[1]), Some("again".to_owned()));
        assert_eq!(comm(&processes, pids[2]), Some(format!("p{}", pids[2])));
        assert_eq!(processes.len(), 5);
        let mut listed: Vec<u32> = processes.iter().map(|(&pid, _)| pid).collect();
        listed.sort_unstable();
        assert_eq!(listed, vec![7, 9, 71, 135, 200]);
    }
}
