//! scry-capture owns the live side of scry: it loads the probe, drains the
//! per-CPU ring buffers into one time-ordered stream, and writes trace files
//! through `scry-format` on a background thread.
//!
//! [`record`] is the whole capture: it runs until its stop flag is raised,
//! its duration or event limit is reached, then drains every buffer and
//! closes the file with its final statistics, so nothing already delivered
//! by the kernel is lost.
//!
//! What to record is decided as cheaply as possible: the kernel leaves out
//! other processes ([`Target`]) and other syscalls
//! ([`RecordOptions::syscalls`]); an [`EventSelector`] decides the rest in
//! user space, on the writer thread, before anything is written.
#![deny(unsafe_code)]
// `ring` alone maps kernel memory, with `// SAFETY:` on each use.

mod containers;
mod decode;
mod error;
mod machine;
mod probe;
mod reorder;
mod ring;
mod runtime;
mod sink;
mod snapshot;
mod target;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scry_format::{
    CaptureSettings, Event, EventTable, EventType, FileHeader, PROCEXIT, Snapshot, WriterOptions,
};

pub use error::{CaptureError, Result};
pub use machine::{boot_time_ns, machine_info};
pub use sink::SinkReport;
pub use target::{CONTAINER_PREFIX_MIN, TARGETS_MAX, Target, exec_when_ready, is_running};

/// How often the ring buffers are drained. The probe never wakes user space
/// (a wake-up per event would cost more than the event), so draining is on
/// a timer: short enough that 8 MiB per CPU never fills between two drains.
const DRAIN_INTERVAL: Duration = Duration::from_millis(5);
/// How often capture statistics are written into the file.
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// How often new cgroups of a `--container` target are looked for (with
/// inotify, one read): what a container started during the capture does
/// before its cgroup is found is not recorded.
const SCAN_INTERVAL: Duration = Duration::from_millis(20);

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
    /// Which processes to record.
    pub target: Target,
    /// Start a new file now and then (`None`: one file).
    pub rotation: Option<Rotation>,
    /// Record only these syscalls (ids of [`event_table`]), plus the
    /// process lifecycle ones ([`LIFECYCLE_SYSCALLS`]) that the state of
    /// every process depends on; `None` records all.
    pub syscalls: Option<Vec<EventType>>,
    /// The capture filter's text, recorded in the file header; the
    /// [`EventSelector`] given to [`record`] applies it.
    pub filter: String,
}

/// Syscalls recorded whatever [`RecordOptions::syscalls`] says: without
/// them a trace could not tell which process did what (fork, exec, exit).
/// Process exits (`procexit`) are always recorded too.
pub const LIFECYCLE_SYSCALLS: &[&str] = &[
    "clone",
    "clone3",
    "fork",
    "vfork",
    "execve",
    "execveat",
    "exit",
    "exit_group",
];

/// The event table of the traces this version writes: what filters and
/// syscall names are resolved against.
pub fn event_table() -> EventTable {
    EventTable::builtin_x86_64()
}

/// The user-space half of a capture filter: decides which events are
/// written. It runs on the writer thread, so deciding never delays the
/// draining of kernel buffers, and it sees every event the kernel
/// delivered, in time order, including those it leaves out (which state
/// such as process names depends on). Events left out are counted in the
/// file's statistics.
pub trait EventSelector: Send {
    /// Called once, before any event, with the first file's header and
    /// state snapshot.
    fn begin(&mut self, header: &FileHeader, snapshot: &Snapshot);
    /// Pushes onto `keep` (empty on entry) one verdict per event of
    /// `events`: `true` to write it. Missing verdicts mean `true`.
    fn select(&mut self, events: &[Event], keep: &mut Vec<bool>);
}

/// When a capture starts its next file ("segment"). Every segment is
/// self-contained: header, fresh state snapshot, chunks, statistics, index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Once the current segment holds this many bytes.
    pub max_bytes: Option<u64>,
    /// Once the current segment is this old.
    pub interval: Option<Duration>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            snaplen: 80,
            buffer_bytes: 8 << 20,
            max_duration: None,
            max_events: None,
            command_line: Vec::new(),
            target: Target::Host,
            rotation: None,
            syscalls: None,
            filter: String::new(),
        }
    }
}

/// Counters shown while a capture runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Events written so far.
    pub events: u64,
    /// Events left out by the capture filter so far.
    pub filtered: u64,
    /// Events lost so far (not delivered by the kernel side, or not
    /// decodable).
    pub dropped: u64,
    /// Bytes written so far, over every segment.
    pub bytes: u64,
    /// The segment being written, from 0 (always 0 without rotation).
    pub segment: u32,
    /// Time since the capture started.
    pub elapsed: Duration,
}

