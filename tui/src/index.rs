//! The event index: what every view needs from a trace, built in one pass
//! and kept compact (about 55 bytes per event) so that views, drill-downs
//! and the overview are computed from memory without decoding the trace
//! again.
//!
//! Each event becomes one row of parallel columns (time, event number,
//! thread, process, type, return value, the object it touched, a few class
//! bits). Processes, objects (files, sockets…), event types, users and
//! containers are interned once into small tables the columns point into.
//! The thread that replays the trace does only what needs the state as of
//! each event; the columns are filled on a thread of their own.

use std::hash::Hasher;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use rustc_hash::{FxHashMap, FxHasher};

use scry_analyze::Value;
use scry_analyze::fields::{Ctx, Field, typechar};
use scry_analyze::reports::users::UserCommands;
use scry_analyze::state::{CLONE_THREAD, RecentIds};
use scry_format::ValueRef;

/// Event class bits, set at indexing time from the event type and result.
pub mod class {
    /// A new process was created: a clone, fork or vfork without
    /// `CLONE_THREAD`, seen in the parent (threads and execs are not).
    pub const SPAWN: u8 = 1;
    /// A successful `execve`/`execveat`.
    pub const EXEC: u8 = 1 << 1;
    /// A successful open-family call.
    pub const OPEN: u8 = 1 << 2;
    /// Data read (the return value is the byte count).
    pub const READ: u8 = 1 << 3;
    /// Data written (the return value is the byte count).
    pub const WRITE: u8 = 1 << 4;
    /// The object is a network socket (IPv4 or IPv6).
    pub const NET: u8 = 1 << 5;
    /// A successful `connect` or `accept`.
    pub const CONNECT: u8 = 1 << 6;
    /// A syscall that failed (negative return value).
    pub const ERROR: u8 = 1 << 7;
}

/// No object (the event touched no fd or path).
pub const NO_OBJECT: u32 = u32::MAX;

/// One process as the trace showed it: a new entry per program executed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proc {
    /// Process id.
    pub pid: u32,
    /// Parent process id, 0 when unknown.
    pub ppid: u32,
    /// Name (`comm`).
    pub name: String,
    /// Command line.
    pub cmdline: String,
    /// Index into [`EventIndex::users`].
    pub user: u32,
    /// Index into [`EventIndex::containers`].
    pub container: u32,
}

/// Something an event touched: a file, a directory, a socket, a pipe…
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    /// sysdig's fd type letter: `f` file, `d` directory, `4`/`6` IP
    /// socket, `u` unix socket, `p` pipe…
    pub kind: u8,
    /// Path, connection tuple (`client->server`) or pseudo name.
    pub name: String,
    /// For IP sockets, the server port; 0 otherwise.
    pub port: u16,
    /// For files, index into [`EventIndex::dirs`]; `u32::MAX` otherwise.
    pub dir: u32,
}

impl Object {
    /// Whether this is a file or a directory.
    pub fn is_file(&self) -> bool {
        matches!(self.kind, b'f' | b'd')
    }

    /// Whether this is an IP socket.
    pub fn is_net(&self) -> bool {
        matches!(self.kind, b'4' | b'6')
    }
}

/// A command of an interactive user, as `scry spy users` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCommand {
    /// The event (an exec, or a shell's change of directory).
    pub ordinal: u32,
    /// The user's name (or uid).
    pub user: String,
    /// The process that ran it.
    pub pid: u32,
    /// Pid of its session shell.
    pub shell: u32,
    /// Generations between the process and its session shell.
    pub depth: u16,
    /// Its command line, or `cd DIR`.
    pub text: String,
}

