//! `profile create | update | list | users | assign`: permission profiles, each of
//! one workspace, and who holds them.

use anyhow::{anyhow, bail};
use callaccess_domain::Origin;
use serde_json::{json, Map, Value};

use callaccess_domain::seed::profile_fields;
use callaccess_domain::{
    Caller, CallsAccess, CallsRule, CompanyId, Profile, ProfileId, Store, UserId, UserUpdate,
    WorkspaceId,
};

use super::output::{id_list, listing, render};
use super::require_company;
use crate::cli::ProfileCommand;

pub(super) async fn run(command: ProfileCommand, store: &dyn Store) -> anyhow::Result<String> {
    match command {
        ProfileCommand::Create {
            company,
            workspace,
            id,
            name,
            level,
            team_leads,
            fields,
            output,
        } => {
            require_company(store, company).await?;
            let other = other_fields(fields.as_deref())?;
            let profile = assemble(
                Home {
                    company,
                    workspace,
                    id: id.unwrap_or_else(ProfileId::random),
                },
                &name,
                rule(level, team_leads),
                other,
            )?;
            let created = store
                .create_profile(&Origin::cli(), Caller::verified(company), &profile)
                .await?;
            render(&output, &shown(&created), || {
                format!(
                    "created permission profile {} \"{}\" ({}) in workspace {workspace}\n",
                    created.id, created.name, created.calls.level
                )
            })
        }
        ProfileCommand::Update {
            company,
            profile,
            name,
            level,
            team_leads,
            no_team_leads,
            fields,
            output,
        } => {
            require_company(store, company).await?;
            if name.is_none()
                && level.is_none()
                && team_leads.is_empty()
                && !no_team_leads
                && fields.is_none()
            {
                bail!("nothing to change: give --name, --level, --team-lead, --no-team-leads or --fields");
            }
            let caller = Caller::verified(company);
            let current = store.profile(caller, profile).await?;
            let other = match fields.as_deref() {
                Some(given) => other_fields(Some(given))?,
                None => {
                    let mut kept = current.fields.clone();
                    kept.remove("name");
                    kept.remove("callsAccess");
                    kept
                }
            };
            let leads = if no_team_leads {
                Vec::new()
            } else if team_leads.is_empty() {
                current.calls.team_leads.clone()
            } else {
                team_leads
            };
            let changed = assemble(
                Home {
                    company,
                    workspace: current.workspace,
                    id: current.id,
                },
                name.as_deref().unwrap_or(&current.name),
                rule(level.unwrap_or(current.calls.level), leads),
                other,
            )?;
            let updated = store
                .update_profile(&Origin::cli(), caller, &changed)
                .await?;
            render(&output, &shown(&updated), || {
                format!(
                    "permission profile {} is now \"{}\" ({}{})\n",
                    updated.id,
                    updated.name,
                    updated.calls.level,
                    team_lead_note(&updated.calls)
                )
            })
        }
        ProfileCommand::List {
            company,
            workspace,
            output,
        } => {
            require_company(store, company).await?;
            let profiles = store.profiles(Caller::verified(company), workspace).await?;
            let shown: Vec<Value> = profiles.iter().map(shown).collect();
            let text = || {
                super::output::table(
                    &["ID", "LEVEL", "TEAM LEADS", "NAME"],
                    profiles.iter().map(|p| {
                        vec![
                            p.id.to_string(),
                            p.calls.level.to_string(),
                            id_list(&p.calls.team_leads),
                            p.name.clone(),
                        ]
                    }),
                    "no permission profiles",
                )
            };
            render(&output, &shown, text)
        }
        ProfileCommand::Users {
            company,
            profile,
            output,
        } => {
            require_company(store, company).await?;
            let users = store
                .profile_users(Caller::verified(company), profile)
                .await?;
            listing(
                &output,
                &users,
                &["ID", "EMAIL"],
                "nobody holds this profile",
                |u| vec![u.id.to_string(), u.email_address.clone()],
            )
        }
        ProfileCommand::Assign {
            company,
            user,
            profile,
            output,
        } => {
            // The change names a profile, so "nothing to change" is never shown.
            let change = UserUpdate {
                profiles: vec![profile],
                ..UserUpdate::default()
            };
            crate::ops::directory::update_user(
                store,
                &Origin::cli(),
                company,
                user,
                &change,
                "nothing to change",
            )
            .await?;
            let held = store.profile(Caller::verified(company), profile).await?;
            render(
                &output,
                &json!({"company": company, "userId": user, "profile": shown(&held)}),
                || {
                    format!(
                        "user {user} now holds permission profile {profile} \"{}\" ({}) in workspace {}\n",
                        held.name, held.calls.level, held.workspace
                    )
                },
            )
        }
    }
}

/// Where a profile lives and what it is called by.
struct Home {
    company: CompanyId,
    workspace: WorkspaceId,
    id: ProfileId,
}

fn rule(level: CallsAccess, mut team_leads: Vec<UserId>) -> CallsRule {
    team_leads.sort_unstable();
    team_leads.dedup();
    CallsRule { level, team_leads }
}

/// `--fields`: Gong's other profile fields, checked as a seed's are.
fn other_fields(given: Option<&str>) -> anyhow::Result<Map<String, Value>> {
    let Some(text) = given else {
        return Ok(Map::new());
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|e| anyhow!("--fields is not JSON: {}", e.to_string().replace('`', "'")))?;
    let fields =
        profile_fields(&value).map_err(|problems| anyhow!("--fields: {}", problems.join("; ")))?;
    if let Some(taken) = ["name", "callsAccess"]
        .into_iter()
        .find(|key| fields.contains_key(*key))
    {
        bail!("--fields cannot set {taken}; give --name, --level and --team-lead instead");
    }
    Ok(fields)
}

/// The profile as stored: the fields as given, with the name and
/// `callsAccess` the flags say.
fn assemble(
    home: Home,
    name: &str,
    calls: CallsRule,
    mut fields: Map<String, Value>,
) -> anyhow::Result<Profile> {
    let name = name.trim();
    if name.is_empty() {
        bail!("a permission profile name must not be empty");
    }
    fields.insert("name".to_owned(), Value::from(name));
    fields.insert(
        "callsAccess".to_owned(),
        json!({
            "permissionLevel": calls.level,
            "teamLeadIds": calls.team_leads.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
    );
    Ok(Profile {
        company: home.company,
        workspace: home.workspace,
        id: home.id,
        name: name.to_owned(),
        calls,
        fields,
    })
}

/// A profile as `--json` shows it: Gong's `PermissionProfileDTO`, with the
/// workspace it belongs to.
fn shown(profile: &Profile) -> Value {
    let mut dto = profile.to_dto();
    if let Value::Object(map) = &mut dto {
        map.insert(
            "workspaceId".to_owned(),
            Value::from(profile.workspace.to_string()),
        );
    }
    dto
}

fn team_lead_note(calls: &CallsRule) -> String {
    if calls.team_leads.is_empty() {
        String::new()
    } else {
        format!(", team leads {}", id_list(&calls.team_leads))
    }
}
