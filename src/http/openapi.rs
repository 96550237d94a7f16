//! The OpenAPI 3.1 document, generated from the code.
//!
//! Paths and schemas are collected from the handlers' `#[utoipa::path]` attributes as the
//! routes are registered (see [`crate::startup::routes`]); this module adds the document-level
//! parts. `openapi/openapi.json` is a committed copy that a test keeps equal to this.

use actix_web::App;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use utoipa::openapi::path::Operation;
use utoipa::openapi::{Content, Ref, Response};

use super::error::{FieldError, Problem, PROBLEM_CONTENT_TYPE};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Valise API",
        description = "Headless commerce API of an online luggage shop whose privacy policy \
                       is a promise the code keeps.\n\n\
                       Conventions: JSON in and out; request bodies reject unknown fields (422); \
                       errors are RFC 9457 `application/problem+json` with a stable `type` \
                       (`urn:valise:problem:<slug>`); every response carries `X-Request-Id` \
                       (the server's own id of the request; an id a client sends is only \
                       logged beside it) and `X-Policy-Version` (the current privacy-policy \
                       version); lists use \
                       `limit` (1–100) and an opaque `cursor`.",
        license(name = "MIT", identifier = "MIT"),
        contact(name = "Valise API maintainers"),
        version = env!("CARGO_PKG_VERSION"),
    ),
    tags(
        (name = "operations", description = "Liveness and readiness probes"),
        (name = "policies", description = "Privacy-policy versions: the text customers accept"),
        (name = "catalog", description = "Luggage: products, variants, availability, consultations"),
        (name = "catalog-admin", description = "Catalogue, inventory and consultation answers (staff)"),
        (name = "carts", description = "Carts for customers and guests"),
        (name = "orders", description = "Checkout and orders: status, history, cancellation"),
        (name = "orders-admin", description = "Orders for staff: masked views, shipments, deliveries"),
        (name = "discounts", description = "Discount codes: percentage, fixed amount or free shipping, with a window, a minimum and usage limits (managers)"),
        (name = "tax", description = "EU VAT rates by country and effective day (managers read, admins set)"),
        (name = "shipping", description = "Shipping methods by zone and weight, carriers and their tracking URLs, a cart's shipping options"),
        (name = "payments", description = "Payments and the provider's signed webhooks; no card data, ever"),
        (name = "invoices", description = "Invoices and credit notes: gap-free numbers, JSON or PDF, buyers kept for the statutory period"),
        (name = "auth", description = "Accounts and sessions: register, log in, refresh, log out"),
        (name = "me", description = "The data subject: my profile and who accessed my data"),
        (name = "staff", description = "Staff accounts and roles (admin)"),
        (name = "api-keys", description = "Integrators' server-to-server keys (admin)"),
        (name = "audit", description = "The tamper-evident audit log (privacy officer)"),
        (name = "keys", description = "Master-key rotation (admin)"),
        (name = "privacy", description = "Data-subject rights: consents, export, erasure, requests (customers and guests), the data map"),
        (name = "privacy-admin", description = "The privacy officer's queue of data-subject requests"),
        (name = "outbox", description = "The notification outbox: delivery status, dead letters, retries (manager)"),
        (name = "webhooks", description = "Integrators' signed event subscriptions and their delivery log (admin)"),
        (name = "problems", description = "The catalogue of problem types: what each error `type` means and what to do"),
        (name = "analytics", description = "Anonymous browsing events (no IP, user agent, account or cookie; daily-salted visitor hashes) and reports that hide groups of fewer than k visitors (manager)"),
    ),
    servers((url = "/", description = "This server: the document is served by the API it describes")),
    components(schemas(Problem, FieldError)),
    modifiers(&Security),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from `/v1/auth/login` or `/v1/auth/refresh` (15 minutes).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Api-Key",
                "Integrator key from `/v1/admin/api-keys`; acts with the key's role.",
            ))),
        );
    }
}

/// The complete document: document-level parts plus every route `routes` registers (the
/// application's: `startup::spec`).
pub fn document<'a>(
    routes: fn(&mut utoipa_actix_web::service_config::ServiceConfig),
    limits: impl IntoIterator<Item = &'a super::limits::Rule>,
) -> utoipa::openapi::OpenApi {
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    add_common_problems(&mut spec);
    add_rate_limits(&mut spec, limits);
    add_response_headers(&mut spec);
    plain_optional_bodies(&mut spec);
    explicit_public_security(&mut spec);
    spec
}

