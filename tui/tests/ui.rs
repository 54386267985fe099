//! The UI over real sample traces, drawn on ratatui's `TestBackend` at
//! fixed sizes and compared with the text snapshots in `snapshots/`
//! (`UPDATE_SNAPSHOTS=1 cargo test -p scry-tui` rewrites them after a
//! deliberate change); and the drill stack driven by keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use scry_analyze::FilterError;
use scry_format::{EventTable, FileHeader, Snapshot, TraceFile, TraceWriter, WriterOptions};
use scry_tui::app::{EchoFormat, Mode};
use scry_tui::index::{EventIndex, Mask};
use scry_tui::source::{Detail, Preview, Progress};
use scry_tui::views::{Pred, Rows, ViewId};
use scry_tui::{App, Source, Traces, ui};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples")
}

fn open(name: &str) -> Traces<Vec<u8>> {
    let bytes = std::fs::read(samples().join(name)).expect("the sample exists");
    let trace = TraceFile::open(bytes).expect("the sample is a trace");
    Traces::new(vec![(name.to_owned(), trace)], 2)
}

fn app_with(source: Traces<Vec<u8>>, filter: &str) -> App {
    let mut app = App::new(Arc::new(source), filter, true);
    app.wait();
    app
}

fn workload() -> App {
    app_with(open("workload.scry"), "")
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// Draws `app` at `width`×`height` and returns the screen as text.
fn screen(app: &mut App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| ui::draw(frame, app))
        .expect("drawing");
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        for x in 0..buffer.area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Compares `text` with the stored snapshot `name`.
fn snapshot(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("writing the snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with UPDATE_SNAPSHOTS=1 to create it:\n{text}",
            path.display()
        )
    });
    assert!(
        expected == text,
        "screen differs from {}\n--- expected\n{expected}\n--- got\n{text}",
        path.display()
    );
}

#[test]
fn overview() {
    let mut app = workload();
    snapshot("overview", &screen(&mut app, 120, 40));
}

#[test]
fn every_view() {
    for def in scry_tui::views::VIEWS {
        let mut app = workload();
        key(&mut app, KeyCode::F(2));
        for _ in 0..scry_tui::views::VIEWS.len() {
            if app.mode
                == Mode::Switch(
                    scry_tui::views::VIEWS
                        .iter()
                        .position(|v| v.id == def.id)
                        .expect("listed"),
                )
            {
                break;
            }
            key(&mut app, KeyCode::Down);
        }
        key(&mut app, KeyCode::Enter);
        assert_eq!(app.level().view, Some(def.id));
        snapshot(&format!("view-{}", def.name), &screen(&mut app, 120, 30));
    }
}

#[test]
fn three_level_drill_down_and_back() {
    let mut app = workload();
    // Overview → processes (tile 2).
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.level().view, Some(ViewId::Procs));
    // The third process (by events): `id`, then its files.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    let procs = screen(&mut app, 120, 30);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.level().view, Some(ViewId::Files));
    let files = screen(&mut app, 120, 30);
    snapshot("drill-1-files-of-a-process", &files);
    // The file with the most events, then its events.
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.level().view, Some(ViewId::Events));
    let events = screen(&mut app, 120, 30);
    snapshot("drill-2-events-of-a-file", &events);
    // An event in full.
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Detail(..)));
    // First what the event and the index tell, then every field with the
    // state replayed up to the event.
    app.wait();
    assert!(app.detail_exact);
    let detail = app.detail.clone().expect("a detail");
    let field = |name: &str| {
        detail
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("proc.name").as_deref(), Some("id"));
    assert_eq!(field("proc.pname").as_deref(), Some("sh"));
    assert_eq!(
        field("fd.name").as_deref(),
        Some("/lib/x86_64-linux-gnu/libc.so.6")
    );
    snapshot("drill-3-event-detail", &screen(&mut app, 120, 40));
    key(&mut app, KeyCode::PageDown);
    snapshot("drill-3-event-detail-more", &screen(&mut app, 120, 40));
    // Back, level by level, to the same rows and screens.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    key(&mut app, KeyCode::Esc);
    assert_eq!(screen(&mut app, 120, 30), files);
    key(&mut app, KeyCode::Backspace);
    assert_eq!(app.level().selected, 2);
    assert_eq!(screen(&mut app, 120, 30), procs);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.level().view, None);
    // Esc at the top stays there; q quits.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.stack.len(), 1);
    assert!(!app.quit);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn drill_stack_keeps_rows_and_scroll() {
    let mut app = workload();
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.level().view, Some(ViewId::Files));
    // Far enough down that the table scrolled.
    for _ in 0..40 {
        key(&mut app, KeyCode::Down);
    }
    let _ = screen(&mut app, 100, 20);
    let (selected, offset) = (app.level().selected, app.level().offset);
    assert_eq!(selected, 40);
    assert!(offset > 0, "the table scrolled");
    let picked = app.selected_pred().expect("a row");
    key(&mut app, KeyCode::Enter);
    // files → the processes that touched the file.
    assert_eq!(app.level().view, Some(ViewId::Procs));
    assert_eq!(app.level().preds, vec![picked]);
    let crumbs = app.breadcrumbs();
    assert_eq!(crumbs[1], "Files");
    assert!(crumbs[2].starts_with("fd.name="), "{crumbs:?}");
    assert_eq!(crumbs[3], "Processes");
    // processes of a file → events (files are pinned already).
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.level().view, Some(ViewId::Events));
    assert_eq!(app.level().preds.len(), 2);
    assert!(matches!(app.level().preds[1], Pred::Pid(_)));
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    let _ = screen(&mut app, 100, 20);
    assert_eq!(
        (app.level().selected, app.level().offset),
        (selected, offset)
    );
    assert_eq!(app.selected_pred(), Some(picked));
}

