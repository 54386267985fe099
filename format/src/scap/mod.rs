//! sysdig and Falco captures (`.scap`): reading them into the model.
//!
//! A scap file (libscap's savefile, written by `sysdig -w` and by Falco's
//! capture feature, plain or gzip-compressed) is a pcapng-style sequence
//! of blocks: a section header, metadata (machine, interfaces, users, the
//! process list, one fd list per thread), then events. [`ScapStream`]
//! opens one: its metadata becomes a file header and a state snapshot,
//! and its events become records, converted chunk by chunk as they are
//! read (see [`events`] for how enter and exit events become one record
//! per syscall). [`import`] writes the same records as a scry trace
//! through a [`TraceWriter`]. The same trace read from the `.scap` or from
//! the `.scry` that `scry convert` writes gives the same answers.
//!
//! Events are converted on a thread of their own while the caller reads
//! the chunks already converted (and a gzip'd capture is inflated on yet
//! another), and a reader that says which event types it looks into gets
//! the records of the others without their parameters, which are then
//! never decoded.
//!
//! What cannot be read is reported, not guessed: a byte-swapped or newer
//! major version is refused; a file cut off is read up to its last whole
//! block, and a damaged block ends the reading there; both are described
//! in the [`ScapReport`]. Blocks of unknown types are skipped by their
//! length, and pcapng options (in the section header or after an event)
//! are ignored.
//!
//! The format is described in falcosecurity/libs (`scap_savefile.h`,
//! `engine/savefile/`, `driver/event_table.c`).

mod events;
mod input;
mod meta;
#[rustfmt::skip]
mod schema;

use std::io::Write;
use std::ops::ControlFlow;
use std::sync::mpsc::sync_channel;

use rustc_hash::FxHashMap;

use crate::chunk::{ChunkBuilder, DecodedChunk};
use crate::error::{FormatError, Result};
use crate::model::{CaptureSettings, FileHeader, Reached, Snapshot};
use crate::reader::Truncation;
use crate::writer::{HOST_CONTAINER, TraceWriter, WriterOptions};

pub use events::ConversionStats;
use events::{Codes, Converter, Mapping};
use input::{Blocks, Next};
use meta::kind;

/// The first bytes of every scap file (the section header's block type).
const SECTION_MAGIC: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];
/// The newest major version this reader knows.
const MAJOR: u16 = 1;
/// Records per chunk handed to a reader: small enough to stay in cache
/// and to keep the converting and the reading thread busy together.
const READ_CHUNK_EVENTS: u32 = 8192;
/// Payload bytes per chunk handed to a reader.
const READ_CHUNK_BYTES: usize = 2 << 20;
/// Converted chunks waiting for their reader.
const CHUNKS_AHEAD: usize = 3;

/// What kind of file a byte prefix starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// A plain scap capture.
    Scap,
    /// A gzip stream holding a scap capture.
    GzipScap,
    /// A gzip stream holding something else.
    OtherGzip,
    /// Not a scap capture.
    Other,
}

/// Tells a scap capture (plain or gzip'd) from other files by their first
/// bytes; a gzip stream is decompressed just enough to look inside.
pub fn sniff(bytes: &[u8]) -> Sniffed {
    if bytes.starts_with(&SECTION_MAGIC) {
        return Sniffed::Scap;
    }
    if !input::is_gzip(bytes) {
        return Sniffed::Other;
    }
    if input::gzip_prefix(bytes, 4) == SECTION_MAGIC {
        Sniffed::GzipScap
    } else {
        Sniffed::OtherGzip
    }
}

/// What reading a capture found, beyond its events.
#[derive(Debug, Clone, Default)]
pub struct ScapReport {
    /// Section header version, `(major, minor)`.
    pub version: (u16, u16),
    /// Whether the file was gzip-compressed.
    pub gzip: bool,
    /// Size of the capture once decompressed, as far as it was read.
    pub bytes: u64,
    /// Blocks of types this reader does not know, skipped.
    pub skipped_blocks: u64,
    /// Metadata blocks that did not decode (their content is missing from
    /// the snapshot), with why.
    pub damaged_metadata: Vec<String>,
    /// How the events were converted.
    pub events: ConversionStats,
    /// Set when the capture ends inside a block.
    pub truncation: Option<Truncation>,
    /// Why the gzip stream ended early, when it did.
    pub gzip_error: Option<String>,
    /// Set when a block could not be delimited: nothing after `offset` was
    /// read.
    pub damage: Option<(u64, String)>,
    /// What an import left out of the snapshot, when it kept only what
    /// the events reach.
    pub left_out: Option<LeftOut>,
}

impl ScapReport {
    /// Whether the whole capture was read without damage.
    pub fn is_whole(&self) -> bool {
        self.truncation.is_none() && self.damage.is_none() && self.damaged_metadata.is_empty()
    }
}

