//! `POST /v1/carts/{id}/checkout`: a cart becomes an order in one transaction.

use crate::http::limits::{Policy, Quota, Rule};
use crate::ids::{OrderId, UserId};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{new_order_number, Address, AddressFields, ChangedBy, OrderStatus};
use super::store::{self, ItemRow, OrderRow, Parts, TaxLineRow};
use super::view::{build, OrderView};
use super::view::{CONTACT_EMAIL, SHIPPING_ADDRESS};
use crate::accounts::model::Email;
use crate::auth::token::hash_secret;
use crate::auth::Caller;
use crate::carts::routes::out_of_stock;
use crate::carts::store::{self as carts, Access};
use crate::config::{Shop, TaxMode, TaxSettings};
use crate::crypto::{index_kind, Crypto};
use crate::db::{write_transaction, Db, DbConnection};
use crate::discounts;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::idempotency::{self, Lookup};
use crate::notifications::{self, Kind};
use crate::policies;
use crate::tax::model::tax_lines;

pub const CHECKOUT: Policy = Policy {
    name: "checkout",
    client: Some(Quota::per_minute(20)),
    global: Quota::per_minute(6000),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[(Method::POST, "/v1/carts/{id}/checkout", &CHECKOUT)];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(checkout);
}

/// What a checkout needs besides the cart.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "contact_email": "lotte.vermeulen@example.be",
    "shipping_address": {
        "name": "Lotte Vermeulen", "line1": "Kortrijksesteenweg 214", "line2": "bus 3",
        "city": "Gent", "postal_code": "9000", "country": "BE"
    },
    "accepted_policy_version": 1,
    "shipping_method": "standard"
}))]
pub struct CheckoutRequest {
    /// Where order updates go: an email address of at most 254 characters once normalised
    /// (trimmed, lower-cased, the domain in ASCII), at most 64 before the `@`. Stored
    /// encrypted with the order's own key.
    #[schema(format = "email", max_length = 254)]
    pub contact_email: String,
    /// Where the order ships.
    #[schema(value_type = Address)]
    pub shipping_address: AddressFields,
    /// The current privacy-policy version (`X-Policy-Version`), which the customer accepts
    /// with this order; any other version is refused (422).
    pub accepted_policy_version: i32,
    /// The code of a shipping method available for the destination and this cart (see
    /// `GET /v1/carts/{id}/shipping-options`); absent: the cheapest available one. One that
    /// is unknown, inactive or does not serve the destination or the cart's weight is
    /// refused (422 `validation-failed` on `shipping_method`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "standard")]
    pub shipping_method: Option<String>,
}

const RACE: &str = "idempotency-race";
/// Another checkout of the same cart committed while this one waited for the cart.
const CART_TAKEN: &str = "cart-taken";

/// The order number drawn was taken (40 random bits: about once in a million orders per
/// million orders placed); the checkout starts over with a new one.
const NUMBER_TAKEN: &str = "order-number-taken";
const NUMBER_DRAWS: usize = 3;

/// A failure that another checkout of the same cart may explain.
fn raced(e: &ApiError) -> bool {
    matches!(e, ApiError::NotFound | ApiError::NotYours(_))
        || matches!(e, ApiError::Conflict(detail) if detail == CART_TAKEN)
        || is_race(e)
}

fn is_race(e: &ApiError) -> bool {
    matches!(e, ApiError::Conflict(detail) if detail == RACE)
}

fn number_taken<T>(attempt: &Result<T, ApiError>) -> bool {
    matches!(attempt, Err(ApiError::Conflict(detail)) if detail == NUMBER_TAKEN)
}

struct Input {
    cart_id: String,
    user_id: Option<UserId>,
    access: Access,
    email: Email,
    address: Address,
    accepted: i32,
    key: String,
    hash: Vec<u8>,
    currency: String,
    shipping_method: Option<String>,
    tax: TaxSettings,
    payment_window: chrono::Duration,
}

impl Input {
    /// Where this caller's answer for this cart is kept: the key is scoped to the cart *and*
    /// to who may use it (account, or cart-token hash), so a stranger who learns a cart id
    /// and its Idempotency-Key finds nothing to replay and gets what an unknown cart gets.
    fn scope(&self) -> Result<String, ApiError> {
        let holder = self
            .access
            .holder()
            .ok_or(ApiError::NotYours(carts::NOT_YOURS))?;
        Ok(format!("checkout:{}:{holder}", self.cart_id))
    }
}

