//! The server goes away: every call fails fast with `Unavailable`, and the
//! same store works again once the server is back.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

use callaccess_domain::contract::{call, change, company, grants, user, world, ACME};
use callaccess_domain::secret::digest;
use callaccess_domain::seed::Seed;
use callaccess_domain::{
    Call, CallsAccess, NewApiKey, NewCompany, NewToken, RateLimit, RateWindow, Store, StoreError,
    Timestamp, User,
};
use callaccess_postgres::{connect, PoolOptions};

/// The issue's bound on any answer while the database is down.
const BOUND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn connecting_to_nothing_is_unavailable_at_once() {
    // Port 1 on loopback: nothing listens there, so the connection is
    // refused immediately.
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        connect(
            "postgres://postgres@127.0.0.1:1/postgres",
            PoolOptions::default(),
        ),
    )
    .await
    .expect("connect hung");
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{:?}",
        result.map(|_| ())
    );
    assert!(started.elapsed() < BOUND, "{:?}", started.elapsed());
}

/// `scripts/pg-test-cluster.sh ARGS`, its standard output trimmed.
fn cluster(args: &[&str]) -> Result<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-test-cluster.sh");
    let output = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Destroys the throwaway cluster however the test ends.
struct Destroy<'a>(&'a str);

impl Drop for Destroy<'_> {
    fn drop(&mut self) {
        let _ = cluster(&["destroy", self.0]);
    }
}

type Pending<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// One call of every `Store` method, each reduced to its error.
fn every_call<'a>(store: &'a dyn Store, seed: &'a Seed) -> Vec<(&'static str, Pending<'a>)> {
    let c = company(ACME);
    fn done<T>(result: Result<T, StoreError>) -> Result<(), StoreError> {
        result.map(|_| ())
    }
    vec![
        ("ping", Box::pin(async move { store.ping().await })),
        (
            "api_key",
            Box::pin(async move { done(store.api_key("K").await) }),
        ),
        (
            "token",
            Box::pin(async move { done(store.token(&digest("t")).await) }),
        ),
        (
            "grant_access",
            Box::pin(async move { store.grant_access(c, &change(&[(101, &[2])])).await }),
        ),
        (
            "revoke_access",
            Box::pin(async move { store.revoke_access(c, &change(&[(101, &[1])])).await }),
        ),
        (
            "list_api_grants",
            Box::pin(async move { done(store.list_api_grants(c, &[call(101)]).await) }),
        ),
        (
            "create_company",
            Box::pin(async move {
                done(
                    store
                        .create_company(&NewCompany {
                            id: company(77),
                            name: "X".to_owned(),
                            rate_limit: RateLimit::default(),
                        })
                        .await,
                )
            }),
        ),
        (
            "companies",
            Box::pin(async move { done(store.companies().await) }),
        ),
        (
            "set_rate_limit",
            Box::pin(async move { done(store.set_rate_limit(c, RateLimit::default()).await) }),
        ),
        (
            "rate_acquire",
            Box::pin(async move {
                done(
                    store
                        .rate_acquire(c, RateWindow::Second, Duration::from_secs(1), 3)
                        .await,
                )
            }),
        ),
        (
            "create_api_key",
            Box::pin(async move {
                done(
                    store
                        .create_api_key(&NewApiKey {
                            access_key: "K2".to_owned(),
                            company: c,
                            digest: digest("s"),
                            scopes: None,
                            expires_at: None,
                        })
                        .await,
                )
            }),
        ),
        (
            "api_keys",
            Box::pin(async move { done(store.api_keys(None).await) }),
        ),
        (
            "revoke_api_key",
            Box::pin(async move { done(store.revoke_api_key("K", Timestamp::now()).await) }),
        ),
        (
            "create_token",
            Box::pin(async move {
                done(
                    store
                        .create_token(&NewToken {
                            company: c,
                            digest: digest("t2"),
                            scopes: vec![],
                            expires_at: None,
                        })
                        .await,
                )
            }),
        ),
        (
            "tokens",
            Box::pin(async move { done(store.tokens(None).await) }),
        ),
        (
            "revoke_token",
            Box::pin(async move { done(store.revoke_token("x", Timestamp::now()).await) }),
        ),
        (
            "add_user",
            Box::pin(async move {
                store
                    .add_user(&User {
                        company: c,
                        id: user(99),
                        email_address: "x@y.z".to_owned(),
                        calls_access: CallsAccess::None,
                    })
                    .await
            }),
        ),
        ("users", Box::pin(async move { done(store.users(c).await) })),
        (
            "set_calls_access",
            Box::pin(async move { store.set_calls_access(c, user(1), CallsAccess::All).await }),
        ),
        (
            "add_call",
            Box::pin(async move {
                store
                    .add_call(&Call {
                        company: c,
                        id: call(999),
                        title: None,
                        primary_user_id: user(1),
                        participant_ids: vec![],
                    })
                    .await
            }),
        ),
        ("calls", Box::pin(async move { done(store.calls(c).await) })),
        (
            "add_share",
            Box::pin(async move { store.add_share(c, call(101), user(2)).await }),
        ),
        (
            "remove_share",
            Box::pin(async move { done(store.remove_share(c, call(101), user(2)).await) }),
        ),
        (
            "call_access",
            Box::pin(async move { done(store.call_access(c, call(101)).await) }),
        ),
        (
            "apply_seed",
            Box::pin(async move { done(store.apply_seed(seed).await) }),
        ),
    ]
}

#[tokio::test]
async fn every_call_fails_fast_while_the_server_is_down_and_the_store_recovers() {
    let dir =
        std::env::temp_dir().join(format!("callaccess-outage-{:016x}", rand::random::<u64>()));
    let dir = dir.to_str().unwrap().to_owned();
    let url = match cluster(&["start", &dir]) {
        Ok(url) => url,
        Err(why) if why.contains("were not found") && std::env::var_os("CI").is_none() => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "SKIPPED: {}", why.trim());
            return;
        }
        Err(why) => panic!("cannot start a PostgreSQL cluster: {why}"),
    };
    let _destroy = Destroy(&dir);
    let store = connect(&url, PoolOptions::default()).await.unwrap();
    world(&store).await;
    store
        .grant_access(company(ACME), &change(&[(101, &[1, 3])]))
        .await
        .unwrap();
    let seed = Seed::parse(r#"{"companies": [{"id": "5", "name": "Seeded"}]}"#).unwrap();

    cluster(&["stop", &dir]).unwrap();
    let mut slowest = Duration::ZERO;
    for (name, pending) in every_call(&store, &seed) {
        let started = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(10), pending)
            .await
            .unwrap_or_else(|_| panic!("{name} hung while the server was down"));
        let took = started.elapsed();
        slowest = slowest.max(took);
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{name}: {result:?}"
        );
        assert!(took < BOUND, "{name} took {took:?}");
    }

    assert_eq!(cluster(&["start", &dir]).unwrap(), url);
    // The same store, never reconnected by hand: its pool finds the server.
    let back = Instant::now();
    while let Err(e) = store.ping().await {
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        assert!(back.elapsed() < Duration::from_secs(15), "no recovery: {e}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(grants(&store, ACME, &[101]).await, vec![(101, vec![1, 3])]);
    for (name, pending) in every_call(&store, &seed) {
        let result = pending.await;
        assert!(
            !matches!(
                result,
                Err(StoreError::Unavailable(_) | StoreError::Other(_))
            ),
            "{name} after recovery: {result:?}"
        );
    }
    println!(
        "store outage: slowest failure {slowest:?}; recovered {:?} after the restart",
        back.elapsed()
    );
}
