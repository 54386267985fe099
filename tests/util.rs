//! Helpers for driving the `scry` binary: a command builder, captured
//! output, and traces written on the fly.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use scry_format::{
    CaptureStats, CpuStats, Event, FileHeader, Snapshot, TraceWriter, Value, WriterOptions,
};

/// The outcome of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `scry` with `args`.
pub fn scry(args: &[&str]) -> Run {
    scry_with_stdin(args, &[])
}

/// Runs `scry` with `args`, feeding `stdin`.
pub fn scry_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_scry"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scry runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    // A command may exit before reading all of its input.
    let _ = input.write_all(stdin);
    drop(input);
    finish(child).into()
}

/// Runs `command` to completion like `Command::output`, within the
/// deadline of `finish`.
pub fn bounded_output(command: &mut Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    finish(child)
}

/// How long any one child of a test may run before it counts as hung.
const CHILD_DEADLINE: Duration = Duration::from_secs(240);

/// Waits for `child` like `wait_with_output`, but kills it and fails the
/// test once it has run for `CHILD_DEADLINE`, so that a hang is reported as
/// a failure with the child's stderr instead of stalling the whole suite.
pub fn finish(mut child: Child) -> Output {
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + CHILD_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = stderr.join().unwrap_or_default();
            panic!(
                "child still running after {CHILD_DEADLINE:?}, killed; its stderr:\n{}",
                String::from_utf8_lossy(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// The repository's `samples/` directory.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// A scratch directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("scry-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small trace: `count` events alternating openat and read on two
/// processes, a statistics record every 100 events, chunks of 64 events.
pub fn small_trace(count: u64) -> Vec<u8> {
    let header = FileHeader {
        writer: "scry test".into(),
        created_ns: 1_764_046_800_000_000_000,
        event_table: scry_format::EventTable::builtin_x86_64(),
        ..FileHeader::default()
    };
    let options = WriterOptions {
        chunk_events: 64,
        ..WriterOptions::default()
    };
    let mut writer =
        TraceWriter::new(Vec::new(), &header, &Snapshot::default(), options).expect("writes");
    for i in 0..count {
        let (event_type, params) = if i % 2 == 0 {
            (
                257,
                vec![
                    Value::Fd(-100),
                    Value::Str(b"/etc/passwd".to_vec()),
                    Value::Uint(0),
                    Value::Uint(0),
                    Value::Fd(3),
                ],
            )
        } else {
            (
                0,
                vec![
                    Value::Fd(3),
                    Value::Uint(4096),
                    Value::Bytes(b"root:x:0:0".to_vec()),
                    Value::Absent,
                ],
            )
        };
        let event = Event {
            ts: 1_764_046_800_000_000_000 + i * 1_000,
            tid: 100 + (i % 2) as u32,
            tgid: 100 + (i % 2) as u32,
            event_type,
            ret: 3,
            params,
            ..Event::default()
        };
        writer.push(&event).expect("writes");
        if (i + 1) % 100 == 0 {
            let stats = CaptureStats {
                ts: event.ts,
                cpus: vec![CpuStats {
                    cpu: 0,
                    delivered: i + 1,
                    dropped: 0,
                }],
                events_written: i + 1,
                is_final: i + 1 == count,
                ..CaptureStats::default()
            };
            writer.write_stats(&stats).expect("writes");
        }
    }
    writer.finish().expect("writes")
}

/// Asserts that `haystack` contains `needle`, showing both when not.
macro_rules! assert_contains {
    ($haystack:expr, $needle:expr) => {{
        let (haystack, needle) = (&$haystack, &$needle);
        assert!(
            haystack.contains(needle),
            "expected to find {needle:?} in:\n{haystack}"
        );
    }};
}

/// Compares `actual` with the file `tests/golden/NAME`. With `SCRY_BLESS=1`
/// in the environment the file is rewritten instead: run
/// `SCRY_BLESS=1 cargo test --test integration golden`, then read the diff
/// of tests/golden/ before committing it, as the goldens are the reference.
pub fn golden(name: &str, actual: &str) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("SCRY_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path)
        .map_err(|error| format!("{}: {error} (SCRY_BLESS=1 writes it)", path.display()))?;
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "{name} differs from {}:\n--- expected\n{expected}--- actual\n{actual}",
            path.display()
        ))
    }
}
