//! Integrator webhooks: subscriptions, signed deliveries of order and payment events with ids
//! and statuses only, retries then dead letters, the delivery log, and who may manage them.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::config::Config;
use valise::webhooks::model::EventPattern;
use valise::webhooks::store;

use crate::fixtures::{
    checkout, checkout_body, contains, database_bytes, fast_delivery, guest_cart, stocked_variant,
};
use crate::helpers::{assert_problem, eventually, json_of, unique_email, Session, TestApp};
use crate::receiver::{signature_is_valid, Receiver};

const WAIT: Duration = Duration::from_secs(15);

/// Fast delivery with the development opt-in that lets webhooks reach the tests' receivers on
/// loopback (integrators' endpoints are otherwise kept to public addresses).
fn local_receivers(config: &mut Config) {
    fast_delivery(config, None);
    config.delivery.webhook_allow_private = true;
}

async fn subscribe(app: &TestApp, admin: &Session, url: &str, events: Value) -> Value {
    let response = app
        .authed(Method::POST, "/v1/admin/webhooks", admin)
        .json(&json!({"url": url, "events": events}))
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::CREATED).await
}

async fn deliveries(app: &TestApp, admin: &Session, id: &str) -> Vec<Value> {
    let response = app
        .get_as(&format!("/v1/admin/webhooks/{id}/deliveries"), admin)
        .await;
    let body = json_of(response, StatusCode::OK).await;
    body["data"].as_array().unwrap().clone()
}

/// A guest checkout with a contact email and a shipping address; returns the order.
async fn guest_checkout(app: &TestApp, email: &str) -> Value {
    let variant = stocked_variant(
        app,
        &format!("hook-{}", uuid::Uuid::now_v7().simple()),
        5,
        9900,
    )
    .await;
    let cart = guest_cart(app, &variant, 1).await;
    let response = checkout(app, &cart, "hook-key", &checkout_body(email)).await;
    json_of(response, StatusCode::CREATED).await
}

#[actix_web::test]
async fn an_integrator_receives_order_placed_signed_with_ids_and_status_only() {
    let receiver = Receiver::start(0);
    let app = TestApp::spawn_configured(local_receivers).await;
    let admin = app.staff(Role::Admin).await;
    let orders = subscribe(&app, &admin, &receiver.url, json!(["order.*"])).await;
    let payments = subscribe(&app, &admin, &receiver.url, json!(["payment.*", "dsr.*"])).await;
    let secret = orders["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(orders["events"], json!(["order.*"]));

    let email = unique_email("zebediah.guest");
    let order = guest_checkout(&app, &email).await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1, "one subscription wants order.placed");
    let delivery = &got[0];
    assert!(signature_is_valid(
        &secret,
        &delivery.signature,
        &delivery.body
    ));
    let other_secret = payments["secret"].as_str().unwrap();
    assert!(!signature_is_valid(
        other_secret,
        &delivery.signature,
        &delivery.body
    ));
    let body = delivery.json();
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(body["type"], "order.placed");
    assert!(body["created_at"].is_string());
    assert_eq!(
        body["data"],
        json!({"order_id": order["id"], "number": order["number"], "status": "pending_payment"})
    );
    assert_eq!(delivery.header("valise-event-type"), Some("order.placed"));
    let text = String::from_utf8_lossy(&delivery.body);
    for personal in [
        &email,
        "Quentin",
        "Zephyrine",
        "Xylophones",
        "Marseille",
        "13001",
    ] {
        assert!(!text.contains(personal), "{personal} leaked into {text}");
    }

    let log = deliveries(&app, &admin, orders["id"].as_str().unwrap()).await;
    let delivered = eventually(WAIT, || async {
        deliveries(&app, &admin, orders["id"].as_str().unwrap()).await[0]["status"] == "delivered"
    })
    .await;
    assert!(delivered, "{log:?}");
    let log = deliveries(&app, &admin, orders["id"].as_str().unwrap()).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["event_type"], "order.placed");
    assert_eq!(log[0]["event_id"], body["id"]);
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["last_status_code"], 200);
    assert!(log[0]["delivered_at"].is_string());
    assert_eq!(log[0]["id"], delivery.header("valise-delivery-id").unwrap());
    assert!(deliveries(&app, &admin, payments["id"].as_str().unwrap())
        .await
        .is_empty());
}

