//! `scry record`, for real: run a known workload under a capture of the whole
//! host, stop the capture the way a user does, and find the workload's
//! syscalls in the file with the right arguments. Needs root; skipped (with
//! a note) otherwise.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scry_format::{Event, EventTable, SockAddr, TraceFile, Value};

use crate::util::*;

const WORKLOAD_ENV: &str = "SCRY_TEST_WORKLOAD";
const KNOWN_BYTES: &[u8] = b"scry-known-bytes-0123456789";
const MISSING_PATH: &str = "/nonexistent-scry-dir/missing-file";

fn is_root() -> bool {
    rustix_uid() == 0
}

fn rustix_uid() -> u32 {
    // The effective uid, from /proc to keep the tests free of unsafe code.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

/// The workloads run in a child copy of this test binary, so that the test
/// knows their process ids exactly.
#[test]
fn workload_entry() {
    let Ok(which) = std::env::var(WORKLOAD_ENV) else {
        return;
    };
    let dir = std::env::var("SCRY_TEST_DIR").unwrap();
    match which.as_str() {
        "files" => {
            let path = Path::new(&dir).join("known-file");
            let mut file = std::fs::File::create(&path).unwrap();
            file.write_all(KNOWN_BYTES).unwrap();
            drop(file);
            let mut file = std::fs::File::open(&path).unwrap();
            let mut buf = Vec::new();
            file.read_to_end(&mut buf).unwrap();
            assert_eq!(buf, KNOWN_BYTES);
            assert!(std::fs::File::open(MISSING_PATH).is_err());
        }
        "connect" => {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            std::fs::write(Path::new(&dir).join("port"), port.to_string()).unwrap();
            let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            client.write_all(b"ping").unwrap();
            let mut buf = [0u8; 4];
            server.read_exact(&mut buf).unwrap();
        }
        "blocking" => {
            // A read that sleeps until another thread writes: the kernel
            // switches the reader out between the syscall's entry and exit.
            let (mut reader, mut writer) = std::os::unix::net::UnixStream::pair().unwrap();
            let waker = std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(80));
                writer.write_all(b"wake").unwrap();
            });
            let mut buf = [0u8; 4];
            reader.read_exact(&mut buf).unwrap();
            waker.join().unwrap();
        }
        "exec" => {
            let status = Command::new("/bin/echo")
                .args(["scry-arg-one", "scry-arg-two"])
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        }
        "preopened" => {
            // Opens its file, says so, and uses it only when told: the
            // test starts the capture in between.
            let mut file = std::fs::File::create(Path::new(&dir).join("preopened-file")).unwrap();
            std::fs::write(Path::new(&dir).join("preopened-ready"), b"").unwrap();
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).unwrap();
            file.write_all(KNOWN_BYTES).unwrap();
        }
        "vectored" => {
            use std::io::{IoSlice, IoSliceMut};
            let path = Path::new(&dir).join("vectored-file");
            let mut file = std::fs::File::create(&path).unwrap();
            let parts = [&b"scry-"[..], b"", b"gathered-", b"across-iovecs"];
            let slices: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
            assert_eq!(file.write_vectored(&slices).unwrap(), 27);
            drop(file);
            let mut file = std::fs::File::open(&path).unwrap();
            let (mut head, mut tail) = ([0u8; 3], [0u8; 100]);
            let mut slices = [IoSliceMut::new(&mut head), IoSliceMut::new(&mut tail)];
            assert_eq!(file.read_vectored(&mut slices).unwrap(), 27);
        }
        other => panic!("unknown workload {other}"),
    }
}

struct Recording {
    child: Child,
    path: String,
}

