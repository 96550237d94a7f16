//! `POST /v1/admin/orders/search` (support and above): orders found by the customer's
//! e-mail (through its blind indexes, never in clear), number, status and placement time,
//! sorted and paginated by keyset, each masked as the caller's role may see it. The e-mail
//! travels in the body so that it never reaches a URL or an access log; every search is one
//! audit entry naming the kinds of filter used, never their values.

use actix_web::{post, web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;

use super::admin::{staff_view, StaffOrderList};
use super::model::{is_order_number, OrderStatus};
use super::store::OrderRow;
use crate::accounts::email::canonical;
use crate::audit::{self, Actor as AuditActor, Event};
use crate::auth::{min, Auth};
use crate::crypto::{index_kind, Crypto};
use crate::db::schema::{orders, users};
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::http::pagination::{paginate, Page, PageQuery};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(search);
}

/// How the results are ordered; ties are broken by order id in the same direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderSort {
    /// Newest first (the default).
    #[default]
    PlacedAtDesc,
    /// Oldest first.
    PlacedAtAsc,
    /// Largest total first.
    TotalDesc,
    /// Smallest total first.
    TotalAsc,
}

impl OrderSort {
    /// The listing a cursor belongs to: a cursor of one order is refused by another.
    fn listing(self) -> &'static str {
        match self {
            OrderSort::PlacedAtDesc => "order-search:placed_at_desc",
            OrderSort::PlacedAtAsc => "order-search:placed_at_asc",
            OrderSort::TotalDesc => "order-search:total_desc",
            OrderSort::TotalAsc => "order-search:total_asc",
        }
    }

    fn descending(self) -> bool {
        matches!(self, OrderSort::PlacedAtDesc | OrderSort::TotalDesc)
    }

    /// The keyset key of a row: the sort value and the id.
    fn key(self, row: &OrderRow) -> String {
        match self {
            OrderSort::PlacedAtDesc | OrderSort::PlacedAtAsc => {
                format!("{}|{}", row.created_at.format(TIME_KEY), row.id)
            }
            OrderSort::TotalDesc | OrderSort::TotalAsc => format!("{}|{}", row.total, row.id),
        }
    }
}

const TIME_KEY: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// Where the previous page ended.
enum After {
    Placed(NaiveDateTime, String),
    Total(i64, String),
}

impl After {
    fn parse(sort: OrderSort, key: &str) -> Option<After> {
        let (value, id) = key.split_once('|')?;
        let id = id.to_owned();
        match sort {
            OrderSort::PlacedAtDesc | OrderSort::PlacedAtAsc => {
                NaiveDateTime::parse_from_str(value, TIME_KEY)
                    .ok()
                    .map(|t| After::Placed(t, id))
            }
            OrderSort::TotalDesc | OrderSort::TotalAsc => {
                value.parse().ok().map(|t| After::Total(t, id))
            }
        }
    }
}

/// What to look for; every filter given must match. Send `{}` for every order.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "email": "ada@example.com", "status": "paid",
    "placed_from": "2025-11-01T00:00:00Z", "placed_to": "2025-12-01T00:00:00Z",
    "sort": "placed_at_desc", "limit": 20
}))]
pub struct OrderSearch {
    /// The customer's e-mail, exactly (after normalisation: case, Unicode, IDNA): orders
    /// placed with it as contact address (guests included) and orders of the account that
    /// signs in with it. Looked up through blind indexes; never stored, logged or audited.
    #[schema(max_length = 320)]
    pub email: Option<String>,
    /// The order number, e.g. `LG-7KQ2-9XF4`.
    #[schema(pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")]
    pub number: Option<String>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only orders placed at or after this time (RFC 3339).
    pub placed_from: Option<DateTime<Utc>>,
    /// Only orders placed before this time (RFC 3339).
    pub placed_to: Option<DateTime<Utc>>,
    /// The order of the results; `placed_at_desc` when omitted.
    pub sort: Option<OrderSort>,
    /// Items per page, 1–100.
    #[schema(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page of the same search (same filters and sort).
    pub cursor: Option<String>,
}

/// The search, parsed: blind indexes instead of the e-mail.
struct Criteria {
    contact_index: Option<(Vec<u8>, Vec<u8>)>,
    number: Option<String>,
    status: Option<OrderStatus>,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
    sort: OrderSort,
    page: Page,
    after: Option<After>,
}

