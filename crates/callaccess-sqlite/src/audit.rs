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

use crate::audit_runs::{self, Direction, EntryFilter, Kind, Lookup};
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

/// The columns [`entry_row`] reads, of the entry aliased `e`.
const ENTRY_COLUMNS: &str = "e.seq, e.at, e.company_id, e.actor, e.request_id, e.action, \
     e.call_id, e.user_id, e.before, e.after";

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
        "SELECT {ENTRY_COLUMNS} FROM audit_entries e WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2"
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

/// One page of the entries `filter` selects. A page of a call or of a
/// user reads the tail and the runs ([`audit_runs::page`]); any other is
/// one statement, with only the conditions that are set, so that SQLite
/// reads the page in seq order from the company's index or the primary
/// key without sorting.
pub(crate) fn list(
    conn: &Connection,
    filter: &AuditFilter,
    page: AuditPage,
) -> Result<Vec<AuditEntry>, Fail> {
    if page.limit == 0 {
        return Ok(Vec::new());
    }
    let limit = page.limit.min(MAX_PAGE);
    let keyed = match (filter.call, filter.user) {
        (Some(call), _) => Some((Kind::Call, call.get())),
        (None, Some(user)) => Some((Kind::User, user.get())),
        (None, None) => None,
    };
    if let Some((kind, id)) = keyed {
        let bounds = seq_range(conn, filter, page)?;
        let conditions = entry_conditions(filter);
        let direction = match page.order {
            AuditOrder::Newest => Direction::Newest,
            AuditOrder::Oldest => Direction::Oldest,
        };
        let lookup = Lookup {
            kind,
            id,
            seqs: bounds,
            filter: &conditions,
            direction,
            limit,
        };
        return audit_runs::page(conn, &lookup, ENTRY_COLUMNS, entry_row);
    }
    let (sql, values) = page_query(conn, filter, page)?;
    let mut statement = conn.prepare_cached(&sql)?;
    let entries = statement
        .query_map(rusqlite::params_from_iter(values), entry_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(entries)
}

/// The conditions of `filter` on the entry's own columns (alias `e`),
/// every one but the sequence number's.
fn entry_conditions(filter: &AuditFilter) -> EntryFilter {
    let mut conditions = EntryFilter {
        sql: Vec::new(),
        values: Vec::new(),
    };
    let mut condition = |sql: &str, value: Value| {
        conditions.sql.push(sql.to_owned());
        conditions.values.push(value);
    };
    if let Some(company) = filter.company {
        condition("e.company_id = ?", Value::Integer(company.get()));
    }
    if let Some(call) = filter.call {
        condition("e.call_id = ?", Value::Integer(call.get()));
    }
    if let Some(user) = filter.user {
        condition("e.user_id = ?", Value::Integer(user.get()));
    }
    if let Some(actor) = &filter.actor {
        condition("e.actor = ?", Value::Text(actor.to_string()));
    }
    if let Some(action) = filter.action {
        condition("e.action = ?", Value::Text(action.as_str().to_owned()));
    }
    if let Some(since) = filter.since {
        condition("e.at >= ?", Value::Integer(since.unix()));
    }
    if let Some(until) = filter.until {
        condition("e.at < ?", Value::Integer(until.unix()));
    }
    conditions
}

/// The sequence numbers a page may answer, `[low, high)`: the time
/// window's (by [`seq_bound`]) and the cursor's.
fn seq_range(conn: &Connection, filter: &AuditFilter, page: AuditPage) -> Result<(i64, i64), Fail> {
    let mut low = match filter.since {
        Some(since) => seq_bound(conn, since)?,
        None => 0,
    };
    let mut high = match filter.until {
        Some(until) => seq_bound(conn, until)?,
        None => i64::MAX,
    };
    if let Some(from) = page.from {
        let from = seq_param(from);
        match page.order {
            AuditOrder::Oldest => low = low.max(from.saturating_add(1)),
            AuditOrder::Newest => high = high.min(from),
        }
    }
    Ok((low, high))
}

/// The statement of one page of no call and no user, and its parameters:
/// the entry's conditions and its range of sequence numbers, which SQLite
/// reads from the company's index or the primary key.
fn page_query(
    conn: &Connection,
    filter: &AuditFilter,
    page: AuditPage,
) -> Result<(String, Vec<Value>), Fail> {
    let EntryFilter {
        sql: mut conditions,
        mut values,
    } = entry_conditions(filter);
    let (low, high) = seq_range(conn, filter, page)?;
    conditions.push("e.seq >= ?".to_owned());
    values.push(Value::Integer(low));
    conditions.push("e.seq < ?".to_owned());
    values.push(Value::Integer(high));
    let order = match page.order {
        AuditOrder::Oldest => "ASC",
        AuditOrder::Newest => "DESC",
    };
    let limit = page.limit.min(MAX_PAGE);
    values.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    Ok((
        format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entries e WHERE {} ORDER BY e.seq {order} LIMIT ?",
            conditions.join(" AND ")
        ),
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
    if removed > 0 {
        let oldest_kept: Option<i64> = conn
            .prepare_cached("SELECT min(seq) FROM audit_entries")?
            .query_row([], |row| row.get(0))?;
        audit_runs::pruned(conn, oldest_kept.unwrap_or(i64::MAX))?;
    }
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
    // One company's keys stay in their runs, selecting nothing (see
    // `audit_runs`): finding them would read every run.
    if company.is_none() {
        audit_runs::cleared(conn)?;
    }
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
    fn a_page_of_no_call_and_no_user_reads_the_company_index_or_the_key_in_order() {
        let (_dir, conn) = migrated();
        for n in 0..50 {
            record(&conn, 1_000 + n, 1 + n % 3, n);
        }
        // No ANALYZE: the store never runs it, so these are the plans a
        // file gets.
        let company = Some(CompanyId::from_i64(1).unwrap());
        let by_company = AuditFilter {
            company,
            ..AuditFilter::default()
        };
        for order in [AuditOrder::Oldest, AuditOrder::Newest] {
            let plan = plan(&conn, &by_company, order);
            assert!(
                plan.contains("audit_entries_by_company"),
                "{order:?}: {plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "sorted: {plan}");
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

    /// `n` entries written straight in SQL after the `offset` before them:
    /// two companies, 37 calls and 53 users in turn, some entries without
    /// a call or a user, ten a second from time 100.
    fn fill(conn: &Connection, offset: i64, n: i64) {
        conn.execute(
            "WITH RECURSIVE k(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < ?1 + ?2)
             INSERT INTO audit_entries (at, company_id, actor, request_id, action, call_id, user_id)
             SELECT 100 + i / 10, 1 + i % 2, CASE WHEN i % 3 = 0 THEN 'cli' ELSE 'seed' END, NULL,
                    CASE WHEN i % 4 = 0 THEN 'grant.add' ELSE 'grant.remove' END,
                    CASE WHEN i % 11 = 0 THEN NULL ELSE 1 + i % 37 END,
                    CASE WHEN i % 13 = 0 THEN NULL ELSE 1 + i % 53 END
               FROM k",
            params![offset, n],
        )
        .unwrap();
    }

    /// Every entry, oldest first.
    fn every_entry(conn: &Connection) -> Vec<AuditEntry> {
        conn.prepare(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entries e ORDER BY e.seq"
        ))
        .unwrap()
        .query_map([], entry_row)
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    /// What a page must answer, worked out from every entry.
    fn expected(every: &[AuditEntry], filter: &AuditFilter, page: AuditPage) -> Vec<u64> {
        let selected = every.iter().filter(|e| filter.selects(e)).map(|e| e.seq);
        let seqs: Vec<u64> = match page.order {
            AuditOrder::Oldest => selected
                .filter(|s| page.from.is_none_or(|f| *s > f))
                .collect(),
            AuditOrder::Newest => {
                let mut seqs: Vec<u64> = selected
                    .filter(|s| page.from.is_none_or(|f| *s < f))
                    .collect();
                seqs.reverse();
                seqs
            }
        };
        seqs.into_iter().take(page.limit.min(MAX_PAGE)).collect()
    }

    /// Pages of calls and users, alone and with every other condition,
    /// both ways, from the start and from a cursor, and paged through to
    /// the end: each the same as worked out from every entry.
    fn pages_agree(conn: &Connection, stage: &str) {
        let every = every_entry(conn);
        let company = |c: i64| Some(CompanyId::from_i64(c).unwrap());
        let call = |c: i64| Some(CallId::from_i64(c).unwrap());
        let user = |u: i64| Some(UserId::from_i64(u).unwrap());
        let filters = [
            AuditFilter {
                call: call(5),
                ..AuditFilter::default()
            },
            AuditFilter {
                user: user(8),
                ..AuditFilter::default()
            },
            AuditFilter {
                company: company(2),
                call: call(4),
                ..AuditFilter::default()
            },
            AuditFilter {
                company: company(1),
                user: user(9),
                ..AuditFilter::default()
            },
            AuditFilter {
                company: company(1),
                call: call(7),
                user: user(7),
                action: Some(Action::GrantAdd),
                ..AuditFilter::default()
            },
            AuditFilter {
                call: call(3),
                actor: Some("cli".parse().unwrap()),
                since: Some(Timestamp::from_unix(1_000)),
                until: Some(Timestamp::from_unix(2_500)),
                ..AuditFilter::default()
            },
            // A call no entry has.
            AuditFilter {
                call: call(999),
                ..AuditFilter::default()
            },
        ];
        let middle = every.get(every.len() / 2).map(|e| e.seq);
        for filter in &filters {
            for order in [AuditOrder::Oldest, AuditOrder::Newest] {
                for from in [None, middle] {
                    for limit in [1, 7, 500] {
                        let page = AuditPage { order, from, limit };
                        let got: Vec<u64> = list(conn, filter, page)
                            .unwrap()
                            .iter()
                            .map(|e| e.seq)
                            .collect();
                        assert_eq!(
                            got,
                            expected(&every, filter, page),
                            "{stage}: {filter:?} {page:?}"
                        );
                    }
                }
                // Through to the end, a page at a time.
                let mut seen = Vec::new();
                let mut from = None;
                loop {
                    let page = AuditPage {
                        order,
                        from,
                        limit: 300,
                    };
                    let got = list(conn, filter, page).unwrap();
                    let Some(last) = got.last() else { break };
                    from = Some(last.seq);
                    seen.extend(got.iter().map(|e| e.seq));
                }
                let whole = AuditPage {
                    order,
                    from: None,
                    limit: usize::MAX,
                };
                let mut all = every
                    .iter()
                    .filter(|e| filter.selects(e))
                    .map(|e| e.seq)
                    .collect::<Vec<_>>();
                if order == AuditOrder::Newest {
                    all.reverse();
                }
                let _ = whole;
                assert_eq!(seen, all, "{stage}: {filter:?} {order:?}, paged through");
            }
        }
    }

    fn runs(conn: &Connection) -> Vec<(i64, i64, i64)> {
        conn.prepare("SELECT first_seq, last_seq, level FROM audit_runs ORDER BY first_seq")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn pages_of_a_call_or_a_user_are_whole_from_the_tail_runs_and_merged_runs() {
        let (_dir, conn) = migrated();
        let run = audit_runs::RUN;
        // All of it in the tail.
        fill(&conn, 0, run + 900);
        pages_agree(&conn, "tail only");
        // One run and the rest.
        assert_eq!(audit_runs::index_all(&conn).unwrap(), 1);
        assert_eq!(runs(&conn), vec![(1, run, 0)]);
        pages_agree(&conn, "one run");
        // Enough for eight level-0 runs, merged into one of level 1, and
        // more level-0 runs after it; upkeep one step at a time, as the
        // writer does after its batches.
        fill(&conn, run + 900, 9 * run);
        let newest = i64::try_from(last_seq(&conn).unwrap()).unwrap();
        let mut steps = 0;
        while audit_runs::index_all(&conn).unwrap() > 0 {
            steps += 1;
        }
        assert_eq!(steps, 1, "index_all does every step there is");
        let shape = runs(&conn);
        assert_eq!(shape.first(), Some(&(1, 8 * run, 1)), "{shape:?}");
        assert_eq!(shape.len(), 3, "{shape:?}");
        assert!(
            shape.windows(2).all(|w| w[0].1 + 1 == w[1].0),
            "contiguous: {shape:?}"
        );
        assert!(newest - shape.last().unwrap().1 < run, "{shape:?}");
        pages_agree(&conn, "merged");
        // Retention: the oldest entries go, and the runs they emptied.
        let removed = prune(
            &conn,
            Timestamp::from_unix(100 + (9 * run) / 10),
            usize::MAX,
        )
        .unwrap();
        // Ten entries a second: those before the second.
        let kept_from = (9 * run) / 10 * 10;
        assert_eq!(removed, u64::try_from(kept_from).unwrap());
        let shape = runs(&conn);
        assert!(
            !shape.is_empty() && shape.iter().all(|r| r.1 >= kept_from),
            "{shape:?}"
        );
        pages_agree(&conn, "pruned");
        // A reset of one company leaves its keys in the runs, selecting
        // nothing.
        let audit = Audit::new(&Origin::cli(), Timestamp::from_unix(10_000));
        reset(&conn, Some(CompanyId::from_i64(1).unwrap()), &audit).unwrap();
        if let Some(then) = audit.finish() {
            then(&conn).unwrap();
        }
        pages_agree(&conn, "one company reset");
        // A reset of all: no runs are left, and the next entries begin a
        // tail again.
        let audit = Audit::new(&Origin::cli(), Timestamp::from_unix(10_000));
        reset(&conn, None, &audit).unwrap();
        if let Some(then) = audit.finish() {
            then(&conn).unwrap();
        }
        assert!(runs(&conn).is_empty());
        fill(&conn, 0, run + 1);
        assert_eq!(audit_runs::index_all(&conn).unwrap(), 1);
        pages_agree(&conn, "after a reset");
    }

    #[test]
    fn upkeep_after_a_commit_takes_one_step_when_one_is_due() {
        let (_dir, conn) = migrated();
        let run = audit_runs::RUN;
        fill(&conn, 0, run - 1);
        let newest = |conn: &Connection| i64::try_from(last_seq(conn).unwrap()).unwrap();
        let mut upkeep = audit_runs::Upkeep::default();
        audit_runs::maintain(&conn, newest(&conn), &mut upkeep);
        assert!(runs(&conn).is_empty(), "short of a run: nothing to do");
        fill(&conn, run - 1, 7 * run + 2);
        for step in 1..=8 {
            audit_runs::maintain(&conn, newest(&conn), &mut upkeep);
            assert_eq!(runs(&conn).len(), step, "a run a step");
        }
        audit_runs::maintain(&conn, newest(&conn), &mut upkeep);
        assert_eq!(runs(&conn), vec![(1, 8 * run, 1)], "then the merge");
        audit_runs::maintain(&conn, newest(&conn), &mut upkeep);
        assert_eq!(runs(&conn).len(), 1, "a tail of one entry waits");
        assert!(conn.is_autocommit(), "every step committed");
        pages_agree(&conn, "kept up");
    }

    #[test]
    fn a_page_of_a_run_seeks_its_keys_and_reads_each_entry_by_its_number() {
        let (_dir, conn) = migrated();
        fill(&conn, 0, audit_runs::RUN);
        audit_runs::index_all(&conn).unwrap();
        let plan = |sql: &str| -> String {
            let lines: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |row| row.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            lines.join("; ")
        };
        let before = plan(
            "SELECT keys FROM audit_run_keys
              WHERE run = 1 AND kind = 0 AND (id, seq) < (5, 0)
              ORDER BY id DESC, seq DESC LIMIT 1",
        );
        assert!(
            before.contains(
                "SEARCH audit_run_keys USING PRIMARY KEY (run=? AND kind=? AND (id,seq)<(?,?))"
            ),
            "{before}"
        );
        let starting = plan(
            "SELECT keys FROM audit_run_keys
              WHERE run = 1 AND kind = 0 AND id = 5 AND seq >= 0 AND seq < 99 ORDER BY seq",
        );
        assert!(
            starting.contains(
                "SEARCH audit_run_keys USING PRIMARY KEY (run=? AND kind=? AND id=? AND seq>? AND seq<?)"
            ),
            "{starting}"
        );
        for shown in [&before, &starting] {
            assert!(!shown.contains("TEMP B-TREE"), "{shown}");
        }
        let entry = plan(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entries e WHERE e.seq = 7 AND e.company_id = 1"
        ));
        assert!(
            entry.contains("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)"),
            "{entry}"
        );
    }

    #[test]
    fn a_run_holds_each_key_of_its_entries_once_in_order_in_rows_of_at_most_48() {
        let (_dir, conn) = migrated();
        let run = audit_runs::RUN;
        fill(&conn, 0, 8 * run);
        audit_runs::index_all(&conn).unwrap();
        assert_eq!(runs(&conn), vec![(1, 8 * run, 1)]);
        let rows: Vec<(i64, i64, i64, Vec<u8>)> = conn
            .prepare("SELECT kind, id, seq, keys FROM audit_run_keys ORDER BY kind, id, seq")
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for kind in [0, 1] {
            let mut keys = Vec::new();
            for (_, id, seq, bytes) in rows.iter().filter(|r| r.0 == kind) {
                assert!(bytes.len() <= 48 * 16 && !bytes.is_empty() && bytes.len() % 16 == 0);
                let first = (
                    i64::from_be_bytes(bytes[..8].try_into().unwrap()),
                    i64::from_be_bytes(bytes[8..16].try_into().unwrap()),
                );
                assert_eq!(first, (*id, *seq), "a row is keyed by its first key");
                for key in bytes.chunks_exact(16) {
                    keys.push((
                        i64::from_be_bytes(key[..8].try_into().unwrap()),
                        i64::from_be_bytes(key[8..].try_into().unwrap()),
                    ));
                }
            }
            let column = if kind == 0 { "call_id" } else { "user_id" };
            let expected: Vec<(i64, i64)> = conn
                .prepare(&format!(
                    "SELECT {column}, seq FROM audit_entries WHERE {column} IS NOT NULL ORDER BY 1, 2"
                ))
                .unwrap()
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(keys, expected, "kind {kind}");
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
