//! Evaluation over a real capture (`samples/workload.scry`, recorded by scry
//! around `scripts/workload.sh`): fields take the values the workload gave
//! them, and compile errors point at the right place.

#![allow(clippy::unwrap_used)]

use std::ops::ControlFlow;
use std::path::Path;

use scry_analyze::{Filter, FilterError, Prepared, Scan, scan};
use scry_format::TraceFile;

fn sample() -> TraceFile<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/workload.scry");
    TraceFile::open(std::fs::read(path).unwrap()).unwrap()
}

/// Values of `fields` for every event matching `filter`.
fn query(trace: &TraceFile<Vec<u8>>, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let prepared = Prepared::new(trace);
    let compiled = Filter::new(filter, prepared.catalog(trace))
        .unwrap_or_else(|e| panic!("{}", e.render(filter)));
    let columns: Vec<scry_analyze::fields::Field> = fields
        .iter()
        .map(|f| {
            let (name, arg) = scry_analyze::fields::split_field(f);
            scry_analyze::fields::resolve(name, arg, &prepared.types, &trace.header().event_table)
                .unwrap()
        })
        .collect();
    let mut rows = Vec::new();
    let options = Scan {
        filter: Some(&compiled),
        caller_needs_state: true,
        threads: 2,
        ..Scan::default()
    };
    let flow = scan(
        trace,
        &prepared,
        &options,
        |e| panic!("{e}"),
        |ctx| {
            rows.push(
                columns
                    .iter()
                    .map(|c| c.extract(ctx).map_or("<NA>".to_owned(), |v| v.to_string()))
                    .collect(),
            );
            ControlFlow::<()>::Continue(())
        },
    )
    .unwrap();
    assert!(flow.is_continue());
    rows
}

fn count(trace: &TraceFile<Vec<u8>>, filter: &str) -> usize {
    query(trace, filter, &[]).len()
}

fn error(trace: &TraceFile<Vec<u8>>, filter: &str) -> FilterError {
    let prepared = Prepared::new(trace);
    Filter::new(filter, prepared.catalog(trace)).expect_err(filter)
}

#[test]
fn the_file_behind_a_read_is_the_one_opened_before_it() {
    let trace = sample();
    let rows = query(
        &trace,
        "evt.type=read and fd.name=/etc/passwd",
        &["proc.name", "evt.buffer", "fd.typechar"],
    );
    // cat reads it, and so does ls -l, to name file owners.
    assert!(
        rows.iter().any(|r| r[0] == "cat") && rows.iter().any(|r| r[0] == "ls"),
        "{rows:?}"
    );
    for row in &rows {
        assert_eq!(row[2], "f");
    }
    assert!(
        rows.iter().any(|r| r[1].starts_with("root:x:0:0:")),
        "{rows:?}"
    );
    assert_eq!(
        count(
            &trace,
            "evt.type=openat and fd.name=/etc/passwd and evt.is_open_read=true and proc.name=cat"
        ),
        1
    );
}

#[test]
fn ancestry_follows_the_fork_chain() {
    let trace = sample();
    let rows = query(
        &trace,
        "evt.type=execve and proc.name=id",
        &[
            "proc.pname",
            "proc.aname[2]",
            "proc.cmdline",
            "proc.exepath",
        ],
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "sh");
    assert_eq!(rows[0][1], "bash");
    assert_eq!(rows[0][2], "id");
    assert_eq!(rows[0][3], "/usr/bin/id");
    assert_eq!(
        count(
            &trace,
            "evt.type=execve and proc.name=id and proc.aname=bash"
        ),
        1,
        "any ancestor"
    );
    assert_eq!(
        count(
            &trace,
            "evt.type=execve and proc.name=id and proc.aname=nosuch"
        ),
        0
    );
}

#[test]
fn parameters_render_and_compare_by_name_and_position() {
    let trace = sample();
    let rows = query(
        &trace,
        "evt.type=connect and evt.arg.addr=127.0.0.1:1",
        &["evt.res", "evt.rawres", "evt.failed", "evt.arg[1]"],
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0], ["ECONNREFUSED", "-111", "true", "127.0.0.1:1"]);
    assert!(count(&trace, "evt.type=read and evt.rawarg.size >= 1") > 0);
    // Relative times take a unit.
    assert_eq!(count(&trace, "evt.latency > 1h"), 0);
    assert_eq!(
        count(&trace, "evt.latency >= 0ns"),
        count(&trace, "evt.latency exists")
    );
    assert_eq!(
        count(&trace, "evt.latency > 1500us"),
        count(&trace, "evt.latency > 1500000")
    );
    assert_eq!(count(&trace, "evt.type=read and evt.rawarg.size < 0"), 0);
    assert!(
        count(
            &trace,
            "evt.type=renameat2 and fs.path.target endswith /.hidden"
        ) == 1
    );
    assert!(
        count(&trace, "evt.type=fchmodat and evt.rawarg.mode=0x180") == 1,
        "0600 as hex"
    );
}

