//! Command-line definitions. Flags follow sysdig where sysdig has one, so
//! muscle memory carries over.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  ran fine but found nothing
  2  usage or filter syntax error
  3  unreadable, corrupt or unsupported trace (verify: any damage or truncation)
  4  capture failed (privileges, kernel support)";

/// A forensic flight recorder for Linux: record every syscall with eBPF into
/// compact, self-contained trace files, then analyse them offline.
#[derive(Debug, Parser)]
#[command(name = "scry", version, about, max_term_width = 100)]
#[command(after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record every syscall of this host into a trace file (needs root, or
    /// CAP_BPF and CAP_PERFMON).
    #[cfg(feature = "capture")]
    #[command(after_help = "\
Examples:
  sudo scry record -w incident.scry              until Ctrl-C
  sudo scry record -w quick.scry -M 30           30 seconds
  sudo scry record -w burst.scry -n 100000       the first 100,000 events
  sudo scry record -w - | ssh analyst 'cat > host.scry'
  sudo scry record -w build.scry -- make -j8      one command and its descendants
  sudo scry record -w db.scry -p 1234            a process and its descendants
  sudo scry record -w web.scry --container 3f2a  one container
  sudo scry record -w ssh.scry 'proc.name!=sshd'  a capture filter
  sudo scry record -w net.scry --syscalls connect,accept,accept4

Ctrl-C (SIGINT) or SIGTERM stops the capture cleanly: the kernel buffers are
drained and the file is closed with its statistics and index. Events the
kernel could not deliver are counted per CPU, written into the file and
printed at exit. Trace files are created readable by their owner only.")]
    Record(RecordArgs),

    /// Print the events of traces that match a filter, as sysdig does:
    /// one line each, a custom format, or JSON Lines.
    #[command(after_help = "\
Examples:
  scry read incident.scry
  scry read incident.scry 'proc.name=sshd and evt.type=connect'
  scry read incident.scry evt.failed=true -p '%evt.time %proc.name %evt.type %evt.res'
  scry read incident.scry fd.name contains /etc -j | jq -r '.\"proc.name\"'
  scry read segments/ --since +30s --until 2026-11-25T05:10:00Z -n 100
  scry read incident.scry 'evt.type=connect' --count

Every argument after the traces that is not an existing file is part of the
filter (quoting it is optional). Output is streamed, never paged. Exits 1
when nothing matched, 2 for a bad filter or format, 3 for an unreadable
trace.")]
    Read(ReadArgs),

    /// Explore traces in a terminal UI: an overview of the capture, then
    /// processes, files, connections… down to the bytes read and written.
    #[command(after_help = "\
Examples:
  scry view incident.scry
  scry view incident.scry 'not proc.name in (sshd, systemd)'
  scry view segments/ --no-mouse

