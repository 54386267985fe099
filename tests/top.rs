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
