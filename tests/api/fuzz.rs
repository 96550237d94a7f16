//! Bounded fuzzing over HTTP. Every operation of the served OpenAPI document that takes a
//! body gets arbitrary JSON, values that follow its schema with arbitrary leaves (any of which
//! may be any JSON instead), mangled JSON text, arbitrary bytes and content types; every
//! listing gets arbitrary and forged cursors. Requests go anonymously, as a customer, an admin
//! and a privacy officer (mostly as whom the route is for), with real identifiers in the path.
//! Whatever is sent, the answer is below 500, and a 4xx is an `application/problem+json`
//! document.
//!
//! The cases are generated and shrunk by proptest (`PROPTEST_CASES` per operation, default
//! [`DEFAULT_CASES`]); requests go out from a blocking thread while the server runs on its
//! own workers. Email fields always hold one fixed valid address and no `X-Forwarded-For` is
//! sent (those parsers have properties of their own); URL fields name a closed loopback port.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use reqwest::blocking::Client;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::http::pagination::encode_cursor;
use valise::payments::model::sign;

use crate::fixtures::{
    checkout, checkout_body, create, guest_cart, paid_order, product, WEBHOOK_SECRET,
};
use crate::helpers::{json_of, unique_email, Session, TestApp};

/// Cases per operation when `PROPTEST_CASES` is not set: about 1,300 requests in all, under
/// ten seconds per backend.
const DEFAULT_CASES: u32 = 24;

/// The one address every email field holds.
const EMAIL: &str = "fuzz@example.com";

/// The one endpoint every URL field holds (a webhook subscription may be created): loopback,
/// the discard port, where nothing listens.
const ENDPOINT: &str = "https://127.0.0.1:9/fuzz";

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

#[derive(Debug, Clone, Copy)]
enum Who {
    Anonymous,
    Customer,
    Admin,
    Officer,
}

/// Real identifiers for path parameters and credentials, so requests reach the handlers.
struct Fixtures {
    customer: Session,
    admin: Session,
    officer: Session,
    product: String,
    variant: String,
    customer_cart: String,
    guest_cart: (String, String),
    customer_order: String,
    guest_order: (String, String),
    payment: String,
    address: String,
    consultation: String,
    staff: String,
}