/// The whole checkout, in the caller's (write) transaction.
fn place_order(
    conn: &mut DbConnection,
    crypto: &Crypto,
    input: &Input,
) -> Result<(u16, Vec<u8>, bool), ApiError> {
    let scope = input.scope()?;
    if let Lookup::Replay(stored) =
        idempotency::lookup(conn, crypto, &scope, &input.key, &input.hash)?
    {
        return Ok((stored.status, stored.body, true));
    }
    let cart = input.access.find(conn, &input.cart_id)?;
    // The cart is taken first: a concurrent checkout of this cart (a retry that reached
    // another worker or instance before the first answer came) waits here until this one
    // commits, then answers what it answered (see `checkout`) instead of racing it to the
    // stock and failing with 409 or 404.
    if !carts::check_out(conn, &cart.id)? {
        return Err(ApiError::conflict(CART_TAKEN));
    }
    let current_policy = policies::store::current_version(conn)?;
    if input.accepted != current_policy {
        return Err(ApiError::validation(
            "accepted_policy_version",
            format!("must be the current privacy-policy version ({current_policy})"),
        ));
    }
    let lines = carts::lines(conn, &cart.id)?;
    if lines.is_empty() {
        return Err(ApiError::validation("cart", "is empty"));
    }
    let order_id = OrderId::new();
    let mut items = Vec::with_capacity(lines.len());
    for (quantity, variant, product) in &lines {
        if product.status != crate::catalog::store::ACTIVE {
            return Err(out_of_stock(&variant.id, 0));
        }
        items.push(ItemRow {
            order_id: order_id.to_string(),
            variant_id: variant.id.clone(),
            product_id: product.id.clone(),
            sku: variant.sku.clone(),
            name: product.name.clone(),
            color: variant.color.clone(),
            unit_price: variant.price_override.unwrap_or(product.base_price),
            quantity: *quantity,
        });
    }
    let subtotal: i64 = items
        .iter()
        .map(|i| i.unit_price * i64::from(i.quantity))
        .sum();
    let country = input.address.country();
    let method = crate::shipping::choose(
        conn,
        country,
        &lines,
        subtotal,
        input.shipping_method.as_deref(),
    )?;
    let shipping = method.quote.price;
    let now = crate::db::now();
    // The cart's code is checked again now: it may have expired, been used up or be
    // above this customer's limit since it was applied. If so the checkout fails (422)
    // rather than charge a price the customer did not see.
    let customer = match &input.user_id {
        Some(user) => discounts::customer_of_account(user),
        None => discounts::customer_of_guest(crypto, input.email.as_str()),
    };
    let code = discounts::store::of_cart(conn, &cart.id)?;
    let applied = match &code {
        None => None,
        Some(code) => {
            let terms = code.terms();
            let used = match terms.per_customer_limit {
                Some(_) => Some(discounts::store::customer_uses(conn, &code.id, &customer)?),
                None => None,
            };
            discounts::model::check(&terms, now, subtotal, code.uses, used)
                .map_err(|r| discounts::refused(r, &input.currency))?;
            Some(discounts::model::apply(
                terms.benefit,
                &[subtotal],
                shipping,
            ))
        }
    };
    let (goods_off, shipping_off) = applied
        .as_ref()
        .map_or((0, 0), |a| (a.goods.iter().sum::<i64>(), a.shipping));
    let rate = crate::tax::rate_for(conn, &input.tax, country, now.date())?;
    // Tax on what is charged: the goods and shipping after the discount.
    let lines = tax_lines(
        input.tax.mode,
        &[
            (rate, subtotal - goods_off),
            (rate, shipping - shipping_off),
        ],
    );
    let tax_total: i64 = lines.iter().map(|l| l.tax).sum();
    let charged = subtotal - goods_off + shipping - shipping_off;
    let total = match input.tax.mode {
        TaxMode::Inclusive => charged,
        TaxMode::Exclusive => charged + tax_total,
    };
    let tax_rows: Vec<TaxLineRow> = lines
        .iter()
        .map(|l| TaxLineRow {
            order_id: order_id.to_string(),
            rate_bp: i32::try_from(l.rate.basis_points()).unwrap_or(i32::MAX),
            net: l.net,
            tax: l.tax,
            gross: l.gross,
        })
        .collect();
    let key = crypto.create_data_key(conn, &order_id)?;
    let address = serde_json::to_vec(&input.address).map_err(|e| ApiError::Internal(e.into()))?;
    let guest_token = match input.user_id {
        None => Some(crate::auth::token::new_secret("vo")?),
        Some(_) => None,
    };
    let order = OrderRow {
        id: order_id.clone(),
        number: new_order_number()?,
        user_id: input.user_id.clone(),
        guest_token_hash: guest_token.as_deref().map(hash_secret),
        status: OrderStatus::PendingPayment.as_str().to_owned(),
        currency: input.currency.clone(),
        subtotal,
        shipping,
        total,
        contact_email_sealed: Some(
            key.seal_str(&CONTACT_EMAIL.at(&order_id), input.email.as_str())?,
        ),
        contact_email_bidx: Some(crypto.blind_index(index_kind::ORDER_EMAIL, input.email.as_str())),
        shipping_address_sealed: Some(key.seal(&SHIPPING_ADDRESS.at(&order_id), &address)?),
        policy_version: current_policy,
        expires_at: now + input.payment_window,
        delivered_at: None,
        closed_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
        tax_mode: input.tax.mode.as_str().to_owned(),
        tax_country: Some(country.to_owned()),
        tax_total,
    };
    // 40 random bits: a collision is rare; the whole checkout then starts over (see
    // `checkout`) with a new number.
    store::insert(conn, &order, &items, &tax_rows).map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            ApiError::conflict(NUMBER_TAKEN)
        } else {
            e.into()
        }
    })?;
    let shipped_with = crate::shipping::record(conn, &order_id, &method)?;
    let discount_rows: Vec<discounts::store::OrderDiscountRow> = code
        .iter()
        .map(|c| discounts::store::OrderDiscountRow {
            order_id: order_id.to_string(),
            code_id: c.id.clone(),
            code: c.code.clone(),
            goods_amount: goods_off,
            shipping_amount: shipping_off,
        })
        .collect();
    discounts::store::insert_order_lines(conn, &discount_rows)?;
    let actor_id = input.user_id.as_deref();
    let placed = store::record_event(
        conn,
        &order_id,
        None,
        OrderStatus::PendingPayment,
        ChangedBy::Owner,
        actor_id,
        None,
    )?;
    let subject = input.user_id.as_deref().unwrap_or(&order_id).to_owned();
    policies::store::record_acceptance(conn, &subject, current_policy, "checkout")?;
    notifications::enqueue(
        conn,
        crate::notifications::To::Order {
            order_id: &order_id,
            user_id: input.user_id.as_ref(),
        },
        &Kind::OrderPlaced,
        &serde_json::json!({"order_id": order_id, "number": order.number, "status": "pending_payment"}),
    )?;
    // The view is built from what was just written rather than read back.
    let mut shown = items.clone();
    shown.sort_by(|a, b| a.sku.cmp(&b.sku)); // as `store::items` reads them
    let parts = Parts {
        items: shown,
        events: vec![placed],
        shipments: Vec::new(),
        payment_status: None,
        tax_lines: tax_rows,
        shipping_method: Some(shipped_with),
        discounts: discount_rows,
    };
    let personal = Some((input.email.as_str().to_owned(), input.address.clone()));
    let view: OrderView = build(&order, parts, personal, guest_token);
    let body = serde_json::to_vec(&view).map_err(|e| ApiError::Internal(e.into()))?;
    if !idempotency::save(
        conn,
        &key,
        &scope,
        &input.key,
        &input.hash,
        &order_id,
        201,
        &body,
    )? {
        return Err(ApiError::conflict(RACE));
    }
    // The code's use late, for the same reason as the stock: the conditional increment
    // locks the code's row, and every checkout with the code queues on it until commit.
    if let Some(code) = &code {
        discounts::store::redeem(conn, code, &order_id, &customer).map_err(|e| match e {
            discounts::store::RedeemError::Refused(r) => discounts::refused(r, &input.currency),
            discounts::store::RedeemError::Db(e) => e.into(),
        })?;
    }
    // Stock last: the conditional decrement locks the variant's row until the commit that
    // follows at once, so checkouts of one popular variant queue for two statements rather
    // than for the whole checkout. Variants in id order, so two carts never wait on each
    // other's rows in opposite orders.
    let mut reservations: Vec<&ItemRow> = items.iter().collect();
    reservations.sort_by(|a, b| a.variant_id.cmp(&b.variant_id));
    for item in reservations {
        let Some(left) = store::reserve(conn, &item.variant_id, item.quantity)? else {
            let available = crate::catalog::store::get_variant(conn, &item.variant_id)?
                .map_or(0, |v| v.available);
            return Err(out_of_stock(&item.variant_id, available));
        };
        crate::catalog::events::moved(
            conn,
            &item.variant_id,
            left,
            -item.quantity,
            crate::catalog::events::StockCause::Checkout,
        )?;
    }
    Ok((201, body, false))
}

