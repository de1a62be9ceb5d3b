//! `callaccess import`: seed files applied by the real binary, checked
//! through the listings an operator would look at.

use serde_json::{json, Value};

use crate::cli::{entries, entry, route_texts, text, Db, ACME};

/// The `n`th JSON example of docs/SEED.md (from 1).
fn spec_example(n: usize) -> Value {
    let spec = include_str!("../../../../docs/SEED.md");
    let block = spec
        .split("```json\n")
        .nth(n)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/SEED.md has its JSON examples");
    serde_json::from_str(block).unwrap()
}

/// The example of the seed specification: the first JSON block of
/// docs/SEED.md.
fn example() -> Value {
    spec_example(1)
}

/// The example with workspaces, profiles, managers and calls in full.
fn directory_example() -> Value {
    spec_example(2)
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

/// Who opens the example's call, each with the text of every route.
fn routes(db: &Db) -> Vec<(String, Vec<String>)> {
    route_texts(&db.json(&format!("grants list --company {ACME} --call {CALL}")))
}

/// `[(user, [route…])]` from string slices.
fn expect_routes(expected: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    expected
        .iter()
        .map(|(user, routes)| {
            (
                (*user).to_owned(),
                routes.iter().map(|r| (*r).to_owned()).collect(),
            )
        })
        .collect()
}

/// Everything the admin commands list about ACME, workspaces and their
/// profiles included.
fn directory_snapshot(db: &Db) -> Value {
    let workspaces = db.json(&format!("workspace list --company {ACME}"));
    let profiles: Vec<Value> = entries(&workspaces)
        .iter()
        .map(|w| {
            db.json(&format!(
                "profile list --company {ACME} --workspace {}",
                text(&w["id"])
            ))
        })
        .collect();
    json!({"base": db.snapshot(ACME), "workspaces": workspaces, "profiles": profiles})
}

#[test]
fn the_specification_example_is_imported() {
    let db = Db::fresh();
    let file = db.file("acme.json", &example().to_string());
    let summary = db.json(&format!("import {file}"));
    assert_eq!(
        summary,
        json!({"companies": 1, "apiKeys": 1, "tokens": 1, "workspaces": 0, "profiles": 0,
               "users": 3, "calls": 1, "shares": 1, "apiGrants": 0})
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
        expect_routes(&[
            ("234599484848423", &["shared"]),
            (
                "234599484848424",
                &["profile \"Calls access: own\" (own) as primary user"]
            ),
            ("234599484848425", &["profile \"Calls access: all\" (all)"]),
        ])
    );
    // The company got its default workspace, which holds the call.
    let workspaces = db.json(&format!("workspace list --company {ACME}"));
    assert_eq!(entries(&workspaces).len(), 1, "{workspaces}");
    assert_eq!(calls[0]["workspace"], workspaces[0]["id"]);

    let text = db.ok(&format!("import {file}"));
    assert!(
        text.starts_with(&format!(
            "applied {file}: 1 company, 0 workspaces, 0 permission profiles, 3 users, 1 call, 1 share, 0 API grants, 1 API key, 1 token"
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
    let dee = routes.iter().find(|(user, _)| user == "77").unwrap();
    assert_eq!(dee.1, vec!["api grant"]);
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
            "companies[0].users[2].callsAccess: \"admin\" is not a calls access level (expected all, managers-team, report-to-them, own or none)"
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

#[test]
fn the_directory_example_is_imported_with_every_field() {
    let db = Db::fresh();
    let file = db.file("directory.json", &directory_example().to_string());
    let summary = db.json(&format!("import {file}"));
    assert_eq!(
        (
            &summary["workspaces"],
            &summary["profiles"],
            &summary["users"]
        ),
        (&json!(1), &json!(1), &json!(2))
    );

    // The file's workspace is the company's first, so its default: no
    // other was made.
    let workspaces = db.json(&format!("workspace list --company {ACME}"));
    assert_eq!(
        workspaces,
        json!([{"company": ACME, "id": "623457276584334", "name": "Sales", "description": "Sales team"}])
    );
    let profiles = db.json(&format!(
        "profile list --company {ACME} --workspace 623457276584334"
    ));
    assert_eq!(
        profiles,
        json!([{"id": "3843152912968920037", "workspaceId": "623457276584334", "name": "Managers",
                "callsAccess": {"permissionLevel": "report-to-them", "teamLeadIds": []},
                "scoreCalls": true}]),
        "every field as given"
    );
    let users = db.json(&format!("user list --company {ACME}"));
    let bob = entry(&users, "id", "234599484848424");
    assert_eq!(bob["firstName"], "Bob");
    assert_eq!(bob["managerId"], "234599484848425");
    assert_eq!(bob["active"], true);
    let cy = entry(&users, "id", "234599484848425");
    assert_eq!(
        cy["callsAccess"], "report-to-them",
        "the default workspace's profile"
    );
    let calls = db.json(&format!("call list --company {ACME}"));
    assert_eq!(calls[0]["workspace"], "623457276584334");
    assert_eq!(calls[0]["started"], "2026-11-02T15:00:00Z");
    assert_eq!(calls[0]["isPrivate"], false);
    assert_eq!(calls[0]["details"]["direction"], "Conference");

    // Cy opens Bob's call as his manager.
    assert_eq!(
        routes(&db),
        expect_routes(&[(
            "234599484848425",
            &["profile \"Managers\" (report-to-them) via 234599484848424 → 234599484848425"]
        )])
    );
}

#[test]
fn importing_the_directory_twice_leaves_the_same_state() {
    let db = Db::fresh();
    let mut seed = directory_example();
    seed["companies"][0]["calls"][0]["clientUniqueId"] = json!("pbx-1");
    seed["companies"][0]["calls"][0]["isPrivate"] = json!(true);
    import_ok(&db, "once.json", &seed);
    let once = (directory_snapshot(&db), routes(&db));
    import_ok(&db, "twice.json", &seed);
    assert_eq!((directory_snapshot(&db), routes(&db)), once);
}

#[test]
fn a_later_seed_may_refer_to_workspaces_profiles_and_managers_in_the_database() {
    let db = Db::fresh();
    import_ok(&db, "first.json", &directory_example());
    let later = acme(json!({
        "name": "Acme",
        "users": [{"id": "88", "emailAddress": "rep@acme.test", "managerId": "234599484848424",
                   "profileIds": ["3843152912968920037"]}],
        "calls": [{"id": "55", "primaryUserId": "88", "workspaceId": "623457276584334"}]
    }));
    import_ok(&db, "later.json", &later);
    let grants = db.json(&format!("grants list --company {ACME} --call 55"));
    let routes = route_texts(&grants);
    assert_eq!(
        routes[1],
        (
            "234599484848425".to_owned(),
            vec![
                "profile \"Managers\" (report-to-them) via 88 → 234599484848424 → 234599484848425"
                    .to_owned()
            ]
        ),
        "{grants}"
    );
}

/// Imports a seed that must be refused with `message`, and checks that
/// nothing changed.
fn refused(db: &Db, seed: &Value, message: &str) {
    let before = directory_snapshot(db);
    let output = import(db, "bad.json", seed);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.lines().any(|l| l.ends_with(message)),
        "expected {message:?} in:\n{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("bad.json was rejected; nothing was written"),
        "{stderr}"
    );
    assert_eq!(
        directory_snapshot(db),
        before,
        "a refused seed changed the database"
    );
}

#[test]
fn directory_mistakes_are_refused_whole_with_json_paths() {
    let db = Db::fresh();
    import_ok(&db, "good.json", &directory_example());

    // Each bad file also renames the company and adds a workspace, so that
    // any partial write would show.
    let bad = |edit: &dyn Fn(&mut Value)| {
        let mut seed = directory_example();
        seed["companies"][0]["name"] = json!("Renamed");
        seed["companies"][0]["workspaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "99", "name": "New"}));
        edit(&mut seed);
        seed
    };

    // A loop closed in the file: Cy under Bob, who is under Cy.
    refused(
        &db,
        &bad(&|s| s["companies"][0]["users"][0]["managerId"] = json!("234599484848424")),
        "companies[0].users[0].managerId: a manager loop is not allowed: 234599484848425 reports to 234599484848424 reports to 234599484848425",
    );
    // Both the shorthand and a profile of the default workspace.
    refused(
        &db,
        &bad(&|s| s["companies"][0]["users"][0]["callsAccess"] = json!("all")),
        "companies[0].users[0].profileIds[0]: permission profile \"3843152912968920037\" is in the default workspace \"623457276584334\", where the user's callsAccess already gives them a profile; give one or the other",
    );
    // A profile that exists nowhere.
    refused(
        &db,
        &bad(&|s| s["companies"][0]["users"][1]["profileIds"] = json!(["777"])),
        &format!("companies[0].users[1].profileIds[0]: permission profile \"777\" does not exist in company \"{ACME}\""),
    );
    // A manager who exists nowhere.
    refused(
        &db,
        &bad(&|s| s["companies"][0]["users"][1]["managerId"] = json!("31337")),
        &format!(
            "companies[0].users[1].managerId: user \"31337\" does not exist in company \"{ACME}\""
        ),
    );
    // A call in a workspace the company does not have.
    refused(
        &db,
        &bad(&|s| s["companies"][0]["calls"][0]["workspaceId"] = json!("31337")),
        &format!("companies[0].calls[0].workspaceId: workspace \"31337\" does not exist in company \"{ACME}\""),
    );
    // A profile without its callsAccess.
    refused(
        &db,
        &bad(&|s| {
            s["companies"][0]["profiles"][0]
                .as_object_mut()
                .unwrap()
                .remove("callsAccess");
        }),
        "companies[0].profiles[0].callsAccess: is required",
    );
}

#[test]
fn a_loop_through_the_database_is_refused() {
    let db = Db::fresh();
    import_ok(&db, "good.json", &directory_example());
    // Stored: Bob reports to Cy. The file puts Cy under a new user who
    // reports to Bob.
    let seed = acme(json!({
        "name": "Acme",
        "users": [
            {"id": "234599484848425", "emailAddress": "cy@acme.test", "managerId": "90"},
            {"id": "90", "emailAddress": "new@acme.test", "managerId": "234599484848424"}
        ]
    }));
    refused(
        &db,
        &seed,
        "companies[0].users[0].managerId: a manager loop is not allowed: 234599484848425 reports to 90 reports to 234599484848424 reports to 234599484848425",
    );
}

#[test]
fn workspace_and_profile_ids_of_another_company_are_refused() {
    let db = Db::fresh();
    import_ok(&db, "good.json", &directory_example());
    let mut other = directory_example();
    other["companies"][0]["id"] = json!("2");
    refused(
        &db,
        &other,
        "companies[0].workspaces[0].id: workspace \"623457276584334\" already belongs to another company",
    );
    let output = import(&db, "other.json", &other);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("companies[0].profiles[0].id: permission profile \"3843152912968920037\" already belongs to another company"),
        "{stderr}"
    );
    assert_eq!(
        entries(&db.json("company list")).len(),
        1,
        "the other company was not created"
    );
}

#[test]
fn calls_access_clashes_with_a_stored_profile_of_the_stored_default_workspace() {
    let db = Db::fresh();
    db.ok(&format!("company create --id {ACME} --name Acme"));
    let workspaces = db.json(&format!("workspace list --company {ACME}"));
    let default = text(&workspaces[0]["id"]);
    db.ok(&format!(
        "profile create --company {ACME} --workspace {default} --id 70 --name Managers --level report-to-them"
    ));
    // The file gives the company another workspace, which is not its
    // default: the company has one already.
    let seed = acme(json!({
        "name": "Acme",
        "workspaces": [{"id": "5", "name": "Sales"}],
        "users": [{"id": "10", "emailAddress": "a@acme.test", "callsAccess": "own", "profileIds": ["70"]}]
    }));
    refused(
        &db,
        &seed,
        &format!("companies[0].users[0].profileIds[0]: permission profile \"70\" is in the default workspace \"{default}\", where the user's callsAccess already gives them a profile; give one or the other"),
    );
}
