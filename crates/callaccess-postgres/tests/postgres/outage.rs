//! The server goes away: every call fails fast with `Unavailable`, and the
//! same store works again once the server is back.

use callaccess_domain::Origin;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use callaccess_domain::contract::{call, change, company, grants, user, world, ACME};
use callaccess_domain::page::{CallFilter, PageAfter, UserFilter};
use callaccess_domain::secret::digest;
use callaccess_domain::seed::Seed;
use callaccess_domain::{
    legacy_profile, Call, Caller, CallsAccess, NewApiKey, NewCompany, NewToken, ProfileId,
    RateLimit, RateWindow, SharedRateBudget, Store, StoreError, Timestamp, User, UserUpdate,
    Workspace, WorkspaceId,
};
use callaccess_postgres::scratch::Cluster;
use callaccess_postgres::{connect, PoolOptions, PostgresStore};

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

type Pending<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

fn done<T>(result: Result<T, StoreError>) -> Result<(), StoreError> {
    result.map(|_| ())
}

/// `[(name, pending)]` from `name => call` pairs: each call is awaited
/// later and reduced to its error.
macro_rules! pending {
    ($($name:literal => $call:expr),* $(,)?) => {
        vec![$(($name, Box::pin(async move { done($call.await) }) as Pending<'_>)),*]
    };
}

/// One call of every `Store` and `SharedRateBudget` method, each reduced to
/// its error.
fn every_call<'a>(store: &'a PostgresStore, seed: &'a Seed) -> Vec<(&'static str, Pending<'a>)> {
    let c = company(ACME);
    let caller = Caller::verified(c);
    let new_company = NewCompany {
        id: company(77),
        name: "X".to_owned(),
        rate_limit: RateLimit::default(),
    };
    let new_key = NewApiKey {
        access_key: "K2".to_owned(),
        company: c,
        digest: digest("s"),
        scopes: None,
        expires_at: None,
    };
    let new_token = NewToken {
        company: c,
        digest: digest("t2"),
        scopes: vec![],
        expires_at: None,
    };
    let new_user = User {
        calls_access: Some(CallsAccess::None),
        ..User::new(c, user(99), "x@y.z")
    };
    let new_call = Call::new(c, call(999), user(1));
    let api_call = Call::new(c, call(998), user(1));
    let workspace = Workspace {
        company: c,
        id: WorkspaceId::from_i64(77).unwrap(),
        name: "w".to_owned(),
        description: None,
    };
    let profile_id = ProfileId::from_i64(78).unwrap();
    let profile = legacy_profile(c, workspace.id, profile_id, CallsAccess::All);
    let updated = profile.clone();
    let workspace_id = workspace.id;
    let second = Duration::from_secs(1);
    let update = UserUpdate {
        manager: Some(Some(user(1))),
        active: Some(false),
        ..UserUpdate::default()
    };
    pending![
        "ping" => store.ping(),
        "api_key" => store.api_key("K"),
        "token" => store.token(&digest("t")),
        "grant_access" => store.grant_access(&Origin::cli(), caller, &change(&[(101, &[2])])),
        "revoke_access" => store.revoke_access(&Origin::cli(), caller, &change(&[(101, &[1])])),
        "list_api_grants" => store.list_api_grants(caller, &[call(101)]),
        "workspaces" => store.workspaces(caller),
        "list_users" => store.list_users(caller, &UserFilter::default(), PageAfter::first()),
        "user" => store.user(caller, user(1)),
        "list_calls" => store.list_calls(caller, &CallFilter::default(), PageAfter::first()),
        "call" => store.call(caller, call(101)),
        "create_call" => store.create_call(&Origin::cli(), caller, &api_call),
        "profiles" => store.profiles(caller, workspace_id),
        "profile" => store.profile(caller, profile_id),
        "create_profile" => store.create_profile(&Origin::cli(), caller, &profile),
        "update_profile" => store.update_profile(&Origin::cli(), caller, &updated),
        "profile_users" => store.profile_users(caller, profile_id),
        "create_workspace" => store.create_workspace(&workspace),
        "set_manager" => store.set_manager(&Origin::cli(), c, user(2), Some(user(1))),
        "assign_profile" => store.assign_profile(&Origin::cli(), c, user(2), profile_id),
        "update_user" => store.update_user(&Origin::cli(), c, user(2), &update),
        "set_private" => store.set_private(&Origin::cli(), c, call(101), true),
        "create_company" => store.create_company(&new_company),
        "companies" => store.companies(),
        "set_rate_limit" => store.set_rate_limit(c, RateLimit::default()),
        "acquire" => store.acquire(c, RateWindow::Second, second, 3, None),
        "create_api_key" => store.create_api_key(&Origin::cli(), &new_key),
        "api_keys" => store.api_keys(None),
        "revoke_api_key" => store.revoke_api_key(&Origin::cli(), "K", Timestamp::now()),
        "create_token" => store.create_token(&Origin::cli(), &new_token),
        "tokens" => store.tokens(None),
        "revoke_token" => store.revoke_token(&Origin::cli(), "x", Timestamp::now()),
        "add_user" => store.add_user(&Origin::cli(), &new_user),
        "users" => store.users(c),
        "set_calls_access" => store.set_calls_access(&Origin::cli(), c, user(1), CallsAccess::All),
        "add_call" => store.add_call(&Origin::cli(), &new_call),
        "calls" => store.calls(c),
        "add_share" => store.add_share(&Origin::cli(), c, call(101), user(2)),
        "shares" => store.shares(c),
        "remove_share" => store.remove_share(&Origin::cli(), c, call(101), user(2)),
        "call_access" => store.call_access(c, call(101)),
        "apply_seed" => store.apply_seed(&Origin::cli(), seed),
    ]
}

#[tokio::test]
async fn every_call_fails_fast_while_the_server_is_down_and_the_store_recovers() {
    let Some(cluster) = Cluster::start_or_skip() else {
        return;
    };
    let store = connect(cluster.url(), PoolOptions::default())
        .await
        .unwrap();
    world(&store).await;
    store
        .grant_access(
            &Origin::cli(),
            Caller::verified(company(ACME)),
            &change(&[(101, &[1, 3])]),
        )
        .await
        .unwrap();
    let seed = Seed::parse(r#"{"companies": [{"id": "5", "name": "Seeded"}]}"#).unwrap();

    cluster.stop().unwrap();
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

    cluster.restart().unwrap();
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
