//! Catalogue administration: roles, optimistic concurrency, stock that never goes negative,
//! consultations, the demo seed.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::{create, product};
use crate::helpers::{assert_problem, json_of, unique_email, TestApp};

#[actix_web::test]
async fn only_managers_and_above_change_the_catalogue() {
    let app = TestApp::spawn().await;
    let body = product("role-check", "travel", "abs", [55, 40, 20], 9900, &[1]);
    let customer = app.register(&unique_email("c"), "Customer").await;
    for session in [
        customer,
        app.staff(Role::Support).await,
        app.staff(Role::Fulfillment).await,
        app.staff(Role::PrivacyOfficer).await,
    ] {
        let response = app
            .authed(Method::POST, "/v1/admin/products", &session)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let anonymous = app.post_json("/v1/admin/products", &body).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    for role in [Role::Manager, Role::Admin] {
        let session = app.staff(role).await;
        let mut body = body.clone();
        body["slug"] = json!(format!("role-check-{}", role.as_str().replace('_', "-")));
        body["variants"][0]["sku"] = json!(format!(
            "RC-{}",
            role.as_str().to_uppercase().replace('_', "-")
        ));
        create(&app, &session, &body).await;
    }
}

#[actix_web::test]
async fn invalid_products_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let base = product("valid-one", "travel", "abs", [55, 40, 20], 9900, &[1]);
    for (change, field) in [
        (
            json!({"dimensions_cm": {"height": 0, "width": 40, "depth": 20}}),
            "dimensions_cm.height",
        ),
        (json!({"price": {"amount": 0}}), "price.amount"),
        (json!({"weight_g": 5}), "weight_g"),
        (json!({"style": "gothic"}), "style"),
        (json!({"slug": "Not A Slug"}), "slug"),
        (
            json!({"description": "Pay with 4111 1111 1111 1111"}),
            "description",
        ),
        (json!({"images": ["ftp://x"]}), "images[0]"),
        (json!({"secret_field": 1}), "secret_field"),
    ] {
        let mut body = base.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let response = app
            .authed(Method::POST, "/v1/admin/products", &manager)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{change}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{change}: {problem}");
    }
    create(&app, &manager, &base).await;
    let duplicate = app
        .authed(Method::POST, "/v1/admin/products", &manager)
        .json(&base)
        .send()
        .await
        .unwrap();
    assert_problem(duplicate, StatusCode::CONFLICT, "conflict").await;
}

