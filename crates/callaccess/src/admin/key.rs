//! `key create | list | revoke`: API keys, for Basic authentication.

use callaccess_domain::Origin;
use callaccess_domain::{ApiKeyInfo, Store, Timestamp};

use super::output::{expiry, listing, render, scope_list};
use super::{
    created, credential_headers, credential_row, require_any_company, revoked, with_secret, Listed,
};
use crate::cli::KeyCommand;

pub(super) async fn run(
    command: KeyCommand,
    store: &dyn Store,
    now: Timestamp,
) -> anyhow::Result<String> {
    match command {
        KeyCommand::Create {
            company,
            expires,
            scopes,
            output,
        } => {
            let made = crate::ops::directory::create_api_key(
                store,
                &Origin::cli(),
                company,
                scopes,
                expires.as_deref(),
                now,
            )
            .await?;
            let (info, key_secret) = (made.info, made.secret);
            let access_key = info.access_key.clone();
            let shown = with_secret(&info, "accessKeySecret", &key_secret)?;
            render(&output, &shown, || {
                created(
                    &format!("created an API key for company {company}"),
                    &[
                        ("access key", &access_key),
                        ("secret", &key_secret),
                        ("scopes", &scope_list(info.scopes.as_deref())),
                        ("expires", &expiry(info.expires_at)),
                    ],
                    "secret",
                )
            })
        }
        KeyCommand::List { company, output } => {
            require_any_company(store, company).await?;
            let keys = store.api_keys(company).await?;
            let headers = credential_headers("ACCESS KEY");
            listing(&output, &keys, &headers, "no API keys", |k| {
                let listed = Listed {
                    name: &k.access_key,
                    company: k.company,
                    scopes: k.scopes.as_deref(),
                    created_at: k.created_at,
                    expires_at: k.expires_at,
                    revoked_at: k.revoked_at,
                };
                credential_row(listed, now)
            })
        }
        KeyCommand::Revoke { access_key, output } => {
            // Looked up first: revoking again keeps the first time, which
            // within the same second is indistinguishable from a new one.
            let earlier = store.api_key(&access_key).await?.and_then(|k| k.revoked_at);
            let info: ApiKeyInfo = store
                .revoke_api_key(&Origin::cli(), &access_key, now)
                .await?;
            render(&output, &info, || {
                revoked("API key", &info.access_key, earlier)
            })
        }
    }
}
