//! Curated collections: managers arrange them, shoppers see the active ones with their
//! active products in the manager's order, served from the response cache.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::{create, product};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp};

/// Three products `{tag}-a`, `{tag}-b`, `{tag}-c`; answers their ids in that order.
async fn three_products(app: &TestApp, manager: &Session, tag: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for letter in ["a", "b", "c"] {
        let body = product(
            &format!("{tag}-{letter}"),
            "travel",
            "abs",
            [55, 40, 20],
            9900,
            &[3],
        );
        let created = create(app, manager, &body).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    ids
}

async fn post_collection(app: &TestApp, manager: &Session, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, "/v1/admin/collections", manager)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn put_collection(
    app: &TestApp,
    manager: &Session,
    slug: &str,
    body: &Value,
) -> reqwest::Response {
    app.authed(
        Method::PUT,
        &format!("/v1/admin/collections/{slug}"),
        manager,
    )
    .json(body)
    .send()
    .await
    .unwrap()
}

/// The slugs of a public collection's products, in the order shown.
async fn shown(app: &TestApp, slug: &str) -> Vec<String> {
    let body = json_of(
        app.get(&format!("/v1/collections/{slug}")).await,
        StatusCode::OK,
    )
    .await;
    body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_collection_shows_its_products_in_the_managers_order() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let ids = three_products(&app, &manager, "order").await;
    // By slug and by id, mixed, in an order that is neither of creation nor of slugs.
    let created = post_collection(
        &app,
        &manager,
        &json!({"slug": "cabin-bestsellers", "title": "Cabin bestsellers",
                "description": "Fits every cabin.", "active": true,
                "products": ["order-c", ids[0], "order-b"]}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        created.headers()["location"],
        "/v1/admin/collections/cabin-bestsellers"
    );
    assert_eq!(created.headers()["etag"], "\"c1\"");
    let admin: Value = created.json().await.unwrap();
    assert_eq!(admin["products"][1]["id"], ids[0]);
    assert_eq!(admin["products"][1]["status"], "active");

    assert_eq!(
        shown(&app, "cabin-bestsellers").await,
        ["order-c", "order-a", "order-b"]
    );
    let response = app.get("/v1/collections/cabin-bestsellers").await;
    assert!(response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public"));
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["title"], "Cabin bestsellers");
    assert_eq!(body["description"], "Fits every cabin.");
    // The listing's product summary, variants and prices included.
    assert_eq!(body["products"][0]["variants"][0]["available"], 3);
    assert_eq!(body["products"][0]["price"]["amount"], 9900);
    let again = app
        .client
        .get(app.url("/v1/collections/cabin-bestsellers"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let list = json_of(app.get("/v1/collections").await, StatusCode::OK).await;
    assert_eq!(list["data"][0]["slug"], "cabin-bestsellers");
    assert!(list["data"][0].get("products").is_none());
}

#[actix_web::test]
async fn an_edit_is_served_at_once_not_from_the_cache() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let ids = three_products(&app, &manager, "edit").await;
    let body = json!({"slug": "weekend", "title": "Weekend", "active": true, "products": ids});
    assert_eq!(
        post_collection(&app, &manager, &body).await.status(),
        StatusCode::CREATED
    );
    // Rendered and cached.
    assert_eq!(shown(&app, "weekend").await, ["edit-a", "edit-b", "edit-c"]);
    assert_eq!(shown(&app, "weekend").await, ["edit-a", "edit-b", "edit-c"]);

    let replaced = app
        .authed(Method::PUT, "/v1/admin/collections/weekend", &manager)
        .header("if-match", "\"c1\"")
        .json(&json!({"title": "Weekend escapes", "active": true,
                      "products": ["edit-c", "edit-a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    assert_eq!(replaced.headers()["etag"], "\"c2\"");
    assert_eq!(shown(&app, "weekend").await, ["edit-c", "edit-a"]);
    let list = json_of(app.get("/v1/collections").await, StatusCode::OK).await;
    assert_eq!(list["data"][0]["title"], "Weekend escapes");

    // A product's own change reaches the collection page too.
    let renamed = app
        .authed(
            Method::PATCH,
            &format!("/v1/admin/products/{}", ids[2]),
            &manager,
        )
        .json(&json!({"name": "Renamed case"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let body = json_of(app.get("/v1/collections/weekend").await, StatusCode::OK).await;
    assert_eq!(body["products"][0]["name"], "Renamed case");

    // A stale If-Match changes nothing.
    let stale = app
        .authed(Method::PUT, "/v1/admin/collections/weekend", &manager)
        .header("if-match", "\"c1\"")
        .json(&json!({"title": "Lost", "active": true, "products": []}))
        .send()
        .await
        .unwrap();
    assert_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    assert_eq!(shown(&app, "weekend").await, ["edit-c", "edit-a"]);
}

#[actix_web::test]
async fn inactive_collections_and_archived_products_are_hidden() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let ids = three_products(&app, &manager, "hide").await;
    for (slug, active) in [("shown", true), ("draft", false)] {
        let body = json!({"slug": slug, "title": slug, "active": active, "products": ids});
        assert_eq!(
            post_collection(&app, &manager, &body).await.status(),
            StatusCode::CREATED
        );
    }
    assert_problem(
        app.get("/v1/collections/draft").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let list = json_of(app.get("/v1/collections").await, StatusCode::OK).await;
    let slugs: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["shown"]);
    // Managers still read it.
    let draft = app.get_as("/v1/admin/collections/draft", &manager).await;
    assert_eq!(json_of(draft, StatusCode::OK).await["active"], false);

    assert_eq!(shown(&app, "shown").await, ["hide-a", "hide-b", "hide-c"]);
    let archived = app
        .authed(
            Method::DELETE,
            &format!("/v1/admin/products/{}", ids[1]),
            &manager,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), StatusCode::NO_CONTENT);
    assert_eq!(shown(&app, "shown").await, ["hide-a", "hide-c"]);
    // The manager's list keeps it, marked archived, so a replacement can keep it too.
    let admin = json_of(
        app.get_as("/v1/admin/collections/shown", &manager).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(admin["products"][1]["status"], "archived");

    let deleted = app
        .authed(Method::DELETE, "/v1/admin/collections/shown", &manager)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get("/v1/collections/shown").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let again = app
        .authed(Method::DELETE, "/v1/admin/collections/shown", &manager)
        .send()
        .await
        .unwrap();
    assert_problem(again, StatusCode::NOT_FOUND, "not-found").await;
}

#[actix_web::test]
async fn only_managers_and_above_arrange_collections() {
    let app = TestApp::spawn().await;
    let body = json!({"slug": "roles", "title": "Roles", "active": true, "products": []});
    let customer = app.register(&unique_email("c"), "Customer").await;
    for session in [
        customer,
        app.staff(Role::Support).await,
        app.staff(Role::Fulfillment).await,
    ] {
        assert_problem(
            post_collection(&app, &session, &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_problem(
            put_collection(&app, &session, "roles", &body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let anonymous = app.post_json("/v1/admin/collections", &body).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let admin = app.staff(Role::Admin).await;
    assert_eq!(
        post_collection(&app, &admin, &body).await.status(),
        StatusCode::CREATED
    );
}

#[actix_web::test]
async fn bad_collections_are_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let ids = three_products(&app, &manager, "bad").await;
    let body = json!({"slug": "picks", "title": "Picks", "active": true, "products": [ids[0]]});
    assert_eq!(
        post_collection(&app, &manager, &body).await.status(),
        StatusCode::CREATED
    );
    assert_problem(
        post_collection(&app, &manager, &body).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    for (change, field) in [
        (
            json!({"products": ["bad-a", "no-such-product"]}),
            "products[1]",
        ),
        (json!({"products": ["prod_nothing"]}), "products[0]"),
        (json!({"products": ["bad-a", ids[0]]}), "products[1]"),
        (json!({"products": ["Not A Slug"]}), "products[0]"),
        (json!({"title": " "}), "title"),
        (json!({"slug": "Bad Slug"}), "slug"),
        (json!({"surprise": 1}), "surprise"),
    ] {
        let mut bad = body.clone();
        bad["slug"] = json!("fresh");
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let problem = assert_problem(
            post_collection(&app, &manager, &bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{change}: {problem}");
    }
    assert_problem(
        app.get_as("/v1/admin/collections/fresh", &manager).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;

    // A refused replacement leaves the collection as it was.
    let refused = put_collection(
        &app,
        &manager,
        "picks",
        &json!({"title": "Picks", "active": true, "products": ["bad-b", "nope"]}),
    )
    .await;
    assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(shown(&app, "picks").await, ["bad-a"]);
    let renamed = put_collection(
        &app,
        &manager,
        "picks",
        &json!({"slug": "other", "title": "Picks", "active": true, "products": []}),
    )
    .await;
    assert_problem(
        renamed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let missing = put_collection(
        &app,
        &manager,
        "no-such-collection",
        &json!({"title": "X", "active": true, "products": []}),
    )
    .await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
    assert_problem(
        app.get("/v1/collections/no-such-collection").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
}
