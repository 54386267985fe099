//! The application state and what each key and mouse action does to it,
//! with no terminal involved (drawing is in `ui`, the terminal in `term`),
//! so every behaviour can be tested by feeding keys and looking at state
//! or at a [`ratatui::backend::TestBackend`] frame.
//!
//! The screen is a stack of levels: the overview at the bottom, then one
//! level per view opened or drill-down step taken. Each level keeps its
//! view, the drill predicates that lead to it, its sort, its selected row
//! and scroll offset, and its computed table, so going back restores the
//! exact row and scroll that were left.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};
use scry_analyze::FilterError;

use crate::index::{EventIndex, Mask, NO_OBJECT, class};
use crate::overview::{Overview, TILES, Timeline};
use crate::source::{Detail, Preview, Progress, Source};
use crate::views::{self, Pred, Rows, Selection, Table, VIEWS, ViewId};

/// One level of the drill-down stack.
#[derive(Debug, Clone)]
pub struct Level {
    /// The view shown; `None` is the overview.
    pub view: Option<ViewId>,
    /// The drill steps that lead here, outermost first.
    pub preds: Vec<Pred>,
    /// Selected row (or tile, on the overview).
    pub selected: usize,
    /// First row shown.
    pub offset: usize,
    /// Sort column and direction; `None` for the view's default.
    pub sort: Option<(usize, bool)>,
    /// The computed table and the data generation it was computed for.
    table: Option<(u64, Table)>,
}

impl Level {
    fn new(view: Option<ViewId>, preds: Vec<Pred>) -> Self {
        Level {
            view,
            preds,
            selected: 0,
            offset: 0,
            sort: None,
            table: None,
        }
    }

    /// The computed table, if any.
    pub fn table(&self) -> Option<&Table> {
        self.table.as_ref().map(|(_, t)| t)
    }
}

/// A one-line text input with a cursor (in chars).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// The text.
    pub text: String,
    /// Cursor position, in chars.
    pub cursor: usize,
}

impl Input {
    fn with(text: &str) -> Self {
        Input {
            text: text.to_owned(),
            cursor: text.chars().count(),
        }
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(at, _)| at)
    }

    /// Edits the input; `true` when the text changed.
    fn edit(&mut self, key: &KeyEvent) -> bool {
        let len = self.text.chars().count();
        match key.code {
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
                true
            }
            KeyCode::Char('u') => {
                self.text.clear();
                self.cursor = 0;
                true
            }
            KeyCode::Backspace if self.cursor > 0 => {
                let at = self.byte_at(self.cursor - 1);
                self.text.remove(at);
                self.cursor -= 1;
                true
            }
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
                true
            }
            KeyCode::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                false
            }
            KeyCode::Right => {
                self.cursor = (self.cursor + 1).min(len);
                false
            }
            KeyCode::Home => {
                self.cursor = 0;
                false
            }
            KeyCode::End => {
                self.cursor = len;
                false
            }
            _ => false,
        }
    }
}

/// How echo shows bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EchoFormat {
    /// Printable characters and line breaks, the rest as `.`.
    #[default]
    Ascii,
    /// Every byte on one line per chunk, non-printable as `.` (sysdig's
    /// buffer print).
    Printable,
    /// A hex dump with an ASCII column.
    Hex,
}

/// One I/O event's bytes, for echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoChunk {
    /// The event.
    pub ordinal: usize,
    /// Written (or sent) rather than read.
    pub write: bool,
    /// Bytes the call moved (the capture may hold fewer).
    pub moved: u64,
    /// Bytes captured.
    pub data: Vec<u8>,
}

/// The I/O of an object, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    /// What it is the I/O of.
    pub title: String,
    /// Chunks in order.
    pub chunks: Vec<EchoChunk>,
    /// More I/O events than shown.
    pub truncated: bool,
    /// First line shown.
    pub scroll: usize,
    /// Format.
    pub format: EchoFormat,
    /// The bytes are still being read (on a background thread).
    pub loading: bool,
}

/// What has the keyboard.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Moving around the views.
    #[default]
    Normal,
    /// Typing a filter; the error of the text as it stands.
    Filter(Input, Option<FilterError>),
    /// Typing a search.
    Search(Input),
    /// Choosing a view (selected entry).
    Switch(usize),
    /// Choosing which view to drill the selected row into (selected entry
    /// of [`App::drill_choices`]).
    Drill(usize),
    /// The help screen.
    Help,
    /// One event in full (its ordinal, scroll).
    Detail(usize, usize),
    /// Echo of an object's I/O.
    Echo,
    /// Moving on the time-line: cursor and the range's first end, in
    /// thousandths of the capture.
    Timeline(u16, Option<u16>),
}

/// A background job's result.
enum Done {
    Indexed(Box<Result<(EventIndex, Option<Mask>), FilterError>>),
    Masked(String, Result<Mask, FilterError>),
}

/// What a background thread hands back: its result, or the message of
/// the panic that ended it.
type Outcome<T> = Result<T, String>;

/// The exact detail of an event being read: its ordinal, progress and
/// result.
type DetailJob = (usize, Arc<Progress>, Receiver<Outcome<Option<Detail>>>);

/// A job running on a background thread.
struct Job {
    what: &'static str,
    progress: Arc<Progress>,
    rx: Receiver<Outcome<Done>>,
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panicked".to_owned()
    }
}

/// Runs `work` on a new thread. A panic there is caught and handed back
/// as an error: the UI must not go on as if the pass were still running
/// (or had found nothing), it must end and say why.
fn spawn<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Receiver<Outcome<T>> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let outcome = catch_unwind(AssertUnwindSafe(work)).map_err(|p| panic_message(&*p));
        let _ = tx.send(outcome);
    });
    rx
}

