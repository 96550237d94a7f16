//! Logs and traces of the real binary: spans exported over OTLP/HTTP to a collector in the
//! test, and JSON log lines, both naming routes by their template and never holding the
//! concrete ids and addresses that went through the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use reqwest::StatusCode;
use serde_json::Value;

use crate::fixtures::{checkout_body, start_server_logging_to, Server};
use crate::helpers::{guest_cart_blocking, json_of_blocking, TestDatabase};

/// A POST the collector received: path, content type, body.
type Post = (String, String, Vec<u8>);

/// An OTLP/HTTP collector: answers 200 to every POST and keeps what was posted where.
struct Collector {
    base: String,
    posts: Arc<Mutex<Vec<Post>>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let posts = Arc::new(Mutex::new(Vec::new()));
        let kept = posts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let kept = kept.clone();
                std::thread::spawn(move || serve_connection(stream, &kept));
            }
        });
        Collector { base, posts }
    }

    /// Every POST so far: path, content type, body.
    fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }
}

/// HTTP/1.1 with keep-alive and `Content-Length` bodies, which is what the exporter sends.
fn serve_connection(stream: TcpStream, kept: &Mutex<Vec<Post>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let (mut length, mut content_type) = (0, String::new());
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap(),
                "content-type" => content_type = value.trim().to_owned(),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        kept.lock().unwrap().push((path, content_type, body));
        writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    }
}

/// The values a guest's visit sent through the server: ids, tokens and an address that
/// point at a person or their order.
struct Visit {
    concrete: Vec<String>,
    /// The guest's order, read back with its token (200): its request id.
    order_read_id: String,
}

/// A guest browses a product, buys it and reads the order back.
fn guest_visit(base: &str) -> Visit {
    let client = reqwest::blocking::Client::new();
    let products = json_of_blocking(
        client
            .get(format!("{base}/v1/products?in_stock=true&limit=1"))
            .send()
            .unwrap(),
        StatusCode::OK,
    );
    let product = products["data"][0]["id"].as_str().unwrap().to_owned();
    let variant = products["data"][0]["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    json_of_blocking(
        client
            .get(format!("{base}/v1/products/{product}"))
            .send()
            .unwrap(),
        StatusCode::OK,
    );
    let (cart_id, cart_token) = guest_cart_blocking(&client, base, &variant);
    let email = "otel.traced.guest@example.com";
    let order = json_of_blocking(
        client
            .post(format!("{base}/v1/carts/{cart_id}/checkout"))
            .header("x-cart-token", &cart_token)
            .header("idempotency-key", "telemetry-checkout-1")
            .json(&checkout_body(email))
            .send()
            .unwrap(),
        StatusCode::CREATED,
    );
    let number = order["number"].as_str().unwrap().to_owned();
    let order_token = order["order_token"].as_str().unwrap().to_owned();
    let read = client
        .get(format!("{base}/v1/orders/{number}"))
        .header("x-order-token", &order_token)
        .send()
        .unwrap();
    let order_read_id = read.headers()["x-request-id"].to_str().unwrap().to_owned();
    json_of_blocking(read, StatusCode::OK);
    Visit {
        concrete: vec![
            product,
            variant,
            cart_id,
            cart_token,
            number,
            order_token,
            email.to_owned(),
            "Quentin Zephyrine".to_owned(),
        ],
        order_read_id,
    }
}

/// The demo catalogue in `url`'s database.
fn seed(url: &str) {
    let seeded = Command::new(env!("CARGO_BIN_EXE_valise"))
        .args(["seed", "--demo", "--products", "3"])
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
}

/// Stops the server as an orchestrator does (SIGTERM) and waits for it to exit.
fn stop(mut server: Server) {
    server.sigterm();
    server.exit_within(Duration::from_secs(30));
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn text<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    match attribute(&span.attributes, key)? {
        AnyValue::StringValue(s) => Some(s),
        _ => None,
    }
}

