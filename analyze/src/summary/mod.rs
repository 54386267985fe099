//! Summaries: events grouped by the values of key fields, with counts, sums,
//! maxima and distinct counts per group. This is what `scry top` prints and
//! what the terminal UI's tables show.
//!
//! A view is data ([`ViewSpec`]): which events it looks at, what identifies
//! a row, what describes it, what it measures and how rows are sorted, so
//! the built-in views ([`views`]) and the ones built from `--by`/`--sum`
//! run the same code. A spec is bound to each trace it reads ([`Bound`]:
//! field names resolve differently per event table), and one [`Summary`]
//! accumulates over every trace of a query.
//!
//! The hot path allocates only when a new row appears: the key values of an
//! event are encoded into a reused buffer and looked up by those bytes.

mod print;
mod views;

use std::borrow::Cow;
use std::hash::Hasher;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

use crate::compile::{Catalog, Filter, FilterError};
use crate::fields::{Ctx, Field, Shape};
use crate::filter::Span;
use crate::parallel::ChunkWork;
use crate::state::FdEntry;
use crate::value::{FieldType, Value};

pub use print::{TableStyle, write_json, write_table};
pub use views::{VIEWS, view, view_names};

/// How a measure's values are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain number.
    Count,
    /// Bytes (KiB, MiB… for people).
    Bytes,
    /// Nanoseconds (µs, ms, s… for people).
    Nanos,
}

/// How a measure combines the events of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// Number of events.
    Count,
    /// Sum of a numeric field. Negative values are left out: they are the
    /// errors of failed calls (`evt.rawres`), not sizes or times.
    Sum,
    /// Largest value of a numeric field.
    Max,
    /// Number of distinct values of a field.
    Distinct,
}

/// A column that identifies or describes a row: a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its header.
    pub header: String,
    /// The field, as written in a filter (`fd.name`, `proc.aname[1]`).
    pub field: String,
}

impl Column {
    /// A column of `field` headed `header`.
    pub fn new(header: &str, field: &str) -> Column {
        Column {
            header: header.to_owned(),
            field: field.to_owned(),
        }
    }
}

/// A column that measures the events of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    /// Its header.
    pub header: String,
    /// How events are combined.
    pub aggregate: Aggregate,
    /// The field combined; none for [`Aggregate::Count`].
    pub field: Option<String>,
    /// Only events matching this filter count towards it.
    pub when: Option<String>,
    /// How its values are shown.
    pub unit: Unit,
}

/// A view: what a summary groups by and measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSpec {
    /// Its name (`files`).
    pub name: String,
    /// What it shows, in a few words.
    pub title: String,
    /// The columns whose values identify a row. An event lacking one of
    /// them is left out of the view.
    pub keys: Vec<Column>,
    /// Columns describing a row (a process' name for a row keyed by pid):
    /// the values of the row's latest event that has them.
    pub labels: Vec<Column>,
    /// The measured columns.
    pub measures: Vec<Measure>,
    /// Only events matching this filter are looked at.
    pub restrict: Option<String>,
    /// The measure rows are sorted by, largest first.
    pub sort: usize,
}

impl ViewSpec {
    /// Every column header in table order: keys, labels, measures.
    pub fn headers(&self) -> impl Iterator<Item = &str> {
        let keys = self.keys.iter().chain(&self.labels).map(|c| &c.header[..]);
        keys.chain(self.measures.iter().map(|m| &m.header[..]))
    }

    /// The index (among the measures) of the measure headed `header`,
    /// compared without case.
    pub fn measure_index(&self, header: &str) -> Option<usize> {
        self.measures
            .iter()
            .position(|m| m.header.eq_ignore_ascii_case(header))
    }

    /// Resolves the spec's fields and filters against one trace.
    ///
    /// # Errors
    /// A field or filter of the spec that does not compile, with the text
    /// it came from.
    pub fn bind(&self, catalog: Catalog<'_>) -> Result<Bound, SpecError> {
        let keys = self.columns(&self.keys, catalog)?;
        let labels = self.columns(&self.labels, catalog)?;
        let mut measures = Vec::with_capacity(self.measures.len());
        for measure in &self.measures {
            let field = match &measure.field {
                Some(text) => {
                    let field = resolve_field(text, catalog)?;
                    if measure.aggregate != Aggregate::Distinct && field.def().ty != FieldType::Num
                    {
                        return Err(SpecError::new(
                            text,
                            FilterError {
                                span: whole(text),
                                message: format!(
                                    "'{text}' is a {}, not a number: it cannot be added up",
                                    field.def().ty.as_str()
                                ),
                            },
                        ));
                    }
                    Some(field)
                }
                None => None,
            };
            let when = compile(measure.when.as_deref(), catalog)?;
            measures.push(BoundMeasure {
                aggregate: measure.aggregate,
                field,
                when,
            });
        }
        let restrict = compile(self.restrict.as_deref(), catalog)?;
        let by_type = type_masks(restrict.as_ref(), &measures);
        // Whether any field or filter of the view needs what `field` and
        // `filter` say of it.
        let any_needs = |field: fn(&Field) -> bool, filter: fn(&Filter) -> bool| {
            keys.iter().chain(&labels).any(field)
                || measures.iter().any(|m| {
                    m.field.as_ref().is_some_and(field) || m.when.as_ref().is_some_and(filter)
                })
                || restrict.as_ref().is_some_and(filter)
        };
        let needs_state = any_needs(Field::needs_state, Filter::needs_state);
        let needs_fds = any_needs(Field::needs_fds, Filter::needs_fds);
        let labels_of_process =
            !labels.is_empty() && labels.iter().all(Field::reads_only_its_process);
        let labels_of_keys = labels
            .iter()
            .all(|label| keys.iter().any(|key| label.follows_from(key)));
        let fd_keys = if keys.iter().any(Field::reads_only_its_fd)
            && keys.iter().all(|k| k.reads_only_its_fd() || k.is_pid())
        {
            if keys.iter().any(Field::is_pid) {
                FdKeys::EntryAndPid
            } else {
                FdKeys::Entry
            }
        } else {
            FdKeys::No
        };
        let distinct_of_fd = measures
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                m.aggregate == Aggregate::Distinct
                    && m.when.is_none()
                    && m.field.as_ref().is_some_and(|field| {
                        field.reads_only_its_fd()
                            || (fd_keys == FdKeys::EntryAndPid && field.is_pid())
                    })
            })
            .fold(0, |mask, (i, _)| {
                mask | 1u64.checked_shl(i as u32).unwrap_or(0)
            });
        let keys_of_process = !keys.is_empty() && keys.iter().all(Field::reads_only_its_process);
        Ok(Bound {
            keys,
            labels,
            labels_of_process,
            labels_of_keys,
            fd_keys,
            keys_of_process,
            distinct_of_fd,
            restrict_of_fd: restrict.as_ref().is_none_or(Filter::reads_only_its_fd),
            by_type,
            measures,
            restrict,
            needs_state,
            needs_fds,
        })
    }

    fn columns(&self, columns: &[Column], catalog: Catalog<'_>) -> Result<Vec<Field>, SpecError> {
        columns
            .iter()
            .map(|column| resolve_field(&column.field, catalog))
            .collect()
    }
}

