//! The suite runs on the backend `CALLACCESS_TEST_DATABASE` asks for, so a
//! green run on PostgreSQL really was one.

use callaccess::http::Limits;

use crate::helpers::{test_backend, TestApp, TestBackend};

#[tokio::test]
async fn the_suite_runs_on_the_backend_it_was_asked_for() {
    let app = TestApp::spawn().await;
    let expected = match test_backend() {
        TestBackend::Sqlite => "sqlite",
        TestBackend::Postgres(_) => "postgres",
    };
    assert_eq!(app.store.backend(), expected);
    app.store.ping().await.unwrap();
    // Two tests never share a database.
    let other = TestApp::spawn_with(Limits::default()).await;
    other.company(1).await;
    assert!(app.store.companies().await.unwrap().is_empty());
}
