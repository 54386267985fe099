//! `scry read` end to end: the release binary run as a child process on the
//! synthetic trace of the format benchmark, counting matches with a
//! selective and a broad filter and printing every event to /dev/null in
//! the default format and as JSON. Peak memory is the child's `VmHWM`,
//! polled while it runs because std does not expose the rusage of
//! children.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A row: label, `scry read` arguments after the trace, and the targets and
/// sysdig reference of the issue to print next to the figure.
struct Row {
    label: &'static str,
    args: &'static [&'static str],
    target: &'static str,
    sysdig: &'static str,
}

const ROWS: [Row; 4] = [
    Row {
        label: "--count, selective filter",
        args: &["--count", "evt.type=execve and proc.name=curl"],
        target: "≥ 50 M events/s on both cores",
        sysdig: "7.2 M events/s",
    },
    Row {
        label: "--count, broad filter",
        args: &["--count", "evt.type in (read, write) and evt.failed=false"],
        target: "-",
        sysdig: "-",
    },
    Row {
        label: "print every event, default format",
        args: &[],
        target: "≥ 10 M lines/s",
        sysdig: "1.9 M lines/s",
    },
    Row {
        label: "print every event, -j",
        args: &["-j"],
        target: "≥ 5 M lines/s",
        sysdig: "0.58 M lines/s",
    },
];

/// The release `scry` next to this benchmark's binary.
pub(crate) fn scry_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let scry = exe.with_file_name("scry");
    if scry.exists() {
        Ok(scry)
    } else {
        Err(format!(
            "{} is missing: build it with `cargo build --release`",
            scry.display()
        ))
    }
}

/// The peak resident memory of a process so far, in KiB.
fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `scry COMMAND… TRACE ARGS` with its output going to /dev/null; the
/// wall time and the highest `VmHWM` seen.
pub(crate) fn run_once(
    scry: &Path,
    command: &[&str],
    trace: &Path,
    args: &[&str],
) -> Result<(Duration, u64), String> {
    let start = Instant::now();
    let mut child = Command::new(scry)
        .args(command)
        .arg(trace)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", scry.display()))?;
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        return Err(format!(
            "scry {command:?} {args:?} failed: {status} {stderr}"
        ));
    }
    Ok((elapsed, peak))
}

/// Prints the `read` table for the trace at `path`, which holds `events`
/// events.
pub fn run_table(path: &Path, events: u64, runs: usize) -> Result<(), String> {
    let scry = scry_binary()?;
    println!();
    println!(
        "scry bench: read ({} events of the synthetic trace, {runs} runs, medians, `scry read` as a child process, output to /dev/null)",
        crate::count(events)
    );
    println!();
    println!("| measurement | scry | peak memory | target | sysdig 0.29.3 (issue) |");
    println!("|---|---|---|---|---|");
    for row in &ROWS {
        eprintln!("read: {} ×{runs}", row.label);
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            samples.push(run_once(&scry, &["read"], path, row.args)?);
        }
        samples.sort();
        let (time, _) = samples[samples.len() / 2];
        let peak = samples.iter().map(|(_, kib)| *kib).max().unwrap_or(0);
        let unit = if row.args.first() == Some(&"--count") {
            "events/s"
        } else {
            "lines/s"
        };
        let args = if row.args.is_empty() {
            String::new()
        } else {
            format!(" `{}`", row.args.join(" "))
        };
        println!(
            "| {}{args} | {} {unit} | {:.1} MiB | {} | {} |",
            row.label,
            crate::millions(crate::rate(events, time)),
            peak as f64 / 1024.0,
            row.target,
            row.sysdig
        );
    }
    Ok(())
}
