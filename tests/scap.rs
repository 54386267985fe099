//! sysdig and Falco captures (`samples/scap/`): scry reports the syscalls,
//! processes, files and connections they hold (the expected values in
//! `tests/golden/scap/` were read with sysdig, see `samples/scap/README.md`),
//! `convert` keeps every answer, and damaged captures get clear errors.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::util::*;

/// The committed captures, by name.
const CAPTURES: [&str; 6] = [
    "curl_google",
    "curl_google_comments",
    "single_ipv6_conn",
    "sample",
    "cat_write",
    "connect_localhost",
];

fn capture(name: &str) -> String {
    samples()
        .join("scap")
        .join(format!("{name}.scap"))
        .to_string_lossy()
        .into_owned()
}

fn golden(name: &str, what: &str) -> BTreeSet<String> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", "scap"]
        .iter()
        .collect::<PathBuf>()
        .join(format!("{name}.{what}"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The distinct lines `scry read TRACE FILTER -p FORMAT` prints.
fn distinct(trace: &str, filter: &str, format: &str) -> BTreeSet<String> {
    let run = scry(&["read", trace, filter, "-p", format]);
    assert!(run.code <= 1, "{trace}: {}", run.stderr);
    run.stdout
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

fn count(trace: &str, filter: &str) -> u64 {
    let run = scry(&["read", trace, filter, "--count"]);
    assert!(run.code <= 1, "{trace}: {}", run.stderr);
    run.stdout.trim().parse().unwrap()
}

/// What the golden files say about a capture, checked on `trace` (the
/// capture itself or its conversion).
fn check_contents(name: &str, trace: &str) {
    let syscalls: u64 = golden(name, "syscalls")
        .into_iter()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // Generic events of syscalls the capture's tables did not name are
    // syscalls too.
    assert_eq!(
        count(trace, "syscall.type exists or evt.type=unknown_syscall"),
        syscalls,
        "{name}: syscalls"
    );
    assert_eq!(
        distinct(trace, "syscall.type exists", "*%proc.pid %proc.name"),
        golden(name, "procs"),
        "{name}: processes"
    );
    let opens = "evt.type in (open, openat, creat)";
    assert_eq!(
        distinct(trace, opens, "%evt.arg.name"),
        golden(name, "paths"),
        "{name}: opened paths"
    );
    assert_eq!(
        distinct(trace, &format!("{opens} and evt.rawres>=0"), "%fd.name"),
        golden(name, "files"),
        "{name}: files"
    );
    assert_eq!(
        distinct(trace, "evt.type in (connect, accept, accept4)", "%fd.name"),
        golden(name, "tuples"),
        "{name}: connections"
    );
}

#[test]
fn captures_hold_what_sysdig_reads_in_them() {
    for name in CAPTURES {
        check_contents(name, &capture(name));
    }
}

#[test]
fn converted_captures_read_the_same() {
    let dir = TempDir::new("scap-convert");
    for name in CAPTURES {
        let scap = capture(name);
        let scry_path = dir.path(&format!("{name}.scry"));
        let run = scry(&["convert", &scap, "-w", &scry_path, "--quiet"]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{name}: a whole capture converts silently");
        // Every field that reads the state: the snapshot keeps what they
        // can reach.
        let state = "*%evt.num %thread.tid %proc.pid %proc.name %proc.exe %proc.cmdline \
                     %proc.cwd %proc.ppid %proc.pname %proc.aname[2] %proc.aname[3] %proc.sid \
                     %proc.sname %proc.vpgid.name %proc.loginshellid %user.uid %user.name \
                     %user.homedir %user.shell %user.loginname %group.gid %group.name \
                     %fd.num %fd.type %fd.name %fd.cip %fd.sip %fd.cport %fd.sport \
                     %fd.is_server %container.id";
        for args in [
            &[][..],
            &["-j"][..],
            &["evt.type=read", "-X"][..],
            &["-p", state][..],
        ] {
            let direct = scry(&[&["read", &scap][..], args].concat());
            let converted = scry(&[&["read", &scry_path][..], args].concat());
            assert_eq!(direct.code, converted.code, "{name} {args:?}");
            assert!(
                direct.stdout == converted.stdout,
                "{name} {args:?}: reading the conversion differs"
            );
        }
        check_contents(name, &scry_path);
        let verify = scry(&["verify", &scry_path]);
        assert_eq!(verify.code, 0, "{name}: {}", verify.stdout);
        // --full-snapshot keeps every process, fd and account.
        let full = dir.path(&format!("{name}-full.scry"));
        let run = scry(&["convert", &scap, "-w", &full, "--full-snapshot"]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert!(!run.stderr.contains("left out"), "{}", run.stderr);
        let snapshot = |path: &str| {
            let info = scry(&["info", path]).stdout;
            info.lines()
                .find(|l| l.starts_with("snapshot"))
                .map(|l| l.split(", 0 containers").next().unwrap_or(l).to_owned())
        };
        assert_eq!(snapshot(&full), snapshot(&scap), "{name}");
    }
}

#[test]
fn enter_and_exit_events_become_one_record() {
    // The v1.0 capture has both: the exit record carries the enter's
    // arguments and the syscall's duration.
    let trace = capture("curl_google");
    let lines = distinct(
        &trace,
        "evt.type=read and fd.name=/etc/ld.so.cache",
        "%evt.type %evt.arg.fd %evt.arg.size %evt.rawres",
    );
    assert!(lines.is_empty() || lines.iter().all(|l| l.starts_with("read ")));
    let reads = distinct(
        &trace,
        "evt.type=read and evt.arg.size exists",
        "%evt.arg.size",
    );
    assert!(!reads.is_empty(), "read records carry the enter's size");
    let latencies = distinct(&trace, "evt.type=open and evt.latency>0", "%evt.latency");
    assert!(!latencies.is_empty(), "paired records have a duration");
    // Open flags are Linux's: O_RDONLY|O_CLOEXEC, not libscap's 4097.
    let flags = distinct(
        &trace,
        "evt.type=open and evt.arg.name=/etc/ld.so.cache",
        "%evt.rawarg.flags",
    );
    assert_eq!(flags, BTreeSet::from(["524288".to_owned()]));
}

#[test]
fn info_describes_a_capture() {
    let run = scry(&["info", &capture("curl_google")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for wanted in [
        "host       ip-10-0-0-79",
        "format     sysdig/Falco capture, scap 1.0, gzip",
        "status     complete",
        "curl (pid 17497)",
    ] {
        assert!(run.stdout.contains(wanted), "{wanted}: {}", run.stdout);
    }
    let plain = scry(&["info", &capture("sample")]);
    assert!(plain.stdout.contains("scap 1.2,"), "{}", plain.stdout);
}

#[test]
fn captures_are_read_from_standard_input() {
    let bytes = std::fs::read(capture("cat_write")).unwrap();
    let run = scry_with_stdin(&["read", "-", "evt.type=open", "--count"], &bytes);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "4");
}

/// The decompressed bytes of a capture.
fn plain_bytes(name: &str) -> Vec<u8> {
    let run = std::process::Command::new("gzip")
        .args(["-dc", &capture(name)])
        .output()
        .unwrap();
    assert!(run.status.success());
    run.stdout
}

#[test]
fn damaged_captures_get_clear_errors() {
    let dir = TempDir::new("scap-damaged");
    let plain = plain_bytes("cat_write");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };

    // Cut off in the middle of the events: what is whole is read, the
    // rest reported.
    let cut = write("cut.scap", &plain[..plain.len() * 9 / 10]);
    let run = scry(&["read", &cut, "evt.type=open", "--count"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("is truncated at byte"),
        "{}",
        run.stderr
    );
    let info = scry(&["info", &cut]);
    assert!(
        info.stdout.contains("status     TRUNCATED"),
        "{}",
        info.stdout
    );

    // A gzip stream cut off.
    let gz = std::fs::read(capture("cat_write")).unwrap();
    let cut_gz = write("cut.scap.gz", &gz[..gz.len() * 9 / 10]);
    let run = scry(&["read", &cut_gz, "--count"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("is truncated"), "{}", run.stderr);
    assert!(run.stdout.trim().parse::<u64>().unwrap() > 0);

    // Cut inside the section header.
    let run = scry(&["read", &write("head.scap", &plain[..20])]);
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains("cut off inside its header"),
        "{}",
        run.stderr
    );

    // Written by a big-endian machine.
    let mut swapped = plain.clone();
    swapped[8..12].reverse();
    let run = scry(&["info", &write("swapped.scap", &swapped)]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("big-endian"), "{}", run.stderr);

    // A newer major version.
    let mut newer = plain.clone();
    newer[12..14].copy_from_slice(&2u16.to_le_bytes());
    let run = scry(&["read", &write("v2.scap", &newer)]);
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains("unsupported format version 2.0"),
        "{}",
        run.stderr
    );

    // A block length damaged half way: the events before it are read.
    let mut damaged = plain.clone();
    let at = middle_event_block(&damaged);
    damaged[at + 4..at + 8].copy_from_slice(&3u32.to_le_bytes());
    let path = write("damaged.scap", &damaged);
    let run = scry(&["read", &path, "--count"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("is damaged at byte"), "{}", run.stderr);
    let whole: u64 = scry(&["read", &capture("cat_write"), "--count"])
        .stdout
        .trim()
        .parse()
        .unwrap();
    let read: u64 = run.stdout.trim().parse().unwrap();
    assert!(read > 0 && read < whole, "{read} of {whole}");

    // Not a capture, compressed.
    let other = write("other.gz", &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0]);
    let run = scry(&["read", &other]);
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains("not a sysdig/Falco capture"),
        "{}",
        run.stderr
    );
}

/// The offset of an event block half way through a capture's events.
fn middle_event_block(bytes: &[u8]) -> usize {
    let block = |at: usize| {
        let word = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
        (word(at), word(at + 4) as usize)
    };
    let mut events = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let (kind, len) = block(at);
        // Event blocks: V1 (and its pre-registration number) and V2.
        if matches!(kind, 0x204 | 0x8010_ABCD | 0x216) {
            events.push(at);
        }
        at += len;
    }
    events[events.len() / 2]
}

#[test]
fn convert_refuses_what_is_not_a_capture() {
    let dir = TempDir::new("scap-refuse");
    let out = dir.path("out.scry");
    let sample = samples().join("workload.scry");
    let run = scry(&["convert", &sample.to_string_lossy(), "-w", &out]);
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains("not a sysdig/Falco capture"),
        "{}",
        run.stderr
    );
    let run = scry(&["convert", &capture("cat_write")]);
    assert_eq!(run.code, 2, "-w is required");
}

#[test]
fn convert_reads_standard_input_into_a_new_file_and_refuses_to_overwrite_its_input() {
    let dir = TempDir::new("scap-stdin");
    let out = dir.path("new.scry");
    let data = std::fs::read(capture("curl_google")).unwrap();
    let run = scry_with_stdin(&["convert", "-", "-w", &out, "--quiet"], &data);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        count(&out, "evt.type=connect"),
        count(&capture("curl_google"), "evt.type=connect")
    );
    let copy = dir.path("copy.scap");
    std::fs::write(&copy, &data).unwrap();
    let run = scry(&["convert", &copy, "-w", &copy]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "would overwrite the capture");
}
