//! The audit trail (control-plane.md §7, §9): recording the entries the
//! domain's [`NewEntry`] constructors build, in the transaction of the
//! write that changed the rows; listing them; and streaming them in
//! sequence order to readers on any node.
//!
//! ## Recording
//!
//! Entries get their number from the sequence `audit_seq` (migration 7),
//! in the statement that inserts them. Every recording
//! statement runs after its transaction wrote data — the write statement
//! comes first in the transaction, or first in the same statement (a
//! data-modifying CTE whose rows the entries are read from) — and
//! [`RECORD`] calls `pg_current_xact_id()` besides: the transaction has its
//! xid before it draws a number. [`changes_after`] depends on it.
//!
//! PUT and DELETE record their entries in their write statement
//! ([`GRANTS_RECORDED`], [`GRANTS_REMOVED`]), so auditing adds no round
//! trip to them; the directory writes send [`RECORD`] in the round trip of
//! their write and `COMMIT`.
//!
//! ## Reading in commit order
//!
//! Numbers are drawn in one order and committed in another: with several
//! writers, seq 10 can be visible while seq 9 is still to commit. A reader
//! that resumed after 10 would miss 9 for good. So [`changes_after`]
//! returns the entries after `after` only up to the first gap that may
//! still fill; see there why a gap can be told from a hole left by a
//! rollback without any lock on the writers.
//!
//! ## Announcing
//!
//! A write that recorded entries is announced after it committed, by a
//! `NOTIFY` of the highest number in the trail, sent by this node's
//! [`Listener`] on its own connection ([`Announcer`]). Not by `pg_notify`
//! in the writing transaction: PostgreSQL commits the transactions that
//! notify one at a time, each holding one database-wide lock from before
//! its commit record until its flush to disk is done, so every audited
//! write would wait for the disk flushes of the ones before it instead of
//! sharing them (measured: a single-pair PUT lost 38 to 47 % of its
//! throughput; docs/PERFORMANCE.md). The announcements of a burst of
//! commits are folded into one, sent without waiting for the disk
//! (nothing depends on a notification being durable). An announcement
//! that is lost (the node stops between its commit and the `NOTIFY`, the
//! listener's connection is down) only delays the other nodes' streams
//! until their waiters' timeout.
//!
//! ## Waiting
//!
//! [`Listener`]: one connection per store that `LISTEN`s on
//! `callaccess_audit`, keeps the highest number announced in a
//! `tokio::sync::watch`, and reconnects with backoff; waiters wake on it,
//! or at their timeout when a notification was lost.

use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use callaccess_domain::audit::MAX_PAGE;
use callaccess_domain::{
    Action, AuditEntry, AuditFilter, AuditOrder, AuditPage, NewEntry, Origin, StoreError, Timestamp,
};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Row};

use crate::error::Fail;
use crate::rows;
use crate::tally::Db;

/// The channel of the notifications; the payload is the highest sequence
/// number in the trail when the announcing node sent it.
pub(crate) const CHANNEL: &str = "callaccess_audit";

/// What an [`Announcer`] sends: the highest number committed.
const ANNOUNCE: &str =
    "SELECT pg_notify('callaccess_audit', coalesce(max(seq), 0)::TEXT) FROM audit_entries";

/// Most entries in one recording statement (a seed records one per row it
/// writes): large enough for few round trips, small enough for modest
/// arrays.
const RECORD_RUN: usize = 5_000;

/// Inserts entries given as parallel arrays (`$4`…`$9`: company, action,
/// call, user, before, after), in array order, at `$1` by actor `$2` for
/// request `$3`; its one row is the count. `writer` assigns the
/// transaction's xid before any number is drawn (a no-op when its data
/// write already did, which is always the case in practice): the join
/// needs its one row before it yields any row to number, and the numbers
/// are drawn after the sort, in array order.
pub(crate) const RECORD: &str = "\
WITH writer AS MATERIALIZED (SELECT pg_current_xact_id() AS xid),
recorded AS (
    INSERT INTO audit_entries
           (seq, at, company_id, actor, request_id, action, call_id, user_id, before, after)
    SELECT nextval('audit_seq'), $1, g.company_id, $2, $3, g.action, g.call_id, g.user_id,
           g.before, g.after
      FROM unnest($4::BIGINT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[])
           WITH ORDINALITY AS g (company_id, action, call_id, user_id, before, after, ord)
           CROSS JOIN writer
     ORDER BY g.ord
    RETURNING seq)
