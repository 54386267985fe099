//! State reconstruction over traces written with scry's own writer, read
//! back and replayed event by event; and over the real sample capture.

// The helpers are test code too: a failure should panic where it happens.
#![allow(clippy::unwrap_used)]

use std::ops::ControlFlow;
use std::sync::LazyLock;

use scry_analyze::state::State;
use scry_analyze::summary;
use scry_analyze::{Prepared, Scan, Value as FieldValue};

mod common;

use common::summarize;
use scry_format::{
    ContainerInfo, Event, EventTable, EventView, FdInfo, FdKind, FileHeader, GroupInfo,
    ProcessInfo, Snapshot, SockAddr, ThreadInfo, TraceFile, TraceWriter, UserInfo, Value, ValueRef,
    WriterOptions,
};

static TABLE: LazyLock<EventTable> = LazyLock::new(EventTable::builtin_x86_64);

const AT_FDCWD: i64 = -100;
const O_CLOEXEC: u64 = 0o2_000_000;
const O_DIRECTORY: u64 = 0o200_000;
const SIGCHLD: u64 = 17;
const CLONE_THREAD_FLAGS: u64 = 0x0001_0000 | 0x100 | 0x200 | 0x400 | 0x800;

fn ev(name: &str, tid: u32, tgid: u32, ret: i64, params: Vec<Value>) -> Event {
    Event {
        ts: 1_700_000_000_000_000_000,
        tid,
        tgid,
        event_type: TABLE
            .id_of(name)
            .unwrap_or_else(|| panic!("no event type {name}")),
        ret,
        params,
        ..Event::default()
    }
}

fn s(text: &str) -> Value {
    Value::Str(text.as_bytes().to_vec())
}

fn fd(n: i64) -> Value {
    Value::Fd(n)
}

fn u(n: u64) -> Value {
    Value::Uint(n)
}

fn addr(text: &str) -> Value {
    Value::SockAddr(SockAddr::Inet(text.parse().unwrap()))
}

fn list(items: &[&str]) -> Value {
    Value::StrList(items.iter().map(|i| i.as_bytes().to_vec()).collect())
}

fn openat(pid: u32, dirfd: i64, path: &str, flags: u64, ret: i64) -> Event {
    ev(
        "openat",
        pid,
        pid,
        ret,
        vec![fd(dirfd), s(path), u(flags), u(0), fd(ret)],
    )
}

fn close(pid: u32, n: i64) -> Event {
    ev("close", pid, pid, 0, vec![fd(n)])
}

fn getpid(pid: u32) -> Event {
    ev("getpid", pid, pid, i64::from(pid), vec![u(0); 6])
}

fn fork(parent: u32, child: u32) -> [Event; 2] {
    [
        ev(
            "clone",
            parent,
            parent,
            i64::from(child),
            vec![u(SIGCHLD), Value::Int(i64::from(child))],
        ),
        ev("clone", child, child, 0, vec![u(SIGCHLD), Value::Int(0)]),
    ]
}

fn execve(pid: u32, filename: &str, args: &[&str], exe: &str, cwd: &str) -> Event {
    let mut params = vec![fd(AT_FDCWD), s(filename), list(args), s(exe), s(cwd)];
    params.extend([0, 0, 0, 0, u64::from(u32::MAX), 0, 0x1ff, 0x1ff, 0].map(u));
    params.extend([s(""), u(0)]);
    ev("execve", pid, pid, 0, params)
}

fn process(pid: u32, ppid: u32, comm: &str, cwd: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        ppid,
        vpid: pid,
        comm: comm.as_bytes().to_vec(),
        exe: format!("/usr/bin/{comm}").into_bytes(),
        args: vec![comm.as_bytes().to_vec(), b"-x".to_vec()],
        cwd: cwd.as_bytes().to_vec(),
        uid: 1000,
        euid: 1000,
        gid: 1000,
        egid: 1000,
        loginuid: 1000,
        ..ProcessInfo::default()
    }
}

/// A snapshot with one shell, pid 100 (parent 1, not in the snapshot),
/// cwd `/home/u`, with a log file open on fd 3.
fn shell_snapshot() -> Snapshot {
    Snapshot {
        processes: vec![process(100, 1, "bash", "/home/u")],
        fds: vec![FdInfo {
            pid: 100,
            fd: 3,
            kind: FdKind::File,
            name: b"/var/log/app.log".to_vec(),
            flags: 1,
            ..FdInfo::default()
        }],
        ..Snapshot::default()
    }
}

/// Writes `events` after `snapshot` into a file (three events per chunk,
/// so that replays cross chunks), reads it back and applies every event,
/// calling `check` with each event's number and the state after it.
fn replay(snapshot: &Snapshot, events: &[Event], mut check: impl FnMut(u64, &State)) -> State {
    let file = write(snapshot, events);
    replay_file(&file, |event, state| check(event.num(), state))
}

/// `events` after `snapshot` in a file, three events per chunk, read back.
fn write(snapshot: &Snapshot, events: &[Event]) -> TraceFile<Vec<u8>> {
    let header = FileHeader {
        event_table: TABLE.clone(),
        ..FileHeader::default()
    };
    let options = WriterOptions {
        chunk_events: 3,
        ..WriterOptions::default()
    };
    let mut writer = TraceWriter::new(Vec::new(), &header, snapshot, options).unwrap();
    for event in events {
        writer.push(event).unwrap();
    }
    TraceFile::open(writer.finish().unwrap()).unwrap()
}

