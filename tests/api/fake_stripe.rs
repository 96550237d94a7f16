//! A local stand-in for Stripe's API: answers `POST /v1/payment_intents`,
//! `POST /v1/payment_intents/{id}/cancel` and `POST /v1/refunds` with objects built on Stripe's own published fixtures
//! (`tests/fixtures/stripe/*.json`, copied from the fixture set of Stripe's public OpenAPI
//! repository), keeps every request it got (form body decoded, headers), replays an answer
//! for an `Idempotency-Key` it saw before as Stripe does, can be told to fail the next
//! requests with 429 or 500, and builds and signs webhook events the way Stripe does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use ring::hmac;
use serde_json::{json, Value};
use valise::config::{Secret, StripeConfig};

pub const SECRET_KEY: &str = "sk_test_valisefake0123456789";
pub const WEBHOOK_SECRET: &str = "whsec_valisefake0123456789";

const PAYMENT_INTENT: &str = include_str!("../fixtures/stripe/payment_intent.json");
const REFUND: &str = include_str!("../fixtures/stripe/refund.json");
const EVENT: &str = include_str!("../fixtures/stripe/event.json");
const CHARGE: &str = include_str!("../fixtures/stripe/charge.json");
const DISPUTE: &str = include_str!("../fixtures/stripe/dispute.json");

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub form: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub idempotency_key: Option<String>,
    pub stripe_version: Option<String>,
    pub content_type: Option<String>,
    /// What the fake answered.
    pub status: u16,
}

impl Request {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A form as received: its fields in order.
type Form = Vec<(String, String)>;

struct State {
    failures: Vec<u16>,
    refund_status: String,
    refuse_refunds: bool,
    requests: Vec<Request>,
    /// Answers by Idempotency-Key, with the form that made them.
    answers: Vec<(String, Form, Value)>,
    counter: u64,
}

pub struct FakeStripe {
    pub url: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn error(status: u16, kind: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"error": {"type": kind, "message": message}}))
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let mut state = state.lock().unwrap();
    let mut request = Request {
        path: req.path().to_owned(),
        form: form.clone(),
        authorization: header(&req, "authorization"),
        idempotency_key: header(&req, "idempotency-key"),
        stripe_version: header(&req, "stripe-version"),
        content_type: header(&req, "content-type"),
        status: 200,
    };
    let response = answer(&mut state, &req, &request, form);
    request.status = response.status().as_u16();
    state.requests.push(request);
    response
}

fn answer(
    state: &mut State,
    req: &HttpRequest,
    request: &Request,
    form: Vec<(String, String)>,
) -> HttpResponse {
    if !state.failures.is_empty() {
        let status = state.failures.remove(0);
        return error(status, "api_error", "the fake was told to fail");
    }
    if request.authorization.as_deref() != Some(&format!("Bearer {SECRET_KEY}")) {
        return error(401, "invalid_request_error", "Invalid API Key provided");
    }
    if req.method() != actix_web::http::Method::POST {
        return error(405, "invalid_request_error", "only POST here");
    }
    let Some(key) = request.idempotency_key.clone() else {
        return error(
            400,
            "invalid_request_error",
            "this fake wants an Idempotency-Key",
        );
    };
    if let Some((_, earlier, answer)) = state.answers.iter().find(|(k, _, _)| *k == key) {
        if *earlier != form {
            return error(400, "idempotency_error", "Keys for idempotent requests can only be used with the same parameters they were first used with.");
        }
        return HttpResponse::Ok().json(answer.clone());
    }
    state.counter += 1;
    let n = state.counter;
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let amount = |name: &str| field(name).and_then(|a| a.parse::<i64>().ok());
    let metadata: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("metadata[")?.strip_suffix(']')?;
            Some((name.to_owned(), Value::String(v.clone())))
        })
        .collect();
    let object = match req.path() {
        "/v1/payment_intents" => {
            let (Some(value), Some(currency)) = (amount("amount"), field("currency")) else {
                return error(
                    400,
                    "invalid_request_error",
                    "Missing required param: amount.",
                );
            };
            let id = format!("pi_fake{n:06}");
            let mut pi = fixture(PAYMENT_INTENT);
            pi["id"] = json!(id);
            pi["amount"] = json!(value);
            pi["amount_received"] = json!(0);
            pi["currency"] = json!(currency);
            pi["client_secret"] = json!(format!("{id}_secret_fake{n}"));
            pi["status"] = json!("requires_payment_method");
            pi["metadata"] = Value::Object(metadata);
            pi
        }
        path if path.starts_with("/v1/payment_intents/") && path.ends_with("/cancel") => {
            let id = &path["/v1/payment_intents/".len()..path.len() - "/cancel".len()];
            let created = state.answers.iter().find(|(_, _, a)| a["id"] == id);
            let Some((_, _, created)) = created else {
                return error(
                    404,
                    "invalid_request_error",
                    &format!("No such payment_intent: '{id}'"),
                );
            };
            let mut pi = created.clone();
            pi["status"] = json!("canceled");
            pi["canceled_at"] = json!(chrono::Utc::now().timestamp());
            pi["cancellation_reason"] = json!(field("cancellation_reason"));
            pi
        }
        "/v1/refunds" => {
            if state.refuse_refunds {
                return error(
                    400,
                    "invalid_request_error",
                    "Charge has already been refunded.",
                );
            }
            let Some(intent) = field("payment_intent") else {
                return error(
                    400,
                    "invalid_request_error",
                    "Missing required param: payment_intent.",
                );
            };
            let mut refund = fixture(REFUND);
            refund["id"] = json!(format!("re_fake{n:06}"));
            refund["amount"] = json!(amount("amount"));
            refund["payment_intent"] = json!(intent);
            refund["currency"] = json!("eur");
            refund["status"] = json!(state.refund_status);
            refund["metadata"] = Value::Object(metadata);
            refund
        }
        _ => return error(404, "invalid_request_error", "Unrecognized request URL"),
    };
    state.answers.push((key, form, object.clone()));
    HttpResponse::Ok().json(object)
}

