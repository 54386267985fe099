//! Drawing the application into a ratatui frame. Nothing here changes what
//! the application means; it records where things were drawn (for the
//! mouse) and how many rows fit (for paging), and keeps the selected row
//! in view.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Gauge, Paragraph, Sparkline, Wrap};
use scry_format::thousands;

use crate::app::{App, EchoFormat, Hits, Mode, TIMELINE_STEPS};
use crate::overview::{TILES, Timeline, resample};
use crate::views::{self, Cell, ColKind, Rows, Table, VIEWS, ViewDef, ViewId};

const BAR: Style = Style::new().fg(Color::Black).bg(Color::Cyan);
const HEADER: Style = Style::new().fg(Color::Black).bg(Color::Green);
const SELECTED: Style = Style::new().fg(Color::Black).bg(Color::Yellow);
const DIM: Style = Style::new().fg(Color::DarkGray);
const RANGE: Style = Style::new().fg(Color::Yellow).bg(Color::Blue);

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let area = frame.area();
    app.hits = Hits::default();
    if area.height < 6 || area.width < 20 {
        frame.render_widget(Paragraph::new("terminal too small"), area);
        return;
    }
    let [title, crumbs, main, strip, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_title(frame.buffer_mut(), title, app);
    draw_crumbs(frame.buffer_mut(), crumbs, app);
    let overview = app.level().view.is_none();
    match app.mode.clone() {
        Mode::Detail(ordinal, scroll) => draw_detail(frame, main, app, ordinal, scroll),
        Mode::Echo => draw_echo(frame, main, app),
        _ if app.index.is_none() => draw_loading(frame, main, app),
        _ if overview => draw_overview(frame, main, app),
        _ => draw_table(frame.buffer_mut(), main, app),
    }
    if !overview || app.index.is_none() {
        draw_strip(frame.buffer_mut(), strip, app);
    }
    draw_status(frame, status, app);
    match app.mode.clone() {
        Mode::Help => draw_help(frame, main),
        Mode::Switch(at) => draw_switch(frame, main, at),
        Mode::Drill(at) => {
            let choices = app.drill_choices();
            draw_drill(frame, main, &choices, at);
        }
        Mode::Filter(input, Some(error)) => {
            let text = error.render(&input.text);
            let lines = text.lines().count() as u16;
            let height = (lines + 2).min(main.height);
            let popup = Rect::new(main.x, main.bottom() - height, main.width, height);
            frame.render_widget(Clear, popup);
            frame.render_widget(
                Paragraph::new(text)
                    .style(Style::new().fg(Color::Red))
                    .block(Block::bordered().title(" filter error ")),
                popup,
            );
        }
        _ => {}
    }
}

fn draw_title(buf: &mut Buffer, area: Rect, app: &App) {
    buf.set_style(area, BAR);
    let names = app.preview.names.join(", ");
    let events = app
        .index
        .as_ref()
        .map_or(app.preview.events, |i| i.len() as u64);
    let mut text = format!(" scry view  {names}  {} events", thousands(events));
    if app.preview.truncated {
        text.push_str("  TRUNCATED");
    }
    if let Some((from, to)) = app.range {
        text.push_str(&format!(
            "  time {}–{}",
            views::clock(from),
            views::clock(to)
        ));
    }
    if !app.filter.is_empty() {
        text.push_str(&format!("  filter: {}", app.filter));
    }
    buf.set_stringn(area.x, area.y, text, usize::from(area.width), BAR);
}

