//! Evaluation over a real capture (`samples/workload.scry`, recorded by scry
//! around `scripts/workload.sh`): fields take the values the workload gave
//! them, and compile errors point at the right place.

#![allow(clippy::unwrap_used)]

use std::ops::ControlFlow;
use std::path::Path;

use scry_analyze::{Filter, FilterError, Prepared, Scan, scan};
use scry_format::TraceFile;

fn sample() -> TraceFile<Vec<u8>> {
    open_sample("workload.scry")
}

/// `samples/incident.scry`: a reverse shell over loopback, among others.
fn incident() -> TraceFile<Vec<u8>> {
    open_sample("incident.scry")
}

fn open_sample(name: &str) -> TraceFile<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples")
        .join(name);
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
    // Each pair below must agree, and each is anchored to what the
    // workload did, so that two empty results cannot pass for agreement.
    let opens = count(&trace, "evt.type=openat");
    assert_eq!(opens, 391);
    assert_eq!(
        count(&trace, "evt.type=openat and fd.name exists")
            + count(&trace, "evt.type=openat and not fd.name exists"),
        opens
    );
    let closes = count(&trace, "evt.type=close");
    assert_eq!(closes, 280);
    assert_eq!(count(&trace, "evt.type in (openat, close)"), opens + closes);
    // /etc/passwd: opened and read by cat, by ls -l and by id, with
    // lseek and fadvise64 calls on it, recorded generically.
    let passwd = count(&trace, "fd.name=/etc/passwd");
    assert_eq!(passwd, 13);
    assert_eq!(
        count(
            &trace,
            "fd.name=/etc/passwd and evt.type in (lseek, fadvise64)"
        ),
        3
    );
    assert_eq!(count(&trace, "fd.name glob '/etc/pas*'"), passwd);
    assert_eq!(count(&trace, "fd.name startswith /etc/pas"), passwd);
    assert_eq!(count(&trace, "fd.name iglob '/ETC/PAS*'"), passwd);
    assert_eq!(
        count(&trace, "fd.name glob '/ETC/PAS*'"),
        0,
        "glob is exact"
    );
    assert_eq!(count(&trace, "fd.name regex '/etc/pass.*'"), passwd);
    assert_eq!(count(&trace, "basename(fd.name)=passwd"), passwd);
    let below_etc = count(&trace, "fd.name startswith /etc/");
    assert_eq!(below_etc, 74);
    assert_eq!(count(&trace, "fd.name pmatch (/etc)"), below_etc);
    let cat = count(&trace, "proc.name=cat");
    assert_eq!(cat, 240);
    assert_eq!(count(&trace, "proc.name icontains CA"), cat);
    assert_eq!(count(&trace, "proc.name contains ca"), cat);
    assert_eq!(
        count(&trace, "proc.name contains CA"),
        0,
        "contains is exact"
    );
    assert_eq!(count(&trace, "tolower(proc.name)=cat"), cat);
    assert_eq!(count(&trace, "toupper(proc.name)=CAT"), cat);
    let cat_or_ls = count(&trace, "proc.name in (cat, ls)");
    assert_eq!(cat_or_ls, 448);
    assert_eq!(count(&trace, "proc.name intersects (cat, ls)"), cat_or_ls);
    assert_eq!(count(&trace, "proc.name intersects (nosuch)"), 0);
    // The first 80 bytes of /etc/passwd, read by cat, ls and id.
    let root = count(&trace, "evt.buffer contains root");
    assert_eq!(root, 9);
    assert_eq!(count(&trace, "evt.buffer bcontains 726f6f74"), root);
    let starts_root = count(&trace, "evt.buffer startswith root");
    assert_eq!(starts_root, 7);
    assert_eq!(
        count(&trace, "evt.buffer bstartswith 726f6f74"),
        starts_root
    );
    assert_eq!(count(&trace, "evt.buffer bstartswith 6f6f74"), 0);
    // A missing field makes a comparison false, even with !=.
    let with_fd = count(&trace, "fd.name exists");
    // 945 events on open fds (42 of them calls recorded generically, such
    // as lseek and ioctl) and the 160 failed opens, which name the file
    // they asked for.
    assert_eq!(with_fd, 1105);
    assert_eq!(count(&trace, "fd.name exists and evt.arg.a0 exists"), 42);
    assert_eq!(
        count(&trace, "fd.name exists and fd.num=-1"),
        count(
            &trace,
            "evt.type in (open,openat,openat2,creat) and evt.failed=true"
        )
    );
    assert_eq!(count(&trace, "fd.name != /nonexistent"), with_fd);
    assert!(count(&trace, "not fd.name = /nonexistent") > with_fd);
    let failed = count(&trace, "evt.failed=true");
    assert_eq!(failed, 337);
    assert_eq!(
        count(&trace, "evt.rawres < 0 and evt.rawres > -4096"),
        failed
    );
    let same_name = count(&trace, "proc.name=val(proc.pname)");
    assert_eq!(same_name, 174);
    assert_eq!(
        count(&trace, "proc.name=val(proc.pname) and proc.pname exists"),
        same_name
    );
}

