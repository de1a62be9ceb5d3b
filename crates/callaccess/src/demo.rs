//! The demo company of `serve --demo`: a small org chart in which every
//! access route exists once — an API grant, a share, and profiles of each
//! kind, `report-to-them` and `managers-team` among them, one private call
//! — and a banner whose curl commands work as printed: six of Gong's
//! operations with the company's API key, then two of the admin API with
//! an admin token the demo creates (a fault rule, and the request journal).
//!
//! The world is a seed file (docs/SEED.md), applied like any other, so the
//! demo goes through the same checks and writes as an operator's seed.

use callaccess_domain::Origin;
use std::fmt::Write as _;

use serde_json::{json, Value};

use callaccess_domain::seed::{Seed, SeedCompany};
use callaccess_domain::{
    secret, Call, CallId, Company, CompanyId, Profile, ProfileId, Store, StoreError, Timestamp,
    User, UserId, WorkspaceId,
};

/// What the demo created, enough to describe it and print working curl
/// commands.
#[derive(Debug, Clone)]
pub struct Demo {
    pub company: Company,
    /// The company as the seed gave it: workspace, profiles, users (with
    /// managers), calls, the share and who holds which profile.
    pub seeded: SeedCompany,
    pub access_key: String,
    pub secret: String,
    /// A full admin token, for the admin API's curl commands.
    pub admin_token: String,
    /// The call the first three curl commands name.
    pub grant_call: CallId,
    /// A user with no access to `grant_call` by any route, so that the PUT
    /// really records an API grant and the POST shows it.
    pub grant_user: UserId,
    /// A rep's call the manager opens through their `report-to-them`
    /// profile, so that a PUT for them records nothing.
    pub rep_call: CallId,
    pub manager: UserId,
}

// Ids shaped like Gong's.
const MAYA: &str = "234599484848420";
const THEO: &str = "234599484848421";
const ADA: &str = "234599484848423";
const BOB: &str = "234599484848424";
const CY: &str = "234599484848425";
const DEE: &str = "234599484848426";
const RITA: &str = "234599484848427";

const DISCOVERY: &str = "7782342274025937895";
const PRICING: &str = "5209581132719204862";
const ONBOARDING: &str = "3014486523902377711";
const RENEWAL: &str = "4418820365013342218";
const INITECH: &str = "6650392018374620011";

/// The ids drawn for one demo: the company, its workspace and profiles.
struct Ids {
    company: CompanyId,
    workspace: WorkspaceId,
    /// Managers, Team leads, Reps, Sales ops, No call access.
    profiles: [ProfileId; 5],
}

impl Ids {
    fn random() -> Self {
        Self {
            company: CompanyId::random(),
            workspace: WorkspaceId::random(),
            profiles: std::array::from_fn(|_| ProfileId::random()),
        }
    }
}