/// The part of a stored checkout answer that names the order.
#[derive(Deserialize)]
struct PlacedOrder {
    number: String,
}

/// Places the order of `input`, drawing a new number when one is taken, and settles a race
/// with another request for the same cart: the answer (status, body) and whether it is a
/// replay of an earlier request's.
fn place(
    conn: &mut DbConnection,
    crypto: &Crypto,
    input: &Input,
) -> Result<(u16, Vec<u8>, bool), ApiError> {
    let mut first = write_transaction(conn, |conn| place_order(conn, crypto, input));
    for _ in 1..NUMBER_DRAWS {
        if !number_taken(&first) {
            break;
        }
        first = write_transaction(conn, |conn| place_order(conn, crypto, input));
    }
    match first {
        Ok(answer) => Ok(answer),
        // Another request for this cart committed first (this transaction is rolled back,
        // and this read sees that commit): if it had the same key, answer what it answered.
        // On PostgreSQL a request can also miss the key (not committed yet) and then find
        // the cart already checked out (committed meanwhile): 404, which is answered the
        // same way.
        Err(e) if raced(&e) => {
            let scope = input.scope()?;
            match idempotency::lookup(conn, crypto, &scope, &input.key, &input.hash)? {
                Lookup::Replay(stored) => Ok((stored.status, stored.body, true)),
                // Another key took the cart: no open cart any more.
                Lookup::Fresh if !is_race(&e) => Err(ApiError::NotYours(carts::NOT_YOURS)),
                Lookup::Fresh => Err(ApiError::conflict(
                    "The checkout raced with another; retry.",
                )),
            }
        }
        Err(e) => Err(e),
    }
}

