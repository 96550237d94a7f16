//! The outermost middleware: request id, access log, the request's span, and the headers
//! every response carries.
//!
//! The access log and the span name the route's template (`/v1/orders/{number}`), never the
//! concrete path: paths hold order numbers, tokens and other ids that point at a person.
//! Requests that match no route are named [`UNMATCHED_ROUTE`].
//!
//! It also guarantees the error contract: any 4xx/5xx response that is not already a problem
//! document (the framework's own 405, a CORS rejection, …) is replaced by one.

use std::cell::RefCell;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{self, ready, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, Error, HttpResponse};
use futures_util::future::Either;
use tokio::task::futures::TaskLocalFuture;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::error::{problem_response, slug_for, ApiError, PROBLEM_CONTENT_TYPE};
use super::request_id::{current_request_id, new_request_id, CURRENT_REQUEST_ID, REQUEST_ID};
use super::route_table::{RouteId, RouteTable};
use crate::metrics::{self, Metrics, RequestSeries, UNMATCHED_ROUTE};
use crate::versions::Versions;

pub const POLICY_VERSION: HeaderName = HeaderName::from_static("x-policy-version");

/// The log target of the access log (one line per request).
const ACCESS_LOG: &str = "valise::access";

/// The target of the requests' spans (exported when traces are on).
const REQUEST_SPANS: &str = "valise::http";

/// The id a client sent in `X-Request-Id`, when it is short and plain (so it cannot inject
/// into logs). It is never the request's id — what the audit chain, the problem documents
/// and the response's `X-Request-Id` carry is always the server's own — and appears only
/// as the access log's labelled `client_rid`, for a client to find its request.
fn client_request_id(req: &ServiceRequest) -> Option<HeaderValue> {
    req.headers()
        .get(&REQUEST_ID)
        .filter(|v| {
            let id = v.as_bytes();
            !id.is_empty()
                && id.len() <= 128
                && id
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        })
        .cloned()
}

/// The outermost middleware (see the module documentation).
///
/// A plain `Transform` with a named future rather than `middleware::from_fn`, which boxes
/// both the middleware's future and the inner service: this runs on every request. It is
/// given what it reports to when the app is built, rather than looking it up in the app
/// data of each request, and each worker keeps the metric series it has used.
#[derive(Clone, Default)]
pub struct RequestContext {
    metrics: Option<(web::Data<Metrics>, web::Data<RouteTable>)>,
    versions: Option<web::Data<Versions>>,
}

impl RequestContext {
    /// Request ids, the access log and the problem contract, nothing else.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts every request in `metrics`, labelled with its template from `routes`.
    pub fn with_metrics(
        mut self,
        metrics: web::Data<Metrics>,
        routes: web::Data<RouteTable>,
    ) -> Self {
        self.metrics = Some((metrics, routes));
        self
    }

    /// Stamps `X-Policy-Version` on every response.
    pub fn with_versions(mut self, versions: web::Data<Versions>) -> Self {
        self.versions = Some(versions);
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestContext
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = RequestContextService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        // Called once per worker: what follows is that worker's own.
        let worker = Worker {
            metrics: self
                .metrics
                .clone()
                .map(|(metrics, routes)| WorkerMetrics::new(metrics, routes)),
            versions: self.versions.clone(),
        };
        ready(Ok(RequestContextService {
            service,
            worker: Rc::new(worker),
        }))
    }
}

pub struct RequestContextService<S> {
    service: S,
    worker: Rc<Worker>,
}

/// What one worker's middleware reports to.
struct Worker {
    metrics: Option<WorkerMetrics>,
    versions: Option<web::Data<Versions>>,
}

impl Worker {
    /// The template of `route`, or [`UNMATCHED_ROUTE`].
    fn template(&self, route: Option<RouteId>) -> &str {
        match (&self.metrics, route) {
            (Some(metrics), Some(route)) => metrics.routes.template_of(route),
            _ => UNMATCHED_ROUTE,
        }
    }
}

