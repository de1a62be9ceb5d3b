//! `export` and `reset`: state for tests and operators (control-plane.md
//! §3), the CLI side of `GET /admin/v1/export` and `POST /admin/v1/reset`.
//! The store reads and removes rows; what the document says is
//! `callaccess_domain::seed::export`'s.

use anyhow::bail;
use callaccess_domain::Origin;

use callaccess_domain::seed::{self, Seed};
use callaccess_domain::{Store, StoreError};

use super::import::{load_seed, rejected};
use super::output::{count, render};
use crate::cli::{ExportArgs, ResetArgs};

/// The seed of `reset --seed FILE`, read and checked before the database is
/// opened; a reset without `--yes` is refused before anything else.
pub(super) fn prepare(args: &ResetArgs) -> anyhow::Result<Option<Seed>> {
    if !args.yes {
        bail!(
            "a reset removes {} and cannot be undone; run it again with --yes",
            match args.company {
                Some(company) => format!("company \"{company}\" with everything in it"),
                None => "every company with everything in it (admin tokens stay)".to_owned(),
            }
        );
    }
    args.seed.as_deref().map(load_seed).transpose()
}

/// The document, pretty-printed: a seed file as `import` reads it.
pub(super) async fn export(args: &ExportArgs, store: &dyn Store) -> anyhow::Result<String> {
    let snapshot = store.snapshot(args.company).await?;
    Ok(serde_json::to_string_pretty(&seed::export(&snapshot))? + "\n")
}

pub(super) async fn reset(
    args: &ResetArgs,
    seed: Option<Seed>,
    store: &dyn Store,
) -> anyhow::Result<String> {
    let summary = match store
        .reset(&Origin::cli(), args.company, seed.as_ref())
        .await
    {
        Ok(summary) => summary,
        Err(StoreError::SeedRejected(messages)) => {
            let path = args.seed.as_deref().unwrap_or(std::path::Path::new("seed"));
            return Err(rejected(path, &messages));
        }
        Err(e) => return Err(e.into()),
    };
    render(&args.output, &summary, || {
        let mut text = format!(
            "removed {} ({}, {}); admin tokens were kept\n",
            count(summary.companies, "company", "companies"),
            count(summary.users, "user", "users"),
            count(summary.calls, "call", "calls"),
        );
        if let (Some(seeded), Some(path)) = (summary.seeded, &args.seed) {
            text.push_str(&format!(
                "applied {}: {}, {}, {} created\n",
                path.display(),
                count(seeded.companies, "company", "companies"),
                count(seeded.users, "user", "users"),
                count(seeded.calls, "call", "calls"),
            ));
        }
        text
    })
}
