//! Limits on anonymous writes: every write the document opens to guests has one, a client
//! over its quota gets 429 with the headers that say when to come back, and one client's
//! excess neither blocks another client nor reaches the handler.

use reqwest::{Method, StatusCode};
use serde_json::json;
use valise::http::client_ip::TrustedProxies;

use crate::helpers::{assert_problem, json_of, unique_email, TestApp, PASSWORD};

/// Limits as in production; clients told apart by `X-Forwarded-For` from the test's socket.
async fn limited_app() -> TestApp {
    TestApp::spawn_configured(|c| {
        c.rate_limit_scale = 1;
        c.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
    })
    .await
}

async fn register_from(app: &TestApp, client: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/auth/register"))
        .header("x-forwarded-for", client)
        .json(&json!({
            "email": unique_email("limited"), "password": PASSWORD, "name": "Limited",
            "accepted_policy_version": 1
        }))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn every_write_open_to_guests_has_a_limit() {
    let app = TestApp::spawn().await;
    let spec = json_of(app.get("/openapi.json").await, StatusCode::OK).await;
    let mut open = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "head", "options", "parameters"].contains(&method.as_str()) {
                continue;
            }
            // `security: []` (anyone) or a requirement list with `{}` (credentials optional).
            let anonymous = match op.get("security") {
                None => true,
                Some(requirements) => {
                    let requirements = requirements.as_array().unwrap();
                    requirements.is_empty()
                        || requirements
                            .iter()
                            .any(|r| r.as_object().unwrap().is_empty())
                }
            };
            if anonymous {
                open.push(format!("{} {path}", method.to_uppercase()));
                let limited = &op["responses"]["429"];
                for header in ["Retry-After", "RateLimit", "RateLimit-Policy"] {
                    assert!(
                        limited["headers"].get(header).is_some(),
                        "{method} {path}: 429 documents {header}"
                    );
                }
                assert!(
                    op["description"].as_str().unwrap().contains("Limited (`"),
                    "{method} {path} says its limits"
                );
            }
        }
    }
    let rules: Vec<String> = valise::startup::limit_rules()
        .map(|(method, path, _)| format!("{method} {path}"))
        .collect();
    for write in &open {
        assert!(rules.contains(write), "{write} has no limit");
    }
    assert!(open.len() >= 17, "{open:?}");
}

#[actix_web::test]
async fn a_client_over_its_quota_gets_429_and_others_are_served() {
    let app = limited_app().await;
    for n in 0..10 {
        let r = register_from(&app, "203.0.113.10").await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "registration {n}");
    }
    let refused = register_from(&app, "203.0.113.10").await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=360).contains(&retry_after), "one more every 6 minutes");
    assert_eq!(
        refused.headers()["ratelimit-policy"],
        "\"registration\";q=10;w=3600"
    );
    let state = refused.headers()["ratelimit"].to_str().unwrap().to_owned();
    assert!(state.starts_with("\"registration\";r=0;t="), "{state}");
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;

    // Another client, and a neighbour in the same IPv6 /64 shares the refusal.
    assert_eq!(
        register_from(&app, "198.51.100.20").await.status(),
        StatusCode::ACCEPTED
    );
    for n in 0..10 {
        let client = format!("2001:db8:7:7::{n:x}");
        assert_eq!(
            register_from(&app, &client).await.status(),
            StatusCode::ACCEPTED
        );
    }
    assert_eq!(
        register_from(&app, "2001:db8:7:7:ffff::1").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[actix_web::test]
async fn a_refused_write_reaches_no_handler() {
    let app = limited_app().await;
    let mut ids = Vec::new();
    for _ in 0..30 {
        let r = app
            .client
            .post(app.url("/v1/carts"))
            .header("x-forwarded-for", "203.0.113.30")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        ids.push(json_of(r, StatusCode::CREATED).await["id"].clone());
    }
    let refused = app
        .client
        .post(app.url("/v1/carts"))
        .header("x-forwarded-for", "203.0.113.30")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    let carts: i64 = app
        .query(|conn| {
            use diesel::prelude::*;
            valise::db::schema::carts::table.count().get_result(conn)
        })
        .await;
    assert_eq!(carts, 30, "the refused request created nothing");
}

#[actix_web::test]
async fn the_global_quota_holds_whatever_the_number_of_clients() {
    let app = limited_app().await;
    let ask = |client: String| {
        let app = &app;
        async move {
            app.client
                .request(Method::POST, app.url("/v1/privacy/requests"))
                .header("x-forwarded-for", client)
                .json(&json!({"email": unique_email("global"), "kind": "access"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // 13 clients, 10 each (their own quota): 130 asks against a global 120 per minute. The
    // quota refills one ask every half second, so a slow run may see a few more accepted:
    // at most one per half second it took.
    let started = std::time::Instant::now();
    let mut accepted = 0;
    let mut refused = 0;
    for client in 0..13 {
        for _ in 0..10 {
            match ask(format!("203.0.113.{}", 100 + client)).await {
                StatusCode::ACCEPTED => accepted += 1,
                StatusCode::TOO_MANY_REQUESTS => refused += 1,
                other => panic!("{other}"),
            }
        }
    }
    let refilled = (started.elapsed().as_millis() / 500) as i32;
    assert!(
        (120..=122 + refilled).contains(&accepted),
        "{accepted} accepted ({refilled} refilled)"
    );
    assert!(
        refused > 0 || refilled >= 10,
        "nothing refused in a fast run"
    );
    assert_eq!(accepted + refused, 130);
}
