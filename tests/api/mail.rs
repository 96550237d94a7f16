//! The mail channel against a real SMTP server (aiosmtpd, started by each test): what
//! arrives, to whom, with which subject and bodies; nothing without consent; a permanent
//! refusal is not retried.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use valise::auth::Role;
use valise::config::{Config, MailConfig, Secret};

use crate::fixtures::{enqueue, fast_delivery};
use crate::helpers::{eventually, json_of, unique_email, Session, TestApp};

const WAIT: Duration = Duration::from_secs(15);
pub const FROM: &str = "Valise Shop <shop@valise.test>";

/// `tests/api/smtp/server.py` under the interpreter `VALISE_TEST_SMTP_PYTHON` names (CI's
/// venv), or `python3`; it needs `aiosmtpd`. Missing, the test fails and says so.
pub struct SmtpServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        SmtpServer::start_with(&[])
    }

    /// With `server.py`'s options: `--tls starttls|implicit`, `--user U --password P`.
    pub fn start_with(options: &[&str]) -> SmtpServer {
        let python =
            std::env::var("VALISE_TEST_SMTP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/smtp/server.py");
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(&python)
            .arg(script)
            .arg(dir.path())
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "the mail tests need a Python with aiosmtpd: cannot start {python} ({e}); \
                     set VALISE_TEST_SMTP_PYTHON to an interpreter with aiosmtpd installed"
                )
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Ok(port) = line.trim().parse::<u16>() else {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!(
                "the SMTP test server did not start under {python} (is aiosmtpd installed? \
                 set VALISE_TEST_SMTP_PYTHON to an interpreter that has it): {err}"
            );
        };
        SmtpServer { port, dir, child }
    }

    /// Sends the shop's mail to this server.
    pub fn configure(&self, config: &mut Config) {
        fast_delivery(config, None);
        config.delivery.mail = Some(MailConfig {
            url: Secret::new(format!("smtp://127.0.0.1:{}", self.port)),
            ca_certificates: Vec::new(),
            from: FROM.to_owned(),
            shop_url: Some("https://shop.valise.test/".to_owned()),
        });
    }

    /// The certificate of the throw-away CA that issued the server's (with `--tls`), PEM.
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn files(&self, prefix: &str) -> Vec<Value> {
        let mut found: Vec<(u64, Value)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                let n = name
                    .strip_prefix(prefix)?
                    .strip_prefix('-')?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()?;
                let text = std::fs::read_to_string(self.dir.path().join(&name)).ok()?;
                Some((n, serde_json::from_str(&text).unwrap()))
            })
            .collect();
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// Every message accepted so far, oldest first, as the server parsed it.
    pub fn messages(&self) -> Vec<Value> {
        self.files("message")
    }

    /// How many recipients the server refused with 550.
    pub fn refusals(&self) -> usize {
        self.files("refused").len()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn part<'a>(message: &'a Value, content_type: &str) -> &'a str {
    message["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == content_type)
        .and_then(|p| p["content"].as_str())
        .unwrap_or_else(|| panic!("no {content_type} part in {message}"))
}

pub async fn status_of(app: &TestApp, manager: &Session, id: &str) -> Value {
    let response = app
        .get_as("/v1/admin/notifications?limit=100", manager)
        .await;
    let body = json_of(response, StatusCode::OK).await;
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not in the outbox"))
}

pub async fn reaches(app: &TestApp, manager: &Session, id: &str, status: &str) -> Value {
    let reached = eventually(WAIT, || async {
        status_of(app, manager, id).await["status"] == status
    })
    .await;
    let now = status_of(app, manager, id).await;
    assert!(reached, "{id} never became {status}: {now}");
    now
}

#[actix_web::test]
async fn a_notice_arrives_by_mail_to_its_recipient_alone_with_a_text_and_an_html_body() {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_configured(|c| smtp.configure(c)).await;
    let email = unique_email("ottoline.mail");
    let otto = app.customer(&email, "Ottoline").await;
    let manager = app.staff(Role::Manager).await;
    let id = enqueue(
        &app,
        Some(&otto.user_id),
        "dsr.updated",
        json!({"request_id": "dsr_1", "status": "completed"}),
    )
    .await;

    let delivered = reaches(&app, &manager, &id, "delivered").await;
    assert_eq!(delivered["attempts"], 1);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let message = &messages[0];
    assert_eq!(message["rcpt_tos"], json!([email]), "no other recipient");
    assert_eq!(message["mail_from"], "shop@valise.test");
    let headers = &message["headers"];
    assert!(headers["to"].as_str().unwrap().contains(&email));
    assert_eq!(headers["from"], FROM);
    assert!(headers.get("cc").is_none() && headers.get("bcc").is_none());
    assert_eq!(headers["subject"], "Your privacy request was updated");
    assert_eq!(message["content_type"], "multipart/alternative");
    let text = part(message, "text/plain");
    assert!(text.contains("Status: completed."), "{text}");
    assert!(text.contains("https://shop.valise.test/"), "{text}");
    let html = part(message, "text/html");
    assert!(html.contains("<p>Status: completed.</p>"), "{html}");
    assert_eq!(message["parts"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn nothing_is_mailed_without_consent() {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_configured(|c| smtp.configure(c)).await;
    let ada = app.customer(&unique_email("ada.mail"), "Ada").await;
    let manager = app.staff(Role::Manager).await;
    let marketing = enqueue(&app, Some(&ada.user_id), "marketing.spring_sale", json!({})).await;
    let notice = enqueue(
        &app,
        Some(&ada.user_id),
        "dsr.updated",
        json!({"status": "received"}),
    )
    .await;

    reaches(&app, &manager, &notice, "delivered").await;
    let suppressed = reaches(&app, &manager, &marketing, "suppressed").await;
    assert_eq!(suppressed["attempts"], 0);
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        messages[0]["headers"]["subject"],
        "Your privacy request was updated"
    );
}

#[actix_web::test]
async fn a_permanent_refusal_is_dead_after_one_try_and_not_retried() {
    let smtp = SmtpServer::start();
    let app = TestApp::spawn_configured(|c| smtp.configure(c)).await;
    let gone = app.customer(&unique_email("reject.gone"), "Gone").await;
    let manager = app.staff(Role::Manager).await;
    let refused = enqueue(&app, Some(&gone.user_id), "dsr.updated", json!({})).await;
    let dead = reaches(&app, &manager, &refused, "dead").await;
    assert_eq!(dead["attempts"], 1);
    assert_eq!(dead["last_error"], "SMTP 550");

    // A later notice to someone else is delivered: the worker moved on, and the refused one
    // was tried once only (the test schedule would allow three tries).
    let other = app.customer(&unique_email("bea.mail"), "Bea").await;
    let later = enqueue(&app, Some(&other.user_id), "dsr.updated", json!({})).await;
    reaches(&app, &manager, &later, "delivered").await;
    assert_eq!(smtp.refusals(), 1);
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(status_of(&app, &manager, &refused).await["attempts"], 1);
}
