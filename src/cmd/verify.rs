//! `scry verify`: checks every checksum and decodes every event.

use std::io::{self, Write};
use std::ops::ControlFlow;

use scry_format::{Damage, FormatError, ReadOptions, VerifyReport, default_threads};

use crate::cli::VerifyArgs;
use crate::exit::Code;
use crate::open::{Trace, open_trace};
use crate::output;

pub fn run(args: &VerifyArgs) -> anyhow::Result<Code> {
    let threads = args.threads.unwrap_or_else(default_threads).max(1);
    let mut out = io::stdout().lock();
    let mut worst = Code::Ok;
    for path in &args.files {
        let report = match open_trace(path, ReadOptions::default()) {
            Ok(Trace::Mapped(trace)) => trace.verify(threads),
            Ok(Trace::Stream(mut reader)) => {
                let mut report = VerifyReport::default();
                let mut bad = Vec::new();
                let _ = reader.for_each_chunk(threads, |chunk| {
                    match chunk.and_then(|chunk| chunk.validate().map(|()| chunk)) {
                        Ok(chunk) => {
                            report.chunks_ok += 1;
                            report.events_ok += chunk.len() as u64;
                        }
                        Err(error) => bad.push(error),
                    }
                    ControlFlow::<()>::Continue(())
                })?;
                report.damage = reader.damage().to_vec();
                report.truncation = reader.truncation().cloned();
                for error in bad {
                    let offset = match &error {
                        FormatError::Corrupt { offset, .. } => *offset,
                        _ => 0,
                    };
                    report.damage.push(Damage {
                        offset,
                        len: 0,
                        reason: error.to_string(),
                    });
                }
                report.damage.sort_by_key(|d| d.offset);
                report
            }
            // `open_trace` reads a capture whole, into a trace in memory.
            Ok(Trace::Scap(_)) => {
                writeln!(out, "{}: UNREADABLE: not read whole", path.display())?;
                worst = Code::BadTrace;
                continue;
            }
            Err(error) => {
                writeln!(out, "{}: UNREADABLE: {error:#}", path.display())?;
                worst = Code::BadTrace;
                continue;
            }
        };
        let name = path.display();
        if report.is_clean() {
            if !args.quiet {
                writeln!(
                    out,
                    "{name}: ok: {}, {}, every checksum good",
                    output::counted(report.chunks_ok, "chunk", "chunks"),
                    output::counted(report.events_ok, "event", "events")
                )?;
            }
            continue;
        }
        worst = Code::BadTrace;
        writeln!(
            out,
            "{name}: DAMAGED: {} ({}) good",
            output::counted(report.chunks_ok, "chunk", "chunks"),
            output::counted(report.events_ok, "event", "events")
        )?;
        if let Some(t) = &report.truncation {
            writeln!(
                out,
                "  truncated at byte {} ({} trailing bytes unusable)",
                t.offset, t.partial_bytes
            )?;
        }
        for d in &report.damage {
            writeln!(out, "  byte {} (+{}): {}", d.offset, d.len, d.reason)?;
        }
    }
    out.flush()?;
    Ok(worst)
}
