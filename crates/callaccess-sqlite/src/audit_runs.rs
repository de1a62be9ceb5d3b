//! The audit trail's lookups by call and by user (migration 8): runs of
//! sorted keys, written by the writer after the entries they cover.
//!
//! ## Layout
//!
//! A run (`audit_runs`) covers a range of sequence numbers; its keys
//! (`audit_run_keys`) name, for each entry of the range, its call
//! (`kind` 0) and its user (`kind` 1), grouped under the run and sorted by
//! id and seq. The entries after the last run are the tail; they are read
//! by sequence number, which the primary key of `audit_entries` answers.
//!
//! A run's keys are sorted in memory and written 48 to a row, in key
//! order, under a run number higher than any before: its rows go to the
//! end of `audit_run_keys`, one insert per 48 keys. An index of
//! `audit_entries` on the call would
//! instead take each entry into the middle of the tree, and each batch
//! would rewrite one page per entry in the write-ahead log and again at
//! the checkpoint.
//!
//! ## Upkeep
//!
//! [`maintain`] runs on the writer's connection after a batch committed,
//! in a transaction of its own, one [`step`] at a time: it writes a run of
//! [`RUN`] sequence numbers once the tail spans that many, or merges
//! [`FAN`] level-0 runs into one of level 1 (`RUN × FAN` numbers, gaps
//! left by resets aside). Level-1 runs are not
//! merged further: ten million entries are some 300 of them, a seek each
//! for a page of a rare call. A step that fails leaves everything as it
//! was (its transaction is rolled back); reads stay complete, with a
//! longer tail, until a later step succeeds.
//!
//! ## Reading
//!
//! [`page`] reads the tail by seq, then the runs from the newest back (or
//! the oldest on), until the page is full, reading each key's entry by its
//! number: the entry's own columns decide the filter, so keys whose entry
//! was removed (by retention, or by a reset of one company, which leaves
//! the keys) select nothing. It runs in one
//! read transaction, so a step that commits meanwhile cannot make an
//! entry appear twice or not at all.
//!
//! Removing entries: retention drops the runs it emptied ([`pruned`]); a
//! reset of every company drops every run ([`cleared`]).

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Fail;

/// Sequence numbers a level-0 run spans from its first entry, and so the
/// most entries the tail holds before the next step writes one.
pub(crate) const RUN: i64 = 4_096;

/// Level-0 runs merged into one of level 1.
const FAN: i64 = 8;

/// Keys are of an entry's call or of its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Call = 0,
    User = 1,
}

/// The last sequence number in a run; 0 before the first run.
pub(crate) fn indexed_through(conn: &Connection) -> Result<i64, Fail> {
    let last: Option<i64> = conn
        .prepare_cached("SELECT last_seq FROM audit_runs ORDER BY first_seq DESC LIMIT 1")?
        .query_row([], |row| row.get(0))
        .optional()?;
    Ok(last.unwrap_or(0))
}

fn level0_runs(conn: &Connection) -> Result<i64, Fail> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM audit_runs WHERE level = 0")?
        .query_row([], |row| row.get(0))?)
}

/// Keys packed in one row of `audit_run_keys`: 16 bytes each, so that a
/// row stays within its page (SQLite keeps some 1,000 bytes of a row of a
/// `WITHOUT ROWID` table in the page before it overflows).
const CHUNK: usize = 48;

/// One key: the call's or the user's id, and the entry's number.
type Key = (i64, i64);

/// The keys of one row, as stored: each id and seq big-endian.
fn packed(keys: &[Key]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(keys.len() * 16);
    for (id, seq) in keys {
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&seq.to_be_bytes());
    }
    bytes
}

