//! The mail channel against a real SMTP server that wants TLS and a login, as real relays do:
//! STARTTLS and implicit TLS with a private CA (`VALISE_SMTP_CA_FILE`), AUTH with the
//! percent-encoded user and password of `VALISE_SMTP_URL`; a wrong password is a refusal for
//! good; `tls=required` never talks in plain text to a server without STARTTLS, and a server
//! certificate from an unknown CA gets nothing.

use serde_json::{json, Value};
use valise::auth::Role;
use valise::config::Config;

use crate::fixtures::{enqueue, fast_delivery};
use crate::helpers::{unique_email, TestApp};
use crate::mail::{reaches, SmtpServer, FROM};

/// A login with characters a URL must percent-encode: `@`, `:`, `/`, `%` and a space.
const USER: &str = "shop@valise.test";
const PASSWORD: &str = "p@ss w:rd/%";
const USER_IN_URL: &str = "shop%40valise.test";
const PASSWORD_IN_URL: &str = "p%40ss%20w%3Ard%2F%25";

/// Sends the shop's mail as the operator would configure it: through the environment's
/// `VALISE_SMTP_URL`, `VALISE_SMTP_CA_FILE` (when `ca` is given) and `VALISE_MAIL_FROM`.
fn configure(config: &mut Config, url: String, ca: Option<&SmtpServer>) {
    fast_delivery(config, None);
    let mut vars = vec![
        ("VALISE_SMTP_URL", url),
        ("VALISE_MAIL_FROM", FROM.to_owned()),
    ];
    if let Some(server) = ca {
        vars.push((
            "VALISE_SMTP_CA_FILE",
            server.ca_file().to_str().unwrap().to_owned(),
        ));
    }
    let read = Config::from_lookup(|name| {
        vars.iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| value.clone())
    })
    .expect("a valid mail configuration");
    config.delivery.mail = read.delivery.mail;
}

fn tls_server(mode: &str, password: &str) -> SmtpServer {
    SmtpServer::start_with(&["--tls", mode, "--user", USER, "--password", password])
}

/// Sends one notice to a new customer; returns its id, the address and a manager.
async fn one_notice(app: &TestApp) -> (String, String, crate::helpers::Session) {
    let email = unique_email("tess.tls");
    let tess = app.customer(&email, "Tess").await;
    let manager = app.staff(Role::Manager).await;
    let id = enqueue(
        app,
        Some(&tess.user_id),
        "dsr.updated",
        json!({"status": "completed"}),
    )
    .await;
    (id, email, manager)
}

fn assert_arrived_over_tls_as_the_user(smtp: &SmtpServer, email: &str) {
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["rcpt_tos"], json!([email]));
    assert_eq!(messages[0]["tls"], true);
    assert_eq!(messages[0]["login"], USER);
    assert_eq!(
        messages[0]["headers"]["subject"],
        "Your privacy request was updated"
    );
    let tries = smtp.files("auth");
    assert_eq!(
        tries,
        vec![json!({"login": USER, "success": true, "tls": true})]
    );
}

#[actix_web::test]
async fn starttls_with_the_login_of_the_url_delivers_over_tls_trusting_a_private_ca() {
    let smtp = tls_server("starttls", PASSWORD);
    let url = format!(
        "smtp://{USER_IN_URL}:{PASSWORD_IN_URL}@127.0.0.1:{}?tls=required&ehlo_domain=shop.valise.test",
        smtp.port
    );
    let app = TestApp::spawn_configured(|c| configure(c, url, Some(&smtp))).await;
    let (id, email, manager) = one_notice(&app).await;

    let delivered = reaches(&app, &manager, &id, "delivered").await;
    assert_eq!(delivered["attempts"], 1);
    assert_arrived_over_tls_as_the_user(&smtp, &email);
    // EHLO in plain text, STARTTLS, EHLO again inside TLS, under the configured name.
    let ehlos: Vec<(Value, Value)> = smtp
        .files("ehlo")
        .into_iter()
        .map(|e| (e["hostname"].clone(), e["tls"].clone()))
        .collect();
    assert_eq!(
        ehlos,
        vec![
            (json!("shop.valise.test"), json!(false)),
            (json!("shop.valise.test"), json!(true))
        ]
    );
}

