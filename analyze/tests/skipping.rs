//! Leaving out chunks that change no process: a scan that needs processes
//! but not fds gives the same results whether it replays every chunk or
//! only those that may change a process (or name one not alive yet). Checked
//! on the real sample captures cut into small chunks and on a synthetic
//! trace whose processes are spawned, renamed, re-credentialed and reaped
//! in some chunks only, with threads seen before their creation record.

#![allow(clippy::unwrap_used)]

mod common;

use common::rechunk;

use std::ops::ControlFlow;
use std::path::Path;

use scry_analyze::state::State;
use scry_analyze::{ChunkPlan, Filter, Prepared, Scan, scan};
use scry_format::{
    Event, EventTable, FileHeader, ProcessInfo, Snapshot, ThreadInfo, TraceFile, TraceWriter,
    Value, WriterOptions,
};

/// Fields read from processes only, printed for every match.
const PROCESS_FIELDS: &[&str] = &[
    "evt.num",
    "thread.tid",
    "proc.pid",
    "proc.name",
    "proc.ppid",
    "proc.pname",
    "proc.aname[2]",
    "proc.exe",
    "proc.exepath",
    "proc.cmdline",
    "proc.cwd",
    "proc.vpid",
    "user.uid",
    "user.name",
    "group.gid",
    "proc.loginshellid",
    "container.id",
    "proc.pid.ts",
];

fn sample(name: &str) -> TraceFile<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples")
        .join(name);
    TraceFile::open(std::fs::read(path).unwrap()).unwrap()
}

/// The values of [`PROCESS_FIELDS`] for every event matching `filter`.
fn rows(trace: &TraceFile<Vec<u8>>, filter: &str, replay_every_chunk: bool) -> Vec<String> {
    let prepared = Prepared::new(trace);
    let compiled = Filter::new(filter, prepared.catalog(trace))
        .unwrap_or_else(|e| panic!("{}", e.render(filter)));
    assert!(compiled.needs_state() && !compiled.needs_fds(), "{filter}");
    let columns: Vec<_> = PROCESS_FIELDS
        .iter()
        .map(|f| prepared.catalog(trace).field(f).unwrap())
        .collect();
    let options = Scan {
        filter: Some(&compiled),
        caller_needs_state: true,
        caller_reads_no_fds: true,
        replay_every_chunk,
        threads: 2,
        ..Scan::default()
    };
    let mut out = Vec::new();
    let flow = scan(
        trace,
        &prepared,
        &options,
        |e| panic!("{e}"),
        |ctx| {
            let row: Vec<String> = columns
                .iter()
                .map(|c| c.extract(ctx).map_or("<NA>".to_owned(), |v| v.to_string()))
                .collect();
            out.push(row.join(" "));
            ControlFlow::<()>::Continue(())
        },
    )
    .unwrap();
    assert!(flow.is_continue());
    out
}

/// How many chunks a scan for `filter` leaves unread, as the scan decides
/// it: skippable by the index and naming only live processes when reached.
fn left_out(trace: &TraceFile<Vec<u8>>, filter: &str) -> usize {
    let prepared = Prepared::new(trace);
    let compiled = Filter::new(filter, prepared.catalog(trace)).unwrap();
    let options = Scan {
        filter: Some(&compiled),
        ..Scan::default()
    };
    let plan = ChunkPlan::new(trace.chunks(), &prepared, &options);
    let mut state = State::new(trace.snapshot(), &trace.header().event_table);
    let mut unread = 0;
    for (at, entry) in trace.chunks().iter().enumerate() {
        if plan.skippable(at) && !ChunkPlan::must_replay(entry, &state) {
            unread += 1;
            continue;
        }
        for event in trace.decode_chunk(entry).unwrap().iter() {
            state.apply(&event);
        }
    }
    unread
}

/// Checks that every filter finds the same events with the same values
/// either way, and that the optimisation left some chunks out for at least
/// one of them.
fn same_either_way(trace: &TraceFile<Vec<u8>>, filters: &[&str]) {
    let mut unread = 0;
    for filter in filters {
        let every = rows(trace, filter, true);
        let some = rows(trace, filter, false);
        assert_eq!(every, some, "{filter}");
        unread += left_out(trace, filter);
    }
    assert!(unread > 0, "no chunk was left out");
}

