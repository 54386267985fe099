//! `scry record`: turns flags into a capture configuration, handles the
//! signals that stop a capture, shows live statistics, and reports the
//! outcome. It also joins the two halves of a capture filter: the analyser
//! compiles it, the kernel gets the event types it allows, and the rest is
//! evaluated on every event before it is written ([`FilterSelector`]).

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use scry_analyze::state::State;
use scry_analyze::{Ctx, Filter, Prepared};
use scry_capture::{EventSelector, Progress, RecordOptions, RecordSummary};
use scry_format::{DecodedChunk, Event, EventTable, EventType, FileHeader, Snapshot};

use crate::cli::RecordArgs;
use crate::exit::Code;
use crate::output;

pub fn run(args: &RecordArgs) -> anyhow::Result<Code> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing the signal handlers")?;
    }
    let table = scry_capture::event_table();
    let filter = CaptureFilter::compile(&args.filter.join(" "), &table)?;
    let options = RecordOptions {
        snaplen: if args.no_buffers { 0 } else { args.snaplen },
        buffer_bytes: args.buffer_size,
        max_duration: args.duration,
        max_events: args.count,
        command_line: std::env::args().collect(),
        rotation: rotation(args)?,
        target: match (
            target(args)?,
            filter.as_ref().and_then(|f| f.kernel_tgids.clone()),
        ) {
            // A filter that pins the processes is a target the kernel can
            // follow: their descendants come too, and the filter drops them.
            (scry_capture::Target::Host, Some(tgids)) => scry_capture::Target::Pids(tgids),
            (target, _) => target,
        },
        syscalls: syscalls(&args.syscalls, filter.as_ref(), &table)?,
        filter: filter.as_ref().map(|f| f.text.clone()).unwrap_or_default(),
    };
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    if to_stdout && io::stdout().is_terminal() {
        return Err(crate::exit::UsageError(
            "refusing to write a binary trace to a terminal: redirect standard output or use -w FILE".to_owned(),
        )
        .into());
    }
    if to_stdout && !args.command.is_empty() {
        return Err(crate::exit::UsageError(
            "-- CMD writes to standard output too: the trace needs -w FILE".to_owned(),
        )
        .into());
    }
    if to_stdout && options.rotation.is_some() {
        return Err(crate::exit::UsageError(
            "-C and -G write several files: they need -w NAME, not standard output".to_owned(),
        )
        .into());
    }
    let path = match (&args.output, options.rotation) {
        (Some(path), _) => path.clone(),
        // Segments carry their own time stamp.
        (None, Some(_)) => PathBuf::from("scry"),
        (None, None) => default_name(),
    };
    let show_progress = io::stderr().is_terminal();
    // The file being written, for the live line: segments are named as
    // they are opened.
    let current: Arc<Mutex<Option<PathBuf>>> = Arc::new(Mutex::new(match options.rotation {
        Some(_) => None,
        None if to_stdout => None,
        None => Some(path.clone()),
    }));
    let mut live = LiveLine::default();
    let shown_file = Arc::clone(&current);
    let mut progress = |p: &Progress| {
        if show_progress {
            let file = shown_file.lock().ok().and_then(|f| f.clone());
            live.show(p, file.as_deref());
        }
    };
    let selector = filter.map(|f| Box::new(f.selector) as Box<dyn EventSelector>);
    let recorded = if to_stdout {
        scry_capture::record(
            |_| Ok(io::BufWriter::with_capacity(1 << 20, io::stdout())),
            &options,
            selector,
            &stop,
            &mut progress,
        )
    } else {
        let open: Box<dyn FnMut(u32) -> io::Result<io::BufWriter<File>> + Send> =
            if options.rotation.is_some() {
                let mut segments = SegmentFiles::new(&path, args.max_files);
                let current = Arc::clone(&current);
                Box::new(move |n| {
                    let (file, opened) = segments.open(n)?;
                    if let Ok(mut shown) = current.lock() {
                        *shown = Some(opened);
                    }
                    Ok(file)
                })
            } else {
                let path = path.clone();
                Box::new(move |_| {
                    output::create_private(&path)
                        .map(|file| io::BufWriter::with_capacity(1 << 20, file))
                })
            };
        scry_capture::record(open, &options, selector, &stop, &mut progress)
    };
    // The live line ends before anything else is said, errors included.
    if live.shown {
        eprintln!();
    }
    let summary = if to_stdout {
        recorded?
    } else {
        recorded
            .map_err(disk_full)
            .with_context(|| format!("recording to {}", path.display()))?
    };
    report(
        &summary,
        if to_stdout { None } else { Some(&path) },
        options.rotation.is_some(),
    );
    if let Some(status) = summary.command_status {
        // Like a shell: the command's own status, or 128 + its signal.
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(1);
        let _ = io::stderr().flush();
        std::process::exit(code);
    }
    Ok(Code::Ok)
}