/// The request metrics as one worker sees them: the series it has used so far, by route and
/// then by method and status, so a request costs an index and a short scan in memory no
/// other thread touches rather than two lookups in the registry's map (each hashing the
/// three labels under a lock every worker takes).
struct WorkerMetrics {
    metrics: web::Data<Metrics>,
    routes: web::Data<RouteTable>,
    /// Per route (by [`RouteId::index`]; the last slot for requests matching no route), by
    /// method label (unusual methods share one, so a client cannot grow this) and status.
    series: RefCell<Vec<Vec<KnownSeries>>>,
}

/// A series a worker has used: its method label, its status, and the series.
type KnownSeries = (&'static str, StatusCode, RequestSeries);

impl WorkerMetrics {
    fn new(metrics: web::Data<Metrics>, routes: web::Data<RouteTable>) -> Self {
        let slots = routes.len() + 1;
        Self {
            metrics,
            routes,
            series: RefCell::new(vec![Vec::new(); slots]),
        }
    }

    /// `method` is the method's label ([`metrics::method_label`]).
    fn observe(
        &self,
        method: &'static str,
        route: Option<RouteId>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let mut series = self.series.borrow_mut();
        let slot = route.map_or(self.routes.len(), RouteId::index);
        let Some(known) = series.get_mut(slot) else {
            return;
        };
        match known.iter().find(|(m, s, _)| *m == method && *s == status) {
            Some((_, _, found)) => found.observe(elapsed),
            None => {
                let template = route.map(|route| self.routes.template_of(route));
                let found = self.metrics.request_series(method, template, status);
                found.observe(elapsed);
                known.push((method, status, found));
            }
        }
    }
}

impl<S, B> Service<ServiceRequest> for RequestContextService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Future = RequestContextFuture<Either<S::Future, Ready<Result<ServiceResponse<B>, Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let request_id = new_request_id();
        // The route template (`/v1/orders/{number}`), never the concrete path: paths hold ids.
        let route = self
            .worker
            .metrics
            .as_ref()
            .and_then(|metrics| metrics.routes.route_of(req.path()));
        let template = self.worker.template(route);
        // Unusual methods share one label, as in the metrics: a client cannot fill the log
        // or the trace store with methods of its own.
        let method = metrics::method_label(req.method());
        // The client's own request id, when the access log is on.
        let logged = tracing::enabled!(target: ACCESS_LOG, tracing::Level::INFO)
            .then(|| client_request_id(&req));
        // Disabled (and free) unless traces are exported; its fields are only computed then.
        let span = tracing::info_span!(
            target: REQUEST_SPANS,
            "request",
            otel.name = %format_args!("{method} {template}"),
            otel.kind = "server",
            otel.status_code = Empty,
            http.request.method = method,
            http.route = template,
            http.response.status_code = Empty,
            valise.request_id = request_id.to_str().unwrap_or_default(),
        );
        if !span.is_disabled() {
            if let Some(caller) = crate::telemetry::caller_span(req.headers()) {
                span.add_link(caller);
            }
        }
        let context = Context {
            started,
            method,
            logged,
            worker: Rc::clone(&self.worker),
            route,
            request_id: request_id.clone(),
        };
        // The id is visible to everything the request runs: the inner services' `call`
        // here, and every poll of their future.
        let inner = span.in_scope(|| {
            CURRENT_REQUEST_ID.sync_scope(request_id.clone(), || {
                if names_nul(req.path()) {
                    Either::Right(ready(Err(ApiError::NotFound.into())))
                } else {
                    Either::Left(self.service.call(req))
                }
            })
        });
        RequestContextFuture {
            inner: CURRENT_REQUEST_ID.scope(request_id, inner),
            context: Some(context),
            span,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct RequestContextFuture<F> {
        #[pin]
        inner: TaskLocalFuture<HeaderValue, F>,
        context: Option<Context>,
        // Entered at every poll: the handler's database work and logs are its children.
        span: tracing::Span,
    }
}

impl<F, B> Future for RequestContextFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody + 'static,
{
    type Output = Result<ServiceResponse<BoxBody>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let outcome = ready!(this.inner.poll(cx));
        match this.context.take() {
            Some(context) => Poll::Ready(context.finish(outcome, this.span)),
            // Polled again after it completed: a caller's bug, answered without panicking.
            None => Poll::Ready(Err(actix_web::error::ErrorInternalServerError(
                "request context polled after completion",
            ))),
        }
    }
}

