//! `user add | list | set-access | set-manager`: users, their call access
//! in the default workspace, and the org chart.

use callaccess_domain::Origin;
use serde_json::json;

use callaccess_domain::{Store, User, UserUpdate};

use super::output::{listing, or_dash, render};
use super::require_company;
use crate::cli::UserCommand;

/// Never shown: each command below changes one field.
const NOTHING: &str = "nothing to change";

pub(super) async fn run(command: UserCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        UserCommand::Add {
            company,
            id,
            email,
            calls_access,
            first_name,
            last_name,
            title,
            inactive,
            output,
        } => {
            let user = User {
                calls_access,
                first_name,
                last_name,
                title,
                active: !inactive,
                ..User::new(company, id, email)
            };
            let user = crate::ops::directory::add_user(store, &Origin::cli(), user).await?;
            render(&output, &user, || {
                let access = match calls_access {
                    Some(level) => format!("calls access {level}"),
                    None => "no profile".to_owned(),
                };
                format!(
                    "added user {id} ({}) to company {company} with {access}\n",
                    user.email_address
                )
            })
        }
        UserCommand::List { company, output } => {
            require_company(store, company).await?;
            let users = store.users(company).await?;
            let headers = ["ID", "CALLS ACCESS", "MANAGER", "ACTIVE", "EMAIL"];
            listing(&output, &users, &headers, "no users", |u| {
                vec![
                    u.id.to_string(),
                    u.calls_access
                        .map_or_else(|| "-".to_owned(), |level| level.to_string()),
                    or_dash(u.manager_id.map(|m| m.to_string()).as_deref()),
                    if u.active { "yes" } else { "no" }.to_owned(),
                    u.email_address.clone(),
                ]
            })
        }
        UserCommand::SetAccess {
            company,
            id,
            calls_access,
            output,
        } => {
            let change = UserUpdate {
                calls_access: Some(calls_access),
                ..UserUpdate::default()
            };
            crate::ops::directory::update_user(
                store,
                &Origin::cli(),
                company,
                id,
                &change,
                NOTHING,
            )
            .await?;
            render(
                &output,
                &json!({"company": company, "id": id, "callsAccess": calls_access}),
                || format!("user {id} of company {company} now has calls access {calls_access}\n"),
            )
        }
        UserCommand::SetManager {
            company,
            user,
            manager,
            none: _,
            output,
        } => {
            // clap takes either a manager or --none, never both.
            let change = UserUpdate {
                manager: Some(manager),
                ..UserUpdate::default()
            };
            crate::ops::directory::update_user(
                store,
                &Origin::cli(),
                company,
                user,
                &change,
                NOTHING,
            )
            .await?;
            render(
                &output,
                &json!({"company": company, "id": user, "managerId": manager}),
                || match manager {
                    Some(manager) => {
                        format!("user {user} of company {company} now reports to {manager}\n")
                    }
                    None => format!("user {user} of company {company} has no manager now\n"),
                },
            )
        }
    }
}
