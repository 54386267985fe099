use crate::util::*;

#[test]
fn info_describes_a_whole_trace() {
    let dir = TempDir::new("info-whole");
    let path = dir.path("t.scry");
    std::fs::write(&path, small_trace(300)).unwrap();
    let run = scry(&["info", &path]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains!(run.stdout, "events     300 in 6 chunks");
    assert_contains!(run.stdout, "status     complete");
    assert_contains!(
        run.stdout,
        "drops      0 dropped, 300 delivered on 1 CPU (no events lost)"
    );
    assert_contains!(
        run.stdout,
        "time       2025-11-25T05:00:00.000000000Z .. 2025-11-25T05:00:00.000299000Z"
    );
    // Types sorted by count, then name.
    assert_contains!(run.stdout, "events by type:\n  150  openat\n  150  read\n");
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    std::fs::write(&path, small_trace(1)).unwrap();
    let run = scry(&["info", &path]);
    assert_contains!(run.stdout, "events     1 in 1 chunk (");
}

#[test]
fn info_reads_standard_input() {
    let data = small_trace(130);
    let run = scry_with_stdin(&["info", "-"], &data);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains!(run.stdout, "events     130 in 3 chunks");
    assert_contains!(run.stdout, "status     complete");
}

#[test]
fn info_reports_truncated_samples_and_reads_their_complete_chunks() {
    for name in ["truncated-mid-chunk.scry", "no-index.scry"] {
        let path = samples().join("corrupt").join(name);
        let run = scry(&["info", path.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        assert_contains!(run.stdout, "status     TRUNCATED at byte");
        assert_contains!(run.stdout, "events     400 in 2 chunks");
        let data = std::fs::read(&path).unwrap();
        let streamed = scry_with_stdin(&["info", "-"], &data);
        assert_contains!(streamed.stdout, "status     TRUNCATED at byte");
        assert_contains!(streamed.stdout, "events     400 in 2 chunks");
    }
}

#[test]
fn info_lists_a_damaged_chunk_behind_an_intact_index_as_the_stream_does() {
    let path = samples().join("corrupt").join("flipped-chunk.scry");
    let mapped = scry(&["info", path.to_str().unwrap()]);
    let streamed = scry_with_stdin(&["info", "-"], &std::fs::read(&path).unwrap());
    for run in [&mapped, &streamed] {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_contains!(run.stdout, "status     DAMAGED: 1 region(s) skipped\n");
    }
    let damage_lines = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .skip_while(|line| !line.starts_with("status"))
            .take_while(|line| !line.starts_with("events by type"))
            .map(str::to_owned)
            .collect()
    };
    let lines = damage_lines(&mapped.stdout);
    assert_eq!(lines.len(), 2, "{}", mapped.stdout);
    assert!(lines[1].contains("checksum mismatch"), "{}", mapped.stdout);
    assert_eq!(lines, damage_lines(&streamed.stdout));
}

#[test]
fn info_refuses_what_is_not_a_readable_trace_with_exit_code_3() {
    let cases = [
        ("zero-length.scry", "the file is empty"),
        ("bad-magic.scry", "not a scry trace: bad magic bytes"),
        ("future-version.scry", "unsupported format version 2.0"),
        (
            "bad-header-checksum.scry",
            "corrupt file header at byte offset 0: checksum mismatch",
        ),
    ];
    for (name, message) in cases {
        let path = samples().join("corrupt").join(name);
        let run = scry(&["info", path.to_str().unwrap()]);
        assert_eq!(run.code, 3, "{name}");
        assert_contains!(run.stderr, message);
        assert!(run.stdout.is_empty());
        let streamed = scry_with_stdin(&["info", "-"], &std::fs::read(&path).unwrap());
        assert_eq!(streamed.code, 3, "{name} on stdin");
        assert_contains!(streamed.stderr, message);
    }
    let missing = scry(&["info", "/nonexistent/trace.scry"]);
    assert_eq!(missing.code, 3);
    assert_contains!(missing.stderr, "cannot open /nonexistent/trace.scry");
}

#[test]
fn info_names_the_host_busiest_processes_and_containers() {
    let path = samples().join("workload.scry");
    let run = scry(&["info", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains!(run.stdout, "\nhost       vm\n");
    // Counted with the state replayed: names as of each event, ten rows,
    // most events first.
    let first_rows: Vec<&str> = run
        .stdout
        .split("top processes by events:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take(2)
        .collect();
    assert!(
        first_rows[0].contains(" bash (pid "),
        "the workload's shell is busiest: {first_rows:?}"
    );
    assert!(first_rows[1].contains(" ls (pid "), "{first_rows:?}");
    let top = run
        .stdout
        .split("top processes by events:\n")
        .nth(1)
        .unwrap();
    let rows: Vec<&str> = top.lines().take_while(|l| l.starts_with("  ")).collect();
    assert_eq!(rows.len(), 10, "{top}");
    let total = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("events     "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_contains!(
        run.stdout,
        format!("containers by events:\n  {total}  host (host)\n")
    );

    // A stream gives the same counts.
    let streamed = scry_with_stdin(&["info", "-"], &std::fs::read(&path).unwrap());
    let tail = |text: &str| text.split("events by type:").nth(1).unwrap().to_owned();
    assert_eq!(tail(&streamed.stdout), tail(&run.stdout));
}

#[test]
fn info_reads_a_directory_of_segments_and_sums_several_traces_up() {
    let dir = TempDir::new("info-segments");
    std::fs::create_dir_all(dir.path("segments")).unwrap();
    std::fs::write(dir.path("segments/t-000.scry"), small_trace(300)).unwrap();
    std::fs::write(dir.path("segments/t-001.scry"), small_trace(130)).unwrap();
    std::fs::write(dir.path("segments/notes.txt"), "not a trace").unwrap();
    let run = scry(&["info", &dir.path("segments")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout.matches("\nfile ").count() + 1,
        2,
        "{}",
        run.stdout
    );
    assert_contains!(run.stdout, "t-000.scry\n");
    assert_contains!(run.stdout, "events     300 in 6 chunks");
    assert_contains!(run.stdout, "events     130 in 3 chunks");
    let last = run.stdout.lines().last().unwrap();
    assert_eq!(
        last,
        "all        2 traces, 430 events in 9 chunks, \
         2025-11-25T05:00:00.000000000Z .. 2025-11-25T05:00:00.000299000Z (299.0 µs), host unknown"
    );
    // Files named one by one are summed up too; one alone is not.
    let files = scry(&[
        "info",
        &dir.path("segments/t-000.scry"),
        samples().join("workload.scry").to_str().unwrap(),
    ]);
    assert_eq!(files.code, 0, "{}", files.stderr);
    let last = files.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("all        2 traces, 2,598 events in "),
        "{last}"
    );
    assert!(last.ends_with(", hosts unknown, vm"), "{last}");
    let one = scry(&["info", &dir.path("segments/t-000.scry")]);
    assert!(!one.stdout.contains("\nall "), "{}", one.stdout);
    std::fs::create_dir_all(dir.path("empty")).unwrap();
    let empty = scry(&["info", &dir.path("empty")]);
    assert_eq!(empty.code, 2, "{}", empty.stderr);
    assert_contains!(empty.stderr, "holds no trace files");
}

#[test]
fn traces_of_every_format_version_read_with_their_event_tables() {
    // The recorded samples are 1.0 (header in the clear); format-1.1.scry
    // lists its whole event table in a packed header; format-1.2.scry
    // writes the table against a base table; format-1.3.scry has packed
    // chunk payloads, snapshot tables and summaries only in chunks; what
    // this scry writes is 1.4 (large chunks split their parameters off,
    // container records).
    let old = samples().join("workload.scry");
    let packed = samples().join("format-1.1.scry");
    let based = samples().join("format-1.2.scry");
    let tabled = samples().join("format-1.3.scry");
    let dir = TempDir::new("info-versions");
    let new = dir.path("t.scry");
    std::fs::write(&new, small_trace(300)).unwrap();
    for (path, version, filter) in [
        (old.to_str().unwrap(), "scry 1.0", "evt.type=openat"),
        (packed.to_str().unwrap(), "scry 1.1", "evt.type=open"),
        (based.to_str().unwrap(), "scry 1.2", "evt.type=mmap"),
        (tabled.to_str().unwrap(), "scry 1.3", "evt.type=connect"),
        (new.as_str(), "scry 1.4", "evt.type=openat"),
    ] {
        let run = scry(&["info", path]);
        assert_eq!(run.code, 0, "{path}: {}", run.stderr);
        assert_contains!(run.stdout, version);
        let data = std::fs::read(path).unwrap();
        let streamed = scry_with_stdin(&["info", "-"], &data);
        assert_contains!(streamed.stdout, version);
        let types = |out: &str| out.split_once("events by type:").map(|(_, t)| t.to_owned());
        assert_eq!(types(&streamed.stdout), types(&run.stdout), "{path}");
        // Event names come from the file's table.
        let count = scry(&["read", "--count", path, filter]);
        assert_eq!(count.code, 0, "{path}: {}", count.stderr);
        assert!(count.stdout.trim().parse::<u64>().unwrap() > 0, "{path}");
    }
    // The 1.1, 1.2 and 1.3 files read as the captures they were converted
    // from do, and as those captures converted now (to 1.4) do.
    for (sample, capture) in [
        (&packed, "cat_write"),
        (&based, "curl_google"),
        (&tabled, "connect_localhost"),
    ] {
        let converted = dir.path(&format!("{capture}.scry"));
        let capture = samples().join("scap").join(format!("{capture}.scap"));
        let run = scry(&["convert", capture.to_str().unwrap(), "-w", &converted, "-q"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for format in [
            "%evt.num %evt.type %proc.name %evt.args",
            "*%fd.name %evt.res %evt.rawtime %evt.latency %evt.buffer",
        ] {
            let from_scap = scry(&["read", capture.to_str().unwrap(), "-p", format]);
            assert_eq!(from_scap.code, 0, "{}", from_scap.stderr);
            for trace in [sample.to_str().unwrap(), converted.as_str()] {
                let from_scry = scry(&["read", trace, "-p", format]);
                assert_eq!(from_scap.stdout, from_scry.stdout, "{trace}: {format}");
            }
        }
    }
}

#[test]
fn info_writes_a_long_span_in_days_hours_and_minutes() {
    let incident = samples().join("incident.scry");
    let workload = samples().join("workload.scry");
    let run = scry(&[
        "info",
        incident.to_str().unwrap(),
        workload.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let last = run.stdout.lines().last().unwrap();
    assert!(last.starts_with("all "), "{last}");
    assert_contains!(last, "(5d 13h 17m)");
}

#[test]
fn info_reads_a_file_given_twice_once() {
    let incident = samples().join("incident.scry");
    let incident = incident.to_str().unwrap();
    let dotted = samples().join(".").join("incident.scry");
    let run = scry(&["info", incident, dotted.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, scry(&["info", incident]).stdout);
    assert_eq!(
        run.stderr,
        format!(
            "scry: warning: {} given twice, read once\n",
            dotted.display()
        )
    );
}