SELECT count(*) FROM recorded";

/// A write of API grants (`$write`, returning `call_id, user_id` as
/// `$rows`) with the entries of the rows it wrote: `$5`…`$7` (actor,
/// request, action) at `$4`, of company `$1`, in the order of `$order`
/// (the given pairs, joined on the written rows). The entries are read
/// from the rows the write returned, so the write comes first (and with
/// it the xid) before any number is drawn.
macro_rules! pairs_audited {
    ($rows:literal, $write:expr, $given:expr, $order:literal) => {
        concat!(
            "WITH ",
            $rows,
            " AS (",
            $write,
            "
    RETURNING call_id, user_id),
recorded AS (
    INSERT INTO audit_entries (seq, at, company_id, actor, request_id, action, call_id, user_id)
    SELECT nextval('audit_seq'), $4, $1, $5, $6, $7, w.call_id, w.user_id
      FROM ",
            $given,
            " JOIN ",
            $rows,
            " w ON w.call_id = g.call_id AND w.user_id = g.user_id
     ORDER BY ",
            $order,
            "
    RETURNING seq)
SELECT count(*) FROM recorded"
        )
    };
}

/// The pairs `($2, $3)`, arrays, in their order.
macro_rules! given_pairs {
    () => {
        "unnest($2::BIGINT[], $3::BIGINT[]) WITH ORDINALITY AS g (call_id, user_id, ord)"
    };
}

/// One pair (`$2`, `$3`: ids).
macro_rules! given_pair {
    () => {
        "(SELECT $2::BIGINT AS call_id, $3::BIGINT AS user_id) g"
    };
}

/// The API grant insert of PUT (company `$1`, at `$4`; an existing grant
/// keeps its time) for `$pairs`.
macro_rules! grants_inserted {
    ($pairs:expr) => {
        concat!(
            "INSERT INTO api_grants (company_id, call_id, user_id, granted_at)
    SELECT $1, g.call_id, g.user_id, $4 FROM ",
            $pairs,
            "
    ON CONFLICT (company_id, call_id, user_id) DO NOTHING"
        )
    };
}

/// PUT's write: inserts the API grants `($2, $3)` and records `grant.add`
/// for each it inserted, in request order.
pub(crate) const GRANTS_RECORDED: &str = pairs_audited!(
    "inserted",
    grants_inserted!(given_pairs!()),
    given_pairs!(),
    "g.ord"
);

/// [`GRANTS_RECORDED`] for one grant (`$2`, `$3`: ids), the common PUT:
/// like `FACTS_ONE` in access.rs, a statement without arrays settles on one
/// plan after a few executions, where one with arrays is planned again on
/// every execution (which, measured, cost a single-pair PUT more than the
/// entry itself).
pub(crate) const GRANT_RECORDED: &str = pairs_audited!(
    "inserted",
    grants_inserted!(given_pair!()),
    given_pair!(),
    "1"
);

/// DELETE's write: removes the API grants `($2, $3)` of company `$1` and
/// records `grant.remove` for each it removed, in request order.
pub(crate) const GRANTS_REMOVED: &str = pairs_audited!(
    "deleted",
    "DELETE FROM api_grants
     WHERE company_id = $1
       AND (call_id, user_id) IN (SELECT * FROM unnest($2::BIGINT[], $3::BIGINT[]))",
    given_pairs!(),
    "g.ord"
);

/// [`GRANTS_REMOVED`] for one grant, as [`GRANT_RECORDED`] is for PUT.
pub(crate) const GRANT_REMOVED: &str = pairs_audited!(
    "deleted",
    "DELETE FROM api_grants WHERE company_id = $1 AND call_id = $2 AND user_id = $3",
    given_pair!(),
    "1"
);

