//! scry-capture owns the live side of scry: it loads the probe, drains the
//! per-CPU ring buffers into one time-ordered stream, and writes trace files
//! through `scry-format` on a background thread.
//!
//! [`record`] is the whole capture: it runs until its stop flag is raised,
//! its duration or event limit is reached, then drains every buffer and
//! closes the file with its final statistics, so nothing already delivered
//! by the kernel is lost.
#![deny(unsafe_code)]

mod decode;
mod error;
mod machine;
mod probe;
mod reorder;
mod sink;
mod snapshot;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scry_format::{CaptureSettings, EventTable, FileHeader, WriterOptions};

pub use error::{CaptureError, Result};
pub use machine::{boot_time_ns, machine_info};
pub use sink::SinkReport;

/// How often the ring buffers are drained. The probe never wakes user space
/// (a wake-up per event would cost more than the event), so draining is on
/// a timer: short enough that 8 MiB per CPU never fills between two drains.
const DRAIN_INTERVAL: Duration = Duration::from_millis(5);
/// How often capture statistics are written into the file.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// What to capture and how.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Bytes of I/O buffers kept per event.
    pub snaplen: u32,
    /// Ring buffer size per CPU in bytes (rounded up to a power of two).
    pub buffer_bytes: u64,
    /// Stop after this long.
    pub max_duration: Option<Duration>,
    /// Stop after this many events.
    pub max_events: Option<u64>,
    /// The command line, recorded in the file header.
    pub command_line: Vec<String>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            snaplen: 80,
            buffer_bytes: 8 << 20,
            max_duration: None,
            max_events: None,
            command_line: Vec::new(),
        }
    }
}

/// Counters shown while a capture runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Events handed to the writer.
    pub events: u64,
    /// Events lost so far (not delivered by the kernel side, or not
    /// decodable).
    pub dropped: u64,
}

/// The outcome of a capture.
#[derive(Debug, Clone, Default)]
pub struct RecordSummary {
    /// Events written.
    pub events: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Events the kernel side could not deliver.
    pub dropped: u64,
    /// The same, per CPU: `(cpu, dropped)`.
    pub dropped_per_cpu: Vec<(u32, u64)>,
    /// How long the capture ran.
    pub elapsed: Duration,
}

/// Records every syscall of the host until `stop` is raised or a limit is
/// reached. The output is opened by `open_output` only once the probe is
/// attached, so a capture that cannot start leaves no empty file behind.
///
/// # Errors
/// [`CaptureError::NotPermitted`] without the privileges to load BPF,
/// [`CaptureError::Unsupported`] on kernels without BTF or ring buffers,
/// [`CaptureError::Load`] / [`CaptureError::Attach`] when the kernel refuses
/// the probe, and write errors of the trace.
pub fn record<W: Write + Send + 'static>(
    open_output: impl FnOnce() -> std::io::Result<W>,
    options: &RecordOptions,
    stop: &AtomicBool,
    mut progress: impl FnMut(&Progress),
) -> Result<RecordSummary> {
    check_kernel()?;
    let config = probe::ProbeConfig {
        snaplen: options.snaplen,
        ring_bytes: options.buffer_bytes,
        self_tgid: std::process::id(),
    };
    let boot_time = boot_time_ns();
    probe::with_probe(&config, boot_time, |probe| {
        let header = FileHeader {
            writer: format!("scry {}", env!("CARGO_PKG_VERSION")),
            created_ns: machine::realtime_ns(),
            machine: machine_info(),
            capture: CaptureSettings {
                snaplen: options.snaplen.min(probe::SNAPLEN_MAX),
                event_types: Vec::new(),
                filter: String::new(),
                target: "host".to_owned(),
                buffer_bytes: probe.ring_bytes(),
                command_line: options.command_line.clone(),
            },
            event_table: EventTable::builtin_x86_64(),
        };
        let snapshot = snapshot::take_snapshot(machine::realtime_ns(), boot_time);
        let out = open_output().map_err(|e| CaptureError::io("opening the output", e))?;
        let sink = sink::Sink::spawn(out, &header, &snapshot, WriterOptions::default())?;
        capture_loop(probe, sink, options, boot_time, stop, &mut progress)
    })
}

