//! `workspace create | list`.

use callaccess_domain::{Caller, Store};

use super::output::{listing, or_dash, render};
use super::require_company;
use crate::cli::WorkspaceCommand;

pub(super) async fn run(command: WorkspaceCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        WorkspaceCommand::Create {
            company,
            id,
            name,
            description,
            output,
        } => {
            let workspace =
                crate::ops::directory::create_workspace(store, company, id, &name, description)
                    .await?;
            render(&output, &workspace, || {
                format!(
                    "created workspace {} \"{}\" in company {company}\n",
                    workspace.id, workspace.name
                )
            })
        }
        WorkspaceCommand::List { company, output } => {
            require_company(store, company).await?;
            let workspaces = store.workspaces(Caller::verified(company)).await?;
            let headers = ["ID", "NAME", "DESCRIPTION"];
            listing(&output, &workspaces, &headers, "no workspaces", |w| {
                vec![
                    w.id.to_string(),
                    w.name.clone(),
                    or_dash(w.description.as_deref()),
                ]
            })
        }
    }
}
