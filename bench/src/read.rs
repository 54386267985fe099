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

const ROWS: [Row; 6] = [
    Row {
        label: "--count, selective filter",
        args: &["--count", "evt.type=execve and proc.name=curl"],
        target: "≥ 50 M events/s on both cores",
        sysdig: "7.2 M events/s",
    },
    // Without state fields, the chunks the index rules out are not even
    // decompressed.
    Row {
        label: "--count, selective filter without state fields",
        args: &[
            "--count",
            "evt.type=execve and evt.rawarg.filename=/usr/bin/curl",
        ],
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
    // A `-p` format of state fields and a generic one (`user.name`).
    Row {
        label: "print every event, -p",
        args: &[
            "-p",
            "%evt.num %evt.time %proc.name %thread.tid %fd.name %evt.res %user.name",
        ],
        target: "-",
        sysdig: "-",
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

/// The largest anonymous resident memory (`RssAnon`: heap and stacks,
/// not the pages of the mapped trace) of a process so far, in KiB.
fn rss_anon(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("RssAnon:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What one run of `scry` took.
pub(crate) struct Measured {
    pub time: Duration,
    /// Highest `VmHWM` seen, in KiB: every resident page, the mapped
    /// trace's included.
    pub peak_kib: u64,
    /// Highest `RssAnon` seen, in KiB: what scry allocated.
    pub peak_anon_kib: u64,
}

/// Runs `scry COMMAND… TRACE ARGS` with its output going to /dev/null; the
/// wall time and the highest `VmHWM` seen.
pub(crate) fn run_once(
    scry: &Path,
    command: &[&str],
    trace: &Path,
    args: &[&str],
) -> Result<(Duration, u64), String> {
    let measured = run_measured(scry, command, trace, args)?;
    Ok((measured.time, measured.peak_kib))
}

/// [`run_once`], with the peak of anonymous memory too.
pub(crate) fn run_measured(
    scry: &Path,
    command: &[&str],
    trace: &Path,
    args: &[&str],
) -> Result<Measured, String> {
    let start = Instant::now();
    let mut child = Command::new(scry)
        .args(command)
        .arg(trace)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", scry.display()))?;
    let (mut peak, mut peak_anon) = (0, 0);
    let status = loop {
        if let Some(kib) = vm_hwm(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(kib) = rss_anon(child.id()) {
            peak_anon = peak_anon.max(kib);
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
    Ok(Measured {
        time: elapsed,
        peak_kib: peak,
        peak_anon_kib: peak_anon,
    })
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

/// Peak memory of the same queries on the trace and on one four times as
/// long: what scry allocates must not grow with the trace (the mapped
/// trace's pages are the kernel's to reclaim, and counted apart).
pub fn memory_rows(trace: &Path, long: &Path) -> Result<(), String> {
    let scry = scry_binary()?;
    println!();
    println!("scry bench: peak memory against trace length (`scry read`, one run each)");
    println!();
    println!("| query | trace | 4x longer trace | ratio (allocated) |");
    println!("|---|---|---|---|");
    let queries: [(&str, &[&str]); 3] = [
        ("print every event, default format", &[]),
        (
            "--count, selective filter",
            &["--count", "evt.type=execve and proc.name=curl"],
        ),
        (
            "--count, broad filter",
            &["--count", "evt.type in (read, write) and evt.failed=false"],
        ),
    ];
    let mib = |kib: u64| kib as f64 / 1024.0;
    for (label, args) in queries {
        eprintln!("read: memory of {label}");
        let short = run_measured(&scry, &["read"], trace, args)?;
        let long = run_measured(&scry, &["read"], long, args)?;
        println!(
            "| {label} | {:.1} MiB allocated, {:.1} MiB resident | {:.1} MiB allocated, {:.1} MiB resident | {:.2} |",
            mib(short.peak_anon_kib),
            mib(short.peak_kib),
            mib(long.peak_anon_kib),
            mib(long.peak_kib),
            long.peak_anon_kib as f64 / short.peak_anon_kib.max(1) as f64
        );
    }
    Ok(())
}
