//! The committed real captures in `samples/` hold what their workload did
//! (`scripts/workload.sh`), decoded with the right arguments.

use scry_format::{Event, EventTable, SockAddr, TraceFile, Value};

use crate::util::*;

fn load(name: &str) -> (Vec<Event>, EventTable, u32) {
    let data = std::fs::read(samples().join(name)).unwrap();
    let trace = TraceFile::open(&data[..]).unwrap();
    assert!(trace.truncation().is_none() && trace.damage().is_empty());
    let mut events = Vec::new();
    let _ = trace.for_each_chunk(
        1,
        |_| true,
        |chunk| {
            events.extend(chunk.unwrap().iter().map(|e| e.to_event()));
            std::ops::ControlFlow::<()>::Continue(())
        },
    );
    let snaplen = trace.header().capture.snaplen;
    (events, trace.header().event_table.clone(), snaplen)
}

fn find<'e>(
    events: &'e [Event],
    table: &EventTable,
    name: &str,
    test: impl Fn(&[Value]) -> bool,
) -> Option<&'e Event> {
    events
        .iter()
        .find(|e| table.name(e.event_type) == Some(name) && test(&e.params))
}

fn str_param(value: &Value, wanted: &[u8]) -> bool {
    matches!(value, Value::Str(s) if s.as_slice() == wanted)
}

#[test]
fn the_workload_sample_shows_what_the_workload_did() {
    let (events, table, snaplen) = load("workload.scry");
    assert_eq!(snaplen, 80);
    let passwd = find(&events, &table, "openat", |p| {
        str_param(&p[1], b"/etc/passwd")
    })
    .expect("/etc/passwd is opened");
    assert!(passwd.ret >= 0);
    let read = events
        .iter()
        .find(|e| {
            e.tgid == passwd.tgid
                && e.ts > passwd.ts
                && table.name(e.event_type) == Some("read")
                && e.params[0] == Value::Fd(passwd.ret)
        })
        .expect("/etc/passwd is read");
    match &read.params[2] {
        Value::Bytes(data) => {
            assert!(
                data.starts_with(b"root:x:0:0:"),
                "{}",
                String::from_utf8_lossy(data)
            );
            assert!(data.len() <= 80, "cut at the snaplen");
        }
        other => panic!("read data is {other:?}"),
    }
    let refused = find(&events, &table, "connect", |p| {
        p[1] == Value::SockAddr(SockAddr::Inet("127.0.0.1:1".parse().unwrap()))
    })
    .expect("the connect to port 1 is recorded");
    assert_eq!(refused.ret, -111, "ECONNREFUSED");
    let rename = find(
        &events,
        &table,
        "renameat2",
        |p| matches!(&p[3], Value::Str(s) if s.ends_with(b"/.hidden")),
    )
    .expect("the rename to .hidden is recorded");
    assert_eq!(rename.ret, 0);
    let chmod = find(
        &events,
        &table,
        "fchmodat",
        |p| matches!(&p[1], Value::Str(s) if s.ends_with(b"/.hidden")),
    )
    .expect("the chmod is recorded");
    assert_eq!(chmod.params[2], Value::Uint(0o600));
    let id = find(&events, &table, "execve", |p| {
        str_param(&p[1], b"/usr/bin/id")
    })
    .expect("id is executed");
    assert_eq!(id.params[2], Value::StrList(vec![b"id".to_vec()]));
    assert!(
        events
            .iter()
            .any(|e| e.tgid == id.tgid && table.name(e.event_type) == Some("procexit"))
    );
}

#[test]
fn the_snaplen_0_sample_keeps_no_buffer_bytes() {
    let (events, _, snaplen) = load("workload-snaplen0.scry");
    assert_eq!(snaplen, 0);
    let with_data = events
        .iter()
        .flat_map(|e| &e.params)
        .filter(|v| matches!(v, Value::Bytes(b) if !b.is_empty()))
        .count();
    assert_eq!(with_data, 0);
    assert!(events.len() > 1000);
}