/// The outcome of a capture.
#[derive(Debug, Clone, Default)]
pub struct RecordSummary {
    /// Events written.
    pub events: u64,
    /// Events left out by the capture filter.
    pub filtered: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Events the kernel side could not deliver.
    pub dropped: u64,
    /// The same, per CPU: `(cpu, dropped)`.
    pub dropped_per_cpu: Vec<(u32, u64)>,
    /// How long the capture ran.
    pub elapsed: Duration,
    /// How the command of [`Target::Command`] ended (`None` if it was
    /// still running when the capture stopped, or for other targets).
    pub command_status: Option<std::process::ExitStatus>,
    /// Processes started by targets that could not be followed because
    /// the kernel's target table was full: they ran unrecorded.
    pub targets_missed: u64,
    /// Files written: 1 unless the capture rotates.
    pub segments: u32,
}

/// Records every syscall of the host until `stop` is raised or a limit is
/// reached. The output is opened by `open_output(0)` only once the probe is
/// attached, so a capture that cannot start leaves no empty file behind;
/// with [`RecordOptions::rotation`], `open_output(n)` opens segment `n`.
/// `selector`, when given, decides which delivered events are written.
///
/// # Errors
/// [`CaptureError::NotPermitted`] without the privileges to load BPF,
/// [`CaptureError::Unsupported`] on kernels without BTF or ring buffers,
/// [`CaptureError::Load`] / [`CaptureError::Attach`] when the kernel refuses
/// the probe, and write errors of the trace.
pub fn record<W: Write + Send + 'static>(
    mut open_output: impl FnMut(u32) -> std::io::Result<W> + Send + 'static,
    options: &RecordOptions,
    selector: Option<Box<dyn EventSelector>>,
    stop: &AtomicBool,
    mut progress: impl FnMut(&Progress),
) -> Result<RecordSummary> {
    let kernel = check_kernel()?;
    let table = event_table();
    let syscalls = options
        .syscalls
        .as_deref()
        .map(|chosen| syscall_set(chosen, &table))
        .transpose()?;
    // A command is started (waiting in its shim) before the probe loads, so
    // that its pid can be a target before attaching.
    let mut launch = match &options.target {
        Target::Command { argv, shim } => Some(target::Launch::start(argv, shim)?),
        _ => None,
    };
    let targets = match (&options.target, &launch) {
        (Target::Host, _) => None,
        (_, Some(launch)) => Some(vec![launch.pid()]),
        (target, None) => Some(target::resolve(target)?),
    };
    let mut watch = match &options.target {
        Target::Container(prefixes) => target::CgroupWatch::new(prefixes),
        _ => None,
    };
    let config = probe::ProbeConfig {
        snaplen: options.snaplen,
        ring_bytes: options.buffer_bytes,
        self_tgid: std::process::id(),
        targets,
        cgroups: watch.as_mut().map(target::CgroupWatch::scan),
        syscalls: syscalls.clone(),
        kernel: kernel.unwrap_or((0, 0)),
    };
    let boot_time = boot_time_ns();
    probe::with_probe(&config, boot_time, |probe| {
        let header = FileHeader {
            writer: format!("scry {}", env!("CARGO_PKG_VERSION")),
            created_ns: machine::realtime_ns(),
            machine: machine_info(),
            capture: CaptureSettings {
                snaplen: options.snaplen.min(probe::SNAPLEN_MAX),
                event_types: syscalls
                    .as_deref()
                    .map(|set| recorded_names(set, &table))
                    .unwrap_or_default(),
                filter: options.filter.clone(),
                target: options.target.describe(),
                buffer_bytes: probe.ring_bytes(),
                command_line: options.command_line.clone(),
            },
            event_table: table,
        };
        let snapshot = snapshot::take_snapshot(machine::realtime_ns(), boot_time);
        let out = open_output(0).map_err(|e| CaptureError::io("opening the output", e))?;
        let segments = options.rotation.map(|policy| sink::Segments {
            open: Box::new(open_output),
            snapshot: Box::new(move || snapshot::take_snapshot(machine::realtime_ns(), boot_time)),
            header: header.clone(),
            policy,
        });
        let plan = sink::Plan {
            boot_time_ns: boot_time,
            selector,
            max_events: options.max_events,
        };
        let sink = sink::Sink::spawn(
            out,
            &header,
            &snapshot,
            WriterOptions::default(),
            segments,
            plan,
        )?;
        // Forks between the first scan and the attach were not followed.
        probe.add_targets(&target::resolve(&options.target).unwrap_or_default())?;
        let command = match launch.as_mut() {
            Some(launch) => {
                launch.release()?;
                Some(&mut launch.child)
            }
            None => None,
        };
        capture_loop(
            probe,
            sink,
            options,
            boot_time,
            stop,
            Followed {
                command,
                watch: watch.as_mut(),
            },
            &mut progress,
        )
    })
}

