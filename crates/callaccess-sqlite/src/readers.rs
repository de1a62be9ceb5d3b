//! The read path: a small pool of read-only connections.
//!
//! Under WAL a reader sees the last committed state and never waits for the
//! writer. Each read runs in one transaction, so a read made of several
//! queries (a POST listing many calls) sees one consistent snapshot.
//!
//! Two ways in. [`Readers::read`] runs the work on a blocking thread, for
//! reads whose size the caller does not bound (admin listings, a POST of
//! thousands of calls). [`Readers::read_now`] runs it on the calling thread:
//! for the point lookups of every request (a credential, a few calls) the
//! hand-off to a blocking thread and back cost several times the lookup
//! itself (two context switches and a wake-up; the profile in
//! docs/PERFORMANCE.md showed the POST path spending most of its time
//! there). Such a read never waits for the writer under WAL; it can only
//! wait on SQLite's busy handler in the rare moments another process holds
//! the file's recovery lock.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use callaccess_domain::StoreError;
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::{closed, Fail};
use crate::open;

/// Blocking reads at once. Reads are short and the machine small; more
/// connections than cores mostly add memory.
const READERS: usize = 4;

/// Idle connections kept. Inline reads run on at most one connection per
/// runtime thread and blocking reads on at most [`READERS`], so the pool
/// rarely holds more; a connection beyond this is closed after use rather
/// than kept for a burst that may not come again.
const MAX_IDLE: usize = 16;

pub(crate) struct Readers {
    path: PathBuf,
    /// Opened on first need and reused.
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(READERS),
        })
    }

    /// Runs `work` in a read transaction on a pooled connection, off the
    /// async runtime's threads.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Fail> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(|_| closed())?;
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = readers.take()?;
            let result = in_transaction(&conn, work);
            readers.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Other(format!("a read task failed: {e}")))?
        .map_err(StoreError::from)
    }

    /// Runs `work` in a read transaction on a pooled connection, on this
    /// thread. Only for small, bounded reads (see the module's notes).
    pub(crate) fn read_now<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let conn = self.take()?;
        let result = in_transaction(&conn, work);
        self.give_back(conn);
        result.map_err(StoreError::from)
    }

    fn take(&self) -> Result<Connection, Fail> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open::reader(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

fn in_transaction<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, Fail>,
) -> Result<T, Fail> {
    // Cached statements rather than `Transaction`, which parses BEGIN and
    // COMMIT anew on every read: on a point lookup that was a fifth of it.
    conn.prepare_cached("BEGIN")?.execute([])?;
    let value = work(conn);
    // Ending a read transaction cannot lose anything; COMMIT (or ROLLBACK
    // after a failure) just releases the snapshot.
    let end = if value.is_ok() { "COMMIT" } else { "ROLLBACK" };
    let ended = conn.prepare_cached(end).and_then(|mut s| s.execute([]));
    let value = value?;
    ended?;
    Ok(value)
}
