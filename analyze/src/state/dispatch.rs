//! The dispatch table: for every event type of a file, what it does to the
//! state and where its parameters are. Built once from the file's event
//! table (parameters are found by name there, never per event), so that
//! applying an event that changes nothing costs one array lookup.

use scry_format::{EventTable, EventView, FdKind, PROCEXIT, StrListRef, ValueRef};

/// Most parameters one action reads (an exec).
pub(super) const MAX_ARGS: usize = 16;
/// Most parameters any action but an exec reads: what [`Args`] holds
/// unless told otherwise, so that the fd changes, which are most of the
/// events replayed, decode into a few values and not sixteen.
pub(super) const FEW_ARGS: usize = 5;
/// Event parameters beyond this position are never read.
const MAX_DECODED: usize = 32;
/// Marks a parameter the event type does not have.
const MISSING: u8 = u8::MAX;

/// What an event type does to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Action {
    /// Nothing beyond making its thread known.
    Nothing,
    /// `open`, `creat`, `openat`, `openat2`: `dirfd`, `name`, `flags`.
    Open,
    /// `close`: `fd`.
    Close,
    /// `close_range` (recorded raw): first, last, flags.
    CloseRange,
    /// `dup`, `dup2`, `dup3`: `oldfd`, `newfd`, `flags`.
    Dup {
        /// `dup3`: its flags may set close-on-exec on the copy.
        with_flags: bool,
    },
    /// `fcntl`: `fd`, `cmd`, `arg`.
    Fcntl,
    /// `pipe`, `pipe2`: `fd1`, `fd2`, `flags`.
    Pipe,
    /// `socket`: `domain`, `type`, `proto`.
    Socket,
    /// `socketpair`: `domain`, `type`, `proto`, `fd1`, `fd2`.
    SocketPair,
    /// `bind`: `fd`, `addr`.
    Bind,
    /// `connect`: `fd`, `addr`, `local`.
    Connect,
    /// `accept`, `accept4`: `fd`, `flags`, `addr`, `local`.
    Accept,
    /// `execve`, `execveat`: see [`exec`].
    Exec,
    /// `clone`, `clone3`, `fork`, `vfork`: `flags`.
    Clone,
    /// `exit`: one thread ends.
    Exit,
    /// `exit_group`: the process is ending.
    ExitGroup,
    /// `procexit`: the process has ended.
    ProcExit,
    /// `chdir`: `path`.
    Chdir,
    /// `fchdir`: `fd`.
    Fchdir,
    /// The set*id family.
    Ids(IdCall),
    /// `capset`: the three sets after the call.
    Capset,
    /// `unshare`: `flags` (`CLONE_FILES` gives a private fd table).
    Unshare,
    /// `memfd_create`: `name`, `flags`.
    Memfd,
    /// A syscall that returns a new anonymous-inode fd (mostly recorded
    /// raw); its flags, when it has any, are argument 0.
    AnonFd {
        /// What the fd is.
        kind: FdKind,
        /// Its name, as `/proc/PID/fd` shows it.
        name: &'static str,
        /// How to tell whether it is close-on-exec.
        cloexec: Cloexec,
    },
}

impl Action {
    /// Whether the action may change what is known of a process or thread
    /// (beyond making a thread first seen known, which every event does):
    /// its identity, ids, credentials, cwd, ancestry, liveness.
    pub(super) fn changes_processes(self) -> bool {
        matches!(
            self,
            Action::Exec
                | Action::Clone
                | Action::Exit
                | Action::ExitGroup
                | Action::ProcExit
                | Action::Chdir
                | Action::Fchdir
                | Action::Ids(_)
                | Action::Capset
        )
    }
}

/// The set*id calls; their arguments are in this order: real, effective,
/// saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdCall {
    /// `setuid(uid)`.
    Uid,
    /// `setgid(gid)`.
    Gid,
    /// `setreuid(ruid, euid)`, `setresuid(ruid, euid, suid)`.
    ReUid,
    /// `setregid(rgid, egid)`, `setresgid(rgid, egid, sgid)`.
    ReGid,
}

