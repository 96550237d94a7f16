//! The notification outbox: the delivery worker, the signed gateway, backoff, dead letters,
//! and the staff outbox.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::{enqueue, fast_delivery, GATEWAY_SECRET};
use crate::helpers::{assert_problem, eventually, json_of, unique_email, Session, TestApp};
use crate::receiver::{signature_is_valid, Receiver};

const WAIT: Duration = Duration::from_secs(15);

async fn outbox(app: &TestApp, manager: &Session, status: Option<&str>) -> Vec<Value> {
    let path = match status {
        Some(s) => format!("/v1/admin/notifications?limit=100&status={s}"),
        None => "/v1/admin/notifications?limit=100".to_owned(),
    };
    let response = app.get_as(&path, manager).await;
    let body = json_of(response, StatusCode::OK).await;
    body["data"].as_array().unwrap().clone()
}

async fn entry(app: &TestApp, manager: &Session, id: &str) -> Value {
    outbox(app, manager, None)
        .await
        .into_iter()
        .find(|n| n["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in the outbox"))
}

async fn reaches(app: &TestApp, manager: &Session, id: &str, status: &str) -> Value {
    let reached = eventually(WAIT, || async {
        entry(app, manager, id).await["status"] == status
    })
    .await;
    let now = entry(app, manager, id).await;
    assert!(reached, "{id} never became {status}: {now}");
    now
}

async fn retry(app: &TestApp, session: &Session, id: &str) -> reqwest::Response {
    app.authed(
        Method::POST,
        &format!("/v1/admin/notifications/{id}/retry"),
        session,
    )
    .send()
    .await
    .unwrap()
}

#[actix_web::test]
async fn without_a_gateway_every_notification_is_delivered_to_the_inbox() {
    let app = TestApp::spawn_configured(|c| fast_delivery(c, None)).await;
    let ada = app.register(&unique_email("ada"), "Ada").await;
    let manager = app.staff(Role::Manager).await;
    let id = enqueue(
        &app,
        Some(&ada.user_id),
        "order.shipped",
        json!({"status": "shipped"}),
    )
    .await;

    let delivered = reaches(&app, &manager, &id, "delivered").await;
    assert_eq!(delivered["attempts"], 0, "the inbox takes no gateway try");
    assert!(delivered["delivered_at"].is_string());
    assert_eq!(delivered["recipient_user_id"], ada.user_id.as_str());
    let inbox = json_of(
        app.get_as("/v1/me/notifications", &ada).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(inbox["data"][0]["id"], id.as_str());
}

#[actix_web::test]
async fn the_gateway_gets_signed_notifications_and_failures_are_retried_with_backoff() {
    let gateway = Receiver::start(2);
    let app = TestApp::spawn_configured(|c| {
        fast_delivery(c, Some(&gateway));
        c.delivery.notify_max_attempts = 5;
    })
    .await;
    let ada = app.customer(&unique_email("ada"), "Ada Lovelace").await;
    let manager = app.staff(Role::Manager).await;
    let id = enqueue(
        &app,
        Some(&ada.user_id),
        "order.shipped",
        json!({"order_id": "ord_1", "status": "shipped"}),
    )
    .await;

    let delivered = reaches(&app, &manager, &id, "delivered").await;
    assert_eq!(delivered["attempts"], 3);
    assert_eq!(delivered["last_error"], Value::Null);
    let got = gateway.received();
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    for r in &got {
        assert!(
            signature_is_valid(GATEWAY_SECRET, &r.signature, &r.body),
            "signature {}",
            r.signature
        );
        assert!(!signature_is_valid(
            "another-secret-entirely",
            &r.signature,
            &r.body
        ));
        let body = r.json();
        assert_eq!(body["id"], id.as_str());
        assert_eq!(body["kind"], "order.shipped");
        assert_eq!(body["recipient_user_id"], ada.user_id.as_str());
        assert_eq!(
            body["payload"],
            json!({"order_id": "ord_1", "status": "shipped"})
        );
        assert!(body["created_at"].is_string());
        assert!(body.get("order_id").is_none(), "absent ids are left out");
        // The address to write to is the one personal value the gateway gets.
        assert_eq!(body["to"], ada.email.as_str());
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains("Lovelace"));
    }
    // 100 ms, then 200 ms (±10 % jitter) between the tries.
    assert!(got[1].at - got[0].at >= Duration::from_millis(90));
    assert!(got[2].at - got[1].at >= Duration::from_millis(180));
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        gateway.received().len(),
        3,
        "a delivered notification is not sent again"
    );
}

