//! Catalogue reads on a real PostgreSQL streaming replica (`TEST_REPLICA_URL`, e.g. the one
//! `.ci/pg-replica.sh` starts, of the primary in `TEST_DATABASE_URL`): they go there once it
//! has replayed what they must show, a writer reads its own writes, and a replica that stops
//! replaying or answering is skipped, with `/readyz` saying `degraded`.
//!
//! Without `TEST_REPLICA_URL` the tests that need the replica skip, unless
//! `VALISE_TEST_REQUIRE_REPLICA=1` (CI), which makes them fail instead. They pause the replica's
//! replay, which every database on it shares, so they take turns.

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::StatusCode;
use serde_json::Value;
use valise::auth::Role;
use valise::db::DatabaseUrl;

use crate::fixtures::{create, product};
use crate::helpers::{eventually, json_of, postgres_admin_url, TestApp};

/// One test at a time on the replica: a paused replay pauses it for every database.
static REPLICA: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The replica's URL (any database on it), or `None` to skip; panics when CI requires it.
fn replica_admin_url() -> Option<String> {
    let required = std::env::var("VALISE_TEST_REQUIRE_REPLICA").is_ok_and(|v| v == "1");
    let url = std::env::var("TEST_REPLICA_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    match (url, postgres_admin_url()) {
        (Some(url), Some(_)) => Some(url),
        _ if required => panic!(
            "VALISE_TEST_REQUIRE_REPLICA=1 but TEST_REPLICA_URL (the replica) and \
             TEST_DATABASE_URL (its primary) are not both set"
        ),
        _ => {
            eprintln!("skipped: set TEST_REPLICA_URL (and TEST_DATABASE_URL) to run it");
            None
        }
    }
}

/// `database`'s URL with the host and port of `server`.
fn on_server(database: &DatabaseUrl, server: &str) -> DatabaseUrl {
    let server = url::Url::parse(server).expect("a valid server URL");
    let mut url = url::Url::parse(&database.to_env_value()).expect("a PostgreSQL URL");
    url.set_host(server.host_str()).expect("a host");
    url.set_port(server.port()).expect("a port");
    DatabaseUrl::parse(url.as_str()).expect("a valid database URL")
}

/// The application with its catalogue reads on the replica, allowed `max_lag`.
async fn app_with_replica(replica: &str, max_lag: Duration) -> TestApp {
    let replica = replica.to_owned();
    TestApp::spawn_configured(move |c| {
        c.read_database_url = Some(on_server(&c.database_url, &replica));
        c.replica_max_lag = max_lag;
    })
    .await
}

/// Replay on the replica stays paused while this lives (also when the test fails).
struct PausedReplay(String);

impl PausedReplay {
    fn start(replica: &str) -> Self {
        replay(replica, "pg_wal_replay_pause");
        Self(replica.to_owned())
    }
}

impl Drop for PausedReplay {
    fn drop(&mut self) {
        replay(&self.0, "pg_wal_replay_resume");
    }
}

fn replay(replica: &str, function: &str) {
    let mut conn = PgConnection::establish(replica).expect("the replica answers");
    diesel::sql_query(format!("SELECT {function}()"))
        .execute(&mut conn)
        .unwrap_or_else(|e| panic!("{function}: {e}"));
}

/// What `/readyz` says (`ready`, `degraded`), checking it answers 200.
async fn readiness(app: &TestApp) -> String {
    let body = json_of(app.get("/readyz").await, StatusCode::OK).await;
    body["status"].as_str().unwrap().to_owned()
}

