//! Property: any sequence of PUT, DELETE, manager changes, profile changes
//! and privacy changes leaves the same API grants as a plain in-memory
//! model of directory.md §2, written here from the contract alone (it
//! shares no code with the service's rules), and the service refuses
//! exactly the manager changes the model says close a loop.

use callaccess_domain::Origin;
use std::collections::{BTreeMap, BTreeSet};

use callaccess_domain::access::Route;
use callaccess_domain::{
    CallId, Caller, CallsAccess, CallsRule, CompanyId, Profile, ProfileId, StoreError, UserId,
    Workspace, WorkspaceId,
};
use proptest::prelude::*;
use serde_json::json;

use crate::helpers::{new_api_key, Auth, TestApp};

const USERS: i64 = 6;
const CALLS: i64 = 4;
/// Two workspaces: calls 1 and 2 are in the first, 3 and 4 in the second.
const WORKSPACES: [i64; 2] = [61, 62];
const UNKNOWN_CALL: i64 = 99;
const UNKNOWN_USER: i64 = 98;

fn user_id(n: i64) -> i64 {
    n
}
fn call_id(n: i64) -> i64 {
    100 + n
}
fn workspace_of(call: i64) -> i64 {
    if call <= 2 {
        WORKSPACES[0]
    } else {
        WORKSPACES[1]
    }
}
/// The primary user of each call, and its one participant.
fn primary(call: i64) -> i64 {
    [0, 1, 3, 5, 6][call as usize]
}
fn participant(call: i64) -> i64 {
    [0, 2, 4, 6, 1][call as usize]
}

/// The profiles of each workspace: one per level, and `managers-team` with
/// user 3 as its team lead.
fn levels() -> Vec<(CallsAccess, Vec<i64>)> {
    vec![
        (CallsAccess::All, vec![]),
        (CallsAccess::Own, vec![]),
        (CallsAccess::ReportToThem, vec![]),
        (CallsAccess::ManagersTeam, vec![]),
        (CallsAccess::ManagersTeam, vec![3]),
        (CallsAccess::None, vec![]),
    ]
}
fn profile_id(workspace: i64, index: usize) -> i64 {
    workspace * 100 + index as i64
}

#[derive(Debug, Clone)]
enum Op {
    Put(Vec<(i64, Vec<i64>)>),
    Delete(Vec<(i64, Vec<i64>)>),
    Manager(i64, Option<i64>),
    Assign(i64, usize, usize),
    Private(i64, bool),
}

fn items() -> impl Strategy<Value = Vec<(i64, Vec<i64>)>> {
    let call = prop_oneof![9 => 1..=CALLS, 1 => Just(UNKNOWN_CALL)];
    let user = prop_oneof![9 => 1..=USERS, 1 => Just(UNKNOWN_USER)];
    prop::collection::vec((call, prop::collection::vec(user, 0..4)), 1..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => items().prop_map(Op::Put),
        2 => items().prop_map(Op::Delete),
        3 => (1..=USERS, prop::option::of(1..=USERS)).prop_map(|(u, m)| Op::Manager(u, m)),
        3 => (1..=USERS, 0..2usize, 0..6usize).prop_map(|(u, w, p)| Op::Assign(u, w, p)),
        1 => (1..=CALLS, any::<bool>()).prop_map(|(c, p)| Op::Private(c, p)),
    ]
}

#[derive(Debug, Default)]
struct Model {
    managers: BTreeMap<i64, i64>,
    /// (user, workspace) → index into `levels()`.
    profiles: BTreeMap<(i64, i64), usize>,
    private: BTreeSet<i64>,
    grants: BTreeSet<(i64, i64)>,
}

impl Model {
    /// Everyone above `user`, nearest first.
    fn above(&self, user: i64) -> Vec<i64> {
        let mut chain = Vec::new();
        let mut current = user;
        while let Some(&manager) = self.managers.get(&current) {
            if chain.contains(&manager) || manager == user {
                break;
            }
            chain.push(manager);
            current = manager;
        }
        chain
    }

