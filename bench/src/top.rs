//! `scry top` end to end: every built-in view run by the release binary as
//! a child process over the synthetic trace, next to `scry read --count`
//! with a filter that needs the same state replay, measured in the same
//! run. The target is every view at ≥ 50 % of that speed.

use std::path::Path;
use std::time::Duration;

use crate::read::{run_once, scry_binary};

/// The reference: counting with a filter on process state, so the read
/// replays state for every event as the views do.
const REFERENCE: &[&str] = &["--count", "proc.name!=nosuchprocess"];

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
    println!("| view | events/s | vs read --count (state) | peak memory | target |");
    println!("|---|---|---|---|---|");
    eprintln!("top: reference read --count ×{runs}");
    let (reference, peak) = measure(&scry, &["read"], path, REFERENCE, runs)?;
    let reference_rate = crate::rate(events, reference);
    println!(
        "| reference: `read --count '{}'` | {} | 100 % | {:.1} MiB | - |",
        REFERENCE[1],
        crate::millions(reference_rate),
        peak as f64 / 1024.0
    );
    for view in scry_analyze::summary::view_names() {
        eprintln!("top: {view} ×{runs}");
        let (time, peak) = measure(&scry, &["top", view], path, &["-n", "20"], runs)?;
        let rate = crate::rate(events, time);
        println!(
            "| {view} | {} | {:.0} % | {:.1} MiB | ≥ 50 % |",
            crate::millions(rate),
            100.0 * rate / reference_rate,
            peak as f64 / 1024.0
        );
    }
    Ok(())
}
