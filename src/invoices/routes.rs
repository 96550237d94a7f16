//! `/v1/orders/{number}/invoices…` for the customer or guest of the order, and
//! `/v1/admin/invoices…` for staff. A document answers as JSON, or as PDF to
//! `Accept: application/pdf`.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::{Document, DocumentKind};
use super::read;
use super::store::Filter;
use super::view::{DocumentList, DocumentPage, DocumentView};
use crate::audit::Actor;
use crate::auth::{min, Auth, Caller};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::orders::access::{Requester, ORDER_NUMBER, ORDER_TOKEN};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_my_documents).service(get_my_document);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(ledger).service(get_document);
}

/// What the `{document}` path parameter holds.
const DOCUMENT_NUMBER: &str = "The document's number: `INV-<year>-<number>` for an invoice, \
     `CN-<year>-<number>` for a credit note. Any other value answers 404.";

/// Whether the client asked for the PDF rather than JSON: `application/pdf` in `Accept`
/// with a quality above zero.
fn wants_pdf(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(actix_web::http::header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let pdf = parts
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case("application/pdf"));
            pdf && parts.all(|p| {
                let p = p.replace(' ', "");
                !(p == "q=0" || p.starts_with("q=0.") && p[4..].bytes().all(|b| b == b'0'))
            })
        })
}

/// The document as JSON, or as PDF when asked for.
fn respond(req: &HttpRequest, document: Document) -> Result<HttpResponse, ApiError> {
    let private = ("Cache-Control", "private, no-store");
    if wants_pdf(req) {
        let disposition = format!("inline; filename=\"{}.pdf\"", document.number);
        let bytes = super::pdf::render(&document).map_err(|e| ApiError::Internal(e.into()))?;
        return Ok(HttpResponse::Ok()
            .content_type("application/pdf")
            .insert_header(("Content-Disposition", disposition))
            .insert_header(private)
            .body(bytes));
    }
    Ok(HttpResponse::Ok()
        .insert_header(private)
        .json(DocumentView::from(document)))
}

/// The invoices and credit notes of my order.
///
/// The invoice is issued when the order is paid, a credit note when a refund of its payment
/// succeeds (both within seconds). Guests send the `X-Order-Token` they received at checkout.
#[utoipa::path(
    operation_id = "listOrderDocuments",
    tag = "invoices",
    security(("bearer" = []), ()),
    params(
        ("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"),
        ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN),
    ),
    responses(
        (status = 200, description = "The order's documents, invoice first", body = DocumentList),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orders/{number}/invoices")]
async fn list_my_documents(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let requester = Requester::from_request(&caller, &req)?;
    let number = number.into_inner();
    let crypto = crypto.into_inner();
    let documents = db
        .run(move |conn| read::of_my_order(conn, &crypto, &requester, &number))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "private, no-store"))
        .json(DocumentList {
            documents: documents.into_iter().map(DocumentView::from).collect(),
        }))
}

/// One invoice or credit note of my order, as JSON or PDF.
///
/// Send `Accept: application/pdf` for the printable document.
#[utoipa::path(
    operation_id = "getOrderDocument",
    tag = "invoices",
    security(("bearer" = []), ()),
    params(
        ("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"),
        ("document" = String, Path, description = DOCUMENT_NUMBER, pattern = "^(INV|CN)-[0-9]{4}-[0-9]{6,12}$"),
        ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN),
    ),
    responses(
        (status = 200, description = "The document: JSON, or PDF to `Accept: application/pdf`", content(
            (DocumentView = "application/json"),
            (super::view::PdfFile = "application/pdf"),
        )),
        (status = 404, description = "No such order or document, or not yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orders/{number}/invoices/{document}")]
async fn get_my_document(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let requester = Requester::from_request(&caller, &req)?;
    let (number, document) = path.into_inner();
    let crypto = crypto.into_inner();
    let document = db
        .run(move |conn| read::one_of_my_order(conn, &crypto, &requester, &number, &document))
        .await?;
    respond(&req, document)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Only invoices or only credit notes; both when omitted.
    pub kind: Option<DocumentKind>,
    /// Only documents issued in this year.
    #[param(minimum = 2000, maximum = 2999, example = 2026)]
    pub year: Option<i32>,
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20, example = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page (with the same filters); omit for the first page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// The ledger of invoices and credit notes.
///
/// By series, year and number: what accounting books, with the VAT per rate and the
/// destination country of each document, and no personal data.
#[utoipa::path(
    operation_id = "listDocuments",
    tag = "invoices",
    security(("bearer" = []), ("api_key" = [])),
    params(LedgerQuery),
    responses(
        (status = 200, description = "A page of documents", body = DocumentPage),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/invoices")]
async fn ledger(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    query: Query<LedgerQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    if query.year.is_some_and(|y| !(2000..=2999).contains(&y)) {
        return Err(ApiError::validation(
            "year",
            "must be between 2000 and 2999",
        ));
    }
    let page = crate::http::pagination::PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .validate(read::LEDGER)?;
    let filter = Filter {
        kind: query.kind,
        year: query.year,
    };
    let page: DocumentPage = db
        .run(move |conn| read::ledger(conn, &filter, &page))
        .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One invoice or credit note, with its buyer, as JSON or PDF.
///
/// Reading the buyer's name and address is recorded in the audit log (purpose:
/// accounting). Send `Accept: application/pdf` for the printable document.
#[utoipa::path(
    operation_id = "getDocument",
    tag = "invoices",
    security(("bearer" = [])),
    params(
        ("document" = String, Path, description = DOCUMENT_NUMBER, pattern = "^(INV|CN)-[0-9]{4}-[0-9]{6,12}$"),
    ),
    responses(
        (status = 200, description = "The document: JSON, or PDF to `Accept: application/pdf`", content(
            (DocumentView = "application/json"),
            (super::view::PdfFile = "application/pdf"),
        )),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support staff and above, as a person (not an API key)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such document", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/invoices/{document}")]
async fn get_document(
    req: HttpRequest,
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    document: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // A person answers for an audited read: API keys do not read buyers.
    auth.user_id()?;
    let actor = Actor::from_principal(&auth.principal, None);
    let document = document.into_inner();
    let crypto = crypto.into_inner();
    let document = db
        .run(move |conn| read::one_for_staff(conn, &crypto, &actor, &document))
        .await?;
    respond(&req, document)
}