/// How an anonymous fd's close-on-exec flag is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cloexec {
    /// The syscall cannot set it.
    Never,
    /// The kernel always sets it.
    Always,
    /// Set when argument 0 has this bit.
    Flag(u64),
}

/// Positions of the `execve`/`execveat` parameters in [`Args`].
pub(super) mod exec {
    pub(in super::super) const DIRFD: usize = 0;
    pub(in super::super) const FILENAME: usize = 1;
    pub(in super::super) const ARGS: usize = 2;
    pub(in super::super) const EXE: usize = 3;
    pub(in super::super) const CWD: usize = 4;
    pub(in super::super) const UID: usize = 5;
    pub(in super::super) const GID: usize = 6;
    pub(in super::super) const EUID: usize = 7;
    pub(in super::super) const EGID: usize = 8;
    pub(in super::super) const LOGINUID: usize = 9;
    pub(in super::super) const TTY: usize = 10;
    pub(in super::super) const CAP_EFFECTIVE: usize = 11;
    pub(in super::super) const CAP_PERMITTED: usize = 12;
    pub(in super::super) const CAP_INHERITABLE: usize = 13;
    pub(in super::super) const CGROUP: usize = 14;
}

const O_CLOEXEC: u64 = 0o2_000_000;

/// The parameters an exec applies, in execveat's order.
const EXECVEAT_PARAMS: [&str; 15] = [
    "dirfd",
    "filename",
    "args",
    "exe",
    "cwd",
    "uid",
    "gid",
    "euid",
    "egid",
    "loginuid",
    "tty",
    "cap_effective",
    "cap_permitted",
    "cap_inheritable",
    "cgroup",
];

/// execve's: the same, but its `dirfd` is never read.
const EXECVE_PARAMS: [&str; 15] = {
    let mut params = EXECVEAT_PARAMS;
    params[0] = "";
    params
};