/// A field or filter of a view that does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct SpecError {
    /// The text of the field or filter.
    pub text: String,
    /// What is wrong with it.
    pub error: FilterError,
}

impl SpecError {
    fn new(text: &str, error: FilterError) -> SpecError {
        SpecError {
            text: text.to_owned(),
            error,
        }
    }

    /// The text with a caret under the offending part and the message.
    pub fn render(&self) -> String {
        self.error.render(&self.text)
    }
}

fn whole(text: &str) -> Span {
    Span {
        start: 0,
        end: text.len(),
    }
}

/// Resolves a field written as in a filter (`proc.aname[2]`, `evt.arg.fd`).
fn resolve_field(text: &str, catalog: Catalog<'_>) -> Result<Field, SpecError> {
    catalog.value_field(text).map_err(|message| {
        SpecError::new(
            text,
            FilterError {
                span: whole(text),
                message,
            },
        )
    })
}

fn compile(text: Option<&str>, catalog: Catalog<'_>) -> Result<Option<Filter>, SpecError> {
    text.map(|text| Filter::new(text, catalog).map_err(|error| SpecError::new(text, error)))
        .transpose()
}

/// A view's fields and filters resolved against one trace.
#[derive(Debug)]
pub struct Bound {
    keys: Vec<Field>,
    labels: Vec<Field>,
    /// Every label reads the event's process alone
    /// ([`Field::reads_only_its_process`]).
    labels_of_process: bool,
    /// Every label, if there are any, follows from the keys
    /// ([`Field::follows_from`]): read when a row is made, never again.
    labels_of_keys: bool,
    /// What the keys read, when it is only the event's fd entry and
    /// process id: rows are then found by them ([`FdRows`]).
    fd_keys: FdKeys,
    /// Every key reads the event's process alone
    /// ([`Field::reads_only_its_process`]): rows are then found by process
    /// ([`ProcessRows`]).
    keys_of_process: bool,
    /// The restriction reads only the event's fd entry (or there is
    /// none): its answer for one event holds for every event of the entry.
    restrict_of_fd: bool,
    /// Bit `i`: measure `i` counts distinct values, unconditionally, of a
    /// field that is a function of what finds a row by fd entry
    /// ([`FdRows`]). An event whose row is found that way brings the value
    /// the entry's first event counted already, and is not counted again.
    distinct_of_fd: u64,
    /// Per event type id, what events of the type may count for: see
    /// [`type_masks`]. Types past its end may count for anything.
    by_type: Vec<u64>,
    measures: Vec<BoundMeasure>,
    restrict: Option<Filter>,
    needs_state: bool,
    needs_fds: bool,
}

/// In a [`Bound::by_type`] mask: events of the type may pass the view's
/// restriction. Bit `i` below it: they may count for measure `i`.
const MAY_PASS: u64 = 1 << 63;

/// Per event type id, a mask of [`MAY_PASS`] and of the measures whose
/// condition events of the type may meet, from the types the filters can
/// match ([`Filter::event_types`]): events of a type that cannot pass are
/// left out before the restriction is evaluated, and conditions that
/// cannot hold are not evaluated. Empty (anything may count) when no
/// filter tells, or when there are too many measures for a mask.
fn type_masks(restrict: Option<&Filter>, measures: &[BoundMeasure]) -> Vec<u64> {
    if measures.len() >= 63 {
        return Vec::new();
    }
    let restrict = restrict.and_then(Filter::event_types);
    let whens: Vec<Option<Vec<bool>>> = measures
        .iter()
        .map(|m| m.when.as_ref().and_then(Filter::event_types))
        .collect();
    let len = whens
        .iter()
        .chain(std::iter::once(&restrict))
        .flatten()
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    let may = |types: &Option<Vec<bool>>, at: usize| {
        types
            .as_ref()
            .is_none_or(|types| types.get(at).copied().unwrap_or(true))
    };
    (0..len)
        .map(|at| {
            let measures = whens
                .iter()
                .enumerate()
                .filter(|(_, when)| may(when, at))
                .fold(0, |mask, (i, _)| mask | 1 << i);
            if may(&restrict, at) {
                measures | MAY_PASS
            } else {
                measures
            }
        })
        .collect()
}

impl Bound {
    /// What events of type `event_type` may count for ([`type_masks`]).
    #[inline]
    fn mask_of(&self, event_type: u16) -> u64 {
        self.by_type
            .get(usize::from(event_type))
            .copied()
            .unwrap_or(u64::MAX)
    }

    /// Whether the summary reads the reconstructed state.
    pub fn needs_state(&self) -> bool {
        self.needs_state
    }

    /// Whether the summary reads fd tables, not only processes (a scan
    /// for one that does not can leave out what changes no process).
    pub fn needs_fds(&self) -> bool {
        self.needs_fds
    }
}

/// What the key values of a view are a function of, when it is only the
/// event's fd entry ([`Field::reads_only_its_fd`]) and maybe its process
/// id ([`Field::is_pid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FdKeys {
    /// Something else.
    No,
    /// The fd entry.
    Entry,
    /// The fd entry and the process id.
    EntryAndPid,
}

/// The rows lately found for events whose keys are a function of their
/// process ([`Bound::keys_of_process`]), by process id and the state's
/// process generation: while no process changes, an event of a process
/// that went to a row goes to the same row, found without reading the
/// keys. A cache in front of the rows by key, like [`FdRows`].
#[derive(Debug, Default)]
struct ProcessRows {
    /// The bound and the state the slots were filled from, told apart by
    /// address (a summary may read several traces).
    source: (usize, usize),
    /// (process id, process generation, row); an empty slot holds a
    /// generation no state reaches.
    slots: Vec<(u32, u64, u32)>,
}

/// Slots of [`ProcessRows`]: more than the processes busy at once in a
/// trace, few enough (4 KiB) to stay in the nearest cache.
const PROCESS_ROWS: usize = 256;

impl ProcessRows {
    /// The row of process `tgid` as of `generation`, if known here:
    /// [`LEFT_OUT`] when the process lacks a key.
    #[inline]
    fn get(&self, source: (usize, usize), tgid: u32, generation: u64) -> Option<usize> {
        if self.source != source {
            return None;
        }
        match self.slots.get(tgid as usize % PROCESS_ROWS) {
            Some(&(pid, seen, row)) if pid == tgid && seen == generation => Some(row as usize),
            _ => None,
        }
    }

    fn put(&mut self, source: (usize, usize), tgid: u32, generation: u64, row: usize) {
        if self.source != source || self.slots.is_empty() {
            self.source = source;
            self.slots = vec![(0, u64::MAX, 0); PROCESS_ROWS];
        }
        self.slots[tgid as usize % PROCESS_ROWS] = (tgid, generation, row as u32);
    }
}

