//! The retention engine: every rule finds what is due, a dry run only counts, a real run
//! purges in batches, a second run finds nothing, and each real run is audited.

use chrono::Duration;
use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::db::schema::{
    carts, dsr_codes, dsr_requests, idempotency_keys, order_items, orders, refresh_tokens, users,
};

use crate::fixtures::{customer_order, stocked_variant};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp, PASSWORD};

async fn run(app: &TestApp, officer: &Session, dry_run: bool) -> Value {
    let response = app
        .authed(
            Method::POST,
            &format!("/v1/admin/retention/run?dry_run={dry_run}"),
            officer,
        )
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::OK).await
}

fn count(report: &Value, rule: &str) -> i64 {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == rule)
        .unwrap_or_else(|| panic!("no rule {rule}: {report}"))["count"]
        .as_i64()
        .unwrap()
}

#[actix_web::test]
async fn every_rule_purges_what_is_due_once() {
    let app = TestApp::spawn().await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    let support = app.staff(Role::Support).await;
    let variant = stocked_variant(&app, "kept-a-while", 10, 4900).await;
    let now = valise::db::now();

    // An order closed yesterday (its personal part is due), one closed 11 years ago (its
    // accounting record is due too), an account idle for 4 years, and stale technical rows.
    let ada = app.register(&unique_email("ret-ada"), "Ada King").await;
    let recent = customer_order(&app, &ada, &variant).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ancient = customer_order(&app, &ada, &variant).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (r, a) = (recent.clone(), ancient.clone());
    app.query(move |conn| {
        diesel::update(orders::table.find(r))
            .set((
                orders::status.eq("closed"),
                orders::closed_at.eq(Some(now - Duration::days(1))),
            ))
            .execute(conn)?;
        let long_ago = now - Duration::days(11 * 365);
        diesel::update(orders::table.find(a))
            .set((
                orders::status.eq("closed"),
                orders::closed_at.eq(Some(long_ago)),
                orders::updated_at.eq(long_ago),
            ))
            .execute(conn)
    })
    .await;
    let idle = app
        .register(&unique_email("ret-idle"), "Idle Customer")
        .await;
    let idle_id = idle.user_id.clone();
    app.query(move |conn| {
        let long_ago = now - Duration::days(4 * 365);
        diesel::update(users::table.find(&idle_id))
            .set(users::created_at.eq(long_ago))
            .execute(conn)?;
        diesel::update(refresh_tokens::table.filter(refresh_tokens::user_id.eq(&idle_id)))
            .set(refresh_tokens::created_at.eq(long_ago))
            .execute(conn)
    })
    .await;
    let guest = json_of(
        app.post_json(
            "/v1/privacy/requests",
            &json!({"email": unique_email("ret-guest"), "kind": "access"}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let guest_request = guest["id"].as_str().unwrap().to_owned();
    let g = guest_request.clone();
    app.query(move |conn| {
        diesel::update(dsr_codes::table.find(g))
            .set(dsr_codes::expires_at.eq(now - Duration::hours(1)))
            .execute(conn)?;
        diesel::update(idempotency_keys::table)
            .set(idempotency_keys::created_at.eq(now - Duration::days(2)))
            .execute(conn)?;
        diesel::update(carts::table)
            .set(carts::expires_at.eq(now - Duration::hours(1)))
            .execute(conn)
    })
    .await;

    // An answered consultation from two years ago; a request answered four years ago; the
    // consent evidence of a subject erased eleven years ago.
    let manager = app.staff(Role::Manager).await;
    let product = crate::fixtures::create(
        &app,
        &manager,
        &crate::fixtures::product("asked-long-ago", "travel", "abs", [55, 40, 20], 9900, &[1]),
    )
    .await;
    let asked = json_of(
        app.post_json(
            &format!(
                "/v1/products/{}/consultations",
                product["id"].as_str().unwrap()
            ),
            &json!({"question": "Is it waterproof?", "contact_email": unique_email("asker")}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let consultation = asked["id"].as_str().unwrap().to_owned();
    let answered = app
        .authed(
            Method::POST,
            &format!("/v1/admin/consultations/{consultation}/answer"),
            &support,
        )
        .json(&json!({"answer": "Splash-proof."}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    let bob = app.register(&unique_email("ret-bob"), "Bob Stone").await;
    app.authed(Method::PUT, "/v1/me/consents/personalization", &bob)
        .json(&json!({"granted": true}))
        .send()
        .await
        .unwrap();
    app.authed(Method::PUT, "/v1/me/consents/personalization", &bob)
        .json(&json!({"granted": false}))
        .send()
        .await
        .unwrap();
    let (c, b) = (consultation.clone(), bob.user_id.clone());
    app.query(move |conn| {
        use valise::db::schema::{consultations, erasure_ledger};
        diesel::update(consultations::table.find(c))
            .set(consultations::answered_at.eq(Some(now - Duration::days(730))))
            .execute(conn)?;
        diesel::update(dsr_requests::table.filter(dsr_requests::user_id.eq(&b)))
            .set(dsr_requests::completed_at.eq(Some(now - Duration::days(4 * 365))))
            .execute(conn)?;
        diesel::insert_into(erasure_ledger::table)
            .values((
                erasure_ledger::subject_id.eq(&b),
                erasure_ledger::erased_at.eq(now - Duration::days(11 * 365)),
                erasure_ledger::reason.eq("erasure_request"),
            ))
            .execute(conn)
    })
    .await;

    assert_problem(
        app.authed(
            Method::POST,
            "/v1/admin/retention/run?dry_run=true",
            &support,
        )
        .send()
        .await
        .unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // A dry run counts and changes nothing.
    let dry = run(&app, &officer, true).await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(count(&dry, "order_personal"), 2);
    assert_eq!(count(&dry, "accounting"), 1);
    assert_eq!(count(&dry, "inactive_accounts"), 1);
    assert_eq!(count(&dry, "dsr_codes"), 1);
    assert_eq!(count(&dry, "consultations"), 1, "{dry}");
    assert_eq!(count(&dry, "dsr_requests"), 1);
    assert_eq!(count(&dry, "consent_evidence"), 2);
    assert_eq!(count(&dry, "idempotency_keys"), 2);
    assert!(count(&dry, "expired_carts") >= 2);
    let order_view = app.get_as("/v1/orders", &ada).await;
    let listed = json_of(order_view, StatusCode::OK).await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        2,
        "nothing deleted yet"
    );
    assert!(
        listed["data"][0]["contact_email"].is_string(),
        "nothing shredded yet"
    );

    let purged = run(&app, &officer, false).await;
    assert_eq!(count(&purged, "order_personal"), 2);
    assert_eq!(count(&purged, "accounting"), 1);
    assert_eq!(count(&purged, "inactive_accounts"), 1);
    assert_eq!(
        count(&purged, "closed_accounts"),
        1,
        "the idle account's empty row goes too"
    );

    // The recent order stays, without its personal part; the ancient one is gone.
    let listed = json_of(app.get_as("/v1/orders", &ada).await, StatusCode::OK).await;
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], recent.as_str());
    assert!(data[0]["contact_email"].is_null());
    assert_eq!(
        data[0]["items"].as_array().unwrap().len(),
        1,
        "accounting kept"
    );
    let a = ancient.clone();
    let left: i64 = app
        .query(move |conn| {
            order_items::table
                .filter(order_items::order_id.eq(a))
                .count()
                .get_result(conn)
        })
        .await;
    assert_eq!(left, 0);
    assert_eq!(
        app.login(&idle.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let g = guest_request.clone();
    let lapsed: String = app
        .query(move |conn| {
            dsr_requests::table
                .find(g)
                .select(dsr_requests::status)
                .first(conn)
        })
        .await;
    assert_eq!(lapsed, "cancelled");

    // Idempotent: nothing left to do.
    let again = run(&app, &officer, false).await;
    for rule in again["rules"].as_array().unwrap() {
        assert_eq!(rule["count"], 0, "{rule}");
    }
    let log = json_of(
        app.get_as("/v1/admin/audit?action=retention.run", &officer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        log["data"].as_array().unwrap().len(),
        2,
        "one entry per real run"
    );
}

#[test]
fn the_command_line_runs_the_rules() {
    let (url, _guard) = crate::helpers::TestDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_valise"))
        .args(["retention", "run", "--dry-run"])
        .env("DATABASE_URL", url.to_env_value())
        .env("VALISE_DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    let names: Vec<&str> = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    for rule in [
        "order_personal",
        "accounting",
        "inactive_accounts",
        "analytics_raw",
        "analytics_salts",
        "dsr_codes",
        "idempotency_keys",
        "refresh_tokens",
        "expired_carts",
    ] {
        assert!(names.contains(&rule), "{rule} in {names:?}");
    }
}

/// Runs the rules as if it were `now`, with the app's settings.
async fn run_at(app: &TestApp, now: chrono::NaiveDateTime) -> valise::retention::engine::Report {
    let (crypto, settings) = (
        app.crypto.clone(),
        valise::retention::Settings::from_config(&app.config),
    );
    app.query(move |conn| valise::retention::engine::run(conn, &crypto, &settings, now, false))
        .await
}

fn handled(report: &valise::retention::engine::Report, rule: &str) -> i64 {
    report
        .rules
        .iter()
        .find(|r| r.rule == rule)
        .map(|r| r.count)
        .unwrap()
}

#[actix_web::test]
async fn with_a_moving_clock_an_order_is_shredded_then_deleted_at_the_right_times() {
    let app = TestApp::spawn_configured(|c| {
        c.retention.order_personal_days_after_close = 7;
        c.retention.accounting_years = 2;
    })
    .await;
    let variant = stocked_variant(&app, "clocked", 10, 4900).await;
    let ada = app.register(&unique_email("clock"), "Ada King").await;
    let closed = customer_order(&app, &ada, &variant).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let open = customer_order(&app, &ada, &variant).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t0 = valise::db::now();
    let c = closed.clone();
    app.query(move |conn| {
        diesel::update(orders::table.find(c))
            .set((orders::status.eq("closed"), orders::closed_at.eq(Some(t0))))
            .execute(conn)
    })
    .await;
    let key_alive = |id: String| {
        let crypto = app.crypto.clone();
        app.query(move |conn| Ok::<_, anyhow::Error>(crypto.data_key(conn, &id).is_ok()))
    };
    let exists =
        |id: String| app.query(move |conn| orders::table.find(id).count().get_result::<i64>(conn));

    // Within the 7 days after closing: nothing.
    let report = run_at(&app, t0 + Duration::days(6)).await;
    assert_eq!(handled(&report, "order_personal"), 0);
    assert!(key_alive(closed.clone()).await);
    // After them: the personal part is shredded, the record stays.
    let report = run_at(&app, t0 + Duration::days(8)).await;
    assert_eq!(handled(&report, "order_personal"), 1);
    assert!(!key_alive(closed.clone()).await);
    assert_eq!(exists(closed.clone()).await, 1);
    // Within the statutory period the record stays; after it, it goes.
    let report = run_at(&app, t0 + Duration::days(2 * 365 - 1)).await;
    assert_eq!(handled(&report, "accounting"), 0);
    let report = run_at(&app, t0 + Duration::days(2 * 365 + 1)).await;
    assert_eq!(handled(&report, "accounting"), 1);
    assert_eq!(exists(closed.clone()).await, 0);
    // Nothing else touched: the open order keeps its key and its record, the account works.
    assert!(key_alive(open.clone()).await);
    assert_eq!(exists(open).await, 1);
    assert_eq!(app.get_as("/v1/me", &ada).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_replay_whose_answer_was_erased_is_gone_and_retention_deletes_its_record() {
    use crate::fixtures::{checkout, checkout_body, guest_cart};
    let app = TestApp::spawn().await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    let variant = stocked_variant(&app, "erased-replay", 5, 4900).await;
    let cart = guest_cart(&app, &variant, 1).await;
    let body = checkout_body("erased@example.com");
    let placed = checkout(&app, &cart, "erased-key", &body).await;
    let order = json_of(placed, StatusCode::CREATED).await;
    let number = order["number"].as_str().unwrap().to_owned();

    // The order's personal part is shredded (as retention does after it closes).
    let (crypto, n) = (app.crypto.clone(), number.clone());
    app.query(move |conn| {
        let id: String = orders::table
            .filter(orders::number.eq(&n))
            .select(orders::id)
            .first(conn)?;
        crypto.shred(conn, &id).map_err(anyhow::Error::from)
    })
    .await;

    let replay = checkout(&app, &cart, "erased-key", &body).await;
    let problem = assert_problem(replay, StatusCode::GONE, "personal-data-erased").await;
    assert!(!problem.to_string().contains("erased@example.com"));

    let report = run(&app, &officer, false).await;
    assert_eq!(count(&report, "idempotency_keys_erased"), 1, "{report}");
    assert_eq!(
        count(&run(&app, &officer, false).await, "idempotency_keys_erased"),
        0
    );
    let remaining: i64 = app
        .query(|conn| idempotency_keys::table.count().get_result(conn))
        .await;
    assert_eq!(remaining, 0);
    // Nothing left to replay: the cart is checked out, so the key answers 404 like any
    // unknown cart.
    let after = checkout(&app, &cart, "erased-key", &body).await;
    assert_problem(after, StatusCode::NOT_FOUND, "not-found").await;
}

#[actix_web::test]
async fn account_tokens_are_deleted_once_used_or_expired() {
    let app = TestApp::spawn().await;
    // A confirmed registration leaves its confirmation token used; a reset request leaves
    // an unused one that expires in 30 minutes.
    let me = app.register(&unique_email("tokens"), "Token Holder").await;
    let asked = app
        .post_json("/v1/auth/password-reset", &json!({ "email": me.email }))
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let tokens = || {
        app.query(|conn| {
            valise::db::schema::account_tokens::table
                .select(valise::db::schema::account_tokens::purpose)
                .order(valise::db::schema::account_tokens::purpose.asc())
                .load::<String>(conn)
        })
    };
    assert_eq!(tokens().await, ["confirmation", "password_reset"]);

    let now = chrono::Utc::now().naive_utc();
    let report = run_at(&app, now).await;
    assert_eq!(handled(&report, "account_tokens"), 1, "the used one");
    assert_eq!(tokens().await, ["password_reset"]);
    let report = run_at(&app, now + Duration::minutes(31)).await;
    assert_eq!(handled(&report, "account_tokens"), 1, "the expired one");
    assert!(tokens().await.is_empty());
    let report = run_at(&app, now + Duration::minutes(32)).await;
    assert_eq!(handled(&report, "account_tokens"), 0);
}

#[actix_web::test]
async fn a_registration_never_confirmed_is_erased_and_its_address_can_register_again() {
    use valise::db::schema::{account_tokens, data_keys, erasure_ledger, notifications};
    let app = TestApp::spawn_configured(|c| c.retention.unconfirmed_account_days = 7).await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    let confirmed = app.register(&unique_email("confirmed"), "Confirmed").await;
    let email = unique_email("never-confirmed");
    let body = json!({"email": email, "password": PASSWORD, "name": "Never Confirmed",
                      "accepted_policy_version": 1});
    let register = || app.post_json("/v1/auth/register", &body);
    assert_eq!(register().await.status(), StatusCode::ACCEPTED);
    let first = app
        .mailed_token("account.confirmation", &email)
        .await
        .unwrap();
    let unconfirmed: String = app
        .query(|conn| {
            users::table
                .filter(users::status.eq("unconfirmed"))
                .select(users::id)
                .first(conn)
        })
        .await;
    // Both accounts were made eight days ago.
    let now = valise::db::now();
    app.query(move |conn| {
        diesel::update(users::table.filter(users::role.eq("customer")))
            .set(users::created_at.eq(now - Duration::days(8)))
            .execute(conn)
    })
    .await;

    // Its confirmation mail still works (it was sent today): the account waits for it.
    let report = run_at(&app, now).await;
    assert_eq!(handled(&report, "unconfirmed_accounts"), 0);
    // Once the mail has expired, the registration goes; the confirmed account stays.
    let report = run_at(&app, now + Duration::hours(25)).await;
    assert_eq!(handled(&report, "unconfirmed_accounts"), 1);
    assert_eq!(handled(&report, "closed_accounts"), 1, "its empty row too");
    let report = run_at(&app, now + Duration::hours(26)).await;
    assert_eq!(handled(&report, "unconfirmed_accounts"), 0);
    assert_eq!(
        app.get_as("/v1/me", &confirmed).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login(&confirmed.email, PASSWORD).await.status(),
        StatusCode::OK
    );

    // Crypto-shredded as an erasure is, and recorded in the ledger; nothing of it is left.
    let id = unconfirmed.clone();
    let (rows, key, ledger, tokens, carts_left, sessions): (
        i64,
        Option<Vec<u8>>,
        String,
        i64,
        i64,
        i64,
    ) = app
        .query(move |conn| {
            Ok::<_, diesel::result::Error>((
                users::table.find(&id).count().get_result(conn)?,
                data_keys::table
                    .filter(data_keys::subject_id.eq(&id))
                    .select(data_keys::wrapped)
                    .first(conn)?,
                erasure_ledger::table
                    .filter(erasure_ledger::subject_id.eq(&id))
                    .select(erasure_ledger::reason)
                    .first(conn)?,
                account_tokens::table
                    .filter(account_tokens::user_id.eq(&id))
                    .count()
                    .get_result(conn)?,
                carts::table
                    .filter(carts::owner_user_id.eq(&id))
                    .count()
                    .get_result(conn)?,
                refresh_tokens::table
                    .filter(refresh_tokens::user_id.eq(&id))
                    .count()
                    .get_result(conn)?,
            ))
        })
        .await;
    assert_eq!(rows, 0);
    assert_eq!(key, None, "its data key is destroyed");
    assert_eq!(ledger, "retention");
    assert_eq!((tokens, carts_left, sessions), (0, 0, 0));
    // Audited by id and field names only.
    let log = json_of(
        app.get_as(
            &format!("/v1/admin/audit?action=subject.erase&subject_id={unconfirmed}"),
            &officer,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let entries = log["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["purpose"], "retention: address never confirmed");
    assert!(!log.to_string().contains(email.split('@').next().unwrap()));

    // The old link is dead; registering again is a new registration with its confirmation,
    // not "already registered".
    let stale = app
        .post_json("/v1/auth/confirm", &json!({ "token": first }))
        .await;
    assert_problem(stale, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    assert_eq!(register().await.status(), StatusCode::ACCEPTED);
    let second = app
        .mailed_token("account.confirmation", &email)
        .await
        .expect("a new confirmation");
    assert_ne!(first, second);
    let already: i64 = app
        .query(|conn| {
            notifications::table
                .filter(notifications::kind.eq("account.already_registered"))
                .count()
                .get_result(conn)
        })
        .await;
    assert_eq!(already, 0);
    let confirmed_again = app
        .post_json("/v1/auth/confirm", &json!({ "token": second }))
        .await;
    let session = json_of(confirmed_again, StatusCode::OK).await;
    assert_ne!(
        crate::helpers::subject_of(session["access_token"].as_str().unwrap()),
        unconfirmed,
        "a new account"
    );
}