/// Applies every event of `file`, calling `check` after each.
fn replay_file(file: &TraceFile<Vec<u8>>, mut check: impl FnMut(&EventView<'_>, &State)) -> State {
    let mut state = State::new(file.snapshot(), &file.header().event_table);
    let flow = file.for_each_chunk(
        1,
        |_| true,
        |chunk| {
            for event in chunk.unwrap().iter() {
                state.apply(&event);
                check(&event, &state);
            }
            ControlFlow::<()>::Continue(())
        },
    );
    assert!(flow.unwrap().is_continue());
    state
}

fn name_of(state: &State, pid: u32, n: i64) -> Option<String> {
    state
        .fd(pid, n)
        .map(|entry| String::from_utf8_lossy(&entry.name).into_owned())
}

#[test]
fn snapshot_state_is_visible_before_any_event() {
    let id = "0123456789ab".repeat(5) + "cdef";
    let mut snapshot = shell_snapshot();
    snapshot.processes[0].container_id.clone_from(&id);
    snapshot.processes.push(process(1, 0, "systemd", "/"));
    snapshot.threads = vec![
        ThreadInfo {
            tid: 100,
            tgid: 100,
            comm: b"bash".to_vec(),
        },
        ThreadInfo {
            tid: 105,
            tgid: 100,
            comm: b"worker".to_vec(),
        },
    ];
    snapshot.fds.extend([
        FdInfo {
            pid: 100,
            fd: 4,
            kind: FdKind::Ipv4,
            local: Some(SockAddr::Inet("0.0.0.0:8080".parse().unwrap())),
            l4proto: 6,
            ..FdInfo::default()
        },
        FdInfo {
            pid: 100,
            fd: 5,
            kind: FdKind::Ipv4,
            local: Some(SockAddr::Inet("10.0.0.1:8080".parse().unwrap())),
            remote: Some(SockAddr::Inet("1.2.3.4:5555".parse().unwrap())),
            l4proto: 6,
            flags: O_CLOEXEC as u32,
            ..FdInfo::default()
        },
    ]);
    snapshot.users = vec![UserInfo {
        uid: 1000,
        gid: 1000,
        name: "alice".into(),
        home: "/home/alice".into(),
        shell: "/bin/bash".into(),
    }];
    snapshot.groups = vec![GroupInfo {
        gid: 1000,
        name: "staff".into(),
    }];
    snapshot.containers = vec![ContainerInfo {
        id: id.clone(),
        name: "web".into(),
        ..ContainerInfo::default()
    }];
    let state = replay(&snapshot, &[], |_, _| {});
    assert_eq!(name_of(&state, 100, 3).as_deref(), Some("/var/log/app.log"));
    let accepted = state.fd(100, 5).unwrap();
    assert!(accepted.is_server && accepted.cloexec);
    assert_eq!(accepted.name, b"1.2.3.4:5555->10.0.0.1:8080");
    assert_eq!(name_of(&state, 100, 4).as_deref(), Some("0.0.0.0:8080"));
    let bash = state.process(100).unwrap();
    assert_eq!(bash.comm, b"bash");
    assert_eq!(bash.exepath, b"/usr/bin/bash");
    assert_eq!(bash.args, vec![b"-x".to_vec()]);
    assert_eq!(bash.container_id, id);
    assert_eq!(state.process(1).unwrap().container_id, "host");
    assert_eq!(state.ancestor(100, 1).unwrap().comm, b"systemd");
    assert_eq!(state.thread(105).unwrap().comm, b"worker");
    assert_eq!(state.thread(1).unwrap().tgid, 1, "main threads are implied");
    assert_eq!(state.thread_count(100), 2);
    assert_eq!(state.user(bash.euid).unwrap().name, "alice");
    assert_eq!(state.group(bash.egid).unwrap().name, "staff");
    assert_eq!(state.container(&id).unwrap().name, "web");
    assert_eq!(state.container(&id[..12]).unwrap().name, "web");
    assert!(state.container("host").is_none());
    assert_eq!(state.fd_count(), 3);
    assert_eq!(state.fds(100).count(), 3);
}

#[test]
fn opens_resolve_relative_paths_against_cwd_and_dirfd() {
    let events = [
        openat(100, AT_FDCWD, "notes/../a.txt", 0, 4),
        openat(100, AT_FDCWD, "/etc/", O_DIRECTORY | O_CLOEXEC, 5),
        openat(100, 5, "./passwd", 0, 6),
        ev(
            "open",
            100,
            100,
            7,
            vec![s("rel//x"), u(0o101), u(0o644), fd(7)],
        ),
        openat(100, AT_FDCWD, "/missing", 0, -2),
        ev(
            "creat",
            100,
            100,
            8,
            vec![s("/tmp/new"), u(0o1101), u(0o644), fd(8)],
        ),
    ];
    let state = replay(&shell_snapshot(), &events, |num, state| {
        if num == 0 {
            assert_eq!(name_of(state, 100, 4).as_deref(), Some("/home/u/a.txt"));
        }
    });
    let etc = state.fd(100, 5).unwrap();
    assert_eq!(
        (etc.kind, etc.name.as_slice(), etc.cloexec),
        (FdKind::Directory, &b"/etc"[..], true)
    );
    assert_eq!(state.fd(100, 6).unwrap().kind, FdKind::File);
    assert_eq!(name_of(&state, 100, 6).as_deref(), Some("/etc/passwd"));
    assert_eq!(name_of(&state, 100, 7).as_deref(), Some("/home/u/rel/x"));
    assert_eq!(state.fd(100, 7).unwrap().flags, 0o101);
    assert_eq!(name_of(&state, 100, 8).as_deref(), Some("/tmp/new"));
    assert!(state.fd(100, -2).is_none());
    assert_eq!(state.fd_count(), 6);
}

#[test]
fn a_close_keeps_its_fd_for_the_close_event_only() {
    let events = [
        openat(100, AT_FDCWD, "/tmp/a", 0, 4),
        close(100, 4),
        getpid(100),
        openat(100, AT_FDCWD, "/tmp/b", 0, 4),
        close(100, 4),
        openat(100, AT_FDCWD, "/tmp/c", 0, 4),
        ev("close", 100, 100, -9, vec![fd(4)]),
        getpid(100),
    ];
    replay(&shell_snapshot(), &events, |num, state| {
        let name = name_of(state, 100, 4);
        let expected = match num {
            0 | 1 => Some("/tmp/a"),
            2 => None,
            3 | 4 => Some("/tmp/b"),
            _ => Some("/tmp/c"),
        };
        assert_eq!(name.as_deref(), expected, "after event {num}");
    });
}

#[test]
fn dups_copy_the_entry_and_set_close_on_exec_as_asked() {
    let events = [
        openat(100, AT_FDCWD, "/tmp/log", O_CLOEXEC, 4),
        ev("dup2", 100, 100, 1, vec![fd(4), fd(1), u(0)]),
        ev("dup3", 100, 100, 2, vec![fd(4), fd(2), u(O_CLOEXEC)]),
        ev("dup", 100, 100, 5, vec![fd(3), fd(5), u(0)]),
        ev("fcntl", 100, 100, 10, vec![fd(4), u(1030), u(3)]),
        ev("fcntl", 100, 100, 11, vec![fd(4), u(0), u(11)]),
        ev("fcntl", 100, 100, 0, vec![fd(5), u(2), u(1)]),
        ev("dup2", 100, 100, 2, vec![fd(77), fd(2), u(0)]),
    ];
    let state = replay(&shell_snapshot(), &events, |_, _| {});
    let stdout = state.fd(100, 1).unwrap();
    assert_eq!(
        (stdout.name.as_slice(), stdout.cloexec),
        (&b"/tmp/log"[..], false)
    );
    let dup = state.fd(100, 5).unwrap();
    assert_eq!(dup.name, b"/var/log/app.log");
    assert!(dup.cloexec, "F_SETFD FD_CLOEXEC");
    assert!(state.fd(100, 10).unwrap().cloexec, "F_DUPFD_CLOEXEC");
    // Plain F_DUPFD copies the entry but, like dup, not close-on-exec.
    let copy = state.fd(100, 11).unwrap();
    assert_eq!(
        (copy.name.as_slice(), copy.cloexec),
        (&b"/tmp/log"[..], false),
        "F_DUPFD"
    );
    assert!(
        state.fd(100, 2).is_none(),
        "a dup of an unknown fd leaves the target unknown"
    );
}

#[test]
fn sockets_get_kinds_protocols_and_tuples() {
    let events = [
        ev("socket", 100, 100, 4, vec![u(2), u(1 | O_CLOEXEC), u(0)]),
        ev(
            "connect",
            100,
            100,
            0,
            vec![fd(4), addr("93.184.216.34:443"), addr("10.0.0.5:43210")],
        ),
        ev("socket", 100, 100, 5, vec![u(10), u(2), u(0)]),
        ev(
            "connect",
            100,
            100,
            -115,
            vec![fd(5), addr("[2001:db8::1]:53"), Value::Absent],
        ),
        ev("socket", 100, 100, 6, vec![u(1), u(1), u(0)]),
        ev(
            "connect",
            100,
            100,
            0,
            vec![
                fd(6),
                Value::SockAddr(SockAddr::Unix(b"/run/app.sock".to_vec())),
                Value::Absent,
            ],
        ),
        ev("socket", 100, 100, 7, vec![u(16), u(3), u(0)]),
        ev("socket", 100, 100, 8, vec![u(2), u(1), u(0)]),
        ev(
            "connect",
            100,
            100,
            -111,
            vec![fd(8), addr("127.0.0.1:1"), addr("0.0.0.0:0")],
        ),
        ev(
            "connect",
            100,
            100,
            -9,
            vec![fd(99), addr("127.0.0.1:2"), Value::Absent],
        ),
    ];
    let state = replay(&shell_snapshot(), &events, |_, _| {});
    let tcp = state.fd(100, 4).unwrap();
    assert_eq!(
        (tcp.kind, tcp.l4proto, tcp.cloexec, tcp.is_server),
        (FdKind::Ipv4, 6, true, false)
    );
    assert_eq!(tcp.name, b"10.0.0.5:43210->93.184.216.34:443");
    assert_eq!(
        tcp.remote,
        Some(SockAddr::Inet("93.184.216.34:443".parse().unwrap()))
    );
    let udp = state.fd(100, 5).unwrap();
    assert_eq!((udp.kind, udp.l4proto), (FdKind::Ipv6, 17));
    assert_eq!(udp.name, b"[::]:0->[2001:db8::1]:53");
    let unix = state.fd(100, 6).unwrap();
    assert_eq!(
        (unix.kind, unix.l4proto, unix.name.as_slice()),
        (FdKind::Unix, 0, &b"/run/app.sock"[..])
    );
    assert_eq!(state.fd(100, 7).unwrap().kind, FdKind::Netlink);
    assert_eq!(
        name_of(&state, 100, 8).as_deref(),
        Some("0.0.0.0:0->127.0.0.1:1"),
        "refused, still named"
    );
    assert!(
        state.fd(100, 99).is_none(),
        "a failed connect invents no fd"
    );
}

#[test]
fn accept_creates_a_server_side_fd() {
    let events = [
        ev("socket", 100, 100, 4, vec![u(2), u(1), u(6)]),
        ev("bind", 100, 100, 0, vec![fd(4), addr("0.0.0.0:8080")]),
        ev("listen", 100, 100, 0, vec![fd(4), Value::Int(128)]),
        ev(
            "accept4",
            100,
            100,
            5,
            vec![
                fd(4),
                u(O_CLOEXEC),
                addr("1.2.3.4:5555"),
                addr("10.0.0.1:8080"),
            ],
        ),
        ev(
            "accept",
            100,
            100,
            6,
            vec![fd(4), u(0), addr("5.6.7.8:9"), Value::Absent],
        ),
        ev(
            "accept",
            100,
            100,
            -11,
            vec![fd(4), u(0), Value::Absent, Value::Absent],
        ),
    ];
    let state = replay(&shell_snapshot(), &events, |_, _| {});
    assert_eq!(name_of(&state, 100, 4).as_deref(), Some("0.0.0.0:8080"));
    let conn = state.fd(100, 5).unwrap();
    assert_eq!(
        (conn.kind, conn.l4proto, conn.is_server, conn.cloexec),
        (FdKind::Ipv4, 6, true, true)
    );
    assert_eq!(conn.name, b"1.2.3.4:5555->10.0.0.1:8080");
    assert_eq!(
        conn.local,
        Some(SockAddr::Inet("10.0.0.1:8080".parse().unwrap()))
    );
    // Without the local address, the listening socket's is used.
    assert_eq!(
        name_of(&state, 100, 6).as_deref(),
        Some("5.6.7.8:9->0.0.0.0:8080")
    );
    assert_eq!(state.fd_count(), 4);
}

#[test]
fn pipes_socketpairs_memfds_and_anonymous_fds() {
    let eventfd2 = ev(
        "eventfd2",
        100,
        100,
        9,
        vec![u(0), u(O_CLOEXEC), u(0), u(0), u(0), u(0)],
    );
    let epoll = ev("epoll_create1", 100, 100, 10, vec![u(0); 6]);
    let events = [
        ev("pipe2", 100, 100, 0, vec![fd(4), fd(5), u(O_CLOEXEC)]),
        ev(
            "socketpair",
            100,
            100,
            0,
            vec![u(1), u(1), u(0), fd(6), fd(7)],
        ),
        ev("memfd_create", 100, 100, 8, vec![s("payload"), u(1)]),
        eventfd2,
        epoll,
        ev("pipe", 100, 100, -24, vec![fd(0), fd(0), u(0)]),
    ];
    let state = replay(&shell_snapshot(), &events, |_, _| {});
    let (read, write) = (state.fd(100, 4).unwrap(), state.fd(100, 5).unwrap());
    assert_eq!((read.kind, write.kind), (FdKind::Pipe, FdKind::Pipe));
    assert_eq!(read.name, write.name);
    assert!(read.name.starts_with(b"pipe:["));
    assert!(read.cloexec && write.cloexec);
    assert_eq!(write.flags & 3, 1, "the write end is write-only");
    assert_eq!(state.fd(100, 6).unwrap().kind, FdKind::Unix);
    assert_eq!(state.fd(100, 7).unwrap().kind, FdKind::Unix);
    let memfd = state.fd(100, 8).unwrap();
    assert_eq!(
        (memfd.kind, memfd.name.as_slice(), memfd.cloexec),
        (FdKind::Memfd, &b"/memfd:payload"[..], true)
    );
    let eventfd = state.fd(100, 9).unwrap();
    assert_eq!((eventfd.kind, eventfd.cloexec), (FdKind::EventFd, true));
    let epoll = state.fd(100, 10).unwrap();
    assert_eq!((epoll.kind, epoll.cloexec), (FdKind::EventPoll, false));
    assert!(state.fd(100, 0).is_none());
}

/// `clone` of a new process that shares its parent's fd table.
fn clone_files(parent: u32, child: u32) -> [Event; 2] {
    const CLONE_FILES: u64 = 0x400;
    let flags = CLONE_FILES | SIGCHLD;
    [
        ev(
            "clone",
            parent,
            parent,
            i64::from(child),
            vec![u(flags), Value::Int(i64::from(child))],
        ),
        ev("clone", child, child, 0, vec![u(flags), Value::Int(0)]),
    ]
}

#[test]
fn processes_made_with_clone_files_share_one_fd_table_until_they_unshare() {
    const CLONE_FILES: u64 = 0x400;
    let [parent, child] = clone_files(100, 102);
    let [parent2, child2] = clone_files(100, 103);
    let events = [
        parent,
        child,
        // Opened by the child, seen by the parent; closed by the parent,
        // gone for the child.
        openat(102, AT_FDCWD, "/tmp/shared", 0, 5),
        close(100, 3),
        getpid(102),
        // The child takes a private copy; from then on, each its own.
        ev("unshare", 102, 102, 0, vec![u(CLONE_FILES)]),
        openat(102, AT_FDCWD, "/tmp/private", 0, 6),
        openat(100, AT_FDCWD, "/tmp/parent", O_CLOEXEC, 7),
        // A second sharer outlives the parent: the table stays with it.
        parent2,
        child2,
        ev("procexit", 100, 100, 0, vec![Value::Int(0), Value::Int(0)]),
        openat(103, AT_FDCWD, "/tmp/after", 0, 8),
        // Its exec keeps the table without the close-on-exec fd.
        execve(103, "/bin/true", &["true"], "/bin/true", "/home/u"),
    ];
    let state = replay(&shell_snapshot(), &events, |num, state| match num {
        2 => {
            assert_eq!(name_of(state, 100, 5).as_deref(), Some("/tmp/shared"));
            assert_eq!(name_of(state, 102, 3).as_deref(), Some("/var/log/app.log"));
        }
        4 => assert_eq!(name_of(state, 102, 3), None, "closed by the parent"),
        7 => {
            assert_eq!(name_of(state, 102, 6).as_deref(), Some("/tmp/private"));
            assert_eq!(name_of(state, 100, 6), None);
            assert_eq!(name_of(state, 100, 7).as_deref(), Some("/tmp/parent"));
            assert_eq!(name_of(state, 102, 7), None);
            assert_eq!(name_of(state, 102, 5).as_deref(), Some("/tmp/shared"));
        }
        11 => {
            assert!(state.process(100).is_none(), "reaped");
            assert_eq!(name_of(state, 103, 8).as_deref(), Some("/tmp/after"));
            assert_eq!(name_of(state, 103, 7).as_deref(), Some("/tmp/parent"));
        }
        _ => {}
    });
    assert_eq!(name_of(&state, 103, 7), None, "close-on-exec");
    assert_eq!(name_of(&state, 103, 5).as_deref(), Some("/tmp/shared"));
    assert_eq!(name_of(&state, 103, 8).as_deref(), Some("/tmp/after"));
    assert_eq!(name_of(&state, 102, 8), None);
}

#[test]
fn an_exec_in_a_process_sharing_its_table_leaves_the_others_theirs() {
    let [parent, child] = clone_files(100, 102);
    let events = [
        parent,
        child,
        openat(100, AT_FDCWD, "/tmp/cloexec", O_CLOEXEC, 4),
        execve(100, "/bin/true", &["true"], "/bin/true", "/home/u"),
        openat(102, AT_FDCWD, "/tmp/child", 0, 5),
    ];
    let state = replay(&shell_snapshot(), &events, |_, _| {});
    // The child keeps the table as it was, close-on-exec fd included.
    assert_eq!(name_of(&state, 102, 4).as_deref(), Some("/tmp/cloexec"));
    assert_eq!(name_of(&state, 102, 5).as_deref(), Some("/tmp/child"));
    // The exec'd parent has a copy without it, and without what the child
    // opened after.
    assert_eq!(name_of(&state, 100, 4), None);
    assert_eq!(name_of(&state, 100, 5), None);
    assert_eq!(name_of(&state, 100, 3).as_deref(), Some("/var/log/app.log"));
}

#[test]
fn fork_copies_the_parent_when_its_record_comes_first() {
    let [parent, child] = fork(100, 101);
    let events = [
        parent,
        child,
        openat(101, AT_FDCWD, "child.txt", 0, 4),
        close(101, 3),
        getpid(101),
    ];
    let state = replay(&shell_snapshot(), &events, |num, state| {
        if num == 0 {
            let child = state
                .process(101)
                .expect("the child exists from its parent's record");
            assert_eq!(child.ppid, 100);
        }
    });
    let child = state.process(101).unwrap();
    assert_eq!(
        (child.comm.as_slice(), child.cwd.as_slice()),
        (&b"bash"[..], &b"/home/u"[..])
    );
    assert_eq!((child.uid, child.euid, child.vpid), (1000, 1000, 101));
    assert_eq!(child.args, vec![b"-x".to_vec()]);
    assert_eq!(state.thread(101).unwrap().tgid, 101);
    assert_eq!(
        name_of(&state, 101, 4).as_deref(),
        Some("/home/u/child.txt")
    );
    assert!(state.fd(101, 3).is_none(), "closed in the child");
    assert_eq!(
        name_of(&state, 100, 3).as_deref(),
        Some("/var/log/app.log"),
        "not in the parent"
    );
    assert!(state.fd(100, 4).is_none());
    assert_eq!(state.process_count(), 2);
}

#[test]
fn fork_links_a_child_whose_record_comes_first() {
    let mut snapshot = shell_snapshot();
    snapshot.fds.push(FdInfo {
        pid: 100,
        fd: 4,
        kind: FdKind::File,
        name: b"/etc/hosts".to_vec(),
        ..FdInfo::default()
    });
    let [parent, child] = fork(100, 101);
    let events = [
        child,
        openat(101, AT_FDCWD, "/tmp/early", 0, 5),
        close(101, 3),
        parent,
    ];
    let state = replay(&snapshot, &events, |num, state| {
        if num == 0 {
            let orphan = state.process(101).unwrap();
            assert_eq!((orphan.pid, orphan.ppid), (101, 0), "parent not known yet");
            assert_eq!(orphan.uid, u32::MAX, "unknown");
        }
    });
    let child = state.process(101).unwrap();
    assert_eq!(child.ppid, 100);
    assert_eq!((child.comm.as_slice(), child.uid), (&b"bash"[..], 1000));
    assert_eq!(state.thread(101).unwrap().comm, b"bash");
    assert_eq!(name_of(&state, 101, 5).as_deref(), Some("/tmp/early"));
    assert_eq!(
        name_of(&state, 101, 4).as_deref(),
        Some("/etc/hosts"),
        "inherited"
    );
    assert!(
        state.fd(101, 3).is_none(),
        "closed before the parent's record"
    );
    assert_eq!(state.ancestor(101, 1).unwrap().pid, 100);
}

#[test]
fn a_child_that_execs_before_its_parents_record_keeps_its_new_identity() {
    let [parent, child] = fork(100, 101);
    let events = [
        openat(100, AT_FDCWD, "/tmp/secret", O_CLOEXEC, 4),
        child,
        execve(101, "/usr/bin/id", &["id"], "/usr/bin/id", "/home/u"),
        parent,
    ];
    let state = replay(&shell_snapshot(), &events, |_, _| {});
    let child = state.process(101).unwrap();
    assert_eq!(
        (child.ppid, child.comm.as_slice(), child.uid),
        (100, &b"id"[..], 0)
    );
    assert!(child.args.is_empty());
    assert!(
        state.fd(101, 4).is_none(),
        "close-on-exec, gone by the exec"
    );
    assert_eq!(name_of(&state, 101, 3).as_deref(), Some("/var/log/app.log"));
}

#[test]
fn clone_thread_adds_a_thread_to_the_same_process() {
    let events = [
        ev(
            "clone",
            100,
            100,
            102,
            vec![u(CLONE_THREAD_FLAGS), Value::Int(102)],
        ),
        ev(
            "clone",
            102,
            100,
            0,
            vec![u(CLONE_THREAD_FLAGS), Value::Int(0)],
        ),
        ev(
            "openat",
            102,
            100,
            4,
            vec![fd(AT_FDCWD), s("t.txt"), u(0), u(0), fd(4)],
        ),
        ev("exit", 102, 100, 0, vec![Value::Int(0)]),
        getpid(100),
    ];
    replay(&shell_snapshot(), &events, |num, state| {
        assert_eq!(state.process_count(), 1);
        match num {
            0..=3 => {
                let thread = state.thread(102).unwrap();
                assert_eq!((thread.tgid, thread.comm.as_slice()), (100, &b"bash"[..]));
                assert_eq!(state.thread_count(100), 2);
            }
            _ => {
                assert!(state.thread(102).is_none(), "the exit removed it");
                assert_eq!(state.thread_count(100), 1);
                assert_eq!(name_of(state, 100, 4).as_deref(), Some("/home/u/t.txt"));
            }
        }
    });
}

#[test]
fn a_thread_whose_clone_came_first_is_a_thread_of_its_tgid() {
    let events = [
        ev(
            "clone",
            102,
            100,
            0,
            vec![u(CLONE_THREAD_FLAGS), Value::Int(0)],
        ),
        ev(
            "clone",
            100,
            100,
            102,
            vec![u(CLONE_THREAD_FLAGS), Value::Int(102)],
        ),
    ];
    let state = replay(&shell_snapshot(), &events, |_, state| {
        assert_eq!(state.thread(102).unwrap().tgid, 100);
        assert_eq!(state.process_count(), 1);
    });
    assert_eq!(state.thread_count(100), 2);
}

#[test]
fn execve_replaces_the_identity_and_drops_cloexec_fds() {
    let mut exec = execve(
        100,
        "/opt/tools/a-very-long-program-name",
        &["a-very-long-program-name", "-c", "print(1)"],
        "/opt/tools/real-binary",
        "/srv",
    );
    // Credentials the event did not capture keep their old values; the
    // cgroup names a container.
    let id = "ab".repeat(32);
    exec.params[5] = Value::Absent;
    exec.params[7] = u(0);
    exec.params[14] = s(&format!("docker-{id}.scope"));
    let events = [
        openat(100, AT_FDCWD, "/tmp/keep", 0, 4),
        openat(100, AT_FDCWD, "/tmp/drop", O_CLOEXEC, 5),
        ev(
            "clone",
            100,
            100,
            102,
            vec![u(CLONE_THREAD_FLAGS), Value::Int(102)],
        ),
        exec,
        ev("execve", 100, 100, -2, vec![fd(AT_FDCWD), s("/nope")]),
    ];
    let state = replay(&shell_snapshot(), &events, |_, _| {});
    let p = state.process(100).unwrap();
    assert_eq!(p.comm, b"a-very-long-pro");
    assert_eq!(p.exe, b"/opt/tools/a-very-long-program-name");
    assert_eq!(p.exepath, b"/opt/tools/real-binary");
    assert_eq!(p.args, vec![b"-c".to_vec(), b"print(1)".to_vec()]);
    assert_eq!(p.cwd, b"/srv");
    assert_eq!((p.uid, p.euid, p.gid), (1000, 0, 0));
    assert_eq!(p.cap_effective.bits(), 0x1ff);
    assert_eq!(p.container_id, id);
    assert!(!p.exe_from_memfd);
    assert_eq!(state.thread(100).unwrap().comm, b"a-very-long-pro");
    assert!(
        state.thread(102).is_none(),
        "exec leaves only the calling thread"
    );
    assert_eq!(name_of(&state, 100, 4).as_deref(), Some("/tmp/keep"));
    assert!(state.fd(100, 5).is_none());
}

#[test]
fn fexecve_of_a_memfd_is_named_after_the_file() {
    let mut exec = execve(100, "", &["x"], "/memfd:payload (deleted)", "/");
    exec.event_type = TABLE.id_of("execveat").unwrap();
    exec.params[0] = fd(7);
    let state = replay(&shell_snapshot(), &[exec], |_, _| {});
    let p = state.process(100).unwrap();
    assert!(p.exe_from_memfd);
    assert_eq!(p.comm, b"memfd:payload (");
}

#[test]
fn ancestors_follow_a_fork_chain() {
    let mut events = Vec::new();
    events.extend(fork(100, 101));
    events.push(execve(
        101,
        "/usr/bin/sh",
        &["sh", "-c", "id"],
        "/usr/bin/dash",
        "/home/u",
    ));
    events.extend(fork(101, 102));
    events.push(execve(
        102,
        "/usr/bin/id",
        &["id"],
        "/usr/bin/id",
        "/home/u",
    ));
    let state = replay(&shell_snapshot(), &events, |_, _| {});
    let chain: Vec<u32> = (0..4)
        .map_while(|level| state.ancestor(102, level).map(|p| p.pid))
        .collect();
    assert_eq!(chain, [102, 101, 100], "pid 1 is not in the snapshot");
    assert_eq!(
        state.ancestor(102, 1).unwrap().comm,
        b"sh",
        "named as invoked"
    );
    assert_eq!(state.ancestor(102, 1).unwrap().exepath, b"/usr/bin/dash");
    assert_eq!(state.ancestor(102, 2).unwrap().comm, b"bash");
    assert!(state.ancestor(102, 3).is_none());
    assert!(state.ancestor(999, 0).is_none());
}

#[test]
fn chdir_then_relative_open() {
    let events = [
        ev("chdir", 100, 100, 0, vec![s("/tmp")]),
        ev("chdir", 100, 100, 0, vec![s("sub/..//x/")]),
        openat(100, AT_FDCWD, "f", 0, 4),
        ev("chdir", 100, 100, -2, vec![s("/nonexistent")]),
        openat(100, AT_FDCWD, "/var", O_DIRECTORY, 5),
        ev("fchdir", 100, 100, 0, vec![fd(5)]),
        openat(100, AT_FDCWD, "log/syslog", 0, 6),
    ];
    let state = replay(&shell_snapshot(), &events, |num, state| {
        if num == 3 {
            assert_eq!(state.process(100).unwrap().cwd, b"/tmp/x");
        }
    });
    assert_eq!(name_of(&state, 100, 4).as_deref(), Some("/tmp/x/f"));
    assert_eq!(state.process(100).unwrap().cwd, b"/var");
    assert_eq!(name_of(&state, 100, 6).as_deref(), Some("/var/log/syslog"));
}

#[test]
fn set_id_calls_follow_the_kernel() {
    let mut snapshot = shell_snapshot();
    snapshot.processes.push(ProcessInfo {
        uid: 0,
        euid: 0,
        gid: 0,
        egid: 0,
        ..process(200, 1, "sshd", "/")
    });
    let minus_one = u64::from(u32::MAX);
    let events = [
        // Root drops to 1000: every id changes.
        ev("setgid", 200, 200, 0, vec![u(1000)]),
        ev("setuid", 200, 200, 0, vec![u(1000)]),
        // An unprivileged setuid changes the effective id only.
        ev("setuid", 100, 100, 0, vec![u(1001)]),
        ev(
            "setresuid",
            100,
            100,
            0,
            vec![u(minus_one), u(1000), u(minus_one)],
        ),
        ev("setreuid", 100, 100, 0, vec![u(u64::MAX), u(1002)]),
        ev("setregid", 100, 100, 0, vec![u(5), u(minus_one)]),
        ev("setuid", 100, 100, -1, vec![u(0)]),
        ev("capset", 100, 100, 0, vec![u(1), u(3), u(0)]),
    ];
    let state = replay(&snapshot, &events, |num, state| {
        if num == 2 {
            let p = state.process(100).unwrap();
            assert_eq!((p.uid, p.euid), (1000, 1001));
        }
    });
    let root = state.process(200).unwrap();
    assert_eq!(
        (root.uid, root.euid, root.gid, root.egid),
        (1000, 1000, 1000, 1000)
    );
    let p = state.process(100).unwrap();
    assert_eq!((p.uid, p.euid, p.gid, p.egid), (1000, 1002, 5, 1000));
    assert_eq!(
        (
            p.cap_effective.bits(),
            p.cap_permitted.bits(),
            p.cap_inheritable.bits()
        ),
        (1, 3, 0)
    );
}

#[test]
fn exited_processes_are_reaped_after_their_last_event() {
    let mut events = Vec::new();
    for child in 101..=110 {
        events.extend(fork(100, child));
        events.push(openat(child, AT_FDCWD, "/tmp/x", 0, 4));
        events.push(ev("exit_group", child, child, 0, vec![Value::Int(0)]));
        events.push(ev(
            "procexit",
            child,
            child,
            0,
            vec![Value::Int(0), Value::Int(0)],
        ));
    }
    events.push(getpid(100));
    let mut max = 0;
    let state = replay(&shell_snapshot(), &events, |num, state| {
        max = max.max(state.process_count());
        match events[num as usize].event_type {
            t if t == TABLE.id_of("exit_group").unwrap() => {
                assert!(state.process(events[num as usize].tgid).unwrap().exited);
            }
            t if t == scry_format::PROCEXIT => {
                let pid = events[num as usize].tgid;
                let p = state.process(pid).expect("visible for its procexit");
                assert!(p.exited);
                assert_eq!(name_of(state, pid, 4).as_deref(), Some("/tmp/x"));
            }
            _ => {}
        }
    });
    assert_eq!(max, 2);
    assert_eq!(state.process_count(), 1);
    assert_eq!(state.fd_count(), 1);
    assert!(state.thread(110).is_none());
}

#[test]
fn children_of_an_exited_process_are_reparented() {
    let mut snapshot = shell_snapshot();
    snapshot.processes.push(process(1, 0, "init", "/"));
    let mut events = Vec::new();
    events.extend(fork(100, 101));
    events.extend(fork(101, 102));
    events.push(ev(
        "procexit",
        101,
        101,
        0,
        vec![Value::Int(0), Value::Int(0)],
    ));
    events.push(getpid(102));
    let state = replay(&snapshot, &events, |_, _| {});
    assert!(state.process(101).is_none());
    assert_eq!(state.process(102).unwrap().ppid, 1);
    assert_eq!(state.ancestor(102, 1).unwrap().comm, b"init");
}

#[test]
fn processes_first_seen_mid_life_are_created_from_the_event() {
    let events = [
        getpid(500),
        ev("getpid", 501, 500, 500, vec![u(0); 6]),
        openat(500, AT_FDCWD, "relative", 0, 3),
        ev(
            "close_range",
            500,
            500,
            0,
            vec![u(3), u(u64::from(u32::MAX)), u(0), u(0), u(0), u(0)],
        ),
        getpid(500),
    ];
    let state = replay(&Snapshot::default(), &events, |num, state| {
        let p = state.process(500).unwrap();
        assert_eq!(
            (p.pid, p.ppid, p.uid, p.container_id.as_str()),
            (500, 0, u32::MAX, "host")
        );
        if num == 2 {
            // No cwd known: the path stays as given.
            assert_eq!(name_of(state, 500, 3).as_deref(), Some("relative"));
        }
        if num == 3 {
            assert!(
                state.fd(500, 3).is_some(),
                "close_range takes effect after its event"
            );
        }
    });
    assert_eq!(state.thread(501).unwrap().tgid, 500);
    assert_eq!(state.thread_count(500), 2);
    assert_eq!(state.process_count(), 1);
    assert_eq!(state.fd_count(), 0);
}

fn workload_sample() -> TraceFile<Vec<u8>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples/workload.scry");
    TraceFile::open(std::fs::read(path).unwrap()).unwrap()
}

