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
    let run: Run = recording.child.wait_with_output().unwrap().into();
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
        &["fd.name", "fd.typechar", "evt.buffer"],
    );
    let write = rows
        .iter()
        .find(|row| row[2].contains("scry-known-bytes"))
        .unwrap_or_else(|| panic!("the write is recorded: {rows:?}"));
    assert_eq!(write[0], path, "{rows:?}");
    assert_eq!(write[1], "f");
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
    let run = scry(&["record", "-w", &path, "-n", "500"]);
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
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(env!("CARGO_BIN_EXE_scry"))
        .args(["record", "-w", &path, "-M", "1"])
        .output()
        .unwrap();
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
    let out = Command::new(env!("CARGO_BIN_EXE_scry"))
        .args(["record", "-w", "-", "-n", "200"])
        .output()
        .unwrap();
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
