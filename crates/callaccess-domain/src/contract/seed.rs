//! Seed files applied to a store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use super::*;
use crate::Origin;

// --- seeds ---

const INITECH: i64 = 3003;

fn link(path: &str, c: i64, u: i64) -> SeedLink {
    SeedLink {
        path: path.to_owned(),
        call: call(c),
        user: user(u),
    }
}

fn seed_user(id: i64, email: &str, level: CallsAccess) -> User {
    User {
        calls_access: Some(level),
        ..User::new(company(INITECH), user(id), email)
    }
}

/// The users as read back, as written.
async fn users_as_written(store: &dyn Store, company_id: i64) -> Vec<User> {
    store
        .users(company(company_id))
        .await
        .unwrap()
        .iter()
        .map(as_written)
        .collect()
}

/// The calls as read back, without their (default) workspace.
async fn calls_as_written(store: &dyn Store, company_id: i64) -> Vec<Call> {
    store
        .calls(company(company_id))
        .await
        .unwrap()
        .iter()
        .map(without_workspace)
        .collect()
}

/// A seed as the parser would produce it for one company, `companies[0]`.
fn initech_seed() -> Seed {
    let c = company(INITECH);
    Seed {
        companies: vec![SeedCompany {
            path: "companies[0]".to_owned(),
            id: c,
            name: "Initech".to_owned(),
            rate_limit: RateLimit {
                per_second: Limit::Max(5),
                per_day: Limit::Off,
            },
            created_at: None,
            api_keys: vec![SeedApiKey {
                path: "companies[0].apiKeys[0]".to_owned(),
                access_key: "INITECHKEY1".to_owned(),
                digest: digest("initech-secret-0123456789"),
                scopes: None,
                expires_at: Some(Timestamp::from_unix(1_893_456_000)),
                created_at: None,
                revoked_at: None,
            }],
            tokens: vec![SeedToken {
                path: "companies[0].tokens[0]".to_owned(),
                digest: digest("initech-read-token-0123456789"),
                id: None,
                scopes: vec![Scope::parse(Scope::READ).unwrap()],
                expires_at: None,
                created_at: None,
                revoked_at: None,
            }],
            workspaces: vec![],
            profiles: vec![],
            users: vec![
                seed_user(1, "peter@initech.test", CallsAccess::None),
                seed_user(2, "bill@initech.test", CallsAccess::Own),
                seed_user(3, "bob@initech.test", CallsAccess::All),
            ],
            assignments: vec![],
            calls: vec![
                Call {
                    title: Some("TPS reports".to_owned()),
                    participant_ids: users(&[1]),
                    ..Call::new(c, call(500), user(2))
                },
                Call::new(c, call(501), user(1)),
            ],
            shares: vec![link("companies[0].shares[0]", 500, 3)],
            api_grants: vec![link("companies[0].apiGrants[0]", 501, 2)],
        }],
    }
}