/// The compact per-event columns and the tables they point into.
#[derive(Debug, Default)]
pub struct EventIndex {
    /// Timestamp, ns since the epoch.
    pub ts: Vec<u64>,
    /// Event number within its file (0-based).
    pub num: Vec<u64>,
    /// Thread id.
    pub tid: Vec<u32>,
    /// Index into `procs`.
    pub proc: Vec<u32>,
    /// Index into `types`.
    pub etype: Vec<u16>,
    /// Return value.
    pub ret: Vec<i64>,
    /// Time spent in the call, ns.
    pub latency: Vec<u64>,
    /// Index into `objects`, or [`NO_OBJECT`].
    pub obj: Vec<u32>,
    /// [`class`] bits.
    pub class: Vec<u8>,
    /// Where each file's events start (ordinal), in the order files were
    /// indexed.
    pub parts: Vec<usize>,
    /// Processes.
    pub procs: Vec<Proc>,
    /// Objects.
    pub objects: Vec<Object>,
    /// Event type names.
    pub types: Vec<String>,
    /// User names (or numeric ids).
    pub users: Vec<String>,
    /// Container ids (`host` outside containers).
    pub containers: Vec<String>,
    /// Directories of file objects.
    pub dirs: Vec<String>,
    /// Events lost by the capture, with when they were counted:
    /// (timestamp, cumulative drops).
    pub drops: Vec<(u64, u64)>,
    /// Commands of interactive users (a terminal or a login id), in order.
    pub commands: Vec<UserCommand>,
    /// The events of each process entry, in order.
    pub by_proc: Postings,
    /// The events on each object, in order.
    pub by_object: Postings,
    /// Earliest and latest timestamps, once finished.
    range: Option<(u64, u64)>,
}

/// For each key (a process entry, an object), the ordinals of its events
/// in order: a drill-down step into one process or file reads its events
/// only, however big the trace.
#[derive(Debug, Default)]
pub struct Postings {
    /// Where each key's ordinals start in `ordinals`; one more entry than
    /// keys.
    offsets: Vec<u32>,
    ordinals: Vec<u32>,
}

impl Postings {
    /// Groups ordinals by `keys[ordinal]`, for keys below `bound` (others,
    /// such as [`NO_OBJECT`], are left out).
    pub fn build(keys: &[u32], bound: usize) -> Self {
        let mut offsets = vec![0u32; bound + 1];
        for &key in keys {
            if let Some(count) = offsets.get_mut(key as usize + 1)
                && (key as usize) < bound
            {
                *count += 1;
            }
        }
        for at in 1..offsets.len() {
            offsets[at] += offsets[at - 1];
        }
        let mut next = offsets.clone();
        let mut ordinals = vec![0u32; offsets[bound] as usize];
        for (ordinal, &key) in keys.iter().enumerate() {
            if (key as usize) < bound {
                let slot = &mut next[key as usize];
                ordinals[*slot as usize] = ordinal as u32;
                *slot += 1;
            }
        }
        Postings { offsets, ordinals }
    }

    /// The ordinals of `key`'s events, in order.
    pub fn get(&self, key: usize) -> &[u32] {
        match (self.offsets.get(key), self.offsets.get(key + 1)) {
            (Some(&from), Some(&to)) => &self.ordinals[from as usize..to as usize],
            _ => &[],
        }
    }

    fn heap_bytes(&self) -> usize {
        (self.offsets.capacity() + self.ordinals.capacity()) * 4
    }
}

impl EventIndex {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.ts.len()
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// Earliest and latest timestamps.
    pub fn time_range(&self) -> Option<(u64, u64)> {
        self.range
    }

    /// Which file an event comes from.
    pub fn part_of(&self, ordinal: usize) -> usize {
        self.parts
            .partition_point(|&start| start <= ordinal)
            .saturating_sub(1)
    }

    /// The ordinal of event `num` of file `part`, if indexed.
    pub fn ordinal_of(&self, part: usize, num: u64) -> Option<usize> {
        let start = *self.parts.get(part)?;
        let end = self.parts.get(part + 1).copied().unwrap_or(self.len());
        let nums = &self.num[start..end];
        nums.binary_search(&num).ok().map(|i| start + i)
    }