/// Where things were drawn, for the mouse.
#[derive(Debug, Clone, Default)]
pub struct Hits {
    /// Header cells: area and column.
    pub headers: Vec<(Rect, usize)>,
    /// The rows.
    pub rows: Rect,
    /// Overview tiles.
    pub tiles: Vec<Rect>,
    /// The time-line strip.
    pub timeline: Rect,
}

/// Computes the table `key` names over `index`, its filter `mask` and time
/// `range`.
fn build_table(
    index: &EventIndex,
    mask: Option<&Mask>,
    range: Option<(u64, u64)>,
    key: &TableKey,
) -> Table {
    let (_, view, preds, _, sort) = key;
    let sel = Selection::new(index, mask, range, preds);
    let mut table = views::compute(*view, index, &sel);
    if sort.is_some() {
        views::sort_table(&mut table, index, *sort);
    }
    table
}

/// Thousandths: the time-line's resolution.
pub const TIMELINE_STEPS: u16 = 1000;

/// The application.
pub struct App {
    source: Arc<dyn Source>,
    /// What was known before indexing.
    pub preview: Preview,
    /// The event index, once built.
    pub index: Option<Arc<EventIndex>>,
    /// Events the applied filter matches; `None` without a filter.
    pub mask: Option<Arc<Mask>>,
    /// The applied filter.
    pub filter: String,
    /// The selected time range (ns, inclusive).
    pub range: Option<(u64, u64)>,
    /// The level stack; never empty.
    pub stack: Vec<Level>,
    /// Who has the keyboard.
    pub mode: Mode,
    /// The last search.
    pub search: String,
    /// A message for the status line.
    pub message: Option<String>,
    /// The echo pane's data.
    pub echo: Option<Echo>,
    /// The detail pane's data.
    pub detail: Option<Detail>,
    /// The detail pane shows the state as replayed up to its event (not
    /// only what the event and the index tell).
    pub detail_exact: bool,
    /// Mouse reporting is on.
    pub mouse: bool,
    /// The user asked to quit.
    pub quit: bool,
    /// Rows that fit in the table area at the last draw.
    pub page: usize,
    /// Layout of the last draw.
    pub hits: Hits,
    job: Option<Job>,
    /// The exact detail of an event, being read: its ordinal, progress and
    /// result.
    detail_job: Option<DetailJob>,
    /// A background pass died: why. The view cannot go on without it.
    failure: Option<String>,
    /// The table of the current level being computed in the background.
    table_job: Option<TableJob>,
    /// The bytes of the echo pane being read.
    echo_job: Option<Receiver<Outcome<Vec<EchoChunk>>>>,
    /// The overview being computed in the background, for a generation.
    overview_job: Option<(u64, Receiver<Outcome<Overview>>)>,
    /// Tables over an index of at least this many events are computed on
    /// a background thread; smaller ones at once, when asked for.
    pub background_events: usize,
    generation: u64,
    overview: Option<(u64, Overview)>,
    timeline: Option<Timeline>,
    drag: Option<u16>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("filter", &self.filter)
            .field("range", &self.range)
            .field("stack", &self.stack.len())
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What a table is computed for: the level (its depth, view and steps),
/// the data generation and the sort.
type TableKey = (usize, ViewId, Vec<Pred>, u64, Option<(usize, bool)>);

/// A table being computed on a background thread.
struct TableJob {
    key: TableKey,
    rx: Receiver<Outcome<Table>>,
}

/// Below this many events a table takes a few milliseconds: computed when
/// drawn. Above, a background thread computes it, the screen staying live
/// (and the table it had up) meanwhile.
const BACKGROUND_EVENTS: usize = 1 << 20;

/// A search looks at most at this many rows per key.
const SEARCH_ROWS: usize = 200_000;

/// Echo shows at most this many I/O events.
const ECHO_EVENTS: usize = 2000;

impl App {
    /// Opens `source` and starts indexing it in the background, with
    /// `filter` (may be empty) applied.
    pub fn new(source: Arc<dyn Source>, filter: &str, mouse: bool) -> Self {
        let preview = source.preview();
        let mut app = App {
            source,
            preview,
            index: None,
            mask: None,
            filter: filter.trim().to_owned(),
            range: None,
            stack: vec![Level::new(None, Vec::new())],
            mode: Mode::Normal,
            search: String::new(),
            message: None,
            echo: None,
            detail: None,
            detail_exact: false,
            mouse,
            quit: false,
            page: 20,
            hits: Hits::default(),
            job: None,
            detail_job: None,
            failure: None,
            table_job: None,
            echo_job: None,
            overview_job: None,
            background_events: BACKGROUND_EVENTS,
            generation: 0,
            overview: None,
            timeline: None,
            drag: None,
        };
        let progress = Progress::new(app.preview.events);
        let source = app.source.clone();
        let text = app.filter.clone();
        let shared = progress.clone();
        let rx = spawn(move || Done::Indexed(Box::new(source.index(&text, &shared))));
        app.job = Some(Job {
            what: "indexing",
            progress,
            rx,
        });
        app
    }

    /// The arguments of an event, as the event list shows them.
    pub fn args(&self, ordinal: usize) -> String {
        self.index
            .as_ref()
            .map(|index| self.source.args(index, ordinal))
            .unwrap_or_default()
    }

