//! The privacy center, continued: the export, saved addresses, policy revisions, the data map.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::paid_order;
use crate::helpers::{assert_problem, eventually, json_of, unique_email, TestApp};

#[actix_web::test]
async fn the_export_holds_everything_about_me() {
    let app = TestApp::spawn().await;
    let (me, number, payment) = paid_order(&app).await;
    // A consent change, a saved address, a staff access.
    app.authed(Method::PUT, "/v1/me/consents/marketing_notifications", &me)
        .json(&json!({"granted": true}))
        .send()
        .await
        .unwrap();
    let saved = app
        .authed(Method::POST, "/v1/me/addresses", &me)
        .json(&json!({"name": "Quentin Zephyrine", "line1": "3 Quai Xavier", "city": "Lyon", "postal_code": "69002", "country": "FR"}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), StatusCode::CREATED);
    let location = saved.headers()["location"].to_str().unwrap().to_owned();
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/me/addresses/{}", saved["id"].as_str().unwrap())
    );
    let fulfillment = app.staff(Role::Fulfillment).await;
    let full = app
        .get_as(&format!("/v1/admin/orders/{number}"), &fulfillment)
        .await;
    assert_eq!(full.status(), StatusCode::OK);
    let shipped = app
        .authed(
            Method::POST,
            &format!("/v1/admin/orders/{number}/shipments"),
            &fulfillment,
        )
        .json(&json!({"carrier": "La Poste", "tracking_number": "6A12345678901"}))
        .send()
        .await
        .unwrap();
    assert_eq!(shipped.status(), StatusCode::CREATED);

    let response = app.get_as("/v1/me/export", &me).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let export: Value = response.json().await.unwrap();
    assert_eq!(export["format"], "valise.export/1");
    assert_eq!(export["profile"]["name"], "Quentin Zephyrine");
    assert_eq!(export["profile"]["email"], me.email);
    assert_eq!(export["addresses"][0]["address"]["city"], "Lyon");
    let order = &export["orders"][0];
    assert_eq!(order["number"], number);
    assert_eq!(order["status"], "shipped");
    assert_eq!(order["contact_email"], me.email);
    assert_eq!(order["items"].as_array().unwrap().len(), 1);
    let history: Vec<&str> = order["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["pending_payment", "paid", "shipped"]);
    assert_eq!(order["shipments"][0]["carrier"], "La Poste");
    assert_eq!(export["payments"][0]["id"], payment["id"]);
    assert_eq!(export["payments"][0]["status"], "captured");
    let consents = &export["consents"];
    assert_eq!(consents["history"][0]["purpose"], "marketing_notifications");
    assert!(consents["current"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["purpose"] == "marketing_notifications" && c["granted"] == true));
    let accepted: Vec<&str> = export["policy_acceptances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["source"].as_str().unwrap())
        .collect();
    assert_eq!(accepted, ["registration", "checkout"]);
    let kinds: Vec<&str> = export["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    for kind in ["order.placed", "order.paid", "order.shipped"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let recipients: Vec<&str> = export["disclosures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["recipient"].as_str().unwrap())
        .collect();
    assert!(recipients.contains(&"La Poste"), "{recipients:?}");
    assert!(
        recipients.contains(&"payment provider: test"),
        "{recipients:?}"
    );
    let staff_reads: Vec<&Value> = export["access_log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_id"] == fulfillment.user_id.as_str())
        .collect();
    assert!(!staff_reads.is_empty(), "the fulfilment read is logged");
    assert_eq!(staff_reads[0]["actor_role"], "fulfillment");
    // The export itself is an access request, completed at once.
    let requests = export["requests"].as_array().unwrap();
    assert!(requests
        .iter()
        .any(|r| r["kind"] == "access" && r["status"] == "completed"));
}