    /// Bytes of memory held by the index, approximately.
    pub fn heap_bytes(&self) -> usize {
        let columns = self.ts.capacity() * 8
            + self.num.capacity() * 8
            + self.tid.capacity() * 4
            + self.proc.capacity() * 4
            + self.etype.capacity() * 2
            + self.ret.capacity() * 8
            + self.latency.capacity() * 8
            + self.obj.capacity() * 4
            + self.class.capacity()
            + self.by_proc.heap_bytes()
            + self.by_object.heap_bytes();
        let strings = |v: &[String]| v.iter().map(|s| s.capacity() + 24).sum::<usize>();
        columns
            + self
                .procs
                .iter()
                .map(|p| p.name.capacity() + p.cmdline.capacity() + 72)
                .sum::<usize>()
            + self
                .objects
                .iter()
                .map(|o| o.name.capacity() + 40)
                .sum::<usize>()
            + strings(&self.types)
            + strings(&self.users)
            + strings(&self.containers)
            + strings(&self.dirs)
    }

    /// The bytes an I/O event moved (0 for others).
    pub fn io_bytes(&self, ordinal: usize) -> u64 {
        if self.class[ordinal] & (class::READ | class::WRITE) != 0 {
            u64::try_from(self.ret[ordinal]).unwrap_or(0)
        } else {
            0
        }
    }
}

/// The fields the indexer reads, resolved once per file.
#[derive(Debug)]
pub struct IndexFields {
    pub(crate) proc_name: Field,
    pub(crate) cmdline: Field,
    pub(crate) ppid: Field,
    pub(crate) user: Field,
    pub(crate) container: Field,
    pub(crate) path: Field,
    pub(crate) commands: UserCommands,
}

/// Builds an [`EventIndex`] one event at a time, file after file.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    index: EventIndex,
    /// The current process entry of each tgid.
    by_tgid: FxHashMap<u32, u32>,
    /// Entries of `by_tgid` looked up lately.
    recent_procs: RecentIds<RECENT_PROCS>,
    procs_by_key: FxHashMap<(u32, String, String), u32>,
    /// Objects by kind letter followed by name.
    objects_by_key: FxHashMap<Vec<u8>, u32>,
    /// Entries of `objects_by_key` looked up lately.
    recent_objects: RecentObjects,
    types_by_name: FxHashMap<String, u16>,
    users_by_name: FxHashMap<String, u32>,
    containers_by_id: FxHashMap<String, u32>,
    dirs_by_name: FxHashMap<String, u32>,
    /// Global type index of each type id of the current file.
    type_map: Vec<u16>,
    /// Per type id of the current file: exec, spawn, connect.
    type_class: Vec<u8>,
    scratch: Vec<u8>,
    /// The latest events, moved into the columns [`ROWS`] at a time:
    /// one write of a row per event rather than one push per column.
    rows: Vec<Row>,
    /// Events moved into the columns (or handed to `writer`) so far.
    written: usize,
    /// The thread that fills the columns, if any; else this one does.
    writer: Option<ColumnWriter>,
}

/// Fills the columns of an index from batches of rows on a thread of its
/// own. The thread that replays the trace is the one the indexing pass
/// waits for; filling the columns (about 55 bytes of new memory per event,
/// each page of it faulted in) is work it can hand over, to a core that
/// the decoding threads leave partly idle.
#[derive(Debug)]
struct ColumnWriter {
    batches: SyncSender<Vec<Row>>,
    /// Batches the writer is done with, to be filled again.
    spare: Receiver<Vec<Row>>,
    thread: JoinHandle<EventIndex>,
}

impl ColumnWriter {
    /// Starts the thread, with room for `events` events; `None` if no
    /// thread can be started.
    fn start(events: usize) -> Option<Self> {
        let (batches, full) = sync_channel::<Vec<Row>>(WRITER_BATCHES);
        let (done, spare) = sync_channel::<Vec<Row>>(WRITER_BATCHES + 1);
        let thread = std::thread::Builder::new()
            .name("scry-index-columns".to_owned())
            .spawn(move || {
                let mut columns = EventIndex::default();
                reserve_columns(&mut columns, events);
                for mut rows in full {
                    append_rows(&mut columns, &rows);
                    rows.clear();
                    // Full when the builder has enough spares: this one goes.
                    let _ = done.try_send(rows);
                }
                columns
            })
            .ok()?;
        Some(ColumnWriter {
            batches,
            spare,
            thread,
        })
    }
}

