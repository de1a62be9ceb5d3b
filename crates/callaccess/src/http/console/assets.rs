//! The console's own stylesheet and script, compiled into the binary: no
//! build step, no file next to the binary, nothing from another site.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::view::Failure;

const CSS: &str = include_str!("../../../assets/console/console.css");
const JS: &str = include_str!("../../../assets/console/console.js");

/// An hour: the files change only with the binary, and a page reloaded
/// after an upgrade within the hour still works with the old ones.
const CACHE: &str = "public, max-age=3600";

/// `GET /console/assets/{name}`: open to anyone, like any stylesheet; the
/// files hold nothing but the console's own code.
pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => {
            return Failure::Page(
                StatusCode::NOT_FOUND,
                format!(
                    "the console has no asset {:?}",
                    name.chars().take(40).collect::<String>()
                ),
            )
            .into_response()
        }
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE));
    response
}
