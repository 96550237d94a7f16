//! Extractors whose rejections are problem documents that name the offending field.
//!
//! `Json<T>` and `Query<T>` replace actix's own so that every error carries the path of the
//! field (`shipping_address.country`) and never repeats the submitted value: a rejected value
//! may be personal data, and error texts end up in logs and client telemetry.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// Request bodies are small JSON documents; anything larger is refused before it is buffered.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON request body, deserialized strictly (DTOs use `deny_unknown_fields`).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

fn is_json_content_type(req: &HttpRequest) -> bool {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(ct) = ct.to_str() else { return false };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload, false);
        Box::pin(async move {
            let body = body.await?;
            parse_json(&body).map(Json)
        })
    }
}

/// A JSON body that may be left out: an empty body (with or without a content type) is
/// `T::default()`, so `POST /v1/carts` needs no `{}`. A non-empty body is a [`Json`].
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload, true);
        Box::pin(async move {
            let body = body.await?;
            if body.is_empty() {
                return Ok(OptionalJson(T::default()));
            }
            parse_json(&body).map(OptionalJson)
        })
    }
}

/// The request body, at most [`BODY_LIMIT`] bytes, of JSON content type unless `may_be_empty`
/// and it is empty.
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    may_be_empty: bool,
) -> impl Future<Output = Result<BytesMut, ApiError>> {
    let json = is_json_content_type(req);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        if declared.is_some_and(|n| n > BODY_LIMIT) {
            return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
        }
        let unsupported = || ApiError::UnsupportedMediaType {
            expected: "application/json",
        };
        if !json && !may_be_empty {
            return Err(unsupported());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk
                .map_err(|_| ApiError::BadRequest("The request body could not be read.".into()))?;
            if body.len() + chunk.len() > BODY_LIMIT {
                return Err(ApiError::PayloadTooLarge { limit: BODY_LIMIT });
            }
            body.extend_from_slice(&chunk);
        }
        if !json && !body.is_empty() {
            return Err(unsupported());
        }
        Ok(body)
    }
}

/// Deserializes a JSON body, turning serde's error into a field error without the value.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = field_path(e.path());
        let inner = e.into_inner();
        let (field, message) = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => (
                "$".to_owned(),
                format!(
                    "malformed JSON at line {} column {}",
                    inner.line(),
                    inner.column()
                ),
            ),
            _ => (field, sanitize_message(&inner.to_string())),
        };
        let field = if field == "$" {
            unknown_or_missing_field(&message).unwrap_or(field)
        } else {
            field
        };
        ApiError::Validation(vec![FieldError::new(field, message)])
    })?;
    // Trailing characters after the document are malformed JSON too.
    de.end().map_err(|e| {
        ApiError::validation(
            "$",
            format!("malformed JSON at line {} column {}", e.line(), e.column()),
        )
    })?;
    if let Some(field) = nul_in_json(body) {
        return Err(ApiError::validation(field, NUL_REFUSED));
    }
    Ok(value)
}

/// No text of this API holds U+0000: PostgreSQL cannot store it in a text column, and what
/// SQLite would keep could then never move to PostgreSQL.
const NUL_REFUSED: &str = "must not contain the NUL character (U+0000)";

/// The path of the first string of a JSON document that holds U+0000 (`\u0000`; raw
/// control characters are malformed JSON). A key holding it is reported at its parent.
fn nul_in_json(body: &[u8]) -> Option<String> {
    if !body.windows(5).any(|w| w == b"u0000") {
        return None;
    }
    fn walk(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(map) => map.iter().any(|(key, item)| {
                if key.contains('\0') {
                    return true;
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut path = String::new();
    walk(&value, &mut path).then(|| {
        if path.is_empty() {
            "$".to_owned()
        } else {
            path
        }
    })
}

/// Query-string parameters, deserialized strictly; errors name the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    if query.contains("%00") {
        if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
            .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        {
            let field = if name.contains('\0') {
                "$".into()
            } else {
                name.into_owned()
            };
            return Err(ApiError::validation(field, NUL_REFUSED));
        }
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = field_path(e.path());
        let message = sanitize_message(&e.into_inner().to_string());
        let field = if field == "$" {
            unknown_or_missing_field(&message).unwrap_or(field)
        } else {
            field
        };
        ApiError::Validation(vec![FieldError::new(field, message)])
    })
}

fn field_path(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            serde_path_to_error::Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    if out.is_empty() {
        "$".into()
    } else {
        out
    }
}

/// `unknown field `x`` and `missing field `x`` errors are reported at the parent: name the
/// field itself instead.
fn unknown_or_missing_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?;
    let name = rest.split('`').next()?;
    (!name.is_empty() && name.len() <= 64).then(|| name.to_owned())
}

