//! Checkout load: each of N clients loops cart → item → checkout → payment → signed
//! `payment.captured` webhook, for a fixed time, and the run reports orders/s and the flow's
//! latency. `cargo run --release --example checkout_load -- BASE_URL VARIANT_ID [CLIENTS] [SECONDS]`
//! The webhook is signed with the development secret (the server must use it).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

async fn one_order(
    client: &reqwest::Client,
    base: &str,
    variant: &str,
    n: usize,
) -> Result<(), String> {
    let err = |e: reqwest::Error| e.to_string();
    let cart: Value = client
        .post(format!("{base}/v1/carts"))
        .json(&json!({}))
        .send()
        .await
        .map_err(err)?
        .json()
        .await
        .map_err(err)?;
    let id = cart["id"].as_str().ok_or("no cart id")?;
    let token = cart["cart_token"].as_str().ok_or("no cart token")?;
    let added = client
        .post(format!("{base}/v1/carts/{id}/items"))
        .header("x-cart-token", token)
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .map_err(err)?;
    if added.status() != 200 {
        return Err(format!("add item: {}", added.status()));
    }
    let order = client
        .post(format!("{base}/v1/carts/{id}/checkout"))
        .header("x-cart-token", token)
        .header("idempotency-key", format!("load-{n}-{id}"))
        .json(&json!({
            "contact_email": "load@example.com",
            "shipping_address": {"name": "Load Test", "line1": "1 Bench Street", "city": "Lyon", "postal_code": "69001", "country": "FR"},
            "accepted_policy_version": 1
        }))
        .send()
        .await
        .map_err(err)?;
    if order.status() != 201 {
        return Err(format!("checkout: {}", order.status()));
    }
    let order: Value = order.json().await.map_err(err)?;
    let number = order["number"].as_str().ok_or("no number")?;
    let order_token = order["order_token"].as_str().ok_or("no order token")?;
    let payment: Value = client
        .post(format!("{base}/v1/orders/{number}/payments"))
        .header("x-order-token", order_token)
        .header("idempotency-key", format!("pay-{number}"))
        .json(&json!({}))
        .send()
        .await
        .map_err(err)?
        .json()
        .await
        .map_err(err)?;
    let now = chrono::Utc::now().timestamp();
    let body = json!({
        "id": format!("evt_{number}"), "type": "payment.captured", "created": now,
        "data": {"payment_id": payment["id"], "provider_reference": payment["provider_reference"], "amount": payment["amount"]["amount"]}
    })
    .to_string();
    let signature = valise::payments::model::sign(
        valise::config::DEV_WEBHOOK_SECRET.as_bytes(),
        now,
        body.as_bytes(),
    );
    let hook = client
        .post(format!("{base}/v1/payments/webhooks/test"))
        .header("content-type", "application/json")
        .header("valise-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(err)?;
    if hook.status() != 200 {
        return Err(format!("webhook: {}", hook.status()));
    }
    Ok(())
}

#[actix_web::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18080".into());
    let variant = args.next().unwrap_or_default();
    let clients: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let tasks = (0..clients).map(|c| {
        let (client, base, variant) = (client.clone(), base.clone(), variant.clone());
        async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match one_order(&client, &base, &variant, c * 1_000_000 + n).await {
                    Ok(()) => latencies.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("client {c}: {e}");
                        }
                    }
                }
                n += 1;
            }
            (latencies, errors)
        }
    });
    let results = futures_util::future::join_all(tasks).await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<Duration> = results
        .iter()
        .flat_map(|(l, _)| l.iter().copied())
        .collect();
    let errors: usize = results.iter().map(|(_, e)| e).sum();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "| full checkout flow ({clients} clients) | {:.0} orders/s | p50 {:.1} ms | p99 {:.1} ms | {} orders, {errors} errors |",
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        latencies.len()
    );
}
