//! Filter evaluation: the cost a filter adds per event on top of decoding
//! and state replay, for a selective, a broad, a field-heavy and a
//! command-line-heavy filter (command lines are built once per process), on
//! the synthetic trace of the format benchmark, and the peak memory of each
//! scan, measured in a child process (`phase-filter`) so that the timing
//! runs do not inflate it.

use std::ops::ControlFlow;
use std::path::Path;
use std::time::{Duration, Instant};

use scry_analyze::{Filter, Prepared, Scan, scan};
use scry_format::{TraceFile, default_threads};

const FILTERS: [(&str, &str); 4] = [
    ("selective", "evt.type=execve and proc.name=curl"),
    ("broad", "evt.type in (read, write) and evt.failed=false"),
    (
        "field-heavy",
        "fd.name startswith /etc and proc.name != bash and evt.buflen > 10 and not fd.typechar=4 and user.uid exists",
    ),
    (
        "cmdline-heavy",
        "proc.cmdline contains health and proc.args contains app.internal and proc.exeline contains curl",
    ),
];

fn run(
    trace: &TraceFile<&[u8]>,
    prepared: &Prepared,
    filter: Option<&Filter>,
    threads: usize,
) -> (Duration, u64) {
    let start = Instant::now();
    let mut matched = 0u64;
    let options = Scan {
        filter,
        caller_needs_state: true,
        threads,
        ..Scan::default()
    };
    let _ = scan(
        trace,
        prepared,
        &options,
        |_| {},
        |_| {
            matched += 1;
            ControlFlow::<()>::Continue(())
        },
    );
    (start.elapsed(), matched)
}

/// `phase-filter PATH --filter N`: scans the trace at `path` with filter
/// number N (-1 for none) on every core, then prints the peak memory and
/// the size of the file, which is read into memory first.
pub fn phase(args: &[String]) -> Result<(), String> {
    let path = args.first().ok_or("phase-filter needs a path")?;
    let which = args
        .iter()
        .position(|a| a == "--filter")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or("phase-filter needs --filter N")?;
    let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let trace = TraceFile::open(&data[..]).map_err(|e| e.to_string())?;
    let prepared = Prepared::new(&trace);
    let filter = match usize::try_from(which).ok().and_then(|i| FILTERS.get(i)) {
        Some((_, source)) => {
            Some(Filter::new(source, prepared.catalog(&trace)).map_err(|e| e.render(source))?)
        }
        None => None,
    };
    run(&trace, &prepared, filter.as_ref(), default_threads());
    println!(
        "peak_kib={} file_kib={}",
        crate::peak_kib(),
        data.len() / 1024
    );
    Ok(())
}

/// The peak memory of a `phase-filter` child for filter `which`, as text.
fn peak_of(path: &Path, which: i64) -> Result<String, String> {
    let (peak, file) = crate::child_peak(&[
        "phase-filter",
        &path.to_string_lossy(),
        "--filter",
        &which.to_string(),
    ])?;
    Ok(format!(
        "{:.1} MiB (the file read into memory: {:.1} MiB)",
        peak as f64 / 1024.0,
        file as f64 / 1024.0
    ))
}

/// Prints the filter table for the trace at `path`.
pub fn run_table(path: &Path, runs: usize) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let trace = TraceFile::open(&data[..]).map_err(|e| e.to_string())?;
    let prepared = Prepared::new(&trace);
    let n = trace.event_count() as f64;
    let threads = default_threads();
    eprintln!("analyze: state replay without a filter ×{runs}");
    let (base, _) = crate::median((0..runs).map(|_| run(&trace, &prepared, None, 1)).collect());
    println!();
    println!(
        "scry bench: filters ({} events of the synthetic trace, {runs} runs, medians, 1 decoding thread)",
        crate::count(trace.event_count())
    );
    println!();
    println!("| measurement | scry | peak memory | reference (same run) | ratio |");
    println!("|---|---|---|---|---|");
    println!(
        "| decode + state replay, no filter | {:.1} M events/s | {} | - | - |",
        n / base.as_secs_f64() / 1e6,
        peak_of(path, -1)?
    );
    for (which, (label, source)) in FILTERS.into_iter().enumerate() {
        let filter = Filter::new(source, prepared.catalog(&trace)).map_err(|e| e.render(source))?;
        eprintln!("analyze: {label} filter ×{runs}");
        // Each filtered run is paired with a run without the filter just
        // before it, and the cost is the median of the pairs' differences:
        // a shared machine that slows down during the runs slows both.
        let mut pairs = Vec::with_capacity(runs);
        let mut matched = 0;
        for _ in 0..runs {
            let (without, _) = run(&trace, &prepared, None, 1);
            let (with, count) = run(&trace, &prepared, Some(&filter), 1);
            matched = count;
            pairs.push((without, with));
        }
        let differences: Vec<f64> = pairs
            .iter()
            .map(|(without, with)| (with.as_secs_f64() - without.as_secs_f64()) * 1e9 / n)
            .collect();
        let added = crate::median(differences);
        let time = crate::median(pairs.iter().map(|&(_, with)| with).collect());
        let paired_base = crate::median(pairs.iter().map(|&(without, _)| without).collect());
        let (parallel, _) = crate::median(
            (0..runs)
                .map(|_| run(&trace, &prepared, Some(&filter), threads))
                .collect(),
        );
        println!(
            "| {label} `{source}` ({} matches) | {:.1} M events/s, {threads} threads: {:.1} M | {} | no filter, runs paired with these: {:.1} M events/s | {:+.1} ns/event (target < 30) |",
            crate::count(matched),
            n / time.as_secs_f64() / 1e6,
            n / parallel.as_secs_f64() / 1e6,
            peak_of(path, which as i64)?,
            n / paired_base.as_secs_f64() / 1e6,
            added
        );
    }
    Ok(())
}