/// What the capture loop watches besides the probe.
struct Followed<'a> {
    /// The command of `-- CMD`: the capture ends when it exits.
    command: Option<&'a mut std::process::Child>,
    /// The cgroups of `--container`, searched for new ones.
    watch: Option<&'a mut target::CgroupWatch>,
}

/// Drains the probe into the writer until a stop condition, then closes the
/// file with the final statistics.
fn capture_loop(
    probe: &mut probe::Session<'_>,
    mut sink: sink::Sink,
    options: &RecordOptions,
    boot_time: u64,
    stop: &AtomicBool,
    followed: Followed<'_>,
    progress: &mut impl FnMut(&Progress),
) -> Result<RecordSummary> {
    let Followed {
        mut command,
        mut watch,
    } = followed;
    let started = Instant::now();
    machine::prioritize_this_thread();
    let mut reorder = reorder::Reorder::default();
    let mut drained = reorder::Drain::default();
    let mut delivered = 0u64;
    let mut malformed = 0u64;
    let mut last_stats = Instant::now();
    let mut last_scan = Instant::now();
    let mut command_status = None;
    loop {
        let cycle_started = Instant::now();
        // The command's exit (and so every event of it) was delivered
        // before it could be reaped: one more drain collects the rest.
        if let Some(child) = command.as_deref_mut().filter(|_| command_status.is_none()) {
            command_status = child
                .try_wait()
                .map_err(|e| CaptureError::io("waiting for the command", e))?;
        }
        // Decide before draining, so that the last drain sees every record
        // the kernel delivered before the stop. The event limit is the
        // writer's to enforce (it knows what the filter kept); what is
        // drained after it is reached is not written.
        let finishing = stop.load(Ordering::Relaxed)
            || command_status.is_some()
            || options.max_duration.is_some_and(|d| started.elapsed() >= d)
            || sink.counters().limit_reached.load(Ordering::Relaxed);
        if finishing {
            // Stop the kernel side first, and give programs still running
            // on other CPUs a moment to finish: the last drain then reads
            // every record the kernel ever delivered, and the final
            // statistics can be checked against the file exactly.
            probe.detach();
            std::thread::sleep(DRAIN_INTERVAL);
        }
        // Read the clock before draining: an event older than this instant
        // minus the window was in its ring before any ring was read.
        let drain_started = machine::boottime_ns().saturating_add(boot_time);
        // At the end, read until every ring is empty.
        let behind = loop {
            let outcome = match probe.drain(&mut drained) {
                Ok(outcome) => outcome,
                Err(error) => {
                    // Keep what was already delivered: the file still closes
                    // properly when the sink is dropped.
                    let mut rest = reorder::Records::default();
                    reorder.release_all(&mut rest);
                    let _ = sink.send(sink::Message::Records(rest));
                    return Err(error);
                }
            };
            malformed += outcome.malformed;
            reorder.push_drain(&mut drained);
            if !finishing || outcome.behind.is_none() {
                break outcome.behind;
            }
        };
        let mut ready = sink.written_batch().unwrap_or_default();
        if finishing {
            reorder.release_all(&mut ready);
        } else {
            // A ring read only in part still holds events after the last
            // one read from it.
            let horizon = behind.map_or(drain_started, |ts| ts.min(drain_started));
            reorder.release(horizon, &mut ready);
        }
        delivered += ready.len() as u64;
        if !ready.is_empty() {
            sink.send(sink::Message::Records(ready))?;
        }
        if finishing {
            break;
        }
        if let Some(watch) = watch
            .as_deref_mut()
            .filter(|_| last_scan.elapsed() >= SCAN_INTERVAL)
        {
            probe.add_cgroups(&watch.scan())?;
            last_scan = Instant::now();
        }
        if last_stats.elapsed() >= STATS_INTERVAL {
            // The writer fills in what it wrote and left out when the
            // record reaches it.
            let mut stats = probe.stats(delivered, machine::realtime_ns())?;
            stats.undecodable = malformed;
            let counters = sink.counters();
            progress(&Progress {
                events: counters.events.load(Ordering::Relaxed),
                filtered: counters.filtered.load(Ordering::Relaxed),
                dropped: stats.dropped(),
                bytes: counters.bytes.load(Ordering::Relaxed),
                segment: counters.segment.load(Ordering::Relaxed),
                elapsed: started.elapsed(),
            });
            sink.send(sink::Message::Stats(stats))?;
            last_stats = Instant::now();
        }
        // A ring with a backlog is read again at once; otherwise the rings
        // are read every interval, however long this drain took.
        if behind.is_none() {
            std::thread::sleep(DRAIN_INTERVAL.saturating_sub(cycle_started.elapsed()));
        }
    }
    let mut final_stats = probe.stats(delivered, machine::realtime_ns())?;
    final_stats.undecodable = malformed;
    let dropped_per_cpu = final_stats
        .cpus
        .iter()
        .map(|c| (c.cpu, c.dropped))
        .collect();
    let dropped = final_stats.dropped();
    let targets_missed = probe.targets_full()?;
    let report = sink.finish(final_stats)?;
    Ok(RecordSummary {
        events: report.events,
        filtered: report.filtered,
        bytes: report.bytes,
        dropped,
        dropped_per_cpu,
        elapsed: started.elapsed(),
        command_status,
        targets_missed,
        segments: report.segments,
    })
}

