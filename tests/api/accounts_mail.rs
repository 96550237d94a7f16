//! Account mail: verified registration, password reset and change, verified address change,
//! and a guest cart joining the account's at sign-in.

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::db::schema::{account_tokens, notifications};

use crate::fixtures::{guest_cart, stocked_variant};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp, PASSWORD};

const NEW_PASSWORD: &str = "a brand new horse battery";

async fn register(app: &TestApp, email: &str, name: &str) -> reqwest::Response {
    app.post_json(
        "/v1/auth/register",
        &json!({"email": email, "password": PASSWORD, "name": name, "accepted_policy_version": 1}),
    )
    .await
}

/// The kinds of the notices queued for an account (its inbox, delivered or not).
async fn notices_of(app: &TestApp, user_id: &str) -> Vec<String> {
    let user_id = user_id.to_owned();
    app.query(move |conn| {
        notifications::table
            .filter(notifications::recipient_user_id.eq(user_id))
            .select(notifications::kind)
            .load::<String>(conn)
    })
    .await
}

async fn refresh(app: &TestApp, token: &str) -> StatusCode {
    app.post_json("/v1/auth/refresh", &json!({ "refresh_token": token }))
        .await
        .status()
}

#[actix_web::test]
async fn registering_a_known_or_unknown_address_answers_the_same_and_mails_each_its_notice() {
    let app = TestApp::spawn().await;
    let known = app.register(&unique_email("known"), "Known Person").await;
    let unknown = unique_email("unknown");
    let first = register(&app, &known.email, "Someone Else").await;
    let second = register(&app, &unknown, "New Person").await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    let (first, second): (Value, Value) =
        (first.json().await.unwrap(), second.json().await.unwrap());
    assert_eq!(first, second, "the same body for both");
    // The owner of the known address is told; no confirmation goes to it.
    assert!(notices_of(&app, &known.user_id)
        .await
        .contains(&"account.already_registered".to_owned()));
    assert!(app
        .mailed_token("account.confirmation", &known.email)
        .await
        .is_none());
    // The known account's password did not change.
    assert_eq!(
        app.login(&known.email, PASSWORD).await.status(),
        StatusCode::OK
    );
    // The unknown one gets its confirmation, and only that.
    assert!(app
        .mailed_token("account.confirmation", &unknown)
        .await
        .is_some());
    // No outbox payload holds an address or a token.
    let payloads: Vec<String> = app
        .query(|conn| {
            notifications::table
                .select(notifications::payload)
                .load(conn)
        })
        .await;
    assert!(payloads
        .iter()
        .all(|p| !p.contains('@') && !p.contains("vt_")));
}

