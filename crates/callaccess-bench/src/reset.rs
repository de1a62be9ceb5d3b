//! `--scenarios reset`: how long a test suite waits to reset a company and
//! seed it again (control-plane.md §3), on a server of its own: one
//! `POST /admin/v1/reset?company=ID` with `{"seed": …}` of a company of
//! 1,000 users and 1,000 calls (the dataset's org chart and profiles),
//! timed from the request to the end of its answer, `rounds` times in a
//! row on one connection. The target is well under a second.
//!
//! The admin token comes from `callaccess admin-token create --json` on the
//! same store, before the server starts.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::Request;

use crate::dataset::{self, World, COMPANY_ID};
use crate::server::{self, Server};
use crate::store::{Backend, Fresh, Purpose, Store};

/// The company a reset works on.
pub const USERS: u64 = 1_000;
pub const CALLS: u64 = 1_000;

/// What the scenario measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub scenario: &'static str,
    pub backend: String,
    pub users: u64,
    pub calls: u64,
    pub rounds: usize,
    /// Each round's time, in milliseconds, in order.
    pub ms: Vec<f64>,
    /// The slowest round may take this long.
    pub target_ms: f64,
}

impl Outcome {
    fn sorted(&self) -> Vec<f64> {
        let mut ms = self.ms.clone();
        ms.sort_by(f64::total_cmp);
        ms
    }

    pub fn median_ms(&self) -> f64 {
        let ms = self.sorted();
        ms.get(ms.len() / 2).copied().unwrap_or(f64::NAN)
    }

    pub fn max_ms(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    /// The header of a table of outcomes.
    pub const HEADER: &'static str =
        "| scenario | backend | rounds | median ms | max ms | target |\n\
         |---|---|---:|---:|---:|---|\n";

    /// One table, header and one row.
    pub fn markdown(&self) -> String {
        format!("{}{}", Self::HEADER, self.row())
    }

    /// This outcome's row of a table.
    pub fn row(&self) -> String {
        format!(
            "| {} ({} users, {} calls) | {} | {} | {:.1} | {:.1} | < {} ms: {} |\n",
            self.scenario,
            self.users,
            self.calls,
            self.backend,
            self.rounds,
            self.median_ms(),
            self.max_ms(),
            self.target_ms,
            if self.max_ms() < self.target_ms {
                "met"
            } else {
                "missed"
            }
        )
    }
}

/// Runs the scenario on a fresh store of `backend` with the server at
/// `binary`.
pub async fn run(
    backend: &Backend,
    binary: &Path,
    folder: &Path,
    rounds: usize,
) -> anyhow::Result<Outcome> {
    let fresh = backend.fresh(folder, Purpose::Reset).await?;
    let world = World::new(USERS, CALLS)?;
    let seed_path = folder.join("reset-seed.json");
    world.write_seed(&seed_path, &dataset::random_secret())?;
    let seed = std::fs::read_to_string(&seed_path)?;
    let token = admin_token(binary, &fresh.store.url())?;
    let server = Server::start(binary, &fresh.store, None)?;
    eprintln!(
        "(reset) server pid {} on {}: {rounds} resets of a {USERS}-user, {CALLS}-call company",
        server.pid(),
        server.address
    );
    let outcome = async {
        let (status, body) =
            post(&server.address, "/admin/v1/import", &token, seed.clone()).await?;
        if status != 200 {
            bail!("the first import answered {status}: {body}");
        }
        let path = format!("/admin/v1/reset?company={COMPANY_ID}");
        let reset_body = format!("{{\"seed\":{seed}}}");
        let mut ms = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let started = Instant::now();
            let (status, body) = post(&server.address, &path, &token, reset_body.clone()).await?;
            let took = started.elapsed();
            if status != 200 {
                bail!("a reset answered {status}: {body}");
            }
            ms.push(millis(took));
        }
        Ok(Outcome {
            scenario: "reset + re-seed",
            backend: match fresh.store {
                Store::Sqlite(_) => "SQLite".to_owned(),
                Store::Postgres(_) => "PostgreSQL".to_owned(),
            },
            users: USERS,
            calls: CALLS,
            rounds,
            ms,
            target_ms: 1000.0,
        })
    }
    .await;
    server.stop()?;
    outcome
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A fresh store of `backend` for `purpose`, holding a company of `users`
/// users and `calls` calls imported with the CLI, and a full admin token
/// for it: where the admin API's scenarios start.
pub async fn seeded(
    backend: &Backend,
    binary: &Path,
    folder: &Path,
    purpose: Purpose,
    users: u64,
    calls: u64,
) -> anyhow::Result<(Fresh, World, String)> {
    let fresh = backend.fresh(folder, purpose).await?;
    let world = World::new(users, calls)?;
    let seed_path = folder.join(format!("{purpose:?}-seed.json").to_lowercase());
    world.write_seed(&seed_path, &dataset::random_secret())?;
    server::import(binary, &fresh.store, &seed_path)?;
    let token = admin_token(binary, &fresh.store.url())?;
    Ok((fresh, world, token))
}

/// A full admin token, made with the CLI on the store the server will use.
pub fn admin_token(binary: &Path, database: &str) -> anyhow::Result<String> {
    let output = Command::new(binary)
        .arg("--database")
        .arg(database)
        .args(["admin-token", "create", "--json"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run callaccess admin-token create")?;
    if !output.status.success() {
        bail!(
            "callaccess admin-token create failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout)
        .context("admin-token create --json did not print JSON")?;
    shown["token"]
        .as_str()
        .map(str::to_owned)
        .context("admin-token create --json printed no token")
}

/// One POST with a JSON body on a new connection; the status and the body.
async fn post(
    address: &str,
    path: &str,
    token: &str,
    body: String,
) -> anyhow::Result<(u16, String)> {
    admin_request(address, "POST", path, token, Some(body)).await
}

/// One admin request (a JSON body if given) on a new connection; the
/// status and the body.
pub async fn admin_request(
    address: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<String>,
) -> anyhow::Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, HeaderValue::from_str(address)?)
        .header(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}"))?,
        )
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
