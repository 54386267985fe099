//! The metadata blocks of a scap file, decoded into the model's header and
//! state snapshot: the section header, machine info, the user list, the
//! process list (one entry per thread) and the fd lists, in every version
//! libscap has written. Versioned layouts that carry an entry length are
//! read up to it and skip what a newer writer appended.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rustc_hash::FxHashMap;

use crate::model::{
    FdInfo, FdKind, GroupInfo, MachineInfo, ProcessInfo, SockAddr, ThreadInfo, UserInfo,
};

/// Block type ids (`scap_savefile.h`), with the numbers used before the
/// format was registered where there were some.
pub(super) mod kind {
    pub(in super::super) const SECTION: u32 = 0x0A0D_0D0A;
    pub(in super::super) const MACHINE: u32 = 0x201;
    pub(in super::super) const MACHINE_OLD: u32 = 0x8002_ABCD;
    pub(in super::super) const PROCS_V1: u32 = 0x202;
    pub(in super::super) const PROCS_V1_OLD: u32 = 0x8000_ABCD;
    pub(in super::super) const PROCS_V2: u32 = 0x207;
    pub(in super::super) const PROCS_V2_OLD: u32 = 0x8013_ABCD;
    pub(in super::super) const PROCS_V3: u32 = 0x209;
    pub(in super::super) const PROCS_V3_OLD: u32 = 0x8014_ABCD;
    pub(in super::super) const PROCS_V4: u32 = 0x210;
    pub(in super::super) const PROCS_V9: u32 = 0x215;
    pub(in super::super) const FDS_V1: u32 = 0x203;
    pub(in super::super) const FDS_V1_OLD: u32 = 0x8001_ABCD;
    pub(in super::super) const FDS_V2: u32 = 0x218;
    pub(in super::super) const EVENT_V1: u32 = 0x204;
    pub(in super::super) const EVENT_V1_OLD: u32 = 0x8010_ABCD;
    pub(in super::super) const EVENT_V2: u32 = 0x216;
    pub(in super::super) const EVENT_V2_LARGE: u32 = 0x221;
    pub(in super::super) const EVENT_FLAGS_V1: u32 = 0x208;
    pub(in super::super) const EVENT_FLAGS_V2: u32 = 0x217;
    pub(in super::super) const EVENT_FLAGS_V2_LARGE: u32 = 0x222;
    pub(in super::super) const USERS_V1: u32 = 0x206;
    pub(in super::super) const USERS_V1_OLD: u32 = 0x8012_ABCD;
    pub(in super::super) const USERS_V2: u32 = 0x220;
}

