//! Which processes a capture records. A targeted capture loads the probe
//! with its `targets` map switched on and seeds the map with the initial
//! processes before attaching; from then on the kernel adds every child a
//! target forks (before the child runs) and removes targets as they exit, so
//! nothing a target starts escapes and user space never races a fork.
//!
//! `-- CMD` needs CMD to be a target before its first syscall. The command
//! is started through a shim (any program that calls [`exec_when_ready`],
//! e.g. the scry binary itself): the shim blocks on a FIFO, the recorder
//! makes the shim's pid a target, attaches, and writes one byte to the FIFO;
//! only then does the shim exec CMD, which keeps the real standard streams.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use crate::error::{CaptureError, Result};

/// What a capture records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Target {
    /// Every process of the host (except the recorder itself).
    #[default]
    Host,
    /// These processes, their current descendants and everything they
    /// start during the capture.
    Pids(Vec<u32>),
    /// Every process whose container id starts with one of these prefixes
    /// (at least [`CONTAINER_PREFIX_MIN`] characters each), and what they
    /// start.
    Container(Vec<String>),
    /// A command started for the capture, and everything it starts. The
    /// capture ends when the command exits.
    Command {
        /// The command and its arguments.
        argv: Vec<OsString>,
        /// The program and leading arguments of the shim: it is run as
        /// `shim… FIFO -- argv…` and must call [`exec_when_ready`].
        shim: Vec<OsString>,
    },
}

/// Processes the kernel follows at once in a targeted capture; children
/// beyond it run unrecorded and are counted
/// ([`crate::RecordSummary::targets_missed`]).
pub const TARGETS_MAX: u32 = scry_probe::abi::TARGETS_MAX;

/// Shortest container id prefix accepted: shorter ones match by accident.
pub const CONTAINER_PREFIX_MIN: usize = 3;

impl Target {
    /// How the file header's `capture.target` names this target.
    pub(crate) fn describe(&self) -> String {
        match self {
            Target::Host => "host".to_owned(),
            Target::Pids(pids) => {
                let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
                format!("pid {}", pids.join(", "))
            }
            Target::Container(ids) => format!("container {}", ids.join(", ")),
            Target::Command { argv, .. } => {
                let argv: Vec<String> = argv
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                format!("command {}", argv.join(" "))
            }
        }
    }
}

/// The current processes of a `Pids` or `Container` target. Called before
/// attaching (to seed the map) and once after (to catch what forked in
/// between, when the kernel was not yet following forks).
pub(crate) fn resolve(target: &Target) -> Result<Vec<u32>> {
    match target {
        Target::Host | Target::Command { .. } => Ok(Vec::new()),
        Target::Pids(pids) => {
            let mut found = Vec::new();
            for &pid in pids {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(CaptureError::Target(format!("no process has pid {pid}")));
                }
                descendants(pid, &mut found);
            }
            Ok(found)
        }
        Target::Container(prefixes) => {
            let mut found = Vec::new();
            for prefix in prefixes {
                if prefix.len() < CONTAINER_PREFIX_MIN {
                    return Err(CaptureError::Target(format!(
                        "container id '{prefix}' is too short: give at least {CONTAINER_PREFIX_MIN} characters"
                    )));
                }
                let before = found.len();
                found.extend(container_processes(prefix));
                if found.len() == before {
                    return Err(CaptureError::Target(format!(
                        "no running process belongs to a container whose id starts with '{prefix}'"
                    )));
                }
            }
            Ok(found)
        }
    }
}

/// `pid` and its descendants, from `/proc/PID/task/*/children` (each thread
/// lists the children it forked).
fn descendants(pid: u32, found: &mut Vec<u32>) {
    let mut pending = vec![pid];
    while let Some(pid) = pending.pop() {
        if found.contains(&pid) {
            continue;
        }
        found.push(pid);
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            pending.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
}

/// Processes whose cgroup names a container id starting with `prefix`.
fn container_processes(prefix: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|cgroups| {
                crate::snapshot::parse_cgroups(&cgroups)
                    .1
                    .is_some_and(|(id, _)| id.starts_with(prefix))
            })
        })
        .collect()
}

