//! Starting a payment of an order with the shop's provider.
//!
//! With `test`, one transaction. With `stripe`, the PaymentIntent is created between two
//! transactions, never inside one: the first finds a replay or checks the order, the call
//! carries an `Idempotency-Key` derived from the client's, and the second records the
//! payment and the answer (checking the order again, and replaying the answer of a
//! concurrent request with the same key, which reached the same PaymentIntent).

use std::sync::Arc;

use super::model::{PaymentProvider, PaymentStatus, TestProvider};
use super::provider::{payment_idempotency_key, refused_or_unavailable, PaymentSettings};
use super::store::{self, PaymentRow};
use super::view::PaymentView;
use crate::crypto::Crypto;
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::ApiError;
use crate::idempotency::{self, Lookup, Stored};
use crate::orders::access::Requester;
use crate::orders::model::OrderStatus;
use crate::orders::store::OrderRow;

/// A request to start a payment.
pub struct Start {
    pub requester: Requester,
    pub number: String,
    pub key: String,
    pub hash: Vec<u8>,
}

/// What the provider made of a new payment.
struct Made {
    provider: PaymentProvider,
    reference: String,
    client_secret: Option<String>,
}

/// The answer (status, body) to `start`, and whether it replays an earlier one.
pub async fn start(
    db: &Db,
    crypto: Arc<Crypto>,
    settings: &PaymentSettings,
    start: Start,
) -> Result<(Stored, bool), ApiError> {
    let start = Arc::new(start);
    let made = match settings.shop_provider() {
        PaymentProvider::Test => None,
        PaymentProvider::Stripe => {
            let (c, s) = (crypto.clone(), start.clone());
            let order = match db.run(move |conn| find(conn, &c, &s)).await? {
                Err(stored) => return Ok((stored, true)),
                Ok(order) => order,
            };
            let scope = scope(&order);
            let intent = settings
                .stripe()?
                .create_intent(
                    &payment_idempotency_key(&scope, &start.key),
                    order.total,
                    &order.currency,
                    &order.id,
                )
                .await
                .map_err(refused_or_unavailable)?;
            Some(Made {
                provider: PaymentProvider::Stripe,
                reference: intent.id,
                client_secret: intent.client_secret,
            })
        }
    };
    db.run(move |conn| record(conn, &crypto, &start, made))
        .await
}

fn scope(order: &OrderRow) -> String {
    format!("payment:{}", order.id)
}

/// The order to pay, or the stored answer of an earlier request with this key (nothing
/// written: before a provider call, this runs outside any transaction).
fn find(
    conn: &mut DbConnection,
    crypto: &Crypto,
    start: &Start,
) -> Result<Result<OrderRow, Stored>, ApiError> {
    let order = start.requester.find(conn, &start.number)?;
    if let Lookup::Replay(stored) =
        idempotency::lookup(conn, crypto, &scope(&order), &start.key, &start.hash)?
    {
        return Ok(Err(stored));
    }
    if order.status() != OrderStatus::PendingPayment {
        return Err(ApiError::InvalidTransition(format!(
            "The order is {}, not awaiting payment.",
            order.status().as_str()
        )));
    }
    Ok(Ok(order))
}

/// Records the payment (made by the provider already, or by `test` now) and its answer.
fn record(
    conn: &mut DbConnection,
    crypto: &Crypto,
    start: &Start,
    made: Option<Made>,
) -> Result<(Stored, bool), ApiError> {
    write_transaction(conn, |conn| {
        let order = match find(conn, crypto, start)? {
            Err(stored) => return Ok((stored, true)),
            Ok(order) => order,
        };
        let now = crate::db::now();
        let id = crate::ids::new_id("pay");
        let made = made.unwrap_or_else(|| Made {
            provider: PaymentProvider::Test,
            reference: TestProvider.create(&id),
            client_secret: None,
        });
        let row = PaymentRow {
            provider_reference: made.reference,
            id,
            order_id: order.id.clone(),
            provider: made.provider.as_str().to_owned(),
            status: PaymentStatus::Pending.as_str().to_owned(),
            amount: order.total,
            refunded_amount: 0,
            currency: order.currency.clone(),
            created_at: now,
            updated_at: now,
            last_event_at: None,
            cancel_due_at: None,
        };
        match store::insert(conn, &row) {
            // The same PaymentIntent, recorded by a concurrent request with this key.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => return Err(ApiError::conflict(RACE)),
            other => other?,
        }
        let mut view = PaymentView::from(row);
        view.client_secret = made.client_secret;
        let body = serde_json::to_vec(&view).map_err(|e| ApiError::Internal(e.into()))?;
        let data_key = crypto.data_key(conn, &order.id)?;
        if !idempotency::save(
            conn,
            &data_key,
            &scope(&order),
            &start.key,
            &start.hash,
            &order.id,
            201,
            &body,
        )? {
            return Err(ApiError::conflict(RACE));
        }
        Ok((Stored { status: 201, body }, false))
    })
}

const RACE: &str = "A concurrent request used this Idempotency-Key; retry.";
