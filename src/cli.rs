//! Command-line definitions. Flags follow sysdig where sysdig has one, so
//! muscle memory carries over.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  ran fine but found nothing (verify: found damage it could skip)
  2  usage or filter syntax error
  3  unreadable, corrupt or unsupported trace
  4  capture failed (privileges, kernel support)";

/// A forensic flight recorder for Linux: record every syscall with eBPF into
/// compact, self-contained trace files, then analyse them offline.
#[derive(Debug, Parser)]
#[command(name = "scry", version, about, max_term_width = 100)]
#[command(after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what a trace holds: machine, capture settings, time range,
    /// events per type, drops, chunks, and whether it is complete.
    #[command(after_help = "\
Examples:
  scry info incident.scry
  scry info segment-*.scry
  cat trace.scry | scry info -

A trace cut off by a crash is read up to its last complete chunk and shown
as TRUNCATED; damaged chunks are listed with their byte offsets.")]
    Info(InfoArgs),

    /// Check every checksum and decode every event of a trace.
    #[command(after_help = "\
Examples:
  scry verify incident.scry
  scry verify --quiet *.scry && echo all good

Exits 0 when every trace is whole, 3 when any is damaged, cut off or
unreadable.")]
    Verify(VerifyArgs),

    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  scry completions bash > /etc/bash_completion.d/scry
  scry completions zsh > \"${fpath[1]}/_scry\"
  scry completions fish > ~/.config/fish/completions/scry.fish")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff) on standard output.
    #[command(after_help = "\
Examples:
  scry man | man -l -
  scry man > /usr/local/share/man/man1/scry.1")]
    Man,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Trace files to describe (`-` reads one from standard input).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Trace files to check (`-` reads one from standard input).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Print nothing for traces that are whole.
    #[arg(short, long)]
    pub quiet: bool,

    /// Decoding threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}
