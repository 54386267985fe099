//! The traces of one analysis command, read as one time-ordered stream:
//! which arguments are traces and which the filter, directories of rotated
//! segments, `--since`/`--until`, one compiled filter per trace, and the
//! scan that hands every selected event to a [`Visitor`] (traces whose time
//! ranges overlap are merged event by event), or for a [`ChunkVisitor`]
//! spreads the work on them over threads, run of events by run. `read`,
//! `top` and the summaries share it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::Context;
use scry_analyze::state::State;
use scry_analyze::{
    Catalog, ChunkPlan, ChunkWork, Ctx, Filter, Prepared, Scan, TimeSpec, Window, scan,
    scan_parallel, scan_stream,
};
use scry_format::{
    ChunkSource, DecodedChunk, EventTable, FormatError, IndexEntry, ReadOptions, TraceFile,
};

use crate::exit::UsageError;
use crate::open::{Trace, TraceData, open_scap_stream, open_trace, warn_scap};

/// What a command does with the events a scan selects.
pub trait Visitor {
    /// Why a scan stops early.
    type Stop;

    /// Whether the visitor reads state fields (process names, fds), so
    /// state must be replayed even if the filter does not need it.
    fn needs_state(&self) -> bool;

    /// Whether the state fields the visitor reads are all of processes,
    /// none of fds (which lets a scan leave out chunks that change no
    /// process).
    fn reads_no_fds(&self) -> bool {
        false
    }

    /// Whether the visitor reads the I/O buffers of most events.
    fn reads_buffers(&self) -> bool {
        false
    }

    /// Whether the visitor reads no event parameters at all (it counts
    /// events), which spares a capture converted as it is read from
    /// decoding those no filter or state needs.
    fn reads_no_params(&self) -> bool {
        false
    }

    /// The events that follow come from trace number `trace` (in the
    /// order of [`Traces::catalogs`]).
    fn enter(&mut self, trace: usize);

    /// One selected event.
    fn visit(&mut self, ctx: &Ctx<'_>) -> ControlFlow<Self::Stop>;

    /// A chunk of a trace read as a stream has been visited: more events
    /// may take a while to come (a live capture on a pipe).
    fn chunk_done(&mut self) -> ControlFlow<Self::Stop> {
        ControlFlow::Continue(())
    }
}

/// A visitor whose work on a run of events (a slice of a chunk) can be
/// done apart from the other runs' (on other threads) and put together in
/// file order: printing lines, not counting matches toward a limit.
pub trait ChunkVisitor: Visitor {
    /// What a worker thread does with the events of one run.
    type Work: ChunkWork;

    /// `count` workers for the trace entered last, or `None` when its
    /// events must be visited one after the other after all.
    fn workers(&mut self, count: usize) -> Option<Vec<Self::Work>>;

    /// What the workers made of one run, in file order.
    fn collect(&mut self, output: <Self::Work as ChunkWork>::Output) -> ControlFlow<Self::Stop>;

    /// Events per run; 0 for the scan's default. Runs as long as a chunk
    /// suit work whose output stays small whatever the run's length (a
    /// summary): each run costs a copy of the state and an output to merge.
    fn run_events(&self) -> usize {
        0
    }
}

/// The traces of a command, in the order of their first event, with what
/// each needs to be queried.
pub struct Traces {
    traces: Vec<(PathBuf, Trace)>,
    prepared: Vec<Prepared>,
    filters: Vec<Option<Filter>>,
    window: Window,
    threads: usize,
    strict: bool,
}

/// What a command asks of its traces.
pub struct Query<'a> {
    /// Trace files or directories of segments (`-` for standard input).
    pub paths: Vec<PathBuf>,
    /// The filter text; empty for none.
    pub filter: &'a str,
    /// `--since`, `--until`.
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    /// Decoding threads; `None` for one per core.
    pub threads: Option<usize>,
    /// Fail at the first damaged chunk instead of skipping it.
    pub strict: bool,
}

