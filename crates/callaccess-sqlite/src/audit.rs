//! The audit trail on SQLite: entries recorded by the writes, in the
//! writer's transaction (a job rolled back to its savepoint takes its
//! entries with it), and the reads of the trail.
//!
//! Sequence numbers come from `INTEGER PRIMARY KEY AUTOINCREMENT` and one
//! writer at a time (the writer thread; the CLI takes the same file lock),
//! so they are in commit order and a plain `seq > ?` read misses nothing.

use callaccess_domain::audit::{
    AuditEntry, AuditFilter, AuditOrder, AuditPage, NewEntry, MAX_PAGE,
};
use callaccess_domain::{CompanyId, ExpiredCredential, Origin, StoreError, Timestamp};
use std::cell::RefCell;

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::Fail;
use crate::rows;

/// Who a write is for and when it runs: what every audited write takes.
/// Made on the writer thread as the job starts, so `now` is read in commit
/// order (entries are then in time order as well as in seq order, which
/// [`seq_bound`] relies on).
///
/// The entries a job records are kept here and inserted once the job's
/// savepoint is released ([`Audit::finish`], run by the writer before the
/// next job), in the order they were recorded and in the same
/// transaction: inside the savepoint SQLite would first copy every page
/// they touch into the savepoint's journal, for each job again (see
/// `writer`). A job that fails is rolled back and its entries are never
/// inserted. A job that records more than [`HELD`] entries (a seed)
/// inserts each full run at once, inside its savepoint, so that memory
/// stays bounded; its savepoint then rolls those back with the rest.
pub(crate) struct Audit {
    actor: String,
    request_id: Option<String>,
    /// The store's clock as the job runs: the time of the entries, and of
    /// the rows the write stamps (grants, shares, creations).
    pub(crate) now: Timestamp,
    held: RefCell<Vec<NewEntry>>,
}

/// Entries an [`Audit`] holds for after the savepoint: more than a
/// 1,000-pair PUT records.
const HELD: usize = 1024;

/// Most entries one statement inserts: [`insert_sql`]'s statements take
/// runs of 1, 2, 4, … up to this many rows, so that a write of a thousand
/// entries runs six statements, each of them prepared once.
const MOST_ROWS: usize = 512;

/// The statement that inserts `rows` entries: `?1`…`?3` are the time, the
/// actor and the request, shared by every row; each row takes six more
/// (company, action, call, user, before, after). One statement rather than
/// one per entry: SQLite then updates `sqlite_sequence` (AUTOINCREMENT)
/// once per statement, not once per entry, and steps and resets one
/// statement. `OR FAIL`: a row that breaks a constraint stops the
/// statement without undoing the rows before it, which spares SQLite the
/// statement journal a multi-row `INSERT` otherwise keeps (a copy of every
/// page it touches); nothing is left half done, because an insert that
/// fails fails its job (inside the job's savepoint) or its whole batch
/// (after it), and either is rolled back.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT OR FAIL INTO audit_entries
    (at, company_id, actor, request_id, action, call_id, user_id, before, after) VALUES ",
    );
    for row in 0..rows {
        let p = 4 + 6 * row;
        if row > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "(?1, ?{}, ?2, ?3, ?{}, ?{}, ?{}, ?{}, ?{})",
            p,
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5
        ));
    }
    sql
}

impl Audit {
    pub(crate) fn new(origin: &Origin, now: Timestamp) -> Self {
        Self {
            actor: origin.actor.to_string(),
            request_id: origin.request_id.clone(),
            now,
            held: RefCell::new(Vec::new()),
        }
    }

    /// Records one entry (see the type's notes for when it is inserted).
    pub(crate) fn record(&self, conn: &Connection, entry: NewEntry) -> Result<(), Fail> {
        let mut held = self.held.borrow_mut();
        held.push(entry);
        if held.len() >= HELD {
            self.insert(conn, &mut held)?;
        }
        Ok(())
    }

    /// Records the entry, if the change made one.
    pub(crate) fn record_if(&self, conn: &Connection, entry: Option<NewEntry>) -> Result<(), Fail> {
        match entry {
            Some(entry) => self.record(conn, entry),
            None => Ok(()),
        }
    }

