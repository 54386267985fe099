//! `scry convert`: writes a sysdig/Falco capture (`.scap`, plain or gzip)
//! as a native trace, so that later reads are fast and the file is small.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Context;
use scry_format::WriterOptions;
use scry_format::scap::{self, Sniffed};

use crate::cli::ConvertArgs;
use crate::exit::{Code, UsageError};
use crate::open::{TraceData, read_whole, warn_scap};
use crate::output;
use crate::traces::file_identity;

pub fn run(args: &ConvertArgs) -> anyhow::Result<Code> {
    let input = &args.input;
    let data = read_whole(input)?;
    let name = input.display();
    match scap::sniff(data.as_ref()) {
        Sniffed::Scap | Sniffed::GzipScap => {}
        _ => {
            return Err(scry_format::FormatError::Unsupported(
                "not a sysdig/Falco capture (.scap): nothing to convert".to_owned(),
            ))
            .with_context(|| format!("cannot convert {name}"));
        }
    }
    if same_file(input, &args.output) {
        return Err(UsageError("the output would overwrite the capture".to_owned()).into());
    }
    let written = if args.output.as_os_str() == "-" {
        let out = io::BufWriter::with_capacity(1 << 20, io::stdout().lock());
        convert(data, out, args)?.1
    } else {
        let file = output::create_private(&args.output)
            .with_context(|| format!("cannot create {}", args.output.display()))?;
        let out = io::BufWriter::with_capacity(1 << 20, file);
        let (out, written) = convert(data, out, args)?;
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)
            .and_then(|file| file.sync_all())
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        written
    };
    if !args.quiet {
        eprintln!(
            "scry: {name}: {} events written as {} records ({}) to {}",
            output::count(written.0),
            output::count(written.1),
            output::bytes(written.2),
            args.output.display()
        );
    }
    Ok(Code::Ok)
}

/// Whether `input` and `output` name one existing file: standard input
/// (`-`) never does, and an output not yet created cannot be the input.
fn same_file(input: &Path, output: &Path) -> bool {
    file_identity(input).is_some_and(|input| file_identity(output) == Some(input))
}

/// Captures up to this size (as stored) are written with
/// [`SMALL_CAPTURE_LEVEL`]: the strongest compression costs little on them.
const SMALL_CAPTURE: usize = 16 << 20;
/// zstd level of the chunks of small captures.
const SMALL_CAPTURE_LEVEL: i32 = 19;

/// Converts `data` into `out`; the counts of capture events and records
/// and the bytes written.
fn convert<W: Write>(
    data: TraceData,
    out: W,
    args: &ConvertArgs,
) -> anyhow::Result<(W, (u64, u64, u64))> {
    let path = &args.input;
    let counter = Counted {
        inner: out,
        bytes: 0,
    };
    let mut writer = WriterOptions::default();
    if data.as_ref().len() <= SMALL_CAPTURE {
        writer.level = SMALL_CAPTURE_LEVEL;
    }
    let options = scap::ImportOptions {
        writer,
        reachable_snapshot: !args.full_snapshot,
    };
    let (mut counter, report) = scap::import(data, counter, options)
        .with_context(|| format!("cannot convert {}", path.display()))?;
    counter.flush().context("writing the trace")?;
    warn_scap(path, &report);
    if let Some(left) = report.left_out
        && !args.quiet
        && left != scap::LeftOut::default()
    {
        eprintln!(
            "scry: {}: left out of the snapshot what no event reaches: {} processes, {} fds, {} users and groups (--full-snapshot keeps them)",
            path.display(),
            output::count(left.processes as u64),
            output::count(left.fds as u64),
            output::count(left.accounts as u64)
        );
    }
    let events = &report.events;
    Ok((
        counter.inner,
        (events.scap_events, events.records, counter.bytes),
    ))
}

/// Counts the bytes written through it.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
