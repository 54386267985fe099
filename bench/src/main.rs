//! The harness behind `make bench`: measures scry on this machine and prints
//! one table, each figure next to a reference measured in the same run.
//!
//! Timings are medians of several runs. Peak memory is measured in child
//! processes (`VmHWM`), one per phase, so phases do not inflate each other.

mod analyze;
mod capture;
mod extract;
mod read;
mod scap;
mod top;
mod tui;
mod workload;

use std::env;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use scry_format::{
    FileHeader, PayloadLayout, TraceFile, TraceWriter, WriterOptions, default_threads,
};

const START_NS: u64 = 1_764_046_800_000_000_000;

/// The synthetic trace shared by the analysis phases, in `bench/out/`. The
/// name changes with the workload, so that a trace kept from an older
/// workload is not measured by mistake.
const TRACE_NAME: &str = "synthetic-bursty.scry";
/// The same workload written four times over.
const LONG_TRACE_NAME: &str = "synthetic-bursty-4x.scry";

/// The allocator `scry` itself runs with (see its `main.rs`): the phases
/// measured in this process (decoding, filtering, the UI's index) then
/// allocate as they do in the product.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("phase-write") => phase_write(&args[1..]),
        Some("phase-read") => phase_read(&args[1..]),
        Some("phase-filter") => analyze::phase(&args[1..]),
        Some("gen") => generate_file(&args[1..]),
        Some("storm") => capture::storm(&args[1..]),
        Some("extract") => extract::extract(&args[1..]),
        Some("phase-tui") => tui::phase(&args[1..]),
        Some("scap-gen") => scap_gen(&args[1..]),
        _ => run_all(&args),
    };
    if let Err(message) = result {
        eprintln!("scry-bench: {message}");
        std::process::exit(2);
    }
}

pub(crate) fn flag(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or(format!("{name} needs a number")),
        None => Ok(default),
    }
}

fn header() -> FileHeader {
    let mut header = FileHeader {
        writer: format!("scry-bench {}", env!("CARGO_PKG_VERSION")),
        created_ns: START_NS,
        event_table: scry_format::EventTable::builtin_x86_64(),
        ..FileHeader::default()
    };
    header.machine.arch = "x86_64".into();
    header.machine.hostname = "bench".into();
    header.capture.snaplen = 80;
    header.capture.target = "synthetic workload".into();
    header
}

fn write_trace(events: &[scry_format::Event], out: Vec<u8>) -> Vec<u8> {
    let mut writer = TraceWriter::new(
        out,
        &header(),
        &workload::snapshot(START_NS),
        WriterOptions::default(),
    )
    .expect("writing to memory");
    for event in events {
        writer.push(event).expect("writing to memory");
    }
    writer.finish().expect("writing to memory")
}

/// Decodes every event and touches its header fields, and with
/// `params` every parameter too, so nothing is optimised away.
fn decode_all(trace: &TraceFile<&[u8]>, threads: usize, params: bool) -> u64 {
    let mut checksum = 0u64;
    let flow = trace
        .for_each_chunk(
            threads,
            |_| true,
            |chunk| {
                let chunk = chunk.expect("bench trace is intact");
                for event in chunk.iter() {
                    checksum = checksum
                        .wrapping_add(event.ts() ^ u64::from(event.tid()))
                        .wrapping_add(u64::from(event.event_type()) + event.param_count() as u64);
                    if params {
                        checksum = event
                            .params()
                            .fold(checksum, |sum, value| sum.wrapping_add(param_weight(value)));
                    }
                }
                ControlFlow::<()>::Continue(())
            },
        )
        .expect("lenient reads do not fail");
    assert!(flow.is_continue());
    checksum
}

fn param_weight(value: scry_format::ValueRef<'_>) -> u64 {
    use scry_format::ValueRef;
    match value {
        ValueRef::Absent => 1,
        ValueRef::Int(v) | ValueRef::Fd(v) => v as u64,
        ValueRef::Uint(v) => v,
        ValueRef::Str(s) | ValueRef::Bytes(s) => s.len() as u64,
        ValueRef::SockAddr(_) => 7,
        ValueRef::StrList(list) => list.len() as u64,
    }
}