/// The metadata collected before the first event.
#[derive(Default)]
struct Metadata {
    header: FileHeader,
    threads: Vec<meta::ThreadEntry>,
    fds: Vec<(u64, meta::FdEntry)>,
    users: Vec<crate::model::UserInfo>,
    groups: Vec<crate::model::GroupInfo>,
}

/// A capture opened to be read front to back: its header and snapshot
/// are known, its events are converted when [`ScapStream::for_each_chunk`]
/// walks them (once).
pub struct ScapStream<D> {
    header: FileHeader,
    snapshot: Snapshot,
    report: ScapReport,
    pump: Option<Pump<D>>,
}

impl<D> std::fmt::Debug for ScapStream<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScapStream")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl<D: AsRef<[u8]> + Send + Sync> ScapStream<D> {
    /// Opens the capture in `data` (plain or gzip): reads its metadata up
    /// to the first event.
    ///
    /// # Errors
    /// Not a scap file, a byte-swapped file, an unsupported major version,
    /// or a file cut off inside its section header. Damage further in ends
    /// the reading and is reported, not returned.
    pub fn open(data: D) -> Result<Self> {
        let mut report = ScapReport {
            gzip: input::is_gzip(data.as_ref()),
            ..ScapReport::default()
        };
        let mut blocks = Blocks::new(data);
        report.version = section_header(&mut blocks)?;
        let mut metadata = Metadata::default();
        metadata.header.writer = format!(
            "sysdig/Falco capture (scap {}.{}{})",
            report.version.0,
            report.version.1,
            if report.gzip { ", gzip" } else { "" }
        );
        metadata.header.capture = CaptureSettings {
            target: "imported from a .scap capture".to_owned(),
            ..CaptureSettings::default()
        };
        // Captures do not say; libscap's event table is the x86_64 one.
        metadata.header.machine.arch = "x86_64".to_owned();
        let mut counts = Codes::default();
        let mut first_ts = 0;
        // Metadata blocks up to the first event, which is left for the
        // pump (as are the end of the input and damage: it meets them
        // again and reports them).
        loop {
            let offset = blocks.offset();
            let (block_kind, body) = match blocks.peek_block() {
                Next::Block { kind, body } => (kind, body),
                Next::End | Next::Truncated { .. } | Next::Damaged(_) => break,
            };
            if let Some((v1, flags, large)) = event_block(block_kind) {
                first_ts = events::parse(body, v1, flags, large, &mut counts).map_or(0, |r| r.ts);
                break;
            }
            if let Err(reason) = metadata_block(&mut metadata, block_kind, body, &mut report) {
                report.damaged_metadata.push(format!(
                    "block of type {block_kind:#x} at byte {offset}: {reason}"
                ));
            }
            blocks.skip_block();
        }
        let (header, snapshot, converter) = start(metadata, first_ts);
        let containers = snapshot
            .processes
            .iter()
            .map(|p| {
                let id = if p.container_id.is_empty() {
                    HOST_CONTAINER
                } else {
                    p.container_id.as_str()
                };
                (p.pid, id.to_owned())
            })
            .collect();
        Ok(ScapStream {
            header,
            snapshot,
            report,
            pump: Some(Pump {
                blocks,
                converter,
                counts,
                summaries: false,
                containers,
                skipped_blocks: 0,
                truncation: None,
                damage: None,
                next_num: 0,
            }),
        })
    }

    /// The file header the capture's metadata makes.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The state snapshot the capture's process, fd and user lists make.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// What reading the capture found; complete once its events have been
    /// walked.
    pub fn report(&self) -> &ScapReport {
        &self.report
    }

    /// Converts the events and hands each chunk of records to `visit`, in
    /// order, until the capture ends or `visit` stops. With more than one
    /// thread, events are converted on a thread of their own (and a gzip'd
    /// capture inflated on another) while `visit` runs. Records of the
    /// event types `params_of` marks `false` (by type id) come without
    /// their parameters; `None` keeps every parameter. A capture is walked
    /// once: later calls visit nothing.
    ///
    /// # Errors
    /// None yet: damage ends the walk and is described by
    /// [`ScapStream::report`].
    pub fn for_each_chunk<B>(
        &mut self,
        threads: usize,
        params_of: Option<&[bool]>,
        mut visit: impl FnMut(Result<&DecodedChunk>) -> ControlFlow<B>,
    ) -> Result<ControlFlow<B>> {
        let Some(mut pump) = self.pump.take() else {
            return Ok(ControlFlow::Continue(()));
        };
        pump.converter
            .set_params_of(params_of.map(<[bool]>::to_vec));
        let limits = (READ_CHUNK_EVENTS, READ_CHUNK_BYTES);
        if threads <= 1 {
            let mut builder = ChunkBuilder::new();
            let mut chunk = DecodedChunk::default();
            loop {
                let more = pump.fill(&mut builder, limits);
                if builder.events() > 0 {
                    let first_num = pump.take_numbers(builder.events());
                    builder.decode_into(first_num, &mut chunk);
                    if let ControlFlow::Break(stop) = visit(Ok(&chunk)) {
                        self.finish(pump);
                        return Ok(ControlFlow::Break(stop));
                    }
                }
                if !more {
                    self.finish(pump);
                    return Ok(ControlFlow::Continue(()));
                }
            }
        }
        let (flow, pump) = std::thread::scope(|scope| {
            let (send, chunks) = sync_channel::<DecodedChunk>(CHUNKS_AHEAD);
            let (recycle, recycled) = sync_channel::<DecodedChunk>(CHUNKS_AHEAD + 2);
            let converter = spawn_named(scope, "scap-convert", move || {
                pump.blocks.inflate_on(scope);
                let mut builder = ChunkBuilder::new();
                loop {
                    let more = pump.fill(&mut builder, limits);
                    if builder.events() > 0 {
                        let first_num = pump.take_numbers(builder.events());
                        let mut chunk = recycled.try_recv().unwrap_or_default();
                        builder.decode_into(first_num, &mut chunk);
                        if send.send(chunk).is_err() {
                            break;
                        }
                    }
                    if !more {
                        break;
                    }
                }
                pump.blocks.stop_inflating();
                pump
            });
            let mut flow = ControlFlow::Continue(());
            for chunk in &chunks {
                flow = visit(Ok(&chunk));
                if flow.is_break() {
                    break;
                }
                let _ = recycle.try_send(chunk);
            }
            // A reader that stopped early lets the converter go.
            drop(chunks);
            let pump = match converter.join() {
                Ok(pump) => pump,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            (flow, pump)
        });
        self.finish(pump);
        Ok(flow)
    }

    /// Completes the report from a pump that is done.
    fn finish(&mut self, mut pump: Pump<D>) {
        let report = &mut self.report;
        report.skipped_blocks += pump.skipped_blocks;
        report.truncation = pump.truncation.take();
        report.damage = pump.damage.take();
        if let Some(error) = pump.blocks.stream_error() {
            // The gzip stream itself is cut off or damaged: what
            // decompressed was read.
            report.gzip_error = Some(error.to_string());
            if report.truncation.is_none() && report.damage.is_none() {
                report.truncation = Some(Truncation {
                    offset: pump.blocks.offset(),
                    partial_bytes: 0,
                });
            }
        }
        report.bytes = pump.blocks.offset();
        report.events = pump.converter.finish();
    }
}

