//! Payments and refunds through the `stripe` provider, against a local fake of Stripe's API
//! (`fake_stripe`) and webhooks signed as Stripe signs them.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fake_stripe::{self, FakeStripe, WEBHOOK_SECRET};
use crate::fixtures::{customer_order, stocked_variant};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp};

/// The application with Stripe as its provider, pointed at `fake`.
pub async fn app_with(fake: &FakeStripe) -> TestApp {
    let config = fake.config();
    TestApp::spawn_configured(move |c| c.stripe = Some(config)).await
}

/// A customer's order of one 50.00 bag (59.90 with shipping): (customer, number, order).
async fn order(app: &TestApp) -> (Session, String, Value) {
    let slug = format!("s-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let variant = stocked_variant(app, &slug, 20, 5000).await;
    let customer = app.register(&unique_email("stripe"), "Stripe Buyer").await;
    let order = customer_order(app, &customer, &variant).await;
    let number = order["number"].as_str().unwrap().to_owned();
    (customer, number, order)
}

async fn pay(app: &TestApp, who: &Session, number: &str, key: &str) -> reqwest::Response {
    app.authed(Method::POST, &format!("/v1/orders/{number}/payments"), who)
        .header("idempotency-key", key)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

/// Posts `event` to the Stripe webhook, signed at `t` with `secret`.
async fn deliver(app: &TestApp, event: &Value, t: i64, secret: &str) -> reqwest::Response {
    let body = event.to_string();
    app.client
        .post(app.url("/v1/payments/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", fake_stripe::signature(secret, t, &body))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Delivers a genuine event and returns what Valise made of it.
pub async fn outcome(app: &TestApp, event: &Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let ack = json_of(
        deliver(app, event, now, WEBHOOK_SECRET).await,
        StatusCode::OK,
    )
    .await;
    ack["status"].as_str().unwrap().to_owned()
}

async fn payment_status(app: &TestApp, who: &Session, number: &str) -> Value {
    let list = json_of(
        app.get_as(&format!("/v1/orders/{number}/payments"), who)
            .await,
        StatusCode::OK,
    )
    .await;
    list["data"][0].clone()
}

async fn order_status(app: &TestApp, who: &Session, number: &str) -> String {
    let view = json_of(
        app.get_as(&format!("/v1/orders/{number}"), who).await,
        StatusCode::OK,
    )
    .await;
    view["status"].as_str().unwrap().to_owned()
}

/// A Stripe payment of a fresh order, captured by a signed `payment_intent.succeeded`:
/// (customer, order number, payment).
pub async fn captured(app: &TestApp) -> (Session, String, Value) {
    let (customer, number, _) = order(app).await;
    let payment = json_of(
        pay(app, &customer, &number, &format!("pay-{number}")).await,
        StatusCode::CREATED,
    )
    .await;
    let pi = payment["provider_reference"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let succeeded = fake_stripe::event(
        &format!("evt_ok_{pi}"),
        "payment_intent.succeeded",
        now,
        fake_stripe::intent(pi, 5990, "succeeded"),
    );
    assert_eq!(outcome(app, &succeeded).await, "applied");
    (customer, number, payment)
}

#[actix_web::test]
async fn a_stripe_payment_hands_out_its_client_secret_and_a_signed_success_pays_the_order() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (customer, number, order) = order(&app).await;

    let key = format!("pay-{number}");
    let first = pay(&app, &customer, &number, &key).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let payment = json_of(first, StatusCode::CREATED).await;
    assert_eq!(payment["provider"], "stripe");
    assert_eq!(payment["status"], "pending");
    let pi = payment["provider_reference"].as_str().unwrap().to_owned();
    assert!(pi.starts_with("pi_"), "{payment}");
    assert_eq!(payment["client_secret"], format!("{pi}_secret_fake1"));

    // What Stripe received: a form-encoded PaymentIntent for the order's total.
    let sent = fake.requests_to("/v1/payment_intents");
    assert_eq!(sent.len(), 1);
    let call = &sent[0];
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bearer {}", fake_stripe::SECRET_KEY).as_str())
    );
    assert_eq!(
        call.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        call.stripe_version.as_deref(),
        Some(valise::payments::stripe::API_VERSION)
    );
    assert_eq!(call.field("amount"), Some("5990"));
    assert_eq!(call.field("currency"), Some("eur"));
    assert_eq!(
        call.field("automatic_payment_methods[enabled]"),
        Some("true")
    );
    assert_eq!(call.field("metadata[order_id]"), order["id"].as_str());
    let stripe_key = call.idempotency_key.clone().unwrap();
    assert!(stripe_key.starts_with("valise-pay-"), "{stripe_key}");
    assert!(
        !stripe_key.contains(&key),
        "derived, not the client's key itself"
    );

    // A retry with the same key replays the answer without calling Stripe again.
    let again = pay(&app, &customer, &number, &key).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(again, StatusCode::CREATED).await, payment);
    assert_eq!(fake.requests_to("/v1/payment_intents").len(), 1);

    // The client secret is for the payer's device, once: listings do not show it.
    let listed = payment_status(&app, &customer, &number).await;
    assert!(listed.get("client_secret").is_none(), "{listed}");

    let now = chrono::Utc::now().timestamp();
    let succeeded = fake_stripe::event(
        "evt_succeeded",
        "payment_intent.succeeded",
        now,
        fake_stripe::intent(&pi, 5990, "succeeded"),
    );
    assert_eq!(outcome(&app, &succeeded).await, "applied");
    assert_eq!(
        payment_status(&app, &customer, &number).await["status"],
        "captured"
    );
    assert_eq!(order_status(&app, &customer, &number).await, "paid");

    // A success for another amount than the payment's is refused.
    let (other, other_number, _) = self::order(&app).await;
    let other_payment = json_of(
        pay(&app, &other, &other_number, "other").await,
        StatusCode::CREATED,
    )
    .await;
    let other_pi = other_payment["provider_reference"].as_str().unwrap();
    let short = fake_stripe::event(
        "evt_short",
        "payment_intent.succeeded",
        now,
        fake_stripe::intent(other_pi, 100, "succeeded"),
    );
    let refused = deliver(&app, &short, now, WEBHOOK_SECRET).await;
    assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(
        order_status(&app, &other, &other_number).await,
        "pending_payment"
    );
}

#[actix_web::test]
async fn forged_stale_duplicate_and_out_of_order_stripe_events_never_move_a_payment_back() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (customer, number, _) = order(&app).await;
    let payment = json_of(
        pay(&app, &customer, &number, "k").await,
        StatusCode::CREATED,
    )
    .await;
    let pi = payment["provider_reference"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    let status = || payment_status(&app, &customer, &number);
    let event = |id: &str, t: &str, created: i64, pi_status: &str| {
        fake_stripe::event(id, t, created, fake_stripe::intent(&pi, 5990, pi_status))
    };

    // Forged, stale, unsigned, or signed the `test` provider's way: refused, nothing moves.
    let success = event("evt_s", "payment_intent.succeeded", now, "succeeded");
    let forged = deliver(&app, &success, now, "whsec_not_the_secret_at_all").await;
    assert_problem(forged, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let stale = deliver(&app, &success, now - 301, WEBHOOK_SECRET).await;
    assert_problem(stale, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let unsigned = app
        .client
        .post(app.url("/v1/payments/webhooks/stripe"))
        .body(success.to_string())
        .send()
        .await
        .unwrap();
    assert_problem(unsigned, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let body = success.to_string();
    let tampered = app
        .client
        .post(app.url("/v1/payments/webhooks/stripe"))
        .header(
            "stripe-signature",
            fake_stripe::signature(WEBHOOK_SECRET, now, &body.replace("5990", "1")),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_problem(tampered, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(status().await["status"], "pending");

    // Processing, then an older decline arriving late: the newer state stays.
    assert_eq!(
        outcome(
            &app,
            &event("evt_p", "payment_intent.processing", now - 20, "processing")
        )
        .await,
        "applied"
    );
    assert_eq!(status().await["status"], "processing");
    let old_decline = event(
        "evt_f_old",
        "payment_intent.payment_failed",
        now - 30,
        "requires_payment_method",
    );
    assert_eq!(outcome(&app, &old_decline).await, "ignored");
    assert_eq!(status().await["status"], "processing");

    // A newer decline shows; the customer may try again.
    let decline = event(
        "evt_f",
        "payment_intent.payment_failed",
        now - 10,
        "requires_payment_method",
    );
    assert_eq!(outcome(&app, &decline).await, "applied");
    assert_eq!(status().await["status"], "failed");
    assert_eq!(outcome(&app, &decline).await, "duplicate");
    assert_eq!(
        order_status(&app, &customer, &number).await,
        "pending_payment"
    );

    // The success, signed while the secret is being rolled (an old and the new `v1`).
    let body = success.to_string();
    let genuine = fake_stripe::signature(WEBHOOK_SECRET, now, &body);
    let (_, good) = genuine.split_once(",v1=").unwrap();
    let rolled = format!(
        "t={now},v1={},v1={good},v0={}",
        "f".repeat(64),
        "0".repeat(64)
    );
    let applied = app
        .client
        .post(app.url("/v1/payments/webhooks/stripe"))
        .header("stripe-signature", rolled)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(applied, StatusCode::OK).await["status"], "applied");
    assert_eq!(status().await["status"], "captured");
    assert_eq!(order_status(&app, &customer, &number).await, "paid");
    assert_eq!(outcome(&app, &success).await, "duplicate");

    // Late reports of earlier states, even newer ones, never undo a capture.
    for (id, t, s) in [
        ("evt_p2", "payment_intent.processing", "processing"),
        (
            "evt_f2",
            "payment_intent.payment_failed",
            "requires_payment_method",
        ),
        ("evt_c2", "payment_intent.canceled", "canceled"),
    ] {
        assert_eq!(
            outcome(&app, &event(id, t, now + 5, s)).await,
            "ignored",
            "{t}"
        );
    }
    assert_eq!(status().await["status"], "captured");

    // A dispute shows.
    let disputed = fake_stripe::event(
        "evt_d",
        "charge.dispute.created",
        now + 10,
        fake_stripe::dispute(&pi),
    );
    assert_eq!(outcome(&app, &disputed).await, "applied");
    assert_eq!(status().await["status"], "disputed");

    // Events about objects this shop never created, or of other types, are acknowledged.
    let foreign = fake_stripe::event(
        "evt_x",
        "payment_intent.succeeded",
        now,
        fake_stripe::intent("pi_someone_else", 5990, "succeeded"),
    );
    assert_eq!(outcome(&app, &foreign).await, "ignored");
    let other_type = fake_stripe::event("evt_y", "customer.created", now, json!({"id": "cus_1"}));
    assert_eq!(outcome(&app, &other_type).await, "ignored");
}

#[actix_web::test]
async fn a_cancelled_stripe_payment_is_visible_and_final() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (customer, number, _) = order(&app).await;
    let payment = json_of(
        pay(&app, &customer, &number, "k").await,
        StatusCode::CREATED,
    )
    .await;
    let pi = payment["provider_reference"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let cancelled = fake_stripe::event(
        "evt_c",
        "payment_intent.canceled",
        now,
        fake_stripe::intent(pi, 5990, "canceled"),
    );
    assert_eq!(outcome(&app, &cancelled).await, "applied");
    assert_eq!(
        payment_status(&app, &customer, &number).await["status"],
        "cancelled"
    );
    let late = fake_stripe::event(
        "evt_p",
        "payment_intent.processing",
        now + 1,
        fake_stripe::intent(pi, 5990, "processing"),
    );
    assert_eq!(outcome(&app, &late).await, "ignored");
    assert_eq!(
        payment_status(&app, &customer, &number).await["status"],
        "cancelled"
    );
    // Another attempt may start while the order still awaits payment.
    let retry = pay(&app, &customer, &number, "k2").await;
    assert_eq!(retry.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn a_payment_stripe_refuses_for_good_is_a_conflict_not_a_retry() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (customer, number, _) = order(&app).await;
    fake.fail_next(&[400]);
    let refused = pay(&app, &customer, &number, "k").await;
    let problem = assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
    assert!(
        !problem.to_string().contains("the fake was told to fail"),
        "Stripe's message stays in the log: {problem}"
    );
    assert_eq!(
        fake.requests_to("/v1/payment_intents").len(),
        1,
        "not retried"
    );
    assert!(
        payment_status(&app, &customer, &number).await.is_null(),
        "no payment recorded"
    );
}

#[actix_web::test]
async fn calls_to_stripe_are_retried_on_429_and_5xx_with_the_same_idempotency_key() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (customer, number, _) = order(&app).await;

    fake.fail_next(&[429, 500]);
    let payment = json_of(
        pay(&app, &customer, &number, "k").await,
        StatusCode::CREATED,
    )
    .await;
    let tries = fake.requests_to("/v1/payment_intents");
    let statuses: Vec<u16> = tries.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 500, 200]);
    assert!(tries
        .iter()
        .all(|r| r.idempotency_key == tries[0].idempotency_key));
    assert_eq!(payment["provider_reference"], "pi_fake000001");

    // Stripe down for every try: 503, nothing recorded, and the client's retry with its
    // own key reaches the same Stripe key.
    let (other, other_number, _) = order(&app).await;
    fake.fail_next(&[503, 502, 500]);
    let down = pay(&app, &other, &other_number, "k-down").await;
    assert_problem(down, StatusCode::SERVICE_UNAVAILABLE, "service-unavailable").await;
    assert!(payment_status(&app, &other, &other_number).await.is_null());
    let later = json_of(
        pay(&app, &other, &other_number, "k-down").await,
        StatusCode::CREATED,
    )
    .await;
    let tries = fake.requests_to("/v1/payment_intents");
    assert_eq!(tries.len(), 7);
    assert!(tries[3..]
        .iter()
        .all(|r| r.idempotency_key == tries[3].idempotency_key));
    assert_ne!(tries[3].idempotency_key, tries[0].idempotency_key);
    assert_eq!(later["provider"], "stripe");

    // A refund is retried the same way.
    let (_, _, paid) = captured(&app).await;
    let manager = app.staff(Role::Manager).await;
    fake.fail_next(&[500, 429]);
    let refunded = refund(&app, &manager, &paid, "r-1", &json!({"amount": 100})).await;
    assert_eq!(refunded.status(), StatusCode::ACCEPTED);
    let tries = fake.requests_to("/v1/refunds");
    let statuses: Vec<u16> = tries.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 429, 200]);
    assert!(tries
        .iter()
        .all(|r| r.idempotency_key == tries[0].idempotency_key));
}

pub async fn refund(
    app: &TestApp,
    who: &Session,
    payment: &Value,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    let path = format!(
        "/v1/admin/payments/{}/refund",
        payment["id"].as_str().unwrap()
    );
    app.authed(Method::POST, &path, who)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn refunds_of(app: &TestApp, who: &Session, payment: &Value) -> Vec<Value> {
    let path = format!(
        "/v1/admin/payments/{}/refunds",
        payment["id"].as_str().unwrap()
    );
    let list = json_of(app.get_as(&path, who).await, StatusCode::OK).await;
    list["data"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn refunds_reach_stripe_under_a_derived_key_replay_and_follow_its_webhooks() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (_customer, _number, payment) = captured(&app).await;
    let pi = payment["provider_reference"].as_str().unwrap().to_owned();
    let manager = app.staff(Role::Manager).await;

    // The key is required.
    let path = format!(
        "/v1/admin/payments/{}/refund",
        payment["id"].as_str().unwrap()
    );
    let keyless = app
        .authed(Method::POST, &path, &manager)
        .json(&json!({"amount": 2000}))
        .send()
        .await
        .unwrap();
    assert_problem(keyless, StatusCode::BAD_REQUEST, "bad-request").await;
    assert!(fake.requests_to("/v1/refunds").is_empty());

    let first = refund(
        &app,
        &manager,
        &payment,
        "refund-1",
        &json!({"amount": 2000}),
    )
    .await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let answer = json_of(first, StatusCode::ACCEPTED).await;
    let refund_id = answer["refund"]["id"].as_str().unwrap().to_owned();
    assert_eq!(answer["refund"]["status"], "pending");
    assert_eq!(answer["refund"]["amount"]["amount"], 2000);
    assert_eq!(answer["payment"]["status"], "partially_refunded");
    assert_eq!(answer["payment"]["refunded"]["amount"], 2000);

    let sent = fake.requests_to("/v1/refunds");
    assert_eq!(sent.len(), 1);
    let call = &sent[0];
    assert_eq!(call.field("payment_intent"), Some(pi.as_str()));
    assert_eq!(call.field("amount"), Some("2000"));
    assert_eq!(call.field("metadata[refund_id]"), Some(refund_id.as_str()));
    assert_eq!(
        call.idempotency_key.as_deref(),
        Some(format!("valise-{refund_id}").as_str())
    );
    assert_eq!(
        call.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let re = answer["refund"]["provider_reference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(re.starts_with("re_"), "{answer}");

    // The same key and body replay; another body under it is refused; Stripe hears once.
    let replay = refund(
        &app,
        &manager,
        &payment,
        "refund-1",
        &json!({"amount": 2000}),
    )
    .await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replay, StatusCode::ACCEPTED).await, answer);
    let reused = refund(
        &app,
        &manager,
        &payment,
        "refund-1",
        &json!({"amount": 1000}),
    )
    .await;
    assert_problem(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
    )
    .await;
    assert_eq!(fake.requests_to("/v1/refunds").len(), 1);

    // Stripe reports it succeeded (twice: the duplicate changes nothing).
    let now = chrono::Utc::now().timestamp();
    let done = fake_stripe::event(
        "evt_r1",
        "refund.updated",
        now,
        fake_stripe::refund(&re, &pi, 2000, "succeeded"),
    );
    assert_eq!(outcome(&app, &done).await, "applied");
    assert_eq!(outcome(&app, &done).await, "duplicate");
    let listed = refunds_of(&app, &manager, &payment).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "succeeded");

    // A second refund that Stripe later reports failed gives its amount back.
    let second = json_of(
        refund(
            &app,
            &manager,
            &payment,
            "refund-2",
            &json!({"amount": 1000}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(second["payment"]["refunded"]["amount"], 3000);
    let re2 = second["refund"]["provider_reference"].as_str().unwrap();
    let failed = fake_stripe::event(
        "evt_r2",
        "refund.failed",
        now,
        fake_stripe::refund(re2, &pi, 1000, "failed"),
    );
    assert_eq!(outcome(&app, &failed).await, "applied");
    // A late success of a failed refund never revives it.
    let late = fake_stripe::event(
        "evt_r2_late",
        "charge.refunded",
        now,
        fake_stripe::charge(&pi, vec![fake_stripe::refund(re2, &pi, 1000, "succeeded")]),
    );
    assert_eq!(outcome(&app, &late).await, "ignored");
    let listed = refunds_of(&app, &manager, &payment).await;
    assert_eq!(listed[1]["status"], "failed");
    let view = payment_status(&app, &_customer, &_number).await;
    assert_eq!(view["refunded"]["amount"], 2000);
    assert_eq!(view["status"], "partially_refunded");

    // What is left may be refunded in full; then nothing is left.
    fake.refunds_answer("succeeded");
    let rest = json_of(
        refund(&app, &manager, &payment, "refund-3", &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rest["refund"]["amount"]["amount"], 3990);
    assert_eq!(rest["refund"]["status"], "succeeded");
    assert_eq!(rest["payment"]["status"], "refunded");
    let nothing = refund(&app, &manager, &payment, "refund-4", &json!({})).await;
    assert_problem(nothing, StatusCode::CONFLICT, "conflict").await;
}

#[actix_web::test]
async fn a_refund_stripe_refuses_is_a_conflict_and_leaves_the_amount_refundable() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (customer, number, payment) = captured(&app).await;
    let manager = app.staff(Role::Manager).await;
    fake.refuse_refunds();
    let refused = refund(&app, &manager, &payment, "r", &json!({"amount": 500})).await;
    assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
    let again = refund(&app, &manager, &payment, "r", &json!({"amount": 500})).await;
    assert_problem(again, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(
        fake.requests_to("/v1/refunds").len(),
        1,
        "a refused refund is not retried"
    );
    let view = payment_status(&app, &customer, &number).await;
    assert_eq!(view["status"], "captured");
    assert_eq!(view["refunded"]["amount"], 0);
    assert_eq!(
        refunds_of(&app, &manager, &payment).await[0]["status"],
        "failed"
    );
}

#[actix_web::test]
async fn a_refund_stripe_is_still_working_on_stays_pending_and_a_retry_completes_it() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (_customer, _number, payment) = captured(&app).await;
    let manager = app.staff(Role::Manager).await;
    // 409: another request with this key is still running at Stripe. It refuses nothing.
    fake.fail_next(&[409]);
    let busy = refund(&app, &manager, &payment, "r", &json!({"amount": 500})).await;
    assert_problem(busy, StatusCode::SERVICE_UNAVAILABLE, "service-unavailable").await;
    let listed = refunds_of(&app, &manager, &payment).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "pending", "still reserved, not failed");

    let again = refund(&app, &manager, &payment, "r", &json!({"amount": 500})).await;
    let answer = json_of(again, StatusCode::ACCEPTED).await;
    assert_eq!(answer["refund"]["id"], listed[0]["id"]);
    assert_eq!(answer["payment"]["refunded"]["amount"], 500);
    let sent = fake.requests_to("/v1/refunds");
    assert_eq!(
        sent.iter().map(|r| r.status).collect::<Vec<_>>(),
        [409, 200]
    );
    assert_eq!(sent[0].idempotency_key, sent[1].idempotency_key);

    // Answered once: a later retry of the same key replays, and never asks Stripe again.
    let later = refund(&app, &manager, &payment, "r", &json!({"amount": 500})).await;
    assert_eq!(
        json_of(later, StatusCode::ACCEPTED).await["refund"]["id"],
        listed[0]["id"]
    );
    assert_eq!(fake.requests_to("/v1/refunds").len(), 2);
}

#[actix_web::test]
async fn ten_parallel_partial_refunds_never_give_back_more_than_was_captured() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (customer, number, payment) = captured(&app).await;
    let manager = app.staff(Role::Manager).await;

    let attempts = (0..10).map(|i| {
        let (app, manager, payment) = (&app, &manager, &payment);
        async move {
            refund(
                app,
                manager,
                payment,
                &format!("par-{i}"),
                &json!({"amount": 1000}),
            )
            .await
            .status()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let accepted = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert_eq!((accepted, refused), (5, 5), "{statuses:?}");

    let view = payment_status(&app, &customer, &number).await;
    assert_eq!(view["refunded"]["amount"], 5000);
    let listed = refunds_of(&app, &manager, &payment).await;
    let total: i64 = listed
        .iter()
        .map(|r| r["amount"]["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 5000);
    let at_stripe: i64 = fake
        .requests_to("/v1/refunds")
        .iter()
        .map(|r| r.field("amount").unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(at_stripe, 5000);
    assert!(at_stripe <= 5990);
}

#[actix_web::test]
async fn cancelling_a_paid_stripe_order_refunds_it_at_stripe_after_the_cancellation_commits() {
    let fake = FakeStripe::start();
    let config = fake.config();
    let app = TestApp::spawn_configured(move |c| {
        c.stripe = Some(config);
        c.delivery.interval = std::time::Duration::from_millis(50);
    })
    .await;
    let (customer, number, payment) = captured(&app).await;
    let cancelled = app
        .authed(
            Method::POST,
            &format!("/v1/orders/{number}/cancel"),
            &customer,
        )
        .send()
        .await
        .unwrap();
    let cancelled = json_of(cancelled, StatusCode::OK).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["payment_status"], "refunded");

    let arrived = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        !fake.requests_to("/v1/refunds").is_empty()
    })
    .await;
    assert!(arrived, "the refund never reached Stripe");
    let manager = app.staff(Role::Manager).await;
    let submitted = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        refunds_of(&app, &manager, &payment).await[0]["provider_reference"].is_string()
    })
    .await;
    assert!(submitted);
    let sent = fake.requests_to("/v1/refunds");
    assert_eq!(sent.len(), 1);
    let refund = &refunds_of(&app, &manager, &payment).await[0];
    assert_eq!(sent[0].field("amount"), Some("5990"));
    assert_eq!(
        sent[0].field("payment_intent"),
        payment["provider_reference"].as_str()
    );
    assert_eq!(
        sent[0].idempotency_key.as_deref(),
        Some(format!("valise-{}", refund["id"].as_str().unwrap()).as_str())
    );
    assert_eq!(refund["status"], "pending");
}

/// The application with Stripe as its provider, whose background loops never come round
/// again after start-up: the test runs the refund worker itself, so no pass races it.
async fn quiet_app_with(fake: &FakeStripe) -> TestApp {
    let config = fake.config();
    TestApp::spawn_configured(move |c| {
        c.stripe = Some(config);
        c.delivery.interval = std::time::Duration::from_secs(3600);
    })
    .await
}

/// One pass of the refund worker, over every refund however recent: how many Stripe
/// answered.
async fn refund_worker_pass(app: &TestApp) -> usize {
    use diesel::prelude::*;
    use valise::db::schema::refunds;
    let long_ago = valise::db::now() - chrono::Duration::hours(1);
    app.query(move |conn| {
        diesel::update(refunds::table)
            .set(refunds::created_at.eq(long_ago))
            .execute(conn)
    })
    .await;
    let settings = valise::payments::provider::PaymentSettings::from_config(&app.config).unwrap();
    valise::payments::worker::submit_due(&app.db, &settings)
        .await
        .unwrap()
}

/// The `payment.refunded` notices in the customer's inbox.
async fn refund_notices(app: &TestApp, customer: &Session) -> Vec<Value> {
    let inbox = json_of(
        app.get_as("/v1/me/notifications", customer).await,
        StatusCode::OK,
    )
    .await;
    inbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "payment.refunded")
        .cloned()
        .collect()
}

#[actix_web::test]
async fn a_refund_stripe_has_answered_is_never_asked_for_again() {
    let fake = FakeStripe::start();
    let app = quiet_app_with(&fake).await;
    let (customer, _number, payment) = captured(&app).await;
    let manager = app.staff(Role::Manager).await;
    let body = json!({"amount": 700});

    // Stripe's answer never reaches the request; the worker asks again later and gets it.
    fake.fail_next(&[503, 503, 503]);
    let lost = refund(&app, &manager, &payment, "k", &body).await;
    assert_problem(lost, StatusCode::SERVICE_UNAVAILABLE, "service-unavailable").await;
    assert_eq!(refund_worker_pass(&app).await, 1);
    let sent = fake.requests_to("/v1/refunds");
    assert_eq!(
        sent.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 503, 200]
    );
    let recorded = refunds_of(&app, &manager, &payment).await[0].clone();
    let re = recorded["provider_reference"].as_str().unwrap().to_owned();
    assert!(re.starts_with("re_"), "{recorded}");

    // The client's retry of its key answers from what was recorded, without a call.
    let retried = json_of(
        refund(&app, &manager, &payment, "k", &body).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(retried["refund"]["id"], recorded["id"]);
    assert_eq!(retried["refund"]["provider_reference"], re.as_str());
    assert_eq!(fake.requests_to("/v1/refunds").len(), 4);

    // Nor does the worker ask again, nor a replay of the key.
    assert_eq!(refund_worker_pass(&app).await, 0);
    let replayed = refund(&app, &manager, &payment, "k", &body).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replayed, StatusCode::ACCEPTED).await, retried);
    assert_eq!(fake.requests_to("/v1/refunds").len(), 4);

    // The customer heard of it once, from the answer that was recorded.
    let notices = refund_notices(&app, &customer).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["payload"]["amount"], 700);
}

#[actix_web::test]
async fn a_refund_webhook_before_the_answer_settles_the_refund_its_metadata_names() {
    let fake = FakeStripe::start();
    let app = quiet_app_with(&fake).await;
    let (customer, number, payment) = captured(&app).await;
    let (_, _, other_payment) = captured(&app).await;
    let pi = payment["provider_reference"].as_str().unwrap().to_owned();
    let other_pi = other_payment["provider_reference"].as_str().unwrap();
    let manager = app.staff(Role::Manager).await;
    let body = json!({"amount": 1500});

    // Stripe made the refund, but its answer is lost: the refund awaits it, unreferenced.
    fake.fail_next(&[503, 503, 503]);
    let lost = refund(&app, &manager, &payment, "early", &body).await;
    assert_problem(lost, StatusCode::SERVICE_UNAVAILABLE, "service-unavailable").await;
    let pending = refunds_of(&app, &manager, &payment).await[0].clone();
    let refund_id = pending["id"].as_str().unwrap().to_owned();
    assert_eq!(pending["status"], "pending");
    assert!(pending["provider_reference"].is_null());
    let sent = fake.requests_to("/v1/refunds");
    assert_eq!(
        sent[0].field("metadata[refund_id]"),
        Some(refund_id.as_str())
    );

    let now = chrono::Utc::now().timestamp();
    let reported = |intent: &str| {
        let mut r = fake_stripe::refund("re_early", intent, 1500, "succeeded");
        r["metadata"] = json!({"refund_id": refund_id});
        r
    };
    // Metadata naming this refund on another payment's refund settle nothing.
    let forged = fake_stripe::event("evt_forged", "refund.updated", now, reported(other_pi));
    assert_eq!(outcome(&app, &forged).await, "ignored");
    let still = refunds_of(&app, &manager, &payment).await[0].clone();
    assert_eq!(still["status"], "pending");
    assert!(still["provider_reference"].is_null());

    // The genuine event, before any answer: the refund takes its id and succeeds.
    let early = fake_stripe::event("evt_early", "refund.updated", now, reported(&pi));
    assert_eq!(outcome(&app, &early).await, "applied");
    let settled = refunds_of(&app, &manager, &payment).await[0].clone();
    assert_eq!(settled["id"], refund_id.as_str());
    assert_eq!(settled["status"], "succeeded");
    assert_eq!(settled["provider_reference"], "re_early");
    let view = payment_status(&app, &customer, &number).await;
    assert_eq!(view["status"], "partially_refunded");
    assert_eq!(view["refunded"]["amount"], 1500);

    // Neither the client's retry nor the worker sends it to Stripe again.
    let retried = json_of(
        refund(&app, &manager, &payment, "early", &body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(retried["refund"]["status"], "succeeded");
    assert_eq!(retried["refund"]["provider_reference"], "re_early");
    assert_eq!(refund_worker_pass(&app).await, 0);
    assert_eq!(fake.requests_to("/v1/refunds").len(), 3);
    assert_eq!(refund_notices(&app, &customer).await.len(), 1);
}

#[actix_web::test]
async fn a_refund_the_worker_submits_tells_the_customer_once() {
    let fake = FakeStripe::start();
    let config = fake.config();
    let app = TestApp::spawn_configured(move |c| {
        c.stripe = Some(config);
        c.delivery.interval = std::time::Duration::from_millis(50);
    })
    .await;
    let (customer, number, payment) = captured(&app).await;
    let manager = app.staff(Role::Manager).await;
    // Stripe is down for two whole passes of the worker.
    fake.fail_next(&[503, 500, 503, 429, 502, 503]);
    let cancelled = app
        .authed(
            Method::POST,
            &format!("/v1/orders/{number}/cancel"),
            &customer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let submitted = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        refunds_of(&app, &manager, &payment).await[0]["provider_reference"].is_string()
    })
    .await;
    assert!(submitted, "the refund never reached Stripe");
    // Later passes find nothing to do.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    let sent = fake.requests_to("/v1/refunds");
    assert_eq!(
        sent.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 500, 503, 429, 502, 503, 200]
    );
    let notices = refund_notices(&app, &customer).await;
    assert_eq!(notices.len(), 1, "once, not per try: {notices:?}");
    assert_eq!(notices[0]["payload"]["amount"], 5990);
    assert_eq!(notices[0]["payload"]["payment_id"], payment["id"]);
}

/// A signed `charge.dispute.<what>` event about the charge of `pi`, its dispute in `status`.
fn dispute_event(id: &str, what: &str, created: i64, pi: &str, status: &str) -> Value {
    let mut dispute = fake_stripe::dispute(pi);
    dispute["status"] = json!(status);
    fake_stripe::event(id, &format!("charge.dispute.{what}"), created, dispute)
}

#[actix_web::test]
async fn a_dispute_the_shop_wins_returns_the_payment_to_where_it_was() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let manager = app.staff(Role::Manager).await;
    let now = chrono::Utc::now().timestamp();

    let (customer, number, payment) = captured(&app).await;
    let pi = payment["provider_reference"].as_str().unwrap();
    let opened = dispute_event("evt_d1", "created", now + 2, pi, "needs_response");
    assert_eq!(outcome(&app, &opened).await, "applied");
    assert_eq!(
        payment_status(&app, &customer, &number).await["status"],
        "disputed"
    );
    let won = dispute_event("evt_w1", "closed", now + 5, pi, "won");
    assert_eq!(outcome(&app, &won).await, "applied");
    assert_eq!(outcome(&app, &won).await, "duplicate");
    assert_eq!(
        payment_status(&app, &customer, &number).await["status"],
        "captured"
    );
    // A late copy of the opening (another delivery, older than the close) reopens nothing.
    let late = dispute_event("evt_d1_again", "created", now + 2, pi, "needs_response");
    assert_eq!(outcome(&app, &late).await, "ignored");
    assert_eq!(
        payment_status(&app, &customer, &number).await["status"],
        "captured"
    );
    // It may be refunded again.
    let refunded = refund(
        &app,
        &manager,
        &payment,
        "after-won",
        &json!({"amount": 100}),
    )
    .await;
    assert_eq!(refunded.status(), StatusCode::ACCEPTED);

    // Partly refunded before the dispute: partly refunded after it.
    let (customer, number, payment) = captured(&app).await;
    let pi = payment["provider_reference"].as_str().unwrap();
    let partial = refund(&app, &manager, &payment, "before", &json!({"amount": 1000})).await;
    assert_eq!(partial.status(), StatusCode::ACCEPTED);
    let opened = dispute_event("evt_d2", "created", now + 2, pi, "warning_needs_response");
    assert_eq!(outcome(&app, &opened).await, "applied");
    let closed = dispute_event("evt_w2", "closed", now + 5, pi, "warning_closed");
    assert_eq!(outcome(&app, &closed).await, "applied");
    let view = payment_status(&app, &customer, &number).await;
    assert_eq!(view["status"], "partially_refunded");
    assert_eq!(view["refunded"]["amount"], 1000);
}

