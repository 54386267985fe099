//! Which processes a capture records. A targeted capture loads the probe
//! with its `targets` map switched on and seeds the map with the initial
//! processes before attaching; from then on the kernel adds every child a
//! target forks (before the child runs) and removes targets as they exit, so
//! nothing a target starts escapes and user space never races a fork.
//!
//! `--container` is matched in the kernel on the cgroup instead: a process
//! is in a container when it runs in one of the container's cgroups, however
//! it got there (`docker exec` starts its shell on the host and moves it in).
//! [`CgroupWatch`] finds those cgroups in the cgroup v2 hierarchy as they
//! appear, so a container started during the capture is recorded too. Only
//! processes whose container shows in a cgroup v1 hierarchy alone (hybrid
//! hosts with the cgroupfs driver) are followed by tgid.
//!
//! `-- CMD` needs CMD to be a target before its first syscall. The command
//! is started through a shim (any program that calls [`exec_when_ready`],
//! e.g. the scry binary itself): the shim blocks on a FIFO, the recorder
//! makes the shim's pid a target, attaches, and writes one byte to the FIFO;
//! only then does the shim exec CMD, which keeps the real standard streams.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use rustix::fs::inotify;

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
    /// Every process that runs in a container whose id starts with one of
    /// these prefixes (at least [`CONTAINER_PREFIX_MIN`] characters each):
    /// in one of its cgroups, whenever it got there, including containers
    /// that start during the capture.
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

/// Whether process `pid` is running (has a `/proc` entry).
pub fn is_running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The processes the kernel follows by tgid (with their descendants) for a
/// `Pids` or `Container` target. Called before attaching (to seed the map)
/// and once after (to catch what forked in between, when the kernel was not
/// yet following forks). For a container these are only the processes the
/// cgroup v2 hierarchy does not place in it ([`CgroupWatch`] covers the
/// others); a container with no process yet is refused only when there is
/// no cgroup v2 hierarchy to watch for it.
pub(crate) fn resolve(target: &Target) -> Result<Vec<u32>> {
    match target {
        Target::Host | Target::Command { .. } => Ok(Vec::new()),
        Target::Pids(pids) => {
            let mut found = Vec::new();
            for &pid in pids {
                if !is_running(pid) {
                    return Err(CaptureError::Target(format!("no process has pid {pid}")));
                }
                descendants(pid, &mut found);
            }
            Ok(found)
        }
        Target::Container(prefixes) => {
            let watched = cgroup2_root().is_some();
            let mut found = Vec::new();
            for prefix in prefixes {
                if prefix.len() < CONTAINER_PREFIX_MIN {
                    return Err(CaptureError::Target(format!(
                        "container id '{prefix}' is too short: give at least {CONTAINER_PREFIX_MIN} characters"
                    )));
                }
                let (v1_only, any) = container_processes(prefix);
                if !any && !watched {
                    return Err(CaptureError::Target(format!(
                        "no running process belongs to a container whose id starts with '{prefix}'"
                    )));
                }
                found.extend(v1_only);
            }
            Ok(found)
        }
    }
}

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on hybrid hosts), from `/proc/self/mountinfo`.
pub(crate) fn cgroup2_root() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        // `id parent dev root mountpoint options… - fstype source options`
        let (fields, rest) = line.split_once(" - ")?;
        if rest.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        Some(unescape_mount_path(fields.split_whitespace().nth(4)?))
    })
}

