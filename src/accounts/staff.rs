//! `/v1/admin/staff`: staff accounts and their roles — the routes, and the creation and change
//! of an account behind them (creation is shared with `valise admin create` and the first-admin
//! bootstrap). Nobody grants, or takes away, a role they do not hold themselves; the last
//! active admin cannot be removed.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Email, PersonName, UserView};
use super::store::{self, NewAccount};
use crate::audit::{self, Actor, Event};
use crate::auth::password::Password;
use crate::auth::store as auth_store;
use crate::auth::{min, status, AccountStatus, Auth, PrincipalCache, Role};
use crate::crypto::Crypto;
use crate::db::{Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{paginate, PageQuery};

const LISTING: &str = "staff";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_staff)
        .service(create_staff)
        .service(update_staff);
}

/// A new staff account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "email": "sam@shop.example", "password": "a long staff password", "name": "Sam Support", "role": "support"
}))]
pub struct NewStaff {
    /// Sign-in address; at most 254 characters once normalised (64 before the `@`).
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// 10 to 128 characters, not only spaces.
    #[schema(format = "password", min_length = 10, max_length = 128)]
    pub password: String,
    /// 1–100 characters once trimmed, no control characters, nothing sensitive.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// A staff role you hold yourself (not `customer`).
    pub role: Role,
}

/// A change of a staff account's role or status; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "fulfillment", "status": "active"}))]
pub struct StaffPatch {
    /// A staff role you hold yourself (not `customer`).
    pub role: Option<Role>,
    /// `active` or `disabled`; disabling revokes every session and API key of the account.
    pub status: Option<StaffStatus>,
}

/// What an admin can set a staff account to: `active` (can sign in) or `disabled` (no
/// sign-in, sessions and API keys revoked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffStatus {
    Active,
    Disabled,
}

impl StaffStatus {
    fn as_str(self) -> &'static str {
        match self {
            StaffStatus::Active => status::ACTIVE,
            StaffStatus::Disabled => status::DISABLED,
        }
    }
}

/// Refuses to grant `role` unless it is a staff role the granter holds.
fn check_grant(granter: Role, role: Role) -> Result<(), ApiError> {
    if role == Role::Customer {
        return Err(ApiError::validation(
            "role",
            "staff accounts need a staff role",
        ));
    }
    if !granter.includes(role) {
        return Err(ApiError::Forbidden(
            "You cannot grant a role you do not hold.",
        ));
    }
    Ok(())
}

/// A staff account.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a30",
    "email": "sam@shop.example",
    "name": "Sam Support",
    "phone": null,
    "role": "support",
    "created_at": "2026-11-25T15:00:00Z",
    "updated_at": "2026-11-26T09:30:00Z",
    "status": "active"
}))]
pub struct StaffView {
    #[serde(flatten)]
    pub user: UserView,
    /// `active`, `disabled`, or (for an account being closed) `erasure_pending`/`erased`.
    pub status: AccountStatus,
}

/// One page of staff accounts, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a30",
        "email": "sam@shop.example",
        "name": "Sam Support",
        "phone": null,
        "role": "support",
        "created_at": "2026-11-25T15:00:00Z",
        "updated_at": "2026-11-26T09:30:00Z",
        "status": "active"
    }],
    "next_cursor": null
}))]
pub struct StaffList {
    /// Up to `limit` staff accounts.
    pub data: Vec<StaffView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn view(
    conn: &mut DbConnection,
    crypto: &Crypto,
    row: &store::UserRow,
) -> Result<StaffView, ApiError> {
    let profile = store::open_profile(conn, crypto, row)?;
    let status = AccountStatus::parse(&profile.status).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "account {} has an unknown status {:?}",
            profile.id,
            profile.status
        ))
    })?;
    Ok(StaffView {
        user: UserView::from(profile),
        status,
    })
}

fn audit_read(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    subject: &str,
    action: crate::audit::Action,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        crypto,
        actor,
        &Event {
            action,
            subject_id: Some(subject),
            fields: &["email", "name", "phone"],
            purpose: crate::audit::Purpose::StaffAdministration,
        },
    )?;
    Ok(())
}

/// Creates a staff account and records it in the audit log (one transaction). Shared by the
/// API, `valise admin create` and the first-admin bootstrap.
pub fn create_account(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    email: &Email,
    name: &PersonName,
    password: &Password,
    role: Role,
) -> Result<store::UserRow, ApiError> {
    let password_hash = password.hash()?;
    crate::db::write_transaction(conn, |conn| {
        let row = store::create(
            conn,
            crypto,
            NewAccount {
                email,
                name,
                phone: None,
                password_hash,
                role,
                status: crate::auth::status::ACTIVE,
            },
        )?;
        audit_read(
            conn,
            crypto,
            actor,
            &row.id,
            crate::audit::Action::StaffCreate,
        )?;
        Ok(row)
    })
}

/// Creates the first admin from `VALISE_ADMIN_EMAIL`/`VALISE_ADMIN_PASSWORD` when no active
/// admin exists. Returns whether one was created.
pub fn bootstrap_admin(
    conn: &mut DbConnection,
    crypto: &Crypto,
    email: &str,
    password: &str,
) -> anyhow::Result<bool> {
    if store::count_active(conn, Role::Admin)? > 0 {
        return Ok(false);
    }
    let to_anyhow = |e: crate::invalid::Invalid| anyhow::anyhow!("VALISE_ADMIN_*: {e}: {e:?}");
    let email = Email::parse("VALISE_ADMIN_EMAIL", email).map_err(to_anyhow)?;
    let password =
        Password::parse("VALISE_ADMIN_PASSWORD", password.to_owned()).map_err(to_anyhow)?;
    let name = PersonName::parse("name", "Administrator").map_err(to_anyhow)?;
    match create_account(
        conn,
        crypto,
        &Actor::system(),
        &email,
        &name,
        &password,
        Role::Admin,
    ) {
        Ok(_) => Ok(true),
        // Another process created it first, or the email already has an account.
        Err(ApiError::Conflict(_) | ApiError::InvalidTransition(_)) => Ok(false),
        Err(e) => Err(anyhow::anyhow!("creating the first admin: {e}")),
    }
}