/// The fd number an event names in its first parameter, if it does.
fn first_fd(event: &EventView<'_>) -> Option<i64> {
    match event.param(0) {
        Some(ValueRef::Fd(n)) => Some(n),
        _ => None,
    }
}

/// The real capture of `scripts/workload.sh` (see samples/README.md).
#[test]
fn replays_the_workload_sample() {
    let file = workload_sample();
    let table = file.header().event_table.clone();
    let id = |name| table.id_of(name).unwrap();
    let (read, execve, connect) = (id("read"), id("execve"), id("connect"));
    let mut passwd_readers = Vec::new();
    let mut id_checked = false;
    let mut connect_checked = false;
    let mut max_processes = 0;
    let state = replay_file(&file, |event, state| {
        max_processes = max_processes.max(state.process_count());
        let (pid, ty) = (event.tgid(), event.event_type());
        let process = state.process(pid).unwrap();
        let fd = first_fd(event).and_then(|n| state.fd(pid, n));
        if ty == read && fd.is_some_and(|f| f.name == b"/etc/passwd") {
            passwd_readers.push(String::from_utf8_lossy(&process.comm).into_owned());
        }
        if ty == execve && process.comm == b"id" {
            let parent = state.ancestor(pid, 1).unwrap();
            assert_eq!(parent.comm, b"sh");
            assert_eq!(parent.exepath, b"/usr/bin/dash");
            assert_eq!(parent.args, [&b"-c"[..], b"id; uname -a"]);
            let workload = state.ancestor(pid, 2).unwrap();
            assert_eq!(workload.comm, b"bash");
            assert_eq!(workload.args, [b"scripts/workload.sh"]);
            assert_eq!(workload.cwd, b"/work/main");
            id_checked = true;
        }
        if ty == connect && fd.is_some_and(|f| f.kind == FdKind::Ipv4) {
            let socket = fd.unwrap();
            assert_eq!(socket.name, b"0.0.0.0:0->127.0.0.1:1");
            assert_eq!(socket.l4proto, 6);
            connect_checked = true;
        }
    });
    // `cat /etc/passwd` reads it (data, then end of file); `ls -la` and
    // `id` read it too, to name users.
    passwd_readers.sort();
    assert_eq!(passwd_readers, ["cat", "cat", "id", "ls"]);
    assert!(id_checked && connect_checked);
    assert!(max_processes <= 4, "{max_processes} processes at once");
    // Only the workload's shell, visible for its own procexit.
    assert_eq!(state.process_count(), 1);
}

