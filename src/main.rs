//! The `scry` command line: parses arguments, dispatches to the library
//! crates and turns outcomes into exit codes. No analysis logic lives here.

mod cli;
mod cmd;
mod exit;
mod open;
mod output;
mod traces;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code.into(),
        Err(error) => exit::report(&error),
    }
}