Starts on an overview of the whole capture: tiles with totals and activity
over time, each opening its view (Enter, or the tile's number). Enter on a
row drills into it (d chooses the view: a process' files, connections or
events), Esc goes back; F2 or : switches view, f or F4 filters, / searches,
t selects a time range, e shows the I/O bytes, ? lists every key. The trace
is indexed once, in the background, with a progress bar. Exits 2 for a bad
filter or without a terminal, 3 for an unreadable trace or when a
background pass fails.")]
    View(ViewArgs),
    /// Summarise traces: the top processes, files, connections, ports,
    /// syscalls, errors, containers or users, by any filter.
    #[command(after_help = TOP_HELP)]
    Top(TopArgs),

    /// Follow people and files: every command interactive users ran, or
    /// everything that touched a file.
    #[command(subcommand)]
    Spy(SpyCommand),

    /// Print the bytes read and written on matching fds, in order, as
    /// sysdig's echo_fds does.
    #[command(after_help = "\
Examples:
  scry echo incident.scry 'fd.type in (ipv4, ipv6) and proc.name=sh'
  scry echo incident.scry fd.name=/etc/passwd -X
  scry echo incident.scry 'fd.sport=4444' -j

Each block is headed by its direction, size, process and fd. Exits 1 when no
I/O matched.")]
    Echo(EchoArgs),

    /// Print the process tree of a capture: who spawned what, when, and how
    /// it ended.
    #[command(after_help = "\
Examples:
  scry tree incident.scry
  scry tree incident.scry 'proc.name=sh'      the shells and their ancestors
  scry tree incident.scry -j | jq 'select(.exit_code != 0)'

With a filter, the tree holds the processes that had a matching event and
their ancestors.")]
    Tree(ReportArgs),

    /// List syscalls (or file I/O) slower than a threshold, slowest first.
    #[command(after_help = "\
Examples:
  scry slow incident.scry                      syscalls over 10 ms
  scry slow incident.scry --threshold 1ms --files
  scry slow incident.scry 'proc.name=postgres' -n 50 -j

Durations are recorded by scry record for every syscall (evt.latency).
Calls that wait by design (evt.is_wait) are left out unless --waits.")]
    Slow(SlowArgs),

    /// Show what a trace holds: machine, capture settings, time range,
    /// events per type, drops, chunks, and whether it is complete.
    #[command(after_help = "\
Examples:
  scry info incident.scry
  scry info segment-*.scry
  cat trace.scry | scry info -

A trace cut off by a crash is read up to its last complete chunk and shown
as TRUNCATED; damaged chunks are listed with their byte offsets.")]
    Info(InfoArgs),

    /// Check every checksum and decode every event of a trace.
    #[command(after_help = "\
Examples:
  scry verify incident.scry
  scry verify --quiet *.scry && echo all good

Exits 0 when every trace is whole, 3 when any is damaged, cut off or
unreadable.")]
    Verify(VerifyArgs),

    /// Write a sysdig or Falco capture (.scap, plain or gzip) as a scry
    /// trace.
    #[command(after_help = "\
Examples:
  scry convert capture.scap -w capture.scry
  scry convert falco-event.scap.gz -w - | scry info -

Every command reads .scap files directly; converting makes later reads
faster and the file smaller. The trace keeps every event, and of the
capture's process, fd and user lists what its events can reach: the
processes that made syscalls, their ancestors and session leaders, their
fds, the accounts they run as. Processes idle throughout the capture are
left out unless --full-snapshot is given. Exits 3 when the capture is
unreadable; a capture cut off or damaged part way is converted up to the
damage, with a warning.")]
    Convert(ConvertArgs),

    /// List every field a filter or an output format can use, with its type
    /// and meaning.
    #[command(after_help = "\
Examples:
  scry fields
  scry fields | grep ^fd.
  scry fields --json | jq -r 'select(.type == \"ip\") | .name'")]
    Fields {
        /// One JSON object per line: name, type, argument, description.
        #[arg(short, long)]
        json: bool,
    },

    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  scry completions bash > /etc/bash_completion.d/scry
  scry completions zsh > \"${fpath[1]}/_scry\"
  scry completions fish > ~/.config/fish/completions/scry.fish")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },

    /// Internal: the shim of `scry record -- CMD`. Waits for one byte on
    /// FIFO (the capture is attached), then execs CMD in its place.
    #[cfg(feature = "capture")]
    #[command(name = "__exec-when-ready", hide = true)]
    ExecWhenReady {
        /// The FIFO the recorder writes to once CMD is a target.
        fifo: PathBuf,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        argv: Vec<std::ffi::OsString>,
    },

    /// Print the man page (roff) on standard output.
    #[command(after_help = "\
Examples:
  scry man | man -l -
  scry man > /usr/local/share/man/man1/scry.1")]
    Man,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Trace files or directories of segments (`-` reads one from standard
    /// input), then the filter.
    #[arg(value_name = "FILE… [FILTER]")]
    pub inputs: Vec<String>,

    /// A trace to read (repeatable); every positional argument is then
    /// part of the filter.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,

    /// Output format: `%field` tokens and literal text (`%10proc.name` pads
    /// or cuts to 10 characters). A line is printed only when every field
    /// applies, unless the format starts with `*` (missing fields print
    /// <NA>). `-pc` is the default line with container columns.
    #[arg(short = 'p', long = "print", value_name = "FORMAT")]
    pub format: Option<String>,

    /// JSON Lines: one object per event, keyed by field names.
    #[arg(short = 'j', long)]
    pub json: bool,

    /// How evt.outputtime is shown: h clock time (UTC), a seconds since the
    /// epoch, r since the first event shown, d the syscall's duration, D
    /// since the previous event shown.
    #[arg(short = 't', long = "timetype", value_name = "MODE", default_value = "h",
          value_parser = ["h", "a", "r", "d", "D"])]
    pub time: String,

    /// Stop after this many events.
    #[arg(short = 'n', long = "numevents", value_name = "N", value_parser = parse_limit)]
    pub limit: Option<u64>,

    /// Print I/O buffers under their event as ASCII (printable bytes and
    /// line ends). Not with -j, whose lines carry buffers as the field
    /// `%evt.buffer` of a -p format.
    #[arg(short = 'A', long = "print-ascii", conflicts_with_all = ["hex", "json"])]
    pub ascii: bool,

    /// Print I/O buffers under their event as a hex dump with an ASCII
    /// column. Not with -j.
    #[arg(short = 'X', long = "print-hex-ascii", conflicts_with = "json")]
    pub hex: bool,

    /// Bytes of each I/O buffer printed (at most what was captured).
    #[arg(short = 's', long = "snaplen", value_name = "BYTES")]
    pub snaplen: Option<usize>,

    /// Only events at or after this time: RFC 3339 (2026-11-25T05:00:00Z),
    /// an offset from the first event (+5s), or a duration back from the
    /// last one (15m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events at or before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Print only the number of matching events.
    #[arg(long, conflicts_with_all = ["json", "format", "quiet"])]
    pub count: bool,

    /// Print nothing; the exit code says whether anything matched.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Decoding threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Stop with exit code 3 at the first damaged chunk instead of
    /// skipping it with a warning.
    #[arg(long)]
    pub strict: bool,
}