/// The conversion of a capture's events, from the first event on.
struct Pump<D> {
    blocks: Blocks<D>,
    converter: Converter,
    counts: Codes,
    /// The chunks are written to a file, with summaries.
    summaries: bool,
    /// The container of each process, for chunk summaries.
    containers: FxHashMap<u32, String>,
    skipped_blocks: u64,
    truncation: Option<Truncation>,
    damage: Option<(u64, String)>,
    /// Number of the next record.
    next_num: u64,
}

impl<D: AsRef<[u8]> + Send + Sync> Pump<D> {
    /// Numbers `events` records: the number of the first.
    fn take_numbers(&mut self, events: u32) -> u64 {
        let first = self.next_num;
        self.next_num += u64::from(events);
        first
    }

    /// Converts events into `builder` until it holds `limits` (records,
    /// payload bytes) or the capture ends; false once it has ended.
    fn fill(&mut self, builder: &mut ChunkBuilder, limits: (u32, usize)) -> bool {
        let Pump {
            blocks,
            converter,
            counts,
            summaries,
            containers,
            skipped_blocks,
            truncation,
            damage,
            ..
        } = self;
        loop {
            if builder.events() >= limits.0 || builder.raw_len() >= limits.1 {
                return true;
            }
            let offset = blocks.offset();
            let (block_kind, body) = match blocks.next_block() {
                Next::Block { kind, body } => (kind, body),
                Next::End => return false,
                Next::Truncated { partial } => {
                    *truncation = Some(Truncation {
                        offset,
                        partial_bytes: partial,
                    });
                    return false;
                }
                Next::Damaged(reason) => {
                    *damage = Some((offset, reason));
                    return false;
                }
            };
            let Some((v1, flags, large)) = event_block(block_kind) else {
                // Metadata repeated mid-capture (a rotated file's header)
                // says nothing the events have not.
                if block_kind != kind::SECTION {
                    *skipped_blocks += 1;
                }
                continue;
            };
            match events::parse(body, v1, flags, large, counts) {
                Ok(raw) => {
                    let mut sink = events::Sink {
                        chunk: builder,
                        containers: summaries.then_some(&*containers),
                    };
                    converter.take(raw, &mut sink);
                }
                Err(_) => converter.undecodable(),
            }
        }
    }
}

/// How a capture is written as a trace.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The trace writer's.
    pub writer: WriterOptions,
    /// Keep in the snapshot only what the capture's events can reach
    /// ([`Snapshot::reachable`]): processes idle throughout, their fds and
    /// the accounts nothing names are left out. The capture is then read
    /// twice.
    pub reachable_snapshot: bool,
}

