//! `admin-token create | list | revoke`: the admin API's tokens.

use callaccess_domain::Origin;
use callaccess_domain::Store;
use callaccess_domain::Timestamp;

use super::output::{expiry, listing, or_dash, render};
use super::{created, revoked, status, with_secret};
use crate::cli::AdminTokenCommand;
use crate::ops::admin_tokens;

pub(super) async fn run(
    command: AdminTokenCommand,
    store: &dyn Store,
    now: Timestamp,
) -> anyhow::Result<String> {
    match command {
        AdminTokenCommand::Create {
            read_only,
            expires,
            note,
            output,
        } => {
            let made = admin_tokens::create(
                store,
                &Origin::cli(),
                read_only,
                expires.as_deref(),
                note.as_deref(),
                now,
            )
            .await?;
            let shown = with_secret(&made.info, "token", &made.token)?;
            let info = &made.info;
            render(&output, &shown, || {
                created(
                    &format!(
                        "created {} admin token {}",
                        if info.read_only {
                            "a read-only"
                        } else {
                            "a full"
                        },
                        info.id
                    ),
                    &[
                        ("token", &made.token),
                        ("access", access(info.read_only)),
                        ("expires", &expiry(info.expires_at)),
                    ],
                    "token",
                )
            })
        }
        AdminTokenCommand::List { output } => {
            let tokens = store.admin_tokens().await?;
            let headers = ["ID", "ACCESS", "CREATED", "EXPIRES", "STATUS", "NOTE"];
            listing(&output, &tokens, &headers, "no admin tokens", |t| {
                vec![
                    t.id.to_string(),
                    access(t.read_only).to_owned(),
                    t.created_at.to_string(),
                    expiry(t.expires_at),
                    status(t.revoked_at, t.expires_at, now),
                    or_dash(t.note.as_deref()),
                ]
            })
        }
        AdminTokenCommand::Revoke { id, output } => {
            let (info, earlier) = admin_tokens::revoke(store, &Origin::cli(), &id, now).await?;
            render(&output, &info, || {
                revoked("admin token", info.id.as_str(), earlier)
            })
        }
    }
}

fn access(read_only: bool) -> &'static str {
    if read_only {
        "read-only"
    } else {
        "full"
    }
}
