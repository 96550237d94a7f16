//! What luggage buyers filter by (wheels, features, colour, brand, weight, capacity) and the
//! facet counts of a listing, before and after a catalogue edit.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::{create, product};
use crate::helpers::{assert_problem, eventually, json_of, Session, TestApp};

/// A product with these luggage attributes and one active variant per colour.
#[allow(clippy::too_many_arguments)]
fn luggage(
    slug: &str,
    brand: &str,
    wheels: &str,
    features: &[&str],
    weight_g: i32,
    capacity_l: i32,
    colours: &[&str],
) -> Value {
    let mut p = product(slug, "travel", "abs", [55, 40, 20], 9900, &[]);
    p["brand"] = json!(brand);
    p["wheels"] = json!(wheels);
    p["features"] = json!(features);
    p["weight_g"] = json!(weight_g);
    p["capacity_l"] = json!(capacity_l);
    p["variants"] = colours
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"sku": format!("{}-{i}", slug.to_uppercase()), "color": c, "available": 3}))
        .collect();
    p
}

/// slug → brand, wheels, features, weight, capacity, colours.
async fn luggage_catalogue(app: &TestApp) -> (Session, Vec<Value>) {
    let manager = app.staff(Role::Manager).await;
    let mut created = Vec::new();
    for p in [
        luggage(
            "aero-cabin",
            "Aero",
            "spinner",
            &["tsa_lock", "expandable"],
            2300,
            36,
            &["black", "sage"],
        ),
        luggage(
            "aero-check",
            "Aero",
            "spinner",
            &["tsa_lock"],
            3900,
            90,
            &["black"],
        ),
        luggage(
            "nord-duffel",
            "Nordkap",
            "two",
            &["water_resistant"],
            1800,
            60,
            &["olive"],
        ),
        luggage(
            "nord-pack",
            "Nordkap",
            "none",
            &[],
            1200,
            30,
            &["black", "olive"],
        ),
        luggage(
            "vali-usb",
            "Valise",
            "four",
            &["tsa_lock", "usb_port"],
            2900,
            42,
            &["navy"],
        ),
    ] {
        created.push(create(app, &manager, &p).await);
    }
    (manager, created)
}

async fn listing(app: &TestApp, query: &str) -> Value {
    json_of(
        app.get(&format!("/v1/products?limit=100&{query}")).await,
        StatusCode::OK,
    )
    .await
}

async fn slugs(app: &TestApp, query: &str) -> BTreeSet<String> {
    listing(app, query).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `[{"value": v, "count": n}, …]` as pairs.
fn counts(facet: &Value) -> Vec<(String, u64)> {
    facet
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["value"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, u64)]) -> Vec<(String, u64)> {
    items.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect()
}

#[actix_web::test]
async fn each_luggage_filter_finds_exactly_the_right_products() {
    let app = TestApp::spawn().await;
    luggage_catalogue(&app).await;
    for (query, expected) in [
        ("wheels=spinner", set(&["aero-cabin", "aero-check"])),
        ("wheels=none", set(&["nord-pack"])),
        (
            "feature=tsa_lock",
            set(&["aero-cabin", "aero-check", "vali-usb"]),
        ),
        ("feature=tsa_lock&feature=expandable", set(&["aero-cabin"])),
        (
            "feature=usb_port&feature=tsa_lock&feature=usb_port",
            set(&["vali-usb"]),
        ),
        ("feature=laptop_compartment", set(&[])),
        ("brand=Nordkap", set(&["nord-duffel", "nord-pack"])),
        (
            "brand=Nordkap&brand=Valise",
            set(&["nord-duffel", "nord-pack", "vali-usb"]),
        ),
        ("brand=Nobody", set(&[])),
        (
            "colour=black",
            set(&["aero-cabin", "aero-check", "nord-pack"]),
        ),
        (
            "colour=olive&colour=navy",
            set(&["nord-duffel", "nord-pack", "vali-usb"]),
        ),
        ("colour=mauve", set(&[])),
        (
            "max_weight_g=2300",
            set(&["aero-cabin", "nord-duffel", "nord-pack"]),
        ),
        ("min_capacity_l=60", set(&["aero-check", "nord-duffel"])),
        (
            "wheels=spinner&colour=sage&max_weight_g=3000&min_capacity_l=30",
            set(&["aero-cabin"]),
        ),
    ] {
        assert_eq!(slugs(&app, query).await, expected, "{query}");
    }
}

