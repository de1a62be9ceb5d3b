//! Gong's wire shapes: request bodies walked into domain types with
//! field-path messages, and the response bodies under Gong's schema names.

use callaccess_domain::{AccessChange, CallGrants, CallId, UserId};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::ApiError;

/// Stop collecting messages after this many; the first ones are enough.
const MAX_MESSAGES: usize = 50;

/// Gong `BaseResponse`: the body of a successful PUT or DELETE.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BaseResponse {
    /// A reference id generated for this request, to quote to an operator.
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
}

/// Gong `CallsAccessDetailsResponse`: the body of a successful POST.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallsAccessDetailsResponse {
    /// A reference id generated for this request.
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    /// One entry per requested call, in request order.
    pub call_access_list: Vec<CallAccessDetails>,
}

/// Gong `CallAccessDetails`: a call and the users with API access to it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallAccessDetails {
    /// Gong's numeric call id.
    #[schema(value_type = String, example = "7782342274025937895")]
    pub call_id: CallId,
    /// Users with an API grant, ascending by id.
    pub users: Vec<UserAccessDetails>,
}

/// Gong `UserAccessDetails`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAccessDetails {
    /// Gong's numeric user id.
    #[schema(value_type = String, example = "234599484848423")]
    pub user_id: UserId,
}

/// Gong `ErrorResponse`: the body of every error.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    /// A reference id generated for this request.
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    /// What was wrong, for people; the first entry is the main one.
    pub errors: Vec<String>,
}

impl From<CallGrants> for CallAccessDetails {
    fn from(grants: CallGrants) -> Self {
        Self {
            call_id: grants.call,
            users: grants
                .users
                .into_iter()
                .map(|user_id| UserAccessDetails { user_id })
                .collect(),
        }
    }
}

/// Collects field problems until there are enough to stop.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, message: String) {
        if self.0.len() < MAX_MESSAGES {
            self.0.push(message);
        }
    }

    fn into_result<T>(self, value: T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::BadRequest(self.0))
        }
    }
}

fn object(value: &Value) -> Result<&Map<String, Value>, ApiError> {
    value
        .as_object()
        .ok_or_else(|| ApiError::bad_request("request body must be a JSON object"))
}

/// A field that must be present and non-null; `None` after recording why not.
fn required<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
    problems: &mut Problems,
) -> Option<&'a Value> {
    match map.get(key) {
        None | Some(Value::Null) => {
            problems.add(format!("{path}: must not be null"));
            None
        }
        Some(v) => Some(v),
    }
}

fn array<'a>(value: &'a Value, path: &str, problems: &mut Problems) -> Option<&'a Vec<Value>> {
    let found = value.as_array();
    if found.is_none() {
        problems.add(format!("{path}: must be an array"));
    }
    found
}

/// The body of PUT (`CallsUsersAccessAddDto`) and DELETE
/// (`CallsUsersAccessDeleteDto`): `{"callAccessList":[{"callId","userIds"}]}`.
/// A missing, null or empty list is a valid request that changes nothing.
pub fn parse_access_change(body: &Value, max_pairs: usize) -> Result<AccessChange, ApiError> {
    let map = object(body)?;
    let list = match map.get("callAccessList") {
        None | Some(Value::Null) => return Ok(AccessChange::default()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::bad_request("callAccessList: must be an array")),
    };
    // Count before looking at ids, so an oversized request costs little.
    let pairs: usize = list
        .iter()
        .filter_map(|item| item.get("userIds").and_then(Value::as_array).map(Vec::len))
        .sum();
    if pairs > max_pairs {
        return Err(ApiError::bad_request(format!(
            "callAccessList: at most {max_pairs} (call, user) pairs are allowed per request, got {pairs}"
        )));
    }
    let mut problems = Problems::default();
    let mut items = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let path = format!("callAccessList[{i}]");
        let Some(item) = item.as_object() else {
            problems.add(format!("{path}: must be an object"));
            continue;
        };
        let call =
            required(item, "callId", &format!("{path}.callId"), &mut problems).and_then(|v| {
                CallId::from_json(v)
                    .map_err(|e| problems.add(format!("{path}.callId: {e}")))
                    .ok()
            });
        let users = required(item, "userIds", &format!("{path}.userIds"), &mut problems)
            .and_then(|v| array(v, &format!("{path}.userIds"), &mut problems))
            .map(|ids| {
                ids.iter()
                    .enumerate()
                    .filter_map(|(j, id)| {
                        UserId::from_json(id)
                            .map_err(|e| problems.add(format!("{path}.userIds[{j}]: {e}")))
                            .ok()
                    })
                    .collect::<Vec<_>>()
            });
        if let (Some(call), Some(users)) = (call, users) {
            items.push((call, users));
        }
    }
    problems.into_result(AccessChange::new(items))
}