/// Drains the probe into the writer until a stop condition, then closes the
/// file with the final statistics.
fn capture_loop(
    probe: &mut probe::Session<'_>,
    mut sink: sink::Sink,
    options: &RecordOptions,
    boot_time: u64,
    stop: &AtomicBool,
    progress: &mut impl FnMut(&Progress),
) -> Result<RecordSummary> {
    let started = Instant::now();
    let mut reorder = reorder::Reorder::default();
    let mut written = 0u64;
    let mut malformed = 0u64;
    let mut last_stats = Instant::now();
    let limit = options.max_events.unwrap_or(u64::MAX);
    loop {
        // Decide before draining, so that the last drain sees every record
        // the kernel delivered before the stop.
        let finishing = stop.load(Ordering::Relaxed)
            || options.max_duration.is_some_and(|d| started.elapsed() >= d);
        // Read the clock before draining: an event older than this instant
        // minus the window was in its ring before any ring was read.
        let drain_started = machine::boottime_ns().saturating_add(boot_time);
        let (events, bad) = match probe.drain() {
            Ok(drained) => drained,
            Err(error) => {
                // Keep what was already delivered: the file still closes
                // properly when the sink is dropped.
                let _ = sink.send(sink::Message::Events(reorder.release_all()));
                return Err(error);
            }
        };
        malformed += bad;
        for event in events {
            reorder.push(event);
        }
        let mut ready = if finishing {
            reorder.release_all()
        } else {
            reorder.release(drain_started)
        };
        let limit_reached = written + ready.len() as u64 >= limit;
        if limit_reached {
            ready.truncate((limit - written) as usize);
        }
        written += ready.len() as u64;
        if !ready.is_empty() {
            sink.send(sink::Message::Events(ready))?;
        }
        if finishing || limit_reached {
            break;
        }
        if last_stats.elapsed() >= STATS_INTERVAL {
            let mut stats = probe.stats(written, machine::realtime_ns())?;
            stats.undecodable = malformed;
            progress(&Progress {
                events: written,
                dropped: stats.dropped(),
            });
            sink.send(sink::Message::Stats(stats))?;
            last_stats = Instant::now();
        }
        std::thread::sleep(DRAIN_INTERVAL);
    }
    let mut final_stats = probe.stats(written, machine::realtime_ns())?;
    final_stats.undecodable = malformed;
    let dropped_per_cpu = final_stats
        .cpus
        .iter()
        .map(|c| (c.cpu, c.dropped))
        .collect();
    let dropped = final_stats.dropped();
    let report = sink.finish(final_stats)?;
    Ok(RecordSummary {
        events: report.events,
        bytes: report.bytes,
        dropped,
        dropped_per_cpu,
        elapsed: started.elapsed(),
    })
}

/// Refuses early, with a precise message, what would otherwise fail deep in
/// libbpf with a generic one.
fn check_kernel() -> Result<()> {
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(CaptureError::Unsupported(
            "no BTF type information (/sys/kernel/btf/vmlinux is missing): a kernel built with CONFIG_DEBUG_INFO_BTF=y is needed".to_owned(),
        ));
    }
    if !rustix::process::geteuid().is_root() {
        let caps = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let effective = caps
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        const CAP_PERFMON: u64 = 1 << 38;
        const CAP_BPF: u64 = 1 << 39;
        if effective & (CAP_BPF | CAP_PERFMON) != CAP_BPF | CAP_PERFMON {
            return Err(CaptureError::NotPermitted {
                detail: "not root, and CAP_BPF or CAP_PERFMON is missing".to_owned(),
            });
        }
    }
    Ok(())
}
