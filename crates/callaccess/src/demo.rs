//! The demo company of `serve --demo`: a small world in which every access
//! route exists once, and a banner whose curl commands work as printed.

use std::fmt::Write as _;

use serde_json::json;

use callaccess_domain::{
    secret, Call, CallId, CallsAccess, Company, CompanyId, NewApiKey, NewCompany, RateLimit, Store,
    StoreError, User, UserId,
};

/// What the demo created, enough to describe it and print working curl
/// commands.
#[derive(Debug, Clone)]
pub struct Demo {
    pub company: Company,
    pub users: Vec<User>,
    pub calls: Vec<Call>,
    /// `(call, user)`: calls shared with users outside the API.
    pub shares: Vec<(CallId, UserId)>,
    pub access_key: String,
    pub secret: String,
    /// The call the curl commands name.
    pub grant_call: CallId,
    /// A user with no access to `grant_call` by any route, so that the PUT
    /// really records an API grant and the POST shows it.
    pub grant_user: UserId,
}

/// `(id, email, calls access)`; ids shaped like Gong's user ids.
const USERS: [(i64, &str, CallsAccess); 4] = [
    (234_599_484_848_423, "ada@demo.test", CallsAccess::None),
    (234_599_484_848_424, "bob@demo.test", CallsAccess::Own),
    (234_599_484_848_425, "cy@demo.test", CallsAccess::All),
    (234_599_484_848_426, "dee@demo.test", CallsAccess::None),
];

/// `(id, title, primary user, participants)`, 19-digit ids like Gong's.
const CALLS: [(i64, &str, i64, &[i64]); 3] = [
    (
        7_782_342_274_025_937_895,
        "Discovery",
        234_599_484_848_424,
        &[234_599_484_848_425],
    ),
    (
        5_209_581_132_719_204_862,
        "Pricing review",
        234_599_484_848_425,
        &[],
    ),
    (
        3_014_486_523_902_377_711,
        "Onboarding kickoff",
        234_599_484_848_425,
        &[234_599_484_848_424],
    ),
];

/// The second call is shared with dee.
const SHARE: (i64, i64) = (5_209_581_132_719_204_862, 234_599_484_848_426);

const GRANT: (i64, i64) = (7_782_342_274_025_937_895, 234_599_484_848_423);

fn user_id(n: i64) -> Result<UserId, StoreError> {
    UserId::from_i64(n).ok_or_else(|| StoreError::Other(format!("{n} is not a user id")))
}

fn call_id(n: i64) -> Result<CallId, StoreError> {
    CallId::from_i64(n).ok_or_else(|| StoreError::Other(format!("{n} is not a call id")))
}

fn users(company: CompanyId) -> Result<Vec<User>, StoreError> {
    USERS
        .iter()
        .map(|(id, email, calls_access)| {
            Ok(User {
                company,
                id: user_id(*id)?,
                email_address: (*email).to_owned(),
                calls_access: *calls_access,
            })
        })
        .collect()
}

