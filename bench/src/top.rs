//! `scry top` end to end: every built-in view run by the release binary as
//! a child process over the synthetic trace, next to `scry read --count`
//! with a filter that needs the same state replay, measured in the same
//! run: one on process fields for the views that read processes only, one
//! on fd fields for the views that read what fds are (files, connections),
//! which replay every open, close and connect besides. The target
//! is every view at ≥ 50 % of that speed. Each view is also shown against
//! the process-only reading, the faster of the two.

use std::path::Path;
use std::time::Duration;

use crate::read::{run_once, scry_binary};

/// The reference of the views that read processes only: counting with a
/// filter on process state, so the read replays the processes for every
/// event as the views do.
const PROCESS_REFERENCE: &[&str] = &["--count", "proc.name!=nosuchprocess"];

/// The reference of the views that read fds: counting with a filter on
/// the event's fd, so the read replays the fd tables as the views do.
const FD_REFERENCE: &[&str] = &["--count", "fd.name!=nosuchfile"];

/// Whether a built-in view reads what the events' fds are (every view
/// field and filter is written as filter text).
fn reads_fds(spec: &scry_analyze::summary::ViewSpec) -> bool {
    let columns = spec
        .keys
        .iter()
        .chain(&spec.labels)
        .map(|c| c.field.as_str());
    let measures = spec
        .measures
        .iter()
        .flat_map(|m| m.field.iter().chain(&m.when).map(String::as_str));
    columns
        .chain(measures)
        .chain(spec.restrict.as_deref())
        .any(|text| text.contains("fd."))
}

/// The median wall time and the highest peak memory of `runs` runs.
fn measure(
    scry: &Path,
    command: &[&str],
    trace: &Path,
    args: &[&str],
    runs: usize,
) -> Result<(Duration, u64), String> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(run_once(scry, command, trace, args)?);
    }
    samples.sort();
    let peak = samples.iter().map(|(_, kib)| *kib).max().unwrap_or(0);
    Ok((samples[samples.len() / 2].0, peak))
}

/// Prints the `top` table for the trace at `path`, which holds `events`
/// events.
pub fn run_table(path: &Path, events: u64, runs: usize) -> Result<(), String> {
    let scry = scry_binary()?;
    println!();
    println!(
        "scry bench: top ({} events of the synthetic trace, {runs} runs, medians, as a child process)",
        crate::count(events)
    );
    println!();
    println!(
        "| view | events/s | vs read --count with the same state | vs read --count on processes | peak memory | target |"
    );
    println!("|---|---|---|---|---|---|");
    let mut references = Vec::new();
    for (label, args) in [("processes", PROCESS_REFERENCE), ("fds", FD_REFERENCE)] {
        eprintln!("top: reference read --count on {label} ×{runs}");
        let (time, peak) = measure(&scry, &["read"], path, args, runs)?;
        let rate = crate::rate(events, time);
        println!(
            "| reference on {label}: `read --count '{}'` | {} | 100 % | - | {:.1} MiB | - |",
            args[1],
            crate::millions(rate),
            peak as f64 / 1024.0
        );
        references.push(rate);
    }
    let (process_rate, fd_rate) = (references[0], references[1]);
    for spec in scry_analyze::summary::VIEWS.iter() {
        let view = spec.name.as_str();
        eprintln!("top: {view} ×{runs}");
        let (time, peak) = measure(&scry, &["top", view], path, &["-n", "20"], runs)?;
        let rate = crate::rate(events, time);
        let (same, which) = if reads_fds(spec) {
            (fd_rate, "fds")
        } else {
            (process_rate, "processes")
        };
        println!(
            "| {view} | {} | {:.0} % ({which}) | {:.0} % | {:.1} MiB | ≥ 50 % |",
            crate::millions(rate),
            100.0 * rate / same,
            100.0 * rate / process_rate,
            peak as f64 / 1024.0
        );
    }
    Ok(())
}