fn start_recording(dir: &TempDir, extra: &[&str]) -> Recording {
    let path = dir.path("capture.scry");
    let mut args = vec!["record", "-w", &path];
    args.extend_from_slice(extra);
    let child = Command::new(env!("CARGO_BIN_EXE_scry"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The file appears once the probe is attached and the header written.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&path).map_or(true, |m| m.len() == 0) {
        assert!(Instant::now() < deadline, "scry record did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Recording { child, path }
}

fn stop_recording(recording: Recording, signal: &str) -> (Run, Vec<u8>) {
    let status = Command::new("kill")
        .args([signal, &recording.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run: Run = finish(recording.child).into();
    let data = std::fs::read(&recording.path).unwrap();
    (run, data)
}

/// Runs workload `which` in a child process and returns its pid.
fn run_workload(which: &str, dir: &TempDir) -> u32 {
    let mut child = spawn_workload(which, dir, Stdio::null());
    let pid = child.id();
    assert!(child.wait().unwrap().success(), "workload {which} failed");
    pid
}

/// Starts workload `which` in a child process.
fn spawn_workload(which: &str, dir: &TempDir, stdin: Stdio) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "record::workload_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WORKLOAD_ENV, which)
        .env("SCRY_TEST_DIR", &dir.0)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn events_of(data: &[u8], keep: impl Fn(&Event) -> bool) -> (Vec<Event>, EventTable) {
    let trace = TraceFile::open(data).unwrap();
    assert!(
        trace.truncation().is_none(),
        "capture must close its file properly"
    );
    assert!(trace.damage().is_empty());
    let mut events = Vec::new();
    let _ = trace
        .for_each_chunk(
            2,
            |_| true,
            |chunk| {
                events.extend(
                    chunk
                        .unwrap()
                        .iter()
                        .map(|e| e.to_event())
                        .filter(|e| keep(e)),
                );
                std::ops::ControlFlow::<()>::Continue(())
            },
        )
        .unwrap();
    (events, trace.header().event_table.clone())
}

fn name<'t>(table: &'t EventTable, event: &Event) -> &'t str {
    table.name(event.event_type).unwrap_or("?")
}

fn param<'e>(table: &EventTable, event: &'e Event, wanted: &str) -> &'e Value {
    let info = table.get(event.event_type).unwrap();
    let index = info
        .params
        .iter()
        .position(|p| p == wanted)
        .unwrap_or_else(|| panic!("{} has no {wanted}", info.name));
    &event.params[index]
}

/// Captures record the whole host, so running them at once makes each
/// record the others: they take turns.
static ONE_CAPTURE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes the capture lock, or returns `None` (with a note) when not root.
fn capture_turn() -> Option<std::sync::MutexGuard<'static, ()>> {
    if !is_root() {
        eprintln!("note: skipped, capturing needs root");
        return None;
    }
    Some(
        ONE_CAPTURE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

#[test]
fn file_io_shows_paths_fds_byte_counts_data_and_errors() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-files");
    let recording = start_recording(&dir, &[]);
    let pid = run_workload("files", &dir);
    let (run, data) = stop_recording(recording, "-INT");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (events, table) = events_of(&data, |e| e.tgid == pid);
    let known = dir
        .0
        .join("known-file")
        .to_string_lossy()
        .into_owned()
        .into_bytes();

    let opens: Vec<&Event> = events
        .iter()
        .filter(|e| {
            name(&table, e) == "openat" && param(&table, e, "name") == &Value::Str(known.clone())
        })
        .collect();
    assert_eq!(opens.len(), 2, "one open to write, one to read");
    let (write_fd, read_fd) = (opens[0].ret, opens[1].ret);
    assert!(write_fd >= 0 && read_fd >= 0);

    // fd numbers are reused: look only after each open.
    let write = events
        .iter()
        .filter(|e| e.ts > opens[0].ts)
        .find(|e| name(&table, e) == "write" && param(&table, e, "fd") == &Value::Fd(write_fd))
        .expect("the write is recorded");
    assert_eq!(write.ret, KNOWN_BYTES.len() as i64);
    assert_eq!(
        param(&table, write, "data"),
        &Value::Bytes(KNOWN_BYTES.to_vec())
    );

    let read = events
        .iter()
        .filter(|e| e.ts > opens[1].ts)
        .find(|e| {
            name(&table, e) == "read" && param(&table, e, "fd") == &Value::Fd(read_fd) && e.ret > 0
        })
        .expect("the read is recorded");
    assert_eq!(read.ret, KNOWN_BYTES.len() as i64);
    assert_eq!(
        param(&table, read, "data"),
        &Value::Bytes(KNOWN_BYTES.to_vec())
    );
    assert!(
        events.iter().any(|e| e.ts > read.ts
            && name(&table, e) == "close"
            && param(&table, e, "fd") == &Value::Fd(read_fd)),
        "the close is recorded"
    );

    let missing = events
        .iter()
        .find(|e| {
            name(&table, e) == "openat"
                && param(&table, e, "name") == &Value::Str(MISSING_PATH.into())
        })
        .expect("the failing open is recorded");
    assert_eq!(missing.ret, -2, "ENOENT");
    assert!(
        events.windows(2).all(|w| w[0].ts <= w[1].ts),
        "events come in time order"
    );
    let timed = events.iter().filter(|e| e.latency > 0).count();
    assert!(
        timed * 2 > events.len(),
        "syscall durations are measured ({timed} of {})",
        events.len()
    );
}

#[test]
fn an_fd_opened_before_the_capture_is_named_in_events_after_it() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-preopened");
    let mut child = spawn_workload("preopened", &dir, Stdio::piped());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.0.join("preopened-ready").exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the workload exited before opening its file"
        );
        assert!(Instant::now() < deadline, "the workload did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mntns = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/{}/ns/mnt", child.id()))
            .unwrap()
            .ino()
    };
    let recording = start_recording(&dir, &[]);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(child.wait().unwrap().success(), "workload preopened failed");
    let pid = child.id();
    let (run, data) = stop_recording(recording, "-INT");
    assert_eq!(run.code, 0, "{}", run.stderr);

    let path = dir.path("preopened-file");
    let trace = TraceFile::open(data).unwrap();
    assert!(
        trace
            .snapshot()
            .fds
            .iter()
            .any(|fd| fd.pid == pid && fd.name == path.as_bytes()),
        "the snapshot holds the open file"
    );
    let rows = query(
        &trace,
        &format!("evt.type=write and proc.pid={pid}"),
        &["fd.name", "fd.typechar", "evt.buffer", "proc.mntns"],
    );
    let write = rows
        .iter()
        .find(|row| row[2].contains("scry-known-bytes"))
        .unwrap_or_else(|| panic!("the write is recorded: {rows:?}"));
    assert_eq!(write[0], path, "{rows:?}");
    assert_eq!(write[1], "f");
    // Its mount namespace, from the snapshot.
    assert_eq!(write[3], mntns.to_string());
}

/// Values of `fields` for every event of `trace` matching `filter`, as the
/// analyser renders them (with state seeded from the file's snapshot).
fn query(trace: &TraceFile<Vec<u8>>, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    use scry_analyze::{Filter, Prepared, Scan, fields as f, scan};
    let prepared = Prepared::new(trace);
    let compiled = Filter::new(filter, prepared.catalog(trace))
        .unwrap_or_else(|e| panic!("{}", e.render(filter)));
    let columns: Vec<f::Field> = fields
        .iter()
        .map(|name| {
            let (name, arg) = f::split_field(name);
            f::resolve(name, arg, &prepared.types, &trace.header().event_table).unwrap()
        })
        .collect();
    let options = Scan {
        filter: Some(&compiled),
        caller_needs_state: true,
        threads: 2,
        ..Scan::default()
    };
    let mut rows = Vec::new();
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
            std::ops::ControlFlow::<()>::Continue(())
        },
    )
    .unwrap();
    assert!(flow.is_continue());
    rows
}

#[test]
fn connect_to_a_loopback_listener_shows_the_address_and_port() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-connect");
    let recording = start_recording(&dir, &[]);
    let pid = run_workload("connect", &dir);
    let (run, data) = stop_recording(recording, "-TERM");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let port: u16 = std::fs::read_to_string(dir.0.join("port"))
        .unwrap()
        .parse()
        .unwrap();
    let (events, table) = events_of(&data, |e| e.tgid == pid);
    let expected = Value::SockAddr(SockAddr::Inet(format!("127.0.0.1:{port}").parse().unwrap()));
    let connect = events
        .iter()
        .find(|e| name(&table, e) == "connect" && param(&table, e, "addr") == &expected)
        .expect("the connect is recorded with its address");
    assert_eq!(connect.ret, 0);
    assert!(
        events.iter().any(|e| name(&table, e).starts_with("accept")),
        "the accept is recorded"
    );
}

#[test]
fn a_syscall_that_blocks_keeps_its_arguments_and_duration() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-blocking");
    let recording = start_recording(&dir, &[]);
    let pid = run_workload("blocking", &dir);
    let (run, data) = stop_recording(recording, "-INT");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (events, table) = events_of(&data, |e| e.tgid == pid);
    let read = events
        .iter()
        .find(|e| {
            matches!(name(&table, e), "read" | "recvfrom")
                && param(&table, e, "data") == &Value::Bytes(b"wake".to_vec())
        })
        .expect("the blocked read is recorded with the bytes it got");
    assert_eq!(read.ret, 4);
    assert!(
        read.latency >= 50_000_000,
        "it waited about 80 ms, the record says {} ns",
        read.latency
    );
    assert!(
        matches!(param(&table, read, "fd"), Value::Fd(fd) if *fd >= 0),
        "its fd is the one it was called with"
    );
}

