//! The state snapshot written at the start of every trace file: every
//! process, thread and open file descriptor from `/proc`, the users and
//! groups of the host, and the containers its processes run in. Events only
//! show what changed during the capture; the snapshot is what lets the
//! analyser name fd 7 of a process that opened it an hour before.
//!
//! Reading `/proc` races with the processes it describes: a process may
//! exit, or close an fd, between listing and reading. Such entries are
//! skipped (or left partly empty) rather than failing the capture, since a
//! snapshot that misses a process that just exited loses nothing the
//! events will not show. Socket tables are read once per network namespace,
//! not once per process, so the cost grows with the number of fds, not with
//! processes × sockets.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use scry_format::{
    ContainerInfo, FdInfo, FdKind, GroupInfo, ProcessInfo, Snapshot, SockAddr, ThreadInfo, UserInfo,
};

/// `/proc/PID/stat` counts start times in clock ticks of `USER_HZ`, which
/// the kernel ABI fixes at 100 on every architecture scry runs on.
const USER_HZ: u64 = 100;
const NS_PER_TICK: u64 = 1_000_000_000 / USER_HZ;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_UDPLITE: u8 = 136;

/// Reads the state of the machine. `now_ns` stamps the snapshot;
/// `boot_time_ns` (wall-clock time of boot) turns process start times,
/// which the kernel counts from boot, into wall-clock times. Never fails:
/// what cannot be read is left out.
pub fn take_snapshot(now_ns: u64, boot_time_ns: u64) -> Snapshot {
    let mut snapshot = Snapshot {
        ts: now_ns,
        ..Snapshot::default()
    };
    let mut pids: Vec<u32> = numeric_entries(Path::new("/proc"));
    pids.sort_unstable();
    // The probe is already attached and its rings fill while we read, so
    // the snapshot is spread over a few threads: /proc reads are syscall
    // bound and scale with cores. Contiguous pid ranges keep the output in
    // pid order.
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, MAX_WORKERS);
    let per_worker = pids.len().div_ceil(workers).max(1);
    let parts: Vec<Part> = std::thread::scope(|scope| {
        let handles: Vec<_> = pids
            .chunks(per_worker)
            .map(|chunk| scope.spawn(move || read_processes(chunk, boot_time_ns)))
            .collect();
        // A worker that panicked loses its processes, not the capture.
        handles
            .into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect()
    });
    // Container id → runtime, sorted so that the table is deterministic.
    let mut containers = BTreeMap::new();
    for part in parts {
        snapshot.processes.extend(part.processes);
        snapshot.threads.extend(part.threads);
        snapshot.fds.extend(part.fds);
        containers.extend(part.containers);
    }
    let mut runtimes = crate::runtime::Runtimes::at("/");
    snapshot.containers = containers
        .into_iter()
        .map(|(id, runtime)| {
            let mut info = ContainerInfo {
                start_ts: started(&snapshot.processes, &id),
                runtime: runtime.to_owned(),
                id,
                ..ContainerInfo::default()
            };
            runtimes.describe(&mut info);
            info
        })
        .collect();
    snapshot.users = read_users(Path::new("/etc/passwd"));
    snapshot.groups = read_groups(Path::new("/etc/group"));
    snapshot
}

/// Threads reading /proc at most: enough to make a big host's snapshot
/// quick, few enough that starting a capture does not take over its cores.
const MAX_WORKERS: usize = 8;

