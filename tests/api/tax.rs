//! VAT on orders: the destination chooses the rate, every order keeps its tax lines, and
//! admins keep the rates table.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::config::TaxMode;

use crate::fixtures::{checkout, guest_cart, stocked_variant};
use crate::helpers::{assert_problem, json_of, Session, TestApp};

/// A guest's checkout of `quantity` × `variant`, shipped to `country`.
async fn order_to(app: &TestApp, variant: &str, quantity: i32, country: &str) -> Value {
    let cart = guest_cart(app, variant, quantity).await;
    let body = json!({
        "contact_email": "vat@example.com",
        "shipping_address": {"name": "Ida Steuer", "line1": "Am Markt 1", "city": "Anywhere",
                             "postal_code": "10115", "country": country},
        "accepted_policy_version": 1
    });
    let key = uuid::Uuid::now_v7().to_string();
    json_of(checkout(app, &cart, &key, &body).await, StatusCode::CREATED).await
}

/// The order as its guest reads it back.
async fn read_back(app: &TestApp, order: &Value) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/v1/orders/{}", order["number"].as_str().unwrap())))
        .header("x-order-token", order["order_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::OK).await
}

fn eur(amount: i64) -> Value {
    json!({"amount": amount, "currency": "EUR", "minor_unit": 2})
}

/// A tax line as the API shows it.
fn line(bp: u32, percent: &str, net: i64, tax: i64, gross: i64) -> Value {
    json!({"rate_basis_points": bp, "rate_percent": percent,
           "net": eur(net), "tax": eur(tax), "gross": eur(gross)})
}

async fn set_rate(app: &TestApp, admin: &Session, body: Value) -> reqwest::Response {
    app.authed(Method::POST, "/v1/admin/tax-rates", admin)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn today() -> String {
    chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

#[actix_web::test]
async fn german_and_french_destinations_pay_their_own_rates() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "vat-germany-france", 10, 12_900).await;

    let german = order_to(&app, &variant, 1, "de").await;
    // 129.00 gross at 19 %: round(12900 × 1900 / 11900) = round(2059.66) = 20.60 of tax.
    assert_eq!(german["tax"]["mode"], "inclusive");
    assert_eq!(german["tax"]["country"], "DE");
    assert_eq!(
        german["tax"]["lines"],
        json!([line(1_900, "19", 10_840, 2_060, 12_900)])
    );
    assert_eq!(german["tax"]["total"], eur(2_060));
    assert_eq!(german["totals"]["total"], eur(12_900), "prices stay gross");

    let french = order_to(&app, &variant, 1, "FR").await;
    assert_eq!(
        french["tax"]["lines"],
        json!([line(2_000, "20", 10_750, 2_150, 12_900)])
    );
    assert_eq!(french["totals"]["total"], eur(12_900));

    // What was stored is what the checkout answered, for the guest and for staff.
    assert_eq!(read_back(&app, &german).await["tax"], german["tax"]);
    let manager = app.staff(Role::Manager).await;
    let number = german["number"].as_str().unwrap();
    let staff = json_of(
        app.get_as(&format!("/v1/admin/orders/{number}"), &manager)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(staff["tax"], german["tax"]);
}

#[actix_web::test]
async fn shipping_is_taxed_at_the_rate_of_the_goods() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "vat-shipping", 10, 4_500).await;
    // 45.00 + 9.90 shipping = 54.90 gross at 25.5 % (Finland), one line for both:
    // round(5490 × 2550 / 12550) = round(1115.498) = 11.15.
    let finnish = order_to(&app, &variant, 1, "FI").await;
    assert_eq!(finnish["totals"]["shipping"], eur(990));
    assert_eq!(
        finnish["tax"]["lines"],
        json!([line(2_550, "25.5", 4_375, 1_115, 5_490)])
    );
}

