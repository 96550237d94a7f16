//! `/v1/admin/discount-codes`: managers create discount codes, change their terms, withdraw
//! them, and see how many uses each has taken.

use actix_web::{delete, get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Benefit, Code, Kind, Terms};
use super::store::{self, CodeChange, CodeRow};
use crate::auth::{min, Auth};
use crate::catalog::model::Money;
use crate::config::Shop;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{paginate, PageQuery};
use crate::invalid::{FieldError, Invalid};

const LISTING: &str = "discount-codes";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(read)
        .service(replace)
        .service(deactivate);
}

/// A discount code's terms, as a manager sets them.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "value": 1000, "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z",
    "minimum_subtotal": 5000, "usage_limit": 500, "per_customer_limit": 1, "active": true
}))]
pub struct DiscountTerms {
    /// `percentage`: basis points of the goods subtotal, 1–10000 (`1000` is 10 %);
    /// `fixed_amount`: minor units off the goods (never more than they cost);
    /// `free_shipping`: 0 or left out.
    #[serde(default)]
    #[schema(minimum = 0, example = 1000)]
    pub value: i64,
    /// From when it applies (RFC 3339); null: from now on.
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when (exclusive, RFC 3339); null: no end.
    pub ends_at: Option<DateTime<Utc>>,
    /// The goods subtotal (before discount, in minor units) a cart must reach; 0 if left out.
    #[serde(default)]
    #[schema(minimum = 0, example = 5000)]
    pub minimum_subtotal: i64,
    /// Orders in all that may use it (a cancelled or expired order gives its use back);
    /// null: no limit.
    #[schema(minimum = 1, example = 500)]
    pub usage_limit: Option<i32>,
    /// Orders one customer may use it in (an account, or a guest's contact e-mail); null:
    /// no limit.
    #[schema(minimum = 1, example = 1)]
    pub per_customer_limit: Option<i32>,
    /// Whether customers can use it; true if left out.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A new discount code.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "code": "welcome10", "kind": "percentage", "value": 1000,
    "starts_at": null, "ends_at": "2027-01-01T00:00:00Z", "minimum_subtotal": 5000,
    "usage_limit": 500, "per_customer_limit": 1, "active": true
}))]
pub struct NewDiscountCode {
    /// What customers type: 3–32 letters, digits, `-` or `_`, case-insensitive (kept in
    /// upper case); unique.
    #[schema(
        min_length = 3,
        max_length = 32,
        pattern = "^[A-Za-z0-9_-]+$",
        example = "welcome10"
    )]
    pub code: String,
    pub kind: Kind,
    /// As in [`DiscountTerms`].
    #[serde(default)]
    #[schema(minimum = 0, example = 1000)]
    pub value: i64,
    /// From when it applies (RFC 3339); null: from now on.
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when (exclusive, RFC 3339); null: no end.
    pub ends_at: Option<DateTime<Utc>>,
    /// The goods subtotal (before discount, in minor units) a cart must reach; 0 if left out.
    #[serde(default)]
    #[schema(minimum = 0, example = 5000)]
    pub minimum_subtotal: i64,
    /// Orders in all that may use it; null: no limit.
    #[schema(minimum = 1, example = 500)]
    pub usage_limit: Option<i32>,
    /// Orders one customer (account, or guest contact e-mail) may use it in; null: no limit.
    #[schema(minimum = 1, example = 1)]
    pub per_customer_limit: Option<i32>,
    /// Whether customers can use it; true if left out.
    #[serde(default = "yes")]
    pub active: bool,
}

impl NewDiscountCode {
    fn terms(&self) -> DiscountTerms {
        DiscountTerms {
            value: self.value,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            minimum_subtotal: self.minimum_subtotal,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            active: self.active,
        }
    }
}