/// The rows lately found for events whose keys are a function of their
/// fd entry (and process id, [`FdKeys`]), by the entry's identity: an
/// event on an fd whose entry went to a row goes to the same row, found
/// without reading the keys, let alone hashing their text. Slots are
/// found from the identity (consecutive identities take consecutive
/// slots) and hold the last one put there; a cache in front of the rows
/// by key.
#[derive(Debug, Default)]
struct FdRows {
    /// (identity, process id or 0, row); identity 0 for an empty slot.
    slots: Vec<(u64, u32, u32)>,
}

/// Slots of [`FdRows`]: more than the fds a busy trace has open at once,
/// few enough (16 KiB) to stay in the nearest cache.
const FD_ROWS: usize = 1024;

/// In [`FdRows`], in place of a row: the events of the entry (and
/// process) are left out of the view, by the restriction
/// ([`Bound::restrict_of_fd`]) or for lacking a key.
const LEFT_OUT: usize = u32::MAX as usize;

/// The (row, value hash) pairs a distinct count added lately, in a few
/// slots chosen by hash: a pair found here is in the row's set already.
#[derive(Debug, Clone)]
struct RecentDistinct {
    slots: [(usize, u64); RECENT_DISTINCT],
}

/// Slots of [`RecentDistinct`]: more than the processes or files whose
/// events interleave in a busy stretch of a trace.
const RECENT_DISTINCT: usize = 32;

impl Default for RecentDistinct {
    fn default() -> Self {
        RecentDistinct {
            slots: [(usize::MAX, 0); RECENT_DISTINCT],
        }
    }
}

impl RecentDistinct {
    /// Whether the pair is new here (and so may be new to the row's
    /// set); it is remembered from now on.
    #[inline]
    fn check(&mut self, row: usize, hash: u64) -> bool {
        let at = (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 59) as usize;
        let slot = &mut self.slots[at % RECENT_DISTINCT];
        if *slot == (row, hash) {
            return false;
        }
        *slot = (row, hash);
        true
    }
}

impl FdRows {
    #[inline]
    fn slot(identity: u64, tgid: u32) -> usize {
        // Processes are mixed in apart from the identity's low bits, so
        // that two processes on one shared entry take different slots.
        let mixed = identity ^ u64::from(tgid).wrapping_mul(0x9e37_79b9);
        (mixed as usize) & (FD_ROWS - 1)
    }

    #[inline]
    fn get(&self, identity: u64, tgid: u32) -> Option<usize> {
        match self.slots.get(Self::slot(identity, tgid)) {
            Some(&(id, pid, row)) if id == identity && pid == tgid => Some(row as usize),
            _ => None,
        }
    }

    fn put(&mut self, identity: u64, tgid: u32, row: usize) {
        if self.slots.is_empty() {
            self.slots = vec![(0, 0, 0); FD_ROWS];
        }
        self.slots[Self::slot(identity, tgid)] = (identity, tgid, row as u32);
    }
}

#[derive(Debug)]
struct BoundMeasure {
    aggregate: Aggregate,
    field: Option<Field>,
    when: Option<Filter>,
}

/// One row being accumulated.
#[derive(Debug)]
struct Group {
    keys: Vec<Value<'static>>,
    labels: Vec<Option<Value<'static>>>,
    values: Vec<i64>,
    /// Per measure, the hashes of the values seen (distinct counts only).
    seen: Vec<FxHashSet<u64>>,
    /// Where the labels were last read from, when they read only the
    /// event's process: while an event of the same process sees the state
    /// with no process changed since, they would read the same values.
    labels_seen: Option<LabelsSeen>,
}

/// What the labels of a row were last read from (see
/// [`Summary::refresh`]). The bound and the state are told apart by
/// address: a summary reads several traces, each with its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LabelsSeen {
    bound: usize,
    state: usize,
    generation: u64,
    tgid: u32,
}

/// Accumulates events into the rows of a view.
#[derive(Debug)]
pub struct Summary {
    spec: ViewSpec,
    /// Row index by encoded key.
    rows: FxHashMap<Box<[u8]>, u32>,
    /// For views keyed by one number or one text, the rows already looked
    /// up by that value: found without encoding the key and hashing its
    /// bytes (read back just after being written, which stalls). Caches in
    /// front of `rows`, which stays complete.
    number_rows: FxHashMap<i64, u32>,
    text_rows: FxHashMap<Box<[u8]>, u32>,
    groups: Vec<Group>,
    key: Vec<u8>,
    /// The row the last event went to: events come in runs on one file or
    /// connection, found again by comparing the event's key values with
    /// the row's, with no hashing and no copy.
    last_row: Option<usize>,
    /// For views keyed by one number, the number the last event had and
    /// its row.
    last_number: Option<(i64, usize)>,
    /// Per measure, the (row, value hash) pairs a distinct count added
    /// lately: a value seen again in the same row, as the events of a few
    /// processes or files interleave, is not looked up in the row's set.
    recent_distinct: Vec<RecentDistinct>,
    /// For views keyed by what an fd is, rows by fd entry.
    fd_rows: FdRows,
    /// For views keyed by what a process is, rows by process.
    process_rows: ProcessRows,
    events: u64,
}

impl Summary {
    /// An empty summary of `spec`.
    pub fn new(spec: &ViewSpec) -> Summary {
        Summary {
            spec: spec.clone(),
            rows: FxHashMap::default(),
            number_rows: FxHashMap::default(),
            text_rows: FxHashMap::default(),
            groups: Vec::new(),
            key: Vec::with_capacity(256),
            last_row: None,
            last_number: None,
            recent_distinct: vec![RecentDistinct::default(); spec.measures.len()],
            fd_rows: FdRows::default(),
            process_rows: ProcessRows::default(),
            events: 0,
        }
    }

    /// The view it accumulates.
    pub fn spec(&self) -> &ViewSpec {
        &self.spec
    }

    /// Adds one event, read through `bound` (the spec bound to the event's
    /// trace).
    pub fn add(&mut self, bound: &Bound, ctx: &Ctx<'_>) {
        let mask = bound.mask_of(ctx.event.event_type());
        if mask & MAY_PASS == 0 {
            return;
        }
        let identity = match bound.fd_keys {
            FdKeys::No => None,
            FdKeys::Entry | FdKeys::EntryAndPid => ctx.fd().and_then(FdEntry::identity),
        };
        let passes = |ctx: &Ctx<'_>| bound.restrict.as_ref().is_none_or(|f| f.matches(ctx));
        let Some(identity) = identity else {
            if passes(ctx)
                && let Some(index) = self.row_of_process(bound, ctx)
            {
                self.measure(index, bound, ctx, mask);
            }
            return;
        };
        let identity = identity.get();
        let tgid = match bound.fd_keys {
            FdKeys::EntryAndPid => ctx.event.tgid(),
            _ => 0,
        };
        let index = match self.fd_rows.get(identity, tgid) {
            Some(LEFT_OUT) => return,
            Some(index) => {
                // What the entry's first event passed, this one passes
                // too when the restriction reads nothing else.
                if !bound.restrict_of_fd && !passes(ctx) {
                    return;
                }
                self.events += 1;
                self.refresh(index, bound, ctx);
                self.measure(index, bound, ctx, mask & !bound.distinct_of_fd);
                return;
            }
            None => {
                if !passes(ctx) {
                    if bound.restrict_of_fd {
                        self.fd_rows.put(identity, tgid, LEFT_OUT);
                    }
                    return;
                }
                // The keys are read from the entry and process alone: an
                // event lacking one leaves out every event of the pair.
                let Some(index) = self.row(bound, ctx) else {
                    self.fd_rows.put(identity, tgid, LEFT_OUT);
                    return;
                };
                self.fd_rows.put(identity, tgid, index);
                index
            }
        };
        self.measure(index, bound, ctx, mask);
    }

