//! Guests' requests: `POST /v1/privacy/requests` (an email used at checkout + a kind) sends a
//! one-time code through the outbox; `POST /v1/privacy/requests/{id}/verify` proves the
//! requester holds that mailbox. The answer is the same whether or not the email is known
//! (no existence oracle): an unknown email verifies to an empty result.

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::Method;
use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::corrections::{self, CorrectionInput, Corrections};
use super::model::{Kind, Status};
use super::store::{self, RequestRow, Requester};
use super::RequestView;
use crate::accounts::model::Email;
use crate::auth::throttle::{self, Limit};
use crate::crypto::{index_kind, Column, Crypto, CryptoError};
use crate::db::schema::{dsr_codes, orders};
use crate::db::{Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::notifications::recipients::{Address, Lookup, Notice};
use crate::orders::after_sales::export::{self as after_sales_export, AfterSalesRecord};
use crate::orders::model::OrderStatus;
use crate::orders::store::OrderRow;
use crate::orders::view::{owner_views, OrderView};

/// Each sends a code to a mailbox (besides 5 per mailbox per hour, in the database).
pub const GUEST_REQUEST: Policy = Policy {
    name: "guest-request",
    client: Some(Quota::per_hour(10)),
    global: Quota::per_minute(120),
};
/// Besides 5 wrong codes per request, in the database.
pub const CODE_CHECK: Policy = Policy {
    name: "code-check",
    client: Some(Quota::per_hour(30)),
    global: Quota::per_minute(600),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[
    (Method::POST, "/v1/privacy/requests", &GUEST_REQUEST),
    (
        Method::POST,
        "/v1/privacy/requests/{id}/verify",
        &CODE_CHECK,
    ),
];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create).service(verify);
}

pub const TABLE: &str = "dsr_codes";
/// A guest request's one-time code and the address it goes to, until used.
pub const CODE: Column = Column::new(TABLE, "code_sealed");
pub const EMAIL: Column = Column::new(TABLE, "email_sealed");
/// How long a code can be used.
pub const CODE_TTL: Duration = Duration::hours(24);
/// Wrong codes before a request is locked (ask again for a new code).
pub const MAX_ATTEMPTS: i32 = 5;
/// Requests per email per hour: a mailbox cannot be flooded with codes.
pub const PER_EMAIL: Limit = Limit {
    name: "guest-request-mailbox",
    max: 5,
    window: Duration::hours(1),
};

/// What a guest may ask for about the email they used at checkout: `access` (a copy of the
/// orders), `rectification` (answered by the privacy officer) or `erasure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuestKind {
    Access,
    Rectification,
    Erasure,
}

impl From<GuestKind> for Kind {
    fn from(k: GuestKind) -> Self {
        match k {
            GuestKind::Access => Kind::Access,
            GuestKind::Rectification => Kind::Rectification,
            GuestKind::Erasure => Kind::Erasure,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "email": "ada@example.com",
    "kind": "rectification",
    "corrections": [
        {"field": "contact_email", "value": "ada.king@example.com"},
        {"field": "shipping_address", "value": {
            "name": "Ada King", "line1": "Kortrijksesteenweg 214", "line2": "bus 3",
            "city": "Gent", "postal_code": "9000", "country": "BE"
        }}
    ]
}))]
pub struct GuestRequest {
    /// The contact email used at checkout; at most 254 characters once normalised (64
    /// before the `@`).
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// What is asked for.
    pub kind: GuestKind,
    /// `rectification` only, and required there (at least one): what to correct on the
    /// orders placed with `email`, each field at most once. Checked as checkout checks it,
    /// sealed, and applied by the privacy officer once the request is verified.
    #[serde(default)]
    #[schema(max_items = 2)]
    pub corrections: Option<Vec<CorrectionInput>>,
}

/// The request, waiting for its code.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "dsr_0193a7c25b7e7d1a9c1e2f6c1f7e9a52",
    "status": "pending_verification",
    "code_expires_at": "2026-11-26T15:00:00Z"
}))]
pub struct GuestRequestCreated {
    /// `dsr_…`: send the code to `POST /v1/privacy/requests/{id}/verify`.
    pub id: String,
    /// Always `pending_verification`.
    pub status: Status,
    /// When the code stops working: 24 hours after the request (RFC 3339, UTC).
    pub code_expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "48213906"}))]
#[schema(as = GuestRequestCode)]
pub struct Verification {
    /// The 8-digit code sent to the email.
    #[schema(min_length = 8, max_length = 8, pattern = "^[0-9]{8}$")]
    pub code: String,
}