#[test]
fn switching_view_keeps_the_drill_down() {
    let mut app = workload();
    key(&mut app, KeyCode::Char('2'));
    key(&mut app, KeyCode::Enter);
    let preds = app.level().preds.clone();
    assert_eq!(preds.len(), 1);
    keys(&mut app, ":");
    // `s` picks the next view whose name starts with s: syscalls.
    keys(&mut app, "s");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.level().view, Some(ViewId::Syscalls));
    assert_eq!(app.level().preds, preds);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.level().view, Some(ViewId::Procs));
}

#[test]
fn filter_bar_shows_the_error_under_the_bad_token() {
    let mut app = workload();
    key(&mut app, KeyCode::Char('2'));
    keys(&mut app, "f");
    keys(&mut app, "proc.nmae=cat");
    let Mode::Filter(input, error) = &app.mode else {
        panic!("the filter bar is open");
    };
    assert_eq!(input.text, "proc.nmae=cat");
    assert!(error.is_some());
    snapshot("filter-error", &screen(&mut app, 100, 24));
    // Enter does not apply a bad filter.
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Filter(..)));
    // Fixing it clears the error, and Enter applies it.
    for _ in 0.."nmae=cat".len() {
        key(&mut app, KeyCode::Backspace);
    }
    keys(&mut app, "name=cat");
    assert!(matches!(&app.mode, Mode::Filter(_, None)));
    key(&mut app, KeyCode::Enter);
    app.wait();
    assert_eq!(app.filter, "proc.name=cat");
    let table = app.table().expect("a table");
    assert_eq!(table.len(), 2, "two cat processes");
    snapshot("filter-applied", &screen(&mut app, 100, 24));
}

#[test]
fn filter_matching_nothing() {
    let mut app = app_with(open("workload.scry"), "proc.name=nothing-is-called-this");
    assert_eq!(app.mask.as_ref().map(|m| m.count()), Some(0));
    snapshot("nothing-matches-overview", &screen(&mut app, 100, 30));
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.table().map(|t| t.len()), Some(0));
    snapshot("nothing-matches-procs", &screen(&mut app, 100, 12));
}

fn empty_trace() -> Traces<Vec<u8>> {
    let header = FileHeader {
        event_table: EventTable::builtin_x86_64(),
        ..FileHeader::default()
    };
    let writer = TraceWriter::new(
        Vec::new(),
        &header,
        &Snapshot::default(),
        WriterOptions::default(),
    )
    .expect("a writer");
    let bytes = writer.finish().expect("an empty trace");
    let trace = TraceFile::open(bytes).expect("readable");
    Traces::new(vec![("empty.scry".to_owned(), trace)], 1)
}

