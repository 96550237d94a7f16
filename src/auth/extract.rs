//! One extractor per minimum role: `Auth<min::Support>` admits support and every role that
//! includes it. Missing or invalid credentials → 401; valid but insufficient → 403.

use std::future::{ready, Ready};
use std::marker::PhantomData;
use std::rc::Rc;

use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{Either, LocalBoxFuture};

use super::principals::{Generation, PrincipalCache};
use super::{store, Principal, PrincipalKind, Role, TokenKeys};
use crate::db::Db;
use crate::http::error::ApiError;
use crate::versions::Versions;

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

/// Why a route that acts on a person's own data refuses an API key.
const NOT_A_PERSON: &str = "This route acts on a person's own data; API keys cannot use it.";

impl<M: MinRole> Auth<M> {
    /// The calling person's account id; API keys do not act as a person → 403.
    pub fn user_id(&self) -> Result<&str, ApiError> {
        self.principal
            .user_id()
            .ok_or(ApiError::Forbidden(NOT_A_PERSON))
    }

    /// [`Self::user_id`], typed.
    pub fn account(&self) -> Result<crate::ids::UserId, ApiError> {
        self.principal
            .account()
            .ok_or(ApiError::Forbidden(NOT_A_PERSON))
    }

    /// The signed-in person making an act that only people make (managing staff and API
    /// keys): an API key → 403, so a leaked key can neither mint keys nor staff.
    pub fn person(&self) -> Result<&str, ApiError> {
        self.principal.user_id().ok_or(ApiError::Forbidden(
            "Staff accounts and API keys are managed by a person signed in with a session; \
             API keys cannot manage them.",
        ))
    }
}

const MISSING: &str = "Authentication required: send `Authorization: Bearer <access token>` \
                       or `X-Api-Key`.";
const INVALID: &str = "The credentials are invalid or expired.";

/// A const name: looking a header up by `&str` builds (and, for a custom name, allocates) a
/// `HeaderName` on every request.
pub const API_KEY: header::HeaderName = header::HeaderName::from_static("x-api-key");

/// The outcome of authenticating a request's credentials, stored in its extensions by
/// [`Authenticate`]. Absent when the request carried none.
#[derive(Debug, Clone)]
struct Authenticated(Result<Principal, ()>);

/// Middleware: resolves the credentials of every request that carries some, before any
/// extractor runs. The role check in [`Auth`] is then immediate, so a caller without the
/// right gets 401/403 before the body is even looked at (no validation oracle).
///
/// A plain `Transform` rather than `middleware::from_fn`: a guest's request (most of the
/// catalogue traffic) goes straight to the inner service, without boxing its future.
pub struct Authenticate;

impl<S, B> Transform<S, ServiceRequest> for Authenticate
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = AuthenticateService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthenticateService {
            service: Rc::new(service),
        }))
    }
}

pub struct AuthenticateService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for AuthenticateService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Either<S::Future, LocalBoxFuture<'static, Result<Self::Response, Self::Error>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let api_key = req
            .headers()
            .get(&API_KEY)
            .map(|v| v.to_str().map(str::to_owned));
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        if api_key.is_none() && bearer.is_none() {
            return Either::Left(self.service.call(req));
        }
        let service = Rc::clone(&self.service);
        Either::Right(Box::pin(async move {
            let db = req.app_data::<web::Data<Db>>().cloned();
            let keys = req.app_data::<web::Data<TokenKeys>>().cloned();
            let cache = req.app_data::<web::Data<PrincipalCache>>().cloned();
            let versions = req.app_data::<web::Data<Versions>>().cloned();
            let (Some(db), Some(keys), Some(cache), Some(versions)) = (db, keys, cache, versions)
            else {
                return Err(
                    ApiError::Internal(anyhow::anyhow!("auth state not configured")).into(),
                );
            };
            let known = Known {
                cache: &cache,
                versions: &versions,
            };
            let outcome = resolve(&db, &keys, known, api_key, bearer).await?;
            req.extensions_mut().insert(Authenticated(outcome));
            service.call(req).await
        }))
    }
}

/// What this process remembers of accounts, and the version that says whether it still may.
#[derive(Clone, Copy)]
struct Known<'a> {
    cache: &'a PrincipalCache,
    versions: &'a Versions,
}

impl Known<'_> {
    fn generation(&self) -> Generation {
        self.cache.generation(self.versions.principals())
    }
}

