//! The audit chain: intact after activity, and any edit, deletion, reordering or truncation
//! of its rows is reported.

use reqwest::StatusCode;
use serde_json::Value;
use valise::auth::Role;

use crate::helpers::{json_of, unique_email, Session, TestApp};

async fn setup() -> (TestApp, Session) {
    let app = TestApp::spawn().await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    for i in 0..3 {
        app.register(&unique_email(&format!("a{i}")), "Audited Person")
            .await;
    }
    (app, officer)
}

async fn verify(app: &TestApp, officer: &Session) -> Value {
    let response = app.get_as("/v1/admin/audit/verify", officer).await;
    json_of(response, StatusCode::OK).await
}

fn tamper(app: &TestApp, sql: &str) {
    app.sql(sql);
}

#[actix_web::test]
async fn an_untouched_chain_verifies() {
    let (app, officer) = setup().await;
    let report = verify(&app, &officer).await;
    assert_eq!(report["intact"], true, "{report}");
    // The staff member's creation, then each customer's registration and confirmation.
    assert_eq!(report["checked"], 7);
    assert_eq!(report["head_seq"], 7);
    assert_eq!(report["first_broken_seq"], Value::Null);
}

#[actix_web::test]
async fn an_edited_entry_is_reported() {
    let (app, officer) = setup().await;
    tamper(
        &app,
        "UPDATE audit_log SET purpose = 'nothing to see' WHERE seq = 3",
    );
    let report = verify(&app, &officer).await;
    assert_eq!(report["intact"], false);
    assert_eq!(report["first_broken_seq"], 3, "{report}");
}

#[actix_web::test]
async fn a_deleted_entry_is_reported() {
    let (app, officer) = setup().await;
    tamper(&app, "DELETE FROM audit_log WHERE seq = 2");
    let report = verify(&app, &officer).await;
    assert_eq!(report["intact"], false);
    assert_eq!(report["first_broken_seq"], 2, "{report}");
}

#[actix_web::test]
async fn reordered_entries_are_reported() {
    let (app, officer) = setup().await;
    tamper(
        &app,
        "UPDATE audit_log SET seq = 1000 WHERE seq = 2; \
         UPDATE audit_log SET seq = 2 WHERE seq = 3; \
         UPDATE audit_log SET seq = 3 WHERE seq = 1000;",
    );
    let report = verify(&app, &officer).await;
    assert_eq!(report["intact"], false);
    assert_eq!(report["first_broken_seq"], 2, "{report}");
}

#[actix_web::test]
async fn a_truncated_tail_is_reported() {
    let (app, officer) = setup().await;
    tamper(&app, "DELETE FROM audit_log WHERE seq = 4");
    let report = verify(&app, &officer).await;
    assert_eq!(report["intact"], false);
    assert_eq!(report["first_broken_seq"], 4, "{report}");
}

#[actix_web::test]
async fn the_log_lists_ids_and_field_names_never_values() {
    let app = TestApp::spawn().await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    let customer = app.register(&unique_email("listed"), "Listed Person").await;
    let path = format!("/v1/admin/audit?subject_id={}", customer.user_id);
    let page = json_of(app.get_as(&path, &officer).await, StatusCode::OK).await;
    let entries = page["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "registered, then confirmed");
    assert!(entries.iter().any(|e| e["action"] == "account.register"));
    assert!(entries.iter().any(|e| e["action"] == "account.confirm"));
    assert!(entries.iter().all(|e| e["actor_kind"] == "subject"));
    assert!(!page.to_string().contains(&customer.email));
    assert!(!page.to_string().contains("Listed Person"));
}

#[actix_web::test]
async fn the_cli_verify_exits_non_zero_on_a_broken_chain() {
    let (app, _officer) = setup().await;
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_valise"))
            .args(["audit", "verify"])
            .env("DATABASE_URL", app.config.database_url.to_env_value())
            .env("VALISE_DATA_DIR", &app.config.data_dir)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let intact = run();
    assert!(
        intact.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        intact.status,
        String::from_utf8_lossy(&intact.stdout),
        String::from_utf8_lossy(&intact.stderr)
    );
    tamper(&app, "UPDATE audit_log SET action = 'x' WHERE seq = 2");
    let broken = run();
    assert_eq!(broken.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&broken.stdout).contains("\"first_broken_seq\": 2"));
}

