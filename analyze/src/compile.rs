//! Compiling a parsed filter against a trace's fields and event table, and
//! evaluating it per event.
//!
//! Everything that can be decided once is decided here: field names are
//! resolved, right-hand values are converted to the field's type (a type
//! error is reported with a caret before any event is read), regular
//! expressions and globs are compiled, `evt.type` tests become a bitmap
//! lookup, lists become sets. Evaluation then short-circuits through a tree
//! of these prepared checks.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

use memchr::memmem;
use regex::bytes::Regex;
use rustc_hash::FxHashSet;
use scry_format::{ChunkSummary, EventTable, FdKind};

use crate::fields::{self, Ctx, Field, Shape};
use crate::filter::{self, Compare, Expr, Literal, Op, Operand, Rhs, Span, Transformer};
use crate::state::Memo;
use crate::types::TypeTable;
use crate::value::{FieldType, Value};

/// A filter that failed to parse or to compile, with the span to underline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter error at position {}: {message}", span.start)]
pub struct FilterError {
    /// The offending part of the source.
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

impl FilterError {
    fn at(span: Span, message: impl Into<String>) -> Self {
        FilterError {
            span,
            message: message.into(),
        }
    }

    /// The source with a caret line under the offending part, then the
    /// message, for a terminal.
    pub fn render(&self, source: &str) -> String {
        underline(source, self.span, &self.message)
    }
}

/// Something in a filter that compiles but most likely does not do what
/// its author meant (a sysdig habit that means something else here, a
/// filter that can never match), with the span to underline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterWarning {
    /// The part of the source it is about.
    pub span: Span,
    /// What to know.
    pub message: String,
}

impl FilterWarning {
    /// The source with a caret line under the part concerned, then the
    /// message, for a terminal.
    pub fn render(&self, source: &str) -> String {
        underline(source, self.span, &self.message)
    }
}

fn underline(source: &str, span: Span, message: &str) -> String {
    let start = floor_char_boundary(source, span.start);
    let end = floor_char_boundary(source, span.end.max(start));
    let lead = source[..start].chars().count();
    let width = source[start..end].chars().count().max(1);
    format!(
        "{source}\n{}^{}\n{message}",
        " ".repeat(lead),
        "~".repeat(width - 1)
    )
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

impl From<filter::ParseError> for FilterError {
    fn from(error: filter::ParseError) -> Self {
        FilterError {
            span: error.span,
            message: error.to_string(),
        }
    }
}

/// What a filter that selects `evt.dir=>` is told.
const ENTER_WARNING: &str = "scry records each syscall once, at its exit, with the arguments of its entry: every syscall event has evt.dir '<'; '>' selects procexit events only";

/// A compiled filter.
#[derive(Debug)]
pub struct Filter {
    /// What is left to evaluate of an event whose type `types` lets
    /// through: the conjuncts that test the type alone, which `types`
    /// already answered, are in `type_tests`.
    root: Node,
    /// The conjuncts of the filter that test the event type alone: only
    /// evaluated for a type past the end of `types`.
    type_tests: Vec<Node>,
    /// Per type id in the table, what its type alone says of an event:
    /// most events a view or a measure looks at are decided here, with no
    /// call.
    by_type: Vec<TypeAnswer>,
    needs: StateNeeds,
    /// The event types a matching event can have, by id (`None`: any):
    /// checked before anything else, so that most events of a filter on
    /// fds or I/O are turned down by one bitmap lookup.
    types: Option<Vec<bool>>,
    warnings: Vec<FilterWarning>,
}

/// What of the reconstructed state the fields of a filter read.
#[derive(Debug, Clone, Copy, Default)]
struct StateNeeds {
    /// Any state: processes, users, containers, fds.
    state: bool,
    /// Fd tables (fd.*, evt.args and the other fields that name fds).
    fds: bool,
}

impl StateNeeds {
    fn add(&mut self, field: &crate::fields::Field) {
        self.state |= field.needs_state();
        self.fds |= field.needs_fds();
    }
}

/// What the type of an event says of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeAnswer {
    /// No event of the type matches.
    No,
    /// Every event of the type matches.
    Yes,
    /// The tree decides.
    Tree,
}

#[derive(Debug)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// `evt.type in (…)`: a bitmap indexed by event type id.
    TypeIn(Vec<bool>),
    /// A comparison on a number, flag or borrowed text field, read and
    /// compared without building a [`Value`].
    Fast(Box<FastCheck>),
    Check(Box<Check>),
    /// A part that reads nothing but the event's process, whose result is
    /// kept in the process until it changes.
    Remembered(Box<Remembered>),
}

/// A part of a filter whose result is the same for every event of a
/// process until the process changes, kept in the process' [`Memo`] word:
/// the high half names the filter, the low half holds two bits per
/// remembered part (known, result) at `shift`.
#[derive(Debug)]
struct Remembered {
    /// The filter's [`FILTER_TAGS`] number, in the high half of the word.
    tag: u64,
    shift: u32,
    inner: Node,
}

/// How many parts of a filter can be remembered: two bits each in the low
/// half of the word.
const REMEMBERED_PARTS: u32 = 16;

/// Numbers filters, so that the word a process keeps for one filter is not
/// read as another's. 32 bits: no session compiles four billion filters.
static FILTER_TAGS: AtomicU32 = AtomicU32::new(1);

#[derive(Debug)]
struct FastCheck {
    field: Field,
    op: Op,
    rhs: Prepared,
    /// What is done with the field's value, worked out once from `op` and
    /// `rhs`.
    test: FastTest,
    /// Whether the field is `fd.name`, the most tested of all, read
    /// straight from the event's fd.
    fd_name: bool,
}

/// The comparison of a [`FastCheck`] in the form cheapest to evaluate: the
/// common ones as a bound or a few bytes to compare, the rest through the
/// general matchers.
#[derive(Debug)]
enum FastTest {
    /// A number within `lo..=hi`: `=`, `<`, `<=`, `>`, `>=` and `exists`
    /// (an empty range when no number passes).
    NumWithin(i64, i64),
    /// A number other than this one (`!=`).
    NumOther(i64),
    /// For a field the kind of the event's fd decides (`fd.type`), one bit
    /// per [`FdKind::code`] whose value passes: tested without making the
    /// text.
    FdKinds(u32),
    /// A flag with this value (`=`, `!=`).
    FlagIs(bool),
    /// Text that starts with these bytes (`startswith`).
    Prefix(Prefix),
    /// Text equal to these bytes.
    Equal(Box<[u8]>),
    /// Text other than these bytes (`!=`).
    Unequal(Box<[u8]>),
    /// Any other comparison.
    General,
}

impl FastTest {
    fn new(field: &Field, op: Op, rhs: &Prepared) -> FastTest {
        if field.text_of_fd_kind(FdKind::Unknown).is_some() {
            let passing = FdKind::ALL.into_iter().filter(|&kind| {
                field
                    .text_of_fd_kind(kind)
                    .is_some_and(|text| bytes_match(text, op, rhs))
            });
            return FastTest::FdKinds(passing.fold(0, |bits, kind| bits | 1 << kind.code()));
        }
        match (field.shape(), rhs) {
            (Shape::Num, Prepared::None) => FastTest::NumWithin(i64::MIN, i64::MAX),
            (Shape::Num, Prepared::Num(n)) => FastTest::of_number(op, *n),
            // As `flag_matches` has it.
            (Shape::Flag, Prepared::Bool(b)) => FastTest::FlagIs(*b != (op == Op::Ne)),
            (Shape::Text, Prepared::Bytes(text)) => match op {
                Op::StartsWith | Op::BStartsWith => FastTest::Prefix(Prefix::new(text)),
                Op::Ne => FastTest::Unequal(text.as_slice().into()),
                Op::EndsWith | Op::Contains | Op::BContains | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                    FastTest::General
                }
                // What `bytes_match` and `ordered` compare for equality.
                _ => FastTest::Equal(text.as_slice().into()),
            },
            _ => FastTest::General,
        }
    }

    /// `op n` on 64-bit values, as [`ordered`] compares them.
    fn of_number(op: Op, n: i128) -> FastTest {
        const NONE: FastTest = FastTest::NumWithin(i64::MAX, i64::MIN);
        let (min, max) = (i128::from(i64::MIN), i128::from(i64::MAX));
        // In range by the tests before each use.
        let wide = |n: i128| n.clamp(min, max) as i64;
        match op {
            Op::Ne => {
                i64::try_from(n).map_or(FastTest::NumWithin(i64::MIN, i64::MAX), FastTest::NumOther)
            }
            Op::Lt if n <= min => NONE,
            Op::Lt => FastTest::NumWithin(i64::MIN, wide(n - 1)),
            Op::Le if n < min => NONE,
            Op::Le => FastTest::NumWithin(i64::MIN, wide(n)),
            Op::Gt if n >= max => NONE,
            Op::Gt => FastTest::NumWithin(wide(n + 1), i64::MAX),
            Op::Ge if n > max => NONE,
            Op::Ge => FastTest::NumWithin(wide(n), i64::MAX),
            _ => i64::try_from(n).map_or(NONE, |n| FastTest::NumWithin(n, n)),
        }
    }
}

/// A prefix to test texts against. One of up to eight bytes is tested as
/// the first word of the text under a mask: no loop, and no branch on the
/// bytes, which come in no order a branch could predict.
#[derive(Debug)]
struct Prefix {
    bytes: Box<[u8]>,
    /// The prefix as a little-endian word, zero past its end.
    word: u64,
    /// Ones over the prefix's bytes; zero when it is longer than a word.
    mask: u64,
}