/// The response headers a client relies on, declared once under `components/headers`.
/// Each with whether a response that declares it always carries it.
const HEADERS: &[(&str, HeaderKind, bool, &str)] = &[
    (
        "X-Request-Id",
        HeaderKind::Text,
        true,
        "The server's own id of this request (also in its logs and audit entries); quote it \
         when you report a problem. An `X-Request-Id` a client sends is only logged beside it",
    ),
    (
        "X-Policy-Version",
        HeaderKind::Integer,
        true,
        "The current privacy-policy version: registration and checkout must accept this one \
         (`accepted_policy_version`)",
    ),
    (
        "ETag",
        HeaderKind::Text,
        true,
        "The representation's entity tag: send it back as `If-None-Match` to get a 304 while \
         it is unchanged, or as `If-Match` with a change to an editable resource",
    ),
    (
        "Location",
        HeaderKind::Uri,
        true,
        "Where the resource this request created can be read or changed",
    ),
    (
        "Idempotent-Replayed",
        HeaderKind::True,
        false,
        "`true` when this is the stored answer to an earlier request with the same \
         `Idempotency-Key`: nothing was done again",
    ),
    (
        "Retry-After",
        HeaderKind::Integer,
        true,
        "Seconds to wait before trying again",
    ),
    (
        "RateLimit",
        HeaderKind::Text,
        false,
        "The state of the quota that applies: `\"<policy>\";r=<remaining>;t=<seconds to \
         reset>`. Sent with the quotas of each route; a sign-in or code back-off (a growing \
         wait after failures) sends `Retry-After` alone",
    ),
    (
        "RateLimit-Policy",
        HeaderKind::Text,
        false,
        "The quota that applies: `\"<policy>\";q=<requests>;w=<window seconds>`",
    ),
];

#[derive(Clone, Copy)]
enum HeaderKind {
    Text,
    Integer,
    Uri,
    True,
}

/// An operation id and the statuses of its responses that carry a header.
type Carriers = (&'static str, &'static [&'static str]);

/// Which responses carry the headers that only some do, by operation id and status.
const SOME_RESPONSES: &[(&str, &[Carriers])] = &[
    (
        "ETag",
        &[
            ("listProducts", &["200", "304"]),
            ("getProduct", &["200", "304"]),
            ("getOrder", &["200", "304"]),
            ("getMe", &["200", "304"]),
            ("updateMe", &["200"]),
            ("getCurrentPolicy", &["200", "304"]),
            ("getPolicyVersion", &["200", "304"]),
            ("getDataMap", &["200", "304"]),
            ("listProblemTypes", &["200", "304"]),
            ("getProblemType", &["200", "304"]),
            ("createProduct", &["201"]),
            ("updateProduct", &["200"]),
            ("createVariant", &["201"]),
            ("updateVariant", &["200"]),
            ("createMyAddress", &["201"]),
            ("updateMyAddress", &["200"]),
            ("createShippingCarrier", &["201"]),
            ("getShippingCarrier", &["200", "304"]),
            ("updateShippingCarrier", &["200"]),
            ("createShippingMethod", &["201"]),
            ("getShippingMethod", &["200", "304"]),
            ("updateShippingMethod", &["200"]),
        ],
    ),
    (
        "Location",
        &[
            ("createCart", &["201"]),
            ("checkoutCart", &["201"]),
            ("createProduct", &["201"]),
            ("createVariant", &["201"]),
            ("createApiKey", &["201"]),
            ("createWebhook", &["201"]),
            ("createMyAddress", &["201"]),
            ("createStaff", &["201"]),
            ("publishPolicy", &["201"]),
            ("createCollection", &["201"]),
            ("createDiscountCode", &["201"]),
            ("createShippingCarrier", &["201"]),
            ("createShippingMethod", &["201"]),
        ],
    ),
    (
        "Idempotent-Replayed",
        &[
            ("checkoutCart", &["201"]),
            ("startPayment", &["201"]),
            ("refundPayment", &["200", "202"]),
        ],
    ),
    // Analytics ingestion also says how much of its limit is left when it accepts a batch;
    // a password change refused for too many wrong current passwords says when to retry.
    (
        "RateLimit",
        &[
            ("recordAnalyticsEvents", &["202", "429"]),
            ("updateMyPassword", &["429"]),
        ],
    ),
    (
        "RateLimit-Policy",
        &[
            ("recordAnalyticsEvents", &["202", "429"]),
            ("updateMyPassword", &["429"]),
        ],
    ),
    ("Retry-After", &[("updateMyPassword", &["429"])]),
];

/// Declares on each response the headers it carries: `X-Request-Id` and `X-Policy-Version` on
/// every one (the middleware stamps them), the others where [`SOME_RESPONSES`] says.
fn add_response_headers(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::{ObjectBuilder, RefOr, SchemaFormat, Type};
    let components = spec.components.get_or_insert_with(Default::default);
    for (name, kind, required, description) in HEADERS {
        let schema = match kind {
            HeaderKind::Text => ObjectBuilder::new().schema_type(Type::String),
            HeaderKind::Integer => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
            HeaderKind::Uri => ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::Custom("uri-reference".to_owned()))),
            HeaderKind::True => ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["true"])),
        };
        let mut header = HeaderBuilder::new()
            .schema(Some(schema))
            .description(Some(*description))
            .build();
        // utoipa's Header has no `required` field; its extensions are written out as they are.
        if *required {
            header
                .extensions
                .get_or_insert_with(Default::default)
                .insert("required".to_owned(), serde_json::Value::Bool(true));
        }
        components
            .headers
            .insert((*name).to_owned(), RefOr::T(header));
    }
    for op in operations_mut(spec) {
        let id = op.operation_id.clone().unwrap_or_default();
        for (status, response) in op.responses.responses.iter_mut() {
            let RefOr::T(response) = response else {
                continue;
            };
            for name in ["X-Request-Id", "X-Policy-Version"] {
                response.headers.insert(name.to_owned(), header_ref(name));
            }
            for (name, operations) in SOME_RESPONSES {
                let carries = operations
                    .iter()
                    .any(|(op, statuses)| *op == id && statuses.contains(&status.as_str()));
                if carries {
                    response
                        .headers
                        .insert((*name).to_owned(), header_ref(name));
                }
            }
        }
    }
}