/// What one worker read about its share of the processes.
#[derive(Debug, Default)]
struct Part {
    processes: Vec<ProcessInfo>,
    threads: Vec<ThreadInfo>,
    fds: Vec<FdInfo>,
    containers: Vec<(String, &'static str)>,
}

fn read_processes(pids: &[u32], boot_time_ns: u64) -> Part {
    let mut part = Part::default();
    let mut reader = Reader::default();
    let mut sockets = SocketTables::default();
    for &pid in pids {
        let Some((process, runtime)) = read_process(&mut reader, pid, boot_time_ns) else {
            continue;
        };
        if let Some(runtime) = runtime {
            part.containers
                .push((process.container_id.clone(), runtime));
        }
        read_threads(&mut reader, pid, &mut part.threads);
        read_fds(&mut reader, pid, &mut sockets, &mut part.fds);
        part.processes.push(process);
    }
    part
}

/// Reads small /proc files into one reused buffer: `std::fs::read` would
/// allocate per file and ask for the size first (a `statx` that /proc
/// answers with 0), a fifth more syscalls for nothing.
#[derive(Debug)]
struct Reader {
    buf: Vec<u8>,
}

impl Default for Reader {
    fn default() -> Self {
        Self {
            buf: vec![0; 16 << 10],
        }
    }
}

impl Reader {
    fn read(&mut self, path: &str) -> Option<&[u8]> {
        use std::io::Read;
        let mut file = std::fs::File::open(path).ok()?;
        let mut len = 0;
        loop {
            if len == self.buf.len() {
                self.buf.resize(len * 2, 0);
            }
            match file.read(&mut self.buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        Some(&self.buf[..len])
    }

    /// The file as text; /proc text is ASCII apart from names, which the
    /// callers of this take from elsewhere.
    fn read_str(&mut self, path: &str) -> Option<&str> {
        std::str::from_utf8(self.read(path)?).ok()
    }
}

/// The numeric entries of a `/proc` directory (pids, tids, fds), skipping
/// everything else (`self`, `sys`, …).
fn numeric_entries<T: std::str::FromStr>(dir: &Path) -> Vec<T> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn read_link_bytes(path: &str) -> Vec<u8> {
    std::fs::read_link(path)
        .map(|p| p.into_os_string().into_vec())
        .unwrap_or_default()
}

/// One process and the runtime of its container, or `None` when it exited
/// before its `stat` could be read.
fn read_process(
    reader: &mut Reader,
    pid: u32,
    boot_time_ns: u64,
) -> Option<(ProcessInfo, Option<&'static str>)> {
    let base = format!("/proc/{pid}");
    let stat = parse_stat(reader.read(&format!("{base}/stat"))?)?;
    let mut info = ProcessInfo {
        pid,
        ppid: stat.ppid,
        // Overwritten from NSpid when the kernel reports it.
        vpid: pid,
        sid: stat.sid,
        pgid: stat.pgid,
        comm: stat.comm,
        tty: stat.tty,
        start_ts: boot_time_ns.saturating_add(stat.start_ticks.saturating_mul(NS_PER_TICK)),
        loginuid: u32::MAX,
        ..ProcessInfo::default()
    };
    if let Some(status) = reader.read(&format!("{base}/status")) {
        // Only the Name line may hold non-UTF-8 bytes, and it is not used.
        apply_status(&mut info, &String::from_utf8_lossy(status));
    }
    info.exe = read_link_bytes(&format!("{base}/exe"));
    info.cwd = read_link_bytes(&format!("{base}/cwd"));
    if let Some(cmdline) = reader.read(&format!("{base}/cmdline")) {
        info.args = split_cmdline(cmdline);
    }
    if let Some(loginuid) = reader
        .read_str(&format!("{base}/loginuid"))
        .and_then(|s| s.trim().parse().ok())
    {
        info.loginuid = loginuid;
    }
    info.mntns = bracketed(&read_link_bytes(&format!("{base}/ns/mnt")), b"mnt:").unwrap_or(0);
    let mut runtime = None;
    if let Some(cgroups) = reader.read(&format!("{base}/cgroup")) {
        let (path, container) = parse_cgroups(&String::from_utf8_lossy(cgroups));
        info.cgroup = path.into_bytes();
        if let Some((id, found)) = container {
            info.container_id = id;
            runtime = Some(found);
        }
    }
    Some((info, runtime))
}

/// The fields of `/proc/PID/stat` the snapshot keeps.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    comm: Vec<u8>,
    ppid: u32,
    pgid: u32,
    sid: u32,
    tty: u32,
    start_ticks: u64,
}

/// Parses `/proc/PID/stat`. The name is between the first `(` and the
/// *last* `)`: a process can name itself `a) 1 2 (b`.
fn parse_stat(stat: &[u8]) -> Option<Stat> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?.to_vec();
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    // Fields from 3 (state) on; field N of proc(5) is at index N - 3.
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    Some(Stat {
        comm,
        ppid: field(4)?.parse().ok()?,
        pgid: field(5)?.parse().ok()?,
        sid: field(6)?.parse().ok()?,
        // tty_nr is the kernel's encoded dev_t, printed as a signed int.
        tty: field(7)?.parse::<i64>().ok()? as u32,
        start_ticks: field(22)?.parse().ok()?,
    })
}

/// Ids, capabilities and the namespace pid from `/proc/PID/status`.
fn apply_status(info: &mut ProcessInfo, status: &str) {
    let ids = |rest: &str| -> (u32, u32) {
        let mut values = rest
            .split_ascii_whitespace()
            .map(|v| v.parse().unwrap_or(0));
        (values.next().unwrap_or(0), values.next().unwrap_or(0))
    };
    let caps = |rest: &str| u64::from_str_radix(rest.trim(), 16).unwrap_or(0);
    for line in status.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        match key {
            "Uid" => (info.uid, info.euid) = ids(rest),
            "Gid" => (info.gid, info.egid) = ids(rest),
            "CapInh" => info.cap_inheritable = caps(rest),
            "CapPrm" => info.cap_permitted = caps(rest),
            "CapEff" => info.cap_effective = caps(rest),
            // The last NSpid is the pid in the process' own namespace.
            "NSpid" => {
                if let Some(vpid) = rest
                    .split_ascii_whitespace()
                    .last()
                    .and_then(|v| v.parse().ok())
                {
                    info.vpid = vpid;
                }
            }
            _ => {}
        }
    }
}