const TOP_HELP: &str = "\
Views:
  procs        processes by syscalls, with time in syscalls, bytes read and
               written, errors; by CPU time first when the trace has the
               procinfo samples of sysdig captures
  threads      threads by syscalls
  files        files by bytes read and written, with opens
  dirs         directories by bytes read and written in their files
  conns        network connections by bytes
  ports        server ports by connections and bytes
  syscalls     syscalls by count, with total and longest time, errors
  errors       failed syscalls by error, call and process
  containers   containers by syscalls, processes and bytes
  users        users by syscalls, processes and programs run
  procs-files  file I/O per process and file
  procs-net    network I/O per process

Examples:
  scry top files incident.scry
  scry top procs incident.scry 'container.id!=host' -n 5
  scry top conns incident.scry -j | jq -r '.\"fd.name\"'
  scry top errors segments/ --since +10m
  scry top incident.scry --by proc.name --sum evt.rawres 'evt.is_io_write=true'
  scry top files incident.scry --by proc.name,fd.name --sort write

Tables show sizes and durations in units that fit on a terminal and exact
numbers otherwise (--human forces units). --by and --sum turn any view, or
no view, into sysdig's fdbytes_by/fdcount_by: rows keyed by any fields,
summing any numeric field (negative values, the errors of failed calls, are
left out). Sums of evt.rawres and evt.buflen count I/O calls only
(evt.is_io=true), as fdbytes_by does: other calls return fds, pids and
addresses. A filter that names the calls itself (evt.type, evt.is_io,
evt.is_io_read, evt.category…) lifts that. Exits 1 when no event reached a
row.";

/// The time window and decoding threads of an analysis command.
#[derive(Debug, Args)]
pub struct Selection {
    /// Only events at or after this time: RFC 3339 (2026-11-25T05:00:00Z),
    /// an offset from the first event (+5s), or a duration back from the
    /// last one (15m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events at or before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Decoding threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Stop with exit code 3 at the first damaged chunk instead of
    /// skipping it with a warning.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// The view (see below; optional with --by), the traces or directories
    /// of segments, then the filter.
    #[arg(value_name = "VIEW FILE… [FILTER]", required = true)]
    pub inputs: Vec<String>,

    /// Rows shown, largest first (0 for all).
    #[arg(short = 'n', long = "rows", value_name = "N", default_value_t = 20)]
    pub rows: usize,

    /// Key the rows by these fields instead of the view's (comma-separated
    /// or repeated).
    #[arg(long, value_name = "FIELD", value_delimiter = ',')]
    pub by: Vec<String>,

    /// Measure the sum of these numeric fields instead of the view's
    /// measures (comma-separated or repeated).
    #[arg(long, value_name = "FIELD", value_delimiter = ',')]
    pub sum: Vec<String>,

    /// Sort by this column (a measure's header, any case).
    #[arg(long, value_name = "COLUMN")]
    pub sort: Option<String>,

    /// JSON Lines: one object per row, keys named by their fields.
    #[arg(short = 'j', long)]
    pub json: bool,