/// Batches of rows in flight to the column writer at most.
const WRITER_BATCHES: usize = 32;

/// One event's entries in the columns of [`EventIndex`].
#[derive(Debug, Clone, Copy)]
struct Row {
    ts: u64,
    num: u64,
    ret: i64,
    latency: u64,
    tid: u32,
    proc: u32,
    obj: u32,
    etype: u16,
    class: u8,
}

/// Small caches in front of the builder's maps. On a big trace the maps
/// spread over megabytes (their buckets, their keys on the heap, the
/// tables they point into), and most lookups would miss the processor's
/// caches; the events of a trace mostly touch what recent events touched,
/// which these keep in a few hundred kilobytes. Each slot holds its whole
/// key, so a hit is exact.
#[derive(Debug)]
struct RecentObjects {
    slots: Box<[RecentObject]>,
}

/// One object looked up lately: its id, kind letter and name.
#[derive(Debug, Clone, Copy)]
struct RecentObject {
    /// [`NO_OBJECT`] for an empty slot.
    id: u32,
    kind: u8,
    len: u8,
    name: [u8; RECENT_NAME],
}

/// Longest name kept in [`RecentObjects`] (a slot is 64 bytes); longer
/// ones are always looked up in the map.
const RECENT_NAME: usize = 58;

/// Slots of [`RecentObjects`], a power of two.
const RECENT_OBJECTS: usize = 4096;

impl Default for RecentObjects {
    fn default() -> Self {
        let empty = RecentObject {
            id: NO_OBJECT,
            kind: 0,
            len: 0,
            name: [0; RECENT_NAME],
        };
        RecentObjects {
            slots: vec![empty; RECENT_OBJECTS].into_boxed_slice(),
        }
    }
}

impl RecentObjects {
    /// The slot of an object of `kind` named `name`.
    #[inline]
    fn slot(kind: u8, name: &[u8]) -> usize {
        let mut hasher = FxHasher::default();
        hasher.write_u8(kind);
        hasher.write(name);
        // The high bits of a multiplicative hash are its best mixed.
        (hasher.finish() >> (64 - RECENT_OBJECTS.trailing_zeros())) as usize
    }

    /// The object in `slot` if it is the one of `kind` named `name`.
    #[inline]
    fn get(&self, slot: usize, kind: u8, name: &[u8]) -> Option<u32> {
        let recent = self.slots.get(slot)?;
        (recent.id != NO_OBJECT
            && recent.kind == kind
            && usize::from(recent.len) == name.len()
            && recent.name.get(..name.len()) == Some(name))
        .then_some(recent.id)
    }

    /// Keeps object `id`, of `kind` named `name`, in `slot`.
    fn put(&mut self, slot: usize, kind: u8, name: &[u8], id: u32) {
        let (Some(recent), Ok(len)) = (self.slots.get_mut(slot), u8::try_from(name.len())) else {
            return;
        };
        if name.len() <= RECENT_NAME {
            recent.id = id;
            recent.kind = kind;
            recent.len = len;
            recent.name[..name.len()].copy_from_slice(name);
        }
    }
}

/// Slots of the table of tgids looked up lately, a power of two.
const RECENT_PROCS: usize = 1024;

/// Rows held before they are moved into the columns.
const ROWS: usize = 512;

/// Makes room for `events` more events in the columns of `index`.
fn reserve_columns(index: &mut EventIndex, events: usize) {
    index.ts.reserve_exact(events);
    index.num.reserve_exact(events);
    index.tid.reserve_exact(events);
    index.proc.reserve_exact(events);
    index.etype.reserve_exact(events);
    index.ret.reserve_exact(events);
    index.latency.reserve_exact(events);
    index.obj.reserve_exact(events);
    index.class.reserve_exact(events);
}

