//! Credential queries: roles of active accounts, refresh-token families, API keys.

use chrono::Duration;
use diesel::prelude::*;

use super::token::{hash_secret, new_api_key_secret, new_refresh_token, REFRESH_TTL_DAYS};
use super::{status, Principal, PrincipalKind, Role};
use crate::db::schema::{api_keys, counters, refresh_tokens, users};
use crate::db::DbConnection;

/// The role of an active account, or `None` (unknown, disabled, being erased or erased).
pub fn active_role(conn: &mut DbConnection, user_id: &str) -> QueryResult<Option<Role>> {
    Ok(token_role(conn, user_id)?.and_then(|(role, pending)| (!pending).then_some(role)))
}

/// The principals version: bumped by a trigger on `users` whenever the role or status of an
/// account that tokens admit changes (see `super::principals`).
pub fn principals_version(conn: &mut DbConnection) -> QueryResult<i64> {
    counters::table
        .find("principals")
        .select(counters::value)
        .first(conn)
}

/// What an access token of this account may still do: its role, and whether an erasure is
/// pending (then only the requests routes accept it). `None` when disabled or erased.
pub fn token_role(conn: &mut DbConnection, user_id: &str) -> QueryResult<Option<(Role, bool)>> {
    let row: Option<(String, String)> = users::table
        .find(user_id)
        .filter(users::status.eq_any([status::ACTIVE, status::ERASURE_PENDING]))
        .select((users::role, users::status))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(role, st)| Role::parse(&role).map(|r| (r, st == status::ERASURE_PENDING))))
}

/// Starts a new refresh-token family (a login) and returns its first token.
pub fn start_family(conn: &mut DbConnection, user_id: &str) -> anyhow::Result<String> {
    let family = crate::ids::new_id("rtf");
    issue_in_family(conn, user_id, &family)
}

fn issue_in_family(conn: &mut DbConnection, user_id: &str, family: &str) -> anyhow::Result<String> {
    let (token, hash) = new_refresh_token()?;
    let now = crate::db::now();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(crate::ids::new_id("rt")),
            refresh_tokens::family_id.eq(family),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::created_at.eq(now),
            refresh_tokens::expires_at.eq(now + Duration::days(REFRESH_TTL_DAYS)),
        ))
        .execute(conn)?;
    Ok(token)
}

/// What presenting a refresh token led to.
pub enum Refresh {
    /// The token was current: here is its successor, for this account.
    Rotated {
        user_id: String,
        role: Role,
        token: String,
    },
    /// The token was already used or revoked: the whole family is now revoked.
    ReuseDetected,
    /// Unknown, expired, or the account is no longer active.
    Invalid,
}

/// Rotates a refresh token. Marking it used is conditional, so of two concurrent uses of
/// one token exactly one wins and the other counts as reuse.
pub fn rotate(conn: &mut DbConnection, token: &str) -> anyhow::Result<Refresh> {
    crate::db::write_transaction(conn, |conn| {
        let now = crate::db::now();
        let row: Option<(String, String, String, chrono::NaiveDateTime)> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(hash_secret(token)))
            .select((
                refresh_tokens::id,
                refresh_tokens::family_id,
                refresh_tokens::user_id,
                refresh_tokens::expires_at,
            ))
            .first(conn)
            .optional()?;
        let Some((id, family, user_id, expires_at)) = row else {
            return Ok(Refresh::Invalid);
        };
        let claimed = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::id.eq(&id))
                .filter(refresh_tokens::used_at.is_null())
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::used_at.eq(now))
        .execute(conn)?;
        if claimed == 0 {
            revoke_family(conn, &family)?;
            return Ok(Refresh::ReuseDetected);
        }
        if expires_at <= now {
            return Ok(Refresh::Invalid);
        }
        let Some(role) = active_role(conn, &user_id)? else {
            return Ok(Refresh::Invalid);
        };
        let token = issue_in_family(conn, &user_id, &family)?;
        Ok(Refresh::Rotated {
            user_id,
            role,
            token,
        })
    })
}

pub fn revoke_family(conn: &mut DbConnection, family: &str) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(crate::db::now()))
    .execute(conn)
}

/// Revokes the family of `token` if it belongs to `user_id`; false when it does not.
pub fn revoke_family_of(conn: &mut DbConnection, user_id: &str, token: &str) -> QueryResult<bool> {
    let family: Option<String> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash_secret(token)))
        .filter(refresh_tokens::user_id.eq(user_id))
        .select(refresh_tokens::family_id)
        .first(conn)
        .optional()?;
    match family {
        Some(family) => revoke_family(conn, &family).map(|_| true),
        None => Ok(false),
    }
}