    /// Sizes and durations in units that fit, even off a terminal.
    #[arg(long)]
    pub human: bool,

    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Subcommand)]
pub enum SpyCommand {
    /// Every command run by interactive users (on a terminal), indented
    /// under their login shell, as sysdig's spy_users.
    #[command(after_help = "\
Examples:
  scry spy users incident.scry
  scry spy users incident.scry 'user.name=alice' -j")]
    Users(ReportArgs),

    /// Everything that touched a file: opens, reads and writes with their
    /// data, renames, deletions, permission changes.
    #[command(after_help = "\
Examples:
  scry spy file /etc/shadow incident.scry
  scry spy file 'fd.directory=/etc/ssh' incident.scry -A
  scry spy file /tmp/.x incident.scry -j

A target starting with / is a path (matched as the fd's name and as the
path argument of calls such as unlink, rename or chmod); anything else is a
filter.")]
    File(SpyFileArgs),
}

/// The arguments of a report: traces, a filter, JSON or not, a window.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Traces or directories of segments, then a filter.
    #[arg(value_name = "FILE… [FILTER]", required = true)]
    pub inputs: Vec<String>,

    /// JSON Lines: one object per line of the report.
    #[arg(short = 'j', long)]
    pub json: bool,

    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Args)]
pub struct SpyFileArgs {
    /// The file's path, or a filter.
    #[arg(value_name = "PATH|FILTER")]
    pub target: String,

    /// Traces or directories of segments.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<std::path::PathBuf>,

    /// Print data under each read and write as ASCII.
    #[arg(short = 'A', long = "print-ascii", conflicts_with = "hex")]
    pub ascii: bool,

    /// Print data under each read and write as a hex dump.
    #[arg(short = 'X', long = "print-hex-ascii")]
    pub hex: bool,

    /// JSON Lines: one object per event.
    #[arg(short = 'j', long)]
    pub json: bool,

    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Args)]
pub struct EchoArgs {
    /// Traces or directories of segments, then the filter choosing fds.
    #[arg(value_name = "FILE… [FILTER]", required = true)]
    pub inputs: Vec<String>,

    /// Data as a hex dump with an ASCII column (default: printable text).
    #[arg(short = 'X', long = "print-hex-ascii")]
    pub hex: bool,

    /// JSON Lines: one object per read or write, data as text.
    #[arg(short = 'j', long)]
    pub json: bool,

    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Args)]
pub struct SlowArgs {
    /// Traces or directories of segments, then a filter.
    #[arg(value_name = "FILE… [FILTER]", required = true)]
    pub inputs: Vec<String>,

    /// Calls at least this long: a duration with a unit (10ms, 500us, 2s).
    #[arg(short = 't', long, value_name = "DURATION", default_value = "10ms")]
    pub threshold: String,

    /// Only file I/O (reads and writes on files), as sysdig's fileslower.
    #[arg(long)]
    pub files: bool,

    /// Include calls that wait by design (sleeps, polls, wait4, futex
    /// waits), left out by default.
    #[arg(long)]
    pub waits: bool,

    /// Calls shown, slowest first (0 for all).
    #[arg(short = 'n', long = "rows", value_name = "N", default_value_t = 20)]
    pub rows: usize,

    /// JSON Lines: one object per call.
    #[arg(short = 'j', long)]
    pub json: bool,

    #[command(flatten)]
    pub selection: Selection,
}

#[derive(Debug, Args)]
pub struct ViewArgs {
    /// Trace files or directories of segments, then the filter that
    /// starts applied (it can be changed in the UI).
    #[arg(value_name = "FILE… [FILTER]")]
    pub inputs: Vec<String>,

    /// A trace to view (repeatable); every positional argument is then
    /// part of the filter.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Vec<PathBuf>,

    /// Leave the mouse to the terminal (text selection) instead of using
    /// it for rows, headers, tiles and the time-line.
    #[arg(long)]
    pub no_mouse: bool,

    /// Decoding threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Trace files to describe, or directories of rotated segments (`-`
    /// reads one from standard input). With several, a last line sums them
    /// up.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Decoding threads for counting events by process (default: one per
    /// core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The capture to convert (`-` reads it from standard input).
    #[arg(value_name = "FILE")]
    pub input: PathBuf,

    /// The trace to write (`-` for standard output); created readable by
    /// its owner only.
    #[arg(short = 'w', long = "write", value_name = "FILE", required = true)]
    pub output: PathBuf,