/// The parameters of [`RECORD`] for some entries, owned.
pub(crate) struct RecordParams {
    at: i64,
    actor: String,
    request_id: Option<String>,
    companies: Vec<Option<i64>>,
    actions: Vec<&'static str>,
    calls: Vec<Option<i64>>,
    users: Vec<Option<i64>>,
    before: Vec<Option<String>>,
    after: Vec<Option<String>>,
}

impl RecordParams {
    pub(crate) fn new(origin: &Origin, now: Timestamp, entries: &[NewEntry]) -> Self {
        let json = |value: &Option<serde_json::Value>| value.as_ref().map(ToString::to_string);
        Self {
            at: now.unix(),
            actor: origin.actor.to_string(),
            request_id: origin.request_id.clone(),
            companies: entries.iter().map(|e| e.company.map(|c| c.get())).collect(),
            actions: entries.iter().map(|e| e.action.as_str()).collect(),
            calls: entries.iter().map(|e| e.call.map(|c| c.get())).collect(),
            users: entries.iter().map(|e| e.user.map(|u| u.get())).collect(),
            before: entries.iter().map(|e| json(&e.before)).collect(),
            after: entries.iter().map(|e| json(&e.after)).collect(),
        }
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.at,
            &self.actor,
            &self.request_id,
            &self.companies,
            &self.actions,
            &self.calls,
            &self.users,
            &self.before,
            &self.after,
        ]
    }
}

/// The parameters PUT's and DELETE's statements take after the pairs:
/// `$4` (the time), `$5`, `$6` and `$7` (the action).
pub(crate) struct PairParams {
    pub(crate) at: i64,
    pub(crate) actor: String,
    pub(crate) request_id: Option<String>,
    pub(crate) action: &'static str,
}

impl PairParams {
    pub(crate) fn new(origin: &Origin, now: Timestamp, action: Action) -> Self {
        Self {
            at: now.unix(),
            actor: origin.actor.to_string(),
            request_id: origin.request_id.clone(),
            action: action.as_str(),
        }
    }
}

/// Records `entries` in the caller's transaction, in order, after its
/// data writes; nothing for none.
pub(crate) async fn record(
    db: &impl Db,
    origin: &Origin,
    now: Timestamp,
    entries: &[NewEntry],
) -> Result<(), Fail> {
    for run in entries.chunks(RECORD_RUN) {
        let params = RecordParams::new(origin, now, run);
        crate::tally::recorded();
        rows::execute(db, RECORD, &params.params()).await?;
    }
    Ok(())
}

// --- reading ---

const COLUMNS: &str =
    "seq, at, company_id, actor, request_id, action, call_id, user_id, before, after";

fn entry_at(row: &Row, at: usize) -> Result<AuditEntry, Fail> {
    let bad = |what: String| {
        Fail::Store(StoreError::Other(format!(
            "an audit entry holds {what}, which callaccess never writes"
        )))
    };
    let json = |index: usize| -> Result<Option<serde_json::Value>, Fail> {
        rows::at::<Option<&str>>(row, index)?
            .map(|text| serde_json::from_str(text).map_err(|_| bad("malformed JSON".to_owned())))
            .transpose()
    };
    let company = rows::at::<Option<i64>>(row, at + 2)?
        .map(|_| rows::company_at(row, at + 2))
        .transpose()?;
    let call = rows::at::<Option<i64>>(row, at + 6)?
        .map(|_| rows::call_at(row, at + 6))
        .transpose()?;
    let action: &str = rows::at(row, at + 5)?;
    Ok(AuditEntry {
        seq: u64::try_from(rows::at::<i64>(row, at)?)
            .map_err(|_| bad("a negative sequence number".to_owned()))?,
        at: rows::timestamp_at(row, at + 1)?,
        company,
        actor: rows::at(row, at + 3)?,
        request_id: rows::at(row, at + 4)?,
        action: action.parse().map_err(bad)?,
        call,
        user: rows::optional_user_at(row, at + 7)?,
        before: json(at + 8)?,
        after: json(at + 9)?,
    })
}

