//! The shop's currency: every amount carries its ISO 4217 minor unit, and the shipping
//! charges are configured in major units of that currency.

use reqwest::StatusCode;
use serde_json::{json, Value};
use valise::config::{Config, Shop};

use crate::fixtures::{checkout, checkout_body, guest_cart, stocked_variant};
use crate::helpers::{json_of, TestApp};

/// The shop settings `vars` configure, read as at start-up.
fn shop(vars: &[(&str, &str)]) -> Shop {
    Config::from_lookup(|k| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| (*v).to_owned())
    })
    .expect("valid configuration")
    .shop
}

async fn cart_of(app: &TestApp, price: i64, quantity: i32) -> (crate::fixtures::GuestCart, Value) {
    let variant = stocked_variant(app, "minor-unit-case", 10, price).await;
    let cart = guest_cart(app, &variant, quantity).await;
    let view = json_of(
        app.client
            .get(app.url(&format!("/v1/carts/{}", cart.id)))
            .header("x-cart-token", &cart.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    (cart, view)
}

fn money(amount: i64, currency: &str, minor_unit: u8) -> Value {
    json!({"amount": amount, "currency": currency, "minor_unit": minor_unit})
}

#[actix_web::test]
async fn a_euro_shop_shows_cents_and_ships_for_nine_ninety() {
    let app = TestApp::spawn().await;
    let (_, cart) = cart_of(&app, 4_500, 1).await;
    assert_eq!(cart["items"][0]["unit_price"], money(4_500, "EUR", 2));
    assert_eq!(cart["totals"]["shipping"], money(990, "EUR", 2));
    assert_eq!(cart["totals"]["total"], money(5_490, "EUR", 2));
}

#[actix_web::test]
async fn a_yen_shop_prices_and_ships_in_whole_yen() {
    let app = TestApp::spawn_configured(|c| {
        c.shop = shop(&[
            ("VALISE_CURRENCY", "JPY"),
            ("VALISE_SHIPPING_FLAT", "1200"),
            ("VALISE_SHIPPING_FREE_FROM", "15000"),
        ]);
    })
    .await;
    let (cart, view) = cart_of(&app, 9_800, 1).await;
    assert_eq!(view["items"][0]["line_total"], money(9_800, "JPY", 0));
    assert_eq!(view["totals"]["shipping"], money(1_200, "JPY", 0));
    assert_eq!(view["totals"]["total"], money(11_000, "JPY", 0));

    let order = json_of(
        checkout(&app, &cart, "jpy-1", &checkout_body("yen@example.com")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(order["totals"]["total"], money(11_000, "JPY", 0));
    assert_eq!(order["items"][0]["unit_price"], money(9_800, "JPY", 0));
}

#[actix_web::test]
async fn a_dinar_shop_counts_fils_three_decimals_deep() {
    let app = TestApp::spawn_configured(|c| {
        c.shop = shop(&[
            ("VALISE_CURRENCY", "KWD"),
            ("VALISE_SHIPPING_FLAT", "2.5"),
            ("VALISE_SHIPPING_FREE_FROM", "50.000"),
        ]);
    })
    .await;
    // 45.250 KWD: below the 50.000 threshold, so 2.500 shipping.
    let (_, one) = cart_of(&app, 45_250, 1).await;
    assert_eq!(one["totals"]["shipping"], money(2_500, "KWD", 3));
    assert_eq!(one["totals"]["total"], money(47_750, "KWD", 3));

    let product = app.get("/v1/products?limit=1").await;
    let listing = json_of(product, StatusCode::OK).await;
    assert_eq!(
        listing["data"][0]["variants"][0]["price"],
        money(45_250, "KWD", 3)
    );
}

#[actix_web::test]
async fn free_shipping_starts_at_the_configured_threshold() {
    let app = TestApp::spawn_configured(|c| {
        c.shop = shop(&[("VALISE_SHIPPING_FREE_FROM", "90")]);
    })
    .await;
    let (_, cart) = cart_of(&app, 4_500, 2).await;
    assert_eq!(cart["totals"]["shipping"], money(0, "EUR", 2));
    assert_eq!(cart["totals"]["total"], money(9_000, "EUR", 2));
}