pub async fn seed_applies_and_is_idempotent(store: &dyn Store) {
    let seed = initech_seed();
    assert_eq!(
        store.apply_seed(&Origin::cli(), &seed).await.unwrap(),
        seed.summary()
    );

    let companies = store.companies().await.unwrap();
    assert_eq!(companies.len(), 1);
    assert_eq!(
        (companies[0].id, companies[0].name.as_str()),
        (company(INITECH), "Initech")
    );
    assert_eq!(
        companies[0].rate_limit,
        RateLimit {
            per_second: Limit::Max(5),
            per_day: Limit::Off
        }
    );
    let key = store.api_key("INITECHKEY1").await.unwrap().unwrap();
    assert_eq!(
        (key.company, key.digest, key.expires_at),
        (
            company(INITECH),
            digest("initech-secret-0123456789"),
            Some(Timestamp::from_unix(1_893_456_000))
        )
    );
    let token = store
        .token(&digest("initech-read-token-0123456789"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (token.company, token.scopes),
        (
            company(INITECH),
            Some(vec![Scope::parse(Scope::READ).unwrap()])
        )
    );
    assert_eq!(
        users_as_written(store, INITECH).await,
        seed.companies[0].users
    );
    assert_eq!(
        calls_as_written(store, INITECH).await,
        seed.companies[0].calls
    );
    // The company got a default workspace, which holds the calls.
    let workspace = default_workspace(store, INITECH).await;
    for c in store.calls(company(INITECH)).await.unwrap() {
        assert_eq!(c.workspace, Some(workspace));
    }
    assert_eq!(shares_of(store, INITECH, 500).await, users(&[3]));
    // Seed grants are recorded as given.
    assert_eq!(
        grants(store, INITECH, &[500, 501]).await,
        vec![(500, vec![]), (501, vec![2])]
    );

    let once = snapshot(store).await;
    assert_eq!(
        store.apply_seed(&Origin::cli(), &seed).await.unwrap(),
        seed.summary()
    );
    assert_eq!(
        snapshot(store).await,
        once,
        "applying a seed twice changes nothing"
    );
}

pub async fn seed_updates_what_it_names_and_deletes_nothing(store: &dyn Store) {
    let mut seed = initech_seed();
    store.apply_seed(&Origin::cli(), &seed).await.unwrap();
    // Things the file does not name: a user, a call, a grant made by PUT.
    add_user(store, INITECH, 9, CallsAccess::None).await;
    store
        .add_call(&Origin::cli(), &new_call(INITECH, 502, 9, &[]))
        .await
        .unwrap();
    store
        .grant_access(&Origin::cli(), caller(INITECH), &change(&[(500, &[9])]))
        .await
        .unwrap();
    let revoked_at = Timestamp::from_unix(1_800_000_000);
    store
        .revoke_api_key(&Origin::cli(), "INITECHKEY1", revoked_at)
        .await
        .unwrap();

    let c = &mut seed.companies[0];
    c.name = "Initech Inc".to_owned();
    c.rate_limit = RateLimit::default();
    c.users[0].email_address = "peter.gibbons@initech.test".to_owned();
    c.users[0].calls_access = Some(CallsAccess::Own);
    c.calls[0].title = Some("TPS reports, again".to_owned());
    c.calls[0].participant_ids = users(&[3]);
    c.api_keys[0].scopes = Some(vec![Scope::parse(Scope::WRITE).unwrap()]);
    // A reference to a user that only the database has.
    c.shares.push(link("companies[0].shares[1]", 501, 9));
    store.apply_seed(&Origin::cli(), &seed).await.unwrap();

    let company_row = store.companies().await.unwrap().remove(0);
    assert_eq!(
        (company_row.name.as_str(), company_row.rate_limit),
        ("Initech Inc", RateLimit::default())
    );
    let listed = users_as_written(store, INITECH).await;
    assert_eq!(listed[0], seed.companies[0].users[0]);
    assert_eq!(
        listed.iter().map(|u| u.id.get()).collect::<Vec<_>>(),
        vec![1, 2, 3, 9]
    );
    let calls = calls_as_written(store, INITECH).await;
    assert_eq!(
        calls[0], seed.companies[0].calls[0],
        "participants are replaced by the file's list"
    );
    assert_eq!(
        calls.iter().map(|c| c.id.get()).collect::<Vec<_>>(),
        vec![500, 501, 502]
    );
    assert_eq!(
        grants(store, INITECH, &[500, 501]).await,
        vec![(500, vec![9]), (501, vec![2])]
    );
    assert_eq!(shares_of(store, INITECH, 501).await, users(&[9]));
    let key = store.api_key("INITECHKEY1").await.unwrap().unwrap();
    assert_eq!(
        key.revoked_at,
        Some(revoked_at),
        "a seed never revives a revoked key"
    );
    assert_eq!(key.scopes, Some(vec![Scope::parse(Scope::WRITE).unwrap()]));
}

pub async fn seed_rejects_credentials_of_another_company_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let acme_key = NewApiKey {
        access_key: "INITECHKEY1".to_owned(),
        company: company(ACME),
        digest: digest("some-other-secret-0123"),
        scopes: None,
        expires_at: None,
    };
    store
        .create_api_key(&Origin::cli(), &acme_key)
        .await
        .unwrap();
    let acme_token = NewToken {
        company: company(ACME),
        digest: digest("initech-read-token-0123456789"),
        scopes: vec![],
        expires_at: None,
    };
    store
        .create_token(&Origin::cli(), &acme_token)
        .await
        .unwrap();
    let before = snapshot(store).await;

    let result = store.apply_seed(&Origin::cli(), &initech_seed()).await;
    assert_eq!(
        seed_rejected(result),
        vec![
            "companies[0].apiKeys[0].accessKey: \"INITECHKEY1\" already belongs to another company"
                .to_owned(),
            "companies[0].tokens[0].token: this token already belongs to another company"
                .to_owned(),
        ]
    );
    assert_eq!(snapshot(store).await, before);
}