#[actix_web::test]
async fn facets_count_the_whole_filtered_result_and_only_when_asked() {
    let app = TestApp::spawn().await;
    luggage_catalogue(&app).await;
    let plain = listing(&app, "brand=Aero&brand=Nordkap").await;
    assert!(plain.get("facets").is_none(), "{plain}");

    // Facets count every page, not only the one shown.
    let body = json_of(
        app.get("/v1/products?brand=Aero&brand=Nordkap&facets=true&limit=1")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let facets = &body["facets"];
    assert_eq!(facets["total"], 4, "{facets}");
    assert_eq!(
        counts(&facets["brand"]),
        pairs(&[("Aero", 2), ("Nordkap", 2)])
    );
    assert_eq!(
        counts(&facets["wheels"]),
        pairs(&[("spinner", 2), ("none", 1), ("two", 1)])
    );
    assert_eq!(
        counts(&facets["feature"]),
        pairs(&[("tsa_lock", 2), ("expandable", 1), ("water_resistant", 1)])
    );
    assert_eq!(
        counts(&facets["colour"]),
        pairs(&[("black", 3), ("olive", 2), ("sage", 1)])
    );
    let weight: Vec<(i64, u64)> = facets["weight"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["max_weight_g"].as_i64().unwrap(),
                w["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        weight,
        [(2000, 2), (2500, 3), (3000, 3), (4000, 4), (5000, 4)]
    );
    let capacity: Vec<(i64, u64)> = facets["capacity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["min_capacity_l"].as_i64().unwrap(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        capacity,
        [(20, 4), (30, 4), (40, 2), (60, 2), (80, 1), (100, 0)]
    );

    // A facet's count is what adding its value to the filter finds.
    let narrowed = listing(&app, "brand=Aero&brand=Nordkap&colour=olive&facets=true").await;
    assert_eq!(narrowed["facets"]["total"], 2);
    assert_eq!(narrowed["data"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn equivalent_queries_share_one_rendering() {
    let app = TestApp::spawn().await;
    luggage_catalogue(&app).await;
    let a = app
        .get("/v1/products?facets=true&brand=Nordkap&brand=Aero&feature=tsa_lock")
        .await;
    let etag_a = a.headers()["etag"].to_str().unwrap().to_owned();
    let b = app
        .get("/v1/products?feature=tsa_lock&brand=Aero&facets=true&brand=Nordkap&brand=Aero")
        .await;
    assert_eq!(b.headers()["etag"].to_str().unwrap(), etag_a);
    assert_eq!(
        json_of(a, StatusCode::OK).await,
        json_of(b, StatusCode::OK).await
    );
}

#[actix_web::test]
async fn facets_follow_a_catalogue_edit() {
    let app = TestApp::spawn().await;
    let (manager, created) = luggage_catalogue(&app).await;
    let query = "/v1/products?feature=tsa_lock&facets=true";
    let before = json_of(app.get(query).await, StatusCode::OK).await;
    assert_eq!(
        counts(&before["facets"]["brand"]),
        pairs(&[("Aero", 2), ("Valise", 1)])
    );
    // The Valise case changes brand: the cached page is not served any more.
    let id = created[4]["id"].as_str().unwrap();
    let response = app
        .authed(Method::PATCH, &format!("/v1/admin/products/{id}"), &manager)
        .json(&json!({"brand": "Aero"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        eventually(Duration::from_secs(5), || async {
            let body = json_of(app.get(query).await, StatusCode::OK).await;
            counts(&body["facets"]["brand"]) == pairs(&[("Aero", 3)])
        })
        .await,
        "the facets never showed the new brand"
    );
}

#[actix_web::test]
async fn unknown_filter_values_are_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("wheels=three", "wheels"),
        ("feature=jetpack", "feature"),
        ("feature=tsa_lock&feature=TSA_LOCK", "feature"),
        ("brand=", "brand"),
        ("colour=%20", "colour"),
        ("max_weight_g=-1", "max_weight_g"),
        ("max_weight_g=heavy", "max_weight_g"),
        ("min_capacity_l=-5", "min_capacity_l"),
        ("facets=perhaps", "facets"),
    ] {
        let body = assert_problem(
            app.get(&format!("/v1/products?{query}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    let many = vec!["brand=x"; 21].join("&");
    let body = assert_problem(
        app.get(&format!("/v1/products?{many}")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "brand");
}