impl Prefix {
    fn new(bytes: &[u8]) -> Prefix {
        let (word, mask) = match bytes.len() {
            len @ 1..=8 => {
                let mut padded = [0; 8];
                padded[..len].copy_from_slice(bytes);
                (u64::from_le_bytes(padded), u64::MAX >> (64 - 8 * len))
            }
            _ => (0, 0),
        };
        Prefix {
            bytes: bytes.into(),
            word,
            mask,
        }
    }

    /// Whether `text` starts with the prefix.
    #[inline]
    fn begins(&self, text: &[u8]) -> bool {
        match text.first_chunk::<8>() {
            Some(first) if self.mask != 0 => u64::from_le_bytes(*first) & self.mask == self.word,
            _ => has_prefix(text, &self.bytes),
        }
    }
}

impl FastCheck {
    fn new(field: Field, op: Op, rhs: Prepared) -> FastCheck {
        let test = FastTest::new(&field, op, &rhs);
        let fd_name = field.is_fd_name();
        FastCheck {
            field,
            op,
            rhs,
            test,
            fd_name,
        }
    }

    /// The check as a bitmap by event type id, when the event type alone
    /// decides it (`evt.is_io=true`): exact for every type, known or not.
    fn by_type(&self, types: &TypeTable) -> Option<Vec<bool>> {
        let (field, op, rhs) = (&self.field, self.op, &self.rhs);
        // Whether the field is one the type decides: any type tells.
        let any = types.get(0);
        match field.shape() {
            Shape::Flag => {
                field.flag_of_type(any)?;
                types.exact_bitmap(|info| {
                    field
                        .flag_of_type(info)
                        .is_some_and(|v| flag_matches(v, op, rhs))
                })
            }
            Shape::Text => {
                field.text_of_type(any)?;
                types.exact_bitmap(|info| {
                    field
                        .text_of_type(info)
                        .flatten()
                        .is_some_and(|v| bytes_match(v, op, rhs))
                })
            }
            Shape::Num | Shape::Other => None,
        }
    }
}

#[derive(Debug)]
struct Check {
    left: Side,
    op: Op,
    rhs: Prepared,
}

/// A field, possibly wrapped in transformers.
#[derive(Debug)]
enum Side {
    Field(Field),
    Transform(Transformer, Box<Side>),
}

/// A right-hand side converted for its operator and type.
#[derive(Debug)]
enum Prepared {
    None,
    Num(i128),
    NumSet(Vec<i128>),
    Bytes(Vec<u8>),
    /// `contains` and `bcontains`: a substring search prepared once.
    Contains(Box<memmem::Finder<'static>>),
    /// `icontains`: the needle in lower case.
    Lower(Vec<u8>),
    BytesSet(FxHashSet<Vec<u8>>),
    Prefixes(Vec<Vec<u8>>),
    Regex(Regex),
    Bool(bool),
    Nets(Vec<(IpAddr, u8)>),
    Field(Side),
    /// A value for a field whose type varies by event (`evt.rawarg.X`):
    /// compared as a number to numbers and as text to text.
    Dyn(Option<i128>, Vec<u8>),
    /// A list for a field whose type varies by event: its numbers for
    /// numeric values, its texts for the rest.
    DynSet(Vec<i128>, FxHashSet<Vec<u8>>),
}

/// Everything compilation needs to know about the trace.
#[derive(Debug, Clone, Copy)]
pub struct Catalog<'a> {
    /// The trace's event table.
    pub table: &'a EventTable,
    /// Facts per event type.
    pub types: &'a TypeTable,
}

impl Catalog<'_> {
    /// Resolves a field written as in a filter (`proc.aname[2]`,
    /// `evt.arg.fd`).
    ///
    /// # Errors
    /// A message for an unknown field or a bad argument.
    pub fn field(&self, text: &str) -> Result<crate::fields::Field, String> {
        let (name, arg) = crate::fields::split_field(text.trim());
        crate::fields::resolve(name, arg, self.types, self.table)
    }

    /// Resolves a field whose value is shown or summed (an output format's
    /// `%field`, a column of `top`): as [`Catalog::field`], but an
    /// ancestor field needs its level, since without one it stands for
    /// every ancestor, which only a filter can test.
    ///
    /// # Errors
    /// As [`Catalog::field`], and for an ancestor field without a level.
    pub fn value_field(&self, text: &str) -> Result<crate::fields::Field, String> {
        let field = self.field(text)?;
        if field.is_any_ancestor() {
            let name = text.trim();
            return Err(format!(
                "'{name}' needs a level to give one value, as in {name}[1] (the parent); \
                 without one it stands for every ancestor, which only a filter can test"
            ));
        }
        Ok(field)
    }
}

impl Filter {
    /// Parses and compiles `source`.
    ///
    /// # Errors
    /// A syntax error, an unknown field, a value of the wrong type, an
    /// operator the field does not support — each with its span.
    pub fn new(source: &str, catalog: Catalog<'_>) -> Result<Filter, FilterError> {
        let expr = filter::parse(source)?;
        Self::compile(&expr, catalog)
    }

    /// Compiles a parsed expression.
    ///
    /// # Errors
    /// As [`Filter::new`], minus syntax errors.
    pub fn compile(expr: &Expr, catalog: Catalog<'_>) -> Result<Filter, FilterError> {
        Self::compile_with(expr, catalog, true)
    }

    /// [`Filter::compile`], with or without the fast path for comparisons
    /// on numbers, flags and borrowed text and the results remembered per
    /// process (without them only to test that both paths agree).
    fn compile_with(expr: &Expr, catalog: Catalog<'_>, fast: bool) -> Result<Filter, FilterError> {
        let mut cx = Compiler {
            catalog,
            needs: StateNeeds::default(),
            fast,
            warnings: Vec::new(),
        };
        let mut root = compile_expr(expr, &mut cx)?;
        if fast {
            let tag = FILTER_TAGS.fetch_add(1, Ordering::Relaxed).max(1);
            root = remember(root, u64::from(tag) << 32, &mut 0);
        }
        cheapest_first(&mut root);
        let types = possible_types(&root, catalog.types);
        if types.as_ref().is_some_and(|t| !t.contains(&true)) {
            cx.warnings.push(FilterWarning {
                span: expr_span(expr),
                message: "this filter can never match: no event type has everything it asks for"
                    .to_owned(),
            });
        }
        let (root, type_tests) = match types {
            Some(_) => split_type_tests(root),
            None => (root, Vec::new()),
        };
        let type_decides = matches!(&root, Node::And(rest) if rest.is_empty());
        let by_type = match &types {
            Some(types) => types
                .iter()
                .map(|&possible| match (possible, type_decides) {
                    (false, _) => TypeAnswer::No,
                    (true, true) => TypeAnswer::Yes,
                    (true, false) => TypeAnswer::Tree,
                })
                .collect(),
            None => vec![TypeAnswer::Tree; catalog.types.len()],
        };
        Ok(Filter {
            root,
            type_tests,
            by_type,
            needs: cx.needs,
            types,
            warnings: cx.warnings,
        })
    }

    /// What is worth knowing about the filter although it compiled: see
    /// [`FilterWarning`].
    pub fn warnings(&self) -> &[FilterWarning] {
        &self.warnings
    }

    /// Whether evaluation looks at reconstructed state (processes, fds…):
    /// when it does not, chunks that cannot match need not be read at all.
    pub fn needs_state(&self) -> bool {
        self.needs.state
    }

    /// Whether evaluation looks at fd tables (`fd.*`, `evt.args`…): when
    /// it looks only at processes, chunks that change no process need not
    /// be replayed.
    pub fn needs_fds(&self) -> bool {
        self.needs.fds
    }

    /// Whether every field the filter reads is one of the event's fd
    /// entry ([`Field::reads_only_its_fd`]): its answer for one event then
    /// holds for every event whose fd has the same entry.
    pub(crate) fn reads_only_its_fd(&self) -> bool {
        self.type_tests.is_empty() && only_reading(&self.root, Field::reads_only_its_fd)
    }

    /// Whether the event matches.
    #[inline]
    pub fn matches(&self, ctx: &Ctx<'_>) -> bool {
        match self.by_type.get(usize::from(ctx.event.event_type())) {
            Some(TypeAnswer::No) => false,
            Some(TypeAnswer::Yes) => true,
            Some(TypeAnswer::Tree) => self.eval_tree(ctx),
            None => self.matches_past_table(ctx),
        }
    }

    /// What is left of the tree once the type has let the event through,
    /// apart so that [`Filter::matches`] stays small enough to inline.
    #[inline(never)]
    fn eval_tree(&self, ctx: &Ctx<'_>) -> bool {
        // Most filters are a conjunction: its parts are tested here, with
        // one call fewer than through `eval_compound`.
        let part = |node: &Node| match node {
            // The common leaf, inline: no call per part.
            Node::Fast(check) => check.eval(ctx),
            other => eval(other, ctx),
        };
        match &self.root {
            Node::And(items) => items.iter().all(part),
            // A filter on the process alone is one remembered part.
            Node::Remembered(remembered) => remembered.eval(ctx),
            root => part(root),
        }
    }

    /// [`Filter::matches`] for a type past the table, which cannot occur in
    /// a trace; should one, the whole tree decides.
    #[inline(never)]
    fn matches_past_table(&self, ctx: &Ctx<'_>) -> bool {
        self.type_tests.iter().all(|n| eval(n, ctx)) && eval(&self.root, ctx)
    }

    /// The event types a matching event can have, by type id, or `None`
    /// when the filter does not restrict the type (as far as can be told
    /// without evaluating it): what a capture can leave to the kernel.
    pub fn event_types(&self) -> Option<Vec<bool>> {
        self.types.clone()
    }

    /// The processes (tgids) a matching event must belong to, or `None`
    /// when the filter does not pin them (as far as can be told without
    /// evaluating it): what a capture can leave to the kernel, beside the
    /// event types.
    pub fn tgids(&self) -> Option<Vec<u32>> {
        let mut tgids = pinned_tgids(&self.root)?;
        tgids.sort_unstable();
        tgids.dedup();
        Some(tgids)
    }

