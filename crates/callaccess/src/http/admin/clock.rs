//! Reading and moving the server's clock (control-plane.md §6).
//!
//! `GET /admin/v1/clock` answers `{"now": "…", "mode": "manual"|"system"}`;
//! `POST /admin/v1/clock` with `{"advance": "1d"}` (a humantime duration)
//! or `{"set": "2030-01-01T00:00:00Z"}` moves a manual clock and answers the
//! same shape. The clock never goes back, and the system clock cannot be
//! moved: both are 409, with the clock's own message (`ClockError`). The
//! clock is the one the whole server reads (`AppState::clock`): rate-limit
//! windows, credential expiry and every time the store records move with it.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use callaccess_domain::{Clock, ClockError, Timestamp};
use serde::Serialize;
use serde_json::Value;

use crate::http::body::JsonBody;
use crate::http::error::ApiError;
use crate::http::AppState;

/// Where the clock is read and moved.
pub const PATH: &str = "/admin/v1/clock";

/// The methods of [`PATH`], as its 405 lists them.
const METHODS: &str = "GET, HEAD, POST";

pub fn routes() -> Router<AppState> {
    Router::new().route(
        PATH,
        get(read_clock)
            .post(move_clock)
            .fallback(|| async { ApiError::MethodNotAllowed(METHODS) }),
    )
}

/// The clock as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockView {
    /// The time the server reads, RFC 3339 in UTC, whole seconds.
    #[schema(example = "2030-01-01T00:00:00Z")]
    now: String,
    /// `manual`: moved only through `POST /admin/v1/clock`; `system`: the
    /// machine's clock.
    #[schema(example = "manual")]
    mode: Mode,
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Manual,
    System,
}

impl ClockView {
    fn of(clock: &Clock) -> Self {
        Self {
            now: clock.now().to_string(),
            mode: if clock.is_manual() {
                Mode::Manual
            } else {
                Mode::System
            },
        }
    }
}

/// How a `POST` asks the clock to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Advance(std::time::Duration),
    Set(Timestamp),
}

/// The body of a `POST`, as documented (only its OpenAPI description is
/// used; [`parse_move`] reads the body, so every message is ours).
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "only its OpenAPI description is used")]
struct MoveRequest {
    /// How far to move a manual clock forward: a duration such as `1d`,
    /// `2h 30m` or `90s`. Give this or `set`.
    #[schema(example = "1d")]
    advance: Option<String>,
    /// The time to set a manual clock to (RFC 3339), not earlier than now.
    /// Give this or `advance`.
    #[schema(example = "2030-01-01T00:00:00Z")]
    set: Option<String>,
}

const SHAPE: &str = "the body must be an object with \"advance\" (a duration such as \"1d\") or \"set\" (a time such as \"2030-01-01T00:00:00Z\")";

/// Reads a `POST` body: exactly one of `advance` and `set`, each a string
/// that parses; every other field is named as unknown.
fn parse_move(body: &Value) -> Result<Move, ApiError> {
    let fields = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request(SHAPE))?;
    let unknown: Vec<String> = fields
        .keys()
        .filter(|k| !matches!(k.as_str(), "advance" | "set"))
        .map(|k| format!("{k}: unknown field; the clock takes \"advance\" or \"set\""))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(unknown));
    }
    let text = |name: &str, value: &Value| {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::bad_request(format!("{name}: must be a string, not {value}")))
    };
    match (fields.get("advance"), fields.get("set")) {
        (Some(advance), None) => {
            let advance = text("advance", advance)?;
            humantime::parse_duration(&advance)
                .map(Move::Advance)
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "advance: {advance:?} is not a duration; use e.g. \"1d\", \"2h 30m\" or \"90s\""
                    ))
                })
        }
        (None, Some(set)) => {
            let set = text("set", set)?;
            Timestamp::parse_rfc3339(&set)
                .map(Move::Set)
                .map_err(|why| ApiError::bad_request(format!("set: {why}")))
        }
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "give either \"advance\" or \"set\", not both",
        )),
        (None, None) => Err(ApiError::bad_request(SHAPE)),
    }
}

/// The server's clock: its time and whether it is manual.
#[utoipa::path(
    get,
    path = "/admin/v1/clock",
    tag = "clock",
    operation_id = "getClock",
    responses(
        (status = 200, description = "The clock", body = ClockView),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn read_clock(State(state): State<AppState>) -> Response {
    super::ok(&ClockView::of(&state.clock))
}

/// Moves a manual clock forward (`advance`) or to a time (`set`), never
/// back; rate-limit windows, credential expiry and stored times follow.
#[utoipa::path(
    post,
    path = "/admin/v1/clock",
    tag = "clock",
    operation_id = "moveClock",
    request_body = MoveRequest,
    responses(
        (status = 200, description = "The clock after the move", body = ClockView),
        (status = 400, description = "Neither or both of advance and set, or one that does not parse", body = crate::http::dto::ErrorResponse),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
        (status = 403, description = "A read-only admin token", body = crate::http::dto::ErrorResponse),
        (status = 409, description = "The server runs on the system clock, or the time is earlier than the clock's", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn move_clock(
    State(state): State<AppState>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let JsonBody(body) = body?;
    let moved = match parse_move(&body)? {
        Move::Advance(by) => state.clock.advance(by),
        Move::Set(to) => state.clock.set(to),
    };
    match moved {
        Ok(_) => Ok(super::ok(&ClockView::of(&state.clock))),
        Err(e @ (ClockError::System | ClockError::Backwards { .. })) => {
            Err(ApiError::Conflict(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use super::*;
    use serde_json::json;

    fn messages(body: Value) -> Vec<String> {
        match parse_move(&body) {
            Err(ApiError::BadRequest(messages)) => messages,
            other => panic!("{body} was not refused: {other:?}"),
        }
    }

    #[test]
    fn reads_advance_or_set() {
        assert_eq!(
            parse_move(&json!({"advance": "1d"})).unwrap(),
            Move::Advance(std::time::Duration::from_secs(86_400))
        );
        assert_eq!(
            parse_move(&json!({"advance": "2h 30m"})).unwrap(),
            Move::Advance(std::time::Duration::from_secs(9_000))
        );
        assert_eq!(
            parse_move(&json!({"set": "2030-01-01T00:00:00Z"})).unwrap(),
            Move::Set(Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap())
        );
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(messages(json!([])), vec![SHAPE]);
        assert_eq!(messages(json!({})), vec![SHAPE]);
        assert_eq!(
            messages(json!({"advance": "1d", "set": "2030-01-01T00:00:00Z"})),
            vec!["give either \"advance\" or \"set\", not both"]
        );
        assert_eq!(
            messages(json!({"advance": "1d", "by": 1})),
            vec!["by: unknown field; the clock takes \"advance\" or \"set\""]
        );
        assert_eq!(
            messages(json!({"advance": "soon"})),
            vec!["advance: \"soon\" is not a duration; use e.g. \"1d\", \"2h 30m\" or \"90s\""]
        );
        assert_eq!(
            messages(json!({"advance": 86400})),
            vec!["advance: must be a string, not 86400"]
        );
        assert_eq!(
            messages(json!({"set": "tomorrow"})),
            vec!["set: \"tomorrow\" is not an RFC 3339 date-time such as \"2030-01-01T00:00:00Z\""]
        );
    }
}