#[test]
fn networks_match_by_cidr() {
    // The incident's reverse shell: bash connects to a listener on
    // 127.0.0.1, which accepts.
    let trace = incident();
    let on_loopback = count(&trace, "fd.net in (127.0.0.0/8)");
    assert_eq!(on_loopback, 39);
    assert_eq!(
        count(&trace, "fd.net in (10.0.0.0/8, 127.0.0.0/8)"),
        on_loopback
    );
    assert_eq!(count(&trace, "fd.net=127.0.0.0/8"), on_loopback);
    assert_eq!(count(&trace, "fd.net in (10.0.0.0/8)"), 0);
    assert_eq!(count(&trace, "fd.net in (::1/128)"), 0);
    assert_eq!(count(&trace, "fd.net != 127.0.0.0/8"), 0);
    assert_eq!(count(&trace, "fd.cnet in (127.0.0.0/8)"), 39);
    assert_eq!(count(&trace, "fd.cnet in (127.0.0.1/32)"), 39);
    assert_eq!(count(&trace, "fd.snet in (127.0.0.0/8)"), 33);
    assert_eq!(count(&trace, "fd.snet in (127.0.0.2/31)"), 0);
    assert_eq!(count(&trace, "fd.snet in (0.0.0.0/0)"), 33);
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
    let e = error(&trace, "evt.type=openat and evt.failed=yes");
    assert_eq!(e.span.start, 31);
    assert!(
        e.message.contains("'yes' is not a boolean"),
        "{}",
        e.message
    );
    let e = error(&trace, "evt.is_io in (true, maybe)");
    assert_eq!(e.span.start, 20);
    assert!(e.message.contains("not a boolean"), "{}", e.message);
    let e = error(&trace, "fd.net in (10.0.0.0/8, 10.0.0.0/33)");
    assert_eq!(e.span.start, 23);
    assert!(
        e.message
            .contains("'10.0.0.0/33' is not an IP address or network"),
        "{}",
        e.message
    );
    let e = error(&trace, "fd.snet=300.0.0.0/8");
    assert_eq!(e.span.start, 8);
    assert!(e.message.contains("not an IP address"), "{}", e.message);
    let e = error(&trace, "fd.net contains 10.0");
    assert!(
        e.message.contains("not supported for ip fields"),
        "{}",
        e.message
    );
    let e = error(&trace, "evt.type=openat and evt.outputtime > 0");
    assert_eq!(e.span.start, 20);
    assert!(e.message.contains("print-only"), "{}", e.message);
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
fn flags_and_enums_read_by_name_as_falco_rules_test_them() {
    let trace = sample();
    // Falco's "clear log activities" style test: a shell's `>` opens with
    // O_WRONLY|O_CREAT|O_TRUNC (577); the workload does it six times.
    let truncating =
        "evt.type=openat and evt.is_open_write=true and evt.arg.flags contains O_TRUNC";
    assert_eq!(count(&trace, truncating), 6);
    assert_eq!(count(&trace, "evt.type=openat and evt.rawarg.flags=577"), 6);
    let rows = query(
        &trace,
        truncating,
        &[
            "evt.arg.flags",
            "evt.rawarg.flags",
            "evt.arg.mode",
            "evt.args",
        ],
    );
    assert_eq!(rows[0][0], "O_TRUNC|O_CREAT|O_WRONLY");
    assert_eq!(rows[0][1], "577", "rawarg stays numeric");
    assert_eq!(rows[0][2], "0666");
    assert!(
        rows[0][3].contains("flags=577(O_TRUNC|O_CREAT|O_WRONLY) mode=0666"),
        "{}",
        rows[0][3]
    );
    // Names alone, as sysdig resolves them, so equality works too.
    assert_eq!(
        count(
            &trace,
            "evt.type=openat and evt.arg.flags='O_RDONLY|O_CLOEXEC'"
        ),
        count(&trace, "evt.type=openat and evt.rawarg.flags=524288")
    );
    assert_eq!(
        count(&trace, "evt.type=openat and evt.rawarg.flags=524288"),
        348
    );
    // ls talks to nscd over unix sockets; the refused connect is AF_INET.
    assert_eq!(
        count(&trace, "evt.type=socket and evt.arg.domain=AF_LOCAL"),
        8
    );
    assert_eq!(
        count(
            &trace,
            "evt.type=socket and evt.arg.domain contains AF_INET"
        ),
        1
    );
    assert_eq!(
        count(
            &trace,
            "evt.type=socket and evt.arg.type contains SOCK_STREAM"
        ),
        9
    );
    assert_eq!(
        count(&trace, "evt.type=mmap and evt.arg.prot contains PROT_EXEC"),
        25
    );
    assert_eq!(
        count(
            &trace,
            "evt.type=clone and evt.arg.flags contains CLONE_CHILD_SETTID"
        ),
        21
    );
    assert_eq!(
        count(
            &trace,
            "evt.type=renameat2 and evt.arg.flags=RENAME_NOREPLACE"
        ),
        1
    );
    assert_eq!(
        count(&trace, "evt.type=fcntl and evt.arg.cmd=F_SETFD"),
        count(&trace, "evt.type=fcntl and evt.rawarg.cmd=2")
    );
    // access is recorded raw; its mode is still named, as `mode`.
    assert_eq!(count(&trace, "evt.type=access and evt.arg.mode=R_OK"), 22);
    assert_eq!(count(&trace, "evt.type=access and evt.rawarg.a1=4"), 22);
}

/// Builds events for a trace written with scry's own writer.
mod synthetic {
    use scry_format::{
        Event, EventTable, FileHeader, ProcessInfo, Snapshot, TraceFile, TraceWriter, Value,
        WriterOptions,
    };

    pub const PID: u32 = 4242;

    pub fn trace(events: &[(&str, i64, Vec<Value>)]) -> TraceFile<Vec<u8>> {
        let table = EventTable::builtin_x86_64();
        let header = FileHeader {
            event_table: table.clone(),
            ..FileHeader::default()
        };
        let snapshot = Snapshot {
            processes: vec![ProcessInfo {
                pid: PID,
                comm: b"implant".to_vec(),
                ..ProcessInfo::default()
            }],
            ..Snapshot::default()
        };
        let mut writer =
            TraceWriter::new(Vec::new(), &header, &snapshot, WriterOptions::default()).unwrap();
        for (i, (name, ret, params)) in events.iter().enumerate() {
            let event = Event {
                ts: 1_700_000_000_000_000_000 + i as u64,
                tid: PID,
                tgid: PID,
                event_type: table.id_of(name).unwrap(),
                ret: *ret,
                params: params.clone(),
                ..Event::default()
            };
            writer.push(&event).unwrap();
        }
        TraceFile::open(writer.finish().unwrap()).unwrap()
    }

    pub fn u(n: u64) -> Value {
        Value::Uint(n)
    }

    pub fn i(n: i64) -> Value {
        Value::Int(n)
    }

    pub fn s(text: &str) -> Value {
        Value::Str(text.as_bytes().to_vec())
    }
}

#[test]
fn falco_socket_and_ptrace_conditions_match_by_name() {
    use synthetic::{i, s, u};
    const AF_PACKET: u64 = 17;
    const SOCK_RAW: u64 = 3;
    const ETH_P_ALL_BE: u64 = 0x0300;
    let trace = synthetic::trace(&[
        (
            "socket",
            3,
            vec![u(AF_PACKET), u(SOCK_RAW), u(ETH_P_ALL_BE)],
        ),
        ("socket", 4, vec![u(2), u(1), u(0)]),
        ("ptrace", 0, vec![u(16), i(1), u(0), u(0)]),
        ("ptrace", 0, vec![u(4), i(1), u(0x1000), u(0x90)]),
        ("ptrace", 0, vec![u(0x4206), i(1), u(0), u(0)]),
        ("ptrace", 0, vec![u(17), i(1), u(0), u(0)]),
        ("symlink", 0, vec![s("/etc/shadow"), s("/tmp/.s")]),
    ]);
    // Falco's "Packet socket created in container", minus the container.
    assert_eq!(
        count(
            &trace,
            "evt.type=socket and evt.arg.domain contains AF_PACKET"
        ),
        1
    );
    let rows = query(&trace, "evt.type=socket", &["evt.args", "evt.arg.domain"]);
    assert_eq!(
        rows[0][0],
        "res=3(<o>) domain=17(AF_PACKET) type=3(SOCK_RAW) proto=768"
    );
    assert_eq!(rows[1][1], "AF_INET");
    // Falco's ptrace_attach_or_injection macro.
    let injection = "evt.type=ptrace and (evt.arg.request contains PTRACE_POKETEXT \
        or evt.arg.request contains PTRACE_POKEDATA or evt.arg.request contains PTRACE_ATTACH \
        or evt.arg.request contains PTRACE_SEIZE or evt.arg.request contains PTRACE_SETREGS)";
    assert_eq!(count(&trace, injection), 3);
    assert_eq!(count(&trace, "evt.arg.request=PTRACE_DETACH"), 1);
    assert_eq!(count(&trace, "evt.rawarg.request=16"), 1);
    assert_eq!(
        count(&trace, "evt.arg.request=16"),
        0,
        "resolved to its name"
    );
}

#[test]
fn symlink_answers_to_falcos_parameter_names() {
    use synthetic::s;
    let trace = synthetic::trace(&[
        ("symlink", 0, vec![s("/etc/shadow"), s("/tmp/.s")]),
        (
            "symlinkat",
            0,
            vec![s("/etc/passwd"), synthetic::i(-100), s("/tmp/.p")],
        ),
    ]);
    assert_eq!(
        count(
            &trace,
            "evt.type=symlink and evt.arg.target=/etc/shadow and evt.arg.linkpath=/tmp/.s"
        ),
        1
    );
    assert_eq!(
        count(
            &trace,
            "evt.arg.target startswith /etc/ and evt.arg.linkpath startswith /tmp/"
        ),
        2,
        "symlink and symlinkat alike"
    );
    // The recorded names still resolve.
    assert_eq!(count(&trace, "evt.arg.oldpath=/etc/shadow"), 1);
    let rows = query(
        &trace,
        "evt.type=symlink",
        &["evt.args", "fs.path.source", "fs.path.target"],
    );
    assert_eq!(
        rows[0],
        [
            "res=0 target=/etc/shadow linkpath=/tmp/.s",
            "/etc/shadow",
            "/tmp/.s"
        ]
    );
}

#[test]
fn b64_decodes_before_comparing() {
    use synthetic::{s, u};
    // `echo cm9vdDp4 | base64 -d`-style data in a write.
    let trace = synthetic::trace(&[
        (
            "write",
            8,
            vec![
                scry_format::Value::Fd(1),
                u(8),
                scry_format::Value::Bytes(b"cm9vdA==".to_vec()),
                scry_format::Value::Absent,
            ],
        ),
        (
            "write",
            4,
            vec![
                scry_format::Value::Fd(1),
                u(4),
                scry_format::Value::Bytes(b"!!!!".to_vec()),
                scry_format::Value::Absent,
            ],
        ),
        ("unlink", 0, vec![s("L3RtcC94")]),
    ]);
    assert_eq!(count(&trace, "b64(evt.buffer)=root"), 1);
    assert_eq!(count(&trace, "b64(evt.buffer) contains oo"), 1);
    assert_eq!(count(&trace, "evt.buffer='cm9vdA=='"), 1);
    assert_eq!(count(&trace, "b64(evt.arg.path)=/tmp/x"), 1);
    // Not base64: the transformer yields nothing, so nothing compares.
    assert_eq!(count(&trace, "b64(evt.buffer) exists"), 1);
}

#[test]
fn chunks_outside_a_time_comparison_are_skipped() {
    let trace = sample();
    let chunks = trace.chunks();
    assert!(chunks.len() >= 4, "{} chunks", chunks.len());
    let at = chunks[chunks.len() / 2].summary.min_ts;
    // `2025-11-30T06:48:18.623873894Z` as evt.datetime and evt.time show it.
    let rfc3339 = scry_format::format_rfc3339(at);
    let datetime = format!("{} {}", &rfc3339[..10], &rfc3339[11..rfc3339.len() - 1]);
    let clock = &datetime[11..];
    let prepared = Prepared::new(&trace);
    let filters = [
        format!("evt.rawtime >= {at}"),
        format!("evt.rawtime < {at}"),
        format!("evt.rawtime = {at}"),
        format!("evt.rawtime in ({at}, 1)"),
        format!("evt.rawtime > {at} and evt.rawtime <= {}", at + 1_000_000),
        // Text times take equality, lists and prefixes (ordering operators
        // compare numbers only).
        format!("evt.datetime = '{datetime}'"),
        format!("evt.time in ('{clock}', '00:00:00.000000000')"),
        format!(
            "evt.datetime startswith '{}'",
            &datetime[..datetime.len() - 4]
        ),
        format!("evt.time startswith '{}'", &clock[..clock.len() - 5]),
    ];
    for filter in &filters {
        let compiled = Filter::new(filter, prepared.catalog(&trace)).unwrap();
        let skipped = chunks
            .iter()
            .filter(|c| !compiled.chunk_may_match(&c.summary))
            .count();
        assert!(skipped > 0, "{filter}: no chunk skipped");
        let matches = count(&trace, filter);
        assert!(matches > 0, "{filter}");
        // `not not` hides the comparison from the planner.
        assert_eq!(
            matches,
            count(&trace, &format!("not not ({filter})")),
            "{filter}"
        );
    }
    // Past the end of the trace, nothing is read.
    let last = chunks.iter().map(|c| c.summary.max_ts).max().unwrap();
    let after = Filter::new(&format!("evt.rawtime > {last}"), prepared.catalog(&trace)).unwrap();
    assert!(chunks.iter().all(|c| !after.chunk_may_match(&c.summary)));
    // `!=` cannot be planned: nothing skipped.
    let ne = Filter::new(&format!("evt.rawtime != {at}"), prepared.catalog(&trace)).unwrap();
    assert!(chunks.iter().all(|c| ne.chunk_may_match(&c.summary)));
    // A chunk across midnight holds clock times out of order: evt.time
    // cannot rule it out, evt.datetime can.
    let midnight = 1_764_028_800_000_000_000; // 2025-11-25T00:00:00Z
    let across = scry_format::ChunkSummary {
        events: 2,
        min_ts: midnight - 1_000_000_000,
        max_ts: midnight + 1_000_000_000,
        ..scry_format::ChunkSummary::default()
    };
    let plan = |filter: &str| {
        Filter::new(filter, prepared.catalog(&trace))
            .unwrap()
            .chunk_may_match(&across)
    };
    assert!(plan("evt.time = '12:00:00.000000000'"));
    assert!(!plan("evt.datetime = '2025-11-25 12:00:00.000000000'"));
    assert!(plan("evt.datetime = '2025-11-25 00:00:00.500000000'"));
    assert!(!plan(&format!(
        "evt.rawtime > {}",
        midnight + 1_000_000_000
    )));
}

#[test]
fn a_scan_stops_at_the_first_chunk_past_until() {
    // The last chunk is damaged: a scan that reads it reports the damage.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/workload.scry");
    let mut bytes = std::fs::read(path).unwrap();
    let intact = TraceFile::open(bytes.clone()).unwrap();
    let chunks = intact.chunks();
    let last = chunks.last().unwrap();
    let before = &chunks[chunks.len() - 2].summary;
    assert!(last.summary.min_ts > before.max_ts);
    let middle = usize::try_from(last.offset + last.block_len / 2).unwrap();
    bytes[middle] ^= 0x40;
    let damaged = TraceFile::open(bytes).unwrap();
    let prepared = Prepared::new(&damaged);
    let damage_seen = |until: u64| {
        let mut damage = 0;
        let mut events = 0;
        let options = Scan {
            window: scry_analyze::Window { since: 0, until },
            caller_needs_state: true,
            threads: 2,
            ..Scan::default()
        };
        let flow = scan(
            &damaged,
            &prepared,
            &options,
            |_| damage += 1,
            |_| {
                events += 1;
                ControlFlow::<()>::Continue(())
            },
        );
        assert!(flow.unwrap().is_continue());
        (damage, events)
    };
    let all_but_last: usize = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| c.summary.events as usize)
        .sum();
    assert_eq!(damage_seen(before.max_ts), (0, all_but_last));
    assert_eq!(
        damage_seen(u64::MAX),
        (1, all_but_last),
        "the damage is there"
    );
    assert_eq!(
        scry_analyze::Window {
            since: 0,
            until: before.max_ts
        }
        .chunks_to_read(chunks),
        chunks.len() - 1
    );
    assert_eq!(
        scry_analyze::Window { since: 0, until: 0 }.chunks_to_read(chunks),
        0
    );
}