/// A sequence number as bound.
fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit.min(MAX_PAGE)).unwrap_or(0)
}

/// The smallest sequence number whose entry was recorded at or after `$t`
/// (past the last entry when none was), by binary search over the primary
/// key: each step one index probe, at most 64 steps however long the
/// trail. Exact when entries are recorded in time order, which they are in
/// practice (see [`list`]).
const FIRST_AT: &str = "\
WITH RECURSIVE search (lo, hi) AS (
    SELECT coalesce((SELECT min(seq) FROM audit_entries), 0),
           coalesce((SELECT max(seq) FROM audit_entries), 0) + 1
    UNION ALL
    SELECT CASE WHEN p.seq < s.hi AND p.at < $t THEN p.seq + 1 ELSE s.lo END,
           CASE WHEN p.seq < s.hi AND p.at < $t THEN s.hi ELSE (s.lo + s.hi) / 2 END
      FROM search s
      LEFT JOIN LATERAL (
           SELECT seq, at FROM audit_entries WHERE seq >= (s.lo + s.hi) / 2
            ORDER BY seq LIMIT 1) p ON true
     WHERE s.lo < s.hi)
SELECT lo FROM search WHERE lo >= hi";

/// One page of the entries `filter` selects ([`AuditFilter::selects`] in
/// SQL), in `page`'s order.
///
/// `since` and `until` become bounds on `seq` as well as conditions on
/// `at`: [`FIRST_AT`] finds where the times start, so that a company's (or
/// call's, or user's) index is walked from there instead of from its first
/// entry, and there is no index on `at` for every write to keep up (the
/// trail's indexes are what auditing costs a PUT). That rests on entries
/// being recorded in time order, as they are in practice: each store's
/// clock never goes back (a manual clock only moves forward). An entry
/// recorded out of time order (system clocks of several nodes a second
/// apart) near a bound could be left out of a page; the exact conditions
/// on `at` still hold for every entry listed.
pub(crate) async fn list(
    db: &impl Db,
    filter: &AuditFilter,
    page: AuditPage,
) -> Result<Vec<AuditEntry>, Fail> {
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut bind = |value: Box<dyn ToSql + Sync + Send>| {
        params.push(value);
        format!("${}", params.len())
    };
    let mut conditions: Vec<String> = Vec::new();
    if let Some(company) = filter.company {
        conditions.push(format!("company_id = {}", bind(Box::new(company.get()))));
    }
    if let Some(call) = filter.call {
        conditions.push(format!("call_id = {}", bind(Box::new(call.get()))));
    }
    if let Some(user) = filter.user {
        conditions.push(format!("user_id = {}", bind(Box::new(user.get()))));
    }
    if let Some(actor) = &filter.actor {
        conditions.push(format!("actor = {}", bind(Box::new(actor.to_string()))));
    }
    if let Some(action) = filter.action {
        conditions.push(format!("action = {}", bind(Box::new(action.as_str()))));
    }
    let first_at = |placeholder: &str| format!("({})", FIRST_AT.replace("$t", placeholder));
    if let Some(since) = filter.since {
        let p = bind(Box::new(since.unix()));
        conditions.push(format!("at >= {p}"));
        conditions.push(format!("seq >= {}", first_at(&p)));
    }
    if let Some(until) = filter.until {
        let p = bind(Box::new(until.unix()));
        conditions.push(format!("at < {p}"));
        conditions.push(format!("seq < {}", first_at(&p)));
    }
    let order = match page.order {
        AuditOrder::Oldest => {
            if let Some(from) = page.from {
                conditions.push(format!("seq > {}", bind(Box::new(seq_param(from)))));
            }
            "seq"
        }
        AuditOrder::Newest => {
            if let Some(from) = page.from {
                conditions.push(format!("seq < {}", bind(Box::new(seq_param(from)))));
            }
            "seq DESC"
        }
    };
    let limit = bind(Box::new(limit_param(page.limit)));
    let wheres = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql =
        format!("SELECT {COLUMNS} FROM audit_entries {wheres} ORDER BY {order} LIMIT {limit}");
    let params: Vec<&(dyn ToSql + Sync)> =
        params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
    let found = rows::query(db, &sql, &params).await?;
    found.iter().map(|row| entry_at(row, 0)).collect()
}