/// `argv` from `/proc/PID/cmdline`: NUL-separated, with a final NUL.
fn split_cmdline(cmdline: &[u8]) -> Vec<Vec<u8>> {
    let cmdline = cmdline.strip_suffix(b"\0").unwrap_or(cmdline);
    if cmdline.is_empty() {
        // Kernel threads and zombies have no command line.
        return Vec::new();
    }
    cmdline.split(|&b| b == 0).map(<[u8]>::to_vec).collect()
}

/// The cgroup v2 path of a process, and the container id found in it. On
/// hybrid hosts the v2 path is often `/` while the runtime's cgroup is in a
/// v1 hierarchy, so the v1 lines are searched for an id too.
pub(crate) fn parse_cgroups(cgroups: &str) -> (String, Option<(String, &'static str)>) {
    let mut v2 = String::new();
    let mut v1 = None;
    for line in cgroups.lines() {
        if let Some(path) = line.strip_prefix("0::") {
            v2 = path.to_owned();
        } else if v1.is_none() {
            v1 = container_of(line.splitn(3, ':').nth(2).unwrap_or(""));
        }
    }
    let container = container_of(&v2).or(v1);
    (v2, container)
}

/// The container id and runtime a cgroup path names. The innermost match
/// wins, so that a container nested in another is attributed to itself.
/// Only full 64-hex ids are accepted: shorter hex runs are common in
/// non-container cgroup names (session ids, hashes).
pub(crate) fn container_of(cgroup: &str) -> Option<(String, &'static str)> {
    let components: Vec<&str> = cgroup.split('/').collect();
    for (at, component) in components.iter().enumerate().rev() {
        // systemd cgroup driver: `<prefix><id>.scope`.
        if let Some(unit) = component.strip_suffix(".scope") {
            for (prefix, runtime) in [
                ("docker-", "docker"),
                ("cri-containerd-", "containerd"),
                ("crio-", "cri-o"),
                ("libpod-", "podman"),
                ("nerdctl-", "containerd"),
            ] {
                if let Some(id) = unit.strip_prefix(prefix).filter(|id| is_id(id)) {
                    return Some((id.to_owned(), runtime));
                }
            }
            // systemd-machined (systemd-nspawn, VMs): the machine name is
            // the id, as the analyser reads it from an exec's cgroup.
            if unit.starts_with("machine-")
                && let Some(name) = scry_format::container_id_of_cgroup(component.as_bytes())
            {
                return Some((name.into_owned(), "systemd"));
            }
        }
        // cgroupfs driver: the id is a directory of its own, under
        // `/docker/` or somewhere below `/kubepods`.
        if is_id(component) {
            let parents = &components[..at];
            let runtime = if parents.last() == Some(&"docker") {
                "docker"
            } else if parents.iter().any(|p| p.starts_with("kubepods")) {
                "kubernetes"
            } else if parents.last() == Some(&"libpod_parent") {
                "podman"
            } else {
                continue;
            };
            return Some(((*component).to_owned(), runtime));
        }
    }
    None
}

fn is_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// When a container started: when its oldest process (its init) did.
fn started(processes: &[ProcessInfo], container: &str) -> u64 {
    processes
        .iter()
        .filter(|p| p.container_id == container && p.start_ts > 0)
        .map(|p| p.start_ts)
        .min()
        .unwrap_or(0)
}

fn read_threads(reader: &mut Reader, pid: u32, threads: &mut Vec<ThreadInfo>) {
    for tid in numeric_entries::<u32>(Path::new(&format!("/proc/{pid}/task"))) {
        let Some(comm) = reader.read(&format!("/proc/{pid}/task/{tid}/comm")) else {
            continue;
        };
        threads.push(ThreadInfo {
            tid,
            tgid: pid,
            comm: comm.strip_suffix(b"\n").unwrap_or(comm).to_vec(),
        });
    }
}

fn read_fds(reader: &mut Reader, pid: u32, sockets: &mut SocketTables, fds: &mut Vec<FdInfo>) {
    // Resolved on the first socket only: most processes have none.
    let mut netns = None;
    let mut numbers = numeric_entries::<i32>(Path::new(&format!("/proc/{pid}/fd")));
    numbers.sort_unstable();
    for fd in numbers {
        let link_path = format!("/proc/{pid}/fd/{fd}");
        let Ok(target) = std::fs::read_link(&link_path) else {
            continue;
        };
        let target = target.into_os_string().into_vec();
        let (flags, fdinfo_ino) = read_fdinfo(reader, pid, fd);
        let mut info = FdInfo {
            pid,
            fd,
            flags,
            ino: fdinfo_ino.unwrap_or(0),
            ..FdInfo::default()
        };
        if target.starts_with(b"/memfd:") {
            info.kind = FdKind::Memfd;
            info.name = target;
        } else if target.starts_with(b"/") {
            // metadata() follows the magic link to the open file itself,
            // so it works for deleted files and other mount namespaces.
            let meta = std::fs::metadata(&link_path).ok();
            info.kind = if meta.as_ref().is_some_and(std::fs::Metadata::is_dir) {
                FdKind::Directory
            } else {
                FdKind::File
            };
            if let Some(meta) = meta {
                info.ino = meta.ino();
            }
            info.name = target;
        } else if let Some(ino) = bracketed(&target, b"pipe:") {
            info.kind = FdKind::Pipe;
            info.ino = ino;
            info.name = target;
        } else if let Some(ino) = bracketed(&target, b"socket:") {
            info.ino = ino;
            let ns = netns.get_or_insert_with(|| netns_key(pid));
            match sockets.lookup(pid, ns, ino) {
                Some(socket) => {
                    info.kind = socket.kind;
                    info.local = socket.local.clone();
                    info.remote = socket.remote.clone();
                    info.l4proto = socket.l4proto;
                    // IP sockets keep an empty name: the analyser names
                    // them client->server once it knows which side
                    // listens, which a single table row cannot tell.
                    if let Some(SockAddr::Unix(path)) = &socket.local {
                        info.name = path.clone();
                    }
                }
                None => {
                    info.kind = FdKind::Other;
                    info.name = target;
                }
            }
        } else {
            info.kind = anon_kind(&target);
            info.name = target;
        }
        fds.push(info);
    }
}

/// The number in `prefix[N]`.
fn bracketed(target: &[u8], prefix: &[u8]) -> Option<u64> {
    let rest = target.strip_prefix(prefix)?.strip_prefix(b"[")?;
    std::str::from_utf8(rest.strip_suffix(b"]")?)
        .ok()?
        .parse()
        .ok()
}

/// The kind of an anonymous-inode fd, from its link text.
fn anon_kind(target: &[u8]) -> FdKind {
    let name = target.strip_prefix(b"anon_inode:").unwrap_or(target);
    match name {
        b"[eventfd]" => FdKind::EventFd,
        b"[signalfd]" => FdKind::SignalFd,
        b"[eventpoll]" => FdKind::EventPoll,
        b"inotify" => FdKind::Inotify,
        b"[timerfd]" => FdKind::TimerFd,
        _ => FdKind::Other,
    }
}

/// Open flags (octal, with `O_CLOEXEC` folded in by the kernel) and inode
/// from `/proc/PID/fdinfo/FD`.
fn read_fdinfo(reader: &mut Reader, pid: u32, fd: i32) -> (u32, Option<u64>) {
    let Some(text) = reader.read_str(&format!("/proc/{pid}/fdinfo/{fd}")) else {
        return (0, None);
    };
    let mut flags = 0;
    let mut ino = None;
    for line in text.lines() {
        if let Some(value) = line.strip_prefix("flags:") {
            flags = u32::from_str_radix(value.trim(), 8).unwrap_or(0);
        } else if let Some(value) = line.strip_prefix("ino:") {
            ino = value.trim().parse().ok();
        }
    }
    (flags, ino)
}

/// Identifies a process' network namespace. When the link cannot be read
/// the process gets a namespace of its own, so its sockets are still
/// looked up in its own tables, just without sharing the parse.
fn netns_key(pid: u32) -> Vec<u8> {
    let link = read_link_bytes(&format!("/proc/{pid}/ns/net"));
    if link.is_empty() {
        format!("pid:{pid}").into_bytes()
    } else {
        link
    }
}

/// What a socket's row in `/proc/net` says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Socket {
    kind: FdKind,
    local: Option<SockAddr>,
    remote: Option<SockAddr>,
    l4proto: u8,
}

