//! The crate's one error type (provided).
//!
//! Tests match on the *kind* of an error, never on its message:
//!
//! ```
//! # use lsm_workbook::Error;
//! # fn check(result: lsm_workbook::Result<()>) {
//! assert!(matches!(result, Err(Error::Corruption { .. })));
//! # }
//! ```
//!
//! Every variant says *where* and *what*: the file, the byte offset, the
//! operation. A corruption error that does not name its file and offset is a
//! bug.

use std::fmt;
use std::path::PathBuf;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The operating system (or the simulated file system) failed an
    /// operation. `op` names the [`crate::fs::Fs`] call, `path` its file.
    Io {
        /// The file-system call that failed, e.g. `"append"` or `"sync"`.
        op: &'static str,
        /// The file or directory it was called on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Stored bytes are damaged: a checksum, a length, a magic number or a
    /// field does not hold. Never returned for a torn tail that recovery is
    /// allowed to drop (promises P4/P5 in the book's toolbox page).
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// The byte offset in `file` where the damaged item starts.
        offset: u64,
        /// What was wrong, e.g. `"record checksum mismatch: stored 0x…, computed 0x…"`.
        detail: String,
    },
    /// The caller asked for something the engine does not allow, e.g. an
    /// empty key or a key longer than the format can store.
    InvalidArgument(String),
    /// An earlier write or sync failed, so this component refuses further
    /// writes until it is reopened (fail-stop, promise P6 in the book's toolbox page). Retrying a
    /// failed `fsync` can report success for data that was lost.
    Poisoned {
        /// The file whose earlier failure poisoned the writer.
        path: PathBuf,
    },
    /// A transaction (chapter 9) read `key`, and another write changed it
    /// after the transaction's snapshot: committing would lose that write
    /// or act on a stale read. Nothing of the transaction was written;
    /// retry it from the start.
    Conflict {
        /// A key the transaction read that changed (shown lossily as text).
        key: String,
    },
    /// A read as of a time the history cannot answer (chapter 9): before
    /// the retained history, in the future, or without a history at all.
    OutOfHistory {
        /// The time asked for, in microseconds since the Unix epoch.
        time_micros: u64,
        /// Why, e.g. "before the retained history, which starts at …".
        detail: String,
    },
}

impl Error {
    /// Builds an [`Error::Corruption`].
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, detail: impl Into<String>) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            detail: detail.into(),
        }
    }

    /// Builds an [`Error::Io`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// The [`std::io::ErrorKind`] of an [`Error::Io`], if this is one.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            Error::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, source } => {
                write!(f, "I/O error in {op} on {}: {source}", path.display())
            }
            Error::Corruption {
                file,
                offset,
                detail,
            } => write!(
                f,
                "corruption in {} at byte offset {offset}: {detail}",
                file.display()
            ),
            Error::InvalidArgument(detail) => write!(f, "invalid argument: {detail}"),
            Error::Poisoned { path } => write!(
                f,
                "writer for {} is poisoned by an earlier I/O failure; reopen to recover",
                path.display()
            ),
            Error::Conflict { key } => write!(
                f,
                "transaction conflict: key {key:?} was written after the transaction's snapshot; \
                 nothing was written, retry the transaction"
            ),
            Error::OutOfHistory {
                time_micros,
                detail,
            } => write!(f, "no history as of {time_micros} µs: {detail}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
