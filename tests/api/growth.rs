//! Retention of the tables that only grew: the audit log (pruned from its oldest end, still
//! verifiable and still tamper-evident), finished webhook deliveries, and the erasure ledger
//! (kept back to the oldest backup that rotation keeps); and `valise backup --dir --keep`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use chrono::Duration;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;
use valise::auth::Role;
use valise::db::schema::{audit_head, audit_log, backups, consents, erasure_ledger};

use crate::helpers::{json_of, unique_email, Session, TestApp};

/// Runs the rules as if it were `now`, with the app's settings; returns `(rule, count)`s.
async fn run_at(app: &TestApp, now: chrono::NaiveDateTime) -> Vec<(String, i64)> {
    let (crypto, settings) = (
        app.crypto.clone(),
        valise::retention::Settings::from_config(&app.config),
    );
    let report = app
        .query(move |conn| valise::retention::engine::run(conn, &crypto, &settings, now, false))
        .await;
    report
        .rules
        .iter()
        .map(|r| (r.rule.as_str().to_owned(), r.count))
        .collect()
}

fn handled(report: &[(String, i64)], rule: &str) -> i64 {
    report
        .iter()
        .find(|(r, _)| r == rule)
        .unwrap_or_else(|| panic!("no rule {rule}"))
        .1
}

async fn verify(app: &TestApp, officer: &Session) -> Value {
    let response = app.get_as("/v1/admin/audit/verify", officer).await;
    json_of(response, StatusCode::OK).await
}

