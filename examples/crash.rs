//! Crash durability: checkout load against the release `valise serve`, `kill -9` mid-load,
//! a restart on the same database, and proof that nothing acknowledged was lost and nothing
//! half-written was kept.
//!
//! `cargo run --release --example crash -- DATABASE_URL` (an empty database; `.ci/crash.sh`
//! runs it on SQLite and on a fresh PostgreSQL database). Steps:
//!
//! 1. `valise seed --demo --products 20`, stock ×3 (so some variants run out under load and
//!    some do not); the stock of every variant is recorded.
//! 2. `CRASH_CLIENTS` (8) guest clients loop cart → 1–3 lines → checkout with an
//!    `Idempotency-Key`, and cancel every fifth order they placed. Every 201 is recorded.
//! 3. Once `CRASH_MIN_ORDERS` (200) more orders are acknowledged, the server gets SIGKILL
//!    while requests are in flight; `CRASH_ROUNDS` (4) times.
//! 4. Each restart first settles what the kill left in doubt: checkouts whose answer was lost
//!    are retried with the same key (an order committed before the kill is replayed, one that
//!    was not is placed now), and so are lost cancels. At the end every acknowledged checkout
//!    is replayed: the same order, with `Idempotent-Replayed`.
//! 5. The API shows every acknowledged order with its expected status; the database holds
//!    exactly the acknowledged orders, each complete (items matching its totals, first
//!    event, data key, policy acceptance, idempotency record, notice), and for every variant
//!    `initial − Σ quantities of orders still holding stock = available`.
//!
//! Exits non-zero naming every failed check.

#[path = "support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use diesel::prelude::*;
use serde_json::Value;
use support::{lock, state, Answer, Cart, Launcher, Rng, Verdict};

/// A checkout answered 201.
#[derive(Clone)]
struct Acked {
    number: String,
    token: String,
    cart: Cart,
    key: String,
    body: Value,
}

/// A request whose answer never came: the connection failed or was cut by the kill.
#[derive(Clone)]
struct Doubt {
    cart: Cart,
    key: String,
    body: Value,
}

#[derive(Default)]
struct Ledger {
    acked: Vec<Acked>,
    lost_checkouts: Vec<Doubt>,
    cancelled: HashSet<String>,
    /// (number, order token)
    lost_cancels: Vec<(String, String)>,
    out_of_stock: usize,
    /// Anything unexpected before the kill.
    errors: Vec<String>,
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Load {
    base: String,
    variants: Vec<String>,
    ledger: Mutex<Ledger>,
    stop: AtomicBool,
    killed: AtomicBool,
    attempts: AtomicUsize,
}

impl Load {
    fn error(&self, what: String) {
        if !self.killed.load(Ordering::SeqCst) {
            lock(&self.ledger).errors.push(what);
        }
    }

    fn client_loop(&self, c: usize) -> anyhow::Result<()> {
        let client = support::client()?;
        let mut rng = Rng::new(c as u64 + 1);
        while !self.stop.load(Ordering::SeqCst) {
            let n = self.attempts.fetch_add(1, Ordering::SeqCst);
            let cart = match support::new_cart(&client, &self.base) {
                Ok(cart) => cart,
                Err(e) => {
                    self.error(format!("{e:#}"));
                    continue;
                }
            };
            let mut lines = 0;
            for _ in 0..=rng.below(3) {
                let variant = &self.variants[rng.below(self.variants.len())];
                let quantity = 1 + i32::try_from(rng.below(2)).unwrap_or(0);
                match support::add_item(&client, &self.base, &cart, variant, quantity) {
                    Ok(true) => lines += 1,
                    Ok(false) => {}
                    Err(e) => self.error(format!("{e:#}")),
                }
            }
            if lines == 0 {
                continue;
            }
            let key = format!("crash-{c}-{n}-{}", cart.id);
            let body = support::checkout_body(n);
            match support::checkout(&client, &self.base, &cart, &key, &body) {
                Answer::Http {
                    status: 201,
                    body: order,
                    ..
                } => {
                    let number = order["number"].as_str().unwrap_or_default().to_owned();
                    let token = order["order_token"].as_str().unwrap_or_default().to_owned();
                    lock(&self.ledger).acked.push(Acked {
                        number: number.clone(),
                        token: token.clone(),
                        cart,
                        key,
                        body,
                    });
                    if n.is_multiple_of(5) {
                        self.cancel(&client, &number, &token);
                    }
                }
                Answer::Http { status: 409, .. } => lock(&self.ledger).out_of_stock += 1,
                Answer::Http {
                    status,
                    body: problem,
                    ..
                } => {
                    self.error(format!("checkout: {status} {problem}"));
                    // A 5xx rolled back, or not: the retry with the same key will tell.
                    lock(&self.ledger)
                        .lost_checkouts
                        .push(Doubt { cart, key, body });
                }
                Answer::Lost(e) => {
                    self.error(format!("checkout: {e}"));
                    lock(&self.ledger)
                        .lost_checkouts
                        .push(Doubt { cart, key, body });
                }
            }
        }
        Ok(())
    }