impl Traces {
    /// Opens every trace of `query` and compiles its filter against each,
    /// so that a bad filter is reported before anything is printed.
    pub fn open(query: &Query<'_>) -> anyhow::Result<Traces> {
        let since = parse_time(query.since, "--since")?;
        let until = parse_time(query.until, "--until")?;
        let mut traces = Vec::with_capacity(query.paths.len());
        // One capture read alone, not placed in time by offsets, is
        // converted while it is read rather than first.
        let relative = [&since, &until]
            .iter()
            .any(|spec| spec.as_ref().is_some_and(|s| !matches!(s, TimeSpec::At(_))));
        if let [path] = &query.paths[..]
            && !relative
            && !query.strict
            && let Some(trace) = open_scap_stream(path)?
        {
            traces.push((path.clone(), trace));
        }
        for path in &query.paths[traces.len()..] {
            let options = ReadOptions {
                strict: query.strict,
            };
            let trace = open_trace(path, options)?;
            if let Trace::Mapped(file) = &trace
                && query.strict
                && let Some(cut) = file.truncation()
            {
                anyhow::bail!(
                    "{} is truncated at byte {} (--strict reads only whole traces)",
                    path.display(),
                    cut.offset
                );
            }
            traces.push((path.clone(), trace));
        }
        // Segments and files are read in the order of their first event, so
        // that rotated segments make one stream whatever their names.
        traces.sort_by_key(|(_, trace)| match trace {
            Trace::Mapped(trace) => trace.time_range().map_or(u64::MAX, |(first, _)| first),
            Trace::Stream(_) | Trace::Scap(_) => u64::MAX,
        });
        let window = window(&traces, since, until)?;
        if window.since > window.until {
            return Err(UsageError(format!(
                "--since {} is later than --until {}: no event lies between them",
                query.since.unwrap_or_default(),
                query.until.unwrap_or_default()
            ))
            .into());
        }
        let mut prepared = Vec::with_capacity(traces.len());
        let mut filters = Vec::with_capacity(traces.len());
        for (_, trace) in &traces {
            let table = table_of(trace);
            let ready = Prepared::from_table(table);
            filters.push(compile_filter(query.filter, ready.catalog_of(table))?);
            prepared.push(ready);
        }
        Ok(Traces {
            traces,
            prepared,
            filters,
            window,
            threads: query.threads.unwrap_or_else(scry_format::default_threads),
            strict: query.strict,
        })
    }

