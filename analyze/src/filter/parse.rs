//! The recursive-descent parser from filter text to [`Expr`].
//!
//! Tokens are recognised with nom combinators over a [`LocatedSpan`], so
//! every node and every error knows its byte offset. The grammar itself is
//! a small hand-written precedence climb (`or` < `and` < `not` < check):
//! each level has exactly one way to continue, so there is no backtracking
//! to lose error context in, and every failure is reported as a committed
//! [`nom::Err::Failure`] carrying a [`ParseError`] that points at the
//! offending token and lists what would have been accepted there.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::character::complete::{char, digit0, digit1, hex_digit1, one_of, satisfy};
use nom::combinator::{all_consuming, opt, recognize, value};
use nom::error::{ErrorKind, ParseError as NomParseError};
use nom::{IResult, Input, Parser};
use nom_locate::LocatedSpan;

use super::ast::{Compare, Expr, FieldArg, FieldRef, Literal, Op, Operand, Rhs, Span, Transformer};
use super::error::ParseError;

/// Deepest nesting of parentheses, `not` and transformer calls accepted.
/// The parser recurses once per level, so the cap keeps hostile input from
/// exhausting the stack; real filters rarely nest more than a handful.
pub(crate) const MAX_DEPTH: usize = 100;

/// Parser input: the unread rest of the filter, its offset, and (as the
/// extra) the whole source so diagnostics can quote earlier tokens.
type In<'a> = LocatedSpan<&'a str, &'a str>;
type PResult<'a, T> = IResult<In<'a>, T, ParseError>;

/// What may start a check; shown when one is missing.
const EXPECT_CHECK: &[&str] = &["a field", "a macro name", "not", "("];
const EXPECT_OPERATOR: &[&str] = &[
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
    "in",
    "intersects",
    "pmatch",
    "exists",
];
const EXPECT_TRANSFORMER: &[&str] = &[
    "tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt",
];
/// What may follow an operator as a call: `val()` or a transformer.
const EXPECT_CALL: &[&str] = &[
    "val", "tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt",
];
const EXPECT_LIST: &[&str] = &["(", "a list name"];
const ESCAPES_IN_DOUBLE: &[&str] = &[
    "\\b", "\\f", "\\n", "\\r", "\\t", "\\\\", "\\/", "\\xHH", "\\\"",
];
const ESCAPES_IN_SINGLE: &[&str] = &[
    "\\b", "\\f", "\\n", "\\r", "\\t", "\\\\", "\\/", "\\xHH", "\\'",
];

/// The errors raised by nom's own combinators. They only reach the caller
/// if a combinator fails where this module did not expect it, so they get
/// a generic but still positioned message.
impl<'a> NomParseError<In<'a>> for ParseError {
    fn from_error_kind(input: In<'a>, _kind: ErrorKind) -> Self {
        ParseError::new(token_span(input), unexpected(input), &[])
    }

