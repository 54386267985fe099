//! The field catalog: every field a filter or an output format can name,
//! with its type and description (`scry fields`), how its name and argument
//! are resolved when a filter is compiled, and how its value is extracted
//! from an event and the reconstructed state.
//!
//! Names and meanings follow sysdig and Falco so that their filters and
//! rules carry over. Fields whose data scry does not capture are listed
//! with a description that says so and are never extractable.

use std::borrow::Cow;
use std::cell::Cell;
use std::net::IpAddr;

use scry_format::{EventTable, EventView, FdKind, SockAddr, SockAddrRef, ValueRef};

use crate::state::{FdEntry, Process, ProcessRef, State};
use crate::types::{TypeInfo, TypeTable};
use crate::value::{FieldType, Value};

/// What argument a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// None.
    None,
    /// Required: a parameter name or index (`evt.arg.fd`, `evt.arg[0]`).
    Param,
    /// Optional ancestor level (`proc.aname[2]`; without it, any ancestor).
    Ancestor,
    /// Required: an event type name (`evt.type.is.open`).
    EventType,
}

/// One field of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: FieldType,
    /// Its argument.
    pub arg: ArgKind,
    /// What it means.
    pub doc: &'static str,
    id: Which,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    EvtNum,
    EvtTime,
    EvtOutputtime,
    EvtDatetime,
    EvtRawtime,
    EvtReltime,
    EvtLatency,
    EvtDir,
    EvtType,
    EvtTypeIs,
    SyscallType,
    EvtCategory,
    EvtCpu,
    EvtArgs,
    EvtInfo,
    EvtArg,
    EvtRawarg,
    EvtRes,
    EvtRawres,
    EvtFailed,
    EvtIsIo,
    EvtIsIoRead,
    EvtIsIoWrite,
    EvtIoDir,
    EvtIsWait,
    EvtIsOpenRead,
    EvtIsOpenWrite,
    EvtIsOpenExec,
    EvtIsOpenCreate,
    EvtBuffer,
    EvtBuflen,
    EvtCount,
    EvtHostname,
    ProcPid,
    ProcPpid,
    ProcVpid,
    ProcMntns,
    ProcName,
    ProcPname,
    ProcAname,
    ProcApid,
    ProcExe,
    ProcPexe,
    ProcAexe,
    ProcExepath,
    ProcPexepath,
    ProcAexepath,
    ProcArgs,
    ProcCmdline,
    ProcPcmdline,
    ProcAcmdline,
    ProcExeline,
    ProcCmdnargs,
    ProcCwd,
    ProcTty,
    ProcSid,
    ProcSname,
    ProcPgid,
    ProcLoginshellid,
    ProcDuration,
    ProcPidTs,
    ProcIsExeFromMemfd,
    ProcIsExeUpperLayer,
    ProcIsSidLeader,
    ThreadTid,
    ThreadVtid,
    ThreadIsmain,
    ThreadCapEffective,
    ThreadCapPermitted,
    ThreadCapInheritable,
    FdNum,
    FdType,
    FdTypechar,
    FdName,
    FdNameraw,
    FdDirectory,
    FdFilename,
    FdIp,
    FdCip,
    FdSip,
    FdLip,
    FdRip,
    FdPort,
    FdCport,
    FdSport,
    FdLport,
    FdRport,
    FdNet,
    FdCnet,
    FdSnet,
    FdLnet,
    FdRnet,
    FdL4proto,
    FdSockfamily,
    FdIsServer,
    FdConnected,
    FdNameChanged,
    FdSipName,
    FsPathName,
    FsPathSource,
    FsPathTarget,
    UserUid,
    UserName,
    UserHomedir,
    UserShell,
    UserLoginuid,
    UserLoginname,
    GroupGid,
    GroupName,
    ContainerId,
    ContainerName,
    ContainerImage,
    ContainerImageRepository,
    ContainerType,
    ContainerPrivileged,
    ContainerStartTs,
    ProcPpidDuration,
    ProcVpgid,
    ProcVpgidName,
    ProcVpgidExe,
    ProcIsVpgidLeader,
    NotCaptured,
}

const fn def(
    name: &'static str,
    ty: FieldType,
    arg: ArgKind,
    id: Which,
    doc: &'static str,
) -> FieldDef {
    FieldDef {
        name,
        ty,
        arg,
        doc,
        id,
    }
}

use ArgKind as A;
use FieldType as T;

