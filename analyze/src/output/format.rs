//! Output formats as written: `-p` text with `%field` columns and literal
//! text, and the keys of the default JSON line.

use super::{DEFAULT_JSON, OUTPUT_TIME};
use crate::compile::FilterError;
use crate::filter::Span;

#[derive(Debug, Clone)]
pub(super) enum Token {
    Text(Vec<u8>),
    Field(Column),
}

#[derive(Debug, Clone)]
pub(super) struct Column {
    /// The field as written (`proc.aname[2]`): the JSON key.
    pub(super) name: String,
    /// Where the name starts in the format, for error carets.
    pub(super) span: Span,
    /// `%10proc.name`: exactly this many characters.
    pub(super) width: Option<usize>,
    /// Left out of a JSON line, instead of `null`, when missing.
    pub(super) optional: bool,
}

/// A parsed output format: literal text and field columns.
#[derive(Debug, Clone)]
pub struct Format {
    pub(super) tokens: Vec<Token>,
    /// A leading `*`: print the line even when a field is missing.
    pub(super) always: bool,
}

fn is_field_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'_'
}

impl Format {
    /// Parses a `-p` format. Escapes `\n`, `\t`, `\e` and `\\` are
    /// expanded; `%%` is a literal `%`. Field names are checked only when
    /// the format is bound to a trace ([`Printer::bind`]).
    ///
    /// # Errors
    /// A `%` not followed by a field name, or an unclosed `[`.
    pub fn parse(source: &str) -> Result<Format, FilterError> {
        let bytes = source.as_bytes();
        let (always, mut at) = match bytes.first() {
            Some(b'*') => (true, 1),
            _ => (false, 0),
        };
        let mut tokens = Vec::new();
        let mut text = Vec::new();
        while at < bytes.len() {
            match bytes[at] {
                b'\\' if at + 1 < bytes.len() => {
                    let escaped = match bytes[at + 1] {
                        b'n' => Some(b'\n'),
                        b't' => Some(b'\t'),
                        b'e' => Some(0x1b),
                        b'\\' => Some(b'\\'),
                        _ => None,
                    };
                    match escaped {
                        Some(byte) => {
                            text.push(byte);
                            at += 2;
                        }
                        None => {
                            text.push(b'\\');
                            at += 1;
                        }
                    }
                }
                b'%' if bytes.get(at + 1) == Some(&b'%') => {
                    text.push(b'%');
                    at += 2;
                }
                b'%' => {
                    let percent = at;
                    at += 1;
                    let digits = bytes[at..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    let width = match digits {
                        0 => None,
                        _ => source[at..at + digits].parse().ok(),
                    };
                    at += digits;
                    let start = at;
                    while at < bytes.len() && is_field_char(bytes[at]) {
                        at += 1;
                    }
                    // A sentence may end right after a field: `%proc.name.`
                    while at > start && bytes[at - 1] == b'.' {
                        at -= 1;
                    }
                    if at == start {
                        return Err(FilterError {
                            span: Span::new(percent, (percent + 1 + digits).max(percent + 1)),
                            message: "'%' must be followed by a field name (write %% for a \
                                      literal %)"
                                .to_owned(),
                        });
                    }
                    if bytes.get(at) == Some(&b'[') {
                        let close = source[at..].find(']').ok_or_else(|| FilterError {
                            span: Span::new(at, source.len()),
                            message: "unclosed '[' in a field argument".to_owned(),
                        })?;
                        at += close + 1;
                    }
                    if !text.is_empty() {
                        tokens.push(Token::Text(std::mem::take(&mut text)));
                    }
                    tokens.push(Token::Field(Column {
                        name: source[start..at].to_owned(),
                        span: Span::new(start, at),
                        width,
                        optional: false,
                    }));
                }
                byte => {
                    text.push(byte);
                    at += 1;
                }
            }
        }
        if !text.is_empty() {
            tokens.push(Token::Text(text));
        }
        Ok(Format { tokens, always })
    }

    /// The keys of the default JSON line.
    /// The default JSON keys ([`DEFAULT_JSON`]); with a time mode other
    /// than the default one, `evt.outputtime` too, after `evt.num`, so
    /// that `-t` is followed as in text lines.
    pub(super) fn default_json(with_output_time: bool) -> Format {
        let output_time = with_output_time.then_some(OUTPUT_TIME);
        let names = DEFAULT_JSON[..1]
            .iter()
            .copied()
            .chain(output_time)
            .chain(DEFAULT_JSON[1..].iter().copied());
        let tokens = names
            .map(|name| {
                Token::Field(Column {
                    name: name.to_owned(),
                    span: Span::new(0, 0),
                    width: None,
                    optional: name == "fd.name",
                })
            })
            .collect();
        Format {
            tokens,
            always: true,
        }
    }

    #[cfg(test)]
    fn columns(&self) -> impl Iterator<Item = &Column> {
        self.tokens.iter().filter_map(|t| match t {
            Token::Field(column) => Some(column),
            Token::Text(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    fn names(format: &Format) -> Vec<(&str, Option<usize>)> {
        format
            .columns()
            .map(|c| (c.name.as_str(), c.width))
            .collect()
    }

    #[test]
    fn parses_fields_widths_and_literal_text() {
        let format = Format::parse("*%evt.num) %10proc.name|%proc.aname[2]. %evt.arg.fd").unwrap();
        assert!(format.always);
        assert_eq!(
            names(&format),
            [
                ("evt.num", None),
                ("proc.name", Some(10)),
                ("proc.aname[2]", None),
                ("evt.arg.fd", None)
            ]
        );
        let Token::Text(text) = &format.tokens[1] else {
            panic!()
        };
        assert_eq!(text, b") ");
        let format = Format::parse(r"100%% %proc.name\t\n").unwrap();
        assert!(!format.always);
        let Token::Text(text) = &format.tokens[2] else {
            panic!()
        };
        assert_eq!(text, b"\t\n");
    }

    #[test]
    fn a_lone_percent_is_an_error_with_a_caret() {
        let error = Format::parse("%proc.name % x").unwrap_err();
        assert_eq!(error.span.start, 11);
        assert!(Format::parse("%proc.aname[2").is_err());
    }
}
