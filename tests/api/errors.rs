//! The error contract for requests the router or the query/path extractors reject.

use reqwest::StatusCode;

use crate::helpers::{assert_problem, TestApp};

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
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn().await;
    // Break the database under the running server.
    app.db
        .get()
        .unwrap()
        .batch_execute("ALTER TABLE policies RENAME TO policies_gone")
        .unwrap();
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
