//! Two `valise serve` processes on one PostgreSQL database under checkout load for a scarce
//! variant: no oversell, no duplicate idempotent order, and every outbox notification
//! delivered to the gateway exactly once.
//!
//! `cargo run --release --example multiprocess -- postgres://…/empty_db` (`.ci/multiprocess.sh`
//! creates and drops the database). Steps:
//!
//! 1. `valise seed --demo --products 20`; one variant gets `MP_STOCK` (50) units.
//! 2. A local gateway (in this process) records the `id` of every notification POSTed to it,
//!    answering 204 after 20 ms, so deliveries overlap. Both servers deliver to it every
//!    100 ms (`VALISE_NOTIFY_WEBHOOK_URL`, `VALISE_DELIVERY_INTERVAL_MS`).
//! 3. `MP_ATTEMPTS` (200) guest carts of one unit, made alternately on both processes, are
//!    checked out by 16 concurrent clients through the other process; every fourth checkout
//!    is sent to both processes at once with the same `Idempotency-Key`.
//! 4. Exactly `MP_STOCK` orders, 0 left; every key sent again to both processes replays its
//!    one order. Each order is then paid, its provider webhook delivered to both processes.
//! 5. Once the outbox is drained: every row `delivered`, each received exactly once.

#[path = "support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::{bail, Context};
use diesel::prelude::*;
use serde_json::{json, Value};
use support::{lock, state, Answer, Cart, Launcher, Verdict};

type Seen = Arc<Mutex<HashMap<String, u32>>>;

/// The gateway: counts notification ids. Runs on its own actix system in a thread.
fn gateway() -> anyhow::Result<(String, Seen)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let seen: Seen = Arc::default();
    let counts = seen.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                let counts = counts.clone();
                App::new().default_service(web::to(move |body: web::Bytes| {
                    let counts = counts.clone();
                    async move {
                        let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let id = message["id"].as_str().unwrap_or("(no id)").to_owned();
                        *lock(&counts).entry(id).or_default() += 1;
                        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                        HttpResponse::NoContent().finish()
                    }
                }))
            })
            .workers(2)
            .listen(listener)?
            .run();
            server.await
        })
    });
    Ok((format!("http://127.0.0.1:{port}/notify"), seen))
}

/// One checkout attempt's answers (one, or two when sent to both processes).
struct Attempt {
    cart: Cart,
    key: String,
    body: Value,
    /// (status, order number, replayed)
    answers: Vec<(u16, Option<String>, bool)>,
}

