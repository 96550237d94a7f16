//! Operations benchmarks (analytics, backups) against the release binary, on loopback:
//!
//! 1. analytics ingestion: clients posting 100-event batches to `POST /v1/analytics/events`
//!    (events/s, batch latency, server CPU per event);
//! 2. 1,000,000 raw events over 30 days: the roll-up of all of them into the daily
//!    aggregates, then the latency of each report over those 30 days;
//! 3. a database of 100,000 delivered orders (items, four events and a payment each, sealed
//!    contact and address): `valise backup`, `backup --verify` and `restore` into an empty
//!    database, timed as an operator runs them.
//!
//! `cargo build --release && cargo run --release --example ops_bench -- DATABASE_URL RESTORE_URL`
//! Both URLs must name empty databases of one backend (`sqlite:///tmp/a.db` or
//! `postgres://…/db`); `bench/run.sh` does not run this (it takes minutes per backend).
//! Knobs: `EVENTS` (raw events, 1000000), `ORDERS` (100000), `INGEST_SECONDS` (8),
//! `INGEST_CLIENTS` (16).

// A benchmark states its expectations like a test: a failed one stops the run.
#![allow(clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{Duration as Days, NaiveDate};
use diesel::prelude::*;
use diesel::sql_types::{Binary, Date, Integer, Nullable, Text, Timestamp};
use serde_json::{json, Value};
use valise::db::schema::{analytics_rollups, products};
use valise::db::{Backend, DatabaseUrl, Db, DbConnection};

use support::{lock, valise_bin, Launcher, Rng};

const ADMIN_EMAIL: &str = "bench-admin@shop.example";
const ADMIN_PASSWORD: &str = "correct horse battery staple";
const REPORTS: [&str; 5] = [
    "trending-products",
    "size-classes",
    "styles",
    "paths",
    "stay-duration",
];

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1));
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// The process's user + system CPU time so far.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    Duration::from_millis(ticks * 10) // USER_HZ = 100 on Linux
}

