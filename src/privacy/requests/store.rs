//! Data-subject request queries.

use crate::ids::UserId;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{Kind, Status};
use crate::db::schema::dsr_requests;
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = dsr_requests)]
pub struct RequestRow {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub user_id: Option<UserId>,
    pub email_bidx: Option<Vec<u8>>,
    pub received_at: NaiveDateTime,
    pub due_at: NaiveDateTime,
    pub extension_months: i32,
    pub extension_reason: Option<String>,
    pub denial_reason: Option<String>,
    pub verified_at: Option<NaiveDateTime>,
    pub completed_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

impl RequestRow {
    /// Statuses and kinds are written by this code only.
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Pending)
    }

    pub fn kind(&self) -> Kind {
        Kind::parse(&self.kind).unwrap_or(Kind::Access)
    }
}

/// Who a request is about: a customer account or a guest's checkout email.
pub enum Requester<'a> {
    User(&'a UserId),
    GuestEmail(Vec<u8>),
}

pub fn insert(
    conn: &mut DbConnection,
    requester: Requester<'_>,
    kind: Kind,
    status: Status,
) -> QueryResult<RequestRow> {
    let now = crate::db::now();
    let (user_id, email_bidx) = match requester {
        Requester::User(id) => (Some(id.clone()), None),
        Requester::GuestEmail(bidx) => (None, Some(bidx)),
    };
    let row = RequestRow {
        id: crate::ids::new_id("dsr"),
        kind: kind.as_str().to_owned(),
        status: status.as_str().to_owned(),
        user_id,
        email_bidx,
        received_at: now,
        due_at: super::model::due_date(now),
        extension_months: 0,
        extension_reason: None,
        denial_reason: None,
        verified_at: None,
        completed_at: (status == Status::Completed).then_some(now),
        updated_at: now,
    };
    diesel::insert_into(dsr_requests::table)
        .values((
            dsr_requests::id.eq(&row.id),
            dsr_requests::kind.eq(&row.kind),
            dsr_requests::status.eq(&row.status),
            dsr_requests::user_id.eq(&row.user_id),
            dsr_requests::email_bidx.eq(&row.email_bidx),
            dsr_requests::received_at.eq(row.received_at),
            dsr_requests::due_at.eq(row.due_at),
            dsr_requests::extension_months.eq(row.extension_months),
            dsr_requests::completed_at.eq(row.completed_at),
            dsr_requests::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(row)
}

/// A request the subject carried out themselves through the API (an export, a correction,
/// a withdrawal): tracked like the others, completed at once.
pub fn record_self_service(
    conn: &mut DbConnection,
    user_id: &UserId,
    kind: Kind,
) -> QueryResult<RequestRow> {
    insert(conn, Requester::User(user_id), kind, Status::Completed)
}

/// A completed self-service request, recorded once per UTC day and kind: asking again the
/// same day (a second export) is the same request, not a new row each time — the ledger
/// stays a record of requests, and an export does not grow with every call.
pub fn record_self_service_once_a_day(
    conn: &mut DbConnection,
    user_id: &UserId,
    kind: Kind,
) -> QueryResult<RequestRow> {
    let now = crate::db::now();
    let midnight = now.date().and_time(chrono::NaiveTime::MIN);
    let today: Option<RequestRow> = dsr_requests::table
        .filter(dsr_requests::user_id.eq(user_id))
        .filter(dsr_requests::kind.eq(kind.as_str()))
        .filter(dsr_requests::status.eq(Status::Completed.as_str()))
        .filter(dsr_requests::received_at.ge(midnight))
        .order(dsr_requests::id.desc())
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?;
    match today {
        Some(row) => Ok(row),
        None => record_self_service(conn, user_id, kind),
    }
}

pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RequestRow>> {
    dsr_requests::table
        .find(id)
        .select(RequestRow::as_select())
        .first(conn)
        .optional()
}

/// A customer's requests, newest first, after the cursor id.
pub fn for_user(
    conn: &mut DbConnection,
    user_id: &str,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<RequestRow>> {
    let mut q = dsr_requests::table
        .filter(dsr_requests::user_id.eq(user_id))
        .order(dsr_requests::id.desc())
        .limit(limit)
        .select(RequestRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(dsr_requests::id.lt(before.to_owned()));
    }
    q.load(conn)
}

/// The privacy officer's queue: requests in `statuses`, earliest due first (so overdue ones
/// lead), keyset-paginated on `(due_at, id)`.
pub fn queue(
    conn: &mut DbConnection,
    statuses: &[&str],
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<RequestRow>> {
    let mut q = dsr_requests::table
        .filter(dsr_requests::status.eq_any(statuses.to_vec()))
        .order((dsr_requests::due_at.asc(), dsr_requests::id.asc()))
        .limit(limit)
        .select(RequestRow::as_select())
        .into_boxed();
    if let Some((due, id)) = after {
        q = q.filter(
            dsr_requests::due_at
                .gt(due)
                .or(dsr_requests::due_at.eq(due).and(dsr_requests::id.gt(id))),
        );
    }
    q.load(conn)
}

/// Moves a request from `from` to `to`; false when it was no longer in `from`.
pub fn transition(
    conn: &mut DbConnection,
    id: &str,
    from: Status,
    to: Status,
) -> QueryResult<bool> {
    let now = crate::db::now();
    let completed = matches!(to, Status::Completed | Status::Denied | Status::Cancelled);
    let n = diesel::update(
        dsr_requests::table
            .filter(dsr_requests::id.eq(id))
            .filter(dsr_requests::status.eq(from.as_str())),
    )
    .set((
        dsr_requests::status.eq(to.as_str()),
        dsr_requests::completed_at.eq(completed.then_some(now)),
        dsr_requests::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn set_verified(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    let now = crate::db::now();
    diesel::update(dsr_requests::table.find(id))
        .set((
            dsr_requests::verified_at.eq(now),
            dsr_requests::updated_at.eq(now),
        ))
        .execute(conn)
}

pub fn set_extension(
    conn: &mut DbConnection,
    id: &str,
    due_at: NaiveDateTime,
    months: i32,
    reason: &str,
) -> QueryResult<usize> {
    diesel::update(dsr_requests::table.find(id))
        .set((
            dsr_requests::due_at.eq(due_at),
            dsr_requests::extension_months.eq(months),
            dsr_requests::extension_reason.eq(reason),
            dsr_requests::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)
}

pub fn set_denial_reason(conn: &mut DbConnection, id: &str, reason: &str) -> QueryResult<usize> {
    diesel::update(dsr_requests::table.find(id))
        .set(dsr_requests::denial_reason.eq(reason))
        .execute(conn)
}

/// Erasures waiting for open orders, oldest first.
pub fn scheduled_erasures(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<RequestRow>> {
    dsr_requests::table
        .filter(dsr_requests::kind.eq(Kind::Erasure.as_str()))
        .filter(dsr_requests::status.eq(Status::Scheduled.as_str()))
        .order(dsr_requests::id.asc())
        .limit(limit)
        .select(RequestRow::as_select())
        .load(conn)
}

/// The open erasure of a user, if any.
pub fn open_erasure(conn: &mut DbConnection, user_id: &str) -> QueryResult<Option<RequestRow>> {
    dsr_requests::table
        .filter(dsr_requests::user_id.eq(user_id))
        .filter(dsr_requests::kind.eq(Kind::Erasure.as_str()))
        .filter(dsr_requests::status.eq_any([Status::Pending.as_str(), Status::Scheduled.as_str()]))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()
}