    fn opens_otherwise(&self, call: i64, user: i64) -> bool {
        // No shares in this world: the profile alone decides.
        let workspace = workspace_of(call);
        let Some(&index) = self.profiles.get(&(user, workspace)) else {
            return false;
        };
        let (level, leads) = &levels()[index];
        if *level == CallsAccess::None {
            return false;
        }
        let owner = primary(call);
        if user == owner || user == participant(call) {
            return true;
        }
        if self.private.contains(&call) {
            return false;
        }
        let owner_and_above: Vec<i64> = std::iter::once(owner).chain(self.above(owner)).collect();
        match level {
            CallsAccess::All => true,
            CallsAccess::ReportToThem => self.above(owner).contains(&user),
            CallsAccess::ManagersTeam if leads.is_empty() => match self.managers.get(&user) {
                Some(manager) => owner_and_above.contains(manager),
                None => false,
            },
            CallsAccess::ManagersTeam => owner_and_above.iter().any(|u| leads.contains(u)),
            CallsAccess::Own | CallsAccess::None => false,
        }
    }

    /// Applies one change; `true` if the service must accept it.
    fn apply(&mut self, op: &Op) -> bool {
        match op {
            Op::Put(items) | Op::Delete(items) => {
                if items.iter().any(|(c, _)| *c == UNKNOWN_CALL) {
                    return false;
                }
                let put = matches!(op, Op::Put(_));
                if put && items.iter().any(|(_, us)| us.contains(&UNKNOWN_USER)) {
                    return false;
                }
                for (call, users) in items {
                    for &user in users {
                        if !put {
                            self.grants.remove(&(*call, user));
                        } else if !self.opens_otherwise(*call, user) {
                            self.grants.insert((*call, user));
                        }
                    }
                }
                true
            }
            Op::Manager(user, manager) => {
                match manager {
                    Some(m) if *m == *user || self.above(*m).contains(user) => return false,
                    Some(m) => {
                        self.managers.insert(*user, *m);
                    }
                    None => {
                        self.managers.remove(user);
                    }
                }
                true
            }
            Op::Assign(user, workspace, index) => {
                self.profiles
                    .insert((*user, WORKSPACES[*workspace]), *index);
                true
            }
            Op::Private(call, private) => {
                if *private {
                    self.private.insert(*call);
                } else {
                    self.private.remove(call);
                }
                true
            }
        }
    }
}

