//! Correcting an order's shipping address before it ships: seal the new address under the
//! order's key, write it, record the access (field names only) and, for a customer, the
//! self-service rectification, and confirm it by a notification — in one transaction.

use super::access::Requester;
use super::model::Address;
use super::store;
use super::view::{owner_view, OrderView, SHIPPING_ADDRESS};
use crate::audit::{self, Action, Actor, Event, Purpose};
use crate::auth::Caller;
use crate::crypto::Crypto;
use crate::db::{write_transaction, DbConnection};
use crate::http::error::ApiError;
use crate::notifications::{self, Kind};
use crate::privacy::requests;

/// Who the audit log names for a correction: the customer, or (a guest) the subject
/// without an account id.
pub fn actor(caller: &Caller, requester: &Requester) -> Actor {
    match (&caller.0, requester.user_id()) {
        (Some(principal), Some(user)) => Actor::from_principal(principal, Some(user)),
        _ => Actor {
            kind: audit::ActorKind::Subject,
            id: None,
            role: None,
            request_id: crate::http::request_id::current_request_id(),
        },
    }
}

/// Replaces the shipping address of the requester's order `number` and answers the order
/// as its owner sees it; 409 `invalid-transition` once it has shipped.
pub fn correct(
    conn: &mut DbConnection,
    crypto: &Crypto,
    requester: &Requester,
    actor: &Actor,
    number: &str,
    address: &Address,
) -> Result<OrderView, ApiError> {
    write_transaction(conn, |conn| {
        let order = requester.find(conn, number)?;
        if !order.status().before_shipment() {
            return Err(ApiError::InvalidTransition(
                "The order has shipped; its address can no longer change.".into(),
            ));
        }
        let key = crypto.data_key(conn, &order.id)?;
        let bytes = serde_json::to_vec(address).map_err(|e| ApiError::Internal(e.into()))?;
        let sealed = key.seal(&SHIPPING_ADDRESS.at(&order.id), &bytes)?;
        store::set_address(conn, &order.id, &sealed)?;
        let subject = order.user_id.as_deref().unwrap_or(&order.id).to_owned();
        audit::record(
            conn,
            crypto,
            actor,
            &Event {
                action: Action::OrderAddressUpdate,
                subject_id: Some(&subject),
                fields: &["shipping_address"],
                purpose: Purpose::Rectification,
            },
        )?;
        if let Some(user) = order.user_id.as_ref() {
            requests::store::record_self_service(conn, user, requests::model::Kind::Rectification)?;
        }
        notifications::enqueue(
            conn,
            crate::notifications::To::Order {
                order_id: &order.id,
                user_id: order.user_id.as_ref(),
            },
            &Kind::OrderAddressCorrected,
            &serde_json::json!({"order_id": order.id, "number": order.number}),
        )?;
        let order = store::get(conn, &order.id)?.ok_or(ApiError::NotFound)?;
        owner_view(conn, crypto, &order, None)
    })
}