/// The value of the metric line that starts with `series` (`None` when absent).
async fn metric(app: &TestApp, series: &str) -> Option<f64> {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn replica_reads(app: &TestApp) -> f64 {
    metric(app, r#"valise_catalog_db_reads_total{database="replica"}"#)
        .await
        .expect("the replica read counter")
}

/// The name the product listing shows for the only product (priced 99.00), rendered now: each
/// call asks with another `min_price`, a new cache key, so the listing is read from a
/// database, not the response cache.
async fn listed_name(app: &TestApp) -> String {
    static KEY: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let min_price = KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 9900;
    let body = json_of(
        app.get(&format!("/v1/products?min_price={min_price}"))
            .await,
        StatusCode::OK,
    )
    .await;
    body["data"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn until_ready(app: &TestApp) {
    assert!(
        eventually(Duration::from_secs(20), || async {
            readiness(app).await == "ready"
        })
        .await,
        "the replica never served the test database"
    );
}

#[actix_web::test]
async fn a_writer_reads_the_product_it_just_created_while_the_replica_lags() {
    let Some(replica) = replica_admin_url() else {
        return;
    };
    let _turn = REPLICA.lock().await;
    let app = app_with_replica(&replica, Duration::from_secs(60)).await;
    // Another instance, that learns of the change only from its poll of the primary.
    let other = app.spawn_sibling().await;
    until_ready(&app).await;
    until_ready(&other).await;
    let manager = app.staff(Role::Manager).await;
    assert_eq!(
        json_of(other.get("/v1/products?limit=92").await, StatusCode::OK).await["data"],
        serde_json::json!([])
    );

    let paused = PausedReplay::start(&replica);
    let body = product("fresh-carry-on", "travel", "abs", [55, 40, 20], 9900, &[3]);
    create(&app, &manager, &body).await;

    // The replica has not seen it…
    let on_replica = on_server(&app.config.database_url, &replica).to_env_value();
    let count: i64 = {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = PgConnection::establish(&on_replica).unwrap();
        diesel::sql_query("SELECT count(*) AS n FROM products WHERE slug = 'fresh-carry-on'")
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n
    };
    assert_eq!(count, 0, "replay was paused before the product was created");
    // …yet its writer sees it at once, in its page and in the listing.
    let page = json_of(app.get("/v1/products/fresh-carry-on").await, StatusCode::OK).await;
    assert_eq!(page["slug"], "fresh-carry-on");
    assert_eq!(listed_name(&app).await, "fresh carry on");
    // The replica is still within its allowed lag: the writes, not its state, chose the primary.
    assert_eq!(readiness(&app).await, "ready");
    // The other instance renders the new catalogue version once it has seen it, never the
    // replica's older rows under the new version (its cache would keep them as that version).
    assert!(
        eventually(Duration::from_secs(10), || {
            let other = &other;
            async move { listed_name(other).await == "fresh carry on" }
        })
        .await,
        "the other instance never showed the new product while the replica was paused"
    );
    drop(paused);

    // Once it has replayed the change, the replica serves the catalogue again.
    let before = replica_reads(&app).await;
    assert!(
        eventually(Duration::from_secs(20), || {
            let app = &app;
            async move {
                listed_name(app).await == "fresh carry on" && replica_reads(app).await > before
            }
        })
        .await,
        "reads never went back to the replica"
    );
}

#[actix_web::test]
async fn catalogue_reads_are_served_by_the_replica() {
    let Some(replica) = replica_admin_url() else {
        return;
    };
    let _turn = REPLICA.lock().await;
    let app = app_with_replica(&replica, Duration::from_secs(60)).await;
    let manager = app.staff(Role::Manager).await;
    create(
        &app,
        &manager,
        &product("steady-trunk", "travel", "abs", [55, 40, 20], 9900, &[3]),
    )
    .await;
    until_ready(&app).await;
    assert!(
        eventually(Duration::from_secs(20), || {
            let app = &app;
            async move {
                let before = replica_reads(app).await;
                listed_name(app).await == "steady trunk" && replica_reads(app).await > before
            }
        })
        .await,
        "the catalogue was never read from the replica"
    );

    // A change the replica has not replayed, made behind the API's back (no catalogue
    // version moves, so nothing tells the instance it must read the primary)…
    let paused = PausedReplay::start(&replica);
    app.sql("UPDATE products SET name = 'renamed trunk' WHERE slug = 'steady-trunk'");
    // …is missing from what the catalogue serves: it was read on the replica.
    assert_eq!(listed_name(&app).await, "steady trunk");
    drop(paused);
    assert!(
        eventually(Duration::from_secs(20), || {
            let app = &app;
            async move { listed_name(app).await == "renamed trunk" }
        })
        .await,
        "the replica never caught up"
    );
    assert!(metric(&app, "valise_replica_lag_seconds").await.is_some());
    assert_eq!(metric(&app, "valise_replica_serving").await, Some(1.0));
}

#[actix_web::test]
async fn a_replica_that_stops_replaying_is_skipped_and_readiness_says_degraded() {
    let Some(replica) = replica_admin_url() else {
        return;
    };
    let _turn = REPLICA.lock().await;
    let app = app_with_replica(&replica, Duration::from_millis(300)).await;
    let manager = app.staff(Role::Manager).await;
    create(
        &app,
        &manager,
        &product("lagging-duffel", "travel", "abs", [55, 40, 20], 9900, &[3]),
    )
    .await;
    until_ready(&app).await;

    let paused = PausedReplay::start(&replica);
    // The primary writes on; the replica falls further behind than allowed.
    app.sql("UPDATE products SET name = 'moved duffel' WHERE slug = 'lagging-duffel'");
    assert!(
        eventually(Duration::from_secs(20), || async {
            readiness(&app).await == "degraded"
        })
        .await,
        "readiness never said degraded"
    );
    assert_eq!(metric(&app, "valise_replica_serving").await, Some(0.0));
    let lag = metric(&app, "valise_replica_lag_seconds").await.unwrap();
    assert!(lag > 0.3, "lag {lag} s");
    // Reads go to the primary: they show the change the replica has not replayed.
    assert_eq!(listed_name(&app).await, "moved duffel");

    drop(paused);
    assert!(
        eventually(Duration::from_secs(20), || async {
            readiness(&app).await == "ready"
        })
        .await,
        "the replica never came back"
    );
}

#[actix_web::test]
async fn a_replica_that_does_not_answer_is_skipped_and_readiness_says_degraded() {
    if postgres_admin_url().is_none() {
        // Needs only a primary; CI runs it on the PostgreSQL pass.
        let _ = replica_admin_url();
        return;
    }
    // A port nothing listens on: a stopped replica.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = app_with_replica(
        &format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        Duration::from_secs(5),
    )
    .await;
    let manager = app.staff(Role::Manager).await;
    create(
        &app,
        &manager,
        &product("lonely-tote", "travel", "abs", [55, 40, 20], 9900, &[3]),
    )
    .await;
    assert_eq!(readiness(&app).await, "degraded");
    assert_eq!(listed_name(&app).await, "lonely tote");
    let page: Value = json_of(app.get("/v1/products/lonely-tote").await, StatusCode::OK).await;
    assert_eq!(page["slug"], "lonely-tote");
    assert_eq!(metric(&app, "valise_replica_serving").await, Some(0.0));
    assert_eq!(replica_reads(&app).await, 0.0);
    assert!(
        metric(&app, r#"valise_catalog_db_reads_total{database="primary"}"#)
            .await
            .unwrap()
            >= 2.0
    );
}
