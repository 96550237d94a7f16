use crate::helpers::TestApp;

#[actix_web::test]
async fn healthz_answers_ok_with_the_common_headers() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(headers["x-policy-version"], "1");
    assert_eq!(headers["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[actix_web::test]
async fn readyz_reports_a_reachable_database() {
    let app = TestApp::spawn().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[actix_web::test]
async fn a_plain_request_id_is_echoed_and_an_unsafe_one_replaced() {
    let app = TestApp::spawn().await;
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "req-abc_123.4")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "req-abc_123.4");

    let replaced = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "evil value\twith spaces")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(id, "evil value\twith spaces");
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "a generated id is a UUID: {id}"
    );
}

#[actix_web::test]
async fn responses_are_compressed_when_asked() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/v1/policies/current"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
}

#[actix_web::test]
async fn browsers_from_any_origin_may_read_without_credentials_in_development() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/v1/policies/current"))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(!response
        .headers()
        .contains_key("access-control-allow-credentials"));
}
