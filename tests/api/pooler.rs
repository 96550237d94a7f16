//! The shop through a real PgBouncer in transaction pooling mode (`TEST_POOLER_URL`, e.g. the
//! one `.ci/pgbouncer.sh` starts in front of the primary in `TEST_DATABASE_URL`), with
//! `VALISE_DB_PREPARED_STATEMENTS=false`: migrations, registration, browsing, checkout with
//! idempotency keys, concurrent checkouts that must not oversell. And why the setting exists:
//! diesel's named prepared statements collide there.
//!
//! Without `TEST_POOLER_URL` these tests skip, unless `VALISE_TEST_REQUIRE_POOLER=1` (CI),
//! which makes them fail instead.

use diesel::{Connection, IntoSql, PgConnection, RunQueryDsl};
use reqwest::StatusCode;
use serde_json::Value;
use valise::db::{DatabaseUrl, StatementCache};

use crate::fixtures::{checkout, checkout_body, guest_cart, stocked_variant};
use crate::helpers::{json_of, postgres_admin_url, unique_email, TestApp, TestDatabase};

/// The pooler's URL (any database behind it), or `None` to skip; panics when CI requires it.
fn pooler_url() -> Option<String> {
    let required = std::env::var("VALISE_TEST_REQUIRE_POOLER").is_ok_and(|v| v == "1");
    let url = std::env::var("TEST_POOLER_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    match (url, postgres_admin_url()) {
        (Some(url), Some(_)) => {
            if required {
                PgConnection::establish(&url).unwrap_or_else(|e| {
                    panic!("the pooler at TEST_POOLER_URL does not answer: {e}")
                });
            }
            Some(url)
        }
        _ if required => panic!(
            "VALISE_TEST_REQUIRE_POOLER=1 but TEST_POOLER_URL (the pooler) and \
             TEST_DATABASE_URL (the database behind it) are not both set"
        ),
        _ => {
            eprintln!("skipped: set TEST_POOLER_URL (and TEST_DATABASE_URL) to run it");
            None
        }
    }
}

/// `database`'s URL reached through the server of `pooler`.
fn through(database: &DatabaseUrl, pooler: &str) -> DatabaseUrl {
    let pooler = url::Url::parse(pooler).expect("a valid pooler URL");
    let mut url = url::Url::parse(&database.to_env_value()).expect("a PostgreSQL URL");
    url.set_host(pooler.host_str()).expect("a host");
    url.set_port(pooler.port()).expect("a port");
    DatabaseUrl::parse(url.as_str()).expect("a valid database URL")
}

/// The application on a fresh database it reaches (and migrates) only through the pooler.
async fn app_behind(pooler: &str) -> TestApp {
    let pooler = pooler.to_owned();
    TestApp::spawn_configured(move |c| {
        c.database_url = through(&c.database_url, &pooler);
        c.db_statements = StatementCache::Unnamed;
    })
    .await
}

#[actix_web::test]
async fn a_customer_registers_browses_and_checks_out_through_the_pooler() {
    let Some(pooler) = pooler_url() else {
        return;
    };
    let app = app_behind(&pooler).await;
    let variant = stocked_variant(&app, "pooled-case", 4, 14900).await;
    let email = unique_email("pooled");
    app.register(&email, "Pia Pooled").await;

    let listing = json_of(app.get("/v1/products?limit=10").await, StatusCode::OK).await;
    assert_eq!(listing["data"][0]["slug"], "pooled-case");
    let page = json_of(app.get("/v1/products/pooled-case").await, StatusCode::OK).await;
    assert_eq!(page["variants"][0]["id"], variant.as_str());

    let cart = guest_cart(&app, &variant, 2).await;
    let body = checkout_body(&email);
    let first = checkout(&app, &cart, "pooled-key", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let order: Value = first.json().await.unwrap();
    let replay = checkout(&app, &cart, "pooled-key", &body).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!(replayed["number"], order["number"]);
    assert_eq!(available(&app, &variant).await, 2);
}

async fn available(app: &TestApp, variant: &str) -> i32 {
    let id = variant.to_owned();
    app.query(move |conn| valise::catalog::store::get_variant(conn, &id))
        .await
        .unwrap()
        .available
}

#[actix_web::test]
async fn concurrent_checkouts_through_the_pooler_never_oversell() {
    let Some(pooler) = pooler_url() else {
        return;
    };
    let app = app_behind(&pooler).await;
    let variant = stocked_variant(&app, "pooled-scarce", 3, 9900).await;
    let mut carts = Vec::new();
    for _ in 0..12 {
        carts.push(guest_cart(&app, &variant, 1).await);
    }
    let body = checkout_body("pooled-buyer@example.com");
    let keys: Vec<String> = (0..carts.len()).map(|i| format!("pooled-{i}")).collect();
    let attempts = carts
        .iter()
        .zip(&keys)
        .map(|(cart, key)| checkout(&app, cart, key, &body));
    let mut created = 0;
    for response in futures_util::future::join_all(attempts).await {
        match response.status() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
    assert_eq!(created, 3);
    assert_eq!(available(&app, &variant).await, 0);
}

/// Two clients of one pooled database, one query each in turn, with diesel's statement cache
/// as configured: the second client's transaction runs on the server connection the first
/// one's left, where the first one's statement already has the name the second one gives its
/// own.
fn two_clients_in_turn(pooled: &DatabaseUrl, cache: bool) -> Result<(), String> {
    let open = || {
        let mut conn =
            PgConnection::establish(&pooled.to_env_value()).map_err(|e| e.to_string())?;
        if !cache {
            conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
        }
        Ok::<_, String>(conn)
    };
    let (mut first, mut second) = (open()?, open()?);
    let query = || diesel::select(7_i32.into_sql::<diesel::sql_types::Integer>());
    for _ in 0..3 {
        for conn in [&mut first, &mut second] {
            let seven: i32 = query().get_result(conn).map_err(|e| e.to_string())?;
            assert_eq!(seven, 7);
        }
    }
    Ok(())
}

#[actix_web::test]
async fn named_prepared_statements_collide_behind_a_transaction_pooler() {
    let Some(pooler) = pooler_url() else {
        return;
    };
    let (url, _database) = TestDatabase::create();
    let pooled = through(&url, &pooler);
    let named = two_clients_in_turn(&pooled, true).expect_err("named statements collide");
    assert!(named.contains("prepared statement"), "{named}");
    two_clients_in_turn(&pooled, false).expect("unnamed statements pass the pooler");
}
