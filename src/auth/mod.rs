//! Who is calling: sign-up and sign-in, accounts' credentials, tokens, roles, integrator API
//! keys, throttling.

pub mod api_keys;
pub mod email_tokens;
pub mod extract;
pub mod login;
pub mod mail_routes;
pub mod password;
pub mod principals;
pub mod recovery;
pub mod register;
pub mod role;
pub mod routes;
pub mod store;
pub mod throttle;
pub mod token;

pub use extract::{min, Auth, Caller, DataSubject};
pub use principals::PrincipalCache;
pub use role::Role;
pub use token::TokenKeys;

use serde::Serialize;
use utoipa::ToSchema;

/// What kind of credential authenticated the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person with an account (customer or staff), by access token.
    User,
    /// An integrator, by `X-Api-Key`.
    ApiKey,
}

/// The authenticated caller. For users, the role is read from the database on every request,
/// so a demotion or an erasure takes effect at once, not when the token expires.
#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// `usr_…` or `key_…`.
    pub id: String,
    pub role: Role,
    /// The account asked to be erased: until the erasure runs or is cancelled, its access
    /// tokens only reach its own data-subject requests (to follow or cancel them).
    pub erasure_pending: bool,
}

impl Principal {
    /// The account id, when a person (not an API key) is calling.
    pub fn user_id(&self) -> Option<&str> {
        (self.kind == PrincipalKind::User).then_some(self.id.as_str())
    }

    /// The account, typed, when a person is calling (a person's id is always an account's).
    pub fn account(&self) -> Option<crate::ids::UserId> {
        self.user_id().and_then(crate::ids::UserId::parse)
    }
}

/// Account status: login and tokens work only while `active`.
pub mod status {
    pub const ACTIVE: &str = "active";
    /// Registered, the address not yet confirmed: no sign-in until it is.
    pub const UNCONFIRMED: &str = "unconfirmed";
    pub const DISABLED: &str = "disabled";
    /// Erasure requested: no login, no refresh; the requests routes stay reachable.
    pub const ERASURE_PENDING: &str = "erasure_pending";
    /// Erased: personal fields shredded; the row stays for accounting references.
    pub const ERASED: &str = "erased";
}

/// Where an account stands ([`status`] names the stored values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Can sign in; its tokens and API keys work.
    Active,
    /// Registered, waiting for its address to be confirmed: no sign-in yet.
    Unconfirmed,
    /// Disabled by an admin: no sign-in, sessions and API keys revoked.
    Disabled,
    /// Erasure requested: no sign-in; only its data-subject requests stay reachable.
    ErasurePending,
    /// Erased: personal fields shredded, the row kept for accounting references.
    Erased,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 5] = [
        AccountStatus::Active,
        AccountStatus::Unconfirmed,
        AccountStatus::Disabled,
        AccountStatus::ErasurePending,
        AccountStatus::Erased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => status::ACTIVE,
            AccountStatus::Unconfirmed => status::UNCONFIRMED,
            AccountStatus::Disabled => status::DISABLED,
            AccountStatus::ErasurePending => status::ERASURE_PENDING,
            AccountStatus::Erased => status::ERASED,
        }
    }

    pub fn parse(s: &str) -> Option<AccountStatus> {
        AccountStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::AccountStatus;

    #[test]
    fn account_statuses_round_trip_and_match_the_wire() {
        for s in AccountStatus::ALL {
            assert_eq!(AccountStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
    }
}