/// Every refresh token of an account (erasure, disabling).
pub fn revoke_all(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(crate::db::now()))
    .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
    pub last_used_at: Option<chrono::NaiveDateTime>,
    pub revoked_at: Option<chrono::NaiveDateTime>,
}

/// Creates an API key; the secret is returned once and only its hash is kept.
pub fn create_api_key(
    conn: &mut DbConnection,
    name: &str,
    role: Role,
    created_by: &str,
) -> anyhow::Result<(ApiKeyRow, String)> {
    let secret = new_api_key_secret()?;
    let row = ApiKeyRow {
        id: crate::ids::new_id("key"),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        created_by: created_by.to_owned(),
        created_at: crate::db::now(),
        last_used_at: None,
        revoked_at: None,
    };
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(&row.id),
            api_keys::name.eq(&row.name),
            api_keys::role.eq(&row.role),
            api_keys::secret_hash.eq(hash_secret(&secret)),
            api_keys::created_by.eq(&row.created_by),
            api_keys::created_at.eq(row.created_at),
        ))
        .execute(conn)?;
    Ok((row, secret))
}

pub fn list_api_keys(
    conn: &mut DbConnection,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ApiKeyRow>> {
    let mut query = api_keys::table
        .order(api_keys::id.asc())
        .limit(limit)
        .select(ApiKeyRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(api_keys::id.gt(after.to_owned()));
    }
    query.load(conn)
}

pub fn get_api_key(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ApiKeyRow>> {
    api_keys::table
        .find(id)
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()
}

pub fn revoke_api_key(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::update(
        api_keys::table
            .find(id)
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(crate::db::now()))
    .execute(conn)
}

/// Revokes every live API key an account created (the account was disabled or erased: a key
/// is never worth more than its creator is now).
pub fn revoke_api_keys_of(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::update(
        api_keys::table
            .filter(api_keys::created_by.eq(user_id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(crate::db::now()))
    .execute(conn)
}

/// Revokes the live keys an account created with a role it no longer holds (after a
/// demotion to `role`).
pub fn revoke_api_keys_above(
    conn: &mut DbConnection,
    user_id: &str,
    role: Role,
) -> QueryResult<usize> {
    let beyond: Vec<&str> = Role::ALL
        .into_iter()
        .filter(|r| !role.includes(*r))
        .map(Role::as_str)
        .collect();
    diesel::update(
        api_keys::table
            .filter(api_keys::created_by.eq(user_id))
            .filter(api_keys::role.eq_any(beyond))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(crate::db::now()))
    .execute(conn)
}

/// The principal of a live API key, recording its use at most once a minute.
///
/// A key is worth what its creator is now: it works only while the account that created it
/// is active and still holds the key's role. Disabling or demoting revokes such keys as well
/// (`revoke_api_keys_*`); this check also covers an erasure, a status changed by another
/// path, and keys created before creators were checked.
pub fn principal_for_api_key(
    conn: &mut DbConnection,
    secret: &str,
) -> QueryResult<Option<Principal>> {
    let row: Option<(String, String, Option<chrono::NaiveDateTime>, String)> = api_keys::table
        .inner_join(users::table.on(users::id.eq(api_keys::created_by)))
        .filter(api_keys::secret_hash.eq(hash_secret(secret)))
        .filter(api_keys::revoked_at.is_null())
        .filter(users::status.eq(status::ACTIVE))
        .select((
            api_keys::id,
            api_keys::role,
            api_keys::last_used_at,
            users::role,
        ))
        .first(conn)
        .optional()?;
    let Some((id, role, last_used, creator_role)) = row else {
        return Ok(None);
    };
    let (Some(role), Some(creator_role)) = (Role::parse(&role), Role::parse(&creator_role)) else {
        return Ok(None);
    };
    if !creator_role.includes(role) {
        return Ok(None);
    }
    let now = crate::db::now();
    if last_used.is_none_or(|t| now - t > Duration::minutes(1)) {
        diesel::update(api_keys::table.find(&id))
            .set(api_keys::last_used_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some(Principal {
        kind: PrincipalKind::ApiKey,
        id,
        role,
        erasure_pending: false,
    }))
}
