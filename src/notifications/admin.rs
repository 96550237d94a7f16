//! `/v1/admin/notifications` [manager]: the outbox as staff see it — what is waiting, what
//! was delivered, what was dead-lettered and why — and retrying dead letters.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{min, Auth};
use crate::db::schema::notifications;
use crate::db::{write_transaction, Db, DbConnection};
use crate::delivery::status;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::http::pagination::{paginate, PageQuery};

const LISTING: &str = "admin-notifications";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(retry);
}

/// Delivery status of an outbox row: `pending` (waiting for its next try), `sending` (being
/// delivered now), `delivered`, `dead` (dead-lettered after its last try), `suppressed`
/// (marketing without the recipient's consent: never sent); `failed` is accepted in filters
/// only, as another name for `dead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for its next try.
    Pending,
    /// Being delivered right now by an instance.
    Sending,
    Delivered,
    /// Dead-lettered after its last try.
    Dead,
    /// In filters only: the same as `dead` (the name the API contract uses).
    Failed,
    /// Marketing without the recipient's consent: never sent.
    Suppressed,
}

impl OutboxStatus {
    fn stored(self) -> &'static str {
        match self {
            Self::Pending => status::PENDING,
            Self::Sending => status::SENDING,
            Self::Delivered => status::DELIVERED,
            Self::Dead | Self::Failed => status::DEAD,
            Self::Suppressed => status::SUPPRESSED,
        }
    }

    fn from_stored(s: &str) -> Self {
        match s {
            status::SENDING => Self::Sending,
            status::DELIVERED => Self::Delivered,
            status::DEAD => Self::Dead,
            status::SUPPRESSED => Self::Suppressed,
            _ => Self::Pending,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// Only rows in this status; `failed` lists the dead-lettered ones (alias of `dead`).
    /// All statuses when absent.
    pub status: Option<OutboxStatus>,
    /// Rows per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page of the same filter; omit for the first page.
    pub cursor: Option<String>,
}

/// One outbox row. Ids and statuses only; `last_error` is a status code or an error class.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "ntf_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "kind": "order.shipped", "status": "dead",
    "recipient_user_id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a11",
    "order_id": "ord_0193a7c25b7e7d1a9c1e2f6c1f7e9a12",
    "payload": {"order_id": "ord_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "status": "shipped"},
    "attempts": 8, "last_error": "HTTP 503", "created_at": "2026-11-25T10:00:00Z",
    "next_attempt_at": "2026-11-25T11:02:00Z", "last_attempt_at": "2026-11-25T11:02:00Z",
    "delivered_at": null
}))]
pub struct OutboxEntry {
    /// The notification's id, `ntf_` and 32 hex digits.
    pub id: String,
    /// e.g. `order.placed`, `payment.refunded`, `dsr.verification_code`, `marketing.…`.
    pub kind: String,
    /// Where its delivery stands (never `failed`, which is a filter alias).
    pub status: OutboxStatus,
    /// The customer it is for (`usr_…`); `null` for guests (then `order_id` says which
    /// order) and for guests' privacy requests.
    pub recipient_user_id: Option<String>,
    /// The order it is about (`ord_…`); `null` when not about an order.
    pub order_id: Option<String>,
    /// Ids and statuses of what it is about; never personal values.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Tries at the gateway so far (delivery to the inbox alone takes none).
    #[schema(minimum = 0)]
    pub attempts: i32,
    /// Why the last try failed: `HTTP <code>`, `timeout`, `connection failed`, …; `null`
    /// when no try failed.
    pub last_error: Option<String>,
    /// When it was queued (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// Pending: when it is tried next (RFC 3339, UTC); otherwise when it was last due.
    pub next_attempt_at: DateTime<Utc>,
    /// When it was last tried (RFC 3339, UTC); `null` before the first try.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it was delivered (RFC 3339, UTC); `null` until `delivered`.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One page of the outbox, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "ntf_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "kind": "order.shipped", "status": "dead",
        "recipient_user_id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a11",
        "order_id": "ord_0193a7c25b7e7d1a9c1e2f6c1f7e9a12",
        "payload": {"order_id": "ord_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "status": "shipped"},
        "attempts": 8, "last_error": "HTTP 503", "created_at": "2026-11-25T10:00:00Z",
        "next_attempt_at": "2026-11-25T11:02:00Z", "last_attempt_at": "2026-11-25T11:02:00Z",
        "delivered_at": null
    }],
    "next_cursor": null
}))]
pub struct OutboxList {
    /// Up to `limit` rows.
    pub data: Vec<OutboxEntry>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = notifications)]