async fn fixtures(app: &TestApp) -> Fixtures {
    let admin = app.staff(Role::Admin).await;
    let officer = app.staff(Role::PrivacyOfficer).await;
    let (customer, customer_order, payment) = paid_order(app).await;
    let created = create(
        app,
        &admin,
        &product("fuzzed", "travel", "abs", [55, 40, 20], 9900, &[1000]),
    )
    .await;
    let product = created["id"].as_str().unwrap().to_owned();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();

    let cart = json_of(
        app.authed(Method::POST, "/v1/carts", &customer)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let customer_cart = cart["id"].as_str().unwrap().to_owned();
    let added = app
        .authed(
            Method::POST,
            &format!("/v1/carts/{customer_cart}/items"),
            &customer,
        )
        .json(&json!({"variant_id": variant, "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), StatusCode::OK);

    let cart = guest_cart(app, &variant, 1).await;
    let ordered = guest_cart(app, &variant, 1).await;
    let placed = checkout(
        app,
        &ordered,
        "fuzz-order",
        &checkout_body(&unique_email("guest")),
    )
    .await;
    let placed = json_of(placed, StatusCode::CREATED).await;
    let guest_order = (
        placed["number"].as_str().unwrap().to_owned(),
        placed["order_token"].as_str().unwrap().to_owned(),
    );

    let saved = json_of(
        app.authed(Method::POST, "/v1/me/addresses", &customer)
            .json(&json!({"name": "Quentin Zephyrine", "line1": "3 Quai Xavier", "city": "Lyon", "postal_code": "69002", "country": "FR"}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let address = saved["id"].as_str().unwrap().to_owned();

    let asked = json_of(
        app.post_json(
            &format!("/v1/products/{product}/consultations"),
            &json!({"question": "Does a 15-inch laptop fit?"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let consultation = asked["id"].as_str().unwrap().to_owned();
    let staff = app.staff(Role::Support).await.user_id;

    Fixtures {
        customer,
        admin,
        officer,
        product,
        variant,
        customer_cart,
        guest_cart: (cart.id, cart.token),
        customer_order,
        guest_order,
        payment: payment["id"].as_str().unwrap().to_owned(),
        address,
        consultation,
        staff,
    }
}

/// One operation of the document that takes a request body.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    template: String,
    /// Its request body's schema.
    schema: Value,
}

/// What the served document offers a generator: the operations with a body, the operations
/// with a `cursor`, every property name and every enumerated string of its schemas.
struct Document {
    served: Value,
    operations: Vec<Operation>,
    listings: Vec<String>,
    names: Vec<String>,
    words: Vec<String>,
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn collect(value: &Value, names: &mut BTreeSet<String>, words: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                names.extend(properties.keys().cloned());
            }
            if let Some(Value::Array(values)) = map.get("enum") {
                words.extend(values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
            }
            for v in map.values() {
                collect(v, names, words);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, names, words)),
        _ => {}
    }
}

fn document(served: Value) -> Document {
    let mut operations = Vec::new();
    let mut listings = Vec::new();
    for (template, item) in served["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let takes_cursor = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["name"] == "cursor" && p["in"] == "query")
            });
            if method == "get" && takes_cursor {
                listings.push(template.clone());
            }
            let Some(content) = op["requestBody"]["content"].as_object() else {
                continue;
            };
            let schema = content
                .get("application/json")
                .map(|c| c["schema"].clone())
                .unwrap_or(Value::Null);
            operations.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                template: template.clone(),
                schema,
            });
        }
    }
    let (mut names, mut words) = (BTreeSet::new(), BTreeSet::new());
    collect(&served["components"], &mut names, &mut words);
    Document {
        served,
        operations,
        listings,
        names: names.into_iter().collect(),
        words: words.into_iter().collect(),
    }
}

/// The concrete path of `template` for `who`: the customer's own cart and order, the guest's
/// cart and order for an anonymous client.
fn path_for(template: &str, who: Who, f: &Fixtures) -> String {
    let segments: Vec<&str> = template.split('/').collect();
    let mut out = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        if !segment.starts_with('{') {
            out.push((*segment).to_owned());
            continue;
        }
        let value = match (segments[i - 1], *segment, who) {
            ("products", _, _) => f.product.clone(),
            ("variants" | "items", _, _) => f.variant.clone(),
            ("carts", _, Who::Anonymous) => f.guest_cart.0.clone(),
            ("carts", _, _) => f.customer_cart.clone(),
            ("orders", _, Who::Anonymous) => f.guest_order.0.clone(),
            ("orders", _, _) => f.customer_order.clone(),
            ("payments", _, _) => f.payment.clone(),
            ("addresses", _, _) => f.address.clone(),
            ("consultations", _, _) => f.consultation.clone(),
            ("staff", _, _) => f.staff.clone(),
            ("consents", _, _) => "marketing_notifications".to_owned(),
            ("webhooks", "{provider}", _) => "test".to_owned(),
            ("webhooks", _, _) => "wh_0193a7c25b7e7d1a9c1e2f6c1f7e9a10".to_owned(),
            // No fixture: a well-formed identifier that names nothing (the body is parsed
            // all the same).
            ("after-sales", _, _) => "case_0193a7c25b7e7d1a9c1e2f6c1f7e9a10".to_owned(),
            ("collections", _, _) => "no-such-collection".to_owned(),
            ("discount-codes", _, _) => "dsc_0193a7c25b7e7d1a9c1e2f6c1f7e9a10".to_owned(),
            ("methods", _, _) => "standard".to_owned(),
            ("carriers", _, _) => "no-such-carrier".to_owned(),
            ("requests", _, _) => "dsr_0193a7c25b7e7d1a9c1e2f6c1f7e9a10".to_owned(),
            (parent, parameter, _) => panic!(
                "no fixture for {parameter} after /{parent}/ in {template}: add one to fuzz.rs"
            ),
        };
        out.push(value);
    }
    out.join("/")
}

/// A request body: its bytes and the content type it claims.
#[derive(Clone)]
struct Body {
    content_type: Option<&'static str>,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} {:?}",
            self.content_type,
            String::from_utf8_lossy(&self.bytes)
        )
    }
}

/// Every `email`-like field holds [`EMAIL`] and every `url` field [`ENDPOINT`], however deep.
fn pin_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key.contains("email") {
                    *v = json!(EMAIL);
                } else if key == "url" {
                    *v = json!(ENDPOINT);
                } else {
                    pin_fields(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(pin_fields),
        _ => {}
    }
}

fn json_body(mut value: Value) -> Body {
    pin_fields(&mut value);
    Body {
        content_type: Some("application/json"),
        bytes: serde_json::to_vec(&value).unwrap(),
    }
}

/// Strings: arbitrary (printable, and any `char` at all, NUL and controls included), short
/// identifiers, the schemas' enumerated words and real ids.
fn string(words: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        2 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        2 => prop::sample::select(words.clone()),
        1 => (prop::sample::select(words), any::<char>()).prop_map(|(w, c)| format!("{w}{c}")),
        1 => "[A-Za-z][A-Za-z ,.'-]{0,30}",
        1 => "[a-z_0-9]{0,12}",
        1 => "\\PC{100,300}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (-3i64..120).prop_map(Value::from),
        2 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => prop::sample::select(vec![
            i32::MAX as i64, i32::MIN as i64, i32::MAX as i64 + 1, i64::MAX, i64::MIN, 0,
        ])
        .prop_map(Value::from),
        1 => any::<f64>()
            .prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
    ]
}

