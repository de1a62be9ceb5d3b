//! The admin commands: everything but `serve`, each a short conversation
//! with the store that prints a table or a sentence, or JSON with `--json`.
//!
//! Output is assembled first and written only after the store has closed
//! cleanly, so a secret is never shown for a key that did not become durable.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _};
use serde::Serialize;
use serde_json::{json, Value};

use callaccess_domain::seed::Seed;
use callaccess_domain::{
    secret, ApiKeyInfo, Call, CallId, Company, CompanyId, Limit, NewApiKey, NewCompany, NewToken,
    RateLimit, Scope, Store, StoreError, Timestamp, TokenInfo, User, UserId,
};

use callaccess_sqlite::SqliteStore;

use crate::cli::{
    CallCommand, Command, CompanyCommand, GrantsCommand, KeyCommand, OutputArgs, ShareCommand,
    TokenCommand, UserCommand,
};
use crate::db::DatabaseUrl;

/// Runs one admin command (anything but `serve`) against the database.
pub async fn run(command: Command, database: &DatabaseUrl) -> anyhow::Result<()> {
    if let Command::Migrate(output) = &command {
        return migrate(output, database).await;
    }
    // A seed is read and checked before the database is opened, so that a
    // bad file does not even create an empty database.
    let seed = match &command {
        Command::Import(args) => Some(load_seed(&args.file)?),
        _ => None,
    };
    let store = crate::db::open_store(database)
        .await
        .map_err(|e| anyhow!("cannot open {database}: {e}"))?;
    let result = execute(command, seed, store.as_ref()).await;
    let closed = store.close().await;
    let output = result?;
    closed.map_err(|e| anyhow!("the database did not close cleanly: {e}"))?;
    emit(&output)
}

async fn execute(
    command: Command,
    seed: Option<Seed>,
    store: &dyn Store,
) -> anyhow::Result<String> {
    let now = Timestamp::now();
    match command {
        Command::Serve(_) | Command::Config(_) => bail!("not an admin command"),
        Command::Migrate(_) => bail!("migrate is handled before the store is opened"),
        Command::Import(args) => {
            let seed = seed.context("the seed file was not read")?;
            let summary = match store.apply_seed(&seed).await {
                Ok(summary) => summary,
                Err(StoreError::SeedRejected(messages)) => {
                    return Err(rejected(&args.file, &messages));
                }
                Err(e) => return Err(e.into()),
            };
            render(&args.output, &summary, || {
                let counts = [
                    count(summary.companies, "company", "companies"),
                    count(summary.users, "user", "users"),
                    count(summary.calls, "call", "calls"),
                    count(summary.shares, "share", "shares"),
                    count(summary.api_grants, "API grant", "API grants"),
                    count(summary.api_keys, "API key", "API keys"),
                    count(summary.tokens, "token", "tokens"),
                ];
                format!(
                    "applied {}: {} created or updated; nothing else was changed\n",
                    args.file.display(),
                    counts.join(", ")
                )
            })
        }
        Command::Company(command) => company(command, store).await,
        Command::Key(command) => key(command, store, now).await,
        Command::Token(command) => token(command, store, now).await,
        Command::User(command) => user(command, store).await,
        Command::Call(command) => call(command, store).await,
        Command::Share(command) => share(command, store).await,
        Command::Grants(GrantsCommand::List {
            company,
            call,
            output,
        }) => grants(company, call, &output, store).await,
    }
}