#[test]
fn empty_trace_shows_empty_views() {
    let mut app = app_with(empty_trace(), "");
    snapshot("empty-overview", &screen(&mut app, 100, 30));
    key(&mut app, KeyCode::Char('1'));
    assert_eq!(app.level().view, Some(ViewId::Events));
    snapshot("empty-events", &screen(&mut app, 100, 10));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('e'));
    app.wait();
    assert_eq!(app.echo.as_ref().map(|e| e.chunks.len()), Some(0));
}

#[test]
fn search_moves_to_matching_rows() {
    let mut app = workload();
    key(&mut app, KeyCode::Char('2'));
    keys(&mut app, "/cat");
    key(&mut app, KeyCode::Enter);
    let first = app.level().selected;
    let name = |app: &mut App| {
        let selected = app.level().selected;
        match &app.table().expect("a table").rows {
            Rows::Groups(rows) => rows[selected].cells[1].render(),
            Rows::Events(_) => unreachable!(),
        }
    };
    assert_eq!(name(&mut app), "cat");
    keys(&mut app, "n");
    assert_ne!(app.level().selected, first);
    assert_eq!(name(&mut app), "cat");
    keys(&mut app, "n");
    assert_eq!(app.level().selected, first, "wraps around");
    keys(&mut app, "N");
    assert_ne!(app.level().selected, first);
}

#[test]
fn echo_shows_the_bytes_read_from_etc_passwd() {
    let mut app = workload();
    key(&mut app, KeyCode::Char('3'));
    keys(&mut app, "/etc/passwd");
    key(&mut app, KeyCode::Enter);
    keys(&mut app, "e");
    assert_eq!(app.mode, Mode::Echo);
    // The bytes are read in the background, the pane up meanwhile.
    assert!(screen(&mut app, 100, 16).contains("echo: fd.name=/etc/passwd"));
    app.wait();
    let echo = app.echo.clone().expect("echo data");
    assert!(!echo.loading);
    assert_eq!(echo.title, "fd.name=/etc/passwd");
    assert!(!echo.chunks.is_empty());
    let read: Vec<u8> = echo.chunks.iter().flat_map(|c| c.data.clone()).collect();
    assert!(read.starts_with(b"root:x:0:0:"), "{read:?}");
    snapshot("echo-ascii", &screen(&mut app, 100, 16));
    keys(&mut app, "x");
    assert_eq!(app.echo.as_ref().map(|e| e.format), Some(EchoFormat::Hex));
    snapshot("echo-hex", &screen(&mut app, 100, 16));
    // Printable: each chunk on one line, line breaks shown as dots.
    keys(&mut app, "p");
    assert_eq!(
        app.echo.as_ref().map(|e| e.format),
        Some(EchoFormat::Printable)
    );
    let text = screen(&mut app, 100, 16);
    assert!(
        text.contains("root:x:0:0:root:/root:/bin/bash.daemon:"),
        "{text}"
    );
    snapshot("echo-printable", &text);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.level().view, Some(ViewId::Files));
}

#[test]
fn time_range_narrows_every_view() {
    let mut app = workload();
    key(&mut app, KeyCode::Char('1'));
    let all = app.table().map(|t| t.len()).expect("events");
    // The first half of the capture, chosen with the keyboard.
    keys(&mut app, "t");
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Enter);
    for _ in 0..50 {
        key(&mut app, KeyCode::Right);
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    let (from, to) = app.range.expect("a range");
    let half = app.table().map(|t| t.len()).expect("events");
    assert!(half > 0 && half < all, "{half} of {all}");
    let index = app.index.clone().expect("indexed");
    if let Some(Rows::Events(events)) = app.table().map(|t| t.rows.clone()) {
        assert!(
            events
                .iter()
                .all(|&e| (from..=to).contains(&index.ts[e as usize]))
        );
    }
    snapshot("time-range-events", &screen(&mut app, 100, 12));
    // The other views count the same events: processes all of them, files
    // those on files.
    let in_range = |keep: &dyn Fn(usize) -> bool| {
        (0..index.len())
            .filter(|&i| (from..=to).contains(&index.ts[i]) && keep(i))
            .count() as u64
    };
    let on_file = |i: usize| {
        index
            .objects
            .get(index.obj[i] as usize)
            .is_some_and(|o| o.is_file())
    };
    switch_to(&mut app, ViewId::Procs);
    assert_eq!(column_sum(&mut app, 3), half as u64);
    switch_to(&mut app, ViewId::Files);
    let ranged_files = column_sum(&mut app, 3);
    assert_eq!(ranged_files, in_range(&on_file));
    keys(&mut app, "t");
    keys(&mut app, "c");
    assert_eq!(app.range, None);
    assert!(column_sum(&mut app, 3) > ranged_files);
    switch_to(&mut app, ViewId::Procs);
    assert_eq!(column_sum(&mut app, 3), all as u64);
    switch_to(&mut app, ViewId::Events);
    assert_eq!(app.table().map(|t| t.len()), Some(all));
}