    /// [`Summary::row`], found by the event's process when the keys read
    /// nothing else.
    #[inline]
    fn row_of_process(&mut self, bound: &Bound, ctx: &Ctx<'_>) -> Option<usize> {
        if !bound.keys_of_process {
            return self.row(bound, ctx);
        }
        let source = (
            std::ptr::from_ref(bound) as usize,
            std::ptr::from_ref(ctx.state) as usize,
        );
        let tgid = ctx.event.tgid();
        let generation = ctx.state.process_generation();
        match self.process_rows.get(source, tgid, generation) {
            Some(LEFT_OUT) => None,
            Some(index) => {
                self.events += 1;
                self.refresh(index, bound, ctx);
                Some(index)
            }
            None => {
                let row = self.row(bound, ctx);
                let slot = row.unwrap_or(LEFT_OUT);
                self.process_rows.put(source, tgid, generation, slot);
                row
            }
        }
    }

    /// The row of the event (counting it), made if it is new; `None` when
    /// the event lacks a key, and is left out.
    #[inline]
    fn row(&mut self, bound: &Bound, ctx: &Ctx<'_>) -> Option<usize> {
        Some(match &bound.keys[..] {
            [field] if field.shape() == Shape::Num => {
                let n = field.num(ctx)?;
                self.events += 1;
                match self.last_number {
                    Some((last, index)) if last == n => {
                        self.refresh(index, bound, ctx);
                        index
                    }
                    _ => {
                        let cached = self.number_rows.get(&n).copied();
                        let index = self.row_of(cached, bound, ctx, |key| {
                            encode(&Value::Num(n.into()), key);
                        });
                        if cached.is_none() {
                            self.number_rows.insert(n, index as u32);
                        }
                        self.last_number = Some((n, index));
                        index
                    }
                }
            }
            [field] if field.shape() == Shape::Text => {
                let text = match field.text(ctx) {
                    Some(text) if !text.is_empty() => text,
                    _ => return None,
                };
                self.events += 1;
                match self.last_row {
                    Some(index)
                        if matches!(
                            self.groups[index].keys.first(),
                            Some(Value::Str(key)) if key.as_ref() == text
                        ) =>
                    {
                        self.refresh(index, bound, ctx);
                        index
                    }
                    _ => {
                        let cached = self.text_rows.get(text).copied();
                        let index =
                            self.row_of(cached, bound, ctx, |key| encode_bytes(1, text, key));
                        if cached.is_none() {
                            self.text_rows.insert(text.into(), index as u32);
                        }
                        self.last_row = Some(index);
                        index
                    }
                }
            }
            keys => match self.last_row {
                // Compared where the values lie: no key is encoded.
                Some(index) if same_keys(keys, ctx, &self.groups[index].keys) => {
                    self.events += 1;
                    self.refresh(index, bound, ctx);
                    index
                }
                _ => {
                    self.key.clear();
                    for field in keys {
                        if !encode_field(field, ctx, &mut self.key) {
                            return None;
                        }
                    }
                    self.events += 1;
                    let index = self.find_or_insert(bound, ctx);
                    self.last_row = Some(index);
                    index
                }
            },
        })
    }

    /// Adds the event to the measures of row `index`; `mask` says what
    /// the event's type may count for ([`type_masks`]).
    #[inline]
    fn measure(&mut self, index: usize, bound: &Bound, ctx: &Ctx<'_>, mask: u64) {
        let group = &mut self.groups[index];
        for (i, measure) in bound.measures.iter().enumerate() {
            if mask & (1 << i) == 0 || measure.when.as_ref().is_some_and(|f| !f.matches(ctx)) {
                continue;
            }
            let slot = &mut group.values[i];
            // Numbers are read as numbers: building a `Value` per event
            // for them is most of the cost of a summary.
            match (measure.aggregate, &measure.field) {
                (Aggregate::Count, None) => *slot += 1,
                (Aggregate::Count, Some(field)) => {
                    if field.extract(ctx).is_some() {
                        *slot += 1;
                    }
                }
                (Aggregate::Sum, Some(field)) if field.shape() == Shape::Num => {
                    if let Some(n) = field.num(ctx).filter(|&n| n > 0) {
                        *slot = slot.saturating_add(n);
                    }
                }
                (Aggregate::Max, Some(field)) if field.shape() == Shape::Num => {
                    if let Some(n) = field.num(ctx) {
                        *slot = (*slot).max(n);
                    }
                }
                (Aggregate::Sum, field) => {
                    if let Some(n) = number(field.as_ref(), ctx).filter(|&n| n > 0) {
                        *slot = slot.saturating_add(clamped(n));
                    }
                }
                (Aggregate::Max, field) => {
                    if let Some(n) = number(field.as_ref(), ctx) {
                        *slot = (*slot).max(clamped(n));
                    }
                }
                (Aggregate::Distinct, field) => {
                    let Some(hash) = distinct_hash(field.as_ref(), ctx) else {
                        continue;
                    };
                    if self.recent_distinct[i].check(index, hash) {
                        let seen = &mut group.seen[i];
                        seen.insert(hash);
                        *slot = i64::try_from(seen.len()).unwrap_or(i64::MAX);
                    }
                }
            }
        }
    }

    /// The row a cache of key values gave (`cached`), or else the row of
    /// the key that `encode_key` writes, made for the event if it is new;
    /// an existing row's labels are refreshed.
    fn row_of(
        &mut self,
        cached: Option<u32>,
        bound: &Bound,
        ctx: &Ctx<'_>,
        encode_key: impl FnOnce(&mut Vec<u8>),
    ) -> usize {
        match cached {
            Some(index) => {
                let index = index as usize;
                self.refresh(index, bound, ctx);
                index
            }
            None => {
                self.key.clear();
                encode_key(&mut self.key);
                self.find_or_insert(bound, ctx)
            }
        }
    }

    /// The row of the key in `self.key`, made for the event if it is new
    /// (its labels refreshed if not).
    fn find_or_insert(&mut self, bound: &Bound, ctx: &Ctx<'_>) -> usize {
        match self.rows.get(&self.key[..]) {
            Some(&index) => {
                let index = index as usize;
                self.refresh(index, bound, ctx);
                index
            }
            None => self.insert(bound, ctx),
        }
    }