#[test]
fn fork_and_exec_show_the_new_process_with_its_argv_and_parent() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-exec");
    let recording = start_recording(&dir, &[]);
    let pid = run_workload("exec", &dir);
    let (run, data) = stop_recording(recording, "-INT");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (events, table) = events_of(&data, |_| true);
    let execs: Vec<&Event> = events
        .iter()
        .filter(|e| {
            name(&table, e) == "execve"
                && matches!(param(&table, e, "args"), Value::StrList(args) if args.iter().any(|a| a == b"scry-arg-one"))
        })
        .collect();
    assert_eq!(execs.len(), 1, "exactly one exec of /bin/echo");
    let exec = execs[0];
    assert_eq!(exec.ret, 0);
    assert_eq!(
        param(&table, exec, "args"),
        &Value::StrList(vec![
            b"/bin/echo".to_vec(),
            b"scry-arg-one".to_vec(),
            b"scry-arg-two".to_vec()
        ])
    );
    assert_eq!(
        param(&table, exec, "filename"),
        &Value::Str(b"/bin/echo".to_vec())
    );
    let child = exec.tgid;
    assert_ne!(child, pid);
    // The parent's clone (or vfork, as posix_spawn uses) returned the child.
    let fork = events
        .iter()
        .find(|e| {
            e.tgid == pid
                && ["clone", "clone3", "vfork", "fork"].contains(&name(&table, e))
                && e.ret == i64::from(child)
        })
        .expect("the parent's fork is recorded with the child's pid");
    // Events are stamped at syscall exit: a vfork-style clone returns only
    // after the child has exec'd, but it was entered before.
    assert!(fork.ts - fork.latency <= exec.ts);
    assert!(
        events
            .iter()
            .any(|e| e.tgid == child && name(&table, e) == "procexit"),
        "the child's exit is recorded"
    );
}

#[test]
fn the_capture_leaves_itself_out_and_records_statistics() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-self");
    let recording = start_recording(&dir, &["-s", "16"]);
    let scry_pid = recording.child.id();
    run_workload("files", &dir);
    let (run, data) = stop_recording(recording, "-INT");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_eq!(trace.header().capture.snaplen, 16);
    let stats = trace.final_stats().expect("statistics are recorded");
    assert!(stats.is_final, "the last statistics mark a clean stop");
    assert_eq!(stats.events_written, trace.event_count());
    assert!(stats.delivered() >= trace.event_count());
    let (own, _) = events_of(&data, |e| e.tgid == scry_pid);
    assert!(own.is_empty(), "{} events of the capture itself", own.len());
    assert_contains!(run.stderr, "events");
    // Files hold secrets: owner only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path("capture.scry"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn count_and_duration_limits_stop_the_capture_by_themselves() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-limits");
    let path = dir.path("n.scry");
    // An idle host may make fewer than 500 syscalls in minutes.
    let run = while_busy(|| scry(&["record", "-w", &path, "-n", "500"]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(trace.event_count(), 500);
    let path = dir.path("m.scry");
    let run = scry(&["record", "-w", &path, "-M", "1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(std::fs::read(&path).unwrap()).unwrap();
    let (first, last) = trace.time_range().unwrap_or((0, 0));
    assert!(
        last - first <= 1_200_000_000,
        "a 1 s capture spans {} ns",
        last - first
    );
}

#[test]
fn without_privileges_the_capture_fails_with_exit_code_4_and_leaves_no_file() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-unprivileged");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.path("denied.scry");
    let out = bounded_output(
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(env!("CARGO_BIN_EXE_scry"))
            .args(["record", "-w", &path, "-M", "1"]),
    );
    let run: Run = out.into();
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_contains!(
        run.stderr,
        "permission denied: capturing needs root, or CAP_BPF and CAP_PERFMON"
    );
    assert!(!Path::new(&path).exists(), "no empty trace is left behind");
}

#[test]
fn an_unwritable_output_fails_with_exit_code_4() {
    let Some(_turn) = capture_turn() else { return };
    let run = scry(&["record", "-w", "/nonexistent-scry-dir/x.scry", "-M", "1"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_contains!(run.stderr, "opening the output");
    assert_contains!(run.stderr, "No such file or directory");
}

#[test]
fn a_trace_streams_to_standard_output() {
    let Some(_turn) = capture_turn() else { return };
    // An idle host may make fewer than 200 syscalls in minutes.
    let out = while_busy(|| {
        bounded_output(
            Command::new(env!("CARGO_BIN_EXE_scry")).args(["record", "-w", "-", "-n", "200"]),
        )
    });
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = TraceFile::open(&out.stdout[..]).unwrap();
    assert_eq!(trace.event_count(), 200);
    assert!(trace.truncation().is_none());
}

/// The segments `BASE-*.scry` of a rotating capture in `dir`, oldest first
/// (their names sort by time).
fn segments(dir: &TempDir, base: &str) -> Vec<std::path::PathBuf> {
    let prefix = format!("{base}-");
    let mut found: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".scry"))
        })
        .collect();
    found.sort();
    found
}

/// What one segment holds, read without keeping its events in memory.
struct SegmentSummary {
    events: u64,
    first_ts: u64,
    last_ts: u64,
    /// One-byte writes to standard output by process `pid`.
    writes_of_pid: u64,
    final_stats: scry_format::CaptureStats,
}

/// Opens a segment, checks that it stands alone (whole, closed properly,
/// with its own snapshot, events in time order) and sums it up.
fn read_segment(path: &Path, pid: u32) -> SegmentSummary {
    let trace = TraceFile::open(std::fs::read(path).unwrap()).unwrap();
    let shown = path.display();
    assert!(trace.truncation().is_none(), "{shown} was closed properly");
    assert!(trace.damage().is_empty(), "{shown} is undamaged");
    assert!(
        !trace.snapshot().processes.is_empty(),
        "{shown} has its own snapshot"
    );
    let final_stats = trace
        .final_stats()
        .unwrap_or_else(|| panic!("{shown} has statistics"))
        .clone();
    assert!(final_stats.is_final, "{shown} ends with a final record");
    let table = trace.header().event_table.clone();
    let mut summary = SegmentSummary {
        events: 0,
        first_ts: u64::MAX,
        last_ts: 0,
        writes_of_pid: 0,
        final_stats,
    };
    // One thread: chunks come in file order.
    let _ = trace
        .for_each_chunk(
            1,
            |_| true,
            |chunk| {
                for event in chunk.unwrap().iter().map(|e| e.to_event()) {
                    assert!(event.ts >= summary.last_ts, "{shown}: events in time order");
                    summary.first_ts = summary.first_ts.min(event.ts);
                    summary.last_ts = event.ts;
                    summary.events += 1;
                    if event.tgid == pid
                        && name(&table, &event) == "write"
                        && event.ret == 1
                        && param(&table, &event, "fd") == &Value::Fd(1)
                    {
                        summary.writes_of_pid += 1;
                    }
                }
                std::ops::ControlFlow::<()>::Continue(())
            },
        )
        .unwrap();
    assert_eq!(summary.events, trace.event_count());
    summary
}

