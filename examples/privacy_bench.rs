//! Privacy-center benchmarks against an in-process release build, on loopback:
//!
//! 1. `GET /v1/me/export` latency for a customer with 10, 100 and 1,000 orders;
//! 2. outbox delivery rate to a local gateway that answers 204;
//! 3. time to queue a policy-revision notice for N registered customers.
//!
//! `cargo run --release --example privacy_bench -- DATABASE_URL [CUSTOMERS]`
//! DATABASE_URL must name an empty database (`sqlite:///tmp/x.db` or `postgres://…/db`).

// A benchmark states its expectations like a test: a failed one stops the run.
#![allow(clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::prelude::*;
use serde_json::{json, Value};
use valise::config::{Config, Gateway, Secret, SecretSource};
use valise::db::DatabaseUrl;
use valise::startup::Application;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

async fn gateway() -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("gateway port");
    let port = listener.local_addr().expect("gateway address").port();
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|| async { HttpResponse::NoContent().finish() }))
    })
    .workers(1)
    .listen(listener)
    .expect("gateway listens")
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}/notify"), handle)
}

/// Creates a staff account directly and logs it in; returns its access token.
async fn staff_token(
    db: &valise::db::Db,
    crypto: &valise::crypto::Crypto,
    client: &reqwest::Client,
    base: &str,
    email: &'static str,
    role: valise::auth::Role,
) -> anyhow::Result<String> {
    use valise::accounts::model::{Email, PersonName};
    use valise::auth::password::Password;
    let crypto = crypto.clone();
    db.run(move |conn| {
        valise::accounts::staff::create_account(
            conn,
            &crypto,
            &valise::audit::Actor::system(),
            &Email::parse("email", email)?,
            &PersonName::parse("name", "Bench Staff")?,
            &Password::parse("password", PASSWORD.to_owned())?,
            role,
        )
    })
    .await?;
    let login = send(
        client
            .post(format!("{base}/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD})),
    )
    .await;
    Ok(login["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

const PASSWORD: &str = "correct horse battery staple";

async fn send(req: reqwest::RequestBuilder) -> Value {
    let response = req.send().await.expect("request sent");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = DatabaseUrl::parse(
        &args
            .next()
            .unwrap_or_else(|| "sqlite:///tmp/valise-privacy-bench.db".into()),
    )
    .map_err(anyhow::Error::msg)?;
    let customers: i64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let keys = tempfile::tempdir()?;
    let (gateway_url, gateway_handle) = gateway().await;
    let mut config = Config::for_tests(url.clone());
    config.master_keys = SecretSource::Generated(keys.path().join("master.keys"));
    config.jwt_secret = SecretSource::Generated(keys.path().join("jwt.secret"));
    config.data_dir = keys.path().to_owned();
    config.db_pool_size = 10; // the production default
    config.delivery.interval = Duration::from_millis(100);
    config.delivery.gateway = Some(Gateway {
        url: Secret::new(url::Url::parse(&gateway_url)?),
        secret: Secret::new("bench-gateway-secret".to_owned()),
    });
    let app = Application::build(config).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let (db, crypto) = (app.db(), app.crypto());
    actix_web::rt::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let backend = if matches!(url, DatabaseUrl::Postgres(_)) {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    // A manager, a product with plenty of stock, a customer.
    let manager = staff_token(
        &db,
        &crypto,
        &client,
        &base,
        "bench-manager@shop.example",
        valise::auth::Role::Manager,
    )
    .await?;
    let product = send(client.post(format!("{base}/v1/admin/products")).bearer_auth(&manager).json(&json!({
        "slug": "bench-cabin", "name": "Bench Cabin", "brand": "Valise", "description": "A cabin case for benchmarks.",
        "style": "business", "material": "polycarbonate", "wheels": "spinner", "features": [], "warranty_years": 2,
        "dimensions_cm": {"height": 55, "width": 40, "depth": 20}, "weight_g": 2900, "capacity_l": 38,
        "images": [], "price": {"amount": 12900}, "variants": [{"sku": "BENCH-1", "color": "black", "available": 1000000}]
    }))).await;
    let variant = product["variants"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    send(
        client
            .post(format!("{base}/v1/auth/register"))
            .json(&json!({
                "email": "bench-customer@example.com", "password": "correct horse battery staple",
                "name": "Bench Customer", "accepted_policy_version": 1
            })),
    )
    .await;
    // No mailbox here: confirmed the way `valise accounts confirm` does it.
    let (confirm_db, confirm_crypto) = (db.clone(), crypto.clone());
    let confirmed = confirm_db
        .run(move |conn| {
            let email =
                valise::accounts::model::Email::parse("email", "bench-customer@example.com")?;
            valise::auth::register::confirm_by_operator(conn, &confirm_crypto, &email)
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    assert!(confirmed, "the bench customer is confirmed");
    let registered = send(client.post(format!("{base}/v1/auth/login")).json(&json!({
        "email": "bench-customer@example.com", "password": "correct horse battery staple"
    })))
    .await;
    let token = registered["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    println!("## Privacy center — {backend}\n");
    println!("| measure | result |");
    println!("|---|---|");
    let mut orders = 0;
    for target in [10, 100, 1000] {
        while orders < target {
            let cart = send(
                client
                    .post(format!("{base}/v1/carts"))
                    .bearer_auth(&token)
                    .json(&json!({})),
            )
            .await;
            let id = cart["id"].as_str().unwrap_or_default();
            send(
                client
                    .post(format!("{base}/v1/carts/{id}/items"))
                    .bearer_auth(&token)
                    .json(&json!({"variant_id": variant, "quantity": 1})),
            )
            .await;
            send(client.post(format!("{base}/v1/carts/{id}/checkout")).bearer_auth(&token)
                .header("idempotency-key", format!("bench-{orders}"))
                .json(&json!({
                    "contact_email": "bench-customer@example.com",
                    "shipping_address": {"name": "Bench Customer", "line1": "1 Bench Street", "city": "Lyon", "postal_code": "69001", "country": "FR"},
                    "accepted_policy_version": 1
                }))).await;
            orders += 1;
        }
        let mut latencies = Vec::new();
        let mut bytes = 0;
        for _ in 0..50 {
            let t = Instant::now();
            let response = client
                .get(format!("{base}/v1/me/export"))
                .bearer_auth(&token)
                .send()
                .await?;
            bytes = response.bytes().await?.len();
            latencies.push(t.elapsed());
        }
        latencies.sort();
        println!(
            "| export, {target} orders ({} KiB) | p50 {:.1} ms, p99 {:.1} ms |",
            bytes / 1024,
            pct(&latencies, 0.5),
            pct(&latencies, 0.99)
        );
    }

    // Outbox delivery rate: N notices for the customer, each POSTed to the gateway.
    let pending = |db: valise::db::Db| async move {
        db.run(|conn| {
            use valise::db::schema::notifications;
            notifications::table
                .filter(notifications::status.eq_any(["pending", "sending"]))
                .count()
                .get_result::<i64>(conn)
                .map_err(anyhow::Error::from)
        })
        .await
    };
    while pending(db.clone()).await? > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let user = registered["user"]["id"]
        .as_str()
        .and_then(valise::ids::UserId::parse)
        .ok_or_else(|| anyhow::anyhow!("registration answered no account id"))?;
    let n = 5000;
    let t = Instant::now();
    db.run(move |conn| {
        for i in 0..n {
            valise::notifications::enqueue(
                conn,
                valise::notifications::To::Account { user_id: &user },
                &valise::notifications::Kind::OrderShipped,
                &json!({"order_id": format!("ord_{i}"), "status": "shipped"}),
            )?;
        }
        Ok::<_, anyhow::Error>(())
    })
    .await?;
    while pending(db.clone()).await? > 0 {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "| outbox → local gateway, {n} notices | {:.0} delivered/s ({secs:.1} s) |",
        f64::from(n) / secs
    );

    // Policy revision notices for N customers (inserted directly: registration through the
    // API would spend minutes hashing passwords).
    let insert = if matches!(url, DatabaseUrl::Postgres(_)) {
        format!("INSERT INTO users (id, role, status, version, created_at, updated_at) \
                 SELECT 'usr_bench' || lpad(i::text, 8, '0'), 'customer', 'active', 1, now(), now() \
                 FROM generate_series(1, {customers}) AS i")
    } else {
        format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {customers}) \
                 INSERT INTO users (id, role, status, version, created_at, updated_at) \
                 SELECT 'usr_bench' || printf('%08d', i), 'customer', 'active', 1, \
                 strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now') FROM n")
    };
    db.run(move |conn| {
        diesel::sql_query(insert)
            .execute(conn)
            .map_err(anyhow::Error::from)
    })
    .await?;
    let admin_token = staff_token(
        &db,
        &crypto,
        &client,
        &base,
        "bench-admin@shop.example",
        valise::auth::Role::Admin,
    )
    .await?;
    let t = Instant::now();
    let published = send(client.post(format!("{base}/v1/admin/policies")).bearer_auth(&admin_token)
        .json(&json!({"text": "Privacy Policy, revised for the benchmark.", "summary": "Benchmark revision."}))).await;
    let answered = t.elapsed();
    let version = published["version"].as_i64().unwrap_or(2) as i32;
    loop {
        let done = db
            .run(move |conn| {
                use valise::db::schema::policies;
                policies::table
                    .find(version)
                    .select(policies::notices_done_at)
                    .first::<Option<chrono::NaiveDateTime>>(conn)
                    .map_err(anyhow::Error::from)
            })
            .await?;
        if done.is_some() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "| policy publish, {customers} customers | answered in {:.0} ms; all notices queued in {:.2} s |",
        answered.as_secs_f64() * 1000.0,
        t.elapsed().as_secs_f64()
    );

    // Retention: the personal part of 100,000 closed orders (inserted directly, each with a
    // live data key), shredded by one run of the rules.
    let orders_sql = if matches!(url, DatabaseUrl::Postgres(_)) {
        vec![
            "INSERT INTO orders (id, number, status, currency, subtotal, shipping, total, \
             policy_version, expires_at, closed_at, version, created_at, updated_at) \
             SELECT 'ord_bench' || lpad(i::text, 8, '0'), 'LG-B' || lpad(i::text, 8, '0'), \
             'closed', 'EUR', 12900, 0, 12900, 1, now(), now() - interval '1 day', 1, now(), now() \
             FROM generate_series(1, 100000) AS i"
                .to_owned(),
            "INSERT INTO data_keys (subject_id, kek_id, wrapped, created_at) \
             SELECT 'ord_bench' || lpad(i::text, 8, '0'), 'k1', '\\x00'::bytea, now() \
             FROM generate_series(1, 100000) AS i"
                .to_owned(),
        ]
    } else {
        let ts = "strftime('%Y-%m-%d %H:%M:%f', 'now')";
        vec![
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
             INSERT INTO orders (id, number, status, currency, subtotal, shipping, total, \
             policy_version, expires_at, closed_at, version, created_at, updated_at) \
             SELECT 'ord_bench' || printf('%08d', i), 'LG-B' || printf('%08d', i), 'closed', \
             'EUR', 12900, 0, 12900, 1, {ts}, strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 day'), 1, \
             {ts}, {ts} FROM n"
            ),
            format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
             INSERT INTO data_keys (subject_id, kek_id, wrapped, created_at) \
             SELECT 'ord_bench' || printf('%08d', i), 'k1', X'00', {ts} FROM n"
            ),
        ]
    };
    db.run(move |conn| {
        for sql in orders_sql {
            diesel::sql_query(sql).execute(conn)?;
        }
        Ok::<_, anyhow::Error>(())
    })
    .await?;
    let settings = valise::retention::Settings::from_config(&Config::for_tests(url.clone()));
    let t = Instant::now();
    let shredded = {
        let crypto = crypto.clone();
        db.run(move |conn| {
            let report =
                valise::retention::engine::run(conn, &crypto, &settings, valise::db::now(), false)?;
            Ok::<_, anyhow::Error>(
                report
                    .rules
                    .iter()
                    .find(|r| r.rule == "order_personal")
                    .map_or(0, |r| r.count),
            )
        })
        .await?
    };
    let secs = t.elapsed().as_secs_f64();
    println!(
        "| retention run, {shredded} closed orders shredded | {:.0} orders/min ({secs:.1} s) |",
        shredded as f64 / secs * 60.0
    );
    gateway_handle.stop(false).await;
    Ok(())
}
