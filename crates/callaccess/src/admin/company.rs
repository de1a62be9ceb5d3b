//! `company create | list | set-rate-limit`.

use anyhow::bail;

use callaccess_domain::{CompanyId, NewCompany, RateLimit, Store};

use super::output::{limit, listing, render};
use super::require_company;
use crate::cli::CompanyCommand;

pub(super) async fn run(command: CompanyCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        CompanyCommand::Create { name, id, output } => {
            let name = name.trim();
            if name.is_empty() {
                bail!("a company name must not be empty");
            }
            let company = store
                .create_company(&NewCompany {
                    id: id.unwrap_or_else(CompanyId::random),
                    name: name.to_owned(),
                    rate_limit: RateLimit::default(),
                })
                .await?;
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
            let current = require_company(store, company).await?;
            if per_second.is_none() && per_day.is_none() {
                bail!("nothing to change: give --per-second, --per-day or both");
            }
            let wanted = RateLimit {
                per_second: per_second.unwrap_or(current.rate_limit.per_second),
                per_day: per_day.unwrap_or(current.rate_limit.per_day),
            };
            let updated = store.set_rate_limit(company, wanted).await?;
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
