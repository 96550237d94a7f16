//! A guest's rectification: the request carries sealed corrections, the privacy officer
//! reads them (audited) and applies them to the guest's orders (audited, all or nothing).

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::db::schema::{audit_log, dsr_corrections, notifications, orders};

use crate::fixtures::{checkout, checkout_body, guest_cart, stocked_variant};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp};

/// A guest's order placed with `email`: (number, order token).
async fn guest_order(app: &TestApp, variant: &str, email: &str, key: &str) -> (String, String) {
    let cart = guest_cart(app, variant, 1).await;
    let placed = json_of(
        checkout(app, &cart, key, &checkout_body(email)).await,
        StatusCode::CREATED,
    )
    .await;
    (
        placed["number"].as_str().unwrap().to_owned(),
        placed["order_token"].as_str().unwrap().to_owned(),
    )
}

/// The order as its guest sees it.
async fn guest_view(app: &TestApp, (number, token): &(String, String)) -> Value {
    let read = app
        .client
        .get(app.url(&format!("/v1/orders/{number}")))
        .header("x-order-token", token)
        .send()
        .await
        .unwrap();
    json_of(read, StatusCode::OK).await
}

/// Asks as a guest and verifies with the code the outbox would send; answers the request id.
async fn ask_verified(app: &TestApp, body: Value) -> String {
    let created = json_of(
        app.post_json("/v1/privacy/requests", &body).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (crypto, dsr) = (app.crypto.clone(), id.clone());
    let (_, code) = app
        .query(move |conn| valise::privacy::requests::guest::pending_code(conn, &crypto, &dsr))
        .await
        .expect("a code to send");
    let verified = json_of(
        app.post_json(
            &format!("/v1/privacy/requests/{id}/verify"),
            &json!({ "code": code }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(verified["request"]["status"], "pending");
    id
}

fn new_address() -> Value {
    json!({"name": "Ada King", "line1": "Kortrijksesteenweg 214", "line2": "bus 3",
           "city": "Gent", "postal_code": "9000", "country": "be"})
}

async fn post_as(app: &TestApp, path: &str, who: &Session) -> reqwest::Response {
    app.authed(Method::POST, path, who).send().await.unwrap()
}

/// Audit entries of `action`, each as the text of its row.
async fn audited(app: &TestApp, action: &'static str) -> Vec<(Option<String>, String)> {
    app.query(move |conn| {
        audit_log::table
            .filter(audit_log::action.eq(action))
            .order(audit_log::seq.asc())
            .select((
                audit_log::subject_id,
                audit_log::fields,
                audit_log::purpose,
                audit_log::actor_role,
            ))
            .load::<(Option<String>, String, String, Option<String>)>(conn)
    })
    .await
    .into_iter()
    .map(|(subject, fields, purpose, role)| (subject, format!("{fields} | {purpose} | {role:?}")))
    .collect()
}

#[actix_web::test]
async fn the_privacy_officer_reads_and_applies_a_guest_s_corrections_to_every_order() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "rectify", 10, 4900).await;
    let old_email = unique_email("rectify-old");
    let new_email = unique_email("rectify-new");
    let first = guest_order(&app, &variant, &old_email, "k1").await;
    let second = guest_order(&app, &variant, &old_email, "k2").await;
    let stranger = guest_order(&app, &variant, &unique_email("rectify-other"), "k3").await;

    let id = ask_verified(
        &app,
        json!({"email": old_email, "kind": "rectification", "corrections": [
            {"field": "contact_email", "value": new_email.to_uppercase()},
            {"field": "shipping_address", "value": new_address()},
        ]}),
    )
    .await;

    // Sealed: neither value is in the clear in its row.
    let dsr = id.clone();
    let sealed: Vec<u8> = app
        .query(move |conn| {
            dsr_corrections::table
                .find(dsr)
                .select(dsr_corrections::corrections_sealed.assume_not_null())
                .first::<Vec<u8>>(conn)
        })
        .await;
    let text = String::from_utf8_lossy(&sealed);
    assert!(!text.contains("Kortrijksesteenweg") && !text.contains("rectify-new"));

    // Support may not see or apply them.
    let support = app.staff(Role::Support).await;
    let path = format!("/v1/admin/privacy/requests/{id}");
    assert_problem(
        app.get_as(&format!("{path}/corrections"), &support).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        post_as(&app, &format!("{path}/apply"), &support).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // The officer reads them; the read is audited with the fields, never the values.
    let officer = app.staff(Role::PrivacyOfficer).await;
    let read = json_of(
        app.get_as(&format!("{path}/corrections"), &officer).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["contact_email"], new_email);
    assert_eq!(read["shipping_address"]["line1"], "Kortrijksesteenweg 214");
    assert_eq!(read["shipping_address"]["country"], "BE");
    let reads = audited(&app, "dsr.corrections.read").await;
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].0.as_deref(), Some(id.as_str()));
    assert!(reads[0].1.contains("contact_email") && reads[0].1.contains("shipping_address"));
    assert!(reads[0].1.contains("answering"), "{}", reads[0].1);

    let applied = json_of(
        post_as(&app, &format!("{path}/apply"), &officer).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(applied["request"]["status"], "completed");
    assert_eq!(applied["orders_corrected"], 2);
    assert_eq!(
        applied["fields"],
        json!(["contact_email", "shipping_address"])
    );

    // Both orders read back corrected through the guest's own view; the stranger's did not.
    for order in [&first, &second] {
        let view = guest_view(&app, order).await;
        assert_eq!(view["contact_email"], new_email);
        assert_eq!(view["shipping_address"]["line1"], "Kortrijksesteenweg 214");
        assert_eq!(view["shipping_address"]["name"], "Ada King");
    }
    let untouched = guest_view(&app, &stranger).await;
    assert_eq!(
        untouched["shipping_address"]["line1"],
        "17 Rue des Xylophones"
    );

    // The lookup followed the e-mail: an access request with the new address finds both.
    let found = app
        .query({
            let crypto = app.crypto.clone();
            let bidx = crypto.blind_index(valise::crypto::index_kind::ORDER_EMAIL, &new_email);
            move |conn| {
                orders::table
                    .filter(orders::contact_email_bidx.eq(bidx))
                    .count()
                    .get_result::<i64>(conn)
            }
        })
        .await;
    assert_eq!(found, 2);

    // One act per order and one for the request, naming the fields and no value.
    let acts = audited(&app, "dsr.apply").await;
    assert_eq!(acts.len(), 3);
    for (_, row) in &acts {
        assert!(row.contains("contact_email") && row.contains("shipping_address"));
        assert!(row.contains("privacy_officer"));
        assert!(
            !row.contains('@') && !row.contains("Kortrijksesteenweg"),
            "{row}"
        );
    }
    assert_eq!(acts[2].0.as_deref(), Some(id.as_str()));

    // The guest is told, through their order's (new) contact.
    let told: Vec<(Option<String>, String)> = app
        .query(|conn| {
            notifications::table
                .filter(notifications::kind.eq("dsr.updated"))
                .select((notifications::order_id, notifications::payload))
                .load(conn)
        })
        .await;
    assert_eq!(told.len(), 1);
    assert!(told[0].0.is_some());
    assert!(told[0].1.contains(&id) && !told[0].1.contains('@'));

    // Applied once: the second time, and a read after, are refused; the copy is gone.
    assert_problem(
        post_as(&app, &format!("{path}/apply"), &officer).await,
        StatusCode::CONFLICT,
        "invalid-transition",
    )
    .await;
    assert_problem(
        app.get_as(&format!("{path}/corrections"), &officer).await,
        StatusCode::CONFLICT,
        "invalid-transition",
    )
    .await;
    let dsr = id.clone();
    let left: Option<Vec<u8>> = app
        .query(move |conn| {
            dsr_corrections::table
                .find(dsr)
                .select(dsr_corrections::corrections_sealed)
                .first(conn)
        })
        .await;
    assert!(left.is_none());
}

#[actix_web::test]
async fn corrections_stay_closed_until_the_guest_verifies() {
    let app = TestApp::spawn().await;
    let created = json_of(
        app.post_json(
            "/v1/privacy/requests",
            &json!({"email": unique_email("unverified"), "kind": "rectification",
                    "corrections": [{"field": "shipping_address", "value": new_address()}]}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let officer = app.staff(Role::PrivacyOfficer).await;
    let path = format!("/v1/admin/privacy/requests/{id}");
    assert_problem(
        app.get_as(&format!("{path}/corrections"), &officer).await,
        StatusCode::CONFLICT,
        "invalid-transition",
    )
    .await;
    assert_problem(
        post_as(&app, &format!("{path}/apply"), &officer).await,
        StatusCode::CONFLICT,
        "invalid-transition",
    )
    .await;
    assert!(audited(&app, "dsr.corrections.read").await.is_empty());
}

#[actix_web::test]
async fn invalid_or_missing_corrections_are_refused() {
    let app = TestApp::spawn().await;
    let email = unique_email("rectify-invalid");
    for body in [
        json!({"email": email, "kind": "rectification"}),
        json!({"email": email, "kind": "rectification", "corrections": []}),
        json!({"email": email, "kind": "rectification",
               "corrections": [{"field": "contact_email", "value": "not-an-email"}]}),
        json!({"email": email, "kind": "rectification",
               "corrections": [{"field": "shipping_address", "value": {"name": "Ada"}}]}),
        json!({"email": email, "kind": "rectification",
               "corrections": [{"field": "contact_email", "value": "a@example.com"},
                               {"field": "contact_email", "value": "b@example.com"}]}),
        json!({"email": email, "kind": "access",
               "corrections": [{"field": "contact_email", "value": "a@example.com"}]}),
    ] {
        assert_problem(
            app.post_json("/v1/privacy/requests", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
    }
    // A field outside the vocabulary is refused by the body's shape.
    let r = app
        .post_json(
            "/v1/privacy/requests",
            &json!({"email": email, "kind": "rectification",
                    "corrections": [{"field": "date_of_birth", "value": "1815-12-10"}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing was stored for any of them.
    let n: i64 = app
        .query(|conn| dsr_corrections::table.count().get_result(conn))
        .await;
    assert_eq!(n, 0);
}

#[actix_web::test]
async fn a_guest_s_erasure_destroys_the_corrections_asked_for() {
    let app = TestApp::spawn().await;
    let email = unique_email("rectify-erase");
    let id = ask_verified(
        &app,
        json!({"email": email, "kind": "rectification",
               "corrections": [{"field": "shipping_address", "value": new_address()}]}),
    )
    .await;
    ask_verified_erasure(&app, &email).await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    assert_problem(
        app.get_as(
            &format!("/v1/admin/privacy/requests/{id}/corrections"),
            &officer,
        )
        .await,
        StatusCode::CONFLICT,
        "invalid-transition",
    )
    .await;
}

async fn ask_verified_erasure(app: &TestApp, email: &str) {
    let created = json_of(
        app.post_json(
            "/v1/privacy/requests",
            &json!({"email": email, "kind": "erasure"}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (crypto, dsr) = (app.crypto.clone(), id.clone());
    let (_, code) = app
        .query(move |conn| valise::privacy::requests::guest::pending_code(conn, &crypto, &dsr))
        .await
        .unwrap();
    let verified = app
        .post_json(
            &format!("/v1/privacy/requests/{id}/verify"),
            &json!({ "code": code }),
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_denied_rectification_keeps_no_corrections() {
    let app = TestApp::spawn().await;
    let id = ask_verified(
        &app,
        json!({"email": unique_email("rectify-deny"), "kind": "rectification",
               "corrections": [{"field": "contact_email", "value": "ada.king@example.com"}]}),
    )
    .await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    let denied = app
        .authed(
            Method::POST,
            &format!("/v1/admin/privacy/requests/{id}/deny"),
            &officer,
        )
        .json(&json!({"reason": "We could not match the request to an order."}))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::OK);
    let dsr = id.clone();
    let left: Option<Vec<u8>> = app
        .query(move |conn| {
            dsr_corrections::table
                .find(dsr)
                .select(dsr_corrections::corrections_sealed)
                .first(conn)
        })
        .await;
    assert!(left.is_none());
    assert_problem(
        app.authed(
            Method::POST,
            &format!("/v1/admin/privacy/requests/{id}/apply"),
            &officer,
        )
        .send()
        .await
        .unwrap(),
        StatusCode::CONFLICT,
        "invalid-transition",
    )
    .await;
}
