//! The read path: a few read-only connections used from blocking threads.
//!
//! Under WAL a reader sees the last committed state and never waits for the
//! writer. Each read runs in one transaction, so a read made of several
//! queries (a POST listing many calls) sees one consistent snapshot.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use callaccess_domain::StoreError;
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::error::{closed, Fail};
use crate::open;

/// Connections kept for reads. Reads are short and the machine small; more
/// connections than cores mostly add memory.
const READERS: usize = 4;

pub(crate) struct Readers {
    path: PathBuf,
    /// Opened on first need and reused; never more than [`READERS`] exist
    /// because each user holds a permit.
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
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(conn);
    }
}

fn in_transaction<T>(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, Fail>,
) -> Result<T, Fail> {
    let tx = conn.unchecked_transaction()?;
    let value = work(&tx)?;
    // Ending a read transaction cannot lose anything; COMMIT just releases
    // the snapshot. Dropping `tx` on error rolls back, to the same effect.
    tx.commit()?;
    Ok(value)
}
