//! The after-sales desk: the queue, audited reads of a case's reason, answers the customer
//! reads, resolutions (a return refunded with its credit note), and warranty periods.

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::db::schema::{notifications, orders};

use crate::fixtures::{
    checkout, checkout_body, fast_delivery, guest_cart, paid_order, stocked_variant,
};
use crate::helpers::{assert_problem, json_of, Session, TestApp};
use crate::receiver::Receiver;

/// A paid order shipped and delivered; (customer, number, payment).
async fn delivered_order(app: &TestApp) -> (Session, String, Value) {
    let (customer, number, payment) = paid_order(app).await;
    let fulfilment = app.staff(Role::Fulfillment).await;
    let shipped = app
        .authed(
            Method::POST,
            &format!("/v1/admin/orders/{number}/shipments"),
            &fulfilment,
        )
        .json(&json!({"carrier": "Colissimo", "tracking_number": "6A12345678901"}))
        .send()
        .await
        .unwrap();
    assert_eq!(shipped.status(), StatusCode::CREATED);
    let delivered = app
        .authed(
            Method::POST,
            &format!("/v1/admin/orders/{number}/deliver"),
            &fulfilment,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), StatusCode::OK);
    (customer, number, payment)
}

/// Moves the order's delivery `days` into the past.
async fn delivered_days_ago(app: &TestApp, number: &str, days: i64) {
    let number = number.to_owned();
    let at = chrono::Utc::now().naive_utc() - chrono::Duration::days(days);
    app.query(move |conn| {
        diesel::update(orders::table.filter(orders::number.eq(&number)))
            .set(orders::delivered_at.eq(Some(at)))
            .execute(conn)
    })
    .await;
}

async fn open_case(
    app: &TestApp,
    customer: &Session,
    number: &str,
    kind: &str,
) -> reqwest::Response {
    app.authed(
        Method::POST,
        &format!("/v1/orders/{number}/after-sales"),
        customer,
    )
    .json(&json!({"kind": kind, "reason": "The zip of the cabin case does not close."}))
    .send()
    .await
    .unwrap()
}