#[test]
fn the_processes_a_filter_pins_are_those_every_match_belongs_to() {
    let trace = sample();
    let prepared = Prepared::new(&trace);
    let tgids = |filter: &str| {
        Filter::new(filter, prepared.catalog(&trace))
            .unwrap()
            .tgids()
    };
    assert_eq!(tgids("proc.name=cat"), None);
    assert_eq!(tgids("proc.pid=42"), Some(vec![42]));
    assert_eq!(
        tgids("evt.type=openat and proc.pid in (7, 3, 7)"),
        Some(vec![3, 7])
    );
    assert_eq!(tgids("proc.pid=3 or proc.pid=5"), Some(vec![3, 5]));
    assert_eq!(tgids("proc.pid=3 or proc.name=cat"), None);
    assert_eq!(tgids("not proc.pid=3"), None);
    assert_eq!(tgids("proc.pid!=3"), None);
    assert_eq!(tgids("proc.ppid=3"), None);
    assert_eq!(tgids("thread.tid=3"), None);
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

#[test]
fn fd_arguments_resolve_as_sysdig_resolves_them() {
    let trace = sample();
    let rows = query(
        &trace,
        "evt.type=read and fd.name=/etc/passwd",
        &[
            "evt.arg.fd",
            "evt.rawarg.fd",
            "evt.arg[0]",
            "evt.args",
            "evt.arg.res",
        ],
    );
    assert!(!rows.is_empty());
    for row in &rows {
        // evt.arg is what the fd resolves to, evt.rawarg its number, and
        // evt.args shows both.
        assert_eq!(row[0], "<f>/etc/passwd");
        assert_eq!(row[2], row[0], "by position");
        assert!(row[1].parse::<i64>().unwrap() >= 0);
        assert!(
            row[3].contains(&format!("fd={}(<f>/etc/passwd)", row[1])),
            "{}",
            row[3]
        );
        // A read's result is the byte count.
        assert!(row[4].parse::<u64>().is_ok(), "{}", row[4]);
    }
    // Comparisons see the same text.
    assert_eq!(
        count(&trace, "evt.arg.fd = '<f>/etc/passwd'"),
        count(&trace, "evt.arg.fd exists and fd.name = /etc/passwd")
    );
    assert_eq!(
        count(&trace, "evt.type=read and evt.arg.fd startswith '<f>/etc/'"),
        count(&trace, "evt.type=read and fd.name startswith /etc/")
    );
    // The working directory of the *at calls.
    let rows = query(
        &trace,
        "evt.type=openat and fd.name=/etc/passwd",
        &[
            "evt.arg.dirfd",
            "evt.rawarg.dirfd",
            "evt.args",
            "evt.arg.res",
        ],
    );
    assert!(!rows.is_empty());
    assert_eq!(rows[0][0], "AT_FDCWD");
    assert_eq!(rows[0][1], "-100");
    assert!(
        rows[0][2].contains("dirfd=-100(AT_FDCWD)"),
        "{}",
        rows[0][2]
    );
    // An open's result is the fd it returned, resolved.
    assert_eq!(rows[0][3], "<f>/etc/passwd");
    // A refused connect: the socket is a TCP one.
    let rows = query(
        &trace,
        "evt.type=connect and evt.arg.addr=127.0.0.1:1",
        &["evt.arg.fd", "evt.arg.res", "evt.rawarg.res", "evt.args"],
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "<4t>0.0.0.0:0->127.0.0.1:1");
    assert_eq!(rows[0][1], "ECONNREFUSED");
    assert_eq!(rows[0][2], "-111");
    assert!(
        rows[0][3].contains("fd=3(<4t>0.0.0.0:0->127.0.0.1:1)"),
        "{}",
        rows[0][3]
    );
    assert_eq!(count(&trace, "evt.arg.res = ECONNREFUSED"), 1);
    assert_eq!(
        count(&trace, "evt.rawarg.res < 0"),
        count(&trace, "evt.failed = true")
    );
}

/// A trace written with scry's own writer: an fd that failed, a mount with
/// the old magic number in its flags, an unmount, a process exit.
fn synthetic() -> TraceFile<Vec<u8>> {
    use scry_format::{
        Event, EventTable, FileHeader, ProcessInfo, Snapshot, ThreadInfo, TraceWriter, Value,
        WriterOptions,
    };
    let table = EventTable::builtin_x86_64();
    let ev = |name: &str, ret: i64, params: Vec<Value>| Event {
        ts: 1_700_000_000_000_000_000,
        tid: 10,
        tgid: 10,
        event_type: table.id_of(name).unwrap(),
        ret,
        params,
        ..Event::default()
    };
    let s = |text: &str| Value::Str(text.as_bytes().to_vec());
    let header = FileHeader {
        event_table: table.clone(),
        ..FileHeader::default()
    };
    let snapshot = Snapshot {
        processes: vec![ProcessInfo {
            pid: 10,
            ppid: 1,
            comm: b"sh".to_vec(),
            ..ProcessInfo::default()
        }],
        threads: vec![ThreadInfo {
            tid: 10,
            tgid: 10,
            comm: b"sh".to_vec(),
        }],
        ..Snapshot::default()
    };
    let events = [
        ev(
            "read",
            -9,
            vec![Value::Fd(-9), Value::Uint(10), Value::Bytes(Vec::new())],
        ),
        ev(
            "mount",
            0,
            vec![
                s("/dev/sda1"),
                s("/mnt"),
                s("ext4"),
                Value::Uint(0xc0ed_1001),
            ],
        ),
        ev("umount2", 0, vec![s("/mnt"), Value::Uint(2)]),
        ev("procexit", 0, vec![Value::Int(0), Value::Int(0)]),
    ];
    let mut writer =
        TraceWriter::new(Vec::new(), &header, &snapshot, WriterOptions::default()).unwrap();
    for event in &events {
        writer.push(event).unwrap();
    }
    TraceFile::open(writer.finish().unwrap()).unwrap()
}

#[test]
fn failed_fds_mount_flags_and_directions_render_as_sysdig_shows_them() {
    let trace = synthetic();
    let rows = query(
        &trace,
        "evt.type=read",
        &["evt.arg.fd", "evt.arg.res", "evt.args"],
    );
    assert_eq!(rows[0][0], "EBADF");
    assert_eq!(rows[0][1], "EBADF");
    assert!(
        rows[0][2].starts_with("res=-9(EBADF) fd=-9(EBADF) "),
        "{}",
        rows[0][2]
    );
    let rows = query(&trace, "evt.type=mount", &["evt.arg.flags", "evt.args"]);
    assert_eq!(rows[0][0], "RDONLY|BIND", "the magic number is not a flag");
    assert!(
        rows[0][1].contains("flags=3236761601(RDONLY|BIND)"),
        "{}",
        rows[0][1]
    );
    assert_eq!(count(&trace, "evt.arg.flags contains BIND"), 1);
    let rows = query(&trace, "evt.type=umount2", &["evt.arg.flags"]);
    assert_eq!(rows[0][0], "DETACH");
    let rows = query(&trace, "evt.num > 0", &["evt.type", "evt.dir"]);
    let directions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        directions,
        [
            ("read", "<"),
            ("mount", "<"),
            ("umount2", "<"),
            ("procexit", ">")
        ]
    );
}

