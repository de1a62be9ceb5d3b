//! `company create | list | set-rate-limit`.

use callaccess_domain::{RateLimit, Store};

use super::output::{limit, listing, render};
use crate::cli::CompanyCommand;
use crate::ops::directory;

pub(super) async fn run(command: CompanyCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        CompanyCommand::Create { name, id, output } => {
            let company = directory::create_company(store, &name, id, RateLimit::default()).await?;
            render(&output, &company, || {
                format!("created company {} \"{}\"\n", company.id, company.name)
            })
        }
        CompanyCommand::List { output } => {
            let companies = store.companies().await?;
            let headers = ["ID", "PER SECOND", "PER DAY", "CREATED", "NAME"];
            listing(&output, &companies, &headers, "no companies", |c| {
                vec![
                    c.id.to_string(),
                    limit(c.rate_limit.per_second),
                    limit(c.rate_limit.per_day),
                    c.created_at.to_string(),
                    c.name.clone(),
                ]
            })
        }
        CompanyCommand::SetRateLimit {
            company,
            per_second,
            per_day,
            output,
        } => {
            let updated = directory::set_rate_limit(
                store,
                company,
                per_second,
                per_day,
                "nothing to change: give --per-second, --per-day or both",
            )
            .await?;
            render(&output, &updated, || {
                format!(
                    "company {} now allows {} per second and {} per day\n",
                    updated.id,
                    limit(updated.rate_limit.per_second),
                    limit(updated.rate_limit.per_day)
                )
            })
        }
    }
}
