//! Orders for staff: masked and full views, shipments with disclosures, delivery,
//! after-sales, closing, address corrections, refunds.

use reqwest::{Method, StatusCode};
use serde_json::json;
use valise::auth::Role;

use crate::fixtures::paid_order;
use crate::helpers::{assert_problem, json_of, unique_email, TestApp};

#[actix_web::test]
async fn support_sees_masked_addresses_and_fulfilment_full_ones_audited() {
    let app = TestApp::spawn().await;
    let (customer, number, _) = paid_order(&app).await;
    let support = app.staff(Role::Support).await;
    let fulfilment = app.staff(Role::Fulfillment).await;

    assert_problem(
        app.get_as("/v1/admin/orders", &customer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let list = json_of(
        app.get_as("/v1/admin/orders?status=paid", &support).await,
        StatusCode::OK,
    )
    .await;
    let row = &list["data"][0];
    assert_eq!(row["number"], number);
    assert_eq!(
        row["shipping_address"],
        json!({"visibility": "masked", "initials": "Q.Z.", "city": "Marseille", "country": "FR"})
    );
    let masked = json_of(
        app.get_as(&format!("/v1/admin/orders/{number}"), &support)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(masked["shipping_address"]["visibility"], "masked");
    assert!(!masked.to_string().contains("Xylophones"));

    let full = json_of(
        app.get_as(&format!("/v1/admin/orders/{number}"), &fulfilment)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(full["shipping_address"]["visibility"], "full");
    assert_eq!(full["shipping_address"]["line1"], "17 Rue des Xylophones");
    assert_eq!(
        full["allowed_transitions"],
        json!(["cancel", "start_fulfillment", "ship"])
    );

    // The customer sees that read in their access log.
    let log = json_of(
        app.get_as("/v1/me/access-log", &customer).await,
        StatusCode::OK,
    )
    .await;
    let read = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "order.address.read")
        .expect("audited");
    assert_eq!(read["actor_id"], fulfilment.user_id);
    assert_eq!(read["actor_role"], "fulfillment");
}

#[actix_web::test]
async fn an_order_ships_delivers_and_closes_after_its_after_sales() {
    let app = TestApp::spawn().await;
    let (customer, number, _) = paid_order(&app).await;
    let support = app.staff(Role::Support).await;
    let fulfilment = app.staff(Role::Fulfillment).await;
    let shipment = json!({"carrier": "Colissimo", "tracking_number": "6A12345678901"});
    let ship_path = format!("/v1/admin/orders/{number}/shipments");

    let denied = app
        .authed(Method::POST, &ship_path, &support)
        .json(&shipment)
        .send()
        .await
        .unwrap();
    assert_problem(denied, StatusCode::FORBIDDEN, "forbidden").await;
    let early_delivery = app
        .authed(
            Method::POST,
            &format!("/v1/admin/orders/{number}/deliver"),
            &fulfilment,
        )
        .send()
        .await
        .unwrap();
    assert_problem(early_delivery, StatusCode::CONFLICT, "invalid-transition").await;

    // The address can still be corrected before shipment.
    let corrected = app
        .authed(Method::PATCH, &format!("/v1/orders/{number}/shipping-address"), &customer)
        .json(&json!({"shipping_address": {"name": "Quentin Zephyrine", "line1": "3 Quai du Port", "city": "Toulon", "postal_code": "83000", "country": "FR"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(corrected, StatusCode::OK).await["shipping_address"]["city"],
        "Toulon"
    );

    let shipped = app
        .authed(Method::POST, &ship_path, &fulfilment)
        .json(&shipment)
        .send()
        .await
        .unwrap();
    let shipped = json_of(shipped, StatusCode::CREATED).await;
    assert_eq!(shipped["status"], "shipped");
    assert_eq!(
        shipped["shipping_address"]["visibility"], "masked",
        "full only while it is to be shipped"
    );

    let late = app
        .authed(Method::PATCH, &format!("/v1/orders/{number}/shipping-address"), &customer)
        .json(&json!({"shipping_address": {"name": "Q Z", "line1": "1 Rue", "city": "Nice", "postal_code": "06000", "country": "FR"}}))
        .send()
        .await
        .unwrap();
    assert_problem(late, StatusCode::CONFLICT, "invalid-transition").await;
    let cancel = app
        .authed(
            Method::POST,
            &format!("/v1/orders/{number}/cancel"),
            &customer,
        )
        .send()
        .await
        .unwrap();
    assert_problem(cancel, StatusCode::CONFLICT, "invalid-transition").await;

    // The carrier received the address: a disclosure is recorded for the customer.
    let user_id = customer.user_id.clone();
    let disclosed: i64 = app
        .query(move |conn| {
            use diesel::prelude::*;
            use valise::db::schema::disclosures;
            disclosures::table
                .filter(disclosures::subject_id.eq(&user_id))
                .filter(disclosures::recipient.eq("Colissimo"))
                .count()
                .get_result(conn)
        })
        .await;
    assert_eq!(disclosed, 1);

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

    let case = app
        .authed(
            Method::POST,
            &format!("/v1/orders/{number}/after-sales"),
            &customer,
        )
        .json(&json!({"kind": "repair", "reason": "A wheel broke on the first trip."}))
        .send()
        .await
        .unwrap();
    let case = json_of(case, StatusCode::CREATED).await;
    assert_eq!(case["status"], "open");

    let close = || {
        app.query(|conn| {
            valise::orders::after_sales::close_due(conn, chrono::Duration::zero(), 100)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
    };
    assert_eq!(close().await, 0, "an open case keeps the order open");
    let resolved = app
        .authed(
            Method::POST,
            &format!(
                "/v1/admin/after-sales/{}/resolve",
                case["id"].as_str().unwrap()
            ),
            &support,
        )
        .json(&json!({"outcome": "repaired", "message": "Wheel replaced under warranty."}))
        .send()
        .await
        .unwrap();
    assert_eq!(resolved.status(), StatusCode::OK);
    assert_eq!(close().await, 1);

    let view = json_of(
        app.get_as(&format!("/v1/orders/{number}"), &customer).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["status"], "closed");
    let history: Vec<&str> = view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        vec!["pending_payment", "paid", "shipped", "delivered", "closed"]
    );
    assert_eq!(view["shipments"][0]["tracking_number"], "6A12345678901");
}

#[actix_web::test]
async fn managers_refund_partly_then_fully() {
    let app = TestApp::spawn().await;
    let (_customer, _number, payment) = paid_order(&app).await;
    let manager = app.staff(Role::Manager).await;
    let support = app.staff(Role::Support).await;
    let path = format!(
        "/v1/admin/payments/{}/refund",
        payment["id"].as_str().unwrap()
    );
    let refund = |who: &crate::helpers::Session, key: &str, body: serde_json::Value| {
        app.authed(Method::POST, &path, who)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let denied = refund(&support, "r0", json!({})).await.unwrap();
    assert_problem(denied, StatusCode::FORBIDDEN, "forbidden").await;
    let too_much = refund(&manager, "r1", json!({"amount": 999999}))
        .await
        .unwrap();
    assert_problem(
        too_much,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let partial = json_of(
        refund(&manager, "r2", json!({"amount": 5000}))
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(partial["refund"]["status"], "succeeded");
    assert_eq!(partial["refund"]["amount"]["amount"], 5000);
    assert_eq!(partial["payment"]["status"], "partially_refunded");
    assert_eq!(partial["payment"]["refunded"]["amount"], 5000);
    let replayed = refund(&manager, "r2", json!({"amount": 5000}))
        .await
        .unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replayed, StatusCode::OK).await, partial);
    let rest = json_of(
        refund(&manager, "r3", json!({})).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(rest["payment"]["status"], "refunded");
    assert_eq!(
        rest["payment"]["refunded"]["amount"],
        payment["amount"]["amount"]
    );
    let nothing_left = refund(&manager, "r4", json!({})).await.unwrap();
    assert_problem(nothing_left, StatusCode::CONFLICT, "conflict").await;
    let listed = json_of(
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
    let amounts: Vec<i64> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"]["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(
        amounts,
        vec![5000, payment["amount"]["amount"].as_i64().unwrap() - 5000]
    );
}

/// Partial refunds sent all at once never add up to more than the payment took.
#[actix_web::test]
async fn ten_parallel_partial_refunds_of_a_test_payment_stay_within_the_capture() {
    let app = TestApp::spawn().await;
    let (_customer, _number, payment) = paid_order(&app).await;
    let manager = app.staff(Role::Manager).await;
    let captured = payment["amount"]["amount"].as_i64().unwrap();
    let path = format!(
        "/v1/admin/payments/{}/refund",
        payment["id"].as_str().unwrap()
    );
    let part = captured / 4;
    let attempts = (0..10).map(|i| {
        let request = app
            .authed(Method::POST, &path, &manager)
            .header("idempotency-key", format!("p{i}"))
            .json(&json!({"amount": part}));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 4, "{statuses:?}");
    assert!(statuses.iter().all(|s| [
        StatusCode::OK,
        StatusCode::UNPROCESSABLE_ENTITY,
        StatusCode::CONFLICT
    ]
    .contains(s)));
    let id = payment["id"].as_str().unwrap().to_owned();
    let row = app
        .query(move |conn| valise::payments::store::get(conn, &id))
        .await
        .unwrap();
    assert_eq!(row.refunded_amount, 4 * part);
    assert!(row.refunded_amount <= captured);
}

#[actix_web::test]
async fn order_updates_reach_the_customers_inbox_and_only_theirs() {
    let app = TestApp::spawn().await;
    let (customer, number, _) = paid_order(&app).await;
    let other = app.register(&unique_email("other"), "Other").await;

    let inbox = json_of(
        app.get_as("/v1/me/notifications", &customer).await,
        StatusCode::OK,
    )
    .await;
    let kinds: Vec<&str> = inbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["invoice.issued", "order.paid", "order.placed"],
        "newest first"
    );
    assert_eq!(inbox["unread"], 3);
    assert_eq!(inbox["data"][0]["payload"]["number"], number);
    assert!(
        !inbox.to_string().contains("Xylophones"),
        "payloads carry ids and statuses only"
    );

    let id = inbox["data"][0]["id"].as_str().unwrap();
    let path = format!("/v1/me/notifications/{id}/read");
    let theirs = app
        .authed(Method::POST, &path, &other)
        .send()
        .await
        .unwrap();
    assert_problem(theirs, StatusCode::NOT_FOUND, "not-found").await;
    for _ in 0..2 {
        let read = app
            .authed(Method::POST, &path, &customer)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), StatusCode::NO_CONTENT);
    }
    let inbox = json_of(
        app.get_as("/v1/me/notifications", &customer).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(inbox["unread"], 2);
    assert!(inbox["data"][0]["read_at"].is_string());
    let empty = json_of(
        app.get_as("/v1/me/notifications", &other).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(empty["data"], json!([]));
}
