//! `GET /metrics`: Prometheus text by route template, with no personal data, and its access
//! rules (open in development, a bearer token or an admin otherwise).

use reqwest::StatusCode;
use serde_json::json;
use valise::auth::Role;
use valise::config::{Environment, Secret};

use crate::helpers::{assert_problem, unique_email, TestApp};

const TOKEN: &str = "scraper-token-0123456789";

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

/// The value of the sample whose name and labels are exactly `series`, or 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[actix_web::test]
async fn requests_are_counted_by_route_template_and_status() {
    let app = TestApp::spawn().await;
    let counter =
        r#"valise_http_requests_total{method="GET",route="/v1/policies/{version}",status="200"}"#;
    let missing =
        r#"valise_http_requests_total{method="GET",route="/v1/policies/{version}",status="404"}"#;
    let text = scrape(&app).await;
    let (before, missing_before) = (sample(&text, counter), sample(&text, missing));
    for _ in 0..3 {
        assert_eq!(app.get("/v1/policies/1").await.status(), StatusCode::OK);
    }
    // The same route with another status is another series.
    assert_eq!(
        app.get("/v1/policies/999").await.status(),
        StatusCode::NOT_FOUND
    );
    app.get("/no/such/path/42").await;
    let product = "/v1/products/prod_01a2140000000000000000000000beef";
    assert_eq!(app.get(product).await.status(), StatusCode::NOT_FOUND);

    let text = scrape(&app).await;
    assert_eq!(sample(&text, counter) - before, 3.0, "{text}");
    assert_eq!(sample(&text, missing) - missing_before, 1.0, "{text}");
    let latency = r#"valise_http_request_duration_seconds_count{method="GET",route="/v1/policies/{version}",status="200"}"#;
    assert_eq!(sample(&text, latency), 3.0, "{text}");
    assert!(
        sample(
            &text,
            r#"valise_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"valise_http_requests_total{method="GET",route="/v1/products/{id_or_slug}",status="404"}"#
        ),
        1.0,
        "{text}"
    );
    assert!(
        !text.contains("/v1/policies/1\"")
            && !text.contains("/no/such/path")
            && !text.contains("prod_"),
        "a concrete path became a label: {text}"
    );
}

#[actix_web::test]
async fn labels_carry_no_personal_data() {
    let app = TestApp::spawn().await;
    let email = unique_email("metrics");
    let session = app.register(&email, "Ottoline Quaritch").await;
    assert_eq!(
        app.get_as("/v1/me", &session).await.status(),
        StatusCode::OK
    );
    let local_part = email.split('@').next().unwrap();

    let text = scrape(&app).await;
    assert!(text.contains(r#"route="/v1/me""#), "{text}");
    assert!(
        text.contains(r#"route="/v1/auth/register",status="202""#),
        "{text}"
    );
    for secret in [
        email.as_str(),
        local_part,
        "Ottoline",
        &session.user_id,
        &session.access,
    ] {
        assert!(!text.contains(secret), "metrics expose {secret}");
    }
}

#[actix_web::test]
async fn pools_outbox_backlog_and_retention_runs_are_reported() {
    let app = TestApp::spawn().await;
    let text = scrape(&app).await;
    assert!(sample(&text, r#"valise_db_pool_max_connections{pool="primary"}"#) >= 1.0);
    assert!(text.contains(r#"valise_db_pool_connections{pool="primary"}"#));
    assert!(text.contains(r#"valise_db_pool_idle_connections{pool="primary"}"#));
    assert_eq!(sample(&text, "valise_outbox_pending_notifications"), 0.0);
    assert!(text.contains(r#"valise_retention_runs_total{mode="dry_run"} 0"#));
    assert!(text.contains(r#"valise_retention_runs_total{mode="purge"} 0"#));

    for _ in 0..2 {
        app.query(|conn| {
            valise::notifications::enqueue(
                conn,
                valise::notifications::To::KindLookup,
                &valise::notifications::Kind::OrderPlaced,
                &json!({}),
            )
        })
        .await;
    }
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "valise_outbox_pending_notifications"), 2.0);
}

#[actix_web::test]
async fn statements_sent_to_the_database_are_counted() {
    let app = TestApp::spawn().await;
    let series = r#"valise_db_statements_total{pool="primary"}"#;
    let before = sample(&scrape(&app).await, series);
    // Registration reads the address's blind index, writes the account, its key, its consent
    // and its confirmation mail, in a transaction: several statements at least.
    app.register(&unique_email("statements"), "Counted Customer")
        .await;
    let after = sample(&scrape(&app).await, series);
    assert!(after >= before + 5.0, "{before} → {after}");
}

#[actix_web::test]
async fn a_configured_token_is_required_as_bearer() {
    let app =
        TestApp::spawn_configured(|c| c.metrics_token = Some(Secret::new(TOKEN.into()))).await;
    assert_problem(
        app.get("/metrics").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scraper-token-wrong-wrong")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    assert!(right
        .text()
        .await
        .unwrap()
        .contains("valise_http_requests_total"));

    let customer = app.register(&unique_email("metrics"), "Cy Customer").await;
    assert_problem(
        app.get_as("/metrics", &customer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let admin = app.staff(Role::Admin).await;
    assert_eq!(
        app.get_as("/metrics", &admin).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn production_without_a_token_serves_admins_only() {
    let app = TestApp::spawn_configured(|c| c.environment = Environment::Production).await;
    assert_problem(
        app.get("/metrics").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let manager = app.staff(Role::Manager).await;
    assert_problem(
        app.get_as("/metrics", &manager).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let admin = app.staff(Role::Admin).await;
    assert_eq!(
        app.get_as("/metrics", &admin).await.status(),
        StatusCode::OK
    );
}
