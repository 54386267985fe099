//! Opening traces: memory-mapped files for random access, or standard input
//! as a stream. sysdig and Falco captures (`.scap`, plain or gzip) are
//! recognised by their first bytes and read into a trace in memory, so
//! every command sees them as it sees a `.scry`. The only `unsafe` code of
//! the binary lives here.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;
use memmap2::Mmap;
use scry_format::scap::{self, ScapReport, ScapStream, Sniffed};
use scry_format::{FormatError, ReadOptions, StreamReader, TraceFile, WriterOptions};

/// The bytes of a trace read whole: a mapped `.scry`, or a trace built in
/// memory from a capture in another format.
#[derive(Debug)]
pub enum TraceData {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for TraceData {
    fn as_ref(&self) -> &[u8] {
        match self {
            TraceData::Mapped(map) => map,
            TraceData::Owned(bytes) => bytes,
        }
    }
}

/// An opened trace, read whole or streamed.
pub enum Trace {
    Mapped(Box<TraceFile<TraceData>>),
    Stream(Box<StreamReader<Box<dyn Read + Send>>>),
    /// A capture converted as it is read ([`open_scap_stream`]).
    Scap(Box<ScapStream<TraceData>>),
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

/// Opens `path` (`-` for standard input). What a `.scap` capture lacked
/// (cut off, damaged) is reported on standard error.
pub fn open_trace(path: &Path, options: ReadOptions) -> anyhow::Result<Trace> {
    let (trace, report) = open_with_origin(path, options)?;
    if let Some(report) = report {
        warn_scap(path, &report);
    }
    Ok(trace)
}

/// Opens `path` as [`open_trace`] does, and says what was found when it is
/// a `.scap` capture, without printing it.
pub fn open_with_origin(
    path: &Path,
    options: ReadOptions,
) -> anyhow::Result<(Trace, Option<ScapReport>)> {
    if path == Path::new("-") {
        let input: Box<dyn Read + Send> = Box::new(io::BufReader::new(io::stdin()));
        return open_stream(input, options, "standard input");
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // Pipes and process substitution (`<(zcat t.scry.gz)`) cannot be
    // mapped: read them as a stream.
    if !file.metadata().is_ok_and(|m| m.file_type().is_file()) {
        let input: Box<dyn Read + Send> = Box::new(io::BufReader::with_capacity(1 << 20, file));
        return open_stream(input, options, &path.display().to_string());
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
    let name = path.display().to_string();
    match scap::sniff(&map) {
        Sniffed::Scap | Sniffed::GzipScap => {
            return import(TraceData::Mapped(map), options, &name);
        }
        Sniffed::OtherGzip => {
            return Err(FormatError::Unsupported(
                "gzip-compressed, but not a sysdig/Falco capture: decompress it first \
                 (scry traces are compressed already)"
                    .to_owned(),
            ))
            .with_context(|| format!("cannot read {name}"));
        }
        Sniffed::Other => {}
    }
    let trace = TraceFile::open_with(TraceData::Mapped(map), options)
        .with_context(|| format!("cannot read {name}"))?;
    Ok((Trace::Mapped(Box::new(trace)), None))
}

/// The whole content of `path`: mapped when it is a regular file, read into
/// memory otherwise (a pipe, `-` for standard input).
pub fn read_whole(path: &Path) -> anyhow::Result<TraceData> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        return Ok(TraceData::Owned(bytes));
    }
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if file
        .metadata()
        .is_ok_and(|m| m.file_type().is_file() && m.len() > 0)
    {
        // SAFETY: as for traces, the file is not shrunk while it is read.
        let map =
            unsafe { map_file(&file) }.with_context(|| format!("cannot map {}", path.display()))?;
        return Ok(TraceData::Mapped(map));
    }
    file.read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(TraceData::Owned(bytes))
}

/// Opens a trace that can only be read front to back. A capture has no
/// index to stream by: it is read whole first.
fn open_stream(
    mut input: Box<dyn Read + Send>,
    options: ReadOptions,
    name: &str,
) -> anyhow::Result<(Trace, Option<ScapReport>)> {
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {name}")),
        }
    }
    let head = head[..got].to_vec();
    if head == [0x0A, 0x0D] || head == [0x1f, 0x8b] {
        let mut bytes = head;
        input
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {name}"))?;
        if matches!(scap::sniff(&bytes), Sniffed::Scap | Sniffed::GzipScap) {
            return import(TraceData::Owned(bytes), options, name);
        }
        input = Box::new(io::Cursor::new(bytes));
    } else {
        input = Box::new(io::Cursor::new(head).chain(input));
    }
    let reader =
        StreamReader::open(input, options).with_context(|| format!("cannot read {name}"))?;
    Ok((Trace::Stream(Box::new(reader)), None))
}

/// Converts a capture into a trace held in memory, uncompressed: it is
/// read once, now.
fn import(
    bytes: TraceData,
    options: ReadOptions,
    name: &str,
) -> anyhow::Result<(Trace, Option<ScapReport>)> {
    let writer = scap::ImportOptions {
        writer: WriterOptions {
            compress: false,
            ..WriterOptions::default()
        },
        reachable_snapshot: false,
    };
    let capacity = bytes.as_ref().len() / 2;
    let (data, report) = scap::import(bytes, Vec::with_capacity(capacity), writer)
        .with_context(|| format!("cannot read {name}"))?;
    if options.strict && !report.is_whole() {
        anyhow::bail!("{name} is cut off or damaged (--strict reads only whole traces)");
    }
    let trace = TraceFile::open_with(TraceData::Owned(data), options)
        .with_context(|| format!("cannot read {name}"))?;
    Ok((Trace::Mapped(Box::new(trace)), Some(report)))
}

/// Opens a `.scap` capture to be read once, front to back: its events are
/// converted on a thread of their own while the caller reads the records,
/// with memory bounded by a few chunks. `None` when `path` is not a
/// capture file.
pub fn open_scap_stream(path: &Path) -> anyhow::Result<Option<Trace>> {
    if path == Path::new("-") || !path.is_file() {
        return Ok(None);
    }
    let data = read_whole(path)?;
    if !matches!(
        scap::sniff(data.as_ref()),
        Sniffed::Scap | Sniffed::GzipScap
    ) {
        return Ok(None);
    }
    let stream =
        ScapStream::open(data).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Some(Trace::Scap(Box::new(stream))))
}

/// Says on standard error what a capture lacked.
pub fn warn_scap(path: &Path, report: &ScapReport) {
    let name = path.display();
    if let Some(cut) = &report.truncation {
        let why = report
            .gzip_error
            .as_deref()
            .map_or(String::new(), |e| format!(" ({e})"));
        eprintln!(
            "scry: warning: {name} is truncated at byte {} of the capture{why}: read its complete events",
            cut.offset
        );
    }
    if let Some((offset, reason)) = &report.damage {
        eprintln!(
            "scry: warning: {name} is damaged at byte {offset} ({reason}): read the events before it"
        );
    }
    for damage in &report.damaged_metadata {
        eprintln!("scry: warning: {name}: skipped a damaged metadata {damage}");
    }
}