/// The `/proc/net` socket tables of each network namespace seen so far,
/// by socket inode.
#[derive(Debug, Default)]
struct SocketTables {
    by_netns: HashMap<Vec<u8>, HashMap<u64, Socket>>,
}

impl SocketTables {
    fn lookup(&mut self, pid: u32, netns: &[u8], ino: u64) -> Option<&Socket> {
        if !self.by_netns.contains_key(netns) {
            self.by_netns
                .insert(netns.to_vec(), read_socket_tables(pid));
        }
        self.by_netns.get(netns)?.get(&ino)
    }
}

/// Reads the socket tables of `pid`'s network namespace (`/proc/PID/net`
/// is that namespace's view, unlike `/proc/net` of the capture itself).
fn read_socket_tables(pid: u32) -> HashMap<u64, Socket> {
    let mut table = HashMap::new();
    let read = |name: &str| std::fs::read_to_string(format!("/proc/{pid}/net/{name}"));
    for (name, proto) in [
        ("tcp", Some(IPPROTO_TCP)),
        ("tcp6", Some(IPPROTO_TCP)),
        ("udp", Some(IPPROTO_UDP)),
        ("udp6", Some(IPPROTO_UDP)),
        ("udplite", Some(IPPROTO_UDPLITE)),
        ("udplite6", Some(IPPROTO_UDPLITE)),
        ("raw", None),
        ("raw6", None),
    ] {
        if let Ok(text) = read(name) {
            parse_inet_table(&text, proto, &mut table);
        }
    }
    if let Ok(text) = read("unix") {
        parse_unix_table(&text, &mut table);
    }
    if let Ok(text) = read("netlink") {
        // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
        for ino in text
            .lines()
            .skip(1)
            .filter_map(|line| line.split_ascii_whitespace().nth(9)?.parse::<u64>().ok())
        {
            table.insert(
                ino,
                Socket {
                    kind: FdKind::Netlink,
                    local: None,
                    remote: None,
                    l4proto: 0,
                },
            );
        }
    }
    table
}

