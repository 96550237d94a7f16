//! One extractor per minimum role: `Auth<min::Support>` admits support and every role that
//! includes it. Missing or invalid credentials → 401; valid but insufficient → 403.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};

use super::{store, Principal, PrincipalKind, Role, TokenKeys};
use crate::db::Db;
use crate::http::error::ApiError;

pub trait MinRole {
    const ROLE: Role;
}

/// Marker types naming the minimum role of a route.
pub mod min {
    use super::{MinRole, Role};

    macro_rules! marker {
        ($name:ident, $role:expr) => {
            #[derive(Debug)]
            pub struct $name;
            impl MinRole for $name {
                const ROLE: Role = $role;
            }
        };
    }

    marker!(Customer, Role::Customer);
    marker!(Support, Role::Support);
    marker!(Fulfillment, Role::Fulfillment);
    marker!(Manager, Role::Manager);
    marker!(Admin, Role::Admin);
    marker!(PrivacyOfficer, Role::PrivacyOfficer);
}

#[derive(Debug)]
pub struct Auth<M: MinRole> {
    pub principal: Principal,
    _role: PhantomData<M>,
}

impl<M: MinRole> Auth<M> {
    /// The calling person's account id; API keys do not act as a person → 403.
    pub fn user_id(&self) -> Result<&str, ApiError> {
        self.principal.user_id().ok_or(ApiError::Forbidden(
            "This route acts on a person's own data; API keys cannot use it.",
        ))
    }
}

const MISSING: &str = "Authentication required: send `Authorization: Bearer <access token>` \
                       or `X-Api-Key`.";
const INVALID: &str = "The credentials are invalid or expired.";

impl<M: MinRole + 'static> FromRequest for Auth<M> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let db = req.app_data::<web::Data<Db>>().cloned();
        let keys = req.app_data::<web::Data<TokenKeys>>().cloned();
        let api_key = req
            .headers()
            .get("x-api-key")
            .map(|v| v.to_str().map(str::to_owned));
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        Box::pin(async move {
            let (Some(db), Some(keys)) = (db, keys) else {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "auth state not configured"
                )));
            };
            let principal = match (api_key, bearer) {
                (Some(key), _) => {
                    let key = key.map_err(|_| ApiError::Unauthenticated(INVALID))?;
                    db.run(move |conn| {
                        store::principal_for_api_key(conn, &key).map_err(ApiError::from)
                    })
                    .await?
                    .ok_or(ApiError::Unauthenticated(INVALID))?
                }
                (None, Some(auth)) => {
                    let auth = auth.map_err(|_| ApiError::Unauthenticated(INVALID))?;
                    let token = auth
                        .strip_prefix("Bearer ")
                        .or_else(|| auth.strip_prefix("bearer "))
                        .ok_or(ApiError::Unauthenticated(INVALID))?
                        .trim()
                        .to_owned();
                    let claims = keys
                        .verify(&token)
                        .ok_or(ApiError::Unauthenticated(INVALID))?;
                    let user_id = claims.sub;
                    let role = db
                        .run(move |conn| {
                            store::active_role(conn, &user_id)
                                .map(|r| r.map(|r| (user_id, r)))
                                .map_err(ApiError::from)
                        })
                        .await?;
                    let (id, role) = role.ok_or(ApiError::Unauthenticated(INVALID))?;
                    Principal {
                        kind: PrincipalKind::User,
                        id,
                        role,
                    }
                }
                (None, None) => return Err(ApiError::Unauthenticated(MISSING)),
            };
            if !principal.role.includes(M::ROLE) {
                return Err(ApiError::Forbidden(
                    "Your role does not allow this operation.",
                ));
            }
            Ok(Self {
                principal,
                _role: PhantomData,
            })
        })
    }
}