/// A command waiting in its shim for the capture to attach.
#[derive(Debug)]
pub(crate) struct Launch {
    pub(crate) child: Child,
    /// The recorder's end of the FIFO, open read-write so that neither side
    /// ever blocks on open, and so that the shim reads end-of-file (and gives
    /// up) if the recorder dies before releasing it.
    fifo: File,
    dir: PathBuf,
}

impl Launch {
    /// Starts the shim; it waits for [`Launch::release`].
    pub(crate) fn start(argv: &[OsString], shim: &[OsString]) -> Result<Self> {
        let (program, leading) = shim
            .split_first()
            .ok_or_else(|| CaptureError::Target("no program to start the command".to_owned()))?;
        if argv.is_empty() {
            return Err(CaptureError::Target("no command to run".to_owned()));
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("scry-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| CaptureError::io(format!("creating {}", dir.display()), e))?;
        let cleanup = |e: CaptureError| {
            let _ = std::fs::remove_dir_all(&dir);
            e
        };
        let path = dir.join("go");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &path,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .map_err(|e| cleanup(CaptureError::io("creating the start FIFO", e.into())))?;
        let fifo = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| cleanup(CaptureError::io("opening the start FIFO", e)))?;
        let child = Command::new(program)
            .args(leading)
            .arg(&path)
            .arg("--")
            .args(argv)
            .spawn()
            .map_err(|e| {
                cleanup(CaptureError::io(
                    format!("starting {}", program.to_string_lossy()),
                    e,
                ))
            })?;
        Ok(Self { child, fifo, dir })
    }

    /// The shim's pid: the first target.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets the shim exec the command: call once the probe is attached.
    /// The FIFO stays open on this side until the command is done: a byte
    /// written into a FIFO that nobody holds open is lost, and the shim may
    /// not have opened it yet.
    pub(crate) fn release(&mut self) -> Result<()> {
        self.fifo
            .write_all(b"g")
            .map_err(|e| CaptureError::io("starting the command", e))
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The shim's side of `-- CMD`: waits until the recorder has made this
/// process a target (one byte on `fifo`), then replaces this process with
/// `argv`. Returns only on failure; if the recorder went away without
/// releasing, the command is not run.
pub fn exec_when_ready(fifo: &Path, argv: &[OsString]) -> io::Error {
    let Some((program, args)) = argv.split_first() else {
        return io::Error::new(io::ErrorKind::InvalidInput, "no command to run");
    };
    let mut go = [0u8; 1];
    // Opened without blocking, then read blocking: a blocking open would
    // wait forever if the recorder died before this shim got here, while a
    // read with no writer left returns end-of-file.
    let read = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(fifo)
        .and_then(|mut f| {
            rustix::fs::fcntl_setfl(&f, rustix::fs::OFlags::empty())?;
            f.read(&mut go)
        });
    match read {
        Ok(1) => Command::new(program).args(args).exec(),
        Ok(_) => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the recorder stopped before the command could start",
        ),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_described_for_the_file_header() {
        assert_eq!(Target::Host.describe(), "host");
        assert_eq!(Target::Pids(vec![12, 34]).describe(), "pid 12, 34");
        assert_eq!(
            Target::Container(vec!["abcdef".to_owned()]).describe(),
            "container abcdef"
        );
        let command = Target::Command {
            argv: vec!["make".into(), "-j8".into()],
            shim: vec!["scry".into()],
        };
        assert_eq!(command.describe(), "command make -j8");
    }

    #[test]
    fn a_pid_target_includes_its_current_descendants() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let found = resolve(&Target::Pids(vec![std::process::id()])).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found[0], std::process::id());
        assert!(found.contains(&child.id()), "{found:?}");
    }

    #[test]
    fn missing_processes_and_short_container_ids_are_refused() {
        assert!(matches!(
            resolve(&Target::Pids(vec![u32::MAX - 1])),
            Err(CaptureError::Target(_))
        ));
        assert!(matches!(
            resolve(&Target::Container(vec!["ab".to_owned()])),
            Err(CaptureError::Target(_))
        ));
    }
}
