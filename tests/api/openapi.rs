use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{json_of, TestApp};

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

#[test]
fn the_committed_document_matches_the_code() {
    let generated = valise::startup::spec_json();
    let committed: Value = serde_json::from_str(COMMITTED).expect("openapi/openapi.json is JSON");
    let current: Value = serde_json::from_str(&generated).unwrap();
    assert!(
        committed == current,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

/// The verbs operation ids begin with.
const VERBS: &[&str] = &[
    "list",
    "get",
    "create",
    "update",
    "delete",
    "set",
    "add",
    "remove",
    "archive",
    "check",
    "verify",
    "register",
    "log",
    "refresh",
    "checkout",
    "start",
    "cancel",
    "open",
    "resolve",
    "answer",
    "ask",
    "rotate",
    "retry",
    "mark",
    "refund",
    "publish",
    "complete",
    "deny",
    "extend",
    "run",
    "adjust",
    "record",
    "erase",
    "export",
    "accept",
    "correct",
    "receive",
    "revoke",
    "search",
    "import",
    "redeliver",
];

#[actix_web::test]
async fn the_served_document_is_openapi_3_1_and_documents_every_operation() {
    let app = TestApp::spawn().await;
    let response = app.get("/openapi.json").await;
    let spec = json_of(response, StatusCode::OK).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(spec["components"]["schemas"]["Problem"].is_object());

    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/policies/current"));
    // Client generators name methods after operation ids: a duplicate breaks their output.
    let mut operation_ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            let operation_id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                !operation_id.is_empty() && operation_ids.insert(operation_id.to_owned()),
                "{name}: operationId `{operation_id}` is missing or not unique"
            );
            // verbNoun in camelCase: a function name that says what it does, wherever a
            // generator puts it (one namespace, or one per tag).
            let verb: String = operation_id
                .chars()
                .take_while(char::is_ascii_lowercase)
                .collect();
            let noun = &operation_id[verb.len()..];
            assert!(
                VERBS.contains(&verb.as_str())
                    && noun.starts_with(|c: char| c.is_ascii_uppercase())
                    && noun.chars().all(|c| c.is_ascii_alphanumeric()),
                "{name}: operationId `{operation_id}` is not verbNoun in camelCase"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: summary"
            );
            assert!(
                op["description"].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: description"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{name}: tag"
            );
            let responses = op["responses"].as_object().unwrap();
            let documents_problems = responses.values().any(|r| {
                r["content"]
                    .as_object()
                    .is_some_and(|c| c.contains_key("application/problem+json"))
            });
            // Only the liveness probe, the data map and the problem catalogue take nothing a
            // client could get wrong.
            if !["/healthz", "/v1/privacy/data-map", "/v1/problems"].contains(&path.as_str()) {
                assert!(documents_problems, "{name}: no problem response documented");
            }
        }
    }
}

#[actix_web::test]
async fn the_docs_page_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status(), 307);
    assert_eq!(redirect.headers()["location"], "/docs/");

    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Vendored assets: nothing is loaded from the internet.
    assert!(
        !html.contains("https://"),
        "the page references a remote asset"
    );
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        assert_eq!(app.get(asset).await.status(), 200, "{asset}");
    }
    let init = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"));
}

/// Generators (openapi-typescript, the CI client) refuse a document with a dangling `$ref`;
/// an enum used only as a query parameter is not collected into the components by itself.
#[test]
fn every_reference_in_the_document_resolves() {
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(r)) => found.push(r),
                        _ => refs(v, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let document: Value = serde_json::from_str(&valise::startup::spec_json()).unwrap();
    let mut found = Vec::new();
    refs(&document, &mut found);
    let dangling: Vec<&&str> = found
        .iter()
        .filter(|r| {
            r.strip_prefix('#')
                .and_then(|pointer| document.pointer(pointer))
                .is_none()
        })
        .collect();
    assert!(!found.is_empty());
    assert!(dangling.is_empty(), "dangling references: {dangling:?}");
}

