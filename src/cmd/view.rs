//! `scry view`: opens the traces (memory-mapped), checks the filter
//! against each before the terminal is taken over, and hands them to the
//! terminal UI.

use std::io::{self, IsTerminal};
use std::sync::Arc;

use anyhow::Context;
use scry_format::ReadOptions;
use scry_tui::Source as _;
use scry_tui::Traces;

use crate::cli::ViewArgs;
use crate::exit::{Code, UsageError};
use crate::open::{Trace, open_trace};
use crate::traces::split_inputs;

pub fn run(args: &ViewArgs) -> anyhow::Result<Code> {
    let (paths, filter) = split_inputs(&args.inputs, &args.read, "scry view FILE… [FILTER]")?;
    let mut traces = Vec::with_capacity(paths.len());
    for path in &paths {
        match open_trace(path, ReadOptions::default())? {
            Trace::Mapped(trace) => traces.push((path.display().to_string(), *trace)),
            Trace::Stream(_) | Trace::Scap(_) => {
                return Err(UsageError(format!(
                    "{} is a stream: scry view needs a trace file it can map (save it first)",
                    path.display()
                ))
                .into());
            }
        }
    }
    let threads = args.threads.unwrap_or_else(scry_format::default_threads);
    let source = Traces::new(traces, threads);
    if let Err(error) = source.check(&filter) {
        return Err(UsageError(format!("bad filter\n{}", error.render(&filter))).into());
    }
    if !io::stdin().is_terminal() || !io::stdout().is_terminal() {
        return Err(UsageError(
            "scry view needs a terminal; use scry read or scry top in scripts".to_owned(),
        )
        .into());
    }
    scry_tui::run(Arc::new(source), &filter, !args.no_mouse).context("scry view stopped")?;
    Ok(Code::Ok)
}
