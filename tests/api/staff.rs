//! Roles: each role against each staff route, and no privilege escalation.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp, PASSWORD};

/// (method, path, body, minimum role)
fn staff_routes() -> Vec<(Method, &'static str, Value, Role)> {
    vec![
        (Method::GET, "/v1/admin/staff", Value::Null, Role::Admin),
        (Method::POST, "/v1/admin/staff", json!({}), Role::Admin),
        (
            Method::PATCH,
            "/v1/admin/staff/usr_00000000000000000000000000000000",
            json!({}),
            Role::Admin,
        ),
        (Method::GET, "/v1/admin/api-keys", Value::Null, Role::Admin),
        (Method::POST, "/v1/admin/api-keys", json!({}), Role::Admin),
        (
            Method::DELETE,
            "/v1/admin/api-keys/key_00000000000000000000000000000000",
            Value::Null,
            Role::Admin,
        ),
        (
            Method::POST,
            "/v1/admin/keys/rotate",
            Value::Null,
            Role::Admin,
        ),
        (
            Method::GET,
            "/v1/admin/audit",
            Value::Null,
            Role::PrivacyOfficer,
        ),
        (
            Method::GET,
            "/v1/admin/audit/verify",
            Value::Null,
            Role::PrivacyOfficer,
        ),
    ]
}

async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    body: &Value,
    session: Option<&Session>,
) -> StatusCode {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(s) = session {
        request = request.bearer_auth(&s.access);
    }
    if !body.is_null() {
        request = request.json(body);
    }
    request.send().await.unwrap().status()
}

#[actix_web::test]
async fn every_role_is_allowed_or_forbidden_on_every_staff_route() {
    let app = TestApp::spawn().await;
    let customer = app.register(&unique_email("c"), "Customer").await;
    let mut sessions = vec![(Role::Customer, customer)];
    for role in [
        Role::Support,
        Role::Fulfillment,
        Role::Manager,
        Role::Admin,
        Role::PrivacyOfficer,
    ] {
        sessions.push((role, app.staff(role).await));
    }
    for (method, path, body, minimum) in staff_routes() {
        assert_eq!(
            call(&app, &method, path, &body, None).await,
            StatusCode::UNAUTHORIZED,
            "{method} {path} anonymous"
        );
        for (role, session) in &sessions {
            let status = call(&app, &method, path, &body, Some(session)).await;
            if role.includes(minimum) {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{method} {path} as {role:?}: {status}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {role:?}");
            }
        }
    }
}

