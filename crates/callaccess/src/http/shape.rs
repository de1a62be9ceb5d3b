//! Request bodies described once, as tables of Gong's field names and
//! shapes: the same table checks a body (every problem with its field path)
//! and documents it in `/openapi.json`, so the two cannot drift apart.
//!
//! [`check`] walks a JSON value against a [`Shape`] and answers a clean
//! copy: only the fields the table names (unknown fields are ignored, as
//! Gong adds fields without notice), `null` read as absent, ids in their
//! canonical string form. Code that reads the clean copy can rely on every
//! field having its documented type.

use std::borrow::Cow;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, Ref, RefOr};

use super::error::ApiError;

/// Stop collecting messages after this many; the first ones are enough.
const MAX_MESSAGES: usize = 50;

/// What one field may hold.
#[derive(Debug)]
pub enum Shape {
    Bool,
    /// A string of at most `max` characters.
    Str {
        max: Option<usize>,
    },
    /// One of these strings exactly.
    OneOf(&'static [&'static str]),
    /// A Gong numeric id: 1-20 digits (or a JSON integer), 1..=i64::MAX.
    Id,
    /// An array of Gong numeric ids, each kept once, at most the request's
    /// id limit ([`Checker::max_ids`]).
    Ids,
    /// An array of strings.
    Strings,
    /// An ISO-8601 date-time with an offset or `Z`.
    DateTime,
    /// A number (integer or not) of at least 0.
    Number,
    /// An integer in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    /// An array of at least `min` items of one shape.
    Array {
        item: &'static Shape,
        min: usize,
    },
    Object(&'static Object),
    /// Accepted as it is and not kept: a field of Gong's schema that
    /// decides nothing here, documented as the type `doc_type` names.
    Ignored(&'static str),
}

/// An object's fields; `name` is its Gong schema name, under which the
/// document lists it once (`None`: described inline).
#[derive(Debug)]
pub struct Object {
    pub name: Option<&'static str>,
    pub fields: &'static [Field],
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub shape: Shape,
    pub required: bool,
    pub doc: &'static str,
}

impl Field {
    pub const fn optional(name: &'static str, shape: Shape, doc: &'static str) -> Self {
        Self {
            name,
            shape,
            required: false,
            doc,
        }
    }

    pub const fn required(name: &'static str, shape: Shape, doc: &'static str) -> Self {
        Self {
            name,
            shape,
            required: true,
            doc,
        }
    }
}

/// Collects problems, with their paths, while a body is checked.
pub struct Checker {
    problems: Vec<String>,
    /// Most ids one [`Shape::Ids`] array may hold.
    pub max_ids: usize,
}

impl Checker {
    pub fn new(max_ids: usize) -> Self {
        Self {
            problems: Vec::new(),
            max_ids,
        }
    }

    pub fn add(&mut self, message: String) {
        if self.problems.len() < MAX_MESSAGES {
            self.problems.push(message);
        }
    }

    /// `value` if nothing was wrong, else a 400 with every problem.
    pub fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::BadRequest(self.problems))
        }
    }

    /// The clean copy of a whole body that must be an object of `object`'s
    /// fields.
    pub fn body(
        mut self,
        body: &Value,
        object: &'static Object,
    ) -> Result<Map<String, Value>, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request("request body must be a JSON object"));
        }
        let clean = self.object(body, object, "");
        self.finish(clean)
    }

    fn object(&mut self, value: &Value, object: &Object, path: &str) -> Map<String, Value> {
        let mut clean = Map::new();
        let Some(map) = value.as_object() else {
            self.add(format!("{path}: must be an object"));
            return clean;
        };
        for field in object.fields {
            let at = if path.is_empty() {
                field.name.to_owned()
            } else {
                format!("{path}.{}", field.name)
            };
            match map.get(field.name) {
                None | Some(Value::Null) => {
                    if field.required {
                        self.add(format!("{at}: must not be null"));
                    }
                }
                Some(given) => {
                    if let Some(checked) = self.value(given, &field.shape, &at) {
                        clean.insert(field.name.to_owned(), checked);
                    }
                }
            }
        }
        clean
    }

    fn value(&mut self, value: &Value, shape: &Shape, path: &str) -> Option<Value> {
        let quoted = || callaccess_domain::ids::quote(value);
        match shape {
            Shape::Bool => match value {
                Value::Bool(_) => Some(value.clone()),
                _ => {
                    self.add(format!("{path}: {} is not a boolean", quoted()));
                    None
                }
            },
            Shape::Str { max } => match value {
                Value::String(s) => {
                    if let Some(max) = max {
                        let length = s.chars().count();
                        if length > *max {
                            self.add(format!(
                                "{path}: must be at most {max} characters long, got {length}"
                            ));
                            return None;
                        }
                    }
                    Some(value.clone())
                }
                _ => {
                    self.add(format!("{path}: {} is not a string", quoted()));
                    None
                }
            },
            Shape::OneOf(allowed) => match value.as_str() {
                Some(s) if allowed.contains(&s) => Some(value.clone()),
                _ => {
                    self.add(format!(
                        "{path}: {} is not one of {}",
                        quoted(),
                        allowed
                            .iter()
                            .map(|a| format!("\"{a}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                    None
                }
            },
            Shape::Id => match callaccess_domain::UserId::from_json(value) {
                Ok(id) => Some(Value::String(id.to_string())),
                Err(e) => {
                    self.add(format!("{path}: {e}"));
                    None
                }
            },
            Shape::Ids => {
                let Some(items) = value.as_array() else {
                    self.add(format!("{path}: must be an array"));
                    return None;
                };
                if items.len() > self.max_ids {
                    self.add(format!(
                        "{path}: at most {} ids are allowed per request, got {}",
                        self.max_ids,
                        items.len()
                    ));
                    return None;
                }
                let mut seen = std::collections::HashSet::with_capacity(items.len());
                let mut ids = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match callaccess_domain::UserId::from_json(item) {
                        Ok(id) if seen.insert(id) => ids.push(Value::String(id.to_string())),
                        Ok(_) => {}
                        Err(e) => self.add(format!("{path}[{i}]: {e}")),
                    }
                }
                Some(Value::Array(ids))
            }
            Shape::Strings => {
                let Some(items) = value.as_array() else {
                    self.add(format!("{path}: must be an array"));
                    return None;
                };
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        self.add(format!(
                            "{path}[{i}]: {} is not a string",
                            callaccess_domain::ids::quote(item)
                        ));
                    }
                }
                Some(value.clone())
            }
            Shape::DateTime => match value.as_str().map(date_time) {
                Some(Some(_)) => Some(value.clone()),
                _ => {
                    self.add(format!("{path}: {}", date_message(value)));
                    None
                }
            },
            Shape::Number => match value.as_f64() {
                Some(n) if n.is_finite() && n >= 0.0 => Some(value.clone()),
                _ => {
                    self.add(format!(
                        "{path}: {} is not a number of at least 0",
                        quoted()
                    ));
                    None
                }
            },
            Shape::Int { min, max } => match value.as_i64() {
                Some(n) if (*min..=*max).contains(&n) => Some(value.clone()),
                _ => {
                    self.add(format!(
                        "{path}: {} is not an integer from {min} to {max}",
                        quoted()
                    ));
                    None
                }
            },
            Shape::Array { item, min } => {
                let Some(items) = value.as_array() else {
                    self.add(format!("{path}: must be an array"));
                    return None;
                };
                if items.len() < *min {
                    self.add(format!("{path}: must hold at least {min} item(s)"));
                    return None;
                }
                let checked: Vec<Value> = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| self.value(v, item, &format!("{path}[{i}]")))
                    .collect();
                Some(Value::Array(checked))
            }
            Shape::Object(object) => Some(Value::Object(self.object(value, object, path))),
            Shape::Ignored(_) => None,
        }
    }
}