pub async fn seed_rejects_missing_references_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let before = snapshot(store).await;
    let mut seed = initech_seed();
    // User 42 and call 777 are neither in the file nor in the database; user
    // 5 and call 900 exist, but in GLOBEX.
    seed.companies[0]
        .shares
        .push(link("companies[0].shares[1]", 500, 42));
    seed.companies[0]
        .api_grants
        .push(link("companies[0].apiGrants[1]", 777, 1));
    seed.companies[0]
        .api_grants
        .push(link("companies[0].apiGrants[2]", 900, 5));
    let result = store.apply_seed(&Origin::cli(), &seed).await;
    let mut expected = vec![
        "companies[0].shares[1].userId: user \"42\" does not exist in company \"3003\"".to_owned(),
        "companies[0].apiGrants[1].callId: call \"777\" does not exist in company \"3003\""
            .to_owned(),
        "companies[0].apiGrants[2].callId: call \"900\" does not exist in company \"3003\""
            .to_owned(),
        "companies[0].apiGrants[2].userId: user \"5\" does not exist in company \"3003\""
            .to_owned(),
    ];
    expected.sort();
    assert_eq!(seed_rejected(result), expected);
    assert_eq!(snapshot(store).await, before);
}

/// A seed of Gong's directory for HOOLI: workspaces, a profile per
/// workspace, managers, profile assignments and a private call.
fn hooli_directory_seed() -> Seed {
    use crate::model::{CallsRule, Profile, Workspace};
    use crate::seed::SeedAssignment;
    use crate::{ProfileId, WorkspaceId};
    let c = company(super::hierarchy::HOOLI);
    let sales = WorkspaceId::from_i64(623_457_276_584_334).unwrap();
    let support = WorkspaceId::from_i64(623_457_276_584_335).unwrap();
    let profile = |id: i64, workspace, name: &str, level: CallsAccess| {
        let mut fields = serde_json::Map::new();
        fields.insert("name".to_owned(), serde_json::json!(name));
        fields.insert(
            "callsAccess".to_owned(),
            serde_json::json!({ "permissionLevel": level.as_str(), "teamLeadIds": [] }),
        );
        fields.insert("scoreCalls".to_owned(), serde_json::json!(true));
        Profile {
            company: c,
            workspace,
            id: ProfileId::from_i64(id).unwrap(),
            name: name.to_owned(),
            calls: CallsRule {
                level,
                team_leads: vec![],
            },
            fields,
        }
    };
    let person = |id: i64, manager: Option<i64>| User {
        manager_id: manager.map(user),
        first_name: Some(format!("User{id}")),
        ..User::new(c, user(id), format!("u{id}@hooli.test"))
    };
    let assignment = |index: usize, u: i64, p: i64| SeedAssignment {
        path: format!("companies[0].users[{index}].profileIds[0]"),
        user: user(u),
        profile: ProfileId::from_i64(p).unwrap(),
    };
    Seed {
        companies: vec![SeedCompany {
            path: "companies[0]".to_owned(),
            id: c,
            name: "Hooli".to_owned(),
            rate_limit: RateLimit::default(),
            created_at: None,
            api_keys: vec![],
            tokens: vec![],
            workspaces: vec![
                Workspace {
                    company: c,
                    id: sales,
                    name: "Sales".to_owned(),
                    description: Some("Sales team".to_owned()),
                },
                Workspace {
                    company: c,
                    id: support,
                    name: "Support".to_owned(),
                    description: None,
                },
            ],
            profiles: vec![
                profile(
                    3_843_152_912_968_920_037,
                    sales,
                    "Managers",
                    CallsAccess::ReportToThem,
                ),
                profile(
                    3_843_152_912_968_920_038,
                    support,
                    "Agents",
                    CallsAccess::All,
                ),
            ],
            // 1 manages 2, who manages 3 (written before 2: references go
            // anywhere in the file).
            users: vec![person(3, Some(2)), person(1, None), person(2, Some(1))],
            assignments: vec![
                assignment(1, 1, 3_843_152_912_968_920_037),
                assignment(0, 3, 3_843_152_912_968_920_038),
            ],
            calls: vec![
                Call {
                    workspace: Some(sales),
                    started: Some(Timestamp::from_unix(1_793_631_600)),
                    ..Call::new(c, call(700), user(3))
                },
                Call {
                    workspace: Some(sales),
                    is_private: true,
                    ..Call::new(c, call(701), user(3))
                },
                Call {
                    workspace: Some(support),
                    client_unique_id: Some("crm-9".to_owned()),
                    ..Call::new(c, call(702), user(2))
                },
                Call::new(c, call(703), user(2)),
            ],
            shares: vec![],
            api_grants: vec![],
        }],
    }
}