#[actix_web::test]
async fn a_failing_endpoint_is_retried_then_dead_and_the_log_says_why() {
    let receiver = Receiver::start(100);
    let app = TestApp::spawn_configured(local_receivers).await;
    let admin = app.staff(Role::Admin).await;
    let sub = subscribe(&app, &admin, &receiver.url, json!(["policy.published"])).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    app.query(|conn| {
        valise::webhooks::emit(
            conn,
            valise::webhooks::model::WebhookEventType::PolicyPublished,
            &json!({"version": 2}),
        )
    })
    .await;

    let dead = eventually(WAIT, || async {
        deliveries(&app, &admin, &id).await[0]["status"] == "dead"
    })
    .await;
    let log = deliveries(&app, &admin, &id).await;
    assert!(dead, "{log:?}");
    // The test schedule has 3 waits: 4 tries in all.
    assert_eq!(log[0]["attempts"], 4);
    assert_eq!(log[0]["last_status_code"], 500);
    assert_eq!(log[0]["last_error"], "HTTP 500");
    assert_eq!(log[0]["next_attempt_at"], Value::Null);
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    let event_ids: Vec<Value> = got.iter().map(|r| r.json()["id"].clone()).collect();
    assert!(
        event_ids.iter().all(|e| *e == event_ids[0]),
        "retries carry the same event id"
    );
    for pair in got.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(90));
    }
}

#[actix_web::test]
async fn an_endpoint_answering_404_is_given_up_after_three_tries_not_the_schedule() {
    let receiver = Receiver::start_answering(100, 404);
    let app = TestApp::spawn_configured(local_receivers).await;
    let admin = app.staff(Role::Admin).await;
    let sub = subscribe(&app, &admin, &receiver.url, json!(["policy.published"])).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    app.query(|conn| {
        valise::webhooks::emit(
            conn,
            valise::webhooks::model::WebhookEventType::PolicyPublished,
            &json!({"version": 2}),
        )
    })
    .await;

    let dead = eventually(WAIT, || async {
        deliveries(&app, &admin, &id).await[0]["status"] == "dead"
    })
    .await;
    let log = deliveries(&app, &admin, &id).await;
    assert!(dead, "{log:?}");
    // The test schedule would give a failing endpoint 4 tries; a refusal gets 3.
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["last_status_code"], 404);
    assert_eq!(receiver.received().len(), 3);
}