    /// The running job's name and progress in percent.
    pub fn progress(&self) -> Option<(&'static str, u64)> {
        self.job.as_ref().map(|j| (j.what, j.progress.percent()))
    }

    /// Whether the exact event detail is still being read.
    pub fn detail_pending(&self) -> bool {
        self.detail_job.is_some()
    }

    fn take_detail(&mut self, ordinal: usize, detail: Option<Detail>) {
        if matches!(self.mode, Mode::Detail(shown, _) if shown == ordinal)
            && let Some(detail) = detail
        {
            self.detail = Some(detail);
            self.detail_exact = true;
        }
    }

    /// Why the view cannot go on, if a background pass died: the caller
    /// ends the view with this message.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    fn fail(&mut self, what: &str, why: &str) {
        if self.failure.is_none() {
            self.failure = Some(format!("the {what} pass failed: {why}"));
        }
    }

    /// Takes the results of finished background jobs; `true` if any.
    pub fn poll(&mut self) -> bool {
        if let Some(rx) = &self.echo_job {
            match rx.try_recv() {
                Ok(outcome) => {
                    self.echo_job = None;
                    self.take_echo(Ok(outcome));
                    return true;
                }
                Err(TryRecvError::Disconnected) => {
                    self.echo_job = None;
                    self.take_echo(Err(()));
                    return true;
                }
                Err(TryRecvError::Empty) => {}
            }
        }
        if let Some((ordinal, _, rx)) = &self.detail_job {
            let ordinal = *ordinal;
            match rx.try_recv() {
                Ok(Ok(detail)) => {
                    self.detail_job = None;
                    self.take_detail(ordinal, detail);
                    return true;
                }
                Ok(Err(why)) => {
                    self.detail_job = None;
                    self.fail("event detail", &why);
                    return true;
                }
                Err(TryRecvError::Disconnected) => {
                    self.detail_job = None;
                    self.fail("event detail", "its thread ended without a result");
                    return true;
                }
                Err(TryRecvError::Empty) => {}
            }
        }
        let Some(job) = &self.job else {
            return false;
        };
        match job.rx.try_recv() {
            Ok(outcome) => {
                let damaged = job.progress.damaged.load(Ordering::Relaxed);
                let what = job.what;
                self.job = None;
                match outcome {
                    Ok(done) => self.finish(done, damaged),
                    Err(why) => self.fail(what, &why),
                }
                true
            }
            Err(TryRecvError::Empty) => false,
            Err(TryRecvError::Disconnected) => {
                let what = job.what;
                self.job = None;
                self.fail(what, "its thread ended without a result");
                true
            }
        }
    }

    /// Waits for the running jobs, if any, and takes their results.
    pub fn wait(&mut self) {
        if let Some((ordinal, _, rx)) = self.detail_job.take() {
            match rx.recv() {
                Ok(Ok(detail)) => self.take_detail(ordinal, detail),
                Ok(Err(why)) => self.fail("event detail", &why),
                Err(_) => self.fail("event detail", "its thread ended without a result"),
            }
        }
        if let Some(job) = self.job.take() {
            let damaged = job.progress.damaged.load(Ordering::Relaxed);
            match job.rx.recv() {
                Ok(Ok(done)) => self.finish(done, damaged),
                Ok(Err(why)) => self.fail(job.what, &why),
                Err(_) => self.fail(job.what, "its thread ended without a result"),
            }
        }
        if let Some(rx) = self.echo_job.take() {
            let outcome = rx.recv();
            self.take_echo(outcome.map_err(|_| ()));
        }
        // The overview, or the table of the current level, if computed in
        // the background: asked for, then waited for.
        if self.level().view.is_none() {
            let _ = self.overview();
            self.take_overview(true);
        }
        let _ = self.table();
        if let Some(job) = self.table_job.take() {
            match job.rx.recv() {
                Ok(Ok(table)) => self.install_table(job.key.3, table),
                Ok(Err(why)) => self.fail("table", &why),
                Err(_) => self.fail("table", "its thread ended without a result"),
            }
        }
    }

    /// Takes the bytes the echo job read.
    fn take_echo(&mut self, outcome: Result<Outcome<Vec<EchoChunk>>, ()>) {
        match outcome {
            Ok(Ok(chunks)) => {
                if let Some(echo) = &mut self.echo {
                    echo.chunks = chunks;
                    echo.loading = false;
                }
            }
            Ok(Err(why)) => self.fail("echo", &why),
            Err(()) => self.fail("echo", "its thread ended without a result"),
        }
    }

    fn finish(&mut self, done: Done, damaged: u64) {
        match done {
            Done::Indexed(result) => match *result {
                Ok((index, mask)) => {
                    self.timeline = Some(Timeline::new(&index));
                    self.index = Some(Arc::new(index));
                    self.mask = mask.map(Arc::new);
                    if damaged > 0 {
                        self.message = Some(format!("{damaged} damaged chunk(s) skipped"));
                    }
                    self.generation += 1;
                }
                Err(error) => {
                    // The filter given on the command line was checked
                    // before; a file it fails on is shown unfiltered.
                    self.message = Some(format!("filter not applied: {}", error.message));
                    self.filter.clear();
                    self.restart_index();
                }
            },
            Done::Masked(text, result) => match result {
                Ok(mask) => {
                    self.filter = text;
                    self.mask = Some(Arc::new(mask));
                    self.generation += 1;
                    self.clamp_selection();
                }
                Err(error) => self.message = Some(error.message),
            },
        }
    }

