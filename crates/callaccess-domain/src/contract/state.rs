//! State for tests: snapshots, exports that import back as the same state,
//! and resets (whole store or one company, with a seed in the same
//! transaction).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use super::*;
use crate::admin_token::{AdminTokenId, NewAdminToken};
use crate::seed::{export, Snapshot};
use crate::Origin;

/// A company with every kind of row, made partly by a seed (workspaces,
/// profiles with extra fields, managers, an inactive user, a private call
/// with details, parties and long text, shares, grants) and partly by the
/// admin operations (a revoked key, a token with generated id and times).
async fn rich(store: &dyn Store) {
    world(store).await;
    let long_title = "t".repeat(1_000);
    let text = serde_json::json!({"companies": [{
        "id": "3003", "name": "Initech", "createdAt": "2024-01-01T00:00:00Z",
        "rateLimit": {"perSecond": 5, "perDay": "off"},
        "workspaces": [{"id": "30030", "name": "Sales", "description": "the sales team"},
                       {"id": "30031", "name": "Support"}],
        "profiles": [
            {"id": "300300", "workspaceId": "30030", "name": "Leads",
             "callsAccess": {"permissionLevel": "managers-team", "teamLeadIds": ["2"]},
             "scoreCalls": true, "dealsAccess": {"permissionLevel": "all"}},
            {"id": "300310", "workspaceId": "30031", "name": "Reports",
             "callsAccess": {"permissionLevel": "report-to-them", "teamLeadIds": []}}
        ],
        "users": [
            {"id": "1", "emailAddress": "peter@initech.test", "firstName": "Peter", "callsAccess": "own",
             "created": "2024-01-02T00:00:00Z"},
            {"id": "2", "emailAddress": "bill@initech.test", "title": "VP", "profileIds": ["300300", "300310"]},
            {"id": "3", "emailAddress": "milton@initech.test", "managerId": "2", "active": false},
            {"id": "4", "emailAddress": "bob@initech.test", "lastName": "Slydell", "managerId": "3"}
        ],
        "calls": [
            {"id": "500", "primaryUserId": "1", "participantIds": ["3"], "workspaceId": "30030",
             "title": long_title, "isPrivate": true, "started": "2026-11-02T15:00:00Z",
             "clientUniqueId": "pbx-500", "direction": "Inbound", "duration": 61,
             "customData": "x".repeat(400), "scheduled": "2026-11-02T14:55:00Z",
             "parties": [{"name": "A customer", "emailAddress": "c@example.test", "affiliation": "External"},
                         {"userId": "1", "name": "Peter"}]},
            {"id": "501", "primaryUserId": "4"}
        ],
        "shares": [{"callId": "500", "userId": "4"}],
        "apiGrants": [{"callId": "501", "userId": "1"}, {"callId": "500", "userId": "2"}],
        "apiKeys": [{"accessKey": "INITECHKEY1", "accessKeySecret": "initech-secret-0123456789",
                     "expiresAt": "2031-01-01T00:00:00Z", "scopes": ["api:call-user-access:read"],
                     "createdAt": "2024-01-03T00:00:00Z"}],
        "tokens": [{"token": "initech-token-0123456789", "scopes": ["api:call-user-access:write"],
                    "createdAt": "2024-01-04T00:00:00Z", "revokedAt": "2024-02-01T00:00:00Z"}]
    }]});
    let seed = Seed::parse(&text.to_string()).unwrap();
    store.apply_seed(&Origin::cli(), &seed).await.unwrap();
    store
        .revoke_api_key(
            &Origin::cli(),
            "INITECHKEY1",
            Timestamp::from_unix(1_800_000_000),
        )
        .await
        .unwrap();
    store
        .create_token(
            &Origin::cli(),
            &NewToken {
                company: company(3003),
                digest: digest("initech-second-token-0123456789"),
                scopes: vec![Scope::parse(Scope::READ).unwrap()],
                expires_at: Some(Timestamp::from_unix(1_900_000_000)),
            },
        )
        .await
        .unwrap();
}