#[test]
fn evt_dir_selects_exit_records_and_procexit_with_a_warning() {
    let trace = sample();
    let prepared = Prepared::new(&trace);
    let all = count(&trace, "evt.num > 0");
    let exits = count(&trace, "evt.dir = <");
    let procexits = count(&trace, "evt.type = procexit");
    assert!(procexits > 0);
    assert_eq!(count(&trace, "evt.dir = >"), procexits);
    assert_eq!(exits + procexits, all);
    assert_eq!(count(&trace, "evt.dir != >"), exits);
    assert_eq!(count(&trace, "evt.dir in (<, >)"), all);
    assert_eq!(
        count(&trace, "evt.type=openat and evt.dir=<"),
        count(&trace, "evt.type=openat")
    );
    let warnings = |source: &str| -> Vec<String> {
        Filter::new(source, prepared.catalog(&trace))
            .unwrap()
            .warnings()
            .iter()
            .map(|w| w.render(source))
            .collect()
    };
    assert!(warnings("evt.type=openat and evt.dir=<").is_empty());
    assert!(warnings("evt.dir != >").is_empty());
    // Asking for entry events is what a sysdig user may do: scry says what
    // '>' means here, with a caret under it, and that this one can never
    // match.
    let source = "evt.type=openat and evt.dir=>";
    let told = warnings(source);
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told[0].contains("\n                            ^\n")
            && told[0].contains("'>' selects procexit events only"),
        "{}",
        told[0]
    );
    assert!(told[1].contains("can never match"), "{}", told[1]);
    assert_eq!(count(&trace, source), 0);
    assert_eq!(warnings("evt.dir = >").len(), 1);
    // Any other value is a mistake.
    let bad = error(&trace, "evt.dir = x");
    assert_eq!(bad.span.start, 10);
    assert!(bad.message.contains("not a direction"), "{}", bad.message);
}