fn draw_crumbs(buf: &mut Buffer, area: Rect, app: &mut App) {
    let crumbs = app.breadcrumbs().join(" › ");
    let rows = app
        .table()
        .map(|t| format!(" {} rows ", thousands(t.len() as u64)));
    let right = rows.unwrap_or_default();
    let room = usize::from(area.width).saturating_sub(right.chars().count());
    // The end of a long trail matters most: cut from the left.
    let count = crumbs.chars().count();
    let shown: String = if count > room {
        let skip = count - room + 1;
        format!("…{}", crumbs.chars().skip(skip).collect::<String>())
    } else {
        crumbs
    };
    buf.set_stringn(
        area.x,
        area.y,
        &shown,
        room,
        Style::new().add_modifier(Modifier::BOLD),
    );
    let x = area.right().saturating_sub(right.chars().count() as u16);
    buf.set_stringn(x, area.y, &right, usize::from(area.width), DIM);
}

fn draw_status(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let buf = frame.buffer_mut();
    match &app.mode {
        Mode::Filter(input, _) | Mode::Search(input) => {
            let prompt = if matches!(app.mode, Mode::Filter(..)) {
                "filter: "
            } else {
                "/"
            };
            buf.set_stringn(area.x, area.y, prompt, usize::from(area.width), BAR);
            let x = area.x + prompt.len() as u16;
            buf.set_stringn(
                x,
                area.y,
                &input.text,
                usize::from(area.width),
                Style::new(),
            );
            let cursor = x + input.text.chars().take(input.cursor).count() as u16;
            frame.set_cursor_position((cursor.min(area.right().saturating_sub(1)), area.y));
            return;
        }
        _ => {}
    }
    let keys = match app.mode {
        Mode::Timeline(..) => "←/→ move (shift: fine)  Enter mark both ends  c clear  Esc done",
        Mode::Echo => "a ascii  p printable  x hex  ↑/↓ scroll  Esc back",
        Mode::Detail(..) => "↑/↓ scroll  e echo  Esc back",
        _ => {
            "F1 help  F2 views  F4 filter  / search  Enter drill  Esc back  e echo  t time  q quit"
        }
    };
    buf.set_style(area, BAR);
    buf.set_stringn(area.x, area.y, keys, usize::from(area.width), BAR);
    let right = match (app.progress(), &app.message) {
        (Some((what, percent)), _) => format!(" {what} {percent}% "),
        (None, Some(message)) => format!(" {message} "),
        (None, None) => String::new(),
    };
    if !right.is_empty() {
        let width = right.chars().count() as u16;
        let x = area.right().saturating_sub(width);
        buf.set_stringn(
            x,
            area.y,
            &right,
            usize::from(width),
            Style::new().fg(Color::White).bg(Color::Red),
        );
    }
}

fn draw_loading(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let percent = app.progress().map_or(0, |(_, p)| p);
    let [_, gauge, label, _, chart] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(area);
    frame.render_widget(
        Gauge::default()
            .block(Block::bordered().title(" indexing "))
            .gauge_style(Style::new().fg(Color::Cyan))
            .percent(percent.min(100) as u16),
        gauge,
    );
    frame.render_widget(
        Paragraph::new(format!(
            "reading {} events in one pass; the overview appears when done",
            thousands(app.preview.events)
        )),
        label,
    );
    let timeline = Timeline::from_chunks(&app.preview.chunks);
    frame.render_widget(
        Sparkline::default()
            .block(Block::bordered().title(" events over time (from the chunk index) "))
            .data(resample(
                &timeline.counts,
                usize::from(chart.width.saturating_sub(2)),
            )),
        chart,
    );
}

