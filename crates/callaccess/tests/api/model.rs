//! Property: any sequence of PUT and DELETE requests leaves the same API-grant
//! set as a plain in-memory model of contract §2 and §3.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::json;

use crate::helpers::ids::*;
use crate::helpers::TestApp;

const CALLS: [i64; 4] = [CALL_1, CALL_2, CALL_3, UNKNOWN_CALL];
const USERS: [i64; 8] = [
    NONE_A,
    NONE_B,
    SHARED,
    ALL,
    OWN_PRIMARY,
    OWN_PARTICIPANT,
    OWN_OTHER,
    UNKNOWN_USER,
];

/// Access by sharing or profile in the fixed world (see helpers).
fn has_other_access(call: i64, user: i64) -> bool {
    user == ALL || (call == CALL_1 && [SHARED, OWN_PRIMARY, OWN_PARTICIPANT].contains(&user))
}

#[derive(Debug, Clone)]
struct Op {
    put: bool,
    items: Vec<(i64, Vec<i64>)>,
}

fn op() -> impl Strategy<Value = Op> {
    let item = (0..CALLS.len(), prop::collection::vec(0..USERS.len(), 0..4)).prop_map(|(c, us)| {
        (
            CALLS[c],
            us.into_iter().map(|u| USERS[u]).collect::<Vec<_>>(),
        )
    });
    (any::<bool>(), prop::collection::vec(item, 0..4)).prop_map(|(put, items)| Op { put, items })
}

#[derive(Default)]
struct Model {
    grants: BTreeSet<(i64, i64)>,
}

impl Model {
    /// Applies one request; `true` if the service must answer 200.
    fn apply(&mut self, op: &Op) -> bool {
        if op.items.iter().any(|(c, _)| *c == UNKNOWN_CALL) {
            return false;
        }
        let pairs = op
            .items
            .iter()
            .flat_map(|(c, us)| us.iter().map(move |u| (*c, *u)));
        if op.put {
            if op.items.iter().any(|(_, us)| us.contains(&UNKNOWN_USER)) {
                return false;
            }
            for (c, u) in pairs {
                if !has_other_access(c, u) {
                    self.grants.insert((c, u));
                }
            }
        } else {
            for pair in pairs {
                self.grants.remove(&pair);
            }
        }
        true
    }
}

async fn stored(app: &TestApp, auth: &crate::helpers::Auth) -> BTreeSet<(i64, i64)> {
    let listed = app.listed(auth, &[CALL_1, CALL_2, CALL_3]).await;
    listed
        .into_iter()
        .flat_map(|(c, us)| {
            us.into_iter()
                .map(move |u| (c.parse().unwrap(), u.parse().unwrap()))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn puts_and_deletes_match_the_model(ops in prop::collection::vec(op(), 1..12)) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let app = TestApp::spawn().await;
            let c = app.company(1).await;
            let mut model = Model::default();
            for op in &ops {
                let body = json!({"callAccessList": op.items.iter().map(|(c, us)| json!({
                    "callId": c.to_string(),
                    "userIds": us.iter().map(i64::to_string).collect::<Vec<_>>(),
                })).collect::<Vec<_>>()});
                let reply = if op.put { app.put(&c.auth, body).await } else { app.delete(&c.auth, body).await };
                let expect_ok = model.apply(op);
                assert_eq!(reply.status == 200, expect_ok, "{op:?} answered {}", reply.body);
                assert_eq!(stored(&app, &c.auth).await, model.grants, "after {op:?}");
            }
        });
    }
}
