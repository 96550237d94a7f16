//! Gap-free document numbers under `kill -9`: payments captured and orders cancelled against
//! the release `valise serve`, SIGKILL mid-load, a restart on the same database, and proof
//! that every paid order has exactly one invoice, every refund exactly one credit note, and
//! that each series is numbered 1..n per year without a gap or a duplicate.
//!
//! `cargo run --release --example crash_invoices -- DATABASE_URL` (an empty database;
//! `.ci/crash.sh` runs it on SQLite and on a fresh PostgreSQL database). Steps:
//!
//! 1. `valise seed --demo --products 20`, stock raised by 1000 per variant; the server is
//!    started with a known payment webhook secret and `CRASH_INVOICE_WORKER_MS` (200) as the
//!    worker interval, so the invoices worker races the webhook handlers. `CRASH_INVOICE_ORDERS`
//!    (300) guest orders are placed and a `test` payment is started for each.
//! 2. `CRASH_INVOICE_ROUNDS` (3) times: `CRASH_INVOICE_CLIENTS` (8) clients send signed
//!    `payment.captured` webhooks for orders not yet captured (one event id per payment) and
//!    cancel every fourth order once paid (a refund at once, so a credit note is due); once
//!    another 1/(rounds + 1) of the orders is acknowledged captured, the server gets SIGKILL
//!    with requests in flight.
//! 3. Each restart first re-sends what the kill left unanswered: captures (`duplicate` when
//!    the capture committed before the kill, `applied` when it did not) and cancels (409 when
//!    it committed). After the last round the remaining orders are captured without a kill,
//!    and the invoices worker is given up to `CRASH_INVOICE_DRAIN_SECS` (20) to empty
//!    `documents_due` (documents a kill left due between a commit and their issue).
//! 4. In the database: every order is paid, or cancelled after payment when it was to be;
//!    each has exactly one invoice and each refund exactly one credit note correcting it;
//!    every number matches its series, year and seq; per (series, year) the seqs are exactly
//!    1..n and `document_counters.last` is n; nothing is left due.
//!
//! Exits non-zero naming every failed check.

#[path = "support/mod.rs"]
mod support;

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use diesel::prelude::*;
use serde_json::Value;
use support::{lock, state, Answer, Launcher, Rng, Verdict};

/// The `test` provider's webhook secret the server is started with.
const WEBHOOK_SECRET: &str = "crash-invoices-webhook-secret";

/// A guest order with its started payment.
struct Order {
    number: String,
    token: String,
    /// As `POST /v1/orders/{number}/payments` answered it.
    payment: Value,
    /// Every fourth order is cancelled once paid.
    cancel: bool,
}

impl Order {
    fn event_id(&self) -> String {
        format!(
            "evt_capture_{}",
            self.payment["id"].as_str().unwrap_or_default()
        )
    }
}

#[derive(Default)]
struct Ledger {
    /// Orders whose capture was acknowledged (`applied` or `duplicate`).
    captured: HashSet<usize>,
    cancelled: HashSet<usize>,
    lost_captures: Vec<usize>,
    lost_cancels: Vec<usize>,
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
    orders: Arc<Vec<Order>>,
    /// Orders not yet sent a capture.
    queue: Mutex<VecDeque<usize>>,
    ledger: Mutex<Ledger>,
    stop: AtomicBool,
    killed: AtomicBool,
    in_flight: AtomicUsize,
}

impl Load {
    fn error(&self, what: String) {
        if !self.killed.load(Ordering::SeqCst) {
            lock(&self.ledger).errors.push(what);
        }
    }

    fn send(&self, request: impl FnOnce() -> Answer) -> Answer {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let answer = request();
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        answer
    }

