//! `scry record`: turns flags into a capture configuration, handles the
//! signals that stop a capture, and reports the outcome.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use scry_capture::{Progress, RecordOptions, RecordSummary};

use crate::cli::RecordArgs;
use crate::exit::Code;
use crate::output;

pub fn run(args: &RecordArgs) -> anyhow::Result<Code> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("installing the signal handlers")?;
    }
    let options = RecordOptions {
        snaplen: args.snaplen,
        buffer_bytes: args.buffer_size,
        max_duration: args.duration,
        max_events: args.count,
        command_line: std::env::args().collect(),
        rotation: rotation(args)?,
        target: target(args)?,
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
    let mut progress = |p: &Progress| {
        if show_progress {
            let written = if to_stdout {
                None
            } else {
                std::fs::metadata(&path).ok().map(|m| m.len())
            };
            eprint!(
                "\r\x1b[2Krecording {}: {} events, {} lost{}",
                if to_stdout {
                    "to standard output".to_owned()
                } else {
                    path.display().to_string()
                },
                output::count(p.events),
                output::count(p.dropped),
                written
                    .map(|b| format!(", {} written", output::bytes(b)))
                    .unwrap_or_default()
            );
        }
    };
    let summary = if to_stdout {
        scry_capture::record(
            |_| Ok(io::BufWriter::with_capacity(1 << 20, io::stdout())),
            &options,
            &stop,
            &mut progress,
        )?
    } else {
        let open: Box<dyn FnMut(u32) -> io::Result<io::BufWriter<File>> + Send> =
            if options.rotation.is_some() {
                let mut segments = SegmentFiles::new(&path, args.max_files);
                Box::new(move |n| segments.open(n))
            } else {
                let path = path.clone();
                Box::new(move |_| {
                    output::create_private(&path)
                        .map(|file| io::BufWriter::with_capacity(1 << 20, file))
                })
            };
        scry_capture::record(open, &options, &stop, &mut progress)
            .map_err(disk_full)
            .with_context(|| format!("recording to {}", path.display()))?
    };
    if show_progress {
        eprintln!();
    }
    report(&summary, if to_stdout { None } else { Some(&path) });
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

    fn open(&mut self, segment: u32) -> io::Result<io::BufWriter<File>> {
        use std::os::unix::ffi::OsStringExt;
        let mut name = self.base.clone();
        name.extend_from_slice(format!("-{}-{:04}.scry", utc_stamp(), segment + 1).as_bytes());
        let path = PathBuf::from(std::ffi::OsString::from_vec(name));
        let file = output::create_private(&path)?;
        self.written.push_back(path);
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
        Ok(io::BufWriter::with_capacity(1 << 20, file))
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

fn report(summary: &RecordSummary, path: Option<&Path>) {
    let mut err = io::stderr().lock();
    let target = path.map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
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