fn draw_overview(frame: &mut Frame<'_>, area: Rect, app: &mut App) {
    let [tiles_area, timeline_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(5)]).areas(area);
    let selected = app.level().selected;
    let Some(overview) = app.overview().cloned() else {
        if app.computing() {
            frame.buffer_mut().set_stringn(
                area.x + 2,
                area.y + 1,
                "computing the overview…",
                usize::from(area.width),
                DIM,
            );
        }
        return;
    };
    let rows = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).split(tiles_area);
    let columns = TILES.len() / 2;
    let mut tiles = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let cells = Layout::horizontal(vec![Constraint::Fill(1); columns]).split(*row);
        for (c, cell) in cells.iter().enumerate() {
            let at = r * columns + c;
            let (Some(tile), Some(stat)) = (TILES.get(at), overview.tiles.get(at)) else {
                continue;
            };
            tiles.push(*cell);
            let style = if at == selected {
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            let block =
                Block::bordered()
                    .border_style(style)
                    .title(format!(" {} {} ", at + 1, tile.title));
            let inner = block.inner(*cell);
            frame.render_widget(block, *cell);
            let [value, detail, spark, label] = Layout::vertical([
                Constraint::Length(1),
                Constraint::Length(1),
                Constraint::Fill(1),
                Constraint::Length(1),
            ])
            .areas(inner);
            frame.render_widget(
                Paragraph::new(stat.value.as_str())
                    .style(Style::new().add_modifier(Modifier::BOLD)),
                value,
            );
            frame.render_widget(Paragraph::new(stat.detail.as_str()).style(DIM), detail);
            frame.render_widget(
                Sparkline::default()
                    .style(Style::new().fg(Color::Cyan))
                    .data(resample(&stat.series, usize::from(spark.width))),
                spark,
            );
            frame.render_widget(
                Paragraph::new(format!("{} over time", tile.series)).style(DIM),
                label,
            );
        }
    }
    app.hits.tiles = tiles;
    let block = Block::bordered().title(" time-line (t: select a range) ");
    let inner = block.inner(timeline_area);
    frame.render_widget(block, timeline_area);
    draw_timeline(frame.buffer_mut(), inner, app);
}

/// The one-line time-line under every view.
fn draw_strip(buf: &mut Buffer, area: Rect, app: &mut App) {
    let label = " time ";
    buf.set_stringn(area.x, area.y, label, usize::from(area.width), DIM);
    let inner = Rect::new(
        area.x + label.len() as u16,
        area.y,
        area.width.saturating_sub(label.len() as u16),
        1,
    );
    draw_timeline(buf, inner, app);
}

/// Bars of events over the capture, the selected range highlighted, the
/// cursor shown while choosing.
fn draw_timeline(buf: &mut Buffer, area: Rect, app: &mut App) {
    app.hits.timeline = area;
    let Some(timeline) = app.timeline().cloned() else {
        return;
    };
    let width = usize::from(area.width);
    if width == 0 {
        return;
    }
    let counts = resample(&timeline.counts, width);
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    const BARS: [&str; 9] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
    let (first, last) = timeline.span;
    let span = (last - first).max(1) as f64;
    let column_of = |ts: u64| (((ts.saturating_sub(first)) as f64 / span) * width as f64) as usize;
    let selected = app.range.map(|(a, b)| (column_of(a), column_of(b)));
    let steps = usize::from(TIMELINE_STEPS);
    let (cursor, anchor) = match app.mode {
        Mode::Timeline(cursor, anchor) => (
            Some(usize::from(cursor) * width / steps),
            anchor.map(|a| usize::from(a) * width / steps),
        ),
        _ => (None, None),
    };
    let rows = usize::from(area.height);
    for (x, &count) in counts.iter().enumerate() {
        // Height in eighths of a row over all rows.
        let eighths = (count * 8 * rows as u64).div_ceil(max) as usize;
        let eighths = if count > 0 { eighths.max(1) } else { 0 };
        let in_range = selected.is_some_and(|(a, b)| x >= a && x <= b)
            || match (anchor, cursor) {
                (Some(a), Some(c)) => x >= a.min(c) && x <= a.max(c),
                _ => false,
            };
        let mut style = if in_range {
            RANGE
        } else {
            Style::new().fg(Color::Cyan)
        };
        if cursor == Some(x) {
            style = style.add_modifier(Modifier::REVERSED);
        }
        for row in 0..rows {
            let from_bottom = rows - 1 - row;
            let level = eighths.saturating_sub(from_bottom * 8).min(8);
            let y = area.y + row as u16;
            buf.set_string(area.x + x as u16, y, BARS[level], style);
        }
    }
}

