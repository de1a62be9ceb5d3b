//! `--scenarios viewers`: the first page of a call's viewers
//! (control-plane.md §8) in a company of 100,000 users and 100,000 calls
//! (the dataset's org chart and profiles), on a server of its own: one
//! `GET /admin/v1/companies/ID/calls/CALL/viewers` for the call of the
//! deepest user (the longest chain of managers above its primary user),
//! timed from the request to the end of its answer, `rounds` times in a
//! row after one untimed request. The target is 50 ms.

use std::path::Path;
use std::time::Instant;

use anyhow::bail;

use crate::dataset::{Chart, COMPANY_ID};
use crate::reset::{admin_request, millis, seeded, Outcome};
use crate::server::Server;
use crate::store::{Backend, Purpose, Store};

pub const USERS: u64 = 100_000;
pub const CALLS: u64 = 100_000;

/// Runs the scenario on a fresh store of `backend` with the server at
/// `binary`.
pub async fn run(
    backend: &Backend,
    binary: &Path,
    folder: &Path,
    rounds: usize,
) -> anyhow::Result<Outcome> {
    let (fresh, world, token) =
        seeded(backend, binary, folder, Purpose::Viewers, USERS, CALLS).await?;
    let server = Server::start(binary, &fresh.store, None)?;
    // Call k's primary user is user k (k < USERS).
    let (_, deepest) = Chart { users: USERS }.deepest();
    let path = format!(
        "/admin/v1/companies/{COMPANY_ID}/calls/{}/viewers",
        world.call_id(deepest)
    );
    eprintln!(
        "(viewers) server pid {} on {}: {rounds} first pages of {path}",
        server.pid(),
        server.address
    );
    let outcome = async {
        let mut ms = Vec::with_capacity(rounds);
        for round in 0..=rounds {
            let started = Instant::now();
            let (status, body) = admin_request(&server.address, "GET", &path, &token, None).await?;
            let took = started.elapsed();
            if status != 200 {
                bail!("viewers answered {status}: {body}");
            }
            if round == 0 {
                let shown: serde_json::Value = serde_json::from_str(&body)?;
                eprintln!(
                    "(viewers) {} viewers on the first page",
                    shown["items"].as_array().map_or(0, Vec::len)
                );
            } else {
                ms.push(millis(took));
            }
        }
        Ok(Outcome {
            scenario: "viewers, first page",
            backend: match fresh.store {
                Store::Sqlite(_) => "SQLite".to_owned(),
                Store::Postgres(_) => "PostgreSQL".to_owned(),
            },
            users: USERS,
            calls: CALLS,
            rounds,
            ms,
            target_ms: 50.0,
        })
    }
    .await;
    server.stop()?;
    outcome
}
