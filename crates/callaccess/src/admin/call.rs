//! `call add | list`.

use callaccess_domain::{Call, Store};

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
            mut participants,
            output,
        } => {
            require_company(store, company).await?;
            let mut seen = std::collections::HashSet::new();
            participants.retain(|p| seen.insert(*p));
            let call = Call {
                company,
                id,
                title: title.filter(|t| !t.trim().is_empty()),
                primary_user_id: primary_user,
                participant_ids: participants,
            };
            store.add_call(&call).await?;
            render(&output, &call, || {
                format!(
                    "added call {id} to company {company} (primary user {primary_user}, participants: {})\n",
                    id_list(&call.participant_ids)
                )
            })
        }
        CallCommand::List { company, output } => {
            require_company(store, company).await?;
            let calls = store.calls(company).await?;
            let headers = ["ID", "PRIMARY USER", "PARTICIPANTS", "TITLE"];
            listing(&output, &calls, &headers, "no calls", |c| {
                vec![
                    c.id.to_string(),
                    c.primary_user_id.to_string(),
                    id_list(&c.participant_ids),
                    or_dash(c.title.as_deref()),
                ]
            })
        }
    }
}
