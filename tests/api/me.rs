//! The data subject's profile: read and rectify.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, json_of, unique_email, TestApp, PASSWORD};

#[actix_web::test]
async fn my_profile_is_decrypted_for_me_with_an_etag() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("me"), "Ada Lovelace").await;
    let response = app.get_as("/v1/me", &session).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], session.email);
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(body["phone"], Value::Null);

    let again = app
        .authed(Method::GET, "/v1/me", &session)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}

#[actix_web::test]
async fn a_correction_with_a_stale_etag_is_refused_with_412() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("fix"), "Ada").await;
    let etag = app.get_as("/v1/me", &session).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();

    let first = app
        .authed(Method::PATCH, "/v1/me", &session)
        .header("if-match", &etag)
        .json(&json!({"name": "Ada King", "phone": "+44 20 7946 0958"}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let new_etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["name"], "Ada King");
    assert_eq!(body["phone"], "+442079460958");

    let stale = app
        .authed(Method::PATCH, "/v1/me", &session)
        .header("if-match", &etag)
        .json(&json!({"name": "Lost Update"}))
        .send()
        .await
        .unwrap();
    assert_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;

    let cleared = app
        .authed(Method::PATCH, "/v1/me", &session)
        .header("if-match", &new_etag)
        .json(&json!({"phone": null}))
        .send()
        .await
        .unwrap();
    let body = json_of(cleared, StatusCode::OK).await;
    assert_eq!(body["phone"], Value::Null);
    assert_eq!(body["name"], "Ada King");
}

#[actix_web::test]
async fn a_corrected_email_is_the_new_login() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("old"), "Ada").await;
    let new_email = unique_email("new");
    let response = app
        .authed(Method::PATCH, "/v1/me", &session)
        .json(&json!({"email": new_email}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED, "verified first");
    let token = app
        .mailed_token("account.email_change", &new_email)
        .await
        .unwrap();
    let confirmed = app
        .post_json("/v1/auth/email-change/confirm", &json!({ "token": token }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.login(&new_email, PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login(&session.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn corrections_refuse_sensitive_values_and_unknown_fields() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("s"), "Ada").await;
    for (body, slug, field) in [
        (
            json!({"name": "4111-1111-1111-1111"}),
            "sensitive-data-refused",
            "name",
        ),
        (
            json!({"iban": "DE89370400440532013000"}),
            "validation-failed",
            "iban",
        ),
        (
            json!({"phone": "call me maybe"}),
            "validation-failed",
            "phone",
        ),
    ] {
        let response = app
            .authed(Method::PATCH, "/v1/me", &session)
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, slug).await;
        assert_eq!(problem["errors"][0]["field"], field);
    }
    let accepted = app
        .authed(Method::PATCH, "/v1/me", &session)
        .json(&json!({"name": "Flat 4B Resident"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        accepted.status(),
        StatusCode::OK,
        "ordinary names with numbers pass"
    );
}

#[actix_web::test]
async fn my_access_log_shows_staff_reads_but_not_my_own_actions() {
    let app = TestApp::spawn().await;
    let staff_member = app.staff(valise::auth::Role::Support).await;
    let admin = app.staff(valise::auth::Role::Admin).await;
    // The admin lists staff, which reads the support member's personal data.
    assert_eq!(
        app.get_as("/v1/admin/staff", &admin).await.status(),
        StatusCode::OK
    );

    let log = json_of(
        app.get_as("/v1/me/access-log", &staff_member).await,
        StatusCode::OK,
    )
    .await;
    let entries = log["data"].as_array().unwrap();
    let read = entries
        .iter()
        .find(|e| e["action"] == "staff.read")
        .expect("the admin's read is in my access log");
    assert_eq!(read["actor_id"], admin.user_id);
    assert_eq!(read["actor_role"], "admin");
    assert_eq!(read["purpose"], "staff administration");
    assert!(read["fields"].as_array().unwrap().contains(&json!("email")));
    assert!(entries.iter().all(|e| e["actor_kind"] != "subject"));
    assert!(
        !log.to_string().contains(&staff_member.email),
        "values never appear"
    );
}