/// Every field, in the order `scry fields` lists them.
pub static FIELDS: &[FieldDef] = &[
    def(
        "evt.num",
        T::Num,
        A::None,
        Which::EvtNum,
        "Number of the event in the trace, from 1.",
    ),
    def(
        "evt.time",
        T::Str,
        A::None,
        Which::EvtTime,
        "Time of the event, HH:MM:SS.nnnnnnnnn (UTC).",
    ),
    def(
        "evt.outputtime",
        T::Str,
        A::None,
        Which::EvtOutputtime,
        "Print-only (-p): the event's time as -t shows it: h clock time (the default, as evt.time), a seconds since the epoch, r since the first event, d the call's latency, D since the previous printed event; in -j the raw ns. Filters use evt.rawtime, evt.time or evt.reltime instead.",
    ),
    def(
        "evt.datetime",
        T::Str,
        A::None,
        Which::EvtDatetime,
        "Date and time of the event, YYYY-MM-DD HH:MM:SS.nnnnnnnnn (UTC).",
    ),
    def(
        "evt.rawtime",
        T::Num,
        A::None,
        Which::EvtRawtime,
        "Time of the event in ns since the Unix epoch (at syscall exit).",
    ),
    def(
        "evt.reltime",
        T::Num,
        A::None,
        Which::EvtReltime,
        "Time of the event in ns since the first event of the trace.",
    ),
    def(
        "evt.latency",
        T::Num,
        A::None,
        Which::EvtLatency,
        "Time spent in the syscall, in ns (0 when the entry was not seen).",
    ),
    def(
        "evt.dir",
        T::Str,
        A::None,
        Which::EvtDir,
        "Event direction, as sysdig shows it: '<' (exit) for every syscall, which scry records once, at its exit, with the arguments of its entry, so filters written with evt.dir=< keep working; '>' for procexit, which sysdig also reports as an entry event. evt.dir=> therefore selects procexit events only (scry warns when a filter asks for it); values other than < and > are an error.",
    ),
    def(
        "evt.type",
        T::Str,
        A::None,
        Which::EvtType,
        "Event type: the syscall name (openat, execve…) or procexit.",
    ),
    def(
        "evt.type.is",
        T::Num,
        A::EventType,
        Which::EvtTypeIs,
        "1 if the event is of the type named in the argument (evt.type.is.open), else 0.",
    ),
    def(
        "syscall.type",
        T::Str,
        A::None,
        Which::SyscallType,
        "The syscall name; missing for events that are not syscalls (procexit).",
    ),
    def(
        "evt.category",
        T::Str,
        A::None,
        Which::EvtCategory,
        "Event class: file, net, ipc, memory, process, wait, signal, system, user, time or other; I/O events take the class of their fd.",
    ),
    def(
        "evt.cpu",
        T::Num,
        A::None,
        Which::EvtCpu,
        "CPU the event was recorded on.",
    ),
    def(
        "evt.args",
        T::Str,
        A::None,
        Which::EvtArgs,
        "Every parameter rendered as name=value, with the result first (res=).",
    ),
    def(
        "evt.info",
        T::Str,
        A::None,
        Which::EvtInfo,
        "Same as evt.args.",
    ),
    def(
        "evt.arg",
        T::Str,
        A::Param,
        Which::EvtArg,
        "One parameter as text, by name (evt.arg.fd) or position (evt.arg[0]), resolved as sysdig resolves it: an fd as its kind and name (<f>/etc/hosts, <4t>10.0.0.5:43210->93.184.216.34:443), AT_FDCWD, or the errno name of a failed one (EBADF), its number when scry does not know it; flags and enums by name (O_WRONLY|O_CREAT|O_TRUNC, AF_INET, PTRACE_ATTACH, RDONLY|BIND); modes in octal (0644). evt.arg.res is the result: the errno name of a failure, the fd a call returned, else the number. evt.args shows number and name together (fd=3(<f>/etc/hosts)); evt.rawarg has the raw value. Falco's names work where scry records another (a symlink's target and linkpath).",
    ),
    def(
        "evt.rawarg",
        T::Str,
        A::Param,
        Which::EvtRawarg,
        "One parameter as its raw value, by name (evt.rawarg.size): numbers compare as numbers (fds are their numbers, flags the Linux values), in lists too; evt.rawarg.res is the return value.",
    ),
    def(
        "evt.res",
        T::Str,
        A::None,
        Which::EvtRes,
        "Result: SUCCESS, or the errno name of a failure (ENOENT).",
    ),
    def(
        "evt.rawres",
        T::Num,
        A::None,
        Which::EvtRawres,
        "The syscall's return value as a number.",
    ),
    def(
        "evt.failed",
        T::Bool,
        A::None,
        Which::EvtFailed,
        "Whether the syscall failed (returned an error).",
    ),
    def(
        "evt.is_io",
        T::Bool,
        A::None,
        Which::EvtIsIo,
        "Whether the event reads or writes data through an fd.",
    ),
    def(
        "evt.is_io_read",
        T::Bool,
        A::None,
        Which::EvtIsIoRead,
        "Whether the event reads data through an fd.",
    ),
    def(
        "evt.is_io_write",
        T::Bool,
        A::None,
        Which::EvtIsIoWrite,
        "Whether the event writes data through an fd.",
    ),
    def(
        "evt.io_dir",
        T::Str,
        A::None,
        Which::EvtIoDir,
        "r for reads, w for writes; missing for other events.",
    ),
    def(
        "evt.is_wait",
        T::Bool,
        A::None,
        Which::EvtIsWait,
        "Whether the event makes the thread wait (sleep, poll, futex, wait4…).",
    ),
    def(
        "evt.is_open_read",
        T::Bool,
        A::None,
        Which::EvtIsOpenRead,
        "Whether an open-family call opened for reading.",
    ),
    def(
        "evt.is_open_write",
        T::Bool,
        A::None,
        Which::EvtIsOpenWrite,
        "Whether an open-family call opened for writing.",
    ),
    def(
        "evt.is_open_exec",
        T::Bool,
        A::None,
        Which::EvtIsOpenExec,
        "Whether an open-family call opened for execution (O_EXEC is not used on Linux: false).",
    ),
    def(
        "evt.is_open_create",
        T::Bool,
        A::None,
        Which::EvtIsOpenCreate,
        "Whether an open-family call could create the file (O_CREAT or O_TMPFILE).",
    ),
    def(
        "evt.buffer",
        T::Bytes,
        A::None,
        Which::EvtBuffer,
        "The data of an I/O event, cut at the capture's snaplen.",
    ),
    def(
        "evt.buflen",
        T::Num,
        A::None,
        Which::EvtBuflen,
        "Bytes moved by an I/O event (its return value when not negative).",
    ),
    def(
        "evt.count",
        T::Num,
        A::None,
        Which::EvtCount,
        "Always 1: summed in tables.",
    ),
    def(
        "evt.hostname",
        T::Str,
        A::None,
        Which::EvtHostname,
        "Host name of the machine the trace was recorded on.",
    ),
    def(
        "proc.pid",
        T::Num,
        A::None,
        Which::ProcPid,
        "Process id (thread group id).",
    ),
    def(
        "proc.ppid",
        T::Num,
        A::None,
        Which::ProcPpid,
        "Parent process id.",
    ),
    def(
        "proc.vpid",
        T::Num,
        A::None,
        Which::ProcVpid,
        "Process id inside its pid namespace (known for processes in the snapshot).",
    ),
    def(
        "proc.mntns",
        T::Num,
        A::None,
        Which::ProcMntns,
        "Mount namespace of the process (inode number of /proc/PID/ns/mnt; known for processes in the snapshot and their forks).",
    ),
    def(
        "proc.name",
        T::Str,
        A::None,
        Which::ProcName,
        "Process name (the kernel's comm: at most 15 bytes); missing for a process first seen mid-life until its exec, as are its exe, exepath, args and command line.",
    ),
    def(
        "proc.pname",
        T::Str,
        A::None,
        Which::ProcPname,
        "Parent's process name.",
    ),
    def(
        "proc.aname",
        T::Str,
        A::Ancestor,
        Which::ProcAname,
        "Name of ancestor N (proc.aname[2]: the grandparent; [0] is the process); without N, matches any ancestor.",
    ),
    def(
        "proc.apid",
        T::Num,
        A::Ancestor,
        Which::ProcApid,
        "Pid of ancestor N; without N, matches any ancestor.",
    ),
    def(
        "proc.exe",
        T::Str,
        A::None,
        Which::ProcExe,
        "The executable as given to execve (first argument).",
    ),
    def(
        "proc.pexe",
        T::Str,
        A::None,
        Which::ProcPexe,
        "Parent's proc.exe.",
    ),
    def(
        "proc.aexe",
        T::Str,
        A::Ancestor,
        Which::ProcAexe,
        "proc.exe of ancestor N; without N, matches any ancestor.",
    ),
    def(
        "proc.exepath",
        T::Str,
        A::None,
        Which::ProcExepath,
        "Full path of the executable.",
    ),
    def(
        "proc.pexepath",
        T::Str,
        A::None,
        Which::ProcPexepath,
        "Parent's proc.exepath.",
    ),
    def(
        "proc.aexepath",
        T::Str,
        A::Ancestor,
        Which::ProcAexepath,
        "proc.exepath of ancestor N; without N, matches any ancestor.",
    ),
    def(
        "proc.args",
        T::Str,
        A::None,
        Which::ProcArgs,
        "Command line arguments without argv[0], space-separated.",
    ),
    def(
        "proc.cmdline",
        T::Str,
        A::None,
        Which::ProcCmdline,
        "Process name and arguments.",
    ),
    def(
        "proc.pcmdline",
        T::Str,
        A::None,
        Which::ProcPcmdline,
        "Parent's proc.cmdline.",
    ),
    def(
        "proc.acmdline",
        T::Str,
        A::Ancestor,
        Which::ProcAcmdline,
        "proc.cmdline of ancestor N; without N, matches any ancestor.",
    ),
    def(
        "proc.exeline",
        T::Str,
        A::None,
        Which::ProcExeline,
        "proc.exe and arguments.",
    ),
    def(
        "proc.cmdnargs",
        T::Num,
        A::None,
        Which::ProcCmdnargs,
        "Number of command line arguments.",
    ),
    def(
        "proc.cwd",
        T::Str,
        A::None,
        Which::ProcCwd,
        "Current working directory.",
    ),
    def(
        "proc.tty",
        T::Num,
        A::None,
        Which::ProcTty,
        "Controlling terminal (major << 20 | minor), 0 without one.",
    ),
    def(
        "proc.sid",
        T::Num,
        A::None,
        Which::ProcSid,
        "Session id (known for processes in the snapshot and their children).",
    ),
    def(
        "proc.sname",
        T::Str,
        A::None,
        Which::ProcSname,
        "Name of the session leader.",
    ),
    def(
        "proc.pgid",
        T::Num,
        A::None,
        Which::ProcPgid,
        "Process group id.",
    ),
    def(
        "proc.loginshellid",
        T::Num,
        A::None,
        Which::ProcLoginshellid,
        "Pid of the oldest shell among the ancestors: groups what one login session did.",
    ),
    def(
        "proc.duration",
        T::Num,
        A::None,
        Which::ProcDuration,
        "ns since the process started.",
    ),
    def(
        "proc.pid.ts",
        T::Num,
        A::None,
        Which::ProcPidTs,
        "Start time of the process, ns since the epoch.",
    ),
    def(
        "proc.is_exe_from_memfd",
        T::Bool,
        A::None,
        Which::ProcIsExeFromMemfd,
        "Whether the executable is a memfd (fileless execution).",
    ),
    def(
        "proc.is_exe_upper_layer",
        T::Bool,
        A::None,
        Which::ProcIsExeUpperLayer,
        "Whether the executable is in an overlayfs upper layer: not captured by scry, never extractable.",
    ),
    def(
        "proc.is_sid_leader",
        T::Bool,
        A::None,
        Which::ProcIsSidLeader,
        "Whether the process leads its session.",
    ),
    def(
        "proc.ppid.duration",
        T::Num,
        A::None,
        Which::ProcPpidDuration,
        "ns since the parent process started.",
    ),
    def(
        "proc.vpgid",
        T::Num,
        A::None,
        Which::ProcVpgid,
        "Process group id (as seen from the host: scry records no namespace view of it).",
    ),
    def(
        "proc.vpgid.name",
        T::Str,
        A::None,
        Which::ProcVpgidName,
        "Name of the process group leader.",
    ),
    def(
        "proc.vpgid.exe",
        T::Str,
        A::None,
        Which::ProcVpgidExe,
        "proc.exe of the process group leader.",
    ),
    def(
        "proc.is_vpgid_leader",
        T::Bool,
        A::None,
        Which::ProcIsVpgidLeader,
        "Whether the process leads its process group.",
    ),
    def(
        "proc.exe_ino",
        T::Num,
        A::None,
        Which::NotCaptured,
        "Inode of the executable: not captured by scry, never extractable.",
    ),
    def(
        "proc.exe_ino.ctime",
        T::Num,
        A::None,
        Which::NotCaptured,
        "Change time of the executable's inode: not captured by scry, never extractable.",
    ),
    def(
        "proc.exe_ino.mtime",
        T::Num,
        A::None,
        Which::NotCaptured,
        "Modification time of the executable's inode: not captured by scry, never extractable.",
    ),
    def(
        "proc.exe_ino.ctime_duration_proc_start",
        T::Num,
        A::None,
        Which::NotCaptured,
        "Time between the executable's inode change and the process start: not captured by scry, never extractable.",
    ),
    def(
        "thread.tid",
        T::Num,
        A::None,
        Which::ThreadTid,
        "Thread id.",
    ),
    def(
        "thread.vtid",
        T::Num,
        A::None,
        Which::ThreadVtid,
        "Thread id inside its pid namespace (the host id when unknown).",
    ),
    def(
        "thread.ismain",
        T::Bool,
        A::None,
        Which::ThreadIsmain,
        "Whether the thread is its process' main thread.",
    ),
    def(
        "thread.cap_effective",
        T::Str,
        A::None,
        Which::ThreadCapEffective,
        "Effective capability set as libsinsp shows it: the names of its capabilities in bit order, separated by spaces (CAP_CHOWN CAP_DAC_OVERRIDE …), empty for none, missing for a process first seen mid-life until its exec or capset; thread.cap_effective contains CAP_SYS_ADMIN tests one. Set at exec and capset, inherited across fork.",
    ),
    def(
        "thread.cap_permitted",
        T::Str,
        A::None,
        Which::ThreadCapPermitted,
        "Permitted capability set as libsinsp shows it: the names of its capabilities in bit order, separated by spaces (CAP_CHOWN CAP_DAC_OVERRIDE …), empty for none, missing for a process first seen mid-life until its exec or capset; thread.cap_permitted contains CAP_SYS_ADMIN tests one. Set at exec and capset, inherited across fork.",
    ),
    def(
        "thread.cap_inheritable",
        T::Str,
        A::None,
        Which::ThreadCapInheritable,
        "Inheritable capability set as libsinsp shows it: the names of its capabilities in bit order, separated by spaces (CAP_CHOWN CAP_DAC_OVERRIDE …), empty for none, missing for a process first seen mid-life until its exec or capset; thread.cap_inheritable contains CAP_SYS_ADMIN tests one. Set at exec and capset, inherited across fork.",
    ),
    def(
        "fd.num",
        T::Num,
        A::None,
        Which::FdNum,
        "The fd the event operates on (for calls that create one, the new fd); -1 for a failed open, whose fd.* fields describe the file it asked for (fd.type file, fd.name its path resolved against the dirfd or cwd), as libsinsp has them.",
    ),
    def(
        "fd.type",
        T::Str,
        A::None,
        Which::FdType,
        "Kind of the fd: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, timerfd, netlink, memfd, other.",
    ),
    def(
        "fd.typechar",
        T::Str,
        A::None,
        Which::FdTypechar,
        "Kind as one character: f d 4 6 u p e s l i t n m o.",
    ),
    def(
        "fd.name",
        T::Str,
        A::None,
        Which::FdName,
        "File path, socket tuple (client->server), unix path or pipe name.",
    ),
    def(
        "fd.nameraw",
        T::Str,
        A::None,
        Which::FdNameraw,
        "The path as the open call gave it (possibly relative).",
    ),
    def(
        "fd.directory",
        T::Str,
        A::None,
        Which::FdDirectory,
        "Directory of a file fd.",
    ),
    def(
        "fd.filename",
        T::Str,
        A::None,
        Which::FdFilename,
        "File name of a file fd, without its directory.",
    ),
    def(
        "fd.ip",
        T::Ip,
        A::None,
        Which::FdIp,
        "Either address of a socket (filter only).",
    ),
    def(
        "fd.cip",
        T::Ip,
        A::None,
        Which::FdCip,
        "Client address of a socket.",
    ),
    def(
        "fd.sip",
        T::Ip,
        A::None,
        Which::FdSip,
        "Server address of a socket.",
    ),
    def(
        "fd.lip",
        T::Ip,
        A::None,
        Which::FdLip,
        "Local address of a socket.",
    ),
    def(
        "fd.rip",
        T::Ip,
        A::None,
        Which::FdRip,
        "Remote address of a socket.",
    ),
    def(
        "fd.port",
        T::Num,
        A::None,
        Which::FdPort,
        "Either port of a socket (filter only).",
    ),
    def(
        "fd.cport",
        T::Num,
        A::None,
        Which::FdCport,
        "Client port of a socket.",
    ),
    def(
        "fd.sport",
        T::Num,
        A::None,
        Which::FdSport,
        "Server port of a socket.",
    ),
    def(
        "fd.lport",
        T::Num,
        A::None,
        Which::FdLport,
        "Local port of a socket.",
    ),
    def(
        "fd.rport",
        T::Num,
        A::None,
        Which::FdRport,
        "Remote port of a socket.",
    ),
    def(
        "fd.net",
        T::Ip,
        A::None,
        Which::FdNet,
        "Either address, compared against networks (fd.net=10.0.0.0/8) (filter only).",
    ),
    def(
        "fd.cnet",
        T::Ip,
        A::None,
        Which::FdCnet,
        "Client address, compared against networks.",
    ),
    def(
        "fd.snet",
        T::Ip,
        A::None,
        Which::FdSnet,
        "Server address, compared against networks.",
    ),
    def(
        "fd.lnet",
        T::Ip,
        A::None,
        Which::FdLnet,
        "Local address, compared against networks.",
    ),
    def(
        "fd.rnet",
        T::Ip,
        A::None,
        Which::FdRnet,
        "Remote address, compared against networks.",
    ),
    def(
        "fd.l4proto",
        T::Str,
        A::None,
        Which::FdL4proto,
        "Transport protocol of a socket: tcp, udp, or unknown.",
    ),
    def(
        "fd.sockfamily",
        T::Str,
        A::None,
        Which::FdSockfamily,
        "Socket family: ip or unix.",
    ),
    def(
        "fd.is_server",
        T::Bool,
        A::None,
        Which::FdIsServer,
        "Whether the process is the server end of the socket.",
    ),
    def(
        "fd.connected",
        T::Bool,
        A::None,
        Which::FdConnected,
        "Whether the socket is connected (has a remote address).",
    ),
    def(
        "fd.name_changed",
        T::Bool,
        A::None,
        Which::FdNameChanged,
        "Whether the event changed the fd's name (connect, bind).",
    ),
    def(
        "fd.sip.name",
        T::Str,
        A::None,
        Which::FdSipName,
        "DNS name of the server address: needs a live DNS cache, never extractable offline.",
    ),
    def(
        "fs.path.name",
        T::Str,
        A::None,
        Which::FsPathName,
        "The path a file system call operated on, made absolute with the process' cwd.",
    ),
    def(
        "fs.path.source",
        T::Str,
        A::None,
        Which::FsPathSource,
        "Source path of rename/link/symlink calls.",
    ),
    def(
        "fs.path.target",
        T::Str,
        A::None,
        Which::FsPathTarget,
        "Target path of rename/link/symlink calls.",
    ),
    def(
        "user.uid",
        T::Num,
        A::None,
        Which::UserUid,
        "Effective user id of the process.",
    ),
    def(
        "user.name",
        T::Str,
        A::None,
        Which::UserName,
        "Name of the effective user, from the trace's user table.",
    ),
    def(
        "user.homedir",
        T::Str,
        A::None,
        Which::UserHomedir,
        "Home directory of the effective user.",
    ),
    def(
        "user.shell",
        T::Str,
        A::None,
        Which::UserShell,
        "Login shell of the effective user.",
    ),
    def(
        "user.loginuid",
        T::Num,
        A::None,
        Which::UserLoginuid,
        "Audit login uid (-1 when unset).",
    ),
    def(
        "user.loginname",
        T::Str,
        A::None,
        Which::UserLoginname,
        "Name of the audit login user.",
    ),
    def(
        "group.gid",
        T::Num,
        A::None,
        Which::GroupGid,
        "Effective group id of the process.",
    ),
    def(
        "group.name",
        T::Str,
        A::None,
        Which::GroupName,
        "Name of the effective group, from the trace's group table.",
    ),
    def(
        "container.id",
        T::Str,
        A::None,
        Which::ContainerId,
        "Container id, or host.",
    ),
    def(
        "container.name",
        T::Str,
        A::None,
        Which::ContainerName,
        "Container name, or host.",
    ),
    def(
        "container.image",
        T::Str,
        A::None,
        Which::ContainerImage,
        "Container image reference.",
    ),
    def(
        "container.image.repository",
        T::Str,
        A::None,
        Which::ContainerImageRepository,
        "Image reference without its tag or digest.",
    ),
    def(
        "container.type",
        T::Str,
        A::None,
        Which::ContainerType,
        "Container runtime: docker, containerd, cri-o, podman…",
    ),
    def(
        "container.privileged",
        T::Bool,
        A::None,
        Which::ContainerPrivileged,
        "Whether the container runs privileged.",
    ),
    def(
        "container.start_ts",
        T::Num,
        A::None,
        Which::ContainerStartTs,
        "Container start time, ns since the epoch.",
    ),
    def(
        "k8s.ns.name",
        T::Str,
        A::None,
        Which::NotCaptured,
        "Kubernetes namespace: scry records no Kubernetes metadata yet, never extractable.",
    ),
    def(
        "k8s.pod.name",
        T::Str,
        A::None,
        Which::NotCaptured,
        "Kubernetes pod name: scry records no Kubernetes metadata yet, never extractable.",
    ),
];

