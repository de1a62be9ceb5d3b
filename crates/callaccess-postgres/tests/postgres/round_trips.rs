//! Round trips per operation, as the store counts them for `/metrics`
//! (`callaccess_store_round_trips_total`): PUT and DELETE two each, POST
//! and every directory read one, every directory write two — whatever the
//! depth of the org chart behind a PUT.

use callaccess_domain::Origin;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use callaccess_domain::contract::{call, caller, change, company, user, world, ACME};
use callaccess_domain::page::{CallFilter, PageAfter, UserFilter};
use callaccess_domain::{
    legacy_profile, Call, CallsAccess, CallsRule, ProfileId, Store, WorkspaceId,
};
use callaccess_postgres::{connect, PoolOptions, PostgresStore};
use metrics::{
    Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

/// Every counter's total, by metric name and `operation` label.
#[derive(Default, Clone)]
struct Totals(Arc<Mutex<HashMap<(String, String), u64>>>);

struct One {
    totals: Totals,
    key: (String, String),
}

impl CounterFn for One {
    fn increment(&self, value: u64) {
        *self
            .totals
            .0
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default() += value;
    }
    fn absolute(&self, value: u64) {
        self.totals
            .0
            .lock()
            .unwrap()
            .insert(self.key.clone(), value);
    }
}

impl Recorder for Totals {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let operation = key
            .labels()
            .find(|label| label.key() == "operation")
            .map(|label| label.value().to_owned())
            .unwrap_or_default();
        Counter::from_arc(Arc::new(One {
            totals: self.clone(),
            key: (key.name().to_owned(), operation),
        }))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

impl Totals {
    fn round_trips(&self, operation: &str) -> u64 {
        let key = (
            "callaccess_store_round_trips_total".to_owned(),
            operation.to_owned(),
        );
        self.0.lock().unwrap().get(&key).copied().unwrap_or(0)
    }
}

/// Runs `$call` twice (the first prepares its statements on the one
/// connection) and answers the round trips of the second.
macro_rules! warm {
    ($totals:expr, $operation:literal, $call:expr) => {{
        $call.await.unwrap();
        let before = $totals.round_trips($operation);
        $call.await.unwrap();
        $totals.round_trips($operation) - before
    }};
}

/// ACME of `world`, with a chain of managers ten deep above user 11 (the
/// primary user of call 100) ending at user 1, whose profile is
/// `report-to-them`.
async fn hierarchy(store: &PostgresStore) -> WorkspaceId {
    world(store).await;
    let c = company(ACME);
    for id in 30..40 {
        store
            .add_user(
                &Origin::cli(),
                &callaccess_domain::User::new(c, user(id), format!("m{id}@acme.test")),
            )
            .await
            .unwrap();
    }
    store
        .set_manager(&Origin::cli(), c, user(11), Some(user(30)))
        .await
        .unwrap();
    for id in 30..39 {
        store
            .set_manager(&Origin::cli(), c, user(id), Some(user(id + 1)))
            .await
            .unwrap();
    }
    store
        .set_manager(&Origin::cli(), c, user(39), Some(user(1)))
        .await
        .unwrap();
    let workspace = store.workspaces(caller(ACME)).await.unwrap()[0].id;
    let mut profile = legacy_profile(
        c,
        workspace,
        ProfileId::from_i64(5).unwrap(),
        CallsAccess::ReportToThem,
    );
    profile.name = "Managers".to_owned();
    profile.calls = CallsRule {
        level: CallsAccess::ReportToThem,
        team_leads: vec![],
    };
    store
        .create_profile(&Origin::cli(), caller(ACME), &profile)
        .await
        .unwrap();
    store
        .assign_profile(&Origin::cli(), c, user(1), profile.id)
        .await
        .unwrap();
    workspace
}

#[tokio::test]
async fn each_operation_takes_its_round_trips() {
    let Some(db) = crate::scratch().await else {
        return;
    };
    let options = PoolOptions {
        max_connections: 1,
        ..PoolOptions::default()
    };
    let store = connect(db.url(), options).await.unwrap();
    let workspace = hierarchy(&store).await;
    let totals = Totals::default();
    let _recording = metrics::set_default_local_recorder(&totals);
    let acme = caller(ACME);

    // User 1 opens call 100 through ten managers: PUT records nothing.
    let no_effect = change(&[(100, &[1])]);
    assert_eq!(
        warm!(
            totals,
            "grant_access",
            store.grant_access(&Origin::cli(), acme, &no_effect)
        ),
        2
    );
    assert!(store.list_api_grants(acme, &[call(100)]).await.unwrap()[0]
        .users
        .is_empty());
    // Users 2 and 3 cannot: PUT records them, in the same two.
    let records = change(&[(100, &[2, 3]), (101, &[2])]);
    assert_eq!(
        warm!(
            totals,
            "grant_access",
            store.grant_access(&Origin::cli(), acme, &records)
        ),
        2
    );
    assert_eq!(
        warm!(
            totals,
            "revoke_access",
            store.revoke_access(&Origin::cli(), acme, &records)
        ),
        2
    );
    assert_eq!(
        warm!(
            totals,
            "list_api_grants",
            store.list_api_grants(acme, &[call(100)])
        ),
        1
    );
    assert_eq!(
        warm!(
            totals,
            "list_api_grants",
            store.list_api_grants(acme, &[call(100), call(101)])
        ),
        1
    );

    let first = PageAfter::first();
    let filter = UserFilter {
        created_from: Some(callaccess_domain::Timestamp::from_unix(0)),
        ..UserFilter::default()
    };
    assert_eq!(warm!(totals, "workspaces", store.workspaces(acme)), 1);
    assert_eq!(
        warm!(totals, "list_users", store.list_users(acme, &filter, first)),
        1
    );
    assert_eq!(warm!(totals, "user", store.user(acme, user(1))), 1);
    let calls = CallFilter {
        workspace: Some(workspace),
        ..CallFilter::default()
    };
    assert_eq!(
        warm!(totals, "list_calls", store.list_calls(acme, &calls, first)),
        1
    );
    assert_eq!(warm!(totals, "call", store.call(acme, call(100))), 1);
    let profile = ProfileId::from_i64(5).unwrap();
    assert_eq!(
        warm!(totals, "profiles", store.profiles(acme, workspace)),
        1
    );
    assert_eq!(warm!(totals, "profile", store.profile(acme, profile)), 1);
    assert_eq!(
        warm!(totals, "profile_users", store.profile_users(acme, profile)),
        1
    );
    let stored = store.profile(acme, profile).await.unwrap();
    assert_eq!(
        warm!(
            totals,
            "update_profile",
            store.update_profile(&Origin::cli(), acme, &stored)
        ),
        2
    );

    let before = totals.round_trips("create_call");
    let mut ids = 700..;
    let mut new_call = || Call::new(company(ACME), call(ids.next().unwrap()), user(1));
    store
        .create_call(&Origin::cli(), acme, &new_call())
        .await
        .unwrap();
    let warmed = totals.round_trips("create_call");
    store
        .create_call(&Origin::cli(), acme, &new_call())
        .await
        .unwrap();
    assert!(warmed > before);
    assert_eq!(totals.round_trips("create_call") - warmed, 2);
}
