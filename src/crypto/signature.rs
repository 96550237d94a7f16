//! `Valise-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t "." body)>`: how the payment
//! provider signs its webhooks, and how Valise signs what it delivers (the notification
//! gateway, integrators' webhooks). The timestamp bounds replays to the tolerance.

use ring::hmac;

/// Webhook signatures: `Valise-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t "." body)>`.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={timestamp},v1={}", hex::encode(ctx.sign().as_ref()))
}

/// Verifies a signature header against the raw body, in constant time, within the tolerance.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v.to_owned()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or("the signature has no timestamp")?;
    // `abs_diff`: a timestamp near i64::MIN or MAX must not overflow the subtraction.
    if now.abs_diff(timestamp) > SIGNATURE_TOLERANCE_SECS.unsigned_abs() {
        return Err("the signature timestamp is outside the 5-minute tolerance");
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut signed = timestamp.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(body);
    let ok = signatures
        .iter()
        .any(|s| hex::decode(s).is_ok_and(|tag| hmac::verify(&key, &signed, &tag).is_ok()));
    if ok {
        Ok(())
    } else {
        Err("the signature does not match")
    }
}
