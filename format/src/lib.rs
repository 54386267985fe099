//! scry-format owns the event model and the `.scry` trace file format.
//!
//! A trace is a file header (machine, boot time, capture settings, event
//! table), a state snapshot, then independently decodable zstd chunks of
//! event records interleaved with capture statistics, and an index footer.
//! `FORMAT.md` at the repository root specifies the bytes.
//!
//! * [`TraceWriter`] writes to any [`std::io::Write`].
//! * [`TraceFile`] reads a whole file from any byte slice (a `Vec`, or a
//!   memory map owned by the caller), with random access through the index
//!   and parallel decoding.
//! * [`StreamReader`] reads front to back from any [`std::io::Read`].
//!
//! Both readers recover what they can from files cut off by a crash (every
//! complete chunk) and skip damaged blocks, reporting each with its offset.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod block;
mod chunk;
mod codec;
mod error;
mod event_table;
mod index;
mod model;
mod pipeline;
mod reader;
#[cfg(test)]
mod robustness;
pub mod scap;
mod stream;
mod syscalls_x86_64;
mod text;
mod wire;
mod writer;

pub use block::{MAGIC, VERSION_MAJOR, VERSION_MINOR};
pub use chunk::{
    ChunkBuilder, DecodedChunk, EventHead, EventView, FinishedChunk, ParamEncoder, Params,
    SPLIT_EVENTS, SockAddrRef, StrListRef, ValueRef,
};
pub use error::{FormatError, Result};
pub use event_table::{
    EventTable, EventTypeInfo, FIRST_SPECIAL_TYPE, IA32_SYSCALL, PROCEXIT, UNKNOWN_SYSCALL,
};
pub use index::{
    ChunkSummary, ContainerEntry, IndexEntry, MAX_SUMMARY_TGIDS, PayloadLayout, StatsEntry,
};
pub use model::*;
pub use pipeline::{ChunkPool, default_threads, ordered_map_fed};
pub use reader::{Damage, Prepare, ReadOptions, TraceFile, Truncation, VerifyReport};
pub use stream::{ChunkSource, RawChunk, StreamItem, StreamReader};
pub use text::{Escape, format_rfc3339, thousands, unescape};
pub use writer::{HOST_CONTAINER, TraceWriter, WriterOptions, container_id_of_cgroup};