/// The kernel's syscall switchboard for a chosen set: the chosen syscalls
/// and the lifecycle ones, indexed by syscall number.
fn syscall_set(chosen: &[EventType], table: &EventTable) -> Result<Vec<bool>> {
    let mut set = vec![false; scry_probe::abi::NR_MAX];
    let lifecycle = LIFECYCLE_SYSCALLS
        .iter()
        .filter_map(|name| table.id_of(name));
    for id in chosen.iter().copied().chain(lifecycle) {
        // Process exits are not syscalls: always recorded.
        if id == PROCEXIT {
            continue;
        }
        let slot = set.get_mut(usize::from(id)).ok_or_else(|| {
            CaptureError::Target(format!(
                "event type {} is not a syscall the probe can select",
                table.name(id).unwrap_or("?")
            ))
        })?;
        *slot = true;
    }
    Ok(set)
}

/// The header's list of recorded event types for a syscall set.
fn recorded_names(set: &[bool], table: &EventTable) -> Vec<String> {
    set.iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .filter_map(|(nr, _)| table.name(u16::try_from(nr).ok()?))
        .chain(table.name(PROCEXIT))
        .map(str::to_owned)
        .collect()
}

/// The oldest kernel with everything the probe uses: BTF-enabled raw
/// tracepoints (5.5) and the BPF ring buffer (5.8).
const OLDEST_KERNEL: (u32, u32) = (5, 8);

/// `major.minor` of a kernel release string (`6.1.0-18-amd64`).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Refuses kernels older than [`OLDEST_KERNEL`] with a message saying
/// why, rather than a verifier or loader error later.
fn check_release(release: &str) -> Result<()> {
    match kernel_version(release) {
        Some(version) if version < OLDEST_KERNEL => Err(CaptureError::Unsupported(format!(
            "Linux {release} is too old: the probe needs {}.{} or later (BPF ring buffer, \
             BTF-enabled tracepoints)",
            OLDEST_KERNEL.0, OLDEST_KERNEL.1
        ))),
        // An unparsable release is left to the loader to judge.
        _ => Ok(()),
    }
}

/// Refuses early, with a precise message, what would otherwise fail deep in
/// libbpf with a generic one.
/// Returns the running kernel's `major.minor` when it can be read.
fn check_kernel() -> Result<Option<(u32, u32)>> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok();
    if let Some(release) = &release {
        check_release(release)?;
    }
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
    Ok(release.as_deref().and_then(kernel_version))
}

#[cfg(test)]
mod kernel_tests {
    use super::*;

    #[test]
    fn kernels_older_than_5_8_are_refused_with_the_reason() {
        assert_eq!(kernel_version("6.18.44-fc-v769"), Some((6, 18)));
        assert_eq!(kernel_version("5.10.0-28-amd64\n"), Some((5, 10)));
        assert!(check_release("6.1.0-18-amd64").is_ok());
        assert!(check_release("5.8.0").is_ok());
        let error = check_release("5.4.0-150-generic").unwrap_err().to_string();
        assert!(error.contains("5.4.0-150-generic is too old"), "{error}");
        assert!(error.contains("5.8 or later"), "{error}");
        assert!(check_release("4.19.0").is_err());
        assert!(check_release("weird").is_ok());
    }
}
