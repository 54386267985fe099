//! What each kind of event does to the state: the handlers behind the
//! dispatch table, following the kernel's semantics (and sysdig's where it
//! names things, such as socket tuples).

use std::sync::Arc;

use scry_format::{EventView, FdKind, SockAddr};

use super::dispatch::{Action, Args, Cloexec, FEW_ARGS, IdCall, MAX_ARGS, Slot, exec};
use super::{Deferred, FdEntry, Memo, O_CLOEXEC, Orphan, ProcEntry, State, UNKNOWN_ID};
use super::{fds, text};

const AT_FDCWD: i64 = -100;
const EINPROGRESS: i64 = 115;
const O_WRONLY: u64 = 1;
const O_RDWR: u64 = 2;
const O_NONBLOCK: u64 = 0o4000;
const O_DIRECTORY: u64 = 0o200_000;
/// Status flags `F_SETFL` may change.
const SETFL_MASK: u64 = 0o2000 | 0o20_000 | 0o40_000 | 0o1_000_000 | O_NONBLOCK;
const CLONE_FILES: u64 = 0x0400;
/// The clone flag that makes a thread rather than a process.
pub const CLONE_THREAD: u64 = 0x0001_0000;
const CLONE_NEWPID: u64 = 0x2000_0000;
const CLONE_NEWNS: u64 = 0x0002_0000;
const F_DUPFD: u64 = 0;
const F_SETFD: u64 = 2;
const F_SETFL: u64 = 4;
const F_DUPFD_CLOEXEC: u64 = 1030;
const FD_CLOEXEC: u64 = 1;
const MFD_CLOEXEC: u64 = 1;
const CLOSE_RANGE_CLOEXEC: u64 = 4;
const CAP_SETGID: u64 = 1 << 6;
const CAP_SETUID: u64 = 1 << 7;
/// Closes remembered for an orphan: fd numbers are reused, so this bounds
/// the list without losing what matters (the parent's record comes within
/// microseconds).
const ORPHAN_CLOSES: usize = 256;