/// A field as named in a filter, resolved against the catalog.
#[derive(Debug, Clone)]
pub struct Field {
    def: &'static FieldDef,
    arg: Arg,
    shape: Shape,
}

/// What kind of value a field produces, which decides how it is read: the
/// filter evaluator reads numbers, flags and text borrowed from the event
/// or the state through [`Field::num`], [`Field::flag`] and [`Field::text`],
/// without building a [`Value`] or allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A number.
    Num,
    /// A boolean.
    Flag,
    /// Text borrowed from the event, the state or a constant.
    Text,
    /// Anything else: text built per event, addresses, buffers, fields
    /// that are never extractable.
    Other,
}

impl Shape {
    fn of(id: Which) -> Shape {
        use Which::*;
        match id {
            EvtNum | EvtRawtime | EvtReltime | EvtLatency | EvtTypeIs | EvtCpu | EvtRawres
            | EvtBuflen | EvtCount | ProcPid | ProcPpid | ProcVpid | ProcMntns | ProcApid
            | ProcCmdnargs | ProcTty | ProcSid | ProcPgid | ProcLoginshellid | ProcDuration
            | ProcPidTs | ProcPpidDuration | ProcVpgid | ThreadTid | ThreadVtid | FdNum
            | FdPort | FdCport | FdSport | FdLport | FdRport | UserUid | UserLoginuid
            | GroupGid | ContainerStartTs => Shape::Num,
            EvtFailed | EvtIsIo | EvtIsIoRead | EvtIsIoWrite | EvtIsWait | EvtIsOpenRead
            | EvtIsOpenWrite | EvtIsOpenExec | EvtIsOpenCreate | ProcIsExeFromMemfd
            | ProcIsVpgidLeader | ProcIsSidLeader | ThreadIsmain | FdIsServer | FdConnected
            | FdNameChanged | ContainerPrivileged => Shape::Flag,
            EvtDir
            | EvtType
            | SyscallType
            | EvtCategory
            | EvtIoDir
            | EvtHostname
            | ProcName
            | ProcPname
            | ProcAname
            | ProcExe
            | ProcPexe
            | ProcAexe
            | ProcExepath
            | ProcPexepath
            | ProcAexepath
            | ProcCwd
            | ProcSname
            | ProcVpgidName
            | ProcVpgidExe
            | FdType
            | FdTypechar
            | FdName
            | FdNameraw
            | FdDirectory
            | FdFilename
            | FdL4proto
            | FdSockfamily
            | UserName
            | UserHomedir
            | UserShell
            | UserLoginname
            | GroupName
            | ContainerId
            | ContainerName
            | ContainerImage
            | ContainerImageRepository
            | ContainerType
            | ThreadCapEffective
            | ThreadCapPermitted
            | ThreadCapInheritable
            | ProcArgs
            | ProcCmdline
            | ProcPcmdline
            | ProcAcmdline
            | ProcExeline => Shape::Text,
            EvtTime | EvtOutputtime | EvtDatetime | EvtArgs | EvtInfo | EvtArg | EvtRawarg
            | EvtRes | EvtBuffer | ProcIsExeUpperLayer | FdIp | FdCip | FdSip | FdLip | FdRip
            | FdNet | FdCnet | FdSnet | FdLnet | FdRnet | FdSipName | FsPathName | FsPathSource
            | FsPathTarget | NotCaptured => Shape::Other,
        }
    }
}

