//! `GET /v1/admin/catalog/export.csv` and `POST /v1/admin/catalog/import` (managers and
//! above): the catalogue and its stock as CSV, one row per variant (see `catalog::import`).

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use super::observe;
use crate::auth::{min, Auth};
use crate::catalog::export::{self as csv_export, COLUMNS};
use crate::catalog::import::{self, ImportMode, ImportReport};
use crate::config::Shop;
use crate::db::Db;
use crate::http::csv;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::versions::Versions;

pub(super) fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(export).service(import_csv);
}

/// The largest import: 2 MiB is some ten thousand variants, well past this shop's range,
/// and small enough to check in one request.
pub const IMPORT_LIMIT: usize = 2 * 1024 * 1024;

/// Export the catalogue as CSV.
///
/// One row per variant, products by slug with every field, archived ones included:
/// `product_id`, `slug`, `name`, `brand`, `description`, `style`, `material`, `wheels`,
/// `features` (separated by `;`), `warranty_years`, `images` (separated by spaces),
/// `height_cm`, `width_cm`, `depth_cm`, `weight_g`, `capacity_l`, `price` (in the currency's
/// unit, e.g. `129.00`), `product_status`, `variant_id`, `sku`, `color`, `variant_price`
/// (empty: the product's price), `available` and `variant_images`: the variant's pictures as
/// the JSON array the API shows (`[{"url": …, "alt": …, "width": …, "height": …}]`, main
/// picture first; empty for none). Products by slug, each one's variants by SKU; streamed
/// from the database a page at a time (RFC 4180, CRLF). The file can be edited and sent back
/// to `POST /v1/admin/catalog/import`. Cells a spreadsheet would run as a formula start with
/// `'`.
#[utoipa::path(
    operation_id = "exportCatalogCsv",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The catalogue as CSV, with a header row", content_type = "text/csv", body = String,
            example = json!("product_id,slug,name,brand,description,style,material,wheels,features,warranty_years,images,height_cm,width_cm,depth_cm,weight_g,capacity_l,price,product_status,variant_id,sku,color,variant_price,available,variant_images\r\nprod_0193a7c25b7e7d1a9c1e2f6c1f7e9a0f,voyager-55-spinner,Voyager 55 Spinner,Valise,Hard-shell cabin case.,travel,polycarbonate,spinner,tsa_lock;expandable,5,https://cdn.example.com/voyager-55.jpg,55,40,20,2600,38,129.00,active,var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10,VOY-55-BLK,black,,25,\"[{\"\"url\"\":\"\"https://cdn.example.com/voyager-55-black-front.jpg\"\",\"\"alt\"\":\"\"Voyager 55 Spinner in black, front\"\",\"\"width\"\":1600,\"\"height\"\":2000}]\"\r\n")),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/catalog/export.csv")]
async fn export(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
) -> Result<HttpResponse, ApiError> {
    let start = csv_export::Cursor::start(shop.currency);
    let body = csv::paged("catalogue", db, &COLUMNS, start, csv_export::next_page);
    Ok(HttpResponse::Ok()
        .content_type(csv::CONTENT_TYPE)
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"catalog.csv\"",
        ))
        .streaming(body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `all_or_nothing` (the default): nothing is written if any row is refused, and the
    /// refusals answer 422. `valid_rows`: the valid rows are written, the others reported.
    pub mode: Option<ImportMode>,
}

/// Import products, variants and stock from CSV.
///
/// The body is `text/csv` (at most 2 MiB) with a header row naming at least `slug`, `name`,
/// `brand`, `description`, `style`, `material`, `wheels`, `features`, `warranty_years`,
/// `images`, `height_cm`, `width_cm`, `depth_cm`, `weight_g`, `capacity_l`, `price`, `sku`,
/// `color`, `variant_price` and `available`, in any order (the export's other columns are
/// ignored). `variant_images` is optional: when the header has it, it sets each variant's
/// pictures (the JSON array the export writes; empty for none) by the rules of the variant
/// edit, and a refused picture is reported by its number (`picture 2: must be an https
/// URL`); without it, pictures are left as they are. A product is found by slug and a variant by SKU: missing ones are created,
/// others changed, and the stock set as counted (the stock history records the difference).
/// Every cell is checked by the same rules as the JSON edits; refusals name the row (the
/// header is row 1), the column and the problem — in a 422 `validation-failed` problem as
/// `errors[].field = "rows[<row>].<column>"` in `all_or_nothing` mode, in `rejected` in
/// `valid_rows` mode. One transaction either way.
#[utoipa::path(
    operation_id = "importCatalogCsv",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The catalogue rows, with a header row",
        example = json!("slug,name,brand,description,style,material,wheels,features,warranty_years,images,height_cm,width_cm,depth_cm,weight_g,capacity_l,price,sku,color,variant_price,available\r\nvoyager-55-spinner,Voyager 55 Spinner,Valise,Hard-shell cabin case.,travel,polycarbonate,spinner,tsa_lock,5,,55,40,20,2600,38,129.00,VOY-55-BLK,black,,25\r\n")),
    responses(
        (status = 200, description = "What was written (and, in `valid_rows` mode, what was refused)", body = ImportReport),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 2 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not `text/csv`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused rows (`all_or_nothing`: nothing written), or a missing column", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/catalog/import")]
async fn import_csv(
    versions: web::Data<Versions>,
    req: HttpRequest,
    auth: Auth<min::Manager>,
    db: web::Data<Db>,
    shop: web::Data<Shop>,
    query: Query<ImportQuery>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/csv"));
    if !is_csv {
        return Err(ApiError::UnsupportedMediaType {
            expected: "text/csv",
        });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::BadRequest("The request body could not be read.".into()))?;
        if body.len() + chunk.len() > IMPORT_LIMIT {
            return Err(ApiError::PayloadTooLarge {
                limit: IMPORT_LIMIT,
            });
        }
        body.extend_from_slice(&chunk);
    }
    let mode = query.into_inner().mode.unwrap_or_default();
    let currency = shop.currency;
    let actor = auth.principal.id.clone();
    let report: ImportReport = db
        .run(move |conn| import::import(conn, &body, mode, currency, &actor))
        .await?;
    // Once for the whole file: each write bumped the version; this instance serves it now.
    observe(&db, &versions).await;
    Ok(HttpResponse::Ok().json(report))
}
