//! `user add | list | set-access`: users and their permission profile's
//! call access.

use anyhow::bail;
use serde_json::json;

use callaccess_domain::{Store, User};

use super::output::{listing, render};
use super::require_company;
use crate::cli::UserCommand;

pub(super) async fn run(command: UserCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        UserCommand::Add {
            company,
            id,
            email,
            calls_access,
            output,
        } => {
            require_company(store, company).await?;
            check_email(&email)?;
            let user = User {
                company,
                id,
                email_address: email,
                calls_access,
            };
            store.add_user(&user).await?;
            render(&output, &user, || {
                format!(
                    "added user {id} ({}) to company {company} with calls access {calls_access}\n",
                    user.email_address
                )
            })
        }
        UserCommand::List { company, output } => {
            require_company(store, company).await?;
            let users = store.users(company).await?;
            let headers = ["ID", "CALLS ACCESS", "EMAIL"];
            listing(&output, &users, &headers, "no users", |u| {
                vec![
                    u.id.to_string(),
                    u.calls_access.to_string(),
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
            require_company(store, company).await?;
            store.set_calls_access(company, id, calls_access).await?;
            render(
                &output,
                &json!({"company": company, "id": id, "callsAccess": calls_access}),
                || format!("user {id} of company {company} now has calls access {calls_access}\n"),
            )
        }
    }
}

fn check_email(email: &str) -> anyhow::Result<()> {
    if email.trim().is_empty() || !email.contains('@') || email.chars().any(char::is_whitespace) {
        bail!("{email:?} is not an email address");
    }
    Ok(())
}