impl State {
    /// Applies an event whose type has an action.
    pub(super) fn handle(&mut self, slot: &Slot, event: &EventView<'_>) {
        let (tid, tgid, ret) = (event.tid(), event.tgid(), event.ret());
        if slot.action.changes_processes() {
            self.process_changes += 1;
        }
        if slot.action == Action::Clone {
            let flags = Args::<FEW_ARGS>::decode(slot, event).uint(0).unwrap_or(0);
            self.clone_event(tid, tgid, ret, flags, event.ts());
            return;
        }
        self.ensure_thread(tid, tgid);
        match slot.action {
            Action::Exit => {
                self.deferred.push(Deferred::RemoveThread { tid });
                return;
            }
            Action::ExitGroup => {
                self.mark_exited(tgid);
                return;
            }
            Action::ProcExit => {
                self.mark_exited(tgid);
                self.deferred.push(Deferred::Reap { tgid });
                return;
            }
            // A connect's address was read at entry: even a refused
            // connect names its destination, as sysdig's enter event does.
            Action::Connect => {}
            Action::Open if ret < 0 => {
                let args = Args::<FEW_ARGS>::decode(slot, event);
                let entry = self.open_entry(tgid, &args);
                self.failed_open = Some((event.num(), event.ts(), entry));
                return;
            }
            _ if ret < 0 => return,
            // Most closes name a small fd, which the decoding threads
            // found: no parameter is decoded for them.
            Action::Close => {
                let fd = slot
                    .quick_first_int(event)
                    .or_else(|| Args::<1>::decode(slot, event).int(0));
                self.close(tgid, fd);
                return;
            }
            Action::Exec => {
                self.exec(tid, tgid, &Args::<MAX_ARGS>::decode(slot, event));
                return;
            }
            _ => {}
        }
        let args = Args::<FEW_ARGS>::decode(slot, event);
        match slot.action {
            Action::Open => self.open(tgid, ret, &args),
            Action::CloseRange => self.close_range(tgid, &args),
            Action::Dup { with_flags } => {
                let flags = if with_flags { args.uint(2) } else { None };
                if let Some(old) = args.fd(0)
                    && old != ret
                {
                    let cloexec = flags.unwrap_or(0) & O_CLOEXEC != 0;
                    self.copy_fd(tgid, old, ret, cloexec);
                }
            }
            Action::Fcntl => self.fcntl(tgid, ret, &args),
            Action::Pipe => self.pipe(tgid, &args),
            Action::Socket => {
                let (domain, ty, proto) = socket_args(&args);
                let kind = kind_of_domain(domain);
                self.insert_fd(tgid, ret, socket_entry(kind, ty, proto));
            }
            Action::SocketPair => {
                let (domain, ty, proto) = socket_args(&args);
                let entry = socket_entry(kind_of_domain(domain), ty, proto);
                if let (Some(fd1), Some(fd2)) = (args.fd(3), args.fd(4)) {
                    self.insert_fd(tgid, fd1, entry.clone());
                    self.insert_fd(tgid, fd2, entry);
                }
            }
            Action::Bind => self.bind(tgid, &args),
            Action::Connect => self.connect(tgid, ret, &args),
            Action::Accept => self.accept(tgid, ret, &args),
            Action::Chdir => {
                if let Some(path) = args.str(0) {
                    let cwd = self.resolve_at(tgid, None, path);
                    self.set_cwd(tgid, cwd);
                }
            }
            Action::Fchdir => {
                let dir = args.fd(0).and_then(|fd| self.fd(tgid, fd));
                if let Some(dir) = dir.filter(|d| d.name.first() == Some(&b'/')) {
                    let cwd = dir.name.clone();
                    self.set_cwd(tgid, cwd);
                }
            }
            Action::Ids(call) => self.set_ids(tgid, call, &args),
            Action::Capset => {
                if let Some(process) = self.processes.get_mut(&tgid) {
                    let info = &mut process.info;
                    set_caps(&mut info.cap_effective, args.uint(0));
                    set_caps(&mut info.cap_permitted, args.uint(1));
                    set_caps(&mut info.cap_inheritable, args.uint(2));
                }
            }
            Action::Unshare => {
                if args.uint(0).unwrap_or(0) & CLONE_FILES != 0 {
                    self.unshare_fds(tgid);
                }
            }
            Action::Memfd => {
                let mut name = b"/memfd:".to_vec();
                name.extend_from_slice(args.str(0).unwrap_or_default());
                let flags = args.uint(1).unwrap_or(0);
                let entry = FdEntry {
                    kind: FdKind::Memfd,
                    name,
                    flags: O_RDWR as u32,
                    cloexec: flags & MFD_CLOEXEC != 0,
                    ..FdEntry::default()
                };
                self.insert_fd(tgid, ret, entry);
            }
            Action::AnonFd {
                kind,
                name,
                cloexec,
            } => {
                let cloexec = match cloexec {
                    Cloexec::Never => false,
                    Cloexec::Always => true,
                    Cloexec::Flag(bit) => args.uint(0).unwrap_or(0) & bit != 0,
                };
                let entry = FdEntry {
                    kind,
                    name: name.as_bytes().to_vec(),
                    flags: O_RDWR as u32,
                    cloexec,
                    ..FdEntry::default()
                };
                self.insert_fd(tgid, ret, entry);
            }
            Action::Nothing
            | Action::Close
            | Action::Exec
            | Action::Clone
            | Action::Exit
            | Action::ExitGroup
            | Action::ProcExit => {}
        }
    }

    fn insert_fd(&mut self, tgid: u32, fd: i64, entry: FdEntry) {
        if let Some(fds) = self.table_mut(tgid) {
            fds.open(fd, entry);
        }
    }

    fn mark_exited(&mut self, tgid: u32) {
        if let Some(process) = self.processes.get_mut(&tgid) {
            process.info.exited = true;
        }
    }

    fn set_cwd(&mut self, tgid: u32, cwd: Vec<u8>) {
        if let Some(process) = self.processes.get_mut(&tgid) {
            process.info.cwd = cwd;
        }
    }

    /// `path` made absolute the way `*at` syscalls do: against `dirfd`'s
    /// path, or the process' cwd for `AT_FDCWD` (and for calls without a
    /// dirfd).
    fn resolve_at(&self, tgid: u32, dirfd: Option<i64>, path: &[u8]) -> Vec<u8> {
        if path.first() == Some(&b'/') {
            return text::resolve(b"", path);
        }
        let Some(process) = self.process_ref(tgid) else {
            return path.to_vec();
        };
        let base: &[u8] = match dirfd {
            None | Some(AT_FDCWD) => &process.info().cwd,
            Some(fd) => process.fd(fd).map_or(&[], |dir| &dir.name),
        };
        text::resolve(base, path)
    }

