//! Turning driver errors into `StoreError`s.
//!
//! Work that runs on a connection returns `Result<T, Fail>`, so that both a
//! driver error and a domain answer (a missing call, a conflict) can be
//! raised with `?`. Driver errors are sorted by kind only (`Unavailable` or
//! `Other`): the text of one never reaches a not-found, conflict or invalid
//! answer, whose messages are the domain's. A driver error that says the
//! storage itself is at fault (a file that cannot be written or opened, a
//! full or failing disk) also keeps that [`Fault`], which the writer uses to
//! report its health and to know when to open its connection again.

use callaccess_domain::StoreError;
use rusqlite::ErrorCode;

/// The error type of everything that runs on a connection.
#[derive(Debug)]
pub(crate) struct Fail(pub(crate) StoreError, pub(crate) Option<Fault>);

impl From<StoreError> for Fail {
    fn from(error: StoreError) -> Self {
        Self(error, None)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(error: rusqlite::Error) -> Self {
        Self(from_sqlite(&error), fault_of(&error))
    }
}

impl From<Fail> for StoreError {
    fn from(fail: Fail) -> Self {
        fail.0
    }
}

/// A fault of the storage under the database, as opposed to contention or a
/// defect: it lasts until an operator (or the disk) clears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The file, its folder or its file system cannot be written, or the
    /// file cannot be opened. SQLite opens a file it may not write read-only
    /// and keeps it so, so a connection that met this must be opened again
    /// once the cause is gone.
    ReadOnly,
    /// No space left for the write-ahead log or the database.
    Full,
    /// The operating system reported an I/O error.
    Io,
}

impl Fault {
    /// Whether a connection that met this fault is opened anew before the
    /// next write: a read-only one would stay read-only, and after an I/O
    /// error a fresh file descriptor costs little and may be on a repaired
    /// device.
    pub(crate) fn needs_reopen(self) -> bool {
        matches!(self, Self::ReadOnly | Self::Io)
    }
}

/// The storage fault a driver error reports, if any. Extended result codes
/// (`SQLITE_READONLY_DIRECTORY`, `SQLITE_IOERR_FSYNC`, …) are sorted by
/// their primary code.
pub(crate) fn fault_of(error: &rusqlite::Error) -> Option<Fault> {
    match error.sqlite_error_code()? {
        ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied => {
            Some(Fault::ReadOnly)
        }
        ErrorCode::DiskFull => Some(Fault::Full),
        ErrorCode::SystemIoFailure => Some(Fault::Io),
        _ => None,
    }
}

/// Sorts a driver error: conditions that may pass (a lock held too long by
/// another process, a file that cannot be written or opened, a full or
/// failing disk) are `Unavailable`; everything else is a defect or
/// corruption, `Other`. A storage fault's message says what an operator can
/// do about it; it reaches the log, never a client.
pub(crate) fn from_sqlite(error: &rusqlite::Error) -> StoreError {
    if let Some(fault) = fault_of(error) {
        return StoreError::Unavailable(fault_message(fault, &error.to_string()));
    }
    let transient = matches!(
        error.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::FileLockingProtocolFailed
        )
    );
    if transient {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Other(error.to_string())
    }
}

/// What went wrong and what to do about it, around the driver's own words.
pub(crate) fn fault_message(fault: Fault, cause: &str) -> String {
    match fault {
        Fault::ReadOnly => format!(
            "the database cannot be written or opened ({cause}): make the database file, its folder and \
             its file system readable and writable by the user the server runs as"
        ),
        Fault::Full => format!("the disk holding the database is full ({cause}): free space on it"),
        Fault::Io => format!(
            "the disk holding the database failed a read or write ({cause}): check the device and the system log"
        ),
    }
}

/// The answer given to work that arrives after `close`, or whose worker is
/// gone.
pub(crate) fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use rusqlite::{Connection, OpenFlags};

    use super::*;

    #[test]
    fn a_write_to_a_read_only_database_is_a_read_only_fault_and_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (v INTEGER)")
            .unwrap();
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let error = conn
            .execute("INSERT INTO t (v) VALUES (1)", [])
            .unwrap_err();

        assert_eq!(fault_of(&error), Some(Fault::ReadOnly));
        match from_sqlite(&error) {
            StoreError::Unavailable(message) => {
                assert!(
                    message.starts_with("the database cannot be written or opened ("),
                    "{message}"
                );
                assert!(message.contains("readonly database"), "{message}");
            }
            other => panic!("expected unavailable, got {other:?}"),
        }
    }

    #[test]
    fn a_defect_is_no_fault_and_not_unavailable() {
        let conn = Connection::open_in_memory().unwrap();
        let error = conn
            .execute("INSERT INTO missing (v) VALUES (1)", [])
            .unwrap_err();
        assert_eq!(fault_of(&error), None);
        assert!(matches!(from_sqlite(&error), StoreError::Other(_)));
    }
}
