//! `scry info`: what a trace holds, from its header, snapshot, chunk
//! summaries and statistics, plus one pass over the events' headers with
//! the state replayed to count events by process and container. Buffer
//! contents are never decompressed, nor parameters decoded beyond what
//! the state needs, so `info` stays quick on a large trace.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;

use anyhow::Context;
use scry_analyze::fields::{self, Field};
use scry_analyze::state::State;
use scry_analyze::{Ctx, Prepared};
use scry_format::scap::ScapReport;
use scry_format::{
    CaptureStats, ChunkSummary, ContainerEntry, Damage, DecodedChunk, EventTable, FileHeader,
    FormatError, IndexEntry, ReadOptions, Snapshot, StreamItem, Truncation,
};

use crate::cli::InfoArgs;
use crate::exit::Code;
use crate::open::{Trace, open_with_origin};
use crate::output;
use crate::traces::expand_directories;

/// Everything `info` prints, gathered from either kind of reader.
struct Overview {
    header: FileHeader,
    version: (u16, u16),
    snapshot: Snapshot,
    chunks: Vec<(u64, ChunkSummary)>,
    stats: Vec<CaptureStats>,
    damage: Vec<Damage>,
    truncation: Option<Truncation>,
    file_bytes: Option<u64>,
    tally: Tally,
    /// Set for a sysdig/Falco capture: how it was read.
    scap: Option<ScapReport>,
}

/// How many processes `info` lists.
const TOP_PROCESSES: usize = 10;

/// Events counted by process and by container, with the state replayed so
/// that names are those at the time of each event (a pid that execs is
/// counted under each of its names).
struct Tally {
    state: State,
    prepared: Prepared,
    table: EventTable,
    proc_name: Option<Field>,
    container_id: Option<Field>,
    /// Per pid, each name it had and its events under that name.
    processes: HashMap<u32, Vec<(String, u64)>>,
    /// Per container id, its name and events.
    containers: HashMap<String, (String, u64)>,
}

impl Tally {
    /// `recorded`: the containers the file describes after its snapshot.
    fn new(snapshot: &Snapshot, table: &EventTable, recorded: &[ContainerEntry]) -> Tally {
        let prepared = Prepared::from_table(table);
        let field = |name: &str| fields::resolve(name, None, &prepared.types, table).ok();
        Tally {
            state: State::with_containers(snapshot, table, recorded.iter().map(|c| &c.info)),
            proc_name: field("proc.name"),
            container_id: field("container.id"),
            prepared,
            table: table.clone(),
            processes: HashMap::new(),
            containers: HashMap::new(),
        }
    }

    fn add(&mut self, chunk: &DecodedChunk) {
        for event in chunk.iter() {
            self.state.apply(&event);
            let names = self
                .table
                .get(event.event_type())
                .map_or(&[][..], |e| &e.params[..]);
            let info = self.prepared.types.get(event.event_type());
            let ctx = Ctx::new(event, info, &self.state, 0, "", names);
            let name = self.proc_name.as_ref().and_then(|f| f.extract(&ctx));
            let name = name
                .as_ref()
                .and_then(|v| v.as_bytes())
                .filter(|n| !n.is_empty())
                .unwrap_or(b"<NA>");
            let names = self.processes.entry(ctx.event.tgid()).or_default();
            match names.iter_mut().find(|(n, _)| n.as_bytes() == name) {
                Some((_, count)) => *count += 1,
                None => names.push((String::from_utf8_lossy(name).into_owned(), 1)),
            }
            let id = self.container_id.as_ref().and_then(|f| f.extract(&ctx));
            let id = id.as_ref().and_then(|v| v.as_bytes()).unwrap_or(b"");
            let id = String::from_utf8_lossy(id);
            match self.containers.get_mut(id.as_ref()) {
                Some((_, count)) => *count += 1,
                None => {
                    let name = self
                        .state
                        .container(&id)
                        .map_or_else(|| id.clone().into_owned(), |c| c.name.clone());
                    self.containers.insert(id.into_owned(), (name, 1));
                }
            }
        }
    }

    /// The busiest processes: (events, name, pid), most events first.
    fn top_processes(&self) -> Vec<(u64, String, u32)> {
        let mut rows: Vec<(u64, String, u32)> = self
            .processes
            .iter()
            .flat_map(|(&pid, names)| names.iter().map(move |(n, c)| (*c, n.clone(), pid)))
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| (&a.1, a.2).cmp(&(&b.1, b.2))));
        rows.truncate(TOP_PROCESSES);
        rows
    }

    /// Every container seen: (events, name, id), most events first.
    fn containers(&self) -> Vec<(u64, String, String)> {
        let mut rows: Vec<(u64, String, String)> = self
            .containers
            .iter()
            .map(|(id, (name, count))| (*count, name.clone(), id.clone()))
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
        rows
    }
}

