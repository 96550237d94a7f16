//! Registration, login, refresh and logout.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::token::{Claims, TokenKeys, AUDIENCE, ISSUER};

use crate::helpers::{assert_problem, json_of, unique_email, TestApp, PASSWORD};

#[actix_web::test]
async fn registering_answers_202_and_confirming_starts_the_first_session() {
    let app = TestApp::spawn().await;
    let email = unique_email("ada");
    let response = app
        .post_json(
            "/v1/auth/register",
            &json!({"email": email.to_uppercase(), "password": PASSWORD, "name": "Ada Lovelace", "accepted_policy_version": 1}),
        )
        .await;
    let body = json_of(response, StatusCode::ACCEPTED).await;
    assert_eq!(body["status"], "check_inbox");
    // Not usable before its address is confirmed: the same 401 as a wrong password.
    let early = app.login(&email, PASSWORD).await;
    let early = assert_problem(early, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let wrong = assert_problem(
        app.login(&email, "not the password at all").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_eq!(early["detail"], wrong["detail"]);
    let token = app
        .mailed_token("account.confirmation", &email)
        .await
        .expect("a confirmation mailed, to the normalised address");
    let response = app
        .post_json("/v1/auth/confirm", &json!({ "token": token }))
        .await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_of(response, StatusCode::OK).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() <= 900);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("vr_"));
    let access = body["access_token"].as_str().unwrap();
    let me = app
        .client
        .get(app.url("/v1/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let me = json_of(me, StatusCode::OK).await;
    assert!(me["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(me["email"], email, "stored normalised");
    assert_eq!(me["name"], "Ada Lovelace");
    assert_eq!(me["role"], "customer");
    // The token works once.
    let again = app
        .post_json("/v1/auth/confirm", &json!({ "token": token }))
        .await;
    assert_problem(again, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    assert_eq!(app.login(&email, PASSWORD).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn registering_requires_accepting_the_current_policy() {
    let app = TestApp::spawn().await;
    for version in [0, 2] {
        let body = assert_problem(
            app.post_json(
                "/v1/auth/register",
                &json!({"email": unique_email("x"), "password": PASSWORD, "name": "X", "accepted_policy_version": version}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "accepted_policy_version");
    }
}

#[actix_web::test]
async fn registering_twice_with_one_email_answers_the_same_whatever_its_case() {
    let app = TestApp::spawn().await;
    let email = unique_email("twice");
    app.register(&email, "First").await;
    let response = app
        .post_json(
            "/v1/auth/register",
            &json!({"email": email.to_uppercase(), "password": PASSWORD, "name": "Second", "accepted_policy_version": 1}),
        )
        .await;
    let body = json_of(response, StatusCode::ACCEPTED).await;
    assert_eq!(body["status"], "check_inbox");
    assert!(app
        .mailed_token("account.confirmation", &email)
        .await
        .is_none());
}

#[actix_web::test]
async fn registration_refuses_unknown_fields_and_sensitive_data() {
    let app = TestApp::spawn().await;
    let body = assert_problem(
        app.post_json(
            "/v1/auth/register",
            &json!({"email": unique_email("x"), "password": PASSWORD, "name": "X", "accepted_policy_version": 1, "birthday": "1815-12-10"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "birthday");

    for name in [
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "Passport X1234567",
    ] {
        let body = assert_problem(
            app.post_json(
                "/v1/auth/register",
                &json!({"email": unique_email("x"), "password": PASSWORD, "name": name, "accepted_policy_version": 1}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "sensitive-data-refused",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "name");
        assert!(
            !body.to_string().contains(&name[..4]),
            "value echoed: {body}"
        );
    }
}

#[actix_web::test]
async fn the_body_error_contract_holds_on_a_real_route() {
    let app = TestApp::spawn().await;
    let url = app.url("/v1/auth/register");
    let malformed = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(
        malformed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let wrong_type = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(
        wrong_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    let huge = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "a".repeat(70 * 1024)))
        .send()
        .await
        .unwrap();
    assert_problem(huge, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
}

#[actix_web::test]
async fn login_answers_identically_for_an_unknown_email_and_a_wrong_password() {
    let app = TestApp::spawn().await;
    let known = app.register(&unique_email("known"), "Known").await;

    let wrong_password = app.login(&known.email, "not the password at all").await;
    let unknown_email = app
        .login(&unique_email("nobody"), "not the password at all")
        .await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), StatusCode::UNAUTHORIZED);
    let mut a: Value = wrong_password.json().await.unwrap();
    let mut b: Value = unknown_email.json().await.unwrap();
    a["request_id"] = Value::Null;
    b["request_id"] = Value::Null;
    assert_eq!(a, b);

    let ok = app.login(&known.email.to_uppercase(), PASSWORD).await;
    let tokens = json_of(ok, StatusCode::OK).await;
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
}

#[actix_web::test]
async fn repeated_failed_logins_are_throttled_per_account() {
    let app = TestApp::spawn().await;
    let victim = app.register(&unique_email("victim"), "Victim").await;
    for attempt in 1..=5 {
        let response = app.login(&victim.email, "wrong password!!").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
        assert_eq!(response.headers()["x-ratelimit-limit"], "5");
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            (5 - attempt).to_string().as_str()
        );
    }
    // Even the right password waits now: the limit protects the account, not the guess.
    let limited = app.login(&victim.email, PASSWORD).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after));
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;

    // Another account is unaffected.
    let other = app.register(&unique_email("other"), "Other").await;
    assert_eq!(
        app.login(&other.email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn the_throttle_is_shared_by_every_instance() {
    let app = TestApp::spawn().await;
    let other = app.spawn_sibling().await;
    let victim = app.register(&unique_email("shared"), "Victim").await;
    for i in 0..5 {
        let instance = if i % 2 == 0 { &app } else { &other };
        instance.login(&victim.email, "wrong password!!").await;
    }
    assert_eq!(
        other.login(&victim.email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// A login attempt from `client` (behind the test's trusted loopback proxy).
async fn login_from(app: &TestApp, client: &str, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/auth/login"))
        .header("x-forwarded-for", client)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn behind_a_proxy() -> TestApp {
    TestApp::spawn_configured(|c| {
        c.trusted_proxies = valise::http::client_ip::TrustedProxies::parse("127.0.0.1").unwrap()
    })
    .await
}

#[actix_web::test]
async fn parallel_wrong_passwords_are_checked_no_more_than_the_limit() {
    let app = TestApp::spawn().await;
    let victim = app.register(&unique_email("parallel"), "Victim").await;
    let attempts = (0..20).map(|_| app.login(&victim.email, "wrong password!!"));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, limited), (5, 15), "{statuses:?}");
}

#[actix_web::test]
async fn a_stranger_elsewhere_cannot_lock_the_owner_out() {
    let app = behind_a_proxy().await;
    let owner = app.register(&unique_email("owner"), "Owner").await;
    for _ in 0..5 {
        let r = login_from(&app, "203.0.113.66", &owner.email, "guessing guessing").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    for _ in 0..20 {
        let r = login_from(&app, "203.0.113.66", &owner.email, "guessing guessing").await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    // Even the right password from the stranger's address waits…
    let r = login_from(&app, "203.0.113.66", &owner.email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // …while the owner, from their own address, signs in.
    let r = login_from(&app, "198.51.100.1", &owner.email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// Moves every login throttling row of the test database `minutes` into the past.
async fn age_login_locks(app: &TestApp, minutes: i64) {
    use diesel::prelude::*;
    use valise::db::schema::rate_limits;
    app.query(move |conn| {
        let rows: Vec<(String, chrono::NaiveDateTime)> = rate_limits::table
            .filter(rate_limits::bucket.like("login:%"))
            .select((rate_limits::bucket, rate_limits::window_start))
            .load(conn)?;
        for (bucket, start) in rows {
            diesel::update(rate_limits::table.find(bucket))
                .set(rate_limits::window_start.eq(start - chrono::Duration::minutes(minutes)))
                .execute(conn)?;
        }
        Ok::<_, anyhow::Error>(())
    })
    .await;
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn each_failure_after_a_lock_doubles_it_and_a_success_starts_over() {
    let app = TestApp::spawn().await;
    let victim = app.register(&unique_email("backoff"), "Victim").await;
    for _ in 0..5 {
        assert_eq!(
            app.login(&victim.email, "wrong password!!").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let first = app.login(&victim.email, "wrong password!!").await;
    assert_eq!(first.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=900).contains(&retry_after(&first)));

    age_login_locks(&app, 16).await;
    assert_eq!(
        app.login(&victim.email, "wrong password!!").await.status(),
        StatusCode::UNAUTHORIZED,
        "one more try once the lock is over"
    );
    let second = app.login(&victim.email, "wrong password!!").await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((901..=1800).contains(&retry_after(&second)), "doubled");

    age_login_locks(&app, 31).await;
    assert_eq!(
        app.login(&victim.email, PASSWORD).await.status(),
        StatusCode::OK
    );
    for _ in 0..5 {
        assert_eq!(
            app.login(&victim.email, "wrong password!!").await.status(),
            StatusCode::UNAUTHORIZED,
            "a success starts the count over"
        );
    }
}

#[actix_web::test]
async fn guessing_spread_over_many_addresses_meets_the_account_ceiling() {
    let app = behind_a_proxy().await;
    let victim = app.register(&unique_email("spread"), "Victim").await;
    for n in 0..10 {
        for _ in 0..5 {
            let client = format!("203.0.113.{n}");
            let r = login_from(&app, &client, &victim.email, "guessing guessing").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{client}");
        }
    }
    let r = login_from(&app, "198.51.100.77", &victim.email, "guessing guessing").await;
    assert_problem(r, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    // Other accounts are not affected.
    let other = app.register(&unique_email("bystander"), "Bystander").await;
    let r = login_from(&app, "198.51.100.77", &other.email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/v1/auth/refresh", &json!({"refresh_token": token}))
        .await
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("r"), "R").await;

    let first = refresh(&app, &session.refresh).await;
    let rotated = json_of(first, StatusCode::OK).await;
    let second_token = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, session.refresh);

    // The old token again: reuse. The family dies, including the token issued after it.
    assert_problem(
        refresh(&app, &session.refresh).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    assert_problem(
        refresh(&app, &second_token).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // A new login starts a new, working family.
    let login = json_of(app.login(&session.email, PASSWORD).await, StatusCode::OK).await;
    let fresh = refresh(&app, login["refresh_token"].as_str().unwrap()).await;
    assert_eq!(fresh.status(), StatusCode::OK);
}

#[actix_web::test]
async fn logout_revokes_the_session() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("out"), "Out").await;
    let response = app
        .authed(Method::POST, "/v1/auth/logout", &session)
        .json(&json!({"refresh_token": session.refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        refresh(&app, &session.refresh).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    let anonymous = app
        .post_json("/v1/auth/logout", &json!({"refresh_token": "vr_x"}))
        .await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[actix_web::test]
async fn forged_expired_and_foreign_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let session = app.register(&unique_email("jwt"), "Jwt").await;
    let me = |token: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/v1/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(me(session.access.clone()).await.status(), StatusCode::OK);

    // Tampered payload: role raised to admin, signature kept.
    let parts: Vec<&str> = session.access.split('.').collect();
    let mut claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
            .unwrap(),
    )
    .unwrap();
    claims["role"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    assert_problem(
        me(tampered).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // alg: none.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    );
    assert_problem(me(none).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // Correctly signed, but expired, or for another audience or issuer.
    let keys = TokenKeys::load(&app.config.jwt_secret).unwrap();
    let now = chrono::Utc::now().timestamp();
    let base = |aud: &str, iss: &str, exp: i64| Claims {
        iss: iss.into(),
        aud: aud.into(),
        sub: session.user_id.clone(),
        role: "customer".into(),
        iat: now - 60,
        exp,
        jti: "t".into(),
    };
    let valid = keys.sign_claims(&base(AUDIENCE, ISSUER, now + 60)).unwrap();
    assert_eq!(
        me(valid).await.status(),
        StatusCode::OK,
        "control: a correct token works"
    );
    for claims in [
        base(AUDIENCE, ISSUER, now - 120),
        base("another-api", ISSUER, now + 60),
        base(AUDIENCE, "someone-else", now + 60),
    ] {
        let token = keys.sign_claims(&claims).unwrap();
        assert_problem(me(token).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let unauthenticated = app.get("/v1/me").await;
    assert!(unauthenticated.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_problem(unauthenticated, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[actix_web::test]
async fn behind_chained_proxies_each_client_address_has_its_own_login_limit() {
    // client → CDN (10.0.0.2) → load balancer (127.0.0.1, the test's socket) → Valise
    let app = TestApp::spawn_configured(|c| {
        c.trusted_proxies =
            valise::http::client_ip::TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap()
    })
    .await;
    let attempt = |forwarded: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/auth/login"))
                .header("x-forwarded-for", forwarded)
                .json(&json!({"email": unique_email("guess"), "password": "not a real password"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for n in 0..30 {
        // What the client writes itself (the left-most entry) changes every time.
        let forwarded = format!("192.0.2.{n}, 203.0.113.7, 10.0.0.2");
        assert_eq!(attempt(forwarded).await, StatusCode::UNAUTHORIZED);
    }
    let forged = "192.0.2.200, 203.0.113.7, 10.0.0.2".to_owned();
    assert_eq!(attempt(forged).await, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxies is not locked out.
    let other = "198.51.100.9, 10.0.0.2".to_owned();
    assert_eq!(attempt(other).await, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn look_alike_and_markup_emails_do_not_register() {
    let app = TestApp::spawn().await;
    let register = |email: &str| {
        let body = json!({"email": email, "password": PASSWORD, "name": "Look Alike", "accepted_policy_version": 1});
        let app = &app;
        async move { app.post_json("/v1/auth/register", &body).await }
    };
    for email in [
        "ada\u{200B}@example.com",
        "ada@exa\u{200B}mple.com",
        "ada@example\u{202E}moc.com",
        "ada@p\u{0430}ypal.com",
        "<script>@example.com",
        "\"quoted\"@example.com",
    ] {
        let problem = assert_problem(
            register(email).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "email", "{email:?}");
        assert!(
            !problem.to_string().contains("script>"),
            "the address is not echoed: {problem}"
        );
    }
    // Full-width letters are the same mailbox as their ASCII form.
    assert_eq!(
        register("ｑｕｅｎｔｉｎ＠ｅｘａｍｐｌｅ．ｃｏｍ")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert!(app
        .mailed_token("account.confirmation", "quentin@example.com")
        .await
        .is_some());
    // An internationalised domain signs in under either spelling.
    assert_eq!(
        register("ada@Bücher.example").await.status(),
        StatusCode::ACCEPTED
    );
    let token = app
        .mailed_token("account.confirmation", "ada@xn--bcher-kva.example")
        .await
        .unwrap();
    let confirmed = app
        .post_json("/v1/auth/confirm", &json!({ "token": token }))
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(
        app.login("ada@xn--bcher-kva.example", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}