#[actix_web::test]
async fn implicit_tls_with_a_login_delivers() {
    let smtp = tls_server("implicit", PASSWORD);
    let url = format!(
        "smtps://{USER_IN_URL}:{PASSWORD_IN_URL}@127.0.0.1:{}",
        smtp.port
    );
    let app = TestApp::spawn_configured(|c| configure(c, url, Some(&smtp))).await;
    let (id, email, manager) = one_notice(&app).await;

    let delivered = reaches(&app, &manager, &id, "delivered").await;
    assert_eq!(delivered["attempts"], 1);
    assert_arrived_over_tls_as_the_user(&smtp, &email);
    assert!(smtp.files("ehlo").iter().all(|e| e["tls"] == true));
}

#[actix_web::test]
async fn a_wrong_password_is_refused_for_good_after_one_try_and_only_its_code_is_kept() {
    let smtp = tls_server("starttls", "the right one");
    let url = format!(
        "smtp://{USER_IN_URL}:{PASSWORD_IN_URL}@127.0.0.1:{}?tls=required",
        smtp.port
    );
    let app = TestApp::spawn_configured(|c| configure(c, url, Some(&smtp))).await;
    let (id, _, manager) = one_notice(&app).await;

    let dead = reaches(&app, &manager, &id, "dead").await;
    assert_eq!(dead["attempts"], 1);
    assert_eq!(dead["last_error"], "SMTP 535");
    assert!(smtp.messages().is_empty());
    // PLAIN is tried once, inside TLS; the refusal ends the try.
    assert_eq!(
        smtp.files("auth"),
        vec![json!({"login": USER, "success": false, "tls": true})]
    );
}

#[actix_web::test]
async fn tls_required_sends_nothing_in_plain_text_to_a_server_without_starttls() {
    let smtp = SmtpServer::start_with(&["--user", USER, "--password", PASSWORD]);
    let url = format!(
        "smtp://{USER_IN_URL}:{PASSWORD_IN_URL}@127.0.0.1:{}?tls=required",
        smtp.port
    );
    let app = TestApp::spawn_configured(|c| configure(c, url, None)).await;
    let (id, _, manager) = one_notice(&app).await;

    // Transient (the server may be fixed): the test schedule's three tries, then dead.
    let dead = reaches(&app, &manager, &id, "dead").await;
    assert_eq!(dead["attempts"], 3);
    assert_eq!(dead["last_error"], "SMTP server lacks a required extension");
    // Each try said EHLO, saw no STARTTLS, and left: no login, no message.
    let ehlos = smtp.files("ehlo");
    assert_eq!(ehlos.len(), 3, "{ehlos:?}");
    assert!(smtp.files("auth").is_empty());
    assert!(smtp.messages().is_empty());
}

#[actix_web::test]
async fn a_server_certificate_from_an_unknown_ca_gets_no_login_and_no_message() {
    let smtp = tls_server("starttls", PASSWORD);
    let url = format!(
        "smtp://{USER_IN_URL}:{PASSWORD_IN_URL}@127.0.0.1:{}?tls=required",
        smtp.port
    );
    // No VALISE_SMTP_CA_FILE: the public roots do not know the test CA.
    let app = TestApp::spawn_configured(|c| configure(c, url, None)).await;
    let (id, _, manager) = one_notice(&app).await;

    let dead = reaches(&app, &manager, &id, "dead").await;
    assert_eq!(dead["attempts"], 3);
    // lettre reports a failed handshake as a connection error.
    assert_eq!(dead["last_error"], "SMTP connection error");
    assert!(smtp.files("auth").is_empty());
    assert!(smtp.messages().is_empty());
}
