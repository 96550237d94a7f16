//! Whom a gateway message goes to. The outbox row holds no address (a second home for
//! personal data that the data map, retention and shredding would have to cover): each room
//! that sends notifications registers, at start-up, the lookup that opens the one address its
//! notices need — the account's email, a guest order's contact email, a guest request's
//! address and code, a consultation's contact email. The worker asks the registry and knows
//! none of those rooms.

use super::kind::Kind;
use crate::crypto::Crypto;
use crate::db::DbConnection;
use crate::http::error::ApiError;

/// Where a gateway message goes, and the one-time code it carries, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub to: String,
    pub code: Option<String>,
}

impl Address {
    pub fn to(to: String) -> Address {
        Address { to, code: None }
    }
}

/// What a lookup is told of a claimed notification (never its address: it has none).
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub kind: &'a Kind,
    pub user_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    pub payload: &'a serde_json::Value,
}

/// Opens the address of one notice; `None` when there is none any more (erased, shredded,
/// used): the notice then stays in the inbox only.
pub type Lookup = fn(&mut DbConnection, &Crypto, &Notice<'_>) -> Result<Option<Address>, ApiError>;

/// The lookups of every room, asked in a fixed order: an account's notices go to the
/// account; then a kind's own lookup; then the order's contact (a guest's order).
#[derive(Clone, Default)]
pub struct Recipients {
    account: Option<Lookup>,
    kinds: Vec<(Kind, Lookup)>,
    order: Option<Lookup>,
}

impl Recipients {
    /// Notices with a recipient account.
    pub fn for_accounts(mut self, lookup: Lookup) -> Self {
        self.account = Some(lookup);
        self
    }

    /// Notices of the given kinds without a recipient account: a room's table of the
    /// kinds it owns and finds the address of (a `RECIPIENTS` beside its lookups), so a new
    /// kind of an existing room is registered where it is written.
    pub fn for_kinds(mut self, lookups: &[(Kind, Lookup)]) -> Self {
        self.kinds.extend_from_slice(lookups);
        self
    }

    /// Notices about an order without a recipient account (a guest's).
    pub fn for_orders(mut self, lookup: Lookup) -> Self {
        self.order = Some(lookup);
        self
    }

    /// The address of `notice`, from the first lookup that applies to it.
    pub fn find(
        &self,
        conn: &mut DbConnection,
        crypto: &Crypto,
        notice: &Notice<'_>,
    ) -> Result<Option<Address>, ApiError> {
        let lookup = if notice.user_id.is_some() {
            self.account
        } else if let Some((_, lookup)) = self.kinds.iter().find(|(k, _)| k == notice.kind) {
            Some(*lookup)
        } else if notice.order_id.is_some() {
            self.order
        } else {
            None
        };
        match lookup {
            Some(lookup) => lookup(conn, crypto, notice),
            None => Ok(None),
        }
    }
}
