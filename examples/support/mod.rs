//! What the reliability checks (`examples/crash.rs`, `examples/crash_invoices.rs`,
//! `examples/multiprocess.rs`) share: the real `valise` binary as a child process, guest
//! checkouts, payments and cancellations over HTTP, and a read of the database through the
//! crate's own schema (so one check serves SQLite and PostgreSQL).

#![allow(dead_code)] // each check uses its own part

pub mod state;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// A `valise serve` process. Dropping it kills it.
pub struct Server {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

/// How to start `valise`: the binary, the database, the key directory every process shares.
#[derive(Clone)]
pub struct Launcher {
    pub bin: PathBuf,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub env: Vec<(String, String)>,
}

pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Launcher {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env("DATABASE_URL", &self.database_url)
            .env("VALISE_DATA_DIR", &self.data_dir)
            .env("RUST_LOG", "warn");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs a command (`seed`, `migrate`, …) to completion.
    pub fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .command()
            .env("RUST_LOG", "error")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running valise {args:?}"))?;
        if !output.status.success() {
            bail!(
                "valise {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Starts `valise serve` on a free port (its log in the data directory, named `name`)
    /// and waits until it answers `/healthz`.
    pub fn serve(&self, name: &str) -> anyhow::Result<Server> {
        let port = free_port()?;
        let log = self.data_dir.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = self
            .command()
            .arg("serve")
            .env("VALISE_BIND", format!("127.0.0.1:{port}"))
            // Every client of these harnesses is one loopback address.
            .env("VALISE_RATE_LIMIT_SCALE", "1000")
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready(Duration::from_secs(30))?;
        Ok(server)
    }
}

impl Server {
    fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "valise serve exited ({status}) before answering:\n{}",
                    self.log_tail()
                );
            }
            let ok = client
                .get(format!("{}/healthz", self.base))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "valise serve did not answer within {within:?}:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no signal handler, no graceful stop, no flush.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// The last lines of the server's log, for a failure message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release binary (`target/release/valise`, found from this program's own place under
/// `target/`), unless `VALISE_BIN` names another.
pub fn valise_bin() -> anyhow::Result<PathBuf> {
    if let Ok(bin) = std::env::var("VALISE_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe()?;
    // target/<profile>/examples/<name>
    let target = exe
        .ancestors()
        .nth(3)
        .context("locating the target directory")?;
    let bin = target.join("release").join("valise");
    if !bin.exists() {
        bail!(
            "{} not found: build it (cargo build --release) or set VALISE_BIN",
            bin.display()
        );
    }
    Ok(bin)
}

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A small, fast, non-cryptographic generator (xorshift64*), enough to pick variants.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        usize::try_from(x % (n.max(1) as u64)).unwrap_or(0)
    }
}

pub fn checkout_body(n: usize) -> Value {
    json!({
        "contact_email": format!("durability-{n}@example.com"),
        "shipping_address": {"name": "Dura Bility", "line1": "1 Crash Street", "city": "Lyon", "postal_code": "69001", "country": "FR"},
        "accepted_policy_version": 1
    })
}

/// A guest cart: its id and token.
#[derive(Debug, Clone)]
pub struct Cart {
    pub id: String,
    pub token: String,
}

/// The outcome of a request: an HTTP answer, or none (the connection failed or was cut).
pub enum Answer {
    Http {
        status: u16,
        body: Value,
        replayed: bool,
    },
    Lost(String),
}

pub fn send(request: reqwest::blocking::RequestBuilder) -> Answer {
    match request.send() {
        Ok(response) => {
            let status = response.status().as_u16();
            let replayed = response
                .headers()
                .get("idempotent-replayed")
                .is_some_and(|v| v == "true");
            match response.bytes() {
                Ok(bytes) => Answer::Http {
                    status,
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                    replayed,
                },
                Err(e) => Answer::Lost(e.to_string()),
            }
        }
        Err(e) => Answer::Lost(e.to_string()),
    }
}

pub fn new_cart(client: &reqwest::blocking::Client, base: &str) -> anyhow::Result<Cart> {
    match send(client.post(format!("{base}/v1/carts")).json(&json!({}))) {
        Answer::Http {
            status: 201, body, ..
        } => Ok(Cart {
            id: body["id"].as_str().context("cart id")?.to_owned(),
            token: body["cart_token"]
                .as_str()
                .context("cart token")?
                .to_owned(),
        }),
        Answer::Http { status, body, .. } => bail!("create cart: {status} {body}"),
        Answer::Lost(e) => bail!("create cart: {e}"),
    }
}

/// Adds a line; `Ok(false)` when the variant cannot be added (409: not enough stock).
pub fn add_item(
    client: &reqwest::blocking::Client,
    base: &str,
    cart: &Cart,
    variant: &str,
    quantity: i32,
) -> anyhow::Result<bool> {
    let request = client
        .post(format!("{base}/v1/carts/{}/items", cart.id))
        .header("x-cart-token", &cart.token)
        .json(&json!({"variant_id": variant, "quantity": quantity}));
    match send(request) {
        Answer::Http {
            status: 200 | 201, ..
        } => Ok(true),
        Answer::Http { status: 409, .. } => Ok(false),
        Answer::Http { status, body, .. } => bail!("add item: {status} {body}"),
        Answer::Lost(e) => bail!("add item: {e}"),
    }
}

pub fn checkout(
    client: &reqwest::blocking::Client,
    base: &str,
    cart: &Cart,
    key: &str,
    body: &Value,
) -> Answer {
    send(
        client
            .post(format!("{base}/v1/carts/{}/checkout", cart.id))
            .header("x-cart-token", &cart.token)
            .header("idempotency-key", key)
            .json(body),
    )
}

/// Cancels a guest order (a paid one is refunded at once by the `test` provider).
pub fn cancel(client: &reqwest::blocking::Client, base: &str, number: &str, token: &str) -> Answer {
    send(
        client
            .post(format!("{base}/v1/orders/{number}/cancel"))
            .header("x-order-token", token),
    )
}

/// Starts a `test`-provider payment of a guest order; 201 answers the payment (`id`,
/// `provider_reference`, `amount.amount`).
pub fn start_payment(
    client: &reqwest::blocking::Client,
    base: &str,
    number: &str,
    token: &str,
    key: &str,
) -> Answer {
    send(
        client
            .post(format!("{base}/v1/orders/{number}/payments"))
            .header("x-order-token", token)
            .header("idempotency-key", key)
            .json(&json!({})),
    )
}

/// Sends the `test` provider's webhook `event_type` (id `event_id`) about `payment` (as
/// `start_payment` answered it), signed with `secret` now; 200 answers
/// `{"status": "applied" | "duplicate" | "ignored"}`.
pub fn payment_event(
    client: &reqwest::blocking::Client,
    base: &str,
    secret: &str,
    event_id: &str,
    event_type: &str,
    payment: &Value,
) -> Answer {
    let now = chrono::Utc::now().timestamp();
    let body = json!({
        "id": event_id, "type": event_type, "created": now,
        "data": {
            "payment_id": payment["id"],
            "provider_reference": payment["provider_reference"],
            "amount": payment["amount"]["amount"],
        }
    })
    .to_string();
    send(
        client
            .post(format!("{base}/v1/payments/webhooks/test"))
            .header("content-type", "application/json")
            .header(
                "valise-signature",
                valise::payments::model::sign(secret.as_bytes(), now, body.as_bytes()),
            )
            .body(body),
    )
}

/// An HTTP client for load: short timeouts, so a killed server is noticed at once.
pub fn client() -> anyhow::Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(2))
        .build()?)
}

/// Collects failed checks and reports them all at the end.
#[derive(Default)]
pub struct Verdict {
    failures: Vec<String>,
    checks: usize,
}

impl Verdict {
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok {
            let what = what();
            if self.failures.len() < 50 {
                eprintln!("FAIL: {what}");
            }
            self.failures.push(what);
        }
    }

    pub fn checks(&self) -> usize {
        self.checks
    }

    pub fn finish(self, name: &str) -> anyhow::Result<()> {
        if self.failures.is_empty() {
            Ok(())
        } else {
            bail!(
                "{name}: {} of {} checks failed (first: {})",
                self.failures.len(),
                self.checks,
                self.failures.first().map_or("", String::as_str)
            )
        }
    }
}