#[actix_web::test]
async fn a_destination_outside_the_eu_is_an_export_at_zero() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "vat-export", 10, 12_900).await;
    let american = order_to(&app, &variant, 1, "US").await;
    assert_eq!(american["tax"]["country"], "US");
    assert_eq!(
        american["tax"]["lines"],
        json!([line(0, "0", 12_900, 0, 12_900)])
    );
    assert_eq!(american["tax"]["total"], eur(0));
    assert_eq!(american["totals"]["total"], eur(12_900));
}

#[actix_web::test]
async fn a_new_rate_applies_from_its_day_and_never_to_placed_orders() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    let variant = stocked_variant(&app, "vat-rate-change", 10, 12_900).await;
    let before = order_to(&app, &variant, 1, "DE").await;

    // A rate from a day to come changes nothing yet.
    let later =
        json!({"country": "de", "effective_from": "2099-01-01", "rate_basis_points": 2_500});
    let added = json_of(
        set_rate(&app, &admin, later.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(added["country"], "DE");
    assert_eq!(added["in_effect"], false);
    let still = order_to(&app, &variant, 1, "DE").await;
    assert_eq!(still["tax"]["lines"][0]["rate_basis_points"], 1_900);

    // From today on, new orders pay 16 %; the orders placed before keep 19 %.
    let now = json!({"country": "DE", "effective_from": today(), "rate_basis_points": 1_600});
    let added = json_of(set_rate(&app, &admin, now).await, StatusCode::CREATED).await;
    assert_eq!(added["in_effect"], true);
    let after = order_to(&app, &variant, 1, "DE").await;
    // round(12900 × 1600 / 11600) = round(1779.31) = 17.79.
    assert_eq!(
        after["tax"]["lines"],
        json!([line(1_600, "16", 11_121, 1_779, 12_900)])
    );
    assert_eq!(read_back(&app, &before).await["tax"], before["tax"]);
    assert_eq!(
        read_back(&app, &still).await["tax"]["lines"][0]["rate_basis_points"],
        1_900
    );

    // The same country and day again replaces its row.
    let mut replacement = later;
    replacement["rate_basis_points"] = json!(2_100);
    let replaced = json_of(set_rate(&app, &admin, replacement).await, StatusCode::OK).await;
    assert_eq!(replaced["rate_percent"], "21");

    let manager = app.staff(Role::Manager).await;
    let listed = json_of(
        app.get_as("/v1/admin/tax-rates?country=de", &manager).await,
        StatusCode::OK,
    )
    .await;
    let rows: Vec<(String, i64, bool)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["effective_from"].as_str().unwrap().to_owned(),
                r["rate_basis_points"].as_i64().unwrap(),
                r["in_effect"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("2025-01-01".to_owned(), 1_900, false),
            (today(), 1_600, true),
            ("2099-01-01".to_owned(), 2_100, false),
        ]
    );
}

