//! The admin commands, run as the real binary against a database of their
//! own: what an operator types and what they read back.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::server_process::BIN;

pub const ACME: &str = "1000000000000000001";

/// The words of a command line: split at spaces, except inside single
/// quotes.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            ' ' if !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(!quoted, "an unclosed quote in {line:?}");
    words.extend(word);
    words
}

/// A fresh database file in a temporary folder, and the binary pointed at it.
pub struct Db {
    pub dir: TempDir,
    pub url: String,
}

impl Db {
    pub fn fresh() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("x.db").display());
        Self { dir, url }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("x.db")
    }

    /// Writes a file next to the database and returns its path as text.
    pub fn file(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    /// Runs `callaccess --database URL LINE`. The line is split at spaces,
    /// except inside single quotes (`--name 'Acme Inc'`), as a shell would.
    pub fn run(&self, line: &str) -> Output {
        Command::new(BIN)
            .arg("--database")
            .arg(&self.url)
            .args(words(line))
            // The developer's own settings must not leak into a test.
            .env_remove("CALLACCESS_DATABASE")
            .env_remove("CALLACCESS_LOG_FORMAT")
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed; returns its standard output.
    pub fn ok(&self, line: &str) -> String {
        let output = self.run(line);
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{line} failed: {stderr}{stdout}");
        stdout
    }

    /// Runs a command with `--json` that must succeed; returns its answer.
    pub fn json(&self, line: &str) -> Value {
        let line = format!("{line} --json");
        let stdout = self.ok(&line);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{line} printed no JSON ({e}): {stdout}"))
    }

    /// Runs a command that must fail as a command (exit 1, not a usage
    /// error); returns its standard error and checks nothing went to stdout.
    pub fn fail(&self, line: &str) -> String {
        let output = self.run(line);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(1), "{line}: {stderr}");
        assert!(
            output.stdout.is_empty(),
            "{line} printed {}",
            String::from_utf8_lossy(&output.stdout)
        );
        stderr
    }

    /// Runs a command that must be refused as a usage error (exit 2, before
    /// anything is opened); returns its standard error.
    pub fn usage_error(&self, line: &str) -> String {
        let output = self.run(line);
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{line}: {stderr}");
        stderr
    }

    /// Everything the admin commands can list about one company, as JSON.
    pub fn snapshot(&self, company: &str) -> Value {
        json!({
            "companies": self.json("company list"),
            "users": self.json(&format!("user list --company {company}")),
            "calls": self.json(&format!("call list --company {company}")),
            "keys": self.json("key list"),
            "tokens": self.json("token list"),
        })
    }
}

/// The entries of a JSON list.
pub fn entries(list: &Value) -> &Vec<Value> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
}

/// The entry of a JSON list whose `key` is `value`.
pub fn entry<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    entries(list)
        .iter()
        .find(|e| e[key] == value)
        .unwrap_or_else(|| panic!("no {key} {value} in {list}"))
}

/// A JSON string, owned.
pub fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

/// The line of a printed listing that starts with `start`.
pub fn row<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starts with {start:?} in:\n{text}"))
}

/// Checks that a command's error is one line of ours naming `what`.
fn assert_names(stderr: &str, what: &str) {
    assert!(
        stderr.starts_with("error: ") && stderr.contains(what),
        "{stderr}"
    );
}

/// Each user `grants list --json` shows, with the text of each route.
pub fn route_texts(grants: &Value) -> Vec<(String, Vec<String>)> {
    entries(&grants["users"])
        .iter()
        .map(|u| {
            let routes = entries(&u["routes"])
                .iter()
                .map(|r| text(&r["text"]))
                .collect();
            (text(&u["userId"]), routes)
        })
        .collect()
}

fn acme() -> Db {
    let db = Db::fresh();
    db.ok(&format!("company create --id {ACME} --name Acme"));
    db
}

fn add_user(db: &Db, id: &str, access: &str) {
    db.ok(&format!(
        "user add --company {ACME} --id {id} --email u{id}@acme.test --calls-access {access}"
    ));
}

#[test]
fn migrate_creates_and_then_finds_the_schema_current() {
    let db = Db::fresh();
    let first = db.json("migrate");
    assert!(db.path().exists());
    let version = first["schemaVersion"].as_i64().unwrap();
    assert!(version >= 1, "{first}");
    assert!(!first["applied"].as_array().unwrap().is_empty(), "{first}");

    let again = db.ok("migrate");
    assert!(
        again.contains(&format!("is up to date (schema version {version})")),
        "{again}"
    );
}