/// `migrate`: opening a store applies what is pending; the backend is opened
/// directly because only it knows which migrations that was.
async fn migrate(output: &OutputArgs, database: &DatabaseUrl) -> anyhow::Result<()> {
    let (version, applied, closed) = match database {
        DatabaseUrl::Sqlite(path) => {
            let store = SqliteStore::open(path)
                .await
                .map_err(|e| anyhow!("cannot open {database}: {e}"))?;
            let closed = store.close().await;
            (store.schema_version(), store.applied_at_open(), closed)
        }
        DatabaseUrl::Postgres(_) => {
            let store = crate::db::connect_postgres(database, &crate::db::PoolSettings::default())
                .await
                .map_err(|e| anyhow!("cannot open {database}: {e}"))?;
            let closed = store.close().await;
            (store.schema_version(), store.applied_at_open(), closed)
        }
    };
    closed.map_err(|e| anyhow!("the database did not close cleanly: {e}"))?;
    let listed: Vec<Value> = applied
        .iter()
        .map(|(version, name)| json!({"version": version, "name": name}))
        .collect();
    let text = render(
        output,
        &json!({"database": database.to_string(), "schemaVersion": version, "applied": listed}),
        || {
            // Writing to a String cannot fail.
            let mut text = String::new();
            for (version, name) in &applied {
                let _ = writeln!(text, "applied migration {version:04} {name}");
            }
            if applied.is_empty() {
                let _ = writeln!(text, "{database} is up to date (schema version {version})");
            } else {
                let _ = writeln!(text, "{database} is now at schema version {version}");
            }
            text
        },
    )?;
    emit(&text)
}

async fn company(command: CompanyCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        CompanyCommand::Create { name, id, output } => {
            let name = name.trim();
            if name.is_empty() {
                bail!("a company name must not be empty");
            }
            let company = store
                .create_company(&NewCompany {
                    id: id.unwrap_or_else(CompanyId::random),
                    name: name.to_owned(),
                    rate_limit: RateLimit::default(),
                })
                .await?;
            render(&output, &company, || {
                format!("created company {} \"{}\"\n", company.id, company.name)
            })
        }
        CompanyCommand::List { output } => {
            let companies = store.companies().await?;
            render(&output, &companies, || {
                let rows = companies.iter().map(|c| {
                    vec![
                        c.id.to_string(),
                        limit(c.rate_limit.per_second),
                        limit(c.rate_limit.per_day),
                        c.created_at.to_string(),
                        c.name.clone(),
                    ]
                });
                table(
                    &["ID", "PER SECOND", "PER DAY", "CREATED", "NAME"],
                    rows,
                    "no companies",
                )
            })
        }
        CompanyCommand::SetRateLimit {
            company,
            per_second,
            per_day,
            output,
        } => {
            let current = require_company(store, company).await?;
            if per_second.is_none() && per_day.is_none() {
                bail!("nothing to change: give --per-second, --per-day or both");
            }
            let wanted = RateLimit {
                per_second: per_second.unwrap_or(current.rate_limit.per_second),
                per_day: per_day.unwrap_or(current.rate_limit.per_day),
            };
            let updated = store.set_rate_limit(company, wanted).await?;
            render(&output, &updated, || {
                format!(
                    "company {} now allows {} per second and {} per day\n",
                    updated.id,
                    limit(updated.rate_limit.per_second),
                    limit(updated.rate_limit.per_day)
                )
            })
        }
    }
}

