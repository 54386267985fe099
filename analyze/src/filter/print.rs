//! Printing syntax trees back as filter text.
//!
//! The output is canonical and re-parseable: `parse(&expr.to_string())`
//! gives back `expr` (spans aside) for every well-formed tree, i.e. one
//! whose `And`/`Or` nodes have at least two operands and whose names are
//! valid identifiers. Parentheses are added only where precedence or the
//! grouping of the tree requires them, `==` is printed as `=`, symbol
//! operators are written without surrounding blanks and word operators
//! with one on each side, and a value is printed bare when it was bare and
//! still lexes as a single bare value, otherwise double-quoted and escaped.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{Compare, Expr, FieldArg, FieldRef, Literal, Op, Operand, Rhs, Transformer};
use super::parse::{is_bare_char, is_field_arg_char};

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            // An `or` operand needs parentheses only if it is itself an
            // `or`: printing it flat would merge it into this node.
            Expr::Or(items) => join(f, items, " or ", |e| matches!(e, Expr::Or(_))),
            Expr::And(items) => join(f, items, " and ", |e| {
                matches!(e, Expr::And(_) | Expr::Or(_))
            }),
            Expr::Not(inner) => match **inner {
                Expr::And(_) | Expr::Or(_) => write!(f, "not ({inner})"),
                _ => write!(f, "not {inner}"),
            },
            Expr::Compare(compare) => compare.fmt(f),
            Expr::Macro { name, .. } => f.write_str(name),
        }
    }
}

fn join(
    f: &mut Formatter<'_>,
    items: &[Expr],
    separator: &str,
    needs_parens: fn(&Expr) -> bool,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if needs_parens(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

impl Display for Compare {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match (&self.op, &self.right) {
            (Op::Exists, _) | (_, Rhs::None) => write!(f, "{} {}", self.left, self.op),
            (op, right) if op.is_word() => write!(f, "{} {op} {right}", self.left),
            (op, right) => write!(f, "{}{op}{right}", self.left),
        }
    }
}

impl Display for Rhs {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Rhs::None => Ok(()),
            Rhs::Value(literal) => literal.fmt(f),
            Rhs::List { items, .. } => {
                f.write_char('(')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    item.fmt(f)?;
                }
                f.write_char(')')
            }
            Rhs::ListRef { name, .. } => f.write_str(name),
            Rhs::Field(field @ Operand::Field(_)) => write!(f, "val({field})"),
            Rhs::Field(transform) => transform.fmt(f),
        }
    }
}

impl Display for Operand {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field(field) => field.fmt(f),
            Operand::Transform {
                transformer, args, ..
            } => {
                write!(f, "{transformer}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    arg.fmt(f)?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for FieldRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(FieldArg { text, quoted, .. }) = &self.arg {
            f.write_char('[')?;
            if *quoted || text.is_empty() || !text.chars().all(is_plain_field_arg_char) {
                write_quoted(f, text)?;
            } else {
                f.write_str(text)?;
            }
            f.write_char(']')?;
        }
        Ok(())
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.quoted || !lexes_as_bare(&self.text) {
            write_quoted(f, &self.text)
        } else {
            f.write_str(&self.text)
        }
    }
}

impl Display for Op {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Transformer {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `text` reads back as one bare value. Control characters are
/// legal in bare values but are quoted anyway so the output stays readable.
fn lexes_as_bare(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| is_bare_char(c) && !c.is_control())
}

fn is_plain_field_arg_char(c: char) -> bool {
    is_field_arg_char(c) && !c.is_control()
}

/// `text` as a value in filter text: bare when it reads back as one bare
/// value, otherwise quoted and escaped (`"/tmp/a b"`).
pub fn quote_value(text: &str) -> String {
    struct Quoted<'a>(&'a str);
    impl Display for Quoted<'_> {
        fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
            write_quoted(f, self.0)
        }
    }
    if lexes_as_bare(text) {
        text.to_owned()
    } else {
        Quoted(text).to_string()
    }
}