/// The fallback of the per-shape extractors, reached only if [`Shape::of`]
/// and an extractor disagree about a field (a bug the tests catch).
fn misshapen<T>(def: &FieldDef) -> Option<T> {
    debug_assert!(false, "{} is read by the wrong extractor", def.name);
    None
}

fn nonzero(id: u64) -> Option<i64> {
    wide(id).filter(|&n| n != 0)
}

/// An unsigned count or time as a signed 64-bit number: beyond 2^63 it
/// cannot come from a real trace.
fn wide(n: u64) -> Option<i64> {
    i64::try_from(n).ok()
}

/// `evt.dir` of an event type: `<` for syscalls, which scry records once,
/// at exit, with their entry arguments; `>` for procexit, which sysdig also
/// shows as an entry event.
pub(crate) fn direction(info: &TypeInfo) -> &'static [u8] {
    if info.is_process_exit { b">" } else { b"<" }
}

#[derive(Debug, Clone)]
enum Arg {
    None,
    /// Parameter index per event type id (None where the type lacks it).
    Param(Vec<Option<u8>>),
    /// `res`: the return value, which scry keeps in the event header.
    Res,
    Level(Option<usize>),
    Types(Vec<u16>),
}

impl Field {
    fn new(def: &'static FieldDef, arg: Arg) -> Field {
        Field {
            def,
            arg,
            shape: Shape::of(def.id),
        }
    }

    /// The catalog entry.
    pub fn def(&self) -> &'static FieldDef {
        self.def
    }

    /// Whether a value needs the reconstructed state.
    pub fn needs_state(&self) -> bool {
        !self.def.name.starts_with("evt.")
            && !matches!(
                self.def.id,
                Which::ThreadTid | Which::ProcPid | Which::SyscallType
            )
            || matches!(
                self.def.id,
                Which::EvtArgs | Which::EvtInfo | Which::EvtArg | Which::EvtCategory
            )
    }

    /// Whether a value reads fd tables (what an event's fd is), not only
    /// processes, users, groups and containers.
    pub fn needs_fds(&self) -> bool {
        self.needs_state()
            && (self.def.name.starts_with("fd.")
                || matches!(
                    self.def.id,
                    Which::EvtArgs | Which::EvtInfo | Which::EvtArg | Which::EvtCategory
                ))
    }

    /// Whether the value depends on nothing but what the event's fd is
    /// (its entry, [`Ctx::fd`]): the same for every event whose fd has an
    /// entry of the same [`crate::state::FdEntry::identity`].
    pub fn reads_only_its_fd(&self) -> bool {
        use Which::*;
        matches!(
            self.def.id,
            FdName
                | FdDirectory
                | FdFilename
                | FdType
                | FdTypechar
                | FdL4proto
                | FdPort
                | FdCport
                | FdSport
                | FdLport
                | FdRport
        )
    }

    /// Whether the value depends on nothing but the event's process (its
    /// own record, and the users, groups and containers it names, which
    /// events never change): the same for every event of the process until
    /// the process changes. Fields of other processes (parent, ancestors,
    /// session leader) and of the event's time are not.
    pub fn reads_only_its_process(&self) -> bool {
        use Which::*;
        matches!(
            self.def.id,
            ProcPid
                | ProcPpid
                | ProcVpid
                | ProcMntns
                | ProcName
                | ProcExe
                | ProcExepath
                | ProcArgs
                | ProcCmdline
                | ProcExeline
                | ProcCmdnargs
                | ProcCwd
                | ProcTty
                | ProcSid
                | ProcPgid
                | ProcVpgid
                | ProcPidTs
                | ProcIsExeFromMemfd
                | ThreadCapEffective
                | ThreadCapPermitted
                | ThreadCapInheritable
                | UserUid
                | UserName
                | UserHomedir
                | UserShell
                | UserLoginuid
                | UserLoginname
                | GroupGid
                | GroupName
                | ContainerId
                | ContainerName
                | ContainerImage
                | ContainerImageRepository
                | ContainerType
                | ContainerPrivileged
                | ContainerStartTs
        )
    }

    /// Whether this is `proc.aname`-style without a level: the filter matches
    /// if any ancestor matches.
    pub fn is_any_ancestor(&self) -> bool {
        matches!(self.arg, Arg::Level(None))
    }
}

/// Splits `proc.aname[2]` into its name and bracket argument.
pub fn split_field(text: &str) -> (&str, Option<&str>) {
    match text.strip_suffix(']').and_then(|t| t.split_once('[')) {
        Some((name, arg)) => (name, Some(arg.trim_matches(|c| c == '"' || c == '\''))),
        None => (text, None),
    }
}