async fn resolve(app: &TestApp, staff: &Session, case: &str, body: Value) -> reqwest::Response {
    app.authed(
        Method::POST,
        &format!("/v1/admin/after-sales/{case}/resolve"),
        staff,
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn updates_of(app: &TestApp, number: &str) -> i64 {
    let number = number.to_owned();
    app.query(move |conn| {
        let id: String = orders::table
            .filter(orders::number.eq(&number))
            .select(orders::id)
            .first(conn)?;
        notifications::table
            .filter(notifications::order_id.eq(&id))
            .filter(notifications::kind.eq("after_sales.updated"))
            .count()
            .get_result::<i64>(conn)
    })
    .await
}

#[actix_web::test]
async fn support_works_the_queue_reads_audited_and_the_customer_reads_the_answers() {
    let app = TestApp::spawn().await;
    let (customer, number, _) = delivered_order(&app).await;
    let support = app.staff(Role::Support).await;
    let first = json_of(
        open_case(&app, &customer, &number, "return").await,
        StatusCode::CREATED,
    )
    .await;
    let second = json_of(
        open_case(&app, &customer, &number, "repair").await,
        StatusCode::CREATED,
    )
    .await;
    let case = first["id"].as_str().unwrap();

    assert_problem(
        app.get_as("/v1/admin/after-sales", &customer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // The queue: oldest first, a page at a time, filtered, without the reason.
    let page = json_of(
        app.get_as("/v1/admin/after-sales?limit=1", &support).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["data"][0]["id"], first["id"]);
    assert!(
        !page.to_string().contains("zip"),
        "no personal data: {page}"
    );
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let next = json_of(
        app.get_as(
            &format!("/v1/admin/after-sales?limit=1&cursor={cursor}"),
            &support,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(next["data"][0]["id"], second["id"]);
    let repairs = json_of(
        app.get_as("/v1/admin/after-sales?kind=repair", &support)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(repairs["data"].as_array().unwrap().len(), 1);
    assert_eq!(repairs["data"][0]["id"], second["id"]);

    // Opening the case reads the reason, and the reading is audited.
    let detail = json_of(
        app.get_as(&format!("/v1/admin/after-sales/{case}"), &support)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        detail["reason"],
        "The zip of the cabin case does not close."
    );
    let officer = app.staff(Role::PrivacyOfficer).await;
    let log = json_of(
        app.get_as(
            &format!("/v1/admin/audit?subject_id={}", customer.user_id),
            &officer,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let read = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "after_sales.read")
        .expect("the reading is audited");
    assert_eq!(read["actor_id"], support.user_id);

    // Support answers; the customer is told and reads the answer.
    let before = updates_of(&app, &number).await;
    let answered = app
        .authed(
            Method::POST,
            &format!("/v1/admin/after-sales/{case}/answers"),
            &support,
        )
        .json(&json!({"text": "Please send it back with the prepaid label."}))
        .send()
        .await
        .unwrap();
    let answer = json_of(answered, StatusCode::CREATED).await;
    assert_eq!(
        answer["text"],
        "Please send it back with the prepaid label."
    );
    assert_eq!(updates_of(&app, &number).await, before + 1);
    let mine = json_of(
        app.get_as(&format!("/v1/orders/{number}/after-sales"), &customer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 2);
    assert_eq!(mine["data"][0]["case"]["id"], first["id"]);
    assert_eq!(
        mine["data"][0]["answers"][0]["text"],
        "Please send it back with the prepaid label."
    );
    let stranger = app
        .register(&crate::helpers::unique_email("other"), "Olga Other")
        .await;
    assert_eq!(
        app.get_as(&format!("/v1/orders/{number}/after-sales"), &stranger)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // The answer is sealed in the database.
    let sealed: Vec<Vec<u8>> = app
        .query(|conn| {
            valise::db::schema::after_sales_answers::table
                .select(valise::db::schema::after_sales_answers::body_sealed)
                .load(conn)
        })
        .await;
    assert!(!String::from_utf8_lossy(&sealed[0]).contains("prepaid"));

    // Resolved, the case takes no more answers and cannot resolve again.
    let done = resolve(
        &app,
        &support,
        case,
        json!({"outcome": "rejected", "message": "Not covered: the zip was forced."}),
    )
    .await;
    let done = json_of(done, StatusCode::OK).await;
    assert_eq!(done["outcome"], "rejected");
    let again = resolve(&app, &support, case, json!({"outcome": "rejected"})).await;
    assert_problem(again, StatusCode::CONFLICT, "conflict").await;
    let late = app
        .authed(
            Method::POST,
            &format!("/v1/admin/after-sales/{case}/answers"),
            &support,
        )
        .json(&json!({"text": "One more thing."}))
        .send()
        .await
        .unwrap();
    assert_problem(late, StatusCode::CONFLICT, "invalid-transition").await;
}

#[actix_web::test]
async fn a_return_resolved_refunded_refunds_the_payment_once_with_a_credit_note() {
    let app = TestApp::spawn().await;
    let (customer, number, payment) = delivered_order(&app).await;
    let support = app.staff(Role::Support).await;
    let manager = app.staff(Role::Manager).await;
    let case = json_of(
        open_case(&app, &customer, &number, "return").await,
        StatusCode::CREATED,
    )
    .await;
    let case = case["id"].as_str().unwrap();

    let by_support = resolve(&app, &support, case, json!({"outcome": "refunded"})).await;
    assert_problem(by_support, StatusCode::FORBIDDEN, "forbidden").await;
    let unfit = resolve(&app, &manager, case, json!({"outcome": "repaired"})).await;
    assert_problem(unfit, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    let too_much = resolve(
        &app,
        &manager,
        case,
        json!({"outcome": "refunded", "amount": 99_999_999}),
    )
    .await;
    assert_problem(
        too_much,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;

    let refunded = resolve(
        &app,
        &manager,
        case,
        json!({"outcome": "refunded", "amount": 5000, "message": "Refunded on receipt."}),
    )
    .await;
    let refunded = json_of(refunded, StatusCode::OK).await;
    assert_eq!(refunded["outcome"], "refunded");
    let refund_id = refunded["refund_id"].as_str().expect("a refund").to_owned();

    let again = resolve(&app, &manager, case, json!({"outcome": "refunded"})).await;
    assert_problem(again, StatusCode::CONFLICT, "conflict").await;

    let refunds = json_of(
        app.get_as(
            &format!(
                "/v1/admin/payments/{}/refunds",
                payment["id"].as_str().unwrap()
            ),
            &manager,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let refunds = refunds["data"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "refunded once: {refunds:?}");
    assert_eq!(refunds[0]["id"], refund_id.as_str());
    assert_eq!(refunds[0]["status"], "succeeded");

    let documents = json_of(
        app.get_as(&format!("/v1/orders/{number}/invoices"), &customer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        documents["documents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "credit_note"),
        "{documents:#}"
    );
}

#[actix_web::test]
async fn warranty_runs_for_the_product_s_warranty_years_and_returns_for_the_window() {
    let app = TestApp::spawn().await;
    let (customer, number, _) = delivered_order(&app).await;
    let support = app.staff(Role::Support).await;

    // Past the 30-day window: no return, but the fixture's two-year warranty runs.
    delivered_days_ago(&app, &number, 60).await;
    assert_problem(
        open_case(&app, &customer, &number, "return").await,
        StatusCode::CONFLICT,
        "invalid-transition",
    )
    .await;
    let claim = json_of(
        open_case(&app, &customer, &number, "warranty").await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(claim["kind"], "warranty");

    // The window has ended: the order closes once the claim is resolved, and a warranty
    // claim still reaches the closed order.
    let close = || {
        app.query(|conn| {
            valise::orders::after_sales::close_due(conn, chrono::Duration::days(30), 100)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
    };
    assert_eq!(close().await, 0, "an open claim keeps the order open");
    let repaired = resolve(
        &app,
        &support,
        claim["id"].as_str().unwrap(),
        json!({"outcome": "repaired"}),
    )
    .await;
    assert_eq!(repaired.status(), StatusCode::OK);
    assert_eq!(close().await, 1);
    assert_eq!(
        open_case(&app, &customer, &number, "warranty")
            .await
            .status(),
        StatusCode::CREATED
    );

    // Past two years, the warranty has run out.
    delivered_days_ago(&app, &number, 2 * 365 + 2).await;
    assert_problem(
        open_case(&app, &customer, &number, "warranty").await,
        StatusCode::CONFLICT,
        "invalid-transition",
    )
    .await;
}

#[actix_web::test]
async fn a_desk_refund_tells_the_customer_and_integrators_payment_refunded() {
    let receiver = Receiver::start(0);
    let app = TestApp::spawn_configured(|c| {
        fast_delivery(c, None);
        c.delivery.webhook_allow_private = true;
    })
    .await;
    let admin = app.staff(Role::Admin).await;
    let subscribed = app
        .authed(Method::POST, "/v1/admin/webhooks", &admin)
        .json(&json!({"url": receiver.url, "events": ["payment.refunded"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), StatusCode::CREATED);
    let (customer, number, payment) = delivered_order(&app).await;
    let manager = app.staff(Role::Manager).await;
    let case = json_of(
        open_case(&app, &customer, &number, "return").await,
        StatusCode::CREATED,
    )
    .await;
    let refunded = resolve(
        &app,
        &manager,
        case["id"].as_str().unwrap(),
        json!({"outcome": "refunded", "amount": 5000}),
    )
    .await;
    let refunded = json_of(refunded, StatusCode::OK).await;
    assert!(refunded["refund_id"].is_string(), "{refunded}");

    let got = receiver
        .wait_for(1, std::time::Duration::from_secs(15))
        .await;
    let events: Vec<Value> = got
        .iter()
        .map(|r| r.json())
        .filter(|b| b["type"] == "payment.refunded")
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["data"]["payment_id"], payment["id"]);
    assert_eq!(events[0]["data"]["order_id"], case["order_id"]);

    let inbox = json_of(
        app.get_as("/v1/me/notifications", &customer).await,
        StatusCode::OK,
    )
    .await;
    let told = inbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "payment.refunded")
        .count();
    assert_eq!(told, 1, "{inbox:#}");
}

async fn answer(app: &TestApp, staff: &Session, case: &str, text: &str) {
    let answered = app
        .authed(
            Method::POST,
            &format!("/v1/admin/after-sales/{case}/answers"),
            staff,
        )
        .json(&json!({ "text": text }))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn a_customer_s_export_holds_their_cases_with_outcome_reason_and_the_desk_s_answers() {
    let app = TestApp::spawn().await;
    let (customer, number, _) = delivered_order(&app).await;
    let support = app.staff(Role::Support).await;
    let case = json_of(
        open_case(&app, &customer, &number, "repair").await,
        StatusCode::CREATED,
    )
    .await;
    let id = case["id"].as_str().unwrap();
    answer(&app, &support, id, "Please send it to our workshop.").await;
    let done = resolve(
        &app,
        &support,
        id,
        json!({"outcome": "repaired", "message": "Repaired and sent back."}),
    )
    .await;
    assert_eq!(done.status(), StatusCode::OK);

    let export = json_of(app.get_as("/v1/me/export", &customer).await, StatusCode::OK).await;
    let cases = export["after_sales"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{export:#}");
    let record = &cases[0];
    assert_eq!(record["id"], case["id"]);
    assert_eq!(record["kind"], "repair");
    assert_eq!(record["status"], "resolved");
    assert_eq!(record["outcome"], "repaired");
    assert_eq!(
        record["reason"],
        "The zip of the cabin case does not close."
    );
    let answers: Vec<&str> = record["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        answers,
        ["Please send it to our workshop.", "Repaired and sent back."]
    );
}

#[actix_web::test]
async fn a_guest_s_access_request_holds_their_cases_with_the_desk_s_answers() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "guest-after-sales", 5, 4900).await;
    let email = crate::helpers::unique_email("guest-after-sales");
    let cart = guest_cart(&app, &variant, 1).await;
    let placed = json_of(
        checkout(&app, &cart, "k1", &checkout_body(&email)).await,
        StatusCode::CREATED,
    )
    .await;
    let number = placed["number"].as_str().unwrap().to_owned();
    let token = placed["order_token"].as_str().unwrap().to_owned();
    // Paying, shipping and delivering a guest order are tested elsewhere: delivered now.
    let n = number.clone();
    app.query(move |conn| {
        diesel::update(orders::table.filter(orders::number.eq(&n)))
            .set((
                orders::status.eq("delivered"),
                orders::delivered_at.eq(Some(valise::db::now())),
            ))
            .execute(conn)
    })
    .await;
    let opened = app
        .client
        .post(app.url(&format!("/v1/orders/{number}/after-sales")))
        .header("x-order-token", &token)
        .json(&json!({"kind": "return", "reason": "The handle came off at once."}))
        .send()
        .await
        .unwrap();
    let case = json_of(opened, StatusCode::CREATED).await;
    let support = app.staff(Role::Support).await;
    answer(
        &app,
        &support,
        case["id"].as_str().unwrap(),
        "Send it back, please.",
    )
    .await;

    let asked = app
        .post_json(
            "/v1/privacy/requests",
            &json!({"email": email, "kind": "access"}),
        )
        .await;
    let asked = json_of(asked, StatusCode::ACCEPTED).await;
    let (crypto, request) = (app.crypto.clone(), asked["id"].as_str().unwrap().to_owned());
    let r = request.clone();
    let (_, code) = app
        .query(move |conn| valise::privacy::requests::guest::pending_code(conn, &crypto, &r))
        .await
        .expect("a code to send");
    let verified = app
        .post_json(
            &format!("/v1/privacy/requests/{request}/verify"),
            &json!({ "code": code }),
        )
        .await;
    let verified = json_of(verified, StatusCode::OK).await;
    let cases = verified["after_sales"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{verified:#}");
    assert_eq!(cases[0]["id"], case["id"]);
    assert_eq!(cases[0]["kind"], "return");
    assert_eq!(cases[0]["status"], "open");
    assert_eq!(cases[0]["outcome"], Value::Null);
    assert_eq!(cases[0]["reason"], "The handle came off at once.");
    assert_eq!(cases[0]["answers"][0]["text"], "Send it back, please.");
}

/// Runs retention through the API; how many orders' personal parts it shredded.
async fn shredded_by_retention(app: &TestApp, officer: &Session) -> i64 {
    let response = app
        .authed(Method::POST, "/v1/admin/retention/run", officer)
        .send()
        .await
        .unwrap();
    let report = json_of(response, StatusCode::OK).await;
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "order_personal")
        .and_then(|r| r["count"].as_i64())
        .unwrap_or_else(|| panic!("no order_personal rule: {report}"))
}

#[actix_web::test]
async fn retention_keeps_a_closed_order_s_data_while_a_case_is_open_and_its_warranty_runs() {
    let app = TestApp::spawn().await;
    let (customer, number, _) = delivered_order(&app).await;
    let (support, officer) = (
        app.staff(Role::Support).await,
        app.staff(Role::PrivacyOfficer).await,
    );
    let n = number.clone();
    let order_id: String = app
        .query(move |conn| {
            orders::table
                .filter(orders::number.eq(&n))
                .select(orders::id)
                .first(conn)
        })
        .await;
    let key_alive = || {
        let (crypto, id) = (app.crypto.clone(), order_id.clone());
        app.query(move |conn| Ok::<_, anyhow::Error>(crypto.data_key(conn, &id).is_ok()))
    };
    // Delivered 60 days ago: the 30-day window is over and the order closes (the data are
    // kept 0 days after closing by default).
    delivered_days_ago(&app, &number, 60).await;
    let closed = app
        .query(|conn| {
            valise::orders::after_sales::close_due(conn, chrono::Duration::days(30), 100)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
        .await;
    assert_eq!(closed, 1);

    // The fixture's two-year warranty runs: the data stay.
    assert_eq!(shredded_by_retention(&app, &officer).await, 0);
    assert!(key_alive().await);
    let claim = json_of(
        open_case(&app, &customer, &number, "warranty").await,
        StatusCode::CREATED,
    )
    .await;

    // The warranty has run out, but the claim is open: the data stay.
    delivered_days_ago(&app, &number, 2 * 365 + 2).await;
    assert_eq!(shredded_by_retention(&app, &officer).await, 0);
    assert!(key_alive().await);
    let case = claim["id"].as_str().unwrap();
    answer(&app, &support, case, "We are looking into it.").await;

    // Resolved, with the warranty over: the order's personal part is shredded.
    let done = resolve(&app, &support, case, json!({"outcome": "rejected"})).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(shredded_by_retention(&app, &officer).await, 1);
    assert!(!key_alive().await);
    let mine = json_of(
        app.get_as(&format!("/v1/orders/{number}/after-sales"), &customer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine["data"][0]["reason"], Value::Null, "{mine:#}");
}
