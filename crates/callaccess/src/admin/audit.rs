//! `audit list`: the audit trail, filtered, as a table or JSON; with
//! `--follow`, new entries as they commit, until interrupted.

use std::time::Duration;

use serde_json::Value;

use callaccess_domain::{AuditEntry, AuditFilter, AuditOrder, AuditPage, Store};

use super::output::{emit, or_dash, table};
use crate::cli::AuditListArgs;

/// Entries a listing shows unless `--limit` says.
const DEFAULT_LIMIT: usize = 100;

/// How long `--follow` waits for a change before it looks anyway.
const FOLLOW_POLL: Duration = Duration::from_secs(1);

fn filter_of(args: &AuditListArgs) -> AuditFilter {
    AuditFilter {
        company: args.company,
        call: args.call,
        user: args.user,
        actor: args.actor.clone(),
        action: args.action,
        since: args.since,
        until: args.until,
    }
}

fn limit_of(args: &AuditListArgs) -> usize {
    args.limit
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_LIMIT)
}

const HEADERS: [&str; 8] = [
    "SEQ", "AT", "COMPANY", "ACTOR", "ACTION", "CALL", "USER", "CHANGE",
];

fn row(entry: &AuditEntry) -> Vec<String> {
    let shown = |v: &Option<Value>| v.as_ref().map_or_else(|| "-".to_owned(), Value::to_string);
    let change = match (&entry.before, &entry.after) {
        (None, None) => "-".to_owned(),
        (None, after) => shown(after),
        (before, after) => format!("{} -> {}", shown(before), shown(after)),
    };
    vec![
        entry.seq.to_string(),
        entry.at.to_string(),
        or_dash(entry.company.map(|c| c.to_string()).as_deref()),
        entry.actor.clone(),
        entry.action.to_string(),
        or_dash(entry.call.map(|c| c.to_string()).as_deref()),
        or_dash(entry.user.map(|u| u.to_string()).as_deref()),
        change,
    ]
}

/// One page, as the command prints it.
pub(super) async fn list(args: &AuditListArgs, store: &dyn Store) -> anyhow::Result<String> {
    let order = if args.newest {
        AuditOrder::Newest
    } else {
        AuditOrder::Oldest
    };
    let page = AuditPage {
        order,
        from: args.after,
        limit: limit_of(args),
    };
    let entries = store.audit(&filter_of(args), page).await?;
    if args.output.json {
        return Ok(serde_json::to_string_pretty(&entries)? + "\n");
    }
    Ok(table(&HEADERS, entries.iter().map(row), "no audit entries"))
}

/// `--follow`: the entries after `--after` (or from now), printed as they
/// commit; JSON as one entry per line. Runs until interrupted.
pub(super) async fn follow(args: &AuditListArgs, store: &dyn Store) -> anyhow::Result<()> {
    let filter = filter_of(args);
    let mut last = match args.after {
        Some(after) => after,
        None => crate::changes::newest(store).await?,
    };
    let mut left = args.limit;
    if !args.output.json {
        emit(&(HEADERS.join("  ") + "\n"))?;
    }
    loop {
        let entries = tokio::select! {
            entries = store.changes_after(last, 500) => entries?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        if entries.is_empty() {
            tokio::select! {
                waited = store.wait_for_changes(last, FOLLOW_POLL) => waited?,
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
            continue;
        }
        let mut text = String::new();
        for entry in &entries {
            last = entry.seq;
            if !filter.selects(entry) {
                continue;
            }
            if args.output.json {
                text.push_str(&serde_json::to_string(entry)?);
            } else {
                text.push_str(&row(entry).join("  "));
            }
            text.push('\n');
            if let Some(n) = left.as_mut() {
                *n -= 1;
                if *n == 0 {
                    return emit(&text);
                }
            }
        }
        emit(&text)?;
    }
}