async fn key(command: KeyCommand, store: &dyn Store, now: Timestamp) -> anyhow::Result<String> {
    match command {
        KeyCommand::Create {
            company,
            expires,
            scopes,
            output,
        } => {
            require_company(store, company).await?;
            let expires_at = expires
                .as_deref()
                .map(|e| parse_expiry(e, now))
                .transpose()?;
            let access_key = secret::generate_access_key();
            let key_secret = secret::generate_secret();
            let info = store
                .create_api_key(&NewApiKey {
                    access_key: access_key.clone(),
                    company,
                    digest: secret::digest(&key_secret),
                    scopes: (!scopes.is_empty()).then_some(scopes),
                    expires_at,
                })
                .await?;
            let mut shown = serde_json::to_value(&info)?;
            if let Value::Object(map) = &mut shown {
                map.insert(
                    "accessKeySecret".to_owned(),
                    Value::from(key_secret.clone()),
                );
            }
            render(&output, &shown, || {
                format!(
                    "created an API key for company {company}\n\
                     \x20 access key:  {access_key}\n\
                     \x20 secret:      {key_secret}\n\
                     \x20 scopes:      {}\n\
                     \x20 expires:     {}\n\
                     the secret is shown only this once and cannot be shown again; keep it safe\n",
                    scope_list(info.scopes.as_deref()),
                    expiry(info.expires_at),
                )
            })
        }
        KeyCommand::List { company, output } => {
            if let Some(company) = company {
                require_company(store, company).await?;
            }
            let keys = store.api_keys(company).await?;
            render(&output, &keys, || {
                let rows = keys.iter().map(|k| {
                    vec![
                        k.access_key.clone(),
                        k.company.to_string(),
                        scope_list(k.scopes.as_deref()),
                        k.created_at.to_string(),
                        expiry(k.expires_at),
                        status(k.revoked_at, k.expires_at, now),
                    ]
                });
                table(
                    &[
                        "ACCESS KEY",
                        "COMPANY",
                        "SCOPES",
                        "CREATED",
                        "EXPIRES",
                        "STATUS",
                    ],
                    rows,
                    "no API keys",
                )
            })
        }
        KeyCommand::Revoke { access_key, output } => {
            // Looked up first: revoking again keeps the first time, which
            // within the same second is indistinguishable from a new one.
            let earlier = store.api_key(&access_key).await?.and_then(|k| k.revoked_at);
            let info: ApiKeyInfo = store.revoke_api_key(&access_key, now).await?;
            render(&output, &info, || {
                revoked("API key", &info.access_key, earlier)
            })
        }
    }
}

async fn token(command: TokenCommand, store: &dyn Store, now: Timestamp) -> anyhow::Result<String> {
    match command {
        TokenCommand::Create {
            company,
            scopes,
            expires,
            output,
        } => {
            require_company(store, company).await?;
            let expires_at = expires
                .as_deref()
                .map(|e| parse_expiry(e, now))
                .transpose()?;
            let token = secret::generate_secret();
            let info = store
                .create_token(&NewToken {
                    company,
                    digest: secret::digest(&token),
                    scopes,
                    expires_at,
                })
                .await?;
            let mut shown = serde_json::to_value(&info)?;
            if let Value::Object(map) = &mut shown {
                map.insert("token".to_owned(), Value::from(token.clone()));
            }
            render(&output, &shown, || {
                format!(
                    "created bearer token {} for company {company}\n\
                     \x20 token:    {token}\n\
                     \x20 scopes:   {}\n\
                     \x20 expires:  {}\n\
                     the token is shown only this once and cannot be shown again; keep it safe\n",
                    info.id,
                    scope_list(Some(&info.scopes)),
                    expiry(info.expires_at),
                )
            })
        }
        TokenCommand::List { company, output } => {
            if let Some(company) = company {
                require_company(store, company).await?;
            }
            let tokens = store.tokens(company).await?;
            render(&output, &tokens, || {
                let rows = tokens.iter().map(|t| {
                    vec![
                        t.id.clone(),
                        t.company.to_string(),
                        scope_list(Some(&t.scopes)),
                        t.created_at.to_string(),
                        expiry(t.expires_at),
                        status(t.revoked_at, t.expires_at, now),
                    ]
                });
                table(
                    &["ID", "COMPANY", "SCOPES", "CREATED", "EXPIRES", "STATUS"],
                    rows,
                    "no tokens",
                )
            })
        }
        TokenCommand::Revoke { id, output } => {
            let earlier = store
                .tokens(None)
                .await?
                .into_iter()
                .find(|t| t.id == id)
                .and_then(|t| t.revoked_at);
            let info: TokenInfo = store.revoke_token(&id, now).await?;
            render(&output, &info, || revoked("token", &info.id, earlier))
        }
    }
}

