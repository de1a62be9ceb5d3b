//! Prints how many single-pair grants per second the SQLite store acknowledges
//! (each one durable) with various numbers of concurrent clients, and how many
//! grants each transaction carried. A program, not a test: its numbers depend
//! on the machine and the disk.
//!
//! ```text
//! cargo run --release -p callaccess-sqlite --example write_throughput [grants per client count]
//! ```

use callaccess_domain::Origin;
use std::sync::Arc;
use std::time::Instant;

use callaccess_domain::{
    AccessChange, Call, CallId, Caller, CallsAccess, CompanyId, NewCompany, RateLimit, Store, User,
    UserId,
};
use callaccess_sqlite::SqliteStore;

const USERS: i64 = 1_000;
const CALLS: i64 = 100;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: i64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(4_000);
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).await?);
    let company = CompanyId::from_i64(1).ok_or("bad id")?;
    setup(&store, company).await?;

    println!(
        "{:>8} {:>8} {:>9} {:>10} {:>12}",
        "clients", "grants", "seconds", "grants/s", "grants/tx"
    );
    let mut next_call = 1;
    for clients in [1, 8, 64, 256] {
        let before = store.write_stats();
        let started = Instant::now();
        let per_client = (total / clients).max(1);
        let mut tasks = Vec::new();
        for client in 0..clients {
            let store = Arc::clone(&store);
            let call = next_call;
            tasks.push(tokio::spawn(async move {
                for i in 0..per_client {
                    let user = (client * per_client + i) % USERS + 1;
                    let change = AccessChange::new([(call_id(call), [user_id(user)])]);
                    store
                        .grant_access(&Origin::cli(), Caller::verified(company), &change)
                        .await?;
                }
                Ok::<_, callaccess_domain::StoreError>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let seconds = started.elapsed().as_secs_f64();
        let after = store.write_stats();
        let grants = clients * per_client;
        let transactions = (after.batches - before.batches).max(1);
        println!(
            "{clients:>8} {grants:>8} {seconds:>9.2} {:>10.0} {:>12.1}",
            grants as f64 / seconds,
            (after.jobs - before.jobs) as f64 / transactions as f64
        );
        next_call = next_call % CALLS + 1;
    }
    store.close().await?;
    Ok(())
}

fn call_id(n: i64) -> CallId {
    CallId::from_i64(n).unwrap_or_else(|| unreachable!("benchmark ids start at 1"))
}

fn user_id(n: i64) -> UserId {
    UserId::from_i64(n).unwrap_or_else(|| unreachable!("benchmark ids start at 1"))
}

async fn setup(store: &SqliteStore, company: CompanyId) -> Result<(), Box<dyn std::error::Error>> {
    store
        .create_company(&NewCompany {
            id: company,
            name: "Bench".to_owned(),
            rate_limit: RateLimit::default(),
        })
        .await?;
    for id in 1..=USERS {
        store
            .add_user(
                &Origin::cli(),
                &User {
                    calls_access: Some(CallsAccess::None),
                    ..User::new(company, user_id(id), format!("u{id}@bench.test"))
                },
            )
            .await?;
    }
    for id in 1..=CALLS {
        store
            .add_call(&Origin::cli(), &Call::new(company, call_id(id), user_id(1)))
            .await?;
    }
    Ok(())
}
