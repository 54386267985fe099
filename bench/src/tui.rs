//! The terminal UI on the synthetic trace: time to the first frame and to
//! the full overview, time per drill-down step, and the memory the event
//! index holds per event. Frames are drawn on ratatui's test backend, so
//! the figures are the UI's own work without a terminal's.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use scry_analyze::{Prepared, Scan, scan};
use scry_format::{TraceFile, default_threads};
use scry_tui::{App, Traces, ui};

fn draw(terminal: &mut Terminal<TestBackend>, app: &mut App) {
    terminal
        .draw(|frame| ui::draw(frame, app))
        .expect("the test backend does not fail");
}

fn open(data: Vec<u8>) -> Result<Arc<Traces<Vec<u8>>>, String> {
    let trace = TraceFile::open(data).map_err(|e| e.to_string())?;
    Ok(Arc::new(Traces::new(
        vec![("bench.scry".to_owned(), trace)],
        default_threads(),
    )))
}

/// One run: (first frame, full overview, drill-down steps).
fn run_once(data: Vec<u8>) -> Result<(Duration, Duration, Vec<Duration>), String> {
    let mut terminal = Terminal::new(TestBackend::new(160, 50)).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut app = App::new(open(data)?, "", false);
    draw(&mut terminal, &mut app);
    let first = start.elapsed();
    app.wait();
    draw(&mut terminal, &mut app);
    let overview = start.elapsed();
    // Overview → processes → files of the busiest → events of its
    // busiest file: each step is a key and the frame after it.
    let mut steps = Vec::new();
    for key in [KeyCode::Char('2'), KeyCode::Enter, KeyCode::Enter] {
        let start = Instant::now();
        app.on_key(KeyEvent::from(key));
        draw(&mut terminal, &mut app);
        steps.push(start.elapsed());
    }
    // And back up: cached levels are shown again as they were.
    let start = Instant::now();
    app.on_key(KeyEvent::from(KeyCode::Esc));
    draw(&mut terminal, &mut app);
    steps.push(start.elapsed());
    Ok((first, overview, steps))
}

/// The floor under indexing: decoding and replaying the state of every
/// event, with nothing done per event.
fn replay_only(data: &[u8]) -> Result<Duration, String> {
    let trace = TraceFile::open(data).map_err(|e| e.to_string())?;
    let prepared = Prepared::new(&trace);
    let options = Scan {
        caller_needs_state: true,
        threads: default_threads(),
        ..Scan::default()
    };
    let start = Instant::now();
    let _ = scan(
        &trace,
        &prepared,
        &options,
        |_| {},
        |_| ControlFlow::<()>::Continue(()),
    );
    Ok(start.elapsed())
}

/// `phase-tui PATH`: indexes the trace and prints the memory figures.
pub fn phase(args: &[String]) -> Result<(), String> {
    let path = args.first().ok_or("phase-tui needs a path")?;
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let file_kib = data.len() / 1024;
    let before = crate::peak_kib();
    let mut app = App::new(open(data)?, "", false);
    app.wait();
    let index = app.index.clone().ok_or("indexing failed")?;
    println!(
        "peak_kib={} before_kib={before} index_bytes={} events={} file_kib={file_kib}",
        crate::peak_kib(),
        index.heap_bytes(),
        index.len()
    );
    Ok(())
}

/// Prints the UI table for the trace at `path`.
pub fn run_table(path: &Path, runs: usize) -> Result<(), String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let events = TraceFile::open(&data[..])
        .map_err(|e| e.to_string())?
        .event_count();
    let mut firsts = Vec::new();
    let mut overviews = Vec::new();
    let mut steps: Vec<Vec<Duration>> = Vec::new();
    let mut replays = Vec::new();
    for run in 0..runs {
        replays.push(replay_only(&data)?);
        eprintln!("tui: run {} of {runs}", run + 1);
        let (first, overview, step) = run_once(data.clone())?;
        firsts.push(first);
        overviews.push(overview);
        steps.push(step);
    }
    drop(data);
    let first = crate::median(firsts);
    let overview = crate::median(overviews);
    let replay = crate::median(replays);
    let step = |k: usize| crate::median(steps.iter().map(|s| s[k]).collect());
    let slowest = (0..4).map(step).max().unwrap_or_default();
    eprintln!("tui: memory");
    let text = crate::child_output(&["phase-tui", &path.to_string_lossy()])?;
    let value = |key: &str| {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let per_event = |bytes: u64| bytes as f64 / value("events").max(1) as f64;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let per_10m = |d: Duration| d.as_secs_f64() * 10e6 / events.max(1) as f64;
    println!();
    println!(
        "scry bench: view ({} events of the synthetic trace, {runs} runs, medians, frames on a 160x50 test backend)",
        crate::count(events)
    );
    println!();
    println!("| measurement | scry | reference (same run) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| time to first frame | {:.1} ms | target < 500 ms | {:.3} |",
        ms(first),
        ms(first) / 500.0
    );
    println!(
        "| time to full overview (one indexing pass) | {:.2} s, {:.2} s per 10 M events (target < 3 s) | decode + state replay alone: {:.2} s, {:.2} s per 10 M | {:.2} |",
        overview.as_secs_f64(),
        per_10m(overview),
        replay.as_secs_f64(),
        per_10m(replay),
        overview.as_secs_f64() / replay.as_secs_f64()
    );
    println!(
        "| drill-down steps: procs, files of one, events of one file, back | {:.1} / {:.1} / {:.1} / {:.1} ms | target < 100 ms each | {:.2} |",
        ms(step(0)),
        ms(step(1)),
        ms(step(2)),
        ms(step(3)),
        ms(slowest) / 100.0
    );
    println!(
        "| memory: event index | {:.1} bytes/event | target < 100 bytes/event | {:.2} |",
        per_event(value("index_bytes")),
        per_event(value("index_bytes")) / 100.0
    );
    let growth = value("peak_kib").saturating_sub(value("before_kib")) * 1024;
    println!(
        "| memory: peak growth while indexing | {:.1} bytes/event | the trace file read into memory: {:.1} MiB | - |",
        per_event(growth),
        value("file_kib") as f64 / 1024.0
    );
    Ok(())
}
