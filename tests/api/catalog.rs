//! The public catalogue: filters and their combinations on a known catalogue, `fits` in
//! every orientation, pagination under concurrent inserts, ETags, bad parameters.

use std::collections::{BTreeSet, HashSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::{create, product};
use crate::helpers::{assert_problem, eventually, json_of, Session, TestApp};

/// The known catalogue: slug → (class, style, material, price, in stock).
async fn known_catalogue(app: &TestApp) -> Session {
    let manager = app.staff(Role::Manager).await;
    for p in [
        product("tiny-tote", "kids", "nylon", [40, 30, 15], 4900, &[5]),
        product(
            "cabin-poly",
            "travel",
            "polycarbonate",
            [55, 40, 20],
            12900,
            &[3, 0],
        ),
        product(
            "cabin-alu",
            "business",
            "aluminium",
            [20, 40, 55],
            39900,
            &[0],
        ),
        product("medium-abs", "travel", "abs", [66, 44, 27], 14900, &[8]),
        product(
            "large-poly",
            "adventure",
            "polycarbonate",
            [76, 52, 30],
            17900,
            &[0, 0],
        ),
        product(
            "xl-leather",
            "weekender",
            "leather",
            [83, 56, 33],
            49900,
            &[1],
        ),
        product(
            "deep-cabin",
            "business",
            "polyester",
            [55, 40, 25],
            9900,
            &[4],
        ),
    ] {
        create(app, &manager, &p).await;
    }
    manager
}

async fn slugs(app: &TestApp, query: &str) -> BTreeSet<String> {
    let response = app.get(&format!("/v1/products?limit=100&{query}")).await;
    let body = json_of(response, StatusCode::OK).await;
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[actix_web::test]
async fn filters_and_their_combinations_find_exactly_the_right_products() {
    let app = TestApp::spawn().await;
    known_catalogue(&app).await;
    for (query, expected) in [
        ("size_class=underseat", set(&["tiny-tote"])),
        ("size_class=cabin", set(&["cabin-poly", "cabin-alu"])),
        ("size_class=medium", set(&["medium-abs", "deep-cabin"])),
        ("size_class=large", set(&["large-poly"])),
        ("size_class=extra_large", set(&["xl-leather"])),
        ("style=business", set(&["cabin-alu", "deep-cabin"])),
        ("material=polycarbonate", set(&["cabin-poly", "large-poly"])),
        (
            "min_price=10000&max_price=20000",
            set(&["cabin-poly", "medium-abs", "large-poly"]),
        ),
        ("max_price=9900", set(&["tiny-tote", "deep-cabin"])),
        (
            "in_stock=true",
            set(&[
                "tiny-tote",
                "cabin-poly",
                "medium-abs",
                "xl-leather",
                "deep-cabin",
            ]),
        ),
        ("in_stock=false", set(&["cabin-alu", "large-poly"])),
        (
            "style=travel&in_stock=true&max_price=13000",
            set(&["cabin-poly"]),
        ),
        (
            "material=polycarbonate&size_class=large",
            set(&["large-poly"]),
        ),
        ("size_class=cabin&in_stock=true", set(&["cabin-poly"])),
        ("q=leather", set(&["xl-leather"])),
        ("q=CAB", set(&["cabin-poly", "cabin-alu", "deep-cabin"])),
        ("q=cabin%20alu", set(&["cabin-alu"])),
        ("q=nothing-like-this", set(&[])),
    ] {
        assert_eq!(slugs(&app, query).await, expected, "{query}");
    }
}

#[actix_web::test]
async fn fits_matches_in_every_orientation() {
    let app = TestApp::spawn().await;
    known_catalogue(&app).await;
    let expected = set(&["tiny-tote", "cabin-poly", "cabin-alu"]);
    for box_ in ["55x40x23", "23x55x40", "40x23x55", "40X55X23"] {
        assert_eq!(
            slugs(&app, &format!("fits={box_}")).await,
            expected,
            "{box_}"
        );
    }
    assert_eq!(slugs(&app, "fits=45x36x20").await, set(&["tiny-tote"]));
    assert_eq!(
        slugs(&app, "fits=55x40x25").await.len(),
        4,
        "deep-cabin fits a deeper box"
    );
}

#[actix_web::test]
async fn sorting_by_price_both_ways_and_newest() {
    let app = TestApp::spawn().await;
    known_catalogue(&app).await;
    let order = |body: Value| -> Vec<i64> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["price"]["amount"].as_i64().unwrap())
            .collect()
    };
    let asc = order(json_of(app.get("/v1/products?sort=price").await, StatusCode::OK).await);
    let mut sorted = asc.clone();
    sorted.sort();
    assert_eq!(asc, sorted);
    let desc = order(json_of(app.get("/v1/products?sort=-price").await, StatusCode::OK).await);
    assert_eq!(desc, asc.iter().rev().copied().collect::<Vec<_>>());
    let newest = json_of(
        app.get("/v1/products?sort=newest&limit=1").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(newest["data"][0]["slug"], "deep-cabin");
}

async fn walk(
    app: &TestApp,
    first: &str,
    mut between_pages: impl FnMut(usize) -> Option<Value>,
    manager: &Session,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = first.to_owned();
    let mut page = 0;
    loop {
        let body = json_of(app.get(&path).await, StatusCode::OK).await;
        for p in body["data"].as_array().unwrap() {
            seen.push(p["slug"].as_str().unwrap().to_owned());
        }
        if let Some(new_product) = between_pages(page) {
            create(app, manager, &new_product).await;
        }
        page += 1;
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("{first}&cursor={cursor}"),
            None => break,
        }
    }
    seen
}

