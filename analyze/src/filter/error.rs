//! The filter parse error: where it happened, what went wrong, what would
//! have been accepted, and a caret rendering of all that under the source.

use std::fmt;

use super::ast::Span;

/// A syntax error in a filter expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter error at position {}: {message}{}", .span.start, Expecting(.expected))]
pub struct ParseError {
    /// The offending token, as byte offsets into the source. Empty when the
    /// problem is the end of the input.
    pub span: Span,
    /// What went wrong, e.g. `unknown operator 'equals'`.
    pub message: String,
    /// What would have been accepted at this point. Literal tokens are
    /// stored as written (`and`, `)`) and shown quoted; descriptions of a
    /// class of tokens start with "a " or "an " (`a value`) and are shown
    /// as they are.
    pub expected: Vec<&'static str>,
}

impl ParseError {
    pub(crate) fn new(span: Span, message: impl Into<String>, expected: &[&'static str]) -> Self {
        ParseError {
            span,
            message: message.into(),
            expected: expected.to_vec(),
        }
    }

    /// Renders the error under the offending line of `source`:
    ///
    /// ```text
    /// proc.name = bash xyz
    ///                  ^~~
    /// unexpected token 'xyz', expecting 'and', 'or'
    /// ```
    ///
    /// `^` marks the first character of the offending token and `~` the
    /// rest of it. For a multi-line filter only the line holding the error
    /// is shown and the message names the line and column. `source` must be
    /// the string that was parsed.
    pub fn render(&self, source: &str) -> String {
        let start = clamp_to_char_boundary(source, self.span.start);
        let end = clamp_to_char_boundary(source, self.span.end.max(start));

        let line_start = source[..start].rfind(['\n', '\r']).map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find(['\n', '\r'])
            .map_or(source.len(), |i| start + i);
        let line = &source[line_start..line_end];
        let end = end.min(line_end);

        // Tabs are kept in both lines so the caret stays aligned whatever
        // the terminal's tab width; other control characters (backspace is
        // a filter blank) are shown as spaces so they cannot move the cursor.
        let shown: String = line
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        let mut carets: String = source[line_start..start]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        carets.push('^');
        let token_chars = source[start..end].chars().count();
        carets.extend(std::iter::repeat_n('~', token_chars.saturating_sub(1)));

        let location = if line_start == 0 && line_end == source.len() {
            String::new()
        } else {
            let line_no = source[..line_start].split_inclusive(['\n', '\r']).count() + 1;
            let column = source[line_start..start].chars().count() + 1;
            format!("line {line_no}, column {column}: ")
        };
        format!(
            "{shown}\n{carets}\n{location}{}{}",
            self.message,
            Expecting(&self.expected)
        )
    }
}

fn clamp_to_char_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Formats the expectation list as `, expecting 'and', 'or'` (or nothing).
struct Expecting<'a>(&'a [&'static str]);

impl fmt::Display for Expecting<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ", expecting " } else { ", " })?;
            if item.starts_with("a ") || item.starts_with("an ") {
                f.write_str(item)?;
            } else {
                write!(f, "'{item}'")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_position_message_and_expectations() {
        let err = ParseError::new(Span::new(12, 15), "unexpected token 'xyz'", &["and", "or"]);
        assert_eq!(
            err.to_string(),
            "filter error at position 12: unexpected token 'xyz', expecting 'and', 'or'"
        );
    }

    #[test]
    fn display_leaves_token_class_descriptions_unquoted() {
        let err = ParseError::new(Span::new(3, 3), "missing value after '='", &["a value"]);
        assert_eq!(
            err.to_string(),
            "filter error at position 3: missing value after '=', expecting a value"
        );
    }

    #[test]
    fn render_puts_caret_and_tildes_under_the_token() {
        let err = ParseError::new(Span::new(17, 20), "unexpected token 'xyz'", &["and", "or"]);
        assert_eq!(
            err.render("proc.name = bash xyz"),
            "proc.name = bash xyz\n                 ^~~\nunexpected token 'xyz', expecting 'and', 'or'"
        );
    }

    #[test]
    fn render_points_past_the_end_for_end_of_input() {
        let err = ParseError::new(Span::new(10, 10), "missing value after '='", &[]);
        assert_eq!(
            err.render("proc.name="),
            "proc.name=\n          ^\nmissing value after '='"
        );
    }

    #[test]
    fn render_counts_characters_not_bytes_and_keeps_tabs() {
        let err = ParseError::new(Span::new(17, 18), "oops", &[]);
        let source = "\tproc.name=\u{e9}t\u{e9} x";
        assert_eq!(&source[17..18], "x");
        assert_eq!(
            err.render(source),
            "\tproc.name=\u{e9}t\u{e9} x\n\t              ^\noops"
        );
    }

    #[test]
    fn render_shows_only_the_offending_line_of_a_multi_line_filter() {
        let source = "proc.name=bash and\nfd.name ~ x";
        let err = ParseError::new(Span::new(27, 28), "unknown operator '~'", &[]);
        assert_eq!(
            err.render(source),
            "fd.name ~ x\n        ^\nline 2, column 9: unknown operator '~'"
        );
    }
}
