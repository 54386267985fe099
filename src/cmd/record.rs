//! `scry record`: turns flags into a capture configuration, handles the
//! signals that stop a capture, and reports the outcome.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
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
    };
    let to_stdout = args.output.as_deref() == Some(Path::new("-"));
    if to_stdout && io::stdout().is_terminal() {
        return Err(crate::exit::UsageError(
            "refusing to write a binary trace to a terminal: redirect standard output or use -w FILE".to_owned(),
        )
        .into());
    }
    let path = args.output.clone().unwrap_or_else(default_name);
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
            || Ok(io::BufWriter::with_capacity(1 << 20, io::stdout())),
            &options,
            &stop,
            &mut progress,
        )?
    } else {
        scry_capture::record(
            || create_private(&path).map(|file| io::BufWriter::with_capacity(1 << 20, file)),
            &options,
            &stop,
            &mut progress,
        )
        .with_context(|| format!("recording to {}", path.display()))?
    };
    if show_progress {
        eprintln!();
    }
    report(&summary, if to_stdout { None } else { Some(&path) });
    Ok(Code::Ok)
}

/// Creates (or truncates) `path` readable and writable by its owner only:
/// traces hold secrets (buffers, command lines).
fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode on open: tighten it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

fn default_name() -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let stamp: String = scry_format::format_rfc3339(now)
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .collect();
    PathBuf::from(format!("scry-{stamp}Z.scry"))
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