/// Adds `rows` to the columns of `index`, column by column.
fn append_rows(index: &mut EventIndex, rows: &[Row]) {
    index.ts.extend(rows.iter().map(|r| r.ts));
    index.num.extend(rows.iter().map(|r| r.num));
    index.tid.extend(rows.iter().map(|r| r.tid));
    index.proc.extend(rows.iter().map(|r| r.proc));
    index.etype.extend(rows.iter().map(|r| r.etype));
    index.ret.extend(rows.iter().map(|r| r.ret));
    index.latency.extend(rows.iter().map(|r| r.latency));
    index.obj.extend(rows.iter().map(|r| r.obj));
    index.class.extend(rows.iter().map(|r| r.class));
}

fn intern<K: std::hash::Hash + Eq + Clone>(
    map: &mut FxHashMap<K, u32>,
    table: &mut Vec<String>,
    key: &K,
    text: impl FnOnce() -> String,
) -> u32 {
    if let Some(&id) = map.get(key) {
        return id;
    }
    let id = u32::try_from(table.len()).unwrap_or(u32::MAX);
    table.push(text());
    map.insert(key.clone(), id);
    id
}

fn text_of(field: &Field, ctx: &Ctx<'_>) -> Option<String> {
    field.extract(ctx).map(|value| value.to_string())
}

impl IndexBuilder {
    /// Starts a new file whose event types are `type_names` (by type id).
    /// Processes are looked up afresh: pids of another file are another
    /// machine's or another time's.
    pub fn start_file(&mut self, type_names: &[Option<&str>]) {
        let start = self.len();
        self.index.parts.push(start);
        self.by_tgid.clear();
        self.recent_procs.clear();
        self.type_map.clear();
        self.type_class.clear();
        for name in type_names {
            let name = name.unwrap_or("unknown");
            let id = match self.types_by_name.get(name) {
                Some(&id) => id,
                None => {
                    let id = u16::try_from(self.index.types.len()).unwrap_or(u16::MAX);
                    self.index.types.push(name.to_owned());
                    self.types_by_name.insert(name.to_owned(), id);
                    id
                }
            };
            self.type_map.push(id);
            let bits = match name {
                "execve" | "execveat" => class::EXEC,
                "clone" | "clone3" | "fork" | "vfork" => class::SPAWN,
                "connect" | "accept" | "accept4" => class::CONNECT,
                _ => 0,
            };
            self.type_class.push(bits);
        }
    }

    /// A builder for about `events` events: the columns grow once, and
    /// are filled on a thread of their own.
    pub fn with_capacity(events: usize) -> Self {
        let mut builder = IndexBuilder {
            writer: ColumnWriter::start(events),
            ..IndexBuilder::default()
        };
        if builder.writer.is_none() {
            reserve_columns(&mut builder.index, events);
        }
        builder.rows.reserve_exact(ROWS.min(events));
        builder
    }

    /// Records drop counters of the current file.
    pub fn add_drops(&mut self, ts: u64, dropped: u64) {
        self.index.drops.push((ts, dropped));
    }