    fn open(&mut self, tgid: u32, fd: i64, args: &Args<'_>) {
        let entry = self.open_entry(tgid, args);
        self.insert_fd(tgid, fd, entry);
    }

    /// The fd an open call asks for: its path resolved against its dirfd
    /// or the cwd, its flags.
    fn open_entry(&self, tgid: u32, args: &Args<'_>) -> FdEntry {
        let flags = args.uint(2).unwrap_or(0);
        let name = self.resolve_at(tgid, args.fd(0), args.str(1).unwrap_or_default());
        let kind = if flags & O_DIRECTORY != 0 {
            FdKind::Directory
        } else {
            FdKind::File
        };
        FdEntry {
            kind,
            name,
            flags: flags as u32,
            cloexec: flags & O_CLOEXEC != 0,
            ..FdEntry::default()
        }
    }

    /// `fd`: the argument as recorded, an int however it was written
    /// (see [`Args::fd`]).
    fn close(&mut self, tgid: u32, fd: Option<i64>) {
        let Some(fd) = fd.map(|v| i64::from(v as i32)) else {
            return;
        };
        self.deferred.push(Deferred::CloseFd { tgid, fd });
        if let Some(orphan) = self.orphans.get_mut(&tgid)
            && !orphan.closed.contains(&fd)
            && orphan.closed.len() < ORPHAN_CLOSES
        {
            orphan.closed.push(fd);
        }
    }

    fn close_range(&mut self, tgid: u32, args: &Args<'_>) {
        let (Some(first), Some(last)) = (args.uint(0), args.uint(1)) else {
            return;
        };
        // The kernel takes unsigned ints; ~0U means "to the end".
        let (first, last) = (i64::from(first as u32), i64::from(last as u32));
        if args.uint(2).unwrap_or(0) & CLOSE_RANGE_CLOEXEC != 0 {
            if let Some(fds) = self.table_mut(tgid) {
                for (_, entry) in fds.iter_mut().filter(|(fd, _)| (first..=last).contains(fd)) {
                    fds::edit(entry).cloexec = true;
                }
            }
        } else {
            self.deferred
                .push(Deferred::CloseRange { tgid, first, last });
        }
    }

    /// `new` becomes a copy of `old` (dup and `F_DUPFD`): whatever `new`
    /// was is replaced; if `old` is unknown, so is `new` now.
    fn copy_fd(&mut self, tgid: u32, old: i64, new: i64, cloexec: bool) {
        let Some(fds) = self.table_mut(tgid) else {
            return;
        };
        match fds.get(&old).cloned() {
            Some(mut entry) => {
                if entry.cloexec != cloexec {
                    fds::edit(&mut entry).cloexec = cloexec;
                }
                fds.insert(new, entry);
            }
            None => {
                fds.remove(&new);
            }
        }
    }

    fn fcntl(&mut self, tgid: u32, ret: i64, args: &Args<'_>) {
        let (Some(fd), Some(cmd)) = (args.fd(0), args.uint(1)) else {
            return;
        };
        let arg = args.uint(2).unwrap_or(0);
        match cmd {
            F_DUPFD | F_DUPFD_CLOEXEC => self.copy_fd(tgid, fd, ret, cmd == F_DUPFD_CLOEXEC),
            F_SETFD | F_SETFL => {
                let entry = self.table_mut(tgid).and_then(|fds| fds.get_mut(&fd));
                if let Some(entry) = entry {
                    if cmd == F_SETFD {
                        entry.cloexec = arg & FD_CLOEXEC != 0;
                    } else {
                        let kept = u64::from(entry.flags) & !SETFL_MASK;
                        entry.flags = (kept | (arg & SETFL_MASK)) as u32;
                    }
                }
            }
            _ => {}
        }
    }

    fn pipe(&mut self, tgid: u32, args: &Args<'_>) {
        let (Some(read), Some(write)) = (args.fd(0), args.fd(1)) else {
            return;
        };
        let flags = args.uint(2).unwrap_or(0);
        self.next_pipe += 1;
        let end = |mode: u64| FdEntry {
            kind: FdKind::Pipe,
            name: format!("pipe:[{}]", self.next_pipe).into_bytes(),
            flags: (flags | mode) as u32,
            cloexec: flags & O_CLOEXEC != 0,
            ..FdEntry::default()
        };
        let (read_end, write_end) = (end(0), end(O_WRONLY));
        self.insert_fd(tgid, read, read_end);
        self.insert_fd(tgid, write, write_end);
    }