/// The keys of a stored row; a row not of whole keys was not written by
/// callaccess.
fn unpacked(bytes: &[u8]) -> Result<Vec<Key>, Fail> {
    if !bytes.len().is_multiple_of(16) {
        return Err(Fail::from(callaccess_domain::StoreError::Other(format!(
            "a row of the audit trail's runs holds {} bytes, not whole keys",
            bytes.len()
        ))));
    }
    Ok(bytes
        .chunks_exact(16)
        .map(|key| {
            // Sixteen bytes, split in two halves of eight: the conversions
            // cannot fail.
            let (id, seq) = key.split_at(8);
            (
                i64::from_be_bytes(id.try_into().unwrap_or([0; 8])),
                i64::from_be_bytes(seq.try_into().unwrap_or([0; 8])),
            )
        })
        .collect())
}

/// Writes `keys` of `kind`, sorted, as rows of run `run`.
fn write_keys(conn: &Connection, run: i64, kind: Kind, keys: &[Key]) -> Result<(), Fail> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO audit_run_keys (run, kind, id, seq, keys) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for chunk in keys.chunks(CHUNK) {
        // `chunks` yields no empty slice.
        let (id, seq) = chunk[0];
        insert.execute(params![run, kind as i64, id, seq, packed(chunk)])?;
    }
    Ok(())
}

/// The runs the next merge takes: the [`FAN`] oldest of level 0 (a
/// subquery taking `?1`, bound to `FAN`).
const OLDEST: &str = "SELECT id FROM audit_runs WHERE level = 0 ORDER BY first_seq LIMIT ?1";

/// Every key of `kind` in the runs the next merge takes, sorted.
fn merged_keys(conn: &Connection, kind: Kind) -> Result<Vec<Key>, Fail> {
    let mut keys = Vec::new();
    let mut statement = conn.prepare_cached(&format!(
        "SELECT keys FROM audit_run_keys WHERE run IN ({OLDEST}) AND kind = ?2"
    ))?;
    let mut rows = statement.query(params![FAN, kind as i64])?;
    while let Some(row) = rows.next()? {
        keys.extend(unpacked(
            row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?,
        )?);
    }
    keys.sort_unstable();
    Ok(keys)
}

/// The number at which [`step`] may next have something to do, read after
/// a step: 0 when a merge is due, else the end of the next run if its
/// first entry is there, else a run past `newest`. What the writer keeps
/// between commits, so that a commit with nothing due reads nothing.
fn due_at(conn: &Connection, newest: i64) -> Result<i64, Fail> {
    if level0_runs(conn)? >= FAN {
        return Ok(0);
    }
    let through = indexed_through(conn)?;
    Ok(match tail_start(conn, through)? {
        Some(first) => first.saturating_add(RUN - 1),
        None => newest.max(through).saturating_add(RUN),
    })
}

/// The first entry after `through`.
fn tail_start(conn: &Connection, through: i64) -> Result<Option<i64>, Fail> {
    Ok(conn
        .prepare_cached("SELECT seq FROM audit_entries WHERE seq > ?1 ORDER BY seq LIMIT 1")?
        .query_row([through], |row| row.get(0))
        .optional()?)
}

/// One piece of upkeep, inside the caller's transaction: a merge if one
/// is due, else a run of the tail if it is long enough. `true` if it
/// wrote something.
pub(crate) fn step(conn: &Connection) -> Result<bool, Fail> {
    if level0_runs(conn)? >= FAN {
        merge(conn)?;
        return Ok(true);
    }
    let through = indexed_through(conn)?;
    // The run begins at the tail's first entry (a gap before it, left by
    // a reset, is covered but costs nothing) and spans RUN numbers, all of
    // them taken: the newest entry is at or past its end, and later
    // entries are numbered above the newest.
    let Some(first) = tail_start(conn, through)? else {
        return Ok(false);
    };
    let last = first.saturating_add(RUN - 1);
    let newest = i64::try_from(crate::audit::last_seq(conn)?).unwrap_or(i64::MAX);
    if newest < last {
        return Ok(false);
    }
    let (mut calls, mut users): (Vec<Key>, Vec<Key>) = (Vec::new(), Vec::new());
    {
        let mut statement = conn.prepare_cached(
            "SELECT seq, call_id, user_id FROM audit_entries WHERE seq > ?1 AND seq <= ?2",
        )?;
        let mut rows = statement.query(params![through, last])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            if let Some(call) = row.get::<_, Option<i64>>(1)? {
                calls.push((call, seq));
            }
            if let Some(user) = row.get::<_, Option<i64>>(2)? {
                users.push((user, seq));
            }
        }
    }
    calls.sort_unstable();
    users.sort_unstable();
    let run = next_run(conn)?;
    write_keys(conn, run, Kind::Call, &calls)?;
    write_keys(conn, run, Kind::User, &users)?;
    conn.prepare_cached(
        "INSERT INTO audit_runs (id, first_seq, last_seq, level) VALUES (?1, ?2, ?3, 0)",
    )?
    .execute(params![run, through + 1, last])?;
    Ok(true)
}