    /// Adds one event.
    pub fn add(&mut self, ctx: &Ctx<'_>, fields: &IndexFields) {
        let event = &ctx.event;
        let local_type = usize::from(event.event_type());
        let etype = self.type_map.get(local_type).copied().unwrap_or(0);
        let type_bits = self.type_class.get(local_type).copied().unwrap_or(0);
        let ret = event.ret();
        let mut bits = 0;
        if type_bits & class::EXEC != 0 {
            if ret == 0 {
                bits |= class::EXEC;
            }
        } else if type_bits & class::SPAWN != 0 {
            // The parent's side (the child's id returned); the first
            // parameter is the clone flags (none for fork and vfork).
            let flags = match event.param(0) {
                Some(ValueRef::Uint(flags)) => flags,
                Some(ValueRef::Int(flags)) => flags as u64,
                _ => 0,
            };
            if ret > 0 && flags & CLONE_THREAD == 0 {
                bits |= class::SPAWN;
            }
        } else if type_bits & class::CONNECT != 0 && ret >= 0 {
            bits |= class::CONNECT;
        }
        if ctx.info.is_open && ret >= 0 {
            bits |= class::OPEN;
        }
        if ret > 0 && ctx.info.is_io_read {
            bits |= class::READ;
        }
        if ret > 0 && ctx.info.is_io_write {
            bits |= class::WRITE;
        }
        if ret < 0 && ctx.info.is_syscall {
            bits |= class::ERROR;
        }
        let proc = self.proc_of(ctx, fields, bits & class::EXEC != 0);
        let (obj, kind) = self.object_of(ctx, fields);
        if matches!(kind, b'4' | b'6') {
            bits |= class::NET;
        }
        if let Some(command) = fields.commands.command(ctx) {
            self.index.commands.push(UserCommand {
                ordinal: u32::try_from(self.len()).unwrap_or(u32::MAX),
                user: command.user,
                pid: command.pid,
                shell: command.shell,
                depth: u16::try_from(command.depth).unwrap_or(u16::MAX),
                text: command.text,
            });
        }
        self.push(Row {
            ts: event.ts(),
            num: event.num(),
            ret,
            latency: event.latency(),
            tid: event.tid(),
            proc,
            obj,
            etype,
            class: bits,
        });
    }

    /// Adds one event's row.
    #[inline]
    fn push(&mut self, row: Row) {
        self.rows.push(row);
        if self.rows.len() >= ROWS {
            self.flush();
        }
    }

    /// Events added so far.
    fn len(&self) -> usize {
        self.written + self.rows.len()
    }

