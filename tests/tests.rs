//! Integration tests of the `scry` binary: each module drives one area of
//! the command line as a user or a script would.

#[macro_use]
mod util;

// `scry info`: what a trace holds, damaged or not.
mod info;
// `scry verify`: checksums and exit codes.
mod verify;
// Help, completions, man page, usage errors.
mod cli;