    /// Whether a chunk may hold a matching event, from its summary alone.
    pub fn chunk_may_match(&self, summary: &ChunkSummary) -> bool {
        let type_may_match = |types: &Vec<bool>| {
            summary
                .types
                .iter()
                .any(|&(t, _)| types.get(usize::from(t)).copied().unwrap_or(true))
        };
        self.types.as_ref().is_none_or(type_may_match)
            && self.type_tests.iter().all(|n| may_match(n, summary))
            && may_match(&self.root, summary)
    }
}

/// Splits off `root` its conjuncts that test the event type alone
/// (`evt.type in (…)`, `evt.is_io=true`): the bitmap of the types the
/// filter can match ([`possible_types`]) holds their answer for every type
/// in the table, so that an event it lets through need not test them again.
fn split_type_tests(root: Node) -> (Node, Vec<Node>) {
    let is_type_test = |node: &Node| {
        matches!(node, Node::TypeIn(_))
            || matches!(node, Node::Not(inner) if matches!(**inner, Node::TypeIn(_)))
    };
    match root {
        Node::And(items) => {
            let (tests, mut rest): (Vec<Node>, Vec<Node>) =
                items.into_iter().partition(is_type_test);
            let root = if rest.len() == 1 {
                rest.pop().unwrap_or(Node::And(Vec::new()))
            } else {
                Node::And(rest)
            };
            (root, tests)
        }
        node if is_type_test(&node) => (Node::And(Vec::new()), vec![node]),
        node => (node, Vec::new()),
    }
}

/// What compiling one filter carries along.
struct Compiler<'c> {
    catalog: Catalog<'c>,
    needs: StateNeeds,
    /// Whether comparisons may take the fast path.
    fast: bool,
    warnings: Vec<FilterWarning>,
}

/// The part of the source an expression covers.
fn expr_span(expr: &Expr) -> Span {
    match expr {
        Expr::And(items) | Expr::Or(items) => items
            .iter()
            .map(expr_span)
            .reduce(|a, b| Span::new(a.start.min(b.start), a.end.max(b.end)))
            .unwrap_or_default(),
        Expr::Not(inner) => expr_span(inner),
        Expr::Compare(compare) => compare.span,
        Expr::Macro { span, .. } => *span,
    }
}

fn compile_expr(expr: &Expr, cx: &mut Compiler<'_>) -> Result<Node, FilterError> {
    let mut all = |items: &[Expr]| -> Result<Vec<Node>, FilterError> {
        items.iter().map(|e| compile_expr(e, cx)).collect()
    };
    Ok(match expr {
        Expr::And(items) => Node::And(all(items)?),
        Expr::Or(items) => Node::Or(all(items)?),
        Expr::Not(inner) => Node::Not(Box::new(compile_expr(inner, cx)?)),
        Expr::Macro { name, span } => {
            return Err(FilterError::at(
                *span,
                format!("unknown identifier '{name}': expected a field such as proc.name"),
            ));
        }
        Expr::Compare(compare) => compile_compare(compare, cx)?,
    })
}

fn compile_side(
    operand: &Operand,
    cx: &mut Compiler<'_>,
) -> Result<(Side, FieldType), FilterError> {
    let catalog = cx.catalog;
    match operand {
        Operand::Field(field) => {
            let bracket = field.arg.as_ref().map(|a| a.text.as_str());
            let resolved = fields::resolve(&field.name, bracket, catalog.types, catalog.table)
                .map_err(|message| FilterError::at(field.span, message))?;
            if resolved.is_print_only() {
                return Err(FilterError::at(
                    field.span,
                    format!(
                        "{} is print-only (it follows -t): filter on evt.rawtime, evt.time or evt.reltime",
                        field.name
                    ),
                ));
            }
            cx.needs.add(&resolved);
            let ty = resolved.def().ty;
            Ok((Side::Field(resolved), ty))
        }
        Operand::Transform {
            transformer,
            args,
            span,
        } => {
            let [arg] = args.as_slice() else {
                return Err(FilterError::at(
                    *span,
                    format!("{}() takes one field", transformer.as_str()),
                ));
            };
            let (inner, ty) = compile_side(arg, cx)?;
            let out = match (transformer, ty) {
                (
                    Transformer::ToLower
                    | Transformer::ToUpper
                    | Transformer::B64
                    | Transformer::Basename,
                    FieldType::Str | FieldType::Bytes,
                ) => ty,
                (Transformer::Len, FieldType::Str | FieldType::Bytes) => FieldType::Num,
                (Transformer::Join | Transformer::Concat | Transformer::Getopt, _) => {
                    return Err(FilterError::at(
                        *span,
                        format!("{}() is not supported", transformer.as_str()),
                    ));
                }
                _ => {
                    return Err(FilterError::at(
                        *span,
                        format!(
                            "{}() applies to strings, not {}",
                            transformer.as_str(),
                            ty.as_str()
                        ),
                    ));
                }
            };
            Ok((Side::Transform(*transformer, Box::new(inner)), out))
        }
    }
}

fn op_allowed(op: Op, ty: FieldType) -> bool {
    use Op::*;
    match ty {
        FieldType::Num => matches!(op, Eq | Ne | Lt | Le | Gt | Ge | In | Intersects | Exists),
        FieldType::Bool => matches!(op, Eq | Ne | In | Exists),
        FieldType::Ip => matches!(op, Eq | Ne | In | Intersects | Exists),
        FieldType::Str => !matches!(op, BContains | BStartsWith),
        FieldType::Bytes => matches!(
            op,
            Eq | Ne
                | Contains
                | IContains
                | BContains
                | StartsWith
                | BStartsWith
                | EndsWith
                | In
                | Exists
        ),
    }
}

/// A relative time with a unit (`1.5ms`, `2s`, `10m`) in nanoseconds.
fn parse_duration(text: &str) -> Option<i128> {
    let units: [(&str, f64); 6] = [
        ("ns", 1.0),
        ("us", 1e3),
        ("ms", 1e6),
        ("s", 1e9),
        ("m", 60e9),
        ("h", 3600e9),
    ];
    let (number, scale) = units
        .iter()
        .find_map(|&(unit, scale)| text.strip_suffix(unit).map(|n| (n, scale)))?;
    let value = number.parse::<f64>().ok()? * scale;
    value.is_finite().then_some(value as i128)
}

fn parse_num(lit: &Literal) -> Result<i128, FilterError> {
    let text = lit.text.trim();
    if let Some(ns) = parse_duration(text) {
        return Ok(ns);
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => i128::from_str_radix(hex, 16),
        None => digits.parse::<i128>(),
    }
    .map_err(|_| FilterError::at(lit.span, format!("'{}' is not a valid number", lit.text)))?;
    Ok(if negative { -value } else { value })
}

/// Well-known service names accepted where a port is expected.
fn service_port(name: &str) -> Option<i128> {
    Some(match name {
        "ftp" => 21,
        "ssh" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "domain" | "dns" => 53,
        "http" => 80,
        "pop3" => 110,
        "ntp" => 123,
        "imap" => 143,
        "ldap" => 389,
        "https" => 443,
        "smtps" => 465,
        "submission" => 587,
        "imaps" => 993,
        "pop3s" => 995,
        "mysql" => 3306,
        "rdp" => 3389,
        "postgresql" | "postgres" => 5432,
        "redis" => 6379,
        _ => return None,
    })
}

fn parse_net(lit: &Literal) -> Result<(IpAddr, u8), FilterError> {
    let bad = || {
        FilterError::at(
            lit.span,
            format!("'{}' is not an IP address or network", lit.text),
        )
    };
    let (addr, len) = match lit.text.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (lit.text.as_str(), None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(len) => len
            .parse::<u8>()
            .ok()
            .filter(|&l| l <= max)
            .ok_or_else(bad)?,
        None => max,
    };
    Ok((ip, len))
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

fn hex(lit: &Literal) -> Result<Vec<u8>, FilterError> {
    let text = lit.text.as_bytes();
    let bad = || {
        FilterError::at(
            lit.span,
            format!(
                "'{}' is not a hex string (bcontains and bstartswith take hex: 474554)",
                lit.text
            ),
        )
    };
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    text.chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

/// Translates an fnmatch pattern (`*`, `?`, `[…]`; `*` crosses `/`) into an
/// anchored regular expression.
fn glob_regex(pattern: &[u8], fold: bool) -> Option<Regex> {
    let mut re = String::from(if fold { "(?is-u)^" } else { "(?s-u)^" });
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' => re.push_str(".*"),
            b'?' => re.push('.'),
            b'[' => {
                let close = pattern[i + 1..]
                    .iter()
                    .skip(1)
                    .position(|&b| b == b']')
                    .map(|p| p + i + 2)?;
                let mut class = &pattern[i + 1..close];
                re.push('[');
                if let Some(rest) = class.strip_prefix(b"!") {
                    re.push('^');
                    class = rest;
                }
                for &b in class {
                    if b == b'\\' || b == b'[' || b == b']' || b == b'^' || b == b'&' || b == b'~' {
                        re.push('\\');
                    }
                    if b == b'-' || b.is_ascii_alphanumeric() {
                        re.push(b as char);
                    } else {
                        re.push_str(&format!("\\x{b:02x}"));
                    }
                }
                re.push(']');
                i = close;
            }
            b => re.push_str(&format!("\\x{b:02x}")),
        }
        i += 1;
    }
    re.push('$');
    Regex::new(&re).ok()
}

