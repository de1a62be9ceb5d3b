//! `callaccess import`: seed files applied by the real binary, checked
//! through the listings an operator would look at.

use serde_json::{json, Value};

use crate::cli::{entries, entry, text, Db, ACME};

/// The example of the seed specification, read from it: the first JSON
/// block of docs/SEED.md.
fn example() -> Value {
    let spec = include_str!("../../../../docs/SEED.md");
    let block = spec
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/SEED.md has a JSON example");
    serde_json::from_str(block).unwrap()
}

const CALL: &str = "7782342274025937895";

fn import(db: &Db, name: &str, seed: &Value) -> std::process::Output {
    let file = db.file(name, &serde_json::to_string_pretty(seed).unwrap());
    db.run(&format!("import {file}"))
}

/// Imports a seed that must be accepted.
fn import_ok(db: &Db, name: &str, seed: &Value) {
    let output = import(db, name, seed);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A seed of one company, ACME, with these fields.
fn acme(mut fields: Value) -> Value {
    fields["id"] = json!(ACME);
    json!({"companies": [fields]})
}

/// The example imported, and a user (dee, 77) added by hand.
fn example_and_dee() -> Db {
    let db = Db::fresh();
    import_ok(&db, "first.json", &example());
    db.ok(&format!(
        "user add --company {ACME} --id 77 --email dee@acme.test"
    ));
    db
}

fn routes(db: &Db) -> Value {
    db.json(&format!("grants list --company {ACME} --call {CALL}"))["users"].clone()
}

#[test]
fn the_specification_example_is_imported() {
    let db = Db::fresh();
    let file = db.file("acme.json", &example().to_string());
    let summary = db.json(&format!("import {file}"));
    assert_eq!(
        summary,
        json!({"companies": 1, "apiKeys": 1, "tokens": 1, "users": 3, "calls": 1, "shares": 1, "apiGrants": 0})
    );

    let companies = db.json("company list");
    assert_eq!(entries(&companies).len(), 1);
    assert_eq!(companies[0]["name"], "Acme");
    assert_eq!(
        companies[0]["rateLimit"],
        json!({"perSecond": 3, "perDay": 10000})
    );

    let users = db.json(&format!("user list --company {ACME}"));
    let mut access: Vec<(String, String)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (text(&u["emailAddress"]), text(&u["callsAccess"])))
        .collect();
    access.sort();
    let expected: Vec<(String, String)> = [
        ("ada@acme.test", "none"),
        ("bob@acme.test", "own"),
        ("cy@acme.test", "all"),
    ]
    .into_iter()
    .map(|(e, a)| (e.to_owned(), a.to_owned()))
    .collect();
    assert_eq!(access, expected);

    let calls = db.json(&format!("call list --company {ACME}"));
    assert_eq!(calls[0]["id"], CALL);
    assert_eq!(calls[0]["title"], "Discovery");

    let keys = db.json(&format!("key list --company {ACME}"));
    assert_eq!(keys[0]["accessKey"], "ACMEKEY1");
    assert_eq!(keys[0]["expiresAt"], "2030-01-01T00:00:00Z");
    let tokens = db.json("token list");
    assert_eq!(tokens[0]["scopes"], json!(["api:call-user-access:read"]));

    // Neither the key's secret nor the token is kept in a form any listing shows.
    let everything = db.snapshot(ACME).to_string();
    assert!(
        !everything.contains("acme-secret-0123456789") && !everything.contains("acme-read-token"),
        "{everything}"
    );

    assert_eq!(
        routes(&db),
        json!([
            {"userId": "234599484848423", "emailAddress": "ada@acme.test", "routes": ["shared"]},
            {"userId": "234599484848424", "emailAddress": "bob@acme.test", "routes": ["profile: own (primary user)"]},
            {"userId": "234599484848425", "emailAddress": "cy@acme.test", "routes": ["profile: all"]}
        ])
    );

    let text = db.ok(&format!("import {file}"));
    assert!(
        text.starts_with(&format!(
            "applied {file}: 1 company, 3 users, 1 call, 1 share, 0 API grants, 1 API key, 1 token"
        )),
        "{text}"
    );
}

#[test]
fn importing_twice_leaves_the_same_state() {
    let db = Db::fresh();
    let mut seed = example();
    seed["companies"][0]["apiGrants"] = json!([{"callId": CALL, "userId": "234599484848423"}]);
    import_ok(&db, "once.json", &seed);
    let once = (db.snapshot(ACME), routes(&db));
    import_ok(&db, "twice.json", &seed);
    let twice = (db.snapshot(ACME), routes(&db));
    assert_eq!(once, twice);
}

#[test]
fn a_later_import_updates_what_it_names_and_keeps_the_rest() {
    let db = example_and_dee();

    let update = acme(json!({
        "name": "Acme Inc",
        "users": [{"id": "234599484848423", "emailAddress": "ada@acme.test", "callsAccess": "all"}]
    }));
    import_ok(&db, "update.json", &update);

    assert_eq!(db.json("company list")[0]["name"], "Acme Inc");
    let users = db.json(&format!("user list --company {ACME}"));
    assert_eq!(entries(&users).len(), 4, "nothing is deleted: {users}");
    let ada = entry(&users, "id", "234599484848423");
    assert_eq!(ada["callsAccess"], "all");
    assert_eq!(
        entries(&db.json(&format!("call list --company {ACME}"))).len(),
        1
    );
    assert_eq!(entries(&db.json("key list")).len(), 1);
}