fn gather(path: &Path, threads: usize) -> anyhow::Result<Overview> {
    let (trace, scap) = open_with_origin(path, ReadOptions::default())?;
    let overview = match trace {
        Trace::Mapped(trace) => {
            let mut tally = Tally::new(
                trace.snapshot(),
                &trace.header().event_table,
                trace.recorded_containers(),
            );
            // The index only vouches for where chunks are: a chunk that
            // fails its checksum or does not decode is found here, and is
            // reported under `status` with what the reader found while
            // opening; the tally skips it.
            let mut damage = trace.damage().to_vec();
            // Every chunk is visited: the walk never stops early.
            let _walked = trace
                .for_each_chunk(
                    threads,
                    |_| true,
                    |chunk| {
                        match chunk {
                            Ok(chunk) => tally.add(chunk),
                            Err(error) => damage.push(chunk_damage(trace.chunks(), &error)),
                        }
                        ControlFlow::<()>::Continue(())
                    },
                )
                .with_context(|| format!("cannot read {}", path.display()))?;
            damage.sort_by_key(|d| d.offset);
            Overview {
                header: trace.header().clone(),
                version: trace.version(),
                snapshot: trace.snapshot().clone(),
                chunks: trace
                    .chunks()
                    .iter()
                    .map(|c| (c.block_len, c.summary.clone()))
                    .collect(),
                stats: trace.stats().iter().map(|s| s.stats.clone()).collect(),
                damage,
                truncation: trace.truncation().cloned(),
                file_bytes: std::fs::metadata(path).ok().map(|m| m.len()),
                tally,
                scap,
            }
        }
        Trace::Stream(mut reader) => {
            let mut chunks = Vec::new();
            let mut stats = Vec::new();
            // Containers recorded later in the stream come too late for
            // the tally: their events count under their ids.
            let mut tally = Tally::new(reader.snapshot(), &reader.header().event_table, &[]);
            while let Some(item) = reader.next_item().context("reading standard input")? {
                match item {
                    StreamItem::Chunk(chunk) => {
                        if let Ok(decoded) = chunk.decode() {
                            tally.add(&decoded);
                        }
                        chunks.push((chunk.entry.block_len, chunk.entry.summary))
                    }
                    StreamItem::Stats(record) => stats.push(record),
                }
            }
            Overview {
                header: reader.header().clone(),
                version: reader.version(),
                snapshot: reader.snapshot().clone(),
                chunks,
                stats,
                damage: reader.damage().to_vec(),
                truncation: reader.truncation().cloned(),
                file_bytes: None,
                tally,
                scap: None,
            }
        }
        // `open_with_origin` reads a capture whole, into a trace in memory.
        Trace::Scap(_) => anyhow::bail!("{}: a capture must be read whole", path.display()),
    };
    Ok(overview)
}

/// A chunk that failed to decode, as a damaged region: the whole block the
/// index places at the error's offset.
fn chunk_damage(chunks: &[IndexEntry], error: &FormatError) -> Damage {
    let (offset, reason) = match error {
        FormatError::Corrupt { offset, reason, .. } => (*offset, reason.clone()),
        other => (0, other.to_string()),
    };
    let len = chunks
        .iter()
        .find(|entry| entry.offset == offset)
        .map_or(0, |entry| entry.block_len);
    Damage {
        offset,
        len,
        reason,
    }
}

pub fn run(args: &InfoArgs) -> anyhow::Result<Code> {
    // A directory stands for its rotated segments, as for `read`.
    let paths = expand_directories(&args.files)?;
    let threads = args.threads.unwrap_or_else(scry_format::default_threads);
    let mut out = io::stdout().lock();
    let mut totals = Totals::default();
    for (i, path) in paths.iter().enumerate() {
        let overview = gather(path, threads)?;
        if i > 0 {
            writeln!(out)?;
        }
        print(&mut out, path, &overview)?;
        totals.add(&overview);
    }
    if paths.len() > 1 {
        writeln!(out)?;
        totals.print(&mut out)?;
    }
    out.flush()?;
    Ok(Code::Ok)
}