#[actix_web::test]
async fn only_admins_manage_webhooks() {
    let app = TestApp::spawn_configured(local_receivers).await;
    let admin = app.staff(Role::Admin).await;
    let sub = subscribe(&app, &admin, "http://127.0.0.1:9/hook", json!(["order.*"])).await;
    let id = sub["id"].as_str().unwrap();
    let new = json!({"url": "https://erp.example/hook", "events": ["order.*"]});
    for role in [Role::Manager, Role::Support, Role::PrivacyOfficer] {
        let staff = app.staff(role).await;
        let listed = app.get_as("/v1/admin/webhooks", &staff).await;
        assert_problem(listed, StatusCode::FORBIDDEN, "forbidden").await;
        let created = app
            .authed(Method::POST, "/v1/admin/webhooks", &staff)
            .json(&new)
            .send()
            .await
            .unwrap();
        assert_problem(created, StatusCode::FORBIDDEN, "forbidden").await;
        let log = app
            .get_as(&format!("/v1/admin/webhooks/{id}/deliveries"), &staff)
            .await;
        assert_problem(log, StatusCode::FORBIDDEN, "forbidden").await;
        let deleted = app
            .authed(Method::DELETE, &format!("/v1/admin/webhooks/{id}"), &staff)
            .send()
            .await
            .unwrap();
        assert_problem(deleted, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let anonymous = app.get("/v1/admin/webhooks").await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let listed = json_of(
        app.get_as("/v1/admin/webhooks", &admin).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(
        listed["data"][0].get("secret").is_none(),
        "the secret is shown once"
    );

    for bad in [
        json!({"url": "https://erp.example/h", "events": []}),
        json!({"url": "https://erp.example/h", "events": ["users.*"]}),
        json!({"url": "https://erp.example/h", "events": ["order"]}),
        json!({"url": "not a url", "events": ["order.*"]}),
        json!({"url": "https://me:pw@erp.example/h", "events": ["order.*"]}),
        json!({"url": "https://erp.example/h", "events": ["order.*"], "extra": 1}),
    ] {
        let refused = app
            .authed(Method::POST, "/v1/admin/webhooks", &admin)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
    }
    let unknown = "whk_0193a7c25b7e7d1a9c1e2f6c1f7e9a10";
    let missing = app
        .get_as(&format!("/v1/admin/webhooks/{unknown}/deliveries"), &admin)
        .await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
    let missing = app
        .authed(
            Method::DELETE,
            &format!("/v1/admin/webhooks/{unknown}"),
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
}

#[actix_web::test]
async fn a_deleted_subscription_gets_nothing_more_and_its_secret_is_never_stored_in_plaintext() {
    let receiver = Receiver::start(0);
    let app = TestApp::spawn_configured(local_receivers).await;
    let admin = app.staff(Role::Admin).await;
    let sub = subscribe(&app, &admin, &receiver.url, json!(["order.*"])).await;
    let id = sub["id"].as_str().unwrap();
    let secret = sub["secret"].as_str().unwrap();
    let raw = database_bytes(&app.config.database_url);
    assert!(
        contains(&raw, &receiver.url),
        "the scan sees plaintext columns"
    );
    assert!(
        !contains(&raw, secret),
        "the signing secret is stored in plaintext"
    );
    assert!(!contains(&raw, secret.trim_start_matches("whsec_")));

    let deleted = app
        .authed(Method::DELETE, &format!("/v1/admin/webhooks/{id}"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = app
        .authed(Method::DELETE, &format!("/v1/admin/webhooks/{id}"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NO_CONTENT, "idempotent");
    let listed = json_of(
        app.get_as("/v1/admin/webhooks", &admin).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["data"], json!([]));

    guest_checkout(&app, &unique_email("after")).await;
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert!(receiver.received().is_empty());
    assert!(
        deliveries(&app, &admin, id).await.is_empty(),
        "the log stays readable"
    );
}

#[actix_web::test]
async fn a_subscription_stored_before_the_guard_never_reaches_loopback_and_logs_one_class() {
    // Something listens on loopback; no delivery may connect to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = TestApp::spawn_configured(|c| fast_delivery(c, None)).await;
    let admin = app.staff(Role::Admin).await;
    let mut ids = Vec::new();
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        // A name: refused by the resolver rather than before the request.
        format!("http://localhost:{port}/hook"),
    ] {
        let (crypto, created_by) = (app.crypto.clone(), admin.user_id.clone());
        let row = app
            .query(move |conn| {
                let patterns = [EventPattern::parse("policy.published").unwrap()];
                store::create(conn, &crypto, &url, &patterns, "whsec_old", &created_by)
            })
            .await;
        ids.push(row.id);
    }
    app.query(|conn| {
        valise::webhooks::emit(
            conn,
            valise::webhooks::model::WebhookEventType::PolicyPublished,
            &json!({"version": 2}),
        )
    })
    .await;

    let all_dead = eventually(WAIT, || async {
        for id in &ids {
            if deliveries(&app, &admin, id).await[0]["status"] != "dead" {
                return false;
            }
        }
        true
    })
    .await;
    for id in &ids {
        let log = deliveries(&app, &admin, id).await;
        assert!(all_dead, "{log:?}");
        assert_eq!(log.len(), 1);
        // Every try refused alike, before any connection: nothing tells open ports apart.
        assert_eq!(log[0]["attempts"], 4);
        assert_eq!(log[0]["last_error"], "address refused");
        assert_eq!(log[0]["last_status_code"], Value::Null);
        let text = log[0].to_string();
        assert!(!text.contains("127.0.0.1") && !text.contains(&port.to_string()));
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a delivery connected to loopback: {other:?}"),
    }
}

/// Names in the hosts file that resolve to loopback only (`localhost` and names under it
/// aside, which are refused without a lookup): where the machine has some, they exercise the
/// lookup at registration.
fn hosts_file_loopback_names() -> Vec<String> {
    use std::net::ToSocketAddrs;
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let mut names: Vec<String> = hosts
        .lines()
        .filter_map(|line| line.split('#').next())
        .flat_map(|line| line.split_whitespace().skip(1).map(str::to_owned))
        .filter(|name| !valise::delivery::address::is_local_name(name))
        .filter(|name| {
            matches!(
                url::Url::parse(&format!("https://{name}/"))
                    .map(|u| u.host().map(|h| h.to_owned())),
                Ok(Some(url::Host::Domain(_)))
            )
        })
        .filter(|name| {
            (name.as_str(), 443)
                .to_socket_addrs()
                .is_ok_and(|addresses| {
                    let addresses: Vec<_> = addresses.collect();
                    !addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback())
                })
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[actix_web::test]
async fn registering_an_internal_endpoint_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn_configured(|c| fast_delivery(c, None)).await;
    let admin = app.staff(Role::Admin).await;
    let not_public = "must be a public address";
    let mut cases: Vec<(String, &str)> = [
        "http://127.0.0.1:6379/",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/",
        "https://[::1]:22/",
        "https://localhost/",
        "https://100.64.0.1/",
        "https://[fd00::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://0x7f.1/",
        "https://[fe80::1]/",
        "https://192.168.1.1/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
        "https://LOCALHOST./",
        "https://api.localhost/",
    ]
    .into_iter()
    .map(|url| (url.to_owned(), not_public))
    .collect();
    for name in hosts_file_loopback_names() {
        cases.push((format!("https://{name}/hook"), "resolves to loopback"));
    }
    // `.invalid` never resolves (RFC 6761).
    cases.push((
        "https://webhooks.invalid/hook".to_owned(),
        "does not resolve",
    ));

    for (url, message) in &cases {
        let response = app
            .authed(Method::POST, "/v1/admin/webhooks", &admin)
            .json(&json!({"url": url, "events": ["order.*"]}))
            .send()
            .await
            .unwrap();
        let body = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(body["errors"].as_array().unwrap().len(), 1, "{url}: {body}");
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
        let said = body["errors"][0]["message"].as_str().unwrap();
        assert!(said.starts_with(message), "{url}: {said}");
        assert!(
            !body.to_string().contains(url.as_str()),
            "the URL is echoed"
        );
    }
    let listed = json_of(
        app.get_as("/v1/admin/webhooks", &admin).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["data"], json!([]), "a refused endpoint was stored");
}

#[actix_web::test]
async fn with_the_development_opt_in_a_local_receiver_registers_and_gets_deliveries() {
    let receiver = Receiver::start(0);
    let app = TestApp::spawn_configured(local_receivers).await;
    let admin = app.staff(Role::Admin).await;
    let sub = subscribe(&app, &admin, &receiver.url, json!(["policy.published"])).await;
    app.query(|conn| {
        valise::webhooks::emit(
            conn,
            valise::webhooks::model::WebhookEventType::PolicyPublished,
            &json!({"version": 2}),
        )
    })
    .await;
    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    assert!(signature_is_valid(
        sub["secret"].as_str().unwrap(),
        &got[0].signature,
        &got[0].body
    ));
}

/// The bodies received so far of events of `event_type`.
fn events_of(receiver: &Receiver, event_type: &str) -> Vec<Value> {
    receiver
        .received()
        .iter()
        .map(|r| r.json())
        .filter(|b| b["type"] == event_type)
        .collect()
}

#[actix_web::test]
async fn staff_edits_raise_product_updated_and_variant_stock_changed() {
    let receiver = Receiver::start(0);
    let app = TestApp::spawn_configured(local_receivers).await;
    let admin = app.staff(Role::Admin).await;
    let manager = app.staff(Role::Manager).await;
    let created = crate::fixtures::create(
        &app,
        &manager,
        &crate::fixtures::product("events-case", "travel", "abs", [55, 40, 20], 9900, &[4]),
    )
    .await;
    let product = created["id"].as_str().unwrap().to_owned();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    subscribe(
        &app,
        &admin,
        &receiver.url,
        json!(["product.*", "variant.*"]),
    )
    .await;

    let patched = app
        .authed(
            Method::PATCH,
            &format!("/v1/admin/products/{product}"),
            &manager,
        )
        .json(&json!({"price": {"amount": 10900}}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    let set = app
        .authed(
            Method::PUT,
            &format!("/v1/admin/variants/{variant}/stock"),
            &manager,
        )
        .json(&json!({"available": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);

    receiver.wait_for(2, WAIT).await;
    let updated = events_of(&receiver, "product.updated");
    assert_eq!(updated.len(), 1, "{updated:?}");
    assert_eq!(updated[0]["data"], json!({"product_id": product}));
    let stock = events_of(&receiver, "variant.stock_changed");
    assert_eq!(stock.len(), 1, "{stock:?}");
    assert_eq!(
        stock[0]["data"],
        json!({"variant_id": variant, "product_id": product, "available": 0,
               "in_stock": false, "cause": "staff"})
    );
}

#[actix_web::test]
async fn a_checkout_raises_variant_stock_changed_only_when_it_takes_the_last_units() {
    let receiver = Receiver::start(0);
    let app = TestApp::spawn_configured(local_receivers).await;
    let admin = app.staff(Role::Admin).await;
    let variant = stocked_variant(&app, "events-last-two", 2, 9900).await;
    let sub = subscribe(
        &app,
        &admin,
        &receiver.url,
        json!(["variant.stock_changed"]),
    )
    .await;

    for key in ["first-unit", "last-unit"] {
        let cart = guest_cart(&app, &variant, 1).await;
        let email = unique_email("stock.guest");
        let response = checkout(&app, &cart, key, &checkout_body(&email)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }

    let got = receiver.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["type"], "variant.stock_changed");
    assert_eq!(body["data"]["variant_id"], variant.as_str());
    assert_eq!(body["data"]["available"], 0);
    assert_eq!(body["data"]["in_stock"], false);
    assert_eq!(body["data"]["cause"], "checkout");
    let log = deliveries(&app, &admin, sub["id"].as_str().unwrap()).await;
    assert_eq!(log.len(), 1, "the first unit sold raised nothing: {log:?}");
}

#[actix_web::test]
async fn an_admin_redelivers_a_delivered_event_with_the_same_event_id() {
    let receiver = Receiver::start(0);
    let app = TestApp::spawn_configured(local_receivers).await;
    let admin = app.staff(Role::Admin).await;
    let sub = subscribe(&app, &admin, &receiver.url, json!(["policy.published"])).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    app.query(|conn| {
        valise::webhooks::emit(
            conn,
            valise::webhooks::model::WebhookEventType::PolicyPublished,
            &json!({"version": 3}),
        )
    })
    .await;
    let delivered = eventually(WAIT, || async {
        deliveries(&app, &admin, &id).await[0]["status"] == "delivered"
    })
    .await;
    assert!(delivered);
    let first = deliveries(&app, &admin, &id).await[0].clone();
    let path = |delivery: &str| format!("/v1/admin/webhooks/{id}/deliveries/{delivery}/redeliver");

    let manager = app.staff(Role::Manager).await;
    let forbidden = app
        .authed(Method::POST, &path(first["id"].as_str().unwrap()), &manager)
        .send()
        .await
        .unwrap();
    assert_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
    let unknown = app
        .authed(Method::POST, &path("whd_nope"), &admin)
        .send()
        .await
        .unwrap();
    assert_problem(unknown, StatusCode::NOT_FOUND, "not-found").await;

    let again = app
        .authed(Method::POST, &path(first["id"].as_str().unwrap()), &admin)
        .send()
        .await
        .unwrap();
    let again = json_of(again, StatusCode::ACCEPTED).await;
    assert_ne!(again["id"], first["id"]);
    assert_eq!(again["event_id"], first["event_id"]);
    assert_eq!(again["status"], "pending");
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].json()["id"], got[1].json()["id"], "the same event");
    assert_eq!(got[1].header("valise-delivery-id"), again["id"].as_str());
    assert_eq!(deliveries(&app, &admin, &id).await.len(), 2);

    let removed = app
        .authed(Method::DELETE, &format!("/v1/admin/webhooks/{id}"), &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let gone = app
        .authed(Method::POST, &path(first["id"].as_str().unwrap()), &admin)
        .send()
        .await
        .unwrap();
    assert_problem(gone, StatusCode::CONFLICT, "conflict").await;
}
