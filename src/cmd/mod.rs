//! Dispatch from a parsed command line to the command that runs it.

mod fields;
mod info;
mod read;
#[cfg(feature = "capture")]
mod record;
mod verify;
mod view;

use std::io::{self, Write};

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::exit::Code;

/// Runs the command and returns the exit code it ends with.
pub fn run(cli: Cli) -> anyhow::Result<Code> {
    match cli.command {
        #[cfg(feature = "capture")]
        Command::Record(args) => record::run(&args),
        #[cfg(feature = "capture")]
        Command::ExecWhenReady { fifo, argv } => record::exec_when_ready(&fifo, &argv),
        Command::Read(args) => read::run(&args),
        Command::View(args) => view::run(&args),
        Command::Info(args) => info::run(&args),
        Command::Fields { json } => fields::run(json),
        Command::Verify(args) => verify::run(&args),
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
