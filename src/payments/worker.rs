//! Background work inside `serve`: refunds nobody has asked the provider for yet, and
//! payments to cancel at the provider (`cancels`). A paid
//! order's cancellation sets its refund aside inside the order's transaction, where no
//! provider may be called; this loop asks the provider afterwards. It also finishes a
//! refund whose request stopped before the provider answered (a crash, or the provider down
//! for every try). Every instance runs it: the provider's `Idempotency-Key` is the refund's
//! own id, so two instances asking for one refund make one.

use std::sync::Arc;
use std::time::Duration;

use super::provider::PaymentSettings;
use super::refunds::record_answer;
use super::store;
use crate::db::{write_transaction, Db};
use crate::http::error::ApiError;

/// How long a refund asked for over HTTP is left to its own request before this loop takes
/// it over.
const GRACE: Duration = Duration::from_secs(60);

pub fn spawn(
    db: Db,
    settings: Arc<PaymentSettings>,
    every: Duration,
) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(every);
        loop {
            tick.tick().await;
            match submit_due(&db, &settings).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("asked the provider for {n} refund(s)"),
                Err(e) => tracing::warn!("submitting refunds failed: {e}"),
            }
            match super::cancels::submit_due(&db, &settings).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("asked the provider to cancel {n} payment(s)"),
                Err(e) => tracing::warn!("cancelling payments failed: {e}"),
            }
        }
    })
}

/// Asks the provider for every refund due (a batch at a time); how many it answered.
pub async fn submit_due(db: &Db, settings: &PaymentSettings) -> Result<usize, ApiError> {
    let before = crate::db::now() - chrono::Duration::from_std(GRACE).unwrap_or_default();
    let due = db
        .run(move |conn| Ok::<_, ApiError>(store::unsubmitted_refunds(conn, before, 20)?))
        .await?;
    let mut answered = 0;
    for refund in due {
        let payment_id = refund.payment_id.clone();
        let Some(payment) = db
            .run(move |conn| Ok::<_, ApiError>(store::get(conn, &payment_id)?))
            .await?
        else {
            continue;
        };
        let answer = match settings.refund(&payment, &refund).await {
            Ok(answer) => answer,
            // Still unreachable: the next pass tries again.
            Err(_) => continue,
        };
        db.run(move |conn| {
            write_transaction(conn, |conn| record_answer(conn, &refund.id, &answer))
        })
        .await?;
        answered += 1;
    }
    Ok(answered)
}
