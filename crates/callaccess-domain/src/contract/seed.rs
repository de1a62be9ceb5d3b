//! Seed files applied to a store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use super::*;

// --- seeds ---

const INITECH: i64 = 3003;

fn link(path: &str, c: i64, u: i64) -> SeedLink {
    SeedLink {
        path: path.to_owned(),
        call: call(c),
        user: user(u),
    }
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
            api_keys: vec![SeedApiKey {
                path: "companies[0].apiKeys[0]".to_owned(),
                access_key: "INITECHKEY1".to_owned(),
                digest: digest("initech-secret-0123456789"),
                scopes: None,
                expires_at: Some(Timestamp::from_unix(1_893_456_000)),
            }],
            tokens: vec![SeedToken {
                path: "companies[0].tokens[0]".to_owned(),
                digest: digest("initech-read-token-0123456789"),
                scopes: vec![Scope::parse(Scope::READ).unwrap()],
                expires_at: None,
            }],
            users: vec![
                User {
                    company: c,
                    id: user(1),
                    email_address: "peter@initech.test".to_owned(),
                    calls_access: CallsAccess::None,
                },
                User {
                    company: c,
                    id: user(2),
                    email_address: "bill@initech.test".to_owned(),
                    calls_access: CallsAccess::Own,
                },
                User {
                    company: c,
                    id: user(3),
                    email_address: "bob@initech.test".to_owned(),
                    calls_access: CallsAccess::All,
                },
            ],
            calls: vec![
                Call {
                    company: c,
                    id: call(500),
                    title: Some("TPS reports".to_owned()),
                    primary_user_id: user(2),
                    participant_ids: users(&[1]),
                },
                Call {
                    company: c,
                    id: call(501),
                    title: None,
                    primary_user_id: user(1),
                    participant_ids: vec![],
                },
            ],
            shares: vec![link("companies[0].shares[0]", 500, 3)],
            api_grants: vec![link("companies[0].apiGrants[0]", 501, 2)],
        }],
    }
}

pub async fn seed_applies_and_is_idempotent(store: &dyn Store) {
    let seed = initech_seed();
    assert_eq!(store.apply_seed(&seed).await.unwrap(), seed.summary());

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
        store.users(company(INITECH)).await.unwrap(),
        seed.companies[0].users
    );
    assert_eq!(
        store.calls(company(INITECH)).await.unwrap(),
        seed.companies[0].calls
    );
    assert_eq!(shares_of(store, INITECH, 500).await, users(&[3]));
    // Seed grants are recorded as given.
    assert_eq!(
        grants(store, INITECH, &[500, 501]).await,
        vec![(500, vec![]), (501, vec![2])]
    );

    let once = snapshot(store).await;
    assert_eq!(store.apply_seed(&seed).await.unwrap(), seed.summary());
    assert_eq!(
        snapshot(store).await,
        once,
        "applying a seed twice changes nothing"
    );
}

pub async fn seed_updates_what_it_names_and_deletes_nothing(store: &dyn Store) {
    let mut seed = initech_seed();
    store.apply_seed(&seed).await.unwrap();
    // Things the file does not name: a user, a call, a grant made by PUT.
    add_user(store, INITECH, 9, CallsAccess::None).await;
    store
        .add_call(&new_call(INITECH, 502, 9, &[]))
        .await
        .unwrap();
    store
        .grant_access(caller(INITECH), &change(&[(500, &[9])]))
        .await
        .unwrap();
    let revoked_at = Timestamp::from_unix(1_800_000_000);
    store
        .revoke_api_key("INITECHKEY1", revoked_at)
        .await
        .unwrap();

    let c = &mut seed.companies[0];
    c.name = "Initech Inc".to_owned();
    c.rate_limit = RateLimit::default();
    c.users[0].email_address = "peter.gibbons@initech.test".to_owned();
    c.users[0].calls_access = CallsAccess::Own;
    c.calls[0].title = Some("TPS reports, again".to_owned());
    c.calls[0].participant_ids = users(&[3]);
    c.api_keys[0].scopes = Some(vec![Scope::parse(Scope::WRITE).unwrap()]);
    // A reference to a user that only the database has.
    c.shares.push(link("companies[0].shares[1]", 501, 9));
    store.apply_seed(&seed).await.unwrap();

    let company_row = store.companies().await.unwrap().remove(0);
    assert_eq!(
        (company_row.name.as_str(), company_row.rate_limit),
        ("Initech Inc", RateLimit::default())
    );
    let listed = store.users(company(INITECH)).await.unwrap();
    assert_eq!(listed[0], seed.companies[0].users[0]);
    assert_eq!(
        listed.iter().map(|u| u.id.get()).collect::<Vec<_>>(),
        vec![1, 2, 3, 9]
    );
    let calls = store.calls(company(INITECH)).await.unwrap();
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
    store.create_api_key(&acme_key).await.unwrap();
    let acme_token = NewToken {
        company: company(ACME),
        digest: digest("initech-read-token-0123456789"),
        scopes: vec![],
        expires_at: None,
    };
    store.create_token(&acme_token).await.unwrap();
    let before = snapshot(store).await;

    let result = store.apply_seed(&initech_seed()).await;
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
    let result = store.apply_seed(&seed).await;
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