/// A trace of `events` after `snapshot`, written with scry's own writer.
fn written(snapshot: &scry_format::Snapshot, events: &[scry_format::Event]) -> TraceFile<Vec<u8>> {
    use scry_format::{EventTable, FileHeader, TraceWriter, WriterOptions};
    let header = FileHeader {
        event_table: EventTable::builtin_x86_64(),
        ..FileHeader::default()
    };
    let mut writer =
        TraceWriter::new(Vec::new(), &header, snapshot, WriterOptions::default()).unwrap();
    for event in events {
        writer.push(event).unwrap();
    }
    TraceFile::open(writer.finish().unwrap()).unwrap()
}

fn event(pid: u32, name: &str, ret: i64, params: Vec<scry_format::Value>) -> scry_format::Event {
    scry_format::Event {
        ts: 1_700_000_000_000_000_000,
        tid: pid,
        tgid: pid,
        event_type: scry_format::EventTable::builtin_x86_64()
            .id_of(name)
            .unwrap(),
        ret,
        params,
        ..scry_format::Event::default()
    }
}

const CAP_CHOWN: u64 = 1;
const CAP_SYS_MODULE: u64 = 1 << 16;
const CAP_SYS_ADMIN: u64 = 1 << 21;

/// Process 10 (`sh`, cwd /home/u) with known capabilities, process 11
/// with none, and a process 30 first seen in an event: failed and
/// successful opens, a capset, an event of the unknown process.
fn capabilities_and_opens() -> TraceFile<Vec<u8>> {
    use scry_format::{ProcessInfo, Snapshot, ThreadInfo, Value};
    let s = |text: &str| Value::Str(text.as_bytes().to_vec());
    let process = |pid: u32, effective: u64, permitted: u64, inheritable: u64| ProcessInfo {
        pid,
        ppid: 1,
        comm: b"sh".to_vec(),
        exe: b"/bin/sh".to_vec(),
        args: vec![b"sh".to_vec(), b"-c".to_vec(), b"true".to_vec()],
        cwd: b"/home/u".to_vec(),
        cap_effective: effective,
        cap_permitted: permitted,
        cap_inheritable: inheritable,
        ..ProcessInfo::default()
    };
    let snapshot = Snapshot {
        processes: vec![
            process(
                10,
                CAP_CHOWN | CAP_SYS_ADMIN,
                CAP_SYS_MODULE | CAP_SYS_ADMIN,
                0,
            ),
            process(11, 0, 0, 0),
        ],
        threads: [10, 11]
            .map(|pid| ThreadInfo {
                tid: pid,
                tgid: pid,
                comm: b"sh".to_vec(),
            })
            .to_vec(),
        ..Snapshot::default()
    };
    let openat = |pid, dirfd: i64, path: &str, flags: u64, ret: i64| {
        event(
            pid,
            "openat",
            ret,
            vec![
                Value::Fd(dirfd),
                s(path),
                Value::Uint(flags),
                Value::Uint(0),
                Value::Fd(ret),
            ],
        )
    };
    const O_DIRECTORY: u64 = 0o200_000;
    let events = [
        openat(10, -100, "missing.txt", 0, -2),
        openat(10, -100, "/etc", O_DIRECTORY, 3),
        openat(10, 3, "shadow.bak", 0, -13),
        event(
            10,
            "open",
            -2,
            vec![s("/abs/x"), Value::Uint(0), Value::Uint(0), Value::Fd(-2)],
        ),
        openat(10, 3, "hosts", 0, 4),
        event(11, "getpid", 11, vec![]),
        event(30, "getpid", 30, vec![]),
        event(
            10,
            "capset",
            0,
            vec![Value::Uint(0), Value::Uint(CAP_SYS_MODULE), Value::Uint(0)],
        ),
    ];
    written(&snapshot, &events)
}