/// Removes at most `limit` of the oldest entries recorded before `before`;
/// how many went. Oldest by number, walked from the first up to where
/// [`FIRST_AT`] finds `before` (entries in time order, see [`list`]), so
/// that a run that finds nothing old reads nothing but the search.
pub(crate) async fn prune(db: &impl Db, before: Timestamp, limit: usize) -> Result<u64, Fail> {
    let sql = format!(
        "DELETE FROM audit_entries WHERE seq IN (
             SELECT seq FROM audit_entries
              WHERE seq < ({}) AND at < $1 ORDER BY seq LIMIT $2)",
        FIRST_AT.replace("$t", "$1")
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    rows::execute(db, &sql, &[&before.unix(), &limit]).await
}

/// Removes the entries of `company` (all entries with `None`), for a
/// reset, with the notes of expired uses.
pub(crate) async fn forget(db: &impl Db, company: Option<i64>) -> Result<(), Fail> {
    let params: [&(dyn ToSql + Sync); 1] = [&company];
    rows::execute(
        db,
        "DELETE FROM audit_entries WHERE $1::BIGINT IS NULL OR company_id = $1",
        &params,
    )
    .await?;
    rows::execute(
        db,
        "DELETE FROM audit_expired_noted WHERE $1::BIGINT IS NULL OR company_id = $1",
        &params,
    )
    .await?;
    Ok(())
}

/// Notes that the credential `(kind, handle)` of `company` was used
/// expired; `true` the first time.
pub(crate) async fn note_expired(
    db: &impl Db,
    company: i64,
    kind: &str,
    handle: &str,
) -> Result<bool, Fail> {
    let sql = "INSERT INTO audit_expired_noted (company_id, kind, handle) VALUES ($1, $2, $3)
               ON CONFLICT (kind, handle) DO NOTHING";
    Ok(rows::execute(db, sql, &[&company, &kind, &handle]).await? > 0)
}

// --- changes in commit order ---

/// The entries after `after` with, in the same statement (so the same
/// snapshot), nothing else: a single statement outside an explicit
/// transaction sees one snapshot.
const AFTER: &str = "SELECT seq, at, company_id, actor, request_id, action, call_id, user_id,
                            before, after
                       FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2";

/// The longest a call of [`changes_after`] waits for writers to finish
/// before it answers what it has (the caller calls again).
const MOST_WAIT: Duration = Duration::from_secs(1);

/// How long between two looks at whether the writers finished: from
/// [`FIRST_POLL`] doubling up to [`MOST_POLL`]; writers' transactions
/// last milliseconds.
const FIRST_POLL: Duration = Duration::from_millis(1);
const MOST_POLL: Duration = Duration::from_millis(20);