/// The action of a syscall and the names of the parameters it reads, in
/// the order its handler expects them.
fn action_of(name: &str) -> Option<(Action, &'static [&'static str])> {
    let anon = |kind, name, cloexec| Action::AnonFd {
        kind,
        name,
        cloexec,
    };
    Some(match name {
        "open" | "creat" | "openat" | "openat2" => (Action::Open, &["dirfd", "name", "flags"]),
        "close" => (Action::Close, &["fd"]),
        "close_range" => (Action::CloseRange, &["a0", "a1", "a2"]),
        "dup" | "dup2" => (
            Action::Dup { with_flags: false },
            &["oldfd", "newfd", "flags"],
        ),
        "dup3" => (
            Action::Dup { with_flags: true },
            &["oldfd", "newfd", "flags"],
        ),
        "fcntl" => (Action::Fcntl, &["fd", "cmd", "arg"]),
        "pipe" | "pipe2" => (Action::Pipe, &["fd1", "fd2", "flags"]),
        "socket" => (Action::Socket, &["domain", "type", "proto"]),
        "socketpair" => (
            Action::SocketPair,
            &["domain", "type", "proto", "fd1", "fd2"],
        ),
        "bind" => (Action::Bind, &["fd", "addr"]),
        "connect" => (Action::Connect, &["fd", "addr", "local"]),
        "accept" | "accept4" => (Action::Accept, &["fd", "flags", "addr", "local"]),
        // execve(2) resolves a relative path against the cwd whatever the
        // record's `dirfd` says (the capture writes AT_FDCWD): only
        // execveat reads an fd, which keeps execve's effect on a process
        // independent of its fd table.
        "execve" => (Action::Exec, &EXECVE_PARAMS),
        "execveat" => (Action::Exec, &EXECVEAT_PARAMS),
        "clone" | "clone3" | "fork" | "vfork" => (Action::Clone, &["flags"]),
        "exit" => (Action::Exit, &[]),
        "exit_group" => (Action::ExitGroup, &[]),
        "procexit" => (Action::ProcExit, &[]),
        "chdir" => (Action::Chdir, &["path"]),
        "fchdir" => (Action::Fchdir, &["fd"]),
        "setuid" => (Action::Ids(IdCall::Uid), &["uid"]),
        "setgid" => (Action::Ids(IdCall::Gid), &["gid"]),
        "setreuid" | "setresuid" => (Action::Ids(IdCall::ReUid), &["ruid", "euid"]),
        "setregid" | "setresgid" => (Action::Ids(IdCall::ReGid), &["rgid", "egid"]),
        "capset" => (
            Action::Capset,
            &["cap_effective", "cap_permitted", "cap_inheritable"],
        ),
        "memfd_create" => (Action::Memfd, &["name", "flags"]),
        "unshare" => (Action::Unshare, &["flags"]),
        "eventfd" => (
            anon(FdKind::EventFd, "anon_inode:[eventfd]", Cloexec::Never),
            &[],
        ),
        "eventfd2" => (
            anon(
                FdKind::EventFd,
                "anon_inode:[eventfd]",
                Cloexec::Flag(O_CLOEXEC),
            ),
            &["a1"],
        ),
        "signalfd" => (
            anon(FdKind::SignalFd, "anon_inode:[signalfd]", Cloexec::Never),
            &[],
        ),
        "signalfd4" => (
            anon(
                FdKind::SignalFd,
                "anon_inode:[signalfd]",
                Cloexec::Flag(O_CLOEXEC),
            ),
            &["a3"],
        ),
        "timerfd_create" => (
            anon(
                FdKind::TimerFd,
                "anon_inode:[timerfd]",
                Cloexec::Flag(O_CLOEXEC),
            ),
            &["a1"],
        ),
        "inotify_init" => (
            anon(FdKind::Inotify, "anon_inode:inotify", Cloexec::Never),
            &[],
        ),
        "inotify_init1" => (
            anon(
                FdKind::Inotify,
                "anon_inode:inotify",
                Cloexec::Flag(O_CLOEXEC),
            ),
            &["a0"],
        ),
        "epoll_create" => (
            anon(FdKind::EventPoll, "anon_inode:[eventpoll]", Cloexec::Never),
            &[],
        ),
        "epoll_create1" => (
            anon(
                FdKind::EventPoll,
                "anon_inode:[eventpoll]",
                Cloexec::Flag(O_CLOEXEC),
            ),
            &["a0"],
        ),
        "userfaultfd" => (
            anon(
                FdKind::Other,
                "anon_inode:[userfaultfd]",
                Cloexec::Flag(O_CLOEXEC),
            ),
            &["a0"],
        ),
        "pidfd_open" => (
            anon(FdKind::Other, "anon_inode:[pidfd]", Cloexec::Always),
            &[],
        ),
        "io_uring_setup" => (
            anon(FdKind::Other, "anon_inode:[io_uring]", Cloexec::Always),
            &[],
        ),
        "perf_event_open" => (
            // PERF_FLAG_FD_CLOEXEC.
            anon(FdKind::Other, "anon_inode:[perf_event]", Cloexec::Flag(8)),
            &["a4"],
        ),
        "fanotify_init" => (
            // FAN_CLOEXEC.
            anon(FdKind::Other, "anon_inode:[fanotify]", Cloexec::Flag(1)),
            &["a0"],
        ),
        _ => return None,
    })
}

/// One event type's entry: its action and, for each parameter the action
/// reads, the position of that parameter in the event.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub(super) action: Action,
    /// `positions[i]`: the argument of the action that event parameter `i`
    /// is, or [`MISSING`].
    positions: [u8; MAX_DECODED],
    /// How many leading event parameters to decode.
    decode: u8,
    /// Where the action's first argument is among the event parameters,
    /// or [`MISSING`].
    first_at: u8,
}

