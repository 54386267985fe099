//! The owned event model: what a trace contains, independent of how the
//! kernel side produced it and of how the file lays it out.
//!
//! Capture converts its BPF records into these types; the analyser reads
//! them back (through the borrowed views in [`crate::chunk`] on the hot
//! path). Strings that come from the kernel (paths, argv, comm) are byte
//! strings, because Linux does not promise UTF-8 and a forensic tool must
//! not lose a byte of an odd file name.

use std::net::SocketAddr;

/// Identifies an event type: a syscall number of the capture's architecture,
/// or one of the non-syscall types from [`crate::event_table`].
pub type EventType = u16;

/// One recorded event: one syscall (written at its exit) or one process
/// lifecycle event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Event {
    /// Wall-clock time of the event in nanoseconds since the Unix epoch.
    pub ts: u64,
    /// Kernel thread id (`task->pid`).
    pub tid: u32,
    /// Thread group id, i.e. the process id (`task->tgid`).
    pub tgid: u32,
    /// CPU the event was recorded on.
    pub cpu: u16,
    /// Event type, named by the file's event table.
    pub event_type: EventType,
    /// Return value of the syscall (negative errno on failure).
    pub ret: i64,
    /// Time spent in the syscall in nanoseconds, 0 when not measured.
    pub latency: u64,
    /// Arguments, in the order the event table names them.
    pub params: Vec<Value>,
}

/// A typed event argument.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Value {
    /// The argument was not captured (e.g. unreadable user memory).
    #[default]
    Absent,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (sizes, flags, modes, raw syscall arguments).
    Uint(u64),
    /// A file descriptor number.
    Fd(i64),
    /// A path, name or other text as the kernel gave it.
    Str(Vec<u8>),
    /// Buffer contents, cut at the capture's snaplen.
    Bytes(Vec<u8>),
    /// A socket address.
    SockAddr(SockAddr),
    /// A list of strings (argv, envp).
    StrList(Vec<Vec<u8>>),
}

/// A socket address as passed to or returned by the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    /// An IPv4 or IPv6 address with its port.
    Inet(SocketAddr),
    /// A unix-domain socket path (abstract names start with a NUL byte).
    Unix(Vec<u8>),
    /// Any other family, with its raw bytes after the family field.
    Other {
        /// The `sa_family` value.
        family: u16,
        /// The rest of the address.
        data: Vec<u8>,
    },
}

/// The file header: everything needed to interpret the events, so that a
/// file can be read alone, on another machine, years later.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileHeader {
    /// Version of the scry program that wrote the file.
    pub writer: String,
    /// When the file was created, ns since the epoch.
    pub created_ns: u64,
    /// The machine the capture ran on.
    pub machine: MachineInfo,
    /// How the capture was configured.
    pub capture: CaptureSettings,
    /// Names and parameter names of every event type that may appear.
    pub event_table: crate::EventTable,
}

/// Facts about the captured machine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MachineInfo {
    /// Host name.
    pub hostname: String,
    /// `uname -r`.
    pub kernel_release: String,
    /// `uname -v`.
    pub kernel_version: String,
    /// Architecture, as Rust names it (`x86_64`, `aarch64`).
    pub arch: String,
    /// `PRETTY_NAME` from os-release.
    pub os: String,
    /// Number of online CPUs.
    pub cpus: u32,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time of boot, ns since the epoch.
    pub boot_time_ns: u64,
}

/// The settings a capture ran with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaptureSettings {
    /// Bytes of buffer data kept per I/O event.
    pub snaplen: u32,
    /// Event types captured; empty means all.
    pub event_types: Vec<String>,
    /// The capture filter expression, empty when none.
    pub filter: String,
    /// What was targeted: `host`, `command …`, `pid …`, `container …`.
    pub target: String,
    /// Kernel ring buffer size per CPU, in bytes.
    pub buffer_bytes: u64,
    /// The command line that started the capture.
    pub command_line: Vec<String>,
}