/// The entries after `after`, in sequence order, at most `limit`, never
/// one past an entry that may still commit.
///
/// Why this holds without a lock on the writers. Read with snapshot `S`,
/// the entries after `after` are a run of numbers with gaps. Take a gap
/// `g` below a visible entry `m`. The writer `T` of `g` (if any: a
/// transaction that rolled back, or retried, leaves a hole for good) drew
/// `g` before `m`'s writer drew `m` (one sequence, `CACHE 1`), which was
/// before `m` committed, which was before `S`; and `T` had its xid before
/// it drew `g` (see the module's docs). So `T` is a transaction whose xid
/// was assigned before `S` was taken and that had not committed by then.
/// Such a transaction is in `pg_snapshot_xip(S)` — or has an xid at or
/// above `S`'s xmax, which PostgreSQL leaves out of the list (xmax is
/// the latest completed xid plus one, not the next to be assigned: a
/// writer that took its xid after `m`'s writer but drew its number first
/// is running above it). So instead of `S`'s list, the wait takes an xid
/// `X` of its own, assigned after `S` and so above every xid assigned
/// before it, commits it, and waits until no transaction below `X` is
/// still running: `pg_snapshot_xip` of a fresh snapshot lists every
/// running xid below that snapshot's xmax, which is above `X` once `X`
/// has completed (checked, too). Then
/// every number up to the highest one `S` showed is settled: committed and
/// visible to the next statement, or gone for good; the entries are read
/// again and the holes up to there passed over. Past that number the run
/// is again taken only while it has no gap, for the next call to settle.
///
/// The wait is bounded ([`MOST_WAIT`]): a transaction that stays open
/// (an operator's session in the database) keeps the gap unsettled, and
/// the call answers the entries before it; the caller calls again.
pub(crate) async fn changes_after(
    client: &deadpool_postgres::Client,
    after: u64,
    limit: usize,
) -> Result<Vec<AuditEntry>, Fail> {
    let limit = limit.min(MAX_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let params: [&(dyn ToSql + Sync); 2] = [&seq_param(after), &limit_param(limit)];
    let found = read_rows(&rows::query(client, AFTER, &params).await?)?;
    // Every number up to the highest this snapshot shows is settled once
    // the writers that were running have finished.
    let settled = found.last().map_or(after, |entry| entry.seq);
    let (prefix, gap) = contiguous(after, after, found);
    if !gap {
        return Ok(prefix);
    }
    if !writers_before_now_finished(client).await? {
        return Ok(prefix);
    }
    let again = read_rows(&rows::query(client, AFTER, &params).await?)?;
    Ok(contiguous(after, settled, again).0)
}

/// Waits, at most [`MOST_WAIT`], until every transaction that had its xid
/// before this call has ended, and answers whether they all did: then
/// every sequence number drawn before the call is settled (committed, or
/// never to be). See [`changes_after`] for why the wait takes an xid of
/// its own rather than the list of a snapshot.
async fn writers_before_now_finished(client: &deadpool_postgres::Client) -> Result<bool, Fail> {
    // `X`: an xid assigned now, after `S`, and committed at once, so that
    // every later snapshot's xmax is above it and its xip lists every
    // transaction below `X` still running. Nothing depends on that commit
    // being durable, hence no wait for the disk. One simple query: the
    // server runs it whole even if this call is dropped, so no transaction
    // is left open on the pooled connection.
    let answers = client
        .simple_query(
            "BEGIN; SET LOCAL synchronous_commit TO off;
             SELECT pg_current_xact_id()::TEXT; COMMIT",
        )
        .await?;
    let mine: i64 = answers
        .iter()
        .find_map(|answer| match answer {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0),
            _ => None,
        })
        .and_then(|xid| xid.parse().ok())
        .ok_or_else(|| {
            Fail::Store(StoreError::Other(
                "pg_current_xact_id() answered no number".to_owned(),
            ))
        })?;
    let deadline = Instant::now() + MOST_WAIT;
    let mut pause = FIRST_POLL;
    loop {
        let row = client
            .query_one(
                "SELECT pg_snapshot_xmax(s)::TEXT::BIGINT > $1
                        AND NOT EXISTS (SELECT 1 FROM pg_snapshot_xip(s) x
                                         WHERE x::TEXT::BIGINT < $1)
                   FROM pg_current_snapshot() s",
                &[&mine],
            )
            .await?;
        if rows::at::<bool>(&row, 0)? {
            return Ok(true);
        }
        if Instant::now() + pause > deadline {
            return Ok(false);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MOST_POLL);
    }
}

/// The highest sequence number of a committed entry, once every number
/// below it is settled: `None` when a transaction stays open past
/// [`MOST_WAIT`] (the caller then reads the trail as before).
///
/// The highest visible entry `m` is read first; every gap below it was
/// drawn before `m` was, by a transaction whose xid was assigned before
/// this read (see [`changes_after`]). Once those have ended, nothing at or
/// below `m` can still commit.
pub(crate) async fn settled_through(
    client: &deadpool_postgres::Client,
) -> Result<Option<u64>, Fail> {
    let row = client
        .query_one("SELECT COALESCE(max(seq), 0) FROM audit_entries", &[])
        .await?;
    let highest = u64::try_from(rows::at::<i64>(&row, 0)?).unwrap_or(0);
    Ok(writers_before_now_finished(client)
        .await?
        .then_some(highest))
}

