//! `scry spy`, `echo`, `tree` and `slow` over the incident sample
//! (scripts/incident.sh): an interactive session on a pseudo-terminal, a
//! reverse shell to a loopback listener, and known file writes.

use serde_json::Value;

use crate::util::*;

fn incident() -> String {
    samples().join("incident.scry").display().to_string()
}

#[test]
fn spy_users_shows_the_interactive_session_indented_under_its_shell() {
    let run = scry(&["spy", "users", &incident()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    golden("spy-users.txt", &run.stdout).unwrap();
    let commands: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| l.splitn(5, ' ').nth(4).unwrap_or(""))
        .map(|rest| rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' '))
        .collect();
    assert_eq!(
        commands,
        [
            "bash -c bash --norc --noprofile -i",
            "bash --norc --noprofile -i",
            "cd /tmp",
            "whoami",
            "ls -a /etc/ssh",
            "cat /etc/hostname"
        ]
    );
    // Typed commands sit one level under the session's shell.
    assert!(run.stdout.lines().nth(3).unwrap().ends_with("   whoami"));
    // Nothing the non-interactive script ran (dd, python3, sh -i) shows.
    assert!(!run.stdout.contains("dd ") && !run.stdout.contains("python3"));
    let run = scry(&["spy", "users", &incident(), "-j", "proc.name=ls"]);
    let line: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(line["command"], "ls -a /etc/ssh");
    assert_eq!(line["depth"], 1);
    assert_eq!(line["user.name"], "root");
}

