use callaccess_domain::contract::{self, caller, change, company, grants, ACME};
use callaccess_domain::Origin;
use callaccess_domain::{NewCompany, RateLimit, Store, StoreError};
use callaccess_sqlite::SqliteStore;

use crate::{fresh, Fresh};

#[tokio::test]
async fn the_write_connection_is_wal_with_full_sync() {
    let fixture = fresh().await;
    let settings = fixture.write_settings().await.unwrap();
    assert_eq!(settings.journal_mode, "wal");
    assert_eq!(
        settings.synchronous, 2,
        "FULL: every commit is fsync'd before it is acknowledged"
    );
    assert!(settings.foreign_keys);
}

#[tokio::test]
async fn everything_survives_a_restart() {
    let fixture = fresh().await;
    let path = fixture.path();
    contract::world(&*fixture).await;
    fixture
        .grant_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(101, &[1, 2]), (102, &[3])]),
        )
        .await
        .unwrap();
    let before = contract::snapshot(&*fixture).await;

    // Dropped without `close`, as after a crash of the process around it:
    // what was acknowledged must be there.
    let Fresh { store, dir } = fixture;
    drop(store);
    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(contract::snapshot(&reopened).await, before);
    assert_eq!(
        grants(&reopened, ACME, &[101, 102]).await,
        vec![(101, vec![1, 2]), (102, vec![3])]
    );

    // And again after an orderly close.
    reopened.close().await.unwrap();
    drop(reopened);
    let third = SqliteStore::open(&path).await.unwrap();
    assert_eq!(contract::snapshot(&third).await, before);
    drop(third);
    drop(dir);
}

#[tokio::test]
async fn writes_after_close_are_unavailable() {
    let fixture = fresh().await;
    fixture.close().await.unwrap();
    let result = fixture
        .create_company(&NewCompany {
            id: company(ACME),
            name: "Acme".to_owned(),
            rate_limit: RateLimit::default(),
        })
        .await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    // Closing twice is harmless.
    fixture.close().await.unwrap();
}