#[actix_web::test]
async fn a_dispute_the_shop_loses_leaves_the_payment_lost_for_good() {
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let manager = app.staff(Role::Manager).await;
    let now = chrono::Utc::now().timestamp();
    let (customer, number, payment) = captured(&app).await;
    let pi = payment["provider_reference"].as_str().unwrap();

    let opened = dispute_event("evt_d", "created", now + 2, pi, "needs_response");
    assert_eq!(outcome(&app, &opened).await, "applied");
    let lost = dispute_event("evt_l", "closed", now + 5, pi, "lost");
    assert_eq!(outcome(&app, &lost).await, "applied");
    let view = payment_status(&app, &customer, &number).await;
    assert_eq!(view["status"], "dispute_lost");
    assert_eq!(order_status(&app, &customer, &number).await, "paid");

    // Final: no later report moves it, and nothing is left to refund.
    let won = dispute_event("evt_w", "closed", now + 10, pi, "won");
    assert_eq!(outcome(&app, &won).await, "ignored");
    let reopened = dispute_event("evt_d2", "created", now + 10, pi, "needs_response");
    assert_eq!(outcome(&app, &reopened).await, "ignored");
    assert_eq!(
        payment_status(&app, &customer, &number).await["status"],
        "dispute_lost"
    );
    let refused = refund(&app, &manager, &payment, "after-lost", &json!({})).await;
    assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
    assert!(fake.requests_to("/v1/refunds").is_empty());
}