/// What [`ImportOptions::reachable_snapshot`] left out of a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeftOut {
    /// Processes (with their threads).
    pub processes: usize,
    /// Fds.
    pub fds: usize,
    /// Users and groups.
    pub accounts: usize,
}

/// Parameter names that hold user ids and group ids.
const UID_PARAMS: [&str; 5] = ["uid", "euid", "ruid", "suid", "loginuid"];
const GID_PARAMS: [&str; 4] = ["gid", "egid", "rgid", "sgid"];

/// The processes with events in the capture in `data`, and the user and
/// group ids its events name.
fn reached(data: &[u8]) -> Result<Reached> {
    let mut stream = ScapStream::open(data)?;
    let table = stream.header.event_table.clone();
    // Per type: the positions of its uid and gid parameters.
    let mut ids: Vec<(Vec<usize>, Vec<usize>)> = vec![Default::default(); table.id_bound()];
    // Of syscalls only: libscap's own events that carry ids describe
    // accounts (`useradded`) or sample processes, they name none to look up.
    for entry in table
        .entries()
        .iter()
        .filter(|e| e.id < crate::FIRST_SPECIAL_TYPE)
    {
        let positions = |names: &[&str]| -> Vec<usize> {
            let named = |p: &String| names.contains(&p.as_str());
            entry
                .params
                .iter()
                .enumerate()
                .filter(|(_, p)| named(p))
                .map(|(at, _)| at)
                .collect()
        };
        ids[usize::from(entry.id)] = (positions(&UID_PARAMS), positions(&GID_PARAMS));
    }
    let params_of: Vec<bool> = ids
        .iter()
        .map(|(u, g)| !u.is_empty() || !g.is_empty())
        .collect();
    // Syscalls may read, copy or replace fds; other events (a capture's
    // periodic samples of each process) only if they name one.
    let mut reads_fds = vec![false; table.id_bound()];
    for entry in table.entries() {
        reads_fds[usize::from(entry.id)] =
            entry.id < crate::FIRST_SPECIAL_TYPE || entry.params.iter().any(|p| p.contains("fd"));
    }
    let mut reached = Reached::default();
    let flow = stream.for_each_chunk(
        crate::pipeline::default_threads(),
        Some(&params_of),
        |chunk| {
            let Ok(chunk) = chunk else {
                return ControlFlow::<()>::Continue(());
            };
            for event in chunk.iter() {
                reached.tgids.insert(event.tgid());
                if reads_fds
                    .get(usize::from(event.event_type()))
                    .copied()
                    .unwrap_or(true)
                {
                    reached.fd_tgids.insert(event.tgid());
                }
                let Some((uids, gids)) = ids.get(usize::from(event.event_type())) else {
                    continue;
                };
                for (at, value) in event.params().enumerate() {
                    let id = match value {
                        crate::ValueRef::Int(v) | crate::ValueRef::Fd(v) => u32::try_from(v).ok(),
                        crate::ValueRef::Uint(v) => u32::try_from(v).ok(),
                        _ => None,
                    };
                    if let Some(id) = id {
                        if uids.contains(&at) {
                            reached.uids.insert(id);
                        }
                        if gids.contains(&at) {
                            reached.gids.insert(id);
                        }
                    }
                }
            }
            ControlFlow::Continue(())
        },
    )?;
    debug_assert!(flow.is_continue());
    Ok(reached)
}

