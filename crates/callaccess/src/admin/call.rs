//! `call add | list | set-private`.

use callaccess_domain::Origin;
use serde_json::json;

use callaccess_domain::{Call, CallDetails, Store};

use super::output::{id_list, listing, or_dash, render};
use super::require_company;
use crate::cli::CallCommand;

pub(super) async fn run(command: CallCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        CallCommand::Add {
            company,
            id,
            title,
            primary_user,
            participants,
            workspace,
            private,
            started,
            direction,
            purpose,
            client_unique_id,
            output,
        } => {
            let call = Call {
                title,
                participant_ids: participants,
                workspace,
                is_private: private,
                started,
                client_unique_id,
                details: CallDetails {
                    direction,
                    purpose,
                    ..CallDetails::default()
                },
                ..Call::new(company, id, primary_user)
            };
            let call = crate::ops::directory::add_call(store, &Origin::cli(), call).await?;
            render(&output, &call, || {
                format!(
                    "added {}call {id} to company {company} (primary user {primary_user}, participants: {})\n",
                    if private { "private " } else { "" },
                    id_list(&call.participant_ids)
                )
            })
        }
        CallCommand::List { company, output } => {
            require_company(store, company).await?;
            let calls = store.calls(company).await?;
            let headers = [
                "ID",
                "WORKSPACE",
                "PRIMARY USER",
                "PARTICIPANTS",
                "PRIVATE",
                "STARTED",
                "TITLE",
            ];
            listing(&output, &calls, &headers, "no calls", |c| {
                vec![
                    c.id.to_string(),
                    or_dash(c.workspace.map(|w| w.to_string()).as_deref()),
                    c.primary_user_id.to_string(),
                    id_list(&c.participant_ids),
                    if c.is_private { "yes" } else { "no" }.to_owned(),
                    or_dash(c.started.map(|t| t.to_string()).as_deref()),
                    or_dash(c.title.as_deref()),
                ]
            })
        }
        CallCommand::SetPrivate {
            company,
            call,
            private,
            output,
        } => {
            require_company(store, company).await?;
            store
                .set_private(&Origin::cli(), company, call, private)
                .await?;
            render(
                &output,
                &json!({"company": company, "id": call, "isPrivate": private}),
                || {
                    if private {
                        format!("call {call} of company {company} is now private: profiles open it only for its primary user and participants\n")
                    } else {
                        format!("call {call} of company {company} is no longer private\n")
                    }
                },
            )
        }
    }
}