/// Sets a staff account's role and status, revokes what the change takes away (every
/// session and API key when it leaves `active`, keys above its role otherwise) and records
/// it in the audit log, in one transaction; returns the account as it now is. The granter
/// must hold the account's current role, and the last active admin stays one.
pub fn update_account(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    granter: Role,
    id: &str,
    patch: &StaffPatch,
) -> Result<StaffView, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let row = store::get(conn, id)?
            .filter(|r| r.role().is_staff())
            .ok_or(ApiError::NotFound)?;
        if !granter.includes(row.role()) {
            return Err(ApiError::Forbidden(
                "You cannot change an account whose role you do not hold.",
            ));
        }
        let role = patch.role.unwrap_or(row.role());
        let new_status = patch.status.map(StaffStatus::as_str).unwrap_or(&row.status);
        let stays_admin = role == Role::Admin && new_status == status::ACTIVE;
        if row.role() == Role::Admin
            && row.status == status::ACTIVE
            && !stays_admin
            && store::count_active(conn, Role::Admin)? <= 1
        {
            return Err(ApiError::conflict(
                "This is the last active admin; create another admin first.",
            ));
        }
        store::set_role_and_status(conn, id, role, new_status)?;
        if new_status != status::ACTIVE {
            auth_store::revoke_all(conn, id)?;
            auth_store::revoke_api_keys_of(conn, id)?;
        } else {
            auth_store::revoke_api_keys_above(conn, id, role)?;
        }
        audit_read(conn, crypto, actor, id, crate::audit::Action::StaffUpdate)?;
        let row = store::get(conn, id)?.ok_or(ApiError::NotFound)?;
        view(conn, crypto, &row)
    })
}

/// List staff accounts.
///
/// Staff are data subjects too: each account shown is recorded in the audit log.
#[utoipa::path(
    operation_id = "listStaff",
    tag = "staff",
    security(("bearer" = []), ("api_key" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of staff accounts", body = StaffList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins signed in with a session only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/staff")]
async fn list_staff(
    auth: Auth<min::Admin>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    auth.person()?;
    let page = query.into_inner().validate(LISTING)?;
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let body: StaffList = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let rows =
                    store::list_staff(conn, page.after.as_deref(), i64::from(page.limit) + 1)?;
                let (rows, next_cursor) = paginate(rows, &page, LISTING, |r| r.id.to_string());
                let mut data = Vec::with_capacity(rows.len());
                for row in &rows {
                    audit_read(
                        conn,
                        &crypto,
                        &actor,
                        &row.id,
                        crate::audit::Action::StaffRead,
                    )?;
                    data.push(view(conn, &crypto, row)?);
                }
                Ok::<_, ApiError>(StaffList { data, next_cursor })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(body))
}

/// Create a staff account.
///
/// You can only grant a role you hold yourself (an admin cannot create a privacy officer).
#[utoipa::path(
    operation_id = "createStaff",
    tag = "staff",
    security(("bearer" = []), ("api_key" = [])),
    request_body = NewStaff,
    responses(
        (status = 201, description = "Created", body = StaffView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins signed in with a session only, and only roles they hold", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An account with this email exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/staff")]
async fn create_staff(
    auth: Auth<min::Admin>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    body: Json<NewStaff>,
) -> Result<HttpResponse, ApiError> {
    auth.person()?;
    let body = body.into_inner();
    check_grant(auth.principal.role, body.role)?;
    let email = Email::parse("email", &body.email)?;
    let name = PersonName::parse("name", &body.name)?;
    let password = Password::parse("password", body.password)?;
    let role = body.role;
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let view = db
        .run(move |conn| {
            let row = create_account(conn, &crypto, &actor, &email, &name, &password, role)?;
            view(conn, &crypto, &row)
        })
        .await?;
    Ok(crate::http::created(&format!("/v1/admin/staff/{}", view.user.id)).json(view))
}

/// Change a staff account's role or status.
///
/// Both the account's current role and the new one must be roles you hold. Disabling an
/// account revokes its sessions and every API key it created at once; a demotion revokes
/// its keys of roles it no longer holds. The last active admin cannot be demoted or disabled.
#[utoipa::path(
    operation_id = "updateStaff",
    tag = "staff",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`usr_…` id of the staff account")),
    request_body = StaffPatch,
    responses(
        (status = 200, description = "Updated", body = StaffView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role you do not hold is involved, or an API key called", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such staff account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is the last active admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/staff/{id}")]
async fn update_staff(
    auth: Auth<min::Admin>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
    body: Json<StaffPatch>,
    principals: web::Data<PrincipalCache>,
) -> Result<HttpResponse, ApiError> {
    auth.person()?;
    let id = id.into_inner();
    let patch = body.into_inner();
    let granter = auth.principal.role;
    if let Some(role) = patch.role {
        check_grant(granter, role)?;
    }
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let view = db
        .run(move |conn| update_account(conn, &crypto, &actor, granter, &id, &patch))
        .await?;
    // A role taken away or an account disabled stops its tokens at once.
    principals.forget_all();
    Ok(HttpResponse::Ok().json(view))
}