/// Switches the current level to `view` with the view switcher (`:`).
fn switch_to(app: &mut App, view: ViewId) {
    keys(app, ":");
    for _ in 0..scry_tui::views::VIEWS.len() {
        if let Mode::Switch(at) = app.mode
            && scry_tui::views::VIEWS[at].id == view
        {
            break;
        }
        key(app, KeyCode::Down);
    }
    key(app, KeyCode::Enter);
    assert_eq!(app.level().view, Some(view));
}

/// The sum of a numeric column of the current table.
fn column_sum(app: &mut App, column: usize) -> u64 {
    match &app.table().expect("a table").rows {
        Rows::Groups(rows) => rows
            .iter()
            .map(|r| r.cells[column].render().parse::<u64>().expect("a count"))
            .sum(),
        Rows::Events(_) => unreachable!("a grouped view"),
    }
}

#[test]
fn sorting_by_keys_and_by_clicking_headers() {
    let mut app = workload();
    key(&mut app, KeyCode::Char('2'));
    let _ = screen(&mut app, 120, 30);
    assert_eq!(app.table().and_then(|t| t.sort), Some((3, true)));
    // A click on the NAME header sorts by name, A to Z…
    let (rect, column) = app.hits.headers[1];
    let click = |kind| MouseEvent {
        kind,
        column: rect.x + 1,
        row: rect.y,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(click(MouseEventKind::Down(MouseButton::Left)));
    assert_eq!(column, 1);
    assert_eq!(app.table().and_then(|t| t.sort), Some((1, false)));
    let names = |app: &mut App| match &app.table().expect("a table").rows {
        Rows::Groups(rows) => rows.iter().map(|r| r.cells[1].render()).collect::<Vec<_>>(),
        Rows::Events(_) => unreachable!(),
    };
    let sorted = names(&mut app);
    let mut expected = sorted.clone();
    expected.sort();
    assert_eq!(sorted, expected);
    // …again, Z to A; `i` inverts with the keyboard.
    app.on_mouse(click(MouseEventKind::Down(MouseButton::Left)));
    assert_eq!(app.table().and_then(|t| t.sort), Some((1, true)));
    keys(&mut app, "i");
    assert_eq!(names(&mut app), expected);
    // `>` moves to the next column.
    keys(&mut app, ">");
    assert_eq!(app.table().and_then(|t| t.sort.map(|s| s.0)), Some(2));
}

#[test]
fn mouse_selects_rows_and_drills_on_a_second_click() {
    let mut app = workload();
    let _ = screen(&mut app, 120, 40);
    // Tiles: a click selects, a second opens.
    let tile = app.hits.tiles[2];
    let at = |x, y, kind| MouseEvent {
        kind,
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    app.on_mouse(at(
        tile.x + 2,
        tile.y + 2,
        MouseEventKind::Down(MouseButton::Left),
    ));
    assert_eq!(app.level().selected, 2);
    app.on_mouse(at(
        tile.x + 2,
        tile.y + 2,
        MouseEventKind::Down(MouseButton::Left),
    ));
    assert_eq!(app.level().view, Some(ViewId::Files));
    let _ = screen(&mut app, 120, 40);
    let rows = app.hits.rows;
    app.on_mouse(at(
        rows.x + 5,
        rows.y + 3,
        MouseEventKind::Down(MouseButton::Left),
    ));
    assert_eq!(app.level().selected, 3);
    app.on_mouse(at(
        rows.x + 5,
        rows.y + 3,
        MouseEventKind::Down(MouseButton::Left),
    ));
    assert_eq!(app.level().view, Some(ViewId::Procs));
    app.on_mouse(at(rows.x, rows.y, MouseEventKind::ScrollDown));
    // Dragging on the time-line selects a range.
    let _ = screen(&mut app, 120, 40);
    let line = app.hits.timeline;
    app.on_mouse(at(
        line.x + 2,
        line.y,
        MouseEventKind::Down(MouseButton::Left),
    ));
    app.on_mouse(at(
        line.x + 40,
        line.y,
        MouseEventKind::Drag(MouseButton::Left),
    ));
    app.on_mouse(at(
        line.x + 40,
        line.y,
        MouseEventKind::Up(MouseButton::Left),
    ));
    assert!(app.range.is_some());
}

#[test]
fn help_and_view_switcher() {
    let mut app = workload();
    key(&mut app, KeyCode::F(1));
    assert_eq!(app.mode, Mode::Help);
    snapshot("help", &screen(&mut app, 120, 40));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    // `?` too, and any key closes it.
    keys(&mut app, "?");
    assert_eq!(app.mode, Mode::Help);
    assert_eq!(screen(&mut app, 120, 40), {
        let mut again = workload();
        key(&mut again, KeyCode::F(1));
        screen(&mut again, 120, 40)
    });
    keys(&mut app, "x");
    assert_eq!(app.mode, Mode::Normal);
    key(&mut app, KeyCode::F(2));
    snapshot("view-switcher", &screen(&mut app, 100, 30));
}

#[test]
fn loading_screen_before_the_index() {
    // A first frame needs nothing but the file's own index.
    let source = open("workload.scry");
    let mut app = App::new(Arc::new(source), "", true);
    let text = screen(&mut app, 100, 20);
    app.wait();
    assert!(
        text.contains("scry view  workload.scry  2,298 events"),
        "{text}"
    );
    assert!(
        text.contains("indexing") || text.contains("Events"),
        "either still indexing or already done:\n{text}"
    );
}

#[test]
fn every_event_of_the_trace_is_indexed() {
    let app = workload();
    let index = app.index.clone().expect("indexed");
    assert_eq!(index.len(), 2298);
    assert!(index.heap_bytes() / index.len() < 200);
    // A process that ran `cat /etc/passwd` read that file.
    let cat = index
        .procs
        .iter()
        .find(|p| p.cmdline == "cat /etc/passwd")
        .expect("the cat process");
    let passwd = index
        .objects
        .iter()
        .position(|o| o.name == "/etc/passwd")
        .expect("the file");
    assert!((0..index.len()).any(|i| {
        index.procs[index.proc[i] as usize].pid == cat.pid && index.obj[i] as usize == passwd
    }));
}

#[test]
fn several_files_make_one_index() {
    let bytes = std::fs::read(samples().join("workload.scry")).expect("the sample");
    let other = std::fs::read(samples().join("workload-snaplen0.scry")).expect("the sample");
    let traces = vec![
        (
            "a.scry".to_owned(),
            TraceFile::open(bytes).expect("a trace"),
        ),
        (
            "b.scry".to_owned(),
            TraceFile::open(other).expect("a trace"),
        ),
    ];
    let mut app = App::new(Arc::new(Traces::new(traces, 2)), "evt.type=read", true);
    app.wait();
    let index = app.index.clone().expect("indexed");
    assert_eq!(index.parts.len(), 2);
    let second = index.parts[1];
    assert!(second > 0 && second < index.len());
    // An event of the second file is found again in its own file.
    let last = index.len() - 1;
    assert_eq!(index.part_of(last), 1);
    assert_eq!(index.ordinal_of(1, index.num[last]), Some(last));
    // The filter was compiled and run against each file.
    let mask = app.mask.clone().expect("a filter");
    let reads = (0..index.len())
        .filter(|&i| index.types[usize::from(index.etype[i])] == "read")
        .count();
    assert_eq!(mask.count(), reads);
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::End);
    key(&mut app, KeyCode::Enter);
    let detail = app.detail.clone().expect("the last event in full");
    assert!(
        detail
            .fields
            .iter()
            .any(|(name, value)| name == "evt.type" && value == "read")
    );
}

#[test]
fn every_row_has_a_cell_per_column() {
    // The incident has something for every view but drops (none lost; see
    // drops_list_each_loss_with_its_interval).
    let mut app = incident();
    for def in scry_tui::views::VIEWS {
        key(&mut app, KeyCode::Esc);
        key(&mut app, KeyCode::F(2));
        while app.mode
            != Mode::Switch(
                scry_tui::views::VIEWS
                    .iter()
                    .position(|v| v.id == def.id)
                    .expect("listed"),
            )
        {
            key(&mut app, KeyCode::Down);
        }
        key(&mut app, KeyCode::Enter);
        let index = app.index.clone().expect("indexed");
        match &app.table().expect("a table").rows {
            Rows::Groups(rows) => {
                assert!(
                    !rows.is_empty() || def.id == ViewId::Drops,
                    "{} has rows",
                    def.name
                );
                for row in rows {
                    assert_eq!(row.cells.len(), def.columns.len(), "{}", def.name);
                }
            }
            Rows::Events(events) => {
                let cells = scry_tui::views::event_cells(&index, events[0] as usize);
                // The arguments are the last column, read when shown.
                assert_eq!(cells.len() + 1, def.columns.len());
            }
        }
    }
}

/// A source whose passes over the trace panic: index, filter, or the exact
/// detail of one event.
struct Panicking {
    inner: Traces<Vec<u8>>,
    index: bool,
}

impl Source for Panicking {
    fn preview(&self) -> Preview {
        self.inner.preview()
    }
    fn index(
        &self,
        filter: &str,
        progress: &Progress,
    ) -> Result<(EventIndex, Option<Mask>), FilterError> {
        assert!(!self.index, "a bug in indexing");
        self.inner.index(filter, progress)
    }
    fn check(&self, filter: &str) -> Result<(), FilterError> {
        self.inner.check(filter)
    }
    fn mask(&self, _: &str, _: &EventIndex, _: &Progress) -> Result<Mask, FilterError> {
        panic!("a bug in filtering")
    }
    fn detail(&self, index: &EventIndex, ordinal: usize) -> Option<Detail> {
        self.inner.detail(index, ordinal)
    }
    fn exact_detail(&self, _: &EventIndex, _: usize, _: &Progress) -> Option<Detail> {
        panic!("a bug in the detail pass")
    }
    fn args(&self, index: &EventIndex, ordinal: usize) -> String {
        self.inner.args(index, ordinal)
    }
    fn data(&self, index: &EventIndex, ordinal: usize) -> Option<Vec<u8>> {
        self.inner.data(index, ordinal)
    }
}

fn panicking(index: bool) -> App {
    let source = Panicking {
        inner: open("workload.scry"),
        index,
    };
    let mut app = App::new(Arc::new(source), "", true);
    app.wait();
    app
}

#[test]
fn a_panicking_pass_is_a_failure_not_a_half_dead_view() {
    let app = panicking(true);
    assert!(app.index.is_none());
    let why = app.failure().expect("the failure is reported");
    assert!(
        why.contains("indexing") && why.contains("a bug in indexing"),
        "{why}"
    );

    let mut app = panicking(false);
    assert_eq!(app.failure(), None);
    key(&mut app, KeyCode::Char('f'));
    keys(&mut app, "proc.name=cat");
    key(&mut app, KeyCode::Enter);
    app.wait();
    let why = app.failure().expect("the filter pass failure is reported");
    assert!(why.contains("a bug in filtering"), "{why}");

    let mut app = panicking(false);
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Enter);
    // Polled as the event loop does, not waited for.
    let start = std::time::Instant::now();
    while app.failure().is_none() {
        app.poll();
        assert!(
            start.elapsed().as_secs() < 10,
            "the detail pass never failed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        app.failure()
            .is_some_and(|w| w.contains("a bug in the detail pass"))
    );
}

fn incident() -> App {
    app_with(open("incident.scry"), "")
}

#[test]
fn incident_overview_network_and_interactive_session() {
    let mut app = incident();
    let text = screen(&mut app, 120, 40);
    // The session's connection moved bytes both ways.
    let network = text
        .lines()
        .find(|l| l.contains(" in, ") && l.contains(" out"))
        .expect("the network tile");
    assert!(!network.contains("0 B in, 0 B out"), "{text}");
    snapshot("incident-overview", &text);

    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.level().view, Some(ViewId::Conns));
    snapshot("incident-conns", &screen(&mut app, 120, 12));
    key(&mut app, KeyCode::Esc);

    // The Users tile: the commands of the interactive shell, as `scry spy
    // users` lists them, nothing else the capture ran.
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(app.level().view, Some(ViewId::Spy));
    let commands: Vec<String> = match &app.table().expect("a table").rows {
        Rows::Groups(rows) => rows.iter().map(|r| r.cells[4].render()).collect(),
        Rows::Events(_) => unreachable!(),
    };
    assert_eq!(
        commands[..6],
        [
            "bash -c bash --norc --noprofile -i",
            "bash --norc --noprofile -i",
            "cd /tmp",
            "  whoami",
            "  ls -a /etc/ssh",
            "  cat /etc/hostname",
        ]
    );
    snapshot("incident-spy", &screen(&mut app, 120, 24));
}