fn read_rows(found: &[Row]) -> Result<Vec<AuditEntry>, Fail> {
    found.iter().map(|row| entry_at(row, 0)).collect()
}

/// The entries of `found` (ascending, all after `after`) up to the first
/// gap above `settled` (numbers up to `settled` are known to be final, so
/// a hole there is passed over); whether a gap cut the run.
fn contiguous(after: u64, settled: u64, found: Vec<AuditEntry>) -> (Vec<AuditEntry>, bool) {
    let mut last = after;
    let mut taken = Vec::with_capacity(found.len());
    for entry in found {
        if entry.seq > settled && entry.seq != last.saturating_add(1) {
            return (taken, true);
        }
        last = entry.seq;
        taken.push(entry);
    }
    (taken, false)
}

// --- waiting ---

/// Keeps the highest sequence number known to have committed, from the
/// notifications of every node, and sends this node's own announcements;
/// see the module's docs.
pub(crate) struct Listener {
    seen: watch::Receiver<u64>,
    announcer: Arc<Announcer>,
    task: tokio::task::AbortHandle,
}

/// This node's commits of audit entries still to announce: the writes call
/// [`Announcer::committed`] after they commit, the [`Listener`]'s task
/// sends one [`ANNOUNCE`] for all that came before it looked.
#[derive(Debug, Default)]
pub(crate) struct Announcer {
    /// Commits so far, counted.
    asked: AtomicU64,
    /// The count of commits that an announcement sent since covers.
    told: AtomicU64,
    wake: Notify,
}

