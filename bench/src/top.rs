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

use scry_analyze::Prepared;
use scry_analyze::summary::ViewSpec;
use scry_format::TraceFile;

use crate::read::{run_once, scry_binary};

/// The reference of the views that read processes only: counting with a
/// filter on process state, so the read replays the processes for every
/// event as the views do.
const PROCESS_REFERENCE: &[&str] = &["--count", "proc.name!=nosuchprocess"];

/// The reference of the views that read fds: counting with a filter on
/// the event's fd, so the read replays the fd tables as the views do.
const FD_REFERENCE: &[&str] = &["--count", "fd.name!=nosuchfile"];

/// Whether `spec`, bound to the trace, reads what the events' fds are.
fn reads_fds(
    spec: &ViewSpec,
    trace: &TraceFile<&[u8]>,
    prepared: &Prepared,
) -> Result<bool, String> {
    let bound = spec
        .bind(prepared.catalog(trace))
        .map_err(|e| format!("the {} view: {e}", spec.name))?;
    Ok(bound.needs_fds())
}

/// Prints the `top` table for the trace at `path`, which holds `events`
/// events.
///
/// Each run of a view comes right after a run of each reference, and a
/// share is the median of the runs' own shares: a shared machine that
/// slows down during the table slows a view and its references alike.
pub fn run_table(path: &Path, events: u64, runs: usize) -> Result<(), String> {
    let scry = scry_binary()?;
    println!();
    println!(
        "scry bench: top ({} events of the synthetic trace, {runs} runs, medians, as a child process; each run paired with runs of the references)",
        crate::count(events)
    );
    println!();
    println!(
        "| view | events/s | vs read --count with the same state | vs read --count on processes | peak memory | target |"
    );
    println!("|---|---|---|---|---|---|");
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let trace = TraceFile::open(&data[..]).map_err(|e| e.to_string())?;
    let prepared = Prepared::new(&trace);
    let rate = |time: Duration| crate::rate(events, time);
    let mut reference_rates = [Vec::new(), Vec::new()];
    let mut rows = Vec::new();
    for spec in scry_analyze::summary::VIEWS.iter() {
        let view = spec.name.as_str();
        eprintln!("top: {view} ×{runs}, each after the references");
        let fds = reads_fds(spec, &trace, &prepared)?;
        let (mut rates, mut same, mut processes, mut peak) = (vec![], vec![], vec![], 0);
        for _ in 0..runs {
            let (on_processes, _) = run_once(&scry, &["read"], path, PROCESS_REFERENCE)?;
            let (on_fds, _) = run_once(&scry, &["read"], path, FD_REFERENCE)?;
            let (time, kib) = run_once(&scry, &["top", view], path, &["-n", "20"])?;
            peak = peak.max(kib);
            reference_rates[0].push(rate(on_processes));
            reference_rates[1].push(rate(on_fds));
            rates.push(rate(time));
            let matched = if fds { on_fds } else { on_processes };
            same.push(matched.as_secs_f64() / time.as_secs_f64());
            processes.push(on_processes.as_secs_f64() / time.as_secs_f64());
        }
        rows.push(format!(
            "| {view} | {} | {:.0} % ({}) | {:.0} % | {:.1} MiB | ≥ 50 % |",
            crate::millions(crate::median(rates)),
            100.0 * crate::median(same),
            if fds { "fds" } else { "processes" },
            100.0 * crate::median(processes),
            peak as f64 / 1024.0
        ));
    }
    for ((label, args), rates) in [("processes", PROCESS_REFERENCE), ("fds", FD_REFERENCE)]
        .into_iter()
        .zip(reference_rates)
    {
        println!(
            "| reference on {label}: `read --count '{}'` | {} | 100 % | - | - | - |",
            args[1],
            crate::millions(crate::median(rates))
        );
    }
    for row in rows {
        println!("{row}");
    }
    Ok(())
}