pub async fn seed_writes_workspaces_profiles_managers_and_private_calls(store: &dyn Store) {
    use super::hierarchy::HOOLI;
    use crate::access::Route;
    let seed = hooli_directory_seed();
    store.apply_seed(&Origin::cli(), &seed).await.unwrap();
    let sales = seed.companies[0].workspaces[0].id;
    let support = seed.companies[0].workspaces[1].id;

    // The file's workspaces, the first the default: no "Default" is added.
    assert_eq!(
        store.workspaces(caller(HOOLI)).await.unwrap(),
        seed.companies[0].workspaces
    );
    let at = |id| async move { store.call(caller(HOOLI), call(id)).await.unwrap().unwrap() };
    assert_eq!(at(703).await.workspace, Some(sales), "the default");
    assert_eq!(at(702).await.workspace, Some(support));
    assert_eq!(at(702).await.client_unique_id.as_deref(), Some("crm-9"));
    assert!(at(701).await.is_private);
    // Profiles as given, each with its holders.
    let managers = &seed.companies[0].profiles[0];
    assert_eq!(
        store.profiles(caller(HOOLI), sales).await.unwrap(),
        vec![managers.clone()]
    );
    let holders: Vec<i64> = store
        .profile_users(caller(HOOLI), managers.id)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id.get())
        .collect();
    assert_eq!(holders, vec![1]);
    let three = store.user(caller(HOOLI), user(3)).await.unwrap().unwrap();
    assert_eq!(
        (
            three.manager_id,
            three.first_name.as_deref(),
            three.calls_access
        ),
        (Some(user(2)), Some("User3"), None),
        "3's profile is in Support, not the default workspace"
    );
    // The chain opens 3's call to 1; the private one only to its party.
    let routes = store.call_access(company(HOOLI), call(700)).await.unwrap();
    let one = routes.viewers.iter().find(|v| v.user == user(1)).unwrap();
    assert!(matches!(
        &one.routes[..],
        [Route::Profile { chain, level: CallsAccess::ReportToThem, .. }]
            if chain == &users(&[3, 2, 1])
    ));
    let private = store.call_access(company(HOOLI), call(701)).await.unwrap();
    assert!(private.viewers.is_empty(), "{private:?}");
    // 3's `all` is Support's: it opens 2's call there, not in Sales.
    let support_call = store.call_access(company(HOOLI), call(702)).await.unwrap();
    assert_eq!(support_call.by_profile(CallsAccess::All), users(&[3]));
    let sales_call = store.call_access(company(HOOLI), call(703)).await.unwrap();
    assert_eq!(
        sales_call.by_profile(CallsAccess::All),
        Vec::<UserId>::new()
    );

    let once = snapshot(store).await;
    store.apply_seed(&Origin::cli(), &seed).await.unwrap();
    assert_eq!(
        snapshot(store).await,
        once,
        "applying it twice changes nothing"
    );

    // A loop through the database and the file is refused, whole.
    let mut looped = seed.clone();
    looped.companies[0].users[1].manager_id = Some(user(3));
    looped.companies[0].workspaces[0].name = "Renamed".to_owned();
    let problems = seed_rejected(store.apply_seed(&Origin::cli(), &looped).await);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("companies[0].users[")
            && problems[0].contains("a manager loop is not allowed"),
        "{problems:?}"
    );
    assert_eq!(snapshot(store).await, once);
}
