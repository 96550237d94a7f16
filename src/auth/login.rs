//! Signing in: an attempt is counted against three throttles before its password is looked
//! at; a success gives the counts back and starts a session.

use super::password;
use super::store as auth_store;
use super::throttle::{self, Claim, LOGIN_PER_ACCOUNT, LOGIN_PER_CLIENT, LOGIN_PER_PAIR};
use super::Role;
use crate::accounts::model::Email;
use crate::accounts::store as accounts;
use crate::crypto::{index_kind, Crypto};
use crate::db::DbConnection;
use crate::http::error::{ApiError, RateLimit};

/// What a client presents to sign in.
pub struct Attempt {
    pub email: Email,
    pub password: String,
    /// The client's address as text, empty when unknown.
    pub client: String,
    /// A guest cart's token (`X-Cart-Token`): its lines join the account's cart.
    pub cart_token: Option<String>,
}

/// What an attempt within the limits led to.
pub enum Outcome {
    /// The password was right: a new session (refresh-token family) for this account.
    LoggedIn {
        user_id: String,
        role: Role,
        refresh: String,
    },
    /// Unknown email, inactive account or wrong password, told apart to nobody.
    Failed,
}

/// The throttle buckets one attempt counts against.
struct Buckets {
    pair: String,
    client: String,
    account: String,
}

impl Buckets {
    /// Bucket names are blind indexes: never an email or an address.
    fn of(crypto: &Crypto, attempt: &Attempt) -> Self {
        let bucket = |prefix: &str, kind: &str, value: &str| {
            format!(
                "{prefix}{}",
                hex::encode(&crypto.blind_index(kind, value)[..16])
            )
        };
        let email = attempt.email.as_str();
        let ip = &attempt.client;
        let pair = format!("{email}\n{ip}");
        Self {
            account: bucket("login:account:", index_kind::ACCOUNT_EMAIL, email),
            client: bucket("login:client:", index_kind::CLIENT_ADDRESS, ip),
            pair: bucket("login:pair:", index_kind::LOGIN_PAIR, &pair),
        }
    }
}

/// Counts the attempt, then checks its password. `Err` is a throttle's 429; `Ok` carries the
/// outcome and the per-pair state for the `X-RateLimit-*` headers.
pub fn attempt(
    conn: &mut DbConnection,
    crypto: &Crypto,
    attempt: &Attempt,
) -> Result<(Outcome, RateLimit), ApiError> {
    let buckets = Buckets::of(crypto, attempt);
    let state = count(conn, &buckets)?;
    let user = accounts::find_by_email(conn, crypto, &attempt.email)?;
    let verified = match &user {
        Some(u) if u.status == super::status::ACTIVE => u
            .password_hash
            .as_deref()
            .is_some_and(|h| password::verify(h, &attempt.password)),
        _ => {
            password::verify_dummy(&attempt.password);
            false
        }
    };
    let Some(user) = user.filter(|_| verified) else {
        return Ok((Outcome::Failed, state));
    };
    // A success is no failure: the streak ends, the ceilings get it back.
    throttle::clear(conn, &buckets.pair)?;
    throttle::refund(conn, &buckets.client)?;
    throttle::refund(conn, &buckets.account)?;
    let refresh = crate::db::write_transaction(conn, |conn| {
        let refresh = auth_store::start_family(conn, &user.id)?;
        if let Some(token) = &attempt.cart_token {
            crate::carts::merge::into_account(conn, &user.id, token)?;
        }
        Ok::<_, ApiError>(refresh)
    })?;
    let outcome = Outcome::LoggedIn {
        role: user.role(),
        user_id: user.id.into(),
        refresh,
    };
    Ok((
        outcome,
        RateLimit {
            remaining: state.limit,
            ..state
        },
    ))
}

/// Counts one attempt in every bucket, or refuses it with the first limit it is over.
/// Every attempt is counted before the password is looked at, so parallel attempts cannot
/// slip past the limit between a check and a count.
fn count(conn: &mut DbConnection, buckets: &Buckets) -> Result<RateLimit, ApiError> {
    let now = crate::db::now();
    let left = match throttle::claim(conn, &buckets.pair, LOGIN_PER_PAIR, now)? {
        Claim::Locked { retry_after_secs } => {
            return Err(ApiError::RateLimited(RateLimit {
                limit: LOGIN_PER_PAIR.free.unsigned_abs(),
                remaining: 0,
                reset_secs: retry_after_secs,
                retry_after_secs,
                policy: None,
            }))
        }
        Claim::Granted { left } => left,
    };
    throttle::take(conn, &buckets.client, LOGIN_PER_CLIENT, now)?.map_err(ApiError::RateLimited)?;
    throttle::take(conn, &buckets.account, LOGIN_PER_ACCOUNT, now)?
        .map_err(ApiError::RateLimited)?;
    Ok(RateLimit {
        limit: LOGIN_PER_PAIR.free.unsigned_abs(),
        remaining: left.unsigned_abs(),
        reset_secs: LOGIN_PER_PAIR.first_lock.num_seconds().unsigned_abs(),
        retry_after_secs: 0,
        policy: None,
    })
}
