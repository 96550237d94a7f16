//! `/v1/admin/tax-rates`: the EU standard VAT rates by country and the day each takes
//! effect; managers read them, admins add or replace them.

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::view::{TaxRateList, TaxRateView};
use super::{list_rates, set_rate};
use crate::auth::{min, Auth};
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(set);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RateQuery {
    /// Only this EU member state's rows (ISO 3166-1 alpha-2, either case); every
    /// country's when absent.
    #[param(pattern = "^[A-Za-z]{2}$", example = "DE")]
    pub country: Option<String>,
}

/// A standard rate taking effect in an EU member state.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"country": "DE", "effective_from": "2027-01-01", "rate_basis_points": 2000}))]
pub struct NewTaxRate {
    /// ISO 3166-1 alpha-2 code of an EU member state, either case (Greece is `GR`).
    #[schema(pattern = "^[A-Za-z]{2}$", example = "DE")]
    pub country: String,
    /// The first day (UTC, `YYYY-MM-DD`, 2000-01-01 to 2099-12-31) orders pay it.
    #[schema(format = "date", example = "2027-01-01")]
    pub effective_from: String,
    /// The rate in basis points of the net price, 0–10000: `2000` is 20 %, `2550` 25.5 %.
    #[schema(minimum = 0, maximum = 10000, example = 2000)]
    pub rate_basis_points: i64,
}

/// List the VAT rates.
///
/// Every EU member state's standard rates, each from the day it takes effect, with the one
/// new orders pay today marked `in_effect`.
#[utoipa::path(
    operation_id = "listTaxRates",
    tag = "tax",
    security(("bearer" = [])),
    params(RateQuery),
    responses(
        (status = 200, description = "The rates", body = TaxRateList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and admins only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`country` is not an EU member state, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/tax-rates")]
async fn list(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    query: Query<RateQuery>,
) -> Result<HttpResponse, ApiError> {
    let country = query.into_inner().country;
    let rates = db
        .run(move |conn| list_rates(conn, country.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(TaxRateList { data: rates }))
}

/// Add or replace a VAT rate.
///
/// Sets the standard rate of an EU member state from a day on: 201 when that country had
/// no row for that day, 200 when it replaced one. Orders already placed keep the tax they
/// were placed with; orders placed from `effective_from` on pay the new rate.
#[utoipa::path(
    operation_id = "setTaxRate",
    tag = "tax",
    security(("bearer" = [])),
    request_body = NewTaxRate,
    responses(
        (status = 200, description = "Replaced the row of that country and day", body = TaxRateView),
        (status = 201, description = "Added", body = TaxRateView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same country and day written at the same moment by another request: read and retry", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an EU member state, not a date in range, a rate outside 0–10000, or an unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/tax-rates")]
async fn set(
    _auth: Auth<min::Admin>,
    db: web::Data<Db>,
    body: Json<NewTaxRate>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let rate =
        super::model::NewRate::parse(&body.country, &body.effective_from, body.rate_basis_points)?;
    let (view, replaced): (TaxRateView, bool) = db.run(move |conn| set_rate(conn, &rate)).await?;
    Ok(match replaced {
        true => HttpResponse::Ok().json(view),
        false => HttpResponse::Created().json(view),
    })
}
