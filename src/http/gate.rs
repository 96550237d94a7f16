//! Middleware applied only to the requests it can act on.
//!
//! actix-cors and actix-web's `Compress` run their full machinery on every request, even
//! when the outcome is known from the request alone: without an `Origin` header no CORS
//! header is due (browsers send `Origin` on every cross-origin request, preflights
//! included), and without `Accept-Encoding` the body goes out as it is. Yet CORS boxes the
//! inner future and stamps its headers on the response, and `Compress` parses the
//! response's content type and wraps its body. On a cached catalogue read that was about a
//! tenth of the server's CPU time per request (BENCHMARKS.md). [`Only`] sends such requests
//! straight to the inner service; what the middleware would still have added that matters
//! (CORS's `Vary`, for shared caches) is added by a plain function.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::Error;
use futures_util::future::LocalBoxFuture;

/// `middleware` for the requests `applies` selects; the others bypass it, and their
/// response goes through `bypassed`.
pub struct Only<T> {
    middleware: T,
    applies: fn(&ServiceRequest) -> bool,
    bypassed: fn(&mut HeaderMap),
}

impl<T> Only<T> {
    pub fn new(middleware: T, applies: fn(&ServiceRequest) -> bool) -> Self {
        Self {
            middleware,
            applies,
            bypassed: |_| {},
        }
    }

    /// Adjusts the headers of the responses to the requests that bypassed the middleware.
    pub fn otherwise(self, bypassed: fn(&mut HeaderMap)) -> Self {
        Self { bypassed, ..self }
    }
}

/// CORS for the requests that carry an `Origin`.
pub fn cors(cors: actix_cors::Cors) -> Only<actix_cors::Cors> {
    Only::new(cors, |req| req.headers().contains_key(header::ORIGIN)).otherwise(vary_on_origin)
}

/// Compression for the requests that say what they accept.
pub fn compress(
    compress: actix_web::middleware::Compress,
) -> Only<actix_web::middleware::Compress> {
    Only::new(compress, |req| {
        req.headers().contains_key(header::ACCEPT_ENCODING)
    })
}

/// The `Vary` actix-cors puts on every response: a response to a request without `Origin`
/// must not be served from a shared cache to one with it (which would miss its CORS
/// headers).
fn vary_on_origin(headers: &mut HeaderMap) {
    headers.append(
        header::VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    );
}

/// The inner service, shared by the middleware and the bypass.
pub struct Shared<S>(Rc<S>);

impl<S: Service<R>, R> Service<R> for Shared<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&self, req: R) -> Self::Future {
        self.0.call(req)
    }
}

impl<S, B, T, BM> Transform<S, ServiceRequest> for Only<T>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    T: Transform<Shared<S>, ServiceRequest, Response = ServiceResponse<BM>, Error = Error>,
    T::Future: 'static,
{
    type Response = ServiceResponse<EitherBody<BM, B>>;
    type Error = Error;
    type Transform = OnlyService<T::Transform, S>;
    type InitError = T::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let inner = Rc::new(service);
        let with = self.middleware.new_transform(Shared(Rc::clone(&inner)));
        let (applies, bypassed) = (self.applies, self.bypassed);
        Box::pin(async move {
            Ok(OnlyService {
                with: with.await?,
                without: inner,
                applies,
                bypassed,
            })
        })
    }
}

pub struct OnlyService<M, S> {
    with: M,
    without: Rc<S>,
    applies: fn(&ServiceRequest) -> bool,
    bypassed: fn(&mut HeaderMap),
}

impl<M, S, B, BM> Service<ServiceRequest> for OnlyService<M, S>
where
    M: Service<ServiceRequest, Response = ServiceResponse<BM>, Error = Error>,
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<EitherBody<BM, B>>;
    type Error = Error;
    type Future = OnlyFuture<M::Future, S::Future>;

    // The middleware's readiness is the inner service's.
    forward_ready!(with);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if (self.applies)(&req) {
            OnlyFuture::With {
                fut: self.with.call(req),
            }
        } else {
            OnlyFuture::Without {
                fut: self.without.call(req),
                bypassed: self.bypassed,
            }
        }
    }
}

pin_project_lite::pin_project! {
    #[project = OnlyProjection]
    pub enum OnlyFuture<M, S> {
        With { #[pin] fut: M },
        Without { #[pin] fut: S, bypassed: fn(&mut HeaderMap) },
    }
}

impl<M, S, B, BM> Future for OnlyFuture<M, S>
where
    M: Future<Output = Result<ServiceResponse<BM>, Error>>,
    S: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<BM, B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            OnlyProjection::With { fut } => {
                fut.poll(cx).map_ok(ServiceResponse::map_into_left_body)
            }
            OnlyProjection::Without { fut, bypassed } => fut.poll(cx).map_ok(|mut res| {
                bypassed(res.headers_mut());
                res.map_into_right_body()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::middleware::DefaultHeaders;
    use actix_web::{test, web, App, HttpResponse};

    fn marked() -> Only<DefaultHeaders> {
        Only::new(
            DefaultHeaders::new().add(("x-through", "middleware")),
            |req| req.headers().contains_key("x-wanted"),
        )
        .otherwise(|headers| {
            headers.insert(
                header::HeaderName::from_static("x-through"),
                HeaderValue::from_static("bypass"),
            );
        })
    }

    #[actix_web::test]
    async fn only_selected_requests_go_through_the_middleware() {
        let app = test::init_service(
            App::new()
                .route(
                    "/",
                    web::get().to(|| async { HttpResponse::Ok().body("same body") }),
                )
                .wrap(marked()),
        )
        .await;
        for (wanted, through) in [(true, "middleware"), (false, "bypass")] {
            let mut req = test::TestRequest::get().uri("/");
            if wanted {
                req = req.insert_header(("x-wanted", "1"));
            }
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers().get("x-through").unwrap(), through);
            assert_eq!(test::read_body(res).await, "same body");
        }
    }
}
