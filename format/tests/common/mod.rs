//! Helpers shared by the format's integration tests: arbitrary events and
//! snapshots, and one-call write and read.

#![allow(dead_code, clippy::unwrap_used)]

use std::ops::ControlFlow;

use proptest::collection::vec;
use proptest::prelude::*;
use scry_format::*;

pub fn header() -> FileHeader {
    FileHeader {
        writer: "scry test".into(),
        created_ns: 1_700_000_000_000_000_000,
        machine: MachineInfo {
            hostname: "testhost".into(),
            kernel_release: "6.1.0".into(),
            arch: "x86_64".into(),
            cpus: 2,
            boot_time_ns: 1_699_000_000_000_000_000,
            ..MachineInfo::default()
        },
        capture: CaptureSettings {
            snaplen: 80,
            target: "host".into(),
            ..CaptureSettings::default()
        },
        event_table: EventTable::builtin_x86_64(),
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn sockaddr() -> impl Strategy<Value = SockAddr> {
    prop_oneof![
        any::<std::net::SocketAddrV4>().prop_map(|a| SockAddr::Inet(a.into())),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SockAddr::Inet((std::net::Ipv6Addr::from(ip), port).into())),
        bytes(20).prop_map(SockAddr::Unix),
        (any::<u16>(), bytes(8)).prop_map(|(family, data)| SockAddr::Other { family, data }),
    ]
}

pub fn value() -> impl Strategy<Value = Value> {
    // Paths come from a small pool so that interning is exercised.
    let path = prop_oneof![
        Just(b"/etc/passwd".to_vec()),
        Just(b"/tmp/x".to_vec()),
        Just(Vec::new()),
        bytes(12)
    ];
    prop_oneof![
        Just(Value::Absent),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(Value::Uint),
        any::<i64>().prop_map(Value::Fd),
        path.clone().prop_map(Value::Str),
        bytes(100).prop_map(Value::Bytes),
        sockaddr().prop_map(Value::SockAddr),
        vec(path, 0..4).prop_map(Value::StrList),
    ]
}

pub fn event() -> impl Strategy<Value = Event> {
    (
        any::<u64>(),
        0u32..5000,
        0u32..5000,
        any::<u16>(),
        prop_oneof![0u16..460, Just(PROCEXIT), any::<u16>()],
        any::<i64>(),
        any::<u64>(),
        vec(value(), 0..6),
    )
        .prop_map(
            |(ts, tid, tgid, cpu, event_type, ret, latency, params)| Event {
                ts,
                tid,
                tgid,
                cpu,
                event_type,
                ret,
                latency,
                params,
            },
        )
}

/// Events with increasing timestamps, like a real capture.
pub fn ordered_events(max: usize) -> impl Strategy<Value = Vec<Event>> {
    (any::<u32>(), vec((event(), 0u64..10_000), 0..max)).prop_map(|(base, events)| {
        let mut ts = 1_700_000_000_000_000_000 + u64::from(base);
        events
            .into_iter()
            .map(|(mut e, gap)| {
                ts += gap;
                e.ts = ts;
                e
            })
            .collect()
    })
}

pub fn snapshot() -> impl Strategy<Value = Snapshot> {
    let process = (
        any::<u32>(),
        any::<u32>(),
        bytes(16),
        vec(bytes(10), 0..4),
        any::<u64>(),
        "[a-f0-9]{0,12}",
    )
        .prop_map(|(pid, ppid, exe, args, caps, container_id)| ProcessInfo {
            pid,
            ppid,
            comm: exe.iter().copied().take(15).collect(),
            exe,
            args,
            cap_effective: caps,
            loginuid: u32::MAX,
            container_id,
            ..ProcessInfo::default()
        });
    let fd = (
        any::<u32>(),
        any::<i32>(),
        0u64..20,
        bytes(20),
        proptest::option::of(sockaddr()),
    )
        .prop_map(|(pid, fd, kind, name, remote)| FdInfo {
            pid,
            fd,
            kind: FdKind::from_code(kind),
            name,
            remote,
            ..FdInfo::default()
        });
    let user = (any::<u32>(), "[a-z]{1,8}").prop_map(|(uid, name)| UserInfo {
        uid,
        home: format!("/home/{name}"),
        name,
        shell: "/bin/sh".into(),
        ..UserInfo::default()
    });
    let container = ("[a-f0-9]{12}", any::<bool>()).prop_map(|(id, privileged)| ContainerInfo {
        id,
        runtime: "docker".into(),
        privileged,
        ..ContainerInfo::default()
    });
    (
        any::<u64>(),
        vec(process, 0..5),
        vec(fd, 0..5),
        vec(user, 0..3),
        vec(container, 0..2),
    )
        .prop_map(|(ts, processes, fds, users, containers)| Snapshot {
            ts,
            threads: processes
                .iter()
                .map(|p| ThreadInfo {
                    tid: p.pid,
                    tgid: p.pid,
                    comm: p.comm.clone(),
                })
                .collect(),
            groups: users
                .iter()
                .map(|u| GroupInfo {
                    gid: u.uid,
                    name: u.name.clone(),
                })
                .collect(),
            processes,
            fds,
            users,
            containers,
        })
}

pub fn stats(ts: u64, written: u64, is_final: bool) -> CaptureStats {
    CaptureStats {
        ts,
        cpus: vec![
            CpuStats {
                cpu: 0,
                delivered: written,
                dropped: 1,
            },
            CpuStats {
                cpu: 1,
                delivered: 7,
                dropped: 0,
            },
        ],
        events_written: written,
        events_filtered: 0,
        undecodable: 2,
        is_final,
    }
}

/// Writes `events` with a statistics record after every `stats_every`
/// events (never when 0).
pub fn write(
    events: &[Event],
    snapshot: &Snapshot,
    chunk_events: u32,
    stats_every: usize,
) -> Vec<u8> {
    let options = WriterOptions {
        chunk_events,
        ..WriterOptions::default()
    };
    let mut writer = TraceWriter::new(Vec::new(), &header(), snapshot, options).unwrap();
    for (i, event) in events.iter().enumerate() {
        writer.push(event).unwrap();
        if stats_every > 0 && (i + 1) % stats_every == 0 {
            writer
                .write_stats(&stats(event.ts, i as u64 + 1, false))
                .unwrap();
        }
    }
    writer.finish().unwrap()
}

/// Every readable event of a file, in order, skipping damaged chunks.
pub fn read_all<D: AsRef<[u8]>>(trace: &TraceFile<D>, threads: usize) -> Vec<Event> {
    let mut events = Vec::new();
    let flow = trace
        .for_each_chunk(
            threads,
            |_| true,
            |chunk| {
                if let Ok(chunk) = chunk {
                    events.extend(chunk.iter().map(|e| e.to_event()));
                }
                ControlFlow::<()>::Continue(())
            },
        )
        .unwrap();
    assert!(flow.is_continue());
    events
}

/// Every readable event of a stream.
pub fn read_stream(data: &[u8], threads: usize) -> (Vec<Event>, StreamReader<&[u8]>) {
    let mut reader = StreamReader::open(data, ReadOptions::default()).unwrap();
    let mut events = Vec::new();
    let _ = reader
        .for_each_chunk(threads, |chunk| {
            if let Ok(chunk) = chunk {
                events.extend(chunk.iter().map(|e| e.to_event()));
            }
            ControlFlow::<()>::Continue(())
        })
        .unwrap();
    (events, reader)
}