fn compile_compare(compare: &Compare, cx: &mut Compiler<'_>) -> Result<Node, FilterError> {
    let catalog = cx.catalog;
    let (left, ty) = compile_side(&compare.left, cx)?;
    let op = compare.op;
    if !op_allowed(op, ty) {
        return Err(FilterError::at(
            compare.op_span,
            format!(
                "'{}' is not supported for {} fields",
                op.as_str(),
                ty.as_str()
            ),
        ));
    }
    // evt.type against names: a bitmap of the matching type ids, checked
    // against the file's table so that a typo is an error, not no match.
    if let Side::Field(field) = &left
        && field.is_event_type()
        && matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects)
    {
        let names: Vec<&Literal> = match &compare.right {
            Rhs::Value(lit) => vec![lit],
            Rhs::List { items, .. } => items.iter().collect(),
            _ => Vec::new(),
        };
        if !names.is_empty() || matches!(compare.right, Rhs::List { .. }) {
            let mut bitmap = vec![false; catalog.types.len()];
            for lit in names {
                let ids = catalog.types.ids_named(&lit.text);
                if ids.is_empty() {
                    return Err(FilterError::at(
                        lit.span,
                        format!("unknown event type '{}'", lit.text),
                    ));
                }
                for id in ids {
                    bitmap[usize::from(id)] = true;
                }
            }
            let node = Node::TypeIn(bitmap);
            return Ok(if op == Op::Ne {
                Node::Not(Box::new(node))
            } else {
                node
            });
        }
    }
    // evt.dir against '<' or '>': the types of that direction, so that
    // `evt.dir=<` costs nothing and `evt.type=open and evt.dir=>` is known
    // to match nothing.
    if let Side::Field(field) = &left
        && field.is_event_dir()
        && matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects)
    {
        let values: Vec<&Literal> = match &compare.right {
            Rhs::Value(lit) => vec![lit],
            Rhs::List { items, .. } => items.iter().collect(),
            _ => Vec::new(),
        };
        if !values.is_empty() || matches!(compare.right, Rhs::List { .. }) {
            let mut wanted = (false, false);
            for lit in values {
                match lit.text.as_str() {
                    "<" => wanted.0 = true,
                    ">" => {
                        wanted.1 = true;
                        if op != Op::Ne {
                            cx.warnings.push(FilterWarning {
                                span: lit.span,
                                message: ENTER_WARNING.to_owned(),
                            });
                        }
                    }
                    other => {
                        return Err(FilterError::at(
                            lit.span,
                            format!(
                                "'{other}' is not a direction: evt.dir is '<' (syscalls, recorded at exit) or '>' (procexit)"
                            ),
                        ));
                    }
                }
            }
            let bitmap = catalog.types.bitmap(|info| {
                let exit = fields::direction(info) == b"<";
                if exit { wanted.0 } else { wanted.1 }
            });
            let node = Node::TypeIn(bitmap);
            return Ok(if op == Op::Ne {
                Node::Not(Box::new(node))
            } else {
                node
            });
        }
    }
    let is_port = matches!(&left, Side::Field(f) if f.def().name.ends_with("port"));
    let num = |lit: &Literal| -> Result<i128, FilterError> {
        match (is_port, service_port(&lit.text)) {
            (true, Some(port)) => Ok(port),
            (true, None) => match parse_num(lit) {
                Ok(port) if (0..=i128::from(u16::MAX)).contains(&port) => Ok(port),
                _ => Err(FilterError::at(
                    lit.span,
                    format!(
                        "'{}' is not a port: expected a number from 0 to 65535 or a service name (ssh, http…)",
                        lit.text
                    ),
                )),
            },
            _ => parse_num(lit),
        }
    };
    let boolean = |lit: &Literal| match lit.text.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(FilterError::at(
            lit.span,
            format!("'{other}' is not a boolean (true or false)"),
        )),
    };
    let single = |right: &Rhs| -> Result<Literal, FilterError> {
        match right {
            Rhs::Value(lit) => Ok(lit.clone()),
            _ => Err(FilterError::at(
                compare.span,
                format!("'{}' takes one value", op.as_str()),
            )),
        }
    };
    let list = |right: &Rhs| -> Result<Vec<Literal>, FilterError> {
        match right {
            Rhs::List { items, .. } => Ok(items.clone()),
            Rhs::Value(lit) => Ok(vec![lit.clone()]),
            Rhs::ListRef { name, span } => {
                Err(FilterError::at(*span, format!("unknown list '{name}'")))
            }
            _ => Err(FilterError::at(
                compare.span,
                format!("'{}' takes a list", op.as_str()),
            )),
        }
    };
    let dynamic = matches!(&left, Side::Field(f) if f.def().name == "evt.rawarg");
    let rhs = match (&compare.right, op) {
        (_, Op::Exists) => Prepared::None,
        (Rhs::Value(lit), Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge) if dynamic => {
            Prepared::Dyn(parse_num(lit).ok(), lit.text.as_bytes().to_vec())
        }
        (right, Op::In | Op::Intersects) if dynamic => {
            let items = list(right)?;
            Prepared::DynSet(
                items.iter().filter_map(|l| parse_num(l).ok()).collect(),
                items.iter().map(|l| l.text.as_bytes().to_vec()).collect(),
            )
        }
        (Rhs::Field(other), _) => {
            let (side, other_ty) = compile_side(other, cx)?;
            if other_ty != ty
                && !(matches!(other_ty, FieldType::Str | FieldType::Bytes)
                    && matches!(ty, FieldType::Str | FieldType::Bytes))
            {
                return Err(FilterError::at(
                    compare.span,
                    format!(
                        "cannot compare a {} field with a {} field",
                        ty.as_str(),
                        other_ty.as_str()
                    ),
                ));
            }
            Prepared::Field(side)
        }
        (right, Op::In | Op::Intersects) => {
            let items = list(right)?;
            match ty {
                FieldType::Num => {
                    Prepared::NumSet(items.iter().map(num).collect::<Result<_, _>>()?)
                }
                FieldType::Bool => Prepared::NumSet(
                    items
                        .iter()
                        .map(|l| boolean(l).map(i128::from))
                        .collect::<Result<_, _>>()?,
                ),
                FieldType::Ip => {
                    Prepared::Nets(items.iter().map(parse_net).collect::<Result<_, _>>()?)
                }
                FieldType::Str | FieldType::Bytes => {
                    Prepared::BytesSet(items.iter().map(|l| l.text.as_bytes().to_vec()).collect())
                }
            }
        }
        (right, Op::PMatch) => Prepared::Prefixes(
            list(right)?
                .iter()
                .map(|l| l.text.trim_end_matches('/').as_bytes().to_vec())
                .collect(),
        ),
        (right, _) => {
            let lit = single(right)?;
            match (ty, op) {
                (FieldType::Num, _) => Prepared::Num(num(&lit)?),
                (FieldType::Bool, _) => Prepared::Bool(boolean(&lit)?),
                (FieldType::Ip, _) => Prepared::Nets(vec![parse_net(&lit)?]),
                (_, Op::BContains) => {
                    Prepared::Contains(Box::new(memmem::Finder::new(&hex(&lit)?).into_owned()))
                }
                (_, Op::Contains) => Prepared::Contains(Box::new(
                    memmem::Finder::new(lit.text.as_bytes()).into_owned(),
                )),
                (_, Op::BStartsWith) => Prepared::Bytes(hex(&lit)?),
                (_, Op::IContains) => Prepared::Lower(lit.text.to_ascii_lowercase().into_bytes()),
                (_, Op::Regex) => {
                    Prepared::Regex(Regex::new(&format!("^(?:{})$", lit.text)).map_err(|e| {
                        FilterError::at(lit.span, format!("bad regular expression: {e}"))
                    })?)
                }
                (_, Op::Glob | Op::IGlob) => {
                    Prepared::Regex(glob_regex(lit.text.as_bytes(), op == Op::IGlob).ok_or_else(
                        || FilterError::at(lit.span, format!("bad glob pattern '{}'", lit.text)),
                    )?)
                }
                _ => Prepared::Bytes(lit.text.into_bytes()),
            }
        }
    };
    // Numbers, flags and borrowed text compared with a constant skip the
    // general path: no `Value` is built and nothing is allocated.
    let constant = cx.fast
        && !matches!(
            rhs,
            Prepared::Field(_) | Prepared::Dyn(..) | Prepared::DynSet(..)
        );
    let left = match left {
        Side::Field(field)
            if constant && field.shape() != Shape::Other && !field.is_any_ancestor() =>
        {
            let check = FastCheck::new(field, op, rhs);
            // Decided by the event type alone: one bitmap lookup, which
            // also tells which types the filter can match at all.
            if let Some(bitmap) = check.by_type(catalog.types) {
                return Ok(Node::TypeIn(bitmap));
            }
            return Ok(Node::Fast(Box::new(check)));
        }
        other => other,
    };
    Ok(Node::Check(Box::new(Check { left, op, rhs })))
}

fn transform<'a>(transformer: Transformer, value: Value<'a>) -> Option<Value<'a>> {
    let bytes = value.as_bytes()?;
    Some(match transformer {
        Transformer::ToLower => Value::Str(Cow::Owned(bytes.to_ascii_lowercase())),
        Transformer::ToUpper => Value::Str(Cow::Owned(bytes.to_ascii_uppercase())),
        Transformer::Basename => {
            let start = bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
            Value::Str(Cow::Owned(bytes[start..].to_vec()))
        }
        Transformer::Len => Value::Num(bytes.len() as i128),
        Transformer::B64 => Value::Str(Cow::Owned(base64_decode(bytes)?)),
        Transformer::Join | Transformer::Concat | Transformer::Getopt => return None,
    })
}

fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let digit = |b: u8| -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let text: Vec<u8> = text
        .iter()
        .copied()
        .filter(|&b| b != b'=' && !b.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for group in text.chunks(4) {
        let mut acc = 0u32;
        for (i, &b) in group.iter().enumerate() {
            acc |= digit(b)? << (18 - 6 * i);
        }
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..group.len().saturating_sub(1)]);
    }
    Some(out)
}