/// A discount code with its count of uses.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "dsc_0193a7c25b7e7d1a9c1e2f6c1f7e9a70", "code": "WELCOME10", "kind": "percentage",
    "value": 1000, "starts_at": null, "ends_at": "2027-01-01T00:00:00Z",
    "minimum_subtotal": {"amount": 5000, "currency": "EUR", "minor_unit": 2},
    "usage_limit": 500, "per_customer_limit": 1, "uses": 42, "active": true,
    "created_at": "2026-12-01T09:00:00Z", "updated_at": "2026-12-01T09:00:00Z"
}))]
pub struct DiscountCodeView {
    /// The code's `dsc_…` id.
    pub id: String,
    /// The code, in upper case.
    pub code: String,
    pub kind: Kind,
    /// Basis points (`percentage`), minor units (`fixed_amount`) or 0 (`free_shipping`).
    pub value: i64,
    /// From when it applies (RFC 3339); null: open.
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when (exclusive, RFC 3339); null: no end.
    pub ends_at: Option<DateTime<Utc>>,
    /// The goods subtotal (before discount) a cart must reach.
    pub minimum_subtotal: Money,
    /// Orders in all that may use it; null: no limit.
    pub usage_limit: Option<i32>,
    /// Orders one customer may use it in; null: no limit.
    pub per_customer_limit: Option<i32>,
    /// Orders holding a use now (placed and not cancelled or expired).
    #[schema(minimum = 0)]
    pub uses: i32,
    /// Whether customers can use it.
    pub active: bool,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its terms last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

impl DiscountCodeView {
    fn of(row: CodeRow, shop: &Shop) -> Self {
        let benefit = Benefit::stored(&row.kind, row.value);
        Self {
            id: row.id,
            code: row.code,
            kind: benefit.kind(),
            value: benefit.value(),
            starts_at: row.starts_at.map(|t| t.and_utc()),
            ends_at: row.ends_at.map(|t| t.and_utc()),
            minimum_subtotal: Money::new(row.minimum_subtotal, shop.currency),
            usage_limit: row.usage_limit,
            per_customer_limit: row.per_customer_limit,
            uses: row.uses,
            active: row.active,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// One page of discount codes, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{
    "id": "dsc_0193a7c25b7e7d1a9c1e2f6c1f7e9a70", "code": "WELCOME10", "kind": "percentage",
    "value": 1000, "starts_at": null, "ends_at": "2027-01-01T00:00:00Z",
    "minimum_subtotal": {"amount": 5000, "currency": "EUR", "minor_unit": 2},
    "usage_limit": 500, "per_customer_limit": 1, "uses": 42, "active": true,
    "created_at": "2026-12-01T09:00:00Z", "updated_at": "2026-12-01T09:00:00Z"
}], "next_cursor": null}))]
pub struct DiscountCodeList {
    /// Up to `limit` codes.
    pub data: Vec<DiscountCodeView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The terms of `kind` checked: every problem at once.
fn terms_of(kind: Kind, body: &DiscountTerms) -> Result<Terms, ApiError> {
    let benefit = Benefit::parse(kind, body.value);
    let terms = Terms {
        benefit: benefit.clone().unwrap_or(Benefit::FreeShipping),
        starts_at: body.starts_at.map(|t| t.naive_utc()),
        ends_at: body.ends_at.map(|t| t.naive_utc()),
        minimum_subtotal: body.minimum_subtotal,
        usage_limit: body.usage_limit,
        per_customer_limit: body.per_customer_limit,
        active: body.active,
    };
    let errors: Vec<FieldError> = [benefit.err(), terms.check().err()]
        .into_iter()
        .flatten()
        .flat_map(|invalid| match invalid {
            Invalid::Fields(fields) => fields,
            _ => Vec::new(),
        })
        .collect();
    if errors.is_empty() {
        Ok(terms)
    } else {
        Err(ApiError::Validation(errors))
    }
}

const TAKEN: &str = "A discount code is already spelled so (codes are case-insensitive).";

/// List discount codes.
///
/// Every code, active or withdrawn, newest first, with the uses each has taken.
#[utoipa::path(
    operation_id = "listDiscountCodes",
    tag = "discounts",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of codes", body = DiscountCodeList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/discount-codes")]
async fn list(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().validate(LISTING)?;
    let (after, limit) = (page.after.clone(), i64::from(page.limit) + 1);
    let rows = db
        .run(move |conn| store::list(conn, after.as_deref(), limit).map_err(ApiError::from))
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, LISTING, |r| r.id.clone());
    Ok(HttpResponse::Ok().json(DiscountCodeList {
        data: rows
            .into_iter()
            .map(|r| DiscountCodeView::of(r, &shop))
            .collect(),
        next_cursor,
    }))
}

/// Create a discount code.
///
/// The code is stored in upper case and must be unique in any case; it applies to carts at
/// once when active and within its window.
#[utoipa::path(
    operation_id = "createDiscountCode",
    tag = "discounts",
    security(("bearer" = [])),
    request_body = NewDiscountCode,
    responses(
        (status = 201, description = "Created", body = DiscountCodeView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code is taken (in any case)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid code, value for its kind, window or limit", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/discount-codes")]