    fn restart_index(&mut self) {
        let progress = Progress::new(self.preview.events);
        let source = self.source.clone();
        let shared = progress.clone();
        let rx = spawn(move || Done::Indexed(Box::new(source.index("", &shared))));
        self.job = Some(Job {
            what: "indexing",
            progress,
            rx,
        });
    }

    fn apply_filter(&mut self, text: String) {
        let Some(index) = self.index.clone() else {
            self.message = Some("still indexing: try the filter again in a moment".to_owned());
            return;
        };
        if text.trim().is_empty() {
            self.filter.clear();
            self.mask = None;
            self.generation += 1;
            self.clamp_selection();
            return;
        }
        if let Some(job) = self.job.take() {
            job.progress.cancel.store(true, Ordering::Relaxed);
        }
        let progress = Progress::new(index.len() as u64);
        let source = self.source.clone();
        let shared = progress.clone();
        let rx = spawn(move || {
            let result = source.mask(&text, &index, &shared);
            Done::Masked(text, result)
        });
        self.job = Some(Job {
            what: "filtering",
            progress,
            rx,
        });
    }

    /// The current level.
    pub fn level(&self) -> &Level {
        self.stack
            .last()
            .unwrap_or_else(|| unreachable!("the stack is never empty"))
    }

    fn level_mut(&mut self) -> &mut Level {
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    /// The overview figures for the current filter and range. On a big
    /// index they are computed in the background, as tables are: until
    /// they are ready this gives the previous figures, if any.
    pub fn overview(&mut self) -> Option<&Overview> {
        let index = self.index.clone()?;
        let generation = self.generation;
        if self.overview.as_ref().is_none_or(|(g, _)| *g != generation) {
            let (mask, range) = (self.mask.clone(), self.range);
            let compute = move || {
                let sel = Selection::new(&index, mask.as_deref(), range, &[]);
                let span = range.or(index.time_range()).unwrap_or((0, 0));
                Overview::compute(&index, &sel, span)
            };
            if self
                .index
                .as_ref()
                .is_some_and(|i| i.len() < self.background_events)
            {
                self.overview = Some((generation, compute()));
            } else {
                if self
                    .overview_job
                    .as_ref()
                    .is_none_or(|(g, _)| *g != generation)
                {
                    self.overview_job = Some((generation, spawn(compute)));
                }
                self.take_overview(false);
            }
        }
        self.overview.as_ref().map(|(_, o)| o)
    }

    /// Takes the overview of the background job, if it is done (or when
    /// `wait`, once it is).
    fn take_overview(&mut self, wait: bool) {
        let Some((generation, rx)) = &self.overview_job else {
            return;
        };
        let generation = *generation;
        let outcome = if wait {
            rx.recv().map_err(|_| TryRecvError::Disconnected)
        } else {
            rx.try_recv()
        };
        match outcome {
            Ok(Ok(overview)) => {
                self.overview_job = None;
                self.overview = Some((generation, overview));
            }
            Ok(Err(why)) => {
                self.overview_job = None;
                self.fail("overview", &why);
            }
            Err(TryRecvError::Disconnected) => {
                self.overview_job = None;
                self.fail("overview", "its thread ended without a result");
            }
            Err(TryRecvError::Empty) => {}
        }
    }

    /// The capture-wide time-line, once indexed.
    pub fn timeline(&self) -> Option<&Timeline> {
        self.timeline.as_ref()
    }

    /// Makes sure the current level's table is computed for the current
    /// filter and range, and returns it. On a big index it is computed in
    /// the background: until it is ready this gives the level's previous
    /// table, if any.
    pub fn table(&mut self) -> Option<&Table> {
        let index = self.index.clone()?;
        let generation = self.generation;
        let view = self.level().view?;
        let stale = self
            .level()
            .table
            .as_ref()
            .is_none_or(|(g, _)| *g != generation);
        if stale {
            let key: TableKey = (
                self.stack.len(),
                view,
                self.level().preds.clone(),
                generation,
                self.level().sort,
            );
            if index.len() < self.background_events {
                let table = build_table(&index, self.mask.as_deref(), self.range, &key);
                self.install_table(generation, table);
            } else {
                self.poll_table(&index, key);
            }
        }
        self.level().table.as_ref().map(|(_, t)| t)
    }

    /// Starts computing the table `key` names, unless that is under way,
    /// and takes it if it is done.
    fn poll_table(&mut self, index: &Arc<EventIndex>, key: TableKey) {
        if self.table_job.as_ref().is_none_or(|job| job.key != key) {
            let (index, mask, range) = (index.clone(), self.mask.clone(), self.range);
            let wanted = key.clone();
            let rx = spawn(move || build_table(&index, mask.as_deref(), range, &wanted));
            self.table_job = Some(TableJob { key, rx });
        }
        let Some(job) = &self.table_job else {
            return;
        };
        let generation = job.key.3;
        match job.rx.try_recv() {
            Ok(Ok(table)) => {
                self.table_job = None;
                self.install_table(generation, table);
            }
            Ok(Err(why)) => {
                self.table_job = None;
                self.fail("table", &why);
            }
            Err(TryRecvError::Disconnected) => {
                self.table_job = None;
                self.fail("table", "its thread ended without a result");
            }
            Err(TryRecvError::Empty) => {}
        }
    }

    /// Whether the current level's table (or the overview) is being
    /// computed.
    pub fn computing(&self) -> bool {
        self.table_job.is_some() || self.overview_job.is_some()
    }

    fn install_table(&mut self, generation: u64, table: Table) {
        let level = self.level_mut();
        let rows = table.len();
        level.table = Some((generation, table));
        level.selected = level.selected.min(rows.saturating_sub(1));
        level.offset = level.offset.min(level.selected);
    }

    fn clamp_selection(&mut self) {
        let _ = self.table();
    }

    /// The row count of the current table (0 on the overview).
    fn rows(&mut self) -> usize {
        self.table().map_or(0, Table::len)
    }

    /// Handles one key.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        self.message = None;
        match self.mode.clone() {
            Mode::Normal => self.normal_key(key),
            Mode::Filter(mut input, _) => match key.code {
                KeyCode::Esc => self.mode = Mode::Normal,
                KeyCode::Enter => match self.source.check(&input.text) {
                    Ok(()) => {
                        self.mode = Mode::Normal;
                        self.apply_filter(input.text);
                    }
                    Err(error) => self.mode = Mode::Filter(input, Some(error)),
                },
                _ => {
                    input.edit(&key);
                    let error = self.source.check(&input.text).err();
                    self.mode = Mode::Filter(input, error);
                }
            },
            Mode::Search(mut input) => match key.code {
                KeyCode::Esc => self.mode = Mode::Normal,
                KeyCode::Enter => {
                    self.mode = Mode::Normal;
                    self.search = input.text;
                    self.find(true, true);
                }
                _ => {
                    input.edit(&key);
                    self.mode = Mode::Search(input);
                }
            },
            Mode::Switch(at) => match key.code {
                KeyCode::Esc | KeyCode::F(2) => self.mode = Mode::Normal,
                KeyCode::Up | KeyCode::Char('k') => {
                    self.mode = Mode::Switch(at.checked_sub(1).unwrap_or(VIEWS.len() - 1));
                }
                KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                    self.mode = Mode::Switch((at + 1) % VIEWS.len());
                }
                KeyCode::Enter => {
                    self.mode = Mode::Normal;
                    self.switch_view(VIEWS[at].id);
                }
                KeyCode::Char(c) => {
                    // First letters pick a view: `f` files, `p` procs…
                    let from = (at + 1) % VIEWS.len();
                    let found = (0..VIEWS.len())
                        .map(|k| (from + k) % VIEWS.len())
                        .find(|&k| VIEWS[k].name.starts_with(c));
                    if let Some(found) = found {
                        self.mode = Mode::Switch(found);
                    }
                }
                _ => {}
            },
            Mode::Drill(at) => {
                let choices = self.drill_choices();
                let count = choices.len().max(1);
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.mode = Mode::Drill(at.checked_sub(1).unwrap_or(count - 1));
                    }
                    KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                        self.mode = Mode::Drill((at + 1) % count);
                    }
                    KeyCode::Enter => {
                        self.mode = Mode::Normal;
                        if let Some(&view) = choices.get(at) {
                            self.drill_into(view);
                        }
                    }
                    KeyCode::Char(c) => {
                        // First letters pick: `c` connections, `f` files…
                        match choices
                            .iter()
                            .position(|v| views::def(*v).name.starts_with(c))
                        {
                            Some(found) => {
                                self.mode = Mode::Normal;
                                self.drill_into(choices[found]);
                            }
                            None => self.mode = Mode::Normal,
                        }
                    }
                    _ => self.mode = Mode::Normal,
                }
            }
            Mode::Help => self.mode = Mode::Normal,
            Mode::Detail(ordinal, scroll) => match key.code {
                KeyCode::Down | KeyCode::Char('j') => self.mode = Mode::Detail(ordinal, scroll + 1),
                KeyCode::Up | KeyCode::Char('k') => {
                    self.mode = Mode::Detail(ordinal, scroll.saturating_sub(1));
                }
                KeyCode::PageDown => self.mode = Mode::Detail(ordinal, scroll + self.page),
                KeyCode::PageUp => {
                    self.mode = Mode::Detail(ordinal, scroll.saturating_sub(self.page));
                }
                KeyCode::Char('q') => self.quit = true,
                KeyCode::Char('e') => self.open_echo(),
                _ => {
                    self.mode = Mode::Normal;
                    self.detail = None;
                }
            },
            Mode::Echo => self.echo_key(key),
            Mode::Timeline(cursor, anchor) => self.timeline_key(key, cursor, anchor),
        }
    }

    fn normal_key(&mut self, key: KeyEvent) {
        let overview = self.level().view.is_none();
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Esc | KeyCode::Backspace => self.back(),
            KeyCode::Enter => self.enter(),
            KeyCode::Char('?') | KeyCode::F(1) | KeyCode::Char('h') => self.mode = Mode::Help,
            KeyCode::F(2) | KeyCode::Char(':') => {
                let at = self
                    .level()
                    .view
                    .and_then(|v| VIEWS.iter().position(|d| d.id == v))
                    .unwrap_or(0);
                self.mode = Mode::Switch(at);
            }
            KeyCode::Char('f') | KeyCode::F(4) => {
                let input = Input::with(&self.filter);
                let error = self.source.check(&input.text).err();
                self.mode = Mode::Filter(input, error);
            }
            KeyCode::Char('/') => self.mode = Mode::Search(Input::default()),
            KeyCode::Char('n') => self.find(false, true),
            KeyCode::Char('N') => self.find(false, false),
            KeyCode::Char('t') => {
                let cursor = self.range_permille().map_or(0, |(a, _)| a);
                self.mode = Mode::Timeline(cursor, None);
            }
            KeyCode::Char('e') => self.open_echo(),
            KeyCode::Char('d') if !self.drill_choices().is_empty() => {
                self.mode = Mode::Drill(0);
            }
            KeyCode::Char('>') | KeyCode::F(9) => self.cycle_sort(1),
            KeyCode::Char('<') => self.cycle_sort(-1),
            KeyCode::Char('i') => self.invert_sort(),
            KeyCode::Char(c @ '1'..='8') if overview => {
                let tile = c as usize - '1' as usize;
                self.level_mut().selected = tile;
                self.open_tile(tile);
            }
            KeyCode::Left if overview => self.move_tile(-1, 0),
            KeyCode::Right if overview => self.move_tile(1, 0),
            KeyCode::Up | KeyCode::Char('k') if overview => self.move_tile(0, -1),
            KeyCode::Down | KeyCode::Char('j') if overview => self.move_tile(0, 1),
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-(self.page.max(1) as isize)),
            KeyCode::PageDown | KeyCode::Char(' ') => self.move_by(self.page.max(1) as isize),
            KeyCode::Home | KeyCode::Char('g') => self.move_by(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_by(isize::MAX / 2),
            _ => {}
        }
    }

    fn move_tile(&mut self, dx: isize, dy: isize) {
        let level = self.level_mut();
        let columns = TILES.len() / 2;
        let (mut x, mut y) = (level.selected % columns, level.selected / columns);
        x = (x as isize + dx).clamp(0, columns as isize - 1) as usize;
        y = (y as isize + dy).clamp(0, 1) as usize;
        level.selected = y * columns + x;
    }

    fn move_by(&mut self, delta: isize) {
        let rows = self.rows();
        let level = self.level_mut();
        let target = level.selected as isize + delta;
        level.selected = target.clamp(0, rows.saturating_sub(1) as isize) as usize;
    }

    /// Selects row `row` of the current table.
    pub fn select(&mut self, row: usize) {
        let rows = self.rows();
        self.level_mut().selected = row.min(rows.saturating_sub(1));
    }

    /// Goes back one level, to the row and scroll it was left at.
    pub fn back(&mut self) {
        if self.stack.len() > 1 {
            self.stack.pop();
        }
    }

    fn enter(&mut self) {
        match self.level().view {
            None => {
                let tile = self.level().selected;
                self.open_tile(tile);
            }
            Some(ViewId::Events) => {
                let Some(ordinal) = self.selected_event() else {
                    return;
                };
                let Some(index) = self.index.clone() else {
                    return;
                };
                // What the event and the index tell at once; every field
                // with the state replayed up to the event when it is read.
                self.detail = self.source.detail(&index, ordinal);
                self.detail_exact = false;
                self.mode = Mode::Detail(ordinal, 0);
                let progress = Progress::new(0);
                let source = self.source.clone();
                let shared = progress.clone();
                let rx = spawn(move || source.exact_detail(&index, ordinal, &shared));
                self.detail_job = Some((ordinal, progress, rx));
            }
            Some(_) => self.drill(),
        }
    }

    fn open_tile(&mut self, tile: usize) {
        if self.index.is_none() {
            return;
        }
        if let Some(t) = TILES.get(tile) {
            self.stack.push(Level::new(Some(t.view), Vec::new()));
        }
    }

    /// The selected row's drill step.
    pub fn selected_pred(&mut self) -> Option<Pred> {
        let selected = self.level().selected;
        match &self.table()?.rows {
            Rows::Groups(rows) => rows.get(selected).map(|r| r.key),
            Rows::Events(_) => None,
        }
    }

    /// The selected event of the event list.
    pub fn selected_event(&mut self) -> Option<usize> {
        let selected = self.level().selected;
        match &self.table()?.rows {
            Rows::Events(events) => events.get(selected).map(|&e| e as usize),
            Rows::Groups(_) => None,
        }
    }

    /// Drills the selected row into the first view it can go to (Enter).
    fn drill(&mut self) {
        if let Some(&target) = self.drill_choices().first() {
            self.drill_into(target);
        }
    }

    /// The views the selected row can be drilled into (`d`), Enter's
    /// first: a process' files, connections or events…
    pub fn drill_choices(&mut self) -> Vec<ViewId> {
        let Some(view) = self.level().view else {
            return Vec::new();
        };
        let Some(pred) = self.selected_pred() else {
            return Vec::new();
        };
        let mut preds = self.level().preds.clone();
        preds.push(pred);
        views::drill_targets(view, &preds)
    }

    /// Drills the selected row into `target`.
    fn drill_into(&mut self, target: ViewId) {
        let Some(pred) = self.selected_pred() else {
            return;
        };
        let mut preds = self.level().preds.clone();
        preds.push(pred);
        self.stack.push(Level::new(Some(target), preds));
    }

    fn switch_view(&mut self, view: ViewId) {
        if self.index.is_none() {
            return;
        }
        if self.level().view.is_none() {
            self.stack.push(Level::new(Some(view), Vec::new()));
        } else {
            let preds = self.level().preds.clone();
            *self.level_mut() = Level::new(Some(view), preds);
        }
    }

    fn cycle_sort(&mut self, step: isize) {
        let Some(view) = self.level().view else {
            return;
        };
        let def = views::def(view);
        let count = def.columns.len() as isize;
        let current = self
            .table()
            .and_then(|t| t.sort)
            .map_or(-1, |(c, _)| c as isize);
        let next = (current + step).rem_euclid(count) as usize;
        self.sort_by(next, def.columns[next].kind.largest_first());
    }

    fn invert_sort(&mut self) {
        if let Some((column, descending)) = self.table().and_then(|t| t.sort) {
            self.sort_by(column, !descending);
        }
    }

    /// Sorts the current table by `column`.
    pub fn sort_by(&mut self, column: usize, descending: bool) {
        let Some(index) = self.index.clone() else {
            return;
        };
        let _ = self.table();
        let level = self.level_mut();
        level.sort = Some((column, descending));
        if let Some((_, table)) = &mut level.table {
            views::sort_table(table, &index, level.sort);
        }
        level.selected = 0;
        level.offset = 0;
    }

    /// The text of a row, for search.
    fn row_text(&mut self, row: usize) -> String {
        let Some(index) = self.index.clone() else {
            return String::new();
        };
        match self.table().map(|t| &t.rows) {
            Some(Rows::Groups(rows)) => rows
                .get(row)
                .map(|r| {
                    r.cells
                        .iter()
                        .map(views::Cell::render)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
            Some(Rows::Events(events)) => events
                .get(row)
                .map(|&e| {
                    views::event_cells(&index, e as usize)
                        .iter()
                        .map(views::Cell::render)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
            None => String::new(),
        }
    }

    /// Moves to the next (or previous) row containing the search text;
    /// `here` counts the selected row itself.
    fn find(&mut self, here: bool, forward: bool) {
        if self.search.is_empty() || self.level().view.is_none() {
            return;
        }
        let needle = self.search.to_lowercase();
        let rows = self.rows();
        if rows == 0 {
            return;
        }
        let start = self.level().selected;
        // A search never holds the screen for long: past this many rows it
        // stops, and `n` goes on from where it stopped.
        let limit = rows.min(SEARCH_ROWS);
        for k in 0..limit {
            let step = if here { k } else { k + 1 };
            let row = if forward {
                (start + step) % rows
            } else {
                (start + rows * 2 - step % rows) % rows
            };
            if self.row_text(row).to_lowercase().contains(&needle) {
                self.level_mut().selected = row;
                return;
            }
        }
        if limit < rows {
            let last = if forward {
                (start + limit) % rows
            } else {
                (start + rows - limit % rows) % rows
            };
            self.level_mut().selected = last;
            self.message = Some(format!(
                "{} not in the {} rows searched; n searches on",
                self.search,
                scry_format::thousands(limit as u64)
            ));
        } else {
            self.message = Some(format!("not found: {}", self.search));
        }
    }

    fn range_permille(&self) -> Option<(u16, u16)> {
        let (first, last) = self.index.as_ref()?.time_range()?;
        let (from, to) = self.range?;
        let span = (last - first).max(1) as f64;
        let at =
            |ts: u64| ((ts.saturating_sub(first)) as f64 / span * f64::from(TIMELINE_STEPS)) as u16;
        Some((at(from), at(to)))
    }

    /// Sets the time range from two time-line positions (thousandths).
    pub fn set_range(&mut self, a: u16, b: u16) {
        let Some((first, last)) = self.index.as_ref().and_then(|i| i.time_range()) else {
            return;
        };
        let (a, b) = (a.min(b), a.max(b).min(TIMELINE_STEPS));
        let span = (last - first) as f64;
        let at = |p: u16| first + (span * f64::from(p) / f64::from(TIMELINE_STEPS)) as u64;
        let to = if b >= TIMELINE_STEPS {
            last
        } else {
            at(b + 1).max(at(a))
        };
        self.range = Some((at(a), to));
        self.generation += 1;
        self.clamp_selection();
    }

    /// Clears the time range.
    pub fn clear_range(&mut self) {
        if self.range.take().is_some() {
            self.generation += 1;
            self.clamp_selection();
        }
    }

    fn timeline_key(&mut self, key: KeyEvent, cursor: u16, anchor: Option<u16>) {
        let step = if key.modifiers.contains(KeyModifiers::SHIFT) {
            1
        } else {
            10
        };
        match key.code {
            KeyCode::Left | KeyCode::Char('h') => {
                self.mode = Mode::Timeline(cursor.saturating_sub(step), anchor);
            }
            KeyCode::Right | KeyCode::Char('l') => {
                self.mode = Mode::Timeline((cursor + step).min(TIMELINE_STEPS - 1), anchor);
            }
            KeyCode::Home => self.mode = Mode::Timeline(0, anchor),
            KeyCode::End => self.mode = Mode::Timeline(TIMELINE_STEPS - 1, anchor),
            KeyCode::Enter | KeyCode::Char(' ') => match anchor {
                None => self.mode = Mode::Timeline(cursor, Some(cursor)),
                Some(first) => {
                    self.set_range(first, cursor);
                    self.mode = Mode::Normal;
                }
            },
            KeyCode::Char('c') | KeyCode::Delete => {
                self.clear_range();
                self.mode = Mode::Normal;
            }
            KeyCode::Char('q') => self.quit = true,
            _ => self.mode = Mode::Normal,
        }
    }

    /// Collects the I/O bytes of the selected object (or of what the
    /// levels above narrowed to) and shows them.
    fn open_echo(&mut self) {
        let Some(index) = self.index.clone() else {
            return;
        };
        let mut preds = self.level().preds.clone();
        let mut title = preds
            .iter()
            .map(|p| p.filter_text(&index))
            .collect::<Vec<_>>();
        if let Some(pred) = self.selected_pred() {
            title.push(pred.filter_text(&index));
            preds.push(pred);
        } else if let Some(ordinal) = self.selected_event() {
            let obj = index.obj[ordinal];
            if obj != NO_OBJECT {
                let pred = Pred::Object(obj);
                title.push(pred.filter_text(&index));
                preds.push(pred);
            }
        }
        let sel = Selection::new(&index, self.mask.as_deref(), self.range, &preds);
        let mut ordinals = Vec::new();
        let mut more = false;
        sel.for_each(|i| {
            if index.class[i] & (class::READ | class::WRITE) != 0 {
                if ordinals.len() < ECHO_EVENTS {
                    ordinals.push(i);
                } else {
                    more = true;
                }
            }
        });
        // Each chunk of the trace holding one of the events is decoded:
        // up to thousands, on a background thread.
        let source = self.source.clone();
        let events = index.clone();
        self.echo_job = Some(spawn(move || {
            ordinals
                .into_iter()
                .map(|i| EchoChunk {
                    ordinal: i,
                    write: events.class[i] & class::WRITE != 0,
                    moved: events.io_bytes(i),
                    data: source.data(&events, i).unwrap_or_default(),
                })
                .collect()
        }));
        let format = self.echo.as_ref().map(|e| e.format).unwrap_or_default();
        self.echo = Some(Echo {
            title: if title.is_empty() {
                "all I/O".to_owned()
            } else {
                title.join(" and ")
            },
            chunks: Vec::new(),
            truncated: more,
            scroll: 0,
            format,
            loading: true,
        });
        self.mode = Mode::Echo;
    }

    fn echo_key(&mut self, key: KeyEvent) {
        let page = self.page.max(1);
        let Some(echo) = &mut self.echo else {
            self.mode = Mode::Normal;
            return;
        };
        match key.code {
            KeyCode::Down | KeyCode::Char('j') => echo.scroll += 1,
            KeyCode::Up | KeyCode::Char('k') => echo.scroll = echo.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => echo.scroll += page,
            KeyCode::PageUp => echo.scroll = echo.scroll.saturating_sub(page),
            KeyCode::Home | KeyCode::Char('g') => echo.scroll = 0,
            KeyCode::Char('a') => echo.format = EchoFormat::Ascii,
            KeyCode::Char('p') => echo.format = EchoFormat::Printable,
            KeyCode::Char('x') => echo.format = EchoFormat::Hex,
            KeyCode::Tab => {
                echo.format = match echo.format {
                    EchoFormat::Ascii => EchoFormat::Printable,
                    EchoFormat::Printable => EchoFormat::Hex,
                    EchoFormat::Hex => EchoFormat::Ascii,
                }
            }
            KeyCode::Char('q') => self.quit = true,
            _ => self.mode = Mode::Normal,
        }
    }

    /// Handles one mouse action, with the layout of the last draw.
    pub fn on_mouse(&mut self, event: MouseEvent) {
        let at = Position::new(event.column, event.row);
        let timeline = self.hits.timeline;
        let timeline_at = |column: u16| {
            let x = column.saturating_sub(timeline.x);
            ((u32::from(x) * u32::from(TIMELINE_STEPS)) / u32::from(timeline.width.max(1))) as u16
        };
        match event.kind {
            MouseEventKind::ScrollDown if self.mode == Mode::Normal => self.move_by(3),
            MouseEventKind::ScrollUp if self.mode == Mode::Normal => self.move_by(-3),
            MouseEventKind::ScrollDown => self.on_key(KeyEvent::from(KeyCode::Down)),
            MouseEventKind::ScrollUp => self.on_key(KeyEvent::from(KeyCode::Up)),
            MouseEventKind::Down(MouseButton::Left) => {
                if self.mode != Mode::Normal {
                    return;
                }
                if timeline.contains(at) {
                    self.drag = Some(timeline_at(at.x));
                    return;
                }
                if let Some(tile) = self.hits.tiles.iter().position(|r| r.contains(at)) {
                    if self.level().selected == tile {
                        self.open_tile(tile);
                    } else {
                        self.level_mut().selected = tile;
                    }
                    return;
                }
                if let Some(&(_, column)) = self.hits.headers.iter().find(|(r, _)| r.contains(at)) {
                    let descending = match self.table().and_then(|t| t.sort) {
                        Some((c, d)) if c == column => !d,
                        _ => self
                            .level()
                            .view
                            .is_some_and(|v| views::def(v).columns[column].kind.largest_first()),
                    };
                    self.sort_by(column, descending);
                    return;
                }
                if self.hits.rows.contains(at) {
                    let row = self.level().offset + usize::from(at.y - self.hits.rows.y);
                    if row < self.rows() {
                        if row == self.level().selected {
                            self.enter();
                        } else {
                            self.level_mut().selected = row;
                        }
                    }
                }
            }
            MouseEventKind::Drag(MouseButton::Left) if self.drag.is_some() => {
                let here = timeline_at(at.x.clamp(timeline.x, timeline.right().saturating_sub(1)));
                self.mode = Mode::Timeline(here, self.drag);
            }
            MouseEventKind::Up(MouseButton::Left) if self.drag.is_some() => {
                let first = self.drag.take().unwrap_or_default();
                let here = timeline_at(at.x.clamp(timeline.x, timeline.right().saturating_sub(1)));
                if here.abs_diff(first) > 2 {
                    self.set_range(first, here);
                }
                self.mode = Mode::Normal;
            }
            _ => {}
        }
    }

    /// Breadcrumbs: the title of each level with the step that led to it.
    pub fn breadcrumbs(&self) -> Vec<String> {
        let mut crumbs = vec!["Overview".to_owned()];
        let mut depth = 0;
        for level in self.stack.iter().skip(1) {
            if let Some(index) = &self.index {
                for pred in level.preds.iter().skip(depth) {
                    crumbs.push(pred.filter_text(index));
                }
            }
            depth = level.preds.len();
            if let Some(view) = level.view {
                crumbs.push(views::def(view).title.to_owned());
            }
        }
        crumbs
    }
}