    /// What the writer runs once the job's savepoint is released: the
    /// insert of the entries still held, if there are any.
    pub(crate) fn finish(self) -> Option<crate::writer::Then> {
        if self.held.borrow().is_empty() {
            return None;
        }
        Some(Box::new(move |conn: &Connection| {
            self.insert(conn, &mut self.held.borrow_mut())
        }))
    }

    /// Inserts the entries held so far now, inside the job: before a
    /// statement of the job that must see them.
    fn insert_held(&self, conn: &Connection) -> Result<(), Fail> {
        self.insert(conn, &mut self.held.borrow_mut())
    }

    /// Inserts `entries`, in order, and empties it.
    fn insert(&self, conn: &Connection, entries: &mut Vec<NewEntry>) -> Result<(), Fail> {
        let mut rest = &entries[..];
        while !rest.is_empty() {
            // The largest power of two that fits: in order, as few
            // statements as the binary digits of the count.
            let rows = 1usize << rest.len().min(MOST_ROWS).ilog2();
            let (run, after) = rest.split_at(rows);
            let mut insert = conn.prepare_cached(&insert_sql(rows))?;
            insert.raw_bind_parameter(1, self.now.unix())?;
            insert.raw_bind_parameter(2, &self.actor)?;
            insert.raw_bind_parameter(3, &self.request_id)?;
            for (row, entry) in run.iter().enumerate() {
                let p = 4 + 6 * row;
                insert.raw_bind_parameter(p, entry.company.map(|c| c.get()))?;
                insert.raw_bind_parameter(p + 1, entry.action.as_str())?;
                insert.raw_bind_parameter(p + 2, entry.call.map(|c| c.get()))?;
                insert.raw_bind_parameter(p + 3, entry.user.map(|u| u.get()))?;
                insert.raw_bind_parameter(p + 4, entry.before.as_ref().map(ToString::to_string))?;
                insert.raw_bind_parameter(p + 5, entry.after.as_ref().map(ToString::to_string))?;
            }
            insert.raw_execute()?;
            rest = after;
        }
        entries.clear();
        Ok(())
    }
}

