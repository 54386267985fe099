//! Printing a summary: an aligned table for people (measures first, then
//! what identifies the row, as sysdig's top chisels print them, so long
//! names and paths end the line) or JSON Lines for scripts, one object per
//! row with key columns named by their fields.

use std::io::{self, Write};

use super::{Measure, Table, Unit, ViewSpec};
use crate::human;
use crate::output::push_json_str;
use crate::render::push_int;
use crate::value::Value;

/// How a table is printed for people.
#[derive(Debug, Clone, Copy, Default)]
pub struct TableStyle {
    /// Sizes and durations in units that fit (`1.0 MiB`), counts with
    /// thousands separators; otherwise exact numbers.
    pub human: bool,
    /// Bold headers (ANSI).
    pub color: bool,
}

/// The text of one measure value.
fn measure_text(value: i64, unit: Unit, human: bool) -> String {
    let value = u64::try_from(value).unwrap_or(0);
    match (unit, human) {
        (_, false) => value.to_string(),
        (Unit::Count, true) => human::count(value),
        (Unit::Bytes, true) => human::bytes(value),
        (Unit::Nanos, true) => human::duration(value),
    }
}

fn text_of(value: Option<&Value<'_>>) -> String {
    value.map_or_else(|| "<NA>".to_owned(), ToString::to_string)
}

/// Column headers in printed order: measures, keys, labels.
fn headers(spec: &ViewSpec) -> Vec<&str> {
    let measures = spec.measures.iter().map(|m| &m.header[..]);
    let names = spec.keys.iter().chain(&spec.labels).map(|c| &c.header[..]);
    measures.chain(names).collect()
}

/// Writes `table` as aligned columns under a header line: numbers
/// right-aligned, names left-aligned, the last column unpadded.
///
/// # Errors
/// Those of `out`.
pub fn write_table(table: &Table, style: TableStyle, out: &mut impl Write) -> io::Result<()> {
    let spec = &table.spec;
    let measures = spec.measures.len();
    let mut cells: Vec<Vec<String>> = Vec::with_capacity(table.rows.len());
    for row in &table.rows {
        let mut line = Vec::with_capacity(measures + row.keys.len() + row.labels.len());
        for (value, measure) in row.values.iter().zip(&spec.measures) {
            if unmeasured(measure, *value) {
                line.push("-".to_owned());
                continue;
            }
            line.push(measure_text(*value, measure.unit, style.human));
        }
        line.extend(row.keys.iter().map(|v| text_of(Some(v))));
        line.extend(row.labels.iter().map(|v| text_of(v.as_ref())));
        cells.push(line);
    }
    let headers = headers(spec);
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let last = headers.len() - 1;
    let header_cells: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut text = String::new();
    push_line(&header_cells, &widths, measures, last, &mut text);
    if style.color {
        writeln!(out, "\x1b[1m{}\x1b[0m", text.trim_end_matches('\n'))?;
    } else {
        out.write_all(text.as_bytes())?;
    }
    for line in &cells {
        text.clear();
        push_line(line, &widths, measures, last, &mut text);
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

fn push_line(cells: &[String], widths: &[usize], measures: usize, last: usize, out: &mut String) {
    for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
        let pad = width - cell.chars().count();
        if i < measures {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(cell);
        } else {
            out.push_str(cell);
            if i != last {
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        if i != last {
            out.push_str("  ");
        }
    }
    out.push('\n');
}

/// Writes `table` as JSON Lines: one object per row, key and label columns
/// named by their fields (`"fd.name"`), measures by their lower-cased
/// headers (`"read"`), numbers raw.
///
/// # Errors
/// Those of `out`.
pub fn write_json(table: &Table, out: &mut impl Write) -> io::Result<()> {
    let spec = &table.spec;
    let mut line = Vec::with_capacity(256);
    for row in &table.rows {
        line.clear();
        line.push(b'{');
        let named = spec.keys.iter().zip(row.keys.iter().map(Some));
        let labelled = spec
            .labels
            .iter()
            .zip(row.labels.iter().map(Option::as_ref));
        for (column, value) in named.chain(labelled) {
            push_json_str(&column.field, &mut line);
            line.push(b':');
            push_json_value(value, &mut line);
            line.push(b',');
        }
        for (measure, value) in spec.measures.iter().zip(&row.values) {
            push_json_str(&measure.header.to_ascii_lowercase(), &mut line);
            line.push(b':');
            if unmeasured(measure, *value) {
                line.extend_from_slice(b"null");
            } else {
                push_int(&mut line, i128::from(*value));
            }
            line.push(b',');
        }
        line.pop();
        line.extend_from_slice(b"}\n");
        out.write_all(&line)?;
    }
    Ok(())
}

/// Whether a row's value of `measure` says that nothing was measured: no
/// call of the row had a duration (a sysdig capture times only the calls
/// it holds both ends of; procinfo and other events have none), which is
/// not the same as calls that took no time. Shown as `-`, and `null` in
/// JSON.
fn unmeasured(measure: &Measure, value: i64) -> bool {
    measure.unit == Unit::Nanos && value == 0
}

fn push_json_value(value: Option<&Value<'_>>, out: &mut Vec<u8>) {
    match value {
        None => out.extend_from_slice(b"null"),
        Some(Value::Num(n)) => push_int(out, *n),
        Some(Value::Bool(b)) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Some(other) => push_json_str(&other.to_string(), out),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::summary::{Row, view};

    fn files_table() -> Table {
        let spec = view("files").expect("a built-in view").clone();
        let row = |name: &'static str, read: i64, write: i64| Row {
            keys: vec![Value::Str(Cow::Borrowed(name.as_bytes()))],
            labels: vec![],
            values: vec![read + write, read, write, 1, 0],
        };
        Table {
            spec,
            rows: vec![row("/big", 0, 1 << 20), row("/etc/a \"b\"", 10, 0)],
            events: 3,
        }
    }

    #[test]
    fn tables_align_numbers_right_and_names_left() {
        let mut out = Vec::new();
        write_table(&files_table(), TableStyle::default(), &mut out).expect("to memory");
        let text = String::from_utf8(out).expect("UTF-8");
        assert_eq!(
            text,
            "  TOTAL  READ    WRITE  OPENS  ERRORS  FILE\n\
             1048576     0  1048576      1       0  /big\n     \
                  10    10        0      1       0  /etc/a \"b\"\n"
        );
        let mut out = Vec::new();
        let human = TableStyle {
            human: true,
            color: false,
        };
        write_table(&files_table(), human, &mut out).expect("to memory");
        let text = String::from_utf8(out).expect("UTF-8");
        assert!(text.contains("1.0 MiB"), "{text}");
    }

    #[test]
    fn json_rows_name_keys_by_field() {
        let mut out = Vec::new();
        write_json(&files_table(), &mut out).expect("to memory");
        let text = String::from_utf8(out).expect("UTF-8");
        let first = text.lines().next().expect("a line");
        assert_eq!(
            first,
            r#"{"fd.name":"/big","total":1048576,"read":0,"write":1048576,"opens":1,"errors":0}"#
        );
        assert!(text.contains(r#""fd.name":"/etc/a \"b\"""#), "{text}");
    }
}
