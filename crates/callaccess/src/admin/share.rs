//! `share add | remove`: access to a call outside the API.

use anyhow::bail;
use serde_json::json;

use callaccess_domain::Store;

use super::output::render;
use super::require_company;
use crate::cli::ShareCommand;

pub(super) async fn run(command: ShareCommand, store: &dyn Store) -> anyhow::Result<String> {
    let (shared, company, call, user, output) = match command {
        ShareCommand::Add {
            company,
            call,
            user,
            output,
        } => (true, company, call, user, output),
        ShareCommand::Remove {
            company,
            call,
            user,
            output,
        } => (false, company, call, user, output),
    };
    require_company(store, company).await?;
    if shared {
        store.add_share(company, call, user).await?;
    } else if !store.remove_share(company, call, user).await? {
        // Removing a share that is not there is most likely a mistyped id,
        // which the operator should hear about.
        bail!("call \"{call}\" is not shared with user \"{user}\" in company \"{company}\"");
    }
    render(
        &output,
        &json!({"company": company, "callId": call, "userId": user, "shared": shared}),
        || {
            if shared {
                format!("shared call {call} with user {user}\n")
            } else {
                format!("call {call} is no longer shared with user {user}\n")
            }
        },
    )
}