#[test]
fn the_workload_scripts_fds_are_named() {
    let file = workload_sample();
    let table = file.header().event_table.clone();
    let (dup2, write) = (table.id_of("dup2").unwrap(), table.id_of("write").unwrap());
    let mut script_fd_seen = false;
    let mut pipe_write_seen = false;
    replay_file(&file, |event, state| {
        let pid = event.tgid();
        if event.event_type() == dup2 && event.ret() == 255 {
            // bash keeps its script on fd 255, opened by a relative path
            // from the cwd its execve reported.
            let script = state.fd(pid, 255).unwrap();
            assert_eq!(script.name, b"/work/main/scripts/workload.sh");
            script_fd_seen = true;
        }
        let comm = &state.process(pid).unwrap().comm;
        if event.event_type() == write && comm == b"mktemp" {
            // `dir=$(mktemp -d …)`: its stdout is the pipe bash reads.
            let stdout = state.fd(pid, 1).unwrap();
            assert_eq!(stdout.kind, FdKind::Pipe);
            let parent = state.process(pid).unwrap().ppid;
            assert!(state.fds(parent).any(|(_, f)| f.name == stdout.name));
            pipe_write_seen = true;
        }
    });
    assert!(script_fd_seen && pipe_write_seen);
}

#[test]
fn a_row_label_follows_an_exec_amid_the_events_of_its_process() {
    // Labels read from the process are read again only when a process may
    // have changed: an exec between two runs of calls renames the row.
    let mut events = vec![getpid(100), getpid(100), getpid(100)];
    events.push(execve(
        100,
        "/usr/bin/python3",
        &["python3"],
        "/usr/bin/python3",
        "/home/u",
    ));
    events.extend([getpid(100), getpid(100)]);
    let file = write(&shell_snapshot(), &events);
    let mut comms = Vec::new();
    replay_file(&file, |_, state| {
        comms.push(state.process(100).unwrap().comm.clone())
    });
    assert_eq!(comms.first().map(Vec::as_slice), Some(&b"bash"[..]));
    let renamed = comms.last().unwrap().clone();
    assert_ne!(renamed, b"bash", "the exec renames the process");

    let prepared = Prepared::new(&file);
    let spec = summary::view("procs").unwrap();
    let bound = spec.bind(prepared.catalog(&file)).unwrap();
    let summary = summarize(&file, &prepared, spec, &bound, &Scan::default());
    let table = summary.finish();
    let row = table
        .rows
        .iter()
        .find(|r| r.keys[0].as_num() == Some(100))
        .unwrap();
    assert_eq!(row.values[0], 6, "every call of the process is on its row");
    assert_eq!(row.labels[0], Some(FieldValue::Str(renamed.into())));
}