/// Rows of `/proc/net/{tcp,udp,udplite,raw}{,6}`:
/// `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`. Raw
/// sockets (`l4proto` `None`) have no ports: the local "port" is their IP
/// protocol, which becomes their `l4proto` as `socket()` would give it.
fn parse_inet_table(text: &str, l4proto: Option<u8>, table: &mut HashMap<u64, Socket>) {
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let (Some(mut local), Some(mut remote), Some(ino)) = (
            fields.get(1).and_then(|a| parse_inet_addr(a)),
            fields.get(2).and_then(|a| parse_inet_addr(a)),
            fields.get(9).and_then(|i| i.parse::<u64>().ok()),
        ) else {
            continue;
        };
        // Sockets in TIME_WAIT and the like belong to no process: inode 0.
        if ino == 0 {
            continue;
        }
        let l4proto = match l4proto {
            Some(proto) => proto,
            None => {
                let proto = u8::try_from(local.port()).unwrap_or(0);
                local.set_port(0);
                remote.set_port(0);
                proto
            }
        };
        let kind = if local.is_ipv4() {
            FdKind::Ipv4
        } else {
            FdKind::Ipv6
        };
        // An unconnected socket (a listener, an unconnected UDP socket)
        // reports the wildcard address, port 0, as its peer.
        let connected = remote.port() != 0 || !remote.ip().is_unspecified();
        table.insert(
            ino,
            Socket {
                kind,
                local: Some(SockAddr::Inet(local)),
                remote: connected.then_some(SockAddr::Inet(remote)),
                l4proto,
            },
        );
    }
}

