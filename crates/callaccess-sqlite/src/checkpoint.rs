//! Checkpoints off the write path.
//!
//! In WAL mode committed pages accumulate in the log until a checkpoint
//! copies them into the database file (and, with `synchronous=FULL`,
//! fsyncs it). SQLite's automatic checkpoint runs inside the COMMIT that
//! crosses 1,000 log pages, on the writer thread: every few dozen batches
//! one batch, and every request in it, waited for a copy of a thousand
//! pages scattered over the file. On a 10-million-grant store that was the
//! tail of the write latency (docs/PERFORMANCE.md), and the single writer
//! is the one thread that cannot be helped by a second core.
//!
//! So a thread of its own, on its own connection, runs a PASSIVE checkpoint
//! (which never blocks the writer or readers) whenever the writer has
//! committed since the last one, at most every [`INTERVAL`]. The writer
//! keeps an automatic checkpoint at a much higher mark only as a backstop,
//! should this thread fall behind.
//!
//! Like the writer, the thread opens its connection again after a fault
//! that a fresh one may clear (a file SQLite could only open read-only), so
//! checkpoints resume with the writes once the cause is gone.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use callaccess_domain::StoreError;

use crate::error::{fault_of, Fault};
use crate::open;

/// How often the log is folded into the database while writes go on.
const INTERVAL: Duration = Duration::from_millis(50);

/// Log pages at which the writer checkpoints itself anyway.
pub(crate) const WRITER_BACKSTOP_PAGES: i64 = 16_384;

/// The running checkpoint thread; stopping it (or dropping this) ends it.
pub(crate) struct Checkpointer {
    stop: Mutex<Option<mpsc::Sender<()>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts checkpointing `path` whenever `commits()` (the writer's count
    /// of transactions) has moved.
    pub(crate) fn start(
        path: &Path,
        commits: impl Fn() -> u64 + Send + 'static,
    ) -> Result<Self, StoreError> {
        let mut conn = Some(open::checkpointer(path).map_err(StoreError::from)?);
        let path = path.to_owned();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("callaccess-sqlite-checkpoint".to_owned())
            .spawn(move || {
                let mut seen = commits();
                // Ends when `stop` sends or is dropped.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    let now = commits();
                    if now == seen {
                        continue;
                    }
                    seen = now;
                    let open = match conn.take() {
                        Some(open) => open,
                        None => match open::checkpointer(&path) {
                            Ok(open) => open,
                            Err(e) => {
                                tracing::warn!(error = %e.0, "cannot open the checkpoint connection again");
                                continue;
                            }
                        },
                    };
                    let result = open.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        row.get::<_, i64>(0)
                    });
                    match result {
                        Ok(_) => conn = Some(open),
                        Err(e) => {
                            // The writer's backstop still bounds the log.
                            tracing::warn!(error = %e, "a background checkpoint failed");
                            if !fault_of(&e).is_some_and(Fault::needs_reopen) {
                                conn = Some(open);
                            }
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Other(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Self {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread and waits for a checkpoint in progress to end.
    /// Calling it again does nothing.
    pub(crate) fn stop(&self) {
        drop(
            self.stop
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                tracing::warn!("the checkpoint thread panicked");
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
