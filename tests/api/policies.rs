use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use valise::policies::model::{digest, INITIAL_TEXT};
use valise::policies::store;

use crate::helpers::{assert_problem, eventually, json_of, TestApp};

#[actix_web::test]
async fn the_current_policy_is_version_1_with_the_shops_text_and_digest() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/policies/current").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-policy-version"], "1");
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["version"], 1);
    assert_eq!(body["text"], INITIAL_TEXT);
    assert_eq!(body["sha256"], digest(INITIAL_TEXT));
    let published = body["published_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(published).is_ok());
    assert!(published.ends_with('Z'), "UTC: {published}");
}

#[actix_web::test]
async fn a_version_is_readable_by_number_and_an_unknown_one_is_404() {
    let app = TestApp::spawn().await;
    let body = json_of(app.get("/v1/policies/1").await, StatusCode::OK).await;
    assert_eq!(body["sha256"], digest(INITIAL_TEXT));
    assert_problem(
        app.get("/v1/policies/2").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
}

#[actix_web::test]
async fn an_unchanged_policy_answers_304_to_its_etag() {
    let app = TestApp::spawn().await;
    for path in ["/v1/policies/current", "/v1/policies/1"] {
        let first = app.get(path).await;
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());

        let stale = app
            .client
            .get(app.url(path))
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::OK, "{path}");
    }
}

async fn publish(app: &TestApp, text: &str) -> i32 {
    let text = text.to_owned();
    app.query(move |conn| {
        store::publish(conn, &text, "Revision for a test", valise::db::now()).map(|p| p.version)
    })
    .await
}

#[actix_web::test]
async fn the_list_pages_through_every_version_newest_first() {
    let app = TestApp::spawn().await;
    for n in 2..=5 {
        assert_eq!(publish(&app, &format!("Policy text {n}")).await, n);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/policies?limit=2".to_owned();
    loop {
        let page = json_of(app.get(&path).await, StatusCode::OK).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        for item in data {
            assert!(item.get("text").is_none(), "listings carry no text");
            seen.push(item["version"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/policies?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![5, 4, 3, 2, 1]);
}

#[actix_web::test]
async fn every_instance_announces_a_new_version_within_a_second() {
    let app = TestApp::spawn().await;
    let other = app.spawn_sibling().await;
    assert_eq!(
        other.get("/healthz").await.headers()["x-policy-version"],
        "1"
    );

    // Published through one instance's database handle, observed through the other's HTTP.
    assert_eq!(publish(&app, "Revised policy").await, 2);
    let moved = eventually(Duration::from_secs(3), || async {
        other.get("/healthz").await.headers()["x-policy-version"] == "2"
    })
    .await;
    assert!(
        moved,
        "X-Policy-Version did not move to 2 on the other instance"
    );

    let current = json_of(other.get("/v1/policies/current").await, StatusCode::OK).await;
    assert_eq!(current["version"], 2);
    assert_eq!(current["sha256"], digest("Revised policy"));
}
