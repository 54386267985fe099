//! Where the UI's data comes from: one or more opened trace files. Behind
//! the [`Source`] trait so that the application is not generic over how
//! the bytes are held (a memory map in the binary, a `Vec` in tests).
//!
//! Everything here that walks a whole trace (indexing, running a filter)
//! reports progress through [`Progress`] so it can run on a background
//! thread while the UI stays responsive. Single events (the detail pane,
//! the event list's info column, echo) are decoded on demand from their
//! chunk, found through the chunk index, with a few chunks cached.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use scry_analyze::fields::{ArgKind, Field, resolve};
use scry_analyze::reports::users::UserCommands;
use scry_analyze::state::State;
use scry_analyze::{Ctx, FIELDS, Filter, FilterError, Prepared, Scan, Window, scan};
use scry_format::{DecodedChunk, Snapshot, TraceFile};

use crate::index::{EventIndex, IndexBuilder, IndexFields, Mask};

/// How far a background pass is.
#[derive(Debug, Default)]
pub struct Progress {
    /// Events done.
    pub done: AtomicU64,
    /// Events in all.
    pub total: AtomicU64,
    /// Damaged chunks skipped.
    pub damaged: AtomicU64,
    /// Set to stop the pass early (a newer request replaced it).
    pub cancel: AtomicBool,
}

impl Progress {
    /// A fresh counter for a pass over `total` events.
    pub fn new(total: u64) -> Arc<Progress> {
        let progress = Progress::default();
        progress.total.store(total, Ordering::Relaxed);
        Arc::new(progress)
    }

    /// Done so far, in percent.
    pub fn percent(&self) -> u64 {
        let total = self.total.load(Ordering::Relaxed).max(1);
        (self.done.load(Ordering::Relaxed).min(total) * 100) / total
    }
}

/// What is known about the traces before indexing: enough for a first
/// frame.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// File names, in time order.
    pub names: Vec<String>,
    /// Host name of the first file.
    pub hostname: String,
    /// Events in all files, from their indexes.
    pub events: u64,
    /// Chunks: (first, last timestamp, events), in time order.
    pub chunks: Vec<(u64, u64, u32)>,
    /// Some file is cut short (crash, kill -9).
    pub truncated: bool,
}

/// One event, field by field, for the detail pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detail {
    /// (field name, value) pairs.
    pub fields: Vec<(String, String)>,
    /// The I/O buffer bytes the event carried, if any.
    pub data: Option<Vec<u8>>,
}

/// Traces the UI can read.
pub trait Source: Send + Sync {
    /// What is known before indexing.
    fn preview(&self) -> Preview;
    /// Builds the event index in one pass; with a non-empty `filter`, also
    /// the events it matches.
    ///
    /// # Errors
    /// A filter that does not compile against some file.
    fn index(
        &self,
        filter: &str,
        progress: &Progress,
    ) -> Result<(EventIndex, Option<Mask>), FilterError>;
    /// Checks that `filter` compiles against every file.
    ///
    /// # Errors
    /// The first compile error.
    fn check(&self, filter: &str) -> Result<(), FilterError>;
    /// The events of `index` that `filter` matches.
    ///
    /// # Errors
    /// A filter that does not compile against some file.
    fn mask(
        &self,
        filter: &str,
        index: &EventIndex,
        progress: &Progress,
    ) -> Result<Mask, FilterError>;
    /// Every field of one event that can be told without replaying the
    /// trace, and its buffer.
    fn detail(&self, index: &EventIndex, ordinal: usize) -> Option<Detail>;
    /// Every field of one event, with the state replayed up to it: a pass
    /// over the trace up to the event, for a background thread.
    fn exact_detail(
        &self,
        index: &EventIndex,
        ordinal: usize,
        progress: &Progress,
    ) -> Option<Detail>;
    /// The event's arguments as sysdig prints them (`evt.args`).
    fn args(&self, index: &EventIndex, ordinal: usize) -> String;
    /// The I/O buffer an event carried.
    fn data(&self, index: &EventIndex, ordinal: usize) -> Option<Vec<u8>>;
}

