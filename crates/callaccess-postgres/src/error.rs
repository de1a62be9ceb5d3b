//! Sorting driver and pool errors into what the transaction runner does next.
//!
//! Work that runs on a connection returns `Result<T, Fail>`, so that a driver
//! error and a domain answer (a missing call, a conflict) can both be raised
//! with `?`. Driver errors are sorted by kind only — the SQLSTATE class, or
//! whether the connection itself failed — never by constraint name or by the
//! text of a message; that text never reaches a domain answer (whose
//! messages the domain words), only `Unavailable` and `Other`, which are
//! logged and never shown to a client.

use std::error::Error as _;

use callaccess_domain::StoreError;
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// The error type of everything that runs on a connection.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A final answer: a domain outcome or a classified driver error.
    Store(StoreError),
    /// The database aborted the transaction to keep it serializable (40001)
    /// or to break a deadlock (40P01). Nothing of it was applied; running it
    /// again from the start is the documented remedy.
    Conflict(String),
    /// The connection failed before COMMIT was sent: nothing was applied,
    /// and another connection may well work (the pool had a stale one).
    Lost(String),
}

impl From<StoreError> for Fail {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<tokio_postgres::Error> for Fail {
    fn from(error: tokio_postgres::Error) -> Self {
        classify(&error)
    }
}

impl Fail {
    /// A failure of COMMIT itself. A conflict reported there still means the
    /// transaction was rolled back, but a connection lost during COMMIT leaves
    /// the outcome unknown, so it must not be retried blindly.
    pub(crate) fn at_commit(error: tokio_postgres::Error) -> Self {
        match classify(&error) {
            Self::Lost(why) => Self::Store(StoreError::Unavailable(format!(
                "the connection was lost while committing, so the change may or may not have been applied: {why}"
            ))),
            other => other,
        }
    }

    /// What to tell the caller when no retry is left.
    pub(crate) fn into_store_error(self) -> StoreError {
        match self {
            Self::Store(error) => error,
            Self::Conflict(why) => StoreError::Unavailable(format!(
                "the transaction kept conflicting with concurrent ones ({why})"
            )),
            Self::Lost(why) => StoreError::Unavailable(why),
        }
    }
}

/// Sorts a driver error by kind.
pub(crate) fn classify(error: &tokio_postgres::Error) -> Fail {
    let described = describe(error);
    let Some(code) = error.code() else {
        // No SQLSTATE: the failure happened on the client side. A closed
        // connection or an I/O error means the server is gone or going;
        // anything else (a value that does not convert, a bad parameter
        // count) is a defect.
        return if error.is_closed() || has_io_source(error) {
            Fail::Lost(described)
        } else {
            Fail::Store(StoreError::Other(described))
        };
    };
    if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED {
        return Fail::Conflict(described);
    }
    let class = &code.code()[..2.min(code.code().len())];
    let lost = class == "08" // connection exception
        || *code == SqlState::ADMIN_SHUTDOWN
        || *code == SqlState::CRASH_SHUTDOWN
        || *code == SqlState::CANNOT_CONNECT_NOW;
    if lost {
        Fail::Lost(described)
    } else if class == "53" {
        // Insufficient resources: too many connections, out of memory or
        // disk. It may pass; retrying at once would only add to it.
        Fail::Store(StoreError::Unavailable(described))
    } else {
        Fail::Store(StoreError::Other(described))
    }
}

/// Sorts a failure to get a connection from the pool.
pub(crate) fn from_pool(error: PoolError) -> StoreError {
    match error {
        PoolError::Timeout(kind) => StoreError::Unavailable(format!(
            "no database connection within the configured time ({kind:?})"
        )),
        PoolError::Closed => StoreError::Unavailable("the store is closed".to_owned()),
        PoolError::Backend(error) => match classify(&error) {
            // Failing to connect at all is an outage, whatever the cause.
            Fail::Lost(why) | Fail::Conflict(why) => StoreError::Unavailable(why),
            Fail::Store(StoreError::Other(why)) if error.code().is_none() => {
                StoreError::Unavailable(why)
            }
            Fail::Store(other) => other,
        },
        other => StoreError::Other(format!("the connection pool failed: {other}")),
    }
}

fn has_io_source(error: &tokio_postgres::Error) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The driver's error with the server's message and code, for the log.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({}): {}", error, db.code().code(), db.message()),
        None => match error.source() {
            Some(cause) => format!("{error}: {cause}"),
            None => error.to_string(),
        },
    }
}
