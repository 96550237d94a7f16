//! A local webhook receiver for delivery tests: answers 500 to the first N requests, then 200,
//! and keeps every request it got.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use ring::hmac;

#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub signature: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    failures_left: usize,
    /// What a failing answer is (500 unless started with another).
    failure_status: u16,
    received: Vec<Received>,
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
) -> HttpResponse {
    let mut state = state.lock().unwrap();
    let status = if state.failures_left > 0 {
        state.failures_left -= 1;
        state.failure_status
    } else {
        200
    };
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    state.received.push(Received {
        at: Instant::now(),
        signature: req
            .headers()
            .get("valise-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        headers,
        body: body.to_vec(),
        status,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

impl Receiver {
    /// A receiver on a free local port that fails the first `failures` requests with 500.
    pub fn start(failures: usize) -> Receiver {
        Receiver::start_answering(failures, 500)
    }

    /// A receiver that fails the first `failures` requests with `status`.
    pub fn start_answering(failures: usize, status: u16) -> Receiver {
        let state = Arc::new(Mutex::new(State {
            failures_left: failures,
            failure_status: status,
            received: Vec::new(),
        }));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
            handle,
        }
    }

    /// Every request received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Polls until at least `n` requests arrived (or `within` passes); returns them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        crate::helpers::eventually(within, || async { self.received().len() >= n }).await;
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Verifies `Valise-Signature: t=<unix>,v1=<hex>` as HMAC-SHA256(secret, "t.body"), computed
/// here independently of the server's code.
pub fn signature_is_valid(secret: &str, header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 60);
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    let expected = hex::encode(hmac::sign(&key, &message).as_ref());
    fresh && expected == v1
}