fn body(items: &[(i64, Vec<i64>)]) -> serde_json::Value {
    let resolve = |c: i64| if c == UNKNOWN_CALL { c } else { call_id(c) };
    json!({"callAccessList": items.iter().map(|(c, us)| json!({
        "callId": resolve(*c).to_string(),
        "userIds": us.iter().map(|u| user_id(*u).to_string()).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()})
}

async fn world(app: &TestApp) -> (CompanyId, Auth) {
    let store = app.store.as_ref();
    let company = CompanyId::from_i64(77).unwrap();
    store
        .create_company(&callaccess_domain::NewCompany {
            id: company,
            name: "Org".to_owned(),
            rate_limit: Default::default(),
        })
        .await
        .unwrap();
    for w in WORKSPACES {
        store
            .create_workspace(&Workspace {
                company,
                id: WorkspaceId::from_i64(w).unwrap(),
                name: format!("w{w}"),
                description: None,
            })
            .await
            .unwrap();
    }
    for u in 1..=USERS {
        let user = callaccess_domain::User::new(company, uid(u), format!("u{u}@org.test"));
        store.add_user(&Origin::cli(), &user).await.unwrap();
    }
    // The chart starts as one chain, each user reporting to the next, so
    // that deep chains are the rule; the operations then reshape it.
    for u in 1..USERS {
        store
            .set_manager(&Origin::cli(), company, uid(u), Some(uid(u + 1)))
            .await
            .unwrap();
    }
    for w in WORKSPACES {
        for (index, (level, leads)) in levels().into_iter().enumerate() {
            let team_leads: Vec<UserId> = leads.into_iter().map(uid).collect();
            let mut fields = serde_json::Map::new();
            fields.insert("name".to_owned(), json!(format!("p{index}")));
            fields.insert(
                "callsAccess".to_owned(),
                json!({"permissionLevel": level.as_str(), "teamLeadIds": team_leads.iter().map(|u| u.to_string()).collect::<Vec<_>>()}),
            );
            let profile = Profile {
                company,
                workspace: WorkspaceId::from_i64(w).unwrap(),
                id: ProfileId::from_i64(profile_id(w, index)).unwrap(),
                name: format!("p{index}"),
                calls: CallsRule { level, team_leads },
                fields,
            };
            store
                .create_profile(&Origin::cli(), Caller::verified(company), &profile)
                .await
                .unwrap();
        }
    }
    for c in 1..=CALLS {
        let mut call = callaccess_domain::Call::new(company, cid(c), uid(primary(c)));
        call.workspace = WorkspaceId::from_i64(workspace_of(c));
        call.participant_ids = vec![uid(participant(c))];
        store.add_call(&Origin::cli(), &call).await.unwrap();
    }
    let (_, auth) = new_api_key(store, company, None, None).await;
    (company, auth)
}

fn uid(n: i64) -> UserId {
    UserId::from_i64(user_id(n)).unwrap()
}
fn cid(n: i64) -> CallId {
    CallId::from_i64(call_id(n)).unwrap()
}

/// For every call, the users the store says open it by profile.
async fn profile_viewers(app: &TestApp, company: CompanyId) -> BTreeSet<(i64, i64)> {
    let mut viewers = BTreeSet::new();
    for c in 1..=CALLS {
        let facts = app.store.call_access(company, cid(c)).await.unwrap();
        let by_profile = facts.users_by(|route| matches!(route, Route::Profile { .. }));
        viewers.extend(by_profile.into_iter().map(|u| (c, u.get())));
    }
    viewers
}

impl Model {
    fn profile_viewers(&self) -> BTreeSet<(i64, i64)> {
        let mut viewers = BTreeSet::new();
        for c in 1..=CALLS {
            for u in 1..=USERS {
                if self.opens_otherwise(c, u) {
                    viewers.insert((c, u));
                }
            }
        }
        viewers
    }
}

async fn stored(app: &TestApp, auth: &Auth) -> BTreeSet<(i64, i64)> {
    let calls: Vec<i64> = (1..=CALLS).map(call_id).collect();
    app.listed(auth, &calls)
        .await
        .into_iter()
        .flat_map(|(c, us)| {
            let c: i64 = c.parse::<i64>().unwrap() - 100;
            us.into_iter().map(move |u| (c, u.parse().unwrap()))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn grants_follow_the_org_chart_model(
        setup in prop::collection::vec(
            prop_oneof![
                (1..=USERS, prop::option::of(1..=USERS)).prop_map(|(u, m)| Op::Manager(u, m)),
                (1..=USERS, 0..2usize, 0..6usize).prop_map(|(u, w, p)| Op::Assign(u, w, p)),
            ],
            4..14,
        ),
        ops in prop::collection::vec(op(), 1..16),
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let app = TestApp::spawn().await;
            let (company, auth) = world(&app).await;
            let store = app.store.as_ref();
            let mut model = Model {
                managers: (1..USERS).map(|u| (u, u + 1)).collect(),
                ..Model::default()
            };
            for op in setup.iter().chain(&ops) {
                let expect_ok = model.apply(op);
                let accepted = match op {
                    Op::Put(items) => app.put(&auth, body(items)).await.status == 200,
                    Op::Delete(items) => app.delete(&auth, body(items)).await.status == 200,
                    Op::Manager(u, m) => match store.set_manager(&Origin::cli(), company, uid(*u), m.map(uid)).await {
                        Ok(()) => true,
                        Err(StoreError::ManagerLoop(chain)) => {
                            assert_eq!(chain.first(), Some(&uid(*u)), "{chain:?}");
                            assert_eq!(chain.last(), Some(&uid(*u)), "{chain:?}");
                            false
                        }
                        Err(other) => panic!("{op:?}: {other}"),
                    },
                    Op::Assign(u, w, p) => {
                        let profile = ProfileId::from_i64(profile_id(WORKSPACES[*w], *p)).unwrap();
                        store.assign_profile(&Origin::cli(), company, uid(*u), profile).await.unwrap();
                        true
                    }
                    Op::Private(c, p) => {
                        store.set_private(&Origin::cli(), company, cid(*c), *p).await.unwrap();
                        true
                    }
                };
                assert_eq!(accepted, expect_ok, "{op:?} with {model:?}");
                assert_eq!(stored(&app, &auth).await, model.grants, "after {op:?} with {model:?}");
                assert_eq!(
                    profile_viewers(&app, company).await,
                    model.profile_viewers(),
                    "who opens by profile, after {op:?} with {model:?}"
                );
            }
        });
    }
}