const NOTHING: Slot = Slot {
    action: Action::Nothing,
    positions: [MISSING; MAX_DECODED],
    decode: 0,
    first_at: MISSING,
};

impl Slot {
    /// The action's first argument when it is an integer the decoding
    /// threads have already found (a small fd in the first parameter, see
    /// [`EventView::param_int`]): read without decoding the parameters.
    /// `None` when it is not; [`Args`] then reads it.
    #[inline]
    pub(super) fn quick_first_int(&self, event: &EventView<'_>) -> Option<i64> {
        match self.first_at {
            0 => event.param_int(0),
            _ => None,
        }
    }
}

/// Actions by event type id.
#[derive(Debug, Default)]
pub(super) struct Dispatch {
    slots: Vec<Slot>,
    /// Whether the type's slot has an action: a byte per type, so that
    /// the types that do nothing, most events, are told apart without
    /// reading their slot.
    acts: Vec<bool>,
}

impl Dispatch {
    pub(super) fn new(table: &EventTable) -> Self {
        let mut slots = Vec::new();
        for entry in table.entries() {
            // The special types are named by id: a file's table may call
            // them anything, but 1000 is always the process exit.
            let found = if entry.id == PROCEXIT {
                action_of("procexit")
            } else {
                action_of(&entry.name)
            };
            let Some((action, names)) = found else {
                continue;
            };
            let mut slot = Slot { action, ..NOTHING };
            for (arg, name) in names.iter().enumerate() {
                let at = entry.params.iter().position(|p| p == name);
                if let Some(at) = at.filter(|&at| at < MAX_DECODED) {
                    slot.positions[at] = arg as u8;
                    slot.decode = slot.decode.max(at as u8 + 1);
                    if arg == 0 {
                        slot.first_at = at as u8;
                    }
                }
            }
            let id = usize::from(entry.id);
            if slots.len() <= id {
                slots.resize(id + 1, NOTHING);
            }
            slots[id] = slot;
        }
        let acts = slots.iter().map(|s| s.action != Action::Nothing).collect();
        Dispatch { slots, acts }
    }

    /// What events of type `event_type` may do to processes.
    pub(super) fn process_effect(&self, event_type: u16) -> super::ProcessEffect {
        let Some(slot) = self.slot(event_type) else {
            return super::ProcessEffect::None;
        };
        let reads_fd = match slot.action {
            Action::Fchdir => true,
            // An exec reads its dirfd only where the type has one.
            Action::Exec => slot.positions.contains(&(exec::DIRFD as u8)),
            _ => false,
        };
        match (slot.action.changes_processes(), reads_fd) {
            (_, true) => super::ProcessEffect::ChangesFromFds,
            (true, false) => super::ProcessEffect::Changes,
            (false, false) => super::ProcessEffect::None,
        }
    }

    /// The slot of an event type; types without one do nothing.
    #[inline]
    pub(super) fn slot(&self, event_type: u16) -> Option<&Slot> {
        let at = usize::from(event_type);
        if self.acts.get(at).copied().unwrap_or(false) {
            self.slots.get(at)
        } else {
            None
        }
    }
}

/// The first `N` arguments an action reads, decoded from one event.
/// Absent or missing parameters read as `None`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Args<'a, const N: usize = FEW_ARGS> {
    values: [ValueRef<'a>; N],
}

impl<'a, const N: usize> Args<'a, N> {
    /// Inlined into its caller, so that the values are filled where they
    /// are read and not copied out.
    #[inline(always)]
    pub(super) fn decode(slot: &Slot, event: &EventView<'a>) -> Self {
        let mut args = Args {
            values: [ValueRef::Absent; N],
        };
        // A plain loop over the parameters, whose decoding is inlined
        // into it: each value goes straight to its place.
        let mut params = event.params();
        for &arg in &slot.positions[..usize::from(slot.decode).min(MAX_DECODED)] {
            let Some(value) = params.next() else {
                break;
            };
            if let Some(target) = args.values.get_mut(usize::from(arg)) {
                *target = value;
            }
        }
        args
    }