/// A verified request: for `access`, the orders placed with the email and their
/// after-sales cases, decrypted.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "request": {
        "id": "dsr_0193a7c25b7e7d1a9c1e2f6c1f7e9a52",
        "kind": "access",
        "status": "completed",
        "received_at": "2026-11-25T15:00:00Z",
        "due_at": "2026-12-25T15:00:00Z",
        "overdue": false,
        "extension_months": 0,
        "extension_reason": null,
        "denial_reason": null,
        "completed_at": "2026-11-25T15:20:00Z",
        "kept_by_law": []
    },
    "orders": [],
    "after_sales": []
}))]
pub struct GuestVerified {
    /// The request, now `completed` (access, finished erasure), `scheduled` (erasure with
    /// open orders) or `pending` (rectification).
    pub request: RequestView,
    /// `access` only: every guest order placed with this email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders: Option<Vec<OrderView>>,
    /// `access` only: the after-sales cases of those orders, oldest first, with the reason
    /// given and the shop's answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_sales: Option<Vec<AfterSalesRecord>>,
}

fn new_code() -> Result<String, ApiError> {
    let mut bytes = [0u8; 8];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("no randomness")))?;
    Ok(format!("{:08}", u64::from_le_bytes(bytes) % 100_000_000))
}

fn code_mac(crypto: &Crypto, dsr_id: &str, code: &str) -> Vec<u8> {
    crypto.blind_index(index_kind::DSR_CODE, &format!("{dsr_id}|{code}"))
}

/// The notices of guests' requests and whom they reach (gathered by `workers::recipients`).
pub const RECIPIENTS: &[(crate::notifications::Kind, Lookup)] = &[(
    crate::notifications::Kind::DsrVerificationCode,
    notice_address,
)];

/// The address and code of a `dsr.verification_code` notice (its payload names the request).
pub fn notice_address(
    conn: &mut DbConnection,
    crypto: &Crypto,
    notice: &Notice<'_>,
) -> Result<Option<Address>, ApiError> {
    let request = notice.payload["request_id"].as_str().unwrap_or_default();
    Ok(
        pending_code(conn, crypto, request)?.map(|(to, code)| Address {
            to,
            code: Some(code),
        }),
    )
}

/// Opens a pending code and its destination, for the delivery worker. `None` once used,
/// expired (key shredded) or unknown.
pub fn pending_code(
    conn: &mut DbConnection,
    crypto: &Crypto,
    dsr_id: &str,
) -> Result<Option<(String, String)>, CryptoError> {
    type Sealed = (Option<Vec<u8>>, Option<Vec<u8>>);
    let row: Option<Sealed> = dsr_codes::table
        .find(dsr_id)
        .filter(dsr_codes::consumed_at.is_null())
        .select((dsr_codes::email_sealed, dsr_codes::code_sealed))
        .first(conn)
        .optional()?;
    let Some((Some(email), Some(code))) = row else {
        return Ok(None);
    };
    let key = match crypto.data_key(conn, dsr_id) {
        Ok(k) => k,
        Err(CryptoError::Shredded) => return Ok(None),
        Err(e) => return Err(e),
    };
    let email = key.open_string(&EMAIL.at(dsr_id), &email)?;
    let code = key.open_string(&CODE.at(dsr_id), &code)?;
    Ok(Some((email, code)))
}