    /// Moves the rows held into the columns, or hands them to the writer.
    fn flush(&mut self) {
        self.written += self.rows.len();
        match &self.writer {
            Some(writer) => {
                let spare = writer
                    .spare
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(ROWS));
                let rows = std::mem::replace(&mut self.rows, spare);
                // A writer that is gone has panicked: `finish` says so.
                let _ = writer.batches.send(rows);
            }
            None => {
                append_rows(&mut self.index, &self.rows);
                self.rows.clear();
            }
        }
    }

    fn proc_of(&mut self, ctx: &Ctx<'_>, fields: &IndexFields, refresh: bool) -> u32 {
        let tgid = ctx.event.tgid();
        if !refresh {
            if let Some(id) = self.recent_procs.get(tgid) {
                return id;
            }
            if let Some(&id) = self.by_tgid.get(&tgid) {
                self.recent_procs.put(tgid, id);
                return id;
            }
        }
        let name = text_of(&fields.proc_name, ctx).unwrap_or_default();
        let cmdline = text_of(&fields.cmdline, ctx).unwrap_or_default();
        let key = (tgid, name, cmdline);
        let id = match self.procs_by_key.get(&key) {
            Some(&id) => id,
            None => {
                let user = text_of(&fields.user, ctx).unwrap_or_else(|| "<NA>".to_owned());
                let user = intern(
                    &mut self.users_by_name,
                    &mut self.index.users,
                    &user,
                    || user.clone(),
                );
                let container =
                    text_of(&fields.container, ctx).unwrap_or_else(|| "host".to_owned());
                let container = intern(
                    &mut self.containers_by_id,
                    &mut self.index.containers,
                    &container,
                    || container.clone(),
                );
                let ppid = fields
                    .ppid
                    .extract(ctx)
                    .and_then(|v| v.as_num())
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0);
                let id = u32::try_from(self.index.procs.len()).unwrap_or(u32::MAX);
                self.index.procs.push(Proc {
                    pid: tgid,
                    ppid,
                    name: key.1.clone(),
                    cmdline: key.2.clone(),
                    user,
                    container,
                });
                self.procs_by_key.insert(key, id);
                id
            }
        };
        self.by_tgid.insert(tgid, id);
        self.recent_procs.put(tgid, id);
        id
    }

    /// The object the event touched, and its kind letter ([`NO_OBJECT`]
    /// and 0 if none).
    fn object_of(&mut self, ctx: &Ctx<'_>, fields: &IndexFields) -> (u32, u8) {
        const NONE: (u32, u8) = (NO_OBJECT, 0);
        let info = ctx.info;
        // Most calls of some types touch nothing: no process or fd lookup.
        if info.fd_param.is_none() && !info.returns_fd && info.path_param.is_none() {
            return NONE;
        }
        // The fd's name and kind letter (`fd.name`, `fd.typechar`) from
        // one lookup; else the path the call names (`fs.path.name`).
        let path;
        let (kind, name): (u8, &[u8]) = match ctx.fd() {
            Some(fd) => {
                let kind = typechar(fd.kind).as_bytes().first().copied();
                (kind.unwrap_or(b'o'), &fd.name)
            }
            None => {
                path = fields.path.extract(ctx);
                match path.as_ref().and_then(Value::as_bytes) {
                    Some(path) => (b'f', path),
                    None => return NONE,
                }
            }
        };
        if name.is_empty() {
            return NONE;
        }
        let slot = RecentObjects::slot(kind, name);
        if let Some(id) = self.recent_objects.get(slot, kind, name) {
            return (id, kind);
        }
        self.scratch.clear();
        self.scratch.push(kind);
        self.scratch.extend_from_slice(name);
        if let Some(&id) = self.objects_by_key.get(&self.scratch) {
            self.recent_objects.put(slot, kind, name, id);
            return (id, kind);
        }
        let key = name;
        let name = String::from_utf8_lossy(name).into_owned();
        let dir = if matches!(kind, b'f' | b'd') {
            let dir = match name.rfind('/') {
                Some(0) => "/".to_owned(),
                Some(at) => name[..at].to_owned(),
                None => ".".to_owned(),
            };
            intern(&mut self.dirs_by_name, &mut self.index.dirs, &dir, || {
                dir.clone()
            })
        } else {
            u32::MAX
        };
        let port = if matches!(kind, b'4' | b'6') {
            server_port(&name)
        } else {
            0
        };
        let id = u32::try_from(self.index.objects.len()).unwrap_or(u32::MAX);
        self.index.objects.push(Object {
            kind,
            name,
            port,
            dir,
        });
        self.objects_by_key.insert(self.scratch.clone(), id);
        self.recent_objects.put(slot, kind, key, id);
        (id, kind)
    }

    /// The finished index.
    pub fn finish(mut self) -> EventIndex {
        self.flush();
        if let Some(ColumnWriter {
            batches, thread, ..
        }) = self.writer.take()
        {
            drop(batches);
            let columns = thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            let index = &mut self.index;
            index.ts = columns.ts;
            index.num = columns.num;
            index.tid = columns.tid;
            index.proc = columns.proc;
            index.etype = columns.etype;
            index.ret = columns.ret;
            index.latency = columns.latency;
            index.obj = columns.obj;
            index.class = columns.class;
        }
        let index = &mut self.index;
        index.ts.shrink_to_fit();
        index.num.shrink_to_fit();
        index.tid.shrink_to_fit();
        index.proc.shrink_to_fit();
        index.etype.shrink_to_fit();
        index.ret.shrink_to_fit();
        index.latency.shrink_to_fit();
        index.obj.shrink_to_fit();
        index.class.shrink_to_fit();
        // The two postings are independent: built side by side.
        let (by_proc, by_object) = std::thread::scope(|scope| {
            let by_object = scope.spawn(|| Postings::build(&index.obj, index.objects.len()));
            let by_proc = Postings::build(&index.proc, index.procs.len());
            let by_object = by_object
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (by_proc, by_object)
        });
        index.by_proc = by_proc;
        index.by_object = by_object;
        index.range = index
            .ts
            .iter()
            .min()
            .zip(index.ts.iter().max())
            .map(|(&first, &last)| (first, last));
        self.index
    }
}

/// The server port of a `client->server` tuple (`1.2.3.4:5->6.7.8.9:80`,
/// `[::1]:5->[::1]:80`), or of a lone `address:port`.
pub fn server_port(tuple: &str) -> u16 {
    let server = tuple.rsplit("->").next().unwrap_or(tuple);
    server
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or(0)
}

