//! Staff tools: order search (by e-mail through the blind index, number, status, dates),
//! the accounting CSV export of orders, and the catalogue CSV export and import.

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::db::schema::audit_log;

use crate::fixtures::{
    checkout, checkout_body, create, customer_order, guest_cart, product, stocked_variant,
};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp};

async fn search(app: &TestApp, staff: &Session, body: Value) -> reqwest::Response {
    app.authed(Method::POST, "/v1/admin/orders/search", staff)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn numbers(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect()
}

/// A guest's order of one `variant`, placed with `email`; returns its number.
async fn guest_order(app: &TestApp, variant: &str, email: &str) -> String {
    let cart = guest_cart(app, variant, 1).await;
    let placed = checkout(
        app,
        &cart,
        &uuid::Uuid::now_v7().to_string(),
        &checkout_body(email),
    )
    .await;
    json_of(placed, StatusCode::CREATED).await["number"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Audit entries of `action`: (fields, the whole row as text).
async fn audited(app: &TestApp, action: &'static str) -> Vec<(String, String)> {
    app.query(move |conn| {
        audit_log::table
            .filter(audit_log::action.eq(action))
            .select((
                audit_log::fields,
                audit_log::purpose,
                audit_log::subject_id,
                audit_log::actor_id,
            ))
            .load::<(String, String, Option<String>, Option<String>)>(conn)
    })
    .await
    .into_iter()
    .map(|(fields, purpose, subject, actor)| {
        let all = format!("{fields} {purpose} {subject:?} {actor:?}");
        (fields, all)
    })
    .collect()
}

#[actix_web::test]
async fn search_by_email_finds_a_customers_and_a_guests_orders_and_only_them() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "search-mail", 20, 5000).await;
    let customer = app.register(&unique_email("ada"), "Ada Lovelace").await;
    let other = app.register(&unique_email("bob"), "Bob Other").await;
    let mine = customer_order(&app, &customer, &variant).await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    customer_order(&app, &other, &variant).await;
    let guest_email = unique_email("guest");
    let guest = guest_order(&app, &variant, &guest_email).await;
    guest_order(&app, &variant, &unique_email("someone")).await;
    let support = app.staff(Role::Support).await;

    assert_problem(
        search(&app, &customer, json!({"email": customer.email})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Normalised: case and surrounding spaces do not matter.
    let found = json_of(
        search(
            &app,
            &support,
            json!({"email": format!("  {}  ", customer.email.to_uppercase())}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(numbers(&found), vec![mine.clone()]);
    assert_eq!(found["data"][0]["customer"], "registered");
    assert_eq!(
        found["data"][0]["shipping_address"],
        json!({"visibility": "masked", "initials": "Q.Z.", "city": "Marseille", "country": "FR"})
    );
    let text = found.to_string();
    assert!(!text.contains("Xylophones") && !text.contains(&customer.email));

    let found = json_of(
        search(&app, &support, json!({"email": guest_email})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(numbers(&found), vec![guest.clone()]);
    assert_eq!(found["data"][0]["customer"], "guest");

    let nobody = json_of(
        search(&app, &support, json!({"email": unique_email("nobody")})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(nobody["data"], json!([]));
    let invalid = assert_problem(
        search(&app, &support, json!({"email": "not an address"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(invalid["errors"][0]["field"], "email");
    assert!(!invalid.to_string().contains("not an address"));

    // One entry per search, naming the filter kind, never the address.
    let entries = audited(&app, "order.search").await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    for (fields, all) in &entries {
        assert_eq!(fields, "email");
        assert!(!all.contains('@'), "{all}");
    }
}

#[actix_web::test]
async fn search_filters_by_number_status_and_dates_sorts_and_paginates() {
    let app = TestApp::spawn().await;
    let cheap = stocked_variant(&app, "search-cheap", 20, 3000).await;
    let dear = stocked_variant(&app, "search-dear", 20, 9000).await;
    let mid = stocked_variant(&app, "search-mid", 20, 6000).await;
    let mut placed = Vec::new();
    for v in [&cheap, &dear, &mid] {
        placed.push(guest_order(&app, v, &unique_email("g")).await);
    }
    let support = app.staff(Role::Support).await;
    let page = |body: Value| {
        let (app, support) = (&app, &support);
        async move { json_of(search(app, support, body).await, StatusCode::OK).await }
    };

    assert_eq!(
        numbers(&page(json!({"number": placed[1]})).await),
        vec![placed[1].clone()]
    );
    assert_eq!(
        numbers(&page(json!({"status": "paid"})).await),
        Vec::<String>::new()
    );
    assert_eq!(
        numbers(&page(json!({"status": "pending_payment"})).await).len(),
        3
    );
    let future = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    assert_eq!(
        numbers(&page(json!({"placed_from": future})).await).len(),
        0
    );
    assert_eq!(
        numbers(&page(json!({"placed_from": past, "placed_to": future})).await).len(),
        3
    );
    assert_eq!(
        numbers(&page(json!({"sort": "placed_at_asc"})).await),
        placed
    );

    // Largest total first, two per page.
    let first = page(json!({"sort": "total_desc", "limit": 2})).await;
    assert_eq!(numbers(&first), vec![placed[1].clone(), placed[2].clone()]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = page(json!({"sort": "total_desc", "limit": 2, "cursor": cursor})).await;
    assert_eq!(numbers(&second), vec![placed[0].clone()]);
    assert_eq!(second["next_cursor"], Value::Null);
    let ascending = page(json!({"sort": "total_asc"})).await;
    assert_eq!(
        numbers(&ascending),
        vec![placed[0].clone(), placed[2].clone(), placed[1].clone()]
    );

    // A cursor belongs to its sort; limits are bounded.
    let refused = search(
        &app,
        &support,
        json!({"sort": "total_asc", "cursor": cursor}),
    )
    .await;
    assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let refused = search(&app, &support, json!({"limit": 101})).await;
    assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let refused = search(&app, &support, json!({"status": "lost"})).await;
    assert_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;

    let kinds: Vec<String> = audited(&app, "order.search")
        .await
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert!(kinds.contains(&"number".to_owned()) && kinds.contains(&"placed_at".to_owned()));
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[actix_web::test]
async fn the_order_export_is_csv_for_managers_without_personal_data_and_audited() {
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "export-case", 20, 12900).await;
    let email = unique_email("accounting");
    let number = guest_order(&app, &variant, &email).await;
    let support = app.staff(Role::Support).await;
    let manager = app.staff(Role::Manager).await;

    assert_problem(
        app.get_as("/v1/admin/orders/export.csv", &support).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let response = app.get_as("/v1/admin/orders/export.csv", &manager).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = response.text().await.unwrap();
    assert!(text.contains("\r\n"));
    assert!(!text.contains(&email) && !text.contains("Zephyrine") && !text.contains("Xylophones"));
    let rows = parse_csv(&text);
    assert_eq!(rows[0][0], "number");
    assert_eq!(rows[0].len(), 15);
    assert_eq!(rows.len(), 2);
    let row: std::collections::HashMap<&str, &str> = rows[0]
        .iter()
        .map(String::as_str)
        .zip(rows[1].iter().map(String::as_str))
        .collect();
    assert_eq!(row["number"], number);
    assert_eq!(row["status"], "pending_payment");
    assert_eq!(row["customer"], "guest");
    assert_eq!(row["currency"], "EUR");
    assert_eq!(row["subtotal"], "129.00");
    assert_eq!(row["country"], "FR");
    assert!(row["tax_by_rate"].contains('%'), "{}", row["tax_by_rate"]);

    // A range with no orders: the header alone.
    let future = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let empty = app
        .get_as(
            &format!("/v1/admin/orders/export.csv?from={future}"),
            &manager,
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(parse_csv(&empty).len(), 1);
    let refused = app
        .get_as("/v1/admin/orders/export.csv?from=yesterday", &manager)
        .await;
    assert!(refused.status().is_client_error());

    let entries = audited(&app, "order.export").await;
    assert_eq!(entries.len(), 2);
}

/// The catalogue export as rows, header first.
async fn catalog_csv(app: &TestApp, manager: &Session) -> Vec<Vec<String>> {
    let response = app.get_as("/v1/admin/catalog/export.csv", manager).await;
    assert_eq!(response.status(), StatusCode::OK);
    parse_csv(&response.text().await.unwrap())
}

fn to_csv(rows: &[Vec<String>]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.write_record(row).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

async fn import(app: &TestApp, manager: &Session, mode: &str, body: String) -> reqwest::Response {
    app.authed(
        Method::POST,
        &format!("/v1/admin/catalog/import?mode={mode}"),
        manager,
    )
    .header("content-type", "text/csv")
    .body(body)
    .send()
    .await
    .unwrap()
}

fn column(rows: &[Vec<String>], name: &str) -> usize {
    rows[0].iter().position(|c| c == name).unwrap()
}

#[actix_web::test]
async fn the_catalogue_round_trips_through_csv_with_formulas_guarded() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let mut body = product("csv-case", "travel", "abs", [55, 40, 20], 12900, &[5, 7]);
    body["name"] = json!("=HYPERLINK(\"http://evil.example\")");
    create(&app, &manager, &body).await;

    let customer = app.register(&unique_email("c"), "Cee Customer").await;
    assert_problem(
        app.get_as("/v1/admin/catalog/export.csv", &customer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let mut rows = catalog_csv(&app, &manager).await;
    assert_eq!(rows.len(), 3);
    let (name, sku, price, available, own) = (
        column(&rows, "name"),
        column(&rows, "sku"),
        column(&rows, "price"),
        column(&rows, "available"),
        column(&rows, "variant_price"),
    );
    assert_eq!(rows[1][name], "'=HYPERLINK(\"http://evil.example\")");
    assert_eq!(rows[1][sku], "CSV-CASE-0");
    assert_eq!(rows[1][price], "129.00");

    // Edit: a new base price, a count, and a new variant.
    for row in rows.iter_mut().skip(1) {
        row[price] = "119.50".into();
    }
    rows[2][available] = "42".into();
    let mut added = rows[2].clone();
    added[sku] = "CSV-CASE-9".into();
    added[own] = "99.00".into();
    added[available] = "3".into();
    rows.push(added);
    let report = json_of(
        import(&app, &manager, "all_or_nothing", to_csv(&rows)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["written"], 3);
    assert_eq!(report["variants_created"], 1);
    assert_eq!(report["rejected"], json!([]));

    let after = catalog_csv(&app, &manager).await;
    assert_eq!(after.len(), 4);
    assert_eq!(after[1][name], "'=HYPERLINK(\"http://evil.example\")");
    assert!(after.iter().skip(1).all(|r| r[price] == "119.50"));
    assert_eq!(after[2][available], "42");
    assert_eq!(after[3][sku], "CSV-CASE-9");
    assert_eq!(after[3][own], "99.00");
    let shop = json_of(app.get("/v1/products/csv-case").await, StatusCode::OK).await;
    assert_eq!(shop["name"], "=HYPERLINK(\"http://evil.example\")");
    assert_eq!(shop["variants"][1]["available"], 42);

    // Importing the export unchanged changes nothing.
    let again = json_of(
        import(&app, &manager, "all_or_nothing", to_csv(&after)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["products_updated"], 0);
    assert_eq!(again["variants_updated"], 0);
}

#[actix_web::test]
async fn an_import_reports_refused_rows_all_or_nothing_or_valid_rows() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    create(
        &app,
        &manager,
        &product("import-case", "travel", "abs", [55, 40, 20], 12900, &[5, 7]),
    )
    .await;
    let mut rows = catalog_csv(&app, &manager).await;
    let (available, style, sku) = (
        column(&rows, "available"),
        column(&rows, "style"),
        column(&rows, "sku"),
    );
    rows[1][available] = "11".into();
    rows[2][available] = "lots".into();
    rows[2][style] = "space".into();
    let mut duplicate = rows[1].clone();
    duplicate[sku] = "no spaces allowed".into();
    rows.push(duplicate);

    let problem = assert_problem(
        import(&app, &manager, "all_or_nothing", to_csv(&rows)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"rows[3].available"), "{fields:?}");
    assert!(fields.contains(&"rows[3].style"), "{fields:?}");
    assert!(fields.contains(&"rows[4].sku"), "{fields:?}");
    // Nothing written, not even the valid row.
    assert_eq!(catalog_csv(&app, &manager).await[1][available], "5");

    let report = json_of(
        import(&app, &manager, "valid_rows", to_csv(&rows)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["written"], 1);
    let rejected: Vec<(u64, &str)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert!(rejected.contains(&(3, "available")) && rejected.contains(&(4, "sku")));
    let after = catalog_csv(&app, &manager).await;
    assert_eq!(after[1][available], "11");
    assert_eq!(after[2][available], "7");
    assert_eq!(after.len(), 3);

    // A missing column, another media type, a customer.
    let header_only = "slug,name\r\n".to_owned();
    let missing = assert_problem(
        import(&app, &manager, "valid_rows", header_only).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    assert_eq!(missing["errors"][0]["field"], "rows[1].brand");
    let json_body = app
        .authed(Method::POST, "/v1/admin/catalog/import", &manager)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(
        json_body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    let customer = app.register(&unique_email("c"), "Cee Customer").await;
    assert_problem(
        import(&app, &customer, "valid_rows", to_csv(&rows)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[actix_web::test]
async fn a_catalogue_of_several_pages_is_exported_whole_and_in_order() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    // Three variants a product, one more product than fits a page: the last page starts
    // between two variants of one product.
    let page = valise::catalog::export::PAGE as usize;
    let products = page / 3 + 1;
    let mut rows = vec![[
        "slug",
        "name",
        "brand",
        "description",
        "style",
        "material",
        "wheels",
        "features",
        "warranty_years",
        "images",
        "height_cm",
        "width_cm",
        "depth_cm",
        "weight_g",
        "capacity_l",
        "price",
        "sku",
        "color",
        "variant_price",
        "available",
    ]
    .map(str::to_owned)
    .to_vec()];
    let mut expected = Vec::new();
    // Written in reverse: the export orders them itself.
    for p in (0..products).rev() {
        for v in ["C", "A", "B"] {
            let slug = format!("bulk-{p:03}");
            let sku = format!("BULK-{p:03}-{v}");
            expected.push((slug.clone(), sku.clone()));
            rows.push(
                [
                    slug.as_str(),
                    "Bulk case",
                    "Testbrand",
                    "A case among many.",
                    "travel",
                    "abs",
                    "spinner",
                    "tsa_lock",
                    "2",
                    "",
                    "55",
                    "40",
                    "20",
                    "2500",
                    "40",
                    "99.00",
                    sku.as_str(),
                    "black",
                    "",
                    "3",
                ]
                .map(str::to_owned)
                .to_vec(),
            );
        }
    }
    expected.sort();
    assert!(expected.len() > page);
    let report = json_of(
        import(&app, &manager, "all_or_nothing", to_csv(&rows)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["written"], expected.len());

    let exported = catalog_csv(&app, &manager).await;
    let (slug, sku) = (column(&exported, "slug"), column(&exported, "sku"));
    let got: Vec<(String, String)> = exported
        .iter()
        .skip(1)
        .map(|r| (r[slug].clone(), r[sku].clone()))
        .collect();
    assert_eq!(got, expected);
    // Every row whole: the page boundary cut no record.
    assert!(exported.iter().all(|r| r.len() == exported[0].len()));
    // Read back unchanged, it changes nothing.
    let again = json_of(
        import(&app, &manager, "all_or_nothing", to_csv(&exported)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["written"], expected.len());
    assert_eq!(again["products_updated"], 0);
    assert_eq!(again["variants_updated"], 0);
}

#[actix_web::test]
async fn variant_pictures_round_trip_through_the_catalogue_csv() {
    let app = TestApp::spawn().await;
    let manager = app.staff(Role::Manager).await;
    let mut body = product(
        "pictured-csv",
        "travel",
        "abs",
        [55, 40, 20],
        12900,
        &[5, 7],
    );
    body["variants"][1]["images"] = json!([
        {"url": "https://cdn.example.com/sage-front.jpg", "alt": "Sage case, \"front\"\nzip closed",
            "width": 1600, "height": 2000},
        {"url": "https://cdn.example.com/sage-back.jpg", "alt": "=Sage case, back",
            "width": 1200, "height": 900},
    ]);
    create(&app, &manager, &body).await;
    let rows = catalog_csv(&app, &manager).await;
    let images = column(&rows, "variant_images");
    assert_eq!(rows[1][images], "");
    let cell: Value = serde_json::from_str(&rows[2][images]).unwrap();
    assert_eq!(cell, body["variants"][1]["images"]);

    // The same file back changes nothing.
    let before = json_of(app.get("/v1/products/pictured-csv").await, StatusCode::OK).await;
    let report = json_of(
        import(&app, &manager, "all_or_nothing", to_csv(&rows)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["written"], 2);
    assert_eq!(report["products_updated"], 0);
    assert_eq!(report["variants_updated"], 0);
    let after = json_of(app.get("/v1/products/pictured-csv").await, StatusCode::OK).await;
    assert_eq!(after, before);
    assert_eq!(catalog_csv(&app, &manager).await, rows);

    // Pictures given to one variant and taken from the other.
    let black = json!([{"url": "https://cdn.example.com/black.jpg", "alt": "Black case",
        "width": 800, "height": 800}]);
    let mut edited = rows.clone();
    edited[1][images] = black.to_string();
    edited[2][images] = String::new();
    let report = json_of(
        import(&app, &manager, "all_or_nothing", to_csv(&edited)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["variants_updated"], 2);
    let view = json_of(app.get("/v1/products/pictured-csv").await, StatusCode::OK).await;
    assert_eq!(view["variants"][0]["images"], black);
    assert_eq!(view["variants"][1]["images"], json!([]));

    // A file without the column leaves the pictures as they are.
    let without: Vec<Vec<String>> = edited
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.remove(images);
            r
        })
        .collect();
    let report = json_of(
        import(&app, &manager, "all_or_nothing", to_csv(&without)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["variants_updated"], 0);

    // Bad pictures are refused row by row, naming the picture.
    let mut bad = edited.clone();
    bad[1][images] = json!([
        {"url": "https://cdn.example.com/ok.jpg", "alt": "Fine", "width": 10, "height": 10},
        {"url": "http://cdn.example.com/a.jpg", "alt": "Plain http", "width": 10, "height": 10},
    ])
    .to_string();
    bad[2][images] = "https://cdn.example.com/a.jpg".into();
    let problem = assert_problem(
        import(&app, &manager, "all_or_nothing", to_csv(&bad)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation-failed",
    )
    .await;
    let errors: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        errors[0],
        ("rows[2].variant_images", "picture 2: must be an https URL")
    );
    assert_eq!(errors[1].0, "rows[3].variant_images");
    assert!(
        errors[1].1.starts_with("must be a JSON array"),
        "{errors:?}"
    );
    let report = json_of(
        import(&app, &manager, "valid_rows", to_csv(&bad)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["written"], 0);
    assert_eq!(report["rejected"].as_array().unwrap().len(), 2);
    let view = json_of(app.get("/v1/products/pictured-csv").await, StatusCode::OK).await;
    assert_eq!(view["variants"][0]["images"], black);
}