#[test]
fn spy_leaves_out_programs_no_user_ran() {
    // The workload sample runs its programs from a script with no terminal
    // and no login: nothing for spy, though it executed a dozen.
    let mut app = workload();
    let index = app.index.clone().expect("indexed");
    assert!(
        index
            .class
            .iter()
            .filter(|&&c| c & scry_tui::index::class::EXEC != 0)
            .count()
            > 10
    );
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(app.level().view, Some(ViewId::Spy));
    assert_eq!(app.table().map(|t| t.len()), Some(0));
}

#[test]
fn processes_spawned_are_forks_not_threads_or_execs() {
    let app = workload();
    let index = app.index.clone().expect("indexed");
    let type_of = |i: usize| index.types[usize::from(index.etype[i])].as_str();
    let mut spawned = 0;
    for i in 0..index.len() {
        let spawn = index.class[i] & scry_tui::index::class::SPAWN != 0;
        if spawn {
            spawned += 1;
            assert!(matches!(type_of(i), "clone" | "clone3" | "fork" | "vfork"));
            // The child is a new process: its events carry its own pid.
            let child = u32::try_from(index.ret[i]).expect("a child id");
            assert!(
                index.procs.iter().any(|p| p.pid == child),
                "{child} is no process"
            );
        }
    }
    assert!(spawned > 0);
    let mut app = app;
    let text = screen(&mut app, 120, 40);
    assert!(text.contains(&format!("{spawned} spawned, ")), "{text}");
}