/// The section header's byte-order magic as a little-endian writer puts it.
pub(super) const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// A damaged metadata entry: what was being read.
#[derive(Debug)]
pub(super) struct Short(pub(super) &'static str);

type MetaResult<T> = Result<T, Short>;

/// Little-endian reads over one block body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Le<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Le<'b> {
    pub(super) fn new(bytes: &'b [u8]) -> Self {
        Le { bytes, pos: 0 }
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(super) fn position(&self) -> usize {
        self.pos
    }

    pub(super) fn take(&mut self, n: usize, what: &'static str) -> MetaResult<&'b [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(Short(what))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> MetaResult<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self, what: &'static str) -> MetaResult<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(super) fn u16(&mut self, what: &'static str) -> MetaResult<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub(super) fn u32(&mut self, what: &'static str) -> MetaResult<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(super) fn u64(&mut self, what: &'static str) -> MetaResult<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A metadata string: u16 length, then the bytes without a NUL.
    fn str(&mut self, what: &'static str) -> MetaResult<&'b [u8]> {
        let len = self.u16(what)?;
        Ok(trim_nul(self.take(usize::from(len), what)?))
    }
}

/// Text without the NULs C writers leave at its end.
pub(super) fn trim_nul(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

/// The NUL-separated items of a list (argv, env, cgroups).
pub(super) fn split_nul(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    bytes.split(|&b| b == 0).filter(move |_| !bytes.is_empty())
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The machine info block.
pub(super) fn machine(body: &[u8]) -> MetaResult<MachineInfo> {
    let mut le = Le::new(body);
    let cpus = le.u32("machine info")?;
    let memory_bytes = le.u64("machine info")?;
    let _max_pid = le.u64("machine info")?;
    let hostname = trim_nul(le.take(128, "machine info")?);
    let hostname = &hostname[..hostname
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(hostname.len())];
    let boot_time_ns = le.u64("machine info").unwrap_or(0);
    Ok(MachineInfo {
        hostname: lossy(hostname),
        cpus,
        memory_bytes,
        boot_time_ns,
        ..MachineInfo::default()
    })
}

/// The user list: users and groups, appended to `users` and `groups`.
pub(super) fn users(
    body: &[u8],
    v2: bool,
    users: &mut Vec<UserInfo>,
    groups: &mut Vec<GroupInfo>,
) -> MetaResult<()> {
    let mut le = Le::new(body);
    while le.remaining() >= 4 {
        let entry_start = le.position();
        let entry_len = if v2 {
            le.u32("user entry length")? as usize
        } else {
            0
        };
        let kind = le.u8("user entry")?;
        match kind {
            0 => {
                let uid = le.u32("user")?;
                let gid = le.u32("user")?;
                let name = lossy(le.str("user name")?);
                let home = lossy(le.str("user home")?);
                let shell = lossy(le.str("user shell")?);
                users.push(UserInfo {
                    uid,
                    gid,
                    name,
                    home,
                    shell,
                });
            }
            1 => {
                let gid = le.u32("group")?;
                let name = lossy(le.str("group name")?);
                groups.push(GroupInfo { gid, name });
            }
            _ if v2 => {}
            _ => return Err(Short("user entry of an unknown kind")),
        }
        if v2 {
            skip_to(&mut le, entry_start, entry_len, "user entry")?;
        }
    }
    Ok(())
}

/// Moves past the rest of a length-prefixed entry (fields a newer writer
/// appended).
fn skip_to(le: &mut Le<'_>, start: usize, len: usize, what: &'static str) -> MetaResult<()> {
    let read = le.position() - start;
    if len < read {
        return Err(Short(what));
    }
    le.take(len - read, what).map(|_| ())
}

/// One thread of the process list.
#[derive(Debug, Default)]
pub(super) struct ThreadEntry {
    pub(super) tid: u64,
    pub(super) pid: u64,
    pub(super) process: ProcessInfo,
}

/// The version of a process list block: 1 to 9.
pub(super) fn procs_version(kind: u32) -> Option<u32> {
    Some(match kind {
        kind::PROCS_V1 | kind::PROCS_V1_OLD => 1,
        kind::PROCS_V2 | kind::PROCS_V2_OLD => 2,
        kind::PROCS_V3 | kind::PROCS_V3_OLD => 3,
        kind::PROCS_V4..=kind::PROCS_V9 => kind - kind::PROCS_V4 + 4,
        _ => return None,
    })
}

/// The process list: one entry per thread.
pub(super) fn procs(body: &[u8], version: u32, out: &mut Vec<ThreadEntry>) -> MetaResult<()> {
    let mut le = Le::new(body);
    while le.remaining() >= 4 {
        let start = le.position();
        let entry_len = if version >= 9 {
            le.u32("process entry length")? as usize
        } else {
            0
        };
        let what = "process entry";
        let tid = le.u64(what)?;
        let pid = le.u64(what)?;
        let ptid = le.u64(what)?;
        let sid = if version >= 6 { le.u64(what)? } else { 0 };
        let vpgid = if version >= 8 { le.u64(what)? } else { 0 };
        let comm = le.str(what)?.to_vec();
        let exe = le.str(what)?;
        let exepath = if version >= 7 { le.str(what)? } else { &[] };
        let args = le.str(what)?;
        let cwd = le.str(what)?.to_vec();
        let _fdlimit = le.u64(what)?;
        let _flags = le.u32(what)?;
        let uid = le.u32(what)?;
        let gid = le.u32(what)?;
        let mut vpid = pid;
        let mut cgroups: &[u8] = &[];
        if version >= 2 {
            le.take(4 * 3 + 8 * 2, what)?; // memory and page fault counters
            if version >= 3 {
                le.str(what)?; // the environment is not kept
            }
            if version >= 4 {
                let _vtid = le.u64(what)?;
                let raw_vpid = le.u64(what)? as i64;
                if let Ok(v) = u64::try_from(raw_vpid) {
                    vpid = v;
                }
                cgroups = le.str(what)?;
                if version >= 5 {
                    le.str(what)?; // root
                }
            }
        }
        let mut process = ProcessInfo {
            pid: pid as u32,
            ppid: ptid as u32,
            vpid: vpid as u32,
            sid: sid as u32,
            pgid: vpgid as u32,
            comm,
            exe: if exepath.is_empty() { exe } else { exepath }.to_vec(),
            args: std::iter::once(exe)
                .chain(split_nul(args))
                .map(<[u8]>::to_vec)
                .collect(),
            cwd,
            uid,
            euid: uid,
            gid,
            egid: gid,
            loginuid: u32::MAX,
            cgroup: cgroup_path(cgroups).to_vec(),
            ..ProcessInfo::default()
        };
        if version >= 9 {
            let fits = |le: &Le<'_>, n: usize| le.position() - start + n <= entry_len;
            // Libs 0.10 inserted two fields before loginuid; older files
            // are told apart by how little is left.
            if entry_len - (le.position() - start) > 29 {
                if fits(&le, 8) {
                    le.u64(what)?;
                }
                if fits(&le, 4) {
                    process.tty = le.u32(what)?;
                }
            }
            if fits(&le, 4) {
                process.loginuid = le.u32(what)?;
            }
            if fits(&le, 1) {
                le.u8(what)?;
            }
            if fits(&le, 24) {
                process.cap_inheritable = le.u64(what)?;
                process.cap_permitted = le.u64(what)?;
                process.cap_effective = le.u64(what)?;
            }
            skip_to(&mut le, start, entry_len, what)?;
        }
        out.push(ThreadEntry { tid, pid, process });
    }
    Ok(())
}

/// The path of the first controller of a cgroup list (`cpuset=/docker/…`),
/// where container ids show.
pub(super) fn cgroup_path(cgroups: &[u8]) -> &[u8] {
    let first = split_nul(cgroups).next().unwrap_or_default();
    match first.iter().position(|&b| b == b'=') {
        Some(at) => &first[at + 1..],
        None => first,
    }
}

/// libscap's fd types.
mod fd_type {
    pub(super) const FILE: u8 = 1;
    pub(super) const DIRECTORY: u8 = 2;
    pub(super) const IPV4_SOCK: u8 = 3;
    pub(super) const IPV6_SOCK: u8 = 4;
    pub(super) const IPV4_SERVSOCK: u8 = 5;
    pub(super) const IPV6_SERVSOCK: u8 = 6;
    pub(super) const FIFO: u8 = 7;
    pub(super) const UNIX_SOCK: u8 = 8;
    pub(super) const EVENT: u8 = 9;
    pub(super) const SIGNALFD: u8 = 11;
    pub(super) const EVENTPOLL: u8 = 12;
    pub(super) const INOTIFY: u8 = 13;
    pub(super) const TIMERFD: u8 = 14;
    pub(super) const NETLINK: u8 = 15;
    pub(super) const FILE_V2: u8 = 16;
    pub(super) const MEMFD: u8 = 20;
}

/// libscap's layer-4 protocol codes as IP protocol numbers.
pub(super) fn l4proto(code: u8) -> u8 {
    match code {
        2 => 6,
        3 => 17,
        4 => 1,
        5 => 255,
        _ => 0,
    }
}

/// An fd list entry before its socket's role is known.
#[derive(Debug)]
pub(super) struct FdEntry {
    pub(super) info: FdInfo,
    /// For a connected IP socket, the tuple as libscap keeps it: the
    /// client's end first.
    pub(super) tuple: Option<(SocketAddr, SocketAddr)>,
}

fn v4(bytes: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(bytes)), port)
}

fn v6(bytes: [u8; 16], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V6(Ipv6Addr::from(bytes)), port)
}

/// One fd list block: the fds of thread `tid`'s process.
pub(super) fn fds(body: &[u8], v2: bool, out: &mut Vec<FdEntry>) -> MetaResult<u64> {
    let mut le = Le::new(body);
    let tid = le.u64("fd list")?;
    while le.remaining() >= 4 {
        let start = le.position();
        let entry_len = if v2 {
            le.u32("fd entry length")? as usize
        } else {
            0
        };
        let what = "fd entry";
        let fd = le.u64(what)? as i64;
        let ino = le.u64(what)?;
        let ty = le.u8(what)?;
        let mut info = FdInfo {
            fd: fd as i32,
            ino,
            ..FdInfo::default()
        };
        let mut tuple = None;
        match ty {
            fd_type::IPV4_SOCK => {
                let sip = le.array::<4>(what)?;
                let dip = le.array::<4>(what)?;
                let (sport, dport) = (le.u16(what)?, le.u16(what)?);
                info.kind = FdKind::Ipv4;
                info.l4proto = l4proto(le.u8(what)?);
                tuple = Some((v4(sip, sport), v4(dip, dport)));
            }
            fd_type::IPV6_SOCK => {
                let sip = le.array::<16>(what)?;
                let dip = le.array::<16>(what)?;
                let (sport, dport) = (le.u16(what)?, le.u16(what)?);
                info.kind = FdKind::Ipv6;
                info.l4proto = l4proto(le.u8(what)?);
                tuple = Some((v6(sip, sport), v6(dip, dport)));
            }
            fd_type::IPV4_SERVSOCK => {
                let ip = le.array::<4>(what)?;
                let port = le.u16(what)?;
                info.kind = FdKind::Ipv4;
                info.l4proto = l4proto(le.u8(what)?);
                info.local = Some(SockAddr::Inet(v4(ip, port)));
            }
            fd_type::IPV6_SERVSOCK => {
                let ip = le.array::<16>(what)?;
                let port = le.u16(what)?;
                info.kind = FdKind::Ipv6;
                info.l4proto = l4proto(le.u8(what)?);
                info.local = Some(SockAddr::Inet(v6(ip, port)));
            }
            fd_type::UNIX_SOCK => {
                le.take(16, what)?; // kernel socket addresses
                info.kind = FdKind::Unix;
                info.name = le.str(what)?.to_vec();
            }
            fd_type::FILE_V2 => {
                info.flags = super::events::open_flags(u64::from(le.u32(what)?)) as u32;
                info.kind = FdKind::File;
                info.name = le.str(what)?.to_vec();
                if v2 && le.position() - start + 4 <= entry_len {
                    le.u32(what)?;
                }
            }
            1..=21 => {
                info.kind = match ty {
                    fd_type::FILE => FdKind::File,
                    fd_type::DIRECTORY => FdKind::Directory,
                    fd_type::FIFO => FdKind::Pipe,
                    fd_type::EVENT => FdKind::EventFd,
                    fd_type::SIGNALFD => FdKind::SignalFd,
                    fd_type::EVENTPOLL => FdKind::EventPoll,
                    fd_type::INOTIFY => FdKind::Inotify,
                    fd_type::TIMERFD => FdKind::TimerFd,
                    fd_type::NETLINK => FdKind::Netlink,
                    fd_type::MEMFD => FdKind::Memfd,
                    _ => FdKind::Other,
                };
                info.name = le.str(what)?.to_vec();
            }
            // A type from a newer writer: only a length says where it ends.
            _ if v2 => info.kind = FdKind::Other,
            _ => return Err(Short("fd entry of an unknown type")),
        }
        if v2 {
            skip_to(&mut le, start, entry_len, what)?;
        }
        out.push(FdEntry { info, tuple });
    }
    Ok(tid)
}

/// Gives each connected socket of the fd lists its local and remote end:
/// a process that listens on the tuple's server port is the server.
pub(super) fn resolve_sockets(fds: &mut [FdEntry]) {
    let mut listening: FxHashMap<u32, Vec<u16>> = FxHashMap::default();
    for entry in fds.iter() {
        if let (Some(SockAddr::Inet(local)), None) = (&entry.info.local, &entry.tuple) {
            listening
                .entry(entry.info.pid)
                .or_default()
                .push(local.port());
        }
    }
    for entry in fds.iter_mut() {
        let Some((client, server)) = entry.tuple else {
            continue;
        };
        let is_server = listening
            .get(&entry.info.pid)
            .is_some_and(|ports| ports.contains(&server.port()));
        let (local, remote) = if is_server {
            (server, client)
        } else {
            (client, server)
        };
        entry.info.local = Some(SockAddr::Inet(local));
        entry.info.remote = Some(SockAddr::Inet(remote));
    }
}

/// Builds the snapshot's processes and threads from the thread entries.
pub(super) fn processes(threads: Vec<ThreadEntry>) -> (Vec<ProcessInfo>, Vec<ThreadInfo>) {
    let mut processes = Vec::new();
    let mut infos = Vec::with_capacity(threads.len());
    for entry in threads {
        infos.push(ThreadInfo {
            tid: entry.tid as u32,
            tgid: entry.pid as u32,
            comm: entry.process.comm.clone(),
        });
        if entry.tid == entry.pid {
            processes.push(entry.process);
        }
    }
    (processes, infos)
}
