//! Limits on the writes anyone may make without an account: per client address and for all
//! clients together, so one client can neither flood a route nor make the shop's CPU (an
//! Argon2 hash per registration) or its outgoing mail (a code per guest request) work for
//! it without end.
//!
//! Each room names its limited routes and their [`Policy`] beside its handlers (a `LIMITS`
//! table of [`Rule`]s, gathered by `startup`); the same rules are enforced by [`Throttle`] and documented in the OpenAPI document (a 429 with its headers and the limits
//! in words), and a test checks that every write the document opens to guests is in it.
//! Quotas are generic cell rate algorithm buckets (`governor`): a quota of 10 per hour allows
//! 10 at once, then one every 6 minutes. They are kept in memory by each instance, so N
//! instances together allow N times the global quota; the limits that guard secrets (login
//! attempts, guest codes, codes per mailbox) are counted in the database, shared by all.

use std::future::{ready, Ready};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use actix_web::{web, Error, ResponseError};
use futures_util::future::Either;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::RateLimiter;

use super::client_ip::{limit_key, TrustedProxies};
use super::error::{ApiError, RateLimit};
use super::route_table::RouteTable;

/// So many requests per period: that many at once, then one every `per / requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub requests: u32,
    pub per: Duration,
}

impl Quota {
    pub const fn per_minute(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(60),
        }
    }

    pub const fn per_hour(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(3600),
        }
    }

    /// In words, for the OpenAPI document: "10 per hour".
    fn describe(self) -> String {
        let unit = match self.per.as_secs() {
            60 => "minute".to_owned(),
            3600 => "hour".to_owned(),
            s => format!("{s} seconds"),
        };
        format!("{} per {unit}", self.requests)
    }
}

/// What one kind of anonymous write may do.
#[derive(Debug)]
pub struct Policy {
    /// Names the policy in `RateLimit-Policy` and in the document.
    pub name: &'static str,
    /// Per client address (an IPv6 client by its /64); `None` where a limit counted in the
    /// room already does this per client (analytics, in memory).
    pub client: Option<Quota>,
    /// For every client of this instance together.
    pub global: Quota,
}

/// A limited route: method, template as in the OpenAPI document, policy. Each room declares
/// its own next to its handlers (`LIMITS`); `startup` gathers them.
pub type Rule = (Method, &'static str, &'static Policy);

/// The policy of a route, in words: what the OpenAPI document says of it.
pub fn describe(policy: &Policy) -> String {
    match policy.client {
        Some(client) => format!(
            "Limited (`{}`) to {} per client address and {} for all clients together \
             (per instance); over it: 429 with `Retry-After`, `RateLimit` and \
             `RateLimit-Policy`.",
            policy.name,
            client.describe(),
            policy.global.describe()
        ),
        None => format!(
            "Limited (`{}`) to {} for all clients together (per instance); over it: 429 \
             with `Retry-After`, `RateLimit` and `RateLimit-Policy`.",
            policy.name,
            policy.global.describe()
        ),
    }
}

type KeyedLimiter =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;
type DirectLimiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

struct Enforced {
    policy: &'static Policy,
    client: Option<(Quota, KeyedLimiter)>,
    global: (Quota, DirectLimiter),
}

/// The limiters of one instance, shared by its workers.
pub struct Limits {
    /// By route (position in the route table), the policies per method.
    by_route: Vec<Vec<(Method, usize)>>,
    enforced: Vec<Enforced>,
    clock: DefaultClock,
}

/// A quota multiplied by `scale`, as governor takes it.
fn scaled(quota: Quota, scale: u32) -> (Quota, governor::Quota) {
    let requests = quota.requests.saturating_mul(scale).max(1);
    let burst = NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN);
    let every = (quota.per / requests).max(Duration::from_nanos(1));
    let cells = governor::Quota::with_period(every)
        .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst);
    (
        Quota {
            requests,
            per: quota.per,
        },
        cells,
    )
}