    /// The socket entry for `fd`, created from the address family if the fd
    /// is not known (a socket from before the capture).
    fn socket_mut(&mut self, tgid: u32, fd: i64, addr: &SockAddr) -> Option<&mut FdEntry> {
        let entry = self.table_mut(tgid)?.get_or_insert(fd, FdEntry::default());
        if matches!(entry.kind, FdKind::Unknown) {
            entry.kind = kind_of_addr(addr);
            entry.flags = O_RDWR as u32;
        }
        Some(entry)
    }

    fn bind(&mut self, tgid: u32, args: &Args<'_>) {
        let (Some(fd), Some(addr)) = (args.fd(0), args.addr(1)) else {
            return;
        };
        let addr = addr.to_sockaddr();
        if let Some(entry) = self.socket_mut(tgid, fd, &addr) {
            if entry.remote.is_none() {
                entry.name = text::socket_name(Some(&addr), None, false);
            }
            entry.local = Some(addr);
        }
    }

    fn connect(&mut self, tgid: u32, ret: i64, args: &Args<'_>) {
        let Some(fd) = args.fd(0) else {
            return;
        };
        let (remote, local) = (args.addr(1), args.addr(2));
        let Some(family) = remote.or(local) else {
            return;
        };
        let entry = if ret >= 0 || ret == -EINPROGRESS {
            self.socket_mut(tgid, fd, &family.to_sockaddr())
        } else {
            // A failed call may not even have had a socket: only a known
            // one is updated.
            self.table_mut(tgid).and_then(|fds| fds.get_mut(&fd))
        };
        let Some(entry) = entry else {
            return;
        };
        if let Some(remote) = remote {
            entry.remote = Some(remote.to_sockaddr());
        }
        if let Some(local) = local {
            entry.local = Some(local.to_sockaddr());
        }
        entry.is_server = false;
        entry.name = text::socket_name(entry.local.as_ref(), entry.remote.as_ref(), false);
    }

    fn accept(&mut self, tgid: u32, fd: i64, args: &Args<'_>) {
        let Some(fds) = self.table_mut(tgid) else {
            return;
        };
        let listening = args.fd(0).and_then(|fd| fds.get(&fd));
        let peer = args.addr(2).map(|a| a.to_sockaddr());
        let local = args
            .addr(3)
            .map(|a| a.to_sockaddr())
            .or_else(|| listening.and_then(|l| l.local.clone()));
        let kind = match listening.map(|l| l.kind) {
            Some(kind @ (FdKind::Ipv4 | FdKind::Ipv6 | FdKind::Unix)) => kind,
            _ => peer
                .as_ref()
                .or(local.as_ref())
                .map_or(FdKind::Unknown, kind_of_addr),
        };
        let l4proto = match listening.map(|l| l.l4proto) {
            Some(proto) if proto != 0 => proto,
            _ if matches!(kind, FdKind::Ipv4 | FdKind::Ipv6) => 6,
            _ => 0,
        };
        let mut name = text::socket_name(local.as_ref(), peer.as_ref(), true);
        if name.is_empty()
            && let Some(listening) = listening
        {
            name.clone_from(&listening.name);
        }
        let flags = args.uint(1).unwrap_or(0);
        let entry = FdEntry {
            kind,
            name,
            flags: (O_RDWR | (flags & O_NONBLOCK)) as u32,
            local,
            remote: peer,
            l4proto,
            is_server: true,
            cloexec: flags & O_CLOEXEC != 0,
            ..FdEntry::default()
        };
        fds.open(fd, entry);
    }