/// The demo world as a seed file: Maya manages Theo, a team lead, who
/// manages the reps Bob, Rita and Ada; Cy runs sales operations; Dee is
/// outside the chart.
fn world(ids: &Ids, access_key: &str, key_secret: &str) -> Value {
    let [managers, leads, reps, ops, nothing] = ids.profiles.map(|p| p.to_string());
    let workspace = ids.workspace.to_string();
    let profile = |id: &str, name: &str, level: &str, leads: &[&str]| {
        json!({"id": id, "workspaceId": workspace, "name": name,
               "callsAccess": {"permissionLevel": level, "teamLeadIds": leads}})
    };
    let user = |id: &str, first: &str, title: &str, manager: Option<&str>, profile: &str| {
        let mut user = json!({"id": id, "emailAddress": format!("{}@demo.test", first.to_lowercase()),
                              "firstName": first, "lastName": "Demo", "title": title});
        if let Some(manager) = manager {
            user["managerId"] = json!(manager);
        }
        if !profile.is_empty() {
            user["profileIds"] = json!([profile]);
        }
        user
    };
    let call = |id: &str, title: &str, primary: &str, participants: &[&str], started: &str| {
        json!({"id": id, "title": title, "primaryUserId": primary, "participantIds": participants,
               "workspaceId": workspace, "started": started, "direction": "Conference"})
    };
    let mut renewal = call(
        RENEWAL,
        "Renewal strategy",
        RITA,
        &[],
        "2026-11-04T09:00:00Z",
    );
    renewal["isPrivate"] = json!(true);
    json!({"companies": [{
        "id": ids.company.to_string(),
        "name": "Demo Co",
        // Gong allows 3 requests a second; the banner's six commands, pasted
        // at once, must all be answered.
        "rateLimit": {"perSecond": 10},
        "apiKeys": [{"accessKey": access_key, "accessKeySecret": key_secret}],
        "workspaces": [{"id": workspace, "name": "Sales", "description": "The demo's sales team"}],
        "profiles": [
            profile(&managers, "Managers", "report-to-them", &[]),
            profile(&leads, "Team leads", "managers-team", &[THEO]),
            profile(&reps, "Reps", "own", &[]),
            profile(&ops, "Sales ops", "all", &[]),
            profile(&nothing, "No call access", "none", &[]),
        ],
        "users": [
            user(MAYA, "Maya", "Sales manager", None, &managers),
            user(THEO, "Theo", "Team lead", Some(MAYA), &leads),
            user(BOB, "Bob", "Account executive", Some(THEO), &reps),
            user(RITA, "Rita", "Account executive", Some(THEO), &reps),
            user(ADA, "Ada", "Sales development", Some(THEO), &nothing),
            user(CY, "Cy", "Sales operations", None, &ops),
            user(DEE, "Dee", "Customer success", None, ""),
        ],
        "calls": [
            call(DISCOVERY, "Discovery", BOB, &[CY], "2026-11-02T15:00:00Z"),
            call(PRICING, "Pricing review", CY, &[], "2026-11-03T10:00:00Z"),
            call(ONBOARDING, "Onboarding kickoff", CY, &[BOB], "2026-11-03T14:00:00Z"),
            renewal,
            call(INITECH, "Demo for Initech", RITA, &[], "2026-11-05T16:00:00Z"),
        ],
        "shares": [{"callId": PRICING, "userId": DEE}]
    }]})
}

/// The world parsed; a failure is a defect of [`world`], not of the store.
fn seed_of(ids: &Ids, access_key: &str, key_secret: &str) -> Result<Seed, StoreError> {
    Seed::parse(&world(ids, access_key, key_secret).to_string()).map_err(|problems| {
        StoreError::Other(format!("the demo seed is invalid: {}", problems.join("; ")))
    })
}

fn id<T: std::str::FromStr>(text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Other(format!("{text} is not an id")))
}

/// Creates the demo company and everything in it, with an API key, and a
/// full admin token created at `now` (the server's clock).
pub async fn prepare(store: &dyn Store, now: Timestamp) -> Result<Demo, StoreError> {
    let access_key = secret::generate_access_key();
    let key_secret = secret::generate_secret();
    let seed = seed_of(&Ids::random(), &access_key, &key_secret)?;
    store.apply_seed(&Origin::seed(), &seed).await?;
    let seeded = seed
        .companies
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Other("the demo seed has no company".to_owned()))?;
    let company = store
        .companies()
        .await?
        .into_iter()
        .find(|c| c.id == seeded.id)
        .ok_or(StoreError::NoCompany(seeded.id))?;
    let admin = crate::ops::admin_tokens::create(
        store,
        &Origin::seed(),
        false,
        None,
        Some("serve --demo"),
        now,
    )
    .await?;
    Demo::new(company, seeded, access_key, key_secret, admin.token)
}

