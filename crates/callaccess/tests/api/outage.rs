//! PostgreSQL goes away under a running node and comes back: requests answer
//! 503 in Gong's envelope within a second (never hang), `/healthz` keeps
//! answering while `/readyz` fails, and the node recovers by itself without
//! losing any write it acknowledged.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use callaccess_postgres::scratch::Cluster;

use crate::helpers::{send_with_key, PATH};
use crate::server_process::{write_json, Server};
const KEY: (&str, &str) = ("OUTAGEKEY", "outage-secret-0123456789");
const CALL: &str = "31";

/// Long enough that a hang is seen as one, not as a slow answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The bound on an answer during the outage.
const OUTAGE_ANSWER: Duration = Duration::from_secs(1);
/// How long the node may take to notice PostgreSQL is back.
const RECOVERY: Duration = Duration::from_secs(15);

fn seed() -> Value {
    let users: Vec<Value> = (1..=6)
        .map(|id| json!({"id": id.to_string(), "emailAddress": format!("u{id}@outage.test")}))
        .collect();
    json!({"companies": [{
        "id": "300",
        "name": "Outage",
        "rateLimit": {"perSecond": "off", "perDay": "off"},
        "apiKeys": [{"accessKey": KEY.0, "accessKeySecret": KEY.1}],
        "users": users,
        "calls": [{"id": CALL, "primaryUserId": "6"}]
    }]})
}

fn grant(users: &[&str]) -> Value {
    json!({"callAccessList": [{"callId": CALL, "userIds": users}]})
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Value,
) -> (u16, Value, Option<String>) {
    let reply = send_with_key(client, method, url, KEY, &body).await;
    let trace = reply
        .headers
        .get("x-traceid")
        .map(|v| v.to_str().unwrap().to_owned());
    (reply.status, reply.body, trace)
}

async fn granted(client: &reqwest::Client, base: &str) -> Result<Vec<String>, (u16, Value)> {
    let (status, body, _) = call(
        client,
        reqwest::Method::POST,
        &format!("{base}{PATH}"),
        json!({"filter": {"callIds": [CALL]}}),
    )
    .await;
    if status != 200 {
        return Err((status, body));
    }
    Ok(body["callAccessList"][0]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userId"].as_str().unwrap().to_owned())
        .collect())
}

#[tokio::test]
async fn a_node_answers_503_during_an_outage_and_recovers_without_losing_writes() {
    let Some(cluster) = Cluster::start_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let seed_file = write_json(dir.path(), "seed.json", &seed());
    let node = Server::start(&[
        "--database",
        cluster.url(),
        "--seed",
        seed_file.to_str().unwrap(),
    ])
    .await;
    let base = node.base.clone();
    let client = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .unwrap();
    let url = format!("{base}{PATH}");

    // Acknowledged writes before the outage: grant 1-5, revoke 2.
    for users in [&["1", "2"][..], &["3"], &["4", "5"]] {
        let (status, body, _) = call(&client, reqwest::Method::PUT, &url, grant(users)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body, _) = call(&client, reqwest::Method::DELETE, &url, grant(&["2"])).await;
    assert_eq!(status, 200, "{body}");
    let acknowledged = vec!["1", "3", "4", "5"];
    assert_eq!(granted(&client, &base).await.unwrap(), acknowledged);

    cluster.stop().unwrap();

    // Each operation answers 503 in the envelope, promptly.
    let mut slowest = Duration::ZERO;
    for (method, body) in [
        (reqwest::Method::PUT, grant(&["6"])),
        (
            reqwest::Method::POST,
            json!({"filter": {"callIds": [CALL]}}),
        ),
        (reqwest::Method::DELETE, grant(&["1"])),
        (reqwest::Method::PUT, grant(&["6"])),
    ] {
        let started = Instant::now();
        let (status, body, trace) = call(&client, method.clone(), &url, body).await;
        let took = started.elapsed();
        slowest = slowest.max(took);
        assert_eq!(status, 503, "{method} during the outage: {body}");
        assert_eq!(body["requestId"].as_str(), trace.as_deref(), "{body}");
        let errors = body["errors"].as_array().expect("errors in the envelope");
        assert!(!errors.is_empty(), "{body}");
        assert!(
            !body.to_string().contains("127.0.0.1"),
            "the cause reached the client: {body}"
        );
        assert!(
            took < OUTAGE_ANSWER,
            "{method} took {took:?} to answer during the outage"
        );
    }
    let healthz = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(
        healthz.status().as_u16(),
        200,
        "/healthz must not need the database"
    );
    let readyz = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(
        readyz.status().as_u16(),
        503,
        "/readyz must fail during the outage"
    );

    cluster.restart().unwrap();
    let back = Instant::now();
    // The node was not restarted: its pool must find the server again.
    let listed = loop {
        match granted(&client, &base).await {
            Ok(listed) => break listed,
            Err((status, body)) => {
                assert_eq!(status, 503, "{body}");
                assert!(back.elapsed() < RECOVERY, "no recovery after {RECOVERY:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let recovered_in = back.elapsed();
    assert_eq!(listed, acknowledged, "an acknowledged write was lost");
    let readyz = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(readyz.status().as_u16(), 200);
    let (status, body, _) = call(&client, reqwest::Method::PUT, &url, grant(&["6"])).await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(node.terminate().await.code, 0);
    println!(
        "outage: slowest answer while PostgreSQL was down {slowest:?} (bound {OUTAGE_ANSWER:?}); \
         first successful request {recovered_in:?} after it was back"
    );
}