/// What `-p`, `--container` and `-- CMD` ask to record; one kind at most.
fn target(args: &RecordArgs) -> anyhow::Result<scry_capture::Target> {
    use scry_capture::Target;
    let chosen = [
        !args.pids.is_empty(),
        !args.containers.is_empty(),
        !args.command.is_empty(),
    ];
    if chosen.iter().filter(|c| **c).count() > 1 {
        return Err(crate::exit::UsageError(
            "-p, --container and -- CMD each choose what to record: use only one of them"
                .to_owned(),
        )
        .into());
    }
    if let Some(short) = args
        .containers
        .iter()
        .find(|id| id.len() < scry_capture::CONTAINER_PREFIX_MIN)
    {
        return Err(crate::exit::UsageError(format!(
            "--container {short}: give at least {} characters of the container id",
            scry_capture::CONTAINER_PREFIX_MIN
        ))
        .into());
    }
    Ok(if !args.pids.is_empty() {
        Target::Pids(args.pids.clone())
    } else if !args.containers.is_empty() {
        Target::Container(args.containers.clone())
    } else if !args.command.is_empty() {
        // The shim is this very binary: it waits until the capture is
        // attached, then execs the command.
        let exe = std::env::current_exe().context("finding the scry executable")?;
        Target::Command {
            argv: args.command.clone(),
            shim: vec![exe.into_os_string(), "__exec-when-ready".into()],
        }
    } else {
        Target::Host
    })
}

/// `scry __exec-when-ready FIFO -- CMD…`: the shim side of `-- CMD`.
/// Returns only if CMD cannot run, exiting 127 (not found) or 126 like a
/// shell.
pub fn exec_when_ready(fifo: &Path, argv: &[std::ffi::OsString]) -> anyhow::Result<Code> {
    let error = scry_capture::exec_when_ready(fifo, argv);
    let program = argv
        .first()
        .map(|p| p.to_string_lossy())
        .unwrap_or_default();
    eprintln!("scry: cannot run {program}: {error}");
    std::process::exit(if error.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    });
}

/// The rotation policy of `-C` / `-G`; `-W` alone is a mistake.
fn rotation(args: &RecordArgs) -> anyhow::Result<Option<scry_capture::Rotation>> {
    if args.file_size.is_none() && args.rotate_every.is_none() {
        if args.max_files.is_some() {
            return Err(crate::exit::UsageError(
                "-W limits the number of files of a rotating capture: use it with -C or -G"
                    .to_owned(),
            )
            .into());
        }
        return Ok(None);
    }
    Ok(Some(scry_capture::Rotation {
        // Megabytes as sysdig counts them: millions of bytes.
        max_bytes: args.file_size.map(|mb| mb.saturating_mul(1_000_000)),
        interval: args.rotate_every,
    }))
}

/// Says plainly when the disk filled up: the capture stopped there, and
/// what it wrote before is readable (a segment cut short reads back up to
/// its last complete chunk).
fn disk_full(error: scry_capture::CaptureError) -> anyhow::Error {
    let full = std::iter::successors(Some(&error as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::StorageFull)
    });
    let error = anyhow::Error::new(error);
    if full {
        error.context(
            "the disk is full: the capture stopped; everything written up to the last complete chunk is readable",
        )
    } else {
        error
    }
}

/// Opens the segments of a rotating capture as `BASE-<UTC time>-<n>.scry`,
/// so that a directory listing sorts them by time, and deletes the oldest
/// beyond `-W`.
struct SegmentFiles {
    base: Vec<u8>,
    keep: Option<u32>,
    written: std::collections::VecDeque<PathBuf>,
}

impl SegmentFiles {
    fn new(path: &Path, keep: Option<u32>) -> Self {
        use std::os::unix::ffi::OsStrExt;
        let name = path.as_os_str().as_bytes();
        Self {
            base: name.strip_suffix(b".scry").unwrap_or(name).to_vec(),
            keep,
            written: std::collections::VecDeque::new(),
        }
    }

    /// Opens segment `segment`; returns it with its name.
    fn open(&mut self, segment: u32) -> io::Result<(io::BufWriter<File>, PathBuf)> {
        use std::os::unix::ffi::OsStringExt;
        let mut name = self.base.clone();
        name.extend_from_slice(format!("-{}-{:04}.scry", utc_stamp(), segment + 1).as_bytes());
        let path = PathBuf::from(std::ffi::OsString::from_vec(name));
        let file = output::create_private(&path)?;
        self.written.push_back(path.clone());
        while self
            .keep
            .is_some_and(|keep| self.written.len() > keep as usize)
        {
            if let Some(oldest) = self.written.pop_front()
                && let Err(error) = std::fs::remove_file(&oldest)
            {
                eprintln!("scry: warning: cannot delete {}: {error}", oldest.display());
            }
        }
        Ok((io::BufWriter::with_capacity(1 << 20, file), path))
    }
}

