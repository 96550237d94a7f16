//! The error contract for requests the router or the query/path extractors reject.

use reqwest::StatusCode;

use crate::helpers::{assert_problem, json_of, TestApp};

#[actix_web::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = TestApp::spawn().await;
    assert_problem(
        app.get("/v1/no-such-thing").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
}

#[actix_web::test]
async fn a_wrong_method_is_a_405_problem_listing_the_allowed_ones() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .delete(app.url("/v1/policies/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    )
    .await;

    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_problem(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
    )
    .await;
}

#[actix_web::test]
async fn a_malformed_path_parameter_is_a_404_problem() {
    let app = TestApp::spawn().await;
    for path in ["/v1/policies/abc", "/v1/policies/99999999999999"] {
        assert_problem(app.get(path).await, StatusCode::NOT_FOUND, "not-found").await;
    }
}

#[actix_web::test]
async fn invalid_query_parameters_are_422_problems_naming_the_parameter() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("colour=red", "colour"),
    ] {
        let body = assert_problem(
            app.get(&format!("/v1/policies?{query}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
}

#[actix_web::test]
async fn an_internal_error_is_a_500_problem_that_hides_its_cause() {
    let app = TestApp::spawn().await;
    // Break the database under the running server.
    app.sql("ALTER TABLE policies RENAME TO policies_gone");
    let body = assert_problem(
        app.get("/v1/policies/current").await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal-error",
    )
    .await;
    let text = body.to_string().to_lowercase();
    for leak in ["policies", "table", "relation", "sql", "diesel"] {
        assert!(
            !text.contains(leak),
            "the cause leaked into the response: {body}"
        );
    }
}

/// PostgreSQL cannot store U+0000 in text, so no request text may hold it: a body, a query
/// parameter or a cursor key with one is a 422 naming the field on both backends, never a 500.
#[actix_web::test]
async fn a_nul_character_in_a_body_query_or_cursor_is_a_422_naming_the_field() {
    use reqwest::Method;
    use serde_json::json;
    use valise::auth::Role;
    use valise::http::pagination::encode_cursor;
    use valise::payments::model::sign;

    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    let refused = |response, field: &'static str| async move {
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    };

    let named = app
        .authed(Method::POST, "/v1/admin/api-keys", &admin)
        .json(&json!({"name": "abs\u{0}", "role": "customer"}))
        .send()
        .await
        .unwrap();
    refused(named, "name").await;

    // A signed provider event: the signature holds, the ids cannot.
    let event = json!({
        "id": "evt\u{0}", "type": "payment.captured", "created": 1,
        "data": {"payment_id": "pay_x", "provider_reference": "x", "amount": 1}
    })
    .to_string();
    let now = chrono::Utc::now().timestamp();
    let webhook = app
        .client
        .post(app.url("/v1/payments/webhooks/test"))
        .header("content-type", "application/json")
        .header(
            "valise-signature",
            sign(
                crate::fixtures::WEBHOOK_SECRET.as_bytes(),
                now,
                event.as_bytes(),
            ),
        )
        .body(event)
        .send()
        .await
        .unwrap();
    refused(webhook, "id").await;

    let filtered = app
        .get_as("/v1/admin/audit?subject_id=usr_%00", &officer)
        .await;
    refused(filtered, "subject_id").await;

    for (path, who) in [
        (
            format!(
                "/v1/admin/api-keys?cursor={}",
                encode_cursor("api-keys", "0|\u{0}")
            ),
            &admin,
        ),
        (
            format!(
                "/v1/products?cursor={}",
                encode_cursor("products:newest", "a\u{0}")
            ),
            &admin,
        ),
    ] {
        refused(app.get_as(&path, who).await, "cursor").await;
    }
}

/// The DSR queue's cursor holds a due date: one from a forged cursor that PostgreSQL cannot
/// represent (before 4713 BC) is refused like any other foreign cursor, not a 500.
#[actix_web::test]
async fn a_queue_cursor_with_a_due_date_out_of_range_is_a_422() {
    use valise::auth::Role;
    use valise::http::pagination::encode_cursor;

    let app = TestApp::spawn().await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    for key in ["-2108668032000000001|", "9223372036854775807|dsr_x"] {
        let path = format!(
            "/v1/admin/privacy/requests?cursor={}",
            encode_cursor("dsr-queue", key)
        );
        let body = assert_problem(
            app.get_as(&path, &officer).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "cursor", "{key}: {body}");
    }
    let fine = encode_cursor("dsr-queue", "1764082800000000|dsr_x");
    let response = app
        .get_as(
            &format!("/v1/admin/privacy/requests?cursor={fine}"),
            &officer,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// A path holding `%00` names nothing (PostgreSQL could not even look it up): a 404 problem
/// on both backends, never a 500.
#[actix_web::test]
async fn a_path_holding_a_nul_character_is_a_404_problem() {
    use valise::auth::Role;

    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    for path in [
        "/v1/products/a%00b",
        "/v1/carts/cart_%00",
        "/v1/admin/webhooks/a%00/deliveries",
        "/v1/admin/products/%00",
    ] {
        assert_problem(
            app.get_as(path, &admin).await,
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
}

#[actix_web::test]
async fn every_problem_type_is_served_and_titles_follow_the_type() {
    let app = crate::helpers::TestApp::spawn().await;
    let list = json_of(app.get("/v1/problems").await, StatusCode::OK).await;
    let types = list["data"].as_array().unwrap();
    assert!(types.len() >= 19);
    for entry in types {
        let slug = entry["slug"].as_str().unwrap();
        let one = json_of(
            app.get(&format!("/v1/problems/{slug}")).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(&one, entry);
        assert_eq!(one["type"], format!("urn:valise:problem:{slug}"));
    }
    let unknown = app.get("/v1/problems/no-such-type").await;
    crate::helpers::assert_problem(unknown, reqwest::StatusCode::NOT_FOUND, "not-found").await;

    // A 422 that is not a validation failure carries its own title.
    let variant = crate::fixtures::stocked_variant(&app, "titled", 3, 4900).await;
    let cart = crate::fixtures::guest_cart(&app, &variant, 1).await;
    let body = crate::fixtures::checkout_body("titled@example.com");
    crate::fixtures::checkout(&app, &cart, "title-key", &body).await;
    let reused = crate::fixtures::checkout(
        &app,
        &cart,
        "title-key",
        &crate::fixtures::checkout_body("other@example.com"),
    )
    .await;
    let problem = crate::helpers::assert_problem(
        reused,
        reqwest::StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;
    assert_eq!(problem["title"], "Idempotency key reused");
}