/// Two Rust types that derive `ToSchema` under one name become one component: the document
/// keeps whichever was collected last, and every reference meant for the other describes the
/// wrong type (the discount `Kind` once replaced the privacy request `Kind`). The document
/// alone cannot show it, so each room's routes are documented on their own, as the
/// application registers them, and every schema they name must be the document's schema of
/// that name. (Two such types used by the routes of one room collapse before this sees them;
/// across rooms, where names are chosen apart, it catches them.)
#[test]
fn no_two_types_share_a_schema_name() {
    use utoipa_actix_web::AppExt;
    use valise::startup::{ADMIN_ROUTES, PROBE_ROUTES, PUBLIC_ROUTES};
    let document = serde_json::to_value(valise::startup::spec()).unwrap();
    let components = &document["components"]["schemas"];
    let mut compared = 0;
    for group in PUBLIC_ROUTES.iter().chain(ADMIN_ROUTES).chain(PROBE_ROUTES) {
        let (_, part) = actix_web::App::new()
            .into_utoipa_app()
            .configure(*group)
            .split_for_parts();
        let part = serde_json::to_value(part).unwrap();
        let paths: Vec<&String> = part["paths"].as_object().unwrap().keys().collect();
        let schemas = part["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten();
        for (name, schema) in schemas {
            assert!(
                components[name] == *schema,
                "two types are named `{name}`: the one the routes {paths:?} use is not the \
                 document's; name one apart with `#[schema(as = …)]`"
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "only {compared} schemas compared");
}

fn operations(document: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            found.push((format!("{} {path}", method.to_uppercase()), op));
        }
    }
    found
}

/// A generated client turns descriptions into its doc comments: every parameter and every
/// property says what it is (a property that is a bare `$ref` takes its schema's description).
#[test]
fn every_parameter_and_property_is_described() {
    fn undescribed(schema: &Value, at: &str, found: &mut Vec<String>) {
        let Some(map) = schema.as_object() else {
            return;
        };
        for (name, property) in map
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let described = property.get("description").is_some()
                || property.get("$ref").is_some()
                || ["allOf", "oneOf", "anyOf"].iter().any(|k| {
                    property[k]
                        .as_array()
                        .is_some_and(|parts| parts.iter().any(|p| p.get("description").is_some()))
                });
            if !described {
                found.push(format!("{at}.{name}"));
            }
            undescribed(property, &format!("{at}.{name}"), found);
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for (i, part) in map
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                undescribed(part, &format!("{at}[{key} {i}]"), found);
            }
        }
        if let Some(items) = map.get("items") {
            undescribed(items, &format!("{at}[]"), found);
        }
    }
    let document: Value = serde_json::from_str(&valise::startup::spec_json()).unwrap();
    let mut found = Vec::new();
    for (name, schema) in document["components"]["schemas"].as_object().unwrap() {
        undescribed(schema, name, &mut found);
    }
    for (name, op) in operations(&document) {
        for parameter in op["parameters"].as_array().into_iter().flatten() {
            if parameter.get("description").is_none() {
                found.push(format!("{name} parameter {}", parameter["name"]));
            }
        }
    }
    assert!(found.is_empty(), "undescribed: {found:#?}");
}

/// Every request body and every successful JSON answer shows an example, in the media type or
/// in its schema (Spectral's `oas3-valid-*-example` rules check that each one validates).
#[test]
fn every_request_body_and_main_response_has_an_example() {
    let document: Value = serde_json::from_str(&valise::startup::spec_json()).unwrap();
    let has_example = |content: &Value| {
        let schema = match content["schema"]["$ref"].as_str() {
            Some(r) => document
                .pointer(r.trim_start_matches('#'))
                .unwrap_or(&Value::Null),
            None => &content["schema"],
        };
        content.get("example").is_some()
            || content.get("examples").is_some()
            || schema.get("example").is_some()
            || schema.get("examples").is_some()
    };
    let mut missing = Vec::new();
    for (name, op) in operations(&document) {
        for (media, content) in op["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if !has_example(content) {
                missing.push(format!("{name} request body ({media})"));
            }
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            if !status.starts_with('2') {
                continue;
            }
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                if media == "application/json" && !has_example(content) {
                    missing.push(format!("{name} {status} ({media})"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "no example: {missing:#?}");
}