/// A set of event ordinals, one bit each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mask {
    words: Vec<u64>,
    len: usize,
}

impl Mask {
    /// No event of `len`.
    pub fn new(len: usize) -> Self {
        Mask {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// Adds `ordinal`.
    pub fn set(&mut self, ordinal: usize) {
        if let Some(word) = self.words.get_mut(ordinal / 64) {
            *word |= 1 << (ordinal % 64);
        }
    }

    /// Whether `ordinal` is in the set.
    #[inline]
    pub fn get(&self, ordinal: usize) -> bool {
        self.words
            .get(ordinal / 64)
            .is_some_and(|word| word & (1 << (ordinal % 64)) != 0)
    }

    /// How many events are in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The size of the universe.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the universe is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ports() {
        assert_eq!(server_port("10.0.0.5:43210->93.184.216.34:443"), 443);
        assert_eq!(server_port("[::1]:5000->[::1]:80"), 80);
        assert_eq!(server_port("0.0.0.0:22"), 22);
        assert_eq!(server_port("nonsense"), 0);
    }

    #[test]
    fn postings_list_each_keys_events_in_order() {
        let keys = [2, 0, 2, NO_OBJECT, 1, 2];
        let postings = Postings::build(&keys, 3);
        assert_eq!(postings.get(0), &[1]);
        assert_eq!(postings.get(1), &[4]);
        assert_eq!(postings.get(2), &[0, 2, 5]);
        assert!(postings.get(3).is_empty());
    }

    #[test]
    fn columns_keep_every_row_in_order_with_or_without_a_writer() {
        let events = ROWS * 3 + 5;
        for mut builder in [IndexBuilder::default(), IndexBuilder::with_capacity(events)] {
            builder.start_file(&[]);
            for i in 0..events {
                builder.push(Row {
                    ts: 1000 + i as u64,
                    num: i as u64,
                    ret: -(i as i64),
                    latency: 1,
                    tid: i as u32,
                    proc: 0,
                    obj: NO_OBJECT,
                    etype: 0,
                    class: 0,
                });
            }
            // Ordinals go on from the rows held, not only those moved.
            builder.start_file(&[]);
            let index = builder.finish();
            assert_eq!(index.len(), events);
            assert_eq!(index.parts, [0, events]);
            assert!(index.num.iter().enumerate().all(|(i, &n)| n == i as u64));
            assert!(index.tid.iter().enumerate().all(|(i, &t)| t == i as u32));
            assert!(index.ret.iter().enumerate().all(|(i, &r)| r == -(i as i64)));
            assert_eq!(index.time_range(), Some((1000, 1000 + events as u64 - 1)));
        }
    }

    #[test]
    fn recent_objects_hit_only_on_their_whole_key() {
        let mut recent = RecentObjects::default();
        let name = b"/etc/passwd";
        let slot = RecentObjects::slot(b'f', name);
        assert_eq!(recent.get(slot, b'f', name), None);
        recent.put(slot, b'f', name, 7);
        assert_eq!(recent.get(slot, b'f', name), Some(7));
        // Same slot, another key: a miss, never another object's id.
        assert_eq!(recent.get(slot, b'd', name), None);
        assert_eq!(recent.get(slot, b'f', b"/etc/passw"), None);
        assert_eq!(recent.get(slot, b'f', b"/etc/passwx"), None);
        // A name too long for a slot is not kept.
        let long = [b'a'; RECENT_NAME + 1];
        let slot = RecentObjects::slot(b'f', &long);
        recent.put(slot, b'f', &long, 9);
        assert_eq!(recent.get(slot, b'f', &long), None);
    }

    #[test]
    fn mask_bits() {
        let mut mask = Mask::new(130);
        mask.set(0);
        mask.set(129);
        mask.set(500);
        assert!(mask.get(0) && mask.get(129) && !mask.get(1) && !mask.get(500));
        assert_eq!(mask.count(), 2);
    }
}