fn draw_table(buf: &mut Buffer, area: Rect, app: &mut App) {
    let Some(view) = app.level().view else {
        return;
    };
    let def = views::def(view);
    let Some(index) = app.index.clone() else {
        return;
    };
    if area.height < 2 {
        return;
    }
    let gutter = 1;
    let body = Rect::new(
        area.x + gutter,
        area.y,
        area.width.saturating_sub(gutter),
        area.height,
    );
    let constraints: Vec<Constraint> =
        views::column_widths(def.columns, body.width, def.fill_share)
            .into_iter()
            .map(Constraint::Length)
            .collect();
    let header = Rect::new(body.x, body.y, body.width, 1);
    let cells = Layout::horizontal(constraints).spacing(1).split(header);
    let sort = app.table().and_then(|t| t.sort);
    buf.set_style(Rect::new(area.x, area.y, area.width, 1), HEADER);
    for (column, (rect, c)) in cells.iter().zip(def.columns).enumerate() {
        let mark = match sort {
            Some((s, true)) if s == column => "▼",
            Some((s, false)) if s == column => "▲",
            _ => "",
        };
        let title = format!("{}{mark}", c.title);
        put(buf, *rect, &title, c.kind, HEADER);
        app.hits.headers.push((*rect, column));
    }
    let rows_area = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    app.hits.rows = rows_area;
    let page = usize::from(rows_area.height);
    app.page = page;
    let Some(rows) = app.table().map(Table::len) else {
        if app.computing() {
            buf.set_stringn(
                rows_area.x + 2,
                rows_area.y + 1,
                "computing…",
                usize::from(rows_area.width),
                DIM,
            );
        }
        return;
    };
    let level = app.stack.last_mut().unwrap_or_else(|| unreachable!());
    if level.selected < level.offset {
        level.offset = level.selected;
    } else if level.selected >= level.offset + page {
        level.offset = level.selected + 1 - page;
    }
    let (selected, offset) = (level.selected, level.offset);
    if rows == 0 {
        let text = if app.mask.is_some() || app.range.is_some() || !level.preds.is_empty() {
            "nothing here matches the filter, time range and selection"
        } else {
            "the trace has nothing for this view"
        };
        buf.set_stringn(
            rows_area.x + 2,
            rows_area.y + 1,
            text,
            usize::from(rows_area.width),
            DIM,
        );
        return;
    }
    // Only the rows on screen are read: the event list may hold millions.
    let shown = offset..(offset + page).min(rows);
    enum Shown {
        Cells(Vec<Cell>),
        Event(usize),
    }
    let visible: Vec<Shown> = match app.table().map(|t| &t.rows) {
        Some(Rows::Groups(all)) => all[shown]
            .iter()
            .map(|r| Shown::Cells(r.cells.clone()))
            .collect(),
        Some(Rows::Events(events)) => events[shown]
            .iter()
            .map(|&e| Shown::Event(e as usize))
            .collect(),
        None => Vec::new(),
    };
    for (line, value) in visible.into_iter().enumerate() {
        let row = offset + line;
        let y = rows_area.y + line as u16;
        let values: Vec<Cell> = match value {
            Shown::Cells(cells) => cells,
            Shown::Event(ordinal) => {
                let mut cells = views::event_cells(&index, ordinal);
                cells.push(Cell::Text(app.args(ordinal)));
                cells
            }
        };
        let style = if row == selected {
            SELECTED
        } else {
            Style::new()
        };
        if row == selected {
            buf.set_style(Rect::new(area.x, y, area.width, 1), SELECTED);
            buf.set_string(area.x, y, ">", SELECTED);
        }
        for ((rect, c), value) in cells.iter().zip(def.columns).zip(&values) {
            put(
                buf,
                Rect::new(rect.x, y, rect.width, 1),
                &value.render(),
                c.kind,
                style,
            );
        }
    }
}

