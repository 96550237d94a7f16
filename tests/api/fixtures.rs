//! Shared setups: the catalogue, carts, orders and payments, notifications, on-disk scans
//! and the binary run as a process, for any test file to build on. The harness itself
//! (`TestApp`, sessions, `assert_problem`, `eventually`) is in `helpers`.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::config::{Config, Gateway, Secret};
use valise::db::DatabaseUrl;
use valise::payments::model::sign;

use crate::helpers::{json_of, unique_email, Session, TestApp};
use crate::receiver::Receiver;

// The catalogue.

/// A product as the admin API takes it.
pub fn product(
    slug: &str,
    style: &str,
    material: &str,
    dims: [i32; 3],
    price: i64,
    stock: &[i32],
) -> Value {
    let variants: Vec<Value> = stock
        .iter()
        .enumerate()
        .map(|(i, s)| json!({"sku": format!("{}-{i}", slug.to_uppercase()), "color": format!("colour {i}"), "available": s}))
        .collect();
    json!({
        "slug": slug,
        "name": slug.replace('-', " "),
        "brand": "Testbrand",
        "description": format!("A {material} case for {style} trips."),
        "style": style,
        "material": material,
        "wheels": "spinner",
        "features": ["tsa_lock"],
        "warranty_years": 2,
        "images": [],
        "dimensions_cm": {"height": dims[0], "width": dims[1], "depth": dims[2]},
        "weight_g": 2500,
        "capacity_l": 40,
        "price": {"amount": price},
        "variants": variants,
    })
}

/// Creates `body` through the admin API as `manager`; returns the product (201).
pub async fn create(app: &TestApp, manager: &Session, body: &Value) -> Value {
    let response = app
        .authed(Method::POST, "/v1/admin/products", manager)
        .json(body)
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::CREATED).await
}

/// A product with one variant holding `stock` units; returns the variant id.
pub async fn stocked_variant(app: &TestApp, slug: &str, stock: i32, price: i64) -> String {
    let manager = app.staff(Role::Manager).await;
    let created = create(
        app,
        &manager,
        &product(slug, "travel", "abs", [55, 40, 20], price, &[stock]),
    )
    .await;
    created["variants"][0]["id"].as_str().unwrap().to_owned()
}

// Carts, orders and payments.

/// The secret the test payment provider signs its webhooks with.
pub const WEBHOOK_SECRET: &str = valise::config::DEV_WEBHOOK_SECRET;

/// A checkout body: contact `email`, a French address, the current policy accepted.
pub fn checkout_body(email: &str) -> Value {
    json!({
        "contact_email": email,
        "shipping_address": {"name": "Quentin Zephyrine", "line1": "17 Rue des Xylophones", "city": "Marseille", "postal_code": "13001", "country": "fr"},
        "accepted_policy_version": 1
    })
}

/// A guest's cart and the token that opens it.
pub struct GuestCart {
    pub id: String,
    pub token: String,
}