#[test]
fn capabilities_read_as_names_as_falco_tests_them() {
    let trace = capabilities_and_opens();
    let rows = query(
        &trace,
        "evt.type=getpid and proc.pid=11 or evt.num=1",
        &[
            "thread.cap_effective",
            "thread.cap_permitted",
            "thread.cap_inheritable",
        ],
    );
    assert_eq!(
        rows,
        [
            [
                "CAP_CHOWN CAP_SYS_ADMIN",
                "CAP_SYS_MODULE CAP_SYS_ADMIN",
                ""
            ],
            ["", "", ""],
        ]
    );
    // Process 10's events before its capset, then none after it drops
    // CAP_SYS_ADMIN from its effective set.
    assert_eq!(
        count(&trace, "thread.cap_effective contains CAP_SYS_ADMIN"),
        5
    );
    assert_eq!(count(&trace, "thread.cap_effective icontains sys_admin"), 5);
    assert_eq!(
        count(&trace, "thread.cap_permitted icontains sys_module"),
        6
    );
    assert_eq!(
        count(
            &trace,
            "proc.pid=10 and not thread.cap_effective contains CAP_SYS_ADMIN"
        ),
        1
    );
    assert_eq!(count(&trace, "thread.cap_effective = ''"), 2);
    assert_eq!(count(&trace, "thread.cap_effective != ''"), 5);
    assert_eq!(
        count(&trace, "thread.cap_inheritable exists and proc.pid=10"),
        6
    );
    // The process nobody knows has no capabilities to test.
    assert_eq!(
        count(&trace, "proc.pid=30 and thread.cap_effective exists"),
        0
    );
    assert_eq!(
        count(&trace, "thread.cap_effective glob '*CAP_SYS_ADMIN*'"),
        5
    );
}

