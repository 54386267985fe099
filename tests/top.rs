//! `scry top`: every view over the real captures in samples/, exact byte
//! counts for a workload whose sizes are known (scripts/incident.sh writes
//! 1 MiB to big.bin and 10 KiB to small.bin), `--by`/`--sum`, sorting, and
//! exit codes.

use serde_json::Value;

use crate::util::*;

fn incident() -> String {
    samples().join("incident.scry").display().to_string()
}

fn json_rows(args: &[&str]) -> Vec<Value> {
    let run = scry(args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The row whose `key` field ends with `suffix`.
fn row<'a>(rows: &'a [Value], key: &str, suffix: &str) -> &'a Value {
    rows.iter()
        .find(|r| r[key].as_str().is_some_and(|v| v.ends_with(suffix)))
        .unwrap_or_else(|| panic!("no row with {key} ending in {suffix}: {rows:?}"))
}

#[test]
fn files_are_ranked_by_bytes_with_exact_counts() {
    let trace = incident();
    let rows = json_rows(&["top", "files", &trace, "-n", "0", "-j"]);
    let big = row(&rows, "fd.name", "/big.bin");
    let small = row(&rows, "fd.name", "/small.bin");
    assert_eq!(big["write"], 1_048_576);
    assert_eq!(big["read"], 0);
    assert_eq!(big["opens"], 1);
    assert_eq!(small["write"], 10_240);
    let position = |r: &Value| rows.iter().position(|x| x == r).unwrap();
    assert!(position(big) < position(small), "1 MiB ranks above 10 KiB");
    // Rows are sorted by the total, largest first.
    let totals: Vec<u64> = rows.iter().map(|r| r["total"].as_u64().unwrap()).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "{totals:?}");
    // The files written in the workload's directory, and only them.
    let written = json_rows(&[
        "top",
        "files",
        &trace,
        "-j",
        "fd.directory glob '/tmp/scry-incident.*'",
    ]);
    let names: Vec<&str> = written
        .iter()
        .map(|r| r["fd.name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names[0].ends_with("/big.bin") && names[1].ends_with("/small.bin"));
    assert!(names[2].ends_with("/port"));
}

#[test]
fn any_field_can_be_summed_by_any_other() {
    let trace = incident();
    let rows = json_rows(&[
        "top",
        &trace,
        "--by",
        "proc.name",
        "--sum",
        "evt.rawres",
        "-j",
        "evt.is_io_write=true and fd.type=file",
    ]);
    // dd wrote the 1 MiB, head the 10 KiB.
    let dd = row(&rows, "proc.name", "dd");
    assert_eq!(dd["evt.rawres"], 1_048_576);
    assert_eq!(row(&rows, "proc.name", "head")["evt.rawres"], 10_240);
    assert_eq!(rows[0]["proc.name"], "dd", "sorted by the sum");
    // A view keyed anew: files by process and file, sorted by writes.
    let rows = json_rows(&[
        "top",
        "files",
        &trace,
        "--by",
        "proc.name,fd.name",
        "--sort",
        "WRITE",
        "-j",
    ]);
    assert_eq!(rows[0]["proc.name"], "dd");
    assert!(rows[0]["fd.name"].as_str().unwrap().ends_with("/big.bin"));
    // Counting by a field: fdcount_by.
    let rows = json_rows(&["top", &trace, "--by", "evt.type", "-j", "evt.type=procexit"]);
    assert_eq!(rows.len(), 1);
    let exits = scry(&["read", &trace, "--count", "evt.type=procexit"]);
    assert_eq!(rows[0]["events"].to_string(), exits.stdout.trim());
}

#[test]
fn connections_and_ports_show_the_reverse_shell() {
    let trace = incident();
    let conns = json_rows(&["top", "conns", &trace, "-j"]);
    // The listener sent 30 bytes of commands and read what sh and id sent.
    let listener = conns
        .iter()
        .find(|r| r["proc.name"] == "python3" && r["total"].as_u64() > Some(0))
        .unwrap();
    assert_eq!(listener["out"], 30);
    let shell = conns.iter().find(|r| r["proc.name"] == "sh").unwrap();
    assert_eq!(shell["in"], 30, "sh read the commands");
    assert_eq!(shell["fd.name"], listener["fd.name"]);
    let ports = json_rows(&["top", "ports", &trace, "-j"]);
    let port = listener["fd.name"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    assert_eq!(ports[0]["fd.sport"].to_string(), port);
    assert_eq!(ports[0]["fd.l4proto"], "tcp");
}

/// Every built-in view.
const VIEWS: [&str; 12] = [
    "procs",
    "threads",
    "files",
    "dirs",
    "conns",
    "ports",
    "syscalls",
    "errors",
    "containers",
    "users",
    "procs-files",
    "procs-net",
];

#[test]
fn sums_of_return_values_count_io_calls_only() {
    // No filter: the sum of evt.rawres by file is the bytes read and
    // written, as in the files view, not those plus fds returned by opens
    // and addresses returned by mmap (libc is mapped by every program).
    let trace = incident();
    let sums = json_rows(&[
        "top",
        &trace,
        "--by",
        "fd.name",
        "--sum",
        "evt.rawres",
        "-n",
        "0",
        "-j",
    ]);
    let files = json_rows(&["top", "files", &trace, "-n", "0", "-j"]);
    for name in ["/big.bin", "/libc.so.6", "/etc/ld.so.cache"] {
        let file = row(&files, "fd.name", name);
        let sum = row(&sums, "fd.name", file["fd.name"].as_str().unwrap());
        assert_eq!(sum["evt.rawres"], file["total"], "{name}");
    }
    assert_eq!(row(&sums, "fd.name", "/big.bin")["evt.rawres"], 1_048_576);
    // A filter that picks the calls itself is taken at its word: the
    // returns of every mmap of libc.
    let mmaps = json_rows(&[
        "top",
        &trace,
        "--by",
        "fd.name",
        "--sum",
        "evt.rawres",
        "-j",
        "evt.type=mmap and fd.name endswith /libc.so.6",
    ]);
    assert_eq!(mmaps.len(), 1);
    assert!(
        mmaps[0]["evt.rawres"].as_i64().unwrap() > 1 << 32,
        "{mmaps:?}"
    );
}

#[test]
fn durations_that_were_not_recorded_do_not_show_as_zero() {
    let scap = samples().join("scap/cat_write.scap").display().to_string();
    // procinfo events have no duration: a view of them alone has no time
    // columns, in the table or in JSON.
    let run = scry(&["top", "threads", &scap, "evt.type=procinfo"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let header = run.stdout.lines().next().unwrap();
    assert!(header.contains("EVENTS"), "{}", run.stdout);
    assert!(!header.contains("TIME"), "{}", run.stdout);
    let rows = json_rows(&["top", "threads", &scap, "-j", "evt.type=procinfo"]);
    assert!(rows[0].get("time").is_none(), "{rows:?}");
    // Where some calls were timed, a row with none says so.
    let run = scry(&["top", "procs", &scap, "-n", "0"]);
    let column = run
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .position(|h| h == "TIME")
        .expect("a TIME column");
    let time_of = |name: &str| {
        let line = run
            .stdout
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == name))
            .unwrap_or_else(|| panic!("no {name}: {}", run.stdout));
        line.split_whitespace().nth(column).unwrap().to_owned()
    };
    assert_eq!(time_of("rsyslogd"), "-", "{}", run.stdout);
    assert!(time_of("cat").parse::<u64>().unwrap() > 0, "{}", run.stdout);
    // Asked for, a sum of durations stays.
    let run = scry(&[
        "top",
        &scap,
        "--by",
        "evt.type",
        "--sum",
        "evt.latency",
        "evt.type=procinfo",
    ]);
    assert!(run.stdout.contains("EVT.LATENCY"), "{}", run.stdout);
}

#[test]
fn every_view_matches_its_golden_file() {
    let trace = incident();
    let mut failures = Vec::new();
    for view in VIEWS {
        let run = scry(&["top", view, &trace, "-n", "8"]);
        assert_eq!(run.code, 0, "{view}: {}", run.stderr);
        if let Err(failure) = golden(&format!("top-{view}.txt"), &run.stdout) {
            failures.push(failure);
        }
        // JSON rows carry the same number of rows as the table.
        let rows = json_rows(&["top", view, &trace, "-n", "8", "-j"]);
        assert_eq!(rows.len() + 1, run.stdout.lines().count(), "{view}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn human_units_are_used_on_request() {
    let run = scry(&["top", "files", &incident(), "--human", "-n", "3"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("1.0 MiB"), "{}", run.stdout);
}

#[test]
fn mistakes_exit_2_and_no_rows_exit_1() {
    let trace = incident();
    let run = scry(&["top", "nosuchview", &trace]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown view 'nosuchview'"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("procs-files"), "{}", run.stderr);
    let run = scry(&["top", "files", &trace, "--sort", "bogus"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("total, read, write"), "{}", run.stderr);
    let run = scry(&["top", &trace, "--by", "proc.nme"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("^~~~~~~~"), "{}", run.stderr);
    let run = scry(&["top", &trace, "--by", "proc.name", "--sum", "proc.name"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a number"), "{}", run.stderr);
    let run = scry(&["top", "files", &trace, "proc.name=nosuchprocess"]);
    assert_eq!(
        (run.code, run.stdout.lines().count()),
        (1, 1),
        "{}",
        run.stdout
    );
    let run = scry(&["top", "files", &trace, "proc.name="]);
    assert_eq!(run.code, 2);
    // An ancestor field has one value only with a level.
    let run = scry(&["top", &trace, "--by", "proc.apid"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("proc.apid[1]"), "{}", run.stderr);
}

#[test]
fn ties_go_by_the_other_measures() {
    // One connection each: the port that moved more bytes comes first.
    let scap = samples()
        .join("scap/curl_google.scap")
        .display()
        .to_string();
    let rows = json_rows(&["top", "ports", &scap, "-j"]);
    let ports: Vec<u64> = rows
        .iter()
        .map(|r| r["fd.sport"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [80, 53], "{rows:?}");
    // Of the processes without CPU samples, curl made the most calls.
    let rows = json_rows(&["top", "procs", &scap, "-n", "2", "-j"]);
    assert_eq!(rows[1]["proc.name"], "curl", "{rows:?}");
}

#[test]
fn the_syscalls_view_counts_system_calls_only() {
    let scap = samples().join("scap/sample.scap").display().to_string();
    let rows = json_rows(&["top", "syscalls", &scap, "-n", "0", "-j"]);
    let types: Vec<&str> = rows
        .iter()
        .map(|r| r["evt.type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"nanosleep"), "{types:?}");
    for other in ["switch", "procinfo", "useradded", "groupadded", "procexit"] {
        assert!(!types.contains(&other), "{other} in {types:?}");
    }
}

#[test]
fn every_view_sums_the_same_on_one_thread_and_on_several() {
    // Four threads sum the chunks on workers and merge the runs in order;
    // one reads them one after the other.
    let trace = incident();
    for view in VIEWS {
        let one = scry(&["top", view, &trace, "-n", "0", "-j", "--threads", "1"]);
        let four = scry(&["top", view, &trace, "-n", "0", "-j", "--threads", "4"]);
        assert_eq!(one.code, four.code, "{view}: {}", four.stderr);
        assert_eq!(one.stdout, four.stdout, "the {view} view");
    }
}

/// Runs `scry ARGS` on a pseudo-terminal (util-linux `script`), with
/// `NO_COLOR` set or not; its output, or `None` without `script`.
fn on_a_terminal(args: &[&str], no_color: bool) -> Option<String> {
    let command = std::iter::once(env!("CARGO_BIN_EXE_scry"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &command, "/dev/null"]);
    script.env_remove("NO_COLOR");
    if no_color {
        script.env("NO_COLOR", "1");
    }
    let output = script.output().ok()?;
    assert!(output.status.success(), "{output:?}");
    Some(String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"))
}

#[test]
fn a_terminal_gets_units_and_a_bold_header_unless_no_color() {
    let trace = incident();
    let args = ["top", "files", &trace, "-n", "3"];
    let Some(tty) = on_a_terminal(&args, false) else {
        eprintln!("note: script (util-linux) is not installed; skipped");
        return;
    };
    let header = tty.lines().next().unwrap();
    assert!(
        header.starts_with("\x1b[1m") && header.ends_with("\x1b[0m"),
        "{tty:?}"
    );
    assert!(tty.contains("1.0 MiB"), "{tty}");
    // NO_COLOR: no escapes at all, the units stay.
    let plain = on_a_terminal(&args, true).unwrap();
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("1.0 MiB"), "{plain}");
    // Not a terminal: exact numbers for scripts, no escapes.
    let piped = scry(&args);
    assert!(!piped.stdout.contains('\x1b'));
    assert!(piped.stdout.contains("1048576"), "{}", piped.stdout);
    assert_eq!(
        plain.lines().count(),
        piped.stdout.lines().count(),
        "{plain}"
    );
}

#[test]
fn procs_show_cpu_time_from_procinfo_samples() {
    // Two threads of this capture used CPU between their first and last
    // samples: emacs 17640+970 ticks, then 17642+970; sshd 81+1283, then
    // 81+1284. A tick is 10 ms.
    let scap = samples().join("scap/cat_write.scap").display().to_string();
    let rows = json_rows(&["top", "procs", &scap, "-n", "3", "-j"]);
    let cpu: Vec<(u64, Option<u64>)> = rows
        .iter()
        .map(|r| (r["proc.pid"].as_u64().unwrap(), r["cpu"].as_u64()))
        .collect();
    // Processes without samples follow, busiest first (cat, the capture's
    // workload, before systemd), with no CPU time in JSON, as `-` in tables.
    assert_eq!(
        cpu,
        [
            (1077, Some(20_000_000)),
            (1019, Some(10_000_000)),
            (20072, None)
        ]
    );
    assert!(rows[2]["cpu"].is_null(), "{rows:?}");
    let run = scry(&["top", "procs", &scap, "-n", "3"]);
    assert!(run.stdout.starts_with("     CPU  EVENTS"), "{}", run.stdout);
    // --sort still picks the order; traces without samples have no CPU.
    let rows = json_rows(&["top", "procs", &scap, "-n", "1", "-j", "--sort", "events"]);
    assert_eq!(rows[0]["proc.pid"], 20072, "{rows:?}");
    let rows = json_rows(&["top", "procs", &incident(), "-n", "1", "-j"]);
    assert!(rows[0].get("cpu").is_none(), "{rows:?}");
}