#[test]
fn spy_file_follows_a_file_from_creation_to_deletion() {
    let run = scry(&["spy", "file", "/tmp/.x", &incident()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    golden("spy-file.txt", &run.stdout).unwrap();
    let types: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| l.split(' ').nth(6).unwrap())
        .collect();
    assert_eq!(types, ["openat", "dup2", "close", "write", "unlinkat"]);
    assert!(run.stdout.contains("data=owned."), "{}", run.stdout);
    // A filter instead of a path; nothing matching exits 1.
    let run = scry(&[
        "spy",
        "file",
        "fd.name endswith small.bin",
        &incident(),
        "-j",
    ]);
    assert!(run.stdout.lines().count() >= 3, "{}", run.stdout);
    let run = scry(&["spy", "file", "/nonexistent", &incident()]);
    assert_eq!(run.code, 1);
}

#[test]
fn spy_file_refuses_an_empty_path() {
    for target in ["", "  "] {
        let run = scry(&["spy", "file", target, &incident()]);
        assert_eq!(run.code, 2, "{target:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{target:?}: {}", run.stdout);
        assert_contains!(run.stderr, "needs a path");
    }
}

#[test]
fn echo_replays_the_reverse_shell_conversation() {
    let run = scry(&["echo", &incident(), "fd.type in (ipv4, ipv6)"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    golden("echo.txt", &run.stdout).unwrap();
    let text = &run.stdout;
    // The listener's commands, as sh read them, then id's answer.
    let commands = text.find("Read 30 B from").unwrap();
    let answer = text.find("Write 39 B to").unwrap();
    assert!(commands < answer);
    assert!(
        text.contains("(sh 23736, fd 0)\nid\necho owned > /tmp/.x; exit\n"),
        "{text}"
    );
    assert!(text.contains("(id 23737, fd 1)\nuid=0(root) gid=0(root) groups=0(root)\n"));
    let run = scry(&["echo", &incident(), "proc.name=id and fd.type=ipv4", "-j"]);
    let block: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(
        block["evt.buffer"],
        "uid=0(root) gid=0(root) groups=0(root)\n"
    );
    assert_eq!(block["evt.io_dir"], "w");
    let run = scry(&["echo", &incident(), "proc.name=id and fd.type=ipv4", "-X"]);
    assert!(
        run.stdout.contains("0x0000: 7569 643d 3028 726f 6f74 2920"),
        "{}",
        run.stdout
    );
    let run = scry(&["echo", &incident(), "proc.name=nosuchprocess"]);
    assert_eq!(run.code, 1);
}

#[test]
fn tree_shows_who_spawned_what_and_how_it_ended() {
    let run = scry(&["tree", &incident()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    golden("tree.txt", &run.stdout).unwrap();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("23721 bash scripts/incident.sh"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("│  └─ 23737 id  [") && l.ends_with("exit 0]"))
    );
    // A filter keeps the matching processes and their ancestors.
    let run = scry(&["tree", &incident(), "proc.name=whoami", "-j"]);
    let pids: Vec<u64> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["proc.pid"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(pids, [23721, 23725, 23726, 23727]);
}

#[test]
fn what_a_capture_never_saw_is_null_not_a_made_up_value() {
    // sysdig's capture names threads it knows only by id: their user is
    // unknown (uid -1, which `user.uid` shows as sysdig does), and
    // processes from its table have no start time.
    let scap = samples().join("scap/sample.scap").display().to_string();
    let run = scry(&["tree", &scap, "-j"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let nodes: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(nodes.iter().any(|n| n["user.name"].is_null()), "{nodes:?}");
    assert!(nodes.iter().any(|n| n["start"].is_null()), "{nodes:?}");
    for node in &nodes {
        assert_ne!(node["user.name"], "4294967295", "{node}");
        assert_ne!(node["start"], 0, "{node}");
    }
}

#[test]
fn slow_lists_the_slowest_calls_first() {
    let run = scry(&["slow", &incident(), "-t", "1ms"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    golden("slow.txt", &run.stdout).unwrap();
    // Event numbers of different lengths are right-aligned in their column.
    let dates: Vec<usize> = run
        .stdout
        .lines()
        .map(|l| l.find(" 2026-").unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] == w[1]), "{}", run.stdout);
    let rows = scry(&["slow", &incident(), "-t", "1ms", "-n", "0", "-j"]);
    let latencies: Vec<u64> = rows
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["evt.latency"]
                .as_u64()
                .unwrap_or(0)
        })
        .collect();
    assert!(latencies.len() > 5);
    assert!(latencies.windows(2).all(|w| w[0] >= w[1]), "{latencies:?}");
    assert!(latencies.iter().all(|&l| l >= 1_000_000));
    let count = scry(&[
        "read",
        &incident(),
        "--count",
        "evt.latency>=1ms and evt.is_wait=false",
    ]);
    assert_eq!(latencies.len().to_string(), count.stdout.trim());
    // File I/O only: reads and writes on files, dd's writes among them.
    let run = scry(&["slow", &incident(), "-t", "0", "--files", "-n", "0"]);
    assert!(
        run.stdout
            .lines()
            .all(|l| l.contains("fd=") && l.contains("(<f>"))
    );
    assert_eq!(run.stdout.matches("dd (23723) write").count(), 16);
    let run = scry(&["slow", &incident(), "-t", "ten"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a duration"), "{}", run.stderr);
    let run = scry(&["slow", &incident(), "-t", "10s"]);
    assert_eq!(run.code, 1);
    // A bare number is not taken for seconds.
    let run = scry(&["slow", &incident(), "-t", "10"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "'10' has no unit: write 10ms");
    // Waiting calls only on request: the script waiting for its children.
    let run = scry(&["slow", &incident(), "-t", "100ms", "--waits"]);
    assert!(
        run.stdout
            .lines()
            .next()
            .unwrap()
            .contains("bash (23721) wait4")
    );
}

/// The keys of the reports' JSON lines: dotted ones are fields a filter
/// knows; what no field holds has a name without a dot.
#[test]
fn json_keys_with_a_dot_are_fields() {
    let trace = incident();
    for args in [
        &["spy", "users", trace.as_str(), "-j"][..],
        &["tree", trace.as_str(), "-j"],
        &["slow", trace.as_str(), "-t", "1ms", "-j"],
        &["echo", trace.as_str(), "fd.type in (ipv4, ipv6)", "-j"],
    ] {
        let run = scry(args);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let first: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
        for key in first
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.contains('.'))
        {
            let check = scry(&["read", &trace, "--count", &format!("{key} exists")]);
            assert_ne!(
                check.code, 2,
                "{args:?}: {key} is no field: {}",
                check.stderr
            );
        }
    }
}