/// Any JSON value: objects keyed by the document's property names or anything.
fn json_value(names: Vec<String>, text: BoxedStrategy<String>) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        text.prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, move |inner| {
        let key = prop_oneof![prop::sample::select(names.clone()), any::<String>()];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// Generators shared by every schema of one document.
struct Generators<'a> {
    served: &'a Value,
    any: BoxedStrategy<Value>,
    text: BoxedStrategy<String>,
}

impl Generators<'_> {
    /// Values that follow `schema` (its properties, required or not, item types,
    /// enumerations, alternatives), where any value may instead be any JSON at all.
    fn follow(&self, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
        let schema = resolve(self.served, schema);
        let typed = if depth > 5 {
            self.any.clone()
        } else if let Some(alternatives) = schema["oneOf"]
            .as_array()
            .or(schema["anyOf"].as_array())
            .or(schema["allOf"].as_array())
        {
            let each: Vec<_> = alternatives
                .iter()
                .map(|s| self.follow(s, depth + 1))
                .collect();
            proptest::strategy::Union::new(each).boxed()
        } else if let Some(values) = schema["enum"].as_array() {
            prop::sample::select(values.clone()).boxed()
        } else {
            let types: Vec<&str> = match &schema["type"] {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if types.is_empty() {
                self.any.clone()
            } else {
                let each: Vec<_> = types
                    .into_iter()
                    .map(|t| match t {
                        "object" => self.object(schema, depth),
                        "array" => {
                            prop::collection::vec(self.follow(&schema["items"], depth + 1), 0..4)
                                .prop_map(Value::Array)
                                .boxed()
                        }
                        "string" => self.text.clone().prop_map(Value::from).boxed(),
                        "integer" | "number" => number().boxed(),
                        "boolean" => any::<bool>().prop_map(Value::from).boxed(),
                        _ => Just(Value::Null).boxed(),
                    })
                    .collect();
                proptest::strategy::Union::new(each).boxed()
            }
        };
        prop_oneof![9 => typed, 1 => self.any.clone()].boxed()
    }

    fn object(&self, schema: &Value, depth: u32) -> BoxedStrategy<Value> {
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let properties: Vec<BoxedStrategy<Option<(String, Value)>>> = schema["properties"]
            .as_object()
            .map(|ps| {
                ps.iter()
                    .map(|(name, s)| {
                        let present = if required.contains(name.as_str()) {
                            0.9
                        } else {
                            0.5
                        };
                        let name = name.clone();
                        prop::option::weighted(
                            present,
                            self.follow(s, depth + 1)
                                .prop_map(move |v| (name.clone(), v)),
                        )
                        .boxed()
                    })
                    .collect()
            })
            .unwrap_or_default();
        properties
            .prop_map(|pairs| Value::Object(pairs.into_iter().flatten().collect()))
            .boxed()
    }
}