/// Decompresses every chunk without decoding it: the floor under decoding.
/// The main frame (what a scan of event headers decompresses); with
/// `buffers`, the parameter and buffer frames too.
fn decompress_only(data: &[u8], trace: &TraceFile<&[u8]>, buffers: bool) -> u64 {
    let u32_at = |bytes: &[u8], at: usize| {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
    };
    let mut decompressor = zstd::bulk::Decompressor::new().expect("a zstd context");
    let mut total = 0u64;
    for entry in trace.chunks() {
        let block = &data[entry.offset as usize..(entry.offset + entry.block_len) as usize];
        // Block layout (FORMAT.md): 20-byte header, meta, then a body made of
        // the main frame's length, the main frame, in the split layout the
        // parameter frame's lengths and the parameter frame, then the
        // buffer frame.
        let body = &block[20 + u32_at(block, 8)..];
        let main_len = u32_at(body, 0);
        let main = decompressor
            .decompress(&body[4..4 + main_len], entry.summary.raw_len as usize)
            .expect("valid frame");
        total += main.len() as u64;
        let mut rest = &body[4 + main_len..];
        if entry.summary.layout == PayloadLayout::Split {
            let (frame_len, params_len) = (u32_at(rest, 0), u32_at(rest, 4));
            if buffers {
                let params = decompressor
                    .decompress(&rest[8..8 + frame_len], params_len)
                    .expect("valid frame");
                total += params.len() as u64;
            }
            rest = &rest[8 + frame_len..];
        }
        if buffers && entry.summary.blob_len > 0 {
            let blob = decompressor
                .decompress(rest, entry.summary.blob_len as usize)
                .expect("valid frame");
            total += blob.len() as u64;
        }
    }
    total
}

/// The median of `samples`: times, (time, memory) pairs, or ratios.
pub(crate) fn median<T: PartialOrd + Copy>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    samples[samples.len() / 2]
}

fn time_runs(runs: usize, mut f: impl FnMut()) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