/// `ADDR:PORT` of `/proc/net/tcp`: the address is the kernel's in-memory
/// (network order) words printed as native-endian hex, the port is plain
/// hex.
fn parse_inet_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let hex = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(hex, 16).ok()?.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Rows of `/proc/net/unix`: `Num RefCount Protocol Flags Type St Inode
/// Path`. Abstract names are shown with a leading `@`, which the model
/// spells as a NUL byte like the kernel does.
fn parse_unix_table(text: &str, table: &mut HashMap<u64, Socket>) {
    for line in text.lines().skip(1) {
        let mut rest = line;
        let mut ino = None;
        for index in 0..7 {
            let trimmed = rest.trim_start();
            let end = trimmed
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(trimmed.len());
            if index == 6 {
                ino = trimmed[..end].parse::<u64>().ok();
            }
            rest = &trimmed[end..];
        }
        let Some(ino) = ino else {
            continue;
        };
        // The path is the rest of the line: it may contain spaces.
        let path = rest.strip_prefix(' ').unwrap_or(rest);
        let local = (!path.is_empty()).then(|| {
            let mut bytes = OsStr::new(path).as_bytes().to_vec();
            if bytes.first() == Some(&b'@') {
                bytes[0] = 0;
            }
            SockAddr::Unix(bytes)
        });
        table.insert(
            ino,
            Socket {
                kind: FdKind::Unix,
                local,
                remote: None,
                l4proto: 0,
            },
        );
    }
}

/// `/etc/passwd`: `name:password:uid:gid:gecos:home:shell`.
fn read_users(path: &Path) -> Vec<UserInfo> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 7 || line.starts_with('#') {
                return None;
            }
            Some(UserInfo {
                uid: fields[2].parse().ok()?,
                gid: fields[3].parse().ok()?,
                name: fields[0].to_owned(),
                home: fields[5].to_owned(),
                shell: fields[6].to_owned(),
            })
        })
        .collect()
}

