//! Opening traces: memory-mapped files for random access, or standard input
//! as a stream. The only `unsafe` code of the binary lives here.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;
use memmap2::Mmap;
use scry_format::{FormatError, ReadOptions, StreamReader, TraceFile};

/// An opened trace, mapped or streamed.
pub enum Trace {
    Mapped(Box<TraceFile<Mmap>>),
    Stream(Box<StreamReader<Box<dyn Read + Send>>>),
}

/// Maps `file` read-only.
///
/// # Safety
/// The mapping is only valid while no other process shrinks the file: if
/// the file is truncated while mapped, touching the lost pages raises
/// SIGBUS. Appending to it (a capture still writing) is harmless, as the
/// mapping keeps the length it was created with.
unsafe fn map_file(file: &File) -> io::Result<Mmap> {
    // SAFETY: the caller accepts the truncation risk documented above; the
    // mapping is read-only and never outlives `TraceFile`, which owns it.
    unsafe { Mmap::map(file) }
}

/// Opens `path` (`-` for standard input).
pub fn open_trace(path: &Path, options: ReadOptions) -> anyhow::Result<Trace> {
    if path == Path::new("-") {
        let input: Box<dyn Read + Send> = Box::new(io::stdin());
        let reader =
            StreamReader::open(input, options).context("reading a trace from standard input")?;
        return Ok(Trace::Stream(Box::new(reader)));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // Pipes and process substitution (`<(zcat t.scry.gz)`) cannot be
    // mapped: read them as a stream.
    if !file.metadata().is_ok_and(|m| m.file_type().is_file()) {
        let input: Box<dyn Read + Send> = Box::new(io::BufReader::with_capacity(1 << 20, file));
        let reader = StreamReader::open(input, options)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(Trace::Stream(Box::new(reader)));
    }
    let len = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?
        .len();
    if len == 0 {
        return Err(FormatError::Empty).with_context(|| format!("cannot read {}", path.display()));
    }
    // SAFETY: trace files are not shrunk while scry reads them; see
    // `map_file` for what happens if one is.
    let map =
        unsafe { map_file(&file) }.with_context(|| format!("cannot map {}", path.display()))?;
    let trace = TraceFile::open_with(map, options)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Trace::Mapped(Box::new(trace)))
}