#[test]
fn failed_opens_name_the_file_they_asked_for() {
    let trace = capabilities_and_opens();
    let open_file_failed = "evt.type in (open,openat,openat2) and fd.typechar='f' \
                            and fd.num=-1 and evt.res startswith E";
    let rows = query(
        &trace,
        open_file_failed,
        &[
            "fd.num",
            "fd.type",
            "fd.name",
            "fd.nameraw",
            "fd.directory",
            "fd.filename",
            "evt.res",
        ],
    );
    assert_eq!(
        rows,
        [
            [
                "-1",
                "file",
                "/home/u/missing.txt",
                "missing.txt",
                "/home/u",
                "missing.txt",
                "ENOENT"
            ],
            [
                "-1",
                "file",
                "/etc/shadow.bak",
                "shadow.bak",
                "/etc",
                "shadow.bak",
                "EACCES"
            ],
            ["-1", "file", "/abs/x", "/abs/x", "/abs", "x", "ENOENT"],
        ]
    );
    // Successful opens keep their own fds, and a failed open's file is
    // not left behind for the events after it.
    let rows = query(
        &trace,
        "evt.type=openat and evt.res=SUCCESS",
        &["fd.num", "fd.name"],
    );
    assert_eq!(rows, [["3", "/etc"], ["4", "/etc/hosts"]]);
    assert_eq!(count(&trace, "fd.num=-1"), 3);
    assert_eq!(count(&trace, "evt.type=getpid and fd.name exists"), 0);
}