/// The current UTC time as `20261125T064812Z`.
fn utc_stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let stamp: String = scry_format::format_rfc3339(now)
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    format!("{stamp}Z")
}

fn default_name() -> PathBuf {
    PathBuf::from(format!("scry-{}.scry", utc_stamp()))
}

fn report(summary: &RecordSummary, path: Option<&Path>, rotating: bool) {
    let mut err = io::stderr().lock();
    let target = match path {
        None => "standard output".to_owned(),
        Some(p) if rotating => {
            let base = p.display().to_string();
            let base = base.strip_suffix(".scry").unwrap_or(&base).to_owned();
            let files = if summary.segments == 1 {
                "file"
            } else {
                "files"
            };
            format!("{} {files} {base}-*.scry", summary.segments)
        }
        Some(p) => p.display().to_string(),
    };
    let _ = writeln!(
        err,
        "scry: recorded {} events in {} to {target} ({}, {:.1} bytes/event)",
        output::count(summary.events),
        output::duration(summary.elapsed.as_nanos() as u64),
        output::bytes(summary.bytes),
        if summary.events > 0 {
            summary.bytes as f64 / summary.events as f64
        } else {
            0.0
        },
    );
    if summary.filtered > 0 {
        let _ = writeln!(
            err,
            "scry: {} events left out by the capture filter",
            output::count(summary.filtered)
        );
    }
    if summary.targets_missed > 0 {
        let _ = writeln!(
            err,
            "scry: WARNING: {} processes started by the targets could not be followed (more than {} at once) and were not recorded",
            output::count(summary.targets_missed),
            scry_capture::TARGETS_MAX,
        );
    }
    if summary.dropped > 0 {
        let per_cpu: Vec<String> = summary
            .dropped_per_cpu
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(cpu, n)| format!("cpu{cpu}: {n}"))
            .collect();
        let _ = writeln!(
            err,
            "scry: WARNING: the kernel could not deliver {} events ({}); they are counted in the file. Try a larger --buffer-size.",
            output::count(summary.dropped),
            per_cpu.join(", ")
        );
    } else {
        let _ = writeln!(err, "scry: no events lost");
    }
}

/// A capture filter, compiled against the event table of the traces this
/// version writes.
struct CaptureFilter {
    /// As given, for the file header.
    text: String,
    /// The event types the kernel must deliver for the filter to be decided
    /// right (`None`: all of them).
    kernel_types: Option<Vec<bool>>,
    /// The running processes the filter's matches must belong to, for the
    /// kernel to follow (`None`: any).
    kernel_tgids: Option<Vec<u32>>,
    /// Decides the rest, event by event.
    selector: FilterSelector,
}

impl CaptureFilter {
    /// `None` for an empty filter; a usage error (exit 2, with a caret under
    /// the bad token) for a bad one.
    fn compile(text: &str, table: &EventTable) -> anyhow::Result<Option<CaptureFilter>> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let prepared = Prepared::from_table(table);
        let filter = Filter::new(text, prepared.catalog_of(table)).map_err(|error| {
            crate::exit::UsageError(format!("bad capture filter\n{}", error.render(text)))
        })?;
        crate::traces::warn_about(text, &filter);
        let needs_state = filter.needs_state();
        let kernel_types = filter
            .event_types()
            // The kernel selects 64-bit syscalls by number: a filter that
            // may keep 32-bit or unnumbered ones is decided in user space
            // alone.
            .filter(|allowed| {
                !is_allowed(allowed, scry_format::IA32_SYSCALL)
                    && !is_allowed(allowed, scry_format::UNKNOWN_SYSCALL)
            })
            .map(|mut allowed| {
                // The state a filter reads (process names, fds) is rebuilt
                // from the events that change it: those must come too.
                if needs_state {
                    let changing = State::changing_types(table);
                    for (slot, changes) in allowed.iter_mut().zip(changing) {
                        *slot |= changes;
                    }
                }
                allowed
            });
        // A pinned process that is not running cannot be followed; if none
        // is, the filter alone decides.
        let kernel_tgids = filter
            .tgids()
            .map(|tgids| {
                tgids
                    .into_iter()
                    .filter(|&tgid| scry_capture::is_running(tgid))
                    .collect::<Vec<u32>>()
            })
            .filter(|running| !running.is_empty());
        Ok(Some(CaptureFilter {
            text: text.trim().to_owned(),
            kernel_types,
            kernel_tgids,
            selector: FilterSelector {
                filter,
                prepared,
                table: table.clone(),
                state: None,
                needs_state,
                hostname: String::new(),
                first_ts: None,
                next_num: 0,
            },
        }))
    }
}