#[actix_web::test]
async fn saved_addresses_are_sealed_and_corrected_with_if_match() {
    let app = TestApp::spawn().await;
    let me = app.register(&unique_email("addr"), "Ada King").await;
    let other = app.register(&unique_email("addr-other"), "Bob Stone").await;
    let created = app
        .authed(Method::POST, "/v1/me/addresses", &me)
        .json(&json!({"name": "Ada King", "line1": "9 Xerxes Lane", "city": "Bath", "postal_code": "BA1 1AA", "country": "gb"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let saved: Value = created.json().await.unwrap();
    assert_eq!(saved["address"]["country"], "GB");
    let id = saved["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/me/addresses/{id}");

    // Only its owner sees or changes it.
    let listed = json_of(app.get_as("/v1/me/addresses", &other).await, StatusCode::OK).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    let theirs = app
        .authed(Method::PATCH, &path, &other)
        .json(&json!({"city": "Leeds"}))
        .send()
        .await
        .unwrap();
    assert_problem(theirs, StatusCode::NOT_FOUND, "not-found").await;

    let corrected = app
        .authed(Method::PATCH, &path, &me)
        .header("if-match", &etag)
        .json(&json!({"line1": "11 Xerxes Lane", "line2": "Flat 2"}))
        .send()
        .await
        .unwrap();
    let corrected = json_of(corrected, StatusCode::OK).await;
    assert_eq!(corrected["address"]["line1"], "11 Xerxes Lane");
    assert_eq!(corrected["address"]["city"], "Bath");
    let stale = app
        .authed(Method::PATCH, &path, &me)
        .header("if-match", &etag)
        .json(&json!({"city": "Leeds"}))
        .send()
        .await
        .unwrap();
    assert_problem(
        stale,
        StatusCode::PRECONDITION_FAILED,
        "precondition-failed",
    )
    .await;
    let sensitive = app
        .authed(Method::PATCH, &path, &me)
        .json(&json!({"line2": "card 4111 1111 1111 1111"}))
        .send()
        .await
        .unwrap();
    assert_problem(
        sensitive,
        StatusCode::UNPROCESSABLE_ENTITY,
        "sensitive-data-refused",
    )
    .await;

    // The correction is a rectification request; nothing readable on disk.
    let requests = json_of(app.get_as("/v1/me/requests", &me).await, StatusCode::OK).await;
    assert_eq!(requests["data"][0]["kind"], "rectification");
    let bytes = crate::fixtures::database_bytes(&app.config.database_url);
    assert!(!crate::fixtures::contains(&bytes, "Xerxes Lane"));

    let deleted = app.authed(Method::DELETE, &path, &me).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let listed = json_of(app.get_as("/v1/me/addresses", &me).await, StatusCode::OK).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn a_published_revision_moves_the_header_everywhere_and_notifies_every_customer() {
    let app = TestApp::spawn().await;
    let sibling = app.spawn_sibling().await;
    let admin = app.staff(Role::Admin).await;
    let manager = app.staff(Role::Manager).await;
    let mut customers = Vec::new();
    for i in 0..3 {
        customers.push(
            app.register(&unique_email(&format!("rev{i}")), "Ada King")
                .await,
        );
    }
    let body = json!({"text": "Privacy Policy v2\nWe now keep order records for 10 years.", "summary": "Accounting records: 10 years."});
    let refused = app
        .authed(Method::POST, "/v1/admin/policies", &manager)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;

    let published = app
        .authed(Method::POST, "/v1/admin/policies", &admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), StatusCode::CREATED);
    assert_eq!(published.headers()["x-policy-version"], "2");
    assert_eq!(published.headers()["location"], "/v1/policies/2");
    let policy: Value = published.json().await.unwrap();
    assert_eq!(policy["version"], 2);
    let current = json_of(app.get("/v1/policies/current").await, StatusCode::OK).await;
    assert_eq!(current["version"], 2);
    // The other instance follows within a second.
    let moved = eventually(std::time::Duration::from_secs(2), || async {
        sibling.get("/healthz").await.headers()["x-policy-version"] == "2"
    })
    .await;
    assert!(moved, "X-Policy-Version moved on the sibling");

    // Every customer gets the notice (staff do not).
    for customer in &customers {
        let notified = eventually(std::time::Duration::from_secs(5), || async {
            let inbox = json_of(
                app.get_as("/v1/me/notifications", customer).await,
                StatusCode::OK,
            )
            .await;
            inbox["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["kind"] == "policy.revised" && n["payload"]["policy_version"] == 2)
        })
        .await;
        assert!(notified);
    }
    let staff_inbox = json_of(
        app.get_as("/v1/me/notifications", &manager).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(staff_inbox["data"].as_array().unwrap().len(), 0);

    let me = &customers[0];
    let stale = app
        .authed(Method::POST, "/v1/me/policy-acceptances", me)
        .json(&json!({"policy_version": 1}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, StatusCode::UNPROCESSABLE_ENTITY, "validation-failed").await;
    let accepted = app
        .authed(Method::POST, "/v1/me/policy-acceptances", me)
        .json(&json!({"policy_version": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::CREATED);
    let export = json_of(app.get_as("/v1/me/export", me).await, StatusCode::OK).await;
    let versions: Vec<i64> = export["policy_acceptances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["policy_version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, [1, 2]);
}

#[actix_web::test]
async fn notices_fan_out_in_batches_exactly_once_and_resume() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        app.register(&unique_email(&format!("fan{i}")), "Ada King")
            .await;
    }
    let version = app
        .query(|conn| {
            valise::policies::store::publish(conn, "v2 text", "v2", valise::db::now())
                .map(|p| p.version)
        })
        .await;
    // Two batches of 3, as two processes would take them, then the last one.
    async fn batch(app: &TestApp, version: i32) -> Option<usize> {
        app.query(move |conn| valise::policies::notices::queue_batch(conn, version, 3))
            .await
    }
    assert_eq!(batch(&app, version).await, Some(3));
    assert_eq!(batch(&app, version).await, Some(3));
    assert_eq!(batch(&app, version).await, Some(1));
    assert_eq!(batch(&app, version).await, None);
    let total = app
        .query(|conn| valise::policies::notices::fan_out(conn, 3))
        .await;
    assert_eq!(total, 0, "nothing queued twice");
    let count: i64 = app
        .query(|conn| {
            use diesel::prelude::*;
            use valise::db::schema::notifications;
            notifications::table
                .filter(notifications::kind.eq("policy.revised"))
                .count()
                .get_result(conn)
        })
        .await;
    assert_eq!(count, 7);
}

/// Every sealed column in the database, from the database itself.
async fn sealed_columns(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let postgres = matches!(
        app.config.database_url,
        valise::db::DatabaseUrl::Postgres(_)
    );
    app.query(move |conn| {
        let sql = if postgres {
            "SELECT table_name || '.' || column_name AS name FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND column_name LIKE '%_sealed'"
        } else {
            "SELECT m.name || '.' || p.name AS name FROM sqlite_master m \
                 JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name LIKE '%_sealed'"
        };
        diesel::sql_query(sql)
            .load::<Column>(conn)
            .map(|c| c.into_iter().map(|c| c.name).collect())
    })
    .await
}

#[actix_web::test]
async fn the_data_map_lists_every_sealed_column_with_purpose_and_retention() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/privacy/data-map").await;
    let map = json_of(response, StatusCode::OK).await;
    let categories = map["categories"].as_array().unwrap();
    let mut mapped = Vec::new();
    for c in categories {
        assert!(!c["purpose"].as_str().unwrap().is_empty());
        assert!(!c["legal_basis"].as_str().unwrap().is_empty());
        assert!(!c["visible_to"].as_array().unwrap().is_empty());
        assert!(!c["retention"]["description"].as_str().unwrap().is_empty());
        for f in c["fields"].as_array().unwrap() {
            mapped.push(f["stored_in"].as_str().unwrap().to_owned());
        }
    }
    let sealed = sealed_columns(&app).await;
    assert!(sealed.len() >= 10, "{sealed:?}");
    for column in &sealed {
        assert!(
            mapped.contains(column),
            "{column} is missing from the data map"
        );
    }
    let order = categories
        .iter()
        .find(|c| c["id"] == "order_personal")
        .unwrap();
    assert_eq!(order["encrypted"], true);
    assert_eq!(order["enforced_by"], json!(["order_personal"]));
    assert_eq!(order["retention"]["from"], "order closed");
    assert!(order["retention"]["description"]
        .as_str()
        .unwrap()
        .contains("30-day after-sales window"));
}

#[actix_web::test]
async fn repeated_exports_are_limited_and_recorded_once_a_day() {
    let app = TestApp::spawn().await;
    let me = app.register(&unique_email("exporter"), "Exporter").await;
    // The size of an export, but for its timestamp (whose fraction varies in length).
    let size = |mut export: Value| {
        export["generated_at"] = Value::Null;
        export.to_string().len()
    };
    let first = json_of(app.get_as("/v1/me/export", &me).await, StatusCode::OK).await;
    let first_size = size(first.clone());
    for _ in 1..10 {
        let again = json_of(app.get_as("/v1/me/export", &me).await, StatusCode::OK).await;
        assert_eq!(
            again["requests"], first["requests"],
            "one access request a day"
        );
        assert_eq!(size(again), first_size, "the export does not grow");
    }
    let refused = app.get_as("/v1/me/export", &me).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        refused.headers()["ratelimit-policy"],
        "\"export\";q=10;w=3600"
    );
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    let requests = json_of(app.get_as("/v1/me/requests", &me).await, StatusCode::OK).await;
    let access: Vec<&Value> = requests["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "access")
        .collect();
    assert_eq!(access.len(), 1, "{requests}");
    // Another account has its own allowance.
    let other = app.register(&unique_email("other-exporter"), "Other").await;
    assert_eq!(
        app.get_as("/v1/me/export", &other).await.status(),
        StatusCode::OK
    );
}
