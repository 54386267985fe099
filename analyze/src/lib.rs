//! scry-analyze owns everything computed from a trace: state reconstruction
//! (threads, fds, users, containers), the sysdig/Falco-compatible filter
//! language and its fields, output formatting and summaries.
//!
//! * [`filter::parse`] turns filter text into an AST; [`Filter`] compiles it
//!   against a trace's event table into something cheap to evaluate.
//! * [`state::State`] replays a trace's snapshot and events to know, at
//!   every event, the process, its ancestry and what each fd is.
//! * [`fields`] is the catalog of every field (`scry fields`).
//! * [`scan`] runs a filter over a trace, using the chunk index to skip
//!   what cannot match; [`scan_stream`] does the same over a stream;
//!   [`scan_parallel`] spreads the work on the selected events over
//!   threads, chunk by chunk.
//! * [`output`] prints matching events: sysdig's line, `-p` formats, JSON.
//! * [`reports`] are the responder's other reports: user commands, fd
//!   echo, the process tree, the slowest calls.
//! * [`summary`] groups events into the rows of a view (`scry top`, the
//!   terminal UI's tables).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod compile;
mod errno;
pub mod fields;
pub mod filter;
mod flags;
pub mod human;
pub mod output;
mod parallel;
mod query;
mod render;
pub mod reports;
pub mod state;
pub mod summary;
pub mod timespec;
mod types;
mod value;

pub use compile::{Catalog, Filter, FilterError, FilterWarning};
pub use fields::{Ctx, FIELDS, FieldDef};
pub use output::{BufferMode, OutputOptions, Printer, TimeMode};
pub use parallel::{ChunkWork, scan_parallel};
pub use query::{ChunkPlan, Prepared, Scan, Window, scan, scan_stream};
pub use timespec::TimeSpec;
pub use types::{TypeInfo, TypeTable};
pub use value::{FieldType, Value, printable};
