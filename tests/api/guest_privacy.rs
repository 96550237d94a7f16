//! Guests' privacy: a guest with an open order is told of a policy revision.

use diesel::prelude::*;
use reqwest::StatusCode;
use valise::db::schema::{notifications, orders};

use crate::fixtures::{checkout, checkout_body, guest_cart, stocked_variant};
use crate::helpers::{json_of, unique_email, TestApp};

/// A guest's order of one unit of `variant` with contact `email`; its `ord_…` id.
async fn guest_order(app: &TestApp, variant: &str, email: &str) -> String {
    let cart = guest_cart(app, variant, 1).await;
    let key = uuid::Uuid::now_v7().to_string();
    let order = json_of(
        checkout(app, &cart, &key, &checkout_body(email)).await,
        StatusCode::CREATED,
    )
    .await;
    order["id"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_guest_with_an_open_order_is_told_of_a_policy_revision_once() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "guest-notice", 10, 9000).await;
    let open_email = unique_email("guest-open");
    let first = guest_order(&app, &variant, &open_email).await;
    let second = guest_order(&app, &variant, &open_email).await;
    let gone = guest_order(&app, &variant, &unique_email("guest-gone")).await;
    let expired = gone.clone();
    app.query(move |conn| {
        diesel::update(orders::table.find(&expired))
            .set(orders::status.eq("expired"))
            .execute(conn)
    })
    .await;

    let version = app
        .query(|conn| {
            valise::policies::store::publish(conn, "v2 text", "v2", valise::db::now())
                .map(|p| p.version)
        })
        .await;
    app.query(|conn| valise::policies::notices::fan_out(conn, 100))
        .await;
    app.query(|conn| valise::policies::notices::fan_out(conn, 100))
        .await;

    let told: Vec<(Option<String>, String)> = app
        .query(|conn| {
            notifications::table
                .filter(notifications::kind.eq("policy.revised"))
                .filter(notifications::recipient_user_id.is_null())
                .select((notifications::order_id, notifications::payload))
                .load(conn)
        })
        .await;
    assert_eq!(told.len(), 1, "one notice per guest, none twice: {told:?}");
    let order = told[0].0.clone().expect("addressed through the order");
    assert!(order == first || order == second, "{order}");
    assert_ne!(order, gone);
    let payload: serde_json::Value = serde_json::from_str(&told[0].1).unwrap();
    assert_eq!(payload["policy_version"], version);
}