fn answer_of(answer: Answer) -> (u16, Option<String>, bool) {
    match answer {
        Answer::Http {
            status,
            body,
            replayed,
        } => (status, body["number"].as_str().map(str::to_owned), replayed),
        Answer::Lost(_) => (0, None, false),
    }
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .context("usage: multiprocess postgres://…/db (an empty database)")?;
    if !url.starts_with("postgres") {
        bail!("two processes share a PostgreSQL database: give a postgres:// URL");
    }
    let stock = knob("MP_STOCK", 50);
    let attempts = knob("MP_ATTEMPTS", 200);
    let started = Instant::now();
    let data = tempfile::tempdir()?;
    let (gateway_url, seen) = gateway()?;
    let launcher = Launcher {
        bin: support::valise_bin()?,
        database_url: url.clone(),
        data_dir: data.path().to_owned(),
        env: vec![
            ("VALISE_NOTIFY_WEBHOOK_URL".into(), gateway_url),
            ("VALISE_DELIVERY_INTERVAL_MS".into(), "100".into()),
        ],
    };
    launcher.cli(&["seed", "--demo", "--products", "20"])?;
    let db = state::connect(&url)?;
    let variant: String = {
        use valise::db::schema::variants;
        let mut conn = db.get()?;
        let id: String = variants::table
            .select(variants::id)
            .order(variants::id)
            .first(&mut *conn)?;
        diesel::update(variants::table.find(&id))
            .set(variants::available.eq(i32::try_from(stock)?))
            .execute(&mut *conn)?;
        id
    };
    let initial = state::stock(&db)?;
    let servers = [launcher.serve("a")?, launcher.serve("b")?];
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let client = support::client()?;

    // Carts, alternately on each process; each checkout goes through the other one.
    let mut work = Vec::with_capacity(attempts);
    for i in 0..attempts {
        let base = &bases[i % 2];
        let cart = support::new_cart(&client, base)?;
        if !support::add_item(&client, base, &cart, &variant, 1)? {
            bail!("cannot add the scarce variant to a cart");
        }
        work.push((i, cart));
    }
    let work = Arc::new(Mutex::new(work));
    let results: Arc<Mutex<Vec<Attempt>>> = Arc::default();
    let load_started = Instant::now();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (work, results, bases) = (work.clone(), results.clone(), bases.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let client = support::client()?;
                loop {
                    let Some((i, cart)) = lock(&work).pop() else {
                        return Ok(());
                    };
                    let key = format!("mp-{i}");
                    let body = support::checkout_body(i);
                    let answers = if i.is_multiple_of(4) {
                        // The same checkout to both processes at once.
                        std::thread::scope(|s| {
                            let both: Vec<_> = bases
                                .iter()
                                .map(|base| {
                                    let (client, cart, key, body) = (&client, &cart, &key, &body);
                                    s.spawn(move || {
                                        answer_of(support::checkout(client, base, cart, key, body))
                                    })
                                })
                                .collect();
                            both.into_iter()
                                .map(|h| h.join().unwrap_or((0, None, false)))
                                .collect()
                        })
                    } else {
                        let base = &bases[(i + 1) % 2];
                        vec![answer_of(support::checkout(
                            &client, base, &cart, &key, &body,
                        ))]
                    };
                    lock(&results).push(Attempt {
                        cart,
                        key,
                        body,
                        answers,
                    });
                }
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("a load client panicked"))??;
    }
    let load_secs = load_started.elapsed().as_secs_f64();
    let results = std::mem::take(&mut *lock(&results));

    let mut verdict = Verdict::default();
    let mut numbers: HashMap<String, &Attempt> = HashMap::new();
    let (mut created, mut replayed, mut refused, mut doubled) = (0, 0, 0, 0);
    for a in &results {
        doubled += usize::from(a.answers.len() == 2);
        let mut mine = HashSet::new();
        for (status, number, was_replayed) in &a.answers {
            match (status, number) {
                (201, Some(number)) => {
                    if *was_replayed {
                        replayed += 1;
                    } else {
                        created += 1;
                    }
                    mine.insert(number.clone());
                }
                (409, _) => refused += 1,
                _ => verdict.check(false, || {
                    format!("checkout {} answered {status} (expected 201 or 409)", a.key)
                }),
            }
        }
        verdict.check(mine.len() <= 1, || {
            format!(
                "checkout {} sent to both processes made orders {mine:?}",
                a.key
            )
        });
        // Once one attempt placed the order, the other is its replay: never a 409 for the
        // stock it took, nor a 404 for the cart it checked out.
        let placed = a.answers.iter().filter(|(s, _, _)| *s == 201).count();
        verdict.check(placed == 0 || placed == a.answers.len(), || {
            format!("checkout {} answered {:?}", a.key, a.answers)
        });
        let fresh = a.answers.iter().filter(|(s, _, r)| *s == 201 && !r).count();
        verdict.check(fresh <= 1, || {
            format!("checkout {}: {fresh} answers were not replays", a.key)
        });
        for number in mine {
            let before = numbers.insert(number.clone(), a);
            verdict.check(before.is_none(), || {
                format!("order {number} answered for two different checkouts")
            });
        }
    }
    verdict.check(numbers.len() == stock, || {
        format!("{} orders for {stock} units", numbers.len())
    });
    println!(
        "PostgreSQL, 2 processes: {attempts} checkouts ({doubled} sent to both at once) in \
         {load_secs:.1} s: {created} orders placed, {replayed} replayed, {refused} refused \
         (out of stock)"
    );

    // Every key, sent again to both processes, replays its order.
    for (number, a) in &numbers {
        for base in &bases {
            let (status, again, was_replayed) =
                answer_of(support::checkout(&client, base, &a.cart, &a.key, &a.body));
            verdict.check(
                status == 201 && was_replayed && again.as_deref() == Some(number),
                || format!("replay of {} to {base}: {status} {again:?}", a.key),
            );
        }
    }
    let after_orders = state::load(&db)?;
    verdict.check(after_orders.orders.len() == stock, || {
        format!(
            "{} orders in the database for {stock} units",
            after_orders.orders.len()
        )
    });
    verdict.check(after_orders.available.get(&variant) == Some(&0), || {
        format!("{:?} units left", after_orders.available.get(&variant))
    });
    after_orders.check_orders(&initial, &mut verdict);

    // Pay every order; the provider's webhook reaches both processes (a duplicate event).
    for (i, (number, a)) in numbers.iter().enumerate() {
        let base = &bases[i % 2];
        // The replay holds the guest's order token, shown only at checkout.
        let order = support::checkout(&client, base, &a.cart, &a.key, &a.body);
        let Answer::Http { body: order, .. } = order else {
            verdict.check(false, || format!("replay of {number} for its token"));
            continue;
        };
        let order_token = order["order_token"].as_str().unwrap_or_default();
        let payment = support::send(
            client
                .post(format!("{base}/v1/orders/{number}/payments"))
                .header("x-order-token", order_token)
                .header("idempotency-key", format!("pay-{number}"))
                .json(&json!({})),
        );
        let Answer::Http {
            status: 201,
            body: payment,
            ..
        } = payment
        else {
            verdict.check(false, || format!("payment for {number} refused"));
            continue;
        };
        let now = chrono::Utc::now().timestamp();
        let event = json!({
            "id": format!("evt_{number}"), "type": "payment.captured", "created": now,
            "data": {"payment_id": payment["id"], "provider_reference": payment["provider_reference"], "amount": payment["amount"]["amount"]}
        })
        .to_string();
        let signature = valise::payments::model::sign(
            valise::config::DEV_WEBHOOK_SECRET.as_bytes(),
            now,
            event.as_bytes(),
        );
        std::thread::scope(|s| {
            for base in &bases {
                let (client, event, signature) = (&client, &event, &signature);
                s.spawn(move || {
                    support::send(
                        client
                            .post(format!("{base}/v1/payments/webhooks/test"))
                            .header("content-type", "application/json")
                            .header("valise-signature", signature)
                            .body(event.clone()),
                    )
                });
            }
        });
    }

    // The outbox drains; each row reached the gateway exactly once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let state = loop {
        let state = state::load(&db)?;
        let open = state
            .notifications
            .iter()
            .filter(|n| n.status == "pending" || n.status == "sending")
            .count();
        if open == 0 {
            break state;
        }
        if Instant::now() > deadline {
            bail!("{open} notification(s) still undelivered after 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Two more delivery intervals: a duplicate would arrive now.
    std::thread::sleep(Duration::from_millis(300));
    let seen = lock(&seen).clone();
    let mut paid = HashMap::<&str, usize>::new();
    for n in &state.notifications {
        verdict.check(n.status == "delivered", || {
            format!("notification {} ({}) ended {}", n.id, n.kind, n.status)
        });
        let times = seen.get(&n.id).copied().unwrap_or(0);
        verdict.check(times == 1, || {
            format!(
                "notification {} ({}) reached the gateway {times} times",
                n.id, n.kind
            )
        });
        if n.kind == "order.paid" {
            *paid
                .entry(n.order_id.as_deref().unwrap_or_default())
                .or_default() += 1;
        }
    }
    let rows: HashSet<&str> = state.notifications.iter().map(|n| n.id.as_str()).collect();
    for id in seen.keys() {
        verdict.check(rows.contains(id.as_str()), || {
            format!("the gateway received {id}, which is no outbox row")
        });
    }
    verdict.check(
        paid.len() == stock && paid.values().all(|n| *n == 1),
        || format!("order.paid notices per order: {paid:?}"),
    );
    for o in &state.orders {
        verdict.check(o.status == "paid", || {
            format!("order {} is {}", o.number, o.status)
        });
    }
    let delivered = state.notifications.len();
    let checks = verdict.checks();
    verdict.finish("multi-process")?;
    println!(
        "PostgreSQL, 2 processes: {stock} orders for {stock} units, 0 left, every key replays \
         its one order on both processes; {delivered} notifications delivered, each exactly \
         once; {checks} checks passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(servers);
    Ok(())
}
