//! `--scenarios audit`: a large audit trail (control-plane.md §7) and what
//! it costs to read and to start on. A server of its own seeds a small
//! company; then `--audit-entries` entries (10,000,000 unless told) are
//! written straight into the store's table, in sequence and time order as
//! the service writes them, spread over the company's calls and users.
//! The server is then started again on that store, which times its
//! start-up, and each listing below is timed `rounds` times after one
//! untimed request: the first page of the company newest first, of one
//! call, of one user, and of a time window in the middle, and a page deep
//! in the trail by cursor. The target is 50 ms a page and 1 s to start.
//!
//! The rows are written with SQL, not through the API, which would take
//! hours at this size: the benchmark knows the table's columns, as a
//! fixture must.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::dataset::{World, COMPANY_ID};
use crate::reset::{admin_request, millis, seeded, Outcome};
use crate::server::Server;
use crate::store::{Backend, Purpose, Store};

pub const USERS: u64 = 1_000;
pub const CALLS: u64 = 1_000;

/// Entries written per second of `at`: the trail covers
/// `entries / PER_SECOND` seconds before its start time.
const PER_SECOND: u64 = 100;

/// The first entry's time (unix seconds).
const START: u64 = 1_800_000_000;

/// What the scenario measured.
pub struct Measured {
    pub entries: u64,
    pub startup: Duration,
    pub pages: Vec<Outcome>,
}

impl Measured {
    pub fn markdown(&self) -> String {
        let mut text = format!(
            "audit trail of {} entries: start-up {:.0} ms (target < 1000 ms: {})\n\n",
            self.entries,
            millis(self.startup),
            if self.startup < Duration::from_secs(1) {
                "met"
            } else {
                "missed"
            }
        );
        text.push_str(Outcome::HEADER);
        for page in &self.pages {
            text.push_str(&page.row());
        }
        text
    }
}

/// The SQL that writes `n` entries: grants added and removed in turn, call
/// `k % CALLS` and user `k·7 % USERS` of the world, `PER_SECOND` a second.
fn rows_sql(world: &World, n: u64, sqlite: bool) -> String {
    let series = if sqlite {
        format!(
            "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < {n}) \
             SELECT i FROM k"
        )
    } else {
        format!(
            "SELECT i FROM generate_series(0::BIGINT, {}::BIGINT) AS i",
            n - 1
        )
    };
    // Call ids and user ids are affine in their index (see `World`).
    let call0 = world.call_id(0);
    let call_step = world.call_id(1) - call0;
    let user0 = world.user_id(0);
    let user_step = world.user_id(1) - user0;
    // SQLite numbers the rows itself (AUTOINCREMENT); PostgreSQL's come
    // from the sequence the service draws from, so that the service's own
    // later entries follow them.
    let (seq_column, seq_value) = if sqlite {
        ("", "")
    } else {
        ("seq, ", "nextval('audit_seq'), ")
    };
    format!(
        "INSERT INTO audit_entries ({seq_column}at, company_id, actor, request_id, action, call_id, user_id) \
         SELECT {seq_value}{START} + i / {PER_SECOND}, {COMPANY_ID}, 'apiKey:BENCHKEY', NULL, \
                CASE WHEN i % 2 = 0 THEN 'grant.add' ELSE 'grant.remove' END, \
                {call0} + (i % {CALLS}) * {call_step}, {user0} + ((i * 7) % {USERS}) * {user_step} \
           FROM ({series}) AS s"
    )
}

async fn write_entries(store: &Store, sql: &str) -> anyhow::Result<()> {
    match store {
        Store::Sqlite(path) => {
            let path = path.clone();
            let sql = sql.to_owned();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let conn = rusqlite::Connection::open(&path)?;
                conn.execute_batch(&format!("BEGIN; {sql}; COMMIT;"))?;
                // The lookups by call and by user, as the server's writer
                // keeps them after its commits.
                callaccess_sqlite::index_audit_trail(&path)?;
                // No ANALYZE: the service never runs it, so the plans are
                // those a file of its own gets.
                conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
                Ok(())
            })
            .await??;
        }
        Store::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.batch_execute(sql).await?;
            // What autovacuum would soon do after a load this size.
            client.batch_execute("ANALYZE audit_entries").await?;
        }
    }
    Ok(())
}