/// Reads the capture in `data` (plain or gzip) and writes it as a scry
/// trace to `out` with `options`. Returns the writer's output and what was
/// found. Events are converted on a thread of their own while `out` is
/// written.
///
/// # Errors
/// Not a scap file, a byte-swapped file, an unsupported major version, a
/// file cut off inside its section header, or I/O errors of `out`.
/// Damage further in ends the reading and is reported, not returned.
pub fn import<D, W>(data: D, out: W, options: ImportOptions) -> Result<(W, ScapReport)>
where
    D: AsRef<[u8]> + Send + Sync,
    W: Write,
{
    let reached = if options.reachable_snapshot {
        Some(reached(data.as_ref())?)
    } else {
        None
    };
    let options = options.writer;
    let mut stream = ScapStream::open(data)?;
    if let Some(reached) = reached {
        let whole = &stream.snapshot;
        let kept = whole.reachable(&reached);
        stream.report.left_out = Some(LeftOut {
            processes: whole.processes.len() - kept.processes.len(),
            fds: whole.fds.len() - kept.fds.len(),
            accounts: whole.users.len() + whole.groups.len() - kept.users.len() - kept.groups.len(),
        });
        stream.snapshot = kept;
    }
    let mut writer = TraceWriter::new(out, &stream.header, &stream.snapshot, options.clone())?;
    let Some(mut pump) = stream.pump.take() else {
        return Err(FormatError::Unsupported("capture read twice".to_owned()));
    };
    pump.summaries = true;
    let limits = (options.chunk_events.max(1), options.chunk_bytes.max(1));
    let threads = crate::pipeline::default_threads();
    let (written, pump) = if threads <= 1 {
        let written = loop {
            let mut builder = ChunkBuilder::new();
            let more = pump.fill(&mut builder, limits);
            let written = writer.push_chunk(builder);
            if written.is_err() || !more {
                break written;
            }
        };
        (written, pump)
    } else {
        std::thread::scope(|scope| {
            let (send, chunks) = sync_channel::<ChunkBuilder>(CHUNKS_AHEAD);
            let converter = spawn_named(scope, "scap-convert", move || {
                pump.blocks.inflate_on(scope);
                loop {
                    let mut builder = ChunkBuilder::new();
                    let more = pump.fill(&mut builder, limits);
                    if send.send(builder).is_err() || !more {
                        break;
                    }
                }
                pump.blocks.stop_inflating();
                pump
            });
            let mut written = Ok(());
            for builder in &chunks {
                written = writer.push_chunk(builder);
                if written.is_err() {
                    break;
                }
            }
            drop(chunks);
            match converter.join() {
                Ok(pump) => (written, pump),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    };
    stream.finish(pump);
    written?;
    let out = writer.finish()?;
    Ok((out, stream.report))
}

/// Runs `work` on a named thread of `scope` (names show in profilers and
/// `top -H`).
fn spawn_named<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    work: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    match std::thread::Builder::new()
        .name(name.to_owned())
        .spawn_scoped(scope, work)
    {
        Ok(handle) => handle,
        // Only when the system is out of threads, as `Scope::spawn` would.
        Err(error) => panic!("cannot start a thread: {error}"),
    }
}

/// The event table of imported captures (the `scap-x86_64/1` base).
pub(crate) fn import_table() -> crate::EventTable {
    Mapping::new().table
}

/// For an event block type: whether it is V1 (no parameter count), has
/// flags, and has 32-bit parameter lengths.
fn event_block(block_kind: u32) -> Option<(bool, bool, bool)> {
    Some(match block_kind {
        kind::EVENT_V1 | kind::EVENT_V1_OLD => (true, false, false),
        kind::EVENT_V2 => (false, false, false),
        kind::EVENT_V2_LARGE => (false, false, true),
        kind::EVENT_FLAGS_V1 => (true, true, false),
        kind::EVENT_FLAGS_V2 => (false, true, false),
        kind::EVENT_FLAGS_V2_LARGE => (false, true, true),
        _ => return None,
    })
}

/// Decodes one metadata block into `metadata`.
fn metadata_block(
    metadata: &mut Metadata,
    block_kind: u32,
    body: &[u8],
    report: &mut ScapReport,
) -> Result<(), String> {
    let short = |e: meta::Short| format!("cut off inside a {}", e.0);
    match block_kind {
        kind::MACHINE | kind::MACHINE_OLD => {
            let machine = meta::machine(body).map_err(short)?;
            let arch = std::mem::take(&mut metadata.header.machine.arch);
            metadata.header.machine = machine;
            metadata.header.machine.arch = arch;
        }
        kind::USERS_V1 | kind::USERS_V1_OLD | kind::USERS_V2 => {
            let v2 = block_kind == kind::USERS_V2;
            meta::users(body, v2, &mut metadata.users, &mut metadata.groups).map_err(short)?;
        }
        kind::FDS_V1 | kind::FDS_V1_OLD | kind::FDS_V2 => {
            let mut fds = Vec::new();
            let result = meta::fds(body, block_kind == kind::FDS_V2, &mut fds);
            // Entries before the damage are kept.
            let tid = result.as_ref().copied().unwrap_or(0);
            metadata.fds.extend(fds.into_iter().map(|fd| (tid, fd)));
            result.map_err(short)?;
        }
        kind::SECTION => {}
        other => match meta::procs_version(other) {
            Some(version) => meta::procs(body, version, &mut metadata.threads).map_err(short)?,
            // Interface lists and blocks of newer writers.
            None => report.skipped_blocks += 1,
        },
    }
    Ok(())
}

/// Builds the header and the snapshot from the metadata, and the converter
/// that starts from them.
fn start(mut metadata: Metadata, first_ts: u64) -> (FileHeader, Snapshot, Converter) {
    let threads = std::mem::take(&mut metadata.threads);
    let tgids: Vec<(u64, u32)> = threads.iter().map(|t| (t.tid, t.pid as u32)).collect();
    let tgid_of: FxHashMap<u64, u32> = tgids.iter().copied().rev().collect();
    let mut fds: Vec<meta::FdEntry> = Vec::with_capacity(metadata.fds.len());
    let mut seen = rustc_hash::FxHashSet::default();
    for (tid, mut entry) in std::mem::take(&mut metadata.fds) {
        entry.info.pid = tgid_of.get(&tid).copied().unwrap_or(tid as u32);
        // Threads share their process' table; it may be listed for each.
        if seen.insert((entry.info.pid, entry.info.fd)) {
            fds.push(entry);
        }
    }
    meta::resolve_sockets(&mut fds);
    let (processes, thread_infos) = meta::processes(threads);
    let snapshot = Snapshot {
        ts: first_ts,
        processes,
        threads: thread_infos,
        fds: fds.into_iter().map(|f| f.info).collect(),
        users: std::mem::take(&mut metadata.users),
        groups: std::mem::take(&mut metadata.groups),
        containers: Vec::new(),
    };
    let mapping = Mapping::new();
    metadata.header.event_table = mapping.table.clone();
    metadata.header.created_ns = first_ts;
    (metadata.header, snapshot, Converter::new(mapping, tgids))
}

/// Reads and checks the section header block.
fn section_header<D: AsRef<[u8]> + Send + Sync>(blocks: &mut Blocks<D>) -> Result<(u16, u16)> {
    let head = blocks.peek(28).to_vec();
    if head.is_empty() {
        return Err(FormatError::Empty);
    }
    if head.len() < 4 || head[..4] != SECTION_MAGIC {
        return Err(FormatError::Unsupported(
            "not a sysdig/Falco capture: no section header block at offset 0".to_owned(),
        ));
    }
    if head.len() < 16 {
        return Err(FormatError::TruncatedHeader {
            needed: 28,
            actual: head.len() as u64,
        });
    }
    let magic = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if magic == meta::BYTE_ORDER_MAGIC.swap_bytes() {
        return Err(FormatError::Unsupported(
            "the capture was written by a big-endian machine (byte-swapped section header); \
             only little-endian captures are supported"
                .to_owned(),
        ));
    }
    if magic != meta::BYTE_ORDER_MAGIC {
        return Err(FormatError::corrupt(
            "scap section header",
            0,
            format!("bad byte-order magic {magic:#010x}"),
        ));
    }
    let major = u16::from_le_bytes([head[12], head[13]]);
    let minor = u16::from_le_bytes([head[14], head[15]]);
    if major != MAJOR {
        return Err(FormatError::UnsupportedVersion {
            found_major: major,
            found_minor: minor,
            supported: MAJOR,
        });
    }
    match blocks.next_block() {
        Next::Block { .. } => Ok((major, minor)),
        Next::Damaged(reason) => Err(FormatError::corrupt("scap section header", 0, reason)),
        Next::End | Next::Truncated { .. } => Err(FormatError::TruncatedHeader {
            needed: 28,
            actual: head.len() as u64,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::TraceFile;

    /// A block: type, length, body padded to 4 bytes, length.
    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let padded = body.len().div_ceil(4) * 4;
        let total = (padded + 12) as u32;
        let mut out = Vec::new();
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(body);
        out.resize(8 + padded, 0);
        out.extend_from_slice(&total.to_le_bytes());
        out
    }

    fn str16(out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
        out.extend_from_slice(text);
    }

    /// A V2 event: header with nparams, 16-bit lengths, values.
    fn event(ts: u64, tid: u64, code: u16, params: &[&[u8]]) -> Vec<u8> {
        let len = 26 + 2 * params.len() + params.iter().map(|p| p.len()).sum::<usize>();
        let mut out = Vec::new();
        out.extend_from_slice(&ts.to_le_bytes());
        out.extend_from_slice(&tid.to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(&code.to_le_bytes());
        out.extend_from_slice(&(params.len() as u32).to_le_bytes());
        for p in params {
            out.extend_from_slice(&(p.len() as u16).to_le_bytes());
        }
        for p in params {
            out.extend_from_slice(p);
        }
        out
    }

    fn capture() -> Vec<u8> {
        let mut file = Vec::new();
        // Section header with a pcapng comment option.
        let mut shb = Vec::new();
        shb.extend_from_slice(&meta::BYTE_ORDER_MAGIC.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&2u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        shb.extend_from_slice(&[1, 0, 4, 0, b'n', b'o', b't', b'e', 0, 0, 0, 0]);
        file.extend(block(kind::SECTION, &shb));
        // A block type this reader does not know.
        file.extend(block(0x999, &[1, 2, 3, 4]));
        // One process, PL V9.
        let mut entry = Vec::new();
        for v in [42u64, 42, 1, 42, 42] {
            entry.extend_from_slice(&v.to_le_bytes());
        }
        str16(&mut entry, b"demo");
        str16(&mut entry, b"demo");
        str16(&mut entry, b"/usr/bin/demo");
        str16(&mut entry, b"--flag\0");
        str16(&mut entry, b"/tmp");
        entry.extend_from_slice(&1024u64.to_le_bytes());
        entry.extend_from_slice(&0u32.to_le_bytes());
        entry.extend_from_slice(&1000u32.to_le_bytes());
        entry.extend_from_slice(&1000u32.to_le_bytes());
        entry.extend_from_slice(&[0; 28]);
        str16(&mut entry, b"");
        entry.extend_from_slice(&42u64.to_le_bytes());
        entry.extend_from_slice(&42u64.to_le_bytes());
        str16(&mut entry, b"cpu=/\0");
        str16(&mut entry, b"/");
        entry.extend_from_slice(&1000u32.to_le_bytes()); // loginuid
        let mut procs = ((entry.len() + 4) as u32).to_le_bytes().to_vec();
        procs.extend(entry);
        file.extend(block(meta::kind::PROCS_V9, &procs));
        // Its fd 3, FDL V2, a file opened read-write (libscap flags).
        let mut fd = Vec::new();
        fd.extend_from_slice(&3u64.to_le_bytes());
        fd.extend_from_slice(&7u64.to_le_bytes());
        fd.push(16);
        fd.extend_from_slice(&3u32.to_le_bytes());
        str16(&mut fd, b"/var/log/demo.log");
        let mut fds = 42u64.to_le_bytes().to_vec();
        fds.extend_from_slice(&((fd.len() + 4) as u32).to_le_bytes());
        fds.extend(fd);
        file.extend(block(meta::kind::FDS_V2, &fds));
        // read enter and exit (V2 blocks), the exit with an option after
        // the event.
        let mut read_enter = 0u16.to_le_bytes().to_vec();
        read_enter.extend(event(
            1_000,
            42,
            6,
            &[&3i64.to_le_bytes(), &64u32.to_le_bytes()],
        ));
        file.extend(block(kind::EVENT_V2, &read_enter));
        let mut read_exit = 0u16.to_le_bytes().to_vec();
        read_exit.extend(event(1_500, 42, 7, &[&5i64.to_le_bytes(), b"hello"]));
        read_exit.extend_from_slice(&[0, 0, 1, 0, 4, 0, b'x', b'y', b'z', b'w']);
        file.extend(block(kind::EVENT_V2, &read_exit));
        // openat exit alone, in an event-with-flags block: libscap's
        // O_RDONLY|O_CLOEXEC.
        let mut openat = 1u16.to_le_bytes().to_vec();
        openat.extend_from_slice(&0u32.to_le_bytes());
        openat.extend(event(
            2_000,
            42,
            307,
            &[
                &4i64.to_le_bytes(),
                &(-100i64).to_le_bytes(),
                b"/etc/hosts\0",
                &4097u32.to_le_bytes(),
                &0u32.to_le_bytes(),
            ],
        ));
        file.extend(block(kind::EVENT_FLAGS_V2, &openat));
        // An enter whose exit never comes.
        let mut dangling = 0u16.to_le_bytes().to_vec();
        dangling.extend(event(
            3_000,
            42,
            6,
            &[&3i64.to_le_bytes(), &64u32.to_le_bytes()],
        ));
        file.extend(block(kind::EVENT_V2, &dangling));
        file
    }

    #[test]
    fn a_built_capture_reads_back() {
        let (bytes, report) = import(capture(), Vec::new(), ImportOptions::default()).unwrap();
        assert!(report.is_whole(), "{report:?}");
        assert_eq!(report.version, (1, 2));
        assert_eq!(report.skipped_blocks, 1);
        let e = &report.events;
        assert_eq!(
            (e.scap_events, e.records, e.paired, e.unpaired_enters),
            (4, 2, 1, 1)
        );
        let trace = TraceFile::open(bytes).unwrap();
        let snapshot = trace.snapshot();
        assert_eq!(snapshot.processes.len(), 1);
        let process = &snapshot.processes[0];
        assert_eq!(process.exe, b"/usr/bin/demo");
        assert_eq!(process.args, [b"demo".to_vec(), b"--flag".to_vec()]);
        assert_eq!((process.uid, process.loginuid), (1000, 1000));
        assert_eq!(snapshot.fds[0].name, b"/var/log/demo.log");
        assert_eq!(snapshot.fds[0].flags, 0o2, "O_RDWR");
        let table = &trace.header().event_table;
        let chunk = trace.decode_chunk(&trace.chunks()[0]).unwrap();
        let events: Vec<_> = chunk.iter().map(|e| e.to_event()).collect();
        assert_eq!(events.len(), 2);
        let read = &events[0];
        assert_eq!(table.name(read.event_type), Some("read"));
        assert_eq!((read.ret, read.latency, read.tgid), (5, 500, 42));
        let names = &table.get(read.event_type).unwrap().params;
        let param = |name: &str| &read.params[names.iter().position(|n| n == name).unwrap()];
        assert_eq!(param("fd"), &crate::Value::Fd(3), "from the enter event");
        assert_eq!(param("data"), &crate::Value::Bytes(b"hello".to_vec()));
        let open = &events[1];
        assert_eq!(table.name(open.event_type), Some("openat"));
        assert_eq!(open.cpu, 1);
        assert_eq!(
            open.params,
            [
                crate::Value::Fd(-100),
                crate::Value::Str(b"/etc/hosts".to_vec()),
                crate::Value::Uint(0o2000000),
                crate::Value::Uint(0),
                crate::Value::Fd(4),
            ]
        );
    }

    #[test]
    fn a_cut_capture_reads_what_is_whole() {
        let whole = capture();
        let cut = &whole[..whole.len() - 10];
        let (_, report) = import(cut.to_vec(), Vec::new(), ImportOptions::default()).unwrap();
        assert!(report.truncation.is_some());
        assert_eq!(report.events.records, 2);
        // Every prefix either fails cleanly or reads.
        for len in 0..whole.len() {
            let _ = import(whole[..len].to_vec(), Vec::new(), ImportOptions::default());
        }
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    /// A capture long enough for several chunks and inflated buffers: the
    /// built one's events repeated.
    fn long_capture() -> Vec<u8> {
        let mut file = capture();
        let first_event = 300;
        let events = file[first_event..].to_vec();
        for _ in 0..20_000 {
            file.extend_from_slice(&events);
        }
        file
    }

    /// Every record of `data` read as a stream, with `threads` and
    /// `params_of`, and the report.
    fn streamed(
        data: Vec<u8>,
        threads: usize,
        params_of: Option<&[bool]>,
    ) -> (Vec<(u64, crate::Event)>, ScapReport) {
        let mut stream = ScapStream::open(data).unwrap();
        let mut records = Vec::new();
        let flow = stream
            .for_each_chunk(threads, params_of, |chunk| {
                for event in chunk.unwrap().iter() {
                    records.push((event.num(), event.to_event()));
                }
                ControlFlow::<()>::Continue(())
            })
            .unwrap();
        assert!(flow.is_continue());
        (records, stream.report().clone())
    }

    #[test]
    fn streams_read_alike_on_any_threads_plain_or_gzip() {
        let plain = long_capture();
        let (one, report) = streamed(plain.clone(), 1, None);
        assert!(report.is_whole(), "{report:?}");
        assert_eq!(one.len(), 2 + 20_000 * 2);
        assert!(one.iter().enumerate().all(|(i, (num, _))| *num == i as u64));
        let (two, _) = streamed(plain.clone(), 2, None);
        assert_eq!(one, two);
        let (gz, report) = streamed(gzip(&plain), 2, None);
        assert!(report.gzip && report.is_whole(), "{report:?}");
        assert_eq!(one, gz);
        // The same records as the trace `import` writes.
        let (bytes, _) = import(plain, Vec::new(), ImportOptions::default()).unwrap();
        let trace = TraceFile::open(bytes).unwrap();
        let mut written = Vec::new();
        for entry in trace.chunks() {
            let chunk = trace.decode_chunk(entry).unwrap();
            written.extend(chunk.iter().map(|e| (e.num(), e.to_event())));
        }
        assert_eq!(one, written);
    }

    #[test]
    fn a_cut_gzip_stream_reads_what_was_inflated() {
        let plain = long_capture();
        let gz = gzip(&plain);
        let (whole, _) = streamed(plain, 1, None);
        for threads in [1, 2] {
            let (cut, report) = streamed(gz[..gz.len() * 2 / 3].to_vec(), threads, None);
            assert!(report.gzip_error.is_some() && report.truncation.is_some());
            assert!(!cut.is_empty() && cut.len() < whole.len());
            assert_eq!(cut[..], whole[..cut.len()]);
        }
    }

    #[test]
    fn records_of_types_nobody_reads_come_without_parameters() {
        let plain = long_capture();
        let (all, _) = streamed(plain.clone(), 2, None);
        let table = Mapping::new().table;
        let read = table.id_of("read").unwrap();
        let mut params_of = vec![true; table.id_bound()];
        params_of[usize::from(read)] = false;
        let (lazy, _) = streamed(plain, 2, Some(&params_of));
        assert_eq!(all.len(), lazy.len());
        let mut reads = 0;
        for ((num, full), (lazy_num, lazy)) in all.iter().zip(&lazy) {
            assert_eq!(num, lazy_num);
            if full.event_type == read {
                reads += 1;
                assert!(lazy.params.is_empty() && !full.params.is_empty());
                assert_eq!(
                    (lazy.ts, lazy.tid, lazy.tgid),
                    (full.ts, full.tid, full.tgid)
                );
                assert_eq!((lazy.ret, lazy.latency), (full.ret, full.latency));
            } else {
                assert_eq!(full, lazy);
            }
        }
        assert_eq!(reads, 20_001);
    }

    #[test]
    fn a_reader_that_stops_early_lets_the_converter_go() {
        let gz = gzip(&long_capture());
        let mut stream = ScapStream::open(gz).unwrap();
        let mut chunks = 0;
        let flow = stream
            .for_each_chunk(2, None, |_| {
                chunks += 1;
                ControlFlow::Break(())
            })
            .unwrap();
        assert!(flow.is_break());
        assert_eq!(chunks, 1);
    }
}