fn write_to(pid: u32, n: i64, len: i64) -> Event {
    let data = Value::Bytes(vec![b'x'; len as usize]);
    ev(
        "write",
        pid,
        pid,
        len,
        vec![fd(n), u(len as u64), data, Value::Absent],
    )
}

#[test]
fn a_view_keyed_by_fd_and_pid_tells_apart_processes_sharing_an_entry() {
    // After a fork, parent and child hold the same entry for fd 3 (the
    // snapshot's log); rows keyed by file and process stay apart however
    // their writes interleave, and a connect that renames a socket moves
    // its later bytes to a row of the new name.
    let mut events = fork(100, 101).to_vec();
    events.extend([
        write_to(100, 3, 10),
        write_to(101, 3, 20),
        write_to(100, 3, 5),
        write_to(101, 3, 7),
        ev("socket", 100, 100, 4, vec![u(2), u(1), u(0)]),
        write_to(100, 4, 1),
        ev(
            "connect",
            100,
            100,
            0,
            vec![fd(4), addr("10.0.0.9:80"), addr("10.0.0.5:40000")],
        ),
        write_to(100, 4, 2),
        write_to(101, 3, 1),
    ]);
    let file = write(&shell_snapshot(), &events);
    let prepared = Prepared::new(&file);
    let mut spec = summary::view("conns").unwrap().clone();
    spec.restrict = None;
    let bound = spec.bind(prepared.catalog(&file)).unwrap();
    let table = summarize(&file, &prepared, &spec, &bound, &Scan::default()).finish();
    let mut rows: Vec<(String, i128, i64)> = table
        .rows
        .iter()
        .map(|r| {
            (
                r.keys[0].to_string(),
                r.keys[1].as_num().unwrap(),
                r.values[0],
            )
        })
        .collect();
    rows.sort();
    let log = "/var/log/app.log".to_owned();
    let tuple = "10.0.0.5:40000->10.0.0.9:80".to_owned();
    assert_eq!(
        rows,
        [(log.clone(), 100, 15), (log, 101, 28), (tuple, 100, 2)],
        "{rows:?}"
    );
}