/// What several traces hold together.
#[derive(Default)]
struct Totals {
    traces: usize,
    events: u64,
    chunks: usize,
    range: Option<(u64, u64)>,
    hosts: Vec<String>,
}

impl Totals {
    fn add(&mut self, o: &Overview) {
        self.traces += 1;
        self.events += o
            .chunks
            .iter()
            .map(|(_, c)| u64::from(c.events))
            .sum::<u64>();
        self.chunks += o.chunks.len();
        if let Some((first, last)) = time_range(o) {
            self.range = Some(
                self.range
                    .map_or((first, last), |(lo, hi)| (lo.min(first), hi.max(last))),
            );
        }
        let host = match o.header.machine.hostname.as_str() {
            "" => "unknown",
            name => name,
        };
        if !self.hosts.iter().any(|h| h == host) {
            self.hosts.push(host.to_owned());
        }
    }

    /// One line: `all        3 traces, 1,200 events in 24 chunks, … .. …
    /// (1.5s), host web1`.
    fn print(&self, out: &mut impl Write) -> io::Result<()> {
        let time = match self.range {
            Some((first, last)) => format!(
                "{} .. {} ({})",
                output::time(first),
                output::time(last),
                output::duration(last - first)
            ),
            None => "no events".to_owned(),
        };
        writeln!(
            out,
            "all        {} traces, {} in {}, {time}, {} {}",
            self.traces,
            output::counted(self.events, "event", "events"),
            output::counted(self.chunks as u64, "chunk", "chunks"),
            if self.hosts.len() == 1 {
                "host"
            } else {
                "hosts"
            },
            self.hosts.join(", ")
        )
    }
}

/// The first and last event times of a trace, from its chunk summaries.
fn time_range(o: &Overview) -> Option<(u64, u64)> {
    let live = o.chunks.iter().map(|(_, c)| c).filter(|c| c.events > 0);
    live.fold(None, |acc: Option<(u64, u64)>, c| {
        Some(acc.map_or((c.min_ts, c.max_ts), |(lo, hi)| {
            (lo.min(c.min_ts), hi.max(c.max_ts))
        }))
    })
}

fn print(out: &mut impl Write, path: &Path, o: &Overview) -> io::Result<()> {
    let h = &o.header;
    let m = &h.machine;
    let c = &h.capture;
    writeln!(out, "file       {}", path.display())?;
    writeln!(
        out,
        "host       {}",
        if h.machine.hostname.is_empty() {
            "unknown"
        } else {
            &h.machine.hostname
        }
    )?;
    if let Some(scap) = &o.scap {
        return print_scap(out, o, scap);
    }
    writeln!(
        out,
        "format     scry {}.{}, written by {} at {}",
        o.version.0,
        o.version.1,
        if h.writer.is_empty() {
            "unknown"
        } else {
            &h.writer
        },
        output::time(h.created_ns)
    )?;
    writeln!(out, "machine    {}", describe_machine(m))?;
    writeln!(out, "booted     {}", output::time(m.boot_time_ns))?;
    let types = if c.event_types.is_empty() {
        "all event types".to_owned()
    } else {
        c.event_types.join(",")
    };
    let filter = if c.filter.is_empty() {
        "none".to_owned()
    } else {
        format!("'{}'", c.filter)
    };
    writeln!(
        out,
        "capture    target {}, snaplen {}, buffers {}/CPU, {types}, filter {filter}",
        if c.target.is_empty() {
            "host"
        } else {
            &c.target
        },
        c.snaplen,
        output::bytes(c.buffer_bytes)
    )?;
    if !c.command_line.is_empty() {
        writeln!(out, "command    {}", c.command_line.join(" "))?;
    }
    write_snapshot(out, &o.snapshot, true)?;

    let events: u64 = o.chunks.iter().map(|(_, c)| u64::from(c.events)).sum();
    match time_range(o) {
        Some((first, last)) => writeln!(
            out,
            "time       {} .. {} ({})",
            output::time(first),
            output::time(last),
            output::duration(last - first)
        )?,
        None => writeln!(out, "time       no events")?,
    }
    let chunk_bytes: u64 = o.chunks.iter().map(|(len, _)| len).sum();
    let per_event = if events > 0 {
        format!(", {:.1} bytes/event", chunk_bytes as f64 / events as f64)
    } else {
        String::new()
    };
    writeln!(
        out,
        "events     {} in {} ({} on disk{per_event}){}",
        output::count(events),
        output::counted(o.chunks.len() as u64, "chunk", "chunks"),
        output::bytes(chunk_bytes),
        o.file_bytes
            .map(|b| format!(", file {}", output::bytes(b)))
            .unwrap_or_default()
    )?;
    match o.stats.last() {
        Some(last) => {
            let dropped = last.dropped();
            let intervals_with_drops = o
                .stats
                .windows(2)
                .filter(|pair| pair[1].dropped() > pair[0].dropped())
                .count()
                + usize::from(o.stats.first().is_some_and(|first| first.dropped() > 0));
            let verdict = if dropped == 0 {
                "no events lost".to_owned()
            } else {
                format!(
                    "EVENTS LOST in {intervals_with_drops} of {} intervals",
                    o.stats.len()
                )
            };
            writeln!(
                out,
                "drops      {} dropped, {} delivered on {} ({verdict}){}",
                output::count(dropped),
                output::count(last.delivered()),
                output::counted(last.cpus.len() as u64, "CPU", "CPUs"),
                if last.is_final {
                    ""
                } else {
                    ", capture did not stop cleanly"
                }
            )?;
            if last.undecodable > 0 {
                writeln!(
                    out,
                    "           of which {} records from the probe could not be decoded",
                    output::count(last.undecodable)
                )?;
            }
            if last.events_filtered > 0 {
                writeln!(
                    out,
                    "filtered   {} events left out by the capture filter",
                    output::count(last.events_filtered)
                )?;
            }
        }
        None => writeln!(out, "drops      unknown: no capture statistics recorded")?,
    }
    match (&o.truncation, o.damage.is_empty()) {
        (None, true) => writeln!(out, "status     complete")?,
        (truncation, _) => {
            if let Some(t) = truncation {
                writeln!(
                    out,
                    "status     TRUNCATED at byte {}: the writer did not finish; every complete chunk before it is readable ({} trailing bytes unusable)",
                    t.offset, t.partial_bytes
                )?;
            }
            if !o.damage.is_empty() {
                writeln!(
                    out,
                    "status     DAMAGED: {} region(s) skipped",
                    o.damage.len()
                )?;
                for d in &o.damage {
                    writeln!(
                        out,
                        "           byte {} (+{}): {}",
                        d.offset, d.len, d.reason
                    )?;
                }
            }
        }
    }

    print_tables(out, o)
}