/// `valise ARGS` against the app's database and keys.
fn valise(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_valise"))
        .args(args)
        .env_remove("VALISE_BIND")
        .env_remove("VALISE_BACKUP_KEEP")
        .env("DATABASE_URL", app.config.database_url.to_env_value())
        .env("VALISE_DATA_DIR", &app.config.data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn head_seq(app: &TestApp) -> i64 {
    app.query(|conn| {
        audit_head::table
            .select(audit_head::seq)
            .first::<i64>(conn)
            .map_err(anyhow::Error::from)
    })
    .await
}

async fn oldest_kept_seq(app: &TestApp) -> Option<i64> {
    app.query(|conn| {
        audit_log::table
            .select(diesel::dsl::min(audit_log::seq))
            .first::<Option<i64>>(conn)
            .map_err(anyhow::Error::from)
    })
    .await
}

#[actix_web::test]
async fn pruning_the_audit_log_keeps_it_verifiable_and_tampering_still_shows() {
    let app = TestApp::spawn().await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    for i in 0..2 {
        app.register(&unique_email(&format!("old{i}")), "Old Entry")
            .await;
    }
    let old_head = head_seq(&app).await;
    // A checkpoint of the head as an instance anchors it, before anything is pruned.
    let anchors = tempfile::tempdir().unwrap();
    let anchor_file = anchors.path().join("anchors.jsonl");
    let crypto = app.crypto.clone();
    let anchor = app
        .query(move |conn| {
            valise::audit::anchor::current(conn, &crypto)
                .map(Option::unwrap)
                .map_err(anyhow::Error::from)
        })
        .await;
    valise::audit::anchor::publish(&anchor, Some(&anchor_file)).unwrap();
    let cutoff = valise::db::now();
    for i in 0..2 {
        app.register(&unique_email(&format!("new{i}")), "New Entry")
            .await;
    }
    let before = verify(&app, &officer).await;
    assert_eq!(before["intact"], true, "{before}");
    assert_eq!(before["pruned_through_seq"], 0, "{before}");

    // The audit period ends exactly at `cutoff`: everything written before it goes.
    let days = app.config.retention.audit_days;
    let report = run_at(&app, cutoff + Duration::days(days)).await;
    assert_eq!(handled(&report, "audit_log"), old_head, "{report:?}");
    assert_eq!(oldest_kept_seq(&app).await, Some(old_head + 1));
    let again = run_at(&app, cutoff + Duration::days(days)).await;
    assert_eq!(handled(&again, "audit_log"), 0, "nothing more is due");

    let after = verify(&app, &officer).await;
    assert_eq!(after["intact"], true, "{after}");
    assert_eq!(after["pruned_through_seq"], old_head, "{after}");
    let head = head_seq(&app).await;
    assert_eq!(after["head_seq"], head);
    assert_eq!(after["checked"], head - old_head, "{after}");
    let cli = valise(
        &app,
        &["audit", "verify", "--anchor", anchor_file.to_str().unwrap()],
    );
    let out = succeeded(cli);
    assert!(out.contains("\"holds\": true"), "{out}");
    assert!(
        out.contains(&format!("\"pruned_through_seq\": {old_head}")),
        "{out}"
    );

    // Tampering after the pruning is still caught: an edit of the first kept entry...
    let first_kept = old_head + 1;
    app.sql(&format!(
        "UPDATE audit_log SET purpose = 'nothing to see' WHERE seq = {first_kept}"
    ));
    let edited = verify(&app, &officer).await;
    assert_eq!(edited["intact"], false);
    assert_eq!(edited["first_broken_seq"], first_kept, "{edited}");
    // ... its deletion (as if retention had taken it) ...
    app.sql(&format!("DELETE FROM audit_log WHERE seq = {first_kept}"));
    let deleted = verify(&app, &officer).await;
    assert_eq!(deleted["intact"], false);
    assert_eq!(deleted["first_broken_seq"], first_kept, "{deleted}");
    // ... and a base moved over it by someone without the key.
    app.sql(&format!(
        "UPDATE audit_base SET seq = {first_kept}, mac = (SELECT mac FROM audit_log WHERE seq = {})",
        first_kept + 1
    ));
    let moved = verify(&app, &officer).await;
    assert_eq!(moved["intact"], false);
    let problem = moved["problem"].as_str().unwrap();
    assert!(problem.contains("not signed"), "{moved}");
    let cli = valise(&app, &["audit", "verify"]);
    assert_eq!(cli.status.code(), Some(1));
    // Reset to "nothing was ever deleted": entry 1 is missing.
    app.sql("UPDATE audit_base SET seq = 0, mac = sig");
    let reset = verify(&app, &officer).await;
    assert_eq!(reset["intact"], false, "{reset}");
}

#[actix_web::test]
async fn retention_never_prunes_past_an_entry_that_does_not_verify() {
    let app = TestApp::spawn().await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    for i in 0..3 {
        app.register(&unique_email(&format!("t{i}")), "Tampered")
            .await;
    }
    app.sql("UPDATE audit_log SET purpose = 'nothing to see' WHERE seq = 3");
    let days = app.config.retention.audit_days;
    let report = run_at(&app, valise::db::now() + Duration::days(days + 1)).await;
    assert_eq!(handled(&report, "audit_log"), 2, "only entries 1 and 2 go");
    let after = verify(&app, &officer).await;
    assert_eq!(after["intact"], false, "{after}");
    assert_eq!(
        after["first_broken_seq"], 3,
        "the evidence is kept: {after}"
    );
    assert_eq!(after["pruned_through_seq"], 2);
}

#[actix_web::test]
async fn finished_webhook_deliveries_leave_the_log_after_their_period() {
    use valise::db::schema::{webhook_deliveries, webhook_subscriptions};
    let app = TestApp::spawn().await;
    let now = valise::db::now();
    let days = app.config.retention.webhook_delivery_days;
    let old = now - Duration::days(days + 1);
    let recent = now - Duration::days(days - 1);
    // (id, status, created, last tried)
    let rows = [
        ("whd_old_delivered", "delivered", old, Some(old)),
        ("whd_old_dead", "dead", old, Some(old)),
        ("whd_old_cancelled", "cancelled", old, None),
        ("whd_old_pending", "pending", old, Some(old)),
        ("whd_recent_delivered", "delivered", recent, Some(recent)),
        ("whd_old_but_retried_lately", "dead", old, Some(recent)),
    ];
    app.query(move |conn| {
        diesel::insert_into(webhook_subscriptions::table)
            .values((
                webhook_subscriptions::id.eq("whs_growth"),
                webhook_subscriptions::url.eq("https://erp.example/hook"),
                webhook_subscriptions::events.eq("order.*"),
                webhook_subscriptions::created_by.eq("usr_admin"),
                webhook_subscriptions::created_at.eq(old),
            ))
            .execute(conn)?;
        for (id, status, created, tried) in rows {
            diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::id.eq(id),
                    webhook_deliveries::subscription_id.eq("whs_growth"),
                    webhook_deliveries::event_id.eq(format!("evt_{id}")),
                    webhook_deliveries::event_type.eq("order.paid"),
                    webhook_deliveries::payload.eq("{}"),
                    webhook_deliveries::status.eq(status),
                    webhook_deliveries::attempts.eq(1),
                    // Never due while the test runs: the worker leaves the pending one alone.
                    webhook_deliveries::next_attempt_at.eq(now + Duration::days(365)),
                    webhook_deliveries::last_attempt_at.eq(tried),
                    webhook_deliveries::created_at.eq(created),
                ))
                .execute(conn)?;
        }
        Ok::<_, anyhow::Error>(())
    })
    .await;
    let report = run_at(&app, now).await;
    assert_eq!(handled(&report, "webhook_deliveries"), 3, "{report:?}");
    let mut left: Vec<String> = app
        .query(|conn| {
            webhook_deliveries::table
                .select(webhook_deliveries::id)
                .load(conn)
                .map_err(anyhow::Error::from)
        })
        .await;
    left.sort();
    assert_eq!(
        left,
        [
            "whd_old_but_retried_lately",
            "whd_old_pending",
            "whd_recent_delivered"
        ]
    );
    assert_eq!(handled(&run_at(&app, now).await, "webhook_deliveries"), 0);
}

