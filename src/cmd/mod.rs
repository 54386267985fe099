//! Dispatch from a parsed command line to the command that runs it.

mod convert;
mod fields;
mod info;
mod read;
#[cfg(feature = "capture")]
mod record;
mod reports;
mod top;
mod verify;
mod view;

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::{Cli, Command, Selection};
use crate::exit::Code;
use crate::traces::{Query, Traces};

/// Opens the traces of an analysis command with its filter and window.
fn open(
    paths: Vec<std::path::PathBuf>,
    filter: &str,
    selection: &Selection,
) -> anyhow::Result<Traces> {
    Traces::open(&Query {
        paths,
        filter,
        since: selection.since.as_deref(),
        until: selection.until.as_deref(),
        threads: selection.threads,
        strict: selection.strict,
    })
}

/// Runs the command and returns the exit code it ends with.
pub fn run(cli: Cli) -> anyhow::Result<Code> {
    match cli.command {
        #[cfg(feature = "capture")]
        Command::Record(args) => record::run(&args),
        #[cfg(feature = "capture")]
        Command::ExecWhenReady { fifo, argv } => record::exec_when_ready(&fifo, &argv),
        Command::Read(args) => read::run(&args),
        Command::View(args) => view::run(&args),
        Command::Top(args) => top::run(&args),
        Command::Spy(command) => reports::spy(&command),
        Command::Echo(args) => reports::echo(&args),
        Command::Tree(args) => reports::tree(&args),
        Command::Slow(args) => reports::slow(&args),
        Command::Info(args) => info::run(&args),
        Command::Fields { json } => fields::run(json),
        Command::Verify(args) => verify::run(&args),
        Command::Convert(args) => convert::run(&args),
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "scry", &mut io::stdout().lock());
            Ok(Code::Ok)
        }
        Command::Man => {
            let mut out = io::stdout().lock();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            out.flush()?;
            Ok(Code::Ok)
        }
    }
}