/// Check out a cart.
///
/// In one transaction: reserves every line's stock (never overselling, whatever the
/// concurrency), creates the order (`pending_payment`) with a human number, seals the contact
/// email and the shipping address with the order's own key, records the policy acceptance and
/// queues the "order placed" notification. Requires an `Idempotency-Key`: a retry with the
/// same key and body by the same caller (account, or cart token) replays the first answer
/// (`Idempotent-Replayed: true`); the key is scoped to that caller, so anyone else sending it
/// gets what an unknown cart gets. Guests receive
/// an `order_token`, shown only here. Unpaid orders expire after 30 minutes (configurable)
/// and release their stock.
#[utoipa::path(
    operation_id = "checkoutCart",
    tag = "orders",
    security((), ("bearer" = [])),
    params(
        ("id" = String, Path, description = "The cart's `cart_…` id"),
        ("Idempotency-Key" = String, Header, description = "Unique per checkout attempt, e.g. a UUID: 1 to 255 visible ASCII characters; a retry with the same key and body replays the first answer", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),
        ("X-Cart-Token" = Option<String>, Header, description = "Guests only: the cart's `vc_…` token from the cart's creation. Customers send their access token instead."),
    ),
    request_body = CheckoutRequest,
    responses(
        (status = 201, description = "Order placed", body = OrderView),
        (status = 400, description = "Missing or malformed Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such open cart, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`out-of-stock`: a line is no longer available (the problem names the variant)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`personal-data-erased`: a replay whose first answer held personal data erased since", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or sensitive field, empty cart, stale policy version, or `idempotency-key-reused`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/carts/{id}/checkout")]
async fn checkout(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    shop: web::Data<Shop>,
    id: web::Path<String>,
    body: Json<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key(&req, true)?.unwrap_or_default();
    let request = body.into_inner();
    let cart_id = id.into_inner();
    let hash = idempotency::fingerprint(&cart_id, &request);
    let email = Email::parse("contact_email", &request.contact_email)?;
    let address = Address::parse(&request.shipping_address, "shipping_address")?;
    let input = Input {
        cart_id,
        user_id: caller.account(),
        access: Access::from_request(&caller, &req),
        email,
        address,
        accepted: request.accepted_policy_version,
        key,
        hash,
        currency: shop.currency.code().to_owned(),
        shipping_method: request.shipping_method.clone(),
        tax: shop.tax.clone(),
        payment_window: shop.payment_window,
    };
    let crypto = crypto.into_inner();
    let (status, body, replayed) = db.run(move |conn| place(conn, &crypto, &input)).await?;
    // The stored answer is the order document, first time and on a replay alike.
    let number = serde_json::from_slice::<PlacedOrder>(&body).map(|placed| placed.number);
    let mut response = idempotency::replay(idempotency::Stored { status, body }, replayed);
    if let Ok(Ok(location)) = number.map(|n| HeaderValue::try_from(format!("/v1/orders/{n}"))) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