async fn user(command: UserCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        UserCommand::Add {
            company,
            id,
            email,
            calls_access,
            output,
        } => {
            require_company(store, company).await?;
            check_email(&email)?;
            let user = User {
                company,
                id,
                email_address: email,
                calls_access,
            };
            store.add_user(&user).await?;
            render(&output, &user, || {
                format!(
                    "added user {id} ({}) to company {company} with calls access {calls_access}\n",
                    user.email_address
                )
            })
        }
        UserCommand::List { company, output } => {
            require_company(store, company).await?;
            let users = store.users(company).await?;
            render(&output, &users, || {
                let rows = users.iter().map(|u| {
                    vec![
                        u.id.to_string(),
                        u.calls_access.to_string(),
                        u.email_address.clone(),
                    ]
                });
                table(&["ID", "CALLS ACCESS", "EMAIL"], rows, "no users")
            })
        }
        UserCommand::SetAccess {
            company,
            id,
            calls_access,
            output,
        } => {
            require_company(store, company).await?;
            store.set_calls_access(company, id, calls_access).await?;
            render(
                &output,
                &json!({"company": company, "id": id, "callsAccess": calls_access}),
                || format!("user {id} of company {company} now has calls access {calls_access}\n"),
            )
        }
    }
}

async fn call(command: CallCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        CallCommand::Add {
            company,
            id,
            title,
            primary_user,
            mut participants,
            output,
        } => {
            require_company(store, company).await?;
            let mut seen = std::collections::HashSet::new();
            participants.retain(|p| seen.insert(*p));
            let call = Call {
                company,
                id,
                title: title.filter(|t| !t.trim().is_empty()),
                primary_user_id: primary_user,
                participant_ids: participants,
            };
            store.add_call(&call).await?;
            render(&output, &call, || {
                format!(
                    "added call {id} to company {company} (primary user {primary_user}, participants: {})\n",
                    id_list(&call.participant_ids)
                )
            })
        }
        CallCommand::List { company, output } => {
            require_company(store, company).await?;
            let calls = store.calls(company).await?;
            render(&output, &calls, || {
                let rows = calls.iter().map(|c| {
                    vec![
                        c.id.to_string(),
                        c.primary_user_id.to_string(),
                        id_list(&c.participant_ids),
                        c.title.clone().unwrap_or_else(|| "-".to_owned()),
                    ]
                });
                table(
                    &["ID", "PRIMARY USER", "PARTICIPANTS", "TITLE"],
                    rows,
                    "no calls",
                )
            })
        }
    }
}

async fn share(command: ShareCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        ShareCommand::Add {
            company,
            call,
            user,
            output,
        } => {
            require_company(store, company).await?;
            store.add_share(company, call, user).await?;
            render(
                &output,
                &json!({"company": company, "callId": call, "userId": user, "shared": true}),
                || format!("shared call {call} with user {user}\n"),
            )
        }
        ShareCommand::Remove {
            company,
            call,
            user,
            output,
        } => {
            require_company(store, company).await?;
            // Removing a share that is not there is most likely a mistyped
            // id, which the operator should hear about.
            if !store.remove_share(company, call, user).await? {
                bail!(
                    "call \"{call}\" is not shared with user \"{user}\" in company \"{company}\""
                );
            }
            render(
                &output,
                &json!({"company": company, "callId": call, "userId": user, "shared": false}),
                || format!("call {call} is no longer shared with user {user}\n"),
            )
        }
    }
}

/// One user who can open a call, and every route that lets them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Access {
    user_id: UserId,
    email_address: Option<String>,
    routes: Vec<String>,
}

