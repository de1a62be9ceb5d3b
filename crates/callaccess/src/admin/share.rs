//! `share add | remove`: access to a call outside the API.

use callaccess_domain::Origin;
use serde_json::json;

use callaccess_domain::Store;

use super::output::render;
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
    if shared {
        crate::ops::directory::add_share(store, &Origin::cli(), company, call, user).await?;
    } else {
        crate::ops::directory::remove_share(store, &Origin::cli(), company, call, user).await?;
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