#[inline]
fn extract<'a>(side: &Side, ctx: &Ctx<'a>) -> Option<Value<'a>> {
    match side {
        Side::Field(field) => field.extract(ctx),
        Side::Transform(transformer, inner) => transform(*transformer, extract(inner, ctx)?),
    }
}

#[inline]
fn eval(node: &Node, ctx: &Ctx<'_>) -> bool {
    match node {
        Node::Fast(check) => check.eval(ctx),
        Node::TypeIn(bitmap) => bitmap
            .get(usize::from(ctx.event.event_type()))
            .copied()
            .unwrap_or(false),
        Node::Check(check) => check.eval(ctx),
        Node::Remembered(part) => part.eval(ctx),
        Node::And(_) | Node::Or(_) | Node::Not(_) => eval_compound(node, ctx),
    }
}

impl Remembered {
    #[inline(never)]
    fn eval(&self, ctx: &Ctx<'_>) -> bool {
        let Some(process) = ctx.process_ref() else {
            return eval(&self.inner, ctx);
        };
        let memo: &Memo = process.memo();
        let word = memo.get();
        let ours = word & !u64::from(u32::MAX) == self.tag;
        if ours {
            let bits = word >> self.shift;
            if bits & 2 != 0 {
                return bits & 1 != 0;
            }
        }
        let result = eval(&self.inner, ctx);
        let base = if ours { word } else { self.tag };
        memo.set(base | (2 | u64::from(result)) << self.shift);
        result
    }
}

/// `and`, `or` and `not`, apart from the leaves so that reaching a leaf
/// costs no more than a call.
#[inline(never)]
fn eval_compound(node: &Node, ctx: &Ctx<'_>) -> bool {
    match node {
        Node::And(items) => items.iter().all(|n| eval(n, ctx)),
        Node::Or(items) => items.iter().any(|n| eval(n, ctx)),
        Node::Not(inner) => !eval(inner, ctx),
        leaf => eval(leaf, ctx),
    }
}

impl FastCheck {
    #[inline(always)]
    fn eval(&self, ctx: &Ctx<'_>) -> bool {
        let field = &self.field;
        match &self.test {
            FastTest::NumWithin(lo, hi) => field.num(ctx).is_some_and(|v| *lo <= v && v <= *hi),
            FastTest::NumOther(n) => field.num(ctx).is_some_and(|v| v != *n),
            FastTest::FlagIs(expected) => field.flag(ctx) == Some(*expected),
            FastTest::FdKinds(passing) => ctx
                .fd()
                .is_some_and(|fd| passing >> fd.kind.code() & 1 != 0),
            FastTest::Prefix(prefix) => self.text(ctx).is_some_and(|v| prefix.begins(v)),
            FastTest::Equal(text) => self.text(ctx).is_some_and(|v| v == &**text),
            FastTest::Unequal(text) => self.text(ctx).is_some_and(|v| v != &**text),
            FastTest::General => self.eval_general(ctx),
        }
    }

    /// The field's text.
    #[inline]
    fn text<'a>(&self, ctx: &Ctx<'a>) -> Option<&'a [u8]> {
        if self.fd_name {
            ctx.fd().map(|fd| fd.name.as_slice())
        } else {
            self.field.text(ctx)
        }
    }

    /// The comparisons [`FastTest`] has no shortcut for.
    #[inline(never)]
    fn eval_general(&self, ctx: &Ctx<'_>) -> bool {
        let (field, op, rhs) = (&self.field, self.op, &self.rhs);
        match field.shape() {
            Shape::Num => field.num(ctx).is_some_and(|v| num_matches(v, op, rhs)),
            Shape::Flag => field.flag(ctx).is_some_and(|v| flag_matches(v, op, rhs)),
            Shape::Text => field.text(ctx).is_some_and(|v| bytes_match(v, op, rhs)),
            Shape::Other => false,
        }
    }
}

impl Check {
    #[inline(never)]
    fn eval(&self, ctx: &Ctx<'_>) -> bool {
        if let Side::Field(field) = &self.left
            && field.is_any_ancestor()
        {
            return field
                .extract_ancestors(ctx)
                .iter()
                .any(|value| compare(value, self, ctx));
        }
        match extract(&self.left, ctx) {
            Some(value) => compare(&value, self, ctx),
            None => false,
        }
    }
}

/// A number against a constant right-hand side.
#[inline]
fn num_matches(v: impl Into<i128>, op: Op, rhs: &Prepared) -> bool {
    let v: i128 = v.into();
    match rhs {
        Prepared::None => true,
        Prepared::Num(n) => ordered(op, v.cmp(n)),
        Prepared::NumSet(set) => set.contains(&v),
        _ => false,
    }
}

/// A flag against a constant right-hand side.
#[inline]
fn flag_matches(v: bool, op: Op, rhs: &Prepared) -> bool {
    match rhs {
        Prepared::None => true,
        Prepared::Bool(b) => (v == *b) != (op == Op::Ne),
        Prepared::NumSet(set) => set.contains(&i128::from(v)),
        _ => false,
    }
}

/// Text or bytes against a constant right-hand side.
#[inline]
fn bytes_match(v: &[u8], op: Op, rhs: &Prepared) -> bool {
    use Op::*;
    match rhs {
        Prepared::None => true,
        Prepared::Bytes(text) => match op {
            StartsWith | BStartsWith => has_prefix(v, text),
            EndsWith => v.ends_with(text),
            Contains | BContains => contains(v, text),
            _ => ordered(op, v.cmp(text.as_slice())),
        },
        Prepared::Contains(finder) => finder.find(v).is_some(),
        Prepared::Lower(needle) => contains_ignoring_case(v, needle),
        Prepared::BytesSet(set) => set.contains(v),
        Prepared::Prefixes(prefixes) => prefixes.iter().any(|p| {
            v.starts_with(p) && (v.len() == p.len() || v[p.len()] == b'/' || p.is_empty())
        }),
        Prepared::Regex(re) => re.is_match(v),
        _ => false,
    }
}

fn compare(value: &Value<'_>, check: &Check, ctx: &Ctx<'_>) -> bool {
    use Op::*;
    let op = check.op;
    match (&check.rhs, value) {
        (Prepared::Nets(nets), Value::Ip(ip)) => {
            let hit = nets.iter().any(|&(net, len)| in_net(*ip, net, len));
            if op == Ne { !hit } else { hit }
        }
        (Prepared::Dyn(number, text), value) => match value {
            Value::Num(v) => number.is_some_and(|n| ordered(op, v.cmp(&n))),
            other => other
                .as_bytes()
                .is_some_and(|v| ordered(op, v.cmp(text.as_slice()))),
        },
        (Prepared::DynSet(numbers, texts), value) => match value {
            Value::Num(v) => numbers.contains(v),
            other => other.as_bytes().is_some_and(|v| texts.contains(v)),
        },
        (Prepared::Field(other), value) => match extract(other, ctx) {
            Some(other) => match (value, &other) {
                (Value::Num(a), Value::Num(b)) => ordered(op, a.cmp(b)),
                (Value::Ip(a), Value::Ip(b)) => {
                    if op == Ne {
                        a != b
                    } else {
                        a == b
                    }
                }
                (Value::Bool(a), Value::Bool(b)) => {
                    if op == Ne {
                        a != b
                    } else {
                        a == b
                    }
                }
                _ => match (value.as_bytes(), other.as_bytes()) {
                    (Some(a), Some(b)) => match op {
                        Contains | BContains => contains(a, b),
                        IContains => contains_ignoring_case(a, &b.to_ascii_lowercase()),
                        StartsWith | BStartsWith => a.starts_with(b),
                        EndsWith => a.ends_with(b),
                        _ => ordered(op, a.cmp(b)),
                    },
                    _ => false,
                },
            },
            None => false,
        },
        (rhs, Value::Num(v)) => num_matches(*v, op, rhs),
        (rhs, Value::Bool(v)) => flag_matches(*v, op, rhs),
        (rhs, Value::Str(v)) => bytes_match(v, op, rhs),
        (rhs, Value::Bytes(v)) => bytes_match(v, op, rhs),
        (rhs, Value::Ip(_)) => matches!(rhs, Prepared::None),
    }
}

fn ordered(op: Op, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        Op::Ne => ordering != Equal,
        Op::Lt => ordering == Less,
        Op::Le => ordering != Greater,
        Op::Gt => ordering == Greater,
        Op::Ge => ordering != Less,
        _ => ordering == Equal,
    }
}

/// `v.starts_with(prefix)`, byte by byte: prefixes in filters are short,
/// shorter than the call to `memcmp` the library function makes.
#[inline]
fn has_prefix(v: &[u8], prefix: &[u8]) -> bool {
    v.len() >= prefix.len() && v.iter().zip(prefix).all(|(a, b)| a == b)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || memmem::find(haystack, needle).is_some()
}

/// Whether `haystack` contains `lower` (in ASCII lower case) in any case.
fn contains_ignoring_case(haystack: &[u8], lower: &[u8]) -> bool {
    lower.is_empty()
        || haystack
            .windows(lower.len())
            .any(|window| window.eq_ignore_ascii_case(lower))
}

/// Rough cost of evaluating a node, in arbitrary units: the event header is
/// cheapest, then the process (one lookup), then the fd (parameter decoding
/// and two lookups), then text rendering and pattern matching.
fn cost(node: &Node) -> u32 {
    match node {
        Node::TypeIn(_) => 1,
        Node::Not(inner) => cost(inner),
        Node::And(items) | Node::Or(items) => items.iter().map(cost).sum(),
        Node::Fast(check) => field_cost(&check.field) + rhs_cost(&check.rhs),
        Node::Check(check) => side_cost(&check.left) + rhs_cost(&check.rhs),
        // The process is looked up, then one word read.
        Node::Remembered(_) => 4,
    }
}