async fn grants(
    company: CompanyId,
    call: CallId,
    output: &OutputArgs,
    store: &dyn Store,
) -> anyhow::Result<String> {
    require_company(store, company).await?;
    let facts = store.call_access(company, call).await?;
    let emails: BTreeMap<UserId, String> = store
        .users(company)
        .await?
        .into_iter()
        .map(|u| (u.id, u.email_address))
        .collect();

    let mut routes: BTreeMap<UserId, Vec<String>> = BTreeMap::new();
    let mut add = |users: &[UserId], route: &dyn Fn(UserId) -> String| {
        for user in users {
            routes.entry(*user).or_default().push(route(*user));
        }
    };
    add(&facts.api_grants, &|_| "api grant".to_owned());
    add(&facts.shares, &|_| "shared".to_owned());
    add(&facts.profile_all, &|_| "profile: all".to_owned());
    let primary = facts.call.primary_user_id;
    add(&facts.profile_own, &|user| {
        let why = if user == primary {
            "primary user"
        } else {
            "participant"
        };
        format!("profile: own ({why})")
    });

    let users: Vec<Access> = routes
        .into_iter()
        .map(|(user_id, routes)| Access {
            user_id,
            email_address: emails.get(&user_id).cloned(),
            routes,
        })
        .collect();
    render(
        output,
        &json!({"company": company, "call": facts.call, "users": users}),
        || {
            let mut text = format!("call {call} of company {company}");
            if let Some(title) = &facts.call.title {
                // Writing to a String cannot fail.
                let _ = write!(text, " \"{title}\"");
            }
            text.push('\n');
            let rows = users.iter().map(|a| {
                vec![
                    a.user_id.to_string(),
                    a.email_address.clone().unwrap_or_else(|| "-".to_owned()),
                    a.routes.join(", "),
                ]
            });
            text + &table(
                &["USER", "EMAIL", "ROUTES"],
                rows,
                "nobody can open this call",
            )
        },
    )
}

// --- seeds ---

fn load_seed(path: &Path) -> anyhow::Result<Seed> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read {}: {}", path.display(), io_reason(&e)))?;
    Seed::parse(&text).map_err(|messages| rejected(path, &messages))
}

/// Prints every problem of a seed, one a line, and returns the error that
/// ends the command.
fn rejected(path: &Path, messages: &[String]) -> anyhow::Error {
    let mut stderr = std::io::stderr().lock();
    for message in messages {
        // Nothing sensible is left to do if stderr itself is gone.
        let _ = writeln!(stderr, "{}: {message}", path.display());
    }
    anyhow!("{} was rejected; nothing was written", path.display())
}

/// An I/O error in the house style: lowercase, without the OS error number.
fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::InvalidData => "the file is not UTF-8 text".to_owned(),
        _ => {
            let text = error.to_string();
            let text = match text.find(" (os error") {
                Some(cut) => &text[..cut],
                None => text.as_str(),
            };
            let mut chars = text.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect()
            })
        }
    }
}

// --- checks ---

/// Listing or changing the entities of a company that does not exist would
/// otherwise answer with an empty list or a less direct message.
async fn require_company(store: &dyn Store, id: CompanyId) -> anyhow::Result<Company> {
    store
        .companies()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| anyhow!("company \"{id}\" does not exist"))
}

fn check_email(email: &str) -> anyhow::Result<()> {
    if email.trim().is_empty() || !email.contains('@') || email.chars().any(char::is_whitespace) {
        bail!("{email:?} is not an email address");
    }
    Ok(())
}

/// `--expires`: an RFC 3339 time, or a duration from now such as `90d`.
pub fn parse_expiry(text: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    let at = match Timestamp::parse_rfc3339(text) {
        Ok(at) => at,
        Err(_) => {
            let duration = humantime::parse_duration(text).map_err(|_| {
                anyhow!(
                    "{text:?} is not an expiry (use an RFC 3339 time such as \
                     2030-01-01T00:00:00Z or a duration such as 90d or 12h)"
                )
            })?;
            let seconds = i64::try_from(duration.as_secs())
                .map_err(|_| anyhow!("{text:?} is too far in the future"))?;
            now.plus_seconds(seconds)
        }
    };
    if at <= now {
        bail!("{text:?} is not in the future; an expiry must be a later time");
    }
    Ok(at)
}

// --- output ---

fn render<T: Serialize + ?Sized>(
    output: &OutputArgs,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    if output.json {
        Ok(serde_json::to_string_pretty(value)? + "\n")
    } else {
        Ok(text())
    }
}

