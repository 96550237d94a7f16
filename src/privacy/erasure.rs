//! Erasure by crypto-shredding. A customer's profile key and the keys of their finished
//! orders are destroyed; accounting records (order numbers, amounts, items, payment
//! statuses) stay, without anything that names a person. Orders still open keep their key
//! until they are closed, so an erasure asked for during an order is scheduled: login stops
//! at once, the shredding happens when the last order closes. Every shredded subject is
//! appended to the erasure ledger, which `restore` replays.

use crate::ids::UserId;
use diesel::prelude::*;

use super::requests::model::{Kind, Status};
use super::requests::store::{self as requests, RequestRow, Requester};
use crate::audit::{self, Actor, Event};
use crate::auth::status;
use crate::crypto::{Crypto, CryptoError};
use crate::db::schema::{addresses, erasure_ledger, notifications, orders, refresh_tokens, users};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::orders::model::OrderStatus;
use crate::orders::store::open_count as open_orders;

/// Why a subject was shredded, as kept in the ledger.
pub mod reason {
    pub const ERASURE_REQUEST: &str = "erasure_request";
    pub const RETENTION: &str = "retention";
    /// Shredded again when an erasure ledger kept outside a backup was replayed into it.
    pub const LEDGER_REPLAY: &str = "ledger_replay";
}

/// Destroys the data key of one subject and records it in the erasure ledger. Idempotent.
pub fn shred_subject(
    conn: &mut DbConnection,
    crypto: &Crypto,
    subject_id: &str,
    why: &str,
) -> Result<(), CryptoError> {
    crypto.shred(conn, subject_id)?;
    append_to_ledger(conn, subject_id, crate::db::now(), why)?;
    Ok(())
}

