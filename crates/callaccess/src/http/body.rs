//! Reading a JSON request body: content type, size limit, syntax.
//!
//! The body is parsed into a `serde_json::Value` first and walked by
//! [`super::dto`], so every problem can be reported with its field path and
//! ids can be accepted both as strings and as JSON integers.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderMap;
use serde_json::Value;

use super::error::ApiError;
use super::AppState;

/// A request body that is present, within the size limit, declared as JSON
/// (or not declared at all) and syntactically valid JSON.
#[derive(Debug)]
pub struct JsonBody(pub Value);

/// `application/json`, or any `application/*+json`, with any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    if is_json(&text) {
        Ok(())
    } else {
        let shown: String = text.chars().take(100).collect();
        Err(ApiError::UnsupportedMediaType(shown))
    }
}

/// Rewords serde_json's syntax error for people: what broke, then where.
pub fn syntax_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let what = text.split(" at line ").next().unwrap_or(&text);
    format!(
        "request body is not valid JSON: {what} at line {}, column {}",
        error.line(),
        error.column()
    )
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.limits.max_body_bytes;
        check_content_type(request.headers())?;
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let body: Body = request.into_body();
        let read = tokio::time::timeout(
            state.limits.body_read_timeout,
            axum::body::to_bytes(body, limit),
        );
        let bytes = read
            .await
            .map_err(|_| ApiError::BodyTimeout(state.limits.body_read_timeout))?
            .map_err(|e| {
                // to_bytes fails either on the limit or on a broken connection.
                let too_large = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                if too_large {
                    ApiError::PayloadTooLarge { limit }
                } else {
                    ApiError::bad_request("the request body could not be read")
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("request body is required"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(syntax_message(&e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json(""));
    }

    #[test]
    fn syntax_messages_say_where() {
        let e = serde_json::from_str::<Value>("{\n  \"a\": }").unwrap_err();
        assert_eq!(
            syntax_message(&e),
            "request body is not valid JSON: expected value at line 2, column 8"
        );
    }
}