#[test]
fn companies_are_created_and_listed() {
    let db = Db::fresh();
    let created = db.json(&format!("company create --id {ACME} --name Acme"));
    assert_eq!(created["id"], ACME);
    assert_eq!(created["name"], "Acme");

    let text = db.ok("company create --name '  Globex Corp  '");
    assert!(text.starts_with("created company "), "{text}");

    let listed = db.json("company list");
    let companies = listed.as_array().unwrap();
    assert_eq!(companies.len(), 2, "{listed}");
    let acme = companies.iter().find(|c| c["id"] == ACME).unwrap();
    assert_eq!(acme["name"], "Acme");
    let globex = companies.iter().find(|c| c["id"] != ACME).unwrap();
    assert_eq!(globex["name"], "Globex Corp");
    assert_eq!(
        globex["id"].as_str().unwrap().len(),
        19,
        "a random id has Gong's shape"
    );

    let text = db.ok("company list");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID "), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(ACME) && l.ends_with("Acme")),
        "{text}"
    );
    // Columns line up: every row has its second column where the header has it.
    let column = lines[0].find("PER SECOND").unwrap();
    assert!(
        lines[1..]
            .iter()
            .all(|l| l[column..].starts_with("default")),
        "{text}"
    );

    let stderr = db.fail(&format!("company create --id {ACME} --name Again"));
    assert_names(&stderr, "already exists");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let stderr = db.fail("company create --name ' '");
    assert_eq!(stderr, "error: a company name must not be empty\n");
}

#[test]
fn api_keys_show_their_secret_once() {
    let db = acme();
    let created = db.json(&format!("key create --company {ACME}"));
    let key = text(&created["accessKey"]);
    let secret = text(&created["accessKeySecret"]);
    assert_eq!(created["company"], ACME);
    assert_eq!(created["scopes"], Value::Null);
    assert_eq!(created["revokedAt"], Value::Null);

    let text = db.ok(&format!(
        "key create --company {ACME} --scope api:call-user-access:read --expires 90d"
    ));
    assert!(text.contains("cannot be shown again"), "{text}");
    assert!(text.contains("api:call-user-access:read"), "{text}");

    let listed_json = db.ok("key list --json");
    let listed_text = db.ok(&format!("key list --company {ACME}"));
    for listing in [&listed_json, &listed_text] {
        assert!(listing.contains(&key), "{listing}");
        assert!(
            !listing.contains(&secret),
            "a listing shows a secret: {listing}"
        );
        assert!(!listing.contains("ecret"), "{listing}");
    }
    let keys: Value = serde_json::from_str(&listed_json).unwrap();
    assert_eq!(entries(&keys).len(), 2);
    let scoped = entries(&keys)
        .iter()
        .find(|k| k["accessKey"] != key.as_str())
        .unwrap();
    assert_eq!(scoped["scopes"], json!(["api:call-user-access:read"]));
    assert!(scoped["expiresAt"].is_string(), "{scoped}");
    assert!(
        listed_text
            .lines()
            .filter(|l| l.ends_with("active"))
            .count()
            == 2,
        "{listed_text}"
    );

    let revoked = db.json(&format!("key revoke {key}"));
    assert!(revoked["revokedAt"].is_string(), "{revoked}");
    let listed = db.ok("key list");
    let line = row(&listed, &key);
    assert!(line.contains("revoked "), "{listed}");

    let again = db.ok(&format!("key revoke {key}"));
    assert!(
        again.starts_with(&format!("API key {key} was already revoked at ")),
        "{again}"
    );

    let stderr = db.fail("key revoke NOSUCHKEY");
    assert_names(&stderr, "NOSUCHKEY");
}

#[test]
fn expiry_must_be_a_future_time_or_a_duration() {
    let db = acme();
    let stderr = db.fail(&format!("key create --company {ACME} --expires tomorrow"));
    assert!(
        stderr.starts_with("error: \"tomorrow\" is not an expiry"),
        "{stderr}"
    );
    let stderr = db.fail(&format!(
        "token create --company {ACME} --scope api:call-user-access:read --expires 2001-01-01T00:00:00Z"
    ));
    assert!(stderr.contains("is not in the future"), "{stderr}");
    let created = db.json(&format!(
        "key create --company {ACME} --expires 2099-12-31T00:00:00Z"
    ));
    assert_eq!(created["expiresAt"], "2099-12-31T00:00:00Z");
    // The refused commands created nothing.
    assert_eq!(entries(&db.json("key list")).len(), 1);
    assert_eq!(db.json("token list"), json!([]));
}

#[test]
fn only_gongs_scopes_can_be_given() {
    let db = acme();
    let known = "(`callaccess key create --help` lists them all)";
    for line in [
        format!("key create --company {ACME} --scope bogus:scope"),
        format!(
            "token create --company {ACME} --scope api:call-user-access:read --scope bogus:scope"
        ),
    ] {
        let stderr = db.usage_error(&line);
        assert!(
            stderr.contains("\"bogus:scope\" is not one of Gong's scopes"),
            "{stderr}"
        );
        assert!(stderr.contains(known), "{stderr}");
    }
    // The refused commands created nothing.
    assert_eq!(db.json("key list"), json!([]));
    assert_eq!(db.json("token list"), json!([]));
    // Where the message points, the scopes are listed.
    let help = db.ok("key create --help");
    assert!(help.contains("api:call-user-access:write"), "{help}");
    assert!(help.contains("api:calls:read:basic"), "{help}");
    // Any of Gong's scopes is taken, not only this API's own.
    let created = db.json(&format!(
        "key create --company {ACME} --scope api:calls:read:basic"
    ));
    assert_eq!(created["scopes"], json!(["api:calls:read:basic"]));
}