#[actix_web::test]
async fn the_payment_intent_of_an_order_nobody_will_pay_is_cancelled_at_stripe() {
    use diesel::prelude::*;
    let fake = FakeStripe::start();
    let config = fake.config();
    let app = TestApp::spawn_configured(move |c| {
        c.stripe = Some(config);
        c.delivery.interval = std::time::Duration::from_millis(50);
    })
    .await;

    // An order past its deadline expires, while Stripe is down for a whole pass.
    let (customer, number, order) = self::order(&app).await;
    let payment = json_of(
        pay(&app, &customer, &number, "k").await,
        StatusCode::CREATED,
    )
    .await;
    let pi = payment["provider_reference"].as_str().unwrap().to_owned();
    fake.fail_next(&[503, 503, 503, 500]);
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
    assert_eq!(order_status(&app, &customer, &number).await, "expired");
    let cancelled = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        payment_status(&app, &customer, &number).await["status"] == "cancelled"
    })
    .await;
    assert!(cancelled, "the payment never showed cancelled");
    // Later passes ask nothing more.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    let sent = fake.requests_to(&format!("/v1/payment_intents/{pi}/cancel"));
    assert_eq!(
        sent.iter().map(|r| r.status).collect::<Vec<_>>(),
        [503, 503, 503, 500, 200]
    );
    let key = format!("valise-cancel-{}", payment["id"].as_str().unwrap());
    assert!(sent
        .iter()
        .all(|r| r.idempotency_key.as_deref() == Some(key.as_str())));
    assert_eq!(sent[4].field("cancellation_reason"), Some("abandoned"));

    // An order its customer cancels before paying: the same.
    let (customer, number, _) = self::order(&app).await;
    let payment = json_of(
        pay(&app, &customer, &number, "k").await,
        StatusCode::CREATED,
    )
    .await;
    let pi = payment["provider_reference"].as_str().unwrap().to_owned();
    let cancel = app
        .authed(
            Method::POST,
            &format!("/v1/orders/{number}/cancel"),
            &customer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(cancel, StatusCode::OK).await["status"], "cancelled");
    let cancelled = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        payment_status(&app, &customer, &number).await["status"] == "cancelled"
    })
    .await;
    assert!(cancelled, "the payment never showed cancelled");
    let sent = fake.requests_to(&format!("/v1/payment_intents/{pi}/cancel"));
    assert_eq!(sent.len(), 1);
    // Nothing was captured, so nothing is refunded.
    assert!(fake.requests_to("/v1/refunds").is_empty());
}