/// Every operation of the document.
fn operations_mut(spec: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    spec.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    })
}

fn header_ref(name: &str) -> utoipa::openapi::RefOr<utoipa::openapi::header::Header> {
    utoipa::openapi::RefOr::Ref(Ref::new(format!("#/components/headers/{name}")))
}

/// An operation anyone may call says so with `security: []`, rather than by leaving security
/// out (which linters cannot tell from an oversight, and generators read as "inherit").
fn explicit_public_security(spec: &mut utoipa::openapi::OpenApi) {
    for op in operations_mut(spec) {
        op.security.get_or_insert_with(Vec::new);
    }
}

/// An optional body (`request_body(content = Option<T>)`) is generated as `oneOf: [T, null]`;
/// what is optional is the body, not a JSON `null` in it, so its schema is `T` itself and
/// `required` says the rest.
fn plain_optional_bodies(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{Schema, Type};
    use utoipa::openapi::{RefOr, Required};
    for item in spec.paths.paths.values_mut() {
        let operations = [&mut item.post, &mut item.put, &mut item.patch];
        for op in operations.into_iter().flatten() {
            let Some(RefOr::T(body)) = op.request_body.as_mut() else {
                continue;
            };
            if body.required == Some(Required::True) {
                continue;
            }
            for content in body.content.values_mut() {
                let RefOr::T(content) = content else { continue };
                let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema else {
                    continue;
                };
                let not_null: Vec<&RefOr<Schema>> = one_of
                    .items
                    .iter()
                    .filter(|item| {
                        !matches!(item, RefOr::T(Schema::Object(o))
                            if o.schema_type == Type::Null.into())
                    })
                    .collect();
                if let [only] = not_null.as_slice() {
                    content.schema = Some((*only).clone());
                }
            }
        }
    }
}

/// Documents each limited route: its limits in words, and a 429 with the headers that say
/// when to come back.
fn add_rate_limits<'a>(
    spec: &mut utoipa::openapi::OpenApi,
    limits: impl IntoIterator<Item = &'a super::limits::Rule>,
) {
    use utoipa::openapi::RefOr;
    for (method, template, policy) in limits {
        let Some(item) = spec.paths.paths.get_mut(*template) else {
            continue;
        };
        let op = match *method {
            actix_web::http::Method::POST => item.post.as_mut(),
            actix_web::http::Method::PATCH => item.patch.as_mut(),
            actix_web::http::Method::PUT => item.put.as_mut(),
            actix_web::http::Method::DELETE => item.delete.as_mut(),
            _ => None,
        };
        let Some(op) = op else { continue };
        let words = super::limits::describe(policy);
        op.description = Some(match op.description.take() {
            Some(text) if !text.is_empty() => format!("{text}\n\n{words}"),
            _ => words,
        });
        document_problem(op, 429, "Too many requests: a rate limit is spent");
        if let Some(RefOr::T(response)) = op.responses.responses.get_mut("429") {
            for name in ["Retry-After", "RateLimit", "RateLimit-Policy"] {
                response.headers.insert(name.to_owned(), header_ref(name));
            }
        }
    }
}

/// Documents, on every operation they apply to, the problems that the shared plumbing answers
/// rather than the handler: any request body may be too large (413) or not JSON (415), and any
/// operation that reads a bearer token answers 401 when the token sent is invalid or expired,
/// even where it would serve a guest without one.
fn add_common_problems(spec: &mut utoipa::openapi::OpenApi) {
    for op in operations_mut(spec) {
        if op.request_body.is_some() {
            document_problem(op, 413, "The request body is larger than 64 KiB");
            document_problem(op, 415, "The request body is not `application/json`");
        }
        if reads_bearer_token(op) {
            document_problem(op, 401, "The credentials sent are invalid or expired");
            // Every authenticated route refuses an account whose erasure is pending.
            document_problem(
                op,
                403,
                "The account is being erased (only its data-subject requests remain reachable)",
            );
        }
    }
}

fn reads_bearer_token(op: &Operation) -> bool {
    op.security.iter().flatten().any(|requirement| {
        serde_json::to_value(requirement)
            .ok()
            .and_then(|v| v.get("bearer").map(|_| ()))
            .is_some()
    })
}

fn document_problem(op: &mut Operation, status: u16, description: &str) {
    let problem = Content::builder()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            Response::builder()
                .description(description)
                .content(PROBLEM_CONTENT_TYPE, problem)
                .build()
                .into()
        });
}

/// A document as committed under `openapi/openapi.json`: pretty JSON with a final newline.
pub fn pretty_json(spec: &utoipa::openapi::OpenApi) -> String {
    let mut json = spec.to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