    /// The catalog of each trace, to bind output formats and views to.
    pub fn catalogs(&self) -> impl Iterator<Item = Catalog<'_>> {
        self.traces
            .iter()
            .zip(&self.prepared)
            .map(|((_, trace), prepared)| prepared.catalog_of(table_of(trace)))
    }

    /// Hands every selected event of every trace to `visitor`, in time
    /// order; `Some` when the visitor stopped the scan.
    pub fn scan<V: Visitor>(&mut self, visitor: &mut V) -> anyhow::Result<Option<V::Stop>> {
        self.scan_with(visitor, Self::scan_one)
    }

    /// As [`Traces::scan`], with the work on the events of each trace file
    /// read alone spread over threads run by run, when the visitor
    /// allows it ([`ChunkVisitor::workers`]) and more than one thread is
    /// asked for.
    pub fn scan_chunks<V: ChunkVisitor>(
        &mut self,
        visitor: &mut V,
    ) -> anyhow::Result<Option<V::Stop>> {
        self.scan_with(visitor, |traces, index, visitor| {
            let parallel = traces.threads > 1 && matches!(traces.traces[index].1, Trace::Mapped(_));
            match parallel.then(|| visitor.workers(traces.threads)).flatten() {
                Some(workers) => traces.scan_parallel(index, visitor, workers),
                None => traces.scan_one(index, visitor),
            }
        })
    }

    /// Reads the traces group by group: one read alone with `one`, or
    /// those whose time ranges overlap merged.
    fn scan_with<V: Visitor>(
        &mut self,
        visitor: &mut V,
        mut one: impl FnMut(&mut Self, usize, &mut V) -> anyhow::Result<Option<V::Stop>>,
    ) -> anyhow::Result<Option<V::Stop>> {
        let mut next = 0;
        while next < self.traces.len() {
            let group = overlapping(&self.traces[next..]);
            let range = next..next + group;
            next += group;
            let stop = if group == 1 {
                visitor.enter(range.start);
                one(self, range.start, visitor)?
            } else {
                self.merge(range, visitor)
            };
            if stop.is_some() {
                return Ok(stop);
            }
        }
        Ok(None)
    }

    /// How a trace is scanned with `filter` for `visitor`: what it reads
    /// decides what the scan may leave out.
    fn scan_options<'f, V: Visitor>(&self, filter: Option<&'f Filter>, visitor: &V) -> Scan<'f> {
        Scan {
            filter,
            window: self.window,
            caller_needs_state: visitor.needs_state(),
            caller_reads_no_fds: visitor.reads_no_fds(),
            caller_reads_buffers: visitor.reads_buffers(),
            caller_reads_no_params: visitor.reads_no_params(),
            threads: self.threads,
            ..Scan::default()
        }
    }

    /// [`Traces::scan_one`] for a trace file, with `workers` doing the work
    /// on the events of its chunks.
    fn scan_parallel<V: ChunkVisitor>(
        &mut self,
        index: usize,
        visitor: &mut V,
        workers: Vec<V::Work>,
    ) -> anyhow::Result<Option<V::Stop>> {
        let options = Scan {
            slice_events: visitor.run_events(),
            ..self.scan_options(self.filters[index].as_ref(), visitor)
        };
        let prepared = &self.prepared[index];
        let (path, trace) = &self.traces[index];
        let Trace::Mapped(trace) = trace else {
            unreachable!("only trace files are read in parallel");
        };
        let name = path.display().to_string();
        warn_truncated(&name, trace);
        let on_damage = |error: FormatError| {
            eprintln!("scry: warning: {name}: skipped a damaged chunk: {error}");
        };
        let flow = scan_parallel(trace, prepared, &options, workers, on_damage, |output| {
            visitor.collect(output)
        })
        .with_context(|| format!("cannot read {name}"))?;
        Ok(match flow {
            ControlFlow::Break(stop) => Some(stop),
            ControlFlow::Continue(()) => None,
        })
    }

    fn scan_one<V: Visitor>(
        &mut self,
        index: usize,
        visitor: &mut V,
    ) -> anyhow::Result<Option<V::Stop>> {
        let options = self.scan_options(self.filters[index].as_ref(), visitor);
        let prepared = &self.prepared[index];
        let (path, trace) = &mut self.traces[index];
        let name = path.display().to_string();
        let on_damage = |error: FormatError| {
            eprintln!("scry: warning: {name}: skipped a damaged chunk: {error}");
        };
        let flow = match trace {
            Trace::Mapped(trace) => {
                warn_truncated(&name, trace);
                scan(trace, prepared, &options, on_damage, |ctx| {
                    visitor.visit(ctx)
                })
            }
            Trace::Scap(stream) => {
                let flow = scan_source(&mut **stream, prepared, &options, on_damage, visitor);
                warn_scap(path, stream.report());
                flow
            }
            Trace::Stream(stream) => {
                let flow = scan_source(&mut **stream, prepared, &options, on_damage, visitor);
                if let Some(cut) = stream.truncation() {
                    if self.strict {
                        anyhow::bail!(
                            "{name} is truncated at byte {} (--strict reads only whole traces)",
                            cut.offset
                        );
                    }
                    eprintln!(
                        "scry: warning: {name} is truncated at byte {}: read its complete chunks",
                        cut.offset
                    );
                }
                flow
            }
        }
        .with_context(|| format!("cannot read {name}"))?;
        Ok(match flow {
            ControlFlow::Break(stop) => Some(stop),
            ControlFlow::Continue(()) => None,
        })
    }

    /// Reads traces whose time ranges overlap as one stream: the matching
    /// event with the earliest time goes first, ties going to the trace
    /// named first (in time order of first events) and then to file order.
    /// Each trace keeps its own state, replayed in its own order, and its
    /// chunks are decoded ahead on a thread of its own.
    fn merge<V: Visitor>(&self, range: std::ops::Range<usize>, visitor: &mut V) -> Option<V::Stop> {
        let window = self.window;
        // What the visitor reads may differ from trace to trace (its
        // output fields are bound to each): ask it inside each.
        let needs: Vec<(bool, bool)> = range
            .clone()
            .map(|index| {
                visitor.enter(index);
                (visitor.needs_state(), visitor.reads_no_fds())
            })
            .collect();
        let names: Vec<String> = self.traces[range.clone()]
            .iter()
            .map(|(p, _)| p.display().to_string())
            .collect();
        std::thread::scope(|scope| {
            let mut cursors = Vec::with_capacity(range.len());
            for index in range.clone() {
                let (path, trace) = &self.traces[index];
                let Trace::Mapped(trace) = trace else {
                    unreachable!("only trace files are merged");
                };
                warn_truncated(&path.display().to_string(), trace);
                let trace: &TraceFile<TraceData> = trace;
                let filter = self.filters[index].as_ref();
                let (caller_needs_state, caller_reads_no_fds) = needs[index - range.start];
                let with_state = caller_needs_state || filter.is_some_and(Filter::needs_state);
                let options = Scan {
                    filter,
                    window,
                    caller_needs_state,
                    caller_reads_no_fds,
                    ..Scan::default()
                };
                let plan = ChunkPlan::new(trace.chunks(), &self.prepared[index], &options);
                // A few chunks decoded ahead keep each trace's thread busy
                // while memory stays bounded.
                let (send, chunks) = sync_channel(4);
                scope.spawn(move || {
                    // Chunks that all start after --until are never read.
                    for (at, entry) in trace.chunks()[..plan.end()].iter().enumerate() {
                        let feed = if plan.skippable(at) {
                            Feed::Skippable(entry)
                        } else if plan.decode(at) {
                            Feed::Decoded(Box::new(trace.decode_chunk(entry)), plan.evaluate(at))
                        } else {
                            continue;
                        };
                        if send.send(feed).is_err() {
                            return;
                        }
                    }
                });
                cursors.push(Cursor {
                    trace,
                    prepared: &self.prepared[index],
                    filter,
                    window,
                    with_state,
                    first_ts: trace.time_range().map_or(0, |(first, _)| first),
                    state: State::of_trace(trace),
                    chunks,
                    chunk: DecodedChunk::default(),
                    wanted: false,
                    next: 0,
                });
            }
            let on_damage = |i: usize| {
                let name = &names[i];
                move |error: FormatError| {
                    eprintln!("scry: warning: {name}: skipped a damaged chunk: {error}");
                }
            };
            let mut heads = BinaryHeap::with_capacity(cursors.len());
            for (i, cursor) in cursors.iter_mut().enumerate() {
                if let Some(ts) = cursor.advance(&mut on_damage(i)) {
                    heads.push(Reverse((ts, i)));
                }
            }
            let mut entered = None;
            while let Some(Reverse((_, i))) = heads.pop() {
                if entered != Some(i) {
                    visitor.enter(range.start + i);
                    entered = Some(i);
                }
                let cursor = &cursors[i];
                if let Some(ctx) = cursor.ctx(cursor.next - 1)
                    && let ControlFlow::Break(stop) = visitor.visit(&ctx)
                {
                    return Some(stop);
                }
                if let Some(ts) = cursors[i].advance(&mut on_damage(i)) {
                    heads.push(Reverse((ts, i)));
                }
            }
            None
        })
    }
}