/// Writes `text` in `rect`, right-aligned for numbers, cut to fit.
fn put(buf: &mut Buffer, rect: Rect, text: &str, kind: ColKind, style: Style) {
    let width = usize::from(rect.width);
    let len = text.chars().count();
    let right = matches!(kind, ColKind::Num | ColKind::Bytes | ColKind::Nanos);
    let x = if right && len < width {
        rect.x + (width - len) as u16
    } else {
        rect.x
    };
    buf.set_stringn(x, rect.y, text, width, style);
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &mut App, ordinal: usize, scroll: usize) {
    let mut lines: Vec<Line<'_>> = Vec::new();
    if let Some(index) = app.index.clone() {
        let p = &index.procs[index.proc[ordinal] as usize];
        let obj = index.obj[ordinal];
        let mut known = vec![
            ("proc.pid", p.pid.to_string()),
            ("proc.ppid", p.ppid.to_string()),
            ("proc.name", p.name.clone()),
            ("proc.cmdline", p.cmdline.clone()),
            ("thread.tid", index.tid[ordinal].to_string()),
            (
                "user.name",
                index
                    .users
                    .get(p.user as usize)
                    .cloned()
                    .unwrap_or_default(),
            ),
            (
                "container.id",
                index
                    .containers
                    .get(p.container as usize)
                    .cloned()
                    .unwrap_or_default(),
            ),
        ];
        if let Some(o) = index.objects.get(obj as usize) {
            known.push(("fd.typechar", char::from(o.kind).to_string()));
            known.push(("fd.name", o.name.clone()));
        }
        if app.detail_exact {
            // The exact fields include these, as the state had them.
            known.clear();
        }
        let detail = app.detail.clone().unwrap_or_default();
        let fields = detail
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .chain(known);
        for (name, value) in fields {
            lines.push(Line::from(vec![
                Span::styled(format!("{name:<25} "), Style::new().fg(Color::Cyan)),
                Span::raw(value),
            ]));
        }
        if let Some(data) = &detail.data {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!("buffer ({} bytes captured)", data.len()),
                Style::new().add_modifier(Modifier::BOLD),
            ));
            lines.extend(hex_lines(data).into_iter().map(Line::raw));
        }
    }
    let title = if app.detail_exact {
        " event detail, state replayed up to it (Esc: back) "
    } else if app.detail_pending() {
        " event detail (Esc: back), replaying the state up to it… "
    } else {
        " event detail (Esc: back) "
    };
    let block = Block::bordered().title(title);
    app.page = usize::from(area.height.saturating_sub(2));
    let scroll = scroll.min(lines.len().saturating_sub(1));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll.min(usize::from(u16::MAX)) as u16, 0)),
        area,
    );
}

/// sysdig's hex dump (`-X`), one string a line.
fn hex_lines(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    scry_analyze::output::hex_dump(data, &mut out);
    String::from_utf8_lossy(&out)
        .lines()
        .map(|line| line.trim_start_matches('\t').to_owned())
        .collect()
}