impl Announcer {
    /// A transaction that recorded entries has committed.
    pub(crate) fn committed(&self) {
        self.asked.fetch_add(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    /// Whether a commit is still to be announced.
    fn owed(&self) -> bool {
        self.asked.load(Ordering::Acquire) > self.told.load(Ordering::Acquire)
    }

    /// Sends one announcement on `client` for every commit counted so far
    /// (their entries are visible to its statement, which starts after
    /// they committed).
    async fn announce(&self, client: &tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
        let asked = self.asked.load(Ordering::Acquire);
        client.batch_execute(ANNOUNCE).await?;
        self.told.fetch_max(asked, Ordering::AcqRel);
        Ok(())
    }
}

/// The first pause before connecting again, doubling up to [`MOST_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MOST_BACKOFF: Duration = Duration::from_secs(5);

/// Longest wait for the listening connection to be established.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Listener {
    /// Starts listening on a connection of its own to `config`'s database.
    pub(crate) fn spawn(config: tokio_postgres::Config) -> Self {
        let (sender, seen) = watch::channel(0u64);
        let announcer = Arc::new(Announcer::default());
        let announcing = Arc::clone(&announcer);
        let task = tokio::spawn(async move {
            tokio::select! {
                () = sender.closed() => {}
                () = listen(&config, &sender, &announcing) => {}
            }
        });
        Self {
            seen,
            announcer,
            task: task.abort_handle(),
        }
    }

    /// Where this node's writes report their commits of entries.
    pub(crate) fn announcer(&self) -> &Announcer {
        &self.announcer
    }

    /// Returns once an entry after `after` is known to have committed, or
    /// at `timeout`.
    pub(crate) async fn wait(&self, after: u64, timeout: Duration) {
        let mut seen = self.seen.clone();
        let deadline = Instant::now() + timeout;
        loop {
            if *seen.borrow_and_update() > after {
                return;
            }
            match tokio::time::timeout_at(deadline, seen.changed()).await {
                Ok(Ok(())) => continue,
                // The listener has ended (the store is closing): the
                // timeout is all that is left.
                Ok(Err(_)) => {
                    tokio::time::sleep_until(deadline).await;
                    return;
                }
                Err(_) => return,
            }
        }
    }

    /// Stops listening. A commit not yet announced is announced first, on
    /// a connection of `pool` (a process that wrote and exits, such as the
    /// command line, would otherwise leave the other nodes' streams to
    /// their timeout).
    pub(crate) async fn stop(&self, pool: &deadpool_postgres::Pool) {
        self.task.abort();
        if !self.announcer.owed() {
            return;
        }
        let announced = match pool.get().await {
            Ok(client) => self
                .announcer
                .announce(&client)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = announced {
            tracing::debug!(error = %e, "cannot announce the last audit entries at close");
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listens for as long as the store lives, connecting again with backoff
/// whenever the connection fails.
async fn listen(config: &tokio_postgres::Config, seen: &watch::Sender<u64>, announcer: &Announcer) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match listen_once(config, seen, announcer).await {
            // The connection worked for a while: start the backoff over.
            Ok(()) => backoff = FIRST_BACKOFF,
            Err(e) => {
                tracing::warn!(error = %e, "the audit listener lost its connection; connecting again");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MOST_BACKOFF);
    }
}

/// One connection's life: `LISTEN`, then the highest number committed so
/// far (notifications sent while no connection listened are lost, so this
/// read catches up on them), then every notification until the connection
/// ends, and this node's announcements. The connection writes nothing
/// else, so it commits without waiting for the disk.
async fn listen_once(
    config: &tokio_postgres::Config,
    seen: &watch::Sender<u64>,
    announcer: &Announcer,
) -> Result<(), tokio_postgres::Error> {
    let connecting = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(tokio_postgres::NoTls));
    let Ok(connected) = connecting.await else {
        return Ok(());
    };
    let (client, mut connection) = connected?;
    let (notes, mut noted) = tokio::sync::mpsc::unbounded_channel::<u64>();
    // The connection is driven by its own task, which hands on the
    // notifications; the client's statements need it driven too.
    let driver = tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    // A payload that is not a number is not ours; any
                    // change still wakes the waiters to look again.
                    let seq = note.payload().parse::<u64>().unwrap_or(0);
                    if notes.send(seq).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "the audit listener's connection failed");
                    return;
                }
            }
        }
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {CHANNEL}; SET synchronous_commit TO off"))
            .await?;
        let row = client
            .query_one("SELECT coalesce(max(seq), 0) FROM audit_entries", &[])
            .await?;
        let highest = u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0);
        seen.send_modify(|seen| *seen = (*seen).max(highest));
        // Commits made while no connection was up are owed still.
        if announcer.owed() {
            announcer.announce(&client).await?;
        }
        loop {
            tokio::select! {
                note = noted.recv() => match note {
                    Some(seq) => seen.send_modify(|seen| *seen = (*seen).max(seq)),
                    None => return Ok(()),
                },
                () = announcer.wake.notified() => announcer.announce(&client).await?,
            }
        }
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use callaccess_domain::Action;

    fn entry(seq: u64) -> AuditEntry {
        AuditEntry {
            seq,
            at: Timestamp::from_unix(0),
            company: None,
            actor: "cli".into(),
            request_id: None,
            action: Action::Reset,
            call: None,
            user: None,
            before: None,
            after: None,
        }
    }

    fn seqs(entries: &[AuditEntry]) -> Vec<u64> {
        entries.iter().map(|e| e.seq).collect()
    }

    /// [`ANNOUNCE`] spells the channel out (a statement sent as it is);
    /// it must be the one the listeners listen on.
    #[test]
    fn the_announcement_goes_to_the_channel_listened_on() {
        assert!(ANNOUNCE.contains(&format!("pg_notify('{CHANNEL}',")));
    }

    #[test]
    fn a_run_stops_at_the_first_gap_above_what_is_settled() {
        let found = || vec![entry(3), entry(4), entry(6), entry(9)];
        let (taken, gap) = contiguous(2, 0, found());
        assert_eq!((seqs(&taken), gap), (vec![3, 4], true));
        let (taken, gap) = contiguous(2, 6, found());
        assert_eq!((seqs(&taken), gap), (vec![3, 4, 6], true));
        let (taken, gap) = contiguous(2, 9, found());
        assert_eq!((seqs(&taken), gap), (vec![3, 4, 6, 9], false));
        let (taken, gap) = contiguous(0, 0, found());
        assert_eq!((seqs(&taken), gap), (vec![], true));
    }
}