/// A mountinfo path: space, tab, newline and backslash are octal escapes.
fn unescape_mount_path(path: &str) -> PathBuf {
    let out = scry_format::unescape(path.as_bytes(), scry_format::Escape::Octal);
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// The cgroups of a `--container` target: every directory of the cgroup v2
/// hierarchy whose path names a container id starting with one of the
/// prefixes (the container's scope and anything nested in it). Asked again
/// and again during the capture, each time for the cgroups not seen before.
/// A cgroup's id, which the kernel compares, is the inode number of its
/// directory; ids are never reused, so a cgroup once added needs no
/// removal.
///
/// The hierarchy is walked once; after that, inotify reports the
/// directories created in it (runtimes create cgroups with mkdir), so
/// asking costs one read. Without inotify (or past its watch limit) the
/// hierarchy is walked again, at most every [`WALK_INTERVAL`]: a walk reads
/// every cgroup directory, tens of milliseconds on a host with a thousand
/// cgroups.
#[derive(Debug)]
pub(crate) struct CgroupWatch {
    root: PathBuf,
    prefixes: Vec<String>,
    known: HashSet<u64>,
    /// The inotify instance and what its watches watch; `None` once
    /// inotify cannot keep up.
    inotify: Option<(OwnedFd, Watched)>,
    last_walk: Option<Instant>,
}

/// Per inotify watch, the directory it watches: its path, and its path
/// relative to the hierarchy's root.
type Watched = HashMap<i32, (PathBuf, String)>;

/// Least time between two walks of the hierarchy without inotify.
const WALK_INTERVAL: Duration = Duration::from_secs(1);

impl CgroupWatch {
    /// A watch of the host's cgroup v2 hierarchy; `None` without one.
    pub(crate) fn new(prefixes: &[String]) -> Option<Self> {
        Some(Self::at(cgroup2_root()?, prefixes))
    }

    pub(crate) fn at(root: PathBuf, prefixes: &[String]) -> Self {
        let inotify = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
            .ok()
            .map(|fd| (fd, HashMap::new()));
        Self {
            root,
            prefixes: prefixes.to_vec(),
            known: HashSet::new(),
            inotify,
            last_walk: None,
        }
    }

    /// The ids of the container cgroups that appeared since the last call.
    pub(crate) fn scan(&mut self) -> Vec<u64> {
        let mut new = Vec::new();
        let created = if self.last_walk.is_some() {
            self.created()
        } else {
            None
        };
        match created {
            Some(created) => {
                for (dir, relative) in created {
                    self.check(&dir, &relative, &mut new);
                    self.walk(dir, relative, &mut new);
                }
            }
            None => {
                let due = self
                    .last_walk
                    .is_none_or(|at| self.inotify.is_some() || at.elapsed() >= WALK_INTERVAL);
                if due {
                    self.last_walk = Some(Instant::now());
                    self.walk(self.root.clone(), String::new(), &mut new);
                }
            }
        }
        new
    }

    /// The directories inotify reported created since the last call;
    /// `None` without inotify, or when it lost events (the hierarchy must
    /// be walked again).
    fn created(&mut self) -> Option<Vec<(PathBuf, String)>> {
        let (fd, dirs) = self.inotify.as_mut()?;
        let mut created = Vec::new();
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
        let mut reader = inotify::Reader::new(&*fd, &mut buf);
        // Until EAGAIN: nothing more for now.
        while let Ok(event) = reader.next() {
            let flags = event.events();
            if flags.contains(inotify::ReadFlags::QUEUE_OVERFLOW) {
                return None;
            }
            if flags.contains(inotify::ReadFlags::IGNORED) {
                // The directory is gone.
                dirs.remove(&event.wd());
            } else if flags.contains(inotify::ReadFlags::CREATE | inotify::ReadFlags::ISDIR)
                && let (Some((dir, relative)), Some(name)) =
                    (dirs.get(&event.wd()), event.file_name())
                && let Ok(name) = name.to_str()
            {
                created.push((dir.join(name), format!("{relative}/{name}")));
            }
        }
        Some(created)
    }

    /// Adds `dir`'s id to `new` if it is a cgroup of the target not seen
    /// before.
    fn check(&mut self, dir: &Path, relative: &str, new: &mut Vec<u64>) {
        if self.is_ours(relative)
            && let Ok(meta) = std::fs::metadata(dir)
            && self.known.insert(meta.ino())
        {
            new.push(meta.ino());
        }
    }

    fn is_ours(&self, relative: &str) -> bool {
        crate::snapshot::container_of(relative)
            .is_some_and(|(id, _)| self.prefixes.iter().any(|p| id.starts_with(p)))
    }

    /// Walks the hierarchy below `dir` (whose own id the caller checks),
    /// adding the ids of the target's cgroups to `new` and, with inotify, a
    /// watch to every directory. A watch is added before its directory is
    /// read, so a subdirectory created meanwhile is read or reported, or
    /// both (ids are added once).
    fn walk(&mut self, dir: PathBuf, relative: String, new: &mut Vec<u64>) {
        let mut pending = vec![(dir, relative)];
        while let Some((dir, relative)) = pending.pop() {
            self.watch(&dir, &relative);
            // A cgroup removed during the walk is simply gone.
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let path = format!("{relative}/{name}");
                // The directory entry's inode number is the cgroup id:
                // no stat needed.
                if self.is_ours(&path) && self.known.insert(entry.ino()) {
                    new.push(entry.ino());
                }
                pending.push((entry.path(), path));
            }
        }
    }

    /// Watches `dir` for new subdirectories; past inotify's limits, gives
    /// inotify up for periodic walks.
    fn watch(&mut self, dir: &Path, relative: &str) {
        let Some((fd, dirs)) = self.inotify.as_mut() else {
            return;
        };
        let flags = inotify::WatchFlags::CREATE | inotify::WatchFlags::ONLYDIR;
        match inotify::add_watch(&*fd, dir, flags) {
            Ok(wd) => {
                dirs.insert(wd, (dir.to_path_buf(), relative.to_owned()));
            }
            // Removed meanwhile: nothing to watch.
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => {}
            Err(_) => self.inotify = None,
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

/// Processes whose cgroup names a container id starting with `prefix`:
/// those whose cgroup v2 path does not name it (found in a v1 hierarchy
/// only), and whether there was any.
fn container_processes(prefix: &str) -> (Vec<u32>, bool) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (Vec::new(), false);
    };
    let mut any = false;
    let v1_only = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cgroups) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
                return false;
            };
            let (v2, container) = crate::snapshot::parse_cgroups(&cgroups);
            if !container.is_some_and(|(id, _)| id.starts_with(prefix)) {
                return false;
            }
            any = true;
            crate::snapshot::container_of(&v2).is_none()
        })
        .collect();
    (v1_only, any)
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
    fn a_cgroup_watch_finds_each_container_cgroup_once_as_it_appears() {
        let root = std::env::temp_dir().join(format!("scry-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let id = format!("5c7a{}", "0".repeat(60));
        let other = format!("b0b0{}", "0".repeat(60));
        let scope = root.join(format!("system.slice/docker-{id}.scope"));
        let nested = scope.join("init.scope");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::create_dir_all(root.join(format!("system.slice/docker-{other}.scope"))).unwrap();
        std::fs::create_dir_all(root.join("user.slice/session-4.scope")).unwrap();
        let ino = |path: &Path| std::fs::metadata(path).unwrap().ino();
        let mut watch = CgroupWatch::at(root.clone(), &["5c7a".to_owned()]);
        let mut found = watch.scan();
        found.sort_unstable();
        let mut expected = vec![ino(&scope), ino(&nested)];
        expected.sort_unstable();
        assert_eq!(found, expected);
        assert!(watch.scan().is_empty(), "known cgroups are not repeated");
        // A pod's container, deeper down, appearing later.
        let late = root.join(format!(
            "kubepods.slice/kubepods-pod1.slice/cri-containerd-{id}.scope"
        ));
        std::fs::create_dir_all(&late).unwrap();
        assert_eq!(watch.scan(), vec![ino(&late)]);
        // A cgroup created inside a known one (systemd in the container).
        let inner = scope.join("system.slice");
        std::fs::create_dir(&inner).unwrap();
        assert_eq!(watch.scan(), vec![ino(&inner)]);
        assert!(watch.scan().is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(
            unescape_mount_path("/sys/fs/cgroup/my\\040group"),
            PathBuf::from("/sys/fs/cgroup/my group")
        );
        assert_eq!(
            unescape_mount_path("/a\\134b\\04"),
            PathBuf::from("/a\\b\\04")
        );
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
