//! Integration tests of the `scry` binary: each module drives one area of
//! the command line as a user or a script would.

// Helpers shared by the tests panic on failure like the tests themselves.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod util;

// `scry info`: what a trace holds, damaged or not.
mod info;
// `scry verify`: checksums and exit codes.
mod verify;
// Help, completions, man page, usage errors.
mod cli;
// `scry record`: real captures (as root).
mod record;
// The committed real captures in samples/.
mod samples;
// `scry read`: formats, JSON, time windows and exit codes over real captures.
mod read;
// `scry view`: the terminal UI, driven in tmux.
mod view;
// `scry top`: views, --by/--sum, exact figures over a known workload.
mod top;
// `scry spy`, `echo`, `tree`, `slow` over the incident sample.
mod reports;
// sysdig and Falco captures (.scap).
mod scap;
