//! What a notice says by mail: a subject, a plain-text body and an HTML body for every
//! [`Kind`], in one `match` so a new kind without words does not compile. Bodies use the
//! payload's non-personal fields only (order number, status, policy version) and the shop's
//! public address when configured; the one secret a message may carry is a one-time code (a guest's
//! verification code, an account's confirmation or reset token), passed in from the sealed
//! column, never from the payload.

use serde_json::Value;

use super::kind::Kind;

/// A rendered message: the subject and both alternatives of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What a message may say about the notice it carries.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub kind: &'a Kind,
    pub payload: &'a Value,
    /// Kinds that carry a one-time code (verification, confirmation, reset): the code, opened
    /// for this message.
    pub code: Option<&'a str>,
    /// The shop's public address (`VALISE_SHOP_URL`), linked at the foot of every message.
    pub shop_url: Option<&'a str>,
}

/// The words of one notice: a subject and paragraphs, escaped later for HTML.
struct Words {
    subject: String,
    paragraphs: Vec<String>,
}

fn field<'a>(payload: &'a Value, name: &str) -> Option<&'a str> {
    payload.get(name).and_then(Value::as_str)
}

/// "order LG-…" when the payload names the order's number, else "your order".
fn order_name(payload: &Value) -> String {
    match field(payload, "number") {
        Some(number) => format!("order {number}"),
        None => "your order".to_owned(),
    }
}

fn status_line(payload: &Value) -> Option<String> {
    field(payload, "status").map(|s| format!("Status: {}.", s.replace('_', " ")))
}

fn about_order(subject: &str, lead: &str, payload: &Value) -> Words {
    let order = order_name(payload);
    let mut paragraphs = vec![format!("{lead} ({order}).")];
    paragraphs.extend(status_line(payload));
    Words {
        subject: format!("{subject}: {order}"),
        paragraphs,
    }
}

fn plain(subject: &str, lead: &str) -> Words {
    Words {
        subject: subject.to_owned(),
        paragraphs: vec![lead.to_owned()],
    }
}

/// A notice carrying a one-time code, with the warning that goes with every code.
fn with_code(cx: &Context<'_>, subject: &str, lead: &str) -> Words {
    let mut w = plain(subject, lead);
    w.paragraphs
        .push(cx.code.unwrap_or("(no code: ask for a new one)").to_owned());
    w.paragraphs.push(
        "If you did not ask for it, ignore this message: nothing happens without it.".to_owned(),
    );
    w
}

fn words(cx: &Context<'_>) -> Words {
    let p = cx.payload;
    match cx.kind {
        Kind::OrderPlaced => about_order(
            "We received your order",
            "Thank you: we received your order and are waiting for its payment",
            p,
        ),
        Kind::OrderPaid => about_order(
            "Payment received",
            "Your payment arrived; we are preparing your order",
            p,
        ),
        Kind::OrderShipped => about_order(
            "Your order is on its way",
            "Your order has left our warehouse",
            p,
        ),
        Kind::OrderDelivered => about_order(
            "Your order was delivered",
            "The carrier reports your order as delivered",
            p,
        ),
        Kind::OrderCancelled => about_order("Order cancelled", "Your order was cancelled", p),
        Kind::OrderExpired => about_order(
            "Order expired",
            "Your order expired before its payment arrived; nothing was charged",
            p,
        ),
        Kind::OrderClosed => about_order("Order closed", "Your order is complete and closed", p),
        Kind::OrderAddressCorrected => about_order(
            "Delivery address corrected",
            "The delivery address of your order was corrected",
            p,
        ),
        Kind::PaymentRefunded => {
            about_order("Refund issued", "A refund was issued for your payment", p)
        }
        Kind::InvoiceIssued => about_order(
            "Your invoice is ready",
            "The invoice of your order is ready to download from your account",
            p,
        ),
        Kind::CreditNoteIssued => about_order(
            "Credit note issued",
            "A credit note was issued for your refund",
            p,
        ),
        Kind::AfterSalesUpdated => about_order(
            "Your after-sales request was updated",
            "There is news about your after-sales request",
            p,
        ),
        Kind::ConsultationAnswered => plain(
            "Your question was answered",
            "Our staff answered your question about a product.",
        ),
        Kind::PolicyRevised => {
            let mut w = plain(
                "Our privacy policy changed",
                "We revised our privacy policy; please read what changed.",
            );
            if let Some(version) = p.get("policy_version").filter(|v| !v.is_null()) {
                w.paragraphs.push(format!("New version: {version}."));
            }
            w
        }
        Kind::DsrUpdated => {
            let mut w = plain(
                "Your privacy request was updated",
                "There is news about your request concerning your personal data.",
            );
            w.paragraphs.extend(status_line(p));
            w
        }
        Kind::DsrVerificationCode => with_code(
            cx,
            "Your verification code",
            "Use this code to confirm your request concerning your personal data:",
        ),
        Kind::AccountConfirmation => with_code(
            cx,
            "Confirm your e-mail address",
            "Welcome! Confirm your address with this code to start using your account \
             (valid for 24 hours):",
        ),
        Kind::AccountAlreadyRegistered => plain(
            "You already have an account",
            "Someone (perhaps you) tried to register with this address, which already has an \
             account. Sign in, or reset your password if you forgot it. If it was not you, \
             ignore this message: nothing changed.",
        ),
        Kind::PasswordReset => with_code(
            cx,
            "Reset your password",
            "Use this code to choose a new password (valid for 30 minutes, once). Every \
             signed-in device is signed out when you do:",
        ),
        Kind::PasswordChanged => plain(
            "Your password was changed",
            "The password of your account was changed and every session was signed out. If \
             it was not you, reset your password now and contact us.",
        ),
        Kind::EmailChangeConfirmation => with_code(
            cx,
            "Confirm your new e-mail address",
            "Confirm that this address should become your account's address with this code \
             (valid for 24 hours):",
        ),
        Kind::EmailChangeRefused => plain(
            "Your address was not changed",
            "Someone asked to move another account to this address, which already has an \
             account of its own. Nothing changed. If it was you, sign in with this address \
             instead.",
        ),
        Kind::Marketing(_) => plain(
            "News from the shop",
            "We have news for you. You receive this because you agreed to marketing messages; \
             withdraw that consent in your account at any time.",
        ),
    }
}