/// What the middleware keeps about a request while it is served.
struct Context {
    started: Instant,
    /// The method's label (`OTHER` for unusual ones).
    method: &'static str,
    /// When the access log is on: the client's own request id, if it sent a usable one.
    logged: Option<Option<HeaderValue>>,
    worker: Rc<Worker>,
    route: Option<RouteId>,
    request_id: HeaderValue,
}

/// A request's outcome as the middleware hands it on.
enum Outcome {
    Served(ServiceResponse<BoxBody>),
    /// An error that no inner layer turned into a response, and the problem answering it.
    Failed(HttpResponse, Error),
}

impl Context {
    fn finish<B: MessageBody + 'static>(
        self,
        outcome: Result<ServiceResponse<B>, Error>,
        span: &tracing::Span,
    ) -> Result<ServiceResponse<BoxBody>, Error> {
        let outcome = match outcome {
            Ok(res) if !is_error(res.status()) => Outcome::Served(res.map_into_boxed_body()),
            // Problem documents carry the request id: build them in its scope.
            Ok(res) => CURRENT_REQUEST_ID.sync_scope(self.request_id.clone(), || {
                let (req, response) = res.map_into_boxed_body().into_parts();
                Outcome::Served(ServiceResponse::new(req, ensure_problem(response)))
            }),
            // Rare. Keep the error for actix, but give it the same problem body.
            Err(err) => CURRENT_REQUEST_ID.sync_scope(self.request_id.clone(), || {
                Outcome::Failed(ensure_problem(err.error_response()), err)
            }),
        };
        // Read after the handler, so a publish answers with the version it made current.
        let policy_version = self.worker.versions.as_ref().map(|v| v.policy());
        let status = match &outcome {
            Outcome::Served(res) => res.status(),
            Outcome::Failed(response, _) => response.status(),
        };
        let elapsed = self.started.elapsed();
        if let Some(metrics) = &self.worker.metrics {
            metrics.observe(self.method, self.route, status, elapsed);
        }
        // An i64: the OpenTelemetry bridge records unsigned numbers as text.
        span.record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() {
            span.record("otel.status_code", "error");
        }
        if let Some(client_rid) = self.logged {
            // Displayed rather than quoted in text lines; strings either way in JSON.
            let client_rid = client_rid.as_ref().and_then(|id| id.to_str().ok());
            tracing::info!(
                target: ACCESS_LOG,
                method = %self.method,
                route = %self.worker.template(self.route),
                status = status.as_u16(),
                latency_ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0,
                rid = %self.request_id.to_str().unwrap_or_default(),
                client_rid = client_rid.map(tracing::field::display),
                "request",
            );
        }
        match outcome {
            Outcome::Served(mut res) => {
                decorate(res.headers_mut(), self.request_id, policy_version);
                Ok(res)
            }
            Outcome::Failed(mut response, err) => {
                decorate(response.headers_mut(), self.request_id, policy_version);
                Err(InternalError::from_response(err, response).into())
            }
        }
    }
}

/// Whether a raw path holds `%00`. No resource is named with U+0000 (and PostgreSQL refuses
/// it in text, so a path parameter holding it would fail its query): such a path names
/// nothing, a 404 before any route runs.
fn names_nul(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| w == b"%00")
}

