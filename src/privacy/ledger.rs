//! The consent ledger: append-only rows (subject, purpose, granted, policy version, time,
//! source). The current consent for a purpose is its newest row; with no row, the default of
//! the purpose applies. A leaf that any room may read (the outbox asks it before writing to
//! anyone); changing a consent, which is also a data-subject request, is
//! [`super::consents`]'s.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::consents;
use crate::db::DbConnection;

/// What personal data may be used for, beyond what the law or a contract requires:
/// `order_notifications` (order-status notices; granted by default, and cannot be withdrawn
/// while an order is open), `marketing_notifications` (off until granted) and
/// `personalization` (recommendations from my own orders and views; off until granted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Order-status notices by mail/SMS. Granted by default (they are part of the order);
    /// cannot be withdrawn while an order is open.
    OrderNotifications,
    /// Marketing notices. Off until granted.
    MarketingNotifications,
    /// Recommendations from my own orders and views. Off until granted.
    Personalization,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [
        Purpose::OrderNotifications,
        Purpose::MarketingNotifications,
        Purpose::Personalization,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::OrderNotifications => "order_notifications",
            Purpose::MarketingNotifications => "marketing_notifications",
            Purpose::Personalization => "personalization",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The consent before the subject said anything.
    pub fn default_granted(self) -> bool {
        matches!(self, Purpose::OrderNotifications)
    }
}

/// Where a consent change came from: `api` (the data subject, through the API) or
/// `registration` (given when the account was created).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    Api,
    Registration,
}

impl ConsentSource {
    pub const ALL: [ConsentSource; 2] = [ConsentSource::Api, ConsentSource::Registration];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSource::Api => "api",
            ConsentSource::Registration => "registration",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentSource> {
        ConsentSource::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = consents)]
pub struct ConsentRow {
    pub id: String,
    pub subject_id: String,
    pub purpose: String,
    pub granted: bool,
    pub policy_version: i32,
    pub source: String,
    pub at: chrono::NaiveDateTime,
}

/// Whether `subject_id` currently consents to `purpose`.
pub fn granted(conn: &mut DbConnection, subject_id: &str, purpose: Purpose) -> QueryResult<bool> {
    let newest: Option<bool> = consents::table
        .filter(consents::subject_id.eq(subject_id))
        .filter(consents::purpose.eq(purpose.as_str()))
        .order(consents::id.desc())
        .select(consents::granted)
        .first(conn)
        .optional()?;
    Ok(newest.unwrap_or(purpose.default_granted()))
}

/// Appends a change to the ledger.
pub fn record(
    conn: &mut DbConnection,
    subject_id: &str,
    purpose: Purpose,
    granted: bool,
    policy_version: i32,
    source: ConsentSource,
) -> QueryResult<()> {
    diesel::insert_into(consents::table)
        .values((
            consents::id.eq(crate::ids::new_id("cns")),
            consents::subject_id.eq(subject_id),
            consents::purpose.eq(purpose.as_str()),
            consents::granted.eq(granted),
            consents::policy_version.eq(policy_version),
            consents::source.eq(source.as_str()),
            consents::at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}