/// A date-time as Gong writes them ('2018-02-18T02:30:00-07:00' or
/// '2018-02-18T08:00:00Z'), in whole seconds, rounded up: every bound a
/// filter takes (`from` inclusive, `to` exclusive) then selects exactly the
/// stored seconds the exact instant would.
pub fn date_time(text: &str) -> Option<callaccess_domain::Timestamp> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    let seconds = parsed.unix_timestamp() + i64::from(parsed.nanosecond() > 0);
    Some(callaccess_domain::Timestamp::from_unix(seconds))
}

/// A date-time as a stored instant, in whole seconds (any fraction
/// dropped).
pub fn instant(text: &str) -> Option<callaccess_domain::Timestamp> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(callaccess_domain::Timestamp::from_unix(
        parsed.unix_timestamp(),
    ))
}

/// Why `value` is not a date-time, after its field path.
pub fn date_message(value: &Value) -> String {
    format!(
        "{} is not an ISO-8601 date-time with an offset, such as \"2018-02-18T02:30:00-07:00\" or \"2018-02-18T08:00:00Z\"",
        callaccess_domain::ids::quote(value)
    )
}

// --- the document ---

/// The schema of `shape`: objects with a Gong name by reference (their
/// definitions are gathered by [`named_schemas`]).
pub fn schema_of(shape: &Shape) -> RefOr<Schema> {
    let string = |format: Option<KnownFormat>| {
        let mut builder = ObjectBuilder::new().schema_type(SchemaType::Type(Type::String));
        if let Some(format) = format {
            builder = builder.format(Some(SchemaFormat::KnownFormat(format)));
        }
        builder
    };
    let schema: Schema = match shape {
        Shape::Bool => ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Boolean))
            .into(),
        Shape::Str { max } => string(None).max_length(*max).into(),
        Shape::OneOf(allowed) => string(None)
            .enum_values(Some(allowed.iter().copied()))
            .into(),
        Shape::Id => id_schema(),
        Shape::Ids => ArrayBuilder::new()
            .items(RefOr::T(id_schema()))
            .unique_items(true)
            .into(),
        Shape::Strings => ArrayBuilder::new().items(string(None)).into(),
        Shape::DateTime => string(Some(KnownFormat::DateTime)).into(),
        Shape::Number => ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Number))
            .minimum(Some(0.0))
            .into(),
        Shape::Int { min, max } => ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Integer))
            .minimum(Some(*min as f64))
            .maximum(Some(*max as f64))
            .into(),
        Shape::Array { item, min } => ArrayBuilder::new()
            .items(schema_of(item))
            .min_items(Some(*min))
            .into(),
        Shape::Ignored(doc_type) => match *doc_type {
            "string" => string(None).into(),
            "array" => ArrayBuilder::new().into(),
            _ => ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Object))
                .into(),
        },
        Shape::Object(object) => match object.name {
            Some(name) => return RefOr::Ref(Ref::from_schema_name(name)),
            None => object_schema(object),
        },
    };
    RefOr::T(schema)
}