/// Renders the notice: the subject, the plain-text body and the HTML body (every value
/// escaped).
pub fn render(cx: &Context<'_>) -> Rendered {
    let Words {
        subject,
        mut paragraphs,
    } = words(cx);
    if let Some(url) = cx.shop_url {
        paragraphs.push(format!("Your account: {url}"));
    }
    let text = paragraphs.join("\n\n") + "\n";
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body>\n",
        escape(&subject)
    );
    for paragraph in &paragraphs {
        html.push_str("<p>");
        html.push_str(&escape(paragraph));
        html.push_str("</p>\n");
    }
    html.push_str("</body></html>\n");
    Rendered {
        subject,
        text,
        html,
    }
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cx<'a>(kind: &'a Kind, payload: &'a Value) -> Context<'a> {
        Context {
            kind,
            payload,
            code: None,
            shop_url: None,
        }
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("plain é"), "plain é");
    }

    #[test]
    fn a_payload_value_cannot_inject_markup() {
        let payload = json!({"number": "<script>alert(1)</script>", "status": "paid"});
        let r = render(&cx(&Kind::OrderPaid, &payload));
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"));
        assert!(r.text.contains("<script>"), "plain text is not escaped");
    }

    #[test]
    fn order_notices_name_the_order_and_its_status() {
        let payload =
            json!({"order_id": "ord_1", "number": "LG-AAAA-BBBB", "status": "pending_payment"});
        let r = render(&Context {
            shop_url: Some("https://shop.example/"),
            ..cx(&Kind::OrderPlaced, &payload)
        });
        assert_eq!(r.subject, "We received your order: order LG-AAAA-BBBB");
        assert!(r.text.contains("LG-AAAA-BBBB") && r.text.contains("pending payment"));
        assert!(r.text.contains("https://shop.example/"));
        assert!(r.html.contains("<p>Status: pending payment.</p>"));
    }

    #[test]
    fn every_kind_has_a_subject_and_both_bodies() {
        let payload = json!({});
        let mut kinds: Vec<Kind> = super::super::kind::FIXED.to_vec();
        kinds.push(Kind::parse("marketing.spring").unwrap());
        for kind in &kinds {
            let r = render(&cx(kind, &payload));
            assert!(!r.subject.is_empty() && !r.text.trim().is_empty(), "{kind}");
            assert!(r.html.contains("<p>"), "{kind}");
        }
    }

    #[test]
    fn the_verification_code_is_in_both_bodies() {
        let payload = json!({"request_id": "dsr_1"});
        let r = render(&Context {
            code: Some("481 516"),
            ..cx(&Kind::DsrVerificationCode, &payload)
        });
        assert!(r.text.contains("481 516") && r.html.contains("481 516"));
    }
}
