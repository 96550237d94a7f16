//! Pictures per variant: alt text and size required, shown with the variant, replaced by an
//! edit of the variant; the product's own pictures keep working.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::{create, product};
use crate::helpers::{assert_problem, json_of, TestApp};

fn image(name: &str, alt: &str) -> Value {
    json!({"url": format!("https://cdn.example.com/{name}.jpg"), "alt": alt, "width": 1600, "height": 2000})
}

#[actix_web::test]
async fn variant_pictures_are_shown_with_their_variant_and_replaced_by_an_edit() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let mut body = product("pictured", "travel", "abs", [55, 40, 20], 9900, &[2, 4]);
    body["images"] = json!(["https://cdn.example.com/pictured.jpg"]);
    body["variants"][1]["images"] = json!([
        image("sage-front", "Sage case, front"),
        image("sage-back", "Sage case, back")
    ]);
    let created = create(&app, &manager, &body).await;
    assert_eq!(created["variants"][0]["images"], json!([]));
    let variant = created["variants"][1]["id"].as_str().unwrap().to_owned();

    let view = json_of(app.get("/v1/products/pictured").await, StatusCode::OK).await;
    assert_eq!(
        view["images"],
        json!(["https://cdn.example.com/pictured.jpg"])
    );
    let shown = &view["variants"][1];
    assert_eq!(shown["id"], variant.as_str());
    assert_eq!(shown["images"][0], image("sage-front", "Sage case, front"));
    assert_eq!(shown["images"][1]["alt"], "Sage case, back");
    // The listing shows them too.
    let list = json_of(app.get("/v1/products?q=pictured").await, StatusCode::OK).await;
    assert_eq!(list["data"][0]["variants"][1]["images"][1]["width"], 1600);

    let edited = app
        .authed(
            Method::PATCH,
            &format!("/v1/admin/variants/{variant}"),
            &manager,
        )
        .json(&json!({"images": [image("sage-side", "Sage case, side")]}))
        .send()
        .await
        .unwrap();
    let edited = json_of(edited, StatusCode::OK).await;
    assert_eq!(
        edited["images"],
        json!([image("sage-side", "Sage case, side")])
    );
    let view = json_of(app.get("/v1/products/pictured").await, StatusCode::OK).await;
    assert_eq!(
        view["variants"][1]["images"],
        json!([image("sage-side", "Sage case, side")])
    );
    // An edit of something else keeps them.
    let recoloured = app
        .authed(
            Method::PATCH,
            &format!("/v1/admin/variants/{variant}"),
            &manager,
        )
        .json(&json!({"color": "sage green"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(recoloured, StatusCode::OK).await["images"][0]["alt"],
        "Sage case, side"
    );
}

#[actix_web::test]
async fn a_picture_without_alt_text_or_size_is_refused() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let created = create(
        &app,
        &manager,
        &product("alt-check", "travel", "abs", [55, 40, 20], 9900, &[2]),
    )
    .await;
    let variant = created["variants"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/admin/variants/{variant}");
    let good = image("a", "Front");
    for (bad, field) in [
        (
            json!({"url": "https://cdn.example.com/a.jpg", "width": 10, "height": 10}),
            "images",
        ),
        (
            json!({"url": "https://cdn.example.com/a.jpg", "alt": "", "width": 10, "height": 10}),
            "images[1].alt",
        ),
        (
            json!({"url": "https://cdn.example.com/a.jpg", "alt": "a".repeat(201), "width": 10, "height": 10}),
            "images[1].alt",
        ),
        (
            json!({"url": "http://cdn.example.com/a.jpg", "alt": "Front", "width": 10, "height": 10}),
            "images[1].url",
        ),
        (
            json!({"url": "https://cdn.example.com/a.jpg", "alt": "Front", "width": 0, "height": 10}),
            "images[1].width",
        ),
        (
            json!({"url": "https://cdn.example.com/a.jpg", "alt": "Front", "width": 10, "height": -1}),
            "images[1].height",
        ),
    ] {
        let response = app
            .authed(Method::PATCH, &path, &manager)
            .json(&json!({"images": [good, bad]}))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert!(
            problem["errors"][0]["field"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{bad}: {problem}"
        );
    }
    // On create too, named below the variant.
    let mut body = product("alt-new", "travel", "abs", [55, 40, 20], 9900, &[2]);
    body["variants"][0]["images"] =
        json!([{"url": "https://cdn.example.com/a.jpg", "alt": " ", "width": 1, "height": 1}]);
    let refused = app
        .authed(Method::POST, "/v1/admin/products", &manager)
        .json(&body)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "variants[0].images[0].alt");
    // Nothing was written.
    let view = json_of(app.get("/v1/products/alt-check").await, StatusCode::OK).await;
    assert_eq!(view["variants"][0]["images"], json!([]));
}