fn rhs_cost(rhs: &Prepared) -> u32 {
    match rhs {
        Prepared::Regex(_) => 20,
        Prepared::Lower(_) => 10,
        Prepared::Field(other) => side_cost(other),
        _ => 1,
    }
}

fn side_cost(side: &Side) -> u32 {
    match side {
        Side::Transform(_, inner) => side_cost(inner) + 5,
        Side::Field(field) => field_cost(field),
    }
}

fn field_cost(field: &Field) -> u32 {
    let name = field.def().name;
    if matches!(
        name,
        "evt.args" | "evt.info" | "evt.arg" | "evt.time" | "evt.datetime"
    ) {
        30
    } else if name.starts_with("fd.") || name.starts_with("fs.") || name == "evt.category" {
        8
    } else if field.is_any_ancestor() || name.starts_with("proc.a") || name.starts_with("proc.p") {
        12
    } else if field.needs_state() {
        5
    } else if name == "evt.buffer" || name == "evt.rawarg" {
        4
    } else {
        2
    }
}

/// A guess, in percent, of how often a node is true: equality tests are
/// selective, `exists` and `!=` rarely are.
fn pass_percent(node: &Node) -> u32 {
    match node {
        Node::TypeIn(_) => 10,
        Node::Not(inner) => 100 - pass_percent(inner),
        Node::And(items) => items.iter().map(pass_percent).min().unwrap_or(100),
        Node::Or(items) => items.iter().map(pass_percent).max().unwrap_or(0),
        Node::Fast(check) => op_pass_percent(check.op),
        Node::Check(check) => op_pass_percent(check.op),
        Node::Remembered(part) => pass_percent(&part.inner),
    }
}

fn op_pass_percent(op: Op) -> u32 {
    match op {
        Op::Exists | Op::Ne => 90,
        Op::Lt | Op::Le | Op::Gt | Op::Ge => 50,
        _ => 10,
    }
}

/// Orders the operands of every `and` by cost per event rejected (and of
/// every `or` by cost per event accepted), so evaluation short-circuits as
/// cheaply as it can. Operands have no side effects, so order does not
/// change the result.
fn cheapest_first(node: &mut Node) {
    match node {
        Node::And(items) => {
            items.iter_mut().for_each(cheapest_first);
            items.sort_by_key(|n| cost(n) * 100 / (100 - pass_percent(n)).max(1));
        }
        Node::Or(items) => {
            items.iter_mut().for_each(cheapest_first);
            items.sort_by_key(|n| cost(n) * 100 / pass_percent(n).max(1));
        }
        Node::Not(inner) => cheapest_first(inner),
        Node::Remembered(part) => cheapest_first(&mut part.inner),
        Node::TypeIn(_) | Node::Fast(_) | Node::Check(_) => {}
    }
}

/// Wraps the largest parts of `node` that read nothing but the event's
/// process (and read it: `proc.pid` alone is in the event) into
/// [`Remembered`] nodes, numbering them from `next`.
fn remember(node: Node, tag: u64, next: &mut u32) -> Node {
    if *next >= REMEMBERED_PARTS {
        return node;
    }
    if only_process(&node) && reads_process(&node) {
        let shift = 2 * *next;
        *next += 1;
        return Node::Remembered(Box::new(Remembered {
            tag,
            shift,
            inner: node,
        }));
    }
    let on_process = |n: &Node| only_process(n) && reads_process(n);
    match node {
        // The conjuncts on the process alone are remembered as one part:
        // one word read for all of them.
        Node::And(items) if items.iter().filter(|n| on_process(n)).count() > 1 => {
            let (process, rest): (Vec<Node>, Vec<Node>) = items.into_iter().partition(on_process);
            let mut items = vec![remember(Node::And(process), tag, next)];
            items.extend(rest.into_iter().map(|n| remember(n, tag, next)));
            Node::And(items)
        }
        Node::And(items) => Node::And(items.into_iter().map(|n| remember(n, tag, next)).collect()),
        Node::Or(items) => Node::Or(items.into_iter().map(|n| remember(n, tag, next)).collect()),
        Node::Not(inner) => Node::Not(Box::new(remember(*inner, tag, next))),
        leaf => leaf,
    }
}

/// Whether every field `node` reads depends on the event's process alone.
fn only_process(node: &Node) -> bool {
    only_reading(node, Field::reads_only_its_process)
}

/// Whether every field `node` reads is one `reads` accepts: `node` then
/// gives the same answer for every event those fields read alike. Type
/// tests and remembered parts read more.
fn only_reading(node: &Node, reads: fn(&Field) -> bool) -> bool {
    let side = |side: &Side| reads(base_field(side));
    match node {
        Node::And(items) | Node::Or(items) => items.iter().all(|n| only_reading(n, reads)),
        Node::Not(inner) => only_reading(inner, reads),
        Node::TypeIn(_) => false,
        Node::Fast(check) => reads(&check.field),
        Node::Check(check) => {
            side(&check.left)
                && match &check.rhs {
                    Prepared::Field(other) => side(other),
                    _ => true,
                }
        }
        Node::Remembered(_) => false,
    }
}

/// Whether `node` reads the process record (not only `proc.pid`).
fn reads_process(node: &Node) -> bool {
    let side = |side: &Side| base_field(side).needs_state();
    match node {
        Node::And(items) | Node::Or(items) => items.iter().any(reads_process),
        Node::Not(inner) => reads_process(inner),
        Node::TypeIn(_) | Node::Remembered(_) => false,
        Node::Fast(check) => check.field.needs_state(),
        Node::Check(check) => {
            side(&check.left) || matches!(&check.rhs, Prepared::Field(other) if side(other))
        }
    }
}

/// The field under a side's transformers.
fn base_field(side: &Side) -> &Field {
    match side {
        Side::Field(field) => field,
        Side::Transform(_, inner) => base_field(inner),
    }
}

/// A superset of the event types `node` can match, `None` for any: from
/// `evt.type` tests, and from the fields compared, which exist only for
/// some types (`fd.name` for events with an fd, `evt.buflen` for I/O).
fn possible_types(node: &Node, types: &TypeTable) -> Option<Vec<bool>> {
    let both = |a: Vec<bool>, b: Vec<bool>| a.iter().zip(&b).map(|(&x, &y)| x && y).collect();
    match node {
        Node::TypeIn(bitmap) => Some(bitmap.clone()),
        Node::Not(inner) => match inner.as_ref() {
            Node::TypeIn(bitmap) => Some(bitmap.iter().map(|&t| !t).collect()),
            _ => None,
        },
        Node::And(items) => items
            .iter()
            .filter_map(|n| possible_types(n, types))
            .reduce(both),
        Node::Or(items) => items
            .iter()
            .map(|n| possible_types(n, types))
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .reduce(|a, b| a.iter().zip(&b).map(|(&x, &y)| x || y).collect()),
        Node::Fast(check) => check.field.present_types(types),
        Node::Remembered(part) => possible_types(&part.inner, types),
        Node::Check(check) => {
            let left = side_types(&check.left, types);
            let right = match &check.rhs {
                Prepared::Field(other) => side_types(other, types),
                _ => None,
            };
            match (left, right) {
                (Some(a), Some(b)) => Some(both(a, b)),
                (a, b) => a.or(b),
            }
        }
    }
}

/// The event types for which a side of a comparison has a value.
fn side_types(side: &Side, types: &TypeTable) -> Option<Vec<bool>> {
    match side {
        Side::Field(field) if field.is_any_ancestor() => None,
        Side::Field(field) => field.present_types(types),
        Side::Transform(_, inner) => side_types(inner, types),
    }
}

/// The tgids `node` can match only within: one conjunct that pins them is
/// enough, alternatives pin the union of theirs.
fn pinned_tgids(node: &Node) -> Option<Vec<u32>> {
    let field_tgids = |field: &Field, op: Op, rhs: &Prepared| match (op, rhs) {
        (Op::Eq, Prepared::Num(pid)) if field.is_pid() => Some(vec![u32::try_from(*pid).ok()?]),
        (Op::In | Op::Intersects, Prepared::NumSet(pids)) if field.is_pid() => {
            pids.iter().map(|&pid| u32::try_from(pid).ok()).collect()
        }
        _ => None,
    };
    match node {
        Node::And(items) => items.iter().find_map(pinned_tgids),
        Node::Or(items) => items.iter().try_fold(Vec::new(), |mut all, item| {
            all.extend(pinned_tgids(item)?);
            Some(all)
        }),
        Node::Not(_) | Node::TypeIn(_) => None,
        Node::Remembered(part) => pinned_tgids(&part.inner),
        Node::Fast(check) => field_tgids(&check.field, check.op, &check.rhs),
        Node::Check(check) => match &check.left {
            Side::Field(field) => field_tgids(field, check.op, &check.rhs),
            Side::Transform(..) => None,
        },
    }
}

fn may_match(node: &Node, summary: &ChunkSummary) -> bool {
    match node {
        Node::And(items) => items.iter().all(|n| may_match(n, summary)),
        Node::Or(items) => items.iter().any(|n| may_match(n, summary)),
        Node::Not(_) => true,
        Node::TypeIn(bitmap) => summary
            .types
            .iter()
            .any(|&(t, _)| bitmap.get(usize::from(t)).copied().unwrap_or(false)),
        Node::Fast(check) => field_may_match(&check.field, check.op, &check.rhs, summary),
        Node::Remembered(part) => may_match(&part.inner, summary),
        Node::Check(check) => match &check.left {
            Side::Field(field) => field_may_match(field, check.op, &check.rhs, summary),
            Side::Transform(..) => true,
        },
    }
}

