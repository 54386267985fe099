//! The syntax tree of a filter expression, as produced by [`parse`](super::parse).
//!
//! The tree is purely syntactic: field names are kept exactly as written
//! (`evt.arg.fd` is not split into field and dotted argument), values are
//! unescaped text not yet converted to any field type, and bare identifiers
//! in check or list position are kept as names for the evaluator to resolve
//! or reject. Every node that can be the subject of a diagnostic carries a
//! [`Span`] of byte offsets into the source.

/// A half-open range of byte offsets into the filter source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// Creates a span covering `start..end`.
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// Number of bytes covered.
    pub const fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when the span covers no bytes (an insertion point, e.g. the end of input).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A boolean filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Conjunction of two or more operands. A chain `a and b and c` is one
    /// node with three operands; an explicitly parenthesised `(a and b)`
    /// inside another `and` stays a nested node.
    And(Vec<Expr>),
    /// Disjunction of two or more operands, flattened like [`Expr::And`].
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A comparison of a field against a value, list or other field.
    Compare(Compare),
    /// A bare identifier in check position: a Falco macro (or list)
    /// reference. Plain sysdig filters have no macros, so whether this is
    /// allowed is the evaluator's decision.
    Macro {
        /// The identifier as written.
        name: String,
        /// Where it was written.
        span: Span,
    },
}

/// One check: `left op right`.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    /// The field (possibly transformed) being tested.
    pub left: Operand,
    /// The comparison operator.
    pub op: Op,
    /// What the field is compared against; [`Rhs::None`] for `exists`.
    pub right: Rhs,
    /// The whole check, from the start of `left` to the end of `right`.
    pub span: Span,
    /// The operator token alone.
    pub op_span: Span,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=` or `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `contains`: substring.
    Contains,
    /// `icontains`: ASCII case-insensitive substring.
    IContains,
    /// `bcontains`: raw-byte substring, right side given in hex.
    BContains,
    /// `startswith`: prefix.
    StartsWith,
    /// `bstartswith`: raw-byte prefix, right side given in hex.
    BStartsWith,
    /// `endswith`: suffix.
    EndsWith,
    /// `glob`: shell wildcard match.
    Glob,
    /// `iglob`: case-insensitive shell wildcard match.
    IGlob,
    /// `regex`: full-match regular expression.
    Regex,
    /// `in`: equal to any list element.
    In,
    /// `intersects`: any extracted value is in the list.
    Intersects,
    /// `pmatch`: path-component prefix match against any list element.
    PMatch,
    /// `exists`: the field can be extracted (unary).
    Exists,
}

impl Op {
    /// Every operator, in the order they are listed in diagnostics.
    pub const ALL: [Op; 19] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Le,
        Op::Gt,
        Op::Ge,
        Op::Contains,
        Op::IContains,
        Op::BContains,
        Op::StartsWith,
        Op::BStartsWith,
        Op::EndsWith,
        Op::Glob,
        Op::IGlob,
        Op::Regex,
        Op::In,
        Op::Intersects,
        Op::PMatch,
        Op::Exists,
    ];

    /// The canonical spelling. `==` is an alias that prints as `=`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::PMatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// True for operators spelled as a word, which must be separated from
    /// what follows by a blank (or `(` for the list operators).
    pub fn is_word(&self) -> bool {
        !matches!(self, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    /// True for `in`, `intersects` and `pmatch`, whose right side is a list.
    pub fn takes_list(&self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }

    /// True for `<`, `<=`, `>`, `>=`, whose literal right side must be a number.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }

    /// Looks up a word operator by its exact (lowercase) spelling.
    pub fn from_word(word: &str) -> Option<Op> {
        Op::ALL
            .into_iter()
            .find(|op| op.is_word() && op.as_str() == word)
    }
}

/// The left side of a check, or a transformer argument: a field, possibly
/// wrapped in transformers.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A plain field reference.
    Field(FieldRef),
    /// A transformer call such as `tolower(proc.name)`.
    Transform {
        /// Which transformer.
        transformer: Transformer,
        /// Its arguments, in order. The unary transformers have exactly one.
        args: Vec<Operand>,
        /// From the transformer name to the closing parenthesis.
        span: Span,
    },
}

/// A field transformer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformer {
    /// `tolower(x)`.
    ToLower,
    /// `toupper(x)`.
    ToUpper,
    /// `b64(x)`: base64 decode.
    B64,
    /// `basename(x)`.
    Basename,
    /// `len(x)`.
    Len,
    /// `join(...)`.
    Join,
    /// `concat(...)`.
    Concat,
    /// `getopt(...)`.
    Getopt,
}

