//! Carts, checkout, orders and payments, end to end.

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::fixtures::{
    checkout, checkout_body, customer_order, guest_cart, send_event, start_payment,
    stocked_variant, GuestCart, WEBHOOK_SECRET,
};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp};

async fn available(app: &TestApp, variant: &str) -> i32 {
    let id = variant.to_owned();
    app.query(move |conn| valise::catalog::store::get_variant(conn, &id))
        .await
        .unwrap()
        .available
}

#[actix_web::test]
async fn thirty_concurrent_checkouts_for_five_units_make_exactly_five_orders() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "scarce", 5, 9900).await;
    let mut carts = Vec::new();
    for _ in 0..30 {
        carts.push(guest_cart(&app, &variant, 1).await);
    }
    let body = checkout_body("buyer@example.com");
    let attempts = carts.iter().enumerate().map(|(i, cart)| {
        app.client
            .post(app.url(&format!("/v1/carts/{}/checkout", cart.id)))
            .header("x-cart-token", &cart.token)
            .header("idempotency-key", format!("k-{i}"))
            .json(&body)
            .send()
    });
    let responses = futures_util::future::join_all(attempts).await;
    let mut created = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                let problem: Value = response.json().await.unwrap();
                assert_eq!(problem["type"], "urn:valise:problem:out-of-stock");
                assert!(problem["detail"].as_str().unwrap().contains(&variant));
            }
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
    assert_eq!(created, 5);
    assert_eq!(available(&app, &variant).await, 0);
}

#[actix_web::test]
async fn a_checkout_replays_for_the_same_key_and_refuses_another_body() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "replayed", 3, 12900).await;
    let cart = guest_cart(&app, &variant, 1).await;
    let body = checkout_body("replay@example.com");

    let missing = app
        .client
        .post(app.url(&format!("/v1/carts/{}/checkout", cart.id)))
        .header("x-cart-token", &cart.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(missing, StatusCode::BAD_REQUEST, "bad-request").await;

    let first = checkout(&app, &cart, "key-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let order: Value = first.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/orders/{}", order["number"].as_str().unwrap())
    );
    assert_eq!(order["status"], "pending_payment");
    assert_eq!(
        order["totals"]["total"]["amount"], 12900,
        "free shipping from 100"
    );
    assert!(order["number"].as_str().unwrap().starts_with("LG-"));
    assert!(order["order_token"].as_str().unwrap().starts_with("vo_"));
    assert_eq!(order["allowed_transitions"], json!(["cancel"]));

    // The checkout's answer is the order as it is read back.
    let read = app
        .client
        .get(app.url(&location))
        .header("x-order-token", order["order_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let mut without_token = order.clone();
    without_token.as_object_mut().unwrap().remove("order_token");
    assert_eq!(read.json::<Value>().await.unwrap(), without_token);

    let again = checkout(&app, &cart, "key-1", &body).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location.as_str());
    assert_eq!(again.json::<Value>().await.unwrap(), order);
    assert_eq!(available(&app, &variant).await, 2, "stock taken once");

    let other = checkout(
        &app,
        &cart,
        "key-1",
        &checkout_body("someone-else@example.com"),
    )
    .await;
    assert_problem(
        other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;
}

/// A problem with its per-request fields left out, to compare two answers.
async fn problem_shape(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let mut body: Value = response.json().await.unwrap();
    body.as_object_mut().unwrap().remove("request_id");
    (status, body)
}

#[actix_web::test]
async fn a_checkout_replay_by_anyone_else_answers_what_an_unknown_cart_answers() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "replay-scope", 5, 12900).await;
    let cart = guest_cart(&app, &variant, 1).await;
    let body = checkout_body("owner@example.com");
    let first = checkout(&app, &cart, "shared-key", &body).await;
    let order = json_of(first, StatusCode::CREATED).await;

    let unknown = GuestCart {
        id: "cart_00000000000000000000000000000000".into(),
        token: cart.token.clone(),
    };
    let expected = problem_shape(checkout(&app, &unknown, "shared-key", &body).await).await;
    assert_eq!(expected.0, StatusCode::NOT_FOUND);

    // Another guest (their own cart token), a guest without a token, another body.
    let stranger = guest_cart(&app, &variant, 1).await;
    let as_stranger = GuestCart {
        id: cart.id.clone(),
        token: stranger.token.clone(),
    };
    for answer in [
        checkout(&app, &as_stranger, "shared-key", &body).await,
        checkout(
            &app,
            &as_stranger,
            "shared-key",
            &checkout_body("x@example.com"),
        )
        .await,
        app.client
            .post(app.url(&format!("/v1/carts/{}/checkout", cart.id)))
            .header("idempotency-key", "shared-key")
            .json(&body)
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(problem_shape(answer).await, expected);
    }
    // A signed-in customer who knows the cart id and the key.
    let customer = app.register(&unique_email("snoop"), "Snoop").await;
    let answer = app
        .authed(
            Method::POST,
            &format!("/v1/carts/{}/checkout", cart.id),
            &customer,
        )
        .header("idempotency-key", "shared-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(problem_shape(answer).await, expected);

    // The holder of the cart token still gets the order back.
    let again = checkout(&app, &cart, "shared-key", &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(again, StatusCode::CREATED).await, order);
}

