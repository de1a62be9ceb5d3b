//! `token create | list | revoke`: bearer tokens.

use callaccess_domain::Origin;
use callaccess_domain::{Store, Timestamp, TokenInfo};

use super::output::{expiry, listing, render, scope_list};
use super::{
    created, credential_headers, credential_row, require_any_company, revoked, with_secret, Listed,
};
use crate::cli::TokenCommand;

pub(super) async fn run(
    command: TokenCommand,
    store: &dyn Store,
    now: Timestamp,
) -> anyhow::Result<String> {
    match command {
        TokenCommand::Create {
            company,
            scopes,
            expires,
            output,
        } => {
            let made = crate::ops::directory::create_token(
                store,
                &Origin::cli(),
                company,
                scopes,
                expires.as_deref(),
                now,
            )
            .await?;
            let (info, token) = (made.info, made.token);
            let shown = with_secret(&info, "token", &token)?;
            render(&output, &shown, || {
                created(
                    &format!("created bearer token {} for company {company}", info.id),
                    &[
                        ("token", &token),
                        ("scopes", &scope_list(Some(&info.scopes))),
                        ("expires", &expiry(info.expires_at)),
                    ],
                    "token",
                )
            })
        }
        TokenCommand::List { company, output } => {
            require_any_company(store, company).await?;
            let tokens = store.tokens(company).await?;
            let headers = credential_headers("ID");
            listing(&output, &tokens, &headers, "no tokens", |t| {
                let listed = Listed {
                    name: &t.id,
                    company: t.company,
                    scopes: Some(&t.scopes),
                    created_at: t.created_at,
                    expires_at: t.expires_at,
                    revoked_at: t.revoked_at,
                };
                credential_row(listed, now)
            })
        }
        TokenCommand::Revoke { id, output } => {
            let earlier = store
                .tokens(None)
                .await?
                .into_iter()
                .find(|t| t.id == id)
                .and_then(|t| t.revoked_at);
            let info: TokenInfo = store.revoke_token(&Origin::cli(), &id, now).await?;
            render(&output, &info, || revoked("token", &info.id, earlier))
        }
    }
}