/// Events by type, by process and by container.
fn print_tables(out: &mut impl Write, o: &Overview) -> io::Result<()> {
    let h = &o.header;
    let mut by_type: BTreeMap<u16, u64> = BTreeMap::new();
    for (_, chunk) in &o.chunks {
        for &(event_type, n) in &chunk.types {
            *by_type.entry(event_type).or_default() += u64::from(n);
        }
    }
    if !by_type.is_empty() {
        let mut rows: Vec<(u64, String)> = by_type
            .into_iter()
            .map(|(t, n)| {
                (
                    n,
                    h.event_table
                        .name(t)
                        .map_or_else(|| format!("type-{t}"), str::to_owned),
                )
            })
            .collect();
        // Most frequent first; ties by name so the output is deterministic.
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        writeln!(out, "events by type:")?;
        let width = rows.first().map_or(1, |(n, _)| output::count(*n).len());
        for (n, name) in rows {
            writeln!(out, "  {:>width$}  {name}", output::count(n))?;
        }
    }
    let processes = o.tally.top_processes();
    if !processes.is_empty() {
        writeln!(out, "top processes by events:")?;
        let width = output::count(processes[0].0).len();
        for (n, name, pid) in processes {
            writeln!(out, "  {:>width$}  {name} (pid {pid})", output::count(n))?;
        }
    }
    let containers = o.tally.containers();
    if !containers.is_empty() {
        writeln!(out, "containers by events:")?;
        let width = output::count(containers[0].0).len();
        for (n, name, id) in containers {
            writeln!(out, "  {:>width$}  {name} ({id})", output::count(n))?;
        }
    }
    Ok(())
}