/// `curl` with `credentials` (its flag and value), on one line.
fn curl_line(
    credentials: &str,
    base_url: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> String {
    let url = sh_quote(&format!("{}{path}", base_url.trim_end_matches('/')));
    match body {
        Some(body) => format!(
            "curl -sS -w '\\n' {credentials} -X {method} {url} -H 'Content-Type: application/json' -d {}",
            sh_quote(&body.to_string()),
        ),
        None => format!("curl -sS -w '\\n' {credentials} {url}"),
    }
}

/// Wraps text in single quotes for bash; a quote inside becomes `'\''`.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

impl Demo {
    fn new(
        company: Company,
        seeded: SeedCompany,
        access_key: String,
        secret: String,
        admin_token: String,
    ) -> Result<Self, StoreError> {
        Ok(Self {
            company,
            seeded,
            access_key,
            secret,
            admin_token,
            grant_call: id(DISCOVERY)?,
            grant_user: id(ADA)?,
            rep_call: id(INITECH)?,
            manager: id(MAYA)?,
        })
    }

    pub fn users(&self) -> &[User] {
        &self.seeded.users
    }

    pub fn calls(&self) -> &[Call] {
        &self.seeded.calls
    }

    fn user(&self, user: UserId) -> Option<&User> {
        self.seeded.users.iter().find(|u| u.id == user)
    }

    fn email(&self, user: UserId) -> String {
        self.user(user)
            .map_or_else(|| user.to_string(), |u| u.email_address.clone())
    }

    fn title(&self, call: CallId) -> String {
        self.seeded
            .calls
            .iter()
            .find(|c| c.id == call)
            .and_then(|c| c.title.clone())
            .unwrap_or_else(|| call.to_string())
    }

    /// The profile the user holds in the demo's one workspace.
    pub fn profile_of(&self, user: UserId) -> Option<&Profile> {
        let held = self
            .seeded
            .assignments
            .iter()
            .find(|a| a.user == user)?
            .profile;
        self.seeded.profiles.iter().find(|p| p.id == held)
    }

    /// Each curl command's method, path and body, in the order printed:
    /// grant, list, revoke; list users; a PUT that has no effect for the
    /// manager, and the list that shows it recorded nothing.
    pub fn requests(&self) -> Vec<(&'static str, &'static str, Option<Value>)> {
        let change = |call: CallId, user: UserId| {
            json!({"callAccessList": [{
                "callId": call.to_string(),
                "userIds": [user.to_string()],
            }]})
        };
        let filter = |call: CallId| json!({"filter": {"callIds": [call.to_string()]}});
        const ACCESS: &str = "/v2/calls/users-access";
        vec![
            (
                "PUT",
                ACCESS,
                Some(change(self.grant_call, self.grant_user)),
            ),
            ("POST", ACCESS, Some(filter(self.grant_call))),
            (
                "DELETE",
                ACCESS,
                Some(change(self.grant_call, self.grant_user)),
            ),
            ("GET", "/v2/users", None),
            ("PUT", ACCESS, Some(change(self.rep_call, self.manager))),
            ("POST", ACCESS, Some(filter(self.rep_call))),
        ]
    }

    /// The admin API's curl commands, in the order printed: a fault rule
    /// that makes the next DELETE of users-access answer 429 (to try a
    /// client's retries), and the last requests of the request journal.
    pub fn admin_requests(&self) -> Vec<(&'static str, &'static str, Option<Value>)> {
        let rule = json!({
            "match": {
                "operationId": "deleteUsersAccessToCalls",
                "company": self.company.id.to_string(),
            },
            "times": 1,
            "effect": {"status": 429, "retryAfter": 7},
        });
        vec![
            ("POST", "/admin/v1/faults", Some(rule)),
            ("GET", "/admin/v1/requests?limit=5", None),
        ]
    }

    /// One curl command with the API key, on one line so it pastes anywhere.
    fn curl(&self, base_url: &str, method: &str, path: &str, body: Option<&Value>) -> String {
        let credentials = format!(
            "-u {}",
            sh_quote(&format!("{}:{}", self.access_key, self.secret))
        );
        curl_line(&credentials, base_url, method, path, body)
    }

    /// One curl command with the admin token.
    fn admin_curl(&self, base_url: &str, method: &str, path: &str, body: Option<&Value>) -> String {
        let credentials = format!(
            "-H {}",
            sh_quote(&format!("Authorization: Bearer {}", self.admin_token))
        );
        curl_line(&credentials, base_url, method, path, body)
    }

    /// How a user appears in the banner: their profile, and whom they
    /// report to.
    fn describe_user(&self, user: &User) -> String {
        let mut text = match self.profile_of(user.id) {
            Some(profile) => format!("profile \"{}\" ({})", profile.name, profile.calls.level),
            None => "no profile".to_owned(),
        };
        if let Some(manager) = user.manager_id {
            // Writing to a String cannot fail.
            let _ = write!(text, ", reports to {}", self.email(manager));
        }
        text
    }

    /// The text printed at start: the world, the key, the secret and curl
    /// commands for `base_url` (such as `http://127.0.0.1:8080`), then the
    /// admin token and the admin API's commands for `admin_url` (the same
    /// address, or `--admin-listen`'s).
    pub fn banner(&self, base_url: &str, admin_url: &str) -> String {
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
        for workspace in &self.seeded.workspaces {
            let _ = writeln!(text, "workspace  {} (id {})", workspace.name, workspace.id);
        }

        let _ = writeln!(text, "\nusers");
        for user in &self.seeded.users {
            let _ = writeln!(
                text,
                "  {}  {:<16} {}",
                user.id,
                user.email_address,
                self.describe_user(user)
            );
        }

        let _ = writeln!(text, "\ncalls");
        for call in &self.seeded.calls {
            let participants: Vec<String> = call
                .participant_ids
                .iter()
                .map(|p| self.email(*p))
                .collect();
            let _ = writeln!(
                text,
                "  {}  {:<20} primary user {}{}{}",
                call.id,
                call.title.as_deref().unwrap_or("-"),
                self.email(call.primary_user_id),
                if participants.is_empty() {
                    String::new()
                } else {
                    format!(", participants {}", participants.join(", "))
                },
                if call.is_private { ", private" } else { "" }
            );
        }
        for share in &self.seeded.shares {
            let _ = writeln!(
                text,
                "  \"{}\" is shared with {}",
                self.title(share.call),
                self.email(share.user)
            );
        }

        let _ = writeln!(
            text,
            "\nAPI key (Basic auth; the secret is shown only now)\n  access key  {}\n  secret      {}",
            self.access_key, self.secret
        );

        let user = self.email(self.grant_user);
        let call = self.title(self.grant_call);
        let manager = self.email(self.manager);
        let rep_call = self.title(self.rep_call);
        let rep = self
            .seeded
            .calls
            .iter()
            .find(|c| c.id == self.rep_call)
            .map_or_else(String::new, |c| self.email(c.primary_user_id));
        let intros = [
            format!("give {user} access to \"{call}\" through the API:"),
            format!("list the API grants of \"{call}\":"),
            "take the grant back:".to_owned(),
            "list the users (Gong's listUsers):".to_owned(),
            format!(
                "give {manager} access to {rep}'s call \"{rep_call}\": no effect, as {manager} \
                 opens it already as {rep}'s manager's manager (profile report-to-them):"
            ),
            format!("list the API grants of \"{rep_call}\" (the PUT recorded none):"),
        ];
        for ((method, path, body), intro) in self.requests().iter().zip(intros) {
            let _ = writeln!(
                text,
                "\n{intro}\n  {}",
                self.curl(base_url, method, path, body.as_ref())
            );
        }

        let admin_url = admin_url.trim_end_matches('/');
        let _ = writeln!(
            text,
            "\nadmin token (Bearer, for {admin_url}/admin/v1; shown only now)\n  {}",
            self.admin_token
        );
        let _ = writeln!(
            text,
            "\nconsole (sign in with the admin token above)\n  {admin_url}{}",
            crate::http::console::PREFIX
        );
        let admin_intros = [
            "make the next DELETE above answer 429 with Retry-After: 7 (a fault rule, to try a client's retries):",
            "list the last requests the API answered (the request journal):",
        ];
        for ((method, path, body), intro) in self.admin_requests().iter().zip(admin_intros) {
            let _ = writeln!(
                text,
                "\n{intro}\n  {}",
                self.admin_curl(admin_url, method, path, body.as_ref())
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callaccess_domain::access::Route;
    use callaccess_domain::{CallsAccess, RateLimit};

    fn ids() -> Ids {
        Ids {
            company: CompanyId::from_i64(1_234_567_890_123_456_789).unwrap(),
            workspace: WorkspaceId::from_i64(623_457_276_584_334).unwrap(),
            profiles: [1, 2, 3, 4, 5]
                .map(|n| ProfileId::from_i64(3_843_152_912_968_920_030 + n).unwrap()),
        }
    }

    /// A demo as `prepare` builds it, without a store.
    fn demo() -> Demo {
        let (key, key_secret) = (secret::generate_access_key(), secret::generate_secret());
        let seeded = seed_of(&ids(), &key, &key_secret)
            .unwrap()
            .companies
            .remove(0);
        let company = Company {
            id: seeded.id,
            name: seeded.name.clone(),
            rate_limit: RateLimit::default(),
            created_at: Timestamp::from_unix(0),
        };
        let admin = "caadm_0123456789abcdef_demo-secret".to_owned();
        Demo::new(company, seeded, key, key_secret, admin).unwrap()
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
    fn the_banner_shows_the_credentials_and_six_commands() {
        let demo = demo();
        let banner = demo.banner("http://127.0.0.1:8080", "http://127.0.0.1:8081");
        assert!(banner.contains(&demo.access_key));
        assert!(banner.contains(&demo.secret));
        assert!(banner.contains("Demo Co"));
        let lines = curl_lines(&banner);
        assert_eq!(lines.len(), 8, "{banner}");
        // The admin API's two, with the admin token, on the admin address.
        assert!(banner.contains(&demo.admin_token));
        // The console, where the admin API is.
        assert!(
            banner.contains(
                "\nconsole (sign in with the admin token above)\n  http://127.0.0.1:8081/console\n"
            ),
            "{banner}"
        );
        for (line, (method, path)) in lines[6..].iter().zip([
            ("POST", "/admin/v1/faults"),
            ("GET", "/admin/v1/requests?limit=5"),
        ]) {
            assert_eq!(
                quoted_after(line, "-H"),
                format!("Authorization: Bearer {}", demo.admin_token)
            );
            assert!(
                line.contains(&format!(" 'http://127.0.0.1:8081{path}'")),
                "{line}"
            );
            assert_eq!(
                line.contains(&format!(" -X {method} ")),
                method != "GET",
                "{line}"
            );
            assert!(!line.contains(" -u "), "{line}");
        }
        let lines = &lines[..6];
        let expected = [
            ("PUT", "/v2/calls/users-access"),
            ("POST", "/v2/calls/users-access"),
            ("DELETE", "/v2/calls/users-access"),
            ("GET", "/v2/users"),
            ("PUT", "/v2/calls/users-access"),
            ("POST", "/v2/calls/users-access"),
        ];
        for (line, (method, path)) in lines.iter().zip(expected) {
            assert_eq!(
                quoted_after(line, "-u"),
                format!("{}:{}", demo.access_key, demo.secret)
            );
            assert!(
                line.contains(&format!(" 'http://127.0.0.1:8080{path}'")),
                "{line}"
            );
            if method == "GET" {
                assert!(!line.contains(" -X ") && !line.contains(" -d "), "{line}");
            } else {
                assert!(line.contains(&format!(" -X {method} ")), "{line}");
                assert!(
                    line.contains(" -H 'Content-Type: application/json' "),
                    "{line}"
                );
            }
        }
        // The org chart shows.
        assert!(
            banner.contains("maya@demo.test   profile \"Managers\" (report-to-them)"),
            "{banner}"
        );
        assert!(
            banner.contains("theo@demo.test   profile \"Team leads\" (managers-team), reports to maya@demo.test"),
            "{banner}"
        );
        assert!(banner.contains(", private\n"), "{banner}");
    }

    #[test]
    fn the_bodies_name_the_demo_calls_and_users() {
        let demo = demo();
        let banner = demo.banner("http://127.0.0.1:8080/", "http://127.0.0.1:8080/");
        let bodies: Vec<Value> = curl_lines(&banner)[..6]
            .iter()
            .filter(|line| line.contains(" -d "))
            .map(|line| serde_json::from_str(quoted_after(line, "-d")).unwrap())
            .collect();
        let change = |call, user| json!({"callAccessList": [{"callId": call, "userIds": [user]}]});
        assert_eq!(
            bodies,
            vec![
                change(DISCOVERY, ADA),
                json!({"filter": {"callIds": [DISCOVERY]}}),
                change(DISCOVERY, ADA),
                change(INITECH, MAYA),
                json!({"filter": {"callIds": [INITECH]}}),
            ]
        );
        // A trailing slash on the base URL does not double up.
        assert!(!banner.contains("8080//v2"));
    }

    #[test]
    fn the_world_has_an_org_chart_and_every_route() {
        let demo = demo();
        let levels: Vec<CallsAccess> = demo
            .users()
            .iter()
            .filter_map(|u| demo.profile_of(u.id).map(|p| p.calls.level))
            .collect();
        for level in [
            CallsAccess::All,
            CallsAccess::ManagersTeam,
            CallsAccess::ReportToThem,
            CallsAccess::Own,
            CallsAccess::None,
        ] {
            assert!(levels.contains(&level), "{level}");
        }
        let manager_of = |user: &str| {
            demo.users()
                .iter()
                .find(|u| u.id.to_string() == user)
                .unwrap()
                .manager_id
                .map(|m| m.to_string())
        };
        assert_eq!(manager_of(RITA).as_deref(), Some(THEO));
        assert_eq!(manager_of(THEO).as_deref(), Some(MAYA));
        assert_eq!(manager_of(MAYA), None);
        assert_eq!(demo.calls().iter().filter(|c| c.is_private).count(), 1);
        assert!(demo.calls().iter().all(|c| c.id.to_string().len() == 19));
        assert_eq!(demo.seeded.shares.len(), 1);
        // The grant target has no route but a grant: no share, not a party,
        // and a profile of level none.
        let grant_call = demo
            .calls()
            .iter()
            .find(|c| c.id == demo.grant_call)
            .unwrap();
        assert_ne!(grant_call.primary_user_id, demo.grant_user);
        assert!(!grant_call.participant_ids.contains(&demo.grant_user));
        assert!(demo.seeded.shares.iter().all(|s| s.user != demo.grant_user));
        assert_eq!(
            demo.profile_of(demo.grant_user).map(|p| p.calls.level),
            Some(CallsAccess::None)
        );
    }

    #[tokio::test]
    async fn prepare_builds_a_world_where_every_printed_request_does_what_it_says() {
        let dir = tempfile::tempdir().unwrap();
        let store = callaccess_sqlite::SqliteStore::open(&dir.path().join("demo.db"))
            .await
            .unwrap();
        let demo = prepare(&store, Timestamp::now()).await.unwrap();
        let company = demo.company.id;
        assert_eq!(store.users(company).await.unwrap().len(), 7);
        assert_eq!(store.calls(company).await.unwrap().len(), 5);
        let keys = store.api_keys(Some(company)).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].access_key, demo.access_key);
        let stored = store.api_key(&demo.access_key).await.unwrap().unwrap();
        assert!(secret::verify(&stored.digest, &demo.secret));
        let (id, admin_secret) = callaccess_domain::admin_token::split(&demo.admin_token).unwrap();
        let admin = store.admin_token(&id).await.unwrap().unwrap();
        assert!(callaccess_domain::admin_token::accepts(
            &admin,
            admin_secret,
            Timestamp::now()
        ));
        assert!(!admin.info.read_only);

        let before = store.call_access(company, demo.grant_call).await.unwrap();
        assert!(before.viewers.iter().all(|v| v.user != demo.grant_user));
        // The manager opens the rep's call through the chain, so the PUT
        // for them records nothing.
        let rep_call = store.call_access(company, demo.rep_call).await.unwrap();
        let manager = rep_call
            .viewers
            .iter()
            .find(|v| v.user == demo.manager)
            .expect("the manager opens the rep's call");
        assert!(
            matches!(&manager.routes[..], [Route::Profile { level: CallsAccess::ReportToThem, chain, .. }] if chain.len() == 3),
            "{manager:?}"
        );
        // Nobody but the host opens the private call by profile.
        let private = demo.calls().iter().find(|c| c.is_private).unwrap();
        let private = store.call_access(company, private.id).await.unwrap();
        assert_eq!(
            private.viewers.iter().map(|v| v.user).collect::<Vec<_>>(),
            vec![private.call.primary_user_id]
        );

        let caller = callaccess_domain::Caller::verified(company);
        let change = callaccess_domain::AccessChange::new([(demo.grant_call, [demo.grant_user])]);
        store
            .grant_access(&Origin::seed(), caller, &change)
            .await
            .unwrap();
        let listed = store
            .list_api_grants(caller, &[demo.grant_call])
            .await
            .unwrap();
        assert_eq!(listed[0].users, vec![demo.grant_user]);
        let no_effect = callaccess_domain::AccessChange::new([(demo.rep_call, [demo.manager])]);
        store
            .grant_access(&Origin::seed(), caller, &no_effect)
            .await
            .unwrap();
        let listed = store
            .list_api_grants(caller, &[demo.rep_call])
            .await
            .unwrap();
        assert_eq!(listed[0].users, vec![]);
        store.close().await.unwrap();
    }

    #[test]
    fn single_quotes_survive_shell_quoting() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote("plain"), "'plain'");
    }
}