/// Resolves every field but the parameter fields.
fn resolve_plain(name: &str, bracket: Option<&str>, types: &TypeTable) -> Result<Field, String> {
    let (def, dotted) = match FIELDS.iter().find(|f| f.name == name) {
        Some(def) => (def, None),
        None => FIELDS
            .iter()
            .filter(|f| f.arg != ArgKind::None)
            .filter_map(|f| {
                name.strip_prefix(f.name)?
                    .strip_prefix('.')
                    .map(|rest| (f, Some(rest)))
            })
            .max_by_key(|(f, _)| f.name.len())
            .ok_or_else(|| format!("unknown field '{name}' (scry fields lists them)"))?,
    };
    let text = match (dotted, bracket) {
        (Some(_), Some(_)) => return Err(format!("'{name}' takes one argument, given twice")),
        (Some(text), None) | (None, Some(text)) => Some(text),
        (None, None) => None,
    };
    let arg = match (def.arg, text) {
        (ArgKind::None, None) => Arg::None,
        (ArgKind::None, Some(_)) => return Err(format!("'{}' takes no argument", def.name)),
        (ArgKind::Ancestor, None) => Arg::Level(None),
        (ArgKind::Ancestor, Some(t)) => {
            Arg::Level(Some(t.parse().map_err(|_| {
                format!("'{}' wants an ancestor level, not '{t}'", def.name)
            })?))
        }
        (ArgKind::Param, Some(_)) => {
            return Err(format!("'{}' needs the trace's event table", def.name));
        }
        (ArgKind::EventType, Some(t)) => {
            let ids = types.ids_named(t);
            if ids.is_empty() {
                return Err(format!("unknown event type '{t}'"));
            }
            Arg::Types(ids)
        }
        (_, None) => return Err(format!("'{}' needs an argument", def.name)),
    };
    Ok(Field::new(def, arg))
}

/// Finds a field by name and argument. `name` is the dotted name as written
/// (`evt.arg.fd`), `bracket` the text in `[…]` if any. Parameter arguments
/// are resolved with the trace's event table: names differ by event type,
/// so their position is precomputed per type.
///
/// # Errors
/// A message for an unknown field or a bad argument.
pub fn resolve(
    name: &str,
    bracket: Option<&str>,
    types: &TypeTable,
    table: &EventTable,
) -> Result<Field, String> {
    let param_field = FIELDS.iter().filter(|f| f.arg == ArgKind::Param).find(|f| {
        name == f.name
            || name
                .strip_prefix(f.name)
                .is_some_and(|r| r.starts_with('.'))
    });
    let Some(def) = param_field else {
        return resolve_plain(name, bracket, types);
    };
    let spec = match (
        name.strip_prefix(def.name)
            .and_then(|r| r.strip_prefix('.')),
        bracket,
    ) {
        (Some(t), None) | (None, Some(t)) => t,
        (Some(_), Some(_)) => return Err(format!("'{name}' takes one argument, given twice")),
        (None, None) => return Err(format!("'{}' needs a parameter name or index", def.name)),
    };
    let mut indexes = vec![None; table.id_bound()];
    let position: Option<usize> = spec.parse().ok();
    let mut found = false;
    for entry in table.entries() {
        let index = match position {
            Some(p) if p < entry.params.len() => Some(p),
            Some(_) => None,
            // Falco's name for a parameter recorded under another one (a
            // symlink's `target`, the fd in the first register of a call
            // recorded generically): traces keep their recorded names.
            None => entry.params.iter().position(|p| p == spec).or_else(|| {
                entry.params.iter().position(|recorded| {
                    crate::flags::display_name(&entry.name, recorded) == Some(spec)
                })
            }),
        };
        if let Some(index) = index {
            indexes[usize::from(entry.id)] = u8::try_from(index).ok();
            found = true;
        }
    }
    if !found && spec == "res" {
        return Ok(Field::new(def, Arg::Res));
    }
    if !found && position.is_none() {
        return Err(format!("no event type has a parameter named '{spec}'"));
    }
    Ok(Field::new(def, Arg::Param(indexes)))
}

/// Everything extraction may look at for one event. The event's process
/// and fd are looked up at most once, however many fields ask for them.
#[derive(Debug, Clone)]
pub struct Ctx<'a> {
    /// The event.
    pub event: EventView<'a>,
    /// Facts about its type.
    pub info: &'a TypeInfo,
    /// The state as of this event.
    pub state: &'a State,
    /// Timestamp of the first event of the trace.
    pub first_ts: u64,
    /// Host name of the trace.
    pub hostname: &'a str,
    /// Parameter names of the event's type.
    pub names: &'a [String],
    /// The event's process and fd once looked up (a plain cell: cheaper
    /// than a `OnceCell` for values that are `Copy`).
    process: Cell<Option<Option<ProcessRef<'a>>>>,
    fd: Cell<Option<Option<&'a FdEntry>>>,
}

impl<'a> Ctx<'a> {
    /// The context of `event`.
    pub fn new(
        event: EventView<'a>,
        info: &'a TypeInfo,
        state: &'a State,
        first_ts: u64,
        hostname: &'a str,
        names: &'a [String],
    ) -> Self {
        Ctx {
            event,
            info,
            state,
            first_ts,
            hostname,
            names,
            process: Cell::new(None),
            fd: Cell::new(None),
        }
    }

    #[inline]
    pub(crate) fn process_ref(&self) -> Option<ProcessRef<'a>> {
        if let Some(known) = self.process.get() {
            return known;
        }
        let found = self.state.process_ref(self.event.tgid());
        self.process.set(Some(found));
        found
    }

    fn process(&self) -> Option<&'a Process> {
        self.process_ref().map(ProcessRef::info)
    }

    /// The fd the event operates on.
    /// A failed open's is -1, as libsinsp has it.
    #[inline]
    pub fn fd_num(&self) -> Option<i64> {
        if self.info.returns_fd {
            let ret = self.event.ret();
            if ret < 0 {
                return self.info.is_open.then_some(-1);
            }
            return Some(ret);
        }
        let index = self.info.fd_param?;
        if self.info.fd_in_register {
            return match self.event.param(index)? {
                ValueRef::Uint(raw) => Some(crate::flags::fd_in_register(raw)),
                _ => None,
            };
        }
        self.event.param_int(index)
    }

    /// What the event's fd is. For a failed open, the file it asked for
    /// (libsinsp's fd -1: `fd.name`, `fd.typechar`… describe it). A caller
    /// that reads several of its fields takes them from here, with one
    /// lookup and no field dispatch.
    #[inline]
    pub fn fd(&self) -> Option<&'a FdEntry> {
        if let Some(known) = self.fd.get() {
            return known;
        }
        let found = match self.fd_num() {
            Some(-1) if self.info.returns_fd => self.state.failed_open(&self.event),
            fd => fd.and_then(|fd| self.process_ref()?.fd(fd)),
        };
        self.fd.set(Some(found));
        found
    }
}

fn str_of(bytes: &[u8]) -> Option<Value<'_>> {
    Some(Value::Str(Cow::Borrowed(bytes)))
}

fn owned(text: String) -> Option<Value<'static>> {
    Some(Value::Str(Cow::Owned(text.into_bytes())))
}

fn num(n: impl Into<i128>) -> Option<Value<'static>> {
    Some(Value::Num(n.into()))
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

fn dirname(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(i) => &path[..i],
        None => b"",
    }
}

/// The letter sysdig uses for an fd kind.
pub fn typechar(kind: FdKind) -> &'static str {
    match kind {
        FdKind::File => "f",
        FdKind::Directory => "d",
        FdKind::Ipv4 => "4",
        FdKind::Ipv6 => "6",
        FdKind::Unix => "u",
        FdKind::Pipe => "p",
        FdKind::EventFd => "e",
        FdKind::SignalFd => "s",
        FdKind::EventPoll => "l",
        FdKind::Inotify => "i",
        FdKind::TimerFd => "t",
        FdKind::Netlink => "n",
        FdKind::Memfd => "m",
        _ => "o",
    }
}

fn type_name(kind: FdKind) -> &'static str {
    match kind {
        FdKind::File => "file",
        FdKind::Directory => "directory",
        FdKind::Ipv4 => "ipv4",
        FdKind::Ipv6 => "ipv6",
        FdKind::Unix => "unix",
        FdKind::Pipe => "pipe",
        FdKind::EventFd => "event",
        FdKind::SignalFd => "signalfd",
        FdKind::EventPoll => "eventpoll",
        FdKind::Inotify => "inotify",
        FdKind::TimerFd => "timerfd",
        FdKind::Netlink => "netlink",
        FdKind::Memfd => "memfd",
        _ => "other",
    }
}

fn ip_of(addr: &Option<SockAddr>) -> Option<IpAddr> {
    match addr {
        Some(SockAddr::Inet(a)) => Some(a.ip()),
        _ => None,
    }
}

fn port_of(addr: &Option<SockAddr>) -> Option<u16> {
    match addr {
        Some(SockAddr::Inet(a)) => Some(a.port()),
        _ => None,
    }
}

/// Client and server ends of a socket fd: the server is the side that
/// accepted.
fn client_server(fd: &FdEntry) -> (&Option<SockAddr>, &Option<SockAddr>) {
    if fd.is_server {
        (&fd.remote, &fd.local)
    } else {
        (&fd.local, &fd.remote)
    }
}

