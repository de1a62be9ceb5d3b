//! Query-string parameters, read with the same kind of messages as bodies:
//! the parameter's name, then what is wrong with the value.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use callaccess_domain::Timestamp;
use serde_json::Value;

use super::error::ApiError;
use super::shape;

/// The decoded `name=value` pairs of a request's query string, in order.
/// Parameters a handler does not ask for are ignored, as unknown body
/// fields are.
#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Self::parse(parts.uri.query().unwrap_or("")))
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; a `%` not followed by two hex digits stays as it is, and bytes
/// that are not UTF-8 become U+FFFD (so the value is quoted back readably).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl QueryParams {
    pub fn parse(query: &str) -> Self {
        Self(
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(name), decode(value))
                })
                .collect(),
        )
    }

    /// The parameters with a value: an empty field of a submitted form
    /// means "not given".
    pub fn without_empty(self) -> Self {
        Self(self.0.into_iter().filter(|(_, v)| !v.is_empty()).collect())
    }

    /// The value of `name`; a parameter given twice is refused, since which
    /// one was meant cannot be known.
    pub fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let mut values = self.0.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        let first = values.next();
        if values.next().is_some() {
            return Err(format!("{name}: must be given at most once"));
        }
        Ok(first.map(String::as_str))
    }

    /// A parameter that must be given.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.get(name)?
            .ok_or_else(|| format!("{name}: is required"))
    }

    /// An optional numeric id.
    pub fn id<T>(
        &self,
        name: &str,
        parse: fn(&str) -> Result<T, callaccess_domain::IdError>,
    ) -> Result<Option<T>, String> {
        self.get(name)?
            .map(|v| parse(v).map_err(|e| format!("{name}: {e}")))
            .transpose()
    }

    /// A numeric id that must be given.
    pub fn required_id<T>(
        &self,
        name: &str,
        parse: fn(&str) -> Result<T, callaccess_domain::IdError>,
    ) -> Result<T, String> {
        let value = self.required(name)?;
        parse(value).map_err(|e| format!("{name}: {e}"))
    }

    /// An optional ISO-8601 date-time.
    pub fn date(&self, name: &str) -> Result<Option<Timestamp>, String> {
        self.get(name)?
            .map(|v| {
                shape::date_time(v).ok_or_else(|| {
                    format!(
                        "{name}: {}",
                        shape::date_message(&Value::String(v.to_owned()))
                    )
                })
            })
            .transpose()
    }

    /// An optional `true` or `false`.
    pub fn boolean(&self, name: &str) -> Result<Option<bool>, String> {
        self.get(name)?
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(format!(
                    "{name}: {} is not a boolean (true or false)",
                    callaccess_domain::ids::quote(&Value::String(other.to_owned()))
                )),
            })
            .transpose()
    }
}

/// Names, once each, the parameters of `query` that are not among `known`,
/// in `what`'s words ("the journal"): for the admin lists, where a misspelt
/// filter must not silently select everything.
pub fn unknown_parameters(query: &str, known: &[&str], what: &str) -> Vec<String> {
    let mut unknown: Vec<String> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        if !known.contains(&name) && !unknown.iter().any(|u| u.starts_with(&format!("{name}:"))) {
            unknown.push(format!(
                "{name}: unknown parameter; {what} takes {}",
                known.join(", ")
            ));
        }
    }
    unknown
}

/// Gathers the problems of several parameters into one 400.
#[derive(Default)]
pub struct Problems(Vec<String>);

impl Problems {
    /// The value, or `None` after noting why not.
    pub fn take<T>(&mut self, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        self.messages().map_err(ApiError::BadRequest)
    }

    /// Every problem found, for a page that shows them itself.
    pub fn messages(self) -> Result<(), Vec<String>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callaccess_domain::WorkspaceId;

    #[test]
    fn values_are_decoded_and_checked() {
        let q = QueryParams::parse(
            "a=1&b=x%20y+z&c=%zz&d=%41&e&workspaceId=abc&t=2018-02-18T02%3A30%3A00-07%3A00",
        );
        assert_eq!(q.get("a"), Ok(Some("1")));
        assert_eq!(q.get("b"), Ok(Some("x y z")));
        assert_eq!(q.get("c"), Ok(Some("%zz")));
        assert_eq!(q.get("d"), Ok(Some("A")));
        assert_eq!(q.get("e"), Ok(Some("")));
        assert_eq!(q.get("f"), Ok(None));
        assert_eq!(
            q.id("workspaceId", WorkspaceId::parse),
            Err("workspaceId: \"abc\" is not a numeric id".to_owned())
        );
        assert_eq!(q.date("t").unwrap().unwrap().unix(), 1_518_946_200);
        assert_eq!(q.required("f"), Err("f: is required".to_owned()));
        let twice = QueryParams::parse("a=1&a=2");
        assert_eq!(
            twice.get("a"),
            Err("a: must be given at most once".to_owned())
        );
        assert_eq!(QueryParams::parse("x=%4").get("x"), Ok(Some("%4")));
        assert_eq!(QueryParams::parse("x=%").get("x"), Ok(Some("%")));
    }
}