#[actix_web::test]
async fn nobody_grants_a_role_they_do_not_hold() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    let officer = app.staff(Role::PrivacyOfficer).await;

    let create = |role: &str| json!({"email": unique_email("new"), "password": PASSWORD, "name": "New Staff", "role": role});
    let response = app
        .authed(Method::POST, "/v1/admin/staff", &admin)
        .json(&create("privacy_officer"))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;

    let created = app
        .authed(Method::POST, "/v1/admin/staff", &admin)
        .json(&create("manager"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let manager: Value = created.json().await.unwrap();
    assert_eq!(manager["role"], "manager");
    assert_eq!(
        location,
        format!("/v1/admin/staff/{}", manager["id"].as_str().unwrap())
    );

    // Admin cannot touch a privacy officer's account, nor make someone one.
    let path = format!("/v1/admin/staff/{}", officer.user_id);
    let response = app
        .authed(Method::PATCH, &path, &admin)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let path = format!("/v1/admin/staff/{}", manager["id"].as_str().unwrap());
    let response = app
        .authed(Method::PATCH, &path, &admin)
        .json(&json!({"role": "privacy_officer"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;

    // Nor mint an API key with a role it does not hold.
    let response = app
        .authed(Method::POST, "/v1/admin/api-keys", &admin)
        .json(&json!({"name": "audit export", "role": "privacy_officer"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[actix_web::test]
async fn a_demotion_or_disabling_takes_effect_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    let manager = app.staff(Role::Manager).await;
    assert_eq!(
        app.get_as("/v1/me", &manager).await.status(),
        StatusCode::OK
    );

    let body = disable(&app, &admin, &manager).await;
    assert_eq!(body["status"], "disabled");
    // The still-unexpired access token no longer works, nor does logging in.
    assert_eq!(
        app.get_as("/v1/me", &manager).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&manager.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// `PATCH /v1/admin/staff/{id}` disabling `staff`, by `admin`; the answer's body.
async fn disable(app: &TestApp, admin: &Session, staff: &Session) -> Value {
    let path = format!("/v1/admin/staff/{}", staff.user_id);
    let response = app
        .authed(Method::PATCH, &path, admin)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::OK).await
}

/// Asks for `GET /v1/me` as `session` until it is refused: at most five seconds (the
/// versions are polled every half second).
async fn refused_soon(app: &TestApp, session: &Session) {
    let start = std::time::Instant::now();
    loop {
        let status = app.get_as("/v1/me", session).await.status();
        if status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "the token still works"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[actix_web::test]
async fn another_instance_stops_a_disabled_account_within_a_poll() {
    let app = TestApp::spawn().await;
    let sibling = app.spawn_sibling().await;
    let admin = app.staff(Role::Admin).await;
    let manager = app.staff(Role::Manager).await;
    // The sibling has looked the account up, and now answers from what it remembers.
    for _ in 0..2 {
        assert_eq!(
            sibling.get_as("/v1/me", &manager).await.status(),
            StatusCode::OK
        );
    }
    disable(&app, &admin, &manager).await;
    assert_eq!(
        app.get_as("/v1/me", &manager).await.status(),
        StatusCode::UNAUTHORIZED
    );
    refused_soon(&sibling, &manager).await;
}

#[actix_web::test]
async fn a_change_made_outside_the_api_stops_its_tokens_within_a_poll() {
    use diesel::prelude::*;
    use valise::db::schema::users;
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    for _ in 0..2 {
        assert_eq!(
            app.get_as("/v1/me", &manager).await.status(),
            StatusCode::OK
        );
    }
    // As an operator's SQL would: no route ran, so only the principals version, bumped by
    // the database itself, tells the instance.
    let id = manager.user_id.clone();
    app.query(move |conn| {
        diesel::update(users::table.find(id))
            .set(users::status.eq("disabled"))
            .execute(conn)
    })
    .await;
    refused_soon(&app, &manager).await;
}

#[actix_web::test]
async fn the_last_active_admin_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    let path = format!("/v1/admin/staff/{}", admin.user_id);
    let response = app
        .authed(Method::PATCH, &path, &admin)
        .json(&json!({"role": "manager"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::CONFLICT, "conflict").await;
}

#[actix_web::test]
async fn an_api_key_acts_with_its_role_and_stops_when_revoked() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    let created = app
        .authed(Method::POST, "/v1/admin/api-keys", &admin)
        .json(&json!({"name": "back office", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let key: Value = created.json().await.unwrap();
    let secret = key["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("vk_"));

    let with_key = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .header("x-api-key", &secret)
    };
    assert_eq!(
        with_key(Method::GET, "/v1/admin/webhooks")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // Integrators are not people: /v1/me is not theirs.
    let me = with_key(Method::GET, "/v1/me").send().await.unwrap();
    assert_problem(me, StatusCode::FORBIDDEN, "forbidden").await;

    let listed = json_of(
        app.get_as("/v1/admin/api-keys", &admin).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown only once"
    );

    let path = format!("/v1/admin/api-keys/{}", key["id"].as_str().unwrap());
    assert_eq!(location, path, "Location names the key to revoke");
    let revoked = app
        .authed(Method::DELETE, &path, &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let refused = with_key(Method::GET, "/v1/admin/webhooks")
        .send()
        .await
        .unwrap();
    assert_problem(refused, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

/// Creates an API key as `creator` and returns its secret.
async fn api_key(app: &TestApp, creator: &Session, role: &str) -> String {
    let created = app
        .authed(Method::POST, "/v1/admin/api-keys", creator)
        .json(&json!({"name": "back office", "role": role}))
        .send()
        .await
        .unwrap();
    let key = json_of(created, StatusCode::CREATED).await;
    key["secret"].as_str().unwrap().to_owned()
}

async fn status_with_key(app: &TestApp, secret: &str, method: Method, path: &str) -> StatusCode {
    app.client
        .request(method, app.url(path))
        .header("x-api-key", secret)
        .send()
        .await
        .unwrap()
        .status()
}

#[actix_web::test]
async fn an_api_key_stops_when_its_creator_is_disabled() {
    let app = TestApp::spawn().await;
    let root = app.staff(Role::Admin).await;
    let creator = app.staff(Role::Admin).await;
    let secret = api_key(&app, &creator, "admin").await;
    assert_eq!(
        status_with_key(&app, &secret, Method::GET, "/v1/admin/webhooks").await,
        StatusCode::OK
    );

    let path = format!("/v1/admin/staff/{}", creator.user_id);
    let response = app
        .authed(Method::PATCH, &path, &root)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        status_with_key(&app, &secret, Method::GET, "/v1/admin/webhooks").await,
        StatusCode::UNAUTHORIZED,
        "a disabled creator's key stops at once"
    );
    // Re-enabling the account does not bring back what disabling revoked.
    let response = app
        .authed(Method::PATCH, &path, &root)
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        status_with_key(&app, &secret, Method::GET, "/v1/admin/webhooks").await,
        StatusCode::UNAUTHORIZED
    );
    let listed = json_of(
        app.get_as("/v1/admin/api-keys", &root).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| !k["revoked_at"].is_null()),
        "{listed}"
    );
}

#[actix_web::test]
async fn an_api_key_is_never_worth_more_than_its_creator_is_now() {
    let app = TestApp::spawn().await;
    let root = app.staff(Role::Admin).await;
    let creator = app.staff(Role::Admin).await;
    let admin_key = api_key(&app, &creator, "admin").await;
    let support_key = api_key(&app, &creator, "support").await;

    // Demoted to manager: the admin key stops, the support key (a role still held) works.
    let path = format!("/v1/admin/staff/{}", creator.user_id);
    let response = app
        .authed(Method::PATCH, &path, &root)
        .json(&json!({"role": "manager"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        status_with_key(&app, &admin_key, Method::GET, "/v1/admin/webhooks").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_with_key(&app, &support_key, Method::GET, "/v1/admin/orders").await,
        StatusCode::OK
    );

    // A change that bypasses the API (another tool, a restore) is caught at use too.
    let id = creator.user_id.clone();
    app.query(move |conn| {
        use diesel::prelude::*;
        use valise::db::schema::users;
        diesel::update(users::table.find(&id))
            .set(users::role.eq("customer"))
            .execute(conn)
    })
    .await;
    assert_eq!(
        status_with_key(&app, &support_key, Method::GET, "/v1/admin/orders").await,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn staff_and_api_key_management_refuse_api_key_callers() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    let secret = api_key(&app, &admin, "admin").await;
    let other = app.staff(Role::Manager).await;
    let staff_patch = format!("/v1/admin/staff/{}", admin.user_id);
    let key_delete = "/v1/admin/api-keys/key_00000000000000000000000000000000".to_owned();
    let other_patch = format!("/v1/admin/staff/{}", other.user_id);
    let attempts: Vec<(Method, &str, Value)> = vec![
        (Method::GET, "/v1/admin/staff", Value::Null),
        (
            Method::POST,
            "/v1/admin/staff",
            json!({"email": unique_email("new"), "password": PASSWORD, "name": "New Admin", "role": "admin"}),
        ),
        (Method::PATCH, &staff_patch, json!({"status": "active"})),
        (Method::PATCH, &other_patch, json!({"role": "admin"})),
        (Method::GET, "/v1/admin/api-keys", Value::Null),
        (
            Method::POST,
            "/v1/admin/api-keys",
            json!({"name": "another", "role": "admin"}),
        ),
        (Method::DELETE, &key_delete, Value::Null),
    ];
    for (method, path, body) in attempts {
        let mut request = app
            .client
            .request(method.clone(), app.url(path))
            .header("x-api-key", &secret);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Nothing changed: the manager is still a manager.
    let listed = json_of(app.get_as("/v1/admin/staff", &admin).await, StatusCode::OK).await;
    let manager = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == other.user_id.as_str())
        .unwrap();
    assert_eq!(manager["role"], "manager");
}