/// The errno name of a negative return value.
pub fn errno_name(ret: i64) -> Option<&'static str> {
    let code = usize::try_from(-ret).ok()?;
    crate::errno::ERRNO_NAMES
        .get(code)
        .copied()
        .filter(|n| !n.is_empty())
}

/// The open flags of an open-family event.
fn open_flags(ctx: &Ctx<'_>) -> Option<u64> {
    if !ctx.info.is_open {
        return None;
    }
    if ctx.info.name == "creat" {
        return Some(0o1101);
    }
    match ctx.event.param(ctx.info.flags_param?)? {
        ValueRef::Uint(flags) => Some(flags),
        _ => None,
    }
}

/// Makes `path` absolute with the process' cwd.
fn absolute<'a>(path: &'a [u8], ctx: &Ctx<'a>) -> Cow<'a, [u8]> {
    if path.starts_with(b"/") || path.is_empty() {
        return Cow::Borrowed(path);
    }
    match ctx.process() {
        Some(p) if !p.cwd.is_empty() => {
            let mut out = p.cwd.clone();
            if !out.ends_with(b"/") {
                out.push(b'/');
            }
            out.extend_from_slice(path);
            Cow::Owned(out)
        }
        _ => Cow::Borrowed(path),
    }
}

impl Field {
    /// Extracts the value for one event; `None` when the field does not
    /// apply (which makes every comparison on it false).
    pub fn extract<'a>(&self, ctx: &Ctx<'a>) -> Option<Value<'a>> {
        match self.shape {
            Shape::Num => self.num(ctx).map(|n| Value::Num(n.into())),
            Shape::Flag => self.flag(ctx).map(Value::Bool),
            Shape::Text => self.text(ctx).map(|t| Value::Str(Cow::Borrowed(t))),
            Shape::Other => self.extract_other(ctx),
        }
    }

    /// How the value is produced: filters read numbers, flags and borrowed
    /// text through [`Field::num`], [`Field::flag`] and [`Field::text`]
    /// without building a [`Value`].
    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// The value of a numeric field ([`Shape::Num`]). Every number a
    /// trace holds fits in 64 signed bits (times in ns until 2262), which
    /// are returned in registers.
    #[inline]
    pub(crate) fn num(&self, ctx: &Ctx<'_>) -> Option<i64> {
        let e = &ctx.event;
        let n: i64 = match self.def.id {
            Which::EvtNum => wide(e.num() + 1)?,
            Which::EvtRawtime => wide(e.ts())?,
            Which::EvtReltime => wide(e.ts().saturating_sub(ctx.first_ts))?,
            Which::EvtLatency => wide(e.latency())?,
            Which::EvtTypeIs => match &self.arg {
                Arg::Types(ids) => i64::from(ids.contains(&e.event_type())),
                _ => return None,
            },
            Which::EvtCpu => e.cpu().into(),
            Which::EvtRawres => e.ret(),
            Which::EvtBuflen => {
                let ret = e.ret();
                // Without short-circuits: reads and writes come in no order a
                // branch could predict.
                if !(ctx.info.is_io_read | ctx.info.is_io_write) | (ret < 0) {
                    return None;
                }
                ret
            }
            Which::EvtCount => 1,
            Which::ProcPid => e.tgid().into(),
            Which::ThreadTid | Which::ThreadVtid => e.tid().into(),
            _ => return self.num_of_state(ctx),
        };
        Some(n)
    }

    /// [`Field::num`] for the fields read from the state, apart so that
    /// those read from the event alone cost no call.
    #[inline(never)]
    fn num_of_state(&self, ctx: &Ctx<'_>) -> Option<i64> {
        let e = &ctx.event;
        let n: i64 = match self.def.id {
            Which::ProcPpid => ctx.process()?.ppid.into(),
            Which::ProcVpid => nonzero(ctx.process()?.vpid.into())?,
            Which::ProcMntns => nonzero(ctx.process()?.mntns)?,
            Which::ProcApid => self.ancestor(ctx)?.pid.into(),
            Which::ProcCmdnargs => wide(ctx.process()?.args.len() as u64)?,
            Which::ProcTty => ctx.process()?.tty.into(),
            Which::ProcSid => nonzero(ctx.process()?.sid.into())?,
            Which::ProcPgid | Which::ProcVpgid => nonzero(ctx.process()?.pgid.into())?,
            Which::ProcLoginshellid => {
                let mut shell = None;
                for level in 0..64 {
                    let Some(p) = ctx.state.ancestor(e.tgid(), level) else {
                        break;
                    };
                    if is_shell(&p.comm) {
                        shell = Some(p.pid);
                    }
                }
                shell?.into()
            }
            Which::ProcDuration => {
                let start = ctx.process()?.start_ts;
                if start == 0 {
                    return None;
                }
                wide(e.ts().saturating_sub(start))?
            }
            Which::ProcPidTs => nonzero(ctx.process()?.start_ts)?,
            Which::ProcPpidDuration => {
                let start = ctx.state.ancestor(e.tgid(), 1)?.start_ts;
                if start == 0 {
                    return None;
                }
                wide(e.ts().saturating_sub(start))?
            }
            Which::FdNum => ctx.fd_num()?,
            Which::FdPort => {
                let fd = ctx.fd()?;
                port_of(&fd.remote).or_else(|| port_of(&fd.local))?.into()
            }
            Which::FdCport => port_of(client_server(ctx.fd()?).0)?.into(),
            Which::FdSport => port_of(client_server(ctx.fd()?).1)?.into(),
            Which::FdLport => port_of(&ctx.fd()?.local)?.into(),
            Which::FdRport => port_of(&ctx.fd()?.remote)?.into(),
            Which::UserUid => ctx.process()?.euid.into(),
            Which::UserLoginuid => {
                let uid = ctx.process()?.loginuid;
                if uid == u32::MAX { -1 } else { uid.into() }
            }
            Which::GroupGid => ctx.process()?.egid.into(),
            Which::ContainerStartTs => wide(ctx.state.container(container_id(ctx))?.start_ts)?,
            _ => return misshapen(self.def),
        };
        Some(n)
    }

    /// The value of a boolean field ([`Shape::Flag`]).
    #[inline]
    pub(crate) fn flag(&self, ctx: &Ctx<'_>) -> Option<bool> {
        let e = &ctx.event;
        let info = ctx.info;
        Some(match self.def.id {
            Which::EvtFailed => info.is_syscall && e.ret() < 0 && e.ret() > -4096,
            Which::EvtIsIo | Which::EvtIsIoRead | Which::EvtIsIoWrite | Which::EvtIsWait => {
                return self.flag_of_type(info);
            }
            Which::ThreadIsmain => e.tid() == e.tgid(),
            _ => return self.flag_of_state(ctx),
        })
    }

    /// The value of a flag field that the event type alone decides
    /// (`evt.is_io`…) for an event of type `info`, as [`Field::flag`]
    /// reads it; `None` for any other field.
    #[inline]
    pub(crate) fn flag_of_type(&self, info: &TypeInfo) -> Option<bool> {
        match self.def.id {
            Which::EvtIsIo => Some(info.is_io_read | info.is_io_write),
            Which::EvtIsIoRead => Some(info.is_io_read),
            Which::EvtIsIoWrite => Some(info.is_io_write),
            Which::EvtIsWait => Some(info.is_wait),
            _ => None,
        }
    }

    /// The value of a text field that the event type alone decides
    /// (`evt.type`, `evt.dir`…) for an event of type `info`, as
    /// [`Field::text`] reads it; `None` for any other field.
    #[inline]
    pub(crate) fn text_of_type<'a>(&self, info: &'a TypeInfo) -> Option<Option<&'a [u8]>> {
        Some(match self.def.id {
            Which::EvtDir => Some(direction(info)),
            Which::EvtType => Some(info.name.as_bytes()),
            Which::SyscallType => info.is_syscall.then_some(info.name.as_bytes()),
            Which::EvtIoDir => match (info.is_io_read, info.is_io_write) {
                (true, _) => Some(&b"r"[..]),
                (_, true) => Some(&b"w"[..]),
                _ => None,
            },
            _ => return None,
        })
    }

    /// The value of a text field that the kind of the event's fd alone
    /// decides (`fd.type`, `fd.typechar`) for an fd of kind `kind`, as
    /// [`Field::text`] reads it; `None` for any other field.
    pub(crate) fn text_of_fd_kind(&self, kind: FdKind) -> Option<&'static [u8]> {
        match self.def.id {
            Which::FdType => Some(type_name(kind).as_bytes()),
            Which::FdTypechar => Some(typechar(kind).as_bytes()),
            _ => None,
        }
    }

    /// [`Field::flag`] for the fields read from open flags or the state.
    #[inline(never)]
    fn flag_of_state(&self, ctx: &Ctx<'_>) -> Option<bool> {
        let info = ctx.info;
        Some(match self.def.id {
            Which::EvtIsOpenRead => open_flags(ctx)? & 3 != 1,
            Which::EvtIsOpenWrite => open_flags(ctx)? & 3 != 0,
            Which::EvtIsOpenExec => {
                open_flags(ctx)?;
                false
            }
            Which::EvtIsOpenCreate => {
                let flags = open_flags(ctx)?;
                flags & 0o100 != 0 || flags & 0o20_000_000 != 0
            }
            Which::ProcIsExeFromMemfd => ctx.process()?.exe_from_memfd,
            Which::ProcIsVpgidLeader => {
                let p = ctx.process()?;
                if p.pgid == 0 {
                    return None;
                }
                p.pgid == p.pid
            }
            Which::ProcIsSidLeader => {
                let p = ctx.process()?;
                if p.sid == 0 {
                    return None;
                }
                p.sid == p.pid
            }
            Which::FdIsServer => ctx.fd()?.is_server,
            Which::FdConnected => {
                let fd = ctx.fd()?;
                if !matches!(fd.kind, FdKind::Ipv4 | FdKind::Ipv6 | FdKind::Unix) {
                    return None;
                }
                fd.remote.is_some()
            }
            Which::FdNameChanged => {
                ctx.fd()?;
                matches!(info.name.as_str(), "connect" | "bind")
            }
            Which::ContainerPrivileged => ctx.state.container(container_id(ctx))?.privileged,
            _ => return misshapen(self.def),
        })
    }

    /// The value of a text field that borrows from the event or the state
    /// ([`Shape::Text`]).
    #[inline(never)]
    pub(crate) fn text<'a>(&self, ctx: &Ctx<'a>) -> Option<&'a [u8]> {
        let e = &ctx.event;
        Some(match self.def.id {
            Which::EvtDir | Which::EvtType | Which::SyscallType | Which::EvtIoDir => {
                return self.text_of_type(ctx.info).flatten();
            }
            Which::EvtCategory => {
                crate::render::category(ctx, ctx.fd().map(|fd| fd.kind)).as_bytes()
            }
            Which::EvtHostname => ctx.hostname.as_bytes(),
            // A process first seen mid-life has no name, executable or
            // command line yet: those are missing, not empty.
            Which::ProcName => known(&ctx.process()?.comm)?,
            Which::ProcPname => known(&ctx.state.ancestor(e.tgid(), 1)?.comm)?,
            Which::ProcAname => known(&self.ancestor(ctx)?.comm)?,
            Which::ProcExe => known(&ctx.process()?.exe)?,
            Which::ProcPexe => known(&ctx.state.ancestor(e.tgid(), 1)?.exe)?,
            Which::ProcAexe => known(&self.ancestor(ctx)?.exe)?,
            Which::ProcExepath => known(&ctx.process()?.exepath)?,
            Which::ProcPexepath => known(&ctx.state.ancestor(e.tgid(), 1)?.exepath)?,
            Which::ProcAexepath => known(&self.ancestor(ctx)?.exepath)?,
            Which::ProcArgs => {
                let p = ctx.process()?;
                if p.comm.is_empty() && p.args.is_empty() {
                    return None;
                }
                p.joined_args()
            }
            Which::ProcCmdline => known(ctx.process()?.cmdline())?,
            Which::ProcExeline => known(ctx.process()?.exeline())?,
            Which::ProcPcmdline => known(ctx.state.ancestor(e.tgid(), 1)?.cmdline())?,
            Which::ProcAcmdline => known(self.ancestor(ctx)?.cmdline())?,
            Which::ThreadCapEffective => ctx.process()?.cap_effective.names()?,
            Which::ThreadCapPermitted => ctx.process()?.cap_permitted.names()?,
            Which::ThreadCapInheritable => ctx.process()?.cap_inheritable.names()?,
            Which::ProcCwd => {
                let cwd = &ctx.process()?.cwd;
                if cwd.is_empty() {
                    return None;
                }
                cwd
            }
            Which::ProcSname => {
                let sid = ctx.process()?.sid;
                if sid == 0 {
                    return None;
                }
                known(&ctx.state.process(sid)?.comm)?
            }
            Which::ProcVpgidName => {
                let pgid = ctx.process()?.pgid;
                if pgid == 0 {
                    return None;
                }
                known(&ctx.state.process(pgid)?.comm)?
            }
            Which::ProcVpgidExe => {
                let pgid = ctx.process()?.pgid;
                if pgid == 0 {
                    return None;
                }
                known(&ctx.state.process(pgid)?.exe)?
            }
            Which::FdType => type_name(ctx.fd()?.kind).as_bytes(),
            Which::FdTypechar => typechar(ctx.fd()?.kind).as_bytes(),
            Which::FdName => &ctx.fd()?.name,
            Which::FdNameraw => match e.param(ctx.info.path_param.filter(|_| ctx.info.is_open)?)? {
                ValueRef::Str(s) => s,
                _ => return None,
            },
            Which::FdDirectory => {
                let fd = ctx.fd()?;
                if !matches!(fd.kind, FdKind::File | FdKind::Directory) {
                    return None;
                }
                dirname(&fd.name)
            }
            Which::FdFilename => {
                let fd = ctx.fd()?;
                if !matches!(fd.kind, FdKind::File | FdKind::Directory) {
                    return None;
                }
                basename(&fd.name)
            }
            Which::FdL4proto => {
                let fd = ctx.fd()?;
                if !matches!(fd.kind, FdKind::Ipv4 | FdKind::Ipv6) {
                    return None;
                }
                match fd.l4proto {
                    6 => b"tcp",
                    17 => b"udp",
                    1 | 58 => b"icmp",
                    _ => b"unknown",
                }
            }
            Which::FdSockfamily => match ctx.fd()?.kind {
                FdKind::Ipv4 | FdKind::Ipv6 => b"ip",
                FdKind::Unix => b"unix",
                _ => return None,
            },
            Which::UserName => ctx.state.user(ctx.process()?.euid)?.name.as_bytes(),
            Which::UserHomedir => ctx.state.user(ctx.process()?.euid)?.home.as_bytes(),
            Which::UserShell => ctx.state.user(ctx.process()?.euid)?.shell.as_bytes(),
            Which::UserLoginname => ctx.state.user(ctx.process()?.loginuid)?.name.as_bytes(),
            Which::GroupName => ctx.state.group(ctx.process()?.egid)?.name.as_bytes(),
            Which::ContainerId => container_id(ctx).as_bytes(),
            Which::ContainerName => {
                let id = container_id(ctx);
                if id == "host" {
                    return Some(b"host");
                }
                let name = ctx.state.container(id)?.name.as_bytes();
                if name.is_empty() {
                    return None;
                }
                name
            }
            Which::ContainerImage => ctx.state.container(container_id(ctx))?.image.as_bytes(),
            Which::ContainerImageRepository => {
                let image = ctx.state.container(container_id(ctx))?.image.as_bytes();
                let without_digest = image.split(|&b| b == b'@').next().unwrap_or(image);
                let last_slash = without_digest
                    .iter()
                    .rposition(|&b| b == b'/')
                    .map_or(0, |i| i + 1);
                let tag = without_digest[last_slash..]
                    .iter()
                    .position(|&b| b == b':')
                    .map(|i| i + last_slash);
                &without_digest[..tag.unwrap_or(without_digest.len())]
            }
            Which::ContainerType => ctx.state.container(container_id(ctx))?.runtime.as_bytes(),
            _ => return misshapen(self.def),
        })
    }

    /// The value of every other field: built for the event (times,
    /// rendered arguments, command lines), addresses and buffers.
    fn extract_other<'a>(&self, ctx: &Ctx<'a>) -> Option<Value<'a>> {
        let e = &ctx.event;
        match self.def.id {
            // The printer shows evt.outputtime as -t says; elsewhere it is
            // the default, the clock time.
            Which::EvtTime | Which::EvtOutputtime => owned(crate::render::clock_time(e.ts())),
            Which::EvtDatetime => owned(crate::render::date_time(e.ts())),
            Which::EvtArgs | Which::EvtInfo => owned(crate::render::args(ctx)),
            Which::EvtArg if matches!(self.arg, Arg::Res) => {
                (!ctx.info.is_process_exit).then(|| owned(crate::render::result(ctx)))?
            }
            Which::EvtRawarg if matches!(self.arg, Arg::Res) => {
                (!ctx.info.is_process_exit).then(|| num(e.ret()))?
            }
            Which::EvtArg => {
                let index = self.param_index(e.event_type())?;
                let value = e.param(index)?;
                owned(crate::render::param(ctx, index, value))
            }
            Which::EvtRawarg => {
                let index = self.param_index(e.event_type())?;
                match e.param(index)? {
                    ValueRef::Int(n) | ValueRef::Fd(n) => num(n),
                    ValueRef::Uint(n) => num(n),
                    ValueRef::Str(s) => str_of(s),
                    ValueRef::Bytes(b) => Some(Value::Bytes(b)),
                    ValueRef::SockAddr(SockAddrRef::Inet(a)) => owned(a.to_string()),
                    ValueRef::SockAddr(SockAddrRef::Unix(p)) => str_of(p),
                    ValueRef::Absent | ValueRef::SockAddr(_) | ValueRef::StrList(_) => None,
                }
            }
            Which::EvtRes => match e.ret() {
                r if r >= 0 => str_of(b"SUCCESS"),
                r => owned(errno_name(r).map_or_else(|| r.to_string(), str::to_owned)),
            },
            Which::EvtBuffer => match e.param(ctx.info.data_param?)? {
                ValueRef::Bytes(b) => Some(Value::Bytes(b)),
                _ => None,
            },

            Which::ProcIsExeUpperLayer | Which::FdSipName | Which::NotCaptured => None,
            Which::FdIp | Which::FdNet => {
                let fd = ctx.fd()?;
                ip_of(&fd.remote)
                    .or_else(|| ip_of(&fd.local))
                    .map(Value::Ip)
            }
            Which::FdCip | Which::FdCnet => ip_of(client_server(ctx.fd()?).0).map(Value::Ip),
            Which::FdSip | Which::FdSnet => ip_of(client_server(ctx.fd()?).1).map(Value::Ip),
            Which::FdLip | Which::FdLnet => ip_of(&ctx.fd()?.local).map(Value::Ip),
            Which::FdRip | Which::FdRnet => ip_of(&ctx.fd()?.remote).map(Value::Ip),
            Which::FsPathName => match e.param(ctx.info.path_param?)? {
                ValueRef::Str(s) => Some(Value::Str(absolute(s, ctx))),
                _ => None,
            },
            Which::FsPathSource => match e.param(
                ctx.info
                    .path_param
                    .filter(|_| ctx.info.target_param.is_some())?,
            )? {
                ValueRef::Str(s) => Some(Value::Str(absolute(s, ctx))),
                _ => None,
            },
            Which::FsPathTarget => match e.param(ctx.info.target_param?)? {
                ValueRef::Str(s) => Some(Value::Str(absolute(s, ctx))),
                _ => None,
            },
            _ => misshapen(self.def),
        }
    }
    /// Values of every ancestor, for `proc.aname` without a level.
    pub fn extract_ancestors<'a>(&self, ctx: &Ctx<'a>) -> Vec<Value<'a>> {
        let mut out = Vec::new();
        for level in 1..64 {
            let Some(p) = ctx.state.ancestor(ctx.event.tgid(), level) else {
                break;
            };
            let text = match self.def.id {
                Which::ProcApid => {
                    out.push(Value::Num(p.pid.into()));
                    continue;
                }
                Which::ProcAname => &p.comm[..],
                Which::ProcAexe => &p.exe[..],
                Which::ProcAexepath => &p.exepath[..],
                Which::ProcAcmdline => p.cmdline(),
                _ => break,
            };
            // An ancestor not known by name has no value to match.
            let Some(text) = known(text) else {
                continue;
            };
            let value = Value::Str(Cow::Borrowed(text));
            out.push(value);
        }
        out
    }

    fn ancestor<'a>(&self, ctx: &Ctx<'a>) -> Option<&'a Process> {
        match self.arg {
            Arg::Level(Some(level)) => ctx.state.ancestor(ctx.event.tgid(), level),
            _ => None,
        }
    }

    fn param_index(&self, event_type: u16) -> Option<usize> {
        match &self.arg {
            Arg::Param(indexes) => indexes
                .get(usize::from(event_type))
                .copied()
                .flatten()
                .map(usize::from),
            _ => None,
        }
    }

    /// The event types for which this field can have a value, by type id;
    /// `None` when any type may. A comparison on a field that is missing
    /// is false, so a filter check on this field can only match these.
    pub(crate) fn present_types(&self, types: &TypeTable) -> Option<Vec<bool>> {
        use Which::*;
        let has_fd = |t: &TypeInfo| t.returns_fd || t.fd_param.is_some();
        Some(match self.def.id {
            EvtBuflen | EvtIoDir => types.bitmap(|t| t.is_io_read || t.is_io_write),
            EvtBuffer => types.bitmap(|t| t.data_param.is_some()),
            EvtIsOpenRead | EvtIsOpenWrite | EvtIsOpenExec | EvtIsOpenCreate => {
                types.bitmap(|t| t.is_open && (t.name == "creat" || t.flags_param.is_some()))
            }
            SyscallType => types.bitmap(|t| t.is_syscall),
            FdNameraw => types.bitmap(|t| t.is_open && t.path_param.is_some()),
            FsPathName => types.bitmap(|t| t.path_param.is_some()),
            FsPathSource => types.bitmap(|t| t.path_param.is_some() && t.target_param.is_some()),
            FsPathTarget => types.bitmap(|t| t.target_param.is_some()),
            EvtArg | EvtRawarg => match &self.arg {
                Arg::Res => types.bitmap(|t| !t.is_process_exit),
                Arg::Param(indexes) => {
                    let mut present = types.bitmap(|_| true);
                    for (id, slot) in present.iter_mut().enumerate() {
                        *slot &= indexes.get(id).is_some_and(Option::is_some);
                    }
                    present
                }
                _ => return None,
            },
            FdNum | FdType | FdTypechar | FdName | FdDirectory | FdFilename | FdIp | FdCip
            | FdSip | FdLip | FdRip | FdPort | FdCport | FdSport | FdLport | FdRport | FdNet
            | FdCnet | FdSnet | FdLnet | FdRnet | FdL4proto | FdSockfamily | FdIsServer
            | FdConnected | FdNameChanged => types.bitmap(has_fd),
            _ => return None,
        })
    }

    /// The event types for which this field can be extracted at all, when
    /// that is a small set known from the table (used to skip chunks).
    pub fn only_types(&self) -> Option<&[u16]> {
        match (&self.def.id, &self.arg) {
            (Which::EvtTypeIs, Arg::Types(ids)) => Some(ids),
            _ => None,
        }
    }

    /// Whether this field is only for output formats (`evt.outputtime`).
    pub fn is_print_only(&self) -> bool {
        self.def.id == Which::EvtOutputtime
    }

    /// Whether this field is `evt.type`.
    pub fn is_event_type(&self) -> bool {
        self.def.id == Which::EvtType
    }

    /// Whether this field is `evt.dir`.
    pub fn is_event_dir(&self) -> bool {
        self.def.id == Which::EvtDir
    }

    /// Whether this field is `proc.pid`.
    pub fn is_pid(&self) -> bool {
        self.def.id == Which::ProcPid
    }

    /// The value a time field (`evt.rawtime`, `evt.time`, `evt.datetime`)
    /// has for an event at `ts`, when it orders like time over `[from, to]`:
    /// the chunk planner then tests a chunk by its first and last times.
    /// `evt.time` is the clock time alone, so it orders like time only
    /// within one day.
    pub(crate) fn time_value(&self, ts: u64, from: u64, to: u64) -> Option<Value<'static>> {
        const DAY_NS: u64 = 86_400_000_000_000;
        match self.def.id {
            Which::EvtRawtime => num(ts),
            Which::EvtDatetime => owned(crate::render::date_time(ts)),
            Which::EvtTime if from / DAY_NS == to / DAY_NS => owned(crate::render::clock_time(ts)),
            _ => None,
        }
    }

    /// Whether this field is `container.id`.
    pub fn is_container_id(&self) -> bool {
        self.def.id == Which::ContainerId
    }

    /// Whether this field has the same value for every event whose `key`
    /// has the same value: what the trace's fixed tables (users, groups,
    /// containers) say of an id. A summary keyed by the id reads such a
    /// label once per row.
    pub(crate) fn follows_from(&self, key: &Field) -> bool {
        use Which::*;
        match key.def.id {
            UserUid => matches!(self.def.id, UserName | UserHomedir | UserShell),
            UserLoginuid => self.def.id == UserLoginname,
            GroupGid => self.def.id == GroupName,
            ContainerId => matches!(
                self.def.id,
                ContainerName
                    | ContainerImage
                    | ContainerImageRepository
                    | ContainerType
                    | ContainerPrivileged
                    | ContainerStartTs
            ),
            _ => false,
        }
    }

    /// Whether this field is `fd.name`, whose text is the fd entry's name
    /// as it is: what [`Field::text`] gives, read without its dispatch.
    pub(crate) fn is_fd_name(&self) -> bool {
        self.def.id == Which::FdName
    }
}

fn container_id<'a>(ctx: &Ctx<'a>) -> &'a str {
    match ctx.process() {
        Some(p) if !p.container_id.is_empty() => &p.container_id,
        _ => "host",
    }
}

/// A name, path or command line of a process, missing while unknown.
fn known(text: &[u8]) -> Option<&[u8]> {
    (!text.is_empty()).then_some(text)
}

pub(crate) fn is_shell(comm: &[u8]) -> bool {
    matches!(
        comm,
        b"bash" | b"sh" | b"dash" | b"zsh" | b"ksh" | b"fish" | b"tcsh" | b"csh" | b"ash"
    )
}