impl Limits {
    /// The limits of `rules` for `routes`, each quota multiplied by `scale` (1 in
    /// production; load tests from one address raise it). Routes that share a policy (by
    /// name) share its buckets.
    pub fn new<'a>(
        routes: &RouteTable,
        rules: impl IntoIterator<Item = &'a Rule>,
        scale: u32,
    ) -> anyhow::Result<Self> {
        let mut by_route = vec![Vec::new(); routes.len()];
        let mut enforced: Vec<Enforced> = Vec::new();
        for (method, template, policy) in rules {
            let route = routes
                .route_of(&example_path(template))
                .filter(|r| routes.template_of(*r) == *template)
                .ok_or_else(|| anyhow::anyhow!("limits: no route {template}"))?;
            let index = match enforced.iter().position(|e| e.policy.name == policy.name) {
                Some(index) => index,
                None => {
                    let client = policy.client.map(|q| {
                        let (quota, cells) = scaled(q, scale);
                        (quota, RateLimiter::keyed(cells).with_middleware())
                    });
                    let (quota, cells) = scaled(policy.global, scale);
                    enforced.push(Enforced {
                        policy,
                        client,
                        global: (quota, RateLimiter::direct(cells).with_middleware()),
                    });
                    enforced.len() - 1
                }
            };
            if let Some(methods) = by_route.get_mut(route.index()) {
                methods.push((method.clone(), index));
            }
        }
        Ok(Self {
            by_route,
            enforced,
            clock: DefaultClock::default(),
        })
    }

    /// Counts a request to `route` from `client`: `Err` with the state to answer (429)
    /// when over a quota. The client's quota is asked first, so a client over its own
    /// does not use up everyone's.
    fn check(&self, route: usize, method: &Method, client: IpAddr) -> Result<(), RateLimit> {
        let Some((_, index)) = self
            .by_route
            .get(route)
            .and_then(|methods| methods.iter().find(|(m, _)| m == method))
        else {
            return Ok(());
        };
        let Some(enforced) = self.enforced.get(*index) else {
            return Ok(());
        };
        let name = enforced.policy.name;
        if let Some((quota, limiter)) = &enforced.client {
            limiter
                .check_key(&limit_key(client))
                .map_err(|refusal| self.refused(name, *quota, refusal))?;
        }
        let (quota, limiter) = &enforced.global;
        limiter
            .check()
            .map_err(|refusal| self.refused(name, *quota, refusal))?;
        Ok(())
    }

    fn refused(
        &self,
        policy: &'static str,
        quota: Quota,
        refusal: governor::NotUntil<<DefaultClock as Clock>::Instant>,
    ) -> RateLimit {
        let wait = refusal.wait_time_from(self.clock.now());
        let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        RateLimit {
            limit: quota.requests,
            remaining: 0,
            reset_secs: retry_after,
            retry_after_secs: retry_after.max(1),
            policy: Some((policy, quota.per.as_secs())),
        }
    }

    /// Forgets the clients whose buckets are full again (they would be created anew as
    /// they were), so the memory follows the clients of the last period, not of all time.
    pub fn sweep(&self) {
        for enforced in &self.enforced {
            if let Some((_, limiter)) = &enforced.client {
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        }
    }
}

/// A path the template matches, to find the template's route: each `{param}` becomes `x`.
fn example_path(template: &str) -> String {
    let mut path = String::with_capacity(template.len());
    let mut in_param = false;
    for c in template.chars() {
        match c {
            '{' => {
                in_param = true;
                path.push('x');
            }
            '}' => in_param = false,
            c if !in_param => path.push(c),
            _ => {}
        }
    }
    path
}

/// Sweeps the limiters once a minute.
pub fn spawn_sweeper(limits: web::Data<Limits>) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.sweep();
        }
    })
}

/// Middleware: answers 429 before anything else runs (authentication, the body, a handler)
/// when a limited route's quota is spent. Reads cost nothing: only writes are looked up.
pub struct Throttle {
    limits: web::Data<Limits>,
    routes: web::Data<RouteTable>,
    proxies: web::Data<TrustedProxies>,
}

impl Throttle {
    pub fn new(
        limits: web::Data<Limits>,
        routes: web::Data<RouteTable>,
        proxies: web::Data<TrustedProxies>,
    ) -> Self {
        Self {
            limits,
            routes,
            proxies,
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Throttle
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = ThrottleService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ThrottleService {
            service,
            limits: self.limits.clone(),
            routes: self.routes.clone(),
            proxies: self.proxies.clone(),
        }))
    }
}

pub struct ThrottleService<S> {
    service: S,
    limits: web::Data<Limits>,
    routes: web::Data<RouteTable>,
    proxies: web::Data<TrustedProxies>,
}

impl<S, B> Service<ServiceRequest> for ThrottleService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Either<
        futures_util::future::MapOk<
            S::Future,
            fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>,
        >,
        Ready<Result<Self::Response, Error>>,
    >;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        use futures_util::TryFutureExt;
        let pass = |service: &S, req| {
            Either::Left(
                service
                    .call(req)
                    .map_ok(ServiceResponse::map_into_left_body as fn(_) -> _),
            )
        };
        if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            return pass(&self.service, req);
        }
        let Some(route) = self.routes.route_of(req.path()) else {
            return pass(&self.service, req);
        };
        let client = self
            .proxies
            .client(req.peer_addr().map(|a| a.ip()), req.headers())
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        match self.limits.check(route.index(), req.method(), client) {
            Ok(()) => pass(&self.service, req),
            Err(state) => {
                let response = ApiError::RateLimited(state).error_response();
                Either::Right(ready(Ok(req.into_response(response).map_into_right_body())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_paths_they_match() {
        assert_eq!(
            example_path("/v1/carts/{id}/items/{variant_id}"),
            "/v1/carts/x/items/x"
        );
        assert_eq!(example_path("/v1/auth/login"), "/v1/auth/login");
    }

    #[test]
    fn a_scaled_quota_allows_its_burst_then_refuses() {
        let (quota, cells) = scaled(Quota::per_hour(3), 2);
        assert_eq!(quota.requests, 6);
        let limiter: DirectLimiter = RateLimiter::direct(cells).with_middleware();
        for _ in 0..6 {
            assert!(limiter.check().is_ok());
        }
        assert!(limiter.check().is_err());
    }

    #[test]
    fn every_policy_is_described_with_its_numbers() {
        let per_client = Policy {
            name: "per-client",
            client: Some(Quota::per_hour(10)),
            global: Quota::per_minute(300),
        };
        let words = describe(&per_client);
        assert!(
            words.contains("10 per hour") && words.contains("300 per minute"),
            "{words}"
        );
        let shared = Policy {
            name: "shared",
            client: None,
            global: Quota::per_minute(600),
        };
        assert!(describe(&shared).contains("for all clients together"));
    }
}