async fn resolve(
    db: &Db,
    keys: &TokenKeys,
    known: Known<'_>,
    api_key: Option<Result<String, header::ToStrError>>,
    bearer: Option<Result<String, header::ToStrError>>,
) -> Result<Result<Principal, ()>, ApiError> {
    if let Some(key) = api_key {
        let Ok(key) = key else { return Ok(Err(())) };
        let principal = db
            .run(move |conn| store::principal_for_api_key(conn, &key).map_err(ApiError::from))
            .await?;
        return Ok(principal.ok_or(()));
    }
    let Some(Ok(auth)) = bearer else {
        return Ok(Err(()));
    };
    let Some(token) = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
    else {
        return Ok(Err(()));
    };
    let Some(claims) = keys.verify(token.trim()) else {
        return Ok(Err(()));
    };
    let user_id = claims.sub;
    let began = known.generation();
    let role = match known.cache.get(began, &user_id) {
        Some(admission) => Some(admission),
        None => {
            let role = db
                .run({
                    let user_id = user_id.clone();
                    move |conn| store::token_role(conn, &user_id).map_err(ApiError::from)
                })
                .await?;
            if let Some(admission) = role {
                known
                    .cache
                    .put(began, known.generation(), &user_id, admission);
            }
            role
        }
    };
    Ok(role
        .map(|(role, erasure_pending)| Principal {
            kind: PrincipalKind::User,
            id: user_id,
            role,
            erasure_pending,
        })
        .ok_or(()))
}

const ERASURE_PENDING: &str = "This account is being erased: only its data-subject requests \
     (GET /v1/me/requests, POST /v1/me/requests/{id}/cancel) can still be reached.";

fn authorize<M: MinRole>(
    req: &HttpRequest,
    allow_erasure_pending: bool,
) -> Result<Principal, ApiError> {
    match req.extensions().get::<Authenticated>().cloned() {
        None => Err(ApiError::Unauthenticated(MISSING)),
        Some(Authenticated(Err(()))) => Err(ApiError::Unauthenticated(INVALID)),
        Some(Authenticated(Ok(p))) if p.erasure_pending && !allow_erasure_pending => {
            Err(ApiError::Forbidden(ERASURE_PENDING))
        }
        Some(Authenticated(Ok(p))) if p.role.includes(M::ROLE) => Ok(p),
        Some(Authenticated(Ok(_))) => Err(ApiError::Forbidden(
            "Your role does not allow this operation.",
        )),
    }
}

impl<M: MinRole> FromRequest for Auth<M> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize::<M>(req, false).map(|principal| Self {
            principal,
            _role: PhantomData,
        }))
    }
}

/// A customer following their own data-subject requests: like `Auth<min::Customer>`, but
/// also accepted while the account's erasure is pending, so it can still be cancelled.
#[derive(Debug, Clone)]
pub struct DataSubject(pub Principal);

impl DataSubject {
    pub fn user_id(&self) -> Result<&str, ApiError> {
        self.0.user_id().ok_or(ApiError::Forbidden(NOT_A_PERSON))
    }

    /// [`Self::user_id`], typed.
    pub fn account(&self) -> Result<crate::ids::UserId, ApiError> {
        self.0.account().ok_or(ApiError::Forbidden(NOT_A_PERSON))
    }
}

impl FromRequest for DataSubject {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize::<min::Customer>(req, true).map(DataSubject))
    }
}

/// The caller if credentials were sent (and valid), or nobody: for routes open to guests
/// that behave differently for customers (carts, orders). Invalid credentials are a 401,
/// never silently a guest.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let outcome = req.extensions().get::<Authenticated>().cloned();
        ready(match outcome {
            None => Ok(Caller(None)),
            Some(Authenticated(Ok(p))) if p.erasure_pending => {
                Err(ApiError::Forbidden(ERASURE_PENDING))
            }
            Some(Authenticated(Ok(principal))) => Ok(Caller(Some(principal))),
            Some(Authenticated(Err(()))) => Err(ApiError::Unauthenticated(INVALID)),
        })
    }
}

impl Caller {
    /// The calling person's account id, if a person is calling.
    pub fn user_id(&self) -> Option<&str> {
        self.0.as_ref().and_then(Principal::user_id)
    }

    /// The calling person's account, typed, if a person is calling.
    pub fn account(&self) -> Option<crate::ids::UserId> {
        self.0.as_ref().and_then(Principal::account)
    }
}