/// Writes `text` as a double-quoted string using only escapes the parser
/// accepts.
fn write_quoted(f: &mut Formatter<'_>, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_ascii_control() => write!(f, "\\x{:02x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::ast::{FieldArg, Span};
    use super::super::parse;
    use super::*;

    fn field(name: &str) -> Operand {
        Operand::Field(FieldRef {
            name: name.to_owned(),
            arg: None,
            span: Span::default(),
        })
    }

    fn literal(text: &str, quoted: bool) -> Literal {
        Literal {
            text: text.to_owned(),
            quoted,
            span: Span::default(),
        }
    }

    fn compare(left: Operand, op: Op, right: Rhs) -> Expr {
        Expr::Compare(Compare {
            left,
            op,
            right,
            span: Span::default(),
            op_span: Span::default(),
        })
    }

    fn eq(name: &str, value: &str) -> Expr {
        compare(field(name), Op::Eq, Rhs::Value(literal(value, false)))
    }

    #[test]
    fn prints_canonical_spelling() {
        let cases = [
            ("proc.name == bash", "proc.name=bash"),
            ("proc.name   contains   ssh", "proc.name contains ssh"),
            ("evt.type in(open,openat)", "evt.type in (open, openat)"),
            ("evt.type in ( )", "evt.type in ()"),
            ("fd.name exists", "fd.name exists"),
            ("proc.name='a b'", "proc.name=\"a b\""),
            ("proc.name=val( proc.pname )", "proc.name=val(proc.pname)"),
            ("tolower( proc.name )=bash", "tolower(proc.name)=bash"),
            ("proc.aname[2]  =  x", "proc.aname[2]=x"),
            ("proc.env['HOME']=/root", "proc.env[\"HOME\"]=/root"),
            ("proc.name in shells", "proc.name in shells"),
            ("not(a.b=1)", "not a.b=1"),
            ("not (a.b=1 or c.d=2)", "not (a.b=1 or c.d=2)"),
            ("(a.b=1 or c.d=2) and e.f=3", "(a.b=1 or c.d=2) and e.f=3"),
            ("a.b=1 or (c.d=2 or e.f=3)", "a.b=1 or (c.d=2 or e.f=3)"),
            ("a.b=1 or c.d=2 and e.f=3", "a.b=1 or c.d=2 and e.f=3"),
            ("a.b=1 and (c.d=2 and e.f=3)", "a.b=1 and (c.d=2 and e.f=3)"),
            ("not not my_macro", "not not my_macro"),
        ];
        for (source, printed) in cases {
            let expr = match parse(source) {
                Ok(expr) => expr,
                Err(err) => panic!("{source}: {err}"),
            };
            assert_eq!(expr.to_string(), printed, "printing {source}");
        }
    }

    #[test]
    fn quotes_bare_literals_that_would_not_lex_back() {
        let cases = [
            ("", "\"\""),
            ("a b", "\"a b\""),
            ("a=b", "\"a=b\""),
            ("(x)", "\"(x)\""),
            ("a,b", "\"a,b\""),
            ("it's", "\"it's\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("tab\there", "\"tab\\there\""),
            ("bell\u{7}", "\"bell\\x07\""),
            ("back\\slash", "back\\slash"),
        ];
        for (text, printed) in cases {
            let expr = compare(field("a.b"), Op::Eq, Rhs::Value(literal(text, false)));
            assert_eq!(
                expr.to_string(),
                format!("a.b={printed}"),
                "printing {text:?}"
            );
        }
    }

    #[test]
    fn prints_field_on_the_right_through_val() {
        let expr = compare(field("proc.name"), Op::Ne, Rhs::Field(field("proc.pname")));
        assert_eq!(expr.to_string(), "proc.name!=val(proc.pname)");
    }

    #[test]
    fn parenthesises_nested_groups_only_where_needed() {
        let expr = Expr::And(vec![
            Expr::Or(vec![eq("a.b", "1"), eq("c.d", "2")]),
            Expr::Not(Box::new(Expr::And(vec![eq("e.f", "3"), eq("g.h", "4")]))),
            Expr::Not(Box::new(eq("i.j", "5"))),
        ]);
        assert_eq!(
            expr.to_string(),
            "(a.b=1 or c.d=2) and not (e.f=3 and g.h=4) and not i.j=5"
        );
    }

    // --- property: print then parse gives the same tree -------------------

    const RESERVED: &[&str] = &["and", "or", "not"];

    fn ident() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9_]{0,6}".prop_filter("keyword", |s| !RESERVED.contains(&s.as_str()))
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop::collection::vec("[a-zA-Z][a-zA-Z0-9_]{0,5}", 2..=4).prop_map(|parts| parts.join("."))
    }

    /// Any text the parser can hold in a quoted string: everything but NUL.
    fn any_text() -> impl Strategy<Value = String> {
        any::<String>().prop_map(|s| s.replace('\0', ""))
    }

    fn field_arg() -> impl Strategy<Value = Option<FieldArg>> {
        prop_oneof![
            Just(None),
            "[A-Za-z0-9_./:*-]{1,8}".prop_map(|text| Some(FieldArg {
                text,
                quoted: false,
                span: Span::default()
            })),
            any_text().prop_map(|text| Some(FieldArg {
                text,
                quoted: true,
                span: Span::default()
            })),
        ]
    }

    fn field_ref() -> impl Strategy<Value = Operand> {
        (field_name(), field_arg()).prop_map(|(name, arg)| {
            Operand::Field(FieldRef {
                name,
                arg,
                span: Span::default(),
            })
        })
    }

    fn operand() -> impl Strategy<Value = Operand> {
        field_ref().prop_recursive(3, 8, 3, |inner| {
            (
                prop::sample::select(Transformer::ALL.to_vec()),
                prop::collection::vec(inner, 1..=3),
            )
                .prop_map(|(transformer, mut args)| {
                    if transformer.is_unary() {
                        args.truncate(1);
                    }
                    Operand::Transform {
                        transformer,
                        args,
                        span: Span::default(),
                    }
                })
        })
    }

    fn value() -> impl Strategy<Value = Literal> {
        prop_oneof![
            "[A-Za-z0-9_./:*?<>!@#$%^&+~\\[\\]{}|\\\\-]{1,10}".prop_map(|t| literal(&t, false)),
            any_text().prop_map(|t| literal(&t, true)),
        ]
    }

    fn number() -> impl Strategy<Value = Literal> {
        prop_oneof![
            "[+-]?[0-9]{1,6}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{1,2})?",
            "0[xX][0-9a-fA-F]{1,6}",
        ]
        .prop_map(|t| literal(&t, false))
    }

    fn rhs_for(op: Op) -> BoxedStrategy<Rhs> {
        if op == Op::Exists {
            Just(Rhs::None).boxed()
        } else if op.takes_list() {
            prop_oneof![
                prop::collection::vec(value(), 0..4).prop_map(|items| Rhs::List {
                    items,
                    span: Span::default()
                }),
                ident().prop_map(|name| Rhs::ListRef {
                    name,
                    span: Span::default()
                }),
                operand().prop_map(Rhs::Field),
            ]
            .boxed()
        } else if op.is_numeric() {
            prop_oneof![
                number().prop_map(Rhs::Value),
                operand().prop_map(Rhs::Field)
            ]
            .boxed()
        } else {
            prop_oneof![value().prop_map(Rhs::Value), operand().prop_map(Rhs::Field)].boxed()
        }
    }

    fn check() -> impl Strategy<Value = Expr> {
        let comparison =
            (operand(), prop::sample::select(Op::ALL.to_vec())).prop_flat_map(|(left, op)| {
                rhs_for(op).prop_map(move |right| compare(left.clone(), op, right))
            });
        let macro_ref = ident().prop_map(|name| Expr::Macro {
            name,
            span: Span::default(),
        });
        prop_oneof![4 => comparison, 1 => macro_ref]
    }

    fn expr() -> impl Strategy<Value = Expr> {
        check().prop_recursive(5, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..=4).prop_map(Expr::And),
                prop::collection::vec(inner.clone(), 2..=4).prop_map(Expr::Or),
                inner.prop_map(|e| Expr::Not(Box::new(e))),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn printed_filter_parses_back_to_the_same_tree(original in expr()) {
            let printed = original.to_string();
            let mut reparsed = match parse(&printed) {
                Ok(expr) => expr,
                Err(err) => panic!("{printed}\n{}", err.render(&printed)),
            };
            reparsed.strip_spans();
            prop_assert_eq!(&reparsed, &original, "printed as {}", printed);
        }

        #[test]
        fn parser_never_panics_on_arbitrary_input(source in any::<String>()) {
            let _ = parse(&source);
        }

        #[test]
        fn parser_never_panics_on_filter_like_input(
            source in "[a-z. =!<>()\"',\\\\\\[\\]0-9]{0,40}"
        ) {
            if let Err(err) = parse(&source) {
                prop_assert!(err.span.start <= source.len() && err.span.end <= source.len());
                let _ = err.render(&source);
            }
        }
    }
}