fn is_allowed(types: &[bool], id: EventType) -> bool {
    types.get(usize::from(id)).copied().unwrap_or(false)
}

/// The user-space half of a capture filter: replays the state from the
/// capture's snapshot and every delivered event (kept or not), and
/// evaluates the filter on each event exactly as `scry read` would.
struct FilterSelector {
    filter: Filter,
    prepared: Prepared,
    table: EventTable,
    state: Option<State>,
    needs_state: bool,
    hostname: String,
    first_ts: Option<u64>,
    next_num: u64,
}

impl EventSelector for FilterSelector {
    fn begin(&mut self, header: &FileHeader, snapshot: &Snapshot) {
        self.table = header.event_table.clone();
        self.prepared = Prepared::from_table(&self.table);
        self.state = Some(State::new(snapshot, &self.table));
        self.hostname.clone_from(&header.machine.hostname);
    }

    fn select(&mut self, events: &[Event], keep: &mut Vec<bool>) {
        // Filters evaluate views of decoded chunks: the batch becomes one.
        // Encoding our own events cannot fail; if it did, everything is
        // kept (missing verdicts), which loses nothing.
        let Ok(chunk) = DecodedChunk::from_events(events, self.next_num) else {
            return;
        };
        self.next_num += events.len() as u64;
        let table = &self.table;
        let state = self
            .state
            .get_or_insert_with(|| State::new(&Snapshot::default(), table));
        let first_ts = *self
            .first_ts
            .get_or_insert_with(|| events.first().map_or(0, |e| e.ts));
        for event in chunk.iter() {
            if self.needs_state {
                state.apply(&event);
            }
            let event_type = event.event_type();
            let names = table.get(event_type).map_or(&[][..], |e| &e.params[..]);
            let info = self.prepared.types.get(event_type);
            let ctx = Ctx::new(event, info, state, first_ts, &self.hostname, names);
            keep.push(self.filter.matches(&ctx));
        }
    }
}

/// The syscalls the kernel delivers: those of `--syscalls`, narrowed to
/// what the capture filter can keep; `None` for all.
fn syscalls(
    listed: &[String],
    filter: Option<&CaptureFilter>,
    table: &EventTable,
) -> anyhow::Result<Option<Vec<EventType>>> {
    let mut chosen: Option<Vec<bool>> = None;
    if !listed.is_empty() {
        let mut set = vec![false; table.id_bound()];
        for name in listed.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            let id = table.id_of(name).ok_or_else(|| {
                crate::exit::UsageError(format!(
                    "--syscalls: no syscall is called '{name}' (names as evt.type gives them, e.g. openat, connect)"
                ))
            })?;
            if id >= scry_format::FIRST_SPECIAL_TYPE {
                return Err(crate::exit::UsageError(format!(
                    "--syscalls: '{name}' is not a syscall (process exits are always recorded)"
                ))
                .into());
            }
            set[usize::from(id)] = true;
        }
        chosen = Some(set);
    }
    if let Some(allowed) = filter.and_then(|f| f.kernel_types.as_ref()) {
        chosen = Some(match chosen {
            Some(listed) => listed
                .iter()
                .enumerate()
                .map(|(id, &on)| on && allowed.get(id).copied().unwrap_or(false))
                .collect(),
            None => allowed.clone(),
        });
    }
    Ok(chosen.map(|set| {
        set.iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .filter_map(|(id, _)| EventType::try_from(id).ok())
            .filter(|&id| id < scry_format::FIRST_SPECIAL_TYPE)
            .collect()
    }))
}

/// The statistics line shown on a terminal while a capture runs, redrawn
/// in place each second.
#[derive(Debug, Default)]
struct LiveLine {
    /// Whether a line is on screen (and so needs ending).
    shown: bool,
    /// When the previous line was drawn, and the events written by then.
    previous: Option<(Duration, u64)>,
}

impl LiveLine {
    fn show(&mut self, progress: &Progress, file: Option<&Path>) {
        let (since, before) = self.previous.unwrap_or((Duration::ZERO, 0));
        let seconds = progress.elapsed.saturating_sub(since).as_secs_f64();
        let rate = if seconds > 0.0 {
            progress.events.saturating_sub(before) as f64 / seconds
        } else {
            0.0
        };
        self.previous = Some((progress.elapsed, progress.events));
        let target = file.map_or_else(|| "standard output".to_owned(), |f| f.display().to_string());
        let filtered = if progress.filtered > 0 {
            format!(", {} filtered", output::count(progress.filtered))
        } else {
            String::new()
        };
        eprint!(
            "\r\x1b[2Krecording to {target}: {} events/s, {} events{filtered}, {} lost, {} written",
            output::count(rate.round() as u64),
            output::count(progress.events),
            output::count(progress.dropped),
            output::bytes(progress.bytes),
        );
        self.shown = true;
    }
}
