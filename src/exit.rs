//! Exit codes, and how an error chain maps to one.
//!
//! 0 ok; 1 ran fine but found nothing (or found damage, for `verify`);
//! 2 usage or filter syntax error; 3 unreadable or corrupt trace; 4 capture
//! failed. A closed output pipe is not an error.

use std::process::ExitCode;

/// The exit codes scry uses, documented in `--help` and the man page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    NothingMatched = 1,
    Usage = 2,
    BadTrace = 3,
    Capture = 4,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> ExitCode {
        ExitCode::from(code as u8)
    }
}

/// A usage mistake found after argument parsing: exits 2 like clap's own.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Prints the error chain on stderr and picks the exit code.
pub fn report(error: &anyhow::Error) -> ExitCode {
    let broken_pipe = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    let code = if error.chain().any(|cause| cause.is::<UsageError>()) {
        Code::Usage
    } else if is_capture_failure(error) {
        Code::Capture
    } else {
        Code::BadTrace
    };
    eprintln!("scry: error: {error:#}");
    code.into()
}

#[cfg(feature = "capture")]
fn is_capture_failure(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.is::<scry_capture::CaptureError>())
}

#[cfg(not(feature = "capture"))]
fn is_capture_failure(_: &anyhow::Error) -> bool {
    false
}