/// Whether a chunk may hold an event whose `field` satisfies `op rhs`.
fn field_may_match(field: &Field, op: Op, rhs: &Prepared, summary: &ChunkSummary) -> bool {
    match (op, rhs) {
        (Op::Eq, Prepared::Num(pid)) if field.is_pid() => {
            u32::try_from(*pid).is_ok_and(|pid| summary.may_contain_tgid(pid))
        }
        (Op::In | Op::Intersects, Prepared::NumSet(pids)) if field.is_pid() => pids
            .iter()
            .any(|&pid| u32::try_from(pid).is_ok_and(|pid| summary.may_contain_tgid(pid))),
        (Op::Eq, Prepared::Bytes(id)) if field.is_container_id() => {
            std::str::from_utf8(id).is_ok_and(|id| summary.may_contain_container(id))
        }
        (Op::In | Op::Intersects, Prepared::BytesSet(ids)) if field.is_container_id() => ids
            .iter()
            .any(|id| std::str::from_utf8(id).is_ok_and(|id| summary.may_contain_container(id))),
        (op, rhs) => {
            let (from, to) = (summary.min_ts, summary.max_ts);
            match (
                field.time_value(from, from, to),
                field.time_value(to, from, to),
            ) {
                (Some(first), Some(last)) => time_range_may_match(&first, &last, op, rhs),
                _ => true,
            }
        }
    }
}