/// Starts `scry record -w DIR/BASE.scry EXTRA…` and waits for its first
/// segment.
fn start_rotating(dir: &TempDir, base: &str, extra: &[&str]) -> Child {
    let path = dir.path(&format!("{base}.scry"));
    let child = Command::new(env!("CARGO_BIN_EXE_scry"))
        .args(["record", "-w", &path])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while segments(dir, base)
        .first()
        .is_none_or(|first| std::fs::metadata(first).map_or(true, |m| m.len() == 0))
    {
        assert!(Instant::now() < deadline, "scry record did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn rotation_by_size_splits_the_capture_into_whole_segments_losing_nothing() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-rotate-size");
    let child = start_rotating(&dir, "sized", &["-C", "1"]);
    const WRITES: u64 = 1_000_000;
    let mut dd = Command::new("dd")
        .args([
            "if=/dev/zero",
            "of=/dev/null",
            "bs=1",
            &format!("count={WRITES}"),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dd_pid = dd.id();
    assert!(dd.wait().unwrap().success());
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run: Run = finish(child).into();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = segments(&dir, "sized");
    assert!(files.len() >= 2, "several segments: {files:?}");
    let summaries: Vec<SegmentSummary> = files.iter().map(|f| read_segment(f, dd_pid)).collect();
    for (path, summary) in files.iter().zip(&summaries).take(files.len() - 1) {
        let size = std::fs::metadata(path).unwrap().len();
        assert!(
            (1_000_000..4_000_000).contains(&size),
            "{} holds {size} bytes",
            path.display()
        );
        assert!(summary.events > 0);
    }
    for pair in summaries.windows(2) {
        assert!(
            pair[0].last_ts <= pair[1].first_ts,
            "segments follow each other in time"
        );
    }
    let total: u64 = summaries.iter().map(|s| s.events).sum();
    let last = &summaries[summaries.len() - 1].final_stats;
    assert_eq!(last.events_written, total, "no event lost or repeated");
    if last.dropped() == 0 {
        let writes: u64 = summaries.iter().map(|s| s.writes_of_pid).sum();
        assert_eq!(writes, WRITES, "every write of dd, once");
    }
}

#[test]
fn rotation_by_time_starts_a_segment_every_interval() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-rotate-time");
    let base = dir.path("timed.scry");
    let run = scry(&["record", "-w", &base, "-G", "1", "-M", "3.5"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = segments(&dir, "timed");
    assert!(
        (3..=4).contains(&files.len()),
        "3.5 s in 1 s segments: {files:?}"
    );
    let summaries: Vec<SegmentSummary> = files.iter().map(|f| read_segment(f, 0)).collect();
    let total: u64 = summaries.iter().map(|s| s.events).sum();
    assert_eq!(
        summaries[summaries.len() - 1].final_stats.events_written,
        total
    );
    use std::os::unix::fs::PermissionsExt;
    for file in &files {
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
}

/// The sequence number at the end of each segment's name, in order.
fn segment_numbers(files: &[std::path::PathBuf]) -> Vec<u32> {
    files
        .iter()
        .map(|f| {
            let name = f.file_stem().unwrap().to_str().unwrap();
            name.rsplit('-').next().unwrap().parse().unwrap()
        })
        .collect()
}

#[test]
fn a_file_limit_keeps_only_the_newest_segments() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-rotate-keep");
    let base = dir.path("ring");
    let run = scry(&["record", "-w", &base, "-G", "1", "-M", "3.5", "-W", "2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = segments(&dir, "ring");
    assert_eq!(files.len(), 2, "{files:?}");
    let numbers = segment_numbers(&files);
    assert!(numbers[0] >= 2, "the oldest were deleted: {files:?}");
    assert_eq!(numbers[1], numbers[0] + 1, "{files:?}");
    for file in &files {
        read_segment(file, 0);
    }
}

#[test]
fn a_file_limit_with_size_rotation_keeps_a_ring_of_the_newest_segments() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-rotate-size-ring");
    let child = start_rotating(&dir, "ring", &["-C", "1", "-W", "2"]);
    // Enough for several 1 MB segments.
    let status = Command::new("dd")
        .args(["if=/dev/zero", "of=/dev/null", "bs=1", "count=1000000"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let run: Run = finish(child).into();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let files = segments(&dir, "ring");
    assert_eq!(files.len(), 2, "{files:?}");
    let numbers = segment_numbers(&files);
    assert_eq!(numbers[1], numbers[0] + 1, "{files:?}");
    let summaries: Vec<SegmentSummary> = files.iter().map(|f| read_segment(f, 0)).collect();
    let size = std::fs::metadata(&files[0]).unwrap().len();
    assert!(
        (1_000_000..4_000_000).contains(&size),
        "{} holds {size} bytes",
        files[0].display()
    );
    // The final statistics count every event of the capture: the two
    // segments left hold fewer, so older ones were written and deleted.
    let kept: u64 = summaries.iter().map(|s| s.events).sum();
    let total = summaries[1].final_stats.events_written;
    assert!(kept < total, "{kept} events kept of {total}");
    assert!(numbers[0] >= 1, "the oldest were deleted: {files:?}");
}

#[test]
fn rotation_to_standard_output_is_a_usage_error() {
    let run = scry(&["record", "-w", "-", "-C", "1"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "-w NAME");
}

/// `root` and every process it (or a process of the set) forked, from the
/// clone/fork return values in the trace. A fixed point over the whole
/// trace: a child's first events may be stamped before its parent's fork
/// returns (vfork).
fn family_of(events: &[Event], table: &EventTable, root: u32) -> std::collections::HashSet<u32> {
    let mut family = std::collections::HashSet::from([root]);
    loop {
        let before = family.len();
        for e in events {
            if family.contains(&e.tgid)
                && ["clone", "clone3", "fork", "vfork"].contains(&name(table, e))
                && e.ret > 0
            {
                family.insert(e.ret as u32);
            }
        }
        if family.len() == before {
            return family;
        }
    }
}

/// Keeps this process busy with syscalls of its own while `body` runs, so a
/// targeted capture has something to leave out.
fn while_busy<T>(body: impl FnOnce() -> T) -> T {
    let busy = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|s| {
        s.spawn(|| {
            while busy.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::metadata("/etc/hostname");
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let out = body();
        busy.store(false, std::sync::atomic::Ordering::Relaxed);
        out
    })
}

#[test]
fn a_command_is_recorded_with_its_descendants_and_nothing_else() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-command");
    let path = dir.path("capture.scry");
    let run: Run = while_busy(|| {
        bounded_output(
            Command::new(env!("CARGO_BIN_EXE_scry"))
                .args(["record", "-w", &path, "--", "sh", "-c"])
                .arg("sh -c 'cat /etc/hostname'; exit 3")
                .stdin(Stdio::null()),
        )
    })
    .into();
    assert_eq!(
        run.code, 3,
        "scry exits with the command's status: {}",
        run.stderr
    );
    let data = std::fs::read(&path).unwrap();
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_contains!(trace.header().capture.target, "command sh -c");
    let (events, table) = events_of(&data, |_| true);
    // The shim execs the command in place: its pid is the command's.
    let shim = events
        .iter()
        .find(|e| {
            name(&table, e) == "execve"
                && e.ret == 0
                && matches!(param(&table, e, "args"), Value::StrList(a) if a.first().is_some_and(|p| p == b"sh"))
        })
        .expect("the command's exec is recorded")
        .tgid;
    let family = family_of(&events, &table, shim);
    let strangers: Vec<&Event> = events
        .iter()
        .filter(|e| !family.contains(&e.tgid))
        .collect();
    assert!(
        strangers.is_empty(),
        "{} events of other processes, e.g. {:?}",
        strangers.len(),
        strangers.first()
    );
    assert!(!events.iter().any(|e| e.tgid == std::process::id()));
    let cat = events
        .iter()
        .find(|e| {
            name(&table, e) == "openat"
                && param(&table, e, "name") == &Value::Str(b"/etc/hostname".to_vec())
                && e.ret >= 0
        })
        .expect("the grandchild's open of /etc/hostname is recorded");
    assert_ne!(cat.tgid, shim, "cat runs in a grandchild");
    assert!(
        events
            .iter()
            .any(|e| e.tgid == shim && name(&table, e) == "procexit"),
        "the command's exit is recorded"
    );
}

#[test]
fn a_pid_target_follows_the_forks_it_makes_during_the_capture() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-pid");
    // Waits for a line, then starts a child that starts a grandchild.
    let mut target = Command::new("sh")
        .args([
            "-c",
            "read line; sh -c '/bin/echo scry-grandchild; true'; true",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = target.id();
    let recording = start_recording(&dir, &["-p", &pid.to_string()]);
    while_busy(|| {
        target.stdin.take().unwrap().write_all(b"go\n").unwrap();
        assert!(target.wait().unwrap().success());
        // An unrelated process, started meanwhile by the test.
        run_workload("exec", &dir);
    });
    let (run, data) = stop_recording(recording, "-INT");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_eq!(trace.header().capture.target, format!("pid {pid}"));
    let (events, table) = events_of(&data, |_| true);
    let family = family_of(&events, &table, pid);
    let strangers: Vec<&Event> = events
        .iter()
        .filter(|e| !family.contains(&e.tgid))
        .collect();
    assert!(
        strangers.is_empty(),
        "{} events of other processes, e.g. {:?}",
        strangers.len(),
        strangers.first()
    );
    let exec = events
        .iter()
        .find(|e| {
            name(&table, e) == "execve"
                && matches!(param(&table, e, "args"), Value::StrList(a) if a.iter().any(|x| x == b"scry-grandchild"))
        })
        .expect("the grandchild's exec is recorded");
    assert_eq!(exec.ret, 0);
    assert_ne!(exec.tgid, pid);
    assert!(
        !events.iter().any(|e| matches!(e.params.iter().find(|p| matches!(p, Value::StrList(_))), Some(Value::StrList(a)) if a.iter().any(|x| x == b"scry-arg-one"))),
        "the unrelated workload is left out"
    );
}

#[test]
fn a_command_with_a_pid_target_is_a_usage_error() {
    let run = scry(&["record", "-w", "x.scry", "-p", "1", "--", "true"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = scry(&[
        "record",
        "-w",
        "x.scry",
        "--container",
        "abcdef",
        "--",
        "true",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// A shell on the host that cats `file` once it reads a line: started
/// outside any container, as `docker exec` starts its shells.
fn waiting_cat(file: &str) -> Child {
    Command::new("sh")
        .args(["-c", &format!("read line; cat {file}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Lets a [`waiting_cat`] go and waits for it.
fn release(mut cat: Child) {
    cat.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(cat.wait().unwrap().success());
}

/// Whether the capture has an `openat` of `path` by a process of `family`.
fn opened(events: &[Event], table: &EventTable, path: &str) -> Vec<u32> {
    events
        .iter()
        .filter(|e| {
            name(table, e) == "openat"
                && param(table, e, "name") == &Value::Str(path.as_bytes().to_vec())
        })
        .map(|e| e.tgid)
        .collect()
}

#[test]
fn a_container_target_records_only_that_containers_processes() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-container");
    let Some((id, group)) = container_cgroup(0x5c7a) else {
        return;
    };
    let (early_file, joiner_file, host_file) =
        (dir.path("early"), dir.path("joiner"), dir.path("host"));
    for file in [&early_file, &joiner_file, &host_file] {
        std::fs::write(file, "x").unwrap();
    }
    // In the container before the capture starts.
    let early = waiting_cat(&early_file);
    std::fs::write(group.join("cgroup.procs"), early.id().to_string()).unwrap();
    let early_pid = early.id();
    let joiner = waiting_cat(&joiner_file);
    let joiner_pid = joiner.id();
    let host = waiting_cat(&host_file);
    let recording = start_recording(&dir, &["--container", &id[..12]]);
    while_busy(|| {
        // Moved in once the capture runs, as `docker exec` moves its
        // shell: the kernel knows it by its cgroup, not its ancestry.
        std::fs::write(group.join("cgroup.procs"), joiner_pid.to_string()).unwrap();
        release(early);
        release(joiner);
        release(host);
    });
    let (run, data) = stop_recording(recording, "-INT");
    let _ = std::fs::remove_dir(&group);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_eq!(
        trace.header().capture.target,
        format!("container {}", &id[..12])
    );
    let (events, table) = events_of(&data, |_| true);
    let mut family = family_of(&events, &table, early_pid);
    family.extend(family_of(&events, &table, joiner_pid));
    let strangers: Vec<&Event> = events
        .iter()
        .filter(|e| !family.contains(&e.tgid))
        .collect();
    assert!(
        strangers.is_empty(),
        "{} events of other processes, e.g. {:?}",
        strangers.len(),
        strangers.first()
    );
    assert_eq!(
        opened(&events, &table, &early_file).len(),
        1,
        "the cat of the container's first process is recorded"
    );
    assert_eq!(
        opened(&events, &table, &joiner_file).len(),
        1,
        "the cat of the process that joined during the capture is recorded"
    );
    assert!(opened(&events, &table, &host_file).is_empty());
}

/// Docker's state files for container `id`, as docker writes them under
/// `/var/lib/docker/containers`; removed (with the directories created for
/// them) when dropped.
struct DockerState(Vec<std::path::PathBuf>);

impl DockerState {
    fn write(id: &str, name: &str, image: &str, privileged: bool) -> DockerState {
        let dir = Path::new("/var/lib/docker/containers").join(id);
        let mut created = Vec::new();
        for ancestor in dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
            if !ancestor.exists() {
                std::fs::create_dir(ancestor).unwrap();
                created.push(ancestor.to_path_buf());
            }
        }
        std::fs::write(
            dir.join("config.v2.json"),
            format!(r#"{{"ID":"{id}","Config":{{"Image":"{image}"}},"Image":"sha256:0","Name":"/{name}"}}"#),
        )
        .unwrap();
        std::fs::write(
            dir.join("hostconfig.json"),
            format!(r#"{{"Privileged":{privileged}}}"#),
        )
        .unwrap();
        DockerState(created)
    }
}

impl Drop for DockerState {
    fn drop(&mut self) {
        if let Some(first) = self.0.first() {
            let _ = std::fs::remove_dir_all(first);
        }
    }
}

#[test]
fn a_container_started_during_the_capture_is_recorded_and_described() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-late-container");
    let Some((id, group)) = container_cgroup(0x1a7e) else {
        return;
    };
    // Nothing runs in it, nor does its cgroup exist, when the capture starts.
    std::fs::remove_dir(&group).unwrap();
    let (inside, outside) = (dir.path("inside"), dir.path("outside"));
    std::fs::write(&inside, "x").unwrap();
    std::fs::write(&outside, "x").unwrap();
    let recording = start_recording(&dir, &["--container", &id[..12]]);
    // The runtime writes its state, then creates the cgroup.
    let _state = DockerState::write(&id, "late-web", "nginx:1.27", true);
    std::fs::create_dir(&group).unwrap();
    // The recorder looks for new cgroups every 20 ms.
    std::thread::sleep(Duration::from_millis(200));
    let workload = waiting_cat(&inside);
    let pid = workload.id();
    let host = waiting_cat(&outside);
    std::fs::write(group.join("cgroup.procs"), pid.to_string()).unwrap();
    while_busy(|| {
        release(workload);
        release(host);
    });
    let (run, data) = stop_recording(recording, "-INT");
    let _ = std::fs::remove_dir(&group);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (events, table) = events_of(&data, |_| true);
    let family = family_of(&events, &table, pid);
    assert!(events.iter().all(|e| family.contains(&e.tgid)));
    assert_eq!(
        opened(&events, &table, &inside).len(),
        1,
        "its cat is recorded"
    );
    assert!(opened(&events, &table, &outside).is_empty());
    // The snapshot could not describe it; the record written when its
    // first exec named it does.
    let trace = TraceFile::open(&data[..]).unwrap();
    assert!(trace.snapshot().containers.iter().all(|c| c.id != id));
    let recorded: Vec<_> = trace
        .recorded_containers()
        .iter()
        .map(|c| &c.info)
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(
        (
            recorded[0].id.as_str(),
            recorded[0].runtime.as_str(),
            recorded[0].name.as_str(),
            recorded[0].image.as_str(),
            recorded[0].privileged,
        ),
        (id.as_str(), "docker", "late-web", "nginx:1.27", true)
    );
    let filter = format!("evt.type=openat and fd.name={inside}");
    let opens = scry(&[
        "read",
        &dir.path("capture.scry"),
        &filter,
        "-p",
        "%container.id %container.name %container.image %container.privileged",
    ]);
    assert_eq!(opens.code, 0, "{}", opens.stderr);
    assert_eq!(
        opens.stdout.trim(),
        format!("{id} late-web nginx:1.27 true")
    );
}

/// Checks that a closed single-file capture accounts for every event the
/// kernel delivered: each statistics record counts exactly the events
/// written before it, and at the end what was delivered is what was
/// written, left out by the filter, or undecodable.
fn check_accounting(trace: &TraceFile<&[u8]>) -> scry_format::CaptureStats {
    let stats = trace
        .final_stats()
        .expect("statistics are recorded")
        .clone();
    assert!(stats.is_final, "the last statistics mark a clean stop");
    assert_eq!(stats.events_written, trace.event_count());
    for entry in trace.stats() {
        let before: u64 = trace
            .chunks()
            .iter()
            .filter(|c| c.offset < entry.offset)
            .map(|c| u64::from(c.summary.events))
            .sum();
        assert_eq!(
            entry.stats.events_written, before,
            "statistics at offset {} count the events before them",
            entry.offset
        );
    }
    assert_eq!(
        stats.delivered(),
        stats.events_written + stats.events_filtered + stats.undecodable,
        "every delivered event is written, filtered or counted as undecodable: {stats:?}"
    );
    stats
}

#[test]
fn sigterm_mid_capture_loses_nothing_the_kernel_delivered() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-sigterm");
    let recording = start_recording(&dir, &[]);
    // Let a few statistics records be written while the workloads run.
    let deadline = Instant::now() + Duration::from_millis(2500);
    let mut pids = Vec::new();
    while Instant::now() < deadline {
        pids.push(run_workload("files", &dir));
    }
    let (run, data) = stop_recording(recording, "-TERM");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(&data[..]).unwrap();
    let stats = check_accounting(&trace);
    assert_eq!(stats.events_filtered, 0);
    assert!(trace.stats().len() >= 2, "periodic statistics are written");
    assert_contains!(run.stderr, "no events lost");
    let (events, table) = events_of(&data, |e| pids.contains(&e.tgid));
    for pid in &pids {
        assert!(
            events
                .iter()
                .any(|e| e.tgid == *pid && name(&table, e) == "procexit"),
            "workload {pid} is recorded to its end"
        );
    }
}

/// A ring of four pages wraps around every few dozen records, and records
/// that cross its end are read whole: every record is decoded, and what the
/// kernel could not deliver into so small a ring is counted, not lost.
#[test]
fn a_tiny_ring_wraps_around_without_garbling_or_losing_count() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-tiny-ring");
    let recording = start_recording(&dir, &["--buffer-size", "16K"]);
    let mut pids = Vec::new();
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        pids.push(run_workload("files", &dir));
    }
    let (run, data) = stop_recording(recording, "-INT");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_eq!(trace.header().capture.buffer_bytes, 16 << 10);
    let stats = check_accounting(&trace);
    assert_eq!(stats.undecodable, 0, "{stats:?}");
    assert!(
        trace.event_count() > 10 * (16 << 10) / 100,
        "the ring was read many times over: {} events",
        trace.event_count()
    );
    let (events, table) = events_of(&data, |e| pids.contains(&e.tgid));
    let known = events
        .iter()
        .filter(|e| name(&table, e) == "write")
        .filter(|e| matches!(param(&table, e, "data"), Value::Bytes(b) if b == KNOWN_BYTES))
        .count();
    assert!(known > 0, "the workloads' writes are read back whole");
}

#[test]
fn a_capture_filter_keeps_only_matching_events_and_counts_the_rest() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-filter");
    let recording = start_recording(&dir, &["proc.name=cat", "and", "evt.type!=mmap"]);
    while_busy(|| {
        for _ in 0..3 {
            let status = Command::new("cat")
                .arg("/etc/hostname")
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        }
        run_workload("files", &dir);
    });
    let (run, data) = stop_recording(recording, "-INT");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_contains!(run.stderr, "left out by the capture filter");
    let trace = TraceFile::open(&data[..]).unwrap();
    assert_eq!(
        trace.header().capture.filter,
        "proc.name=cat and evt.type!=mmap"
    );
    let stats = check_accounting(&trace);
    assert!(stats.events_filtered > 0, "{stats:?}");
    // Read back with the same language: every event is cat's, none is
    // an mmap, and cat's open of the file is there.
    let path = dir.path("capture.scry");
    let names = scry(&["read", &path, "-p", "%proc.name %evt.type %fd.name"]);
    assert_eq!(names.code, 0, "{}", names.stderr);
    let lines: Vec<&str> = names.stdout.lines().collect();
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("cat ") && !l.contains(" mmap ")),
        "{:?}",
        lines
            .iter()
            .find(|l| !l.starts_with("cat ") || l.contains(" mmap "))
    );
    assert!(lines.contains(&"cat openat /etc/hostname"), "{lines:?}");
    let info = scry(&["info", &path]);
    assert_contains!(info.stdout, "left out by the capture filter");
    // A bad filter is a usage error with a caret, and no file is made.
    let bad = dir.path("bad.scry");
    let run = scry(&["record", "-w", &bad, "proc.nam=cat"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "^");
    assert!(!Path::new(&bad).exists());
}

#[test]
fn a_filter_that_pins_a_process_is_left_to_the_kernel() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-filter-pid");
    // A process that reads a file in a loop and starts no other.
    let mut reader = Command::new("python3")
        .args([
            "-c",
            "import time\nwhile True:\n    open('/etc/hostname').read()\n    time.sleep(0.005)",
        ])
        .spawn()
        .unwrap();
    let pid = reader.id().to_string();
    let recording = start_recording(&dir, &[&format!("proc.pid={pid}")]);
    while_busy(|| run_workload("files", &dir));
    let (run, data) = stop_recording(recording, "-INT");
    reader.kill().unwrap();
    let _ = reader.wait();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(&data[..]).unwrap();
    // The busy workload never reached user space to be filtered out: the
    // kernel delivered the pinned process alone.
    let stats = check_accounting(&trace);
    assert_eq!(stats.events_filtered, 0, "{stats:?}");
    let path = dir.path("capture.scry");
    let pids = scry(&["read", &path, "-p", "%proc.pid"]);
    assert_eq!(pids.code, 0, "{}", pids.stderr);
    let lines: Vec<&str> = pids.stdout.lines().collect();
    assert!(lines.len() > 10, "{lines:?}");
    assert!(lines.iter().all(|line| *line == pid), "{lines:?}");
}

#[test]
fn a_syscall_set_is_left_to_the_kernel_and_recorded_in_the_header() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-syscalls");
    let recording = start_recording(&dir, &["--syscalls", "openat,write", "--no-buffers"]);
    let pid = run_workload("files", &dir);
    let (run, data) = stop_recording(recording, "-INT");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(&data[..]).unwrap();
    let capture = &trace.header().capture;
    assert_eq!(capture.snaplen, 0);
    for expected in ["openat", "write", "execve", "clone", "procexit"] {
        assert!(
            capture.event_types.iter().any(|t| t == expected),
            "{expected} in {:?}",
            capture.event_types
        );
    }
    assert!(!capture.event_types.iter().any(|t| t == "read"));
    let stats = check_accounting(&trace);
    assert_eq!(stats.events_filtered, 0, "the kernel did the choosing");
    let allowed: Vec<&str> = capture.event_types.iter().map(String::as_str).collect();
    let (events, table) = events_of(&data, |_| true);
    let strays: Vec<&str> = events
        .iter()
        .map(|e| name(&table, e))
        .filter(|n| !allowed.contains(n))
        .collect();
    assert!(strays.is_empty(), "events outside the set: {strays:?}");
    let known = format!("{}/known-file", dir.0.display());
    assert!(
        events.iter().any(|e| e.tgid == pid
            && name(&table, e) == "openat"
            && param(&table, e, "name") == &Value::Str(known.clone().into_bytes())),
        "the workload's open is recorded"
    );
    let write = events
        .iter()
        .find(|e| e.tgid == pid && name(&table, e) == "write" && e.ret == KNOWN_BYTES.len() as i64)
        .expect("the workload's write is recorded");
    assert_eq!(
        param(&table, write, "data"),
        &Value::Bytes(Vec::new()),
        "no buffers kept"
    );
    let run = scry(&[
        "record",
        "-w",
        &dir.path("x.scry"),
        "--syscalls",
        "openat,nosuchcall",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_contains!(run.stderr, "nosuchcall");
}

/// A cgroup v2 group named as docker's systemd driver names a container
/// scope, with its id; `None` (the test is skipped) without a writable
/// cgroup v2 hierarchy. Remove the directory when done.
fn container_cgroup(tag: u16) -> Option<(String, std::path::PathBuf)> {
    let id = format!("{tag:04x}{:060x}", u128::from(std::process::id()));
    let group = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(|root| Path::new(root).join(format!("docker-{id}.scope")))
        .find(|group| {
            group.parent().unwrap().join("cgroup.procs").exists()
                && std::fs::create_dir(group).is_ok()
        });
    if group.is_none() {
        eprintln!("note: skipped, no writable cgroup v2 hierarchy");
    }
    Some((id, group?))
}

#[test]
fn a_container_scoped_workload_carries_its_container_id() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-container-id");
    let Some((id, group)) = container_cgroup(0xc0de) else {
        return;
    };
    // One process in the container before the capture (for the snapshot),
    // quiet while it runs.
    let mut resident = Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::write(group.join("cgroup.procs"), resident.id().to_string()).unwrap();
    let recording = start_recording(&dir, &[]);
    // And a workload that joins the container during the capture: only its
    // events (its exec's cgroup) tell that it is in there.
    let mut workload = Command::new("sh")
        .args(["-c", "read line; exec sh -c 'cat /etc/hostname; true'"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = workload.id();
    std::fs::write(group.join("cgroup.procs"), pid.to_string()).unwrap();
    while_busy(|| {
        workload.stdin.take().unwrap().write_all(b"go\n").unwrap();
        assert!(workload.wait().unwrap().success());
    });
    let (run, data) = stop_recording(recording, "-INT");
    let _ = resident.kill();
    let _ = resident.wait();
    let _ = std::fs::remove_dir(&group);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trace = TraceFile::open(&data[..]).unwrap();
    let snapshot = trace.snapshot();
    let process = snapshot
        .processes
        .iter()
        .find(|p| p.pid == resident.id())
        .expect("the resident process is in the snapshot");
    assert_eq!(process.container_id, id);
    let container = snapshot
        .containers
        .iter()
        .find(|c| c.id == id)
        .expect("the container is in the snapshot's table");
    assert_eq!(container.runtime, "docker");
    assert!(
        container.start_ts > 0 && container.start_ts <= snapshot.ts,
        "started at its oldest process: {container:?}"
    );
    // The workload's events after it joined carry the id; before, the host.
    let path = dir.path("capture.scry");
    let filter = format!("container.id={id} and evt.type=openat and fd.name=/etc/hostname");
    let opens = scry(&[
        "read",
        &path,
        &filter,
        "-p",
        "%proc.name %proc.pid %container.id",
    ]);
    assert_eq!(opens.code, 0, "{}", opens.stderr);
    let lines: Vec<&str> = opens.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the cat, and only it: {lines:?}");
    assert!(
        lines[0].starts_with("cat ") && lines[0].ends_with(&id),
        "{lines:?}"
    );
    // The writer followed the workload into the container: a chunk summary
    // names it (nothing in the snapshot could have), so readers can skip
    // chunks by container.
    let (events, _) = events_of(&data, |e| e.tgid == resident.id());
    assert!(events.is_empty(), "the resident process stayed quiet");
    assert!(
        trace
            .chunks()
            .iter()
            .any(|c| c.summary.containers.contains(&id)),
        "a chunk summary names the container"
    );
}

/// A small filesystem that fills up, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &TempDir, size: &str) -> Option<SmallDisk> {
        let point = std::path::PathBuf::from(dir.path("small"));
        std::fs::create_dir_all(&point).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "scry-test"])
            .arg(&point)
            .status()
            .ok()?;
        if !status.success() {
            eprintln!("note: skipped, cannot mount a tmpfs");
            return None;
        }
        Some(SmallDisk(point))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_stops_the_capture_cleanly_with_a_readable_file() {
    let Some(_turn) = capture_turn() else { return };
    let dir = TempDir::new("record-full-disk");
    let Some(disk) = SmallDisk::mount(&dir, "512k") else {
        return;
    };
    let path = disk.0.join("capture.scry");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scry"))
        .args(["record", "-s", "256", "-w"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Fill it: the capture must stop by itself.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the capture did not stop on a full disk"
        );
        run_workload("files", &dir);
    }
    let run: Run = finish(child).into();
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_contains!(run.stderr, "disk is full");
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let data = std::fs::read(&path).unwrap();
    let trace = TraceFile::open(&data[..]).expect("what was written is readable");
    assert!(trace.event_count() > 0, "the events before the disk filled");
    assert!(trace.damage().is_empty());
    let info = scry(&["info", path.to_str().unwrap()]);
    assert_ne!(info.code, 3, "{}", info.stderr);
    let verify = scry(&["verify", path.to_str().unwrap()]);
    assert_contains!(verify.stdout, "truncated");
}

#[test]
fn vectored_io_gathers_data_across_iovecs() {
    let Some(_turn) = capture_turn() else { return };
    for (snaplen, expected) in [
        ("80", &b"scry-gathered-across-iovecs"[..]),
        ("12", &b"scry-gathere"[..]),
    ] {
        let dir = TempDir::new("record-vectored");
        let recording = start_recording(&dir, &["-s", snaplen]);
        let pid = run_workload("vectored", &dir);
        let (run, data) = stop_recording(recording, "-INT");
        assert_eq!(run.code, 0, "{}", run.stderr);
        let (events, table) = events_of(&data, |e| e.tgid == pid);
        let io: Vec<&Event> = events
            .iter()
            .filter(|e| matches!(name(&table, e), "writev" | "readv"))
            .collect();
        let kinds: Vec<&str> = io.iter().map(|e| name(&table, e)).collect();
        assert_eq!(kinds, ["writev", "readv"], "snaplen {snaplen}");
        for event in io {
            let Value::Bytes(bytes) = param(&table, event, "data") else {
                panic!("no data in {}", name(&table, event));
            };
            assert_eq!(bytes.as_slice(), expected, "snaplen {snaplen}");
            assert_eq!(event.ret, 27);
        }
        // The size is the whole request: 27 bytes written, 103 offered to read.
        let sizes: Vec<&Value> = events
            .iter()
            .filter(|e| matches!(name(&table, e), "writev" | "readv"))
            .map(|e| param(&table, e, "size"))
            .collect();
        assert_eq!(sizes, [&Value::Uint(27), &Value::Uint(103)]);
    }
}