#[actix_web::test]
async fn a_stale_if_match_is_refused_with_412() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let response = app
        .authed(Method::POST, "/v1/admin/products", &manager)
        .json(&product(
            "versioned",
            "travel",
            "abs",
            [55, 40, 20],
            9900,
            &[1],
        ))
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let id = json_of(response, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        location,
        format!("/v1/products/{id}"),
        "where it can be read"
    );
    assert_eq!(app.get(&location).await.status(), StatusCode::OK);
    let path = format!("/v1/admin/products/{id}");
    let first = app
        .authed(Method::PATCH, &path, &manager)
        .header("if-match", &etag)
        .json(&json!({"price": {"amount": 10900}, "dimensions_cm": {"height": 70, "width": 45, "depth": 28}}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_ne!(first.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = first.json().await.unwrap();
    assert_eq!(
        body["size_class"], "large",
        "the class follows the new dimensions"
    );
    assert_eq!(body["price"]["amount"], 10900);
    let stale = app
        .authed(Method::PATCH, &path, &manager)
        .header("if-match", &etag)
        .json(&json!({"name": "Lost update"}))
        .send()
        .await
        .unwrap();
    assert_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
}

async fn stock_of(app: &TestApp, product_id: &str) -> i64 {
    let body = json_of(
        app.get(&format!("/v1/products/{product_id}")).await,
        StatusCode::OK,
    )
    .await;
    body["variants"][0]["available"].as_i64().unwrap()
}

#[actix_web::test]
async fn stock_is_set_and_adjusted_atomically_and_never_goes_negative() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let created = create(
        &app,
        &manager,
        &product("stocked", "travel", "abs", [55, 40, 20], 9900, &[5]),
    )
    .await;
    let product_id = created["id"].as_str().unwrap().to_owned();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();

    let set = app
        .authed(
            Method::PUT,
            &format!("/v1/admin/variants/{variant}/stock"),
            &manager,
        )
        .json(&json!({"available": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(set, StatusCode::OK).await["available"], 10);

    let negative = app
        .authed(
            Method::PUT,
            &format!("/v1/admin/variants/{variant}/stock"),
            &manager,
        )
        .json(&json!({"available": -1}))
        .send()
        .await
        .unwrap();
    assert_problem(
        negative,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;

    let too_many = app
        .authed(
            Method::POST,
            &format!("/v1/admin/variants/{variant}/stock-adjustments"),
            &manager,
        )
        .json(&json!({"delta": -11, "reason": "stock take"}))
        .send()
        .await
        .unwrap();
    assert_problem(too_many, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(stock_of(&app, &product_id).await, 10);

    // Found by schemathesis: the smallest i32 overflowed the size check (a panic, in debug).
    for delta in [i64::from(i32::MIN), 1_000_001, 0] {
        let refused = app
            .authed(
                Method::POST,
                &format!("/v1/admin/variants/{variant}/stock-adjustments"),
                &manager,
            )
            .json(&json!({"delta": delta, "reason": "stock take"}))
            .send()
            .await
            .unwrap();
        assert_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
    }
    assert_eq!(stock_of(&app, &product_id).await, 10);

    // Twenty concurrent removals of one unit from ten: exactly ten succeed.
    let path = format!("/v1/admin/variants/{variant}/stock-adjustments");
    let attempts = (0..20).map(|_| {
        app.authed(Method::POST, &path, &manager)
            .json(&json!({"delta": -1, "reason": "damaged"}))
            .send()
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(stock_of(&app, &product_id).await, 0);
}

#[actix_web::test]
async fn stock_adjustments_stop_at_the_cap_and_never_wrap() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let created = create(
        &app,
        &manager,
        &product("capped", "travel", "abs", [55, 40, 20], 9900, &[5]),
    )
    .await;
    let product_id = created["id"].as_str().unwrap().to_owned();
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/admin/variants/{variant}/stock-adjustments");
    let adjust = |delta: i32| {
        app.authed(Method::POST, &path, &manager)
            .json(&json!({"delta": delta, "reason": "delivery"}))
            .send()
    };
    let full = adjust(999_995).await.unwrap();
    assert_eq!(json_of(full, StatusCode::OK).await["available"], 1_000_000);
    // What wrapped the count to −2,145,967,296 after 2,148 of these is refused each time.
    for delta in [1, 1_000_000, 1_000_000, 1_000_000] {
        let refused = adjust(delta).await.unwrap();
        let problem = assert_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "delta");
    }
    assert_eq!(stock_of(&app, &product_id).await, 1_000_000);
    let down = adjust(-400_000).await.unwrap();
    assert_eq!(json_of(down, StatusCode::OK).await["available"], 600_000);
}

#[actix_web::test]
async fn consultations_are_private_until_an_answer_is_published() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let support = app.staff(Role::Support).await;
    let created = create(
        &app,
        &manager,
        &product("asked-about", "travel", "abs", [55, 40, 20], 9900, &[1]),
    )
    .await;
    let product_id = created["id"].as_str().unwrap();
    let path = format!("/v1/products/{product_id}/consultations");
    let ask = |question: &str, email: Option<&str>| {
        let mut body = json!({"question": question});
        if let Some(e) = email {
            body["contact_email"] = json!(e);
        }
        app.client.post(app.url(&path)).json(&body).send()
    };
    let refused = ask("My card 4111 1111 1111 1111, does it ship?", None)
        .await
        .unwrap();
    assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sensitive-data-refused",
    )
    .await;
    let response = ask(
        "Does my 15-inch laptop fit? I am Ada from Paris.",
        Some("ada@example.com"),
    )
    .await
    .unwrap();
    let receipt = json_of(response, StatusCode::CREATED).await;
    let cid = receipt["id"].as_str().unwrap();
    assert_eq!(receipt["status"], "open");

    let public = format!("/v1/products/{product_id}/consultations");
    let empty = json_of(app.get(&public).await, StatusCode::OK).await;
    assert_eq!(empty["data"], json!([]));

    let queue = json_of(
        app.get_as("/v1/admin/consultations", &support).await,
        StatusCode::OK,
    )
    .await;
    let item = &queue["data"][0];
    assert_eq!(
        item["question"],
        "Does my 15-inch laptop fit? I am Ada from Paris."
    );
    assert_eq!(item["has_contact_email"], true);
    assert!(!queue.to_string().contains("ada@example.com"));

    let answered = app
        .authed(Method::POST, &format!("/v1/admin/consultations/{cid}/answer"), &support)
        .json(&json!({"answer": "Yes, up to 15.6 inches.", "public_question": "Does a 15-inch laptop fit?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    let published = json_of(app.get(&public).await, StatusCode::OK).await;
    assert_eq!(
        published["data"][0]["question"],
        "Does a 15-inch laptop fit?"
    );
    assert_eq!(published["data"][0]["answer"], "Yes, up to 15.6 inches.");
    let text = published.to_string();
    assert!(!text.contains("Ada") && !text.contains("ada@example.com"));

    // Support's read of the question is in the audit log.
    let officer = app.staff(Role::PrivacyOfficer).await;
    let log = json_of(
        app.get_as(&format!("/v1/admin/audit?subject_id={cid}"), &officer)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(log["data"][0]["action"], "consultation.read");
    assert_eq!(log["data"][0]["actor_id"], support.user_id);
}

#[test]
fn the_demo_seed_is_idempotent_and_complete() {
    let (url, _guard) = crate::helpers::TestDatabase::create();
    let run = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_valise"))
            .args(["seed", "--demo"])
            .env("DATABASE_URL", url.to_env_value())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let first = run();
    assert!(first.contains("seeded 240/240"), "{first}");
    assert!(first.contains("240 new products"), "{first}");
    assert!(run().contains("0 new products"));

    let db = valise::db::Db::connect(&url, 1).unwrap();
    let mut pooled = db.get().unwrap();
    let conn = &mut *pooled;
    use diesel::prelude::*;
    use valise::db::schema::{products, variants};
    let product_count: i64 = products::table.count().get_result(conn).unwrap();
    let variant_count: i64 = variants::table.count().get_result(conn).unwrap();
    assert!(
        product_count >= 200 && variant_count >= 600,
        "{product_count} / {variant_count}"
    );
    let classes: Vec<String> = products::table
        .select(products::size_class)
        .distinct()
        .load(conn)
        .unwrap();
    assert_eq!(classes.len(), 5);
}
