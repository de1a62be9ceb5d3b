//! Gong-style numeric ids.
//!
//! On the wire every id is a string of 1–20 decimal digits whose value fits a
//! signed 64-bit integer and is not 0. Clients built on Gong's Java stack
//! sometimes send a JSON integer instead; it is accepted as its decimal
//! string. Inside the service an id is its numeric value, so `"0042"` and
//! `"42"` name the same call and every id is rendered without leading zeros.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use serde_json::Value;

/// Longest value quoted back in an error message, so a megabyte-long bogus
/// id never turns into a megabyte-long error body.
const QUOTE_LIMIT: usize = 40;

/// Why a value is not an id. `Display` gives the message shown after the
/// field path, quoting the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{0} is not a numeric id")]
    NotNumeric(String),
    #[error("{0} is out of range (ids are at most 9223372036854775807)")]
    OutOfRange(String),
    #[error("{0} is not a valid id (ids start at 1)")]
    Zero(String),
}

/// Renders a rejected value for a message: strings quoted, anything else as
/// compact JSON, both cut to a readable length.
pub fn quote(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= QUOTE_LIMIT {
        return text;
    }
    let cut: String = text.chars().take(QUOTE_LIMIT).collect();
    format!("{cut}…")
}

fn parse_digits(s: &str, shown: impl Fn() -> String) -> Result<i64, IdError> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError::NotNumeric(shown()));
    }
    // 20 ASCII digits always fit in a u128, so only the range check can fail.
    let value: u128 = s.bytes().fold(0, |acc, b| acc * 10 + u128::from(b - b'0'));
    if value == 0 {
        return Err(IdError::Zero(shown()));
    }
    i64::try_from(value).map_err(|_| IdError::OutOfRange(shown()))
}

fn parse_json(value: &Value) -> Result<i64, IdError> {
    match value {
        Value::String(s) => parse_digits(s, || quote(value)),
        // Gong's Java stack coerces a JSON integer to its decimal string;
        // floats and negatives are not ids.
        Value::Number(n) if n.is_u64() => parse_digits(&n.to_string(), || quote(value)),
        _ => Err(IdError::NotNumeric(quote(value))),
    }
}

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            /// Parses the wire form: 1–20 decimal digits, 1..=i64::MAX.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                parse_digits(s, || quote(&Value::String(s.to_owned()))).map(Self)
            }

            /// Parses a JSON value: a string of digits, or a JSON integer.
            pub fn from_json(value: &Value) -> Result<Self, IdError> {
                parse_json(value).map(Self)
            }

            /// Builds an id from a stored value; `None` unless it is a valid id.
            pub fn from_i64(value: i64) -> Option<Self> {
                (value > 0).then_some(Self(value))
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        /// From the wire forms [`Self::from_json`] takes: for stored JSON
        /// (a call's parties) and typed request bodies.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(deserializer)?;
                Self::from_json(&value).map_err(serde::de::Error::custom)
            }
        }
    };
}

numeric_id!(
    /// A company (Gong: workspace owner); every other entity belongs to one.
    CompanyId
);
numeric_id!(
    /// A call, unique within its company.
    CallId
);
numeric_id!(
    /// A user, unique within its company.
    UserId
);
numeric_id!(
    /// A workspace: a part of a company with its own calls and profiles.
    /// Unique across the database, like a company id.
    WorkspaceId
);
numeric_id!(
    /// A permission profile, unique across the database.
    ProfileId
);

/// A fresh random value of 19 digits, the shape Gong's own ids have.
fn random_19_digits() -> i64 {
    use rand::Rng;
    rand::rng().random_range(1_000_000_000_000_000_000..=i64::MAX)
}

macro_rules! random_id {
    ($($name:ident),*) => {$(
        impl $name {
            /// A fresh random id of 19 digits, the shape Gong's own ids
            /// have; a clash with a stored one is refused by the store like
            /// any duplicate.
            pub fn random() -> Self {
                Self(random_19_digits())
            }
        }
    )*};
}
random_id!(CompanyId, CallId, WorkspaceId, ProfileId);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn accepts_the_wire_forms() {
        assert_eq!(
            CallId::parse("7782342274025937895").unwrap().get(),
            7782342274025937895
        );
        assert_eq!(
            CallId::parse("9223372036854775807").unwrap().get(),
            i64::MAX
        );
        assert_eq!(
            CallId::parse("00000000000000000042").unwrap().to_string(),
            "42"
        );
        assert_eq!(UserId::from_json(&json!(123)).unwrap().get(), 123);
    }

    #[test]
    fn rejects_with_the_value_quoted() {
        let cases = [
            (json!("12a"), "\"12a\" is not a numeric id"),
            (json!(""), "\"\" is not a numeric id"),
            (json!("0"), "\"0\" is not a valid id (ids start at 1)"),
            (json!("000"), "\"000\" is not a valid id (ids start at 1)"),
            (
                json!("9223372036854775808"),
                "\"9223372036854775808\" is out of range (ids are at most 9223372036854775807)",
            ),
            (
                json!("123456789012345678901"),
                "\"123456789012345678901\" is not a numeric id",
            ),
            (json!(-5), "-5 is not a numeric id"),
            (json!(1.5), "1.5 is not a numeric id"),
            (json!(true), "true is not a numeric id"),
            (json!(null), "null is not a numeric id"),
            (json!({"a": 1}), "{\"a\":1} is not a numeric id"),
            (json!(" 12"), "\" 12\" is not a numeric id"),
            (json!("+12"), "\"+12\" is not a numeric id"),
            (
                json!(18446744073709551615u64),
                "18446744073709551615 is out of range (ids are at most 9223372036854775807)",
            ),
        ];
        for (value, message) in cases {
            assert_eq!(
                CallId::from_json(&value).unwrap_err().to_string(),
                message,
                "{value}"
            );
        }
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(10_000);
        let message = CallId::parse(&long).unwrap_err().to_string();
        assert!(message.len() < 80, "{message}");
        assert!(message.ends_with("… is not a numeric id"));
    }

    #[test]
    fn random_company_ids_have_nineteen_digits() {
        for _ in 0..100 {
            assert_eq!(CompanyId::random().to_string().len(), 19);
        }
    }

    proptest! {
        #[test]
        fn every_valid_value_round_trips(v in 1..=i64::MAX) {
            let id = CallId::parse(&v.to_string()).unwrap();
            prop_assert_eq!(id.get(), v);
            prop_assert_eq!(CallId::parse(&id.to_string()).unwrap(), id);
            prop_assert_eq!(CallId::from_json(&json!(v)).unwrap(), id);
        }

        #[test]
        fn parsing_never_panics_and_accepts_only_digits(s in ".{0,25}") {
            if let Ok(id) = CallId::parse(&s) {
                prop_assert!(s.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(id.get() > 0);
            }
        }
    }
}