/// Whether a time field whose values in a chunk run from `first` to `last`
/// (in order) may satisfy `op rhs` for one of them.
fn time_range_may_match(first: &Value<'_>, last: &Value<'_>, op: Op, rhs: &Prepared) -> bool {
    use std::cmp::Ordering::{self, *};
    // Where a value lies against one of the chunk's ends.
    let against = |end: &Value<'_>, num: Option<i128>, text: Option<&[u8]>| -> Option<Ordering> {
        match (end, num, text) {
            (Value::Num(v), Some(n), _) => Some(v.cmp(&n)),
            (Value::Str(v), _, Some(t)) => Some(v.as_ref().cmp(t)),
            _ => None,
        }
    };
    // A value `rhs` may equal one in the chunk when first <= rhs <= last.
    let inside = |num: Option<i128>, text: Option<&[u8]>| match (
        against(first, num, text),
        against(last, num, text),
    ) {
        (Some(low), Some(high)) => low != Greater && high != Less,
        _ => true,
    };
    let (num, text): (Option<i128>, Option<&[u8]>) = match rhs {
        Prepared::Num(n) => (Some(*n), None),
        Prepared::Bytes(t) => (None, Some(t)),
        Prepared::NumSet(set) if op == Op::In => return set.iter().any(|&n| inside(Some(n), None)),
        Prepared::BytesSet(set) if op == Op::In => {
            return set.iter().any(|t| inside(None, Some(t)));
        }
        _ => return true,
    };
    match op {
        Op::Eq | Op::In => inside(num, text),
        // The later values are the larger ones.
        Op::Gt => against(last, num, text).is_none_or(|o| o == Greater),
        Op::Ge => against(last, num, text).is_none_or(|o| o != Less),
        Op::Lt => against(first, num, text).is_none_or(|o| o == Less),
        Op::Le => against(first, num, text).is_none_or(|o| o != Greater),
        // Values with a prefix form one run in text order: the chunk can
        // hold one unless it ends before the prefix or starts past the run.
        Op::StartsWith => match (first, last, text) {
            (Value::Str(low), Value::Str(high), Some(prefix)) => {
                high.as_ref() >= prefix && (low.as_ref() <= prefix || low.starts_with(prefix))
            }
            _ => true,
        },
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::ops::ControlFlow;
    use std::path::Path;

    use scry_format::TraceFile;

    use super::*;
    use crate::fields::{ArgKind, FIELDS};
    use crate::query::{Prepared as Tables, Scan, scan};

    fn samples() -> Vec<TraceFile<Vec<u8>>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
        ["workload.scry", "incident.scry"]
            .iter()
            .map(|name| TraceFile::open(std::fs::read(dir.join(name)).unwrap()).unwrap())
            .collect()
    }

    /// Every field as a filter names it, with an argument where it needs one.
    fn field_names() -> Vec<String> {
        FIELDS
            .iter()
            .flat_map(|def| match def.arg {
                ArgKind::None => vec![def.name.to_owned()],
                ArgKind::Ancestor => vec![format!("{}[1]", def.name), format!("{}[2]", def.name)],
                ArgKind::EventType => vec![format!("{}.openat", def.name)],
                ArgKind::Param => vec![format!("{}.fd", def.name), format!("{}[1]", def.name)],
            })
            .collect()
    }

    /// Every event of `trace`, with the state, handed to `visit`.
    fn each_event(trace: &TraceFile<Vec<u8>>, tables: &Tables, mut visit: impl FnMut(&Ctx<'_>)) {
        let options = Scan {
            caller_needs_state: true,
            threads: 1,
            ..Scan::default()
        };
        let flow = scan(
            trace,
            tables,
            &options,
            |e| panic!("{e}"),
            |ctx| {
                visit(ctx);
                ControlFlow::<()>::Continue(())
            },
        );
        assert!(flow.unwrap().is_continue());
    }

    /// Every field of the catalog, resolved against the trace's tables.
    fn every_field(catalog: Catalog<'_>) -> Vec<Field> {
        field_names()
            .iter()
            .map(|name| catalog.field(name).unwrap())
            .collect()
    }

    /// A label said to follow from a key has one value per value of the
    /// key over every sample: a summary may read it once per row.
    #[test]
    fn fields_that_follow_from_a_key_have_one_value_per_key() {
        let mut pairs_seen = 0;
        for trace in samples() {
            let tables = Tables::new(&trace);
            let catalog = tables.catalog(&trace);
            let fields = every_field(catalog);
            let pairs: Vec<(&Field, &Field)> = fields
                .iter()
                .flat_map(|key| fields.iter().map(move |label| (key, label)))
                .filter(|(key, label)| label.follows_from(key))
                .collect();
            assert!(pairs.len() >= 8, "{} pairs", pairs.len());
            let mut seen = vec![std::collections::HashMap::new(); pairs.len()];
            each_event(&trace, &tables, |ctx| {
                for ((key, label), seen) in pairs.iter().zip(&mut seen) {
                    let Some(key_value) = key.extract(ctx) else {
                        continue;
                    };
                    let label_value = label.extract(ctx).map(|v| v.to_string());
                    let first = seen
                        .entry(key_value.to_string())
                        .or_insert_with(|| label_value.clone());
                    assert_eq!(
                        *first,
                        label_value,
                        "{} for {} {key_value}",
                        label.def().name,
                        key.def().name
                    );
                }
            });
            pairs_seen += seen.iter().filter(|s| !s.is_empty()).count();
        }
        assert!(pairs_seen >= 8, "{pairs_seen} pairs with values");
    }

    #[test]
    fn every_field_is_read_by_the_extractor_of_its_shape_and_type() {
        // A field read by the wrong extractor trips a debug assertion; one
        // whose values disagree with its declared type fails here.
        for trace in samples() {
            let tables = Tables::new(&trace);
            let catalog = tables.catalog(&trace);
            let fields = every_field(catalog);
            each_event(&trace, &tables, |ctx| {
                for field in &fields {
                    let Some(value) = field.extract(ctx) else {
                        continue;
                    };
                    let fits = match (field.def().ty, &value) {
                        (FieldType::Num, Value::Num(_))
                        | (FieldType::Bool, Value::Bool(_))
                        | (FieldType::Ip, Value::Ip(_))
                        | (FieldType::Str | FieldType::Bytes, Value::Str(_) | Value::Bytes(_)) => {
                            true
                        }
                        // `evt.rawarg` takes the type of the parameter.
                        (_, Value::Num(_)) => field.def().name == "evt.rawarg",
                        _ => false,
                    };
                    assert!(fits, "{} gave {value:?}", field.def().name);
                    let agrees = match field.shape() {
                        Shape::Num => field.num(ctx).map(|n| Value::Num(n.into())) == Some(value),
                        Shape::Flag => field.flag(ctx).map(Value::Bool) == Some(value),
                        Shape::Text => {
                            field.text(ctx).map(|t| Value::Str(Cow::Borrowed(t))) == Some(value)
                        }
                        Shape::Other => true,
                    };
                    assert!(agrees, "{}", field.def().name);
                }
            });
        }
    }

    /// Right-hand sides for every operator, each with what a match means,
    /// written independently of the evaluator.
    fn expected(value: &Value<'_>, op: &str, rhs: &str) -> Option<bool> {
        let list: Vec<&str> = rhs
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .map(str::trim)
            .collect();
        Some(match value {
            Value::Num(v) => {
                let n = |t: &str| t.parse::<i128>().ok();
                match op {
                    "=" => *v == n(rhs)?,
                    "!=" => *v != n(rhs)?,
                    "<" => *v < n(rhs)?,
                    "<=" => *v <= n(rhs)?,
                    ">" => *v > n(rhs)?,
                    ">=" => *v >= n(rhs)?,
                    "in" => list.iter().any(|t| n(t) == Some(*v)),
                    _ => return None,
                }
            }
            Value::Bool(v) => {
                let b = |t: &str| match t {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                };
                match op {
                    "=" => *v == b(rhs)?,
                    "!=" => *v != b(rhs)?,
                    "in" => list.iter().any(|t| b(t) == Some(*v)),
                    _ => return None,
                }
            }
            Value::Str(text) => {
                let text = String::from_utf8_lossy(text).into_owned();
                let rhs = rhs.trim_matches('\'');
                match op {
                    "=" => text == rhs,
                    "!=" => text != rhs,
                    "<" => text.as_str() < rhs,
                    ">=" => text.as_str() >= rhs,
                    "contains" => text.contains(rhs),
                    "icontains" => text.to_lowercase().contains(&rhs.to_lowercase()),
                    "startswith" => text.starts_with(rhs),
                    "endswith" => text.ends_with(rhs),
                    "in" => list.contains(&text.as_str()),
                    "pmatch" => list.iter().any(|p| {
                        text == *p || text.strip_prefix(p).is_some_and(|r| r.starts_with('/'))
                    }),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    const COMPARISONS: &[(&str, &str)] = &[
        (">", "0"),
        ("<=", "1000"),
        ("!=", "0"),
        ("=", "1"),
        ("in", "(0, 1, 2, 1000)"),
        ("=", "true"),
        ("!=", "false"),
        ("in", "(true)"),
        ("=", "bash"),
        ("!=", "bash"),
        ("<", "m"),
        (">=", "/etc"),
        ("contains", "a"),
        ("icontains", "E"),
        ("startswith", "/"),
        ("endswith", "h"),
        ("glob", "*s*"),
        ("regex", ".*a.*"),
        ("in", "(bash, sh, /etc/passwd, r, openat, f, ip)"),
        ("pmatch", "(/etc, /tmp)"),
        ("=", "''"),
        ("contains", "''"),
    ];

    #[test]
    fn comparisons_on_every_field_match_what_they_say() {
        let mut fast_nodes = 0;
        let mut telling = 0;
        let mut checked = 0;
        for trace in samples() {
            let tables = Tables::new(&trace);
            let catalog = tables.catalog(&trace);
            let mut filters = Vec::new();
            for name in field_names() {
                let field = catalog.field(&name).unwrap();
                let mut compiled = |source: String, test: Option<(&'static str, &'static str)>| {
                    let Ok(expr) = filter::parse(&source) else {
                        return;
                    };
                    // Type errors (a number field against `bash`) are fine.
                    let Ok(fast) = Filter::compile_with(&expr, catalog, true) else {
                        return;
                    };
                    let general = Filter::compile_with(&expr, catalog, false).unwrap();
                    filters.push((source, field.clone(), test, fast, general));
                };
                compiled(format!("{name} exists"), None);
                compiled(format!("not {name} exists"), None);
                for &(op, rhs) in COMPARISONS {
                    compiled(format!("{name} {op} {rhs}"), Some((op, rhs)));
                }
            }
            let mut matched = vec![0usize; filters.len()];
            let mut events = 0;
            each_event(&trace, &tables, |ctx| {
                events += 1;
                for ((source, field, test, fast, general), matched) in
                    filters.iter().zip(&mut matched)
                {
                    let hit = fast.matches(ctx);
                    assert_eq!(
                        hit,
                        general.matches(ctx),
                        "{source}: fast and general paths"
                    );
                    let value = field.extract(ctx);
                    let expected = match (test, &value) {
                        // A missing field makes every comparison false.
                        (Some(_), None) => Some(false),
                        (Some((op, rhs)), Some(value)) => expected(value, op, rhs),
                        (None, _) => Some(value.is_some() != source.starts_with("not ")),
                    };
                    if let Some(expected) = expected {
                        assert_eq!(hit, expected, "{source} with {value:?}");
                        checked += 1;
                    }
                    *matched += usize::from(hit);
                }
            });
            fast_nodes += filters
                .iter()
                .filter(|(.., fast, _)| match &fast.root {
                    Node::Fast(_) => true,
                    Node::Remembered(part) => matches!(part.inner, Node::Fast(_)),
                    _ => false,
                })
                .count();
            telling += matched.iter().filter(|&&m| m > 0 && m < events).count();
        }
        // The test means something only if many filters took the fast path
        // and matched some events but not all.
        assert!(fast_nodes > 400, "{fast_nodes} fast filters");
        assert!(telling > 400, "{telling} filters matched some events");
        assert!(checked > 1_000_000, "{checked} results checked");
    }

    /// The bounds a number comparison becomes give what the general
    /// comparison gives, at the edges of 64 bits and past them.
    #[test]
    fn number_bounds_agree_with_the_general_comparison() {
        let (min, max) = (i128::from(i64::MIN), i128::from(i64::MAX));
        let constants = [
            i128::MIN,
            min - 1,
            min,
            min + 1,
            -1,
            0,
            1,
            max - 1,
            max,
            max + 1,
            i128::MAX,
        ];
        let values = [
            i64::MIN,
            i64::MIN + 1,
            -2,
            -1,
            0,
            1,
            2,
            i64::MAX - 1,
            i64::MAX,
        ];
        for n in constants {
            for op in Op::ALL {
                let rhs = Prepared::Num(n);
                let test = FastTest::of_number(op, n);
                for v in values {
                    let bounded = match test {
                        FastTest::NumWithin(lo, hi) => lo <= v && v <= hi,
                        FastTest::NumOther(other) => v != other,
                        _ => panic!("{op:?} {n}: {test:?}"),
                    };
                    assert_eq!(bounded, num_matches(v, op, &rhs), "{v} {op:?} {n}");
                }
            }
        }
    }

    #[test]
    fn prefixes_test_as_the_byte_comparison_does() {
        let prefixes: [&[u8]; 7] = [
            b"",
            b"/",
            b"/etc",
            b"/etc/pas",
            b"/etc/pass",
            b"\xff\x00",
            b"12345678",
        ];
        let texts: [&[u8]; 9] = [
            b"",
            b"/",
            b"/et",
            b"/etc",
            b"/etc/passwd",
            b"/etc/pas",
            b"/usr/lib/x86_64",
            b"\xff\x00\x01\x02\x03\x04\x05\x06",
            b"123456789",
        ];
        for prefix in prefixes {
            let fast = Prefix::new(prefix);
            for text in texts {
                assert_eq!(
                    fast.begins(text),
                    text.starts_with(prefix),
                    "{text:?} {prefix:?}"
                );
            }
        }
    }

    /// Each filter alone over every sample, so that what it remembers in
    /// a process is read back by the process' next events, and must be
    /// forgotten when an exec, a setuid or a chdir changes the process.
    #[test]
    fn results_remembered_per_process_follow_the_process() {
        let sources = [
            "proc.name=curl",
            "proc.name in (bash, sh) or proc.cmdline contains http",
            "not proc.exe endswith sh",
            "user.name=root and proc.cwd startswith /",
            "proc.args contains -s and proc.pid > 1",
            "container.id=host and thread.cap_effective contains CAP_SYS_ADMIN",
            "evt.type=openat and (proc.name=cat or user.uid != 0)",
            "fd.name startswith /etc and proc.exepath glob '*/bin/*'",
            "toupper(proc.name) = CURL or proc.name = proc.exe",
            "fd.name startswith /etc and proc.name != bash and evt.buflen > 10 and not fd.typechar=4 and user.uid exists",
            "proc.name != bash and fd.num > 2 and user.uid exists and proc.cwd startswith /",
        ];
        let mut remembered = 0;
        let mut telling = 0;
        for trace in samples() {
            let tables = Tables::new(&trace);
            let catalog = tables.catalog(&trace);
            for source in sources {
                let expr = filter::parse(source).unwrap();
                let fast = Filter::compile_with(&expr, catalog, true).unwrap();
                let general = Filter::compile_with(&expr, catalog, false).unwrap();
                remembered += usize::from(format!("{:?}", fast.root).contains("Remembered"));
                let (mut hits, mut events) = (0, 0);
                each_event(&trace, &tables, |ctx| {
                    let hit = fast.matches(ctx);
                    assert_eq!(hit, general.matches(ctx), "{source}");
                    hits += usize::from(hit);
                    events += 1;
                });
                telling += usize::from(hits > 0 && hits < events);
            }
        }
        assert!(remembered >= 11, "{remembered} filters remember results");
        // The conjuncts on the process alone share one remembered part.
        let trace = &samples()[0];
        let tables = Tables::new(trace);
        let expr = filter::parse(sources[sources.len() - 1]).unwrap();
        let filter = Filter::compile(&expr, tables.catalog(trace)).unwrap();
        let parts = format!("{:?}", filter.root).matches("Remembered {").count();
        assert_eq!(parts, 1, "{:?}", filter.root);
        assert!(
            telling > 10,
            "{telling} filters matched some events but not all"
        );
    }

    #[test]
    fn port_values_are_checked_when_compiled() {
        let trace = &samples()[0];
        let tables = Tables::new(trace);
        let catalog = tables.catalog(trace);
        // (filter, where the caret goes, or None when it compiles)
        let table: &[(&str, Option<usize>)] = &[
            ("fd.sport=99999", Some(9)),
            ("fd.port=-5", Some(8)),
            ("fd.lport > 65536", Some(11)),
            ("fd.rport in (22, 70000)", Some(17)),
            ("fd.cport=0x10000", Some(9)),
            ("fd.sport=5s", Some(9)),
            ("evt.type=connect and fd.port <= 1e3", Some(32)),
            ("fd.sport=65535", None),
            ("fd.port=0", None),
            ("fd.rport in (ssh, 443, 0x50)", None),
            ("fd.lport != http", None),
            // Only ports are bounded: an fd number may be negative.
            ("fd.num=-1", None),
            ("proc.pid=99999", None),
        ];
        for &(source, caret) in table {
            match (Filter::new(source, catalog), caret) {
                (Ok(_), None) => {}
                (Err(e), Some(at)) => {
                    assert_eq!(e.span.start, at, "{source}: {}", e.message);
                    assert!(
                        e.message.contains("is not a port"),
                        "{source}: {}",
                        e.message
                    );
                    assert!(e.render(source).contains('^'), "{source}");
                }
                (Ok(_), Some(_)) => panic!("{source} compiled"),
                (Err(e), None) => panic!("{source}: {}", e.render(source)),
            }
        }
    }
}