/// A guest cart holding `quantity` of `variant`.
pub async fn guest_cart(app: &TestApp, variant: &str, quantity: i32) -> GuestCart {
    let created = json_of(
        app.post_json("/v1/carts", &json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    let cart = GuestCart {
        id: created["id"].as_str().unwrap().to_owned(),
        token: created["cart_token"].as_str().unwrap().to_owned(),
    };
    let added = app
        .client
        .post(app.url(&format!("/v1/carts/{}/items", cart.id)))
        .header("x-cart-token", &cart.token)
        .json(&json!({"variant_id": variant, "quantity": quantity}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::OK);
    cart
}

/// Checks `cart` out with idempotency `key`; returns the response as it came.
pub async fn checkout(
    app: &TestApp,
    cart: &GuestCart,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/carts/{}/checkout", cart.id)))
        .header("x-cart-token", &cart.token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `session`'s order of one `variant`, through their own cart (201).
pub async fn customer_order(app: &TestApp, session: &Session, variant: &str) -> Value {
    let cart = json_of(
        app.authed(Method::POST, "/v1/carts", session)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert!(
        cart.get("cart_token").is_none(),
        "customer carts need no token"
    );
    let id = cart["id"].as_str().unwrap();
    let added = app
        .authed(Method::POST, &format!("/v1/carts/{id}/items"), session)
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::OK);
    let response = app
        .authed(Method::POST, &format!("/v1/carts/{id}/checkout"), session)
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .json(&checkout_body(&session.email))
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::CREATED).await
}

/// Starts the payment of order `number` as `session`; returns the payment (201).
pub async fn start_payment(app: &TestApp, session: &Session, number: &str) -> Value {
    let response = app
        .authed(
            Method::POST,
            &format!("/v1/orders/{number}/payments"),
            session,
        )
        .header("idempotency-key", format!("pay-{number}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::CREATED).await
}

/// Sends the test provider's webhook `event_type` about `payment`, signed with `secret` at
/// `signed_at`; returns the response as it came.
pub async fn send_event(
    app: &TestApp,
    payment: &Value,
    event_id: &str,
    event_type: &str,
    signed_at: i64,
    secret: &str,
) -> reqwest::Response {
    let body = json!({
        "id": event_id, "type": event_type, "created": signed_at,
        "data": {"payment_id": payment["id"], "provider_reference": payment["provider_reference"], "amount": payment["amount"]["amount"]}
    })
    .to_string();
    app.client
        .post(app.url("/v1/payments/webhooks/test"))
        .header("content-type", "application/json")
        .header(
            "valise-signature",
            sign(secret.as_bytes(), signed_at, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A customer's order, paid through the webhook. Returns (customer, order number, payment).
pub async fn paid_order(app: &TestApp) -> (Session, String, Value) {
    let variant = stocked_variant(
        app,
        &format!("p-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]),
        10,
        15000,
    )
    .await;
    let customer = app
        .register(&unique_email("buyer"), "Quentin Zephyrine")
        .await;
    let order = customer_order(app, &customer, &variant).await;
    let number = order["number"].as_str().unwrap().to_owned();
    let payment = start_payment(app, &customer, &number).await;
    let now = chrono::Utc::now().timestamp();
    let applied = send_event(
        app,
        &payment,
        "evt_cap",
        "payment.captured",
        now,
        WEBHOOK_SECRET,
    )
    .await;
    assert_eq!(applied.status(), StatusCode::OK);
    (customer, number, payment)
}

// Notifications.

/// The secret the notification gateway's requests are signed with.
pub const GATEWAY_SECRET: &str = "gateway-test-secret-0123456789";

/// Fast delivery for tests: short cadence and waits, 3 tries; `gateway` receives notifications.
pub fn fast_delivery(config: &mut Config, gateway: Option<&Receiver>) {
    let d = &mut config.delivery;
    d.interval = Duration::from_millis(50);
    d.timeout = Duration::from_secs(5);
    d.notify_max_attempts = 3;
    d.notify_retry_base = Duration::from_millis(100);
    d.notify_retry_cap = Duration::from_millis(400);
    d.webhook_retry_delays = vec![Duration::from_millis(100); 3];
    d.gateway = gateway.map(|r| Gateway {
        url: Secret::new(url::Url::parse(&r.url).unwrap()),
        secret: Secret::new(GATEWAY_SECRET.to_owned()),
    });
}

/// Queues a notification as a change in any room would.
pub async fn enqueue(app: &TestApp, user: Option<&str>, kind: &str, payload: Value) -> String {
    let (user, kind) = (user.map(str::to_owned), kind.to_owned());
    app.db
        .run(move |conn| {
            let kind = valise::notifications::Kind::parse(&kind).expect("a known kind");
            let user = user.map(|u| valise::ids::UserId::parse(&u).expect("an account id"));
            let to = match user.as_ref() {
                Some(user_id) => valise::notifications::To::Account { user_id },
                None => valise::notifications::To::KindLookup,
            };
            valise::notifications::enqueue(conn, to, &kind, &payload).map_err(anyhow::Error::from)
        })
        .await
        .unwrap()
}

// What lands on disk.

/// Every byte the database keeps: the SQLite file with its WAL, or a `pg_dump`.
pub fn database_bytes(url: &DatabaseUrl) -> Vec<u8> {
    match url {
        DatabaseUrl::SqliteFile(path) => {
            let mut bytes = Vec::new();
            for suffix in ["", "-wal", "-shm"] {
                let file = format!("{}{suffix}", path.display());
                if let Ok(mut f) = std::fs::File::open(&file) {
                    f.read_to_end(&mut bytes).unwrap();
                }
            }
            bytes
        }
        DatabaseUrl::Postgres(raw) => {
            let output = std::process::Command::new("pg_dump")
                .args(["--data-only", raw])
                .output()
                .expect("pg_dump must be installed for the PostgreSQL raw scan");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            output.stdout
        }
        DatabaseUrl::SqliteMemory => unreachable!(),
    }
}

/// Whether `needle` occurs in `haystack`, ignoring ASCII case.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes();
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

// The binary as a process.

/// The `valise` binary without the caller's `DATABASE_URL` and `VALISE_BIND`, logging at info,
/// its rate limits scaled up (every client of these tests is one loopback address).
pub fn valise() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_valise"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("VALISE_BIND")
        // Every client of these tests is one loopback address.
        .env("VALISE_RATE_LIMIT_SCALE", "1000")
        .env("RUST_LOG", "info");
    cmd
}

/// A `valise serve` process; killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    _keys: tempfile::TempDir,
}

impl Server {
    /// Sends SIGTERM, as an orchestrator stops a container.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit, at most `limit`, and returns its exit status.
    pub fn exit_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a free port; `env` adds variables (e.g. `VALISE_DATA_DIR`).
pub fn start_server_logging_to(
    database_url: &str,
    log: impl Into<Stdio>,
    env: &[(&str, &str)],
) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key_dir = tempfile::tempdir().unwrap();
    let mut command = valise();
    command.env("VALISE_DATA_DIR", key_dir.path());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command
        .env("DATABASE_URL", database_url)
        .env("VALISE_BIND", format!("127.0.0.1:{port}"))
        .env("VALISE_WORKERS", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        port,
        _keys: key_dir,
    }
}