    fn client_loop(&self) -> anyhow::Result<()> {
        let client = support::client()?;
        // Nothing new is sent once the kill is decided: what was in flight then is what the
        // kill cuts off.
        while !self.stop.load(Ordering::SeqCst) && !self.killed.load(Ordering::SeqCst) {
            let Some(i) = lock(&self.queue).pop_front() else {
                break;
            };
            let order = &self.orders[i];
            let answer = self.send(|| capture(&client, &self.base, order));
            match answer {
                Answer::Http {
                    status: 200, body, ..
                } if body["status"] == "applied" || body["status"] == "duplicate" => {
                    lock(&self.ledger).captured.insert(i);
                    if order.cancel {
                        let answer = self.send(|| {
                            support::cancel(&client, &self.base, &order.number, &order.token)
                        });
                        match answer {
                            Answer::Http { status: 200, .. } => {
                                lock(&self.ledger).cancelled.insert(i);
                            }
                            Answer::Http { status, body, .. } => {
                                self.error(format!("cancel {}: {status} {body}", order.number));
                                lock(&self.ledger).lost_cancels.push(i);
                            }
                            Answer::Lost(e) => {
                                self.error(format!("cancel {}: {e}", order.number));
                                lock(&self.ledger).lost_cancels.push(i);
                            }
                        }
                    }
                }
                Answer::Http { status, body, .. } => {
                    self.error(format!("capture {}: {status} {body}", order.number));
                    lock(&self.ledger).lost_captures.push(i);
                }
                Answer::Lost(e) => {
                    self.error(format!("capture {}: {e}", order.number));
                    lock(&self.ledger).lost_captures.push(i);
                }
            }
        }
        Ok(())
    }
}

fn capture(client: &reqwest::blocking::Client, base: &str, order: &Order) -> Answer {
    support::payment_event(
        client,
        base,
        WEBHOOK_SECRET,
        &order.event_id(),
        "payment.captured",
        &order.payment,
    )
}

/// What the re-sends after a restart found.
#[derive(Default)]
struct Settled {
    /// Captures committed before the kill (`duplicate`).
    committed: usize,
    /// Captures that were not (`applied` now).
    applied_now: usize,
    /// Cancels committed before the kill (409 now).
    cancels_committed: usize,
    cancels_now: usize,
}

/// Re-sends, against the restarted server, every capture and cancel whose answer was lost.
fn settle(
    ledger: &mut Ledger,
    orders: &[Order],
    base: &str,
    verdict: &mut Verdict,
    settled: &mut Settled,
) -> anyhow::Result<()> {
    let client = support::client()?;
    for i in std::mem::take(&mut ledger.lost_captures) {
        let order = &orders[i];
        match capture(&client, base, order) {
            Answer::Http {
                status: 200, body, ..
            } if body["status"] == "applied" || body["status"] == "duplicate" => {
                if body["status"] == "duplicate" {
                    settled.committed += 1;
                } else {
                    settled.applied_now += 1;
                }
                ledger.captured.insert(i);
                if order.cancel {
                    ledger.lost_cancels.push(i);
                }
            }
            Answer::Http { status, body, .. } => verdict.check(false, || {
                format!("re-sent capture of {}: {status} {body}", order.number)
            }),
            Answer::Lost(e) => verdict.check(false, || format!("re-sent capture: {e}")),
        }
    }
    for i in std::mem::take(&mut ledger.lost_cancels) {
        let order = &orders[i];
        match support::cancel(&client, base, &order.number, &order.token) {
            Answer::Http { status: 200, .. } => {
                settled.cancels_now += 1;
                ledger.cancelled.insert(i);
            }
            // Cancelled before the kill (the database check confirms it).
            Answer::Http { status: 409, .. } => {
                settled.cancels_committed += 1;
                ledger.cancelled.insert(i);
            }
            Answer::Http { status, body, .. } => verdict.check(false, || {
                format!("re-sent cancel of {}: {status} {body}", order.number)
            }),
            Answer::Lost(e) => verdict.check(false, || format!("re-sent cancel: {e}")),
        }
    }
    Ok(())
}

/// What one round of load did.
struct Round {
    ledger: Ledger,
    queue: VecDeque<usize>,
    /// When the kill came, and how many requests were in flight then.
    killed: Option<(Duration, usize)>,
}