fn warn_truncated(name: &str, trace: &TraceFile<TraceData>) {
    if let Some(cut) = trace.truncation() {
        eprintln!(
            "scry: warning: {name} is truncated at byte {}: reading its complete chunks",
            cut.offset
        );
    }
}

fn table_of(trace: &Trace) -> &EventTable {
    match trace {
        Trace::Mapped(trace) => &trace.header().event_table,
        Trace::Stream(reader) => &reader.header().event_table,
        Trace::Scap(stream) => &stream.header().event_table,
    }
}

/// Scans a trace read front to back; both callbacks reach the visitor,
/// one after the other.
fn scan_source<S: ChunkSource, V: Visitor>(
    source: &mut S,
    prepared: &Prepared,
    options: &Scan<'_>,
    on_damage: impl FnMut(FormatError),
    visitor: &mut V,
) -> Result<ControlFlow<V::Stop>, FormatError> {
    let visitor = std::cell::RefCell::new(visitor);
    scan_stream(
        source,
        prepared,
        options,
        on_damage,
        |ctx| visitor.borrow_mut().visit(ctx),
        || visitor.borrow_mut().chunk_done(),
    )
}

/// Compiles a command's filter against one trace; `None` when empty. What
/// the filter is warned about goes to stderr, once for all traces.
pub fn compile_filter(text: &str, catalog: Catalog<'_>) -> anyhow::Result<Option<Filter>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let filter = Filter::new(text, catalog)
        .map_err(|error| UsageError(format!("bad filter\n{}", error.render(text))))?;
    warn_about(text, &filter);
    Ok(Some(filter))
}