/// Capture counters at one point in time. Counters are cumulative since the
/// start of the capture, so the last record of a file is its total and the
/// difference of two records is the activity between them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaptureStats {
    /// When these counters were read, ns since the epoch.
    pub ts: u64,
    /// Per-CPU kernel-side counters.
    pub cpus: Vec<CpuStats>,
    /// Events written to this file so far.
    pub events_written: u64,
    /// Events left out on purpose in user space (by the capture filter):
    /// not losses, recorded so that totals add up.
    pub events_filtered: u64,
    /// Records from the kernel side that could not be decoded: losses.
    pub undecodable: u64,
    /// Whether this is the final record of a cleanly stopped capture.
    pub is_final: bool,
}

/// Kernel-side counters of one CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuStats {
    /// CPU number.
    pub cpu: u32,
    /// Events delivered to user space.
    pub delivered: u64,
    /// Events the kernel side could not deliver (ring buffer full).
    pub dropped: u64,
}

impl CaptureStats {
    /// Total events lost: dropped by the kernel side over all CPUs, plus
    /// records the capture could not decode.
    pub fn dropped(&self) -> u64 {
        self.cpus
            .iter()
            .fold(0u64, |sum, cpu| sum.saturating_add(cpu.dropped))
            .saturating_add(self.undecodable)
    }

    /// Total events delivered by the kernel side, over all CPUs.
    pub fn delivered(&self) -> u64 {
        self.cpus
            .iter()
            .fold(0u64, |sum, cpu| sum.saturating_add(cpu.delivered))
    }
}

/// The state of the machine when a file starts: what existed before the
/// first event, so that a file (or a rotated segment) can be read alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// When the snapshot was taken, ns since the epoch.
    pub ts: u64,
    /// Every process.
    pub processes: Vec<ProcessInfo>,
    /// Every thread (including each process' main thread).
    pub threads: Vec<ThreadInfo>,
    /// Every open file descriptor.
    pub fds: Vec<FdInfo>,
    /// Users from the password database.
    pub users: Vec<UserInfo>,
    /// Groups from the group database.
    pub groups: Vec<GroupInfo>,
    /// Containers seen on the machine.
    pub containers: Vec<ContainerInfo>,
}

/// Ids a trace's events name, for [`Snapshot::reachable`].
#[derive(Debug, Clone, Default)]
pub struct Reached {
    /// Processes with events.
    pub tgids: std::collections::HashSet<u32>,
    /// Processes with events that may read or pass on their fds (syscalls,
    /// events with an fd parameter), unlike a capture's periodic process
    /// samples.
    pub fd_tgids: std::collections::HashSet<u32>,
    /// User ids found in event parameters (`setuid`'s…).
    pub uids: std::collections::HashSet<u32>,
    /// Group ids found in event parameters.
    pub gids: std::collections::HashSet<u32>,
}

