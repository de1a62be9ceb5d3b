//! `workspace create | list`.

use anyhow::bail;

use callaccess_domain::{Caller, Store, Workspace, WorkspaceId};

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
            require_company(store, company).await?;
            let name = name.trim();
            if name.is_empty() {
                bail!("a workspace name must not be empty");
            }
            let workspace = store
                .create_workspace(&Workspace {
                    company,
                    id: id.unwrap_or_else(WorkspaceId::random),
                    name: name.to_owned(),
                    description: description.filter(|d| !d.trim().is_empty()),
                })
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
