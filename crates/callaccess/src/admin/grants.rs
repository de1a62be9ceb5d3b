//! `grants list`: who can open a call, and by which route.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::json;

use callaccess_domain::{CallId, CompanyId, Store, UserId};

use super::output::{or_dash, render, table};
use super::require_company;
use crate::cli::OutputArgs;

/// One user who can open a call, and every route that lets them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Access {
    user_id: UserId,
    email_address: Option<String>,
    routes: Vec<String>,
}

pub(super) async fn list(
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
                    or_dash(a.email_address.as_deref()),
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