impl Snapshot {
    /// What of the snapshot the events of a trace can reach, given the ids
    /// they name: the processes with events, their session and process
    /// group leaders and the ancestors of all of them, with their threads;
    /// the fds of the processes with events that may read them, and the
    /// listening sockets their connected ones were accepted from (with
    /// the processes holding them); the users and groups those processes
    /// run as or the events name (and the groups of those users); their
    /// containers. A process idle for the whole trace, the fds of one
    /// whose events never read them and the accounts nothing names are
    /// left out: no field of any event reads them.
    pub fn reachable(&self, reached: &Reached) -> Snapshot {
        use std::collections::HashSet;
        let by_pid: std::collections::HashMap<u32, &ProcessInfo> =
            self.processes.iter().map(|p| (p.pid, p)).collect();
        let mut kept: HashSet<u32> = HashSet::new();
        let keep_with_ancestors = |pid: u32, kept: &mut HashSet<u32>| {
            let mut at = pid;
            // Bounded: ppid links may form a cycle in a damaged capture.
            for _ in 0..4096 {
                if !kept.insert(at) {
                    break;
                }
                match by_pid.get(&at) {
                    Some(process) if process.ppid != at && process.ppid != 0 => at = process.ppid,
                    _ => break,
                }
            }
        };
        for &tgid in &reached.tgids {
            keep_with_ancestors(tgid, &mut kept);
            // Their session and process group leaders are named by fields.
            if let Some(process) = by_pid.get(&tgid) {
                for leader in [process.sid, process.pgid] {
                    if leader != 0 {
                        keep_with_ancestors(leader, &mut kept);
                    }
                }
            }
        }
        let mut fds: Vec<&FdInfo> = self
            .fds
            .iter()
            .filter(|fd| reached.fd_tgids.contains(&fd.pid))
            .collect();
        // A connected socket is the server's end when its local address is
        // listened on (see the analyser's state): keep those listeners.
        let locals: HashSet<SocketAddr> = fds
            .iter()
            .filter(|fd| fd.remote.is_some())
            .filter_map(|fd| match fd.local {
                Some(SockAddr::Inet(addr)) => Some(addr),
                _ => None,
            })
            .collect();
        let listens_on_kept = |fd: &FdInfo| match (&fd.local, &fd.remote) {
            (Some(SockAddr::Inet(addr)), None) if addr.port() != 0 => locals.iter().any(|local| {
                local.port() == addr.port() && (local == addr || addr.ip().is_unspecified())
            }),
            _ => false,
        };
        for fd in &self.fds {
            if !reached.fd_tgids.contains(&fd.pid) && listens_on_kept(fd) {
                fds.push(fd);
                keep_with_ancestors(fd.pid, &mut kept);
            }
        }
        let processes: Vec<ProcessInfo> = self
            .processes
            .iter()
            .filter(|p| kept.contains(&p.pid))
            .cloned()
            .collect();
        let mut uids = reached.uids.clone();
        let mut gids = reached.gids.clone();
        for process in &processes {
            uids.extend([process.uid, process.euid, process.loginuid]);
            gids.extend([process.gid, process.egid]);
        }
        let users: Vec<UserInfo> = self
            .users
            .iter()
            .filter(|u| uids.contains(&u.uid))
            .cloned()
            .collect();
        gids.extend(users.iter().map(|u| u.gid));
        let containers: HashSet<&str> = processes.iter().map(|p| p.container_id.as_str()).collect();
        let mut fds: Vec<FdInfo> = fds.into_iter().cloned().collect();
        // In snapshot order, whatever order they were found in.
        let position: std::collections::HashMap<(u32, i32), usize> = self
            .fds
            .iter()
            .enumerate()
            .map(|(at, fd)| ((fd.pid, fd.fd), at))
            .collect();
        fds.sort_by_key(|fd| position.get(&(fd.pid, fd.fd)).copied());
        fds.dedup_by_key(|fd| (fd.pid, fd.fd));
        Snapshot {
            ts: self.ts,
            threads: self
                .threads
                .iter()
                .filter(|t| kept.contains(&t.tgid))
                .cloned()
                .collect(),
            fds,
            users,
            groups: self
                .groups
                .iter()
                .filter(|g| gids.contains(&g.gid))
                .cloned()
                .collect(),
            containers: self
                .containers
                .iter()
                .filter(|c| containers.contains(c.id.as_str()))
                .cloned()
                .collect(),
            processes,
        }
    }
}

/// A process (thread group) as it was at snapshot time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessInfo {
    /// Process id (tgid).
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Process id inside its pid namespace.
    pub vpid: u32,
    /// Session id.
    pub sid: u32,
    /// Process group id.
    pub pgid: u32,
    /// `comm`: the kernel's 15-byte task name.
    pub comm: Vec<u8>,
    /// Path of the executable.
    pub exe: Vec<u8>,
    /// Command line arguments, `argv[0]` first.
    pub args: Vec<Vec<u8>>,
    /// Current working directory.
    pub cwd: Vec<u8>,
    /// Real, effective and saved user ids.
    pub uid: u32,
    /// Effective user id.
    pub euid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective group id.
    pub egid: u32,
    /// Audit login uid (`u32::MAX` when unset).
    pub loginuid: u32,
    /// Controlling terminal device number, 0 when none.
    pub tty: u32,
    /// Effective capability set.
    pub cap_effective: u64,
    /// Permitted capability set.
    pub cap_permitted: u64,
    /// Inheritable capability set.
    pub cap_inheritable: u64,
    /// Start time, ns since the epoch.
    pub start_ts: u64,
    /// cgroup v2 path.
    pub cgroup: Vec<u8>,
    /// Container id, empty for host processes.
    pub container_id: String,
    /// Mount namespace: the inode number of `/proc/PID/ns/mnt`, 0 when
    /// unknown.
    pub mntns: u64,
}