#[actix_web::test]
async fn finished_notifications_leave_the_outbox_and_the_inbox_after_their_period() {
    use valise::db::schema::notifications;
    let app = TestApp::spawn().await;
    let customer = app.customer(&unique_email("notices"), "Ada Lovelace").await;
    let now = valise::db::now();
    let days = app.config.retention.notification_days;
    let old = now - Duration::days(days + 1);
    let recent = now - Duration::days(days - 1);
    // (id, status, created, last tried): the inbox shows every one of them until retention.
    let rows = [
        ("ntf_old_delivered", "delivered", old, Some(old)),
        ("ntf_old_dead", "dead", old, Some(old)),
        ("ntf_old_pending", "pending", old, Some(old)),
        ("ntf_recent_delivered", "delivered", recent, Some(recent)),
        ("ntf_old_but_retried_lately", "dead", old, Some(recent)),
    ];
    let user_id = customer.user_id.clone();
    app.query(move |conn| {
        for (id, status, created, tried) in rows {
            diesel::insert_into(notifications::table)
                .values((
                    notifications::id.eq(id),
                    notifications::recipient_user_id.eq(&user_id),
                    notifications::kind.eq("policy.revised"),
                    notifications::payload.eq(r#"{"version":2}"#),
                    notifications::status.eq(status),
                    notifications::attempts.eq(1),
                    // Never due while the test runs: the worker leaves the pending one alone.
                    notifications::next_attempt_at.eq(now + Duration::days(365)),
                    notifications::last_attempt_at.eq(tried),
                    notifications::created_at.eq(created),
                ))
                .execute(conn)?;
        }
        Ok::<_, anyhow::Error>(())
    })
    .await;
    let inbox = || async {
        let body = json_of(
            app.get_as("/v1/me/notifications?limit=50", &customer).await,
            StatusCode::OK,
        )
        .await;
        let mut ids: Vec<String> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(inbox().await.len(), 5);
    let report = run_at(&app, now).await;
    assert_eq!(handled(&report, "notifications"), 2, "{report:?}");
    assert_eq!(
        inbox().await,
        [
            "ntf_old_but_retried_lately",
            "ntf_old_pending",
            "ntf_recent_delivered"
        ]
    );
    assert_eq!(handled(&run_at(&app, now).await, "notifications"), 0);
    // The data map says so.
    let map = json_of(app.get("/v1/privacy/data-map").await, StatusCode::OK).await;
    let category = map["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "notifications")
        .cloned()
        .expect("a notifications category");
    assert_eq!(category["retention"]["days"], days);
    assert_eq!(
        category["enforced_by"],
        serde_json::json!(["notifications"])
    );
}

/// Snapshot files (`valise-*.backup`) in `dir`, sorted.
fn sets(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("valise-") && n.ends_with(".backup"))
        .collect();
    names.sort();
    names
}

async fn registered(app: &TestApp) -> Vec<(String, chrono::NaiveDateTime)> {
    app.query(|conn| {
        backups::table
            .order(backups::created_at.asc())
            .select((backups::file, backups::created_at))
            .load(conn)
            .map_err(anyhow::Error::from)
    })
    .await
}

#[actix_web::test]
async fn backup_rotation_keeps_the_newest_sets_and_the_ledger_back_to_the_oldest() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let backups_dir = dir.path().join("nightly");
    let arg = backups_dir.to_str().unwrap().to_owned();
    // Entries erased long ago, one of them with consent evidence still kept, and one recent.
    let now = valise::db::now();
    app.query(move |conn| {
        for (subject, erased_at) in [
            ("usr_erased_long_ago", now - Duration::days(30)),
            ("usr_erased_with_evidence", now - Duration::days(30)),
            ("usr_erased_lately", now - Duration::hours(1)),
        ] {
            diesel::insert_into(erasure_ledger::table)
                .values((
                    erasure_ledger::subject_id.eq(subject),
                    erasure_ledger::erased_at.eq(erased_at),
                    erasure_ledger::reason.eq("erasure_request"),
                ))
                .execute(conn)?;
        }
        diesel::insert_into(consents::table)
            .values((
                consents::id.eq("cns_evidence"),
                consents::subject_id.eq("usr_erased_with_evidence"),
                consents::purpose.eq("marketing_notifications"),
                consents::granted.eq(true),
                consents::policy_version.eq(1),
                consents::source.eq("api"),
                consents::at.eq(now - Duration::days(400)),
            ))
            .execute(conn)?;
        Ok::<_, anyhow::Error>(())
    })
    .await;
    // No rotated backup recorded: the ledger is kept whole.
    assert_eq!(handled(&run_at(&app, now).await, "erasure_ledger"), 0);

    std::fs::create_dir_all(&backups_dir).unwrap();
    std::fs::write(backups_dir.join("by-hand.backup"), b"not ours").unwrap();
    let mut taken = Vec::new();
    for round in 1..=3 {
        let out = succeeded(valise(&app, &["backup", "--dir", &arg, "--keep", "2"]));
        assert!(out.contains("erasure ledger"), "{out}");
        let kept = sets(&backups_dir);
        assert_eq!(kept.len(), round.min(2), "{kept:?}");
        taken.push(kept.last().unwrap().clone());
        if round == 3 {
            assert!(out.contains("rotated out"), "{out}");
            assert!(out.contains(&taken[0]), "the oldest set goes: {out}");
        }
    }
    assert_eq!(sets(&backups_dir), taken[1..], "the two newest stay");
    for name in &taken[1..] {
        let snapshot = backups_dir.join(name);
        succeeded(valise(
            &app,
            &["backup", "--verify", snapshot.to_str().unwrap()],
        ));
        let ledger =
            std::fs::read_to_string(format!("{}.erasures.jsonl", snapshot.display())).unwrap();
        assert_eq!(ledger.lines().count(), 3, "{ledger}");
    }
    for gone in [
        taken[0].clone(),
        format!("{}.manifest.json", taken[0]),
        format!("{}.erasures.jsonl", taken[0]),
    ] {
        assert!(!backups_dir.join(&gone).exists(), "{gone} was deleted");
    }
    assert!(
        backups_dir.join("by-hand.backup").exists(),
        "other files are not touched"
    );
    let recorded = registered(&app).await;
    let files: Vec<String> = recorded
        .iter()
        .map(|(f, _)| {
            Path::new(f)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(files, taken[1..], "the database knows the kept sets");

    // The oldest kept set was taken just now: the entry erased a month ago is in it already
    // and goes; the one with consent evidence stays (its clock); the recent one stays.
    let report = run_at(&app, valise::db::now()).await;
    assert_eq!(handled(&report, "erasure_ledger"), 1, "{report:?}");
    let mut left: Vec<String> = app
        .query(|conn| {
            erasure_ledger::table
                .select(erasure_ledger::subject_id)
                .load(conn)
                .map_err(anyhow::Error::from)
        })
        .await;
    left.sort();
    assert_eq!(left, ["usr_erased_lately", "usr_erased_with_evidence"]);

    // --keep 0 is refused before anything is written.
    let refused = valise(&app, &["backup", "--dir", &arg, "--keep", "0"]);
    assert!(!refused.status.success());
    assert_eq!(sets(&backups_dir).len(), 2);
}

#[actix_web::test]
async fn the_data_map_shows_every_growing_table_with_its_period() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/privacy/data-map").await;
    let map = json_of(response, StatusCode::OK).await;
    let category = |id: &str| {
        map["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no category {id}"))
            .clone()
    };
    let audit = category("audit");
    assert_eq!(audit["retention"]["days"], app.config.retention.audit_days);
    assert_eq!(audit["enforced_by"], serde_json::json!(["audit_log"]));
    let deliveries = category("webhook_deliveries");
    assert_eq!(
        deliveries["retention"]["days"],
        app.config.retention.webhook_delivery_days
    );
    assert_eq!(deliveries["retention"]["from"], "delivery finished");
    assert_eq!(
        deliveries["enforced_by"],
        serde_json::json!(["webhook_deliveries"])
    );
    let ledger = category("erasure_ledger");
    assert_eq!(ledger["retention"]["from"], "oldest kept backup");
    assert_eq!(ledger["enforced_by"], serde_json::json!(["erasure_ledger"]));
}