#[test]
fn operators_behave_like_sysdig() {
    let trace = sample();
    let opens = count(&trace, "evt.type=openat");
    assert!(opens > 100);
    assert_eq!(
        count(&trace, "evt.type=openat and fd.name exists")
            + count(&trace, "evt.type=openat and not fd.name exists"),
        opens
    );
    assert_eq!(
        count(&trace, "evt.type in (openat, close)"),
        opens + count(&trace, "evt.type=close")
    );
    assert_eq!(
        count(&trace, "fd.name glob '/etc/pas*'"),
        count(&trace, "fd.name startswith /etc/pas")
    );
    assert_eq!(
        count(&trace, "fd.name pmatch (/etc)"),
        count(&trace, "fd.name startswith /etc/")
    );
    assert_eq!(
        count(&trace, "fd.name regex '/etc/pass.*'"),
        count(&trace, "fd.name=/etc/passwd")
    );
    assert_eq!(
        count(&trace, "proc.name icontains CA"),
        count(&trace, "proc.name contains ca")
    );
    assert_eq!(
        count(&trace, "tolower(proc.name)=cat"),
        count(&trace, "proc.name=cat")
    );
    assert_eq!(
        count(&trace, "evt.buffer bcontains 726f6f74"),
        count(&trace, "evt.buffer contains root")
    );
    // A missing field makes a comparison false, even with !=.
    let with_fd = count(&trace, "fd.name exists");
    assert_eq!(count(&trace, "fd.name != /nonexistent"), with_fd);
    assert!(count(&trace, "not fd.name = /nonexistent") > with_fd);
    assert_eq!(
        count(&trace, "evt.failed=true"),
        count(&trace, "evt.rawres < 0 and evt.rawres > -4096")
    );
    assert_eq!(
        count(&trace, "proc.name=val(proc.pname)"),
        count(&trace, "proc.name=val(proc.pname) and proc.pname exists")
    );
}

#[test]
fn compile_errors_point_at_the_offending_token() {
    let trace = sample();
    let e = error(&trace, "evt.type=openat and proc.nme=cat");
    assert_eq!(e.span.start, 20);
    assert!(
        e.message.contains("unknown field 'proc.nme'"),
        "{}",
        e.message
    );
    let e = error(&trace, "evt.type=opne");
    assert_eq!(e.span.start, 9);
    assert!(e.message.contains("unknown event type 'opne'"));
    let e = error(&trace, "proc.pid contains 3");
    assert!(
        e.message.contains("not supported for number fields"),
        "{}",
        e.message
    );
    let e = error(&trace, "proc.pid=abc");
    assert!(e.message.contains("not a valid number"));
    let e = error(&trace, "fd.sip=1.2.3");
    assert!(e.message.contains("not an IP address"));
    assert!(
        error(&trace, "evt.type=openat and")
            .render("evt.type=openat and")
            .contains('^')
    );
}

#[test]
fn chunks_that_cannot_match_are_skipped_without_losing_state() {
    let trace = sample();
    let prepared = Prepared::new(&trace);
    let filter = Filter::new("evt.type=renameat2", prepared.catalog(&trace)).unwrap();
    let skippable = trace
        .chunks()
        .iter()
        .filter(|c| !filter.chunk_may_match(&c.summary))
        .count();
    assert!(
        skippable > 0,
        "renameat2 is in one chunk of {}",
        trace.chunks().len()
    );
    assert_eq!(count(&trace, "evt.type=renameat2"), 1);
    // `not not` hides the type from the chunk planner: nothing is skipped.
    // Both must agree on fd names that come from opens in skipped chunks.
    let reads = "evt.type=read and fd.name=/etc/passwd";
    assert_eq!(
        count(&trace, reads),
        count(&trace, "not not evt.type=read and fd.name=/etc/passwd")
    );
    assert!(count(&trace, reads) >= 3);
}

#[test]
fn the_event_types_a_filter_allows_are_a_superset_of_its_matches() {
    let trace = sample();
    let prepared = Prepared::new(&trace);
    let table = &trace.header().event_table;
    let types = |filter: &str| -> Option<Vec<&str>> {
        let compiled = Filter::new(filter, prepared.catalog(&trace)).unwrap();
        compiled.event_types().map(|bitmap| {
            bitmap
                .iter()
                .enumerate()
                .filter(|(_, allowed)| **allowed)
                .filter_map(|(id, _)| table.name(u16::try_from(id).unwrap()))
                .collect()
        })
    };
    assert_eq!(types("proc.name=cat"), None);
    assert_eq!(
        types("evt.type in (openat, connect) and proc.name=cat"),
        Some(vec!["connect", "openat"])
    );
    assert_eq!(
        types("evt.type=openat or evt.type=read"),
        Some(vec!["read", "openat"])
    );
    assert_eq!(types("evt.type=openat or proc.name=cat"), None);
    assert_eq!(
        types("not proc.name=cat and evt.type=close"),
        Some(vec!["close"])
    );
    let all_but_read = types("evt.type!=read").unwrap();
    assert!(!all_but_read.contains(&"read") && all_but_read.contains(&"write"));
    assert_eq!(types("evt.type=read and evt.type=write"), Some(vec![]));
    // What the bitmap allows matches at least every event that matches.
    let filter = "evt.type in (openat, read) and fd.name contains /etc";
    let allowed = types(filter).unwrap();
    let names = query(&trace, filter, &["evt.type"]);
    assert!(!names.is_empty());
    assert!(names.iter().all(|row| allowed.contains(&row[0].as_str())));
}