#[test]
fn names_of_a_process_first_seen_mid_life_are_missing() {
    let trace = capabilities_and_opens();
    let fields = [
        "proc.name",
        "proc.exe",
        "proc.exepath",
        "proc.cmdline",
        "proc.args",
        "proc.exeline",
    ];
    let rows = query(&trace, "proc.pid=30", &fields);
    assert_eq!(rows, [["<NA>"; 6]]);
    for field in fields {
        assert_eq!(
            count(&trace, &format!("proc.pid=30 and {field}=''")),
            0,
            "{field}"
        );
        assert_eq!(
            count(&trace, &format!("proc.pid=30 and {field}!=''")),
            0,
            "{field}"
        );
    }
    let rows = query(&trace, "proc.pid=11", &fields);
    assert_eq!(
        rows,
        [[
            "sh",
            "/bin/sh",
            "/bin/sh",
            "sh -c true",
            "-c true",
            "/bin/sh -c true"
        ]]
    );
    assert_eq!(count(&trace, "proc.cmdline contains 'sh -c'"), 7);
    assert_eq!(count(&trace, "proc.args = '-c true'"), 7);
}

/// Fields the event's type decides read no state, so a scan on them
/// alone replays none: `syscall.type` is one, like `evt.type`.
#[test]
fn fields_of_the_event_type_need_no_state() {
    let trace = sample();
    let prepared = Prepared::new(&trace);
    for source in [
        "syscall.type exists",
        "syscall.type=openat",
        "evt.type=openat",
    ] {
        let filter = Filter::new(source, prepared.catalog(&trace)).unwrap();
        assert!(!filter.needs_state(), "{source}");
    }
    assert_eq!(
        count(&trace, "syscall.type exists"),
        count(&trace, "evt.type exists and not evt.type=procexit")
    );
}
