//! Errors of the capture crate: each says what went wrong in terms a
//! responder can act on (which privilege, which kernel feature, which file).

use std::io;

/// A capture could not start, or failed while running.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The process lacks the privileges to load BPF programs.
    #[error("permission denied: capturing needs root, or CAP_BPF and CAP_PERFMON ({detail})")]
    NotPermitted {
        /// What the kernel said.
        detail: String,
    },
    /// The kernel lacks something the probe needs.
    #[error("this kernel cannot run the scry probe: {0}")]
    Unsupported(String),
    /// The BPF verifier or loader refused the probe.
    #[error("loading the BPF probe failed: {0}")]
    Load(String),
    /// A program could not be attached to its hook.
    #[error("attaching {program} failed: {detail}")]
    Attach {
        /// The program that failed.
        program: String,
        /// What the kernel said.
        detail: String,
    },
    /// Writing the trace failed.
    #[error("writing the trace failed: {0}")]
    Format(#[from] scry_format::FormatError),
    /// The processes to capture cannot be found or started.
    #[error("{0}")]
    Target(String),
    /// Another I/O error.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
}

impl CaptureError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        CaptureError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = CaptureError> = std::result::Result<T, E>;