/// A Gong id on the wire: a string of digits (a JSON integer is also taken).
fn id_schema() -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::String))
                .pattern(Some("^[0-9]{1,20}$"))
                .examples([Value::String("234599484848423".to_owned())]),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(1.0))
                .maximum(Some(i64::MAX as f64)),
        )
        .into()
}

/// An object's own schema (its fields, in table order).
pub fn object_schema(object: &Object) -> Schema {
    let mut builder = ObjectBuilder::new().schema_type(SchemaType::Type(Type::Object));
    for field in object.fields {
        let property = match schema_of(&field.shape) {
            RefOr::T(Schema::Object(o)) => {
                let mut o = o;
                o.description = Some(field.doc.to_owned());
                RefOr::T(Schema::Object(o))
            }
            RefOr::T(Schema::Array(mut a)) => {
                a.description = Some(field.doc.to_owned());
                RefOr::T(Schema::Array(a))
            }
            other => other,
        };
        builder = builder.property(field.name, property);
        if field.required {
            builder = builder.required(field.name);
        }
    }
    builder.into()
}

/// Every named object reachable from `object` (itself included), each once.
pub fn named_schemas(object: &'static Object, into: &mut Vec<(String, RefOr<Schema>)>) {
    if let Some(name) = object.name {
        if into.iter().any(|(n, _)| n == name) {
            return;
        }
        into.push((name.to_owned(), RefOr::T(object_schema(object))));
    }
    for field in object.fields {
        let mut shape = &field.shape;
        while let Shape::Array { item, .. } = shape {
            shape = item;
        }
        if let Shape::Object(inner) = shape {
            named_schemas(inner, into);
        }
    }
}

/// A request body documented under its Gong name from its table.
pub trait Documented {
    const OBJECT: &'static Object;
}