/// Runs the scenario on a fresh store of `backend` with the server at
/// `binary`.
pub async fn run(
    backend: &Backend,
    binary: &Path,
    folder: &Path,
    entries: u64,
    rounds: usize,
) -> anyhow::Result<Measured> {
    if entries < 2 * CALLS {
        bail!("--audit-entries must be at least {}", 2 * CALLS);
    }
    let (fresh, world, token) =
        seeded(backend, binary, folder, Purpose::Audit, USERS, CALLS).await?;
    eprintln!("(audit) writing {entries} entries into the store's table");
    let started = Instant::now();
    let sqlite = matches!(fresh.store, Store::Sqlite(_));
    write_entries(&fresh.store, &rows_sql(&world, entries, sqlite))
        .await
        .context("writing the entries")?;
    eprintln!(
        "(audit) written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let server = Server::start(binary, &fresh.store, None)?;
    let startup = server.startup;
    let middle = START + entries / PER_SECOND / 2;
    let at = time_text;
    let company = format!("company={COMPANY_ID}");
    let call = world.call_id(CALLS / 2);
    let user = world.user_id(USERS / 3);
    let queries: Vec<(&'static str, String)> = vec![
        (
            "audit: company, newest first",
            format!("{company}&order=newest&limit=100"),
        ),
        (
            "audit: one call",
            format!("{company}&call={call}&limit=100"),
        ),
        (
            "audit: one user",
            format!("{company}&user={user}&order=newest&limit=100"),
        ),
        (
            "audit: an hour in the middle",
            format!(
                "{company}&since={}&until={}&limit=100",
                at(middle),
                at(middle + 3600)
            ),
        ),
    ];
    let backend_name = if sqlite { "SQLite" } else { "PostgreSQL" };
    let outcome = async {
        let mut pages = Vec::new();
        for (scenario, query) in &queries {
            pages.push(time_page(&server, &token, scenario, query, rounds, backend_name).await?);
        }
        // Deep in the trail: the page after the middle entry, by cursor.
        let (status, body) = admin_request(
            &server.address,
            "GET",
            &format!("/admin/v1/audit?{company}&since={}&limit=1", at(middle)),
            &token,
            None,
        )
        .await?;
        if status != 200 {
            bail!("the audit listing answered {status}: {body}");
        }
        let first: serde_json::Value = serde_json::from_str(&body)?;
        let cursor = first["nextCursor"]
            .as_str()
            .context("no cursor in the middle of the trail")?
            .to_owned();
        let deep = format!("{company}&limit=100&cursor={cursor}");
        pages.push(
            time_page(
                &server,
                &token,
                "audit: a page by cursor, mid-trail",
                &deep,
                rounds,
                backend_name,
            )
            .await?,
        );
        Ok(pages)
    }
    .await;
    server.stop()?;
    Ok(Measured {
        entries,
        startup,
        pages: outcome?,
    })
}

async fn time_page(
    server: &Server,
    token: &str,
    scenario: &'static str,
    query: &str,
    rounds: usize,
    backend: &str,
) -> anyhow::Result<Outcome> {
    let path = format!("/admin/v1/audit?{query}");
    let mut ms = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        let started = Instant::now();
        let (status, body) = admin_request(&server.address, "GET", &path, token, None).await?;
        let took = started.elapsed();
        if status != 200 {
            bail!("{path} answered {status}: {body}");
        }
        if round == 0 {
            let shown: serde_json::Value = serde_json::from_str(&body)?;
            let items = shown["items"].as_array().map_or(0, Vec::len);
            if items == 0 {
                bail!("{path} listed nothing");
            }
        } else {
            ms.push(millis(took));
        }
    }
    Ok(Outcome {
        scenario,
        backend: backend.to_owned(),
        users: USERS,
        calls: CALLS,
        rounds,
        ms,
        target_ms: 50.0,
    })
}

/// RFC 3339 of a unix time, as the listing's `since` and `until` take it.
fn time_text(unix: u64) -> String {
    let seconds = i64::try_from(unix).unwrap_or(i64::MAX);
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_rfc_3339() {
        assert_eq!(time_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(time_text(1_800_000_000), "2027-01-15T08:00:00Z");
    }
}