#[test]
fn a_process_drills_into_its_connections() {
    let mut app = incident();
    key(&mut app, KeyCode::Char('2'));
    // The process with the most network bytes.
    app.sort_by(8, true);
    let pred = app.selected_pred().expect("a row");
    keys(&mut app, "d");
    assert_eq!(app.mode, Mode::Drill(0));
    assert_eq!(
        app.drill_choices(),
        [ViewId::Files, ViewId::Conns, ViewId::Events]
    );
    snapshot("drill-choices", &screen(&mut app, 100, 16));
    keys(&mut app, "c");
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.level().view, Some(ViewId::Conns));
    assert_eq!(app.level().preds, [pred]);
    assert!(app.table().is_some_and(|t| !t.is_empty()));
    // Enter still takes the first: files.
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.level().view, Some(ViewId::Files));
}

#[test]
fn the_drops_tile_opens_the_drops() {
    let mut app = workload();
    key(&mut app, KeyCode::Char('8'));
    assert_eq!(app.level().view, Some(ViewId::Drops));
    // Nothing was lost in this capture.
    assert_eq!(app.table().map(|t| t.len()), Some(0));
}

#[test]
fn drops_list_each_loss_with_its_interval() {
    use scry_tui::index::IndexBuilder;
    use scry_tui::views::{Cell, Selection, compute};
    let mut builder = IndexBuilder::default();
    builder.start_file(&[]);
    for (ts, so_far) in [(100, 0), (200, 5), (300, 5), (400, 12)] {
        builder.add_drops(ts, so_far);
    }
    let index = builder.finish();
    let table = compute(
        ViewId::Drops,
        &index,
        &Selection::new(&index, None, None, &[]),
    );
    let Rows::Groups(rows) = table.rows else {
        unreachable!()
    };
    let columns = scry_tui::views::def(ViewId::Drops).columns.len();
    assert!(rows.iter().all(|r| r.cells.len() == columns));
    let got: Vec<(Pred, Cell, Cell)> = rows
        .iter()
        .map(|r| (r.key, r.cells[1].clone(), r.cells[2].clone()))
        .collect();
    assert_eq!(
        got,
        [
            (Pred::Span(100, 200), Cell::Num(5), Cell::Num(5)),
            (Pred::Span(300, 400), Cell::Num(7), Cell::Num(12)),
        ]
    );
    // A time range keeps the losses counted in it.
    let table = compute(
        ViewId::Drops,
        &index,
        &Selection::new(&index, None, Some((250, 500)), &[]),
    );
    assert_eq!(table.len(), 1);
}