pub(crate) fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn phase_write(args: &[String]) -> Result<(), String> {
    let count = flag(args, "--events", 2_000_000)?;
    // `--repeat K` writes the workload K times back to back: a trace K times
    // as long from the events of one.
    let repeat = flag(args, "--repeat", 1)?.max(1);
    let path = PathBuf::from(args.last().ok_or("phase-write needs a path")?);
    let mut events = workload::generate(count, START_NS);
    let before = peak_kib();
    let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    let mut writer = TraceWriter::new(
        std::io::BufWriter::new(file),
        &header(),
        &workload::snapshot(START_NS),
        WriterOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let span = events.last().map_or(0, |e| e.ts - START_NS) + 1_000;
    for round in 0..repeat {
        if round > 0 {
            events.iter_mut().for_each(|e| e.ts += span);
        }
        for event in &events {
            writer.push(event).map_err(|e| e.to_string())?;
        }
    }
    writer.finish().map_err(|e| e.to_string())?;
    println!("peak_kib={} events_kib={before}", peak_kib());
    Ok(())
}

fn phase_read(args: &[String]) -> Result<(), String> {
    let path = args.first().ok_or("phase-read needs a path")?;
    let threads = flag(args, "--threads", default_threads())?;
    let data = std::fs::read(path).map_err(|e| e.to_string())?;
    let trace = TraceFile::open(&data[..]).map_err(|e| e.to_string())?;
    let params = flag(args, "--params", 1)? != 0;
    let repeat = flag(args, "--repeat", 1)?;
    let start = Instant::now();
    for _ in 0..repeat {
        decode_all(&trace, threads, params);
    }
    eprintln!(
        "decode: {:.1} M events/s",
        (trace.event_count() * repeat as u64) as f64 / start.elapsed().as_secs_f64() / 1e6
    );
    println!("peak_kib={} file_kib={}", peak_kib(), data.len() / 1024);
    Ok(())
}

/// `gen --events N --chunk-events M PATH`: writes the synthetic workload as
/// a trace (used to make the damaged samples in `samples/corrupt/`).
fn generate_file(args: &[String]) -> Result<(), String> {
    let count = flag(args, "--events", 1000)?;
    let chunk_events = flag(args, "--chunk-events", 32 * 1024)?;
    let path = args.last().ok_or("gen needs a path")?;
    let options = WriterOptions {
        chunk_events: chunk_events as u32,
        ..WriterOptions::default()
    };
    let mut writer = TraceWriter::new(
        Vec::new(),
        &header(),
        &workload::snapshot(START_NS),
        options,
    )
    .map_err(|e| e.to_string())?;
    for (i, event) in workload::generate(count, START_NS).iter().enumerate() {
        writer.push(event).map_err(|e| e.to_string())?;
        if (i + 1) % 500 == 0 {
            let stats = scry_format::CaptureStats {
                ts: event.ts,
                cpus: vec![scry_format::CpuStats {
                    cpu: 0,
                    delivered: i as u64 + 1,
                    dropped: 0,
                }],
                events_written: i as u64 + 1,
                ..scry_format::CaptureStats::default()
            };
            writer.write_stats(&stats).map_err(|e| e.to_string())?;
        }
    }
    let data = writer.finish().map_err(|e| e.to_string())?;
    std::fs::write(path, data).map_err(|e| e.to_string())
}

/// Runs a phase of this harness in a child process (so its peak memory is
/// its own) and returns what it printed.
pub(crate) fn child_output(args: &[&str]) -> Result<String, String> {
    let exe = env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn child_peak(args: &[&str]) -> Result<(u64, u64), String> {
    let text = child_output(args)?;
    let values: Vec<u64> = text
        .split_whitespace()
        .filter_map(|kv| kv.split_once('=').and_then(|(_, v)| v.parse().ok()))
        .collect();
    Ok((
        values.first().copied().unwrap_or(0),
        values.get(1).copied().unwrap_or(0),
    ))
}

fn rate(count: u64, time: Duration) -> f64 {
    count as f64 / time.as_secs_f64()
}

pub(crate) use scry_format::thousands as count;

fn millions(value: f64) -> String {
    format!("{:.1} M", value / 1e6)
}

fn run_all(args: &[String]) -> Result<(), String> {
    let count = flag(args, "--events", 2_000_000)?;
    let runs = flag(args, "--runs", 5)?.max(1);
    let iterations = flag(args, "--iterations", 100_000)?;
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    if only.is_none() || only == Some("format") {
        format_bench(count, runs)?;
    }
    if only.is_none() || matches!(only, Some("analyze" | "read" | "top" | "tui")) {
        let trace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("out")
            .join(TRACE_NAME);
        if !trace.exists() {
            std::fs::create_dir_all(trace.parent().unwrap_or(Path::new(".")))
                .map_err(|e| e.to_string())?;
            child_peak(&[
                "phase-write",
                "--events",
                &count.to_string(),
                &trace.to_string_lossy(),
            ])?;
        }
        if only.is_none() || only == Some("analyze") {
            analyze::run_table(&trace, runs)?;
        }
        if only.is_none() || only == Some("tui") {
            tui::run_table(&trace, runs)?;
        }
        if only.is_none() || matches!(only, Some("read" | "top")) {
            let data = std::fs::read(&trace).map_err(|e| format!("{}: {e}", trace.display()))?;
            let events = TraceFile::open(&data[..])
                .map_err(|e| e.to_string())?
                .event_count();
            drop(data);
            if only != Some("top") {
                read::run_table(&trace, events, runs)?;
                let long = trace.with_file_name(LONG_TRACE_NAME);
                if !long.exists() {
                    eprintln!("writing the workload four times over…");
                    child_peak(&[
                        "phase-write",
                        "--events",
                        &count.to_string(),
                        "--repeat",
                        "4",
                        &long.to_string_lossy(),
                    ])?;
                }
                read::memory_rows(&trace, &long)?;
            }
            if only != Some("read") {
                top::run_table(&trace, events, runs)?;
            }
        }
    }
    if only.is_none() || only == Some("scap") {
        let events = flag(args, "--scap-events", 20_000_000)?;
        scap::run_table(events as u64, runs)?;
    }
    if only.is_none() || only == Some("capture") {
        if rustix::process::geteuid().is_root() {
            capture::run(iterations, runs)?;
        } else {
            println!("\ncapture rows skipped: capturing needs root");
        }
    }
    Ok(())
}

/// `scry-bench scap-gen --events N OUT`: a large capture made of a real
/// one's events, repeated.
fn scap_gen(args: &[String]) -> Result<(), String> {
    let events = flag(args, "--events", 20_000_000)?;
    let out = args.last().ok_or("scap-gen: OUT is missing")?;
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("samples/scap/curl_google.scap");
    let written = scap::generate(&source, events as u64, Path::new(out))?;
    eprintln!("{out}: {written} events");
    Ok(())
}

fn format_bench(count: usize, runs: usize) -> Result<(), String> {
    let threads = default_threads();
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("out");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;

    eprintln!("generating {count} synthetic events…");
    let events = workload::generate(count, START_NS);
    let n = events.len() as u64;

    eprintln!("format: write ×{runs}");
    let mut data = Vec::new();
    let write_time = time_runs(runs, || {
        data = write_trace(&events, Vec::with_capacity(data.capacity()));
    });
    let trace = TraceFile::open(&data[..]).map_err(|e| e.to_string())?;
    // Every frame of every chunk decompressed: the records' raw size.
    let raw_bytes = decompress_only(&data, &trace, true);

    eprintln!("format: read ×{runs}");
    let decode_1 = time_runs(runs, || {
        decode_all(&trace, 1, false);
    });
    let decode_params_1 = time_runs(runs, || {
        decode_all(&trace, 1, true);
    });
    let decode_n = time_runs(runs, || {
        decode_all(&trace, threads, false);
    });
    let zstd_only = time_runs(runs, || {
        decompress_only(&data, &trace, false);
    });
    let zstd_all = time_runs(runs, || {
        decompress_only(&data, &trace, true);
    });

    eprintln!("format: peak memory");
    let file = out_dir.join(TRACE_NAME);
    let file_arg = file.to_string_lossy().into_owned();
    let count_arg = count.to_string();
    let (write_peak, events_kib) = child_peak(&["phase-write", "--events", &count_arg, &file_arg])?;
    let (read_peak, file_kib) = child_peak(&["phase-read", &file_arg])?;

    println!();
    println!("scry bench: format ({n} events, synthetic responder workload, {runs} runs, medians)");
    println!();
    println!("| measurement | scry | reference (same run) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| write: encode + zstd-3, 1 thread | {} events/s, {:.0} MB/s raw, {:.0} MB/s on disk | - | - |",
        millions(rate(n, write_time)),
        raw_bytes as f64 / write_time.as_secs_f64() / 1e6,
        data.len() as f64 / write_time.as_secs_f64() / 1e6
    );
    println!(
        "| read: decompress + decode event headers, 1 thread | {} events/s, {:.0} MB/s on disk, {:.0} MB/s raw (target ≥ 20 M events/s per core) | zstd decompress of the same frame alone: {} events/s | {:.2} |",
        millions(rate(n, decode_1)),
        data.len() as f64 / decode_1.as_secs_f64() / 1e6,
        raw_bytes as f64 / decode_1.as_secs_f64() / 1e6,
        millions(rate(n, zstd_only)),
        zstd_only.as_secs_f64() / decode_1.as_secs_f64()
    );
    println!(
        "| read: decompress + decode every parameter and buffer byte, 1 thread | {} events/s | zstd decompress of all frames alone: {} events/s | {:.2} |",
        millions(rate(n, decode_params_1)),
        millions(rate(n, zstd_all)),
        zstd_all.as_secs_f64() / decode_params_1.as_secs_f64()
    );
    println!(
        "| read: decompress + decode headers, {threads} threads | {} events/s | 1 thread: {} events/s | {:.2}x |",
        millions(rate(n, decode_n)),
        millions(rate(n, decode_1)),
        decode_1.as_secs_f64() / decode_n.as_secs_f64()
    );
    println!(
        "| size on disk | {:.2} bytes/event | uncompressed records: {:.2} bytes/event | {:.1}x smaller |",
        data.len() as f64 / n as f64,
        raw_bytes as f64 / n as f64,
        raw_bytes as f64 / data.len() as f64
    );
    println!(
        "| peak memory, writing to a file | {:.1} MiB | the generated events alone: {:.1} MiB | - |",
        write_peak as f64 / 1024.0,
        events_kib as f64 / 1024.0
    );
    println!(
        "| peak memory, reading a file ({threads} threads) | {:.1} MiB | the file itself: {:.1} MiB | - |",
        read_peak as f64 / 1024.0,
        file_kib as f64 / 1024.0
    );
    Ok(())
}