#[test]
fn tokens_are_created_listed_and_revoked() {
    let db = acme();
    let scopes = "--scope api:call-user-access:read --scope api:call-user-access:write";
    let created = db.json(&format!("token create --company {ACME} {scopes}"));
    let token = text(&created["token"]);
    let id = text(&created["id"]);
    assert_eq!(
        created["scopes"],
        json!(["api:call-user-access:read", "api:call-user-access:write"])
    );

    let listed = db.ok(&format!("token list --company {ACME}"));
    assert!(listed.contains(&id), "{listed}");
    assert!(
        !listed.contains(&token),
        "a listing shows a token: {listed}"
    );
    let listed = db.ok("token list --json");
    assert!(!listed.contains(&token), "{listed}");

    let text = db.ok(&format!("token revoke {id}"));
    assert_eq!(text, format!("revoked token {id}\n"));
    let text = db.ok(&format!("token revoke {id}"));
    assert!(text.contains("was already revoked"), "{text}");
    let tokens = db.json("token list");
    assert!(tokens[0]["revokedAt"].is_string(), "{tokens}");

    // A token needs a scope.
    db.usage_error(&format!("token create --company {ACME}"));
}

#[test]
fn users_are_added_listed_and_changed() {
    const ADA: &str = "234599484848423";
    let db = acme();
    let added = db.json(&format!(
        "user add --company {ACME} --id {ADA} --email ada@acme.test --first-name Ada --last-name Lovelace --title Engineer --calls-access none"
    ));
    assert_eq!(
        (
            &added["id"],
            &added["emailAddress"],
            &added["callsAccess"],
            &added["firstName"],
            &added["lastName"],
            &added["title"],
            &added["active"]
        ),
        (
            &json!(ADA),
            &json!("ada@acme.test"),
            &json!("none"),
            &json!("Ada"),
            &json!("Lovelace"),
            &json!("Engineer"),
            &json!(true)
        ),
        "{added}"
    );
    add_user(&db, "11", "all");
    // Without --calls-access a user holds no profile of the default
    // workspace; one who left is kept, inactive.
    let bare = db.json(&format!(
        "user add --company {ACME} --id 13 --email gone@acme.test --inactive"
    ));
    assert_eq!(
        (&bare["callsAccess"], &bare["active"]),
        (&Value::Null, &json!(false))
    );

    let users = db.json(&format!("user list --company {ACME}"));
    let access: Vec<(&str, &str)> = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["callsAccess"].is_string())
        .map(|u| {
            (
                u["id"].as_str().unwrap(),
                u["callsAccess"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(access.len(), 2);
    assert!(
        access.contains(&(ADA, "none")) && access.contains(&("11", "all")),
        "{users}"
    );
    let gone = entry(&users, "id", "13");
    assert_eq!(
        (&gone["callsAccess"], &gone["active"]),
        (&Value::Null, &json!(false))
    );
    let ada = entry(&users, "id", ADA);
    assert_eq!(
        (&ada["firstName"], &ada["title"]),
        (&json!("Ada"), &json!("Engineer"))
    );

    let text = db.ok(&format!(
        "user set-access --company {ACME} --id {ADA} --calls-access own"
    ));
    assert_eq!(
        text,
        format!("user {ADA} of company {ACME} now has calls access own\n")
    );
    let text = db.ok(&format!("user list --company {ACME}"));
    let line = row(&text, ADA);
    assert!(
        line.contains(" own ") && line.ends_with("ada@acme.test"),
        "{text}"
    );
    assert!(row(&text, "13 ").contains(" no "), "{text}");

    let stderr = db.fail(&format!("user add --company {ACME} --id 12 --email nobody"));
    assert_eq!(stderr, "error: \"nobody\" is not an email address\n");
    let stderr = db.fail(&format!(
        "user set-access --company {ACME} --id 99 --calls-access all"
    ));
    assert_names(&stderr, "99");
    let stderr = db.usage_error(&format!(
        "user set-access --company {ACME} --id 11 --calls-access admin"
    ));
    let refusal = "\"admin\" is not a calls access level (expected all, managers-team, report-to-them, own or none)";
    assert!(stderr.contains(refusal), "{stderr}");
}

#[test]
fn calls_are_added_with_participants_and_listed() {
    let db = acme();
    for id in ["10", "11", "12"] {
        add_user(&db, id, "none");
    }
    db.ok(&format!("call add --company {ACME} --id 7782342274025937895 --title 'Discovery call' --primary-user 10 --participant 11 --participant 12"));
    db.ok(&format!(
        "call add --company {ACME} --id 42 --primary-user 11"
    ));

    let calls = db.json(&format!("call list --company {ACME}"));
    let discovery = entry(&calls, "id", "7782342274025937895");
    assert_eq!(discovery["title"], "Discovery call");
    assert_eq!(discovery["primaryUserId"], "10");
    assert_eq!(discovery["participantIds"], json!(["11", "12"]));
    let bare = entry(&calls, "id", "42");
    assert_eq!(bare["title"], Value::Null);
    assert_eq!(bare["participantIds"], json!([]));

    let text = db.ok(&format!("call list --company {ACME}"));
    let line = row(&text, "7782342274025937895");
    assert!(
        line.contains("11,12") && line.ends_with("Discovery call"),
        "{text}"
    );

    let stderr = db.fail(&format!(
        "call add --company {ACME} --id 43 --primary-user 999"
    ));
    assert_names(&stderr, "999");
}

#[test]
fn shares_are_added_shown_and_removed() {
    let db = acme();
    add_user(&db, "10", "none");
    add_user(&db, "11", "none");
    db.ok(&format!(
        "call add --company {ACME} --id 100 --primary-user 10"
    ));

    let text = db.ok(&format!("share add --company {ACME} --call 100 --user 11"));
    assert_eq!(text, "shared call 100 with user 11\n");
    let grants = db.json(&format!("grants list --company {ACME} --call 100"));
    assert_eq!(
        grants["users"],
        json!([{"userId": "11", "emailAddress": "u11@acme.test", "routes": [{"route": "shared", "text": "shared"}]}])
    );

    let removed = db.json(&format!(
        "share remove --company {ACME} --call 100 --user 11"
    ));
    assert_eq!(removed["shared"], false);
    let grants = db.json(&format!("grants list --company {ACME} --call 100"));
    assert_eq!(grants["users"], json!([]));
    let text = db.ok(&format!("grants list --company {ACME} --call 100"));
    assert!(text.contains("nobody can open this call"), "{text}");

    let stderr = db.fail(&format!(
        "share remove --company {ACME} --call 100 --user 11"
    ));
    assert_eq!(
        stderr,
        format!("error: call \"100\" is not shared with user \"11\" in company \"{ACME}\"\n")
    );
}

#[test]
fn grants_list_names_every_route() {
    let db = Db::fresh();
    let seed = db.file(
        "routes.json",
        &json!({"companies": [{
            "id": ACME,
            "name": "Acme",
            "users": [
                {"id": "1", "emailAddress": "granted@acme.test"},
                {"id": "2", "emailAddress": "shared@acme.test"},
                {"id": "3", "emailAddress": "all@acme.test", "callsAccess": "all"},
                {"id": "4", "emailAddress": "primary@acme.test", "callsAccess": "own"},
                {"id": "5", "emailAddress": "participant@acme.test", "callsAccess": "own"},
                {"id": "6", "emailAddress": "outsider@acme.test", "callsAccess": "own"},
                {"id": "7", "emailAddress": "none@acme.test"}
            ],
            "calls": [
                {"id": "100", "title": "Discovery", "primaryUserId": "4", "participantIds": ["5", "7"]},
                {"id": "101", "primaryUserId": "6"}
            ],
            "shares": [{"callId": "100", "userId": "2"}, {"callId": "100", "userId": "3"}],
            "apiGrants": [{"callId": "100", "userId": "1"}]
        }]})
        .to_string(),
    );
    db.ok(&format!("import {seed}"));

    let grants = db.json(&format!("grants list --company {ACME} --call 100"));
    assert_eq!(grants["call"]["id"], "100");
    let expected: Vec<(String, Vec<String>)> = [
        ("1", vec!["api grant"]),
        ("2", vec!["shared"]),
        ("3", vec!["shared", "profile \"Calls access: all\" (all)"]),
        (
            "4",
            vec!["profile \"Calls access: own\" (own) as primary user"],
        ),
        (
            "5",
            vec!["profile \"Calls access: own\" (own) as participant"],
        ),
    ]
    .into_iter()
    .map(|(u, r)| (u.to_owned(), r.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(route_texts(&grants), expected, "{grants}");
    // The API grant says when, as the admin API's viewers do.
    let grant = &grants["users"][0]["routes"][0];
    assert_eq!(grant["route"], "apiGrant", "{grant}");
    assert!(
        callaccess_domain::Timestamp::parse_rfc3339(grant["grantedAt"].as_str().unwrap()).is_ok(),
        "{grant}"
    );
    let all = &grants["users"][2]["routes"][1];
    assert_eq!(
        (&all["route"], &all["name"], &all["level"]),
        (
            &json!("profile"),
            &json!("Calls access: all"),
            &json!("all")
        ),
        "{all}"
    );

    let text = db.ok(&format!("grants list --company {ACME} --call 100"));
    assert!(
        text.starts_with(&format!(
            "call 100 of company {ACME} \"Discovery\" in workspace "
        )),
        "{text}"
    );
    let line = row(&text, "3 ");
    assert!(
        line.contains("all@acme.test")
            && line.ends_with("shared; profile \"Calls access: all\" (all)"),
        "{text}"
    );
    assert!(
        !text.contains("outsider") && !text.contains("none@acme.test"),
        "{text}"
    );

    let stderr = db.fail(&format!("grants list --company {ACME} --call 999"));
    assert_names(&stderr, "999");
}

#[test]
fn an_unknown_company_is_a_clear_error() {
    let db = acme();
    for args in [
        "user list --company 42",
        "call list --company 42",
        "key create --company 42",
        "token list --company 42",
        "user add --company 42 --id 1 --email a@b",
        "grants list --company 42 --call 1",
        "workspace list --company 42",
        "workspace create --company 42 --name Sales",
        "profile list --company 42 --workspace 5",
        "profile assign --company 42 --user 1 --profile 5",
        "user set-manager --company 42 1 --none",
        "call set-private --company 42 1 true",
    ] {
        let stderr = db.fail(args);
        assert_eq!(stderr, "error: company \"42\" does not exist\n", "{args:?}");
    }
    assert_eq!(db.json("key list"), json!([]));
}

#[test]
fn bad_id_arguments_are_refused_with_the_id_message() {
    let db = Db::fresh();
    for (args, message) in [
        ("user list --company 12a", "\"12a\" is not a numeric id"),
        (
            "company create --name x --id 0",
            "\"0\" is not a valid id (ids start at 1)",
        ),
        (
            "call list --company 9223372036854775808",
            "\"9223372036854775808\" is out of range (ids are at most 9223372036854775807)",
        ),
    ] {
        let stderr = db.usage_error(args);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    // Usage errors are caught before the database is touched.
    assert!(!db.path().exists());
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let db = Db::fresh();
    let content = "these are my notes, not a database\n".repeat(50);
    std::fs::write(db.path(), &content).unwrap();
    for args in ["company list", "migrate", "company create --name x"] {
        let stderr = db.fail(args);
        assert!(
            stderr.starts_with(&format!("error: cannot open {}: ", db.url)),
            "{stderr}"
        );
        assert!(stderr.contains("not a callaccess database"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(db.path()).unwrap(), content);
}

#[test]
fn company_rate_limits_are_set_kept_and_reset() {
    let db = acme();
    let updated = db.json(&format!(
        "company set-rate-limit --company {ACME} --per-second 7"
    ));
    assert_eq!(
        updated["rateLimit"],
        json!({"perSecond": 7, "perDay": "default"})
    );
    // A limit not given is kept.
    let updated = db.json(&format!(
        "company set-rate-limit --company {ACME} --per-day off"
    ));
    assert_eq!(
        updated["rateLimit"],
        json!({"perSecond": 7, "perDay": "off"})
    );
    let listed = db.ok("company list");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(ACME) && l.contains(" 7 ") && l.contains(" off ")),
        "{listed}"
    );
    let updated = db.json(&format!(
        "company set-rate-limit --company {ACME} --per-second default"
    ));
    assert_eq!(updated["rateLimit"]["perSecond"], "default");

    let stderr = db.fail(&format!("company set-rate-limit --company {ACME}"));
    assert!(stderr.contains("nothing to change"), "{stderr}");
    let stderr = db.fail("company set-rate-limit --company 42 --per-day 5");
    assert!(stderr.contains("company \"42\" does not exist"), "{stderr}");
    let stderr = db.usage_error(&format!(
        "company set-rate-limit --company {ACME} --per-day 0"
    ));
    assert!(stderr.contains("not a rate limit"), "{stderr}");
}

/// The id of the company's one workspace, the default every company gets.
fn default_workspace(db: &Db) -> String {
    let workspaces = db.json(&format!("workspace list --company {ACME}"));
    assert_eq!(entries(&workspaces).len(), 1, "{workspaces}");
    assert_eq!(workspaces[0]["name"], "Default");
    text(&workspaces[0]["id"])
}

#[test]
fn workspaces_are_created_and_listed() {
    let db = acme();
    let default = default_workspace(&db);
    assert_eq!(default.len(), 19, "a random id has Gong's shape");

    let created = db.json(&format!(
        "workspace create --company {ACME} --id 623457276584334 --name Sales --description 'Sales team'"
    ));
    assert_eq!(
        created,
        json!({"company": ACME, "id": "623457276584334", "name": "Sales", "description": "Sales team"})
    );
    let said = db.ok(&format!("workspace create --company {ACME} --name Support"));
    assert!(said.starts_with("created workspace "), "{said}");

    let listed = db.json(&format!("workspace list --company {ACME}"));
    let names: Vec<String> = entries(&listed).iter().map(|w| text(&w["name"])).collect();
    assert_eq!(names.len(), 3, "{listed}");
    for name in ["Default", "Sales", "Support"] {
        assert!(names.contains(&name.to_owned()), "{listed}");
    }
    let table = db.ok(&format!("workspace list --company {ACME}"));
    assert!(
        row(&table, "623457276584334").ends_with("Sales team"),
        "{table}"
    );

    // Workspace ids are unique across the database, like company ids.
    db.ok("company create --id 2 --name Globex");
    let stderr = db.fail("workspace create --company 2 --id 623457276584334 --name Mine");
    assert_eq!(
        stderr,
        "error: workspace \"623457276584334\" already exists\n"
    );
    let stderr = db.fail(&format!("workspace create --company {ACME} --name ' '"));
    assert_eq!(stderr, "error: a workspace name must not be empty\n");
}

#[test]
fn profiles_are_created_updated_listed_and_assigned() {
    let db = acme();
    let workspace = default_workspace(&db);
    add_user(&db, "10", "none");
    add_user(&db, "11", "none");

    let created = db.json(&format!(
        "profile create --company {ACME} --workspace {workspace} --id 3843152912968920037 --name Leads \
         --level managers-team --team-lead 11 --team-lead 10 --fields '{{\"scoreCalls\": true, \"description\": \"Team leads\"}}'"
    ));
    assert_eq!(
        created,
        json!({
            "id": "3843152912968920037",
            "workspaceId": workspace,
            "name": "Leads",
            "description": "Team leads",
            "scoreCalls": true,
            "callsAccess": {"permissionLevel": "managers-team", "teamLeadIds": ["10", "11"]}
        })
    );
    let said = db.ok(&format!(
        "profile create --company {ACME} --workspace {workspace} --name 'all calls' --level all"
    ));
    assert!(said.contains("\"all calls\" (all)"), "{said}");

    // By name, case-insensitively.
    let listed = db.json(&format!(
        "profile list --company {ACME} --workspace {workspace}"
    ));
    let names: Vec<&str> = entries(&listed)
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    // `--calls-access none` gave the users the default workspace's
    // "Calls access: none".
    assert_eq!(
        names,
        vec!["all calls", "Calls access: none", "Leads"],
        "{listed}"
    );
    let table = db.ok(&format!(
        "profile list --company {ACME} --workspace {workspace}"
    ));
    let line = row(&table, "3843152912968920037");
    assert!(
        line.contains("managers-team") && line.contains("10,11") && line.ends_with("Leads"),
        "{table}"
    );

    // An update keeps what it is not given.
    let updated = db.json(&format!(
        "profile update --company {ACME} --profile 3843152912968920037 --name 'Team leads' --no-team-leads"
    ));
    assert_eq!(updated["name"], "Team leads");
    assert_eq!(updated["scoreCalls"], true, "{updated}");
    assert_eq!(
        updated["callsAccess"],
        json!({"permissionLevel": "managers-team", "teamLeadIds": []})
    );
    let updated = db.json(&format!(
        "profile update --company {ACME} --profile 3843152912968920037 --level report-to-them --fields '{{\"trimCalls\": false}}'"
    ));
    assert_eq!(updated["name"], "Team leads");
    assert_eq!(updated["trimCalls"], false);
    assert!(
        updated.get("scoreCalls").is_none(),
        "--fields replaces the others: {updated}"
    );
    assert_eq!(updated["callsAccess"]["permissionLevel"], "report-to-them");

    let assigned = db.ok(&format!(
        "profile assign --company {ACME} --user 10 --profile 3843152912968920037"
    ));
    assert_eq!(
        assigned,
        format!("user 10 now holds permission profile 3843152912968920037 \"Team leads\" (report-to-them) in workspace {workspace}\n")
    );
    let holders = db.json(&format!(
        "profile users --company {ACME} --profile 3843152912968920037"
    ));
    assert_eq!(
        entries(&holders)
            .iter()
            .map(|u| text(&u["id"]))
            .collect::<Vec<_>>(),
        vec!["10"]
    );
    let nobody = db.ok(&format!(
        "profile users --company {ACME} --profile 3843152912968920037 --json"
    ));
    assert!(!nobody.contains("\"11\""), "{nobody}");
    // The default workspace's profile is what `callsAccess` reads.
    let users = db.json(&format!("user list --company {ACME}"));
    assert_eq!(entry(&users, "id", "10")["callsAccess"], "report-to-them");

    // Refusals, each a clear one-line error.
    let stderr = db.fail(&format!(
        "profile assign --company {ACME} --user 10 --profile 99"
    ));
    assert_eq!(
        stderr,
        format!("error: permission profile \"99\" does not exist in company \"{ACME}\"\n")
    );
    let stderr = db.fail(&format!(
        "profile create --company {ACME} --workspace 77 --name X --level own"
    ));
    assert_eq!(
        stderr,
        format!("error: workspace \"77\" does not exist in company \"{ACME}\"\n")
    );
    let stderr = db.fail(&format!(
        "profile create --company {ACME} --workspace {workspace} --name X --level own --fields '{{\"scoreCall\": 1}}'"
    ));
    assert_eq!(stderr, "error: --fields: scoreCall: unknown field\n");
    let stderr = db.fail(&format!(
        "profile create --company {ACME} --workspace {workspace} --name X --level own --fields '{{\"name\": \"Y\"}}'"
    ));
    assert!(stderr.contains("--fields cannot set name"), "{stderr}");
    let stderr = db.fail(&format!(
        "profile create --company {ACME} --workspace {workspace} --name X --level managers-team --team-lead 999"
    ));
    assert_names(&stderr, "not found");
    let stderr = db.usage_error(&format!(
        "profile create --company {ACME} --workspace {workspace} --name X --level 'all / managers-team / report-to-them / own / none'"
    ));
    assert!(stderr.contains("is not a calls access level"), "{stderr}");
    let stderr = db.fail(&format!(
        "profile update --company {ACME} --profile 3843152912968920037"
    ));
    assert!(stderr.starts_with("error: nothing to change"), "{stderr}");
    // The refused commands created nothing.
    let listed = db.json(&format!(
        "profile list --company {ACME} --workspace {workspace}"
    ));
    assert_eq!(entries(&listed).len(), 3, "{listed}");
}

#[test]
fn managers_are_set_and_a_loop_is_refused_with_its_users() {
    let db = acme();
    for id in ["1", "2", "3"] {
        add_user(&db, id, "none");
    }
    assert_eq!(
        db.ok(&format!("user set-manager --company {ACME} 2 1")),
        format!("user 2 of company {ACME} now reports to 1\n")
    );
    db.ok(&format!("user set-manager --company {ACME} 3 2"));
    let stderr = db.fail(&format!("user set-manager --company {ACME} 1 3"));
    assert_eq!(
        stderr,
        "error: a manager loop is not allowed: 1 reports to 3 reports to 2 reports to 1\n"
    );
    let stderr = db.fail(&format!("user set-manager --company {ACME} 1 1"));
    assert_eq!(
        stderr,
        "error: a manager loop is not allowed: 1 reports to 1\n"
    );
    let stderr = db.fail(&format!("user set-manager --company {ACME} 1 99"));
    assert_names(&stderr, "99");
    let users = db.json(&format!("user list --company {ACME}"));
    let managers: Vec<(String, Value)> = entries(&users)
        .iter()
        .map(|u| (text(&u["id"]), u["managerId"].clone()))
        .collect();
    assert_eq!(
        managers,
        vec![
            ("1".to_owned(), Value::Null),
            ("2".to_owned(), json!("1")),
            ("3".to_owned(), json!("2"))
        ]
    );
    let table = db.ok(&format!("user list --company {ACME}"));
    assert!(row(&table, "3 ").contains(" 2 "), "{table}");

    let cleared = db.json(&format!("user set-manager --company {ACME} 3 --none"));
    assert_eq!(cleared["managerId"], Value::Null);
    let users = db.json(&format!("user list --company {ACME}"));
    assert_eq!(entry(&users, "id", "3")["managerId"], Value::Null);
    // With the chain cut, what was a loop is allowed.
    db.ok(&format!("user set-manager --company {ACME} 1 3"));

    // Either a manager or --none.
    db.usage_error(&format!("user set-manager --company {ACME} 2"));
    db.usage_error(&format!("user set-manager --company {ACME} 2 1 --none"));
}

#[test]
fn calls_take_workspace_privacy_and_gongs_fields() {
    let db = acme();
    let default = default_workspace(&db);
    db.ok(&format!(
        "workspace create --company {ACME} --id 5 --name Sales"
    ));
    add_user(&db, "10", "none");
    db.ok(&format!(
        "call add --company {ACME} --id 100 --primary-user 10 --workspace 5 --private \
         --started 2026-11-02T15:00:00Z --direction Conference --purpose Demo --client-unique-id pbx-1"
    ));
    db.ok(&format!(
        "call add --company {ACME} --id 101 --primary-user 10"
    ));
    let calls = db.json(&format!("call list --company {ACME}"));
    let call = entry(&calls, "id", "100");
    assert_eq!(call["workspace"], "5");
    assert_eq!(call["isPrivate"], true);
    assert_eq!(call["started"], "2026-11-02T15:00:00Z");
    assert_eq!(call["clientUniqueId"], "pbx-1");
    assert_eq!(call["details"]["direction"], "Conference");
    assert_eq!(call["details"]["purpose"], "Demo");
    let plain = entry(&calls, "id", "101");
    assert_eq!(
        plain["workspace"],
        default.as_str(),
        "the default workspace"
    );
    assert_eq!(plain["isPrivate"], false);

    let text = db.ok(&format!("call set-private --company {ACME} 100 false"));
    assert_eq!(
        text,
        format!("call 100 of company {ACME} is no longer private\n")
    );
    let set = db.json(&format!("call set-private --company {ACME} 101 true"));
    assert_eq!(set["isPrivate"], true);
    let calls = db.json(&format!("call list --company {ACME}"));
    assert_eq!(entry(&calls, "id", "100")["isPrivate"], false);
    assert_eq!(entry(&calls, "id", "101")["isPrivate"], true);
    let table = db.ok(&format!("call list --company {ACME}"));
    assert!(row(&table, "101 ").contains(" yes "), "{table}");

    // Refusals.
    let stderr = db.fail(&format!(
        "call add --company {ACME} --id 102 --primary-user 10 --client-unique-id pbx-1"
    ));
    assert_eq!(
        stderr,
        "error: a call with clientUniqueId \"pbx-1\" already exists: call 100\n"
    );
    let stderr = db.fail(&format!(
        "call add --company {ACME} --id 102 --primary-user 10 --workspace 77"
    ));
    assert_eq!(
        stderr,
        format!("error: workspace \"77\" does not exist in company \"{ACME}\"\n")
    );
    let stderr = db.fail(&format!("call set-private --company {ACME} 999 true"));
    assert_names(&stderr, "999");
    let stderr = db.usage_error(&format!(
        "call add --company {ACME} --id 102 --primary-user 10 --direction Sideways"
    ));
    assert!(stderr.contains("is not a call direction"), "{stderr}");
    db.usage_error(&format!("call set-private --company {ACME} 100 maybe"));
    db.usage_error(&format!(
        "call add --company {ACME} --id 102 --primary-user 10 --started yesterday"
    ));
}

#[test]
fn grants_list_shows_each_profile_route_with_its_chain() {
    let db = acme();
    let workspace = default_workspace(&db);
    // 1 manages 2 manages 3 manages 4 manages 5 manages 6 manages 7.
    for id in 1..=9 {
        add_user(&db, &id.to_string(), "none");
    }
    for id in 2..=7 {
        db.ok(&format!(
            "user set-manager --company {ACME} {id} {}",
            id - 1
        ));
    }
    db.ok(&format!(
        "profile create --company {ACME} --workspace {workspace} --id 50 --name Managers --level report-to-them"
    ));
    db.ok(&format!(
        "profile create --company {ACME} --workspace {workspace} --id 51 --name Leads --level managers-team --team-lead 4"
    ));
    db.ok(&format!(
        "profile create --company {ACME} --workspace {workspace} --id 52 --name Reps --level own"
    ));
    db.ok(&format!(
        "profile assign --company {ACME} --user 1 --profile 50"
    ));
    db.ok(&format!(
        "profile assign --company {ACME} --user 8 --profile 51"
    ));
    db.ok(&format!(
        "profile assign --company {ACME} --user 7 --profile 52"
    ));
    db.ok(&format!(
        "profile assign --company {ACME} --user 9 --profile 52"
    ));
    db.ok(&format!(
        "call add --company {ACME} --id 100 --primary-user 7 --participant 9"
    ));

    let grants = db.json(&format!("grants list --company {ACME} --call 100"));
    let expected: Vec<(String, Vec<String>)> = [
        (
            "1",
            "profile \"Managers\" (report-to-them) via 7 → 6 → 5 → 4 → 3 → 2 → 1",
        ),
        ("7", "profile \"Reps\" (own) as primary user"),
        (
            "8",
            "profile \"Leads\" (managers-team) via 7 → 6 → 5 → 4, the team of 4",
        ),
        ("9", "profile \"Reps\" (own) as participant"),
    ]
    .into_iter()
    .map(|(u, r)| (u.to_owned(), vec![r.to_owned()]))
    .collect();
    assert_eq!(route_texts(&grants), expected, "{grants}");
    let manager = &grants["users"][0]["routes"][0];
    assert_eq!(manager["route"], "profile");
    assert_eq!(manager["profile"], "50");
    assert_eq!(manager["level"], "report-to-them");
    assert_eq!(manager["chain"], json!(["7", "6", "5", "4", "3", "2", "1"]));
    assert_eq!(grants["users"][2]["routes"][0]["teamOf"], "4");
    let table = db.ok(&format!("grants list --company {ACME} --call 100"));
    assert!(
        row(&table, "1 ")
            .ends_with("profile \"Managers\" (report-to-them) via 7 → 6 → 5 → 4 → 3 → 2 → 1"),
        "{table}"
    );

    // Private: the chain no longer opens it; the parties still do.
    db.ok(&format!("call set-private --company {ACME} 100 true"));
    let grants = db.json(&format!("grants list --company {ACME} --call 100"));
    let users: Vec<String> = route_texts(&grants).into_iter().map(|(u, _)| u).collect();
    assert_eq!(users, vec!["7", "9"], "{grants}");
    let table = db.ok(&format!("grants list --company {ACME} --call 100"));
    assert!(
        table.starts_with(&format!(
            "call 100 of company {ACME} in workspace {workspace}, private\n"
        )),
        "{table}"
    );

    // A manager change moves the route; the profile's chain follows it.
    db.ok(&format!("call set-private --company {ACME} 100 false"));
    db.ok(&format!("user set-manager --company {ACME} 7 1"));
    let grants = db.json(&format!("grants list --company {ACME} --call 100"));
    assert_eq!(
        route_texts(&grants)[0],
        (
            "1".to_owned(),
            vec!["profile \"Managers\" (report-to-them) via 7 → 1".to_owned()]
        )
    );
    assert!(
        route_texts(&grants).iter().all(|(u, _)| u != "8"),
        "7 left 4's team: {grants}"
    );
}