#[actix_web::test]
async fn after_its_last_try_a_notification_is_dead_until_a_manager_retries_it() {
    let gateway = Receiver::start(3);
    let app = TestApp::spawn_configured(|c| fast_delivery(c, Some(&gateway))).await;
    let manager = app.staff(Role::Manager).await;
    let ada = app.customer(&unique_email("ada"), "Ada").await;
    let id = enqueue(
        &app,
        Some(&ada.user_id),
        "order.expired",
        json!({"status": "expired"}),
    )
    .await;

    let dead = reaches(&app, &manager, &id, "dead").await;
    assert_eq!(dead["attempts"], 3);
    assert_eq!(dead["last_error"], "HTTP 500");
    let failed = outbox(&app, &manager, Some("failed")).await;
    assert_eq!(failed.len(), 1, "`failed` lists the dead letters");
    assert_eq!(failed[0]["id"], id.as_str());
    assert_eq!(outbox(&app, &manager, Some("dead")).await.len(), 1);
    assert!(outbox(&app, &manager, Some("pending")).await.is_empty());
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        gateway.received().len(),
        3,
        "nothing is tried after the last try"
    );

    let revived = retry(&app, &manager, &id).await;
    let revived = json_of(revived, StatusCode::OK).await;
    assert_eq!(revived["status"], "pending");
    assert_eq!(revived["attempts"], 0);

    let delivered = reaches(&app, &manager, &id, "delivered").await;
    assert_eq!(delivered["attempts"], 1);
    assert_eq!(gateway.received().len(), 4);
    assert_eq!(gateway.received()[3].status, 200);
    assert!(outbox(&app, &manager, Some("failed")).await.is_empty());

    let again = retry(&app, &manager, &id).await;
    assert_problem(again, StatusCode::CONFLICT, "invalid-transition").await;
    let unknown = retry(&app, &manager, "ntf_0193a7c25b7e7d1a9c1e2f6c1f7e9a10").await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not-found").await;
}