    /// Print nothing but warnings and errors.
    #[arg(short, long)]
    pub quiet: bool,

    /// Keep every process, fd, user and group of the capture's lists in
    /// the trace's snapshot, even those no event reaches.
    #[arg(long)]
    pub full_snapshot: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Trace files to check (`-` reads one from standard input).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Print nothing for traces that are whole.
    #[arg(short, long)]
    pub quiet: bool,

    /// Decoding threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[cfg(feature = "capture")]
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Trace file to write (`-` for standard output). Default:
    /// scry-<UTC time>.scry in the current directory.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Keep only events matching FILTER, in the language of `scry read`.
    /// The kernel delivers only the event types the filter can keep, and
    /// only the running processes it pins with `proc.pid` (and their
    /// descendants) when no other target is given; the rest is decided
    /// before writing, and the events left out are counted in the file.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,

    /// Bytes of I/O buffer data kept per event (0 keeps none).
    #[arg(short = 's', long, value_name = "BYTES", default_value_t = 80)]
    pub snaplen: u32,

    /// Keep no I/O buffer data at all (the same as -s 0): for captures
    /// that must not hold file or network contents.
    #[arg(long, conflicts_with = "snaplen")]
    pub no_buffers: bool,

    /// Record only these syscalls (comma-separated names, as `scry fields`
    /// and `evt.type` name them). The process lifecycle calls (clone, fork,
    /// vfork, execve, execveat, exit, exit_group) and process exits are
    /// always recorded, so that every event keeps its process.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub syscalls: Vec<String>,

    /// Stop after this long: seconds, or with a unit (90s, 15m, 2h).
    #[arg(short = 'M', long = "duration", value_name = "SECS", value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// Stop after this many events.
    #[arg(short = 'n', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Kernel ring buffer per CPU: bytes, or with a K, M or G suffix. Rounded
    /// up to a power of two.
    #[arg(long, value_name = "SIZE", default_value = "8M", value_parser = parse_size)]
    pub buffer_size: u64,

    /// Start a new file when the current one reaches this many megabytes
    /// (millions of bytes). -w FILE is then a base name: segments are
    /// FILE-<UTC time>-<number>.scry, sorting by time.
    #[arg(short = 'C', long = "file-size", value_name = "MB", value_parser = clap::value_parser!(u64).range(1..))]
    pub file_size: Option<u64>,

    /// Start a new file every SECS seconds (or with a unit: 90s, 15m, 2h).
    #[arg(short = 'G', long = "seconds", value_name = "SECS", value_parser = parse_duration)]
    pub rotate_every: Option<std::time::Duration>,

    /// With -C or -G, keep at most N files: the oldest is deleted when a
    /// new one starts.
    #[arg(short = 'W', long = "limit", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_files: Option<u32>,

    /// Record only this process and its descendants, including those it
    /// starts during the capture (repeatable).
    #[arg(short = 'p', long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,

    /// Record only the processes of the container whose id starts with ID
    /// (at least 3 characters; repeatable): whatever runs in its cgroups,
    /// including processes that join it (`docker exec`) and a container
    /// that starts during the capture.
    #[arg(long = "container", value_name = "ID")]
    pub containers: Vec<String>,

    /// Run CMD and record it and all its descendants; the capture ends
    /// when CMD exits, and scry exits with CMD's status.
    #[arg(last = true, value_name = "CMD ARGS")]
    pub command: Vec<std::ffi::OsString>,
}

/// Parses a number of events to stop after: none at all would read
/// nothing, as sysdig refuses `-n 0` too.
fn parse_limit(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("-n must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{text}' is not a number of events")),
    }
}

/// Parses `30`, `1.5`, `90s`, `15m`, `2h` into a positive duration.
#[cfg(feature = "capture")]
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("unknown unit '{unit}' (use s, m or h)")),
    };
    let seconds = number
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .ok_or_else(|| format!("'{text}' is not a positive duration like 30 or 15m"))?;
    Ok(std::time::Duration::from_secs_f64(seconds))
}

/// Parses `8M`, `512K`, `1G`, `4096`, `16MiB`.
#[cfg(feature = "capture")]
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size like 8M"))?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("unknown size unit '{unit}' (use K, M or G)")),
    };
    number
        .checked_shl(shift)
        .filter(|n| n >> shift == number)
        .ok_or_else(|| format!("'{text}' is too large"))
}