/// Sends captures (and cancels) from the queue with `clients` threads. With `kill_at`, the
/// server is `kill -9`ed once that many captures are acknowledged in all; without, the load
/// runs until the queue is empty.
fn load(
    server: &mut support::Server,
    orders: &Arc<Vec<Order>>,
    queue: VecDeque<usize>,
    ledger: Ledger,
    clients: usize,
    kill_at: Option<usize>,
) -> anyhow::Result<Round> {
    let load = Arc::new(Load {
        base: server.base.clone(),
        orders: orders.clone(),
        queue: Mutex::new(queue),
        ledger: Mutex::new(ledger),
        stop: AtomicBool::new(false),
        killed: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
    });
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let load = load.clone();
            std::thread::spawn(move || load.client_loop())
        })
        .collect();
    let started = Instant::now();
    let mut killed = None;
    if let Some(target) = kill_at {
        while lock(&load.ledger).captured.len() < target {
            if started.elapsed() > Duration::from_secs(30) {
                load.stop.store(true, Ordering::SeqCst);
                bail!(
                    "only {} of {target} captures acknowledged after 30 s:\n{}",
                    lock(&load.ledger).captured.len(),
                    server.log_tail()
                );
            }
            if lock(&load.queue).is_empty() {
                bail!("no order left to capture before {target} captures: lower the rounds");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        load.killed.store(true, Ordering::SeqCst);
        let in_flight = load.in_flight.load(Ordering::SeqCst);
        server.kill9()?;
        killed = Some((started.elapsed(), in_flight));
        load.stop.store(true, Ordering::SeqCst);
    }
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a load client panicked"))??;
    }
    let ledger = std::mem::take(&mut *lock(&load.ledger));
    let queue = std::mem::take(&mut *lock(&load.queue));
    Ok(Round {
        ledger,
        queue,
        killed,
    })
}

