//! Turning driver errors into `StoreError`s.
//!
//! Work that runs on a connection returns `Result<T, Fail>`, so that both a
//! driver error and a domain answer (a missing call, a conflict) can be
//! raised with `?`. Driver errors are sorted by kind only (`Unavailable` or
//! `Other`): the text of one never reaches a not-found, conflict or invalid
//! answer, whose messages are the domain's.

use callaccess_domain::StoreError;
use rusqlite::ErrorCode;

/// The error type of everything that runs on a connection.
#[derive(Debug)]
pub(crate) struct Fail(pub(crate) StoreError);

impl From<StoreError> for Fail {
    fn from(error: StoreError) -> Self {
        Self(error)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(error: rusqlite::Error) -> Self {
        Self(from_sqlite(&error))
    }
}

impl From<Fail> for StoreError {
    fn from(fail: Fail) -> Self {
        fail.0
    }
}

/// Sorts a driver error: conditions that may pass (a lock held too long by
/// another process, a full or failing disk, a file that cannot be opened)
/// are `Unavailable`; everything else is a defect or corruption, `Other`.
pub(crate) fn from_sqlite(error: &rusqlite::Error) -> StoreError {
    let transient = matches!(
        error.sqlite_error_code(),
        Some(
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
        )
    );
    if transient {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Other(error.to_string())
    }
}

/// The answer given to work that arrives after `close`, or whose worker is
/// gone.
pub(crate) fn closed() -> StoreError {
    StoreError::Unavailable("the store is closed".to_owned())
}