#[actix_web::test]
async fn pagination_visits_each_product_once_while_products_are_added() {
    let app = TestApp::spawn().await;
    let manager = known_catalogue(&app).await;
    let before: HashSet<String> = slugs(&app, "").await.into_iter().collect();
    for sort in ["newest", "price", "-price"] {
        let first = format!("/v1/products?limit=2&sort={sort}");
        let seen = walk(
            &app,
            &first,
            |page| {
                let tag = match sort {
                    "newest" => "n",
                    "price" => "p",
                    _ => "d",
                };
                Some(product(
                    &format!("added-{tag}-{page}"),
                    "travel",
                    "abs",
                    [60, 40, 25],
                    5000 + page as i64 * 7000,
                    &[1],
                ))
            },
            &manager,
        )
        .await;
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{sort}: a product was repeated: {seen:?}"
        );
        for slug in &before {
            assert!(seen.contains(slug), "{sort}: {slug} was skipped: {seen:?}");
        }
    }
}

#[actix_web::test]
async fn a_product_by_id_or_slug_with_etag_and_304() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let created = create(
        &app,
        &manager,
        &product("etag-case", "travel", "abs", [55, 40, 20], 9900, &[2, 5]),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["size_class"], "cabin");
    assert_eq!(
        created["price"],
        json!({"amount": 9900, "currency": "EUR", "minor_unit": 2})
    );

    for path in [
        format!("/v1/products/{id}"),
        "/v1/products/etag-case".to_owned(),
    ] {
        let first = app.get(&path).await;
        assert_eq!(first.status(), StatusCode::OK);
        assert!(first.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public"));
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let body: Value = first.json().await.unwrap();
        assert_eq!(body["variants"].as_array().unwrap().len(), 2);
        let again = app
            .client
            .get(app.url(&path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
    assert_problem(
        app.get("/v1/products/no-such-case").await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
}

#[actix_web::test]
async fn an_archived_product_leaves_listings_but_stays_readable() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let created = create(
        &app,
        &manager,
        &product("old-model", "travel", "abs", [55, 40, 20], 9900, &[2]),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let response = app
        .authed(
            Method::DELETE,
            &format!("/v1/admin/products/{id}"),
            &manager,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let gone = eventually(std::time::Duration::from_secs(3), || async {
        !slugs(&app, "").await.contains("old-model")
    })
    .await;
    assert!(gone, "archived product still listed");
    let body = json_of(app.get(&format!("/v1/products/{id}")).await, StatusCode::OK).await;
    assert_eq!(body["status"], "archived");
}

#[actix_web::test]
async fn a_catalogue_change_reaches_every_instance_within_a_second_or_so() {
    let app = TestApp::spawn().await;
    let other = app.spawn_sibling().await;
    let manager = app.staff(Role::Manager).await;
    let created = create(
        &app,
        &manager,
        &product("renamed", "travel", "abs", [55, 40, 20], 9900, &[2]),
    )
    .await;
    // Warm the other instance's cache.
    assert!(slugs(&other, "q=renamed").await.contains("renamed"));
    let response = app
        .authed(
            Method::PATCH,
            &format!("/v1/admin/products/{}", created["id"].as_str().unwrap()),
            &manager,
        )
        .json(&json!({"name": "Brand New Name"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = eventually(std::time::Duration::from_secs(3), || async {
        let body = json_of(
            other.get("/v1/products?q=brand%20new").await,
            StatusCode::OK,
        )
        .await;
        body["data"].as_array().unwrap().len() == 1
    })
    .await;
    assert!(seen, "the other instance kept serving the old listing");
}

#[actix_web::test]
async fn invalid_listing_parameters_are_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("size_class=huge", "size_class"),
        ("style=gothic", "style"),
        ("material=titanium", "material"),
        ("fits=55x40", "fits"),
        ("fits=axbxc", "fits"),
        ("sort=cheapest", "sort"),
        ("min_price=-1", "min_price"),
        ("min_price=500&max_price=100", "max_price"),
        ("in_stock=maybe", "in_stock"),
        ("q=a", "q"),
        ("limit=0", "limit"),
        ("cursor=bm9wZQ", "cursor"),
        // `colour` is a filter; its American spelling is not.
        ("color=red", "color"),
    ] {
        let body = assert_problem(
            app.get(&format!("/v1/products?{query}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    // A cursor from one order is not accepted by another.
    let app_cursor = {
        let manager = app.staff(Role::Manager).await;
        for i in 0..3 {
            create(
                &app,
                &manager,
                &product(&format!("c-{i}"), "travel", "abs", [55, 40, 20], 9900, &[1]),
            )
            .await;
        }
        let body = json_of(
            app.get("/v1/products?limit=1&sort=price").await,
            StatusCode::OK,
        )
        .await;
        body["next_cursor"].as_str().unwrap().to_owned()
    };
    let body = assert_problem(
        app.get(&format!("/v1/products?sort=newest&cursor={app_cursor}"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "cursor");
}

#[actix_web::test]
async fn a_read_replica_serves_the_catalogue_when_configured() {
    if crate::helpers::postgres_admin_url().is_none() {
        eprintln!("skipped: a read replica needs PostgreSQL (CI runs it there)");
        return;
    }
    // The primary stands in for its replica: reads must go through the second pool and work.
    let app =
        TestApp::spawn_configured(|c| c.read_database_url = Some(c.database_url.clone())).await;
    let manager = app.staff(Role::Manager).await;
    create(
        &app,
        &manager,
        &product("replicated", "travel", "abs", [55, 40, 20], 9900, &[1]),
    )
    .await;
    assert!(slugs(&app, "q=replicated").await.contains("replicated"));
    assert_eq!(
        app.get("/v1/products/replicated").await.status(),
        StatusCode::OK
    );
}

/// The slugs of a listing answer, in order.
fn listed(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_listing_is_cached_by_its_exact_query_and_still_follows_the_catalogue() {
    let app = TestApp::spawn().await;
    let manager = known_catalogue(&app).await;
    let get = |path: String| {
        let app = &app;
        async move {
            let response = app.get(&path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let etag = response.headers()["etag"].to_str().unwrap().to_owned();
            (etag, response.json::<Value>().await.unwrap())
        }
    };
    let exact = "/v1/products?size_class=cabin&sort=price&limit=10".to_owned();
    let (etag, first) = get(exact.clone()).await;
    let cabins = listed(&first);
    assert!(cabins.len() >= 2, "{cabins:?}");
    // The same string again is the cached answer; the same filter spelt in another order is
    // rendered under its own key and says the same.
    assert_eq!(get(exact.clone()).await, (etag.clone(), first.clone()));
    let reordered = "/v1/products?limit=10&sort=price&size_class=cabin".to_owned();
    assert_eq!(get(reordered).await.1, first);
    // A query string too long to be a key as it is (twenty brands) is cached by its parsed
    // form: answered, and answered the same way again.
    let brands: String = (0..20).map(|i| format!("&brand=Nobrand{i:02}")).collect();
    let long = format!("/v1/products?size_class=cabin&sort=price&limit=10{brands}");
    assert!(long.len() > 300);
    let (long_etag, long_body) = get(long.clone()).await;
    assert_eq!(listed(&long_body), Vec::<String>::new());
    assert_eq!(get(long).await.0, long_etag);
    // An invalid query is refused, whatever was cached before it.
    assert_problem(
        app.get("/v1/products?size_class=cabin&sort=price&limit=0")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    // A catalogue change reaches the exact key too: the cheapest cabin case leaves.
    let cheapest = json_of(
        app.get(&format!("/v1/products/{}", cabins[0])).await,
        StatusCode::OK,
    )
    .await;
    let id = cheapest["id"].as_str().unwrap().to_owned();
    let response = app
        .authed(
            Method::DELETE,
            &format!("/v1/admin/products/{id}"),
            &manager,
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert!(
        eventually(std::time::Duration::from_secs(5), || async {
            listed(&get(exact.clone()).await.1) == cabins[1..]
        })
        .await,
        "the archived product left the cached listing"
    );
}