    /// Keeps the labels of row `index` current with the event, unless they
    /// were read from the same process, with no process changed since.
    #[inline]
    fn refresh(&mut self, index: usize, bound: &Bound, ctx: &Ctx<'_>) {
        if bound.labels_of_keys {
            return;
        }
        if bound.labels_of_process {
            let seen = LabelsSeen {
                bound: std::ptr::from_ref(bound) as usize,
                state: std::ptr::from_ref(ctx.state) as usize,
                generation: ctx.state.process_generation(),
                tgid: ctx.event.tgid(),
            };
            let group = &mut self.groups[index];
            if group.labels_seen == Some(seen) {
                return;
            }
            group.labels_seen = Some(seen);
        }
        refresh_labels(bound, ctx, &mut self.groups[index].labels);
    }

    fn insert(&mut self, bound: &Bound, ctx: &Ctx<'_>) -> usize {
        let keys = bound
            .keys
            .iter()
            .filter_map(|field| field.extract(ctx).map(|v| owned(&v)))
            .collect();
        let measures = bound.measures.len();
        let distinct = bound
            .measures
            .iter()
            .any(|m| m.aggregate == Aggregate::Distinct);
        self.groups.push(Group {
            keys,
            labels: labels(bound, ctx),
            values: vec![0; measures],
            seen: if distinct {
                vec![FxHashSet::default(); measures]
            } else {
                Vec::new()
            },
            labels_seen: None,
        });
        let index = self.groups.len() - 1;
        self.rows
            .insert(self.key.clone().into_boxed_slice(), index as u32);
        index
    }

    /// Adds what `later` accumulated over events that come after all of
    /// this summary's (a later run of the trace, summed on another
    /// thread): the result is what adding those events here would have
    /// made, rows first seen in `later` coming after the rows already here
    /// and labels taking their latest values.
    pub fn merge(&mut self, later: Summary) {
        self.events += later.events;
        let mut keys: Vec<Option<Box<[u8]>>> = vec![None; later.groups.len()];
        for (key, index) in later.rows {
            keys[index as usize] = Some(key);
        }
        for (group, key) in later.groups.into_iter().zip(keys) {
            let Some(key) = key else { continue };
            let Some(&index) = self.rows.get(&key) else {
                self.groups.push(group);
                self.rows.insert(key, (self.groups.len() - 1) as u32);
                continue;
            };
            let mine = &mut self.groups[index as usize];
            mine.labels_seen = None;
            for (label, newer) in mine.labels.iter_mut().zip(group.labels) {
                if newer.is_some() {
                    *label = newer;
                }
            }
            let values = mine.values.iter_mut().zip(group.values);
            for (i, ((value, newer), measure)) in values.zip(&self.spec.measures).enumerate() {
                match measure.aggregate {
                    Aggregate::Count | Aggregate::Sum => *value = value.saturating_add(newer),
                    Aggregate::Max => *value = (*value).max(newer),
                    Aggregate::Distinct => {
                        let (Some(seen), Some(newer_seen)) =
                            (mine.seen.get_mut(i), group.seen.get(i))
                        else {
                            continue;
                        };
                        seen.extend(newer_seen);
                        *value = i64::try_from(seen.len()).unwrap_or(i64::MAX);
                    }
                }
            }
        }
    }

    /// Whether measure `measure` is 0 in every row (and there are rows).
    pub fn is_zero(&self, measure: usize) -> bool {
        !self.groups.is_empty()
            && self
                .groups
                .iter()
                .all(|g| g.values.get(measure) == Some(&0))
    }

    /// Number of events that reached a row.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The first `n` rows (all for 0) as [`Summary::finish`] sorts them,
    /// without sorting the rest: a view of many rows (connections, files)
    /// is cut to a screenful.
    pub fn finish_top(self, n: usize) -> Table {
        self.finish_top_leaving(n).0
    }

    /// [`Summary::finish_top`], and what it leaves behind: the rows cut
    /// and the tables that found rows, for the caller to drop, or, about
    /// to exit, to leave to the system (`std::mem::forget`) rather than
    /// free them one by one.
    pub fn finish_top_leaving(self, n: usize) -> (Table, Leftovers) {
        let mut rest = Leftovers::default();
        let mut table = self.unsorted(&mut rest);
        let sort = table.spec.sort;
        if n > 0 && table.rows.len() > n {
            table
                .rows
                .select_nth_unstable_by(n - 1, |a, b| by_measure(a, b, sort));
            rest.rows = table.rows.split_off(n);
        }
        table.sort_by_measure(sort);
        (table, rest)
    }

    /// The rows, sorted by the spec's sort measure, largest first; ties in
    /// key order, so the same trace always gives the same table.
    pub fn finish(self) -> Table {
        let mut table = self.unsorted(&mut Leftovers::default());
        let sort = table.spec.sort;
        table.sort_by_measure(sort);
        table
    }

    /// The rows in no particular order; what the table does not hold goes
    /// to `rest`.
    fn unsorted(mut self, rest: &mut Leftovers) -> Table {
        rest.keys.push(std::mem::take(&mut self.rows));
        rest.keys.push(std::mem::take(&mut self.text_rows));
        let rows = self
            .groups
            .into_iter()
            .map(|g| {
                if !g.seen.is_empty() {
                    rest.seen.push(g.seen);
                }
                Row {
                    keys: g.keys,
                    labels: g.labels,
                    values: g.values,
                }
            })
            .collect();
        Table {
            spec: self.spec,
            rows,
            events: self.events,
        }
    }
}

/// What [`Summary::finish_top_leaving`] leaves out of the table.
#[derive(Debug, Default)]
pub struct Leftovers {
    rows: Vec<Row>,
    keys: Vec<FxHashMap<Box<[u8]>, u32>>,
    seen: Vec<Vec<FxHashSet<u64>>>,
}

/// Sums runs of a trace on a worker thread of [`crate::scan_parallel`],
/// a summary per run; merged in file order ([`Summary::merge`]) they make
/// the summary of the whole trace.
#[derive(Debug)]
pub struct RunSums {
    summary: Summary,
    bound: Arc<Bound>,
}

impl RunSums {
    /// A worker summing `spec`, read through `bound`.
    pub fn new(spec: &ViewSpec, bound: Arc<Bound>) -> RunSums {
        RunSums {
            summary: Summary::new(spec),
            bound,
        }
    }
}

impl ChunkWork for RunSums {
    type Output = Summary;

    fn event(&mut self, ctx: &Ctx<'_>) {
        self.summary.add(&self.bound, ctx);
    }

    fn finish(&mut self) -> Summary {
        let empty = Summary::new(self.summary.spec());
        std::mem::replace(&mut self.summary, empty)
    }
}

/// Whether the event's values of `fields` are `keys`, a row's: a key
/// field the event lacks, or an empty name, is no match (such events are
/// left out, see [`encode_field`]).
#[inline]
fn same_keys(fields: &[Field], ctx: &Ctx<'_>, keys: &[Value<'static>]) -> bool {
    fields.len() == keys.len()
        && fields
            .iter()
            .zip(keys)
            .all(|(field, key)| match field.shape() {
                Shape::Num => field
                    .num(ctx)
                    .is_some_and(|n| matches!(key, Value::Num(k) if *k == i128::from(n))),
                Shape::Text => field.text(ctx).is_some_and(|text| {
                    !text.is_empty() && matches!(key, Value::Str(k) if k.as_ref() == text)
                }),
                _ => field.extract(ctx).is_some_and(|value| {
                    !matches!(&value, Value::Str(text) if text.is_empty()) && value == *key
                }),
            })
}

