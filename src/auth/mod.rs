//! Who is calling: accounts' credentials, tokens, roles, integrator API keys, throttling.

pub mod api_keys;
pub mod extract;
pub mod password;
pub mod role;
pub mod routes;
pub mod store;
pub mod throttle;
pub mod token;

pub use extract::{min, Auth, Caller, DataSubject};
pub use role::Role;
pub use token::TokenKeys;

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
}

/// Account status: login and tokens work only while `active`.
pub mod status {
    pub const ACTIVE: &str = "active";
    pub const DISABLED: &str = "disabled";
    /// Erasure requested: no login, no refresh; the requests routes stay reachable.
    pub const ERASURE_PENDING: &str = "erasure_pending";
    /// Erased: personal fields shredded; the row stays for accounting references.
    pub const ERASED: &str = "erased";
}

/// Where a client's address comes from, for per-client throttling.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddresses {
    pub behind_proxy: bool,
}

impl ClientAddresses {
    /// The client's IP: the socket peer, or behind a proxy the last `X-Forwarded-For` entry
    /// (appended by the proxy itself; earlier entries are whatever the client claimed).
    pub fn of(&self, req: &actix_web::HttpRequest) -> String {
        if self.behind_proxy {
            let forwarded = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty());
            if let Some(ip) = forwarded {
                return ip.to_owned();
            }
        }
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    }
}