#[actix_web::test]
async fn a_customer_checkout_replays_only_for_that_customer() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "replay-customer", 5, 12900).await;
    let owner = app.register(&unique_email("owner"), "Owner").await;
    let other = app.register(&unique_email("other"), "Other").await;
    let created = json_of(
        app.authed(Method::POST, "/v1/carts", &owner)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let cart_id = created["id"].as_str().unwrap().to_owned();
    let added = app
        .authed(Method::POST, &format!("/v1/carts/{cart_id}/items"), &owner)
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::OK);
    let path = format!("/v1/carts/{cart_id}/checkout");
    let body = checkout_body("owner@example.com");
    let send = |who: &Session| {
        app.authed(Method::POST, &path, who)
            .header("idempotency-key", "k-1")
            .json(&body)
            .send()
    };
    assert_eq!(send(&owner).await.unwrap().status(), StatusCode::CREATED);
    let refused = send(&other).await.unwrap();
    assert_problem(refused, StatusCode::NOT_FOUND, "not-found").await;
    let replay = send(&owner).await.unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
}

/// Two tabs adding the same item at once: each add counts, in one line, and none fails.
#[actix_web::test]
async fn concurrent_adds_of_one_item_to_one_cart_all_count() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "double-add", 50, 2000).await;
    let other = stocked_variant(&app, "double-add-other", 50, 2000).await;
    let cart = guest_cart(&app, &other, 1).await;
    let add = || {
        app.client
            .post(app.url(&format!("/v1/carts/{}/items", cart.id)))
            .header("x-cart-token", &cart.token)
            .json(&json!({"variant_id": variant, "quantity": 1}))
            .send()
    };
    let answers = futures_util::future::join_all((0..8).map(|_| add())).await;
    for answer in answers {
        assert_eq!(answer.unwrap().status(), StatusCode::OK);
    }
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
    let lines = shown["items"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{shown}");
    let line = lines
        .iter()
        .find(|l| l["variant_id"] == variant.as_str())
        .unwrap();
    assert_eq!(line["quantity"], 8);
}

