//! `grants list`: who can open a call, and by which route — an API grant
//! with when it was recorded; for a profile route, the profile, its level
//! and the chain of managers that connects the two users — as the admin
//! API's `…/calls/{callId}/viewers` lists them (the same store method).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{json, Value};

use callaccess_domain::access::Route;
use callaccess_domain::{Call, CallId, CallsAccess, CompanyId, Store, UserId};

use super::output::{or_dash, render, table};
use super::require_company;
use crate::cli::OutputArgs;

/// One user who can open a call, and every route that lets them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Access {
    user_id: UserId,
    email_address: Option<String>,
    /// Each route as the store names it, with `text`: how the table
    /// words it.
    routes: Vec<Value>,
    #[serde(skip)]
    texts: Vec<String>,
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

    let users: Vec<Access> = facts
        .viewers
        .iter()
        .map(|viewer| {
            let texts: Vec<String> = viewer
                .routes
                .iter()
                .map(|route| describe(route, &facts.call, viewer.user))
                .collect();
            let routes = viewer
                .routes
                .iter()
                .zip(&texts)
                .map(|(route, text)| {
                    let mut shown = serde_json::to_value(route).unwrap_or(Value::Null);
                    if let Value::Object(map) = &mut shown {
                        map.insert("text".to_owned(), Value::from(text.as_str()));
                    }
                    shown
                })
                .collect();
            Access {
                user_id: viewer.user,
                email_address: emails.get(&viewer.user).cloned(),
                routes,
                texts,
            }
        })
        .collect();
    render(
        output,
        &json!({"company": company, "call": facts.call, "users": users}),
        || {
            let mut text = format!("call {call} of company {company}");
            // Writing to a String cannot fail.
            if let Some(title) = &facts.call.title {
                let _ = write!(text, " \"{title}\"");
            }
            if let Some(workspace) = facts.call.workspace {
                let _ = write!(text, " in workspace {workspace}");
            }
            if facts.call.is_private {
                text.push_str(", private");
            }
            text.push('\n');
            let rows = users.iter().map(|a| {
                vec![
                    a.user_id.to_string(),
                    or_dash(a.email_address.as_deref()),
                    a.texts.join("; "),
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

/// One route in words: `api grant`, `shared`, or the profile, its level,
/// and why it opens the call — the user is one of its parties, the level
/// is `all`, or the chain of managers from the call's primary user.
fn describe(route: &Route, call: &Call, user: UserId) -> String {
    match route {
        // When it was granted is in the JSON (`grantedAt`); the table
        // keeps one word a route.
        Route::ApiGrant(_) => "api grant".to_owned(),
        Route::Shared => "shared".to_owned(),
        Route::Profile {
            name,
            level,
            chain,
            team_of,
            ..
        } => {
            let mut text = format!("profile {name:?} ({level})");
            if !chain.is_empty() {
                let path: Vec<String> = chain.iter().map(ToString::to_string).collect();
                // Writing to a String cannot fail.
                let _ = write!(text, " via {}", path.join(" → "));
                if let (CallsAccess::ManagersTeam, Some(lead)) = (level, team_of) {
                    let _ = write!(text, ", the team of {lead}");
                }
            } else if user == call.primary_user_id {
                text.push_str(" as primary user");
            } else if call.participant_ids.contains(&user) {
                text.push_str(" as participant");
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callaccess_domain::access::Grant;
    use callaccess_domain::{ProfileId, Timestamp};

    fn u(n: i64) -> UserId {
        UserId::from_i64(n).unwrap()
    }

    #[test]
    fn routes_are_worded_with_their_profile_and_chain() {
        let mut call = Call::new(
            CompanyId::from_i64(1).unwrap(),
            CallId::from_i64(9).unwrap(),
            u(7),
        );
        call.participant_ids = vec![u(8)];
        let profile = |name: &str, level, chain: &[i64], team_of: Option<i64>| Route::Profile {
            profile: ProfileId::from_i64(3).unwrap(),
            name: name.to_owned(),
            level,
            chain: chain.iter().copied().map(u).collect(),
            team_of: team_of.map(u),
        };
        let cases = [
            (
                Route::ApiGrant(Grant::at(Timestamp::from_unix(1_800_000_000))),
                1,
                "api grant",
            ),
            (Route::Shared, 1, "shared"),
            (
                profile("Managers", CallsAccess::ReportToThem, &[7, 6, 1], None),
                1,
                "profile \"Managers\" (report-to-them) via 7 → 6 → 1",
            ),
            (
                profile("Leads", CallsAccess::ManagersTeam, &[7, 6], Some(6)),
                2,
                "profile \"Leads\" (managers-team) via 7 → 6, the team of 6",
            ),
            (
                profile("Calls access: own", CallsAccess::Own, &[], None),
                7,
                "profile \"Calls access: own\" (own) as primary user",
            ),
            (
                profile("Reps", CallsAccess::Own, &[], None),
                8,
                "profile \"Reps\" (own) as participant",
            ),
            (
                profile("Everyone", CallsAccess::All, &[], None),
                1,
                "profile \"Everyone\" (all)",
            ),
        ];
        for (route, user, text) in cases {
            assert_eq!(describe(&route, &call, u(user)), text);
        }
    }
}
