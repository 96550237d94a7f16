//! The error contract for request bodies: the real `Json` extractor behind the real
//! middleware, driven through actix's test service.
//!
//! The same cases run over the socket against the real routes in the other files (auth,
//! catalogue admin, checkout); this file pins the extractor's own answers.

use actix_web::{test as atest, web, App, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use valise::http::extract::{Json, BODY_LIMIT};
use valise::http::middleware::RequestContext;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Probe {
    name: String,
    quantity: u32,
    address: Option<ProbeAddress>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ProbeAddress {
    country: String,
}

async fn accept(body: Json<Probe>) -> HttpResponse {
    HttpResponse::Created().json(serde_json::json!({ "quantity": body.0.quantity }))
}

async fn send(content_type: Option<&str>, body: impl Into<Vec<u8>>) -> (u16, String, Value) {
    let app = atest::init_service(
        App::new()
            .wrap(RequestContext::new())
            .route("/probe", web::post().to(accept)),
    )
    .await;
    let mut req = atest::TestRequest::post().uri("/probe");
    if let Some(ct) = content_type {
        req = req.insert_header(("content-type", ct));
    }
    let response = atest::call_service(&app, req.set_payload(body.into()).to_request()).await;
    let status = response.status().as_u16();
    let ct = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = atest::read_body(response).await;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, ct, json)
}

fn assert_problem(result: &(u16, String, Value), status: u16, slug: &str) {
    let (got, content_type, body) = result;
    assert_eq!(*got, status, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["type"], format!("urn:valise:problem:{slug}"));
    assert_eq!(body["status"], status);
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));
}

const JSON: Option<&str> = Some("application/json");

#[actix_web::test]
async fn a_valid_body_is_accepted() {
    let result = send(JSON, r#"{"name": "Ada", "quantity": 2}"#).await;
    assert_eq!(result.0, 201);
    let result = send(
        Some("application/json; charset=utf-8"),
        r#"{"name": "A", "quantity": 1}"#,
    )
    .await;
    assert_eq!(result.0, 201);
}

#[actix_web::test]
async fn malformed_json_is_a_422_problem() {
    let result = send(JSON, r#"{"name": "Ada", "quantity": "#).await;
    assert_problem(&result, 422, "validation-failed");
    assert_eq!(result.2["errors"][0]["field"], "$");
}

#[actix_web::test]
async fn an_unknown_field_is_a_422_problem_naming_it() {
    let result = send(
        JSON,
        r#"{"name": "Ada", "quantity": 1, "card_number": "4111"}"#,
    )
    .await;
    assert_problem(&result, 422, "validation-failed");
    assert_eq!(result.2["errors"][0]["field"], "card_number");

    let nested = r#"{"name": "Ada", "quantity": 1, "address": {"country": "FR", "iban": "x"}}"#;
    let result = send(JSON, nested).await;
    assert_problem(&result, 422, "validation-failed");
    assert_eq!(result.2["errors"][0]["field"], "address.iban");
}

#[actix_web::test]
async fn a_wrong_type_is_a_422_problem_that_never_echoes_the_value() {
    let result = send(
        JSON,
        r#"{"name": "Ada", "quantity": "4111 1111 1111 1111"}"#,
    )
    .await;
    assert_problem(&result, 422, "validation-failed");
    assert_eq!(result.2["errors"][0]["field"], "quantity");
    assert!(!result.2.to_string().contains("4111"), "{}", result.2);
}

#[actix_web::test]
async fn a_missing_field_is_a_422_problem_naming_it() {
    let result = send(JSON, r#"{"name": "Ada"}"#).await;
    assert_problem(&result, 422, "validation-failed");
    assert_eq!(result.2["errors"][0]["field"], "quantity");
}

#[actix_web::test]
async fn a_body_over_64_kib_is_a_413_problem() {
    let big = format!(r#"{{"name": "{}", "quantity": 1}}"#, "a".repeat(BODY_LIMIT));
    assert_problem(&send(JSON, big).await, 413, "payload-too-large");
}

#[actix_web::test]
async fn a_wrong_or_missing_content_type_is_a_415_problem() {
    let body = r#"{"name": "Ada", "quantity": 1}"#;
    assert_problem(
        &send(Some("text/plain"), body).await,
        415,
        "unsupported-media-type",
    );
    assert_problem(
        &send(Some("application/x-www-form-urlencoded"), "name=Ada").await,
        415,
        "unsupported-media-type",
    );
    assert_problem(&send(None, body).await, 415, "unsupported-media-type");
}
