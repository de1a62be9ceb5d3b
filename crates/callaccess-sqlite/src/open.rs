//! Deciding whether a file may be opened, and opening connections to it.
//!
//! A file is inspected before anything writes to it: reading its first bytes
//! and then querying it through a read-only connection. Only a missing or
//! empty file, an SQLite database with no tables and no application marker,
//! or a callaccess database this binary understands passes. Everything else
//! is refused untouched, because `PRAGMA journal_mode=WAL` alone would
//! already rewrite another application's file header.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use callaccess_domain::StoreError;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::error::{from_sqlite, Fail};
use crate::migrate::{self, APPLICATION_ID};

/// How long a connection waits for another connection's lock (a second
/// process such as `callaccess import`, or a checkpoint) before giving up
/// with `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page cache of the write connection, in KiB (SQLite's negative
/// `cache_size`). A write batch keeps every page it dirties in this cache
/// until COMMIT; SQLite's default (2 MiB) made 1,000-pair batches spill
/// pages to the log mid-transaction and re-read index pages from the OS on
/// almost every lookup. 64 MiB holds the interior pages of a 10-million-grant
/// table, the users and calls, and the leaves a batch of 64 such requests
/// dirties.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// Bytes the write-ahead log file is cut back to when it starts over.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Page cache of each read connection, in KiB: the index interior pages
/// and the calls a lookup passes through, so a point read touches the OS at
/// most for its leaf.
const READER_CACHE_KIB: i64 = 16 * 1024;

/// The 16 bytes every SQLite 3 database file starts with.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Size of the database header; the application id is at offset 68.
const HEADER_LEN: usize = 100;

/// What inspection found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// Nothing there yet, or an empty SQLite database: ours to initialise.
    Fresh,
    /// A callaccess database at this schema version (not newer than ours).
    Ours,
}

fn refuse(path: &Path, why: &str) -> StoreError {
    StoreError::Incompatible(format!(
        "\"{}\" is not a callaccess database ({why})",
        path.display()
    ))
}

/// Decides, without writing anything, whether `path` may be opened.
pub(crate) fn inspect(path: &Path) -> Result<Found, StoreError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Fresh),
        Err(e) => {
            return Err(StoreError::Unavailable(format!(
                "cannot read \"{}\": {e}",
                path.display()
            )))
        }
    };
    if metadata.is_dir() {
        return Err(refuse(path, "it is a folder"));
    }
    // SQLite treats an empty file as an empty database.
    if metadata.len() == 0 {
        return Ok(Found::Fresh);
    }

    let mut header = Vec::with_capacity(HEADER_LEN);
    std::fs::File::open(path)
        .and_then(|file| file.take(HEADER_LEN as u64).read_to_end(&mut header))
        .map_err(|e| StoreError::Unavailable(format!("cannot read \"{}\": {e}", path.display())))?;
    if header.len() < HEADER_LEN || !header.starts_with(SQLITE_MAGIC) {
        return Err(refuse(path, "it is not an SQLite file"));
    }
    // A marker of another application is refused before SQLite even opens
    // the file, so not even its -wal and -shm companions appear.
    let marker = i32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if marker != 0 && marker != APPLICATION_ID {
        return Err(refuse(
            path,
            &format!("it belongs to another application, id {marker:#010x}"),
        ));
    }

    // The header alone is not enough: a write-ahead log may hold newer pages
    // (including the header page) that only SQLite knows how to read.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| from_sqlite(&e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| from_sqlite(&e))?;
    let not_sqlite = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => refuse(path, "it is not an SQLite file"),
        _ => from_sqlite(&e),
    };
    let marker: i32 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(not_sqlite)?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(not_sqlite)?;
    match marker {
        0 if tables == 0 => return Ok(Found::Fresh),
        0 => return Err(refuse(path, "it holds tables of another application")),
        APPLICATION_ID => {}
        other => {
            return Err(refuse(
                path,
                &format!("it belongs to another application, id {other:#010x}"),
            ))
        }
    }

    let has_history: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations')",
            [],
            |row| row.get(0),
        )
        .map_err(|e| from_sqlite(&e))?;
    let version = if has_history {
        migrate::current(&conn).map_err(StoreError::from)?
    } else {
        0
    };
    callaccess_domain::migrations::refuse_newer(&format!("\"{}\"", path.display()), version)?;
    Ok(Found::Ours)
}

/// The one connection that writes: WAL so readers never wait for it, and
/// `synchronous=FULL` so every COMMIT reaches the disk before any caller is
/// told it succeeded.
pub(crate) fn writer(path: &Path) -> Result<Connection, Fail> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Fail::from(StoreError::Other(format!(
            "the database refused WAL mode (it stays in {mode})"
        ))));
    }
    conn.pragma_update(None, "synchronous", synchronous())?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    // Checkpoints normally run on their own thread (`checkpoint`); this
    // only bounds the log should that thread fall behind.
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        crate::checkpoint::WRITER_BACKSTOP_PAGES,
    )?;
    // A burst of big writes can grow the log file far past its usual size
    // before a checkpoint catches up; once the log starts over, give the
    // space back instead of keeping the peak for ever.
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    // Each request in a batch runs in a savepoint, whose undo copies of the
    // pages it changes SQLite otherwise writes to a temporary file; they
    // only matter until COMMIT, so memory is the right place for them.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // The write path uses a few dozen distinct statements; keep all prepared.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// `synchronous` of the writer and the checkpointer: `FULL`, except in a
/// test build that asks to acknowledge before fsync.
#[cfg(not(feature = "test-unsafe-ack-before-fsync"))]
fn synchronous() -> &'static str {
    "FULL"
}

/// `FULL`, unless `CALLACCESS_TEST_ONLY_ACK_BEFORE_FSYNC=1`: then `OFF`, so
/// that a COMMIT is acknowledged before anything reaches the disk (and no
/// checkpoint fsyncs it later, so the loss does not hang on timing). Only the
/// power-loss test sets it, to prove that it catches a store that loses
/// acknowledged writes; the feature that compiles this in is off in every
/// build a user gets (`cargo build`, `cargo install`, release builds).
#[cfg(feature = "test-unsafe-ack-before-fsync")]
fn synchronous() -> &'static str {
    if std::env::var_os("CALLACCESS_TEST_ONLY_ACK_BEFORE_FSYNC").is_some_and(|v| v == "1") {
        tracing::warn!(
            "CALLACCESS_TEST_ONLY_ACK_BEFORE_FSYNC=1: writes are acknowledged before they reach \
             the disk (synchronous=OFF); for tests only"
        );
        "OFF"
    } else {
        "FULL"
    }
}

/// The connection of the checkpoint thread. `synchronous=FULL` makes each
/// checkpoint fsync the database before the log may be reused.
pub(crate) fn checkpointer(path: &Path) -> Result<Connection, Fail> {
    let conn = existing(path)?;
    conn.pragma_update(None, "synchronous", synchronous())?;
    Ok(conn)
}

/// A connection for the read pool. `query_only` makes an accidental write on
/// it fail instead of racing the writer.
pub(crate) fn reader(path: &Path) -> Result<Connection, Fail> {
    let conn = existing(path)?;
    conn.pragma_update(None, "query_only", "ON")?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// A connection to the file the writer created, which waits for locks up to
/// the busy timeout.
fn existing(path: &Path) -> Result<Connection, Fail> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}