fn draw_echo(frame: &mut Frame<'_>, area: Rect, app: &mut App) {
    let Some(echo) = app.echo.clone() else {
        return;
    };
    let Some(index) = app.index.clone() else {
        return;
    };
    let mut lines: Vec<Line<'_>> = Vec::new();
    for chunk in &echo.chunks {
        let p = &index.procs[index.proc[chunk.ordinal] as usize];
        let direction = if chunk.write { "write" } else { "read" };
        let color = if chunk.write {
            Color::Green
        } else {
            Color::Magenta
        };
        lines.push(Line::styled(
            format!(
                "── {} {} ({}) {direction} {} bytes{}",
                views::clock(index.ts[chunk.ordinal]),
                p.name,
                p.pid,
                chunk.moved,
                if (chunk.data.len() as u64) < chunk.moved {
                    format!(", {} captured", chunk.data.len())
                } else {
                    String::new()
                }
            ),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ));
        let text: Vec<String> = match echo.format {
            EchoFormat::Ascii => ascii_lines(&chunk.data),
            EchoFormat::Printable => vec![scry_analyze::printable(&chunk.data)],
            EchoFormat::Hex => hex_lines(&chunk.data),
        };
        lines.extend(
            text.into_iter()
                .map(|t| Line::styled(t, Style::new().fg(color))),
        );
    }
    if echo.loading {
        lines.push(Line::styled("reading the I/O…", DIM));
    } else if echo.chunks.is_empty() {
        lines.push(Line::styled("no I/O bytes here", DIM));
    }
    if echo.truncated {
        lines.push(Line::styled("… more I/O not shown", DIM));
    }
    let format = match echo.format {
        EchoFormat::Ascii => "ascii",
        EchoFormat::Printable => "printable",
        EchoFormat::Hex => "hex",
    };
    let block = Block::bordered().title(format!(" echo: {} [{format}] ", echo.title));
    app.page = usize::from(area.height.saturating_sub(2));
    let scroll = echo.scroll.min(lines.len().saturating_sub(1));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(usize::from(u16::MAX)) as u16, 0)),
        area,
    );
}

/// Bytes as text lines: printable characters and line breaks kept, other
/// bytes as `.`.
fn ascii_lines(data: &[u8]) -> Vec<String> {
    data.split(|&b| b == b'\n')
        .map(|line| scry_analyze::printable(line.strip_suffix(b"\r").unwrap_or(line)))
        .collect()
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}

const HELP: &[(&str, &str)] = &[
    (
        "Enter",
        "open the tile or drill into the selected row (events: detail)",
    ),
    (
        "Esc, Backspace",
        "back to the previous level, same row and scroll",
    ),
    ("↑ ↓ PgUp PgDn g G", "move"),
    (
        "d",
        "drill into…: choose the view (a process' files, connections, events)",
    ),
    ("F2, :", "switch view, keeping the drill-down"),
    ("f, F4", "filter with the full filter language"),
    ("/  n  N", "search rows, next, previous"),
    ("> <  i, F9", "sort by the next / previous column, invert"),
    ("e", "echo: the I/O bytes of the selection"),
    ("t", "time-line: choose a time range (c clears)"),
    (
        "mouse",
        "click a row, again to drill; headers sort; drag the time-line",
    ),
    ("q, Ctrl-C", "quit"),
];

fn draw_help(frame: &mut Frame<'_>, area: Rect) {
    let mut lines: Vec<Line<'_>> = HELP
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:<20}"), Style::new().fg(Color::Yellow)),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "views:",
        Style::new().add_modifier(Modifier::BOLD),
    ));
    for v in VIEWS {
        lines.push(Line::from(vec![
            Span::styled(format!("  {:<18}", v.name), Style::new().fg(Color::Cyan)),
            Span::raw(v.about),
        ]));
    }
    let popup = centered(area, 100, lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" help (any key closes) ")),
        popup,
    );
}

fn draw_drill(frame: &mut Frame<'_>, area: Rect, choices: &[ViewId], at: usize) {
    let views: Vec<&ViewDef> = choices.iter().map(|&v| views::def(v)).collect();
    draw_view_menu(frame, area, &views, at, " drill into (Enter) ");
}

fn draw_switch(frame: &mut Frame<'_>, area: Rect, at: usize) {
    let views: Vec<&ViewDef> = VIEWS.iter().collect();
    draw_view_menu(frame, area, &views, at, " view (Enter) ");
}

/// A popup listing `views` by name and title, the one at `at` selected.
fn draw_view_menu(frame: &mut Frame<'_>, area: Rect, views: &[&ViewDef], at: usize, title: &str) {
    let lines: Vec<Line<'_>> = views
        .iter()
        .enumerate()
        .map(|(k, v)| {
            let style = if k == at { SELECTED } else { Style::new() };
            Line::styled(format!(" {:<11} {}", v.name, v.title), style)
        })
        .collect();
    let popup = centered(area, 40, lines.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        popup,
    );
}