/// The highest sequence number recorded, 0 for an empty trail. One seek
/// to the end of the primary key.
pub(crate) fn last_seq(conn: &Connection) -> Result<u64, Fail> {
    let last: Option<i64> = conn
        .prepare_cached("SELECT max(seq) FROM audit_entries")?
        .query_row([], |row| row.get(0))?;
    Ok(last.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

const COLUMNS: &str =
    "seq, at, company_id, actor, request_id, action, call_id, user_id, before, after";

fn entry_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let json = |index: usize| {
        rows::at(row, index, |text: Option<String>| {
            text.map(|t| serde_json::from_str(&t).map_err(|e| format!("stored audit value: {e}")))
                .transpose()
        })
    };
    let id = |index: usize| row.get::<_, Option<i64>>(index);
    Ok(AuditEntry {
        seq: rows::at(row, 0, |seq: i64| {
            u64::try_from(seq).map_err(|_| format!("negative sequence number {seq}"))
        })?,
        at: rows::timestamp_at(row, 1)?,
        company: match id(2)? {
            Some(_) => Some(rows::company_at(row, 2)?),
            None => None,
        },
        actor: row.get(3)?,
        request_id: row.get(4)?,
        action: rows::at(row, 5, |text: String| text.parse())?,
        call: match id(6)? {
            Some(_) => Some(rows::call_at(row, 6)?),
            None => None,
        },
        user: rows::optional_user_at(row, 7)?,
        before: json(8)?,
        after: json(9)?,
    })
}

fn seq_param(seq: u64) -> i64 {
    // Sequence numbers are SQLite rowids, never above i64::MAX; a larger
    // cursor is past every entry.
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Entries after `after`, oldest first: what is committed is all there is
/// below the newest committed number (see the module's comment).
pub(crate) fn changes_after(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> Result<Vec<AuditEntry>, Fail> {
    let limit = limit.min(MAX_PAGE);
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit_entries WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let entries = statement
        .query_map(
            params![seq_param(after), i64::try_from(limit).unwrap_or(i64::MAX)],
            entry_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(entries)
}

/// The first sequence number whose entry was recorded at `at` or later
/// (one past the last entry if none was): a binary search over the primary
/// key, some 25 point reads for ten million entries, instead of an index
/// on `at` that every write would pay for. It assumes entries are recorded
/// in time order, which holds because the writer reads the clock as each
/// job runs and the manual clock never goes back; a system clock stepped
/// back can only move the bound by the entries of that step, and the
/// queries still check `at` itself, so no entry outside the window is
/// ever answered.
pub(crate) fn seq_bound(conn: &Connection, at: Timestamp) -> Result<i64, Fail> {
    // Two subqueries, not `min(seq), max(seq)` in one: SQLite answers a
    // lone min or max from the end of the key, but both at once by reading
    // every row (a second at ten million entries).
    let ends: (Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT (SELECT min(seq) FROM audit_entries), (SELECT max(seq) FROM audit_entries)",
        )?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let (Some(first), Some(last)) = ends else {
        return Ok(1);
    };
    let mut probe = conn
        .prepare_cached("SELECT seq, at FROM audit_entries WHERE seq >= ?1 ORDER BY seq LIMIT 1")?;
    // Invariant: every entry below `low` is before `at`; the entry at or
    // after `high` (if any) is not.
    let (mut low, mut high) = (first, last + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        let found: Option<(i64, i64)> = probe
            .query_row([middle], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        match found {
            Some((seq, stamp)) if stamp < at.unix() => low = seq + 1,
            Some(_) | None => high = middle,
        }
    }
    Ok(low)
}

/// One page of the entries `filter` selects. Only the conditions that are
/// set are written into the statement, so that SQLite picks the index of
/// the company, its call or its user, and reads the page in seq order from
/// it without sorting.
pub(crate) fn list(
    conn: &Connection,
    filter: &AuditFilter,
    page: AuditPage,
) -> Result<Vec<AuditEntry>, Fail> {
    if page.limit == 0 {
        return Ok(Vec::new());
    }
    let (sql, values) = page_query(conn, filter, page)?;
    let mut statement = conn.prepare_cached(&sql)?;
    let entries = statement
        .query_map(rusqlite::params_from_iter(values), entry_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(entries)
}

/// The statement of one page, and its parameters.
fn page_query(
    conn: &Connection,
    filter: &AuditFilter,
    page: AuditPage,
) -> Result<(String, Vec<Value>), Fail> {
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut condition = |sql: &'static str, value: Value| {
        conditions.push(sql);
        values.push(value);
    };
    if let Some(company) = filter.company {
        condition("company_id = ?", Value::Integer(company.get()));
    }
    if let Some(call) = filter.call {
        condition("call_id = ?", Value::Integer(call.get()));
    }
    if let Some(user) = filter.user {
        condition("user_id = ?", Value::Integer(user.get()));
    }
    if let Some(actor) = &filter.actor {
        condition("actor = ?", Value::Text(actor.to_string()));
    }
    if let Some(action) = filter.action {
        condition("action = ?", Value::Text(action.as_str().to_owned()));
    }
    if let Some(since) = filter.since {
        condition("seq >= ?", Value::Integer(seq_bound(conn, since)?));
        condition("at >= ?", Value::Integer(since.unix()));
    }
    if let Some(until) = filter.until {
        condition("seq < ?", Value::Integer(seq_bound(conn, until)?));
        condition("at < ?", Value::Integer(until.unix()));
    }
    let order = match page.order {
        AuditOrder::Oldest => {
            if let Some(from) = page.from {
                condition("seq > ?", Value::Integer(seq_param(from)));
            }
            "ASC"
        }
        AuditOrder::Newest => {
            if let Some(from) = page.from {
                condition("seq < ?", Value::Integer(seq_param(from)));
            }
            "DESC"
        }
    };
    let filter_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let limit = page.limit.min(MAX_PAGE);
    values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    Ok((
        format!("SELECT {COLUMNS} FROM audit_entries {filter_sql} ORDER BY seq {order} LIMIT ?"),
        values,
    ))
}

/// Removes at most `limit` of the oldest entries recorded before `before`.
pub(crate) fn prune(conn: &Connection, before: Timestamp, limit: usize) -> Result<u64, Fail> {
    if limit == 0 {
        return Ok(0);
    }
    // The seq bound keeps the delete to the range of old entries: without
    // it, a prune that finds fewer than `limit` would read the whole table.
    let bound = seq_bound(conn, before)?;
    let removed = rows::execute(
        conn,
        "DELETE FROM audit_entries WHERE seq IN (
             SELECT seq FROM audit_entries WHERE seq < ?1 AND at < ?2 ORDER BY seq LIMIT ?3)",
        params![
            bound,
            before.unix(),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(u64::try_from(removed).unwrap_or(u64::MAX))
}

/// The entries of a reset: every entry of `company` (all of them for a
/// whole reset) goes, and the notes of expired credentials that went with
/// it; then the `reset` entry.
pub(crate) fn reset(
    conn: &Connection,
    company: Option<CompanyId>,
    audit: &Audit,
) -> Result<(), Fail> {
    // Entries the job recorded before the reset go with the rest.
    audit.insert_held(conn)?;
    rows::execute(
        conn,
        "DELETE FROM audit_entries WHERE ?1 IS NULL OR company_id = ?1",
        params![company.map(|c| c.get())],
    )?;
    rows::execute(
        conn,
        "DELETE FROM audit_expired_noted
         WHERE (kind = 'apiKey' AND credential NOT IN (SELECT access_key FROM api_keys))
            OR (kind = 'token' AND credential NOT IN (SELECT id FROM tokens))",
        [],
    )?;
    audit.record(conn, NewEntry::reset(company))
}

/// Records the expired credential's use, the first time only.
pub(crate) fn note_expired_use(
    conn: &Connection,
    credential: &Expired,
    audit: &Audit,
) -> Result<(), Fail> {
    let (kind, id) = match credential {
        Expired::ApiKey(key) => ("apiKey", key.as_str()),
        Expired::Token(id) => ("token", id.as_str()),
    };
    let entry = match credential {
        Expired::ApiKey(key) => {
            let info = crate::admin::api_key_info_of(conn, key)?
                .ok_or_else(|| StoreError::NoApiKey(key.clone()))?;
            NewEntry::api_key_expired(&info)
        }
        Expired::Token(id) => {
            let info = crate::admin::token_info_of(conn, id)?
                .ok_or_else(|| StoreError::NoToken(id.clone()))?;
            NewEntry::token_expired(&info)
        }
    };
    let noted = rows::execute(
        conn,
        "INSERT OR IGNORE INTO audit_expired_noted (kind, credential) VALUES (?1, ?2)",
        params![kind, id],
    )?;
    if noted > 0 {
        audit.record(conn, entry)?;
    }
    Ok(())
}

/// An [`ExpiredCredential`] the writer thread can own.
pub(crate) enum Expired {
    ApiKey(String),
    Token(String),
}

impl From<ExpiredCredential<'_>> for Expired {
    fn from(credential: ExpiredCredential<'_>) -> Self {
        match credential {
            ExpiredCredential::ApiKey(key) => Self::ApiKey(key.to_owned()),
            ExpiredCredential::Token(id) => Self::Token(id.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use callaccess_domain::{Action, CallId, UserId};

    use super::*;

    /// A migrated database in a temporary folder.
    fn migrated() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::open::writer(&dir.path().join("a.db")).unwrap();
        crate::migrate::bootstrap(&conn).unwrap();
        crate::migrate::apply_pending(&conn).unwrap();
        (dir, conn)
    }

    fn record(conn: &Connection, at: i64, company: i64, user: i64) {
        let audit = Audit::new(&Origin::cli(), Timestamp::from_unix(at));
        let company = CompanyId::from_i64(company).unwrap();
        let entry = NewEntry::grant_added(
            company,
            CallId::from_i64(7).unwrap(),
            UserId::from_i64(user + 1).unwrap(),
        );
        audit.record(conn, entry).unwrap();
        if let Some(then) = audit.finish() {
            then(conn).unwrap();
        }
    }

    fn plan(conn: &Connection, filter: &AuditFilter, order: AuditOrder) -> String {
        let page = AuditPage {
            order,
            from: Some(5),
            limit: 50,
        };
        let (sql, values) = page_query(conn, filter, page).unwrap();
        let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let lines = statement
            .query_map(rusqlite::params_from_iter(values), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap();
        lines.join("; ")
    }

    #[test]
    fn a_page_by_company_call_or_user_reads_its_index_in_order() {
        let (_dir, conn) = migrated();
        for n in 0..50 {
            record(&conn, 1_000 + n, 1 + n % 3, n);
        }
        // No ANALYZE: the store never runs it, so these are the plans a
        // file gets.
        let company = Some(CompanyId::from_i64(1).unwrap());
        let cases = [
            (
                AuditFilter {
                    company,
                    ..AuditFilter::default()
                },
                "audit_entries_by_company",
            ),
            (
                AuditFilter {
                    company,
                    call: Some(CallId::from_i64(7).unwrap()),
                    ..AuditFilter::default()
                },
                "audit_entries_by_call",
            ),
            (
                AuditFilter {
                    company,
                    user: Some(UserId::from_i64(3).unwrap()),
                    ..AuditFilter::default()
                },
                "audit_entries_by_user",
            ),
        ];
        for (filter, index) in cases {
            for order in [AuditOrder::Oldest, AuditOrder::Newest] {
                let plan = plan(&conn, &filter, order);
                assert!(plan.contains(index), "{filter:?} {order:?}: {plan}");
                assert!(!plan.contains("TEMP B-TREE"), "sorted: {plan}");
            }
        }
        // A time window is a range of the primary key.
        let window = AuditFilter {
            since: Some(Timestamp::from_unix(1_010)),
            until: Some(Timestamp::from_unix(1_020)),
            action: Some(Action::GrantAdd),
            ..AuditFilter::default()
        };
        let plan = plan(&conn, &window, AuditOrder::Oldest);
        assert!(
            plan.contains("rowid>? AND rowid<?") || plan.contains("rowid>"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        // A company's time window: a range of seq within its index (or of
        // the primary key), never the company's whole index.
        let company_window = AuditFilter { company, ..window };
        for order in [AuditOrder::Oldest, AuditOrder::Newest] {
            let shown = super::tests::plan(&conn, &company_window, order);
            assert!(
                shown.contains("company_id=? AND seq>? AND seq<?")
                    || shown.contains("rowid>? AND rowid<?"),
                "{order:?}: {shown}"
            );
            assert!(!shown.contains("TEMP B-TREE"), "{shown}");
        }
    }

    #[test]
    fn entries_are_inserted_in_the_order_recorded_whatever_their_number() {
        let (_dir, conn) = migrated();
        let company = CompanyId::from_i64(1).unwrap();
        let call = CallId::from_i64(7).unwrap();
        // One past the held entries (inserted in the job), runs of every
        // size below the largest, and a lone one.
        for count in [1usize, 3, 700, HELD + 7] {
            let first = last_seq(&conn).unwrap();
            let audit = Audit::new(&Origin::cli(), Timestamp::from_unix(5));
            for user in 1..=count {
                let user = UserId::from_i64(i64::try_from(user).unwrap()).unwrap();
                audit
                    .record(&conn, NewEntry::grant_added(company, call, user))
                    .unwrap();
            }
            if let Some(then) = audit.finish() {
                then(&conn).unwrap();
            }
            let users: Vec<(i64, i64)> = conn
                .prepare("SELECT seq, user_id FROM audit_entries WHERE seq > ?1 ORDER BY seq")
                .unwrap()
                .query_map([i64::try_from(first).unwrap()], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let expected: Vec<(i64, i64)> = (1..=i64::try_from(count).unwrap())
                .map(|n| (i64::try_from(first).unwrap() + n, n))
                .collect();
            assert_eq!(users, expected, "{count} entries");
        }
    }

    #[test]
    fn seq_bounds_find_the_first_entry_at_or_after_a_time_across_gaps() {
        let (_dir, conn) = migrated();
        assert_eq!(seq_bound(&conn, Timestamp::from_unix(5)).unwrap(), 1);
        // seq 1..=20 at times 100, 100, 101, 101, …
        for n in 0..20 {
            record(&conn, 100 + n / 2, 1, n);
        }
        conn.execute("DELETE FROM audit_entries WHERE seq BETWEEN 5 AND 12", [])
            .unwrap();
        let stamps: Vec<(i64, i64)> = conn
            .prepare("SELECT seq, at FROM audit_entries")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for at in 95..115 {
            let bound = seq_bound(&conn, Timestamp::from_unix(at)).unwrap();
            for (seq, stamp) in &stamps {
                assert_eq!(
                    seq < &bound,
                    *stamp < at,
                    "at {at}: bound {bound}, entry {seq}"
                );
            }
        }
        assert_eq!(seq_bound(&conn, Timestamp::from_unix(100)).unwrap(), 1);
        assert_eq!(seq_bound(&conn, Timestamp::from_unix(110)).unwrap(), 21);
    }
}