fn number(span: &Span, key: &str) -> Option<i64> {
    match attribute(&span.attributes, key)? {
        AnyValue::IntValue(n) => Some(*n),
        _ => None,
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn spans_reach_the_collector_named_by_route_with_database_children_and_no_ids() {
    let collector = Collector::start();
    let (url, _guard) = TestDatabase::create();
    let url = url.to_env_value();
    seed(&url);
    let server = start_server_logging_to(
        &url,
        Stdio::null(),
        &[
            ("VALISE_OTLP_ENDPOINT", &collector.base),
            // Nothing leaves before the shutdown: the spans arrive only if it flushes.
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
        ],
    );
    let base = format!("http://127.0.0.1:{}", server.port);
    let visit = guest_visit(&base);
    // A caller's trace context: linked to, never continued.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let linked = reqwest::blocking::Client::new()
        .get(format!("{base}/v1/policies/current"))
        .header(
            "traceparent",
            format!("00-{caller_trace}-00f067aa0ba902b7-01"),
        )
        .send()
        .unwrap();
    assert_eq!(linked.status(), StatusCode::OK);
    stop(server);

    let posts = collector.posts();
    assert!(!posts.is_empty(), "no span reached the collector");
    let mut spans = Vec::new();
    for (path, content_type, body) in &posts {
        assert_eq!(path, "/v1/traces");
        assert_eq!(content_type, "application/x-protobuf");
        for value in &visit.concrete {
            assert!(!contains(body, value), "{value} was exported");
        }
        let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        for resource in request.resource_spans {
            let service = resource.resource.as_ref().and_then(|r| {
                match attribute(&r.attributes, "service.name")? {
                    AnyValue::StringValue(s) => Some(s.clone()),
                    _ => None,
                }
            });
            assert_eq!(service.as_deref(), Some("valise"));
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }

    // The order read: one server span, named by its template, with the request's id.
    let reads: Vec<&Span> = spans
        .iter()
        .filter(|s| text(s, "valise.request_id") == Some(visit.order_read_id.as_str()))
        .collect();
    assert_eq!(reads.len(), 1, "{spans:#?}");
    let read = reads[0];
    assert_eq!(read.name, "GET /v1/orders/{number}");
    assert_eq!(text(read, "http.route"), Some("/v1/orders/{number}"));
    assert_eq!(text(read, "http.request.method"), Some("GET"));
    assert_eq!(number(read, "http.response.status_code"), Some(200));
    assert!(read.parent_span_id.is_empty(), "a request span is a root");
    // Its database work: children in the same trace, named by the backend.
    let system = if url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    let children: Vec<&Span> = spans
        .iter()
        .filter(|s| s.trace_id == read.trace_id && s.parent_span_id == read.span_id)
        .collect();
    assert!(!children.is_empty(), "no database span under the read");
    for child in &children {
        assert_eq!(child.name, "db.run");
        assert_eq!(text(child, "db.system.name"), Some(system));
    }

    // Every request of the visit is there under its template.
    for route in [
        "GET /v1/products",
        "GET /v1/products/{id_or_slug}",
        "POST /v1/carts",
        "POST /v1/carts/{id}/items",
        "POST /v1/carts/{id}/checkout",
    ] {
        assert!(spans.iter().any(|s| s.name == route), "{route} missing");
    }

    // The caller's context is a link of a trace of our own.
    let policy = spans
        .iter()
        .find(|s| s.name == "GET /v1/policies/current")
        .unwrap();
    let caller_trace = hex_bytes(caller_trace);
    assert!(policy.parent_span_id.is_empty());
    assert_ne!(policy.trace_id, caller_trace);
    assert!(
        policy.links.iter().any(|l| l.trace_id == caller_trace),
        "{policy:#?}"
    );
    assert!(spans.iter().all(|s| s.trace_id != caller_trace));
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn json_logs_are_one_object_a_line_with_templates_and_no_ids() {
    let (url, _guard) = TestDatabase::create();
    let url = url.to_env_value();
    seed(&url);
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let server = start_server_logging_to(
        &url,
        std::fs::File::create(&log_path).unwrap(),
        &[("VALISE_LOG_FORMAT", "json")],
    );
    let base = format!("http://127.0.0.1:{}", server.port);
    let visit = guest_visit(&base);
    let unmatched =
        reqwest::blocking::get(format!("{base}/v1/nothing/here-{}", visit.concrete[4])).unwrap();
    assert_eq!(unmatched.status(), StatusCode::NOT_FOUND);
    stop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    for value in &visit.concrete {
        assert!(!log.contains(value.as_str()), "{value} was logged:\n{log}");
    }
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}")))
        .collect();
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["timestamp"].is_string() && l["target"].is_string()));
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "valise::access")
        .collect();
    let read = access
        .iter()
        .find(|l| l["rid"] == visit.order_read_id.as_str())
        .expect("the order read's access line");
    assert_eq!(read["method"], "GET");
    assert_eq!(read["route"], "/v1/orders/{number}");
    assert_eq!(read["status"], 200);
    assert!(read["latency_ms"].as_f64().unwrap() >= 0.0, "{read}");
    let last = access.last().unwrap();
    assert_eq!(last["route"], "unmatched");
    assert_eq!(last["status"], 404);
}