#[actix_web::test]
async fn the_audit_log_records_the_servers_request_id_not_the_callers() {
    let app = TestApp::spawn().await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    let email = unique_email("rid");
    let response = app
        .client
        .post(app.url("/v1/auth/register"))
        .header("x-request-id", "forged-by-the-caller")
        .json(&serde_json::json!({
            "email": email, "password": crate::helpers::PASSWORD,
            "name": "Request Id", "accepted_policy_version": 1
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let server_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let crypto = app.crypto.clone();
    let user_id = app
        .query(move |conn| {
            let email = valise::accounts::model::Email::parse("email", &email)?;
            valise::accounts::store::find_by_email(conn, &crypto, &email)
                .map(|row| row.expect("registered").id.to_string())
                .map_err(anyhow::Error::from)
        })
        .await;
    let path = format!("/v1/admin/audit?subject_id={user_id}");
    let page = json_of(app.get_as(&path, &officer).await, StatusCode::OK).await;
    let entry = &page["data"][0];
    assert_eq!(entry["action"], "account.register");
    assert_eq!(entry["request_id"], server_id.as_str());
    assert!(!page.to_string().contains("forged-by-the-caller"));
}

#[actix_web::test]
async fn a_tail_cut_with_its_head_rewritten_is_caught_by_the_anchors() {
    let dir = tempfile::tempdir().unwrap();
    let anchors = dir.path().join("audit-anchors.jsonl");
    let file = anchors.clone();
    let app = TestApp::spawn_configured(move |c| {
        c.audit_anchor_file = Some(file);
        c.audit_anchor_interval = std::time::Duration::from_millis(100);
    })
    .await;
    for i in 0..4 {
        app.register(&unique_email(&format!("anchored{i}")), "Anchored Person")
            .await;
    }
    // However many entries a registration writes, the head as it stands is what gets anchored.
    let head: i64 = app
        .query(|conn| {
            use diesel::prelude::*;
            use valise::db::schema::audit_head;
            audit_head::table
                .select(audit_head::seq)
                .first::<i64>(conn)
                .map_err(anyhow::Error::from)
        })
        .await;
    assert!(head >= 4, "four registrations are audited");
    let needle = format!("\"seq\":{head}");
    let anchored = crate::helpers::eventually(std::time::Duration::from_secs(10), || async {
        std::fs::read_to_string(&anchors).is_ok_and(|t| t.contains(&needle))
    })
    .await;
    assert!(anchored, "the head was anchored");

    // Someone with write access to the database cuts the last two entries and points the
    // head back at the entry before them: the chain alone still verifies.
    tamper(
        &app,
        "DELETE FROM audit_log WHERE seq >= 3; \
         UPDATE audit_head SET seq = 2, mac = (SELECT mac FROM audit_log WHERE seq = 2);",
    );
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_valise"))
            .args(["audit", "verify"])
            .args(extra)
            .env("DATABASE_URL", app.config.database_url.to_env_value())
            .env("VALISE_DATA_DIR", &app.config.data_dir)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let alone = run(&[]);
    assert!(
        alone.status.success(),
        "without anchors the cut is invisible"
    );
    let anchored = run(&["--anchor", anchors.to_str().unwrap()]);
    assert_eq!(anchored.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&anchored.stdout);
    assert!(stdout.contains("\"holds\": false"), "{stdout}");
    assert!(stdout.contains("the log was cut"), "{stdout}");

    // A forged anchor line is refused, not trusted.
    let forged = dir.path().join("forged.jsonl");
    std::fs::write(
        &forged,
        r#"{"seq":2,"mac":"00","at":"2026-01-01T00:00:00Z","sig":"00"}"#,
    )
    .unwrap();
    let refused = run(&["--anchor", forged.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("not signed"));
}
