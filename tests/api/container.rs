//! The server as a container runs it: production keys from files, a data directory that does
//! not outlive the container, and the `valise healthcheck` its health check calls.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fixtures::{checkout_body, product, start_server_logging_to, valise, Server};
use crate::helpers::{guest_cart_blocking, json_of_blocking, TestDatabase, PASSWORD};

/// A master key as an operator writes it: `id:base64` of 32 bytes.
fn master_key(id: &str, byte: u8) -> String {
    format!(
        "{id}:{}",
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    )
}

/// The secrets an operator keeps apart from the container (compose secrets), as files.
struct Secrets {
    dir: tempfile::TempDir,
}

impl Secrets {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), format!("{text}\n")).unwrap();
        };
        write("master.keys", &master_key("k1", 0x5a));
        write(
            "jwt.secret",
            "a-production-token-signing-secret-of-48-chars-xx",
        );
        write(
            "payment-webhook.secret",
            "whsec-production-0123456789abcdef",
        );
        Self { dir }
    }

    /// An instance's production environment, with `data` as its data directory.
    fn production_env(&self, data: &Path) -> Vec<(String, String)> {
        let file = |name: &str| self.dir.path().join(name).to_string_lossy().into_owned();
        vec![
            ("VALISE_ENV".into(), "production".into()),
            ("VALISE_MASTER_KEY_FILE".into(), file("master.keys")),
            ("VALISE_JWT_SECRET_FILE".into(), file("jwt.secret")),
            (
                "VALISE_PAYMENT_WEBHOOK_SECRET_FILE".into(),
                file("payment-webhook.secret"),
            ),
            ("VALISE_SELLER_NAME".into(), "Valise Luggage SA".into()),
            (
                "VALISE_SELLER_ADDRESS".into(),
                "Rue du Midi 1; 1000 Brussels; Belgium".into(),
            ),
            (
                "VALISE_DATA_DIR".into(),
                data.to_string_lossy().into_owned(),
            ),
        ]
    }
}

fn start(url: &str, env: &[(String, String)]) -> Server {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    start_server_logging_to(url, Stdio::null(), &env)
}

