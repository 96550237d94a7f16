//! Shipping: methods priced by zone, weight bracket and volumetric weight, free thresholds
//! per method, a cart's options, the method frozen on the order, carriers' tracking URLs.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::{checkout, create, guest_cart, paid_order, product, GuestCart};
use crate::helpers::{assert_problem, json_of, Session, TestApp};

fn eur(amount: i64) -> Value {
    json!({"amount": amount, "currency": "EUR", "minor_unit": 2})
}

/// A product of `dims` cm weighing `weight_g`, at `price`; its variant's id.
async fn variant(
    app: &TestApp,
    manager: &Session,
    slug: &str,
    dims: [i32; 3],
    weight_g: i32,
    price: i64,
) -> String {
    let mut body = product(slug, "travel", "abs", dims, price, &[20]);
    body["weight_g"] = json!(weight_g);
    let created = create(app, manager, &body).await;
    created["variants"][0]["id"].as_str().unwrap().to_owned()
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &Session,
    body: &Value,
) -> reqwest::Response {
    app.authed(method, path, who)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `send` as a manager's client sends a change: with the resource's edit `ETag`, read just
/// before, as `If-Match` (`*` when the read found none).
async fn send_matching(
    app: &TestApp,
    method: Method,
    path: &str,
    who: &Session,
    body: &Value,
) -> reqwest::Response {
    let read = app.get_as(path, who).await;
    let etag = read
        .headers()
        .get("etag")
        .map_or("*".to_owned(), |v| v.to_str().unwrap().to_owned());
    app.authed(method, path, who)
        .header("if-match", etag)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn add_method(app: &TestApp, manager: &Session, body: Value) -> Value {
    json_of(
        send(
            app,
            Method::POST,
            "/v1/admin/shipping/methods",
            manager,
            &body,
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

async fn add_carrier(app: &TestApp, manager: &Session, code: &str, name: &str) -> Value {
    let body = json!({"code": code, "name": name,
        "tracking_url_template": "https://www.dhl.de/track?piececode={tracking}"});
    json_of(
        send(
            app,
            Method::POST,
            "/v1/admin/shipping/carriers",
            manager,
            &body,
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

async fn options_response(app: &TestApp, cart: &GuestCart, country: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!(
            "/v1/carts/{}/shipping-options?country={country}",
            cart.id
        )))
        .header("x-cart-token", &cart.token)
        .send()
        .await
        .unwrap()
}

/// The options of `cart` to `country`.
async fn options(app: &TestApp, cart: &GuestCart, country: &str) -> Vec<Value> {
    let body = json_of(options_response(app, cart, country).await, StatusCode::OK).await;
    assert_eq!(body["country"], country.to_uppercase());
    body["data"].as_array().unwrap().clone()
}

/// The option of method `code`, if offered.
fn option<'a>(options: &'a [Value], code: &str) -> Option<&'a Value> {
    options.iter().find(|o| o["code"] == code)
}

fn order_body(country: &str, method: Option<&str>) -> Value {
    let mut body = json!({
        "contact_email": "ship@example.com",
        "shipping_address": {"name": "Ida Versand", "line1": "Am Markt 1", "city": "Anywhere",
                             "postal_code": "10115", "country": country},
        "accepted_policy_version": 1
    });
    if let Some(m) = method {
        body["shipping_method"] = json!(m);
    }
    body
}

async fn place(app: &TestApp, cart: &GuestCart, body: &Value) -> reqwest::Response {
    checkout(app, cart, &uuid::Uuid::now_v7().to_string(), body).await
}

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

#[actix_web::test]
async fn the_seeded_method_charges_what_the_shop_charged_before() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let cheap = variant(
        &app,
        &manager,
        "ship-seeded-cheap",
        [55, 40, 20],
        2_500,
        5_000,
    )
    .await;
    let dear = variant(
        &app,
        &manager,
        "ship-seeded-dear",
        [55, 40, 20],
        2_500,
        12_900,
    )
    .await;

    let cart = guest_cart(&app, &cheap, 1).await;
    let shown = json_of(
        app.client
            .get(app.url(&format!("/v1/carts/{}", cart.id)))
            .header("x-cart-token", &cart.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["totals"]["shipping"], eur(990));
    assert_eq!(shown["totals"]["total"], eur(5_990));
    // 55 × 40 × 20 cm = 44 000 cm³ / 5000 = 8.8 kg, more than the 2.5 kg it weighs.
    assert_eq!(
        options(&app, &cart, "de").await,
        vec![
            json!({"code": "standard", "name": "Standard shipping", "carrier": null,
                    "price": eur(990), "free": false, "chargeable_weight_grams": 8_800})
        ]
    );
    let order = json_of(
        place(&app, &cart, &order_body("DE", None)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(order["totals"]["shipping"], eur(990));
    assert_eq!(
        order["shipping_method"],
        json!({"code": "standard", "name": "Standard shipping", "carrier": null, "price": eur(990)})
    );

    let free = guest_cart(&app, &dear, 1).await;
    let order = json_of(
        place(&app, &free, &order_body("FR", None)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        order["totals"]["shipping"],
        eur(0),
        "free from 100.00 as before"
    );
}

#[actix_web::test]
async fn options_price_each_zone_by_the_chargeable_weight() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    add_method(
        &app,
        &manager,
        json!({"code": "zoned", "name": "Zoned", "zones": [
            {"countries": ["de", "AT"], "rates": [{"up_to_grams": 5000, "price": 500},
                                                  {"up_to_grams": 30000, "price": 1500}]},
            {"countries": ["FR"], "rates": [{"up_to_grams": 30000, "price": 2500}]}
        ]}),
    )
    .await;
    // A bulky, light case: 80 × 50 × 30 cm = 120 000 cm³ / 5000 = 24 kg charged for 2 kg.
    let bulky = variant(&app, &manager, "ship-bulky", [80, 50, 30], 2_000, 5_000).await;
    // A compact, heavy one: 20 × 20 × 10 cm = 0.8 kg volumetric, 3 kg actual.
    let compact = variant(&app, &manager, "ship-compact", [20, 20, 10], 3_000, 5_000).await;

    let cart = guest_cart(&app, &bulky, 1).await;
    let de = options(&app, &cart, "DE").await;
    let zoned = option(&de, "zoned").unwrap();
    assert_eq!(zoned["chargeable_weight_grams"], 24_000);
    assert_eq!(zoned["price"], eur(1_500), "charged as 24 kg, not 2 kg");

    let cart = guest_cart(&app, &compact, 1).await;
    let de = options(&app, &cart, "DE").await;
    assert_eq!(
        option(&de, "zoned").unwrap()["chargeable_weight_grams"],
        3_000
    );
    assert_eq!(option(&de, "zoned").unwrap()["price"], eur(500));
    assert_eq!(de[0]["code"], "zoned", "cheapest first");
    assert_eq!(
        option(&options(&app, &cart, "at").await, "zoned").unwrap()["price"],
        eur(500)
    );
    assert_eq!(
        option(&options(&app, &cart, "FR").await, "zoned").unwrap()["price"],
        eur(2_500)
    );
    let us = options(&app, &cart, "US").await;
    assert!(option(&us, "zoned").is_none(), "no zone for the US");
    assert!(option(&us, "standard").is_some());

    // Two of them: 6 kg, the next bracket.
    let two = guest_cart(&app, &compact, 2).await;
    let de = options(&app, &two, "DE").await;
    assert_eq!(option(&de, "zoned").unwrap()["price"], eur(1_500));
}

#[actix_web::test]
async fn each_method_ships_free_from_its_own_threshold() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    add_method(
        &app,
        &manager,
        json!({"code": "premium", "name": "Premium", "free_from": 30000,
               "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 1900}]}]}),
    )
    .await;
    let case = variant(&app, &manager, "ship-free", [55, 40, 20], 2_500, 15_000).await;

    let one = options(&app, &guest_cart(&app, &case, 1).await, "BE").await;
    assert_eq!(
        option(&one, "standard").unwrap()["free"],
        true,
        "free from 100.00"
    );
    assert_eq!(option(&one, "standard").unwrap()["price"], eur(0));
    assert_eq!(option(&one, "premium").unwrap()["free"], false);
    assert_eq!(option(&one, "premium").unwrap()["price"], eur(1_900));

    let two = options(&app, &guest_cart(&app, &case, 2).await, "BE").await;
    assert_eq!(
        option(&two, "premium").unwrap()["free"],
        true,
        "free from 300.00"
    );
    assert_eq!(option(&two, "premium").unwrap()["price"], eur(0));
}

#[actix_web::test]
async fn checkout_freezes_the_chosen_method_and_its_price() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    add_carrier(&app, &manager, "dhl", "DHL Paket").await;
    let express = json!({"code": "express", "name": "Express", "carrier": "dhl",
        "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 1490}]}]});
    add_method(&app, &manager, express).await;
    let case = variant(&app, &manager, "ship-frozen", [55, 40, 20], 2_500, 5_000).await;

    let cart = guest_cart(&app, &case, 1).await;
    let order = json_of(
        place(&app, &cart, &order_body("DE", Some("EXPRESS"))).await,
        StatusCode::CREATED,
    )
    .await;
    let frozen =
        json!({"code": "express", "name": "Express", "carrier": "DHL Paket", "price": eur(1_490)});
    assert_eq!(order["shipping_method"], frozen);
    assert_eq!(order["totals"]["shipping"], eur(1_490));
    assert_eq!(order["totals"]["total"], eur(6_490));
    // Shipping is taxed with the goods: 64.90 gross at 19 %.
    assert_eq!(order["tax"]["lines"][0]["gross"], eur(6_490));

    let changed = json!({"name": "Express (new)", "zones": [
        {"countries": null, "rates": [{"up_to_grams": null, "price": 2990}]}]});
    let replaced = json_of(
        send_matching(
            &app,
            Method::PUT,
            "/v1/admin/shipping/methods/express",
            &manager,
            &changed,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["carrier"], Value::Null);
    assert_eq!(replaced["zones"][0]["rates"][0]["price"], eur(2_990));

    let again = read_back(&app, &order).await;
    assert_eq!(
        again["shipping_method"], frozen,
        "the order keeps what it was placed with"
    );
    assert_eq!(again["totals"]["shipping"], eur(1_490));
    let now = options(&app, &guest_cart(&app, &case, 1).await, "DE").await;
    assert_eq!(option(&now, "express").unwrap()["price"], eur(2_990));
}

#[actix_web::test]
async fn checkout_refuses_a_method_not_available_for_the_destination() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    add_method(
        &app,
        &manager,
        json!({"code": "de-only", "name": "Germany only",
               "zones": [{"countries": ["DE"], "rates": [{"up_to_grams": null, "price": 400}]}]}),
    )
    .await;
    add_method(
        &app,
        &manager,
        json!({"code": "paused", "name": "Paused", "active": false,
               "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 100}]}]}),
    )
    .await;
    let case = variant(&app, &manager, "ship-refused", [55, 40, 20], 2_500, 5_000).await;
    let cart = guest_cart(&app, &case, 1).await;

    for (country, method) in [
        ("FR", "de-only"),
        ("DE", "paused"),
        ("DE", "no-such-method"),
    ] {
        let problem = assert_problem(
            place(&app, &cart, &order_body(country, Some(method))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(
            problem["errors"][0]["field"], "shipping_method",
            "{method} to {country}"
        );
    }
    assert!(option(&options(&app, &cart, "DE").await, "paused").is_none());
    // The cart is still open: the same destination with an available method goes through.
    let order = json_of(
        place(&app, &cart, &order_body("DE", Some("de-only"))).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(order["totals"]["shipping"], eur(400));
}

#[actix_web::test]
async fn a_destination_no_method_serves_has_no_options_and_no_checkout() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let benelux = json!({"name": "Standard shipping", "zones": [
        {"countries": ["BE", "NL", "LU"], "rates": [{"up_to_grams": null, "price": 990}]}]});
    let replaced = json_of(
        send_matching(
            &app,
            Method::PUT,
            "/v1/admin/shipping/methods/standard",
            &manager,
            &benelux,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["configured"], false);
    let case = variant(&app, &manager, "ship-nowhere", [55, 40, 20], 2_500, 5_000).await;
    let cart = guest_cart(&app, &case, 1).await;

    assert!(options(&app, &cart, "US").await.is_empty());
    let problem = assert_problem(
        place(&app, &cart, &order_body("US", None)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "shipping_address.country");
    assert_eq!(options(&app, &cart, "NL").await.len(), 1);

    // An empty cart has nothing to ship; a country must be two letters.
    let empty = json_of(
        app.post_json("/v1/carts", &json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    let empty = GuestCart {
        id: empty["id"].as_str().unwrap().to_owned(),
        token: empty["cart_token"].as_str().unwrap().to_owned(),
    };
    let problem = assert_problem(
        options_response(&app, &empty, "BE").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "cart");
    assert_problem(
        options_response(&app, &cart, "Germany").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    // Another guest's cart is not found.
    let stranger = GuestCart {
        id: cart.id.clone(),
        token: empty.token.clone(),
    };
    assert_problem(
        options_response(&app, &stranger, "BE").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
}

#[actix_web::test]
async fn shipments_get_the_tracking_url_of_their_carrier() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    add_carrier(&app, &manager, "dhl", "DHL Paket").await;
    // The only active method: the checkout without a method takes it.
    let paused = json!({"name": "Standard shipping", "active": false,
        "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 990}]}]});
    let response = send_matching(
        &app,
        Method::PUT,
        "/v1/admin/shipping/methods/standard",
        &manager,
        &paused,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    add_method(
        &app,
        &manager,
        json!({"code": "parcel", "name": "Parcel", "carrier": "dhl",
               "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 500}]}]}),
    )
    .await;
    let (customer, number, _) = paid_order(&app).await;
    let fulfillment = app.staff(Role::Fulfillment).await;

    // No carrier named: the order's method's.
    let shipped = json_of(
        send(
            &app,
            Method::POST,
            &format!("/v1/admin/orders/{number}/shipments"),
            &fulfillment,
            &json!({"tracking_number": "JJD 0001/7"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(shipped["shipping_method"]["code"], "parcel");
    assert_eq!(shipped["shipments"][0]["carrier"], "dhl");
    let url = "https://www.dhl.de/track?piececode=JJD%200001%2F7";
    assert_eq!(shipped["shipments"][0]["tracking_url"], url);

    let own = json_of(
        app.get_as(&format!("/v1/orders/{number}"), &customer).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(own["shipments"][0]["tracking_url"], url);
    assert_eq!(own["totals"]["shipping"], eur(500));
}

#[actix_web::test]
async fn only_managers_keep_carriers_and_methods() {
    let app = TestApp::spawn().await;
    let carrier = json!({"code": "ups", "name": "UPS",
        "tracking_url_template": "https://www.ups.com/track?tracknum={tracking}"});
    let customer = app
        .register("shipping-customer@example.com", "Cora Kundin")
        .await;
    let mut others = vec![customer];
    for role in [Role::Support, Role::Fulfillment] {
        others.push(app.staff(role).await);
    }
    for who in &others {
        for path in ["/v1/admin/shipping/methods", "/v1/admin/shipping/carriers"] {
            assert_problem(
                app.get_as(path, who).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            )
            .await;
        }
        assert_problem(
            send(
                &app,
                Method::POST,
                "/v1/admin/shipping/carriers",
                who,
                &carrier,
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_problem(
            send_matching(
                &app,
                Method::DELETE,
                "/v1/admin/shipping/methods/standard",
                who,
                &json!({}),
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    assert_problem(
        app.client
            .get(app.url("/v1/admin/shipping/methods"))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    let manager = app.staff(Role::Manager).await;
    let methods = json_of(
        app.get_as("/v1/admin/shipping/methods", &manager).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(methods["data"][0]["code"], "standard");
    assert_eq!(methods["data"][0]["configured"], true);
    assert_eq!(methods["data"][0]["free_from"], eur(10_000));
    let created = json_of(
        send(
            &app,
            Method::POST,
            "/v1/admin/shipping/carriers",
            &manager,
            &carrier,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["code"], "ups");
    let renamed = json!({"name": "UPS Standard",
        "tracking_url_template": "https://www.ups.com/track?loc=en&tracknum={tracking}"});
    let replaced = json_of(
        send_matching(
            &app,
            Method::PUT,
            "/v1/admin/shipping/carriers/ups",
            &manager,
            &renamed,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(replaced["name"], "UPS Standard");
    let admin = app.staff(Role::Admin).await;
    let listed = json_of(
        app.get_as("/v1/admin/shipping/carriers", &admin).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["data"][0]["name"], "UPS Standard");
}

#[actix_web::test]
async fn invalid_carriers_and_methods_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let carriers = "/v1/admin/shipping/carriers";
    let problem = assert_problem(
        send(
            &app,
            Method::POST,
            carriers,
            &manager,
            &json!({"code": "Bad Code", "name": " ",
            "tracking_url_template": "http://track.example.com/{tracking}"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["code", "name", "tracking_url_template"]);

    let problem = assert_problem(
        send(
            &app,
            Method::POST,
            "/v1/admin/shipping/methods",
            &manager,
            &json!({
                "code": "broken", "name": "Broken", "carrier": "nobody", "volumetric_divisor": 10,
                "free_from": -1,
                "zones": [{"countries": ["Germany"], "rates": [{"up_to_grams": 5000, "price": 500},
                                                              {"up_to_grams": 1000, "price": 900}]}]
            }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "carrier",
            "volumetric_divisor",
            "free_from",
            "zones[0].countries[0]",
            "zones[0].rates[1].up_to_grams"
        ]
    );
    assert_problem(
        send(
            &app,
            Method::POST,
            "/v1/admin/shipping/methods",
            &manager,
            &json!({"code": "nozones", "name": "No zones", "zones": []}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;

    add_carrier(&app, &manager, "dhl", "DHL").await;
    let again = json!({"code": "DHL", "name": "DHL again",
        "tracking_url_template": "https://dhl.example.com/{tracking}"});
    assert_problem(
        send(&app, Method::POST, carriers, &manager, &again).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    add_method(
        &app,
        &manager,
        json!({"code": "by-dhl", "name": "By DHL", "carrier": "dhl",
               "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 500}]}]}),
    )
    .await;
    assert_problem(
        send_matching(
            &app,
            Method::DELETE,
            "/v1/admin/shipping/carriers/dhl",
            &manager,
            &json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert_problem(
        send_matching(&app, Method::PUT, "/v1/admin/shipping/methods/by-dhl", &manager,
             &json!({"code": "other", "name": "x", "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 1}]}]})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_problem(
        send_matching(&app, Method::PUT, "/v1/admin/shipping/methods/nope", &manager,
             &json!({"name": "x", "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 1}]}]})).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let deleted = send_matching(
        &app,
        Method::DELETE,
        "/v1/admin/shipping/methods/by-dhl",
        &manager,
        &json!({}),
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let deleted = send_matching(
        &app,
        Method::DELETE,
        "/v1/admin/shipping/carriers/dhl",
        &manager,
        &json!({}),
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get_as("/v1/admin/shipping/methods/by-dhl", &manager)
            .await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
}

#[actix_web::test]
async fn the_seeded_method_follows_the_configured_charge_until_replaced() {
    let app = TestApp::spawn_configured(|config| {
        config.shop.shipping = valise::config::Shipping {
            flat: 500,
            free_from: 20_000,
        };
    })
    .await;
    let manager = app.staff(Role::Manager).await;
    let standard = json_of(
        app.get_as("/v1/admin/shipping/methods/standard", &manager)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(standard["configured"], true);
    assert_eq!(standard["free_from"], eur(20_000));
    assert_eq!(standard["zones"][0]["rates"][0]["price"], eur(500));
}

/// The audit entries of `action`, newest first.
async fn audited(app: &TestApp, officer: &Session, action: &str) -> Vec<Value> {
    let log = json_of(
        app.get_as(&format!("/v1/admin/audit?action={action}"), officer)
            .await,
        StatusCode::OK,
    )
    .await;
    log["data"].as_array().unwrap().clone()
}

fn etag_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn carrier_and_method_changes_need_the_current_etag_and_are_audited() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let carrier = "/v1/admin/shipping/carriers/ups";
    let body = json!({"code": "ups", "name": "UPS",
        "tracking_url_template": "https://www.ups.com/track?tracknum={tracking}"});
    let created = send(
        &app,
        Method::POST,
        "/v1/admin/shipping/carriers",
        &manager,
        &body,
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let first = etag_of(&created);
    let read = app.get_as(carrier, &manager).await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(etag_of(&read), first);
    let unchanged = app
        .authed(Method::GET, carrier, &manager)
        .header("if-none-match", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);

    // A change without If-Match is refused, one based on another version too.
    let renamed = json!({"name": "UPS Standard",
        "tracking_url_template": "https://www.ups.com/track?loc=en&tracknum={tracking}"});
    let change = |etag: Option<&str>, method: Method, path: &'static str, body: Value| {
        let mut request = app.authed(method, path, &manager).json(&body);
        if let Some(etag) = etag {
            request = request.header("if-match", etag);
        }
        request.send()
    };
    let carrier_path = "/v1/admin/shipping/carriers/ups";
    assert_problem(
        change(None, Method::PUT, carrier_path, renamed.clone())
            .await
            .unwrap(),
        StatusCode::PRECONDITION_REQUIRED,
        "precondition-required",
    )
    .await;
    assert_problem(
        change(Some("\"sc99\""), Method::PUT, carrier_path, renamed.clone())
            .await
            .unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    let replaced = change(
        Some(first.as_str()),
        Method::PUT,
        carrier_path,
        renamed.clone(),
    )
    .await
    .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    let second = etag_of(&replaced);
    assert_ne!(second, first);
    // The first version is gone: a second change based on it would overwrite this one.
    assert_problem(
        change(
            Some(first.as_str()),
            Method::PUT,
            carrier_path,
            body.clone(),
        )
        .await
        .unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    let listed = json_of(
        app.get_as("/v1/admin/shipping/carriers", &manager).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["data"][0]["name"], "UPS Standard");
    assert_problem(
        change(None, Method::DELETE, carrier_path, json!({}))
            .await
            .unwrap(),
        StatusCode::PRECONDITION_REQUIRED,
        "precondition-required",
    )
    .await;
    assert_problem(
        change(
            Some(first.as_str()),
            Method::DELETE,
            carrier_path,
            json!({}),
        )
        .await
        .unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    let deleted = change(
        Some(second.as_str()),
        Method::DELETE,
        carrier_path,
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // Methods alike.
    let method_path = "/v1/admin/shipping/methods/standard";
    let standard = app.get_as(method_path, &manager).await;
    let first = etag_of(&standard);
    let paused = json!({"name": "Standard shipping", "active": false,
        "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 990}]}]});
    assert_problem(
        change(None, Method::PUT, method_path, paused.clone())
            .await
            .unwrap(),
        StatusCode::PRECONDITION_REQUIRED,
        "precondition-required",
    )
    .await;
    let replaced = change(
        Some(first.as_str()),
        Method::PUT,
        method_path,
        paused.clone(),
    )
    .await
    .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    let second = etag_of(&replaced);
    assert_eq!(etag_of(&app.get_as(method_path, &manager).await), second);
    assert_problem(
        change(Some(first.as_str()), Method::DELETE, method_path, json!({}))
            .await
            .unwrap(),
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    let deleted = change(Some("*"), Method::DELETE, method_path, json!({}))
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let created = send(
        &app,
        Method::POST,
        "/v1/admin/shipping/methods",
        &manager,
        &json!({"code": "parcel", "name": "Parcel",
                "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": 500}]}]}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        etag_of(&created),
        etag_of(
            &app.get_as("/v1/admin/shipping/methods/parcel", &manager)
                .await
        )
    );

    // Every change is in the audit log, by the manager, with no personal field.
    let officer = app.staff(Role::PrivacyOfficer).await;
    for (action, times) in [
        ("shipping.carrier.create", 1),
        ("shipping.carrier.update", 1),
        ("shipping.carrier.delete", 1),
        ("shipping.method.create", 1),
        ("shipping.method.update", 1),
        ("shipping.method.delete", 1),
    ] {
        let entries = audited(&app, &officer, action).await;
        assert_eq!(entries.len(), times, "{action}: {entries:?}");
        assert_eq!(entries[0]["actor_id"], manager.user_id.as_str());
        assert_eq!(entries[0]["subject_id"], Value::Null);
        assert_eq!(entries[0]["fields"], json!([]));
    }
}