    fn append(_input: In<'a>, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

/// Parses a whole filter. See [`super::parse`].
pub(super) fn parse(source: &str) -> Result<Expr, ParseError> {
    // A NUL cannot be represented in the C strings values are compared as,
    // so it is rejected wherever it appears, quoted or not.
    if let Some(at) = source.find('\0') {
        return Err(ParseError::new(
            Span::new(at, at + 1),
            "NUL is not allowed in a filter",
            &[],
        ));
    }
    let input = In::new_extra(source, source);
    let (input, _) = blanks(input);
    if input.is_empty() {
        return Err(ParseError::new(
            Span::new(0, source.len()),
            "empty filter",
            EXPECT_CHECK,
        ));
    }
    let (rest, expr) = or_expr(input, 0).map_err(|err| match err {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => ParseError::new(
            Span::new(source.len(), source.len()),
            "unexpected end of filter",
            &[],
        ),
    })?;
    let (rest, _) = blanks(rest);
    if rest.is_empty() {
        Ok(expr)
    } else if rest.starts_with(')') {
        Err(ParseError::new(
            token_span(rest),
            "unbalanced parenthesis: ')' has no matching '('",
            &["and", "or"],
        ))
    } else {
        Err(ParseError::new(
            token_span(rest),
            unexpected(rest),
            &["and", "or"],
        ))
    }
}

// ---------------------------------------------------------------------------
// Boolean structure

/// `or_expr := and_expr ( "or" and_expr )*`
fn or_expr(input: In<'_>, depth: usize) -> PResult<'_, Expr> {
    chain(input, depth, "or", and_expr, Expr::Or)
}

/// `and_expr := not_expr ( "and" not_expr )*`
fn and_expr(input: In<'_>, depth: usize) -> PResult<'_, Expr> {
    chain(input, depth, "and", not_expr, Expr::And)
}

/// One precedence level: operands joined by `keyword`, collected into a
/// single flat node when there are two or more.
fn chain<'a>(
    input: In<'a>,
    depth: usize,
    keyword: &'static str,
    operand: fn(In<'a>, usize) -> PResult<'a, Expr>,
    build: fn(Vec<Expr>) -> Expr,
) -> PResult<'a, Expr> {
    let (mut input, first) = operand(input, depth)?;
    let mut items = vec![first];
    loop {
        let (rest, _) = blanks(input);
        let Some((after, kw)) = keyword_at(rest, keyword) else {
            break;
        };
        let (after, _) = blanks(after);
        if after.is_empty() {
            return fail(
                kw,
                format!("dangling '{keyword}': a check must follow it"),
                EXPECT_CHECK,
            );
        }
        let (rest, item) = operand(after, depth)?;
        items.push(item);
        input = rest;
    }
    let expr = match <[Expr; 1]>::try_from(items) {
        Ok([only]) => only,
        Err(items) => build(items),
    };
    Ok((input, expr))
}

/// `not_expr := "not" not_expr | check`
fn not_expr(input: In<'_>, depth: usize) -> PResult<'_, Expr> {
    let Some((after, kw)) = keyword_at(input, "not") else {
        return check(input, depth);
    };
    let depth = deeper(depth, kw)?;
    let (after, _) = blanks(after);
    if after.is_empty() {
        return fail(kw, "dangling 'not': a check must follow it", EXPECT_CHECK);
    }
    let (rest, inner) = not_expr(after, depth)?;
    Ok((rest, Expr::Not(Box::new(inner))))
}

/// `check := "(" expr ")" | operand operator rhs | IDENT`
fn check(input: In<'_>, depth: usize) -> PResult<'_, Expr> {
    match input.chars().next() {
        Some('(') => group(input, depth),
        Some(c) if c.is_ascii_alphabetic() => word_check(input, depth),
        None => fail(token_span(input), "unexpected end of filter", EXPECT_CHECK),
        Some(_) => fail(token_span(input), unexpected(input), EXPECT_CHECK),
    }
}

/// A parenthesised sub-expression.
fn group(input: In<'_>, depth: usize) -> PResult<'_, Expr> {
    let open = span_at(input, 1);
    let depth = deeper(depth, open)?;
    let (inner, _) = blanks(input.take_from(1));
    let (rest, expr) = or_expr(inner, depth)?;
    let (rest, _) = blanks(rest);
    match rest.chars().next() {
        Some(')') => Ok((rest.take_from(1), expr)),
        None => fail(
            open,
            "unbalanced parenthesis: this '(' is never closed",
            &[")"],
        ),
        Some(_) => fail(token_span(rest), unexpected(rest), &["and", "or", ")"]),
    }
}

/// A check that starts with a word: a field comparison, a transformer
/// comparison, or a bare macro name.
fn word_check(input: In<'_>, depth: usize) -> PResult<'_, Expr> {
    let start = input.location_offset();
    let (after_word, word) = word(input)?;
    let name = *word.fragment();
    let word_span = span_of(word);

    if name.contains('.') {
        let (rest, field) = field_ref(input)?;
        return condition(rest, Operand::Field(field), start, depth);
    }
    if after_word.starts_with('(') {
        if Transformer::from_name(name).is_some() {
            let (rest, left) = transform_call(input, depth)?;
            return condition(rest, left, start, depth);
        }
        if name == "val" {
            return fail(
                word_span,
                "val() can only be used on the right-hand side of a comparison",
                &["a field"],
            );
        }
        return fail(
            word_span,
            format!("unknown transformer '{name}'"),
            EXPECT_TRANSFORMER,
        );
    }
    if name == "and" || name == "or" {
        return fail(
            word_span,
            format!("unexpected keyword '{name}'"),
            EXPECT_CHECK,
        );
    }
    let (next, _) = blanks(after_word);
    if after_word.starts_with('[') || looks_like_operator(next) {
        return Err(not_a_field(name, word_span));
    }
    Ok((
        after_word,
        Expr::Macro {
            name: name.to_owned(),
            span: word_span,
        },
    ))
}

/// The error for a single identifier where a field is required.
fn not_a_field(name: &str, span: Span) -> nom::Err<ParseError> {
    failure(
        span,
        format!(
            "'{name}' is not a field name: field names have at least two dotted parts, \
             like 'proc.name'"
        ),
        &["a field"],
    )
}

/// Whether `input` starts with something that can only be a comparison
/// operator, used to tell a mistyped field from a macro name.
fn looks_like_operator(input: In<'_>) -> bool {
    if input.starts_with(['=', '!', '<', '>']) {
        return true;
    }
    ident_run(input).is_some_and(|(_, w)| Op::from_word(w.fragment()).is_some())
}

// ---------------------------------------------------------------------------
// Operands

/// A dotted field name with an optional bracket argument.
fn field_ref(input: In<'_>) -> PResult<'_, FieldRef> {
    let start = input.location_offset();
    let Ok((rest, word)) = word(input) else {
        return fail(token_span(input), unexpected(input), &["a field"]);
    };
    let name = *word.fragment();
    if !name.contains('.') {
        return Err(not_a_field(name, span_of(word)));
    }
    if name
        .split('.')
        .any(|segment| !segment.starts_with(|c: char| c.is_ascii_alphabetic()))
    {
        return fail(
            span_of(word),
            format!("invalid field name '{name}': every dotted part must start with a letter"),
            &["a field"],
        );
    }
    let (rest, arg) = if rest.starts_with('[') {
        let (rest, arg) = field_arg(rest)?;
        (rest, Some(arg))
    } else {
        (rest, None)
    };
    Ok((
        rest,
        FieldRef {
            name: name.to_owned(),
            arg,
            span: Span::new(start, rest.location_offset()),
        },
    ))
}

/// `"[" (QUOTED | BARE_ARG) "]"`, with `input` at the `[`.
fn field_arg(input: In<'_>) -> PResult<'_, FieldArg> {
    let open = span_at(input, 1);
    let inner = input.take_from(1);
    let (rest, arg) = match inner.chars().next() {
        Some('"' | '\'') => {
            let (rest, literal) = quoted(inner)?;
            (
                rest,
                FieldArg {
                    text: literal.text,
                    quoted: true,
                    span: literal.span,
                },
            )
        }
        None => return fail(open, "unbalanced bracket: this '[' is never closed", &["]"]),
        Some(']') => {
            return fail(
                span_at(inner, 1),
                "empty field argument",
                &["a field argument"],
            );
        }
        Some(c) if is_blank(c) => {
            return fail(
                span_at(inner, c.len_utf8()),
                "blanks are not allowed inside '[...]'; quote the argument if it contains any",
                &["a field argument"],
            );
        }
        Some(_) => {
            let Ok((rest, text)) = take_while1::<_, _, ParseError>(is_field_arg_char)(inner) else {
                return fail(
                    token_span(inner),
                    format!("{} in field argument", unexpected(inner)),
                    &["a field argument"],
                );
            };
            (
                rest,
                FieldArg {
                    text: (*text.fragment()).to_owned(),
                    quoted: false,
                    span: span_of(text),
                },
            )
        }
    };
    match rest.chars().next() {
        Some(']') => Ok((rest.take_from(1), arg)),
        None => fail(open, "unbalanced bracket: this '[' is never closed", &["]"]),
        Some(c) if is_blank(c) => fail(
            span_at(rest, c.len_utf8()),
            "blanks are not allowed inside '[...]'; quote the argument if it contains any",
            &["]"],
        ),
        Some(_) => fail(
            token_span(rest),
            format!("{} in field argument", unexpected(rest)),
            &["]"],
        ),
    }
}

/// `XFORM "(" operand ( "," operand )* ")"`, with `input` at the name.
fn transform_call(input: In<'_>, depth: usize) -> PResult<'_, Operand> {
    let start = input.location_offset();
    let Some((after_name, name)) = ident_run(input) else {
        return fail(token_span(input), unexpected(input), EXPECT_TRANSFORMER);
    };
    let Some(transformer) = Transformer::from_name(name.fragment()) else {
        return fail(
            span_of(name),
            format!("unknown transformer '{}'", name.fragment()),
            EXPECT_TRANSFORMER,
        );
    };
    let depth = deeper(depth, span_of(name))?;
    let open = span_at(after_name, 1);
    let (mut rest, _) = blanks(after_name.take_from(1));
    let mut args = Vec::new();
    loop {
        if rest.is_empty() {
            return fail(
                open,
                format!("unbalanced parenthesis: this '(' of '{transformer}(' is never closed"),
                &[")"],
            );
        }
        if args.is_empty() && rest.starts_with(')') {
            return fail(
                span_at(rest, 1),
                format!("'{transformer}' needs a field argument"),
                &["a field"],
            );
        }
        let (after_arg, arg) = operand(rest, depth)?;
        if transformer.is_unary() && !args.is_empty() {
            return fail(
                arg.span(),
                format!("'{transformer}' takes exactly one argument"),
                &[")"],
            );
        }
        args.push(arg);
        let (after_arg, _) = blanks(after_arg);
        match after_arg.chars().next() {
            Some(',') => rest = blanks(after_arg.take_from(1)).0,
            Some(')') => {
                rest = after_arg.take_from(1);
                break;
            }
            None => {
                return fail(
                    open,
                    format!("unbalanced parenthesis: this '(' of '{transformer}(' is never closed"),
                    &[")"],
                );
            }
            Some(_) => return fail(token_span(after_arg), unexpected(after_arg), &[",", ")"]),
        }
    }
    if rest.starts_with('[') {
        return fail(
            span_at(rest, 1),
            "a bracket argument cannot follow a transformer call; put it on the field inside",
            &[],
        );
    }
    Ok((
        rest,
        Operand::Transform {
            transformer,
            args,
            span: Span::new(start, rest.location_offset()),
        },
    ))
}

/// A transformer argument: a field or a nested transformer call.
fn operand(input: In<'_>, depth: usize) -> PResult<'_, Operand> {
    if let Some((after, name)) = ident_run(input)
        && after.starts_with('(')
    {
        if name.fragment() == &"val" {
            return fail(
                span_of(name),
                "val() cannot be used inside a transformer; pass the field directly",
                &["a field"],
            );
        }
        return transform_call(input, depth);
    }
    if !input.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return fail(
            token_span(input),
            unexpected(input),
            &["a field", "a transformer"],
        );
    }
    let (rest, field) = field_ref(input)?;
    Ok((rest, Operand::Field(field)))
}

// ---------------------------------------------------------------------------
// Operators and right-hand sides

/// Everything after the left operand of a check.
fn condition(input: In<'_>, left: Operand, start: usize, depth: usize) -> PResult<'_, Expr> {
    let (input, _) = blanks(input);
    let (after_op, (op, op_span)) = operator(input, start)?;
    let (rest, right) = match op {
        Op::Exists => (after_op, Rhs::None),
        Op::In | Op::Intersects | Op::PMatch => {
            if !after_op.is_empty() && !after_op.starts_with(is_blank) && !after_op.starts_with('(')
            {
                return fail(
                    token_span(after_op),
                    format!("expected a blank or '(' after '{op}'"),
                    EXPECT_LIST,
                );
            }
            let (at, _) = blanks(after_op);
            list_rhs(at, op, depth)?
        }
        _ => {
            if op.is_word() && !after_op.is_empty() && !after_op.starts_with(is_blank) {
                return fail(
                    token_span(after_op),
                    format!("expected a blank after '{op}'"),
                    &["a value"],
                );
            }
            let (at, _) = blanks(after_op);
            value_rhs(at, op, depth)?
        }
    };
    let compare = Compare {
        left,
        op,
        right,
        span: Span::new(start, rest.location_offset()),
        op_span,
    };
    Ok((rest, Expr::Compare(compare)))
}

/// The comparison operator, with `left_start` the offset of the left
/// operand (quoted in the error when the operator is missing).
fn operator(input: In<'_>, left_start: usize) -> PResult<'_, (Op, Span)> {
    let symbol: IResult<In<'_>, Op, ParseError> = alt((
        value(Op::Eq, tag("==")),
        value(Op::Ne, tag("!=")),
        value(Op::Le, tag("<=")),
        value(Op::Ge, tag(">=")),
        value(Op::Eq, tag("=")),
        value(Op::Lt, tag("<")),
        value(Op::Gt, tag(">")),
    ))
    .parse(input);
    if let Ok((rest, op)) = symbol {
        let span = Span::new(input.location_offset(), rest.location_offset());
        return Ok((rest, (op, span)));
    }
    let left = input.extra[left_start..input.location_offset()].trim_end_matches(is_blank);
    let missing = format!("missing operator after '{left}'");
    match ident_run(input) {
        Some((rest, word)) => {
            if let Some(op) = Op::from_word(word.fragment()) {
                return Ok((rest, (op, span_of(word))));
            }
            if matches!(*word.fragment(), "and" | "or" | "not") {
                fail(span_of(word), missing, EXPECT_OPERATOR)
            } else {
                fail(
                    span_of(word),
                    format!("unknown operator '{}'", word.fragment()),
                    EXPECT_OPERATOR,
                )
            }
        }
        None if input.is_empty() || input.starts_with([')', '(', ',']) => {
            fail(token_span(input), missing, EXPECT_OPERATOR)
        }
        None => {
            let span = operator_junk_span(input);
            let text = &input.extra[span.start..span.end];
            fail(span, format!("unknown operator '{text}'"), EXPECT_OPERATOR)
        }
    }
}

/// The extent of something in operator position that is not an operator:
/// the run of punctuation (`~=`, `=~`, `!`) before any value.
fn operator_junk_span(input: In<'_>) -> Span {
    let len = input
        .char_indices()
        .find(|&(_, c)| c.is_ascii_alphanumeric() || is_blank(c) || "()\"',".contains(c))
        .map_or(input.len(), |(i, _)| i);
    span_at(
        input,
        len.max(input.chars().next().map_or(0, char::len_utf8)),
    )
}

/// The right side of a single-value operator.
fn value_rhs(input: In<'_>, op: Op, depth: usize) -> PResult<'_, Rhs> {
    if let Some((after, name)) = ident_run(input)
        && after.starts_with('(')
    {
        return call_rhs(input, name, depth);
    }
    match input.chars().next() {
        None => fail(
            token_span(input),
            format!("missing value after '{op}'"),
            &["a value"],
        ),
        Some('"' | '\'') if op.is_numeric() => fail(
            token_span(input),
            format!("'{op}' compares numbers, but the value is a quoted string"),
            &["a number"],
        ),
        Some('"' | '\'') => {
            let (rest, literal) = quoted(input)?;
            Ok((rest, Rhs::Value(literal)))
        }
        Some('(') => fail(
            span_at(input, 1),
            format!(
                "'{op}' takes a single value; only 'in', 'intersects' and 'pmatch' take a list"
            ),
            &["a value"],
        ),
        Some(c) if is_bare_char(c) => {
            let (rest, literal) = bare(input)?;
            if op.is_numeric() && !is_number(&literal.text) {
                return fail(
                    literal.span,
                    format!(
                        "'{op}' compares numbers, but '{}' is not a number",
                        literal.text
                    ),
                    &["a number"],
                );
            }
            Ok((rest, Rhs::Value(literal)))
        }
        Some(_) => fail(
            token_span(input),
            format!("missing value after '{op}', found {}", describe(input)),
            &["a value"],
        ),
    }
}

/// The right side of `in`, `intersects` and `pmatch`.
fn list_rhs(input: In<'_>, op: Op, depth: usize) -> PResult<'_, Rhs> {
    if input.starts_with('(') {
        return list(input);
    }
    if let Some((after, name)) = ident_run(input) {
        if after.starts_with('(') {
            return call_rhs(input, name, depth);
        }
        if !after.starts_with('.') {
            return Ok((
                after,
                Rhs::ListRef {
                    name: (*name.fragment()).to_owned(),
                    span: span_of(name),
                },
            ));
        }
    }
    let message = if input.is_empty() {
        format!("missing list after '{op}'")
    } else {
        format!(
            "'{op}' takes a parenthesised list or a list name, found {}",
            describe(input)
        )
    };
    fail(token_span(input), message, EXPECT_LIST)
}

/// `val(field)` or a transformer call on the right side, with `input` at
/// `name` and `(` right after it.
fn call_rhs<'a>(input: In<'a>, name: In<'a>, depth: usize) -> PResult<'a, Rhs> {
    if name.fragment() == &"val" {
        let (rest, field) = val_call(input)?;
        return Ok((rest, Rhs::Field(Operand::Field(field))));
    }
    if Transformer::from_name(name.fragment()).is_some() {
        let (rest, operand) = transform_call(input, depth)?;
        return Ok((rest, Rhs::Field(operand)));
    }
    fail(
        span_of(name),
        format!(
            "unknown transformer '{}'; quote the value if it contains parentheses",
            name.fragment()
        ),
        EXPECT_CALL,
    )
}

/// `"val(" field ")"`, with `input` at `val`.
fn val_call(input: In<'_>) -> PResult<'_, FieldRef> {
    let open = span_at(input.take_from(3), 1);
    let (inner, _) = blanks(input.take_from(4));
    if let Some((after, name)) = ident_run(inner)
        && after.starts_with('(')
    {
        return fail(
            span_of(name),
            "val() takes a field, not a transformer call",
            &["a field"],
        );
    }
    if !inner.starts_with(|c: char| c.is_ascii_alphabetic()) {
        if inner.is_empty() {
            return fail(
                open,
                "unbalanced parenthesis: this '(' of 'val(' is never closed",
                &[")"],
            );
        }
        return fail(token_span(inner), unexpected(inner), &["a field"]);
    }
    let (rest, field) = field_ref(inner)?;
    let (rest, _) = blanks(rest);
    match rest.chars().next() {
        Some(')') => Ok((rest.take_from(1), field)),
        None => fail(
            open,
            "unbalanced parenthesis: this '(' of 'val(' is never closed",
            &[")"],
        ),
        Some(_) => fail(token_span(rest), unexpected(rest), &[")"]),
    }
}

/// `"(" [ value ( "," value )* ] ")"`, with `input` at the `(`.
fn list(input: In<'_>) -> PResult<'_, Rhs> {
    let start = input.location_offset();
    let open = span_at(input, 1);
    let unclosed = "unbalanced parenthesis: this list's '(' is never closed";
    let (mut rest, _) = blanks(input.take_from(1));
    let mut items = Vec::new();
    if !rest.starts_with(')') {
        loop {
            let (after, item) = match rest.chars().next() {
                Some('"' | '\'') => quoted(rest)?,
                Some(c) if is_bare_char(c) => bare(rest)?,
                None => return fail(open, unclosed, &[")"]),
                Some(',' | ')') => {
                    return fail(span_at(rest, 1), "missing value in list", &["a value"]);
                }
                Some('(') => {
                    return fail(span_at(rest, 1), "lists cannot be nested", &["a value"]);
                }
                Some(_) => {
                    return fail(
                        token_span(rest),
                        format!("{} in list; quote values containing '='", unexpected(rest)),
                        &["a value"],
                    );
                }
            };
            items.push(item);
            let (after, had_blank) = blanks(after);
            match after.chars().next() {
                Some(',') => rest = blanks(after.take_from(1)).0,
                Some(')') => {
                    rest = after;
                    break;
                }
                None => return fail(open, unclosed, &[")"]),
                Some(c) => {
                    let hint = match c {
                        '=' | '(' => "; quote values containing '=' or parentheses",
                        _ if had_blank => "; quote values containing blanks",
                        _ => "",
                    };
                    return fail(
                        token_span(after),
                        format!("{} in list{hint}", unexpected(after)),
                        &[",", ")"],
                    );
                }
            }
        }
    }
    let rest = rest.take_from(1);
    Ok((
        rest,
        Rhs::List {
            items,
            span: Span::new(start, rest.location_offset()),
        },
    ))
}

// ---------------------------------------------------------------------------
// Tokens

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{8}' | '\r' | '\n')
}

/// Characters allowed in an unquoted value.
pub(crate) fn is_bare_char(c: char) -> bool {
    !is_blank(c) && !matches!(c, '(' | ')' | ',' | '=' | '"' | '\'' | '\0')
}

/// Characters allowed in an unquoted field argument.
pub(crate) fn is_field_arg_char(c: char) -> bool {
    !is_blank(c) && !matches!(c, '[' | ']' | '"' | '\'' | '\0')
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Skips blanks; reports whether there were any.
fn blanks(input: In<'_>) -> (In<'_>, bool) {
    match take_while::<_, _, ParseError>(is_blank)(input) {
        Ok((rest, skipped)) => (rest, !skipped.is_empty()),
        Err(_) => (input, false),
    }
}

/// A letter followed by letters, digits, `_` and `.`: a field name or an
/// identifier. Dots are taken greedily so a malformed name is reported
/// whole rather than split into confusing pieces.
fn word(input: In<'_>) -> PResult<'_, In<'_>> {
    recognize((
        satisfy(|c| c.is_ascii_alphabetic()),
        take_while(|c: char| is_ident_char(c) || c == '.'),
    ))
    .parse(input)
}

/// A run of identifier characters starting with a letter: keywords,
/// operator words, transformer names, list and macro names.
fn ident_run(input: In<'_>) -> Option<(In<'_>, In<'_>)> {
    recognize((
        satisfy::<_, _, ParseError>(|c| c.is_ascii_alphabetic()),
        take_while(is_ident_char),
    ))
    .parse(input)
    .ok()
}

/// `keyword` as a whole word (not the start of a longer identifier or a
/// dotted field name); returns the rest and the keyword's span. Keywords
/// are lowercase only.
fn keyword_at<'a>(input: In<'a>, keyword: &'static str) -> Option<(In<'a>, Span)> {
    let (rest, word) = tag::<_, _, ParseError>(keyword)(input).ok()?;
    if rest.starts_with(|c: char| is_ident_char(c) || c == '.') {
        return None;
    }
    Some((rest, span_of(word)))
}

/// An unquoted value.
fn bare(input: In<'_>) -> PResult<'_, Literal> {
    let (rest, text) = take_while1(is_bare_char)(input)?;
    Ok((
        rest,
        Literal {
            text: (*text.fragment()).to_owned(),
            quoted: false,
            span: span_of(text),
        },
    ))
}

/// Whether an unquoted value is a number as the numeric operators accept
/// it: decimal `[+-]digits[.digits][e[+-]digits]` or hex `0x...`.
fn is_number(text: &str) -> bool {
    let hex = recognize((tag("0"), one_of("xX"), hex_digit1));
    // A relative time such as `1ms` or `1.5s` is a number of nanoseconds.
    let decimal = recognize((
        opt(one_of("+-")),
        digit1,
        opt((char('.'), digit0)),
        opt((one_of("eE"), opt(one_of("+-")), digit1)),
        opt(alt((
            tag("ns"),
            tag("us"),
            tag("ms"),
            tag("s"),
            tag("m"),
            tag("h"),
        ))),
    ));
    let number: IResult<&str, &str, nom::error::Error<&str>> =
        all_consuming(alt((hex, decimal))).parse(text);
    number.is_ok()
}

/// A quoted string, with `input` at the opening quote. The closing quote
/// is found first so that an unterminated string is reported as such even
/// if it also contains a bad escape.
fn quoted(input: In<'_>) -> PResult<'_, Literal> {
    let text = *input.fragment();
    let base = input.location_offset();
    let Some(quote) = text.chars().next() else {
        return fail(token_span(input), "unexpected end of filter", &["a value"]);
    };
    let Some(len) = quoted_len(text) else {
        return fail(
            Span::new(base, base + 1),
            format!("unterminated string: the closing {quote} is missing"),
            if quote == '"' { &["\""] } else { &["'"] },
        );
    };
    let body = &text[1..len - 1];
    let unescaped = unescape(body, quote, base + 1)?;
    Ok((
        input.take_from(len),
        Literal {
            text: unescaped,
            quoted: true,
            span: Span::new(base, base + len),
        },
    ))
}

/// Length in bytes of the quoted string at the start of `text`, both
/// quotes included, or `None` when it is not terminated.
fn quoted_len(text: &str) -> Option<usize> {
    let quote = text.chars().next()?;
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            chars.next();
        } else if c == quote {
            return Some(i + c.len_utf8());
        }
    }
    None
}

/// Resolves the escapes of a quoted string's body, which starts at byte
/// `offset` of the source.
fn unescape(body: &str, quote: char, offset: usize) -> Result<String, nom::Err<ParseError>> {
    let escapes = if quote == '"' {
        ESCAPES_IN_DOUBLE
    } else {
        ESCAPES_IN_SINGLE
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        // The body never ends in a lone backslash: it would have escaped
        // the closing quote.
        let Some((j, e)) = chars.next() else { break };
        let span = Span::new(offset + i, offset + j + e.len_utf8());
        let resolved = match e {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            '\\' => '\\',
            '/' => '/',
            // Legacy Falco rules contain `\ `; libs has always read it as a
            // lone backslash, so it is kept that way for compatibility.
            ' ' => '\\',
            '"' | '\'' if e == quote => e,
            '"' => {
                return Err(failure(
                    span,
                    "'\\\"' is only valid inside double-quoted strings; write \" as is here",
                    escapes,
                ));
            }
            '\'' => {
                return Err(failure(
                    span,
                    "'\\'' is only valid inside single-quoted strings; write ' as is here",
                    escapes,
                ));
            }
            'x' => {
                let hex: String = body[j + 1..].chars().take(2).collect();
                let span = Span::new(span.start, span.end + hex.len());
                let byte = (hex.len() == 2 && hex.chars().all(|c| c.is_ascii_hexdigit()))
                    .then(|| u8::from_str_radix(&hex, 16).ok())
                    .flatten();
                let Some(byte) = byte else {
                    return Err(failure(
                        span,
                        "'\\x' must be followed by two hex digits",
                        &["\\xHH"],
                    ));
                };
                if byte == 0 {
                    return Err(failure(span, "NUL is not allowed in a value", &[]));
                }
                if !byte.is_ascii() {
                    return Err(failure(
                        span,
                        format!(
                            "'\\x{hex}' is not ASCII; values are UTF-8 text, so write the \
                             character itself"
                        ),
                        &[],
                    ));
                }
                chars.next();
                chars.next();
                char::from(byte)
            }
            other => {
                return Err(failure(
                    span,
                    format!("unknown escape sequence '\\{other}'"),
                    escapes,
                ));
            }
        };
        out.push(resolved);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Positions and diagnostics

fn failure(
    span: Span,
    message: impl Into<String>,
    expected: &[&'static str],
) -> nom::Err<ParseError> {
    nom::Err::Failure(ParseError::new(span, message, expected))
}

fn fail<T>(
    span: Span,
    message: impl Into<String>,
    expected: &[&'static str],
) -> Result<T, nom::Err<ParseError>> {
    Err(failure(span, message, expected))
}

/// Increments the nesting depth for the construct at `at`, failing past
/// [`MAX_DEPTH`].
fn deeper(depth: usize, at: Span) -> Result<usize, nom::Err<ParseError>> {
    if depth >= MAX_DEPTH {
        return fail(
            at,
            format!("filter is nested too deeply (more than {MAX_DEPTH} levels)"),
            &[],
        );
    }
    Ok(depth + 1)
}

fn span_of(token: In<'_>) -> Span {
    let start = token.location_offset();
    Span::new(start, start + token.len())
}

/// The first `len` bytes of `input`.
fn span_at(input: In<'_>, len: usize) -> Span {
    let start = input.location_offset();
    Span::new(start, start + len.min(input.len()))
}

/// The token an error at `input` is about: a quoted string, a single
/// punctuation character, or a run up to the next blank or punctuation.
/// Empty at the end of the input.
fn token_span(input: In<'_>) -> Span {
    let text = *input.fragment();
    let len = match text.chars().next() {
        None => 0,
        Some('"' | '\'') => quoted_len(text).unwrap_or(1),
        Some(c) if is_blank(c) || matches!(c, '(' | ')' | ',' | '[' | ']') => c.len_utf8(),
        Some(_) => text
            .char_indices()
            .find(|&(_, c)| is_blank(c) || matches!(c, '(' | ')' | ','))
            .map_or(text.len(), |(i, _)| i),
    };
    span_at(input, len)
}

/// `'token'` or `end of filter`, for messages.
fn describe(input: In<'_>) -> String {
    let span = token_span(input);
    if span.is_empty() {
        return "end of filter".to_owned();
    }
    let token = &input.extra[span.start..span.end];
    const MAX_CHARS: usize = 40;
    if token.chars().count() > MAX_CHARS {
        let cut: String = token.chars().take(MAX_CHARS).collect();
        format!("'{cut}...'")
    } else {
        format!("'{token}'")
    }
}

fn unexpected(input: In<'_>) -> String {
    if input.is_empty() {
        "unexpected end of filter".to_owned()
    } else {
        format!("unexpected token {}", describe(input))
    }
}

#[cfg(test)]
mod tests {
    use super::super::ast::{FieldArg, FieldRef, Literal, Operand, Rhs, Span};
    use super::*;

    fn parsed(source: &str) -> Expr {
        match parse(source) {
            Ok(mut expr) => {
                expr.strip_spans();
                expr
            }
            Err(err) => panic!("{source:?} failed:\n{}", err.render(source)),
        }
    }

    fn parse_error(source: &str) -> ParseError {
        match parse(source) {
            Ok(expr) => panic!("{source:?} parsed as {expr:?}"),
            Err(err) => err,
        }
    }

    fn field(name: &str) -> Operand {
        Operand::Field(FieldRef {
            name: name.to_owned(),
            arg: None,
            span: Span::default(),
        })
    }

    fn field_with_arg(name: &str, arg: &str, quoted: bool) -> Operand {
        Operand::Field(FieldRef {
            name: name.to_owned(),
            arg: Some(FieldArg {
                text: arg.to_owned(),
                quoted,
                span: Span::default(),
            }),
            span: Span::default(),
        })
    }

    fn transform(transformer: Transformer, args: Vec<Operand>) -> Operand {
        Operand::Transform {
            transformer,
            args,
            span: Span::default(),
        }
    }

    fn bare(text: &str) -> Literal {
        Literal {
            text: text.to_owned(),
            quoted: false,
            span: Span::default(),
        }
    }

    fn quoted(text: &str) -> Literal {
        Literal {
            quoted: true,
            ..bare(text)
        }
    }

    fn list(items: Vec<Literal>) -> Rhs {
        Rhs::List {
            items,
            span: Span::default(),
        }
    }

    fn cmp(left: Operand, op: Op, right: Rhs) -> Expr {
        Expr::Compare(Compare {
            left,
            op,
            right,
            span: Span::default(),
            op_span: Span::default(),
        })
    }

    fn eq(name: &str, value: &str) -> Expr {
        cmp(field(name), Op::Eq, Rhs::Value(bare(value)))
    }

    fn not(expr: Expr) -> Expr {
        Expr::Not(Box::new(expr))
    }

    fn macro_ref(name: &str) -> Expr {
        Expr::Macro {
            name: name.to_owned(),
            span: Span::default(),
        }
    }

    /// The single comparison a filter parsed to.
    fn compare_of(source: &str) -> Compare {
        match parse(source) {
            Ok(Expr::Compare(compare)) => compare,
            other => panic!("{source:?} gave {other:?}"),
        }
    }

    /// The single comparison a filter parsed to, spans cleared.
    fn stripped_compare(source: &str) -> Compare {
        match parsed(source) {
            Expr::Compare(compare) => compare,
            other => panic!("{source:?} gave {other:?}"),
        }
    }

    /// Checks an error's span and message; `message` is a substring.
    fn assert_error(source: &str, span: (usize, usize), message: &str) -> ParseError {
        let err = parse_error(source);
        assert_eq!(
            (err.span.start, err.span.end),
            span,
            "span of error for {source:?}: {err}\n{}",
            err.render(source)
        );
        assert!(
            err.message.contains(message),
            "message for {source:?} is {:?}, wanted {message:?}",
            err.message
        );
        err
    }

    #[test]
    fn precedence_not_binds_tighter_than_and_which_binds_tighter_than_or() {
        let (a, b, c) = (eq("a.a", "1"), eq("b.b", "1"), eq("c.c", "1"));
        let cases = [
            (
                "a.a=1 or b.b=1 and c.c=1",
                Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])]),
            ),
            (
                "a.a=1 and b.b=1 or c.c=1",
                Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()]),
            ),
            (
                "not a.a=1 and b.b=1",
                Expr::And(vec![not(a.clone()), b.clone()]),
            ),
            (
                "not a.a=1 or b.b=1",
                Expr::Or(vec![not(a.clone()), b.clone()]),
            ),
            (
                "a.a=1 and not b.b=1 or not c.c=1",
                Expr::Or(vec![
                    Expr::And(vec![a.clone(), not(b.clone())]),
                    not(c.clone()),
                ]),
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(parsed(source), expected, "{source}");
        }
    }

    #[test]
    fn chains_of_one_operator_are_flattened_but_explicit_groups_are_kept() {
        let (a, b, c) = (eq("a.a", "1"), eq("b.b", "1"), eq("c.c", "1"));
        let cases = [
            (
                "a.a=1 and b.b=1 and c.c=1",
                Expr::And(vec![a.clone(), b.clone(), c.clone()]),
            ),
            (
                "a.a=1 or b.b=1 or c.c=1",
                Expr::Or(vec![a.clone(), b.clone(), c.clone()]),
            ),
            (
                "a.a=1 and (b.b=1 and c.c=1)",
                Expr::And(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])]),
            ),
            (
                "(a.a=1 or b.b=1) and c.c=1",
                Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()]),
            ),
            ("((a.a=1))", a.clone()),
        ];
        for (source, expected) in cases {
            assert_eq!(parsed(source), expected, "{source}");
        }
    }

    #[test]
    fn not_repeats_and_keywords_may_touch_a_parenthesis() {
        let (a, b) = (eq("a.a", "1"), eq("b.b", "1"));
        let cases = [
            ("not not a.a=1", not(not(a.clone()))),
            ("not not not a.a=1", not(not(not(a.clone())))),
            ("not(a.a=1)", not(a.clone())),
            (
                "not (a.a=1 and b.b=1)",
                not(Expr::And(vec![a.clone(), b.clone()])),
            ),
            ("not(not(a.a=1))", not(not(a.clone()))),
            ("a.a=1 or(b.b=1)", Expr::Or(vec![a.clone(), b.clone()])),
            ("a.a=1 and(b.b=1)", Expr::And(vec![a.clone(), b.clone()])),
            ("(a.a=1)and(b.b=1)", Expr::And(vec![a.clone(), b.clone()])),
            (
                "(a.a=1)or not(b.b=1)",
                Expr::Or(vec![a.clone(), not(b.clone())]),
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(parsed(source), expected, "{source}");
        }
    }

    #[test]
    fn every_blank_character_separates_tokens() {
        let expected = Expr::And(vec![eq("a.a", "1"), not(eq("b.b", "2"))]);
        for source in [
            " a.a=1 and not b.b=2 ",
            "\ta.a=1\tand\tnot\tb.b=2\t",
            "a.a=1\nand\r\nnot\nb.b=2\n",
            "a.a=1\u{8}and\u{8}not\u{8}b.b=2",
            "( a.a = 1 ) and not ( b.b = 2 )",
        ] {
            assert_eq!(parsed(source), expected, "{source:?}");
        }
    }

    #[test]
    fn keywords_are_lowercase_only() {
        assert_error("a.a=1 AND b.b=1", (6, 9), "unexpected token 'AND'");
        assert_error("a.a=1 Or b.b=1", (6, 8), "unexpected token 'Or'");
        assert_error("NOT a.a=1", (4, 9), "unexpected token 'a.a=1'");
        assert_error("a.a CONTAINS x", (4, 12), "unknown operator 'CONTAINS'");
    }

    #[test]
    fn keywords_are_whole_words() {
        let cases = [
            ("notify", macro_ref("notify")),
            ("order", macro_ref("order")),
            ("not.a=1", eq("not.a", "1")),
            (
                "and.x=1 and or.y=2",
                Expr::And(vec![eq("and.x", "1"), eq("or.y", "2")]),
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(parsed(source), expected, "{source}");
        }
        assert_error("a.a=1 andb.b=1", (6, 14), "unexpected token 'andb.b=1'");
    }

    #[test]
    fn every_operator_parses() {
        let one = || Rhs::Value(bare("1"));
        let x = || Rhs::Value(bare("x"));
        let cases = [
            ("a.b=x", Op::Eq, x()),
            ("a.b==x", Op::Eq, x()),
            ("a.b = x", Op::Eq, x()),
            ("a.b == x", Op::Eq, x()),
            ("a.b!=x", Op::Ne, x()),
            ("a.b != x", Op::Ne, x()),
            ("a.b<1", Op::Lt, one()),
            ("a.b <= 1", Op::Le, one()),
            ("a.b>1", Op::Gt, one()),
            ("a.b >=1", Op::Ge, one()),
            ("a.b contains x", Op::Contains, x()),
            ("a.b icontains x", Op::IContains, x()),
            (
                "a.b bcontains 474554",
                Op::BContains,
                Rhs::Value(bare("474554")),
            ),
            ("a.b startswith x", Op::StartsWith, x()),
            (
                "a.b bstartswith 4745",
                Op::BStartsWith,
                Rhs::Value(bare("4745")),
            ),
            ("a.b endswith x", Op::EndsWith, x()),
            ("a.b glob x*", Op::Glob, Rhs::Value(bare("x*"))),
            ("a.b iglob X*", Op::IGlob, Rhs::Value(bare("X*"))),
            (
                "a.b regex '[a-z]+'",
                Op::Regex,
                Rhs::Value(quoted("[a-z]+")),
            ),
            ("a.b in (x)", Op::In, list(vec![bare("x")])),
            ("a.b intersects (x)", Op::Intersects, list(vec![bare("x")])),
            ("a.b pmatch (x)", Op::PMatch, list(vec![bare("x")])),
            ("a.b exists", Op::Exists, Rhs::None),
        ];
        for (source, op, right) in &cases {
            assert_eq!(
                parsed(source),
                cmp(field("a.b"), *op, right.clone()),
                "{source}"
            );
        }
        for op in Op::ALL {
            assert!(
                cases.iter().any(|(_, tested, _)| *tested == op),
                "{op:?} is not covered"
            );
        }
    }

    #[test]
    fn numeric_operators_accept_decimal_and_hex_numbers() {
        for value in [
            "0", "-1", "+2", "3.5", "4.", "1e+10", "2E-3", "6e7", "0x1F", "0XfF",
        ] {
            let source = format!("evt.res < {value}");
            assert_eq!(
                parsed(&source),
                cmp(field("evt.res"), Op::Lt, Rhs::Value(bare(value))),
                "{source}"
            );
        }
    }

    #[test]
    fn word_operators_need_a_blank_but_symbol_operators_do_not() {
        assert_eq!(
            parsed("a.b!=x"),
            cmp(field("a.b"), Op::Ne, Rhs::Value(bare("x")))
        );
        assert_eq!(
            parsed("a.b in(x)"),
            cmp(field("a.b"), Op::In, list(vec![bare("x")]))
        );
        assert_error(
            "a.b contains\"x\"",
            (12, 15),
            "expected a blank after 'contains'",
        );
        assert_error("a.b containsx", (4, 13), "unknown operator 'containsx'");
        assert_error("a.b in\"x\"", (6, 9), "expected a blank or '(' after 'in'");
    }

    #[test]
    fn spans_cover_check_operator_field_and_value() {
        let compare = compare_of("proc.name != sshd");
        assert_eq!(compare.span, Span::new(0, 17));
        assert_eq!(compare.op_span, Span::new(10, 12));
        assert_eq!(compare.left.span(), Span::new(0, 9));
        assert_eq!(
            compare.right,
            Rhs::Value(Literal {
                text: "sshd".into(),
                quoted: false,
                span: Span::new(13, 17)
            })
        );

        let compare = compare_of("proc.env[\"HOME\"] exists");
        assert_eq!(compare.span, Span::new(0, 23));
        assert_eq!(compare.op_span, Span::new(17, 23));
        let Operand::Field(field) = &compare.left else {
            panic!("{compare:?}")
        };
        assert_eq!(field.span, Span::new(0, 16));
        assert_eq!(field.arg.as_ref().map(|a| a.span), Some(Span::new(9, 15)));

        let compare = compare_of("evt.type in ( open , 'openat' )");
        assert_eq!(compare.span, Span::new(0, 31));
        let Rhs::List { items, span } = &compare.right else {
            panic!("{compare:?}")
        };
        assert_eq!(*span, Span::new(12, 31));
        let item_spans: Vec<_> = items.iter().map(|i| i.span).collect();
        assert_eq!(item_spans, [Span::new(14, 18), Span::new(21, 29)]);

        let compare = compare_of("tolower(basename(fd.name))=x");
        assert_eq!(compare.left.span(), Span::new(0, 26));

        match parse("a.b=1 or my_macro") {
            Ok(Expr::Or(items)) => assert_eq!(
                items[1],
                Expr::Macro {
                    name: "my_macro".into(),
                    span: Span::new(9, 17)
                }
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bare_values_run_to_a_blank_parenthesis_comma_equals_or_quote() {
        let cases = [
            ("fd.name=/etc/passwd", "/etc/passwd"),
            ("proc.name!=sshd", "sshd"),
            ("evt.res < 0", "0"),
            ("evt.res<-1", "-1"),
            ("fd.sip=10.0.0.1", "10.0.0.1"),
            ("fd.net=10.0.0.0/8", "10.0.0.0/8"),
            ("fd.net=2607:f8b0::/32", "2607:f8b0::/32"),
            ("evt.dir=<", "<"),
            ("evt.dir = >", ">"),
            ("fd.name=C:\\temp\\x", "C:\\temp\\x"),
            ("proc.name=val", "val"),
            ("proc.name=tolower", "tolower"),
            ("proc.name=[x]", "[x]"),
            ("proc.name=and", "and"),
            ("fd.name=caf\u{e9}", "caf\u{e9}"),
        ];
        for (source, text) in cases {
            assert_eq!(
                stripped_compare(source).right,
                Rhs::Value(bare(text)),
                "{source}"
            );
        }
    }

    #[test]
    fn quoted_values_take_either_quote_and_keep_special_characters() {
        let cases = [
            ("a.b='a b'", "a b"),
            ("a.b=\"a b\"", "a b"),
            ("a.b=\"\"", ""),
            ("a.b=''", ""),
            ("a.b=\"it's\"", "it's"),
            ("a.b='say \"hi\"'", "say \"hi\""),
            ("a.b=\"a,b=(c)\"", "a,b=(c)"),
            ("a.b=\"tab\there\"", "tab\there"),
            ("a.b=\"caf\u{e9}\"", "caf\u{e9}"),
            ("a.b contains \"PRIVATE KEY\"", "PRIVATE KEY"),
        ];
        for (source, text) in cases {
            assert_eq!(
                stripped_compare(source).right,
                Rhs::Value(quoted(text)),
                "{source}"
            );
        }
    }

    #[test]
    fn every_valid_escape_is_resolved() {
        let cases = [
            (r#"a.b="\b""#, "\u{8}"),
            (r#"a.b="\f""#, "\u{c}"),
            (r#"a.b="\n""#, "\n"),
            (r#"a.b="\r""#, "\r"),
            (r#"a.b="\t""#, "\t"),
            (r#"a.b="\\""#, "\\"),
            (r#"a.b="\/""#, "/"),
            (r#"a.b="\x41\x7e""#, "A~"),
            (r#"a.b="\"""#, "\""),
            (r"a.b='\''", "'"),
            (r"a.b='\b\f\n\r\t\\\/'", "\u{8}\u{c}\n\r\t\\/"),
            (r#"a.b="C:\ dir""#, "C:\\dir"),
            (r#"a.b="x\"y\\""#, "x\"y\\"),
        ];
        for (source, text) in cases {
            assert_eq!(
                stripped_compare(source).right,
                Rhs::Value(quoted(text)),
                "{source}"
            );
        }
    }

    #[test]
    fn invalid_escapes_are_reported_at_the_escape() {
        let cases = [
            (r#"a.b="\q""#, (5, 7), "unknown escape sequence '\\q'"),
            (r#"a.b="ok\u0041""#, (7, 9), "unknown escape sequence '\\u'"),
            (
                r#"a.b="\'""#,
                (5, 7),
                "only valid inside single-quoted strings",
            ),
            (
                r#"a.b='\"'"#,
                (5, 7),
                "only valid inside double-quoted strings",
            ),
            (r#"a.b="\x4""#, (5, 8), "two hex digits"),
            (r#"a.b="\xZZ""#, (5, 9), "two hex digits"),
            (r#"a.b="\x""#, (5, 7), "two hex digits"),
            (r#"a.b="\x00""#, (5, 9), "NUL is not allowed"),
            (r#"a.b="\x80""#, (5, 9), "not ASCII"),
            (r#"a.b in ("ok", "\z")"#, (15, 17), "unknown escape"),
            (r#"proc.env["\z"]=x"#, (10, 12), "unknown escape"),
        ];
        for (source, span, message) in cases {
            assert_error(source, span, message);
        }
        let err = parse_error(r#"a.b="\q""#);
        assert!(err.expected.contains(&"\\n"), "{err}");
    }

    #[test]
    fn nul_is_rejected_wherever_it_appears() {
        assert_error("a.b=x\0y", (5, 6), "NUL");
        assert_error("a.b=\"x\0y\"", (6, 7), "NUL");
    }

    #[test]
    fn lists_hold_bare_and_quoted_items() {
        let cases = [
            ("a.b in ()", list(vec![])),
            ("a.b in ( )", list(vec![])),
            ("a.b in(x,y)", list(vec![bare("x"), bare("y")])),
            (
                "a.b in (x, \"y z\", 3)",
                list(vec![bare("x"), quoted("y z"), bare("3")]),
            ),
            (
                "a.b in (\"a,b\", 'c,d', \"(e)\")",
                list(vec![quoted("a,b"), quoted("c,d"), quoted("(e)")]),
            ),
            (
                "a.b in (\n  /etc/shadow,\n  /etc/sudoers\n)",
                list(vec![bare("/etc/shadow"), bare("/etc/sudoers")]),
            ),
            (
                "fd.snet in (10.0.0.0/8, 192.168.0.0/16)",
                list(vec![bare("10.0.0.0/8"), bare("192.168.0.0/16")]),
            ),
        ];
        for (source, right) in cases {
            assert_eq!(stripped_compare(source).right, right, "{source}");
        }
    }

    #[test]
    fn a_bare_identifier_after_a_list_operator_names_a_list() {
        for (source, op) in [
            ("proc.name in shell_binaries", Op::In),
            ("proc.name intersects my_list", Op::Intersects),
            ("fd.name pmatch allowed_dirs2", Op::PMatch),
        ] {
            let compare = compare_of(source);
            assert_eq!(compare.op, op);
            let name = source.rsplit(' ').next().unwrap_or_default();
            let start = source.len() - name.len();
            assert_eq!(
                compare.right,
                Rhs::ListRef {
                    name: name.into(),
                    span: Span::new(start, source.len())
                },
                "{source}"
            );
        }
        assert_eq!(
            parsed("proc.name in my_list and fd.num=1"),
            Expr::And(vec![
                cmp(
                    field("proc.name"),
                    Op::In,
                    Rhs::ListRef {
                        name: "my_list".into(),
                        span: Span::default()
                    }
                ),
                eq("fd.num", "1"),
            ])
        );
    }

    #[test]
    fn bracket_arguments_follow_the_field_name() {
        let cases = [
            (
                "proc.aname[2]=sshd",
                field_with_arg("proc.aname", "2", false),
            ),
            (
                "proc.env[\"HOME\"]=/root",
                field_with_arg("proc.env", "HOME", true),
            ),
            (
                "proc.env['HOME']=/root",
                field_with_arg("proc.env", "HOME", true),
            ),
            (
                "proc.env[\"A\\\"B\"]=x",
                field_with_arg("proc.env", "A\"B", true),
            ),
            (
                "proc.env[\"A B\"]=x",
                field_with_arg("proc.env", "A B", true),
            ),
            (
                "evt.around[1534527348586317233]=1000",
                field_with_arg("evt.around", "1534527348586317233", false),
            ),
            (
                "container.mount[/var/lib/*]=x",
                field_with_arg("container.mount", "/var/lib/*", false),
            ),
            (
                "k8s.pod.label[app.kubernetes.io/name]=x",
                field_with_arg("k8s.pod.label", "app.kubernetes.io/name", false),
            ),
        ];
        for (source, left) in cases {
            assert_eq!(stripped_compare(source).left, left, "{source}");
        }
    }

    #[test]
    fn dotted_field_names_stay_whole() {
        for name in [
            "evt.arg.fd",
            "evt.rawarg.res",
            "thread.cgroup.cpuacct",
            "evt.type.is.open",
            "k8s.pod.label.app",
            "evt.is_open_write",
            "fd.l4proto",
            "A.B2.c_3",
        ] {
            assert_eq!(parsed(&format!("{name}=1")), eq(name, "1"), "{name}");
        }
    }

    #[test]
    fn val_puts_a_field_on_the_right_side() {
        let cases = [
            ("proc.name = val(proc.pname)", field("proc.pname")),
            ("proc.name=val( proc.pname )", field("proc.pname")),
            (
                "proc.name=val(proc.aname[1])",
                field_with_arg("proc.aname", "1", false),
            ),
        ];
        for (source, right) in cases {
            assert_eq!(
                parsed(source),
                cmp(field("proc.name"), Op::Eq, Rhs::Field(right)),
                "{source}"
            );
        }
        assert_eq!(
            parsed("evt.res < val(evt.num)"),
            cmp(field("evt.res"), Op::Lt, Rhs::Field(field("evt.num")))
        );
    }

    #[test]
    fn transformers_wrap_fields_on_either_side_and_nest() {
        use Transformer::*;
        let cases = [
            (
                "tolower(proc.name)=bash",
                cmp(
                    transform(ToLower, vec![field("proc.name")]),
                    Op::Eq,
                    Rhs::Value(bare("bash")),
                ),
            ),
            (
                "toupper( proc.name ) contains SSH",
                cmp(
                    transform(ToUpper, vec![field("proc.name")]),
                    Op::Contains,
                    Rhs::Value(bare("SSH")),
                ),
            ),
            (
                "b64(evt.arg.data) exists",
                cmp(
                    transform(B64, vec![field("evt.arg.data")]),
                    Op::Exists,
                    Rhs::None,
                ),
            ),
            (
                "len(proc.args) > 200",
                cmp(
                    transform(Len, vec![field("proc.args")]),
                    Op::Gt,
                    Rhs::Value(bare("200")),
                ),
            ),
            (
                "tolower(basename(fd.name))=passwd",
                cmp(
                    transform(ToLower, vec![transform(Basename, vec![field("fd.name")])]),
                    Op::Eq,
                    Rhs::Value(bare("passwd")),
                ),
            ),
            (
                "concat(proc.name, proc.aname[1])=x",
                cmp(
                    transform(
                        Concat,
                        vec![field("proc.name"), field_with_arg("proc.aname", "1", false)],
                    ),
                    Op::Eq,
                    Rhs::Value(bare("x")),
                ),
            ),
            (
                "join(proc.args) exists",
                cmp(
                    transform(Join, vec![field("proc.args")]),
                    Op::Exists,
                    Rhs::None,
                ),
            ),
            (
                "getopt(proc.args) exists",
                cmp(
                    transform(Getopt, vec![field("proc.args")]),
                    Op::Exists,
                    Rhs::None,
                ),
            ),
            (
                "proc.name = tolower(proc.pname)",
                cmp(
                    field("proc.name"),
                    Op::Eq,
                    Rhs::Field(transform(ToLower, vec![field("proc.pname")])),
                ),
            ),
            (
                "proc.name in toupper(proc.pname)",
                cmp(
                    field("proc.name"),
                    Op::In,
                    Rhs::Field(transform(ToUpper, vec![field("proc.pname")])),
                ),
            ),
        ];
        for (source, expected) in cases {
            assert_eq!(parsed(source), expected, "{source}");
        }
    }

    #[test]
    fn bare_identifiers_in_check_position_are_macros() {
        let cases = [
            ("my_macro", macro_ref("my_macro")),
            ("not my_macro", not(macro_ref("my_macro"))),
            (
                "spawned_process and container",
                Expr::And(vec![macro_ref("spawned_process"), macro_ref("container")]),
            ),
            (
                "a.b=1 and open_write or (m2)",
                Expr::Or(vec![
                    Expr::And(vec![eq("a.b", "1"), macro_ref("open_write")]),
                    macro_ref("m2"),
                ]),
            ),
            ("exists", macro_ref("exists")),
            ("tolower", macro_ref("tolower")),
        ];
        for (source, expected) in cases {
            assert_eq!(parsed(source), expected, "{source}");
        }
    }

    #[test]
    fn error_points_at_an_unknown_operator() {
        let err = assert_error(
            "proc.name equals sshd",
            (10, 16),
            "unknown operator 'equals'",
        );
        assert!(err.expected.contains(&"contains") && err.expected.contains(&"="));
        assert_error("proc.name ~= sshd", (10, 12), "unknown operator '~='");
        assert_error("proc.name ! sshd", (10, 11), "unknown operator '!'");
        assert_error("proc.name=~ sshd", (12, 16), "unexpected token 'sshd'");
    }

    #[test]
    fn error_points_at_a_missing_operator() {
        assert_error("proc.name", (9, 9), "missing operator after 'proc.name'");
        assert_error(
            "proc.name and a.b=1",
            (10, 13),
            "missing operator after 'proc.name'",
        );
        assert_error(
            "(proc.name)",
            (10, 11),
            "missing operator after 'proc.name'",
        );
        assert_error(
            "tolower(proc.name)",
            (18, 18),
            "missing operator after 'tolower(proc.name)'",
        );
    }

    #[test]
    fn error_points_at_a_missing_right_side() {
        let cases = [
            ("proc.name=", (10, 10), "missing value after '='"),
            ("proc.name = ", (12, 12), "missing value after '='"),
            (
                "proc.name contains",
                (18, 18),
                "missing value after 'contains'",
            ),
            (
                "proc.name contains ",
                (19, 19),
                "missing value after 'contains'",
            ),
            (
                "(proc.name=)",
                (11, 12),
                "missing value after '=', found ')'",
            ),
            (
                "proc.name=,",
                (10, 11),
                "missing value after '=', found ','",
            ),
            ("proc.name in", (12, 12), "missing list after 'in'"),
            (
                "proc.name in \"a\"",
                (13, 16),
                "'in' takes a parenthesised list or a list name",
            ),
            (
                "proc.name in my.list",
                (13, 20),
                "'in' takes a parenthesised list",
            ),
            ("proc.name = (a, b)", (12, 13), "'=' takes a single value"),
            ("evt.res < abc", (10, 13), "'abc' is not a number"),
            ("evt.res < 5x", (10, 12), "'5x' is not a number"),
            ("evt.res > \"5\"", (10, 13), "quoted string"),
        ];
        for (source, span, message) in cases {
            assert_error(source, span, message);
        }
    }

    #[test]
    fn error_points_at_a_dangling_keyword() {
        let cases = [
            ("a.b=1 and", (6, 9), "dangling 'and'"),
            ("a.b=1 and  ", (6, 9), "dangling 'and'"),
            ("a.b=1 or", (6, 8), "dangling 'or'"),
            ("not", (0, 3), "dangling 'not'"),
            ("a.b=1 and not ", (10, 13), "dangling 'not'"),
            ("(a.b=1 and)", (10, 11), "unexpected token ')'"),
            ("and a.b=1", (0, 3), "unexpected keyword 'and'"),
            ("a.b=1 and and c.d=1", (10, 13), "unexpected keyword 'and'"),
            ("a.b=1 or or c.d=1", (9, 11), "unexpected keyword 'or'"),
        ];
        for (source, span, message) in cases {
            assert_error(source, span, message);
        }
    }

    #[test]
    fn error_points_at_the_unclosed_opening_parenthesis() {
        let cases = [
            ("(a.b=1", (0, 1), "this '(' is never closed"),
            ("((a.b=1)", (0, 1), "this '(' is never closed"),
            ("(a.b=1 and (c.d=1)", (0, 1), "this '(' is never closed"),
            (
                "a.b=1 and (c.d=1 or e.f=1",
                (10, 11),
                "this '(' is never closed",
            ),
            ("not (a.b=1", (4, 5), "this '(' is never closed"),
            ("proc.name in (a, b", (13, 14), "list's '(' is never closed"),
            ("proc.name in (a,", (13, 14), "list's '(' is never closed"),
            (
                "tolower(proc.name",
                (7, 8),
                "'(' of 'tolower(' is never closed",
            ),
            (
                "tolower(proc.name,",
                (7, 8),
                "'(' of 'tolower(' is never closed",
            ),
            (
                "proc.name=val(proc.pname",
                (13, 14),
                "'(' of 'val(' is never closed",
            ),
            ("proc.name=val(", (13, 14), "'(' of 'val(' is never closed"),
            ("proc.aname[2=x", (10, 11), "this '[' is never closed"),
            ("proc.aname[", (10, 11), "this '[' is never closed"),
            ("a.b=1)", (5, 6), "')' has no matching '('"),
            ("(a.b=1))", (7, 8), "')' has no matching '('"),
        ];
        for (source, span, message) in cases {
            assert_error(source, span, message);
        }
    }

    #[test]
    fn error_points_at_trailing_junk() {
        let err = assert_error("proc.name=bash sshd", (15, 19), "unexpected token 'sshd'");
        assert_eq!(err.expected, ["and", "or"]);
        assert_error("proc.name=\"bash\"x", (16, 17), "unexpected token 'x'");
        assert_error("a.b=1 c.d=2", (6, 11), "unexpected token 'c.d=2'");
        assert_error("my_macro other", (9, 14), "unexpected token 'other'");
        let err = assert_error("(a.b=1 c.d=2)", (7, 12), "unexpected token 'c.d=2'");
        assert_eq!(err.expected, ["and", "or", ")"]);
    }

    #[test]
    fn error_points_at_the_opening_quote_of_an_unterminated_string() {
        let cases = [
            ("proc.name=\"bash", (10, 11), "unterminated string"),
            ("proc.name='bash", (10, 11), "unterminated string"),
            ("proc.name='bash\\'", (10, 11), "unterminated string"),
            ("proc.name=\"bash\\q", (10, 11), "unterminated string"),
            ("a.b in (\"x, y)", (8, 9), "unterminated string"),
            ("proc.env[\"HOME]=x", (9, 10), "unterminated string"),
        ];
        for (source, span, message) in cases {
            assert_error(source, span, message);
        }
    }

    #[test]
    fn error_explains_malformed_fields_and_transformers() {
        let cases = [
            ("name=bash", (0, 4), "'name' is not a field name"),
            ("my_macro = 1", (0, 8), "'my_macro' is not a field name"),
            ("proc contains x", (0, 4), "'proc' is not a field name"),
            ("proc[1]=x", (0, 4), "'proc' is not a field name"),
            ("proc.=x", (0, 5), "invalid field name 'proc.'"),
            ("proc..name=x", (0, 10), "invalid field name"),
            ("proc.1name=x", (0, 10), "invalid field name"),
            ("foo(proc.name)=x", (0, 3), "unknown transformer 'foo'"),
            ("proc.name=foo(x)", (10, 13), "unknown transformer 'foo'"),
            ("val(proc.name)=x", (0, 3), "right-hand side"),
            ("tolower()=x", (8, 9), "'tolower' needs a field argument"),
            (
                "tolower(proc.name, proc.pname)=x",
                (19, 29),
                "takes exactly one argument",
            ),
            ("tolower(\"x\")=x", (8, 11), "unexpected token '\"x\"'"),
            ("tolower(name)=x", (8, 12), "'name' is not a field name"),
            (
                "tolower(val(proc.name))=x",
                (8, 11),
                "val() cannot be used inside",
            ),
            (
                "tolower(proc.name)[1]=x",
                (18, 19),
                "cannot follow a transformer",
            ),
            (
                "tolower(proc.name proc.pname)=x",
                (18, 28),
                "unexpected token 'proc.pname'",
            ),
            (
                "proc.name=val(tolower(proc.pname))",
                (14, 21),
                "val() takes a field",
            ),
            ("proc.name=val(\"x\")", (14, 17), "unexpected token"),
            ("proc.aname[]=x", (11, 12), "empty field argument"),
            ("proc.aname[ 2]=x", (11, 12), "blanks are not allowed"),
            ("proc.aname[2 ]=x", (12, 13), "blanks are not allowed"),
            (
                "proc.name in (a b)",
                (16, 17),
                "unexpected token 'b' in list",
            ),
            ("proc.name in (a,)", (16, 17), "missing value in list"),
            ("proc.name in (,a)", (14, 15), "missing value in list"),
            ("proc.name in (a, (b))", (17, 18), "lists cannot be nested"),
            (
                "proc.name in (a=b)",
                (15, 17),
                "unexpected token '=b' in list; quote values containing '='",
            ),
            ("=bash", (0, 5), "unexpected token '=bash'"),
            ("\"x\"=1", (0, 3), "unexpected token '\"x\"'"),
        ];
        for (source, span, message) in cases {
            assert_error(source, span, message);
        }
    }

    #[test]
    fn expectation_lists_name_every_operator_and_transformer() {
        for op in Op::ALL {
            assert!(EXPECT_OPERATOR.contains(&op.as_str()), "{op:?}");
        }
        assert_eq!(
            EXPECT_OPERATOR.len(),
            Op::ALL.len() + 1,
            "every operator plus '=='"
        );
        let names: Vec<_> = Transformer::ALL.iter().map(Transformer::as_str).collect();
        assert_eq!(EXPECT_TRANSFORMER, names);
        assert_eq!(EXPECT_CALL[1..], names);
    }

    #[test]
    fn empty_and_blank_filters_are_errors() {
        for source in ["", " ", "\t\n\r\u{8}"] {
            let err = parse_error(source);
            assert_eq!(err.message, "empty filter", "{source:?}");
        }
    }

    fn nested_parens(depth: usize) -> String {
        format!("{}a.b=1{}", "(".repeat(depth), ")".repeat(depth))
    }

    #[test]
    fn nesting_up_to_the_depth_limit_parses() {
        let mut expr = parsed(&nested_parens(MAX_DEPTH));
        expr.strip_spans();
        assert_eq!(expr, eq("a.b", "1"));
        let nots = format!("{}a.b=1", "not ".repeat(MAX_DEPTH));
        assert!(parse(&nots).is_ok());
    }

    #[test]
    fn nesting_past_the_depth_limit_is_an_error_not_a_stack_overflow() {
        assert_error(
            &nested_parens(MAX_DEPTH + 1),
            (MAX_DEPTH, MAX_DEPTH + 1),
            "nested too deeply",
        );
        assert_error(
            &format!("{}a.b=1", "not ".repeat(MAX_DEPTH + 1)),
            (4 * MAX_DEPTH, 4 * MAX_DEPTH + 3),
            "nested too deeply",
        );
        let transformers = format!(
            "{}proc.name{}=x",
            "tolower(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert_error(
            &transformers,
            (8 * MAX_DEPTH, 8 * MAX_DEPTH + 7),
            "nested too deeply",
        );
        let mixed = format!("{}a.b=1", "not (".repeat(MAX_DEPTH));
        assert_error(&mixed, (5 * 50, 5 * 50 + 3), "nested too deeply");
        // Far past the limit the parser stops at the limit, long before
        // the stack would be in danger.
        assert_error(
            &"(".repeat(100_000),
            (MAX_DEPTH, MAX_DEPTH + 1),
            "nested too deeply",
        );
    }

    /// §1.10 of the reference: filters an incident responder would type.
    const INCIDENT_RESPONSE_FILTERS: [&str; 20] = [
        "evt.type in (execve, execveat) and evt.dir=< and proc.pname in (bash, sh, zsh, dash)",
        "evt.type=execve and evt.dir=< and proc.aname=sshd",
        "evt.type in (open, openat, openat2) and evt.dir=< and evt.is_open_write=true and fd.name startswith /etc/",
        "evt.type in (open, openat, openat2) and evt.dir=< and fd.name in (/etc/shadow, /etc/sudoers, /etc/passwd)",
        "evt.type=connect and evt.dir=< and fd.typechar=4 and not fd.snet in (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 127.0.0.0/8)",
        "evt.type in (accept, accept4) and evt.dir=< and fd.sport=22",
        "evt.type in (unlink, unlinkat, rename, renameat, renameat2, truncate) and evt.dir=< and evt.args contains /var/log",
        "evt.type in (dup2, dup3) and evt.dir=< and fd.type in (ipv4, ipv6) and proc.name in (bash, sh, dash, zsh)",
        "evt.type in (setuid, setresuid, setgid) and evt.dir=< and evt.failed=false and user.uid!=0",
        "container.id!=host and evt.type=execve and evt.dir=< and proc.name in (sh, bash, ash, dash)",
        "evt.type in (ptrace, init_module, finit_module, bpf) and evt.dir=<",
        "fd.name glob '/root/.ssh/*' and evt.is_io_write=true",
        "evt.is_io=true and evt.buffer contains \"PRIVATE KEY\"",
        "evt.type=execve and evt.dir=< and (proc.exe startswith /tmp/ or proc.exe startswith /dev/shm/)",
        "evt.failed=true and evt.res in (EACCES, EPERM)",
        "fd.l4proto=udp and fd.rport=53 and evt.is_io_write=true",
        "proc.loginshellid=3200",
        "fd.ip=203.0.113.7 and evt.is_io=true",
        "evt.around[1534527348586317233]=1000 and thread.tid=17497",
        "evt.type=execve and proc.is_exe_from_memfd=true",
    ];

    #[test]
    fn all_incident_response_examples_parse() {
        for source in INCIDENT_RESPONSE_FILTERS {
            let expr = parsed(source);
            assert_eq!(parsed(&expr.to_string()), expr, "reprinted {source}");
        }
    }

    #[test]
    fn incident_response_examples_have_the_expected_shape() {
        assert_eq!(
            parsed(INCIDENT_RESPONSE_FILTERS[4]),
            Expr::And(vec![
                eq("evt.type", "connect"),
                eq("evt.dir", "<"),
                eq("fd.typechar", "4"),
                not(cmp(
                    field("fd.snet"),
                    Op::In,
                    list(vec![
                        bare("10.0.0.0/8"),
                        bare("172.16.0.0/12"),
                        bare("192.168.0.0/16"),
                        bare("127.0.0.0/8"),
                    ])
                )),
            ])
        );
        assert_eq!(
            parsed(INCIDENT_RESPONSE_FILTERS[13]),
            Expr::And(vec![
                eq("evt.type", "execve"),
                eq("evt.dir", "<"),
                Expr::Or(vec![
                    cmp(field("proc.exe"), Op::StartsWith, Rhs::Value(bare("/tmp/"))),
                    cmp(
                        field("proc.exe"),
                        Op::StartsWith,
                        Rhs::Value(bare("/dev/shm/"))
                    ),
                ]),
            ])
        );
        assert_eq!(
            parsed(INCIDENT_RESPONSE_FILTERS[18]),
            Expr::And(vec![
                cmp(
                    field_with_arg("evt.around", "1534527348586317233", false),
                    Op::Eq,
                    Rhs::Value(bare("1000"))
                ),
                eq("thread.tid", "17497"),
            ])
        );
    }

    #[test]
    fn rendered_error_underlines_the_offending_token() {
        let source = "proc.name equals sshd";
        assert_eq!(
            parse_error(source)
                .render(source)
                .lines()
                .take(2)
                .collect::<Vec<_>>(),
            ["proc.name equals sshd", "          ^~~~~~"]
        );
        let source = "proc.name=";
        assert_eq!(
            parse_error(source).render(source),
            "proc.name=\n          ^\nmissing value after '=', expecting a value"
        );
    }
}
