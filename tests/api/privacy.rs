//! The privacy center: consents, erasure, the DSR queue, and guests' verified requests.

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::db::schema::{dsr_codes, dsr_requests, erasure_ledger, orders};

use crate::fixtures::{
    checkout, checkout_body, contains, customer_order, database_bytes, guest_cart, stocked_variant,
};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp, PASSWORD};

async fn put_consent(
    app: &TestApp,
    who: &Session,
    purpose: &str,
    granted: bool,
) -> reqwest::Response {
    app.authed(Method::PUT, &format!("/v1/me/consents/{purpose}"), who)
        .json(&json!({ "granted": granted }))
        .send()
        .await
        .unwrap()
}

fn state<'a>(consents: &'a Value, purpose: &str) -> &'a Value {
    consents["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purpose"] == purpose)
        .unwrap()
}

#[actix_web::test]
async fn consents_default_change_and_are_ledgered() {
    let app = TestApp::spawn().await;
    let ada = app.register(&unique_email("consent"), "Ada King").await;

    let consents = json_of(app.get_as("/v1/me/consents", &ada).await, StatusCode::OK).await;
    assert_eq!(state(&consents, "order_notifications")["granted"], true);
    assert_eq!(state(&consents, "order_notifications")["explicit"], false);
    assert_eq!(
        state(&consents, "marketing_notifications")["granted"],
        false
    );
    assert_eq!(state(&consents, "personalization")["granted"], false);

    let granted = json_of(
        put_consent(&app, &ada, "marketing_notifications", true).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(state(&granted, "marketing_notifications")["granted"], true);
    assert_eq!(
        state(&granted, "marketing_notifications")["policy_version"],
        1
    );
    let withdrawn = json_of(
        put_consent(&app, &ada, "marketing_notifications", false).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        state(&withdrawn, "marketing_notifications")["granted"],
        false
    );
    assert_eq!(
        state(&withdrawn, "marketing_notifications")["explicit"],
        true
    );

    // The withdrawal is a data-subject request, completed at once.
    let requests = json_of(app.get_as("/v1/me/requests", &ada).await, StatusCode::OK).await;
    let kinds: Vec<&str> = requests["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["withdrawal"]);
    assert_eq!(requests["data"][0]["status"], "completed");

    assert_problem(
        put_consent(&app, &ada, "newsletter", true).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let unknown = app
        .authed(Method::PUT, "/v1/me/consents/personalization", &ada)
        .json(&json!({"granted": true, "source": "web"}))
        .send()
        .await
        .unwrap();
    assert_problem(
        unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
}

#[actix_web::test]
async fn order_notices_cannot_be_withdrawn_while_an_order_is_open() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "consent-case", 5, 4900).await;
    let ada = app.register(&unique_email("open-order"), "Ada King").await;
    customer_order(&app, &ada, &variant).await;

    let refused = put_consent(&app, &ada, "order_notifications", false).await;
    let problem = assert_problem(refused, StatusCode::CONFLICT, "conflict").await;
    assert!(problem["detail"].as_str().unwrap().contains("open"));
    // Nothing was ledgered.
    let consents = json_of(app.get_as("/v1/me/consents", &ada).await, StatusCode::OK).await;
    assert_eq!(state(&consents, "order_notifications")["explicit"], false);
    // Other purposes still move.
    assert_eq!(
        put_consent(&app, &ada, "personalization", true)
            .await
            .status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn erasure_without_open_orders_shreds_at_once_and_stops_login() {
    let app = TestApp::spawn().await;
    let email = unique_email("erase-now");
    let ada = app.register(&email, "Zebulon Quixotica").await;

    let response = app
        .authed(Method::DELETE, "/v1/me", &ada)
        .send()
        .await
        .unwrap();
    let request = json_of(response, StatusCode::ACCEPTED).await;
    assert!(request["id"].as_str().unwrap().starts_with("dsr_"));
    assert_eq!(request["kind"], "erasure");
    assert_eq!(request["status"], "completed");

    assert_eq!(
        app.login(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get_as("/v1/me", &ada).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let refreshed = app
        .post_json("/v1/auth/refresh", &json!({"refresh_token": ada.refresh}))
        .await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED);
    // The email can register a new, separate account.
    app.register(&email, "Someone Else").await;

    let user = ada.user_id.clone();
    let ledgered: i64 = app
        .query(move |conn| {
            erasure_ledger::table
                .filter(erasure_ledger::subject_id.eq(user))
                .count()
                .get_result(conn)
        })
        .await;
    assert_eq!(ledgered, 1);
    let (crypto, user) = (app.crypto.clone(), ada.user_id.clone());
    let shredded = app
        .query(move |conn| Ok::<_, anyhow::Error>(crypto.data_key(conn, &user).is_err()))
        .await;
    assert!(shredded, "the profile key is gone");
    let bytes = database_bytes(&app.config.database_url);
    assert!(!contains(&bytes, "Zebulon Quixotica"));
}

#[actix_web::test]
async fn erasure_with_an_open_order_is_scheduled_cancellable_then_carried_out() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "erase-later", 5, 4900).await;
    let email = unique_email("erase-later");
    let ada = app.register(&email, "Ada King").await;
    let order = customer_order(&app, &ada, &variant).await;
    let order_id = order["id"].as_str().unwrap().to_owned();

    let scheduled = json_of(
        app.authed(Method::DELETE, "/v1/me", &ada)
            .send()
            .await
            .unwrap(),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(scheduled["status"], "scheduled");
    // Login stops at once; the token in hand only reaches the requests.
    assert_eq!(
        app.login(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_problem(
        app.get_as("/v1/me", &ada).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get_as("/v1/orders", &ada).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let mine = json_of(app.get_as("/v1/me/requests", &ada).await, StatusCode::OK).await;
    assert_eq!(mine["data"][0]["id"], scheduled["id"]);

    // Cancelled: the account works again.
    let id = scheduled["id"].as_str().unwrap();
    let cancelled = json_of(
        app.authed(Method::POST, &format!("/v1/me/requests/{id}/cancel"), &ada)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);
    let again = app
        .authed(Method::POST, &format!("/v1/me/requests/{id}/cancel"), &ada)
        .send()
        .await
        .unwrap();
    assert_problem(again, StatusCode::CONFLICT, "invalid-transition").await;

    // Asked again; nothing happens while the order is open.
    let scheduled = json_of(
        app.authed(Method::DELETE, "/v1/me", &ada)
            .send()
            .await
            .unwrap(),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(scheduled["status"], "scheduled");
    let crypto = app.crypto.clone();
    let done = app
        .query(move |conn| valise::privacy::erasure::run_scheduled(conn, &crypto, 10))
        .await;
    assert_eq!(done, 0);

    // The order finishes (here: closed after its after-sales window); the erasure runs.
    let closing = order_id.clone();
    app.query(move |conn| {
        diesel::update(orders::table.find(closing))
            .set(orders::status.eq("closed"))
            .execute(conn)
    })
    .await;
    let crypto = app.crypto.clone();
    let done = app
        .query(move |conn| valise::privacy::erasure::run_scheduled(conn, &crypto, 10))
        .await;
    assert_eq!(done, 1);
    let id = scheduled["id"].as_str().unwrap().to_owned();
    let status: String = app
        .query(move |conn| {
            dsr_requests::table
                .find(id)
                .select(dsr_requests::status)
                .first(conn)
        })
        .await;
    assert_eq!(status, "completed");

    // Accounting stays (number, total, items), the personal part is unreadable.
    let kept = order_id.clone();
    let (number, total, email_bidx): (String, i64, Option<Vec<u8>>) = app
        .query(move |conn| {
            orders::table
                .find(kept)
                .select((orders::number, orders::total, orders::contact_email_bidx))
                .first(conn)
        })
        .await;
    assert_eq!(number, order["number"].as_str().unwrap());
    assert_eq!(total, order["totals"]["total"]["amount"].as_i64().unwrap());
    assert!(email_bidx.is_none());
    let crypto = app.crypto.clone();
    let shredded = app
        .query(move |conn| Ok::<_, anyhow::Error>(crypto.data_key(conn, &order_id).is_err()))
        .await;
    assert!(shredded, "the order's key is gone");
    let bytes = database_bytes(&app.config.database_url);
    assert!(!contains(&bytes, "Quentin Zephyrine"));
}

#[actix_web::test]
async fn the_privacy_officer_works_the_queue_overdue_first() {
    let app = TestApp::spawn().await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    let support = app.staff(Role::Support).await;
    let ada = app.register(&unique_email("queue-a"), "Ada King").await;
    let bob = app.register(&unique_email("queue-b"), "Bob Stone").await;

    // Requests customers make through the API complete at once; open ones (as guests'
    // verified corrections are) are put straight into the store.
    let (a, b) = (
        valise::ids::UserId::parse(&ada.user_id).unwrap(),
        valise::ids::UserId::parse(&bob.user_id).unwrap(),
    );
    let (first, second) = app
        .query(move |conn| {
            use valise::privacy::requests::model::{Kind, Status};
            use valise::privacy::requests::store::{insert, Requester};
            let first = insert(
                conn,
                Requester::User(&a),
                Kind::Rectification,
                Status::Pending,
            )?;
            let second = insert(conn, Requester::User(&b), Kind::Access, Status::Pending)?;
            QueryResult::Ok((first.id, second.id))
        })
        .await;
    // Bob's is overdue: received long ago.
    let overdue = second.clone();
    app.query(move |conn| {
        let long_ago = chrono::NaiveDate::from_ymd_opt(2025, 1, 31)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        diesel::update(dsr_requests::table.find(overdue))
            .set((
                dsr_requests::received_at.eq(long_ago),
                dsr_requests::due_at.eq(valise::privacy::requests::model::due_date(long_ago)),
            ))
            .execute(conn)
    })
    .await;

    assert_problem(
        app.get_as("/v1/admin/privacy/requests", &support).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let queue = json_of(
        app.get_as("/v1/admin/privacy/requests", &officer).await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&str> = queue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "overdue first");
    assert_eq!(queue["data"][0]["overdue"], true);
    assert_eq!(queue["data"][0]["due_at"], "2025-02-28T09:00:00Z");
    assert_eq!(queue["data"][1]["overdue"], false);

    // Extend by one month, then by two more is too much, then by one more is fine.
    let extend = |id: &str, months: u32| {
        app.authed(
            Method::POST,
            &format!("/v1/admin/privacy/requests/{id}/extend"),
            &officer,
        )
        .json(&json!({"months": months, "reason": "We are gathering records from our carrier."}))
        .send()
    };
    let extended = json_of(extend(&second, 1).await.unwrap(), StatusCode::OK).await;
    assert_eq!(extended["due_at"], "2025-03-31T09:00:00Z");
    assert_eq!(extended["extension_months"], 1);
    assert_problem(
        extend(&second, 2).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let extended = json_of(extend(&second, 1).await.unwrap(), StatusCode::OK).await;
    assert_eq!(extended["due_at"], "2025-04-30T09:00:00Z");

    // Bob is told, through his inbox and his requests.
    let mine = json_of(app.get_as("/v1/me/requests", &bob).await, StatusCode::OK).await;
    assert_eq!(
        mine["data"][0]["extension_reason"],
        "We are gathering records from our carrier."
    );
    let inbox = json_of(
        app.get_as("/v1/me/notifications", &bob).await,
        StatusCode::OK,
    )
    .await;
    assert!(inbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["kind"] == "dsr.updated" && n["payload"]["request_id"] == second.as_str()));

    let completed = json_of(
        app.authed(
            Method::POST,
            &format!("/v1/admin/privacy/requests/{second}/complete"),
            &officer,
        )
        .send()
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(completed["status"], "completed");
    let denied = json_of(
        app.authed(
            Method::POST,
            &format!("/v1/admin/privacy/requests/{first}/deny"),
            &officer,
        )
        .json(&json!({"reason": "The data you asked to correct is already accurate."}))
        .send()
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(denied["status"], "denied");
    assert_eq!(
        denied["denial_reason"],
        "The data you asked to correct is already accurate."
    );
    let twice = app
        .authed(
            Method::POST,
            &format!("/v1/admin/privacy/requests/{first}/complete"),
            &officer,
        )
        .send()
        .await
        .unwrap();
    assert_problem(twice, StatusCode::CONFLICT, "invalid-transition").await;
    let queue = json_of(
        app.get_as("/v1/admin/privacy/requests", &officer).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(queue["data"].as_array().unwrap().len(), 0, "nothing open");
    let closed = json_of(
        app.get_as("/v1/admin/privacy/requests?status=closed", &officer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed["data"].as_array().unwrap().len(), 2);
}

async fn pending_code(app: &TestApp, id: &str) -> Option<(String, String)> {
    let (crypto, id) = (app.crypto.clone(), id.to_owned());
    app.query(move |conn| valise::privacy::requests::guest::pending_code(conn, &crypto, &id))
        .await
}

async fn verify(app: &TestApp, id: &str, code: &str) -> reqwest::Response {
    app.post_json(
        &format!("/v1/privacy/requests/{id}/verify"),
        &json!({ "code": code }),
    )
    .await
}

fn wrong(code: &str) -> String {
    let n: u64 = code.parse().unwrap();
    format!("{:08}", (n + 1) % 100_000_000)
}

#[actix_web::test]
async fn guests_verify_by_one_time_code_without_an_existence_oracle() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "guest-dsr", 5, 4900).await;
    let email = unique_email("guest-dsr");
    let cart = guest_cart(&app, &variant, 1).await;
    let placed = checkout(&app, &cart, "k1", &checkout_body(&email)).await;
    assert_eq!(placed.status(), StatusCode::CREATED);

    let ask = |email: String| {
        let app = &app;
        async move {
            let r = app
                .post_json(
                    "/v1/privacy/requests",
                    &json!({"email": email, "kind": "access"}),
                )
                .await;
            json_of(r, StatusCode::ACCEPTED).await
        }
    };
    let known = ask(email.clone()).await;
    let unknown = ask(unique_email("nobody")).await;
    let shape = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (keys, v["status"].clone())
    };
    assert_eq!(shape(&known), shape(&unknown), "same answer, known or not");

    // The code went out through the outbox, sealed: the payload holds the request id only.
    let id = known["id"].as_str().unwrap().to_owned();
    let (to, code) = pending_code(&app, &id).await.expect("a code to send");
    assert_eq!(to, email);
    let payloads: Vec<String> = app
        .query(|conn| {
            use valise::db::schema::notifications;
            notifications::table
                .filter(notifications::kind.eq("dsr.verification_code"))
                .select(notifications::payload)
                .load(conn)
        })
        .await;
    assert_eq!(payloads.len(), 2);
    assert!(payloads
        .iter()
        .all(|p| !p.contains(&code) && !p.contains('@')));

    let refused = verify(&app, &id, &wrong(&code)).await;
    assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let verified = json_of(verify(&app, &id, &code).await, StatusCode::OK).await;
    assert_eq!(verified["request"]["status"], "completed");
    assert_eq!(verified["orders"].as_array().unwrap().len(), 1);
    assert_eq!(verified["orders"][0]["contact_email"], email);
    // Used up: the code and its sealed copy are gone.
    assert_problem(
        verify(&app, &id, &code).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    assert!(pending_code(&app, &id).await.is_none());

    // An unknown email verifies to nothing.
    let id = unknown["id"].as_str().unwrap().to_owned();
    let (_, code) = pending_code(&app, &id).await.unwrap();
    let verified = json_of(verify(&app, &id, &code).await, StatusCode::OK).await;
    assert_eq!(verified["orders"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn parallel_wrong_codes_are_compared_no_more_than_five_times() {
    let app = TestApp::spawn().await;
    let created = json_of(
        app.post_json(
            "/v1/privacy/requests",
            &json!({"email": unique_email("race"), "kind": "access"}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, code) = pending_code(&app, &id).await.unwrap();
    let guesses = (1..=20u64).map(|n| {
        let guess = format!("{:08}", (code.parse::<u64>().unwrap() + n) % 100_000_000);
        let app = &app;
        let id = id.clone();
        async move { verify(app, &id, &guess).await.status() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let wrong = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    let locked = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((wrong, locked), (5, 15), "{statuses:?}");
    assert_eq!(
        verify(&app, &id, &code).await.status(),
        StatusCode::CONFLICT
    );
}

#[actix_web::test]
async fn parallel_requests_for_one_mailbox_send_no_more_than_five_codes() {
    let app = TestApp::spawn().await;
    let email = unique_email("flood");
    let asks = (0..20).map(|_| {
        let app = &app;
        let email = email.clone();
        async move {
            app.post_json(
                "/v1/privacy/requests",
                &json!({"email": email, "kind": "access"}),
            )
            .await
            .status()
        }
    });
    let statuses = futures_util::future::join_all(asks).await;
    let sent = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((sent, limited), (5, 15), "{statuses:?}");
}

#[actix_web::test]
async fn guest_codes_lock_after_five_wrong_tries_and_expire() {
    let app = TestApp::spawn().await;
    let ask = || async {
        json_of(
            app.post_json(
                "/v1/privacy/requests",
                &json!({"email": unique_email("lock"), "kind": "erasure"}),
            )
            .await,
            StatusCode::ACCEPTED,
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let id = ask().await;
    let (_, code) = pending_code(&app, &id).await.unwrap();
    for _ in 0..5 {
        assert_eq!(
            verify(&app, &id, &wrong(&code)).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_problem(
        verify(&app, &id, &code).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    let id = ask().await;
    let (_, code) = pending_code(&app, &id).await.unwrap();
    let expiring = id.clone();
    app.query(move |conn| {
        diesel::update(dsr_codes::table.find(expiring))
            .set(dsr_codes::expires_at.eq(valise::db::now() - chrono::Duration::seconds(1)))
            .execute(conn)
    })
    .await;
    let expired = assert_problem(
        verify(&app, &id, &code).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    assert!(expired["detail"].as_str().unwrap().contains("expired"));

    // An unknown guest erasure completes at once: nothing to keep.
    let id = ask().await;
    let (_, code) = pending_code(&app, &id).await.unwrap();
    let verified = json_of(verify(&app, &id, &code).await, StatusCode::OK).await;
    assert_eq!(verified["request"]["status"], "completed");
    assert!(verified.get("orders").is_none());

    let bad = app
        .post_json(
            "/v1/privacy/requests",
            &json!({"email": "x@example.com", "kind": "delete_all"}),
        )
        .await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
}

#[actix_web::test]
async fn the_gateway_gets_codes_and_notices_as_consent_allows() {
    use crate::receiver::Receiver;
    let gateway = Receiver::start(0);
    let app =
        TestApp::spawn_configured(|c| crate::fixtures::fast_delivery(c, Some(&gateway))).await;
    let wait = std::time::Duration::from_secs(5);

    // A guest's code reaches the gateway with the address it goes to, and it works.
    let email = unique_email("gateway-guest");
    let asked = json_of(
        app.post_json(
            "/v1/privacy/requests",
            &json!({"email": email, "kind": "access"}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = asked["id"].as_str().unwrap().to_owned();
    let arrived = crate::helpers::eventually(wait, || async {
        gateway
            .received()
            .iter()
            .any(|r| r.json()["kind"] == "dsr.verification_code")
    })
    .await;
    assert!(arrived);
    let message = gateway
        .received()
        .into_iter()
        .map(|r| r.json())
        .find(|m| m["kind"] == "dsr.verification_code")
        .unwrap();
    assert_eq!(message["to"], email.as_str());
    assert_eq!(message["payload"]["request_id"], id.as_str());
    let code = message["code"].as_str().unwrap().to_owned();
    let verified = verify(&app, &id, &code).await;
    assert_eq!(verified.status(), StatusCode::OK);

    // Marketing only with consent; order notices by mail only while consented.
    let ada = app.register(&unique_email("gateway-ada"), "Ada King").await;
    let bob = app
        .register(&unique_email("gateway-bob"), "Bob Stone")
        .await;
    put_consent(&app, &ada, "marketing_notifications", true).await;
    put_consent(&app, &bob, "order_notifications", false).await;
    let ada_sale =
        crate::fixtures::enqueue(&app, Some(&ada.user_id), "marketing.sale", json!({})).await;
    let bob_sale =
        crate::fixtures::enqueue(&app, Some(&bob.user_id), "marketing.sale", json!({})).await;
    let bob_order = crate::fixtures::enqueue(
        &app,
        Some(&bob.user_id),
        "order.shipped",
        json!({"status": "shipped"}),
    )
    .await;
    let settled = crate::helpers::eventually(wait, || async {
        let ids = [ada_sale.clone(), bob_sale.clone(), bob_order.clone()];
        let statuses: Vec<String> = app
            .query(move |conn| {
                use valise::db::schema::notifications;
                notifications::table
                    .filter(notifications::id.eq_any(ids))
                    .select(notifications::status)
                    .load(conn)
            })
            .await;
        statuses.iter().all(|s| s != "pending" && s != "sending")
    })
    .await;
    assert!(settled);
    let sent: Vec<String> = gateway
        .received()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(sent.contains(&ada_sale), "consented marketing is sent");
    assert!(
        !sent.contains(&bob_sale),
        "marketing without consent is not"
    );
    assert!(
        !sent.contains(&bob_order),
        "withdrawn order notices stay in the inbox"
    );
    let inbox = json_of(
        app.get_as("/v1/me/notifications", &bob).await,
        StatusCode::OK,
    )
    .await;
    assert!(inbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["id"] == bob_order.as_str()));

    // A consultation's asker hears of the answer at the address they left.
    let manager = app.staff(Role::Manager).await;
    let support = app.staff(Role::Support).await;
    let product = crate::fixtures::create(
        &app,
        &manager,
        &crate::fixtures::product("asked", "travel", "abs", [55, 40, 20], 9900, &[1]),
    )
    .await;
    let asker = unique_email("asker");
    let asked = json_of(
        app.post_json(
            &format!(
                "/v1/products/{}/consultations",
                product["id"].as_str().unwrap()
            ),
            &json!({"question": "Does a 15-inch laptop fit?", "contact_email": asker}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let answered = app
        .authed(
            Method::POST,
            &format!(
                "/v1/admin/consultations/{}/answer",
                asked["id"].as_str().unwrap()
            ),
            &support,
        )
        .json(&json!({"answer": "Yes, up to 15.6 inches."}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    let told = crate::helpers::eventually(wait, || async {
        gateway.received().iter().any(|r| {
            let m = r.json();
            m["kind"] == "consultation.answered" && m["to"] == asker.as_str()
        })
    })
    .await;
    assert!(told, "the asker is told");
}

#[actix_web::test]
async fn a_guest_s_erasure_says_which_invoices_keep_their_name_and_until_when() {
    use chrono::Datelike;
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "guest-invoiced", 5, 4900).await;
    let email = unique_email("guest-inv");
    let cart = guest_cart(&app, &variant, 1).await;
    let order = json_of(
        checkout(&app, &cart, "gi-1", &checkout_body(&email)).await,
        StatusCode::CREATED,
    )
    .await;
    let number = order["number"].as_str().unwrap().to_owned();
    let token = order["order_token"].as_str().unwrap().to_owned();
    let payment = json_of(
        app.client
            .post(app.url(&format!("/v1/orders/{number}/payments")))
            .header("x-order-token", &token)
            .header("idempotency-key", "gi-pay")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    let captured = crate::fixtures::send_event(
        &app,
        &payment,
        "evt_gi",
        "payment.captured",
        now,
        crate::fixtures::WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(captured.status(), StatusCode::OK);
    let n = number.clone();
    app.query(move |conn| {
        diesel::update(orders::table.filter(orders::number.eq(n)))
            .set((
                orders::status.eq("closed"),
                orders::closed_at.eq(Some(valise::db::now())),
            ))
            .execute(conn)
    })
    .await;
    let asked = json_of(
        app.post_json(
            "/v1/privacy/requests",
            &json!({"email": email, "kind": "erasure"}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = asked["id"].as_str().unwrap().to_owned();
    let (_, code) = pending_code(&app, &id).await.unwrap();
    let verified = json_of(verify(&app, &id, &code).await, StatusCode::OK).await;
    assert_eq!(verified["request"]["status"], "completed");
    let year = chrono::Utc::now().year();
    assert_eq!(
        verified["request"]["kept_by_law"][0]["record"],
        format!("INV-{year}-000001")
    );
    assert_eq!(
        verified["request"]["kept_by_law"][0]["until"],
        format!("{}-12-31", year + 10)
    );
    // The order's own copy is shredded; the invoice still names the guest.
    let support = app.staff(Role::Support).await;
    let read = json_of(
        app.get_as(&format!("/v1/admin/invoices/INV-{year}-000001"), &support)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["buyer"]["name"], "Quentin Zephyrine");
    assert_eq!(read["order_number"], number.as_str());
}