fn next_run(conn: &Connection) -> Result<i64, Fail> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM audit_runs")?
        .query_row([], |row| row.get(0))?)
}

/// Merges the [`FAN`] oldest level-0 runs (consecutive ranges: level-0
/// runs are the newest, and each merge takes the oldest of them) into one
/// level-1 run under a new number.
fn merge(conn: &Connection) -> Result<(), Fail> {
    let (first, last): (i64, i64) = conn
        .prepare_cached(&format!(
            "SELECT min(first_seq), max(last_seq) FROM audit_runs WHERE id IN ({OLDEST})"
        ))?
        .query_row([FAN], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let run = next_run(conn)?;
    for kind in [Kind::Call, Kind::User] {
        let keys = merged_keys(conn, kind)?;
        write_keys(conn, run, kind, &keys)?;
    }
    conn.prepare_cached(&format!(
        "DELETE FROM audit_run_keys WHERE run IN ({OLDEST})"
    ))?
    .execute([FAN])?;
    conn.prepare_cached(&format!("DELETE FROM audit_runs WHERE id IN ({OLDEST})"))?
        .execute([FAN])?;
    conn.prepare_cached(
        "INSERT INTO audit_runs (id, first_seq, last_seq, level) VALUES (?1, ?2, ?3, 1)",
    )?
    .execute(params![run, first, last])?;
    Ok(())
}

/// What the writer keeps between commits for [`maintain`].
#[derive(Debug, Default)]
pub(crate) struct Upkeep {
    /// See [`due_at`]; 0 (look at the next commit) at start.
    due_at: i64,
}

/// After a committed batch, on the writer's connection and outside any
/// transaction: one [`step`] in a transaction of its own, if one is due.
/// `newest` is the highest sequence number committed. Reads nothing while
/// `newest` is short of what `upkeep` says (another process's entries can
/// only make a step due earlier than it says, which then waits for this
/// writer's next ones). A failure is logged and changes nothing (see the
/// module's notes).
pub(crate) fn maintain(conn: &Connection, newest: i64, upkeep: &mut Upkeep) {
    if newest < upkeep.due_at {
        return;
    }
    let started = std::time::Instant::now();
    let result = in_own_transaction(conn, || {
        step(conn)?;
        due_at(conn, newest)
    });
    metrics::histogram!("callaccess_audit_run_step_seconds")
        .record(started.elapsed().as_secs_f64());
    match result {
        Ok(due) => upkeep.due_at = due,
        Err(Fail(e, _)) => {
            tracing::warn!(error = %e, "cannot write the audit trail's next run; the tail stays longer until a later try");
            // Try again after another run's worth of entries.
            upkeep.due_at = newest.saturating_add(RUN);
        }
    }
}

/// `work` in a write transaction of its own, committed if it succeeds and
/// rolled back if it or the commit fails.
fn in_own_transaction<T>(
    conn: &Connection,
    work: impl FnOnce() -> Result<T, Fail>,
) -> Result<T, Fail> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let done = work().and_then(|value| {
        conn.execute_batch("COMMIT")?;
        Ok(value)
    });
    if done.is_err() && !conn.is_autocommit() {
        // A failed ROLLBACK leaves the connection to the writer's own
        // recovery: its next BEGIN reports the state.
        let _ = conn.execute_batch("ROLLBACK");
    }
    done
}