/// Prints the warnings of a filter to stderr, the first time only: every
/// trace of a command compiles the same text.
pub fn warn_about(text: &str, filter: &Filter) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if filter.warnings().is_empty() || WARNED.swap(true, Ordering::Relaxed) {
        return;
    }
    for warning in filter.warnings() {
        eprintln!("scry: warning: {}", warning.render(text));
    }
}

/// Which arguments are traces and which make up the filter: with traces
/// named by `-r`, every positional argument is filter; otherwise the first
/// is a trace, and so is each one after it that names an existing file,
/// `-`, or looks like a trace name, up to the first that does not.
/// Directories stand for the segments they hold.
pub fn split_inputs(
    inputs: &[String],
    named: &[PathBuf],
    usage: &str,
) -> anyhow::Result<(Vec<PathBuf>, String)> {
    let mut named: Vec<PathBuf> = named.to_vec();
    let mut rest = inputs.iter().peekable();
    if named.is_empty() {
        if let Some(first) = rest.next() {
            named.push(PathBuf::from(first));
        }
        while let Some(arg) = rest.next_if(|arg| is_trace_arg(arg)) {
            named.push(PathBuf::from(arg));
        }
    }
    let filter = rest.map(String::as_str).collect::<Vec<_>>().join(" ");
    if named.is_empty() {
        return Err(UsageError(format!("no trace given: {usage}")).into());
    }
    let paths = expand_directories(&named)?;
    if paths.iter().filter(|p| p.as_os_str() == "-").count() > 1 {
        return Err(UsageError("standard input (-) can be read only once".to_owned()).into());
    }
    Ok((paths, filter))
}

/// `paths` with each directory replaced by the trace segments it holds,
/// and each file named again left out ([`drop_repeated`]).
pub fn expand_directories(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut expanded = Vec::with_capacity(paths.len());
    for path in paths {
        if path.is_dir() {
            let segments = segments(path)?;
            if segments.is_empty() {
                return Err(UsageError(format!("{} holds no trace files", path.display())).into());
            }
            expanded.extend(segments);
        } else {
            expanded.push(path.clone());
        }
    }
    Ok(drop_repeated(expanded))
}

/// `paths` without the files already named (by the same path or another
/// name of the same file), each left out with a warning: read twice, its
/// events would be counted and merged twice.
fn drop_repeated(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    paths
        .into_iter()
        .filter(|path| {
            // Standard input is refused twice elsewhere; a file that cannot
            // be read is reported when it is opened.
            let Some(identity) = file_identity(path) else {
                return true;
            };
            let first = seen.insert(identity);
            if !first {
                eprintln!("scry: warning: {} given twice, read once", path.display());
            }
            first
        })
        .collect()
}

/// What tells a file apart whatever its name (device and inode), for a
/// path to an existing file; `None` for standard input (`-`) and for a path
/// that names no file.
pub fn file_identity(path: &Path) -> Option<(u64, u64)> {
    if path.as_os_str() == "-" {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.dev(), meta.ino()))
}

fn is_trace_arg(arg: &str) -> bool {
    arg == "-"
        || Path::new(arg).exists()
        || [".scry", ".scap", ".scap.gz"]
            .iter()
            .any(|ext| arg.ends_with(ext))
}

