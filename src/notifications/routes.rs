//! `GET /v1/me/notifications`, `POST /v1/me/notifications/{id}/read`: the customer's inbox.
//! Every notification addressed to a customer is in their inbox from the moment its cause
//! commits (the outbox row is the inbox entry), except marketing, which appears only once
//! the delivery worker has found the recipient's consent and delivered it.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{min, Auth};
use crate::db::schema::notifications;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::http::pagination::{paginate, PageQuery};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(inbox).service(mark_read);
}

/// One notification. The payload holds ids and statuses only.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "ntf_0193a7c25b7e7d1a9c1e2f6c1f7e9a70",
    "kind": "order.shipped",
    "payload": {"order_id": "ord_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "number": "LG-7KQ2-M4XD", "status": "shipped"},
    "created_at": "2026-11-27T08:30:00Z",
    "read_at": null
}))]
pub struct NotificationView {
    /// The notification's id, `ntf_` and 32 hex digits.
    pub id: String,
    /// What it is about: `order.placed`, `order.paid`, `order.shipped`, `order.delivered`,
    /// `order.cancelled`, `order.expired`, `order.closed`, `order.address_corrected`,
    /// `payment.refunded`, `after_sales.updated`, `consultation.answered`,
    /// `policy.revised`, `dsr.updated`, or `marketing.<campaign>` (with consent only).
    pub kind: String,
    /// Ids, order numbers and statuses of what it is about; never personal values.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// When it was queued (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it was first marked read (RFC 3339, UTC); `null` while unread.
    pub read_at: Option<DateTime<Utc>>,
}

/// One page of the inbox, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = NotificationInbox)]
#[schema(example = json!({
    "data": [{
        "id": "ntf_0193a7c25b7e7d1a9c1e2f6c1f7e9a70",
        "kind": "order.shipped",
        "payload": {"order_id": "ord_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "number": "LG-7KQ2-M4XD", "status": "shipped"},
        "created_at": "2026-11-27T08:30:00Z",
        "read_at": null
    }],
    "next_cursor": null,
    "unread": 1
}))]
pub struct Inbox {
    /// Up to `limit` notifications, newest first.
    pub data: Vec<NotificationView>,
    /// Pass as `cursor` to get the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// How many are unread, in the whole inbox.
    #[schema(minimum = 0)]
    pub unread: i64,
}

/// Rows the inbox shows: everything but marketing not (yet) delivered with consent.
fn in_inbox() -> diesel::dsl::Or<
    diesel::dsl::NotLike<notifications::kind, &'static str>,
    diesel::dsl::Eq<notifications::status, &'static str>,
> {
    notifications::kind
        .not_like(super::kind::MARKETING_LIKE)
        .or(notifications::status.eq(crate::delivery::status::DELIVERED))
}

/// `(id, kind, payload, created_at, read_at)`, as selected for a view.
pub type Row = (
    String,
    String,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
);

impl From<Row> for NotificationView {
    fn from((id, kind, payload, created_at, read_at): Row) -> Self {
        Self {
            id,
            kind,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            created_at: created_at.and_utc(),
            read_at: read_at.map(|t| t.and_utc()),
        }
    }
}

/// My notifications.
///
/// Newest first: order updates, refunds, after-sales news.
#[utoipa::path(
    operation_id = "listMyNotifications",
    tag = "me",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of my notifications, newest first", body = Inbox),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/notifications")]
async fn inbox(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user_id()?.to_owned();
    let page = query.into_inner().validate("notifications")?;
    let after = page.after.clone();
    let limit = i64::from(page.limit) + 1;
    let (rows, unread) = db
        .run(move |conn| {
            let mut q = notifications::table
                .filter(notifications::recipient_user_id.eq(&user))
                .filter(in_inbox())
                .order(notifications::id.desc())
                .limit(limit)
                .select((
                    notifications::id,
                    notifications::kind,
                    notifications::payload,
                    notifications::created_at,
                    notifications::read_at,
                ))
                .into_boxed();
            if let Some(a) = after {
                q = q.filter(notifications::id.lt(a));
            }
            let rows: Vec<Row> = q.load(conn)?;
            let unread: i64 = notifications::table
                .filter(notifications::recipient_user_id.eq(&user))
                .filter(notifications::read_at.is_null())
                .filter(in_inbox())
                .count()
                .get_result(conn)?;
            Ok::<_, ApiError>((rows, unread))
        })
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, "notifications", |r| r.0.clone());
    let data = rows.into_iter().map(NotificationView::from).collect();
    Ok(HttpResponse::Ok().json(Inbox {
        data,
        next_cursor,
        unread,
    }))
}

/// Mark a notification read.
///
/// Idempotent: reading it again keeps the first read time.
#[utoipa::path(
    operation_id = "markNotificationRead",
    tag = "me",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The notification's id, `ntf_…`")),
    responses(
        (status = 204, description = "Read"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such notification, or not yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/notifications/{id}/read")]
async fn mark_read(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.user_id()?.to_owned();
    let id = id.into_inner();
    db.run(move |conn| {
        let mine = notifications::table
            .filter(notifications::id.eq(&id))
            .filter(notifications::recipient_user_id.eq(&user));
        let exists: i64 = mine.count().get_result(conn)?;
        if exists == 0 {
            return Err(ApiError::NotFound);
        }
        diesel::update(mine.filter(notifications::read_at.is_null()))
            .set(notifications::read_at.eq(Some(crate::db::now())))
            .execute(conn)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