/// Puts the whole tail in runs now, one step per transaction, and returns
/// how many steps wrote something: for a store filled by other means (a
/// benchmark's fixture) before it is served. Entries short of a run stay
/// in the tail.
pub(crate) fn index_all(conn: &Connection) -> Result<u64, Fail> {
    catch_up(conn, None)
}

/// [`index_all`], stopping after the step that ends past `budget` if one
/// is given: what a store does as it closes, so that a tail written in one
/// go (an import) is in runs before the next process opens the file,
/// without making a close wait long on a trail of millions the upgrade to
/// version 8 left as tail.
pub(crate) fn catch_up(
    conn: &Connection,
    budget: Option<std::time::Duration>,
) -> Result<u64, Fail> {
    let started = std::time::Instant::now();
    let mut steps = 0;
    loop {
        if budget.is_some_and(|budget| started.elapsed() > budget) {
            return Ok(steps);
        }
        if !in_own_transaction(conn, || step(conn))? {
            return Ok(steps);
        }
        steps += 1;
    }
}

/// After retention removed the entries below `oldest_kept` (the lowest
/// sequence number left, or one past the last): the runs wholly below it
/// go, keys and all.
pub(crate) fn pruned(conn: &Connection, oldest_kept: i64) -> Result<(), Fail> {
    conn.prepare_cached(
        "DELETE FROM audit_run_keys
          WHERE run IN (SELECT id FROM audit_runs WHERE last_seq < ?1)",
    )?
    .execute([oldest_kept])?;
    conn.prepare_cached("DELETE FROM audit_runs WHERE last_seq < ?1")?
        .execute([oldest_kept])?;
    Ok(())
}

/// After every entry was removed (a reset of every company).
pub(crate) fn cleared(conn: &Connection) -> Result<(), Fail> {
    conn.execute_batch("DELETE FROM audit_run_keys; DELETE FROM audit_runs;")?;
    Ok(())
}

/// Conditions on the entry (alias `e`) besides its sequence number, with
/// their values: what a page's statements share.
pub(crate) struct EntryFilter {
    pub(crate) sql: Vec<String>,
    pub(crate) values: Vec<Value>,
}

/// Newest or oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Newest,
    Oldest,
}

/// The numbers of run `run` whose `kind` is `id`, within `[low, high)`,
/// in `direction`: from the row holding the keys just before `(id, low)`
/// and the rows that start after it, up to `(id, high)`.
fn run_seqs(
    conn: &Connection,
    run: i64,
    kind: Kind,
    id: i64,
    (low, high): (i64, i64),
    direction: Direction,
) -> Result<Vec<i64>, Fail> {
    let mut rows: Vec<Vec<u8>> = Vec::new();
    let before: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT keys FROM audit_run_keys
              WHERE run = ?1 AND kind = ?2 AND (id, seq) < (?3, ?4)
              ORDER BY id DESC, seq DESC LIMIT 1",
        )?
        .query_row(params![run, kind as i64, id, low], |row| row.get(0))
        .optional()?;
    rows.extend(before);
    let mut starting = conn.prepare_cached(
        "SELECT keys FROM audit_run_keys
          WHERE run = ?1 AND kind = ?2 AND id = ?3 AND seq >= ?4 AND seq < ?5
          ORDER BY seq",
    )?;
    for row in starting.query_map(params![run, kind as i64, id, low, high], |row| row.get(0))? {
        rows.push(row?);
    }
    let mut seqs = Vec::new();
    for row in &rows {
        seqs.extend(
            unpacked(row)?
                .into_iter()
                .filter(|(key, seq)| *key == id && (low..high).contains(seq))
                .map(|(_, seq)| seq),
        );
    }
    if direction == Direction::Newest {
        seqs.reverse();
    }
    Ok(seqs)
}