/// The body of POST (`FilterRequestCallsAccessGetDto`):
/// `{"filter":{"callIds":[…]}}`. Returns each call once, in first-seen order.
pub fn parse_filter(body: &Value, max_calls: usize) -> Result<Vec<CallId>, ApiError> {
    let map = object(body)?;
    let mut problems = Problems::default();
    let filter = required(map, "filter", "filter", &mut problems);
    let Some(filter) = filter else {
        return Err(ApiError::BadRequest(problems.0));
    };
    let Some(filter) = filter.as_object() else {
        return Err(ApiError::bad_request("filter: must be an object"));
    };
    let Some(ids) = required(filter, "callIds", "filter.callIds", &mut problems)
        .and_then(|v| array(v, "filter.callIds", &mut problems))
    else {
        return Err(ApiError::BadRequest(problems.0));
    };
    if ids.len() > max_calls {
        return Err(ApiError::bad_request(format!(
            "filter.callIds: at most {max_calls} call ids are allowed per request, got {}",
            ids.len()
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    let mut calls = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        match CallId::from_json(id) {
            Ok(call) if seen.insert(call) => calls.push(call),
            Ok(_) => {}
            Err(e) => problems.add(format!("filter.callIds[{i}]: {e}")),
        }
    }
    problems.into_result(calls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(result: Result<impl std::fmt::Debug, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn missing_or_empty_list_is_nothing_to_do() {
        for body in [
            json!({}),
            json!({"callAccessList": null}),
            json!({"callAccessList": []}),
        ] {
            assert!(parse_access_change(&body, 10).unwrap().is_empty());
        }
    }

    #[test]
    fn every_item_problem_is_reported_with_its_path() {
        let body = json!({"callAccessList": [
            {"callId": "1", "userIds": ["2"]},
            {"userIds": ["x"]},
            {"callId": "3"},
            {"callId": 0, "userIds": "4"},
            5,
        ]});
        assert_eq!(
            messages(parse_access_change(&body, 100)),
            vec![
                "callAccessList[1].callId: must not be null",
                "callAccessList[1].userIds[0]: \"x\" is not a numeric id",
                "callAccessList[2].userIds: must not be null",
                "callAccessList[3].callId: 0 is not a valid id (ids start at 1)",
                "callAccessList[3].userIds: must be an array",
                "callAccessList[4]: must be an object",
            ]
        );
    }

    #[test]
    fn pair_limit_counts_every_listed_user() {
        let body = json!({"callAccessList": [{"callId": "1", "userIds": ["1", "2"]}, {"callId": "1", "userIds": ["3"]}]});
        assert!(parse_access_change(&body, 3).is_ok());
        assert_eq!(
            messages(parse_access_change(&body, 2)),
            vec!["callAccessList: at most 2 (call, user) pairs are allowed per request, got 3"]
        );
    }

    #[test]
    fn filter_rules() {
        assert_eq!(
            messages(parse_filter(&json!({}), 10)),
            vec!["filter: must not be null"]
        );
        assert_eq!(
            messages(parse_filter(&json!({"filter": {}}), 10)),
            vec!["filter.callIds: must not be null"]
        );
        assert_eq!(
            messages(parse_filter(&json!({"filter": []}), 10)),
            vec!["filter: must be an object"]
        );
        assert_eq!(
            parse_filter(&json!({"filter": {"callIds": ["2", 1, "2"]}}), 10).unwrap(),
            vec![CallId::parse("2").unwrap(), CallId::parse("1").unwrap()]
        );
        assert_eq!(
            messages(parse_filter(&json!({"filter": {"callIds": ["1", "2"]}}), 1)),
            vec!["filter.callIds: at most 1 call ids are allowed per request, got 2"]
        );
    }
}