async fn create(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    body: Json<NewDiscountCode>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let code = Code::parse("code", &body.code);
    let terms = terms_of(body.kind, &body.terms());
    let (code, terms) = match (code, terms) {
        (Ok(code), Ok(terms)) => (code, terms),
        (Err(invalid), Ok(_)) => return Err(invalid.into()),
        (Ok(_), Err(e)) => return Err(e),
        (Err(Invalid::Fields(mut first)), Err(ApiError::Validation(more))) => {
            first.extend(more);
            return Err(ApiError::Validation(first));
        }
        (Err(invalid), Err(_)) => return Err(invalid.into()),
    };
    let now = crate::db::now();
    let row = CodeRow {
        id: crate::ids::new_id("dsc"),
        code: code.as_str().to_owned(),
        kind: terms.benefit.kind().as_str().to_owned(),
        value: terms.benefit.value(),
        starts_at: terms.starts_at,
        ends_at: terms.ends_at,
        minimum_subtotal: terms.minimum_subtotal,
        usage_limit: terms.usage_limit,
        per_customer_limit: terms.per_customer_limit,
        uses: 0,
        active: terms.active,
        created_at: now,
        updated_at: now,
    };
    let stored = row.clone();
    db.run(move |conn| {
        store::insert(conn, &stored).map_err(|e| {
            if crate::db::is_unique_violation(&e) {
                ApiError::conflict(TAKEN)
            } else {
                e.into()
            }
        })
    })
    .await?;
    let location = format!("/v1/admin/discount-codes/{}", row.id);
    Ok(crate::http::created(&location).json(DiscountCodeView::of(row, &shop)))
}

/// Get a discount code.
///
/// Its terms and the uses it has taken.
#[utoipa::path(
    operation_id = "getDiscountCode",
    tag = "discounts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The code's `dsc_…` id")),
    responses(
        (status = 200, description = "The code with its uses", body = DiscountCodeView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/discount-codes/{id}")]
async fn read(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = db
        .run(move |conn| store::get(conn, &id).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(DiscountCodeView::of(row, &shop)))
}

/// Change a discount code's terms.
///
/// Replaces every term (a field left out takes its default: no window end, no limit,
/// active); the code and its kind stay. Carts see the new terms at once; orders already
/// placed keep the discount they were charged. A limit below the uses already taken only
/// stops new uses.
#[utoipa::path(
    operation_id = "updateDiscountCode",
    tag = "discounts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The code's `dsc_…` id")),
    request_body = DiscountTerms,
    responses(
        (status = 200, description = "The code with its new terms", body = DiscountCodeView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid value for its kind, window or limit", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/discount-codes/{id}")]
async fn replace(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
    body: Json<DiscountTerms>,
) -> Result<HttpResponse, ApiError> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let row = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let current = store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
                let kind = Kind::parse(&current.kind).unwrap_or(Kind::FixedAmount);
                let terms = terms_of(kind, &body)?;
                let change = CodeChange {
                    value: terms.benefit.value(),
                    starts_at: terms.starts_at,
                    ends_at: terms.ends_at,
                    minimum_subtotal: terms.minimum_subtotal,
                    usage_limit: terms.usage_limit,
                    per_customer_limit: terms.per_customer_limit,
                    active: terms.active,
                    updated_at: crate::db::now(),
                };
                store::update(conn, &id, &change)?.ok_or(ApiError::NotFound)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(DiscountCodeView::of(row, &shop)))
}

/// Withdraw a discount code.
///
/// Sets it inactive (customers are told it is unknown; checkouts of carts carrying it
/// fail until they remove it). It stays listed with its uses; orders keep their discount.
#[utoipa::path(
    operation_id = "archiveDiscountCode",
    tag = "discounts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The code's `dsc_…` id")),
    responses(
        (status = 200, description = "The code, inactive", body = DiscountCodeView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such code", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/discount-codes/{id}")]
async fn deactivate(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let current = store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
                let change = CodeChange {
                    value: current.value,
                    starts_at: current.starts_at,
                    ends_at: current.ends_at,
                    minimum_subtotal: current.minimum_subtotal,
                    usage_limit: current.usage_limit,
                    per_customer_limit: current.per_customer_limit,
                    active: false,
                    updated_at: crate::db::now(),
                };
                store::update(conn, &id, &change)?.ok_or(ApiError::NotFound)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(DiscountCodeView::of(row, &shop)))
}