fn calls(company: CompanyId) -> Result<Vec<Call>, StoreError> {
    CALLS
        .iter()
        .map(|(id, title, primary, participants)| {
            Ok(Call {
                company,
                id: call_id(*id)?,
                title: Some((*title).to_owned()),
                primary_user_id: user_id(*primary)?,
                participant_ids: participants
                    .iter()
                    .map(|p| user_id(*p))
                    .collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

/// Creates the demo company, users, calls, share and API key.
pub async fn prepare(store: &dyn Store) -> Result<Demo, StoreError> {
    let company = store
        .create_company(&NewCompany {
            id: CompanyId::random(),
            name: "Demo Co".to_owned(),
            rate_limit: RateLimit::default(),
        })
        .await?;

    let users = users(company.id)?;
    for user in &users {
        store.add_user(user).await?;
    }
    let calls = calls(company.id)?;
    for call in &calls {
        store.add_call(call).await?;
    }

    let share = (call_id(SHARE.0)?, user_id(SHARE.1)?);
    store.add_share(company.id, share.0, share.1).await?;

    let access_key = secret::generate_access_key();
    let key_secret = secret::generate_secret();
    store
        .create_api_key(&NewApiKey {
            access_key: access_key.clone(),
            company: company.id,
            digest: secret::digest(&key_secret),
            scopes: None,
            expires_at: None,
        })
        .await?;

    Ok(Demo {
        company,
        users,
        calls,
        shares: vec![share],
        access_key,
        secret: key_secret,
        grant_call: call_id(GRANT.0)?,
        grant_user: user_id(GRANT.1)?,
    })
}

/// Wraps text in single quotes for bash; a quote inside becomes `'\''`.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl Demo {
    fn email(&self, user: UserId) -> String {
        self.users
            .iter()
            .find(|u| u.id == user)
            .map_or_else(|| user.to_string(), |u| u.email_address.clone())
    }

    fn title(&self, call: CallId) -> String {
        self.calls
            .iter()
            .find(|c| c.id == call)
            .and_then(|c| c.title.clone())
            .unwrap_or_else(|| call.to_string())
    }

    /// The three request bodies: grant (PUT), list (POST), revoke (DELETE).
    pub fn bodies(&self) -> [(&'static str, serde_json::Value); 3] {
        let change = json!({"callAccessList": [{
            "callId": self.grant_call.to_string(),
            "userIds": [self.grant_user.to_string()],
        }]});
        let filter = json!({"filter": {"callIds": [self.grant_call.to_string()]}});
        [
            ("PUT", change.clone()),
            ("POST", filter),
            ("DELETE", change),
        ]
    }

    /// One curl command, on one line so it pastes anywhere.
    fn curl(&self, base_url: &str, method: &str, body: &serde_json::Value) -> String {
        format!(
            "curl -sS -w '\\n' -u {} -X {method} {} -H 'Content-Type: application/json' -d {}",
            sh_quote(&format!("{}:{}", self.access_key, self.secret)),
            sh_quote(&format!(
                "{}/v2/calls/users-access",
                base_url.trim_end_matches('/')
            )),
            sh_quote(&body.to_string()),
        )
    }

    /// The text printed at start: the world, the key, the secret and curl
    /// commands for `base_url` (such as `http://127.0.0.1:8080`).
    pub fn banner(&self, base_url: &str) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; the results are ignored below.
        let _ = writeln!(
            text,
            "callaccess demo: a temporary database, deleted when the server stops\n"
        );
        let _ = writeln!(
            text,
            "company  {} (id {})",
            self.company.name, self.company.id
        );

        let _ = writeln!(text, "\nusers");
        for user in &self.users {
            let _ = writeln!(
                text,
                "  {}  {:<14} calls access {}",
                user.id, user.email_address, user.calls_access
            );
        }

        let _ = writeln!(text, "\ncalls");
        for call in &self.calls {
            let participants: Vec<String> = call
                .participant_ids
                .iter()
                .map(|p| self.email(*p))
                .collect();
            let _ = writeln!(
                text,
                "  {}  {:<20} primary user {}{}",
                call.id,
                call.title.as_deref().unwrap_or("-"),
                self.email(call.primary_user_id),
                if participants.is_empty() {
                    String::new()
                } else {
                    format!(", participants {}", participants.join(", "))
                }
            );
        }
        for (call, user) in &self.shares {
            let _ = writeln!(
                text,
                "  \"{}\" is shared with {}",
                self.title(*call),
                self.email(*user)
            );
        }

        let _ = writeln!(
            text,
            "\nAPI key (Basic auth; the secret is shown only now)\n  access key  {}\n  secret      {}",
            self.access_key, self.secret
        );

        let user = self.email(self.grant_user);
        let call = self.title(self.grant_call);
        let intros = [
            format!("give {user} access to \"{call}\" through the API:"),
            format!("list the API grants of \"{call}\":"),
            "take the grant back:".to_owned(),
        ];
        for ((method, body), intro) in self.bodies().iter().zip(intros) {
            let _ = writeln!(text, "\n{intro}\n  {}", self.curl(base_url, method, body));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callaccess_domain::Timestamp;

    /// A demo as `prepare` builds it, without a store.
    fn demo() -> Demo {
        let company = Company {
            id: CompanyId::from_i64(1_234_567_890_123_456_789).unwrap(),
            name: "Demo Co".to_owned(),
            rate_limit: RateLimit::default(),
            created_at: Timestamp::from_unix(0),
        };
        Demo {
            users: users(company.id).unwrap(),
            calls: calls(company.id).unwrap(),
            company,
            shares: vec![(call_id(SHARE.0).unwrap(), user_id(SHARE.1).unwrap())],
            access_key: secret::generate_access_key(),
            secret: secret::generate_secret(),
            grant_call: call_id(GRANT.0).unwrap(),
            grant_user: user_id(GRANT.1).unwrap(),
        }
    }

    fn curl_lines(banner: &str) -> Vec<&str> {
        banner
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("curl "))
            .collect()
    }

    /// The text between the single quotes that follow `flag`.
    fn quoted_after<'a>(line: &'a str, flag: &str) -> &'a str {
        let start = line.find(&format!("{flag} '")).unwrap() + flag.len() + 2;
        let end = start + line[start..].find('\'').unwrap();
        &line[start..end]
    }

    #[test]
    fn the_banner_shows_the_credentials_and_three_commands() {
        let demo = demo();
        let banner = demo.banner("http://127.0.0.1:8080");
        assert!(banner.contains(&demo.access_key));
        assert!(banner.contains(&demo.secret));
        assert!(banner.contains("Demo Co"));
        let lines = curl_lines(&banner);
        assert_eq!(lines.len(), 3, "{banner}");
        for (line, method) in lines.iter().zip(["PUT", "POST", "DELETE"]) {
            assert!(line.contains(&format!(" -X {method} ")), "{line}");
            assert_eq!(
                quoted_after(line, "-u"),
                format!("{}:{}", demo.access_key, demo.secret)
            );
            assert!(
                line.contains(" 'http://127.0.0.1:8080/v2/calls/users-access' "),
                "{line}"
            );
            assert!(
                line.contains(" -H 'Content-Type: application/json' "),
                "{line}"
            );
        }
    }

    #[test]
    fn the_bodies_are_json_naming_the_demo_call_and_the_user_without_access() {
        let demo = demo();
        let banner = demo.banner("http://127.0.0.1:8080/");
        let bodies: Vec<serde_json::Value> = curl_lines(&banner)
            .iter()
            .map(|line| serde_json::from_str(quoted_after(line, "-d")).unwrap())
            .collect();
        let call = "7782342274025937895";
        let user = "234599484848423";
        let change = json!({"callAccessList": [{"callId": call, "userIds": [user]}]});
        assert_eq!(
            bodies,
            vec![
                change.clone(),
                json!({"filter": {"callIds": [call]}}),
                change
            ]
        );
        // A trailing slash on the base URL does not double up.
        assert!(!banner.contains("8080//v2"));

        // The grant target has no other route to the call, or the PUT would
        // record nothing and the POST would list nobody.
        let target = demo.users.iter().find(|u| u.id == demo.grant_user).unwrap();
        assert_eq!(target.calls_access, CallsAccess::None);
        assert!(!demo.shares.contains(&(demo.grant_call, demo.grant_user)));
        let grant_call = demo.calls.iter().find(|c| c.id == demo.grant_call).unwrap();
        assert_ne!(grant_call.primary_user_id, demo.grant_user);
        assert!(!grant_call.participant_ids.contains(&demo.grant_user));
    }

    #[test]
    fn the_demo_covers_every_route() {
        let demo = demo();
        let levels: Vec<CallsAccess> = demo.users.iter().map(|u| u.calls_access).collect();
        for level in [CallsAccess::All, CallsAccess::Own, CallsAccess::None] {
            assert!(levels.contains(&level), "{level}");
        }
        assert_eq!(demo.calls.len(), 3);
        assert!(demo.calls.iter().all(|c| c.id.to_string().len() == 19));
        assert_eq!(demo.shares.len(), 1);
    }

    #[tokio::test]
    async fn prepare_builds_a_world_where_the_printed_grant_takes_effect() {
        let dir = tempfile::tempdir().unwrap();
        let store = callaccess_sqlite::SqliteStore::open(&dir.path().join("demo.db"))
            .await
            .unwrap();
        let demo = prepare(&store).await.unwrap();
        let company = demo.company.id;
        assert_eq!(store.users(company).await.unwrap().len(), 4);
        assert_eq!(store.calls(company).await.unwrap().len(), 3);
        let keys = store.api_keys(Some(company)).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].access_key, demo.access_key);
        let stored = store.api_key(&demo.access_key).await.unwrap().unwrap();
        assert!(secret::verify(&stored.digest, &demo.secret));

        let before = store.call_access(company, demo.grant_call).await.unwrap();
        assert!(!before.api_grants.contains(&demo.grant_user));
        assert!(!before.shares.contains(&demo.grant_user));
        assert!(!before.profile_all.contains(&demo.grant_user));
        assert!(!before.profile_own.contains(&demo.grant_user));
        assert!(!before.profile_own.is_empty() && !before.profile_all.is_empty());
        let shared = store.call_access(company, demo.shares[0].0).await.unwrap();
        assert_eq!(shared.shares, vec![demo.shares[0].1]);

        let change = callaccess_domain::AccessChange::new([(demo.grant_call, [demo.grant_user])]);
        let caller = callaccess_domain::Caller::verified(company);
        store.grant_access(caller, &change).await.unwrap();
        let listed = store
            .list_api_grants(caller, &[demo.grant_call])
            .await
            .unwrap();
        assert_eq!(listed[0].users, vec![demo.grant_user]);
        store.close().await.unwrap();
    }

    #[test]
    fn single_quotes_survive_shell_quoting() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote("plain"), "'plain'");
    }
}
