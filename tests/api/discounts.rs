//! Discount codes: managed by managers, applied to carts with a problem type per reason,
//! redeemed once per order in checkout's transaction (never past their limits, whatever the
//! concurrency or the number of instances), shown on orders and invoices, taxed after.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::{
    checkout, checkout_body, guest_cart, send_event, start_payment, stocked_variant, GuestCart,
    WEBHOOK_SECRET,
};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp};

async fn create_code(app: &TestApp, manager: &Session, body: Value) -> Value {
    json_of(
        app.authed(Method::POST, "/v1/admin/discount-codes", manager)
            .json(&body)
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await
}

async fn code_view(app: &TestApp, manager: &Session, id: &str) -> Value {
    json_of(
        app.get_as(&format!("/v1/admin/discount-codes/{id}"), manager)
            .await,
        StatusCode::OK,
    )
    .await
}

async fn apply(app: &TestApp, cart: &GuestCart, code: &str) -> reqwest::Response {
    app.client
        .put(app.url(&format!("/v1/carts/{}/discount", cart.id)))
        .header("x-cart-token", &cart.token)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

async fn apply_ok(app: &TestApp, cart: &GuestCart, code: &str) -> Value {
    json_of(apply(app, cart, code).await, StatusCode::OK).await
}

/// A customer's own cart of one `variant`; returns its id.
async fn customer_cart(app: &TestApp, session: &Session, variant: &str) -> String {
    let cart = json_of(
        app.authed(Method::POST, "/v1/carts", session)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let id = cart["id"].as_str().unwrap().to_owned();
    let added = app
        .authed(Method::POST, &format!("/v1/carts/{id}/items"), session)
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::OK);
    id
}

async fn customer_apply(
    app: &TestApp,
    session: &Session,
    cart: &str,
    code: &str,
) -> reqwest::Response {
    app.authed(Method::PUT, &format!("/v1/carts/{cart}/discount"), session)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

async fn customer_checkout(app: &TestApp, session: &Session, cart: &str) -> reqwest::Response {
    app.authed(Method::POST, &format!("/v1/carts/{cart}/checkout"), session)
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&checkout_body(&session.email))
        .send()
        .await
        .unwrap()
}

fn amount(v: &Value) -> i64 {
    v["amount"].as_i64().unwrap()
}

async fn orders_count(app: &TestApp) -> i64 {
    app.query(|conn| {
        use diesel::prelude::*;
        use valise::db::schema::orders;
        orders::table.count().get_result::<i64>(conn)
    })
    .await
}

/// The order's tax is computed on what it charges: inclusive, its lines' gross amounts add
/// up to the total, and each line's tax is the rate's share of its gross.
fn assert_taxed_after_discount(order: &Value) {
    let lines = order["tax"]["lines"].as_array().unwrap();
    let gross: i64 = lines.iter().map(|l| amount(&l["gross"])).sum();
    assert_eq!(gross, amount(&order["totals"]["total"]), "{order}");
    for line in lines {
        let r = line["rate_basis_points"].as_i64().unwrap();
        let g = amount(&line["gross"]);
        let expected = (2 * g * r + (10_000 + r)) / (2 * (10_000 + r));
        assert_eq!(amount(&line["tax"]), expected, "{line}");
    }
}

#[actix_web::test]
async fn managers_create_list_change_and_withdraw_codes_and_see_their_uses() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let created = create_code(
        &app,
        &manager,
        json!({"code": " welcome10 ", "kind": "percentage", "value": 1000, "usage_limit": 10}),
    )
    .await;
    assert_eq!(created["code"], "WELCOME10");
    assert_eq!(created["uses"], 0);
    assert_eq!(created["active"], true);
    let id = created["id"].as_str().unwrap();

    let taken = app
        .authed(Method::POST, "/v1/admin/discount-codes", &manager)
        .json(&json!({"code": "Welcome10", "kind": "fixed_amount", "value": 500}))
        .send()
        .await
        .unwrap();
    assert_problem(taken, StatusCode::CONFLICT, "conflict").await;
    let invalid = app
        .authed(Method::POST, "/v1/admin/discount-codes", &manager)
        .json(&json!({"code": "x", "kind": "percentage", "value": 20000,
                      "starts_at": "2027-01-02T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(
        invalid,
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
    assert_eq!(fields, ["code", "value", "ends_at"]);

    let customer = app.register(&unique_email("nosy"), "Nosy Parker").await;
    let refused = app.get_as("/v1/admin/discount-codes", &customer).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;

    create_code(
        &app,
        &manager,
        json!({"code": "SHIPFREE", "kind": "free_shipping"}),
    )
    .await;
    let page = json_of(
        app.get_as("/v1/admin/discount-codes?limit=1", &manager)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["data"][0]["code"], "SHIPFREE", "newest first");
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = json_of(
        app.get_as(
            &format!("/v1/admin/discount-codes?limit=1&cursor={cursor}"),
            &manager,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(next["data"][0]["code"], "WELCOME10");
    assert_eq!(next["next_cursor"], Value::Null);

    let changed = json_of(
        app.authed(
            Method::PUT,
            &format!("/v1/admin/discount-codes/{id}"),
            &manager,
        )
        .json(&json!({"value": 1500, "minimum_subtotal": 3000}))
        .send()
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["value"], 1500);
    assert_eq!(changed["minimum_subtotal"]["amount"], 3000);
    assert_eq!(changed["usage_limit"], Value::Null, "terms are replaced");
    assert_eq!(changed["kind"], "percentage");

    let withdrawn = json_of(
        app.authed(
            Method::DELETE,
            &format!("/v1/admin/discount-codes/{id}"),
            &manager,
        )
        .send()
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(withdrawn["active"], false);
    let variant = stocked_variant(&app, "withdrawn", 5, 5000).await;
    let cart = guest_cart(&app, &variant, 1).await;
    assert_problem(
        apply(&app, &cart, "welcome10").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount-code-unknown",
    )
    .await;
}

#[actix_web::test]
async fn each_kind_shows_in_the_cart_and_on_the_order_with_tax_after_the_discount() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    for (code, kind, value) in [
        ("TENOFF", "percentage", 1000),
        ("MINUS20", "fixed_amount", 2000),
        ("NOSHIP", "free_shipping", 0),
    ] {
        create_code(
            &app,
            &manager,
            json!({"code": code, "kind": kind, "value": value}),
        )
        .await;
    }
    // 50.00 of goods: below the free-shipping threshold, so 9.90 shipping is charged.
    let variant = stocked_variant(&app, "discounted", 10, 5000).await;
    for (code, off) in [("tenoff", 500), ("Minus20", 2000), ("NOSHIP", 990)] {
        let cart = guest_cart(&app, &variant, 1).await;
        let shown = apply_ok(&app, &cart, code).await;
        assert_eq!(shown["discount"]["applies"], true, "{shown}");
        assert_eq!(amount(&shown["discount"]["amount"]), off);
        assert_eq!(amount(&shown["totals"]["discount"]), off);
        assert_eq!(amount(&shown["totals"]["total"]), 5000 + 990 - off);
        let order = json_of(
            checkout(&app, &cart, code, &checkout_body("kinds@example.com")).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(amount(&order["totals"]["subtotal"]), 5000);
        assert_eq!(amount(&order["totals"]["shipping"]), 990);
        assert_eq!(amount(&order["totals"]["discount"]), off);
        assert_eq!(amount(&order["totals"]["total"]), 5990 - off);
        assert_eq!(order["discounts"][0]["code"], code.to_uppercase());
        assert_eq!(amount(&order["discounts"][0]["amount"]), off);
        assert_taxed_after_discount(&order);
        // The order as read later says the same.
        let read = json_of(
            app.client
                .get(app.url(&format!("/v1/orders/{}", order["number"].as_str().unwrap())))
                .header("x-order-token", order["order_token"].as_str().unwrap())
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(read["discounts"], order["discounts"]);
        assert_eq!(read["totals"], order["totals"]);
    }
    // Without a code: nothing taken off, and removing a code restores the full price.
    let cart = guest_cart(&app, &variant, 1).await;
    apply_ok(&app, &cart, "TENOFF").await;
    let removed = json_of(
        app.client
            .delete(app.url(&format!("/v1/carts/{}/discount", cart.id)))
            .header("x-cart-token", &cart.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(removed["discount"], Value::Null);
    assert_eq!(amount(&removed["totals"]["total"]), 5990);
}

#[actix_web::test]
async fn each_reason_a_code_does_not_apply_is_its_own_problem_and_leaves_the_cart_alone() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let soon = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    let ended = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    create_code(
        &app,
        &manager,
        json!({"code": "LATER", "kind": "percentage", "value": 500, "starts_at": soon}),
    )
    .await;
    create_code(&app, &manager, json!({"code": "OVER", "kind": "percentage", "value": 500, "starts_at": past, "ends_at": ended})).await;
    create_code(&app, &manager, json!({"code": "BIGSPEND", "kind": "fixed_amount", "value": 1000, "minimum_subtotal": 10000})).await;
    create_code(
        &app,
        &manager,
        json!({"code": "ONCEONLY", "kind": "percentage", "value": 500, "usage_limit": 1}),
    )
    .await;
    create_code(
        &app,
        &manager,
        json!({"code": "PERHEAD", "kind": "percentage", "value": 500, "per_customer_limit": 1}),
    )
    .await;
    let variant = stocked_variant(&app, "reasons", 20, 5000).await;
    let cart = guest_cart(&app, &variant, 1).await;

    for (code, slug) in [
        ("NOSUCHCODE", "discount-code-unknown"),
        ("not a code!", "discount-code-unknown"),
        ("later", "discount-code-not-yet-valid"),
        ("over", "discount-code-expired"),
    ] {
        assert_problem(
            apply(&app, &cart, code).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            slug,
        )
        .await;
    }
    let problem = assert_problem(
        apply(&app, &cart, "bigspend").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount-code-below-minimum",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("100.00 EUR"),
        "{problem}"
    );
    let unchanged = json_of(
        app.client
            .get(app.url(&format!("/v1/carts/{}", cart.id)))
            .header("x-cart-token", &cart.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["discount"], Value::Null);

    // The only use is taken by one order; the next cart is told.
    let first = guest_cart(&app, &variant, 1).await;
    apply_ok(&app, &first, "ONCEONLY").await;
    apply_ok(&app, &cart, "ONCEONLY").await;
    json_of(
        checkout(&app, &first, "first", &checkout_body("first@example.com")).await,
        StatusCode::CREATED,
    )
    .await;
    let late = guest_cart(&app, &variant, 1).await;
    assert_problem(
        apply(&app, &late, "onceonly").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount-code-used-up",
    )
    .await;
    // A cart that took the code before it ran out sees it no longer applies, and its
    // checkout fails with the same problem, writing nothing.
    let stale = json_of(
        app.client
            .get(app.url(&format!("/v1/carts/{}", cart.id)))
            .header("x-cart-token", &cart.token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(stale["discount"]["applies"], false);
    assert_eq!(
        stale["discount"]["problem"],
        "urn:valise:problem:discount-code-used-up"
    );
    assert_eq!(amount(&stale["totals"]["discount"]), 0);
    let before = orders_count(&app).await;
    assert_problem(
        checkout(&app, &cart, "stale", &checkout_body("stale@example.com")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount-code-used-up",
    )
    .await;
    assert_eq!(orders_count(&app).await, before, "no partial write");

    // A customer's own limit: known for an account when the code is applied.
    let customer = app.register(&unique_email("perhead"), "Pat Head").await;
    let mine = customer_cart(&app, &customer, &variant).await;
    assert_eq!(
        customer_apply(&app, &customer, &mine, "perhead")
            .await
            .status(),
        StatusCode::OK
    );
    json_of(
        customer_checkout(&app, &customer, &mine).await,
        StatusCode::CREATED,
    )
    .await;
    let again = customer_cart(&app, &customer, &variant).await;
    assert_problem(
        customer_apply(&app, &customer, &again, "PERHEAD").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount-code-already-used",
    )
    .await;
}

#[actix_web::test]
async fn a_guest_is_held_to_the_per_customer_limit_by_contact_email_at_checkout() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    create_code(
        &app,
        &manager,
        json!({"code": "FIRSTBUY", "kind": "fixed_amount", "value": 700, "per_customer_limit": 1}),
    )
    .await;
    let variant = stocked_variant(&app, "guest-limit", 10, 5000).await;
    let first = guest_cart(&app, &variant, 1).await;
    apply_ok(&app, &first, "FIRSTBUY").await;
    json_of(
        checkout(&app, &first, "g1", &checkout_body("repeat@example.com")).await,
        StatusCode::CREATED,
    )
    .await;
    let second = guest_cart(&app, &variant, 1).await;
    // A guest is not known before checkout: the cart takes the code.
    apply_ok(&app, &second, "FIRSTBUY").await;
    assert_problem(
        checkout(&app, &second, "g2", &checkout_body("Repeat@Example.com")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "discount-code-already-used",
    )
    .await;
    // Another address may.
    let other = json_of(
        checkout(
            &app,
            &second,
            "g3",
            &checkout_body("someone.else@example.com"),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    // The use is linked to the guest only by a blind index, which erasing the order's subject
    // clears like every other one; the use still counts towards the code.
    let order_id = other["id"].as_str().unwrap().to_owned();
    let customer_of = |order: String| {
        app.query(move |conn| {
            use diesel::prelude::*;
            use valise::db::schema::discount_redemptions as r;
            r::table
                .find(order)
                .select(r::customer)
                .first::<Option<String>>(conn)
        })
    };
    let before = customer_of(order_id.clone()).await;
    assert!(before.is_some_and(|c| c.starts_with("email:") && !c.contains('@')));
    let crypto = app.crypto.clone();
    let subject = order_id.clone();
    app.query(move |conn| {
        valise::privacy::erasure::shred_subject(conn, &crypto, &subject, "erasure_request")
    })
    .await;
    assert_eq!(customer_of(order_id).await, None);
}

#[actix_web::test]
async fn a_replayed_checkout_redeems_once_and_a_cancelled_unpaid_order_gives_the_use_back() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let code = create_code(
        &app,
        &manager,
        json!({"code": "SINGLE", "kind": "percentage", "value": 2500, "usage_limit": 1}),
    )
    .await;
    let id = code["id"].as_str().unwrap();
    let variant = stocked_variant(&app, "give-back", 10, 8000).await;
    let cart = guest_cart(&app, &variant, 1).await;
    apply_ok(&app, &cart, "SINGLE").await;
    let body = checkout_body("replay@example.com");
    let order = json_of(
        checkout(&app, &cart, "same", &body).await,
        StatusCode::CREATED,
    )
    .await;
    let replay = checkout(&app, &cart, "same", &body).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(code_view(&app, &manager, id).await["uses"], 1);

    let number = order["number"].as_str().unwrap();
    let cancelled = app
        .client
        .post(app.url(&format!("/v1/orders/{number}/cancel")))
        .header("x-order-token", order["order_token"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(code_view(&app, &manager, id).await["uses"], 0);
    let next = guest_cart(&app, &variant, 1).await;
    apply_ok(&app, &next, "single").await;
    json_of(
        checkout(&app, &next, "next", &checkout_body("next@example.com")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(code_view(&app, &manager, id).await["uses"], 1);
}

#[actix_web::test]
async fn the_invoice_of_a_discounted_order_adds_up_to_the_order_total() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    create_code(
        &app,
        &manager,
        json!({"code": "INVOICE15", "kind": "percentage", "value": 1500}),
    )
    .await;
    let variant = stocked_variant(&app, "invoiced", 10, 12345).await;
    let customer = app.register(&unique_email("invoiced"), "Ivo Iceman").await;
    let cart = customer_cart(&app, &customer, &variant).await;
    customer_apply(&app, &customer, &cart, "INVOICE15").await;
    let order = json_of(
        customer_checkout(&app, &customer, &cart).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(amount(&order["totals"]["discount"]), 1852);
    assert_taxed_after_discount(&order);
    let number = order["number"].as_str().unwrap().to_owned();
    let payment = start_payment(&app, &customer, &number).await;
    assert_eq!(
        amount(&payment["amount"]),
        amount(&order["totals"]["total"])
    );
    let now = chrono::Utc::now().timestamp();
    let applied = send_event(
        &app,
        &payment,
        "evt_disc",
        "payment.captured",
        now,
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(applied.status(), StatusCode::OK);
    let list = json_of(
        app.get_as(&format!("/v1/orders/{number}/invoices"), &customer)
            .await,
        StatusCode::OK,
    )
    .await;
    let invoice = &list["documents"][0];
    assert_eq!(invoice["gross_total"], order["totals"]["total"]);
    assert_eq!(invoice["tax_lines"], order["tax"]["lines"]);
    let lines = invoice["lines"].as_array().unwrap();
    let sum: i64 = lines.iter().map(|l| amount(&l["amount"])).sum();
    assert_eq!(sum, amount(&order["totals"]["total"]), "{invoice}");
    assert!(
        lines.iter().any(|l| amount(&l["amount"]) == -1852),
        "{invoice}"
    );
}

/// 30 guests check out at once with a code of 5 uses, through `instances` in turn.
async fn thirty_race_for_five(app: &TestApp, instances: &[&TestApp]) {
    let manager = app.staff(Role::Manager).await;
    let code = create_code(
        app,
        &manager,
        json!({"code": "FIVEONLY", "kind": "fixed_amount", "value": 1000, "usage_limit": 5}),
    )
    .await;
    let variant = stocked_variant(app, "crowded", 100, 5000).await;
    let mut carts = Vec::new();
    for i in 0..30 {
        let instance = instances[i % instances.len()];
        let cart = guest_cart(instance, &variant, 1).await;
        apply_ok(instance, &cart, "FIVEONLY").await;
        carts.push(cart);
    }
    let attempts = carts.iter().enumerate().map(|(i, cart)| {
        let instance = instances[i % instances.len()];
        async move {
            let body = checkout_body(&format!("crowd{i}@example.com"));
            checkout(instance, cart, &format!("k{i}"), &body).await
        }
    });
    let (mut placed, mut refused) = (0, 0);
    for response in futures_util::future::join_all(attempts).await {
        match response.status() {
            StatusCode::CREATED => {
                let order: Value = response.json().await.unwrap();
                assert_eq!(amount(&order["totals"]["discount"]), 1000);
                placed += 1;
            }
            _ => {
                assert_problem(
                    response,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "discount-code-used-up",
                )
                .await;
                refused += 1;
            }
        }
    }
    assert_eq!((placed, refused), (5, 25));
    let id = code["id"].as_str().unwrap();
    assert_eq!(code_view(app, &manager, id).await["uses"], 5);
    assert_eq!(orders_count(app).await, 5);
    let discounted: i64 = app
        .query(|conn| {
            use diesel::prelude::*;
            use valise::db::schema::order_discounts;
            order_discounts::table.count().get_result::<i64>(conn)
        })
        .await;
    assert_eq!(discounted, 5);
}

#[actix_web::test]
async fn thirty_parallel_checkouts_with_a_code_of_five_uses_place_exactly_five_orders() {
    let app = TestApp::spawn().await;
    thirty_race_for_five(&app, &[&app]).await;
}

#[actix_web::test]
async fn thirty_parallel_checkouts_through_two_instances_place_exactly_five_orders() {
    let app = TestApp::spawn().await;
    let sibling = app.spawn_sibling().await;
    thirty_race_for_five(&app, &[&app, &sibling]).await;
}

/// The same race between two `valise serve` processes on one database: the limit is the
/// database's, not a process's.
#[test]
fn thirty_checkouts_through_two_server_processes_place_exactly_five_discounted_orders() {
    use diesel::prelude::*;
    use std::process::Stdio;
    use valise::db::schema::{discount_codes, order_discounts, orders, variants};
    let (url, _guard) = crate::helpers::TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    let raw = url.to_env_value();
    let seeded = crate::fixtures::valise()
        .args(["seed", "--demo", "--products", "1"])
        .env("DATABASE_URL", &raw)
        .env("VALISE_DATA_DIR", keys.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(seeded.status.success(), "{seeded:?}");
    let variant: String = {
        let db = valise::db::Db::connect(&url, 1).unwrap();
        let mut pooled = db.get().unwrap();
        let conn = &mut *pooled;
        let id: String = variants::table
            .select(variants::id)
            .order(variants::id)
            .first(conn)
            .unwrap();
        diesel::update(variants::table.find(&id))
            .set(variants::available.eq(100))
            .execute(conn)
            .unwrap();
        let now = valise::db::now();
        valise::discounts::store::insert(
            conn,
            &valise::discounts::store::CodeRow {
                id: "dsc_race".into(),
                code: "FIVEONLY".into(),
                kind: "fixed_amount".into(),
                value: 100,
                starts_at: None,
                ends_at: None,
                minimum_subtotal: 0,
                usage_limit: Some(5),
                per_customer_limit: None,
                uses: 0,
                active: true,
                created_at: now,
                updated_at: now,
            },
        )
        .unwrap();
        id
    };
    let dir = keys.path().to_str().unwrap();
    let servers = [
        crate::fixtures::start_server_logging_to(&raw, Stdio::null(), &[("VALISE_DATA_DIR", dir)]),
        crate::fixtures::start_server_logging_to(&raw, Stdio::null(), &[("VALISE_DATA_DIR", dir)]),
    ];
    let bases: Vec<String> = servers
        .iter()
        .map(|s| format!("http://127.0.0.1:{}", s.port))
        .collect();
    let client = reqwest::blocking::Client::new();
    let carts: Vec<(String, String, String)> = (0..30)
        .map(|i| {
            let base = bases[i % 2].clone();
            let (id, token) = crate::helpers::guest_cart_blocking(&client, &base, &variant);
            let applied = client
                .put(format!("{base}/v1/carts/{id}/discount"))
                .header("x-cart-token", &token)
                .json(&json!({"code": "fiveonly"}))
                .send()
                .unwrap();
            assert_eq!(applied.status(), StatusCode::OK);
            // Checkout goes through the other process.
            (bases[(i + 1) % 2].clone(), id, token)
        })
        .collect();
    let handles: Vec<_> = carts
        .into_iter()
        .enumerate()
        .map(|(i, (base, id, token))| {
            std::thread::spawn(move || {
                let response = reqwest::blocking::Client::new()
                    .post(format!("{base}/v1/carts/{id}/checkout"))
                    .header("x-cart-token", token)
                    .header("idempotency-key", format!("race-{i}"))
                    .json(&checkout_body(&format!("race{i}@example.com")))
                    .send()
                    .unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().unwrap();
                (status, body["type"].as_str().unwrap_or_default().to_owned())
            })
        })
        .collect();
    let answers: Vec<(u16, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let placed = answers.iter().filter(|(s, _)| *s == 201).count();
    let used_up = answers
        .iter()
        .filter(|(s, t)| *s == 422 && t == "urn:valise:problem:discount-code-used-up")
        .count();
    assert_eq!((placed, used_up), (5, 25), "{answers:?}");
    let db = valise::db::Db::connect(&url, 1).unwrap();
    let mut pooled = db.get().unwrap();
    let conn = &mut *pooled;
    let uses: i32 = discount_codes::table
        .find("dsc_race")
        .select(discount_codes::uses)
        .first(conn)
        .unwrap();
    let orders: i64 = orders::table.count().get_result(conn).unwrap();
    let lines: i64 = order_discounts::table.count().get_result(conn).unwrap();
    assert_eq!((uses, orders, lines), (5, 5, 5));
}