    fn exec(&mut self, tid: u32, tgid: u32, args: &Args<'_, MAX_ARGS>) {
        let filename = args.str(exec::FILENAME).unwrap_or_default();
        let exepath = match args.str(exec::EXE) {
            Some(exe) if !exe.is_empty() => exe.to_vec(),
            _ => self.resolve_at(tgid, args.fd(exec::DIRFD), filename),
        };
        // The kernel names the task after the file name it was given;
        // fexecve and execveat(AT_EMPTY_PATH) give none worth the name.
        let named_by_path = filename.is_empty()
            || filename.starts_with(b"/dev/fd/")
            || filename.starts_with(b"/proc/self/fd/");
        let comm = text::comm_of(text::basename(if named_by_path {
            &exepath
        } else {
            filename
        }));
        if let Some(thread) = self.threads.get_mut(&tid) {
            thread.comm.clone_from(&comm);
            thread.assumed_comm = false;
        }
        if let Some(orphan) = self.orphans.get_mut(&tgid) {
            orphan.exec_seen = true;
        }
        // An exec gives the process an fd table of its own (the kernel's
        // unshare_files), which then loses its close-on-exec fds.
        self.unshare_fds(tgid);
        let Some(process) = self.processes.get_mut(&tgid) else {
            return;
        };
        // A successful exec leaves one thread, the one that called it.
        if process.tids.len() > 1 {
            for &other in process.tids.iter().filter(|&&t| t != tid) {
                self.threads.remove(&other);
            }
            process.tids.retain(|&t| t == tid);
            self.thread_generation += 1;
        }
        process.fds.retain(|_, entry| !entry.cloexec);
        let info = &mut process.info;
        info.comm = comm;
        info.exe = if filename.is_empty() {
            exepath.clone()
        } else {
            filename.to_vec()
        };
        info.exe_from_memfd = exepath.starts_with(b"/memfd:");
        info.exepath = exepath;
        info.args = args
            .list(exec::ARGS)
            .map(|list| list.iter().skip(1).map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        info.names_changed();
        if let Some(cwd) = args.str(exec::CWD).filter(|cwd| !cwd.is_empty()) {
            info.cwd = cwd.to_vec();
        }
        let id = |arg, old: u32| args.uint(arg).map_or(old, |v| v as u32);
        info.uid = id(exec::UID, info.uid);
        info.gid = id(exec::GID, info.gid);
        info.euid = id(exec::EUID, info.euid);
        info.egid = id(exec::EGID, info.egid);
        info.loginuid = id(exec::LOGINUID, info.loginuid);
        info.tty = id(exec::TTY, info.tty);
        set_caps(&mut info.cap_effective, args.uint(exec::CAP_EFFECTIVE));
        set_caps(&mut info.cap_permitted, args.uint(exec::CAP_PERMITTED));
        set_caps(&mut info.cap_inheritable, args.uint(exec::CAP_INHERITABLE));
        if let Some(cgroup) = args.str(exec::CGROUP) {
            // A cgroup that names no container (the root, a session) says
            // nothing against a container id known otherwise.
            match text::container_of_cgroup(cgroup) {
                Some(id) => (*id).clone_into(&mut info.container_id),
                None if cgroup.is_empty() => super::HOST.clone_into(&mut info.container_id),
                None => {}
            }
        }
    }

    fn set_ids(&mut self, tgid: u32, call: IdCall, args: &Args<'_>) {
        let Some(process) = self.processes.get_mut(&tgid) else {
            return;
        };
        let info = &mut process.info;
        // -1 leaves an id unchanged, whether given as an unsigned int or
        // sign-extended.
        let given = |arg| args.uint(arg).map(|v| v as u32).filter(|&v| v != u32::MAX);
        // Unknown credentials count as privileged: a successful call by a
        // process whose ids are unknown most likely came from root.
        let privileged =
            |cap| info.euid == 0 || info.euid == UNKNOWN_ID || info.cap_effective.bits() & cap != 0;
        match call {
            IdCall::Uid => {
                if let Some(uid) = given(0) {
                    if privileged(CAP_SETUID) {
                        info.uid = uid;
                    }
                    info.euid = uid;
                }
            }
            IdCall::Gid => {
                if let Some(gid) = given(0) {
                    if privileged(CAP_SETGID) {
                        info.gid = gid;
                    }
                    info.egid = gid;
                }
            }
            IdCall::ReUid => {
                info.uid = given(0).unwrap_or(info.uid);
                info.euid = given(1).unwrap_or(info.euid);
            }
            IdCall::ReGid => {
                info.gid = given(0).unwrap_or(info.gid);
                info.egid = given(1).unwrap_or(info.egid);
            }
        }
    }

    /// Either side of a clone/fork/vfork. The parent's record (`ret` = the
    /// child's id) and the child's (`ret` = 0) may come in either order.
    fn clone_event(&mut self, tid: u32, tgid: u32, ret: i64, flags: u64, ts: u64) {
        if ret == 0 && tid == tgid && flags & CLONE_THREAD == 0 {
            // The child of a new process. Unless the parent's record came
            // first (or the snapshot has it), its parent is not known yet.
            if self.processes.get(&tgid).is_some_and(|p| !p.info.exited) {
                self.ensure_thread(tid, tgid);
                return;
            }
            self.remove_process(tgid);
            let mut entry = ProcEntry::unknown(tgid);
            entry.info.start_ts = ts;
            self.processes.insert(tgid, entry);
            self.orphans.insert(tgid, Orphan::default());
            self.ensure_thread(tid, tgid);
            return;
        }
        self.ensure_thread(tid, tgid);
        let Some(child) = u32::try_from(ret).ok().filter(|&child| child > 0) else {
            return;
        };
        let parent_comm = self
            .threads
            .get(&tid)
            .map(|t| t.comm.clone())
            .unwrap_or_default();
        if flags & CLONE_THREAD != 0 {
            match self.threads.get_mut(&child) {
                // The child's own records came first: it was given the
                // process' name then, but a new thread is named after the
                // one that created it. (Whether its first records were
                // replayed or not, the thread ends up the same.)
                Some(thread) if thread.tgid == tgid => {
                    if thread.assumed_comm {
                        thread.comm = parent_comm;
                        thread.assumed_comm = false;
                    }
                }
                _ => self.add_thread(child, tgid, Some(&parent_comm)),
            }
            return;
        }
        if let Some(orphan) = self.orphans.remove(&child) {
            self.adopt(child, tgid, &orphan);
            return;
        }
        match self.processes.get(&child) {
            // The snapshot was taken after the fork.
            Some(existing) if existing.info.ppid == tgid && !existing.info.exited => return,
            // A process that reused the pid, whose exit was not seen.
            Some(_) => self.remove_process(child),
            None => {}
        }
        // With CLONE_FILES the child uses the fd table the parent uses;
        // without, it gets a copy of it.
        let table = self.table_of(tgid);
        let shares_fds = flags & CLONE_FILES != 0;
        let fds = match self.processes.get(&table) {
            Some(owner) if !shares_fds => owner.fds.clone(),
            _ => super::fds::FdTable::default(),
        };
        if shares_fds && let Some(owner) = self.processes.get_mut(&table) {
            owner.sharers.push(child);
        }
        let Some(parent) = self.processes.get_mut(&tgid) else {
            return;
        };
        parent.has_children = true;
        let mut info = parent.info.clone();
        info.pid = child;
        info.ppid = tgid;
        info.vpid = child_vpid(&parent.info, child, flags);
        if flags & CLONE_NEWNS != 0 {
            info.mntns = 0;
        }
        info.start_ts = ts;
        info.exited = false;
        if !parent_comm.is_empty() && parent_comm != info.comm {
            info.comm.clone_from(&parent_comm);
            info.names_changed();
        }
        let entry = ProcEntry {
            info,
            fds,
            fds_of: if shares_fds { table } else { 0 },
            sharers: Vec::new(),
            memo: Memo::default(),
            tids: Vec::new(),
            has_children: false,
        };
        self.processes.insert(child, entry);
        self.add_thread(child, child, Some(&parent_comm));
    }

    /// The parent's record of an orphan arrived: link them and give the
    /// child what it inherited and has not replaced since.
    fn adopt(&mut self, child: u32, ppid: u32, orphan: &Orphan) {
        let table = self.table_of(ppid);
        let parent_fds: Vec<(i64, Arc<FdEntry>)> = self
            .processes
            .get(&table)
            .into_iter()
            .flat_map(|owner| owner.fds.iter())
            .filter(|(fd, entry)| {
                let closed = orphan.closed.contains(fd);
                let dropped_by_exec = orphan.exec_seen && entry.cloexec;
                !closed && !dropped_by_exec
            })
            .map(|(fd, entry)| (fd, entry.clone()))
            .collect();
        let Some(parent) = self.processes.get_mut(&ppid) else {
            return;
        };
        parent.has_children = true;
        let parent_info = parent.info.clone();
        let Some(process) = self.processes.get_mut(&child) else {
            return;
        };
        for (fd, entry) in parent_fds {
            if process.fds.get(&fd).is_none() {
                process.fds.insert(fd, entry);
            }
        }
        let info = &mut process.info;
        info.ppid = ppid;
        if info.vpid == 0 {
            info.vpid = child_vpid(&parent_info, child, 0);
        }
        fill(&mut info.sid, parent_info.sid, 0);
        fill(&mut info.pgid, parent_info.pgid, 0);
        fill(&mut info.tty, parent_info.tty, 0);
        fill(&mut info.loginuid, parent_info.loginuid, UNKNOWN_ID);
        if info.cwd.is_empty() {
            info.cwd = parent_info.cwd;
        }
        if orphan.exec_seen {
            return;
        }
        fill(&mut info.uid, parent_info.uid, UNKNOWN_ID);
        fill(&mut info.euid, parent_info.euid, UNKNOWN_ID);
        fill(&mut info.gid, parent_info.gid, UNKNOWN_ID);
        fill(&mut info.egid, parent_info.egid, UNKNOWN_ID);
        info.comm = parent_info.comm;
        info.exe = parent_info.exe;
        info.exepath = parent_info.exepath;
        info.args = parent_info.args;
        info.names_changed();
        info.exe_from_memfd = parent_info.exe_from_memfd;
        info.cap_effective = parent_info.cap_effective;
        info.cap_permitted = parent_info.cap_permitted;
        info.cap_inheritable = parent_info.cap_inheritable;
        info.container_id = parent_info.container_id;
        let comm = info.comm.clone();
        if let Some(thread) = self.threads.get_mut(&child)
            && thread.comm.is_empty()
        {
            thread.comm = comm;
        }
    }
}

/// Sets a capability set to what an event says, if it says anything
/// new: an unchanged set keeps its rendered names.
fn set_caps(set: &mut super::CapSet, bits: Option<u64>) {
    if let Some(bits) = bits.filter(|&b| b != set.bits() || !set.is_known()) {
        *set = super::CapSet::new(bits);
    }
}

/// Sets `slot` to `value` if it still holds `unknown`.
fn fill(slot: &mut u32, value: u32, unknown: u32) {
    if *slot == unknown {
        *slot = value;
    }
}

/// The namespace pid of a new child: 1 in a new pid namespace, its pid in
/// the initial namespace, else not known.
fn child_vpid(parent: &super::Process, child: u32, flags: u64) -> u32 {
    if flags & CLONE_NEWPID != 0 {
        1
    } else if parent.vpid == parent.pid && parent.pid != 0 {
        child
    } else {
        0
    }
}

fn socket_args(args: &Args<'_>) -> (u64, u64, u64) {
    (
        args.uint(0).unwrap_or(0),
        args.uint(1).unwrap_or(0),
        args.uint(2).unwrap_or(0),
    )
}

/// A new socket's entry from its `socket()` arguments.
fn socket_entry(kind: FdKind, ty: u64, proto: u64) -> FdEntry {
    let l4proto = match kind {
        FdKind::Ipv4 | FdKind::Ipv6 => match u8::try_from(proto) {
            Ok(proto) if proto != 0 => proto,
            // The default protocol of the socket type.
            _ => match ty & 0xf {
                1 => 6,
                2 => 17,
                _ => 0,
            },
        },
        _ => 0,
    };
    FdEntry {
        kind,
        flags: (O_RDWR | (ty & O_NONBLOCK)) as u32,
        l4proto,
        // SOCK_CLOEXEC has O_CLOEXEC's value.
        cloexec: ty & O_CLOEXEC != 0,
        ..FdEntry::default()
    }
}

fn kind_of_domain(domain: u64) -> FdKind {
    match domain {
        1 => FdKind::Unix,
        2 => FdKind::Ipv4,
        10 => FdKind::Ipv6,
        16 => FdKind::Netlink,
        _ => FdKind::Other,
    }
}

fn kind_of_addr(addr: &SockAddr) -> FdKind {
    match addr {
        SockAddr::Inet(std::net::SocketAddr::V4(_)) => FdKind::Ipv4,
        SockAddr::Inet(std::net::SocketAddr::V6(_)) => FdKind::Ipv6,
        SockAddr::Unix(_) => FdKind::Unix,
        SockAddr::Other { family, .. } => kind_of_domain(u64::from(*family)),
    }
}