impl Transformer {
    /// Every transformer, in the order they are listed in diagnostics.
    pub const ALL: [Transformer; 8] = [
        Transformer::ToLower,
        Transformer::ToUpper,
        Transformer::B64,
        Transformer::Basename,
        Transformer::Len,
        Transformer::Join,
        Transformer::Concat,
        Transformer::Getopt,
    ];

    /// The name as written before the opening parenthesis.
    pub fn as_str(&self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
            Transformer::Join => "join",
            Transformer::Concat => "concat",
            Transformer::Getopt => "getopt",
        }
    }

    /// Looks up a transformer by its exact (lowercase) name.
    pub fn from_name(name: &str) -> Option<Transformer> {
        Transformer::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// True for transformers that take exactly one argument; the others
    /// (`join`, `concat`, `getopt`) take one or more.
    pub fn is_unary(&self) -> bool {
        !matches!(
            self,
            Transformer::Join | Transformer::Concat | Transformer::Getopt
        )
    }
}

/// A field reference as written.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    /// The full dotted name, e.g. `evt.arg.fd` or `proc.aname`. Splitting a
    /// trailing dotted argument off the field is the field catalog's job.
    pub name: String,
    /// The bracket argument, as in `proc.aname[2]` or `proc.env["HOME"]`.
    pub arg: Option<FieldArg>,
    /// From the first letter of the name to the closing bracket, if any.
    pub span: Span,
}

/// A bracket argument of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldArg {
    /// The argument text, unescaped when it was quoted.
    pub text: String,
    /// Whether it was written as a quoted string.
    pub quoted: bool,
    /// The argument between the brackets, quotes included.
    pub span: Span,
}

/// The right side of a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// No right side: the operator is `exists`.
    None,
    /// A single value.
    Value(Literal),
    /// A parenthesised list `(a, "b c", 3)`; may be empty.
    List {
        /// The elements in order.
        items: Vec<Literal>,
        /// From `(` to `)`.
        span: Span,
    },
    /// A bare identifier naming a Falco list: `proc.name in shell_binaries`.
    ListRef {
        /// The list name.
        name: String,
        /// Where it was written.
        span: Span,
    },
    /// Another field of the same event: `val(proc.pname)` yields a plain
    /// [`Operand::Field`]; a transformer call on the right side yields
    /// [`Operand::Transform`].
    Field(Operand),
}

/// A value as written on the right side of a check or in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    /// The text, unescaped when it was quoted. Never converted to a number
    /// here: conversion depends on the field's type.
    pub text: String,
    /// Whether it was written as a quoted string.
    pub quoted: bool,
    /// The value as written, quotes included.
    pub span: Span,
}

impl Expr {
    /// Resets every span in the tree to [`Span::default`], so trees parsed
    /// from different spellings of the same filter compare equal.
    pub fn strip_spans(&mut self) {
        match self {
            Expr::And(items) | Expr::Or(items) => items.iter_mut().for_each(Expr::strip_spans),
            Expr::Not(inner) => inner.strip_spans(),
            Expr::Compare(compare) => {
                compare.span = Span::default();
                compare.op_span = Span::default();
                compare.left.strip_spans();
                match &mut compare.right {
                    Rhs::None => {}
                    Rhs::Value(literal) => literal.span = Span::default(),
                    Rhs::List { items, span } => {
                        *span = Span::default();
                        items.iter_mut().for_each(|l| l.span = Span::default());
                    }
                    Rhs::ListRef { span, .. } => *span = Span::default(),
                    Rhs::Field(operand) => operand.strip_spans(),
                }
            }
            Expr::Macro { span, .. } => *span = Span::default(),
        }
    }
}

impl Operand {
    /// Where the operand was written.
    pub fn span(&self) -> Span {
        match self {
            Operand::Field(field) => field.span,
            Operand::Transform { span, .. } => *span,
        }
    }

    fn strip_spans(&mut self) {
        match self {
            Operand::Field(field) => {
                field.span = Span::default();
                if let Some(arg) = &mut field.arg {
                    arg.span = Span::default();
                }
            }
            Operand::Transform { args, span, .. } => {
                *span = Span::default();
                args.iter_mut().for_each(Operand::strip_spans);
            }
        }
    }
}