#[test]
fn a_seed_may_refer_to_users_and_calls_already_in_the_database() {
    let db = example_and_dee();

    // Bob (from the first import) gets a second call; dee (added by hand)
    // takes part in it and is given the first call through the API.
    let later = acme(json!({
        "name": "Acme",
        "calls": [{"id": "55", "primaryUserId": "234599484848424", "participantIds": ["77"]}],
        "shares": [{"callId": "55", "userId": "234599484848425"}],
        "apiGrants": [{"callId": CALL, "userId": "77"}]
    }));
    import_ok(&db, "later.json", &later);

    let routes = routes(&db);
    let dee = entry(&routes, "userId", "77");
    assert_eq!(dee["routes"], json!(["api grant"]));
    let calls = db.json(&format!("call list --company {ACME}"));
    let second = entry(&calls, "id", "55");
    assert_eq!(second["participantIds"], json!(["77"]));
}

/// One change that makes the example seed bad.
type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn a_bad_seed_is_rejected_whole_with_json_paths() {
    let db = Db::fresh();
    import_ok(&db, "good.json", &example());
    let before = (db.snapshot(ACME), routes(&db));

    // Each bad file also renames the company and adds a user, so that any
    // partial write would show in the listings.
    let cases: Vec<(&str, Edit, String)> = vec![
        (
            "bad id",
            Box::new(|s| s["companies"][0]["users"][1]["id"] = json!("12a")),
            "companies[0].users[1].id: \"12a\" is not a numeric id".to_owned(),
        ),
        (
            "unknown calls access",
            Box::new(|s| s["companies"][0]["users"][2]["callsAccess"] = json!("admin")),
            "companies[0].users[2].callsAccess: \"admin\" is not a calls access level (expected all, own or none)"
                .to_owned(),
        ),
        (
            "share naming a missing user",
            Box::new(|s| {
                s["companies"][0]["shares"].as_array_mut().unwrap().push(json!({"callId": CALL, "userId": "999"}));
            }),
            format!("companies[0].shares[1].userId: user \"999\" does not exist in company \"{ACME}\""),
        ),
        (
            "grant naming a missing call",
            Box::new(|s| s["companies"][0]["apiGrants"] = json!([{"callId": "31337", "userId": "234599484848423"}])),
            format!("companies[0].apiGrants[0].callId: call \"31337\" does not exist in company \"{ACME}\""),
        ),
        (
            "duplicate access key",
            Box::new(|s| {
                let key = json!({"accessKey": "ACMEKEY1", "accessKeySecret": "another-secret-0123456789"});
                s["companies"][0]["apiKeys"].as_array_mut().unwrap().push(key);
            }),
            "companies[0].apiKeys[1].accessKey: \"ACMEKEY1\" appears twice (first at companies[0].apiKeys[0])"
                .to_owned(),
        ),
    ];
    for (name, edit, message) in cases {
        let mut seed = example();
        seed["companies"][0]["name"] = json!("Renamed");
        seed["companies"][0]["users"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "88", "emailAddress": "new@acme.test"}));
        edit(&mut seed);
        let output = import(&db, "bad.json", &seed);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}");
        assert!(
            stderr.lines().any(|l| l.ends_with(&message)),
            "{name}: {stderr}"
        );
        assert!(
            stderr
                .trim_end()
                .ends_with("bad.json was rejected; nothing was written"),
            "{name}: {stderr}"
        );
        assert_eq!(
            (db.snapshot(ACME), routes(&db)),
            before,
            "{name} changed the database"
        );
    }
}

#[test]
fn every_problem_is_printed_on_its_own_line() {
    let db = Db::fresh();
    let mut seed = example();
    seed["companies"][0]["users"][0]["id"] = json!("x");
    seed["companies"][0]["users"][1]["emailAddress"] = json!("bob");
    seed["companies"][0]["apiKey"] = json!([]);
    let output = import(&db, "bad.json", &seed);
    assert_eq!(output.status.code(), Some(1));
    let file = db.dir.path().join("bad.json").display().to_string();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        format!(
            "{file}: companies[0].apiKey: unknown field\n\
             {file}: companies[0].users[0].id: \"x\" is not a numeric id\n\
             {file}: companies[0].users[1].emailAddress: \"bob\" is not an email address\n\
             error: {file} was rejected; nothing was written\n"
        )
    );
    // A seed rejected before the database is opened does not create one.
    assert!(!db.path().exists());
}

#[test]
fn a_file_that_is_not_json_says_where_it_broke() {
    let db = Db::fresh();
    let file = db.file(
        "broken.json",
        "{\n  \"companies\": [\n    {\"id\": \"1\" \"name\": \"x\"}\n  ]\n}\n",
    );
    let stderr = db.fail(&format!("import {file}"));
    assert!(
        stderr.starts_with(&format!(
            "{file}: line 3, column 16: expected ',' or '}}'\n"
        )),
        "{stderr}"
    );
    assert!(!db.path().exists());
}

#[test]
fn a_missing_seed_file_is_a_clear_error() {
    let db = Db::fresh();
    let file = db.dir.path().join("nowhere.json").display().to_string();
    let stderr = db.fail(&format!("import {file}"));
    assert_eq!(stderr, format!("error: cannot read {file}: no such file\n"));
    let stderr = db.fail(&format!("import {}", db.dir.path().display()));
    assert!(stderr.starts_with("error: cannot read "), "{stderr}");
}

#[test]
fn a_seed_is_not_applied_to_a_file_that_is_not_a_database() {
    let db = Db::fresh();
    let content = "not a database, just text\n".repeat(40);
    std::fs::write(db.path(), &content).unwrap();
    let output = import(&db, "acme.json", &example());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!("error: cannot open {}: ", db.url)),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(db.path()).unwrap(), content);
}