/// `/etc/group`: `name:password:gid:members`.
fn read_groups(path: &Path) -> Vec<GroupInfo> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 3 || line.starts_with('#') {
                return None;
            }
            Some(GroupInfo {
                gid: fields[2].parse().ok()?,
                name: fields[0].to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn raw_and_udplite_sockets_are_named_with_their_protocol() {
        use rustix::net::{AddressFamily, SocketType, ipproto, socket};
        use std::os::fd::AsRawFd;
        let udplite = socket(
            AddressFamily::INET,
            SocketType::DGRAM,
            Some(ipproto::UDPLITE),
        );
        // Raw sockets need CAP_NET_RAW: without it, only UDP-Lite is checked.
        let raw = socket(AddressFamily::INET6, SocketType::RAW, Some(ipproto::ICMPV6)).ok();
        let Ok(udplite) = udplite else {
            eprintln!("note: skipped, this kernel has no UDP-Lite");
            return;
        };
        // Like UDP, only a bound socket is in the table.
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        rustix::net::bind(&udplite, &loopback).unwrap();
        let snapshot = take_snapshot(1, 1_000);
        let pid = std::process::id();
        let fd_of = |fd: i32| {
            snapshot
                .fds
                .iter()
                .find(|f| f.pid == pid && f.fd == fd)
                .unwrap_or_else(|| panic!("fd {fd} is in the snapshot"))
        };
        let found = fd_of(udplite.as_raw_fd());
        assert_eq!((found.kind, found.l4proto), (FdKind::Ipv4, IPPROTO_UDPLITE));
        if let Some(raw) = raw {
            let found = fd_of(raw.as_raw_fd());
            assert_eq!((found.kind, found.l4proto), (FdKind::Ipv6, 58));
            assert_eq!(found.local, Some(SockAddr::Inet("[::]:0".parse().unwrap())));
        }
    }

    #[test]
    fn namespace_links_give_their_inode() {
        assert_eq!(bracketed(b"mnt:[4026531841]", b"mnt:"), Some(4_026_531_841));
        assert_eq!(bracketed(b"mnt:[]", b"mnt:"), None);
        assert_eq!(bracketed(b"/some/file", b"mnt:"), None);
    }

    #[test]
    fn the_snapshot_shows_this_process_its_files_sockets_and_pipes() {
        let dir = std::env::temp_dir().join(format!("scry-snapshot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("open-file");
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(b"x").unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (reader, _writer) = std::io::pipe().unwrap();

        let snapshot = take_snapshot(1, 1_000);
        let pid = std::process::id();
        let me = snapshot
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .expect("the snapshot has this process");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(me.exe, exe.as_os_str().as_bytes());
        let args: Vec<Vec<u8>> = std::env::args_os().map(|a| a.into_vec()).collect();
        assert_eq!(me.args, args);
        assert_eq!(
            me.cwd,
            std::env::current_dir().unwrap().as_os_str().as_bytes()
        );
        assert_eq!(me.ppid, std::os::unix::process::parent_id());
        assert!(me.start_ts > 1_000, "start time counts from boot");
        // stat() follows the namespace link to the namespace's own inode.
        let mntns = std::fs::metadata("/proc/self/ns/mnt").unwrap().ino();
        assert_eq!(me.mntns, mntns);
        assert!(
            snapshot
                .threads
                .iter()
                .any(|t| t.tid == pid && t.tgid == pid)
        );

        let mine: Vec<&FdInfo> = snapshot.fds.iter().filter(|f| f.pid == pid).collect();
        let file_fd = mine
            .iter()
            .find(|f| f.name == path.as_os_str().as_bytes())
            .expect("the open file is in the snapshot");
        assert_eq!(file_fd.kind, FdKind::File);
        assert_eq!(
            file_fd.ino,
            std::fs::metadata(&path).map(|m| m.ino()).unwrap()
        );
        let socket = mine
            .iter()
            .find(|f| f.kind == FdKind::Ipv4 && f.l4proto == IPPROTO_TCP)
            .filter(|f| {
                f.local == Some(SockAddr::Inet(format!("127.0.0.1:{port}").parse().unwrap()))
            })
            .expect("the listener is in the snapshot with its address");
        assert_eq!(socket.remote, None);
        let pipe_ino = std::fs::metadata(format!("/proc/self/fd/{}", {
            use std::os::fd::AsRawFd;
            reader.as_raw_fd()
        }))
        .unwrap()
        .ino();
        assert!(
            mine.iter()
                .any(|f| f.kind == FdKind::Pipe && f.ino == pipe_ino),
            "the pipe is in the snapshot"
        );
        assert!(
            snapshot
                .users
                .iter()
                .any(|u| u.uid == 0 && u.name == "root")
        );
        assert!(snapshot.groups.iter().any(|g| g.gid == 0));
        drop(file);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stat_parsing_survives_odd_process_names() {
        let line =
            b"42 (a) 1 2 (b) S 7 42 42 34816 42 4194304 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 2\n";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.comm, b"a) 1 2 (b");
        assert_eq!((stat.ppid, stat.pgid, stat.sid), (7, 42, 42));
        assert_eq!(stat.tty, 34816);
        assert_eq!(stat.start_ticks, 12345);
    }

    #[test]
    fn container_ids_come_from_every_runtime_naming_scheme() {
        let cases = [
            (format!("/system.slice/docker-{ID}.scope"), "docker"),
            (format!("/docker/{ID}"), "docker"),
            (
                format!("/kubepods.slice/kubepods-pod1.slice/cri-containerd-{ID}.scope"),
                "containerd",
            ),
            (format!("/kubepods.slice/crio-{ID}.scope"), "cri-o"),
            (format!("/kubepods/burstable/pod1234/{ID}"), "kubernetes"),
            (format!("/machine.slice/libpod-{ID}.scope"), "podman"),
            (
                format!("/system.slice/docker-{ID}.scope/init.scope"),
                "docker",
            ),
            (format!("/system.slice/nerdctl-{ID}.scope"), "containerd"),
        ];
        for (path, runtime) in cases {
            assert_eq!(
                container_of(&path),
                Some((ID.to_owned(), runtime)),
                "{path}"
            );
        }
        // systemd-nspawn: the machine name, unescaped, also when the
        // container runs its own systemd below its scope.
        for path in [
            "/machine.slice/machine-build\\x2d01.scope",
            "/machine.slice/machine-build\\x2d01.scope/payload/system.slice/sshd.service",
        ] {
            assert_eq!(
                container_of(path),
                Some(("build-01".to_owned(), "systemd")),
                "{path}"
            );
        }
        for host in [
            "/",
            "/user.slice/user-1000.slice/session-3.scope",
            "/system.slice/sshd.service",
            "/machine.slice",
            "/system.slice/machine-.scope",
            &format!("/machine.slice/libpod-conmon-{ID}.scope"),
            &format!("/system.slice/docker-{}.scope", &ID[..12]),
        ] {
            assert_eq!(container_of(host), None, "{host}");
        }
        let (path, container) = parse_cgroups(&format!("4:memory:/docker/{ID}\n0::/\n"));
        assert_eq!(path, "/");
        assert_eq!(container, Some((ID.to_owned(), "docker")));
    }

    #[test]
    fn socket_tables_parse_addresses_and_states() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0 100 0 0 10 0\n";
        let mut table = HashMap::new();
        parse_inet_table(tcp, Some(IPPROTO_TCP), &mut table);
        let listener = &table[&1111];
        assert_eq!(listener.kind, FdKind::Ipv4);
        assert_eq!(
            listener.local,
            Some(SockAddr::Inet("127.0.0.1:8080".parse().unwrap()))
        );
        assert_eq!(listener.remote, None);
        assert_eq!(
            table[&2222].remote,
            Some(SockAddr::Inet("127.0.0.1:54321".parse().unwrap()))
        );
        let tcp6 = "  sl  local_address                         remote_address                        st\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3333 1\n";
        parse_inet_table(tcp6, Some(IPPROTO_TCP), &mut table);
        assert_eq!(table[&3333].kind, FdKind::Ipv6);
        assert_eq!(
            table[&3333].local,
            Some(SockAddr::Inet("[::1]:22".parse().unwrap()))
        );
        // A raw socket's "port" is its protocol (ICMP here), not a port.
        let raw = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n    1: 00000000:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 7777 2 0000000000000000 0\n";
        parse_inet_table(raw, None, &mut table);
        assert_eq!(table[&7777].l4proto, 1);
        assert_eq!(
            table[&7777].local,
            Some(SockAddr::Inet("0.0.0.0:0".parse().unwrap()))
        );
        assert_eq!(table[&7777].remote, None);
        let unix = "Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 4444 /run/a socket\n0000000000000000: 00000002 00000000 00010000 0001 01 5555 @abstract\n0000000000000000: 00000003 00000000 00000000 0001 03 6666\n";
        parse_unix_table(unix, &mut table);
        assert_eq!(
            table[&4444].local,
            Some(SockAddr::Unix(b"/run/a socket".to_vec()))
        );
        assert_eq!(
            table[&5555].local,
            Some(SockAddr::Unix(b"\0abstract".to_vec()))
        );
        assert_eq!(table[&6666].local, None);
        assert_eq!(table[&6666].kind, FdKind::Unix);
    }

    #[test]
    fn anonymous_inodes_are_classified() {
        assert_eq!(anon_kind(b"anon_inode:[eventfd]"), FdKind::EventFd);
        assert_eq!(anon_kind(b"anon_inode:inotify"), FdKind::Inotify);
        assert_eq!(anon_kind(b"anon_inode:[eventpoll]"), FdKind::EventPoll);
        assert_eq!(anon_kind(b"anon_inode:[timerfd]"), FdKind::TimerFd);
        assert_eq!(anon_kind(b"anon_inode:[signalfd]"), FdKind::SignalFd);
        assert_eq!(anon_kind(b"anon_inode:bpf-map"), FdKind::Other);
        assert_eq!(bracketed(b"pipe:[123]", b"pipe:"), Some(123));
        assert_eq!(bracketed(b"socket:[9]", b"pipe:"), None);
    }
}