#[test]
fn tables_of_a_big_index_are_computed_in_the_background() {
    let mut at_once = workload();
    // As if the index were big: the overview and every table on a
    // background thread.
    let mut behind = App::new(Arc::new(open("workload.scry")), "", true);
    behind.background_events = 0;
    let start = std::time::Instant::now();
    while behind.index.is_none() {
        assert!(start.elapsed().as_secs() < 10, "indexing never ended");
        behind.poll();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // The first frame with the index does not wait for the figures.
    let first = screen(&mut behind, 120, 40);
    if behind.computing() {
        assert!(first.contains("computing the overview…"), "{first}");
    }
    behind.wait();
    assert!(!behind.computing());
    assert_eq!(screen(&mut at_once, 120, 40), screen(&mut behind, 120, 40));
    for app in [&mut at_once, &mut behind] {
        key(app, KeyCode::Char('2'));
    }
    // The first frame does not wait for the table; it says it is coming.
    let first = screen(&mut behind, 100, 12);
    if behind.computing() {
        assert!(first.contains("computing…"), "{first}");
    }
    behind.wait();
    assert!(!behind.computing());
    assert_eq!(at_once.table(), behind.table());
    assert_eq!(screen(&mut at_once, 100, 12), screen(&mut behind, 100, 12));
    // A drill-down, a sort and a filter: the same tables again.
    for app in [&mut at_once, &mut behind] {
        key(app, KeyCode::Enter);
        app.wait();
        app.sort_by(0, true);
        app.wait();
    }
    assert_eq!(at_once.table(), behind.table());
    for app in [&mut at_once, &mut behind] {
        key(app, KeyCode::Char('f'));
        keys(app, "evt.type=read");
        key(app, KeyCode::Enter);
        app.wait();
    }
    assert!(behind.table().is_some_and(|t| !t.is_empty()));
    assert_eq!(at_once.table(), behind.table());
}

#[test]
fn a_thread_created_is_not_a_process_spawned() {
    use scry_format::{Event, Value};
    let table = EventTable::builtin_x86_64();
    let header = FileHeader {
        event_table: table.clone(),
        ..FileHeader::default()
    };
    let mut writer = TraceWriter::new(
        Vec::new(),
        &header,
        &Snapshot::default(),
        WriterOptions::default(),
    )
    .expect("a writer");
    let clone = table.id_of("clone").expect("clone");
    let execve = table.id_of("execve").expect("execve");
    let event = |ts: u64, tid: u32, event_type, ret, params| Event {
        ts: 1_700_000_000_000_000_000 + ts,
        tid,
        tgid: if tid == 102 { 100 } else { tid },
        cpu: 0,
        event_type,
        ret,
        latency: 1000,
        params,
    };
    // A fork (SIGCHLD), a thread (CLONE_VM|CLONE_FS|CLONE_FILES|
    // CLONE_SIGHAND|CLONE_THREAD), and the new process executing.
    let fork = vec![Value::Uint(0x11), Value::Int(0)];
    let thread = vec![Value::Uint(0x1_0f00), Value::Int(0)];
    for e in [
        event(1, 100, clone, 101, fork),
        event(2, 100, clone, 102, thread),
        event(3, 101, execve, 0, Vec::new()),
    ] {
        writer.push(&e).expect("an event");
    }
    let bytes = writer.finish().expect("a trace");
    let trace = TraceFile::open(bytes).expect("readable");
    let mut app = app_with(Traces::new(vec![("spawn.scry".to_owned(), trace)], 1), "");
    let text = screen(&mut app, 120, 40);
    assert!(text.contains("1 spawned, 1 exec"), "{text}");
}