/// The trace files of a directory of segments, by name (they are ordered
/// by time once opened).
fn segments(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_trace = [".scry", ".scap", ".gz"]
            .iter()
            .any(|ext| name.ends_with(ext))
            || name.contains(".scry");
        if !name.starts_with('.') && is_trace && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn parse_time(text: Option<&str>, flag: &str) -> anyhow::Result<Option<TimeSpec>> {
    text.map(|text| {
        TimeSpec::parse(text).map_err(|message| UsageError(format!("{flag}: {message}")))
    })
    .transpose()
    .map_err(Into::into)
}

/// The window `--since`/`--until` name; offsets and durations are placed in
/// the time range of all the traces together.
fn window(
    traces: &[(PathBuf, Trace)],
    since: Option<TimeSpec>,
    until: Option<TimeSpec>,
) -> anyhow::Result<Window> {
    let relative = [since, until]
        .iter()
        .flatten()
        .any(|spec| !matches!(spec, TimeSpec::At(_)));
    if relative
        && traces
            .iter()
            .any(|(_, t)| matches!(t, Trace::Stream(_) | Trace::Scap(_)))
    {
        return Err(UsageError(
            "offsets and durations in --since/--until need trace files, not a stream: \
             use RFC 3339 times"
                .to_owned(),
        )
        .into());
    }
    let range = traces
        .iter()
        .filter_map(|(_, trace)| match trace {
            Trace::Mapped(trace) => trace.time_range(),
            Trace::Stream(_) | Trace::Scap(_) => None,
        })
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
        .unwrap_or((0, 0));
    Ok(Window {
        since: since.map_or(0, |spec| spec.resolve(range.0, range.1)),
        until: until.map_or(u64::MAX, |spec| spec.resolve(range.0, range.1)),
    })
}

/// How many traces from the start of `traces` (sorted by first event) must
/// be merged event by event because their time ranges overlap; 1 when the
/// first one can be read alone, as rotated segments are.
fn overlapping(traces: &[(PathBuf, Trace)]) -> usize {
    let range = |trace: &Trace| match trace {
        Trace::Mapped(trace) => trace.time_range(),
        Trace::Stream(_) | Trace::Scap(_) => None,
    };
    let Some((_, mut last)) = traces.first().and_then(|(_, t)| range(t)) else {
        return 1;
    };
    let mut count = 1;
    for (_, trace) in &traces[1..] {
        match range(trace) {
            Some((first, end)) if first <= last => {
                last = last.max(end);
                count += 1;
            }
            _ => break,
        }
    }
    count
}

/// What a merged trace's reading thread hands on, chunk by chunk.
enum Feed<'t> {
    /// A decoded chunk, and whether its events may match.
    Decoded(Box<Result<DecodedChunk, FormatError>>, bool),
    /// A chunk left undecoded unless the state shows it must be replayed
    /// ([`ChunkPlan::must_replay`]).
    Skippable(&'t IndexEntry),
}

/// One trace of a merge: its chunks arrive decoded, in file order, from a
/// thread of their own; `state` has replayed every event up to the current
/// one.
struct Cursor<'t> {
    trace: &'t TraceFile<TraceData>,
    prepared: &'t Prepared,
    filter: Option<&'t Filter>,
    window: Window,
    with_state: bool,
    first_ts: u64,
    state: State,
    chunks: Receiver<Feed<'t>>,
    chunk: DecodedChunk,
    /// Whether the current chunk's events may match (the chunk index says
    /// so); the others only feed state.
    wanted: bool,
    /// The event after the current one in `chunk`.
    next: usize,
}

impl Cursor<'_> {
    fn ctx(&self, index: usize) -> Option<Ctx<'_>> {
        let event = self.chunk.get(index)?;
        let table = &self.trace.header().event_table;
        let names = table
            .get(event.event_type())
            .map_or(&[][..], |e| &e.params[..]);
        let info = self.prepared.types.get(event.event_type());
        let hostname = self.trace.header().machine.hostname.as_str();
        Some(Ctx::new(
            event,
            info,
            &self.state,
            self.first_ts,
            hostname,
            names,
        ))
    }

    /// Moves to the next event that matches and returns its time; the
    /// current event is then `next - 1`.
    fn advance(&mut self, on_damage: &mut impl FnMut(FormatError)) -> Option<u64> {
        loop {
            if self.next >= self.chunk.len() {
                let (chunk, wanted) = match self.chunks.recv().ok()? {
                    Feed::Decoded(chunk, wanted) => (*chunk, wanted),
                    Feed::Skippable(entry) if ChunkPlan::must_replay(entry, &self.state) => {
                        (self.trace.decode_chunk(entry), false)
                    }
                    Feed::Skippable(_) => continue,
                };
                match chunk {
                    Ok(chunk) => (self.chunk, self.wanted) = (chunk, wanted),
                    Err(error) => {
                        // Not the previous chunk again.
                        self.chunk = DecodedChunk::default();
                        on_damage(error);
                    }
                }
                self.next = 0;
                continue;
            }
            let index = self.next;
            self.next += 1;
            let event = self.chunk.get(index)?;
            if self.with_state {
                self.state.apply(&event);
            }
            let ts = event.ts();
            if !self.wanted || ts < self.window.since || ts > self.window.until {
                continue;
            }
            let ctx = self.ctx(index)?;
            if self.filter.is_none_or(|filter| filter.matches(&ctx)) {
                return Some(ts);
            }
        }
    }
}