/// The export of `snapshot`, parsed as `import` would parse it.
fn reimport(snapshot: &Snapshot) -> Seed {
    Seed::parse(&export(snapshot).to_string()).expect("an export is a valid seed")
}

pub async fn an_export_applied_after_a_reset_reproduces_every_row(store: &dyn Store) {
    rich(store).await;
    let before = store.snapshot(None).await.unwrap();
    assert_eq!(before.companies.len(), 3);
    let initech = &before.companies[2];
    assert_eq!(initech.tokens.len(), 2);
    assert!(initech.api_keys[0].0.revoked_at.is_some());
    assert!(!initech.assignments.is_empty() && !initech.calls[0].parties.is_empty());
    // Every kind of row is read (a row the snapshot missed would also be
    // missing from the copy, and the comparison below would not see it).
    let counts = (
        initech.workspaces.len(),
        initech.profiles.len(),
        initech.users.len(),
        initech.assignments.len(),
        initech.calls.len(),
        initech.shares.len(),
        initech.api_grants.len(),
        initech.api_keys.len(),
    );
    assert_eq!(
        counts,
        (2, 3, 4, 3, 2, 1, 2, 1),
        "with the legacy profile of `own`"
    );
    assert_eq!(initech.calls[0].participant_ids, vec![user(3)]);
    assert_eq!(initech.users[3].manager_id, Some(user(3)));
    // Times a seed gives are stored as given (an export relies on it).
    let at = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
    assert_eq!(initech.company.created_at, at("2024-01-01T00:00:00Z"));
    assert_eq!(initech.users[0].created, Some(at("2024-01-02T00:00:00Z")));
    assert_eq!(initech.api_keys[0].0.created_at, at("2024-01-03T00:00:00Z"));
    let seeded_token = initech
        .tokens
        .iter()
        .find(|(_, d)| *d == digest("initech-token-0123456789"))
        .unwrap();
    assert_eq!(
        (seeded_token.0.created_at, seeded_token.0.revoked_at),
        (at("2024-01-04T00:00:00Z"), Some(at("2024-02-01T00:00:00Z")))
    );

    let seed = reimport(&before);
    let summary = store
        .reset(&Origin::cli(), None, Some(&seed))
        .await
        .unwrap();
    assert_eq!(
        (summary.companies, summary.users, summary.calls),
        (3, 13, 7)
    );
    assert_eq!(summary.seeded, Some(seed.summary()));
    let after = store.snapshot(None).await.unwrap();
    assert_eq!(after, before, "every row, id, time and digest comes back");

    // The credentials work as before: the same secret, the same revocation.
    let key = store.api_key("INITECHKEY1").await.unwrap().unwrap();
    assert_eq!(key.digest, digest("initech-secret-0123456789"));
    assert_eq!(key.revoked_at, Some(Timestamp::from_unix(1_800_000_000)));
    let token = store
        .token(&digest("initech-second-token-0123456789"))
        .await
        .unwrap()
        .unwrap();
    let exported = initech
        .tokens
        .iter()
        .find(|(_, d)| *d == digest("initech-second-token-0123456789"))
        .unwrap();
    assert_eq!(token.handle, exported.0.id, "the token keeps its id");

    // Applying the export over the state it came from changes nothing
    // either (a seed is idempotent).
    store.apply_seed(&Origin::cli(), &seed).await.unwrap();
    assert_eq!(store.snapshot(None).await.unwrap(), before);
}

pub async fn a_reset_of_one_company_leaves_the_others_intact(store: &dyn Store) {
    rich(store).await;
    let before = store.snapshot(None).await.unwrap();
    let summary = store
        .reset(&Origin::cli(), Some(company(3003)), None)
        .await
        .unwrap();
    assert_eq!((summary.companies, summary.users, summary.calls), (1, 4, 2));
    assert_eq!(summary.seeded, None);

    let after = store.snapshot(None).await.unwrap();
    let kept: Vec<_> = before
        .companies
        .iter()
        .filter(|c| c.company.id != company(3003))
        .cloned()
        .collect();
    assert_eq!(after.companies, kept);
    assert_eq!(
        store.snapshot(Some(company(3003))).await,
        Err(StoreError::NoCompany(company(3003)))
    );
    assert_eq!(store.api_key("INITECHKEY1").await.unwrap(), None);
    assert!(store.users(company(3003)).await.unwrap().is_empty());
    // Its ids are free again: the company can be created anew.
    store
        .apply_seed(&Origin::cli(), &reimport(&before))
        .await
        .unwrap();
    assert_eq!(store.snapshot(None).await.unwrap(), before);
}