fn open_request(
    conn: &mut DbConnection,
    crypto: &Crypto,
    email: &Email,
    kind: Kind,
    corrections: Option<&Corrections>,
) -> Result<(RequestRow, chrono::NaiveDateTime), ApiError> {
    let bidx = crypto.blind_index(index_kind::ORDER_EMAIL, email.as_str());
    let row = store::insert(
        conn,
        Requester::GuestEmail(bidx),
        kind,
        Status::PendingVerification,
    )?;
    let code = new_code()?;
    let key = crypto.create_data_key(conn, &row.id)?;
    let expires_at = row.received_at + CODE_TTL;
    if let Some(c) = corrections {
        corrections::save(conn, crypto, &row.id, c)?;
    }
    diesel::insert_into(dsr_codes::table)
        .values((
            dsr_codes::dsr_id.eq(&row.id),
            dsr_codes::code_hash.eq(code_mac(crypto, &row.id, &code)),
            dsr_codes::code_sealed.eq(key.seal_str(&CODE.at(&row.id), &code)?),
            dsr_codes::email_sealed.eq(key.seal_str(&EMAIL.at(&row.id), email.as_str())?),
            dsr_codes::attempts.eq(0),
            dsr_codes::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    crate::notifications::enqueue(
        conn,
        crate::notifications::To::KindLookup,
        &crate::notifications::Kind::DsrVerificationCode,
        &serde_json::json!({ "request_id": row.id }),
    )?;
    Ok((row, expires_at))
}

/// Ask as a guest.
///
/// For the email used at checkout: `access` (a copy of the orders), `rectification`
/// (with `corrections`: what to correct, applied by the privacy officer) or `erasure`. An 8-digit code valid for 24 hours is
/// sent to that email through the notification outbox; the answer is the same whether or
/// not the email is known. At most 5 requests per email per hour.
#[utoipa::path(
    operation_id = "createGuestPrivacyRequest",
    tag = "privacy",
    request_body = GuestRequest,
    responses(
        (status = 202, description = "Code sent (if the mailbox exists)", body = GuestRequestCreated),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field; a rectification without corrections, or corrections with another kind", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests for this email", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/privacy/requests")]
async fn create(
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<GuestRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let email = Email::parse("email", &body.email)?;
    let kind = Kind::from(body.kind);
    let corrections = corrections::parse(kind, body.corrections.as_deref())?;
    let crypto = crypto.into_inner();
    let (row, expires_at) = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let bucket = format!(
                    "dsr:email:{}",
                    hex::encode(&crypto.blind_index(index_kind::ORDER_EMAIL, email.as_str())[..16])
                );
                // Counted before it is checked: concurrent requests for one mailbox each
                // see the count after their own, so no more than the limit get a code.
                throttle::take(conn, &bucket, PER_EMAIL, crate::db::now())?
                    .map_err(ApiError::RateLimited)?;
                open_request(conn, &crypto, &email, kind, corrections.as_ref())
            })
        })
        .await?;
    Ok(HttpResponse::Accepted().json(GuestRequestCreated {
        id: row.id,
        status: Status::PendingVerification,
        code_expires_at: expires_at.and_utc(),
    }))
}

enum Checked {
    Verified(Box<RequestRow>),
    Wrong,
    Locked,
    Expired,
}

fn check_code(
    conn: &mut DbConnection,
    crypto: &Crypto,
    id: &str,
    code: &str,
) -> Result<Checked, ApiError> {
    let row = store::get(conn, id)?
        .filter(|r| r.status() == Status::PendingVerification)
        .ok_or(ApiError::NotFound)?;
    let (hash, attempts, expires_at): (Vec<u8>, i32, chrono::NaiveDateTime) = dsr_codes::table
        .find(id)
        .filter(dsr_codes::consumed_at.is_null())
        .select((
            dsr_codes::code_hash,
            dsr_codes::attempts,
            dsr_codes::expires_at,
        ))
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound)?;
    if expires_at <= crate::db::now() {
        return Ok(Checked::Expired);
    }
    if attempts >= MAX_ATTEMPTS {
        return Ok(Checked::Locked);
    }
    // The attempt is counted before the code is compared, by an UPDATE that only counts
    // below the limit: concurrent guesses queue on the row's lock and each sees the count
    // after the others, so no more than MAX_ATTEMPTS codes are ever compared.
    let counted = diesel::update(
        dsr_codes::table
            .find(id)
            .filter(dsr_codes::consumed_at.is_null())
            .filter(dsr_codes::attempts.lt(MAX_ATTEMPTS)),
    )
    .set(dsr_codes::attempts.eq(dsr_codes::attempts + 1))
    .execute(conn)?;
    if counted == 0 {
        return Ok(Checked::Locked);
    }
    let expected = code_mac(crypto, id, code);
    if !crate::crypto::constant_time_eq(&expected, &hash) {
        return Ok(Checked::Wrong);
    }
    // The code and the address it went to are no longer needed: drop them and their key.
    diesel::update(dsr_codes::table.find(id))
        .set((
            dsr_codes::consumed_at.eq(crate::db::now()),
            dsr_codes::code_sealed.eq(None::<Vec<u8>>),
            dsr_codes::email_sealed.eq(None::<Vec<u8>>),
        ))
        .execute(conn)?;
    crypto.shred(conn, id)?;
    store::set_verified(conn, id)?;
    Ok(Checked::Verified(Box::new(row)))
}

/// Guest orders placed with the request's email.
pub(super) fn guest_orders(conn: &mut DbConnection, bidx: &[u8]) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::contact_email_bidx.eq(bidx))
        .filter(orders::user_id.is_null())
        .order(orders::id.asc())
        .select(OrderRow::as_select())
        .load(conn)
}