/// An Idempotency-Key is remembered for 24 hours; after that the same key is a new request.
#[actix_web::test]
async fn an_idempotency_key_older_than_a_day_is_a_new_request() {
    use valise::db::schema::idempotency_keys;
    let app = TestApp::spawn().await;
    let customer = app.register(&unique_email("stale-key"), "Stale Key").await;
    let variant = stocked_variant(&app, "stale-key", 3, 5000).await;
    let order = customer_order(&app, &customer, &variant).await;
    let number = order["number"].as_str().unwrap().to_owned();
    let first = start_payment(&app, &customer, &number).await;

    let pay_again = || async {
        app.authed(
            Method::POST,
            &format!("/v1/orders/{number}/payments"),
            &customer,
        )
        .header("idempotency-key", format!("pay-{number}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
    };
    let replayed = pay_again().await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(
        json_of(replayed, StatusCode::CREATED).await["id"],
        first["id"]
    );

    let scope = format!("payment:{}", order["id"].as_str().unwrap());
    let aged = app
        .query(move |conn| {
            diesel::update(idempotency_keys::table.filter(idempotency_keys::scope.eq(scope)))
                .set(
                    idempotency_keys::created_at
                        .eq(valise::db::now() - chrono::Duration::hours(25)),
                )
                .execute(conn)
        })
        .await;
    assert_eq!(aged, 1);

    let fresh = pay_again().await;
    assert_eq!(fresh.status(), StatusCode::CREATED);
    assert!(fresh.headers().get("idempotent-replayed").is_none());
    let second: Value = fresh.json().await.unwrap();
    assert_ne!(second["id"], first["id"], "a new payment attempt");
    let replayed = pay_again().await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(
        json_of(replayed, StatusCode::CREATED).await["id"],
        second["id"]
    );
}

/// A client that retries before the first answer came (a timeout, a second tab, another
/// instance behind the load balancer) must get that answer, not a 404 for the now checked-out
/// cart nor a 409 for the stock the first attempt took.
#[actix_web::test]
async fn the_same_checkout_sent_eight_times_at_once_to_two_instances_places_one_order_and_answers_it_every_time(
) {
    let app = TestApp::spawn().await;
    let sibling = app.spawn_sibling().await;
    let variant = stocked_variant(&app, "retried-at-once", 1, 9900).await;
    let cart = guest_cart(&app, &variant, 1).await;
    let body = checkout_body("impatient@example.com");
    let attempts = (0..8).map(|i| {
        let instance = if i % 2 == 0 { &app } else { &sibling };
        checkout(instance, &cart, "one-key", &body)
    });
    let mut numbers = std::collections::HashSet::new();
    let mut fresh = 0;
    for response in futures_util::future::join_all(attempts).await {
        let status = response.status();
        let replayed = response.headers().contains_key("idempotent-replayed");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        fresh += usize::from(!replayed);
        numbers.insert(answer["number"].as_str().unwrap().to_owned());
    }
    assert_eq!((fresh, numbers.len()), (1, 1));
    assert_eq!(available(&app, &variant).await, 0);
    let orders: i64 = app
        .query(|conn| {
            use valise::db::schema::orders;
            orders::table.count().get_result(conn)
        })
        .await;
    assert_eq!(orders, 1);
}

#[actix_web::test]
async fn checkout_refuses_sensitive_addresses_and_a_stale_policy() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "careful", 3, 5000).await;
    let cart = guest_cart(&app, &variant, 1).await;
    let mut body = checkout_body("x@example.com");
    body["shipping_address"]["line2"] = json!("IBAN DE89370400440532013000");
    let problem = assert_problem(
        checkout(&app, &cart, "a", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sensitive-data-refused",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "shipping_address.line2");
    let mut body = checkout_body("x@example.com");
    body["accepted_policy_version"] = json!(0);
    assert_problem(
        checkout(&app, &cart, "b", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let mut body = checkout_body("x@example.com");
    body["card_number"] = json!("4111111111111111");
    let problem = assert_problem(
        checkout(&app, &cart, "c", &body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "card_number");
    assert_eq!(
        available(&app, &variant).await,
        3,
        "nothing reserved by refused checkouts"
    );
}

#[actix_web::test]
async fn another_callers_carts_and_orders_answer_404() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "private", 10, 5000).await;
    let alice = app.register(&unique_email("alice"), "Alice").await;
    let bob = app.register(&unique_email("bob"), "Bob").await;
    let order = customer_order(&app, &alice, &variant).await;
    let number = order["number"].as_str().unwrap();

    // Alice sees her order; Bob, a guest, and an anonymous caller do not.
    assert_eq!(
        app.get_as(&format!("/v1/orders/{number}"), &alice)
            .await
            .status(),
        StatusCode::OK
    );
    for path in [
        format!("/v1/orders/{number}"),
        format!("/v1/orders/{number}/payments"),
    ] {
        assert_problem(
            app.get_as(&path, &bob).await,
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
        assert_problem(app.get(&path).await, StatusCode::NOT_FOUND, "not-found").await;
        let guessed = app
            .client
            .get(app.url(&path))
            .header("x-order-token", "vo_guess")
            .send()
            .await
            .unwrap();
        assert_problem(guessed, StatusCode::NOT_FOUND, "not-found").await;
    }
    let cancel = app
        .authed(Method::POST, &format!("/v1/orders/{number}/cancel"), &bob)
        .send()
        .await
        .unwrap();
    assert_problem(cancel, StatusCode::NOT_FOUND, "not-found").await;
    let pay = app
        .authed(Method::POST, &format!("/v1/orders/{number}/payments"), &bob)
        .header("idempotency-key", "x")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(pay, StatusCode::NOT_FOUND, "not-found").await;
    let listed = json_of(app.get_as("/v1/orders", &bob).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]));

    // A guest cart: only its token opens it.
    let cart = guest_cart(&app, &variant, 1).await;
    let path = format!("/v1/carts/{}", cart.id);
    assert_problem(app.get(&path).await, StatusCode::NOT_FOUND, "not-found").await;
    assert_problem(
        app.get_as(&path, &bob).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let wrong = app
        .client
        .get(app.url(&path))
        .header("x-cart-token", "vc_wrong")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, StatusCode::NOT_FOUND, "not-found").await;
    let right = app
        .client
        .get(app.url(&path))
        .header("x-cart-token", &cart.token)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);

    // A guest reads their order with the order token.
    let placed = json_of(
        checkout(&app, &cart, "g", &checkout_body("guest@example.com")).await,
        StatusCode::CREATED,
    )
    .await;
    let guest_path = format!("/v1/orders/{}", placed["number"].as_str().unwrap());
    let mine = app
        .client
        .get(app.url(&guest_path))
        .header("x-order-token", placed["order_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let mine = json_of(mine, StatusCode::OK).await;
    assert_eq!(mine["contact_email"], "guest@example.com");
    assert_eq!(mine["shipping_address"]["country"], "FR");
    assert!(mine.get("order_token").is_none(), "the token is shown once");
    assert_problem(
        app.get_as(&guest_path, &alice).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
}

#[actix_web::test]
async fn signed_webhooks_drive_the_payment_and_the_order() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "payable", 10, 5000).await;
    let ada = app.register(&unique_email("ada"), "Ada").await;
    let order = customer_order(&app, &ada, &variant).await;
    let number = order["number"].as_str().unwrap();
    assert_eq!(
        order["totals"]["total"]["amount"], 5990,
        "flat shipping under 100"
    );
    let payment = start_payment(&app, &ada, number).await;
    assert_eq!(payment["status"], "pending");
    assert_eq!(payment["amount"]["amount"], 5990);
    let now = chrono::Utc::now().timestamp();

    // Forged and stale signatures are refused and change nothing.
    let forged = send_event(
        &app,
        &payment,
        "evt_1",
        "payment.captured",
        now,
        "not-the-secret-at-all",
    )
    .await;
    assert_problem(forged, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let stale = send_event(
        &app,
        &payment,
        "evt_1",
        "payment.captured",
        now - 600,
        WEBHOOK_SECRET,
    )
    .await;
    assert_problem(stale, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let unsigned = app
        .client
        .post(app.url("/v1/payments/webhooks/test"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(unsigned, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let captured = send_event(
        &app,
        &payment,
        "evt_1",
        "payment.captured",
        now,
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(json_of(captured, StatusCode::OK).await["status"], "applied");
    let replayed = send_event(
        &app,
        &payment,
        "evt_1",
        "payment.captured",
        now,
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(
        json_of(replayed, StatusCode::OK).await["status"],
        "duplicate"
    );
    // An authorisation arriving late never moves the payment back.
    let late = send_event(
        &app,
        &payment,
        "evt_0",
        "payment.authorized",
        now,
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(json_of(late, StatusCode::OK).await["status"], "ignored");

    let view = json_of(
        app.get_as(&format!("/v1/orders/{number}"), &ada).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "paid");
    assert_eq!(view["payment_status"], "captured");
    let history: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(history, vec!["pending_payment", "paid"]);

    // Paying a paid order is an invalid transition.
    let again = app
        .authed(Method::POST, &format!("/v1/orders/{number}/payments"), &ada)
        .header("idempotency-key", "second-attempt")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(again, StatusCode::CONFLICT, "invalid-transition").await;

    // Cancelling a paid order releases the stock and refunds the payment.
    let before = available(&app, &variant).await;
    let cancelled = app
        .authed(Method::POST, &format!("/v1/orders/{number}/cancel"), &ada)
        .send()
        .await
        .unwrap();
    let cancelled = json_of(cancelled, StatusCode::OK).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["payment_status"], "refunded");
    assert_eq!(available(&app, &variant).await, before + 1);
    let twice = app
        .authed(Method::POST, &format!("/v1/orders/{number}/cancel"), &ada)
        .send()
        .await
        .unwrap();
    assert_problem(twice, StatusCode::CONFLICT, "invalid-transition").await;
}

#[actix_web::test]
async fn a_capture_for_a_cancelled_order_is_given_back_whole() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "late-capture", 10, 5000).await;
    let ada = app.register(&unique_email("ada"), "Ada").await;
    let order = customer_order(&app, &ada, &variant).await;
    let number = order["number"].as_str().unwrap();
    let payment = start_payment(&app, &ada, number).await;
    let cancelled = app
        .authed(Method::POST, &format!("/v1/orders/{number}/cancel"), &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(cancelled, StatusCode::OK).await["status"],
        "cancelled"
    );

    // The customer confirms the payment anyway: the provider reports the capture late.
    let now = chrono::Utc::now().timestamp();
    let captured = send_event(
        &app,
        &payment,
        "evt_late",
        "payment.captured",
        now,
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(json_of(captured, StatusCode::OK).await["status"], "applied");
    let payments = json_of(
        app.get_as(&format!("/v1/orders/{number}/payments"), &ada)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(payments["data"][0]["status"], "refunded");
    assert_eq!(payments["data"][0]["refunded"]["amount"], 5990);
    let order = json_of(
        app.get_as(&format!("/v1/orders/{number}"), &ada).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(order["status"], "cancelled", "a late capture pays nothing");
}

#[actix_web::test]
async fn unpaid_orders_expire_and_release_their_stock() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "expiring", 4, 5000).await;
    let cart = guest_cart(&app, &variant, 3).await;
    let order = json_of(
        checkout(&app, &cart, "e", &checkout_body("late@example.com")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(available(&app, &variant).await, 1);
    let id = order["id"].as_str().unwrap().to_owned();
    let expired = app
        .query(move |conn| {
            use valise::db::schema::orders;
            diesel::update(orders::table.find(&id))
                .set(orders::expires_at.eq(valise::db::now() - chrono::Duration::minutes(1)))
                .execute(conn)?;
            valise::orders::lifecycle::expire_due(conn, 100).map_err(|e| anyhow::anyhow!("{e}"))
        })
        .await;
    assert_eq!(expired, 1);
    assert_eq!(available(&app, &variant).await, 4);
    let view = json_of(
        app.client
            .get(app.url(&format!("/v1/orders/{}", order["number"].as_str().unwrap())))
            .header("x-order-token", order["order_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "expired");
    assert_eq!(view["allowed_transitions"], json!([]));
    // A second run finds nothing to do.
    let again = app
        .query(|conn| {
            valise::orders::lifecycle::expire_due(conn, 100).map_err(|e| anyhow::anyhow!("{e}"))
        })
        .await;
    assert_eq!(again, 0);
}

#[actix_web::test]
async fn no_order_address_or_email_is_stored_in_plaintext() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "sealed", 3, 5000).await;
    let cart = guest_cart(&app, &variant, 1).await;
    let placed = checkout(
        &app,
        &cart,
        "s",
        &checkout_body("quentin.zephyrine@example.org"),
    )
    .await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let stored = crate::fixtures::database_bytes(&app.config.database_url);
    for secret in [
        "quentin.zephyrine",
        "Zephyrine",
        "Xylophones",
        "Marseille",
        "13001",
    ] {
        assert!(
            !crate::fixtures::contains(&stored, secret),
            "{secret} is readable in the database"
        );
    }
}

#[actix_web::test]
async fn a_cart_is_created_with_or_without_a_body() {
    let app = TestApp::spawn().await;
    let bare = app.client.post(app.url("/v1/carts")).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::CREATED);
    let location = bare.headers()["location"].to_str().unwrap().to_owned();
    let cart: Value = bare.json().await.unwrap();
    assert!(cart["cart_token"].is_string());
    assert_eq!(
        location,
        format!("/v1/carts/{}", cart["id"].as_str().unwrap())
    );
    let read = app
        .client
        .get(app.url(&location))
        .header("x-cart-token", cart["cart_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK, "Location names the new cart");
    let empty = app.post_json("/v1/carts", &json!({})).await;
    assert_eq!(empty.status(), StatusCode::CREATED);
    let unknown = app.post_json("/v1/carts", &json!({"coupon": "X"})).await;
    assert_problem(
        unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let text = app
        .client
        .post(app.url("/v1/carts"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_problem(
        text,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
}

#[actix_web::test]
async fn a_guest_route_without_its_token_names_the_header_whether_or_not_it_exists() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "hinted", 5, 4900).await;
    let cart = guest_cart(&app, &variant, 1).await;
    let detail = |problem: Value| problem["detail"].as_str().unwrap().to_owned();

    let tokenless = app.get(&format!("/v1/carts/{}", cart.id)).await;
    let existing = detail(assert_problem(tokenless, StatusCode::NOT_FOUND, "not-found").await);
    assert!(existing.contains("X-Cart-Token"), "{existing}");
    let unknown = app
        .client
        .get(app.url("/v1/carts/cart_00000000000000000000000000000000"))
        .header("x-cart-token", &cart.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        detail(assert_problem(unknown, StatusCode::NOT_FOUND, "not-found").await),
        existing
    );

    let order = json_of(
        checkout(&app, &cart, "hint-key", &checkout_body("hint@example.com")).await,
        StatusCode::CREATED,
    )
    .await;
    let number = order["number"].as_str().unwrap();
    let tokenless = app.get(&format!("/v1/orders/{number}")).await;
    let existing = detail(assert_problem(tokenless, StatusCode::NOT_FOUND, "not-found").await);
    assert!(existing.contains("X-Order-Token"), "{existing}");
    let unknown = app
        .client
        .get(app.url("/v1/orders/LG-0000-0000"))
        .header("x-order-token", order["order_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        detail(assert_problem(unknown, StatusCode::NOT_FOUND, "not-found").await),
        existing
    );
}

#[actix_web::test]
async fn an_order_carries_an_etag_and_answers_if_none_match_with_304() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "tagged", 5, 4900).await;
    let cart = guest_cart(&app, &variant, 1).await;
    let order = json_of(
        checkout(&app, &cart, "etag-key", &checkout_body("etag@example.com")).await,
        StatusCode::CREATED,
    )
    .await;
    let number = order["number"].as_str().unwrap();
    let token = order["order_token"].as_str().unwrap();
    let read = |etag: Option<String>| {
        let mut request = app
            .client
            .get(app.url(&format!("/v1/orders/{number}")))
            .header("x-order-token", token);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = read(None).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(first.headers()["cache-control"], "no-store");
    let unchanged = read(Some(etag.clone())).await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["etag"], etag.as_str());

    let cancelled = app
        .client
        .post(app.url(&format!("/v1/orders/{number}/cancel")))
        .header("x-order-token", token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let changed = read(Some(etag.clone())).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"], etag.as_str());
}