struct Row {
    id: String,
    kind: String,
    status: String,
    recipient_user_id: Option<String>,
    order_id: Option<String>,
    payload: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: NaiveDateTime,
    next_attempt_at: NaiveDateTime,
    last_attempt_at: Option<NaiveDateTime>,
    delivered_at: Option<NaiveDateTime>,
}

impl From<Row> for OutboxEntry {
    fn from(r: Row) -> Self {
        Self {
            status: OutboxStatus::from_stored(&r.status),
            payload: serde_json::from_str(&r.payload).unwrap_or(serde_json::Value::Null),
            id: r.id,
            kind: r.kind,
            recipient_user_id: r.recipient_user_id,
            order_id: r.order_id,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at.and_utc(),
            next_attempt_at: r.next_attempt_at.and_utc(),
            last_attempt_at: r.last_attempt_at.map(|t| t.and_utc()),
            delivered_at: r.delivered_at.map(|t| t.and_utc()),
        }
    }
}

fn load(
    conn: &mut DbConnection,
    wanted: Option<OutboxStatus>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    let mut q = notifications::table
        .select(Row::as_select())
        .order(notifications::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(s) = wanted {
        q = q.filter(notifications::status.eq(s.stored()));
    }
    if let Some(a) = after {
        q = q.filter(notifications::id.lt(a));
    }
    q.load(conn)
}

/// Puts a dead or pending notification back in line, due now. A dead one starts a fresh
/// round of tries.
fn requeue(conn: &mut DbConnection, id: &str) -> Result<Row, ApiError> {
    write_transaction(conn, |conn| {
        let current: String = notifications::table
            .find(id)
            .select(notifications::status)
            .first(conn)
            .optional()?
            .ok_or(ApiError::NotFound)?;
        let now = crate::db::now();
        let row = notifications::table
            .find(id)
            .filter(notifications::status.eq(&current));
        match current.as_str() {
            status::DEAD => diesel::update(row)
                .set((
                    notifications::status.eq(status::PENDING),
                    notifications::attempts.eq(0),
                    notifications::next_attempt_at.eq(now),
                ))
                .execute(conn)?,
            status::PENDING => diesel::update(row)
                .set(notifications::next_attempt_at.eq(now))
                .execute(conn)?,
            other => {
                return Err(ApiError::InvalidTransition(format!(
                    "The notification is {other}; only a dead or pending one can be retried."
                )))
            }
        };
        Ok(notifications::table
            .find(id)
            .select(Row::as_select())
            .first(conn)?)
    })
}

/// The notification outbox.
///
/// Newest first, optionally by delivery status. `status=failed` (or `dead`) lists the
/// dead-lettered notifications with the reason of their last failure; retry them with
/// `POST /v1/admin/notifications/{id}/retry`.
#[utoipa::path(
    operation_id = "listOutboxNotifications",
    tag = "outbox",
    security(("bearer" = []), ("api_key" = [])),
    params(OutboxQuery),
    responses(
        (status = 200, description = "One page of outbox entries", body = OutboxList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown status, invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/notifications")]
async fn list(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    query: Query<OutboxQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .validate(LISTING)?;
    let (wanted, after, limit) = (q.status, page.after.clone(), i64::from(page.limit) + 1);
    let rows = db
        .run(move |conn| load(conn, wanted, after.as_deref(), limit).map_err(ApiError::from))
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, LISTING, |r| r.id.clone());
    Ok(HttpResponse::Ok().json(OutboxList {
        data: rows.into_iter().map(OutboxEntry::from).collect(),
        next_cursor,
    }))
}

/// Retry a notification.
///
/// A dead-lettered notification goes back to `pending`, due now, with a fresh round of tries;
/// a pending one is made due now. Delivered or suppressed ones cannot be retried (409).
#[utoipa::path(
    operation_id = "retryNotification",
    tag = "outbox",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`ntf_…` id")),
    responses(
        (status = 200, description = "Queued again", body = OutboxEntry),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such notification", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: delivered, suppressed or being sent", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/notifications/{id}/retry")]
async fn retry(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !crate::ids::is_id("ntf", &id) {
        return Err(ApiError::NotFound);
    }
    let row = db.run(move |conn| requeue(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(OutboxEntry::from(row)))
}