/// Writes the output; a closed pipe (`| head`) ends the command quietly
/// instead of panicking the way `print!` would.
fn emit(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow!("cannot write the output: {}", io_reason(&e)))
        }
        _ => Ok(()),
    }
}

/// Left-aligned columns two spaces apart; the last column is not padded, so
/// free text (names, titles) can sit there without trailing blanks.
fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>, empty: &str) -> String {
    let rows: Vec<Vec<String>> = rows.into_iter().collect();
    if rows.is_empty() {
        return format!("{empty}\n");
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let last = row.len().saturating_sub(1);
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let pad = width - cell.chars().count();
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        text.push('\n');
    }
    text
}

fn limit(limit: Limit) -> String {
    match limit {
        Limit::Default => "default".to_owned(),
        Limit::Off => "off".to_owned(),
        Limit::Max(n) => n.to_string(),
    }
}

fn scope_list(scopes: Option<&[Scope]>) -> String {
    match scopes {
        None => "all".to_owned(),
        Some(scopes) => scopes
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn expiry(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "never".to_owned(), |t| t.to_string())
}

fn status(revoked_at: Option<Timestamp>, expires_at: Option<Timestamp>, now: Timestamp) -> String {
    match (revoked_at, expires_at) {
        (Some(at), _) => format!("revoked {at}"),
        (None, Some(at)) if at <= now => "expired".to_owned(),
        _ => "active".to_owned(),
    }
}

fn revoked(what: &str, name: &str, earlier: Option<Timestamp>) -> String {
    match earlier {
        Some(at) => format!("{what} {name} was already revoked at {at}\n"),
        None => format!("revoked {what} {name}\n"),
    }
}

fn id_list(ids: &[UserId]) -> String {
    if ids.is_empty() {
        return "-".to_owned();
    }
    ids.iter()
        .map(UserId::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn expiry_accepts_times_and_durations() {
        let now = at("2025-01-01T00:00:00Z");
        assert_eq!(
            parse_expiry("2030-01-01T00:00:00Z", now).unwrap(),
            at("2030-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_expiry("90d", now).unwrap(),
            now.plus_seconds(90 * 86_400)
        );
        assert_eq!(
            parse_expiry("12h", now).unwrap(),
            now.plus_seconds(12 * 3_600)
        );
    }

    #[test]
    fn expiry_refuses_the_past_and_nonsense() {
        let now = at("2025-01-01T00:00:00Z");
        let past = parse_expiry("2020-01-01T00:00:00Z", now)
            .unwrap_err()
            .to_string();
        assert_eq!(
            past,
            "\"2020-01-01T00:00:00Z\" is not in the future; an expiry must be a later time"
        );
        assert!(parse_expiry("0s", now).is_err());
        let nonsense = parse_expiry("tomorrow", now).unwrap_err().to_string();
        assert!(
            nonsense.starts_with("\"tomorrow\" is not an expiry"),
            "{nonsense}"
        );
    }

    #[test]
    fn tables_align_columns_and_leave_the_last_unpadded() {
        let text = table(
            &["ID", "NAME"],
            vec![
                vec!["1".to_owned(), "Acme".to_owned()],
                vec!["1000".to_owned(), "B".to_owned()],
            ],
            "none",
        );
        assert_eq!(text, "ID    NAME\n1     Acme\n1000  B\n");
        assert_eq!(table(&["ID"], Vec::new(), "no rows"), "no rows\n");
    }

    #[test]
    fn key_status_shows_revocation_before_expiry() {
        let now = at("2025-01-01T00:00:00Z");
        assert_eq!(status(None, None, now), "active");
        assert_eq!(
            status(None, Some(at("2024-01-01T00:00:00Z")), now),
            "expired"
        );
        assert_eq!(
            status(
                Some(at("2024-06-01T00:00:00Z")),
                Some(at("2024-01-01T00:00:00Z")),
                now
            ),
            "revoked 2024-06-01T00:00:00Z"
        );
    }
}