#[test]
fn the_samples_give_the_same_results_with_chunks_left_out() {
    let filters = [
        "evt.type=execve and proc.name=curl",
        "evt.type in (execve, connect) and proc.pname exists",
        "evt.type=connect and user.uid>=0",
        "evt.type=kill or (evt.type=setuid and proc.name!=bash)",
        "evt.type=unlinkat and proc.aname[2] exists",
    ];
    for name in ["workload.scry", "incident.scry"] {
        let trace = rechunk(&sample(name), 16);
        assert!(trace.chunks().len() > 100);
        let matched: usize = filters.iter().map(|f| rows(&trace, f, true).len()).sum();
        assert!(matched > 0, "{name}: nothing matched");
        same_either_way(&trace, &filters);
    }
}

/// A trace whose processes change in a few chunks only.
mod synthetic {
    use super::*;

    const SIGCHLD: u64 = 17;
    const CLONE_THREAD_FLAGS: u64 = 0x0001_0000 | 0x100 | 0x200 | 0x400 | 0x800;

    /// A small deterministic generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    struct Writer {
        table: EventTable,
        events: Vec<Event>,
    }

    impl Writer {
        fn push(&mut self, name: &str, tid: u32, tgid: u32, ret: i64, params: Vec<Value>) {
            let ts = 1_700_000_000_000_000_000 + self.events.len() as u64 * 1000;
            self.events.push(Event {
                ts,
                tid,
                tgid,
                event_type: self.table.id_of(name).unwrap(),
                ret,
                params,
                ..Event::default()
            });
        }
    }

    fn s(text: &str) -> Value {
        Value::Str(text.as_bytes().to_vec())
    }

    fn execve_params(filename: &str, args: &[&str], cwd: &str, uid: u64) -> Vec<Value> {
        let mut params = vec![
            Value::Fd(-100),
            s(filename),
            Value::StrList(args.iter().map(|a| a.as_bytes().to_vec()).collect()),
            s(filename),
            s(cwd),
        ];
        params.extend([uid, uid, uid, uid, 1000, 0, 0, 0, 0].map(Value::Uint));
        params.extend([s(""), Value::Uint(0)]);
        params
    }

    fn process(pid: u32, ppid: u32, comm: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            ppid,
            vpid: pid,
            comm: comm.as_bytes().to_vec(),
            exe: format!("/usr/sbin/{comm}").into_bytes(),
            args: vec![comm.as_bytes().to_vec()],
            cwd: b"/".to_vec(),
            uid: 0,
            euid: 0,
            loginuid: u32::MAX,
            ..ProcessInfo::default()
        }
    }

    /// Services with named threads run all along; every few hundred events
    /// a burst forks children from any of their threads (the children's
    /// records sometimes before their parent's, their first events
    /// sometimes before both), which exec, change ids and cwd, start
    /// threads and exit; services start threads seen before their creation
    /// record, which then fork too; a process absent from the snapshot
    /// shows up mid-trace; one fchdir comes early. Records that come late
    /// are held back for a random number of events, so they often land in
    /// a later chunk.
    pub(super) fn trace(seed: u64, count: usize) -> TraceFile<Vec<u8>> {
        let table = EventTable::builtin_x86_64();
        let header = FileHeader {
            event_table: table.clone(),
            ..FileHeader::default()
        };
        let services = [
            (300, "nginx"),
            (310, "postgres"),
            (320, "sshd"),
            (330, "bash"),
        ];
        let mut snapshot = Snapshot {
            processes: vec![process(1, 0, "systemd")],
            ..Snapshot::default()
        };
        // Threads that may fork: (tid, tgid).
        let mut forkers: Vec<(u32, u32)> = Vec::new();
        for &(pid, comm) in &services {
            snapshot.processes.push(process(pid, 1, comm));
            forkers.push((pid, pid));
            for t in 1..3 {
                snapshot.threads.push(ThreadInfo {
                    tid: pid + t,
                    tgid: pid,
                    comm: format!("{comm}-worker{t}").into_bytes(),
                });
                forkers.push((pid + t, pid));
            }
        }
        let mut rng = Rng(seed | 1);
        let mut w = Writer {
            table,
            events: Vec::new(),
        };
        // Records held back: (due at this many events, record).
        type Record = (&'static str, u32, u32, i64, Vec<Value>);
        let mut late: Vec<(usize, Record)> = Vec::new();
        // (pid, threads) of live children.
        let mut children: Vec<(u32, Vec<u32>)> = Vec::new();
        let mut next_id = 1000;
        while w.events.len() < count {
            let at = w.events.len();
            let (due, waiting): (Vec<_>, Vec<_>) =
                late.drain(..).partition(|(when, _)| *when <= at);
            late = waiting;
            for (_, (name, tid, tgid, ret, params)) in due {
                w.push(name, tid, tgid, ret, params);
            }
            let later = |rng: &mut Rng| at + rng.below(80) as usize;
            if at == 400 {
                // fchdir: rebuilds a cwd from an fd.
                let open = vec![
                    Value::Fd(-100),
                    s("/srv"),
                    Value::Uint(0o200_000),
                    Value::Uint(0),
                    Value::Fd(9),
                ];
                w.push("openat", 330, 330, 9, open);
                w.push("fchdir", 330, 330, 0, vec![Value::Fd(9)]);
            }
            if at == 2500 {
                // A process the snapshot does not have.
                for _ in 0..5 {
                    w.push("getpid", 777, 777, 777, vec![Value::Uint(0); 6]);
                }
            }
            if rng.below(300) == 0 {
                // A burst of children.
                for _ in 0..1 + rng.below(3) {
                    let (tid, parent) = forkers[rng.below(forkers.len() as u64) as usize];
                    let child = next_id;
                    next_id += 10;
                    let parent_record: Record = (
                        "clone",
                        tid,
                        parent,
                        i64::from(child),
                        vec![Value::Uint(SIGCHLD), Value::Int(i64::from(child))],
                    );
                    let child_record: Record = (
                        "clone",
                        child,
                        child,
                        0,
                        vec![Value::Uint(SIGCHLD), Value::Int(0)],
                    );
                    match rng.below(4) {
                        0 => {
                            // Its first event before both records.
                            w.push(
                                "getpid",
                                child,
                                child,
                                i64::from(child),
                                vec![Value::Uint(0); 6],
                            );
                            let when = later(&mut rng);
                            late.push((when, child_record));
                            late.push((when, parent_record));
                        }
                        1 => {
                            w.push(
                                child_record.0,
                                child_record.1,
                                child_record.2,
                                child_record.3,
                                child_record.4,
                            );
                            late.push((later(&mut rng), parent_record));
                        }
                        _ => {
                            let (a, b, c, d, e) = parent_record;
                            w.push(a, b, c, d, e);
                            let (a, b, c, d, e) = child_record;
                            w.push(a, b, c, d, e);
                        }
                    }
                    if rng.below(2) == 0 {
                        let name = ["curl", "sh", "python3"][rng.below(3) as usize];
                        let path = format!("/usr/bin/{name}");
                        let params =
                            execve_params(&path, &[&path, "-c", "x"], "/tmp", 1000 + rng.below(3));
                        late.push((later(&mut rng) + 80, ("execve", child, child, 0, params)));
                    }
                    children.push((child, vec![child]));
                }
            }
            if rng.below(400) == 0 {
                // A service thread starts another, seen before its record
                // half of the time; it forks later bursts' children too.
                let (tid, tgid) = forkers[rng.below(forkers.len() as u64) as usize];
                let new = next_id;
                next_id += 10;
                let record: Record = (
                    "clone",
                    tid,
                    tgid,
                    i64::from(new),
                    vec![Value::Uint(CLONE_THREAD_FLAGS), Value::Int(i64::from(new))],
                );
                if rng.below(2) == 0 {
                    w.push(
                        "getpid",
                        new,
                        tgid,
                        i64::from(tgid),
                        vec![Value::Uint(0); 6],
                    );
                    late.push((later(&mut rng), record));
                } else {
                    w.push(record.0, record.1, record.2, record.3, record.4);
                }
                forkers.push((new, tgid));
            }
            if !children.is_empty() && rng.below(60) == 0 {
                let i = rng.below(children.len() as u64) as usize;
                let (pid, threads) = &mut children[i];
                let pid = *pid;
                match rng.below(5) {
                    0 => {
                        let (pid, threads) = children.swap_remove(i);
                        for &tid in threads.iter().filter(|&&t| t != pid) {
                            w.push("exit", tid, pid, 0, vec![Value::Int(0)]);
                        }
                        w.push("exit_group", pid, pid, 0, vec![Value::Int(0)]);
                        w.push("procexit", pid, pid, 0, vec![]);
                    }
                    1 => w.push("setuid", pid, pid, 0, vec![Value::Uint(2000)]),
                    2 => w.push("chdir", pid, pid, 0, vec![s("/var/tmp")]),
                    _ => {
                        // A new thread, seen before its creation record
                        // half of the time.
                        let tid = pid + threads.len() as u32;
                        threads.push(tid);
                        let record: Record = (
                            "clone",
                            pid,
                            pid,
                            i64::from(tid),
                            vec![Value::Uint(CLONE_THREAD_FLAGS), Value::Int(i64::from(tid))],
                        );
                        if rng.below(2) == 0 {
                            w.push("getpid", tid, pid, i64::from(pid), vec![Value::Uint(0); 6]);
                            late.push((later(&mut rng), record));
                        } else {
                            w.push(record.0, record.1, record.2, record.3, record.4);
                        }
                    }
                }
            }
            // Everyday events of a random thread: services, children and
            // their threads.
            let (tid, tgid) = if !children.is_empty() && rng.below(3) == 0 {
                let (pid, threads) = &children[rng.below(children.len() as u64) as usize];
                (threads[rng.below(threads.len() as u64) as usize], *pid)
            } else {
                forkers[rng.below(forkers.len() as u64) as usize]
            };
            if rng.below(250) == 0 {
                w.push("kill", tid, tgid, 0, vec![Value::Int(1), Value::Uint(0)]);
                continue;
            }
            match rng.below(40) {
                0..=10 => {
                    let open = vec![
                        Value::Fd(-100),
                        s("etc/hosts"),
                        Value::Uint(0),
                        Value::Uint(0),
                        Value::Fd(5),
                    ];
                    w.push("openat", tid, tgid, 5, open);
                }
                11..=20 => w.push("close", tid, tgid, 0, vec![Value::Fd(5)]),
                _ => w.push(
                    "getpid",
                    tid,
                    tgid,
                    i64::from(tgid),
                    vec![Value::Uint(0); 6],
                ),
            }
        }
        let options = WriterOptions {
            chunk_events: 40,
            ..WriterOptions::default()
        };
        let mut writer = TraceWriter::new(Vec::new(), &header, &snapshot, options).unwrap();
        for event in &w.events {
            writer.push(event).unwrap();
        }
        TraceFile::open(writer.finish().unwrap()).unwrap()
    }
}

#[test]
fn a_trace_with_processes_spawned_in_some_chunks_gives_the_same_results() {
    let filters = [
        "evt.type=kill and proc.name exists",
        "evt.type=kill and proc.name in (curl, sh, python3)",
        "evt.type in (kill, setuid) and user.uid=2000",
        "evt.type=kill and proc.cwd=/var/tmp",
        "evt.type=kill and proc.pname=bash",
    ];
    for seed in [7, 1234, 99_991] {
        let trace = synthetic::trace(seed, 20_000);
        let matched = rows(&trace, "evt.type=kill and proc.name exists", true).len();
        assert!(matched > 50, "seed {seed}: {matched} matches");
        same_either_way(&trace, &filters);
    }
}
