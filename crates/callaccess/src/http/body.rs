//! Reading a JSON request body: content type and coding, size limit,
//! syntax; and what becomes of a body nobody read.
//!
//! The body is parsed into a `serde_json::Value` first and walked by
//! [`super::dto`], so every problem can be reported with its field path and
//! ids can be accepted both as strings and as JSON integers.
//!
//! A request can be answered before its body is read (401, 429, 405, 415,
//! a 503 for time). [`watch`] and [`Watch::settle`] keep such a connection
//! usable: the rest of the body, if it fits the size limit, is read and
//! thrown away after the answer is sent, within the body read time;
//! otherwise the answer says `Connection: close`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, EXPECT};
use axum::http::{HeaderMap, HeaderValue, Version};
use axum::response::Response;
use http_body_util::BodyExt as _;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use serde_json::Value;
use tokio::sync::oneshot;

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

/// The content codings of a body, other than `identity`, as sent (at most
/// 100 characters); `None` for a body sent as is. Gong's API takes plain
/// JSON, so a compressed body is refused rather than decoded.
fn content_coding(headers: &HeaderMap) -> Option<String> {
    let codings: Vec<String> = headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .flat_map(|value| {
            String::from_utf8_lossy(value.as_bytes())
                .split(',')
                .map(|coding| coding.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case("identity"))
        .collect();
    (!codings.is_empty()).then(|| codings.join(", ").chars().take(100).collect())
}

fn check_content_coding(headers: &HeaderMap) -> Result<(), ApiError> {
    content_coding(headers).map_or(Ok(()), |coding| Err(ApiError::EncodedBody(coding)))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Whether a `Connection` header asks to close the connection.
fn asks_close(headers: &HeaderMap) -> bool {
    headers.get_all(CONNECTION).iter().any(|value| {
        String::from_utf8_lossy(value.as_bytes())
            .split(',')
            .any(|token| token.trim().eq_ignore_ascii_case("close"))
    })
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
        check_content_coding(request.headers())?;
        let declared = declared_length(request.headers());
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

/// The part of a request body its handler did not read.
struct Unread {
    body: Body,
    /// Bytes the handler did read.
    read: usize,
}

/// A request body that hands itself back through `back` when dropped
/// before its end, so [`Watch::settle`] can deal with the rest.
struct Watched {
    inner: Body,
    read: usize,
    ended: bool,
    back: Option<oneshot::Sender<Unread>>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                this.read += frame.data_ref().map_or(0, Bytes::len);
            }
            // A broken body has no rest to read.
            Poll::Ready(None | Some(Err(_))) => this.ended = true,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if self.is_end_stream() {
            return;
        }
        if let Some(back) = self.back.take() {
            let body = std::mem::replace(&mut self.inner, Body::empty());
            let _ = back.send(Unread {
                body,
                read: self.read,
            });
        }
    }
}

/// What [`watch`] noted about a request before its handler ran.
pub struct Watch {
    returned: oneshot::Receiver<Unread>,
    /// HTTP/1.1 without `Connection: close`: the connection may carry
    /// another request. (An HTTP/1.0 connection kept alive is rare, and
    /// closed as before.)
    reusable: bool,
    /// HTTP/1.x, where the body shares the connection; HTTP/2 resets only
    /// the stream of a dropped body.
    http1: bool,
    /// `Expect: 100-continue`: a client refused before its body was asked
    /// for need not send it, so bytes that follow may be its next request.
    expects_continue: bool,
    declared: Option<u64>,
}

/// `request` with a body that reports being dropped unread, and what
/// [`Watch::settle`] needs; `None` when the request has no body.
pub fn watch(request: Request) -> (Request, Option<Watch>) {
    if request.body().is_end_stream() {
        return (request, None);
    }
    let headers = request.headers();
    let (back, returned) = oneshot::channel();
    let watch = Watch {
        returned,
        reusable: request.version() == Version::HTTP_11 && !asks_close(headers),
        http1: request.version() <= Version::HTTP_11,
        expects_continue: headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue")),
        declared: declared_length(headers),
    };
    let request = request.map(|inner| {
        Body::new(Watched {
            inner,
            read: 0,
            ended: false,
            back: Some(back),
        })
    });
    (request, Some(watch))
}

impl Watch {
    /// Once the handler is done with `response`: if it left part of the
    /// body unread, reads the rest in the background — when it fits what
    /// `limit` leaves and arrives by `deadline` — so the connection serves
    /// the next request; hyper sends the answer meanwhile. Otherwise the
    /// answer says `Connection: close`, so the client knows not to write
    /// the rest into a connection about to close.
    pub fn settle(mut self, response: &mut Response, limit: usize, deadline: Instant) {
        // Nothing came back: the body was read to its end.
        let Ok(unread) = self.returned.try_recv() else {
            return;
        };
        // An HTTP/2 stream, or a connection this answer closes: hyper
        // deals with the rest.
        if !self.http1 || asks_close(response.headers()) {
            return;
        }
        let allowance = limit.saturating_sub(unread.read);
        let fits = self
            .declared
            .is_none_or(|n| n.saturating_sub(unread.read as u64) <= allowance as u64);
        let coming = !(self.expects_continue && unread.read == 0);
        // A connection the client closes after this answer is drained too:
        // the body it sent is what the request journal records.
        if fits && coming && Instant::now() < deadline {
            tokio::spawn(drain(unread.body, allowance, deadline));
        } else if self.reusable {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
    }
}

/// Reads and discards `body` until its end, more than `allowance` bytes
/// or `deadline`; dropping it early makes hyper close the connection.
async fn drain(mut body: Body, allowance: usize, deadline: Instant) {
    let read = async {
        let mut left = allowance;
        while let Some(Ok(frame)) = body.frame().await {
            let len = frame.data_ref().map_or(0, Bytes::len);
            if len > left {
                return;
            }
            left -= len;
        }
    };
    let _ = tokio::time::timeout_at(deadline.into(), read).await;
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
    fn only_identity_is_a_plain_body() {
        let coding = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(CONTENT_ENCODING, HeaderValue::from_str(value).unwrap());
            }
            content_coding(&headers)
        };
        assert_eq!(coding(&[]), None);
        assert_eq!(coding(&["identity"]), None);
        assert_eq!(coding(&["Identity, "]), None);
        assert_eq!(coding(&["gzip"]).as_deref(), Some("gzip"));
        assert_eq!(coding(&["identity, br"]).as_deref(), Some("br"));
        assert_eq!(
            coding(&["gzip", "x-custom"]).as_deref(),
            Some("gzip, x-custom")
        );
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