/// The rest of `info` for a sysdig/Falco capture: what the capture holds
/// and how it was read, then the same tables as for a trace.
fn print_scap(out: &mut impl Write, o: &Overview, scap: &ScapReport) -> io::Result<()> {
    let m = &o.header.machine;
    writeln!(
        out,
        "format     sysdig/Falco capture, scap {}.{}{}, {} once decompressed",
        scap.version.0,
        scap.version.1,
        if scap.gzip { ", gzip" } else { "" },
        output::bytes(scap.bytes)
    )?;
    writeln!(out, "machine    {}", describe_machine(m))?;
    writeln!(out, "booted     {}", output::time(m.boot_time_ns))?;
    // A capture's container events are kept as records, not as a table.
    write_snapshot(out, &o.snapshot, false)?;
    let range = o
        .chunks
        .iter()
        .map(|(_, c)| c)
        .filter(|c| c.events > 0)
        .fold(None, |acc: Option<(u64, u64)>, c| {
            Some(acc.map_or((c.min_ts, c.max_ts), |(lo, hi)| {
                (lo.min(c.min_ts), hi.max(c.max_ts))
            }))
        });
    match range {
        Some((first, last)) => writeln!(
            out,
            "time       {} .. {} ({})",
            output::time(first),
            output::time(last),
            output::duration(last - first)
        )?,
        None => writeln!(out, "time       no events")?,
    }
    let e = &scap.events;
    writeln!(
        out,
        "events     {} records from {} capture events ({} enter events joined to their exit){}",
        output::count(e.records),
        output::count(e.scap_events),
        output::count(e.paired),
        o.file_bytes
            .map(|b| format!(", file {}", output::bytes(b)))
            .unwrap_or_default()
    )?;
    if e.unpaired_enters > 0 {
        writeln!(
            out,
            "           {} enter events without their exit in the capture, not kept",
            output::count(e.unpaired_enters)
        )?;
    }
    if e.unknown_events + e.undecodable_events > 0 {
        writeln!(
            out,
            "           {} events of unknown types and {} undecodable events skipped",
            output::count(e.unknown_events),
            output::count(e.undecodable_events)
        )?;
    }
    if scap.skipped_blocks > 0 {
        writeln!(
            out,
            "           {} blocks of other kinds skipped (interface lists, newer metadata)",
            output::count(scap.skipped_blocks)
        )?;
    }
    writeln!(out, "drops      unknown: captures record no statistics")?;
    if scap.is_whole() {
        writeln!(out, "status     complete")?;
    }
    if let Some(t) = &scap.truncation {
        writeln!(
            out,
            "status     TRUNCATED at byte {} of the capture{}: every complete event before it was read ({} trailing bytes unusable)",
            t.offset,
            scap.gzip_error
                .as_deref()
                .map_or(String::new(), |e| format!(" ({e})")),
            t.partial_bytes
        )?;
    }
    if let Some((offset, reason)) = &scap.damage {
        writeln!(
            out,
            "status     DAMAGED at byte {offset}: {reason}; the events before it were read"
        )?;
    }
    for damage in &scap.damaged_metadata {
        writeln!(out, "status     DAMAGED metadata, skipped: {damage}")?;
    }
    print_tables(out, o)
}

/// `host (x86_64, 2 CPUs, 23.4 GiB RAM), Linux 6.1.0, Debian 12`, leaving
/// out what the file does not say.
/// The snapshot line: what the trace knew of the host when it started.
fn write_snapshot(out: &mut impl Write, s: &Snapshot, containers: bool) -> io::Result<()> {
    let counted = |n: usize, one, many| output::counted(n as u64, one, many);
    write!(
        out,
        "snapshot   {}, {}, {}, {}, {}",
        counted(s.processes.len(), "process", "processes"),
        counted(s.threads.len(), "thread", "threads"),
        counted(s.fds.len(), "fd", "fds"),
        counted(s.users.len(), "user", "users"),
        counted(s.groups.len(), "group", "groups"),
    )?;
    if containers {
        write!(
            out,
            ", {}",
            counted(s.containers.len(), "container", "containers")
        )?;
    }
    writeln!(out)
}

fn describe_machine(m: &scry_format::MachineInfo) -> String {
    let mut traits = Vec::new();
    if !m.arch.is_empty() {
        traits.push(m.arch.clone());
    }
    if m.cpus > 0 {
        traits.push(output::counted(u64::from(m.cpus), "CPU", "CPUs"));
    }
    if m.memory_bytes > 0 {
        traits.push(format!("{} RAM", output::bytes(m.memory_bytes)));
    }
    let mut text = if m.hostname.is_empty() {
        "unknown host".to_owned()
    } else {
        m.hostname.clone()
    };
    if !traits.is_empty() {
        text.push_str(&format!(" ({})", traits.join(", ")));
    }
    if !m.kernel_release.is_empty() {
        text.push_str(&format!(", Linux {}", m.kernel_release));
    }
    if !m.os.is_empty() {
        text.push_str(&format!(", {}", m.os));
    }
    text
}