/// A thread as it was at snapshot time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreadInfo {
    /// Thread id.
    pub tid: u32,
    /// Its process.
    pub tgid: u32,
    /// Thread name.
    pub comm: Vec<u8>,
}

/// What a file descriptor refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FdKind {
    /// Unknown or unclassified.
    #[default]
    Unknown,
    /// A regular file or device.
    File,
    /// A directory.
    Directory,
    /// A pipe or FIFO.
    Pipe,
    /// An IPv4 socket.
    Ipv4,
    /// An IPv6 socket.
    Ipv6,
    /// A unix-domain socket.
    Unix,
    /// A netlink socket.
    Netlink,
    /// An eventfd.
    EventFd,
    /// A signalfd.
    SignalFd,
    /// A timerfd.
    TimerFd,
    /// An inotify instance.
    Inotify,
    /// An epoll instance.
    EventPoll,
    /// A memfd.
    Memfd,
    /// Any other anonymous inode.
    Other,
}

impl FdKind {
    /// Every kind, in code order.
    pub const ALL: [FdKind; 15] = [
        FdKind::Unknown,
        FdKind::File,
        FdKind::Directory,
        FdKind::Pipe,
        FdKind::Ipv4,
        FdKind::Ipv6,
        FdKind::Unix,
        FdKind::Netlink,
        FdKind::EventFd,
        FdKind::SignalFd,
        FdKind::TimerFd,
        FdKind::Inotify,
        FdKind::EventPoll,
        FdKind::Memfd,
        FdKind::Other,
    ];

    /// The stable on-disk code of this kind.
    pub fn code(self) -> u8 {
        // The variants are declared in code order, without explicit
        // discriminants: each one's discriminant is its code.
        self as u8
    }

    /// The kind for an on-disk code; unknown codes (from newer writers) map
    /// to [`FdKind::Unknown`].
    pub fn from_code(code: u64) -> FdKind {
        usize::try_from(code)
            .ok()
            .and_then(|index| FdKind::ALL.get(index).copied())
            .unwrap_or_default()
    }
}

/// An open file descriptor at snapshot time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FdInfo {
    /// Owning process.
    pub pid: u32,
    /// Descriptor number.
    pub fd: i32,
    /// What it refers to.
    pub kind: FdKind,
    /// Path or description (`pipe:[1234]`, the socket's unix path…).
    pub name: Vec<u8>,
    /// Open flags (`O_*`).
    pub flags: u32,
    /// Inode number.
    pub ino: u64,
    /// Local address of a socket.
    pub local: Option<SockAddr>,
    /// Remote address of a connected socket.
    pub remote: Option<SockAddr>,
    /// IP protocol of a socket (6 TCP, 17 UDP), 0 otherwise.
    pub l4proto: u8,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Login name.
    pub name: String,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupInfo {
    /// Group id.
    pub gid: u32,
    /// Group name.
    pub name: String,
}

