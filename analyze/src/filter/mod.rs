//! The sysdig/Falco filter language: text in, syntax tree out, and back.
//!
//! [`parse`] turns a filter such as
//! `evt.type in (open, openat) and not fd.name startswith /proc/` into an
//! [`Expr`]; the `Display` impl of [`Expr`] prints it back in a canonical
//! form that parses to the same tree. This module only knows the syntax:
//! whether a field exists, which operators its type allows and how values
//! convert are decided by the field catalog and the evaluator.
//!
//! The grammar follows current falcosecurity libs: `not` binds tighter than
//! `and`, which binds tighter than `or`; keywords are lowercase; values are
//! quoted (`"…"` or `'…'`, with escapes) or bare (no blanks, parentheses,
//! commas, `=` or quotes); `in`, `intersects` and `pmatch` take a
//! parenthesised list or a list name; fields may carry a bracket argument
//! and may be wrapped in transformers such as `tolower()`; `val(field)`
//! compares against another field. Nesting is capped at 100 levels.

pub mod ast;
mod error;
mod parse;
mod print;

pub use ast::*;
pub use error::ParseError;
pub use print::quote_value;

/// Parses a filter expression. The whole input must be consumed; an empty
/// or blank-only input is an error.
///
/// ```
/// use scry_analyze::filter::{parse, Expr};
///
/// let expr = parse("proc.name=sshd or evt.type=execve and evt.dir=<").unwrap();
/// assert!(matches!(&expr, Expr::Or(items) if matches!(items[1], Expr::And(_))));
///
/// let err = parse("proc.name equals sshd").unwrap_err();
/// assert_eq!(err.span.start, 10);
/// ```
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    parse::parse(source)
}
