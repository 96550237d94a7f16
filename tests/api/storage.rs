//! What actually lands on disk: no personal value in plaintext, ciphertexts bound to their
//! place, and shredding that makes a subject unreadable.

use diesel::prelude::*;
use reqwest::StatusCode;
use valise::accounts::store as accounts;
use valise::db::schema::{data_keys, users};
use valise::db::DatabaseUrl;

use crate::fixtures::{contains, database_bytes, start_server_logging_to};
use crate::helpers::{json_of_blocking, unique_email, TestApp, PASSWORD};

#[test]
fn no_personal_value_is_stored_or_logged_in_plaintext() {
    let (url, _guard) = crate::helpers::TestDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let seeded = std::process::Command::new(env!("CARGO_BIN_EXE_valise"))
        .args(["seed", "--demo", "--products", "5"])
        .env("DATABASE_URL", url.to_env_value())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(seeded.status.success());
    let log_path = dir.path().join("server.log");
    let server = start_server_logging_to(
        &url.to_env_value(),
        std::fs::File::create(&log_path).unwrap(),
        &[
            ("VALISE_DATA_DIR", dir.path().to_str().unwrap()),
            ("RUST_LOG", "debug"),
        ],
    );
    let base = format!("http://127.0.0.1:{}", server.port);
    let client = reqwest::blocking::Client::new();
    let people = [
        (
            "zebediah.quux",
            "Zebediah Quux-Fairweather",
            "+44 20 7946 0958",
            "+442079460958",
        ),
        (
            "philippa.ortolan",
            "Philippa Ortolan",
            "+33 6 98 76 54 32",
            "+33698765432",
        ),
    ];
    let mut secrets = Vec::new();
    for (local, name, phone, stored_phone) in people {
        let email = format!("{local}@example.org");
        let response = client
            .post(format!("{base}/v1/auth/register"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD, "name": name, "accepted_policy_version": 1}))
            .send()
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        // The operator's support tool confirms the address (this test reads no mailbox).
        let confirmed = std::process::Command::new(env!("CARGO_BIN_EXE_valise"))
            .args(["accounts", "confirm", &email])
            .env("DATABASE_URL", url.to_env_value())
            .env("VALISE_DATA_DIR", dir.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(confirmed.status.success(), "{confirmed:?}");
        let response = client
            .post(format!("{base}/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .unwrap();
        let body = json_of_blocking(response, StatusCode::OK);
        let access = body["access_token"].as_str().unwrap();
        let patched = client
            .patch(format!("{base}/v1/me"))
            .bearer_auth(access)
            .json(&serde_json::json!({"phone": phone}))
            .send()
            .unwrap();
        assert_eq!(patched.status(), StatusCode::OK);
        // A failed login with the email must not leak it either.
        client
            .post(format!("{base}/v1/auth/login"))
            .json(&serde_json::json!({"email": email, "password": "wrong password!"}))
            .send()
            .unwrap();
        secrets.extend([
            email,
            local.to_owned(),
            name.to_owned(),
            stored_phone.to_owned(),
        ]);
    }
    drop(server);

    let stored = database_bytes(&url);
    let log = std::fs::read(&log_path).unwrap();
    assert!(
        contains(&log, "method=POST route=/v1/auth/register status=202"),
        "the log was captured"
    );
    for secret in &secrets {
        assert!(
            !contains(&stored, secret),
            "{secret} is readable in the database"
        );
        assert!(
            !contains(&log, secret),
            "{secret} is readable in the server log"
        );
    }
}

#[actix_web::test]
async fn a_ciphertext_moved_to_another_place_or_altered_fails_to_open() {
    let app = TestApp::spawn().await;
    let a = app.register(&unique_email("a"), "Person A").await;
    let b = app.register(&unique_email("b"), "Person B").await;
    let (a_id, b_id, crypto) = (a.user_id.clone(), b.user_id.clone(), app.crypto.clone());
    app.query(move |conn| {
        let a_row = accounts::get(conn, &a_id)?.unwrap();
        // A's email in A's name column: wrong column.
        diesel::update(users::table.find(&a_id))
            .set(users::name_sealed.eq(&a_row.email_sealed))
            .execute(conn)?;
        // A's email in B's row: wrong row and wrong key.
        diesel::update(users::table.find(&b_id))
            .set(users::email_sealed.eq(&a_row.email_sealed))
            .execute(conn)?;
        let a_row = accounts::get(conn, &a_id)?.unwrap();
        assert!(accounts::open_profile(conn, &crypto, &a_row).is_err());
        let b_row = accounts::get(conn, &b_id)?.unwrap();
        assert!(accounts::open_profile(conn, &crypto, &b_row).is_err());
        Ok::<_, anyhow::Error>(())
    })
    .await;

    let c = app.register(&unique_email("c"), "Person C").await;
    let (c_id, crypto) = (c.user_id.clone(), app.crypto.clone());
    app.query(move |conn| {
        let mut row = accounts::get(conn, &c_id)?.unwrap();
        let mut sealed = row.name_sealed.clone().unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 0x01;
        diesel::update(users::table.find(&c_id))
            .set(users::name_sealed.eq(Some(&sealed)))
            .execute(conn)?;
        row.name_sealed = Some(sealed);
        assert!(accounts::open_profile(conn, &crypto, &row).is_err());
        Ok::<_, anyhow::Error>(())
    })
    .await;
}

#[actix_web::test]
async fn a_shredded_subject_is_unreadable_and_unfindable() {
    let app = TestApp::spawn().await;
    let gone = app.register(&unique_email("gone"), "Gone Person").await;
    let kept = app.register(&unique_email("kept"), "Kept Person").await;
    let (gone_id, kept_id, crypto) = (
        gone.user_id.clone(),
        kept.user_id.clone(),
        app.crypto.clone(),
    );
    app.query(move |conn| {
        crypto.shred(conn, &gone_id)?;
        let row = accounts::get(conn, &gone_id)?.unwrap();
        assert!(row.email_bidx.is_none(), "the blind index is gone");
        assert!(matches!(
            accounts::open_profile(conn, &crypto, &row),
            Err(valise::crypto::CryptoError::Shredded)
        ));
        let wrapped: Option<Vec<u8>> = data_keys::table
            .find(&gone_id)
            .select(data_keys::wrapped)
            .first(conn)?;
        assert!(wrapped.is_none(), "the data key is destroyed");
        // Nobody else is touched.
        let other = accounts::get(conn, &kept_id)?.unwrap();
        assert!(accounts::open_profile(conn, &crypto, &other).is_ok());
        Ok::<_, anyhow::Error>(())
    })
    .await;
    assert_eq!(
        app.login(&gone.email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login(&kept.email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

/// Whether any 12 consecutive bytes of `needle` are in `haystack` (a partly overwritten copy
/// counts: the 96 bits left may be the half of a key that matters).
fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    needle
        .windows(12)
        .any(|part| haystack.windows(part.len()).any(|w| w == part))
}

/// Every file in the directory of a SQLite database, read whole.
fn files_beside(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect()
}

#[actix_web::test]
async fn a_shredded_key_leaves_no_copy_in_any_database_file() {
    let app = TestApp::spawn().await;
    let gone = app.register(&unique_email("wal"), "Wal Erased").await;
    let id = gone.user_id.clone();
    let wrapped: Vec<u8> = app
        .query(move |conn| {
            data_keys::table
                .find(&id)
                .select(data_keys::wrapped)
                .first::<Option<Vec<u8>>>(conn)
        })
        .await
        .unwrap();
    let sqlite = match &app.config.database_url {
        DatabaseUrl::SqliteFile(path) => Some(path.clone()),
        _ => None,
    };
    if let Some(path) = &sqlite {
        // Let the key reach the main file too, as it does on a server that ran a while.
        app.query(|conn| valise::db::forget_freed(conn, &[])).await;
        assert!(
            files_beside(path)
                .iter()
                .any(|(_, bytes)| holds(bytes, &wrapped)),
            "the live key is on disk before the erasure"
        );
    }

    let erased = app
        .authed(reqwest::Method::DELETE, "/v1/me", &gone)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), StatusCode::ACCEPTED);

    match &sqlite {
        Some(path) => {
            for (file, bytes) in files_beside(path) {
                assert!(!holds(&bytes, &wrapped), "the shredded key is in {file}");
            }
        }
        // PostgreSQL keeps the old row version until VACUUM: the retention run vacuums
        // the keys table once it has shredded anything.
        None => {
            let officer = app.staff(valise::auth::Role::PrivacyOfficer).await;
            let order = crate::fixtures::customer_order(
                &app,
                &app.register(&unique_email("closed"), "Closed Order").await,
                &crate::fixtures::stocked_variant(&app, "vacuumed", 2, 4900).await,
            )
            .await;
            let number = order["number"].as_str().unwrap().to_owned();
            app.query(move |conn| {
                use valise::db::schema::orders;
                diesel::update(orders::table.filter(orders::number.eq(number)))
                    .set((
                        orders::status.eq("closed"),
                        orders::closed_at.eq(Some(valise::db::now() - chrono::Duration::days(1))),
                    ))
                    .execute(conn)
            })
            .await;
            let vacuums = |app: &TestApp| {
                app.query(|conn| {
                    diesel::sql_query(
                        "SELECT vacuum_count AS n FROM pg_stat_user_tables \
                         WHERE relname = 'data_keys'",
                    )
                    .get_result::<Count>(conn)
                    .map(|c| c.n)
                })
            };
            let before = vacuums(&app).await;
            let report = app
                .authed(
                    reqwest::Method::POST,
                    "/v1/admin/retention/run?dry_run=false",
                    &officer,
                )
                .send()
                .await
                .unwrap();
            assert_eq!(report.status(), StatusCode::OK);
            assert!(
                crate::helpers::eventually(std::time::Duration::from_secs(5), || async {
                    vacuums(&app).await > before
                })
                .await,
                "the retention run vacuumed data_keys"
            );
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