fn is_error(status: StatusCode) -> bool {
    status.is_client_error() || status.is_server_error()
}

/// Headers every response carries.
fn decorate(headers: &mut HeaderMap, request_id: HeaderValue, policy_version: Option<i32>) {
    headers.insert(REQUEST_ID, request_id);
    if let Some(version) = policy_version {
        headers.insert(POLICY_VERSION, policy_header(version));
    }
    // Safe by default: only handlers that serve public data opt in to caching.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The `X-Policy-Version` value: formatting the number allocates, and it changes only when
/// a policy is published, so each worker keeps the last one.
fn policy_header(version: i32) -> HeaderValue {
    thread_local! {
        static LAST: RefCell<(i32, HeaderValue)> = RefCell::new((0, HeaderValue::from(0)));
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != version {
            *last = (version, HeaderValue::from(version));
        }
        last.1.clone()
    })
}

/// Replaces a bare error response with a problem document of the same status.
fn ensure_problem(response: HttpResponse<BoxBody>) -> HttpResponse<BoxBody> {
    let status = response.status();
    if !is_error(status) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(PROBLEM_CONTENT_TYPE.as_bytes()));
    if is_problem {
        return response;
    }
    if status.is_server_error() {
        if let Some(err) = response.error() {
            if err.as_error::<ApiError>().is_none() {
                tracing::error!(
                    "request {} failed: {err}",
                    current_request_id().unwrap_or_default()
                );
            }
        }
    }
    let detail = match status.as_u16() {
        s if s >= 500 => {
            "An unexpected error occurred; it has been logged with the request id.".to_owned()
        }
        _ => status
            .canonical_reason()
            .unwrap_or("The request was refused")
            .to_owned(),
    };
    let mut problem = problem_response(status, slug_for(status), detail, None);
    // Keep what outer layers added (CORS, Allow, Retry-After); only the body changes.
    for (name, value) in response.headers() {
        if ![
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
        ]
        .contains(name)
        {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;
    use utoipa::openapi::OpenApiBuilder;

    #[test]
    fn a_worker_keeps_one_series_per_method_label_route_and_status() {
        let metrics = web::Data::new(Metrics::new(Vec::new()).unwrap());
        let spec = OpenApiBuilder::new().build();
        let routes =
            web::Data::new(RouteTable::from_spec(&spec, &[("/v1/things/{id}", &["GET"])]).unwrap());
        let worker = WorkerMetrics::new(metrics.clone(), routes.clone());
        let route = routes.route_of("/v1/things/1");
        let thing = route.unwrap().index();
        let ms = Duration::from_millis(1);
        for method in ["BREW", "WHEN", "FOO"] {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let method = metrics::method_label(&method);
            worker.observe(method, route, StatusCode::METHOD_NOT_ALLOWED, ms);
        }
        worker.observe("GET", route, StatusCode::OK, ms);
        worker.observe("GET", route, StatusCode::OK, ms);
        worker.observe("GET", route, StatusCode::NOT_FOUND, ms);
        worker.observe("GET", None, StatusCode::NOT_FOUND, ms);

        let series = worker.series.borrow();
        // OTHER 405 (unusual methods share it), GET 200, GET 404.
        assert_eq!(series[thing].len(), 3);
        assert_eq!(series[routes.len()].len(), 1);
        let text = String::from_utf8(metrics.render().unwrap()).unwrap();
        for sample in [
            r#"valise_http_requests_total{method="OTHER",route="/v1/things/{id}",status="405"} 3"#,
            r#"valise_http_requests_total{method="GET",route="/v1/things/{id}",status="200"} 2"#,
            r#"valise_http_requests_total{method="GET",route="/v1/things/{id}",status="404"} 1"#,
            r#"valise_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
            r#"valise_http_request_duration_seconds_count{method="GET",route="/v1/things/{id}",status="200"} 2"#,
        ] {
            assert!(text.contains(sample), "{sample} missing from:\n{text}");
        }
    }
}
