use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::util::*;

fn workload() -> String {
    samples()
        .join("workload.scry")
        .to_string_lossy()
        .into_owned()
}

/// Runs `scry read` on the workload sample with `args`, expecting exit 0.
fn read(args: &[&str]) -> Vec<String> {
    let path = workload();
    let mut all = vec!["read", path.as_str()];
    all.extend_from_slice(args);
    let run = scry(&all);
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    run.stdout.lines().map(str::to_owned).collect()
}

/// The words of a default line: number, time, cpu, process, (tid), dir,
/// type, then the information.
fn words(line: &str) -> Vec<&str> {
    line.splitn(8, ' ').collect()
}

#[test]
fn default_lines_follow_sysdigs_format() {
    let lines = read(&["evt.type=connect and evt.res=ECONNREFUSED"]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let w = words(&lines[0]);
    assert!(w[0].parse::<u64>().is_ok(), "{}", lines[0]);
    // HH:MM:SS.nnnnnnnnn
    assert_eq!(w[1].len(), 18, "{}", lines[0]);
    assert_eq!(&w[1][2..3], ":");
    assert_eq!(&w[1][8..9], ".");
    assert!(w[2].parse::<u16>().is_ok());
    assert_eq!(w[3], "bash");
    assert!(w[4].starts_with('(') && w[4].ends_with(')'));
    assert_eq!(&w[5..7], ["<", "connect"]);
    assert_contains!(w[7], "res=-111(ECONNREFUSED)");
    assert_contains!(w[7], "->127.0.0.1:1)");
    assert_contains!(w[7], "addr=127.0.0.1:1");

    let lines = read(&[
        "proc.name=cat",
        "and",
        "fd.name=/etc/passwd",
        "and",
        "evt.type=read",
    ]);
    let first = words(&lines[0]);
    assert_eq!(first[3], "cat");
    assert_eq!(first[6], "read");
    assert_contains!(first[7], "fd=3(<f>/etc/passwd)");
    assert_contains!(first[7], "data=root:x:0:0:root:/root:/bin/bash.daemon");
}

#[test]
fn every_event_is_printed_once_in_order() {
    let lines = read(&[]);
    let count = read(&["--count"]);
    assert_eq!(count, [lines.len().to_string()]);
    let nums: Vec<u64> = lines.iter().map(|l| words(l)[0].parse().unwrap()).collect();
    assert_eq!(nums, (1..=lines.len() as u64).collect::<Vec<_>>());
}

#[test]
fn n_stops_after_that_many_events() {
    let lines = read(&["-n", "5", "evt.type=openat"]);
    assert_eq!(lines.len(), 5);
    let all = read(&["evt.type=openat"]);
    assert_eq!(lines, all[..5]);
    let run = scry(&["read", &workload(), "-n", "0"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "-n must be at least 1");
}

#[test]
fn count_prints_the_number_of_matches() {
    let lines = read(&["evt.type=read and proc.name=cat"]);
    assert!(!lines.is_empty());
    assert_eq!(
        read(&["--count", "evt.type=read and proc.name=cat"]),
        [lines.len().to_string()]
    );
    let run = scry(&["read", &workload(), "--count", "proc.name=nosuchprocess"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (1, "0\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn nothing_matched_exits_1() {
    let run = scry(&["read", &workload(), "proc.name=nosuchprocess"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty() && run.stderr.is_empty());
    let run = scry(&["read", &workload(), "-q", "proc.name=cat"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
}

#[test]
fn a_bad_filter_exits_2_with_a_caret() {
    let run = scry(&["read", &workload(), "proc.name=cat and evt.typ=read"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(
        run.stderr,
        "proc.name=cat and evt.typ=read\n                  ^~~~~~~"
    );
    assert!(run.stdout.is_empty());
    let run = scry(&["read", &workload(), "-p", "%evt.num %proc.nme"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "%evt.num %proc.nme\n          ^~~~~~~~");
    // An ancestor field without a level has no one value to print.
    let run = scry(&["read", &workload(), "-p", "%proc.aname %proc.name"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "proc.aname[1]");
    assert!(run.stdout.is_empty());
}

#[test]
fn asking_for_entry_events_is_answered_with_a_warning() {
    // Every syscall is one exit record: `>` is procexit alone.
    let run = scry(&["read", &workload(), "evt.type=openat and evt.dir=>"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert_contains!(
        run.stderr,
        "scry: warning: evt.type=openat and evt.dir=>\n                            ^\n"
    );
    assert_contains!(run.stderr, "'>' selects procexit events only");
    assert_contains!(run.stderr, "this filter can never match");
    let run = scry(&["read", &workload(), "evt.dir=>"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains!(run.stderr, "'>' selects procexit events only");
    let exits: Vec<&str> = run.stdout.lines().collect();
    assert!(!exits.is_empty());
    assert!(
        exits
            .iter()
            .all(|l| words(l)[5] == ">" && words(l)[6].starts_with("procexit"))
    );
    // `<` is what sysdig users write to get one line per call: no warning.
    assert_eq!(
        read(&["evt.type=openat and evt.dir=<"]).len(),
        read(&["evt.type=openat"]).len()
    );
}

#[test]
fn an_unreadable_trace_exits_3() {
    let run = scry(&["read", "no-such-trace.scry", "proc.name=cat"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let bad = samples().join("corrupt").join("bad-magic.scry");
    let run = scry(&["read", bad.to_str().unwrap()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
}

#[test]
fn a_closed_pipe_exits_0_quietly() {
    // `scry read … | head -1`, with enough output to fill the pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_scry"))
        .args(["read", &workload(), "-X"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("1 "), "{first}");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stderr.is_empty(), "{:?}", output.stderr);
}

/// Parses JSON lines back.
fn json(lines: &[String]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    lines
        .iter()
        .map(|line| match serde_json::from_str(line) {
            Ok(serde_json::Value::Object(map)) => map,
            other => panic!("{line}: {other:?}"),
        })
        .collect()
}

#[test]
fn json_lines_carry_the_values_of_the_same_fields_in_p() {
    let fields = [
        "evt.num",
        "evt.time",
        "evt.rawtime",
        "evt.cpu",
        "proc.name",
        "proc.pid",
        "thread.tid",
        "evt.type",
        "evt.res",
        "evt.rawres",
        "evt.info",
        "fd.name",
        "evt.failed",
    ];
    let format: String = fields.iter().map(|f| format!("%{f}\t")).collect();
    let filter = "proc.name in (cat, bash) and fd.name exists";
    let text = read(&["-p", &format, filter]);
    let json_lines = read(&["-p", &format, "-j", filter]);
    let objects = json(&json_lines);
    assert!(text.len() > 10);
    assert_eq!(text.len(), objects.len());
    let mut sorted = fields.to_vec();
    sorted.sort_unstable();
    // Keys come in the format's order.
    let at: Vec<usize> = fields
        .iter()
        .map(|f| json_lines[0].find(&format!("\"{f}\":")).unwrap())
        .collect();
    assert!(at.is_sorted(), "{}", json_lines[0]);
    for (line, object) in text.iter().zip(&objects) {
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, sorted);
        for (field, value) in fields.iter().zip(line.split('\t')) {
            let json = &object[*field];
            match json {
                serde_json::Value::String(s) => assert_eq!(s, value, "{field}"),
                serde_json::Value::Number(n) => assert_eq!(n.to_string(), value, "{field}"),
                serde_json::Value::Bool(b) => assert_eq!(b.to_string(), value, "{field}"),
                other => panic!("{field}: {other}"),
            }
        }
        // Numeric fields are numbers, not strings.
        assert!(object["evt.rawres"].is_i64() && object["proc.pid"].is_u64());
    }
}

#[test]
fn default_json_lines_leave_out_a_missing_fd_name() {
    let objects = json(&read(&["-j", "evt.type in (connect, getpid)"]));
    let connect = objects
        .iter()
        .find(|o| o["evt.res"] == "ECONNREFUSED")
        .unwrap();
    assert_eq!(connect["proc.name"], "bash");
    assert_eq!(connect["evt.rawres"], -111);
    assert_eq!(connect["fd.name"], "0.0.0.0:0->127.0.0.1:1");
    let getpid = objects.iter().find(|o| o["evt.type"] == "getpid").unwrap();
    assert!(!getpid.contains_key("fd.name"), "{getpid:?}");
    assert!(getpid["evt.num"].is_u64() && getpid["evt.rawtime"].is_u64());
}

#[test]
fn formats_skip_events_missing_a_field_unless_starred() {
    let all = read(&["proc.name=cat"]);
    let with_fd = read(&["proc.name=cat", "-p", "%evt.num %fd.name"]);
    let starred = read(&["proc.name=cat", "-p", "*%evt.num %fd.name"]);
    assert_eq!(starred.len(), all.len());
    assert!(with_fd.len() < starred.len());
    assert!(starred.iter().any(|l| l.ends_with(" <NA>")));
    assert!(with_fd.iter().all(|l| !l.contains("<NA>")));
    let padded = read(&[
        "proc.name=cat",
        "-n",
        "1",
        "-p",
        "[%6proc.name][%2evt.type]%%",
    ]);
    assert_eq!(padded, ["[cat   ][ex]%"]);
    let args = read(&[
        "evt.type=execve and proc.name=id",
        "-p",
        "%proc.pname %evt.arg.filename",
    ]);
    assert_eq!(args.len(), 1, "{args:?}");
    assert_contains!(args[0], "sh ");
}

#[test]
fn time_modes() {
    let raw = read(&["-n", "3", "-p", "%evt.rawtime %evt.latency"]);
    let absolute = read(&["-n", "3", "-t", "a", "-p", "%evt.outputtime"]);
    for (raw, abs) in raw.iter().zip(&absolute) {
        let ns: u64 = raw.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(
            abs,
            &format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
        );
    }
    let relative = read(&["-n", "3", "-t", "r", "-p", "%evt.outputtime"]);
    assert_eq!(relative[0], "0.000000000");
    let delta = read(&["-n", "3", "-t", "D", "-p", "%evt.outputtime"]);
    let ns = |line: &str| -> u64 { line.replace('.', "").parse().unwrap() };
    assert_eq!(ns(&delta[0]), 0);
    assert_eq!(ns(&relative[2]), ns(&delta[1]) + ns(&delta[2]));
    let latency = read(&["-n", "3", "-t", "d", "-p", "%evt.outputtime"]);
    for (raw, latency) in raw.iter().zip(&latency) {
        assert_eq!(
            raw.split(' ').nth(1).unwrap().parse::<u64>().unwrap(),
            ns(latency)
        );
    }
    // Default JSON lines follow -t with `evt.outputtime`, in ns.
    let objects = json(&read(&["-n", "3", "-t", "D", "-j"]));
    let deltas: Vec<u64> = objects
        .iter()
        .map(|o| o["evt.outputtime"].as_u64().unwrap())
        .collect();
    assert_eq!(deltas, delta.iter().map(|d| ns(d)).collect::<Vec<_>>());
    assert!(!json(&read(&["-n", "1", "-j"]))[0].contains_key("evt.outputtime"));
}

#[test]
fn buffers_print_as_ascii_or_hex_under_their_event() {
    let filter = "proc.name=cat and fd.name=/etc/passwd and evt.type=read and evt.rawres>0";
    let hex = read(&["-X", filter]);
    assert_contains!(hex[0], "< read ");
    assert_eq!(
        hex[1],
        "\t0x0000: 726f 6f74 3a78 3a30 3a30 3a72 6f6f 743a  root:x:0:0:root:"
    );
    let ascii = read(&["-A", filter]);
    assert_eq!(ascii[1], "root:x:0:0:root:/root:/bin/bash");
    let cut = read(&["-A", "-s", "4", filter]);
    assert_eq!(cut.len(), 2);
    assert_eq!(cut[1], "root");
    // -s cuts the buffer inside the line too.
    assert_contains!(cut[0], " data=root ");
    // With -j, buffers are a field of a format, not lines of their own.
    let run = scry(&["read", &workload(), "-j", "-A", filter]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "cannot be used with");
}

#[test]
fn since_and_until_are_inclusive_boundaries() {
    let times: Vec<u64> = read(&["-p", "%evt.rawtime"])
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    let (first, last) = (times[0], *times.iter().max().unwrap());
    let pick = times[times.len() / 2];
    let at = scry_format::format_rfc3339(pick);
    let count =
        |args: &[&str]| -> usize { read(&[&["--count"], args].concat())[0].parse().unwrap() };
    let since = times.iter().filter(|&&t| t >= pick).count();
    let until = times.iter().filter(|&&t| t <= pick).count();
    assert_eq!(count(&["--since", &at]), since);
    assert_eq!(count(&["--until", &at]), until);
    assert_eq!(
        count(&["--since", &at, "--until", &at]),
        times.iter().filter(|&&t| t == pick).count()
    );
    // An offset from the first event and a duration back from the last.
    let offset = format!("+{}ns", pick - first);
    assert_eq!(count(&["--since", &offset]), since);
    let back = format!("{}ns", last - pick);
    assert_eq!(count(&["--since", &back]), since);
    assert_eq!(
        count(&["--until", "+0s"]),
        times.iter().filter(|&&t| t == first).count()
    );
    let run = scry(&["read", &workload(), "--since", "yesterday"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "--since: 'yesterday' is not a time");
    // Bounds the wrong way round are a mistake, not an empty window.
    let reversed = ["--since", "+100ms", "--until", "+50ms"];
    let workload_path = workload();
    for command in [&["read"][..], &["top", "procs"], &["slow"], &["tree"]] {
        let mut args = command.to_vec();
        args.push(&workload_path);
        args.extend_from_slice(&reversed);
        let run = scry(&args);
        assert_eq!(run.code, 2, "{command:?}: {}", run.stderr);
        assert_contains!(run.stderr, "--since +100ms is later than --until +50ms");
    }
}

#[test]
fn several_traces_and_directories_read_as_one_stream_in_time_order() {
    let snaplen0 = samples().join("workload-snaplen0.scry");
    let first = |path: &str| read_path(path, &["-n", "1", "-p", "%evt.rawtime"]);
    let (a, b) = (first(&workload()), first(snaplen0.to_str().unwrap()));
    let (early, late) = if a < b {
        (workload(), snaplen0.to_string_lossy().into_owned())
    } else {
        (snaplen0.to_string_lossy().into_owned(), workload())
    };
    let count = |path: &str| -> u64 { read_path(path, &["--count"])[0].parse().unwrap() };
    // Named late first, read early first.
    let run = scry(&["read", &late, &early, "-p", "%evt.rawtime", "proc.name=cat"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let both: Vec<u64> = run.stdout.lines().map(|l| l.parse().unwrap()).collect();
    let early_cat = read_path(&early, &["-p", "%evt.rawtime", "proc.name=cat"]);
    assert_eq!(both[0].to_string(), early_cat[0]);
    assert_eq!(
        both[early_cat.len() - 1].to_string(),
        early_cat[early_cat.len() - 1]
    );

    let dir = TempDir::new("read-segments");
    std::fs::copy(&late, dir.path("a.scry")).unwrap();
    std::fs::copy(&early, dir.path("b.scry")).unwrap();
    let dir_path = dir.0.to_string_lossy().into_owned();
    assert_eq!(count(&dir_path), count(&early) + count(&late));
    let run = scry(&["read", &dir_path, "-p", "%evt.rawtime", "proc.name=cat"]);
    assert_eq!(
        run.stdout,
        both.iter().map(|t| format!("{t}\n")).collect::<String>()
    );
}

fn read_path(path: &str, args: &[&str]) -> Vec<String> {
    let run = scry(&[&["read", path], args].concat());
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    run.stdout.lines().map(str::to_owned).collect()
}

#[test]
fn a_trace_given_twice_is_read_once() {
    let path = workload();
    let once = scry(&["read", &path, "--count"]);
    let twice = scry(&["read", &path, &path, "--count"]);
    assert_eq!(twice.code, 0, "{}", twice.stderr);
    assert_eq!(twice.stdout, once.stdout);
    assert_eq!(
        twice.stderr,
        format!("scry: warning: {path} given twice, read once\n")
    );
}

#[test]
fn standard_input_reads_like_a_file() {
    let data = std::fs::read(workload()).unwrap();
    let run = scry_with_stdin(&["read", "-", "evt.type=connect"], &data);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        read(&["evt.type=connect"])
    );
    let run = scry_with_stdin(&["read", "-r", "-", "--since", "+1s"], &data);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// The events of the workload sample that the golden files show: cat
/// reading /etc/passwd (open, two reads with and without data, close) and
/// bash's refused connect, so every format meets a file, a buffer, a socket
/// and an error.
const GOLDEN_FILTER: &str =
    "(proc.name=cat and fd.name=/etc/passwd) or (evt.type=connect and evt.res=ECONNREFUSED)";

#[test]
fn every_output_format_matches_its_golden_file() {
    let cases: &[(&str, &[&str])] = &[
        ("default.txt", &[]),
        ("container.txt", &["-pc"]),
        (
            "custom.txt",
            &[
                "-p",
                "*%evt.num %12proc.name %6thread.tid %evt.type %fd.type %fd.name \
                 res=%evt.res size=%evt.arg.size",
            ],
        ),
        ("json.jsonl", &["-j"]),
        ("time-h.txt", &["-t", "h"]),
        ("time-a.txt", &["-t", "a"]),
        ("time-r.txt", &["-t", "r"]),
        ("time-d.txt", &["-t", "d"]),
        ("time-D.txt", &["-t", "D"]),
        ("ascii.txt", &["-A"]),
        ("hex.txt", &["-X"]),
    ];
    let mut failures = Vec::new();
    for (name, args) in cases {
        let mut all = args.to_vec();
        all.push(GOLDEN_FILTER);
        let output = read(&all)
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>();
        if let Err(failure) = golden(name, &output) {
            failures.push(failure);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A trace of `ts.len()` openat events of thread `tid`, at the times given,
/// in chunks of 16 events.
fn openat_trace(tid: u32, ts: &[u64]) -> Vec<u8> {
    use scry_format::{Event, FileHeader, Snapshot, TraceWriter, Value, WriterOptions};
    let header = FileHeader {
        writer: "scry test".into(),
        event_table: scry_format::EventTable::builtin_x86_64(),
        ..FileHeader::default()
    };
    let options = WriterOptions {
        chunk_events: 16,
        ..WriterOptions::default()
    };
    let mut writer = TraceWriter::new(Vec::new(), &header, &Snapshot::default(), options).unwrap();
    for &ts in ts {
        let params = vec![
            Value::Fd(-100),
            Value::Str(b"/etc/passwd".to_vec()),
            Value::Uint(0),
            Value::Uint(0),
            Value::Fd(3),
        ];
        let event = Event {
            ts,
            tid,
            tgid: tid,
            event_type: 257,
            ret: 3,
            params,
            ..Event::default()
        };
        writer.push(&event).unwrap();
    }
    writer.finish().unwrap()
}

#[test]
fn overlapping_traces_are_merged_by_time() {
    let base = 1_764_046_800_000_000_000u64;
    // Interleaved, and every tenth event of b at the same time as one of
    // a's, which must come first as a starts earlier.
    let a: Vec<u64> = (0..100).map(|k| base + k * 2_000).collect();
    let b: Vec<u64> = (0..100)
        .map(|k| base + k * 2_000 + if k % 10 == 5 { 0 } else { 500 })
        .collect();
    let dir = TempDir::new("read-merge");
    std::fs::write(dir.path("a.scry"), openat_trace(100, &a)).unwrap();
    std::fs::write(dir.path("b.scry"), openat_trace(200, &b)).unwrap();
    let mut expected: Vec<(u64, u32)> = a.iter().map(|&t| (t, 100)).collect();
    expected.extend(b.iter().map(|&t| (t, 200)));
    expected.sort();
    let lines = |args: &[&str]| -> Vec<String> {
        let (pa, pb) = (dir.path("a.scry"), dir.path("b.scry"));
        let run = scry(&[&["read", &pb, &pa, "-p", "%evt.rawtime %thread.tid"], args].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout.lines().map(str::to_owned).collect()
    };
    let show = |rows: &[(u64, u32)]| -> Vec<String> {
        rows.iter().map(|(t, tid)| format!("{t} {tid}")).collect()
    };
    assert_eq!(lines(&[]), show(&expected));
    // The same through a directory, with a filter, and with a limit.
    let all = scry(&[
        "read",
        &dir.0.to_string_lossy(),
        "-p",
        "%evt.rawtime %thread.tid",
    ]);
    assert_eq!(all.stdout.lines().collect::<Vec<_>>(), show(&expected));
    let late: Vec<_> = expected
        .iter()
        .copied()
        .filter(|r| r.0 >= base + 150_000)
        .collect();
    assert_eq!(lines(&["evt.rawtime >= 1764046800000150000"]), show(&late));
    assert_eq!(lines(&["-n", "7"]), show(&expected[..7]));
    // Relative times count from the first event shown of either trace.
    let run = scry(&[
        "read",
        &dir.path("a.scry"),
        &dir.path("b.scry"),
        "-t",
        "r",
        "-p",
        "%evt.outputtime",
    ]);
    let relative: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(relative[..3], ["0.000000000", "0.000000500", "0.000002000"]);
}

#[test]
fn merged_traces_show_the_state_their_fields_need() {
    // A trace merged with a copy of itself (the same file twice is read
    // once): every line twice, with the same process names and fd names as
    // read alone, whether the output or the filter asks for the state,
    // processes only or fds too.
    let path = workload();
    let dir = TempDir::new("merged-state");
    let copy = dir.path("copy.scry");
    std::fs::copy(&path, &copy).unwrap();
    for (format, filter) in [
        (
            "*%evt.num %proc.name %proc.pname %user.name",
            "evt.type=execve",
        ),
        (
            "*%evt.num %proc.name %fd.name",
            "evt.type in (openat, connect)",
        ),
        (
            "*%evt.num %evt.type",
            "evt.type=execve and proc.pname exists",
        ),
        ("*%evt.num %proc.cmdline %evt.info", "evt.type=connect"),
    ] {
        let alone = read(&["-p", format, filter]);
        assert!(!alone.is_empty(), "{filter}");
        let run = scry(&["read", &path, &copy, "-p", format, filter]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let twice: Vec<String> = alone.iter().flat_map(|l| [l.clone(), l.clone()]).collect();
        assert_eq!(
            run.stdout.lines().collect::<Vec<_>>(),
            twice,
            "{format} {filter}"
        );
    }
}

#[test]
fn until_stops_the_scan_before_the_chunks_after_it() {
    // Chunks of up to 64 events; the last one damaged. Reading it would
    // warn, so a read that stops at --until must not.
    let intact = small_trace(640);
    let trace = scry_format::TraceFile::open(intact.clone()).expect("opens");
    let chunks = trace.chunks();
    let last = chunks.last().expect("chunks");
    let until = chunks[chunks.len() - 2].summary.max_ts;
    assert!(last.summary.min_ts > until);
    let mut damaged = intact.clone();
    damaged[(last.offset + last.block_len / 2) as usize] ^= 0x40;
    let dir = TempDir::new("until-stops");
    std::fs::write(dir.path("damaged.scry"), &damaged).expect("writes");
    std::fs::write(dir.path("intact.scry"), &intact).expect("writes");
    let until = scry_format::format_rfc3339(until);
    let before_last: usize = chunks[..chunks.len() - 1]
        .iter()
        .map(|c| c.summary.events as usize)
        .sum();
    // Alone, and merged with a trace over the same time.
    for paths in [
        vec![dir.path("damaged.scry")],
        vec![dir.path("damaged.scry"), dir.path("intact.scry")],
    ] {
        let mut args = vec!["read"];
        args.extend(paths.iter().map(String::as_str));
        // A filter on state: every chunk up to the end feeds it.
        args.extend(["--count", "fd.num=3"]);
        let full = scry(&args);
        assert_contains!(full.stderr, "damaged chunk");
        args.extend(["--until", until.as_str()]);
        let run = scry(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.is_empty(), "{paths:?}: {}", run.stderr);
        assert_eq!(run.stdout.trim(), (before_last * paths.len()).to_string());
    }
}

#[test]
fn a_quiet_stream_still_shows_what_it_has_read() {
    // `scry record -w - | scry read -`: the capture writes a chunk, then
    // nothing for a while. The lines of that chunk must come out while
    // standard input is still open, not when a block fills or input ends.
    let bytes = small_trace(640);
    let trace = scry_format::TraceFile::open(bytes.clone()).expect("opens");
    let first = &trace.chunks()[0];
    let first_events = first.summary.events as usize;
    let prefix = (first.offset + first.block_len) as usize;
    let mut child = Command::new(env!("CARGO_BIN_EXE_scry"))
        .args(["read", "-", "-p", "%evt.num %evt.type"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scry runs");
    let mut input = child.stdin.take().expect("stdin");
    let output = child.stdout.take().expect("stdout");
    let (line_tx, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(output).lines() {
            if line_tx.send(line.expect("utf-8")).is_err() {
                break;
            }
        }
    });
    input.write_all(&bytes[..prefix]).expect("writes");
    input.flush().expect("flushes");
    // A generous bound: only a stalled reader takes this long.
    let patience = std::time::Duration::from_secs(60);
    let early: Vec<String> = (0..first_events)
        .map(|_| {
            lines
                .recv_timeout(patience)
                .expect("a line while input is open")
        })
        .collect();
    assert_eq!(early[0], "1 openat");
    assert_eq!(early[first_events - 1], format!("{first_events} read"));
    input.write_all(&bytes[prefix..]).expect("writes");
    drop(input);
    assert!(child.wait().expect("exits").success());
    reader.join().expect("reads");
    let rest: Vec<String> = lines.try_iter().collect();
    assert_eq!(first_events + rest.len(), 640);
}

/// Calls the capture records generically (registers `a0`…`a5`) whose
/// first argument is an fd show it as sysdig does, and their events carry
/// the fd's fields: a directory listing belongs to the directory.
#[test]
fn calls_recorded_generically_name_their_fd() {
    let incident = samples().join("incident.scry").display().to_string();
    let run = scry(&[
        "read",
        &incident,
        "evt.type=getdents64 and fd.name=/etc/ssh",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert_contains!(lines[0], "< getdents64 res=112 fd=3(<d>/etc/ssh) a1=");
    let run = scry(&["read", &incident, "evt.num=2121"]);
    assert_contains!(run.stdout, "< newfstatat res=0 dirfd=3(<d>/etc/ssh) a1=");
    let run = scry(&[
        "read",
        &incident,
        "evt.type=getdents64",
        "-n",
        "1",
        "-p",
        "%evt.arg.fd %fd.num",
    ]);
    assert_eq!(run.stdout, "<d>/etc/ssh 3\n");
    let run = scry(&["spy", "file", "/etc/ssh", &incident]);
    assert_eq!(
        run.stdout.matches(" getdents64 ").count(),
        2,
        "{}",
        run.stdout
    );
}