/// One opened trace file with what reading it needs.
struct File<D: AsRef<[u8]>> {
    name: String,
    trace: TraceFile<D>,
    prepared: Prepared,
    /// An empty state: fields read for single events are those that need
    /// none, so they never show another moment's process or fd.
    blank: State,
}

impl<D: AsRef<[u8]>> File<D> {
    /// The field `name` (without an argument) as this trace's tables
    /// resolve it.
    fn field(&self, name: &str) -> Option<Field> {
        resolve(
            name,
            None,
            &self.prepared.types,
            &self.trace.header().event_table,
        )
        .ok()
    }
}

/// Trace files, in time order.
pub struct Traces<D: AsRef<[u8]>> {
    files: Vec<File<D>>,
    threads: usize,
    cache: Mutex<Vec<((usize, usize), DecodedChunk)>>,
}

impl<D: AsRef<[u8]>> std::fmt::Debug for Traces<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traces")
            .field(
                "files",
                &self.files.iter().map(|f| &f.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Decoded chunks kept for single-event reads.
const CACHED_CHUNKS: usize = 8;

impl<D: AsRef<[u8]> + Send + Sync> Traces<D> {
    /// Wraps opened traces (name, trace); they are put in time order.
    pub fn new(traces: Vec<(String, TraceFile<D>)>, threads: usize) -> Self {
        let mut files: Vec<File<D>> = traces
            .into_iter()
            .map(|(name, trace)| {
                let prepared = Prepared::new(&trace);
                let blank = State::new(&Snapshot::default(), &trace.header().event_table);
                File {
                    name,
                    trace,
                    prepared,
                    blank,
                }
            })
            .collect();
        files.sort_by_key(|f| f.trace.time_range().map_or(u64::MAX, |(first, _)| first));
        Traces {
            files,
            threads: threads.max(1),
            cache: Mutex::new(Vec::new()),
        }
    }

    fn compile(&self, filter: &str) -> Result<Vec<Option<Filter>>, FilterError> {
        self.files
            .iter()
            .map(|file| {
                if filter.trim().is_empty() {
                    return Ok(None);
                }
                Filter::new(filter, file.prepared.catalog(&file.trace)).map(Some)
            })
            .collect()
    }

    /// Runs `read` on the context of one event (with a blank state). The
    /// event's chunk is decoded, or taken from the cache.
    fn with_event<T>(
        &self,
        index: &EventIndex,
        ordinal: usize,
        read: impl FnOnce(&File<D>, &Ctx<'_>) -> T,
    ) -> Option<T> {
        let part = index.part_of(ordinal);
        let num = *index.num.get(ordinal)?;
        let file = self.files.get(part)?;
        let chunks = file.trace.chunks();
        let position = chunks
            .partition_point(|c| c.summary.first_num <= num)
            .checked_sub(1)?;
        let entry = &chunks[position];
        let offset = usize::try_from(num - entry.summary.first_num).ok()?;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match cache.iter().position(|(key, _)| *key == (part, position)) {
            Some(at) => {
                let hit = cache.remove(at);
                cache.push(hit);
            }
            None => {
                let chunk = file.trace.decode_chunk(entry).ok()?;
                if cache.len() >= CACHED_CHUNKS {
                    cache.remove(0);
                }
                cache.push(((part, position), chunk));
            }
        }
        let (_, chunk) = cache.last()?;
        let event = chunk.get(offset)?;
        let table = &file.trace.header().event_table;
        let names = table
            .get(event.event_type())
            .map_or(&[][..], |e| &e.params[..]);
        let info = file.prepared.types.get(event.event_type());
        let first_ts = index.time_range().map_or(0, |(first, _)| first);
        let ctx = Ctx::new(
            event,
            info,
            &file.blank,
            first_ts,
            &file.trace.header().machine.hostname,
            names,
        );
        Some(read(file, &ctx))
    }
}

/// Every field of the catalog that applies to the event of `ctx`, then
/// its parameters and buffer. With `with_state` false, only the `evt.*`
/// fields that need no state (the state of `ctx` is blank).
fn fields_of<D: AsRef<[u8]>>(file: &File<D>, ctx: &Ctx<'_>, with_state: bool) -> Detail {
    let resolve_field = |name: &str| {
        file.field(name)
            .filter(|field| with_state || !field.needs_state())
    };
    let mut fields = Vec::new();
    for def in FIELDS {
        if def.arg != ArgKind::None || !(with_state || def.name.starts_with("evt.")) {
            continue;
        }
        if let Some(value) = resolve_field(def.name).and_then(|f| f.extract(ctx)) {
            fields.push((def.name.to_owned(), value.to_string()));
        }
    }
    for name in ctx.names {
        let name = format!("evt.arg.{name}");
        if let Some(value) = resolve_field(&name).and_then(|f| f.extract(ctx)) {
            fields.push((name, value.to_string()));
        }
    }
    let data = scry_analyze::reports::echo::block(ctx).map(|block| block.data.to_vec());
    Detail { fields, data }
}

fn index_fields<D: AsRef<[u8]>>(file: &File<D>) -> Option<IndexFields> {
    let get = |name: &str| file.field(name);
    Some(IndexFields {
        proc_name: get("proc.name")?,
        cmdline: get("proc.cmdline")?,
        ppid: get("proc.ppid")?,
        user: get("user.name")?,
        container: get("container.id")?,
        path: get("fs.path.name")?,
        commands: UserCommands::new(&file.trace.header().event_table),
    })
}

/// Set in the environment, it makes indexing panic (tests only).
#[doc(hidden)]
pub const PANIC_SWITCH: &str = "SCRY_VIEW_TEST_PANIC";

/// Progress is published every this many events.
const PROGRESS_STEP: u64 = 4096;

impl<D: AsRef<[u8]> + Send + Sync> Source for Traces<D> {
    fn preview(&self) -> Preview {
        let mut chunks: Vec<(u64, u64, u32)> = self
            .files
            .iter()
            .flat_map(|f| f.trace.chunks())
            .filter(|c| c.summary.events > 0)
            .map(|c| (c.summary.min_ts, c.summary.max_ts, c.summary.events))
            .collect();
        chunks.sort_unstable();
        Preview {
            names: self.files.iter().map(|f| f.name.clone()).collect(),
            hostname: self
                .files
                .first()
                .map(|f| f.trace.header().machine.hostname.clone())
                .unwrap_or_default(),
            events: self.files.iter().map(|f| f.trace.event_count()).sum(),
            chunks,
            truncated: self.files.iter().any(|f| f.trace.truncation().is_some()),
        }
    }

    fn index(
        &self,
        filter: &str,
        progress: &Progress,
    ) -> Result<(EventIndex, Option<Mask>), FilterError> {
        let filters = self.compile(filter)?;
        let total: u64 = self.files.iter().map(|f| f.trace.event_count()).sum();
        progress.total.store(total, Ordering::Relaxed);
        // A hidden switch for the test suite, which must see a failing pass
        // end the view cleanly in a real terminal.
        if std::env::var_os(PANIC_SWITCH).is_some() {
            panic!("indexing stopped: {PANIC_SWITCH} is set");
        }
        let mut builder = IndexBuilder::with_capacity(usize::try_from(total).unwrap_or(0));
        let mut matched: Vec<usize> = Vec::new();
        let mut ordinal = 0usize;
        let mut done = 0u64;
        for (file, filter) in self.files.iter().zip(&filters) {
            let table = &file.trace.header().event_table;
            let names: Vec<Option<&str>> = (0..table.id_bound())
                .map(|id| u16::try_from(id).ok().and_then(|id| table.name(id)))
                .collect();
            builder.start_file(&names);
            for entry in file.trace.stats() {
                builder.add_drops(entry.stats.ts, entry.stats.dropped());
            }
            let Some(fields) = index_fields(file) else {
                continue;
            };
            let options = Scan {
                filter: None,
                caller_needs_state: true,
                threads: self.threads,
                ..Scan::default()
            };
            let on_damage = |_| {
                progress.damaged.fetch_add(1, Ordering::Relaxed);
            };
            // A damaged trace still shows what could be read: only a strict
            // reader returns errors here, and traces are opened lenient.
            let _ = scan(&file.trace, &file.prepared, &options, on_damage, |ctx| {
                builder.add(ctx, &fields);
                if filter.as_ref().is_some_and(|f| f.matches(ctx)) {
                    matched.push(ordinal);
                }
                ordinal += 1;
                done += 1;
                if done.is_multiple_of(PROGRESS_STEP) {
                    progress.done.store(done, Ordering::Relaxed);
                    if progress.cancel.load(Ordering::Relaxed) {
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            });
        }
        progress.done.store(total, Ordering::Relaxed);
        let index = builder.finish();
        let mask = filters.iter().any(Option::is_some).then(|| {
            let mut mask = Mask::new(index.len());
            for &i in &matched {
                mask.set(i);
            }
            mask
        });
        Ok((index, mask))
    }

    fn check(&self, filter: &str) -> Result<(), FilterError> {
        self.compile(filter).map(|_| ())
    }

    fn mask(
        &self,
        filter: &str,
        index: &EventIndex,
        progress: &Progress,
    ) -> Result<Mask, FilterError> {
        let filters = self.compile(filter)?;
        progress.total.store(index.len() as u64, Ordering::Relaxed);
        let mut mask = Mask::new(index.len());
        for (part, (file, filter)) in self.files.iter().zip(&filters).enumerate() {
            let Some(filter) = filter else {
                continue;
            };
            let start = index.parts.get(part).copied().unwrap_or(0);
            let options = Scan {
                filter: Some(filter),
                threads: self.threads,
                ..Scan::default()
            };
            let _ = scan(
                &file.trace,
                &file.prepared,
                &options,
                |_| {},
                |ctx| {
                    let num = ctx.event.num();
                    if let Some(ordinal) = index.ordinal_of(part, num) {
                        mask.set(ordinal);
                    }
                    progress.done.store(start as u64 + num, Ordering::Relaxed);
                    if progress.cancel.load(Ordering::Relaxed) {
                        return ControlFlow::Break(());
                    }
                    ControlFlow::Continue(())
                },
            );
        }
        progress.done.store(index.len() as u64, Ordering::Relaxed);
        Ok(mask)
    }

    fn detail(&self, index: &EventIndex, ordinal: usize) -> Option<Detail> {
        self.with_event(index, ordinal, |file, ctx| fields_of(file, ctx, false))
    }

    fn exact_detail(
        &self,
        index: &EventIndex,
        ordinal: usize,
        progress: &Progress,
    ) -> Option<Detail> {
        let part = index.part_of(ordinal);
        let file = self.files.get(part)?;
        let num = *index.num.get(ordinal)?;
        let ts = *index.ts.get(ordinal)?;
        // evt.num counts from 1.
        let filter = Filter::new(
            &format!("evt.num={}", num + 1),
            file.prepared.catalog(&file.trace),
        )
        .ok()?;
        progress.total.store(num + 1, Ordering::Relaxed);
        let options = Scan {
            filter: Some(&filter),
            window: Window {
                since: ts,
                until: ts,
            },
            caller_needs_state: true,
            threads: self.threads,
            ..Scan::default()
        };
        let mut found = None;
        let _ = scan(
            &file.trace,
            &file.prepared,
            &options,
            |_| {},
            |ctx| {
                found = Some(fields_of(file, ctx, true));
                ControlFlow::Break(())
            },
        );
        progress.done.store(num + 1, Ordering::Relaxed);
        found
    }

    fn args(&self, index: &EventIndex, ordinal: usize) -> String {
        self.with_event(index, ordinal, |file, ctx| {
            let args = file
                .field("evt.args")
                .and_then(|f| f.extract(ctx))
                .map(|v| v.to_string())
                .unwrap_or_default();
            // The result has its own column.
            match args.strip_prefix("res=") {
                Some(rest) => rest
                    .split_once(' ')
                    .map_or_else(String::new, |(_, after)| after.to_owned()),
                None => args,
            }
        })
        .unwrap_or_default()
    }

    fn data(&self, index: &EventIndex, ordinal: usize) -> Option<Vec<u8>> {
        self.with_event(index, ordinal, |_, ctx| {
            scry_analyze::reports::echo::block(ctx).map(|block| block.data.to_vec())
        })
        .flatten()
    }
}