/// Erases a guest's finished orders; true when none is left open (the erasure is done).
pub fn erase_guest_orders(
    conn: &mut DbConnection,
    crypto: &Crypto,
    row: &RequestRow,
) -> Result<bool, ApiError> {
    let Some(bidx) = row.email_bidx.as_deref() else {
        return Ok(true);
    };
    corrections::shred_for_guest(conn, crypto, bidx)?;
    let mut open = 0;
    for order in guest_orders(conn, bidx)? {
        if OrderStatus::parse(&order.status).is_some_and(OrderStatus::is_final) {
            crate::privacy::erasure::shred_subject(
                conn,
                crypto,
                &order.id,
                crate::privacy::erasure::reason::ERASURE_REQUEST,
            )?;
        } else {
            open += 1;
        }
    }
    Ok(open == 0)
}

fn carry_out(
    conn: &mut DbConnection,
    crypto: &Crypto,
    row: RequestRow,
    accounting_years: i64,
) -> Result<GuestVerified, ApiError> {
    let (mut orders, mut after_sales) = (None, None);
    let mut kept_by_law = Vec::new();
    let next = match row.kind() {
        Kind::Access => {
            let bidx = row.email_bidx.clone().unwrap_or_default();
            let rows = guest_orders(conn, &bidx)?;
            let ids: Vec<String> = rows.iter().map(|o| o.id.to_string()).collect();
            orders = Some(owner_views(conn, crypto, &rows)?);
            after_sales = Some(after_sales_export::of_orders(conn, crypto, &ids)?);
            Status::Completed
        }
        Kind::Erasure => {
            // What the law keeps is read before the erasure removes the orders' lookup.
            let bidx = row.email_bidx.clone().unwrap_or_default();
            let ids: Vec<String> = guest_orders(conn, &bidx)?
                .iter()
                .map(|o| o.id.to_string())
                .collect();
            kept_by_law = crate::invoices::read::kept_by_law(conn, &ids, accounting_years)?
                .into_iter()
                .map(|(number, until)| super::KeptRecord::invoice(number, until))
                .collect();
            if erase_guest_orders(conn, crypto, &row)? {
                Status::Completed
            } else {
                Status::Scheduled
            }
        }
        Kind::Rectification | Kind::Withdrawal => Status::Pending,
    };
    store::transition(conn, &row.id, Status::PendingVerification, next)?;
    let row = store::get(conn, &row.id)?.ok_or(ApiError::NotFound)?;
    let mut request = RequestView::from(&row);
    request.kept_by_law = kept_by_law;
    Ok(GuestVerified {
        request,
        orders,
        after_sales,
    })
}

/// Verify a guest request.
///
/// With the code sent to the email. `access` answers at once with the orders placed with
/// that email and their after-sales cases (reason and answers); `erasure` shreds finished orders at once and the rest when they close;
/// `rectification` goes to the privacy officer. 5 wrong codes lock the request (ask
/// again); codes expire after 24 hours.
#[utoipa::path(
    operation_id = "verifyGuestPrivacyRequest",
    tag = "privacy",
    params(("id" = String, Path, description = "The request's id, `dsr_…`, from `POST /v1/privacy/requests`")),
    request_body = Verification,
    responses(
        (status = 200, description = "Verified and carried out (or queued)", body = GuestVerified),
        (status = 404, description = "No such request waiting for a code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too many wrong codes, or the code expired: ask again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong code", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/privacy/requests/{id}/verify")]
async fn verify(
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    retention: web::Data<crate::retention::Settings>,
    id: web::Path<String>,
    body: Json<Verification>,
) -> Result<HttpResponse, ApiError> {
    let code = body.into_inner().code;
    if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation("code", "must be the 8 digits we sent"));
    }
    let crypto = crypto.into_inner();
    let id = id.into_inner();
    let years = retention.accounting_years;
    let outcome = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                match check_code(conn, &crypto, &id, &code)? {
                    Checked::Verified(row) => carry_out(conn, &crypto, *row, years).map(Ok),
                    other => Ok(Err(other)),
                }
            })
        })
        .await?;
    match outcome {
        Ok(verified) => Ok(HttpResponse::Ok().json(verified)),
        Err(Checked::Wrong) => Err(ApiError::validation("code", "is not the code we sent")),
        Err(Checked::Locked) => Err(ApiError::Conflict(
            "Too many wrong codes: this request is locked. Ask again for a new code.".into(),
        )),
        Err(_) => Err(ApiError::Conflict(
            "The code expired (codes last 24 hours). Ask again for a new code.".into(),
        )),
    }
}