/// Places `n` guest orders of one or two units and starts a `test` payment for each.
fn place_orders(
    base: &str,
    variants: &[String],
    n: usize,
    clients: usize,
) -> anyhow::Result<Vec<Order>> {
    let placed: Arc<Mutex<Vec<(usize, Order)>>> = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let placed = placed.clone();
            let base = base.to_owned();
            let variants = variants.to_vec();
            std::thread::spawn(move || -> anyhow::Result<()> {
                let client = support::client()?;
                let mut rng = Rng::new(c as u64 + 101);
                for i in (c..n).step_by(clients) {
                    let cart = support::new_cart(&client, &base)?;
                    let mut added = false;
                    for _ in 0..10 {
                        let variant = &variants[rng.below(variants.len())];
                        let quantity = 1 + i32::try_from(rng.below(2)).unwrap_or(0);
                        if support::add_item(&client, &base, &cart, variant, quantity)? {
                            added = true;
                            break;
                        }
                    }
                    if !added {
                        bail!("no variant could be added to a cart");
                    }
                    let body = support::checkout_body(i);
                    let order = match support::checkout(
                        &client,
                        &base,
                        &cart,
                        &format!("invoice-crash-{i}"),
                        &body,
                    ) {
                        Answer::Http {
                            status: 201, body, ..
                        } => body,
                        Answer::Http { status, body, .. } => bail!("checkout: {status} {body}"),
                        Answer::Lost(e) => bail!("checkout: {e}"),
                    };
                    let number = order["number"].as_str().context("order number")?.to_owned();
                    let token = order["order_token"]
                        .as_str()
                        .context("order token")?
                        .to_owned();
                    let payment = match support::start_payment(
                        &client,
                        &base,
                        &number,
                        &token,
                        &format!("pay-{number}"),
                    ) {
                        Answer::Http {
                            status: 201, body, ..
                        } => body,
                        Answer::Http { status, body, .. } => {
                            bail!("start payment of {number}: {status} {body}")
                        }
                        Answer::Lost(e) => bail!("start payment of {number}: {e}"),
                    };
                    lock(&placed).push((
                        i,
                        Order {
                            number,
                            token,
                            payment,
                            cancel: i % 4 == 0,
                        },
                    ));
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("an order client panicked"))??;
    }
    let mut placed = std::mem::take(&mut *lock(&placed));
    placed.sort_by_key(|(i, _)| *i);
    Ok(placed.into_iter().map(|(_, o)| o).collect())
}

fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .context("usage: crash_invoices DATABASE_URL (an empty database)")?;
    let n = knob("CRASH_INVOICE_ORDERS", 300);
    let rounds = knob("CRASH_INVOICE_ROUNDS", 3);
    let clients = knob("CRASH_INVOICE_CLIENTS", 8).max(1);
    let worker_ms = knob("CRASH_INVOICE_WORKER_MS", 200);
    let drain_secs = knob("CRASH_INVOICE_DRAIN_SECS", 20);
    let started = Instant::now();
    let data = tempfile::tempdir()?;
    let launcher = Launcher {
        bin: support::valise_bin()?,
        database_url: url.clone(),
        data_dir: data.path().to_owned(),
        env: vec![
            (
                "VALISE_PAYMENT_WEBHOOK_SECRET".into(),
                WEBHOOK_SECRET.into(),
            ),
            ("VALISE_DELIVERY_INTERVAL_MS".into(), worker_ms.to_string()),
        ],
    };
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    launcher.cli(&["seed", "--demo", "--products", "20"])?;
    let db = state::connect(&url)?;
    let mut variants: Vec<String> = state::stock(&db)?
        .into_iter()
        .filter(|(_, available)| *available > 0)
        .map(|(id, _)| id)
        .collect();
    variants.sort();
    {
        // Enough for every order: stock is not what this checks.
        use valise::db::schema::variants;
        let mut conn = db.get()?;
        diesel::update(variants::table)
            .set(variants::available.eq(variants::available + 1000))
            .execute(&mut *conn)?;
    }

    let mut server = launcher.serve("setup")?;
    let orders = Arc::new(place_orders(&server.base, &variants, n, clients)?);
    let placed_in = started.elapsed();
    let to_cancel = orders.iter().filter(|o| o.cancel).count();

    // Rounds of captures and cancels, each ended by SIGKILL; each restart first re-sends what
    // the last kill left unanswered.
    let mut queue: VecDeque<usize> = (0..n).collect();
    let mut ledger = Ledger::default();
    let mut verdict = Verdict::default();
    let mut settled = Settled::default();
    let (mut lost_captures, mut lost_cancels) = (0, 0);
    let mut kills_in_flight = 0;
    let mut left_due = (0, 0);
    for round in 1..=rounds {
        if round > 1 {
            server = launcher.serve(&format!("round-{round}"))?;
            settle(
                &mut ledger,
                &orders,
                &server.base,
                &mut verdict,
                &mut settled,
            )?;
        }
        let pid = server.pid();
        let target = n * round / (rounds + 1);
        let done = load(&mut server, &orders, queue, ledger, clients, Some(target))
            .with_context(|| format!("{backend}, round {round}"))?;
        ledger = done.ledger;
        queue = done.queue;
        let (at, in_flight) = done.killed.unwrap_or_default();
        if in_flight > 0 {
            kills_in_flight += 1;
        }
        lost_captures += ledger.lost_captures.len();
        lost_cancels += ledger.lost_cancels.len();
        // What the kill left between a commit and its document, for the restart to issue.
        let due = state::documents_due(&db)?;
        left_due.0 += due.0;
        left_due.1 += due.1;
        println!(
            "{backend}, round {round}: {} captures acknowledged so far, kill -9 of pid {pid} \
             {:.2} s into the load with {in_flight} request(s) in flight; {} capture(s) and {} \
             cancel(s) unanswered, {} invoice(s) and {} credit note(s) left due",
            ledger.captured.len(),
            at.as_secs_f64(),
            ledger.lost_captures.len(),
            ledger.lost_cancels.len(),
            due.0,
            due.1,
        );
    }

    // The last restart: re-send what was lost, capture the rest, let the worker drain.
    let mut server = launcher.serve("after")?;
    settle(
        &mut ledger,
        &orders,
        &server.base,
        &mut verdict,
        &mut settled,
    )?;
    let done = load(&mut server, &orders, queue, ledger, clients, None)?;
    ledger = done.ledger;
    verdict.check(done.queue.is_empty(), || {
        format!("{} orders never sent a capture", done.queue.len())
    });
    settle(
        &mut ledger,
        &orders,
        &server.base,
        &mut verdict,
        &mut settled,
    )?;
    for error in &ledger.errors {
        verdict.check(false, || format!("before a kill: {error}"));
    }
    let load_done = Instant::now();
    let due_now = || state::documents_due(&db).map(|(i, c)| i + c);
    let mut due = due_now()?;
    while due > 0 && load_done.elapsed() < Duration::from_secs(drain_secs as u64) {
        std::thread::sleep(Duration::from_millis(100));
        due = due_now()?;
    }
    let drained_in = load_done.elapsed();
    verdict.check(due == 0, || {
        format!(
            "{due} document(s) still due {drain_secs} s after the load:\n{}",
            server.log_tail()
        )
    });

    // The database: one invoice per paid order, one credit note per refund, gap-free numbers.
    let state = state::load_invoicing(&db)?;
    let by_number: std::collections::HashMap<&str, (&str, &str)> = state
        .orders
        .iter()
        .map(|(id, (number, status))| (number.as_str(), (id.as_str(), status.as_str())))
        .collect();
    for (i, order) in orders.iter().enumerate() {
        verdict.check(ledger.captured.contains(&i), || {
            format!("the capture of {} was never acknowledged", order.number)
        });
        if order.cancel {
            verdict.check(ledger.cancelled.contains(&i), || {
                format!("the cancel of {} was never acknowledged", order.number)
            });
        }
        let expected = if order.cancel { "cancelled" } else { "paid" };
        let Some((id, status)) = by_number.get(order.number.as_str()) else {
            verdict.check(false, || {
                format!("order {} is not in the database", order.number)
            });
            continue;
        };
        verdict.check(*status == expected, || {
            format!("order {} is {status}, expected {expected}", order.number)
        });
        verdict.check(state.paid.contains(*id), || {
            format!("order {} was never paid", order.number)
        });
    }
    let groups = state.check_documents(&mut verdict);
    let invoices = state.invoices().count();
    let credit_notes = state.credit_notes().count();
    verdict.check(invoices == n, || {
        format!("{invoices} invoices for {n} paid orders")
    });
    verdict.check(credit_notes == to_cancel, || {
        format!("{credit_notes} credit notes for {to_cancel} orders cancelled after payment")
    });
    let checks = verdict.checks();
    verdict.finish(backend)?;
    let series: Vec<String> = groups
        .iter()
        .map(|((series, year), count)| format!("{series}-{year} 1..{count}"))
        .collect();
    println!(
        "{backend}: {n} orders placed, payments started in {:.1} s; {rounds} kill -9s ({kills_in_flight} \
         with requests in flight) left {lost_captures} capture(s) and {lost_cancels} cancel(s) \
         unanswered, {} invoice(s) and {} credit note(s) due; re-sent after restart: {} captures already committed, {} applied then, {} \
         cancels already committed, {} cancelled then. {invoices} invoices and {credit_notes} \
         credit notes ({}) with no gap or duplicate, counters at n, documents_due empty {:.1} \
         s after the load; {checks} checks passed in {:.1} s",
        placed_in.as_secs_f64(),
        left_due.0,
        left_due.1,
        settled.committed,
        settled.applied_now,
        settled.cancels_committed,
        settled.cancels_now,
        series.join(", "),
        drained_in.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    drop(server);
    Ok(())
}
