use reqwest::StatusCode;

use crate::helpers::{json_of, TestApp};

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
    let body = json_of(response, StatusCode::OK).await;
    assert_eq!(body["status"], "ready");
}

#[actix_web::test]
async fn the_request_id_is_always_the_servers_own() {
    let app = TestApp::spawn().await;
    let mut seen = std::collections::HashSet::new();
    for sent in [Some("req-abc_123.4"), Some("evil value\twith spaces"), None] {
        let mut request = app.client.get(app.url("/v1/products/unknown-slug"));
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let response = request.send().await.unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "a generated id: {id}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["request_id"], id.as_str(), "the problem names it");
        assert!(seen.insert(id));
    }
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

/// CORS headers are for browsers, which send `Origin` on every cross-origin request: a
/// request without one gets none, but the response still varies on `Origin` so a shared
/// cache never hands it to a browser that needs them.
#[actix_web::test]
async fn cors_headers_answer_origins_and_responses_vary_on_them() {
    let app = TestApp::spawn().await;
    let plain = app.get("/v1/products?limit=1").await;
    assert_eq!(plain.status(), 200);
    let headers = plain.headers();
    assert!(
        !headers
            .keys()
            .any(|name| name.as_str().starts_with("access-control-")),
        "no CORS headers without an Origin: {headers:?}"
    );
    let vary = |headers: &reqwest::header::HeaderMap| {
        headers
            .get_all("vary")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert!(vary(headers).contains("Origin"), "{headers:?}");
    assert!(!headers.contains_key("content-encoding"));
    let _: serde_json::Value = plain.json().await.unwrap();

    let from_browser = app
        .client
        .get(app.url("/v1/products?limit=1"))
        .header("origin", "https://shop.example")
        .send()
        .await
        .unwrap();
    let headers = from_browser.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let exposed = headers["access-control-expose-headers"].to_str().unwrap();
    for name in ["etag", "x-request-id", "x-policy-version"] {
        assert!(exposed.contains(name), "{name} not exposed: {exposed}");
    }
    assert!(vary(headers).contains("Origin"), "{headers:?}");

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/carts"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    let headers = preflight.headers();
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert_eq!(headers["access-control-max-age"], "3600");
}

/// The pool hands out a connection that just served a request without testing it first; when
/// the database server drops every connection (a restart, a failover), a request that meets a
/// dead one is a 503 to retry, never a 500, and the pool replaces the dead connections.
#[actix_web::test]
async fn connections_the_database_dropped_are_a_503_then_replaced() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let Some(admin_url) = crate::helpers::postgres_admin_url() else {
        return; // SQLite has no server to lose.
    };
    let app = TestApp::spawn().await;
    let me = app
        .register(&crate::helpers::unique_email("lost"), "Lost Connection")
        .await;
    // Every pooled connection has just served a request.
    let warm: Vec<_> = (0..8).map(|_| app.get_as("/v1/me", &me)).collect();
    for response in futures_util::future::join_all(warm).await {
        assert_eq!(response.status(), 200);
    }
    let valise::db::DatabaseUrl::Postgres(url) = &app.config.database_url else {
        unreachable!()
    };
    let database = url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned();
    let mut admin = PgConnection::establish(&admin_url).unwrap();
    let dropped = diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    ))
    .execute(&mut admin)
    .unwrap();
    assert!(dropped > 0, "the app had connections to drop");

    let mut statuses = Vec::new();
    for _ in 0..20 {
        let status = app.get_as("/v1/me", &me).await.status().as_u16();
        statuses.push(status);
        if status == 200 {
            break;
        }
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "only 503s until a fresh connection answers: {statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&200), "{statuses:?}");
    // Afterwards every request is served again.
    let after: Vec<_> = (0..8).map(|_| app.get_as("/v1/me", &me)).collect();
    for response in futures_util::future::join_all(after).await {
        assert_eq!(response.status(), 200);
    }
}