#[actix_web::test]
async fn only_managers_and_admins_see_and_retry_the_outbox() {
    let app = TestApp::spawn_configured(|c| fast_delivery(c, None)).await;
    let id = enqueue(
        &app,
        None,
        "order.placed",
        json!({"status": "pending_payment"}),
    )
    .await;
    let customer = app.register(&unique_email("cus"), "Cus").await;
    for role in [Role::Support, Role::Fulfillment, Role::PrivacyOfficer] {
        let staff = app.staff(role).await;
        let listed = app.get_as("/v1/admin/notifications", &staff).await;
        assert_problem(listed, StatusCode::FORBIDDEN, "forbidden").await;
        assert_problem(
            retry(&app, &staff, &id).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let listed = app.get_as("/v1/admin/notifications", &customer).await;
    assert_problem(listed, StatusCode::FORBIDDEN, "forbidden").await;
    let anonymous = app.get("/v1/admin/notifications").await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    for role in [Role::Manager, Role::Admin] {
        let staff = app.staff(role).await;
        assert!(outbox(&app, &staff, None)
            .await
            .iter()
            .any(|n| n["id"] == id.as_str()));
    }
    let manager = app.staff(Role::Manager).await;
    let bad = app
        .get_as("/v1/admin/notifications?status=lost", &manager)
        .await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    let bad = app
        .get_as("/v1/admin/notifications?limit=0", &manager)
        .await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
}

#[actix_web::test]
async fn the_outbox_pages_with_a_cursor() {
    let app = TestApp::spawn_configured(|c| fast_delivery(c, None)).await;
    let manager = app.staff(Role::Manager).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(enqueue(&app, None, "order.placed", json!({})).await);
    }
    let mut seen = Vec::new();
    let mut path = "/v1/admin/notifications?limit=2".to_owned();
    loop {
        let page = json_of(app.get_as(&path, &manager).await, StatusCode::OK).await;
        for n in page["data"].as_array().unwrap() {
            seen.push(n["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/admin/notifications?limit=2&cursor={c}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
}

#[actix_web::test]
async fn marketing_without_consent_is_never_sent_nor_shown_in_the_inbox() {
    let gateway = Receiver::start(0);
    let app = TestApp::spawn_configured(|c| fast_delivery(c, Some(&gateway))).await;
    let ada = app.customer(&unique_email("ada"), "Ada").await;
    let manager = app.staff(Role::Manager).await;
    let marketing = enqueue(&app, Some(&ada.user_id), "marketing.spring_sale", json!({})).await;
    let order = enqueue(&app, Some(&ada.user_id), "order.shipped", json!({})).await;

    reaches(&app, &manager, &order, "delivered").await;
    let suppressed = reaches(&app, &manager, &marketing, "suppressed").await;
    assert_eq!(suppressed["attempts"], 0);
    let sent: Vec<Value> = gateway.received().iter().map(|r| r.json()).collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["kind"], "order.shipped");
    let inbox = json_of(
        app.get_as("/v1/me/notifications", &ada).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(inbox["data"].as_array().unwrap().len(), 1);
    assert_eq!(inbox["data"][0]["id"], order.as_str());
    assert_eq!(inbox["unread"], 1);
}

fn count_by_event_id(received: &[crate::receiver::Received]) -> HashMap<String, usize> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for r in received {
        *counts
            .entry(r.json()["id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

#[actix_web::test]
async fn two_instances_deliver_each_notification_and_webhook_exactly_once() {
    let gateway = Receiver::start(0);
    let integrator = Receiver::start(0);
    let app = TestApp::spawn_configured(|c| {
        fast_delivery(c, Some(&gateway));
        c.delivery.batch = 4;
        // The integrator below listens on loopback.
        c.delivery.webhook_allow_private = true;
    })
    .await;
    let sibling = app.spawn_sibling().await;
    let manager = app.staff(Role::Manager).await;
    let admin = app.staff(Role::Admin).await;
    let ada = app.customer(&unique_email("ada"), "Ada").await;
    let recipient = ada.user_id.clone();
    let subscribed = app
        .authed(Method::POST, "/v1/admin/webhooks", &admin)
        .json(&json!({"url": integrator.url, "events": ["order.*"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), StatusCode::CREATED);
    let location = subscribed.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let subscription: Value = subscribed.json().await.unwrap();
    let id = subscription["id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/admin/webhooks/{id}"));
    let ids: Vec<String> = app
        .query(move |conn| {
            (0..40)
                .map(|i| {
                    valise::notifications::enqueue(
                        conn,
                        valise::notifications::To::Account {
                            user_id: &valise::ids::UserId::parse(&recipient).unwrap(),
                        },
                        &valise::notifications::Kind::OrderPlaced,
                        &json!({"order_id": format!("ord_{i}"), "status": "pending_payment"}),
                    )
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await;

    let all_delivered = eventually(WAIT, || async {
        outbox(&app, &manager, Some("delivered")).await.len() == ids.len()
            && integrator.received().len() >= ids.len()
    })
    .await;
    assert!(all_delivered, "{:?}", outbox(&app, &manager, None).await);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let notifications = count_by_event_id(&gateway.received());
    assert_eq!(notifications.len(), ids.len());
    assert!(notifications.values().all(|&n| n == 1), "{notifications:?}");
    let events = count_by_event_id(&integrator.received());
    assert_eq!(events.len(), ids.len());
    assert!(events.values().all(|&n| n == 1), "{events:?}");
    drop(sibling);
}