/// Runs `command` to its end; a server that should have refused but serves is killed and
/// reported.
fn run_to_exit(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("still running: {}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn login(client: &Client, base: &str, email: &str) -> String {
    let body = json_of_blocking(
        client
            .post(format!("{base}/v1/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .unwrap(),
        StatusCode::OK,
    );
    body["access_token"].as_str().unwrap().to_owned()
}

/// A guest's order of one unit of a new product; returns the checkout's answer.
fn guest_order(client: &Client, base: &str, staff_token: &str) -> Value {
    let created = json_of_blocking(
        client
            .post(format!("{base}/v1/admin/products"))
            .bearer_auth(staff_token)
            .json(&product(
                "recreated-cabin",
                "travel",
                "abs",
                [55, 40, 20],
                12900,
                &[5],
            ))
            .send()
            .unwrap(),
        StatusCode::CREATED,
    );
    let variant = created["variants"][0]["id"].as_str().unwrap();
    let (id, token) = guest_cart_blocking(client, base, variant);
    json_of_blocking(
        client
            .post(format!("{base}/v1/carts/{id}/checkout"))
            .header("x-cart-token", token)
            .header("idempotency-key", "recreate-1")
            .json(&checkout_body("recreated@example.com"))
            .send()
            .unwrap(),
        StatusCode::CREATED,
    )
}

fn read_as_guest(client: &Client, base: &str, order: &Value) -> Value {
    json_of_blocking(
        client
            .get(format!(
                "{base}/v1/orders/{}",
                order["number"].as_str().unwrap()
            ))
            .header("x-order-token", order["order_token"].as_str().unwrap())
            .send()
            .unwrap(),
        StatusCode::OK,
    )
}

#[test]
fn a_recreated_container_reads_its_data_with_the_same_secrets_and_a_new_data_dir() {
    let (url, _guard) = TestDatabase::create();
    let url = url.to_env_value();
    let secrets = Secrets::new();
    let first_data = tempfile::tempdir().unwrap();
    let env = secrets.production_env(first_data.path());

    let created = valise()
        .args(["admin", "create", "--email", "ops@shop.example"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("DATABASE_URL", &url)
        .env("VALISE_ADMIN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let client = Client::new();
    let server = start(&url, &env);
    let base = format!("http://127.0.0.1:{}", server.port);
    let token = login(&client, &base, "ops@shop.example");
    let order = guest_order(&client, &base, &token);
    let seen = read_as_guest(&client, &base, &order);
    assert_eq!(seen["contact_email"], "recreated@example.com");
    assert_eq!(seen["shipping_address"]["line1"], "17 Rue des Xylophones");

    // `docker compose down` / `up`: the process and its data directory are gone; the
    // database and the secrets remain.
    drop(server);
    drop(first_data);
    let second_data = tempfile::tempdir().unwrap();
    let server = start(&url, &secrets.production_env(second_data.path()));
    let base = format!("http://127.0.0.1:{}", server.port);

    assert_eq!(
        read_as_guest(&client, &base, &order),
        seen,
        "the sealed contact and address open again"
    );
    // The blind index of the staff e-mail still finds the account, and the earlier session's
    // token still verifies: neither key was regenerated.
    login(&client, &base, "ops@shop.example");
    let staff_view = json_of_blocking(
        client
            .get(format!(
                "{base}/v1/admin/orders/{}",
                order["number"].as_str().unwrap()
            ))
            .bearer_auth(&token)
            .send()
            .unwrap(),
        StatusCode::OK,
    );
    assert_eq!(staff_view["number"], order["number"]);
    assert!(
        !second_data.path().join("master.keys").exists(),
        "production never generates a key"
    );
}

#[test]
fn a_lost_development_key_file_stops_the_start_instead_of_being_replaced() {
    let (url, _guard) = TestDatabase::create();
    let url = url.to_env_value();
    let first_data = tempfile::tempdir().unwrap();
    let first = first_data.path().to_str().unwrap();
    let server = start_server_logging_to(&url, Stdio::null(), &[("VALISE_DATA_DIR", first)]);
    assert!(first_data.path().join("master.keys").exists());
    drop(server);

    // A new container whose data directory was not on a volume.
    let second_data = tempfile::tempdir().unwrap();
    let mut serve = valise();
    serve
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("VALISE_BIND", "127.0.0.1:0")
        .env("VALISE_DATA_DIR", second_data.path());
    let refused = run_to_exit(serve);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("sealed under master key k1")
            && stderr.contains("master.keys")
            && stderr.contains("VALISE_MASTER_KEY"),
        "{stderr}"
    );
    assert!(
        !second_data.path().join("master.keys").exists(),
        "no new key is written over the existing data"
    );

    // Keys that are not the database's are named as such.
    let mut serve = valise();
    serve
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("VALISE_BIND", "127.0.0.1:0")
        .env("VALISE_DATA_DIR", second_data.path())
        .env("VALISE_MASTER_KEY", master_key("k1", 0x11));
    let refused = run_to_exit(serve);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("do not open this database's keys"),
        "{stderr}"
    );

    // With its key file back, the same database serves again.
    let server = start_server_logging_to(&url, Stdio::null(), &[("VALISE_DATA_DIR", first)]);
    let ready = reqwest::blocking::get(format!("http://127.0.0.1:{}/readyz", server.port)).unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

fn healthcheck(args: &[&str], bind: Option<&str>) -> Output {
    let mut command = valise();
    command.arg("healthcheck").args(args);
    if let Some(bind) = bind {
        command.env("VALISE_BIND", bind);
    }
    // Production without a single secret: the probe reads no configuration but the address.
    command.env("VALISE_ENV", "production");
    run_to_exit(command)
}

#[test]
fn healthcheck_exits_0_for_a_ready_server_and_1_otherwise() {
    let (url, _guard) = TestDatabase::create();
    let server = start_server_logging_to(&url.to_env_value(), Stdio::null(), &[]);
    let port = server.port;

    // As the image runs it: the wildcard address of VALISE_BIND, asked on loopback.
    let ready = healthcheck(&[], Some(&format!("0.0.0.0:{port}")));
    assert_eq!(
        ready.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ready.stdout).trim(), "ready");
    let ready = healthcheck(&[&format!("127.0.0.1:{port}")], None);
    assert_eq!(ready.status.code(), Some(0));

    // Nothing listening any more.
    drop(server);
    let down = healthcheck(&[&format!("127.0.0.1:{port}")], None);
    assert_eq!(down.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");

    // Listening, but not ready (the database is unreachable: 503).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let answering = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).unwrap();
        stream
            .write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n\
                  Content-Length: 2\r\nConnection: close\r\n\r\n{}",
            )
            .unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });
    let unready = healthcheck(&[], Some(&address));
    let request = answering.join().unwrap();
    assert!(request.starts_with("GET /readyz HTTP/1.1"), "{request}");
    assert_eq!(unready.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unready.stderr).contains("503"),
        "{}",
        String::from_utf8_lossy(&unready.stderr)
    );
}
