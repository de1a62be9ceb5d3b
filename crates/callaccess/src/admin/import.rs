//! `import FILE`: a seed file (docs/SEED.md) applied in one transaction.

use callaccess_domain::Origin;
use std::io::Write as _;
use std::path::Path;

use anyhow::{anyhow, Context as _};

use callaccess_domain::seed::Seed;
use callaccess_domain::{Store, StoreError};

use super::output::{count, io_reason, render};
use crate::cli::ImportArgs;

/// Reads and checks a seed file, before any database is opened.
pub(super) fn load_seed(path: &Path) -> anyhow::Result<Seed> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("cannot read {}: {}", path.display(), io_reason(&e)))?;
    Seed::parse(&text).map_err(|messages| rejected(path, &messages))
}

pub(super) async fn run(
    args: &ImportArgs,
    seed: Option<Seed>,
    store: &dyn Store,
) -> anyhow::Result<String> {
    let seed = seed.context("the seed file was not read")?;
    let summary = match store.apply_seed(&Origin::seed(), &seed).await {
        Ok(summary) => summary,
        Err(StoreError::SeedRejected(messages)) => {
            return Err(rejected(&args.file, &messages));
        }
        Err(e) => return Err(e.into()),
    };
    render(&args.output, &summary, || {
        let counts = [
            count(summary.companies, "company", "companies"),
            count(summary.workspaces, "workspace", "workspaces"),
            count(
                summary.profiles,
                "permission profile",
                "permission profiles",
            ),
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

/// Prints every problem of a seed, one a line, and returns the error that
/// ends the command.
pub(super) fn rejected(path: &Path, messages: &[String]) -> anyhow::Error {
    let mut stderr = std::io::stderr().lock();
    for message in messages {
        // Nothing sensible is left to do if stderr itself is gone.
        let _ = writeln!(stderr, "{}: {message}", path.display());
    }
    anyhow!("{} was rejected; nothing was written", path.display())
}