#[actix_web::test]
async fn registering_again_before_confirming_mails_a_new_token_and_ends_the_old_one() {
    let app = TestApp::spawn().await;
    let email = unique_email("again");
    register(&app, &email, "Again").await;
    let old = app
        .mailed_token("account.confirmation", &email)
        .await
        .unwrap();
    register(&app, &email, "Again").await;
    let new = app
        .mailed_token("account.confirmation", &email)
        .await
        .unwrap();
    assert_ne!(old, new);
    let stale = app
        .post_json("/v1/auth/confirm", &json!({ "token": old }))
        .await;
    assert_problem(stale, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    let fresh = app
        .post_json("/v1/auth/confirm", &json!({ "token": new }))
        .await;
    assert_eq!(fresh.status(), StatusCode::OK);
}

/// Moves a token's clock back by `minutes` (its creation and expiry), as if time had passed.
async fn age_tokens(app: &TestApp, purpose: &'static str, minutes: i64) {
    app.query(move |conn| {
        let rows: Vec<(String, chrono::NaiveDateTime, chrono::NaiveDateTime)> =
            account_tokens::table
                .filter(account_tokens::purpose.eq(purpose))
                .select((
                    account_tokens::id,
                    account_tokens::created_at,
                    account_tokens::expires_at,
                ))
                .load(conn)?;
        for (id, created, expires) in rows {
            let back = chrono::Duration::minutes(minutes);
            diesel::update(account_tokens::table.find(id))
                .set((
                    account_tokens::created_at.eq(created - back),
                    account_tokens::expires_at.eq(expires - back),
                ))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })
    .await
}

#[actix_web::test]
async fn a_password_reset_works_once_within_30_minutes_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let me = app.register(&unique_email("reset"), "Forgetful").await;
    let other_device = json_of(app.login(&me.email, PASSWORD).await, StatusCode::OK).await;
    let ask = |email: String| {
        let app = &app;
        async move {
            app.post_json("/v1/auth/password-reset", &json!({ "email": email }))
                .await
        }
    };
    // Known and unknown addresses get the same answer.
    let known = ask(me.email.clone()).await;
    let unknown = ask(unique_email("nobody")).await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    assert_eq!(
        known.json::<Value>().await.unwrap(),
        unknown.json::<Value>().await.unwrap()
    );
    // A token older than 30 minutes no longer works.
    let expired = app
        .mailed_token("account.password_reset", &me.email)
        .await
        .unwrap();
    age_tokens(&app, "password_reset", 31).await;
    assert!(app
        .mailed_token("account.password_reset", &me.email)
        .await
        .is_none());
    let late = app
        .post_json(
            "/v1/auth/password-reset/confirm",
            &json!({ "token": expired, "password": NEW_PASSWORD }),
        )
        .await;
    assert_problem(late, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    assert_eq!(
        refresh(&app, &me.refresh).await,
        StatusCode::OK,
        "nothing changed"
    );
    let me = Session {
        refresh: json_of(app.login(&me.email, PASSWORD).await, StatusCode::OK).await
            ["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned(),
        ..me
    };
    ask(me.email.clone()).await;
    let token = app
        .mailed_token("account.password_reset", &me.email)
        .await
        .unwrap();
    let lifetime: (chrono::NaiveDateTime, chrono::NaiveDateTime) = app
        .query(|conn| {
            account_tokens::table
                .filter(account_tokens::purpose.eq("password_reset"))
                .filter(account_tokens::used_at.is_null())
                .select((account_tokens::created_at, account_tokens::expires_at))
                .first(conn)
        })
        .await;
    assert_eq!(lifetime.1 - lifetime.0, chrono::Duration::minutes(30));
    let set = |token: String| {
        let app = &app;
        async move {
            app.post_json(
                "/v1/auth/password-reset/confirm",
                &json!({ "token": token, "password": NEW_PASSWORD }),
            )
            .await
        }
    };
    assert_eq!(set(token.clone()).await.status(), StatusCode::NO_CONTENT);
    // Single use.
    assert_problem(
        set(token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    // Every session ended.
    assert_eq!(refresh(&app, &me.refresh).await, StatusCode::UNAUTHORIZED);
    let other = other_device["refresh_token"].as_str().unwrap();
    assert_eq!(refresh(&app, other).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login(&me.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&me.email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert!(notices_of(&app, &me.user_id)
        .await
        .contains(&"account.password_changed".to_owned()));
}

#[actix_web::test]
async fn staff_reset_their_password_the_same_way() {
    let app = TestApp::spawn().await;
    let staff = app.staff(valise::auth::Role::Support).await;
    let asked = app
        .post_json("/v1/auth/password-reset", &json!({ "email": staff.email }))
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let token = app
        .mailed_token("account.password_reset", &staff.email)
        .await
        .unwrap();
    let set = app
        .post_json(
            "/v1/auth/password-reset/confirm",
            &json!({ "token": token, "password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.login(&staff.email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn change_password(app: &TestApp, me: &Session, current: &str) -> reqwest::Response {
    app.authed(Method::POST, "/v1/me/password", me)
        .json(&json!({ "current_password": current, "new_password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn changing_a_password_needs_the_current_one_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let me = app.register(&unique_email("change"), "Changer").await;
    let wrong = change_password(&app, &me, "not my password at all").await;
    let problem =
        assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    assert_eq!(problem["errors"][0]["field"], "current_password");
    assert_eq!(
        app.login(&me.email, PASSWORD).await.status(),
        StatusCode::OK
    );

    let changed = json_of(change_password(&app, &me, PASSWORD).await, StatusCode::OK).await;
    assert_eq!(refresh(&app, &me.refresh).await, StatusCode::UNAUTHORIZED);
    let kept = changed["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(&app, kept).await,
        StatusCode::OK,
        "the caller's new session"
    );
    assert_eq!(
        app.login(&me.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&me.email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

async fn patch_email(app: &TestApp, me: &Session, email: &str) -> reqwest::Response {
    app.authed(Method::PATCH, "/v1/me", me)
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_new_email_applies_only_once_confirmed_and_a_taken_one_answers_the_same() {
    let app = TestApp::spawn().await;
    let me = app.register(&unique_email("mover"), "Mover").await;
    let owner = app.register(&unique_email("owner"), "Owner").await;
    let free = unique_email("free");

    let to_free = patch_email(&app, &me, &free).await;
    let to_taken = patch_email(&app, &me, &owner.email).await;
    assert_eq!(to_free.status(), StatusCode::ACCEPTED);
    assert_eq!(to_taken.status(), StatusCode::ACCEPTED);
    let (a, b): (Value, Value) = (
        to_free.json().await.unwrap(),
        to_taken.json().await.unwrap(),
    );
    assert_eq!(a["email"], me.email, "not applied yet");
    assert_eq!(b["email"], me.email);
    assert_eq!(a.as_object().unwrap().len(), b.as_object().unwrap().len());
    // The owner of the taken address is told; nothing is sent to be confirmed there.
    assert!(notices_of(&app, &owner.user_id)
        .await
        .contains(&"account.email_change_refused".to_owned()));
    assert!(app
        .mailed_token("account.email_change", &owner.email)
        .await
        .is_none());
    // Not applied before confirmation.
    assert_eq!(
        app.login(&free, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let token = app
        .mailed_token("account.email_change", &free)
        .await
        .unwrap();
    let confirmed = app
        .post_json("/v1/auth/email-change/confirm", &json!({ "token": token }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.login(&free, PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        app.login(&me.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let again = app
        .post_json("/v1/auth/email-change/confirm", &json!({ "token": token }))
        .await;
    assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
}

#[actix_web::test]
async fn a_disabled_account_cannot_confirm_a_new_email() {
    let app = TestApp::spawn().await;
    let me = app.register(&unique_email("frozen"), "Frozen").await;
    let free = unique_email("frozen.new");
    assert_eq!(
        patch_email(&app, &me, &free).await.status(),
        StatusCode::ACCEPTED
    );
    let token = app
        .mailed_token("account.email_change", &free)
        .await
        .unwrap();
    app.sql(&format!(
        "UPDATE users SET status = 'disabled' WHERE id = '{}'",
        me.user_id
    ));
    let confirmed = app
        .post_json("/v1/auth/email-change/confirm", &json!({ "token": token }))
        .await;
    assert_problem(
        confirmed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let still = app
        .query({
            let id = me.user_id.clone();
            move |conn| {
                use diesel::prelude::*;
                use valise::db::schema::users;
                users::table
                    .find(id)
                    .select(users::email_bidx)
                    .first::<Option<Vec<u8>>>(conn)
            }
        })
        .await;
    let old_bidx = app
        .crypto
        .blind_index(valise::crypto::index_kind::ACCOUNT_EMAIL, &me.email);
    assert_eq!(still, Some(old_bidx), "the address did not move");
}

async fn cart_quantities(app: &TestApp, user_id: &str) -> Vec<(String, i32)> {
    use valise::db::schema::{cart_items, carts};
    let user_id = user_id.to_owned();
    app.query(move |conn| {
        cart_items::table
            .inner_join(carts::table.on(carts::id.eq(cart_items::cart_id)))
            .filter(carts::owner_user_id.eq(user_id))
            .select((cart_items::variant_id, cart_items::quantity))
            .load(conn)
    })
    .await
}

#[actix_web::test]
async fn a_guest_cart_merges_into_the_accounts_cart_at_login() {
    let app = TestApp::spawn().await;
    let bag = stocked_variant(&app, "merge-bag", 5, 9900).await;
    let case = stocked_variant(&app, "merge-case", 30, 4900).await;
    let me = app.register(&unique_email("merge"), "Merger").await;
    // The account's own cart: 3 bags.
    let mine = json_of(
        app.authed(Method::POST, "/v1/carts", &me)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let added = app
        .authed(
            Method::POST,
            &format!("/v1/carts/{}/items", mine["id"].as_str().unwrap()),
            &me,
        )
        .json(&json!({"variant_id": bag, "quantity": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::OK);
    // As a guest: 4 bags (only 5 exist) and 2 cases.
    let guest = guest_cart(&app, &bag, 4).await;
    let more = app
        .client
        .post(app.url(&format!("/v1/carts/{}/items", guest.id)))
        .header("x-cart-token", &guest.token)
        .json(&json!({"variant_id": case, "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(more.status(), StatusCode::OK);

    let login = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("x-cart-token", &guest.token)
        .json(&json!({"email": me.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let mut lines = cart_quantities(&app, &me.user_id).await;
    lines.sort();
    let mut expected = vec![(bag.clone(), 5), (case.clone(), 2)];
    expected.sort();
    assert_eq!(lines, expected, "quantities add up, capped by stock");
    // The guest cart is gone.
    let gone = app
        .client
        .get(app.url(&format!("/v1/carts/{}", guest.id)))
        .header("x-cart-token", &guest.token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

/// Sign-ins on several devices at once, one sending its guest cart twice, while the
/// account's cart is changed: every guest cart counts once, nothing is lost, stock caps hold.
#[actix_web::test]
async fn concurrent_sign_ins_merge_each_guest_cart_once_within_stock() {
    let app = TestApp::spawn().await;
    let bag = stocked_variant(&app, "race-bag", 50, 9900).await;
    let case = stocked_variant(&app, "race-case", 5, 4900).await;
    let me = app.register(&unique_email("race"), "Racer").await;
    let mine = json_of(
        app.authed(Method::POST, "/v1/carts", &me)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let mine = mine["id"].as_str().unwrap().to_owned();
    let add = |variant: &str, quantity: i32| {
        app.authed(Method::POST, &format!("/v1/carts/{mine}/items"), &me)
            .json(&json!({"variant_id": variant, "quantity": quantity}))
            .send()
    };
    assert_eq!(add(&bag, 1).await.unwrap().status(), StatusCode::OK);
    // Three guest carts of 2 bags and 2 cases each (6 cases asked for, 5 exist).
    let mut guests = Vec::new();
    for _ in 0..3 {
        let guest = guest_cart(&app, &bag, 2).await;
        let more = app
            .client
            .post(app.url(&format!("/v1/carts/{}/items", guest.id)))
            .header("x-cart-token", &guest.token)
            .json(&json!({"variant_id": case, "quantity": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(more.status(), StatusCode::OK);
        guests.push(guest);
    }
    let login = |token: String| {
        app.client
            .post(app.url("/v1/auth/login"))
            .header("x-cart-token", token)
            .json(&json!({"email": me.email, "password": PASSWORD}))
            .send()
    };
    let tokens = [0, 1, 2, 2].map(|i| guests[i].token.clone());
    let (logins, added) = futures_util::future::join(
        futures_util::future::join_all(tokens.map(login)),
        add(&bag, 1),
    )
    .await;
    for response in logins {
        assert_eq!(response.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(added.unwrap().status(), StatusCode::OK);

    let mut lines = cart_quantities(&app, &me.user_id).await;
    lines.sort();
    let mut expected = vec![(bag.clone(), 1 + 3 * 2 + 1), (case.clone(), 5)];
    expected.sort();
    assert_eq!(
        lines, expected,
        "each guest cart once, cases capped by stock"
    );
    let user_id = me.user_id.clone();
    let open: Vec<String> = app
        .query(move |conn| {
            use valise::db::schema::carts;
            carts::table
                .filter(
                    carts::owner_user_id
                        .eq(user_id)
                        .or(carts::owner_user_id.is_null()),
                )
                .filter(carts::status.eq("open"))
                .select(carts::id)
                .load(conn)
        })
        .await;
    assert_eq!(open, [mine], "the guest carts are gone");
}

#[actix_web::test]
async fn confirming_an_address_takes_the_guest_cart_over() {
    let app = TestApp::spawn().await;
    let bag = stocked_variant(&app, "confirm-bag", 5, 9900).await;
    let guest = guest_cart(&app, &bag, 2).await;
    let email = unique_email("newcomer");
    register(&app, &email, "Newcomer").await;
    let token = app
        .mailed_token("account.confirmation", &email)
        .await
        .unwrap();
    let confirmed = app
        .client
        .post(app.url("/v1/auth/confirm"))
        .header("x-cart-token", &guest.token)
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    let tokens = json_of(confirmed, StatusCode::OK).await;
    let user_id = crate::helpers::subject_of(tokens["access_token"].as_str().unwrap());
    assert_eq!(cart_quantities(&app, &user_id).await, vec![(bag, 2)]);
    let by_token = app
        .client
        .get(app.url(&format!("/v1/carts/{}", guest.id)))
        .header("x-cart-token", &guest.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_token.status(),
        StatusCode::NOT_FOUND,
        "the token no longer opens it"
    );
}