    fn cancel(&self, client: &reqwest::blocking::Client, number: &str, token: &str) {
        match support::cancel(client, &self.base, number, token) {
            Answer::Http { status: 200, .. } => {
                lock(&self.ledger).cancelled.insert(number.to_owned());
            }
            Answer::Http { status, body, .. } => {
                self.error(format!("cancel {number}: {status} {body}"));
                lock(&self.ledger)
                    .lost_cancels
                    .push((number.to_owned(), token.to_owned()));
            }
            Answer::Lost(e) => {
                self.error(format!("cancel {number}: {e}"));
                lock(&self.ledger)
                    .lost_cancels
                    .push((number.to_owned(), token.to_owned()));
            }
        }
    }
}

/// What the retries after a restart found.
#[derive(Default)]
struct Settled {
    replayed: usize,
    placed_now: usize,
    refused_now: usize,
}

/// Retries, against the restarted server, every request whose answer the kill cut off.
fn settle(
    ledger: &mut Ledger,
    base: &str,
    verdict: &mut Verdict,
    settled: &mut Settled,
) -> anyhow::Result<()> {
    let client = support::client()?;
    for doubt in std::mem::take(&mut ledger.lost_checkouts) {
        match support::checkout(&client, base, &doubt.cart, &doubt.key, &doubt.body) {
            Answer::Http {
                status: 201,
                body,
                replayed,
            } => {
                if replayed {
                    settled.replayed += 1;
                } else {
                    settled.placed_now += 1;
                }
                ledger.acked.push(Acked {
                    number: body["number"].as_str().unwrap_or_default().to_owned(),
                    token: body["order_token"].as_str().unwrap_or_default().to_owned(),
                    cart: doubt.cart,
                    key: doubt.key,
                    body: doubt.body,
                });
            }
            // Not committed before the kill, and the stock is gone now.
            Answer::Http { status: 409, .. } => settled.refused_now += 1,
            Answer::Http { status, body, .. } => verdict.check(false, || {
                format!("retried checkout {}: {status} {body}", doubt.key)
            }),
            Answer::Lost(e) => verdict.check(false, || format!("retried checkout: {e}")),
        }
    }
    for (number, token) in std::mem::take(&mut ledger.lost_cancels) {
        match support::cancel(&client, base, &number, &token) {
            // 409: it was cancelled before the kill.
            Answer::Http {
                status: 200 | 409, ..
            } => {
                ledger.cancelled.insert(number);
            }
            Answer::Http { status, body, .. } => verdict.check(false, || {
                format!("retried cancel {number}: {status} {body}")
            }),
            Answer::Lost(e) => verdict.check(false, || format!("retried cancel: {e}")),
        }
    }
    Ok(())
}

/// Loads the server until `more` further orders are acknowledged, then `kill -9`s it with
/// requests in flight. Returns when every client has stopped.
fn load_then_kill(
    server: &mut support::Server,
    variants: &[String],
    ledger: Ledger,
    clients: usize,
    more: usize,
) -> anyhow::Result<(Ledger, Duration)> {
    let target = ledger.acked.len() + more;
    let load = Arc::new(Load {
        base: server.base.clone(),
        variants: variants.to_vec(),
        ledger: Mutex::new(ledger),
        stop: AtomicBool::new(false),
        killed: AtomicBool::new(false),
        attempts: AtomicUsize::new(0),
    });
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let load = load.clone();
            std::thread::spawn(move || load.client_loop(c))
        })
        .collect();
    let started = Instant::now();
    while lock(&load.ledger).acked.len() < target {
        if started.elapsed() > Duration::from_secs(30) {
            load.stop.store(true, Ordering::SeqCst);
            bail!(
                "only {} of {target} orders acknowledged after 30 s:\n{}",
                lock(&load.ledger).acked.len(),
                server.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    load.killed.store(true, Ordering::SeqCst);
    server.kill9()?;
    let killed_at = started.elapsed();
    std::thread::sleep(Duration::from_millis(100));
    load.stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a load client panicked"))??;
    }
    let ledger = std::mem::take(&mut *lock(&load.ledger));
    Ok((ledger, killed_at))
}

fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .context("usage: crash DATABASE_URL (an empty database)")?;
    let clients = knob("CRASH_CLIENTS", 8);
    let per_round = knob("CRASH_MIN_ORDERS", 200);
    let rounds = knob("CRASH_ROUNDS", 4);
    let started = Instant::now();
    let data = tempfile::tempdir()?;
    let launcher = Launcher {
        bin: support::valise_bin()?,
        database_url: url.clone(),
        data_dir: data.path().to_owned(),
        env: Vec::new(),
    };
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    launcher.cli(&["seed", "--demo", "--products", "20"])?;
    let db = state::connect(&url)?;
    {
        // 0, 9, 36, 120 or 225 units: some variants sell out under the load, most do not.
        use valise::db::schema::variants;
        let mut conn = db.get()?;
        diesel::update(variants::table)
            .set(variants::available.eq(variants::available * 3))
            .execute(&mut *conn)?;
    }
    let initial = state::stock(&db)?;
    let mut variants: Vec<String> = initial
        .iter()
        .filter(|(_, available)| **available > 0)
        .map(|(id, _)| id.clone())
        .collect();
    variants.sort();

    // Rounds of load and SIGKILL; each restart first settles what the last kill left in doubt.
    let mut ledger = Ledger::default();
    let mut verdict = Verdict::default();
    let mut settled = Settled::default();
    let mut lost = (0, 0);
    for round in 1..=rounds {
        let mut server = launcher.serve(&format!("round-{round}"))?;
        settle(&mut ledger, &server.base, &mut verdict, &mut settled)?;
        let pid = server.pid();
        let (after, killed_at) = load_then_kill(&mut server, &variants, ledger, clients, per_round)
            .with_context(|| format!("{backend}, round {round}"))?;
        ledger = after;
        lost.0 += ledger.lost_checkouts.len();
        lost.1 += ledger.lost_cancels.len();
        println!(
            "{backend}, round {round}: {} orders acknowledged so far, kill -9 of pid {pid} {:.1} s \
             into the load with {} checkout(s) and {} cancel(s) unanswered",
            ledger.acked.len(),
            killed_at.as_secs_f64(),
            ledger.lost_checkouts.len(),
            ledger.lost_cancels.len(),
        );
    }
    let server = launcher.serve("after")?;
    settle(&mut ledger, &server.base, &mut verdict, &mut settled)?;
    for error in &ledger.errors {
        verdict.check(false, || format!("before a kill: {error}"));
    }

    // Every acknowledged checkout replays the same order, and the API shows it.
    let client = support::client()?;
    for a in &ledger.acked {
        match support::checkout(&client, &server.base, &a.cart, &a.key, &a.body) {
            Answer::Http {
                status: 201,
                body,
                replayed: true,
            } => verdict.check(body["number"] == a.number.as_str(), || {
                format!("replay of {} answered order {}", a.key, body["number"])
            }),
            Answer::Http { status, body, .. } => verdict.check(false, || {
                format!("replay of {} (order {}): {status} {body}", a.key, a.number)
            }),
            Answer::Lost(e) => verdict.check(false, || format!("replay: {e}")),
        }
        let expected = if ledger.cancelled.contains(&a.number) {
            "cancelled"
        } else {
            "pending_payment"
        };
        let shown = support::send(
            client
                .get(format!("{}/v1/orders/{}", server.base, a.number))
                .header("x-order-token", &a.token),
        );
        match shown {
            Answer::Http {
                status: 200, body, ..
            } => verdict.check(body["status"] == expected, || {
                format!(
                    "order {} is {}, expected {expected}",
                    a.number, body["status"]
                )
            }),
            Answer::Http { status, .. } => verdict.check(false, || {
                format!("acknowledged order {} answers {status}", a.number)
            }),
            Answer::Lost(e) => verdict.check(false, || format!("GET order: {e}")),
        }
    }

    // The database: exactly the acknowledged orders, each whole; stock adds up.
    let state = state::load(&db)?;
    let in_db = state.order_numbers();
    let acked: HashMap<&str, &Acked> = ledger
        .acked
        .iter()
        .map(|a| (a.number.as_str(), a))
        .collect();
    verdict.check(acked.len() == ledger.acked.len(), || {
        "two acknowledged checkouts answered the same order number".into()
    });
    for number in acked.keys() {
        verdict.check(in_db.contains(number), || {
            format!("acknowledged order {number} is not in the database")
        });
    }
    for number in &in_db {
        verdict.check(acked.contains_key(number), || {
            format!("order {number} exists but was never acknowledged, even on retry")
        });
    }
    for o in &state.orders {
        let expected = if ledger.cancelled.contains(&o.number) {
            "cancelled"
        } else {
            "pending_payment"
        };
        verdict.check(o.status == expected, || {
            format!(
                "order {} is {} in the database, expected {expected}",
                o.number, o.status
            )
        });
    }
    state.check_orders(&initial, &mut verdict);
    let checks = verdict.checks();
    verdict.finish(backend)?;
    let sold_out = initial
        .iter()
        .filter(|(id, start)| **start > 0 && state.available.get(*id) == Some(&0))
        .count();
    println!(
        "{backend}: {rounds} kill -9s left {} checkout(s) and {} cancel(s) unanswered; retried \
         after restart: {} replayed (committed before the kill), {} placed then, {} out of \
         stock. {} orders ({} cancelled), every acknowledged one present and whole, nothing \
         unacknowledged; stock adds up for {} variants ({sold_out} sold out, {} refusals); \
         {checks} checks passed in {:.1} s",
        lost.0,
        lost.1,
        settled.replayed,
        settled.placed_now,
        settled.refused_now,
        ledger.acked.len(),
        ledger.cancelled.len(),
        initial.len(),
        ledger.out_of_stock,
        started.elapsed().as_secs_f64()
    );
    drop(server);
    Ok(())
}