    fn get(&self, arg: usize) -> ValueRef<'a> {
        self.values.get(arg).copied().unwrap_or(ValueRef::Absent)
    }

    /// An integer argument of any integer kind, as unsigned bits.
    pub(super) fn uint(&self, arg: usize) -> Option<u64> {
        match self.get(arg) {
            ValueRef::Uint(v) => Some(v),
            ValueRef::Int(v) | ValueRef::Fd(v) => Some(v as u64),
            _ => None,
        }
    }

    /// An integer argument of any integer kind, signed.
    pub(super) fn int(&self, arg: usize) -> Option<i64> {
        match self.get(arg) {
            ValueRef::Int(v) | ValueRef::Fd(v) => Some(v),
            ValueRef::Uint(v) => Some(v as i64),
            _ => None,
        }
    }

    /// A file descriptor argument. The kernel's fds are C ints: a value
    /// recorded zero-extended (`AT_FDCWD` as 4294967196) reads as the int.
    pub(super) fn fd(&self, arg: usize) -> Option<i64> {
        self.int(arg).map(|v| i64::from(v as i32))
    }

    /// A text argument.
    pub(super) fn str(&self, arg: usize) -> Option<&'a [u8]> {
        match self.get(arg) {
            ValueRef::Str(text) => Some(text),
            _ => None,
        }
    }

    /// A socket address argument.
    pub(super) fn addr(&self, arg: usize) -> Option<scry_format::SockAddrRef<'a>> {
        match self.get(arg) {
            ValueRef::SockAddr(addr) => Some(addr),
            _ => None,
        }
    }

    /// A string list argument.
    pub(super) fn list(&self, arg: usize) -> Option<StrListRef<'a>> {
        match self.get(arg) {
            ValueRef::StrList(list) => Some(list),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_dispatches_by_name() {
        let table = EventTable::builtin_x86_64();
        let dispatch = Dispatch::new(&table);
        let slot = |name: &str| {
            dispatch
                .slot(table.id_of(name).unwrap())
                .map(|slot| slot.action)
        };
        assert_eq!(slot("openat"), Some(Action::Open));
        assert_eq!(slot("read"), None);
        assert_eq!(slot("getpid"), None);
        assert_eq!(slot("procexit"), Some(Action::ProcExit));
        assert!(matches!(slot("eventfd2"), Some(Action::AnonFd { .. })));
        let open = dispatch.slot(table.id_of("openat").unwrap()).unwrap();
        // dirfd name flags mode fd: flags is the last one read.
        assert_eq!(open.decode, 3);
        let exec = dispatch.slot(table.id_of("execve").unwrap()).unwrap();
        assert_eq!(exec.positions[14], exec::CGROUP as u8);
        let close = dispatch.slot(table.id_of("close").unwrap()).unwrap();
        assert_eq!(close.first_at, 0);
        let socketpair = dispatch.slot(table.id_of("socketpair").unwrap()).unwrap();
        assert_eq!(socketpair.first_at, 0);
    }

    /// [`Args`] holds [`FEW_ARGS`] values unless an exec's are decoded: an
    /// action reading more would lose the rest.
    #[test]
    fn only_exec_reads_more_than_a_few_arguments() {
        let table = EventTable::builtin_x86_64();
        let mut widest = 0;
        for entry in table.entries() {
            if let Some((action, names)) = action_of(&entry.name) {
                assert!(names.len() <= MAX_ARGS, "{}", entry.name);
                if action != Action::Exec {
                    assert!(names.len() <= FEW_ARGS, "{} reads {names:?}", entry.name);
                    widest = widest.max(names.len());
                }
            }
        }
        // socketpair reads five.
        assert_eq!(widest, FEW_ARGS);
    }
}