/// Keeps the labels of a row current (a process that executes another
/// program changes name), copying a value only when it changed.
fn refresh_labels(bound: &Bound, ctx: &Ctx<'_>, labels: &mut [Option<Value<'static>>]) {
    for (field, label) in bound.labels.iter().zip(labels) {
        // Text is compared where it lies: most events leave a label as it
        // was, and building a `Value` to find that out costs more than the
        // comparison.
        if field.shape() == Shape::Text {
            if let Some(text) = field.text(ctx)
                && !matches!(label, Some(Value::Str(old)) if old.as_ref() == text)
            {
                *label = Some(Value::Str(Cow::Owned(text.to_vec())));
            }
            continue;
        }
        if let Some(value) = field.extract(ctx)
            && label.as_ref() != Some(&value)
        {
            *label = Some(owned(&value));
        }
    }
}

/// Appends the key encoding of `field`'s value (as [`encode`] writes it);
/// false when the event has none, or an empty name (a socket before bind
/// or connect), which says nothing: such events are left out.
#[inline]
fn encode_field(field: &Field, ctx: &Ctx<'_>, out: &mut Vec<u8>) -> bool {
    match field.shape() {
        Shape::Num => match field.num(ctx) {
            Some(n) => {
                encode(&Value::Num(n.into()), out);
                true
            }
            None => false,
        },
        Shape::Text => match field.text(ctx) {
            Some(text) if !text.is_empty() => {
                encode_bytes(1, text, out);
                true
            }
            _ => false,
        },
        _ => match field.extract(ctx) {
            Some(Value::Str(text)) if text.is_empty() => false,
            Some(value) => {
                encode(&value, out);
                true
            }
            None => false,
        },
    }
}