impl FakeStripe {
    /// A fake on a free local port; its refunds answer `pending` until told otherwise.
    pub fn start() -> FakeStripe {
        let state = Arc::new(Mutex::new(State {
            failures: Vec::new(),
            refund_status: "pending".into(),
            refuse_refunds: false,
            requests: Vec::new(),
            answers: Vec::new(),
            counter: 0,
        }));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(handle))
        })
        .workers(2)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        FakeStripe {
            url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    /// The configuration that points Valise at this fake (short waits between tries).
    pub fn config(&self) -> StripeConfig {
        StripeConfig {
            secret_key: Secret::new(SECRET_KEY.to_owned()),
            webhook_secret: Secret::new(WEBHOOK_SECRET.to_owned()),
            api_base: url::Url::parse(&self.url).unwrap(),
            timeout: Duration::from_secs(5),
            attempts: 3,
            retry_base: Duration::from_millis(20),
        }
    }

    /// The next requests are answered with these statuses, in order, before any real answer.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state
            .lock()
            .unwrap()
            .failures
            .extend_from_slice(statuses);
    }

    /// The status new refunds have (`pending`, `succeeded`, …).
    pub fn refunds_answer(&self, status: &str) {
        self.state.lock().unwrap().refund_status = status.to_owned();
    }

    /// Every refund is refused with a 400 from now on.
    pub fn refuse_refunds(&self) {
        self.state.lock().unwrap().refuse_refunds = true;
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests to `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// An event as Stripe sends it (the fixture's shape), of `event_type`, about `object`.
pub fn event(id: &str, event_type: &str, created: i64, object: Value) -> Value {
    let mut event = fixture(EVENT);
    event["id"] = json!(id);
    event["type"] = json!(event_type);
    event["created"] = json!(created);
    event["api_version"] = json!(valise::payments::stripe::API_VERSION);
    event["data"] = json!({"object": object});
    event
}

/// The PaymentIntent `intent` of `amount` cents in `status`, as an event carries it.
pub fn intent(id: &str, amount: i64, status: &str) -> Value {
    let mut pi = fixture(PAYMENT_INTENT);
    pi["id"] = json!(id);
    pi["amount"] = json!(amount);
    pi["currency"] = json!("eur");
    pi["status"] = json!(status);
    pi["amount_received"] = json!(if status == "succeeded" { amount } else { 0 });
    pi
}

/// A refund object as refund events carry it.
pub fn refund(id: &str, intent: &str, amount: i64, status: &str) -> Value {
    let mut r = fixture(REFUND);
    r["id"] = json!(id);
    r["payment_intent"] = json!(intent);
    r["amount"] = json!(amount);
    r["status"] = json!(status);
    r
}

/// A charge of `intent` listing `refunds` (as `charge.refunded` carries it).
pub fn charge(intent: &str, refunds: Vec<Value>) -> Value {
    let mut c = fixture(CHARGE);
    c["payment_intent"] = json!(intent);
    c["refunds"]["data"] = json!(refunds);
    c
}

/// A dispute of the charge of `intent`.
pub fn dispute(intent: &str) -> Value {
    let mut d = fixture(DISPUTE);
    d["payment_intent"] = json!(intent);
    d
}

/// `Stripe-Signature` for `body` at `t` with `secret`, computed here as Stripe documents it
/// (HMAC-SHA256 over "t.body"), independently of the server's code.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(tag.as_ref()))
}