fn body(op: &Operation, doc: &Document, ids: &[String]) -> BoxedStrategy<Body> {
    let mut words = doc.words.clone();
    words.extend(ids.iter().cloned());
    let text = string(words).boxed();
    let generators = Generators {
        served: &doc.served,
        any: json_value(doc.names.clone(), text.clone()),
        text,
    };
    let shaped = generators.follow(&op.schema, 0);
    let mangled = (
        shaped.clone(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(v, at, byte, cut)| {
            let mut b = json_body(v);
            let i = at.index(b.bytes.len());
            if cut {
                b.bytes.truncate(i);
            } else {
                b.bytes[i] = byte;
            }
            b
        });
    let content_type = prop::sample::select(vec![
        None,
        Some("application/json"),
        Some("application/json; charset=utf-16"),
        Some("application/merge-patch+json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        Some("multipart/form-data; boundary=x"),
        Some("application/"),
        Some(";"),
    ]);
    prop_oneof![
        2 => generators.any.clone().prop_map(json_body),
        6 => shaped.prop_map(json_body),
        1 => mangled,
        1 => prop::collection::vec(any::<u8>(), 0..512)
            .prop_map(|bytes| Body { content_type: Some("application/json"), bytes }),
        1 => (content_type, prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(content_type, bytes)| Body { content_type, bytes }),
    ]
    .boxed()
}

/// Who sends a case: mostly whoever the route is for, so cases get past authorisation, and
/// anyone else a third of the time.
fn who(template: &str) -> impl Strategy<Value = Who> {
    let meant =
        if template.starts_with("/v1/admin/audit") || template.starts_with("/v1/admin/privacy") {
            Who::Officer
        } else if template.starts_with("/v1/admin/") {
            Who::Admin
        } else if template.starts_with("/v1/me")
            || template == "/v1/orders"
            || template == "/v1/auth/logout"
        {
            Who::Customer
        } else {
            Who::Anonymous
        };
    prop_oneof![
        6 => Just(meant),
        1 => Just(Who::Anonymous),
        1 => Just(Who::Customer),
        1 => Just(Who::Admin),
        1 => Just(Who::Officer),
    ]
}

/// Checks an answer: below 500, and a problem document when it is a 4xx.
fn check(
    response: reqwest::blocking::Response,
    what: &str,
    answers: &RefCell<BTreeMap<u16, usize>>,
) -> Result<(), TestCaseError> {
    let status = response.status();
    *answers.borrow_mut().entry(status.as_u16()).or_default() += 1;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().unwrap_or_default();
    prop_assert!(status.as_u16() < 500, "{what} answered {status}: {text}");
    if status.is_client_error() {
        prop_assert_eq!(
            content_type.as_str(),
            "application/problem+json",
            "{} answered {} with {}",
            what,
            status,
            text
        );
    }
    Ok(())
}

fn authenticate(
    request: reqwest::blocking::RequestBuilder,
    who: Who,
    f: &Fixtures,
) -> reqwest::blocking::RequestBuilder {
    match who {
        Who::Anonymous => request
            .header("x-cart-token", &f.guest_cart.1)
            .header("x-order-token", &f.guest_order.1),
        Who::Customer => request.bearer_auth(&f.customer.access),
        Who::Admin => request.bearer_auth(&f.admin.access),
        Who::Officer => request.bearer_auth(&f.officer.access),
    }
}

/// Sends one fuzzed body.
fn send(
    client: &Client,
    base: &str,
    f: &Fixtures,
    op: &Operation,
    who: Who,
    body: &Body,
    answers: &RefCell<BTreeMap<u16, usize>>,
) -> Result<(), TestCaseError> {
    let path = path_for(&op.template, who, f);
    let mut request = client
        .request(op.method.clone(), format!("{base}{path}"))
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .body(body.bytes.clone());
    if let Some(content_type) = body.content_type {
        request = request.header("content-type", content_type);
    }
    if op.template.starts_with("/v1/payments/webhooks/") {
        // Signed, so the event itself is parsed.
        let now = chrono::Utc::now().timestamp();
        request = request.header(
            "valise-signature",
            sign(WEBHOOK_SECRET.as_bytes(), now, &body.bytes),
        );
    }
    let response = authenticate(request, who, f)
        .send()
        .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
    check(
        response,
        &format!("{} {path} as {who:?}", op.method),
        answers,
    )
}

/// Runs `cases()` cases of `strategy` through `test`, panicking with the smallest failing
/// case proptest finds.
fn run<S: Strategy>(what: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    match runner.run(&strategy, test) {
        Ok(()) => {}
        Err(TestError::Fail(reason, case)) => panic!("{what} with {case:?}: {reason}"),
        Err(e) => panic!("{what}: {e}"),
    }
}

/// The served document and fixtures on a fresh application.
async fn setup() -> (TestApp, Fixtures, Document) {
    let app = TestApp::spawn().await;
    let fixtures = fixtures(&app).await;
    let served = json_of(app.get("/openapi.json").await, StatusCode::OK).await;
    let doc = document(served);
    (app, fixtures, doc)
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

#[actix_web::test]
async fn fuzz_every_body_is_answered_below_500_with_a_problem_for_4xx() {
    let (app, fixtures, doc) = setup().await;
    assert!(
        doc.operations.len() >= 38,
        "only {} operations with a body in the document",
        doc.operations.len()
    );
    let ids = vec![
        fixtures.product.clone(),
        fixtures.variant.clone(),
        fixtures.payment.clone(),
        fixtures.customer_order.clone(),
        fixtures.guest_order.0.clone(),
        fixtures.address.clone(),
        fixtures.staff.clone(),
        fixtures.customer.refresh.clone(),
        format!("test_{}", &fixtures.payment[4..]),
    ];
    let base = app.address.clone();
    let started = std::time::Instant::now();
    let (operations, answers) = actix_web::rt::task::spawn_blocking(move || {
        let client = client();
        let answers = RefCell::new(BTreeMap::new());
        for op in &doc.operations {
            run(
                &format!("{} {}", op.method, op.template),
                (who(&op.template), body(op, &doc, &ids)),
                |(who, body)| send(&client, &base, &fixtures, op, who, &body, &answers),
            );
        }
        (doc.operations.len(), answers.into_inner())
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    // What the cases reached, by status (shrinking adds requests of its own).
    eprintln!(
        "fuzzed {operations} operations, {} cases each, in {:.1} s; answers: {answers:?}",
        cases(),
        started.elapsed().as_secs_f64()
    );
}

/// The name a listing writes into its cursors (see `src/http/pagination.rs`).
fn listing_of(template: &str, sort: &str) -> String {
    match template {
        "/v1/admin/after-sales" => "after-sales".into(),
        "/v1/admin/api-keys" => "api-keys".into(),
        "/v1/admin/audit" => "audit".into(),
        "/v1/admin/consultations" => "consultation-queue".into(),
        "/v1/admin/discount-codes" => "discount-codes".into(),
        "/v1/admin/invoices" => "documents".into(),
        "/v1/admin/notifications" => "admin-notifications".into(),
        "/v1/admin/orders" => "admin-orders".into(),
        "/v1/admin/privacy/requests" => "dsr-queue".into(),
        "/v1/admin/staff" => "staff".into(),
        "/v1/admin/webhooks" => "webhooks".into(),
        "/v1/admin/webhooks/{id}/deliveries" => "webhook-deliveries".into(),
        "/v1/me/access-log" => "access-log".into(),
        "/v1/me/notifications" => "notifications".into(),
        "/v1/me/requests" => "requests".into(),
        "/v1/orders" => "orders".into(),
        "/v1/policies" => "policies".into(),
        "/v1/products" => format!("products:{sort}"),
        "/v1/products/{id}/consultations" => "consultations".into(),
        other => panic!("which listing is {other}? add it to fuzz.rs"),
    }
}

/// Every listing name, for cursors sent to the wrong listing.
const LISTINGS: &[&str] = &[
    "access-log",
    "admin-notifications",
    "admin-orders",
    "after-sales",
    "api-keys",
    "audit",
    "consultation-queue",
    "consultations",
    "discount-codes",
    "documents",
    "dsr-queue",
    "notifications",
    "orders",
    "policies",
    "products:-price",
    "products:newest",
    "products:popular",
    "products:price",
    "requests",
    "staff",
    "webhook-deliveries",
    "webhooks",
];

/// Cursors: arbitrary text, and cursors of `own` (mostly) or another listing holding
/// arbitrary keys (ids, numbers, `value|id` pairs, anything).
fn cursor(own: String) -> impl Strategy<Value = String> {
    let text = prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        "[a-z_0-9]{0,40}",
    ];
    let key = prop_oneof![
        text.clone(),
        any::<i64>().prop_map(|n| n.to_string()),
        (any::<i64>(), text.clone()).prop_map(|(n, id)| format!("{n}|{id}")),
    ];
    let listing = prop_oneof![
        4 => Just(own),
        1 => prop::sample::select(LISTINGS).prop_map(str::to_owned),
    ];
    prop_oneof![
        1 => text,
        4 => (listing, key).prop_map(|(l, k)| encode_cursor(&l, &k)),
    ]
}

#[actix_web::test]
async fn fuzz_every_cursor_is_answered_below_500_with_a_problem_for_4xx() {
    let (app, fixtures, doc) = setup().await;
    assert!(
        doc.listings.len() >= 16,
        "only {} listings take a cursor in the document",
        doc.listings.len()
    );
    let base = app.address.clone();
    let started = std::time::Instant::now();
    let (listings, answers) = actix_web::rt::task::spawn_blocking(move || {
        let client = client();
        let answers = RefCell::new(BTreeMap::new());
        for template in &doc.listings {
            let sorted = prop::sample::select(vec!["newest", "popular", "price", "-price"])
                .prop_flat_map(|sort| (Just(sort), cursor(listing_of(template, sort))));
            run(
                &format!("GET {template}"),
                (who(template), sorted),
                |(who, (sort, cursor))| {
                    let path = path_for(template, who, &fixtures);
                    let mut query = vec![("cursor", cursor)];
                    if template == "/v1/products" {
                        query.push(("sort", sort.to_owned()));
                    }
                    let request = client.get(format!("{base}{path}")).query(&query);
                    let response = authenticate(request, who, &fixtures)
                        .send()
                        .map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
                    check(response, &format!("GET {path} as {who:?}"), &answers)
                },
            );
        }
        (doc.listings.len(), answers.into_inner())
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    eprintln!(
        "fuzzed the cursors of {listings} listings, {} cases each, in {:.1} s; answers: {answers:?}",
        cases(),
        started.elapsed().as_secs_f64()
    );
}
