//! Errors of the format crate. Every variant carries what a user needs to act
//! on it: the byte offset of the damage, the versions involved.

use std::io;

/// Something went wrong reading or writing a trace file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The file has no bytes at all.
    #[error("the file is empty (0 bytes): not a scry trace")]
    Empty,
    /// The file does not start with the scry magic.
    #[error("not a scry trace: bad magic bytes at offset 0")]
    BadMagic,
    /// The file was written by a newer, incompatible format version.
    #[error(
        "unsupported format version {found_major}.{found_minor}: this scry reads version {supported}.x; upgrade scry"
    )]
    UnsupportedVersion {
        /// Major version in the file.
        found_major: u16,
        /// Minor version in the file.
        found_minor: u16,
        /// The major version this reader supports.
        supported: u16,
    },
    /// A file this reader recognises but cannot read (a foreign capture
    /// in a variant it does not support).
    #[error("{0}")]
    Unsupported(String),
    /// The file ends before its header is complete.
    #[error("the file is cut off inside its header (needs {needed} bytes, has {actual})")]
    TruncatedHeader {
        /// Bytes needed to read the header.
        needed: u64,
        /// Bytes present.
        actual: u64,
    },
    /// A structure failed its checksum or could not be decoded.
    #[error("corrupt {what} at byte offset {offset}: {reason}")]
    Corrupt {
        /// Which structure (header, snapshot, chunk, index…).
        what: &'static str,
        /// Byte offset of the structure in the file.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The writer was given something that cannot be encoded.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being written.
        what: &'static str,
        /// Why it cannot be.
        reason: String,
    },
    /// An I/O error from the underlying reader or writer.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl FormatError {
    pub(crate) fn corrupt(what: &'static str, offset: u64, reason: impl Into<String>) -> Self {
        FormatError::Corrupt {
            what,
            offset,
            reason: reason.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = FormatError> = std::result::Result<T, E>;