fn file_size(path: &std::path::Path) -> String {
    let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .context("usage: ops_bench DATABASE_URL RESTORE_URL")?;
    let restore_url = args
        .next()
        .context("usage: ops_bench DATABASE_URL RESTORE_URL")?;
    let parsed = DatabaseUrl::parse(&url).map_err(anyhow::Error::msg)?;
    let backend = match parsed.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let dir = tempfile::tempdir()?;
    let launcher = Launcher {
        bin: valise_bin()?,
        database_url: url.clone(),
        data_dir: dir.path().to_owned(),
        env: vec![
            ("VALISE_ADMIN_EMAIL".into(), ADMIN_EMAIL.into()),
            ("VALISE_ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
            // One address sends everything here: lift the per-address limit.
            (
                "VALISE_ANALYTICS_BATCHES_PER_MINUTE".into(),
                "100000".into(),
            ),
        ],
    };
    launcher.cli(&["seed", "--demo", "--products", "1000"])?;
    let db = Db::connect(&parsed, 2)?;
    let catalogue: Vec<(String, String)> = products::table
        .select((products::id, products::slug))
        .load(&mut *db.get()?)?;

    println!("## Analytics and backups — {backend}\n");
    println!("| measure | result |");
    println!("|---|---|");

    let server = launcher.serve("ops")?;
    ingest(&server.base, server.pid(), &catalogue)
        .with_context(|| format!("server log:\n{}", server.log_tail()))?;
    drop(server);

    let events = knob("EVENTS", 1_000_000);
    let today = valise::db::now().date();
    let t = Instant::now();
    insert_raw_events(&db, &catalogue, events, today)?;
    println!(
        "| {events} raw events over 30 days, inserted directly (setup) | {:.1} s |",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let rolled = valise::analytics::roll_up(&mut *db.get()?, valise::db::now())?;
    println!(
        "| roll-up of {events} raw events ({} days) into the daily aggregates | {:.1} s ({:.0} events/s) |",
        rolled.days.len(),
        t.elapsed().as_secs_f64(),
        events as f64 / t.elapsed().as_secs_f64()
    );
    let server = launcher.serve("ops-reports")?;
    reports(&server.base, today)?;
    drop(server);

    let orders = knob("ORDERS", 100_000);
    let t = Instant::now();
    insert_orders(&db, orders)?;
    println!(
        "| {orders} delivered orders with items, events, payments (setup) | {:.1} s |",
        t.elapsed().as_secs_f64()
    );
    drop(db);
    let snapshot = dir.path().join("valise.backup");
    let snapshot_arg = snapshot.to_str().context("temp path")?;
    let t = Instant::now();
    launcher.cli(&["backup", "--out", snapshot_arg])?;
    println!(
        "| `valise backup`, {orders} orders and the raw events | {:.1} s ({}) |",
        t.elapsed().as_secs_f64(),
        file_size(&snapshot)
    );
    let t = Instant::now();
    launcher.cli(&["backup", "--verify", snapshot_arg])?;
    println!(
        "| `valise backup --verify` | {:.1} s |",
        t.elapsed().as_secs_f64()
    );
    let target = Launcher {
        database_url: restore_url.clone(),
        ..launcher.clone()
    };
    let t = Instant::now();
    target.cli(&["restore", snapshot_arg])?;
    println!(
        "| `valise restore` into an empty database | {:.1} s |",
        t.elapsed().as_secs_f64()
    );
    let restored = Db::connect(
        &DatabaseUrl::parse(&restore_url).map_err(anyhow::Error::msg)?,
        1,
    )?;
    let count: i64 = valise::db::schema::orders::table
        .count()
        .get_result(&mut *restored.get()?)?;
    if u64::try_from(count)? < orders {
        bail!("the restored database holds {count} orders, fewer than {orders}");
    }
    Ok(())
}

/// Clients posting 100-event batches as fast as they are answered.
fn ingest(base: &str, pid: u32, catalogue: &[(String, String)]) -> anyhow::Result<()> {
    let clients = knob("INGEST_CLIENTS", 16);
    let seconds = knob("INGEST_SECONDS", 8);
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let cpu_before = cpu_of(pid);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let (stop, latencies, failures) = (stop.clone(), latencies.clone(), failures.clone());
            let base = base.to_owned();
            let catalogue = catalogue.to_vec();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut rng = Rng::new(c + 1);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = batch(&mut rng, &catalogue, &format!("bench-{c}-{n}"));
                    n += 1;
                    let t = Instant::now();
                    match client
                        .post(format!("{base}/v1/analytics/events"))
                        .json(&body)
                        .send()
                    {
                        Ok(r) if r.status().is_success() => lock(&latencies).push(t.elapsed()),
                        Ok(r) => lock(&failures).push(format!("{}", r.status())),
                        Err(e) => lock(&failures).push(e.to_string()),
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().map_err(|_| anyhow::anyhow!("a client panicked"))?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_of(pid).saturating_sub(cpu_before);
    let failures = lock(&failures).clone();
    if let Some(first) = failures.first() {
        bail!("{} ingest batches failed, first: {first}", failures.len());
    }
    let mut latencies = lock(&latencies).clone();
    latencies.sort();
    let events = latencies.len() as f64 * 100.0;
    println!(
        "| ingestion, {clients} clients × 100-event batches, {seconds} s | {:.0} events/s ({:.0} batches/s); batch p50 {:.1} ms, p99 {:.1} ms; server CPU {:.1} µs/event |",
        events / elapsed,
        latencies.len() as f64 / elapsed,
        pct(&latencies, 0.5),
        pct(&latencies, 0.99),
        cpu.as_secs_f64() * 1e6 / events.max(1.0)
    );
    Ok(())
}

/// One visitor's browsing: product pages viewed, then left after a while.
fn batch(rng: &mut Rng, catalogue: &[(String, String)], session: &str) -> Value {
    let mut events = Vec::with_capacity(100);
    events.push(json!({"type": "page_view", "path": "/"}));
    while events.len() + 3 <= 100 {
        let (id, slug) = &catalogue[rng.below(catalogue.len())];
        let path = format!("/products/{slug}");
        events.push(json!({"type": "page_view", "path": path}));
        events.push(json!({"type": "product_view", "product_id": id}));
        events.push(
            json!({"type": "page_leave", "path": path, "dwell_ms": 1000 + rng.below(120_000)}),
        );
    }
    while events.len() < 100 {
        events.push(json!({"type": "page_view", "path": "/cart"}));
    }
    json!({"session": session, "events": events})
}

type RawEvent = (
    NaiveDate,
    Vec<u8>,
    i32,
    &'static str,
    Option<String>,
    Option<String>,
    Option<i32>,
);

/// `count` events over the 30 days before `today`: visitors of ~12 events each (a landing
/// page, then product pages viewed and left), a few popular products and a long tail.
fn insert_raw_events(
    db: &Db,
    catalogue: &[(String, String)],
    count: u64,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let mut rng = Rng::new(7);
    let per_day = count / 30;
    let mut conn = db.get()?;
    for d in 1..=30 {
        let day = today - Days::days(d);
        let mut rows: Vec<RawEvent> = Vec::with_capacity(per_day as usize);
        let mut visitor = 0u64;
        while (rows.len() as u64) < per_day {
            visitor += 1;
            let mut hash = vec![0u8; 16];
            hash[..8].copy_from_slice(&visitor.to_be_bytes());
            hash[8..].copy_from_slice(&(d as u64).to_be_bytes());
            let mut seq = 0;
            let mut push = |rows: &mut Vec<RawEvent>, kind, path, product, dwell| {
                seq += 1;
                rows.push((day, hash.clone(), seq, kind, path, product, dwell));
            };
            push(&mut rows, "page_view", Some("/".to_owned()), None, None);
            for _ in 0..(1 + rng.below(6)) {
                // Skewed: half the views go to the first 50 products.
                let i = if rng.below(2) == 0 {
                    rng.below(50.min(catalogue.len()))
                } else {
                    rng.below(catalogue.len())
                };
                let (id, slug) = &catalogue[i];
                let path = format!("/products/{slug}");
                push(&mut rows, "page_view", Some(path.clone()), None, None);
                push(&mut rows, "product_view", None, Some(id.clone()), None);
                let dwell = i32::try_from(1000 + rng.below(180_000))?;
                push(&mut rows, "page_leave", Some(path), None, Some(dwell));
            }
        }
        rows.truncate(per_day as usize);
        valise::db::write_transaction(&mut conn, |conn: &mut DbConnection| {
            for chunk in rows.chunks(1000) {
                let sql = format!(
                    "INSERT INTO analytics_events (day, visitor_hash, seq, event_type, path, \
                     product_id, dwell_ms) VALUES {}",
                    valise::db::values_list(conn, "(?, ?, ?, ?, ?, ?, ?)", chunk.len())
                );
                let mut query = diesel::sql_query(sql).into_boxed();
                for (day, hash, seq, kind, path, product, dwell) in chunk {
                    query = query
                        .bind::<Date, _>(*day)
                        .bind::<Binary, _>(hash.clone())
                        .bind::<Integer, _>(*seq)
                        .bind::<Text, _>(*kind)
                        .bind::<Nullable<Text>, _>(path.clone())
                        .bind::<Nullable<Text>, _>(product.clone())
                        .bind::<Nullable<Integer>, _>(*dwell);
                }
                query.execute(conn)?;
            }
            diesel::insert_into(analytics_rollups::table)
                .values((
                    analytics_rollups::day.eq(day),
                    analytics_rollups::pending.eq(true),
                    analytics_rollups::rolled_at.eq(None::<chrono::NaiveDateTime>),
                ))
                .execute(conn)?;
            diesel::QueryResult::Ok(())
        })?;
    }
    // As `valise seed` does: the planner gets statistics for what was just loaded.
    diesel::sql_query("ANALYZE").execute(&mut *conn)?;
    Ok(())
}

/// Each report over the 30 days, 20 times.
fn reports(base: &str, today: NaiveDate) -> anyhow::Result<()> {
    let client = reqwest::blocking::Client::new();
    let login: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()?
        .json()?;
    let token = login["access_token"].as_str().context("admin login")?;
    let (from, to) = (today - Days::days(30), today - Days::days(1));
    for report in REPORTS {
        let mut latencies = Vec::new();
        let mut bytes = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let response = client
                .get(format!(
                    "{base}/v1/admin/analytics/{report}?from={from}&to={to}"
                ))
                .bearer_auth(token)
                .send()?;
            if !response.status().is_success() {
                bail!("{report}: {}", response.status());
            }
            bytes = response.bytes()?.len();
            latencies.push(t.elapsed());
        }
        latencies.sort();
        println!(
            "| report `{report}`, the 30 days ({bytes} bytes) | p50 {:.1} ms, p99 {:.1} ms |",
            pct(&latencies, 0.5),
            pct(&latencies, 0.99)
        );
    }
    Ok(())
}

/// `count` delivered guest orders, each with one item, a captured payment, four status
/// events, a sealed contact email and address (random bytes of the size sealing gives) and
/// a data key, inserted set-wise.
fn insert_orders(db: &Db, count: u64) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let (blob_email, blob_address) = match db.backend() {
        Backend::Postgres => (
            "decode(md5(n.i::text) || md5('e' || n.i::text) || md5('m' || n.i::text), 'hex')",
            "decode(repeat(md5(n.i::text), 6), 'hex')",
        ),
        Backend::Sqlite => ("randomblob(48)", "randomblob(96)"),
    };
    let numbers = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})"
    );
    let statements = [
        format!(
            "{numbers} INSERT INTO orders (id, number, status, currency, subtotal, shipping, \
             total, contact_email_sealed, shipping_address_sealed, policy_version, expires_at, \
             delivered_at, version, created_at, updated_at) \
             SELECT 'ord_bench' || n.i, 'LG-B' || n.i, 'delivered', 'EUR', 12900, 0, 12900, \
             {blob_email}, {blob_address}, 1, $1, $1, 4, $1, $1 FROM n"
        ),
        "INSERT INTO data_keys (subject_id, kek_id, wrapped, created_at) \
         SELECT id, 'k1', contact_email_sealed, $1 FROM orders WHERE id LIKE 'ord_bench%'"
            .to_owned(),
        "INSERT INTO order_items (order_id, variant_id, product_id, sku, name, color, \
         unit_price, quantity) \
         SELECT o.id, v.id, v.product_id, v.sku, 'Bench item', v.color, 12900, 1 \
         FROM orders o JOIN (SELECT id, product_id, sku, color, \
         ROW_NUMBER() OVER (ORDER BY id) - 1 AS rn FROM variants) v \
         ON v.rn = CAST(substr(o.id, 10) AS INTEGER) % (SELECT COUNT(*) FROM variants) \
         WHERE o.id LIKE 'ord_bench%'"
            .to_owned(),
        "INSERT INTO payments (id, order_id, provider, provider_reference, status, amount, \
         refunded_amount, currency, created_at, updated_at) \
         SELECT 'pay_' || id, id, 'test', 'ref_' || id, 'captured', 12900, 0, 'EUR', $1, $1 \
         FROM orders WHERE id LIKE 'ord_bench%'"
            .to_owned(),
        "INSERT INTO order_events (id, order_id, from_status, to_status, actor_kind, at) \
         SELECT 'oev_' || o.id || '_' || s.n, o.id, s.from_status, s.to_status, 'system', $1 \
         FROM orders o CROSS JOIN (\
           SELECT 1 AS n, CAST(NULL AS TEXT) AS from_status, 'pending_payment' AS to_status \
           UNION ALL SELECT 2, 'pending_payment', 'paid' \
           UNION ALL SELECT 3, 'paid', 'shipped' \
           UNION ALL SELECT 4, 'shipped', 'delivered') s \
         WHERE o.id LIKE 'ord_bench%'"
            .to_owned(),
    ];
    let now = valise::db::now();
    valise::db::write_transaction(&mut conn, |conn: &mut DbConnection| {
        for sql in &statements {
            if sql.contains("$1") {
                diesel::sql_query(sql.as_str())
                    .bind::<Timestamp, _>(now)
                    .execute(conn)?;
            } else {
                diesel::sql_query(sql.as_str()).execute(conn)?;
            }
        }
        diesel::QueryResult::Ok(())
    })?;
    diesel::sql_query("ANALYZE").execute(&mut *conn)?;
    Ok(())
}
