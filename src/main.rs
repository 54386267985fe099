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

/// Recording allocates on one thread and frees on another at millions of
/// events a second, and reading builds and drops a line's worth of values
/// per event: mimalloc's thread-local free lists keep both off the
/// contended paths of the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code.into(),
        Err(error) => exit::report(&error),
    }
}
