//! The admin commands: everything but `serve`, each a short conversation
//! with the store that prints a table or a sentence, or JSON with `--json`.
//!
//! Output is assembled first and written only after the store has closed
//! cleanly, so a secret is never shown for a key that did not become durable.
//!
//! One file per command group: [`company`], [`key`], [`token`],
//! [`admin_token`],
//! [`workspace`], [`profile`], [`user`], [`call`], [`share`], [`grants`],
//! [`audit`] (the audit trail),
//! [`import`] (seed files), [`state`] (export and reset) and [`migrate`];
//! [`output`] renders tables, sentences and JSON. What several groups check
//! or show the same way is here.

mod admin_token;
mod audit;
mod call;
mod company;
mod grants;
mod import;
mod key;
mod migrate;
mod output;
mod profile;
mod share;
mod state;
mod token;
mod user;
mod workspace;

use std::fmt::Write as _;

use anyhow::{anyhow, bail};
use serde::Serialize;
use serde_json::Value;

use callaccess_domain::{CompanyId, Scope, Store, Timestamp};

use crate::cli::{AuditCommand, Command, GrantsCommand};
use crate::config::Settings;

pub use output::emit;

/// Runs one admin command (anything but `serve`) against the database.
pub async fn run(command: Command, settings: &Settings) -> anyhow::Result<()> {
    let database = &settings.database;
    if let Command::Migrate(output) = &command {
        return migrate::run(output, settings).await;
    }
    // A seed is read and checked before the database is opened, so that a
    // bad file does not even create an empty database.
    let seed = match &command {
        Command::Import(args) => Some(import::load_seed(&args.file)?),
        Command::Reset(args) => state::prepare(args)?,
        _ => None,
    };
    let store = crate::db::open_store_with(database, &settings.pool)
        .await
        .map_err(|e| anyhow!("cannot open {database}: {e}"))?;
    // Following the trail prints as entries come, not once at the end.
    if let Command::Audit(AuditCommand::List(args)) = &command {
        if args.follow {
            let followed = audit::follow(args, store.as_ref()).await;
            let closed = store.close().await;
            followed?;
            return closed.map_err(|e| anyhow!("the database did not close cleanly: {e}"));
        }
    }
    let result = execute(command, seed, store.as_ref()).await;
    let closed = store.close().await;
    let output = result?;
    closed.map_err(|e| anyhow!("the database did not close cleanly: {e}"))?;
    emit(&output)
}

async fn execute(
    command: Command,
    seed: Option<callaccess_domain::seed::Seed>,
    store: &dyn Store,
) -> anyhow::Result<String> {
    let now = Timestamp::now();
    match command {
        Command::Serve(_) | Command::Config(_) => bail!("not an admin command"),
        Command::Migrate(_) => bail!("migrate is handled before the store is opened"),
        Command::Import(args) => import::run(&args, seed, store).await,
        Command::Export(args) => state::export(&args, store).await,
        Command::Reset(args) => state::reset(&args, seed, store).await,
        Command::Company(command) => company::run(command, store).await,
        Command::Key(command) => key::run(command, store, now).await,
        Command::Token(command) => token::run(command, store, now).await,
        Command::AdminToken(command) => admin_token::run(command, store, now).await,
        Command::Workspace(command) => workspace::run(command, store).await,
        Command::Profile(command) => profile::run(command, store).await,
        Command::User(command) => user::run(command, store).await,
        Command::Call(command) => call::run(command, store).await,
        Command::Share(command) => share::run(command, store).await,
        Command::Grants(GrantsCommand::List {
            company,
            call,
            output,
        }) => grants::list(company, call, &output, store).await,
        Command::Audit(AuditCommand::List(args)) => audit::list(&args, store).await,
    }
}

// --- checks: the shared operations' (`crate::ops`) ---

pub(crate) use crate::ops::{require_any_company, require_company};

// --- credentials: what API keys and bearer tokens share ---

/// A created credential as `--json` shows it: what is stored, and the
/// secret under `field`, shown this once.
fn with_secret(info: &impl Serialize, field: &str, secret: &str) -> anyhow::Result<Value> {
    let mut shown = serde_json::to_value(info)?;
    if let Value::Object(map) = &mut shown {
        map.insert(field.to_owned(), Value::from(secret));
    }
    Ok(shown)
}

/// The sentence that shows a created credential, its fields aligned, and
/// the warning that `secret` (what it is called) is not shown again.
fn created(heading: &str, fields: &[(&str, &str)], secret: &str) -> String {
    let width = fields
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0)
        + 1;
    let mut text = format!("{heading}\n");
    // Writing to a String cannot fail.
    for (label, value) in fields {
        let _ = writeln!(text, "  {:<width$}  {value}", format!("{label}:"));
    }
    let _ = writeln!(
        text,
        "the {secret} is shown only this once and cannot be shown again; keep it safe"
    );
    text
}

/// One API key or token as `key list` and `token list` show it.
struct Listed<'a> {
    name: &'a str,
    company: CompanyId,
    scopes: Option<&'a [Scope]>,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
}

/// The columns of `key list` and `token list`; `name` heads the first.
fn credential_headers(name: &str) -> [&str; 6] {
    [name, "COMPANY", "SCOPES", "CREATED", "EXPIRES", "STATUS"]
}

fn credential_row(c: Listed<'_>, now: Timestamp) -> Vec<String> {
    vec![
        c.name.to_owned(),
        c.company.to_string(),
        output::scope_list(c.scopes),
        c.created_at.to_string(),
        output::expiry(c.expires_at),
        status(c.revoked_at, c.expires_at, now),
    ]
}

fn status(revoked_at: Option<Timestamp>, expires_at: Option<Timestamp>, now: Timestamp) -> String {
    crate::ops::credential_status(revoked_at, expires_at, now)
}

fn revoked(what: &str, name: &str, earlier: Option<Timestamp>) -> String {
    match earlier {
        Some(at) => format!("{what} {name} was already revoked at {at}\n"),
        None => format!("revoked {what} {name}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
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

    #[test]
    fn created_credentials_align_their_fields() {
        assert_eq!(
            created(
                "created an API key for company 1",
                &[("access key", "AK"), ("secret", "S"), ("scopes", "all")],
                "secret"
            ),
            "created an API key for company 1\n  access key:  AK\n  secret:      S\n  scopes:      all\n\
             the secret is shown only this once and cannot be shown again; keep it safe\n"
        );
        assert_eq!(
            created("t", &[("token", "T"), ("expires", "never")], "token"),
            "t\n  token:    T\n  expires:  never\n\
             the token is shown only this once and cannot be shown again; keep it safe\n"
        );
    }
}