/// Appends a subject to the erasure ledger unless it is there already.
fn append_to_ledger(
    conn: &mut DbConnection,
    subject_id: &str,
    erased_at: chrono::NaiveDateTime,
    why: &str,
) -> QueryResult<()> {
    let known: i64 = erasure_ledger::table
        .filter(erasure_ledger::subject_id.eq(subject_id))
        .count()
        .get_result(conn)?;
    if known > 0 {
        return Ok(());
    }
    // In a savepoint: on PostgreSQL a lost race must not abort the caller's transaction.
    let inserted = crate::db::write_transaction(conn, |conn| {
        diesel::insert_into(erasure_ledger::table)
            .values((
                erasure_ledger::subject_id.eq(subject_id),
                erasure_ledger::erased_at.eq(erased_at),
                erasure_ledger::reason.eq(why),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if crate::db::is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// [`shred_subject`] for a batch: a few statements whatever its size.
pub fn shred_subjects(
    conn: &mut DbConnection,
    crypto: &Crypto,
    subject_ids: &[String],
    why: &str,
) -> Result<(), CryptoError> {
    use diesel::dsl::not;
    use diesel::sql_types::{Text, Timestamp};
    if subject_ids.is_empty() {
        return Ok(());
    }
    crypto.shred_many(conn, subject_ids)?;
    let known = erasure_ledger::table.select(erasure_ledger::subject_id);
    let fresh = crate::db::schema::data_keys::table
        .filter(crate::db::schema::data_keys::subject_id.eq_any(subject_ids))
        .filter(not(crate::db::schema::data_keys::subject_id.eq_any(known)))
        .select((
            crate::db::schema::data_keys::subject_id,
            crate::db::now().into_sql::<Timestamp>(),
            why.to_owned().into_sql::<Text>(),
        ));
    diesel::insert_into(erasure_ledger::table)
        .values(fresh)
        .into_columns((
            erasure_ledger::subject_id,
            erasure_ledger::erased_at,
            erasure_ledger::reason,
        ))
        .execute(conn)?;
    Ok(())
}

/// Every subject id in the erasure ledger with its time, by subject id (for export beside
/// the key store).
pub fn ledger(conn: &mut DbConnection) -> QueryResult<Vec<(String, chrono::NaiveDateTime)>> {
    erasure_ledger::table
        .order(erasure_ledger::subject_id.asc())
        .select((erasure_ledger::subject_id, erasure_ledger::erased_at))
        .load(conn)
}

/// `DELETE /v1/me`: records the request and either erases at once (nothing open) or
/// schedules it. Login stops at once either way. Asking twice returns the open request.
pub fn request(
    conn: &mut DbConnection,
    crypto: &Crypto,
    user_id: &UserId,
) -> Result<RequestRow, ApiError> {
    if let Some(open) = requests::open_erasure(conn, user_id)? {
        return Ok(open);
    }
    let user = crate::accounts::store::get(conn, user_id)?.ok_or(ApiError::NotFound)?;
    if user.role().is_staff() {
        return Err(ApiError::conflict(
            "Staff accounts are closed by an admin (PATCH /v1/admin/staff/{id}), \
             not erased by their holder.",
        ));
    }
    diesel::update(users::table.find(user_id))
        .set((
            users::status.eq(status::ERASURE_PENDING),
            users::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    revoke_sessions(conn, user_id)?;
    let row = requests::insert(
        conn,
        Requester::User(user_id),
        Kind::Erasure,
        Status::Scheduled,
    )?;
    if open_orders(conn, user_id)? == 0 {
        execute(conn, crypto, &row)?;
        return Ok(requests::get(conn, &row.id)?.unwrap_or(row));
    }
    super::requests::notify(conn, &row)?;
    Ok(row)
}

/// What the law keeps of `user_id` through an erasure: the invoices and credit notes of
/// their orders that name them, each until the end of its statutory period.
pub fn kept_by_law(
    conn: &mut DbConnection,
    user_id: &UserId,
    accounting_years: i64,
) -> Result<Vec<super::requests::KeptRecord>, ApiError> {
    let ids: Vec<String> = orders::table
        .filter(orders::user_id.eq(user_id))
        .select(orders::id)
        .load(conn)?;
    Ok(
        crate::invoices::read::kept_by_law(conn, &ids, accounting_years)?
            .into_iter()
            .map(|(number, until)| super::requests::KeptRecord::invoice(number, until))
            .collect(),
    )
}

/// Cancels a pending erasure: the account works again.
pub fn cancel(conn: &mut DbConnection, row: &RequestRow) -> Result<(), ApiError> {
    if !requests::transition(conn, &row.id, row.status(), Status::Cancelled)? {
        return Err(ApiError::InvalidTransition(
            "The request can no longer be cancelled.".into(),
        ));
    }
    if let Some(user) = &row.user_id {
        diesel::update(
            users::table
                .find(user)
                .filter(users::status.eq(status::ERASURE_PENDING)),
        )
        .set((
            users::status.eq(status::ACTIVE),
            users::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    }
    Ok(())
}

fn revoke_sessions(conn: &mut DbConnection, user_id: &str) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(crate::db::now()))
    .execute(conn)
}

/// Carries out a customer's erasure request (see [`erase_account`]) and completes it.
pub fn execute(conn: &mut DbConnection, crypto: &Crypto, row: &RequestRow) -> Result<(), ApiError> {
    let Some(user_id) = row.user_id.as_deref() else {
        return Ok(());
    };
    erase_account(
        conn,
        crypto,
        user_id,
        reason::ERASURE_REQUEST,
        crate::audit::Purpose::ErasureRequested,
    )?;
    requests::transition(conn, &row.id, row.status(), Status::Completed)?;
    Ok(())
}

/// Erases an account: the keys of its finished orders, then its profile key, are shredded;
/// saved addresses, inbox, sessions and mailed tokens are deleted; the account row stays as
/// an empty shell that accounting records point to. Open orders keep their key (the caller
/// checks there are none when that matters).
pub fn erase_account(
    conn: &mut DbConnection,
    crypto: &Crypto,
    user_id: &str,
    why: &str,
    purpose: crate::audit::Purpose,
) -> Result<(), ApiError> {
    let finished: Vec<String> = orders::table
        .filter(orders::user_id.eq(user_id))
        .filter(orders::status.eq_any(OrderStatus::final_names()))
        .select(orders::id)
        .load(conn)?;
    shred_subjects(conn, crypto, &finished, why)?;
    shred_subject(conn, crypto, user_id, why)?;
    empty_account(conn, user_id)?;
    audit::record(
        conn,
        crypto,
        &Actor::system(),
        &Event {
            action: crate::audit::Action::SubjectErase,
            subject_id: Some(user_id),
            fields: &["profile", "addresses", "orders.personal"],
            purpose,
        },
    )?;
    Ok(())
}

/// Leaves an erased customer's account as an empty shell that accounting records point to:
/// saved addresses, inbox, sessions and mailed tokens deleted; sealed fields and password
/// gone.
fn empty_account(conn: &mut DbConnection, user_id: &str) -> QueryResult<()> {
    diesel::delete(addresses::table.filter(addresses::user_id.eq(user_id))).execute(conn)?;
    crate::auth::email_tokens::delete_all(conn, user_id)?;
    diesel::delete(notifications::table.filter(notifications::recipient_user_id.eq(user_id)))
        .execute(conn)?;
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::user_id.eq(user_id)))
        .execute(conn)?;
    diesel::update(users::table.find(user_id))
        .set((
            users::status.eq(status::ERASED),
            users::email_sealed.eq(None::<Vec<u8>>),
            users::name_sealed.eq(None::<Vec<u8>>),
            users::phone_sealed.eq(None::<Vec<u8>>),
            users::password_hash.eq(None::<String>),
            users::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// One erased subject as the ledger exported beside the key store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub subject_id: String,
    pub erased_at: chrono::NaiveDateTime,
}

/// What replaying a ledger changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    /// Entries read.
    pub entries: usize,
    /// Subjects whose data key was still live (erased after the backup was taken).
    pub shredded: usize,
    /// Customer accounts emptied again.
    pub accounts_emptied: usize,
}

/// Replays an erasure ledger kept outside a backup into the restored database, so that a
/// subject erased after the backup was taken stays erased: each subject is shredded exactly
/// as [`shred_subject`] does (data key and blind indexes) and appended to the ledger with
/// its original time; a customer account is emptied as [`execute`] leaves it (its sessions
/// in the backup would otherwise still refresh). Idempotent, in one transaction.
pub fn replay(
    conn: &mut DbConnection,
    crypto: &Crypto,
    entries: &[LedgerEntry],
) -> Result<Replay, CryptoError> {
    use crate::db::schema::data_keys;
    crate::db::write_transaction(conn, |conn| {
        let mut done = Replay {
            entries: entries.len(),
            ..Replay::default()
        };
        for entry in entries {
            let subject = entry.subject_id.as_str();
            let live: i64 = data_keys::table
                .filter(data_keys::subject_id.eq(subject))
                .filter(data_keys::wrapped.is_not_null())
                .count()
                .get_result(conn)?;
            crypto.shred(conn, subject)?;
            append_to_ledger(conn, subject, entry.erased_at, reason::LEDGER_REPLAY)?;
            let account: Option<String> = users::table
                .find(subject)
                .filter(users::status.ne(status::ERASED))
                .select(users::id)
                .first(conn)
                .optional()?;
            if account.is_some() {
                empty_account(conn, subject)?;
                done.accounts_emptied += 1;
            }
            if live == 0 && account.is_none() {
                continue;
            }
            done.shredded += usize::from(live > 0);
            // The erasure's own audit entry was written after the backup and is gone with it.
            let fields: &[&str] = if account.is_some() {
                &["profile", "addresses"]
            } else {
                &["personal_data"]
            };
            audit::record(
                conn,
                crypto,
                &Actor::system(),
                &Event {
                    action: crate::audit::Action::SubjectErase,
                    subject_id: Some(subject),
                    fields,
                    purpose: crate::audit::Purpose::ErasureReplayed,
                },
            )?;
        }
        Ok(done)
    })
}

/// Runs the scheduled erasures whose customers have no open order left.
pub fn run_scheduled(
    conn: &mut DbConnection,
    crypto: &Crypto,
    limit: i64,
) -> Result<usize, ApiError> {
    let mut done = 0;
    for row in requests::scheduled_erasures(conn, limit)? {
        let erased = crate::db::write_transaction(conn, |conn| {
            // Re-checked inside the transaction: the request may have been cancelled.
            let Some(current) = requests::get(conn, &row.id)? else {
                return Ok::<_, ApiError>(false);
            };
            if current.status() != Status::Scheduled {
                return Ok(false);
            }
            match current.user_id.as_deref() {
                Some(user) if open_orders(conn, user)? > 0 => Ok(false),
                Some(_) => {
                    execute(conn, crypto, &current)?;
                    Ok(true)
                }
                None => {
                    let done = super::requests::guest::erase_guest_orders(conn, crypto, &current)?;
                    if done {
                        requests::transition(
                            conn,
                            &current.id,
                            Status::Scheduled,
                            Status::Completed,
                        )?;
                    }
                    Ok(done)
                }
            }
        })?;
        done += usize::from(erased);
    }
    Ok(done)
}

/// Background work inside `serve`: scheduled erasures, every few seconds. Safe with several
/// processes (each erasure re-checks its status inside a write transaction).
pub fn spawn(db: crate::db::Db, crypto: Crypto) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(crate::orders::worker::EVERY);
        loop {
            tick.tick().await;
            let crypto = crypto.clone();
            match db.run(move |conn| run_scheduled(conn, &crypto, 50)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("carried out {n} scheduled erasure(s)"),
                Err(e) => tracing::warn!("scheduled erasures failed: {e}"),
            }
        }
    })
}