fn labels(bound: &Bound, ctx: &Ctx<'_>) -> Vec<Option<Value<'static>>> {
    bound
        .labels
        .iter()
        .map(|field| field.extract(ctx).map(|v| owned(&v)))
        .collect()
}

/// What a distinct count keeps of the event's value of `field` (of the
/// number 1 for a measure of no field): its hash, made as [`hash_value`]
/// makes it, so that runs summed elsewhere merge with these, but read
/// without a `Value` where the field allows.
#[inline]
fn distinct_hash(field: Option<&Field>, ctx: &Ctx<'_>) -> Option<u64> {
    let mut hasher = FxHasher::default();
    match field {
        None => hash_num(1, &mut hasher),
        Some(field) => match field.shape() {
            Shape::Text => hash_bytes(field.text(ctx)?, &mut hasher),
            Shape::Num => hash_num(field.num(ctx)?.into(), &mut hasher),
            _ => hash_value(&field.extract(ctx)?, &mut hasher),
        },
    }
    Some(hasher.finish())
}

/// The number a sum or maximum of a field that is not read as a number
/// ([`Shape::Num`]) takes from the event: the field's value, or 1 for a
/// measure of no field.
fn number(field: Option<&Field>, ctx: &Ctx<'_>) -> Option<i128> {
    match field {
        None => Some(1),
        Some(field) => field.extract(ctx)?.as_num(),
    }
}

/// `n` in 64 bits, or the largest 64-bit number past them.
fn clamped(n: i128) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Feeds `value` to `hasher` the way [`encode`] tells values apart, but
/// from the value itself: hashing an encoding just written would read back
/// bytes still on their way to memory, which stalls.
fn hash_value(value: &Value<'_>, hasher: &mut FxHasher) {
    match value {
        Value::Num(n) => hash_num(*n, hasher),
        Value::Str(text) => hash_bytes(text, hasher),
        Value::Bytes(bytes) => hash_bytes(bytes, hasher),
        Value::Bool(b) => hasher.write_u8(2 + u8::from(*b)),
        Value::Ip(ip) => {
            hasher.write_u8(4);
            match ip {
                std::net::IpAddr::V4(v4) => hasher.write(&v4.octets()),
                std::net::IpAddr::V6(v6) => hasher.write(&v6.octets()),
            }
        }
    }
}

fn hash_num(n: i128, hasher: &mut FxHasher) {
    hasher.write_u8(0);
    hasher.write_i128(n);
}

fn hash_bytes(bytes: &[u8], hasher: &mut FxHasher) {
    hasher.write_u8(1);
    hasher.write_usize(bytes.len());
    hasher.write(bytes);
}

/// Appends a self-delimiting encoding of `value`: equal values, and only
/// they, give equal bytes.
fn encode(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Num(n) => {
            out.push(0);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Value::Str(bytes) => encode_bytes(1, bytes, out),
        Value::Bytes(bytes) => encode_bytes(1, bytes, out),
        Value::Bool(b) => out.extend_from_slice(&[2, u8::from(*b)]),
        Value::Ip(ip) => {
            out.push(3);
            match ip {
                std::net::IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
                std::net::IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
            }
        }
    }
}

fn encode_bytes(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A value that outlives the event it came from.
fn owned(value: &Value<'_>) -> Value<'static> {
    match value {
        Value::Num(n) => Value::Num(*n),
        Value::Str(s) => Value::Str(Cow::Owned(s.to_vec())),
        Value::Bytes(b) => Value::Str(Cow::Owned(b.to_vec())),
        Value::Bool(b) => Value::Bool(*b),
        Value::Ip(ip) => Value::Ip(*ip),
    }
}

/// A finished summary.
#[derive(Debug, Clone)]
pub struct Table {
    /// The view it shows.
    pub spec: ViewSpec,
    /// Its rows, sorted.
    pub rows: Vec<Row>,
    /// Number of events that reached a row.
    pub events: u64,
}

/// One row of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Values of the key columns.
    pub keys: Vec<Value<'static>>,
    /// Values of the label columns, where the events had them.
    pub labels: Vec<Option<Value<'static>>>,
    /// Values of the measures.
    pub values: Vec<i64>,
}

impl Table {
    /// Sorts rows by a measure, largest first, ties by the other measures
    /// in column order (largest first), then in key order.
    pub fn sort_by_measure(&mut self, measure: usize) {
        self.rows.sort_by(|a, b| by_measure(a, b, measure));
    }

    /// Sorts rows by their keys, smallest first.
    pub fn sort_by_keys(&mut self) {
        self.rows.sort_by(|a, b| compare_keys(&a.keys, &b.keys));
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        self.rows.truncate(n);
    }

    /// Adds `measure` at position `at`, each row's value computed from
    /// its keys by `value` (a measure summed apart, such as CPU time from
    /// samples). The rows keep their order.
    pub fn insert_measure(
        &mut self,
        at: usize,
        measure: Measure,
        value: impl Fn(&[Value<'static>]) -> i64,
    ) {
        let at = at.min(self.spec.measures.len());
        self.spec.measures.insert(at, measure);
        for row in &mut self.rows {
            let computed = value(&row.keys);
            row.values.insert(at.min(row.values.len()), computed);
        }
        if self.spec.sort >= at {
            self.spec.sort += 1;
        }
    }

    /// Leaves measure `measure` out: its column and every row's value. The
    /// rows keep their order.
    pub fn remove_measure(&mut self, measure: usize) {
        if measure >= self.spec.measures.len() {
            return;
        }
        self.spec.measures.remove(measure);
        for row in &mut self.rows {
            if measure < row.values.len() {
                row.values.remove(measure);
            }
        }
        if self.spec.sort > measure {
            self.spec.sort -= 1;
        } else if self.spec.sort == measure {
            self.spec.sort = 0;
        }
    }
}

/// Rows in the order of a measure, largest first; ties by the other
/// measures in column order, largest first (ports with as many
/// connections by bytes, processes without CPU samples by events), then
/// in key order.
fn by_measure(a: &Row, b: &Row, measure: usize) -> std::cmp::Ordering {
    let (x, y) = (a.values.get(measure), b.values.get(measure));
    y.cmp(&x)
        .then_with(|| b.values.cmp(&a.values))
        .then_with(|| compare_keys(&a.keys, &b.keys))
}

fn compare_keys(a: &[Value<'_>], b: &[Value<'_>]) -> std::cmp::Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| compare_values(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

fn compare_values(a: &Value<'_>, b: &Value<'_>) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x.cmp(y),
        (Value::Ip(x), Value::Ip(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => a.as_bytes().cmp(&b.as_bytes()),
    }
}

impl Row {
    /// The filter that selects this row's events within its view: each key
    /// field compared to the row's value, joined by `and` (what a drill
    /// down pushes).
    pub fn filter(&self, spec: &ViewSpec) -> String {
        let mut out = String::new();
        for (column, value) in spec.keys.iter().zip(&self.keys) {
            if !out.is_empty() {
                out.push_str(" and ");
            }
            out.push_str(&column.field);
            out.push('=');
            out.push_str(&crate::filter::quote_value(&value.to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_equal_only_for_equal_values() {
        let values = [
            Value::Num(1),
            Value::Num(256),
            Value::Str(Cow::Borrowed(b"ab")),
            Value::Str(Cow::Borrowed(b"a")),
            Value::Bool(true),
            Value::Ip("127.0.0.1".parse().expect("an address")),
        ];
        let encoded: Vec<Vec<u8>> = values
            .iter()
            .map(|v| {
                let mut out = Vec::new();
                encode(v, &mut out);
                out
            })
            .collect();
        for (i, a) in encoded.iter().enumerate() {
            for (j, b) in encoded.iter().enumerate() {
                assert_eq!(a == b, i == j, "{:?} vs {:?}", values[i], values[j]);
            }
        }
        // Two keys of two strings: "a"+"bc" differs from "ab"+"c".
        let pair = |x: &'static [u8], y: &'static [u8]| {
            let mut out = Vec::new();
            encode(&Value::Str(Cow::Borrowed(x)), &mut out);
            encode(&Value::Str(Cow::Borrowed(y)), &mut out);
            out
        };
        assert_ne!(pair(b"a", b"bc"), pair(b"ab", b"c"));
    }

    /// `spec` summed over every event of `trace` by a sequential scan,
    /// with the number of the view's events whose fd has an identity.
    /// With `slow`, without the shortcuts: rows are found by their key
    /// values only (not by fd entry, [`FdRows`]), and every event is tried
    /// against the restriction and every condition (no [`type_masks`]).
    fn summed(
        trace: &scry_format::TraceFile<Vec<u8>>,
        spec: &ViewSpec,
        slow: bool,
    ) -> (Table, usize) {
        let prepared = crate::Prepared::new(trace);
        let mut bound = spec
            .bind(prepared.catalog(trace))
            .expect("a view that binds");
        if slow {
            bound.fd_keys = FdKeys::No;
            bound.keys_of_process = false;
            bound.by_type.clear();
        }
        let scan = crate::Scan {
            caller_needs_state: bound.needs_state(),
            caller_reads_no_fds: !bound.needs_fds(),
            ..crate::Scan::default()
        };
        let mut summary = Summary::new(spec);
        let mut identified = 0;
        let flow = crate::scan(
            trace,
            &prepared,
            &scan,
            |e| panic!("{e}"),
            |ctx| {
                if ctx.fd().and_then(FdEntry::identity).is_some() {
                    identified += 1;
                }
                summary.add(&bound, ctx);
                std::ops::ControlFlow::<()>::Continue(())
            },
        );
        assert!(flow.expect("a scan").is_continue());
        (summary.finish(), identified)
    }

    fn measure(header: &str, aggregate: Aggregate, field: &str, when: &str) -> Measure {
        Measure {
            header: header.to_owned(),
            aggregate,
            field: (!field.is_empty()).then(|| field.to_owned()),
            when: (!when.is_empty()).then(|| when.to_owned()),
            unit: Unit::Count,
        }
    }

    /// Every sample trace of the repository, with its path.
    fn sample_traces() -> Vec<(std::path::PathBuf, scry_format::TraceFile<Vec<u8>>)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../samples");
        let mut traces = Vec::new();
        for entry in std::fs::read_dir(dir).expect("the samples") {
            let path = entry.expect("a sample").path();
            if path.extension().is_none_or(|e| e != "scry") {
                continue;
            }
            let data = std::fs::read(&path).expect("a readable sample");
            let trace = scry_format::TraceFile::open(data).expect("a sample trace");
            traces.push((path, trace));
        }
        traces
    }

    /// Distinct counts, of text, numbers and addresses, as values of a few
    /// processes interleave within a row and across rows, are the number
    /// of distinct values each row's events had, over every sample.
    #[test]
    fn distinct_counts_are_the_distinct_values_of_each_row() {
        let distinct = ["proc.pid", "fd.name", "evt.rawres", "proc.name", "fd.rip"];
        let mut counted = 0;
        for (path, trace) in sample_traces() {
            for key in ["evt.cpu", "user.uid", "proc.ppid"] {
                let mut spec = view("syscalls").expect("a built-in view").clone();
                spec.keys = vec![Column::new(key, key)];
                spec.restrict = None;
                spec.measures = distinct
                    .iter()
                    .map(|field| measure(field, Aggregate::Distinct, field, ""))
                    .collect();
                let (table, _) = summed(&trace, &spec, false);

                // The same by hand: every value of every row, encoded.
                let prepared = crate::Prepared::new(&trace);
                let catalog = prepared.catalog(&trace);
                let key_field = resolve_field(key, catalog).expect("a key");
                let fields: Vec<Field> = distinct
                    .iter()
                    .map(|field| resolve_field(field, catalog).expect("a field"))
                    .collect();
                let mut values: FxHashMap<i64, Vec<FxHashSet<Vec<u8>>>> = FxHashMap::default();
                let scan = crate::Scan {
                    caller_needs_state: true,
                    ..crate::Scan::default()
                };
                let flow = crate::scan(
                    &trace,
                    &prepared,
                    &scan,
                    |e| panic!("{e}"),
                    |ctx| {
                        let Some(key) = key_field.num(ctx) else {
                            return std::ops::ControlFlow::<()>::Continue(());
                        };
                        let row = values
                            .entry(key)
                            .or_insert_with(|| vec![FxHashSet::default(); fields.len()]);
                        for (field, seen) in fields.iter().zip(row) {
                            if let Some(value) = field.extract(ctx) {
                                let mut bytes = Vec::new();
                                encode(&value, &mut bytes);
                                seen.insert(bytes);
                            }
                        }
                        std::ops::ControlFlow::Continue(())
                    },
                );
                assert!(flow.expect("a scan").is_continue());
                assert_eq!(
                    table.rows.len(),
                    values.len(),
                    "{key} over {}",
                    path.display()
                );
                for row in &table.rows {
                    let Value::Num(n) = row.keys[0] else {
                        panic!("a numeric key");
                    };
                    let expected: Vec<i64> = values[&(n as i64)]
                        .iter()
                        .map(|seen| seen.len() as i64)
                        .collect();
                    assert_eq!(row.values, expected, "{key}={n} over {}", path.display());
                    counted += expected.iter().filter(|&&n| n > 1).count();
                }
            }
        }
        assert!(counted > 0, "no row had two distinct values");
    }

    /// Rows found by the identity of the events' fd entries are the rows
    /// their keys name, and events left out by their type alone would not
    /// have counted: every built-in view, views keyed by what fds are and
    /// views measuring under conditions, over every sample capture, give
    /// the same table with the shortcuts and without.
    #[test]
    fn summaries_with_shortcuts_are_the_summaries_without() {
        let mut custom = Vec::new();
        for keys in [
            &["fd.name", "proc.pid"][..],
            &["fd.directory"],
            &["fd.filename", "fd.type"],
            &["fd.sport", "fd.l4proto"],
            &["fd.cport", "fd.lport", "fd.rport", "fd.port"],
            &["proc.pid", "fd.typechar"],
            &["proc.name"],
            &["proc.cwd"],
            &["proc.cmdline", "user.uid"],
            &["container.id", "proc.exepath"],
        ] {
            let mut spec = view("files").expect("a built-in view").clone();
            spec.keys = keys.iter().map(|k| Column::new(k, k)).collect();
            spec.restrict = None;
            // Distinct counts of what the fd entry or the process id
            // decide, which rows found by fd entry leave uncounted.
            spec.measures.extend([
                measure("NAMES", Aggregate::Distinct, "fd.name", ""),
                measure("DIRS", Aggregate::Distinct, "fd.directory", ""),
                measure("PIDS", Aggregate::Distinct, "proc.pid", ""),
                measure("PORTS", Aggregate::Distinct, "fd.sport", ""),
            ]);
            custom.push(spec);
        }
        for restrict in [
            "not fd.name contains /usr or fd.l4proto exists",
            "fd.type in (file, ipv4) and not fd.directory=/tmp",
            "fd.name startswith /etc and evt.is_io=true",
            "fd.type=file and evt.rawres>100",
        ] {
            let mut spec = view("conns").expect("a built-in view").clone();
            spec.restrict = Some(restrict.to_owned());
            custom.push(spec);
        }
        let mut spec = view("syscalls").expect("a built-in view").clone();
        spec.restrict = Some("evt.type in (read, write, openat, close) or fd.num>2".to_owned());
        spec.measures.extend([
            measure(
                "BUFLEN",
                Aggregate::Sum,
                "evt.buflen",
                "evt.is_io_read=true",
            ),
            measure("FDS", Aggregate::Count, "fd.num", "evt.type=close"),
            measure("NAMES", Aggregate::Distinct, "fd.name", "evt.type!=read"),
            measure("CALLS", Aggregate::Count, "", "evt.type in (openat, close)"),
            measure("MAXRES", Aggregate::Max, "evt.rawres", "not evt.type=close"),
        ]);
        custom.push(spec);
        let specs: Vec<&ViewSpec> = VIEWS.iter().chain(&custom).collect();
        let mut traces = 0;
        let mut fd_rows = 0;
        let mut left_out_by_type = 0;
        let mut restricted_by_fd = 0;
        let mut distinct_by_fd = 0;
        let mut rows_by_process = 0;
        for (path, trace) in sample_traces() {
            traces += 1;
            for spec in &specs {
                let prepared = crate::Prepared::new(&trace);
                let bound = spec.bind(prepared.catalog(&trace)).expect("a view");
                let (fast, identified) = summed(&trace, spec, false);
                let (slow, _) = summed(&trace, spec, true);
                assert_eq!(
                    fast.rows,
                    slow.rows,
                    "{} over {}",
                    spec.name,
                    path.display()
                );
                assert_eq!(fast.events, slow.events);
                if bound.fd_keys != FdKeys::No && identified > 0 {
                    fd_rows += fast.rows.len();
                    if bound.restrict.is_some() && bound.restrict_of_fd {
                        restricted_by_fd += 1;
                    }
                    if bound.distinct_of_fd != 0 {
                        distinct_by_fd += 1;
                    }
                }
                if bound.keys_of_process && !fast.rows.is_empty() {
                    rows_by_process += 1;
                }
                let leaves_out = |&mask: &u64| {
                    mask & MAY_PASS == 0 || (0..spec.measures.len()).any(|i| mask & 1 << i == 0)
                };
                if bound.by_type.iter().any(leaves_out) {
                    left_out_by_type += 1;
                }
            }
        }
        assert!(traces >= 4, "the samples were not found");
        assert!(fd_rows > 0, "no view was summed by fd entry");
        assert!(
            distinct_by_fd > 0,
            "no distinct count was settled by fd entry"
        );
        assert!(rows_by_process > 0, "no view found its rows by process");
        assert!(left_out_by_type > 0, "no view left events out by type");
        assert!(restricted_by_fd > 0, "no view restricted by fd entry");
    }

    #[test]
    fn rows_sort_by_measure_then_other_measures_then_key() {
        let spec = view("syscalls").expect("a built-in view");
        let row = |name: &'static [u8], calls| Row {
            keys: vec![Value::Str(Cow::Borrowed(name))],
            labels: vec![],
            values: vec![calls, 0, 0, 0],
        };
        let mut table = Table {
            spec: spec.clone(),
            rows: vec![row(b"read", 5), row(b"close", 9), row(b"write", 9)],
            events: 23,
        };
        table.sort_by_measure(0);
        let names: Vec<String> = table.rows.iter().map(|r| r.keys[0].to_string()).collect();
        assert_eq!(names, ["close", "write", "read"]);
        assert_eq!(table.rows[0].filter(&table.spec), "evt.type=close");
        // Ties on the measure go by the other measures first.
        table.rows[1].values[2] = 7;
        table.sort_by_measure(0);
        let names: Vec<String> = table.rows.iter().map(|r| r.keys[0].to_string()).collect();
        assert_eq!(names, ["write", "close", "read"]);
    }
}