pub async fn a_reset_with_a_rejected_seed_removes_nothing(store: &dyn Store) {
    rich(store).await;
    let before = store.snapshot(None).await.unwrap();
    // Valid as a file; user 99 exists in no company once the reset has run.
    let bad = Seed::parse(
        r#"{"companies": [{"id": "3003", "name": "Initech", "users": [],
             "calls": [{"id": "1", "primaryUserId": "99"}]}]}"#,
    )
    .unwrap();
    for company_reset in [None, Some(company(3003))] {
        match store.reset(&Origin::cli(), company_reset, Some(&bad)).await {
            Err(StoreError::SeedRejected(messages)) => assert_eq!(
                messages,
                vec!["companies[0].calls[0].primaryUserId: user \"99\" does not exist in company \"3003\""]
            ),
            other => panic!("expected a rejected seed, got {other:?}"),
        }
        assert_eq!(store.snapshot(None).await.unwrap(), before);
    }
    // A seed of another company than the one reset is refused whole.
    let other = reimport(&Snapshot {
        companies: vec![before.companies[0].clone()],
    });
    match store
        .reset(&Origin::cli(), Some(company(3003)), Some(&other))
        .await
    {
        Err(StoreError::SeedRejected(messages)) => {
            assert!(
                messages[0].starts_with("companies[0].id: \"1001\" is not the company being reset"),
                "{messages:?}"
            );
        }
        got => panic!("expected a refusal, got {got:?}"),
    }
    assert_eq!(store.snapshot(None).await.unwrap(), before);
}

pub async fn a_full_reset_keeps_admin_tokens_and_frees_every_id(store: &dyn Store) {
    rich(store).await;
    let admin = NewAdminToken {
        id: AdminTokenId::random(),
        digest: digest("admin-token-secret-0123456789"),
        read_only: false,
        note: None,
        created_at: Timestamp::from_unix(1_700_000_000),
        expires_at: None,
    };
    store
        .create_admin_token(&Origin::cli(), &admin)
        .await
        .unwrap();
    let summary = store.reset(&Origin::cli(), None, None).await.unwrap();
    assert_eq!(summary.companies, 3);
    assert_eq!(store.snapshot(None).await.unwrap(), Snapshot::default());
    assert!(store.companies().await.unwrap().is_empty());
    assert!(store.api_keys(None).await.unwrap().is_empty());
    assert!(store.tokens(None).await.unwrap().is_empty());
    assert!(store.admin_token(&admin.id).await.unwrap().is_some());
    // Nothing is left to clash with: the same world can be built again.
    rich(store).await;
    assert_eq!(store.snapshot(None).await.unwrap().companies.len(), 3);
}

pub async fn a_snapshot_of_one_company_is_that_company_only(store: &dyn Store) {
    rich(store).await;
    let all = store.snapshot(None).await.unwrap();
    let ids: Vec<CompanyId> = all.companies.iter().map(|c| c.company.id).collect();
    assert_eq!(ids, vec![company(ACME), company(GLOBEX), company(3003)]);
    let one = store.snapshot(Some(company(GLOBEX))).await.unwrap();
    assert_eq!(one.companies, vec![all.companies[1].clone()]);
    // The default workspace comes first, as a seed makes its first the
    // default.
    let initech = &all.companies[2];
    assert_eq!(
        initech.workspaces[0].id,
        WorkspaceId::from_i64(30030).unwrap()
    );
    assert_eq!(
        store.snapshot(Some(company(4004))).await,
        Err(StoreError::NoCompany(company(4004)))
    );
}