impl Criteria {
    fn parse(input: OrderSearch, crypto: &Crypto) -> Result<Criteria, ApiError> {
        let sort = input.sort.unwrap_or_default();
        let page = PageQuery {
            limit: input.limit,
            cursor: input.cursor,
        }
        .validate(sort.listing())?;
        let after = match &page.after {
            None => None,
            Some(key) => Some(After::parse(sort, key).ok_or_else(|| {
                ApiError::validation("cursor", "is not a cursor returned by this search")
            })?),
        };
        let contact_index = match input.email.as_deref() {
            None => None,
            Some(raw) => {
                // The message never repeats the address.
                let email =
                    canonical(raw).map_err(|e| ApiError::validation("email", e.message()))?;
                Some((
                    crypto.blind_index(index_kind::ORDER_EMAIL, &email),
                    crypto.blind_index(index_kind::ACCOUNT_EMAIL, &email),
                ))
            }
        };
        if let Some(n) = &input.number {
            if !is_order_number(n) {
                return Err(ApiError::validation(
                    "number",
                    "must be an order number like LG-7KQ2-9XF4",
                ));
            }
        }
        if let (Some(from), Some(to)) = (input.placed_from, input.placed_to) {
            if from >= to {
                return Err(ApiError::validation(
                    "placed_to",
                    "must be later than placed_from",
                ));
            }
        }
        Ok(Criteria {
            contact_index,
            number: input.number,
            status: input.status,
            from: input.placed_from.map(|t| t.naive_utc()),
            to: input.placed_to.map(|t| t.naive_utc()),
            sort,
            page,
            after,
        })
    }

    /// The kinds of filter used, as the audit log records them.
    fn kinds(&self) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        if self.contact_index.is_some() {
            kinds.push("email");
        }
        if self.number.is_some() {
            kinds.push("number");
        }
        if self.status.is_some() {
            kinds.push("status");
        }
        if self.from.is_some() || self.to.is_some() {
            kinds.push("placed_at");
        }
        kinds
    }
}

/// One page of the orders that match.
fn find(conn: &mut DbConnection, c: &Criteria) -> QueryResult<Vec<OrderRow>> {
    let mut query = orders::table
        .select(OrderRow::as_select())
        .limit(i64::from(c.page.limit) + 1)
        .into_boxed();
    if let Some((contact, account)) = &c.contact_index {
        let accounts: Vec<String> = users::table
            .filter(users::email_bidx.eq(account))
            .select(users::id)
            .load(conn)?;
        query = query.filter(
            orders::contact_email_bidx
                .eq(contact)
                .or(orders::user_id.eq_any(accounts)),
        );
    }
    if let Some(n) = &c.number {
        query = query.filter(orders::number.eq(n.clone()));
    }
    if let Some(s) = c.status {
        query = query.filter(orders::status.eq(s.as_str()));
    }
    if let Some(from) = c.from {
        query = query.filter(orders::created_at.ge(from));
    }
    if let Some(to) = c.to {
        query = query.filter(orders::created_at.lt(to));
    }
    query = match (&c.after, c.sort.descending()) {
        (None, _) => query,
        (Some(After::Placed(t, id)), true) => query.filter(
            orders::created_at
                .lt(*t)
                .or(orders::created_at.eq(*t).and(orders::id.lt(id.clone()))),
        ),
        (Some(After::Placed(t, id)), false) => query.filter(
            orders::created_at
                .gt(*t)
                .or(orders::created_at.eq(*t).and(orders::id.gt(id.clone()))),
        ),
        (Some(After::Total(t, id)), true) => query.filter(
            orders::total
                .lt(*t)
                .or(orders::total.eq(*t).and(orders::id.lt(id.clone()))),
        ),
        (Some(After::Total(t, id)), false) => query.filter(
            orders::total
                .gt(*t)
                .or(orders::total.eq(*t).and(orders::id.gt(id.clone()))),
        ),
    };
    query = match c.sort {
        OrderSort::PlacedAtDesc => query.order((orders::created_at.desc(), orders::id.desc())),
        OrderSort::PlacedAtAsc => query.order((orders::created_at.asc(), orders::id.asc())),
        OrderSort::TotalDesc => query.order((orders::total.desc(), orders::id.desc())),
        OrderSort::TotalAsc => query.order((orders::total.asc(), orders::id.asc())),
    };
    query.load(conn)
}

/// Search orders (masked).
///
/// By the customer's e-mail (sent in the body, so it never appears in a URL or log), number,
/// status and placement time; sorted and paginated. Addresses show initials, city and
/// country only. Each search is written to the audit log with the kinds of filter used
/// (`email`, `number`, `status`, `placed_at`), never their values.
#[utoipa::path(
    operation_id = "searchStaffOrders",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    request_body = OrderSearch,
    responses(
        (status = 200, description = "One page of matching orders, as this role may see them", body = StaffOrderList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orders/search")]
async fn search(
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<OrderSearch>,
) -> Result<HttpResponse, ApiError> {
    let criteria = Criteria::parse(body.into_inner(), &crypto)?;
    let actor = AuditActor::from_principal(&auth.principal, None);
    let principal = auth.principal;
    let crypto = crypto.into_inner();
    let body = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                audit::record(
                    conn,
                    &crypto,
                    &actor,
                    &Event {
                        action: audit::Action::OrderSearch,
                        subject_id: None,
                        fields: &criteria.kinds(),
                        purpose: audit::Purpose::CustomerService,
                    },
                )?;
                let rows = find(conn, &criteria)?;
                let sort = criteria.sort;
                let (rows, next_cursor) =
                    paginate(rows, &criteria.page, sort.listing(), |o| sort.key(o));
                let data = rows
                    .iter()
                    .map(|o| staff_view(conn, &crypto, &principal, &actor, o, false))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, ApiError>(StaffOrderList { data, next_cursor })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}
