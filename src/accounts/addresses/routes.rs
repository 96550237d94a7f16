//! `GET/POST /v1/me/addresses`, `PATCH/DELETE /v1/me/addresses/{id}`.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};

use super::model::{AddressPatch, SavedAddress, SavedAddresses};
use super::store::{correct, delete, list_open, save};
use crate::audit::Actor;
use crate::auth::{min, Auth};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::cache;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::orders::model::{Address, AddressFields};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(update)
        .service(remove);
}

/// My saved addresses.
///
/// Decrypted for their owner only, oldest first.
#[utoipa::path(
    operation_id = "listMyAddresses",
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "My saved addresses", body = SavedAddresses),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/addresses")]
async fn list(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let crypto = crypto.into_inner();
    let data = db.run(move |conn| list_open(conn, &crypto, &user)).await?;
    Ok(HttpResponse::Ok().json(SavedAddresses { data }))
}

/// Save an address.
///
/// Validated like a checkout address (sensitive data refused) and sealed with my data key.
/// At most 20 per customer.
#[utoipa::path(
    operation_id = "createMyAddress",
    tag = "me",
    security(("bearer" = [])),
    request_body = Address,
    responses(
        (status = 201, description = "Saved", body = SavedAddress,
            headers(("ETag" = String, description = "Version of the address"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already 20 saved addresses", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, unknown or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/addresses")]
async fn create(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<AddressFields>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let address = Address::parse(&body.into_inner(), "$")?;
    let actor = Actor::from_principal(&auth.principal, Some(&user));
    let crypto = crypto.into_inner();
    let (saved, tag) = db
        .run(move |conn| save(conn, &crypto, &actor, &user, &address))
        .await?;
    let location = format!("/v1/me/addresses/{}", saved.id);
    Ok(cache::with_etag(
        crate::http::created(&location).json(saved),
        &tag,
    ))
}

/// Correct a saved address.
///
/// Send the `ETag` you read as `If-Match` (412 when it changed meanwhile). Tracked as a
/// rectification request, completed at once.
#[utoipa::path(
    operation_id = "updateMyAddress",
    tag = "me",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "`adr_…`"),
        ("If-Match" = Option<String>, Header, description = "ETag of the address being corrected"),
    ),
    request_body = AddressPatch,
    responses(
        (status = 200, description = "The corrected address", body = SavedAddress,
            headers(("ETag" = String, description = "New version of the address"))),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such address of yours", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The address changed since it was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, unknown or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/me/addresses/{id}")]
async fn update(
    req: HttpRequest,
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
    body: Json<AddressPatch>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let patch = body.into_inner();
    let if_match = cache::if_match_header(&req);
    let actor = Actor::from_principal(&auth.principal, Some(&user));
    let crypto = crypto.into_inner();
    let (saved, tag) = db
        .run(move |conn| {
            correct(
                conn,
                &crypto,
                &actor,
                &user,
                &id,
                if_match.as_deref(),
                patch,
            )
        })
        .await?;
    Ok(cache::with_etag(HttpResponse::Ok().json(saved), &tag))
}

/// Delete a saved address.
///
/// Orders already placed keep the address they were shipped to.
#[utoipa::path(
    operation_id = "deleteMyAddress",
    tag = "me",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "`adr_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such address of yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/me/addresses/{id}")]
async fn remove(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let actor = Actor::from_principal(&auth.principal, Some(&user));
    let crypto = crypto.into_inner();
    db.run(move |conn| delete(conn, &crypto, &actor, &user, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