#[actix_web::test]
async fn the_whole_table_lists_the_eu_standard_rates() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let listed = json_of(
        app.get_as("/v1/admin/tax-rates", &manager).await,
        StatusCode::OK,
    )
    .await;
    let in_effect: Vec<(&str, &str)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["in_effect"] == true)
        .map(|r| {
            (
                r["country"].as_str().unwrap(),
                r["rate_percent"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(in_effect.len(), 27, "one rate in effect per member state");
    for expected in [
        ("DE", "19"),
        ("FR", "20"),
        ("HU", "27"),
        ("LU", "17"),
        ("FI", "25.5"),
        ("EE", "24"),
        ("RO", "21"),
    ] {
        assert!(in_effect.contains(&expected), "{expected:?}");
    }
}

#[actix_web::test]
async fn exclusive_mode_adds_the_tax_to_net_prices() {
    let app = TestApp::spawn_configured(|c| c.shop.tax.mode = TaxMode::Exclusive).await;
    let variant = stocked_variant(&app, "vat-exclusive", 10, 5_000).await;
    let order = order_to(&app, &variant, 1, "DE").await;
    // 50.00 + 9.90 net at 19 %: round(1138.1) = 11.38 added.
    assert_eq!(order["tax"]["mode"], "exclusive");
    assert_eq!(
        order["tax"]["lines"],
        json!([line(1_900, "19", 5_990, 1_138, 7_128)])
    );
    assert_eq!(order["totals"]["subtotal"], eur(5_000));
    assert_eq!(order["totals"]["shipping"], eur(990));
    assert_eq!(order["totals"]["total"], eur(7_128));
}

#[actix_web::test]
async fn a_shop_outside_the_eu_charges_its_home_rate_at_home_only() {
    let app = TestApp::spawn_configured(|c| {
        c.shop.tax.mode = TaxMode::Exclusive;
        c.shop.tax.home_country = "US".into();
        c.shop.tax.home_rate = Some(825);
    })
    .await;
    let variant = stocked_variant(&app, "vat-home-rate", 10, 5_000).await;
    let domestic = order_to(&app, &variant, 1, "US").await;
    // 59.90 net at 8.25 %: round(494.175) = 4.94.
    assert_eq!(
        domestic["tax"]["lines"],
        json!([line(825, "8.25", 5_990, 494, 6_484)])
    );
    assert_eq!(domestic["totals"]["total"], eur(6_484));
    let abroad = order_to(&app, &variant, 1, "DE").await;
    assert_eq!(
        abroad["tax"]["lines"],
        json!([line(0, "0", 5_990, 0, 5_990)])
    );
    assert_eq!(abroad["totals"]["total"], eur(5_990));
}

#[actix_web::test]
async fn invalid_rates_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    for (body, field) in [
        (
            json!({"country": "US", "effective_from": "2027-01-01", "rate_basis_points": 700}),
            "country",
        ),
        (
            json!({"country": "XX", "effective_from": "2027-01-01", "rate_basis_points": 700}),
            "country",
        ),
        (
            json!({"country": "DE", "effective_from": "2027-02-30", "rate_basis_points": 700}),
            "effective_from",
        ),
        (
            json!({"country": "DE", "effective_from": "1999-12-31", "rate_basis_points": 700}),
            "effective_from",
        ),
        (
            json!({"country": "DE", "effective_from": "2027-01-01", "rate_basis_points": -1}),
            "rate_basis_points",
        ),
        (
            json!({"country": "DE", "effective_from": "2027-01-01", "rate_basis_points": 10_001}),
            "rate_basis_points",
        ),
    ] {
        let problem = assert_problem(
            set_rate(&app, &admin, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let fractional =
        json!({"country": "DE", "effective_from": "2027-01-01", "rate_basis_points": 19.5});
    let response = set_rate(&app, &admin, fractional).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let manager = app.staff(Role::Manager).await;
    let listing = app.get_as("/v1/admin/tax-rates?country=US", &manager).await;
    assert_problem(
        listing,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let by_manager =
        json!({"country": "DE", "effective_from": "2027-01-01", "rate_basis_points": 700});
    let forbidden = set_rate(&app, &manager, by_manager).await;
    assert_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
    // Nothing of it was written.
    let listed = json_of(
        app.get_as("/v1/admin/tax-rates?country=DE", &manager).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn parallel_writes_of_one_rate_never_fail_the_server() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    let body = json!({"country": "LU", "effective_from": "2098-01-01", "rate_basis_points": 1_700});
    let answers =
        futures_util::future::join_all((0..10).map(|_| set_rate(&app, &admin, body.clone()))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert!(
        statuses.iter().all(|s| [200, 201, 409].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    let listed = json_of(
        app.get_as("/v1/admin/tax-rates?country=LU", &admin).await,
        StatusCode::OK,
    )
    .await;
    let rows = listed["data"].as_array().unwrap();
    assert_eq!(
        rows.iter()
            .filter(|r| r["effective_from"] == "2098-01-01")
            .count(),
        1
    );
}