/// A container known at capture time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerInfo {
    /// Container id as found in the cgroup path (full length).
    pub id: String,
    /// Runtime: `docker`, `containerd`, `cri-o`, `podman`, `systemd`…
    pub runtime: String,
    /// Container name, when the runtime's metadata was readable.
    pub name: String,
    /// Image reference, when known.
    pub image: String,
    /// Whether it runs privileged, when known.
    pub privileged: bool,
    /// Start time, ns since the epoch, 0 when unknown.
    pub start_ts: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_kind_codes_are_positions_in_all() {
        for (position, kind) in FdKind::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(kind.code()), position);
            assert_eq!(FdKind::from_code(position as u64), kind);
        }
        assert_eq!(FdKind::from_code(FdKind::ALL.len() as u64), FdKind::Unknown);
    }

    fn process(pid: u32, ppid: u32, sid: u32, uid: u32) -> ProcessInfo {
        ProcessInfo {
            pid,
            ppid,
            sid,
            pgid: pid,
            uid,
            euid: uid,
            gid: uid,
            egid: uid,
            loginuid: uid,
            ..ProcessInfo::default()
        }
    }

    fn fd(pid: u32, fd: i32, local: Option<&str>, remote: Option<&str>) -> FdInfo {
        let inet = |a: &str| SockAddr::Inet(a.parse().unwrap());
        FdInfo {
            pid,
            fd,
            local: local.map(inet),
            remote: remote.map(inet),
            ..FdInfo::default()
        }
    }

    #[test]
    fn the_reachable_snapshot_keeps_what_events_can_read() {
        let snapshot = Snapshot {
            ts: 7,
            processes: vec![
                process(1, 0, 1, 0),
                process(10, 1, 10, 0),
                process(20, 10, 20, 1000),
                process(30, 20, 20, 1000),
                process(40, 1, 40, 33),
                process(50, 1, 50, 0),
            ],
            threads: [
                (1, 1),
                (10, 10),
                (20, 20),
                (30, 30),
                (31, 30),
                (40, 40),
                (50, 50),
            ]
            .iter()
            .map(|&(tid, tgid)| ThreadInfo {
                tid,
                tgid,
                comm: Vec::new(),
            })
            .collect(),
            fds: vec![
                fd(30, 0, None, None),
                fd(30, 3, Some("10.0.0.1:80"), Some("10.0.0.9:5000")),
                fd(40, 4, Some("0.0.0.0:80"), None),
                fd(40, 5, None, None),
                fd(50, 4, Some("0.0.0.0:22"), None),
                fd(20, 1, None, None),
            ],
            users: [0, 33, 1000, 1001, 1002]
                .iter()
                .map(|&uid| UserInfo {
                    uid,
                    gid: uid,
                    ..UserInfo::default()
                })
                .collect(),
            groups: [0, 33, 1000, 1001, 1002, 2000]
                .iter()
                .map(|&gid| GroupInfo {
                    gid,
                    ..GroupInfo::default()
                })
                .collect(),
            containers: Vec::new(),
        };
        let reached = Reached {
            tgids: [30, 50].into_iter().collect(),
            fd_tgids: [30].into_iter().collect(),
            uids: [1001].into_iter().collect(),
            gids: [2000].into_iter().collect(),
        };
        let kept = snapshot.reachable(&reached);
        let pids: Vec<u32> = kept.processes.iter().map(|p| p.pid).collect();
        // cat, its ancestors and session leader; the web server whose
        // listening socket cat's connection came from; sshd, seen only in
        // samples, without its fds.
        assert_eq!(pids, [1, 10, 20, 30, 40, 50]);
        let tids: Vec<u32> = kept.threads.iter().map(|t| t.tid).collect();
        assert_eq!(tids, [1, 10, 20, 30, 31, 40, 50]);
        let fds: Vec<(u32, i32)> = kept.fds.iter().map(|f| (f.pid, f.fd)).collect();
        assert_eq!(fds, [(30, 0), (30, 3), (40, 4)]);
        let uids: Vec<u32> = kept.users.iter().map(|u| u.uid).collect();
        assert_eq!(uids, [0, 33, 1000, 1001]);
        let gids: Vec<u32> = kept.groups.iter().map(|g| g.gid).collect();
        assert_eq!(gids, [0, 33, 1000, 1001, 2000]);
        assert_eq!(kept.ts, 7);
        // Everything reached keeps everything.
        let all = Reached {
            tgids: snapshot.processes.iter().map(|p| p.pid).collect(),
            fd_tgids: snapshot.processes.iter().map(|p| p.pid).collect(),
            uids: [1001, 1002].into_iter().collect(),
            gids: [1002, 2000].into_iter().collect(),
        };
        assert_eq!(snapshot.reachable(&all), snapshot);
    }
}