/// Implements utoipa's schema traits for a [`Documented`] marker type, so
/// handlers can name it as their `request_body`.
macro_rules! documented {
    ($marker:ident, $object:expr) => {
        pub struct $marker;
        impl $crate::http::shape::Documented for $marker {
            const OBJECT: &'static $crate::http::shape::Object = $object;
        }
        impl utoipa::PartialSchema for $marker {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::RefOr::T($crate::http::shape::object_schema($object))
            }
        }
        impl utoipa::ToSchema for $marker {
            fn name() -> std::borrow::Cow<'static, str> {
                $crate::http::shape::name_of($object)
            }
            fn schemas(
                schemas: &mut Vec<(
                    String,
                    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                )>,
            ) {
                $crate::http::shape::named_schemas($object, schemas);
            }
        }
    };
}
pub(crate) use documented;

pub fn name_of(object: &Object) -> Cow<'static, str> {
    Cow::Borrowed(object.name.unwrap_or("Object"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static INNER: Object = Object {
        name: Some("Inner"),
        fields: &[Field::required(
            "level",
            Shape::OneOf(&["a", "b"]),
            "a level",
        )],
    };
    static OUTER: Object = Object {
        name: Some("Outer"),
        fields: &[
            Field::required("name", Shape::Str { max: Some(3) }, "a name"),
            Field::optional("flag", Shape::Bool, "a flag"),
            Field::optional("ids", Shape::Ids, "ids"),
            Field::optional("at", Shape::DateTime, "when"),
            Field::optional("inner", Shape::Object(&INNER), "inner"),
            Field::optional(
                "list",
                Shape::Array {
                    item: &Shape::Object(&INNER),
                    min: 1,
                },
                "list",
            ),
        ],
    };

    fn problems(body: Value) -> Vec<String> {
        match Checker::new(2).body(&body, &OUTER) {
            Err(ApiError::BadRequest(m)) => m,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_clean_copy_keeps_known_fields_in_canonical_form() {
        let clean = Checker::new(10)
            .body(
                &json!({"name": "ab", "ids": [7, "007", "8"], "unknown": 1, "flag": null,
                        "inner": {"level": "a", "extra": true}}),
                &OUTER,
            )
            .unwrap();
        assert_eq!(
            Value::Object(clean),
            json!({"name": "ab", "ids": ["7", "8"], "inner": {"level": "a"}})
        );
    }

    #[test]
    fn every_problem_is_named_by_its_path() {
        assert_eq!(
            problems(json!({"flag": "yes", "ids": ["x", 1], "at": "2020-01-01",
                            "inner": {"level": "c"}, "list": []})),
            vec![
                "name: must not be null",
                "flag: \"yes\" is not a boolean",
                "ids[0]: \"x\" is not a numeric id",
                "at: \"2020-01-01\" is not an ISO-8601 date-time with an offset, such as \"2018-02-18T02:30:00-07:00\" or \"2018-02-18T08:00:00Z\"",
                "inner.level: \"c\" is not one of \"a\", \"b\"",
                "list: must hold at least 1 item(s)",
            ]
        );
        assert_eq!(
            problems(json!({"name": "abcd", "ids": ["1", "2", "3"], "list": [{}]})),
            vec![
                "name: must be at most 3 characters long, got 4",
                "ids: at most 2 ids are allowed per request, got 3",
                "list[0].level: must not be null",
            ]
        );
        assert!(matches!(
            Checker::new(1).body(&json!([]), &OUTER),
            Err(ApiError::BadRequest(m)) if m == ["request body must be a JSON object"]
        ));
    }

    #[test]
    fn dates_take_an_offset_and_round_up_to_the_second() {
        assert_eq!(
            date_time("2018-02-18T08:00:00Z").unwrap().unix(),
            1_518_940_800
        );
        assert_eq!(
            date_time("2018-02-18T01:00:00-07:00").unwrap().unix(),
            1_518_940_800
        );
        assert_eq!(
            date_time("2018-02-18T08:00:00.5Z").unwrap().unix(),
            1_518_940_801
        );
        for bad in ["2018-02-18", "2018-02-18T08:00:00", "yesterday", ""] {
            assert!(date_time(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn named_objects_are_listed_once() {
        let mut schemas = Vec::new();
        named_schemas(&OUTER, &mut schemas);
        let names: Vec<&str> = schemas.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Outer", "Inner"]);
    }
}