/// What a page of one call or one user asks for.
pub(crate) struct Lookup<'a> {
    pub(crate) kind: Kind,
    /// The call's or the user's id.
    pub(crate) id: i64,
    /// The sequence numbers it may answer, `[low, high)`.
    pub(crate) seqs: (i64, i64),
    /// The entry's other conditions.
    pub(crate) filter: &'a EntryFilter,
    pub(crate) direction: Direction,
    /// At most this many entries.
    pub(crate) limit: usize,
}

/// A page of the entries `lookup` selects, as rows read by `read`;
/// `columns` are the entry's columns to select (alias `e`).
pub(crate) fn page<T>(
    conn: &Connection,
    lookup: &Lookup<'_>,
    columns: &str,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, Fail> {
    let (low, high) = lookup.seqs;
    if lookup.limit == 0 || low >= high {
        return Ok(Vec::new());
    }
    // One snapshot for the tail and every run (see the module's notes): a
    // savepoint, which is a read transaction of its own on a reader's
    // connection and nests inside a write.
    conn.execute_batch("SAVEPOINT audit_page")?;
    let result = page_in_snapshot(conn, lookup, columns, read);
    // Nothing was written: releasing only ends the read.
    conn.execute_batch("RELEASE audit_page")?;
    result
}

fn page_in_snapshot<T>(
    conn: &Connection,
    lookup: &Lookup<'_>,
    columns: &str,
    read: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, Fail> {
    let Lookup {
        kind,
        id,
        seqs: (low, high),
        filter,
        direction,
        limit,
    } = *lookup;
    let mut found = Vec::new();
    let through = indexed_through(conn)?;
    let id_column = match kind {
        Kind::Call => "call_id",
        Kind::User => "user_id",
    };
    let wheres = if filter.sql.is_empty() {
        String::new()
    } else {
        format!(" AND {}", filter.sql.join(" AND "))
    };
    let order = match direction {
        Direction::Newest => "DESC",
        Direction::Oldest => "ASC",
    };
    let sql_limit = |n: usize| Value::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    let tail = |found: &mut Vec<T>| -> Result<(), Fail> {
        let (from, to) = (low.max(through + 1), high);
        if from >= to || found.len() >= limit {
            return Ok(());
        }
        let mut values = vec![Value::Integer(from), Value::Integer(to), Value::Integer(id)];
        values.extend(filter.values.iter().cloned());
        values.push(sql_limit(limit - found.len()));
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {columns} FROM audit_entries e
              WHERE e.seq >= ? AND e.seq < ? AND e.{id_column} = ?{wheres}
              ORDER BY e.seq {order} LIMIT ?"
        ))?;
        let rows = statement.query_map(rusqlite::params_from_iter(values), &read)?;
        for row in rows {
            found.push(row?);
        }
        Ok(())
    };
    if direction == Direction::Newest {
        tail(&mut found)?;
    }
    if found.len() < limit {
        let runs: Vec<i64> = conn
            .prepare_cached(&format!(
                "SELECT id FROM audit_runs
                  WHERE last_seq >= ?1 AND first_seq < ?2 ORDER BY first_seq {order}"
            ))?
            .query_map(params![low, high], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut entry = conn.prepare_cached(&format!(
            "SELECT {columns} FROM audit_entries e WHERE e.seq = ?{wheres}"
        ))?;
        for run in runs {
            for seq in run_seqs(conn, run, kind, id, (low, high), direction)? {
                let mut values = vec![Value::Integer(seq)];
                values.extend(filter.values.iter().cloned());
                // None: the entry is gone (see the module's notes), or the
                // filter does not select it.
                let mut rows = entry.query(rusqlite::params_from_iter(values))?;
                if let Some(row) = rows.next()? {
                    found.push(read(row)?);
                    if found.len() >= limit {
                        return Ok(found);
                    }
                }
            }
        }
    }
    if direction == Direction::Oldest {
        tail(&mut found)?;
    }
    Ok(found)
}