/// serde's messages quote the rejected value (`invalid type: string "4111…", expected u32`);
/// keep the expectation, drop the value. Line/column suffixes are dropped too.
pub fn sanitize_message(message: &str) -> String {
    let message = match message.find(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    for (prefix, replacement) in [
        ("invalid type: ", "invalid type"),
        ("invalid value: ", "invalid value"),
        ("unknown variant ", "unknown value"),
    ] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return match rest.find(", expected ") {
                Some(i) => format!(
                    "{replacement}, expected {}",
                    &rest[i + ", expected ".len()..]
                ),
                None => replacement.to_owned(),
            };
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or("");
        return format!("unknown field `{name}`: this API does not accept it");
    }
    // Integer parse errors from query strings ("invalid digit found in string", …).
    if message.contains("invalid digit") || message.starts_with("number too large") {
        return "expected a number".into();
    }
    message.to_owned()
}

/// For `#[serde(default, deserialize_with = "explicit_null")]`: `Some(None)` for an explicit
/// `null` (clear the field), `None` when the field is absent (leave it as it is).
pub fn explicit_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: u32,
        address: Option<Address>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Address {
        country: String,
    }

    fn field_errors(body: &str) -> Vec<FieldError> {
        match parse_json::<Body>(body.as_bytes()) {
            Err(ApiError::Validation(errors)) => errors,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn wrong_type_names_the_field_and_hides_the_value() {
        let e = field_errors(r#"{"name": "x", "count": "4111 1111 1111 1111"}"#);
        assert_eq!(e[0].field, "count");
        assert!(!e[0].message.contains("4111"), "{}", e[0].message);
        assert!(e[0].message.contains("expected"));
    }

    #[test]
    fn unknown_field_is_named() {
        let e = field_errors(r#"{"name": "x", "count": 1, "card_number": "4111"}"#);
        assert_eq!(e[0].field, "card_number");
        let e =
            field_errors(r#"{"name": "x", "count": 1, "address": {"country": "FR", "iban": 1}}"#);
        assert_eq!(e[0].field, "address.iban");
    }

    #[test]
    fn missing_field_is_named() {
        let e = field_errors(r#"{"name": "x"}"#);
        assert_eq!(e[0].field, "count");
    }

    #[test]
    fn malformed_json_points_at_the_body() {
        let e = field_errors(r#"{"name": "#);
        assert_eq!(e[0].field, "$");
        assert!(e[0].message.starts_with("malformed JSON"));
        let e = field_errors(r#"{"name": "x", "count": 1} trailing"#);
        assert_eq!(e[0].field, "$");
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Params {
        limit: Option<u32>,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        match parse_query::<Params>("limit=abc") {
            Err(ApiError::Validation(e)) => assert_eq!(e[0].field, "limit"),
            other => panic!("{other:?}"),
        }
        match parse_query::<Params>("limit=5&colour=red") {
            Err(ApiError::Validation(e)) => assert_eq!(e[0].field, "colour"),
            other => panic!("{other:?}"),
        }
        assert!(parse_query::<Params>("limit=5").is_ok());
    }

    #[test]
    fn a_nul_character_in_a_body_is_refused_by_field() {
        let e = field_errors(r#"{"name": "a\u0000b", "count": 1}"#);
        assert_eq!(e[0].field, "name");
        assert_eq!(e[0].message, NUL_REFUSED);
        let e = field_errors(r#"{"name": "x", "count": 1, "address": {"country": "\u0000"}}"#);
        assert_eq!(e[0].field, "address.country");
        // An escaped backslash followed by `u0000` is text, not a NUL.
        assert!(parse_json::<Body>(br#"{"name": "\\u0000", "count": 1}"#).is_ok());
        assert_eq!(
            nul_in_json(br#"[1, {"a": ["x", "\u0000"]}]"#).as_deref(),
            Some("[1].a[1]")
        );
        assert_eq!(nul_in_json(br#"{"\u0000": 1}"#).as_deref(), Some("$"));
        assert_eq!(nul_in_json(br#""\u0000""#).as_deref(), Some("$"));
    }

    #[test]
    fn a_nul_character_in_a_query_is_refused_by_parameter() {
        match parse_query::<Params>("limit=5%00") {
            Err(ApiError::Validation(e)) => {
                assert_eq!(e[0].field, "limit");
                assert_eq!(e[0].message, NUL_REFUSED);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_query::<Params>("limit=5&%00=1").is_err());
    }
}
