//! Anonymous analytics: what ingestion stores and refuses, day-salted visitor hashes, roll-ups,
//! k-thresholded reports on a known event set, `sort=popular`, roles and rate limits.

use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::analytics::model::EventBatch;
use valise::analytics::store::{self, Stored};
use valise::analytics::{rollup, salt};
use valise::auth::Role;
use valise::db::schema::{analytics_events, analytics_rollups, analytics_salts, rate_limits};

use crate::fixtures::{contains, create, database_bytes, product};
use crate::helpers::{assert_problem, eventually, json_of, Session, TestApp};

const EVENTS: &str = "/v1/analytics/events";

fn view(path: &str) -> Value {
    json!({"type": "page_view", "path": path})
}

fn product_view(id: &str) -> Value {
    json!({"type": "product_view", "product_id": id})
}

fn leave(path: &str, dwell_ms: i64) -> Value {
    json!({"type": "page_leave", "path": path, "dwell_ms": dwell_ms})
}

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Stores a batch as if it arrived at `when` (the store functions take the time).
async fn ingest_at(app: &TestApp, session: &str, events: Value, when: &str) -> Stored {
    let body = json!({"session": session, "events": events}).to_string();
    let (crypto, when) = (app.crypto.clone(), at(when));
    app.query(move |conn| {
        let batch = valise::http::extract::parse_json::<EventBatch>(body.as_bytes())?.parse()?;
        store::ingest(conn, &crypto, &batch, when)
    })
    .await
}

async fn roll_up(app: &TestApp) -> rollup::Rollup {
    app.flush_analytics().await;
    app.query(|conn| rollup::roll_up(conn, valise::db::now()))
        .await
}

/// Every stored event as `(day, visitor hash, seq, type, path, product id, dwell)`.
type RawEvent = (
    NaiveDate,
    Vec<u8>,
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<i32>,
);

/// Every stored event, after the instance wrote what it buffered.
async fn raw_events(app: &TestApp) -> Vec<RawEvent> {
    app.flush_analytics().await;
    stored_events(app).await
}

/// Every event in the database now (buffered ones are not).
async fn stored_events(app: &TestApp) -> Vec<RawEvent> {
    app.query(|conn| {
        analytics_events::table
            .order((
                analytics_events::day,
                analytics_events::visitor_hash,
                analytics_events::seq,
            ))
            .load::<RawEvent>(conn)
    })
    .await
}

async fn post_events(app: &TestApp, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.post(app.url(EVENTS)).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn batch(session: &str, events: Value) -> Value {
    json!({"session": session, "events": events})
}

#[actix_web::test]
async fn events_are_stored_without_anything_that_identifies_the_visitor() {
    let app = TestApp::spawn_configured(|c| {
        c.trusted_proxies = valise::http::client_ip::TrustedProxies::parse("127.0.0.1").unwrap()
    })
    .await;
    let customer = app
        .register(&crate::helpers::unique_email("reader"), "Reader")
        .await;
    let user_agent = "ZebraBrowser/9.9 (DistinctiveAgent-7Q3X)";
    let address = "203.0.113.77";
    let session = "session-Qv7Zx2Lp9Wk4";
    let response = app
        .client
        .post(app.url(EVENTS))
        .bearer_auth(&customer.access)
        .header("User-Agent", user_agent)
        .header("X-Forwarded-For", address)
        .json(&batch(
            session,
            json!([
                view("/Orders/LG-7KQ2-9XF4?email=ada@example.com#items"),
                view("/products/voyager-55?utm_campaign=uniquecampaign42"),
                product_view("prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10"),
                leave("/search/ada@example.com", 7_200_000),
            ]),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["x-ratelimit-limit"], "120");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "119");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"accepted": 4}));

    let events = raw_events(&app).await;
    let today = valise::db::now().date();
    let stored: Vec<_> = events
        .iter()
        .map(|(d, hash, seq, kind, path, product, dwell)| {
            assert_eq!(*d, today);
            assert_eq!(hash.len(), salt::HASH_LEN);
            (*seq, kind.as_str(), path.clone(), product.clone(), *dwell)
        })
        .collect();
    assert_eq!(
        stored,
        [
            (1, "page_view", Some("/orders/{number}".into()), None, None),
            (
                2,
                "page_view",
                Some("/products/voyager-55".into()),
                None,
                None
            ),
            (
                3,
                "product_view",
                None,
                Some("prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10".into()),
                None
            ),
            (
                4,
                "page_leave",
                Some("/search/{param}".into()),
                None,
                Some(3_600_000)
            ),
        ]
    );
    let dump = format!("{events:?}");
    assert!(!dump.contains(&customer.user_id), "the user id is stored");

    let bytes = database_bytes(&app.config.database_url);
    for secret in [
        user_agent,
        "DistinctiveAgent",
        address,
        session,
        "uniquecampaign42",
        "ada@example.com",
        "7KQ2-9XF4",
    ] {
        assert!(!contains(&bytes, secret), "{secret} is in the database");
    }
    // The salt is stored wrapped: nonce, 32 encrypted bytes, tag.
    let wrapped: Vec<Vec<u8>> = app
        .query(|conn| {
            analytics_salts::table
                .select(analytics_salts::wrapped)
                .load(conn)
        })
        .await;
    assert_eq!(wrapped.len(), 1);
    assert_eq!(wrapped[0].len(), 12 + 32 + 16);
}

#[actix_web::test]
async fn global_privacy_control_and_do_not_track_discard_the_batch_unread() {
    let app = TestApp::spawn().await;
    let valid = batch("session-0123456789", json!([view("/")]));
    let invalid = json!({"session": "x", "events": [], "ip": "203.0.113.9"});
    for header in [("Sec-GPC", "1"), ("DNT", "1")] {
        for body in [&valid, &invalid] {
            let response = post_events(&app, body, &[header]).await;
            assert_eq!(response.status(), StatusCode::NO_CONTENT, "{header:?}");
            assert!(response.headers().get("x-ratelimit-remaining").is_none());
        }
    }
    assert!(raw_events(&app).await.is_empty());
    let (salts, buckets): (i64, i64) = app
        .query(|conn| {
            Ok::<_, anyhow::Error>((
                analytics_salts::table.count().get_result(conn)?,
                rate_limits::table.count().get_result(conn)?,
            ))
        })
        .await;
    assert_eq!((salts, buckets), (0, 0), "nothing at all is written");
    // `0` is no opt-out.
    let response = post_events(&app, &valid, &[("DNT", "0")]).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[actix_web::test]
async fn unknown_fields_oversized_batches_and_invalid_events_are_refused_by_name() {
    let app = TestApp::spawn().await;
    let session = "session-0123456789";
    for (body, field) in [
        (
            json!({"session": session, "events": [view("/")], "user_id": "usr_1"}),
            "user_id",
        ),
        (
            batch(
                session,
                json!([{"type": "page_view", "path": "/", "user_agent": "x"}]),
            ),
            "events[0].user_agent",
        ),
        (batch(session, json!(vec![view("/"); 101])), "events"),
        (batch(session, json!([])), "events"),
        (batch("short", json!([view("/")])), "session"),
        (
            batch(
                session,
                json!([
                    view("/"),
                    view("/a"),
                    product_view("prod_x"),
                    view("https://evil.example/")
                ]),
            ),
            "events[2].product_id",
        ),
        (
            batch(
                session,
                json!([view("/"), view("/a"), view("/b"), view("no-slash")]),
            ),
            "events[3].path",
        ),
        (
            batch(session, json!([leave("/", -5)])),
            "events[0].dwell_ms",
        ),
        (
            batch(session, json!([{"type": "click", "path": "/"}])),
            "events[0].type",
        ),
    ] {
        let problem = assert_problem(
            post_events(&app, &body, &[]).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    assert!(raw_events(&app).await.is_empty());
    let response = post_events(&app, &batch(session, json!(vec![view("/"); 100])), &[]).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[actix_web::test]
async fn visitor_hashes_differ_across_days_and_salts_die_after_their_grace() {
    let app =
        TestApp::spawn_configured(|c| c.analytics.rollup_interval = Duration::from_secs(3600))
            .await;
    let same = "session-same-0001";
    let a = ingest_at(&app, same, json!([view("/")]), "2026-03-10 12:00:00").await;
    let b = ingest_at(&app, same, json!([view("/cart")]), "2026-03-10 18:00:00").await;
    let c = ingest_at(&app, same, json!([view("/")]), "2026-03-11 12:00:00").await;
    let other = ingest_at(
        &app,
        "session-other-02",
        json!([view("/")]),
        "2026-03-11 12:00:00",
    )
    .await;
    assert_eq!(
        (a.day, b.day, c.day, other.day),
        (
            day("2026-03-10"),
            day("2026-03-10"),
            day("2026-03-11"),
            day("2026-03-11")
        )
    );

    let events = raw_events(&app).await;
    let hash_of = |d: &str, path: &str| {
        events
            .iter()
            .filter(|e| e.0 == day(d) && e.4.as_deref() == Some(path))
            .map(|e| e.1.clone())
            .collect::<Vec<_>>()
    };
    let day1 = hash_of("2026-03-10", "/");
    let day1_later = hash_of("2026-03-10", "/cart");
    let day2 = hash_of("2026-03-11", "/");
    assert_eq!(day1, day1_later, "one session is one visitor within a day");
    assert_eq!(day2.len(), 2, "two sessions on day 2");
    assert_ne!(day2[0], day2[1], "two sessions are two visitors");
    assert!(
        !day2.contains(&day1[0]),
        "the same session has another hash the next day"
    );

    let salt_days = |app: &TestApp| {
        app.query(|conn| {
            analytics_salts::table
                .order(analytics_salts::day)
                .select(analytics_salts::day)
                .load::<NaiveDate>(conn)
        })
    };
    assert_eq!(
        salt_days(&app).await,
        [day("2026-03-10"), day("2026-03-11")]
    );
    let destroy =
        |when: &'static str| app.query(move |conn| salt::destroy_expired_salts(conn, at(when)));
    assert_eq!(destroy("2026-03-11 00:29:59").await, 0, "grace");
    assert_eq!(destroy("2026-03-11 00:30:00").await, 1);
    assert_eq!(salt_days(&app).await, [day("2026-03-11")]);
    assert_eq!(destroy("2026-03-12 09:00:00").await, 1);
    assert!(salt_days(&app).await.is_empty());
    assert_eq!(destroy("2026-03-12 09:00:00").await, 0, "idempotent");
}

#[actix_web::test]
async fn a_visit_crossing_midnight_stays_one_visitor_for_the_grace() {
    let app =
        TestApp::spawn_configured(|c| c.analytics.rollup_interval = Duration::from_secs(3600))
            .await;
    let night = "session-night-owl";
    let before = ingest_at(&app, night, json!([view("/")]), "2026-03-10 23:50:00").await;
    let after = ingest_at(&app, night, json!([view("/cart")]), "2026-03-11 00:10:00").await;
    let newcomer = ingest_at(
        &app,
        "session-early-bird",
        json!([view("/")]),
        "2026-03-11 00:10:00",
    )
    .await;
    let later = ingest_at(
        &app,
        night,
        json!([view("/checkout")]),
        "2026-03-11 00:40:00",
    )
    .await;
    assert_eq!(before.day, day("2026-03-10"));
    assert_eq!(
        after.day,
        day("2026-03-10"),
        "the visit goes on under yesterday's hash"
    );
    assert_eq!(
        newcomer.day,
        day("2026-03-11"),
        "a new visit after midnight is today's"
    );
    assert_eq!(
        later.day,
        day("2026-03-11"),
        "after the grace it is a new day"
    );
    let events = raw_events(&app).await;
    let of = |path: &str| {
        events
            .iter()
            .find(|e| e.4.as_deref() == Some(path))
            .unwrap()
            .clone()
    };
    let (first, second) = (of("/"), of("/cart"));
    assert_eq!(first.1, second.1);
    assert_eq!(
        (first.2, second.2),
        (1, 2),
        "numbered in order within the visit"
    );

    // The page-to-page move across midnight is one transition of the previous day.
    let manager = app.staff(Role::Manager).await;
    roll_up(&app).await;
    let report = report(&app, &manager, "paths", "from=2026-03-10&to=2026-03-10").await;
    assert_eq!(report["suppressed_transitions"], 1, "{report}");
}

async fn report(app: &TestApp, manager: &Session, kind: &str, query: &str) -> Value {
    let response = app
        .get_as(&format!("/v1/admin/analytics/{kind}?{query}"), manager)
        .await;
    json_of(response, StatusCode::OK).await
}

/// Three products: cabin/travel, medium/business, large/travel. Returns their ids.
async fn luggage(app: &TestApp, manager: &Session) -> [String; 3] {
    let mut ids = Vec::new();
    for body in [
        product(
            "cabin-poly",
            "travel",
            "polycarbonate",
            [55, 40, 20],
            12900,
            &[3],
        ),
        product("medium-abs", "business", "abs", [66, 44, 27], 14900, &[8]),
        product(
            "large-poly",
            "travel",
            "polycarbonate",
            [76, 52, 30],
            17900,
            &[2],
        ),
    ] {
        ids.push(
            create(app, manager, &body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids.try_into().unwrap()
}

/// The known event set, over two days:
/// - day 1: six visitors open `/`, then `/products/cabin-poly` (viewing the cabin case) and
///   leave it after 2, 4, 4, 9, 20 and 4.5 s; five of them view the medium case, three the
///   large one; the first goes on to `/cart`; one more visitor opens an order page and leaves
///   it after two hours.
/// - day 2: five visitors go from `/` to `/cart`; three of them view the large case.
async fn known_events(app: &TestApp, [cabin, medium, large]: &[String; 3]) {
    let d1 = "2026-03-10 10:00:00";
    let dwell = [2_000, 4_000, 4_000, 9_000, 20_000, 4_500];
    for (i, ms) in dwell.iter().enumerate() {
        let mut events = vec![
            view("/"),
            view("/products/cabin-poly?ref=home"),
            product_view(cabin),
            leave("/products/cabin-poly", *ms),
        ];
        if i < 5 {
            events.push(product_view(medium));
        }
        if i < 3 {
            events.push(product_view(large));
        }
        if i == 0 {
            events.push(view("/cart"));
        }
        ingest_at(app, &format!("session-d1-{i:02}"), json!(events), d1).await;
    }
    ingest_at(
        app,
        "session-d1-orders",
        json!([
            view("/orders/LG-7KQ2-9XF4"),
            leave("/orders/LG-7KQ2-9XF4", 7_200_000)
        ]),
        d1,
    )
    .await;
    for i in 0..5 {
        let mut events = vec![view("/"), view("/cart")];
        if i < 3 {
            events.push(product_view(large));
        }
        ingest_at(
            app,
            &format!("session-d2-{i:02}"),
            json!(events),
            "2026-03-11 15:00:00",
        )
        .await;
    }
}

#[actix_web::test]
async fn reports_give_exact_numbers_on_a_known_event_set_and_hide_small_groups() {
    let app =
        TestApp::spawn_configured(|c| c.analytics.rollup_interval = Duration::from_secs(3600))
            .await;
    let manager = app.staff(Role::Manager).await;
    let ids = luggage(&app, &manager).await;
    known_events(&app, &ids).await;
    let rolled = roll_up(&app).await;
    assert_eq!(rolled.days, [day("2026-03-10"), day("2026-03-11")]);
    let period = "from=2026-03-10&to=2026-03-11";

    let trending = report(&app, &manager, "trending-products", period).await;
    assert_eq!(trending["report"], "trending-products");
    assert_eq!(
        (trending["from"].clone(), trending["to"].clone()),
        (json!("2026-03-10"), json!("2026-03-11"))
    );
    assert_eq!(trending["min_visitors"], 5);
    // The large case: 6 views by 3 + 3 visitors, never 5 on one day: hidden.
    assert_eq!(trending["suppressed_groups"], 1);
    assert_eq!(
        trending["products"],
        json!([
            {"product_id": ids[0], "slug": "cabin-poly", "name": "cabin poly", "views": 6, "visitors": 6, "share": 0.5455},
            {"product_id": ids[1], "slug": "medium-abs", "name": "medium abs", "views": 5, "visitors": 5, "share": 0.4545},
        ])
    );

    let sizes = report(&app, &manager, "size-classes", period).await;
    assert_eq!(sizes["suppressed_groups"], 1);
    assert_eq!(
        sizes["groups"],
        json!([
            {"value": "cabin", "views": 6, "visitors": 6, "share": 0.5455},
            {"value": "medium", "views": 5, "visitors": 5, "share": 0.4545},
        ])
    );

    // Travel: the cabin and large cases, 9 views by 6 visitors on day 1, 3 by 3 on day 2.
    let styles = report(&app, &manager, "styles", period).await;
    assert_eq!(styles["suppressed_groups"], 0);
    assert_eq!(
        styles["groups"],
        json!([
            {"value": "travel", "views": 12, "visitors": 9, "share": 0.7059},
            {"value": "business", "views": 5, "visitors": 5, "share": 0.2941},
        ])
    );

    let paths = report(&app, &manager, "paths", period).await;
    assert_eq!(
        paths["pages"],
        json!([
            {"path": "/", "views": 11, "visitors": 11, "share": 0.4783},
            {"path": "/cart", "views": 6, "visitors": 6, "share": 0.2609},
            {"path": "/products/cabin-poly", "views": 6, "visitors": 6, "share": 0.2609},
        ])
    );
    assert_eq!(paths["suppressed_pages"], 1, "the order page: one visitor");
    assert_eq!(
        paths["transitions"],
        json!([
            {"from_path": "/", "to_path": "/products/cabin-poly", "moves": 6, "visitors": 6},
            {"from_path": "/", "to_path": "/cart", "moves": 5, "visitors": 5},
        ])
    );
    assert_eq!(
        paths["suppressed_transitions"], 1,
        "cabin page → cart: one visitor"
    );
    assert_eq!(paths["suppressed_groups"], 2);

    // Mean of 2, 4, 4, 9, 20 and 4.5 s; the median of 4 s and 4.5 s, each to its second.
    let stays = report(&app, &manager, "stay-duration", period).await;
    assert_eq!(
        stays["stays"],
        json!([{"path": "/products/cabin-poly", "leaves": 6, "visitors": 6,
                "average_dwell_ms": 7250, "median_dwell_ms": 4000}])
    );
    assert_eq!(stays["suppressed_groups"], 1);

    // One day alone: the medium case was seen by 5 visitors on day 1 only.
    let day2 = report(
        &app,
        &manager,
        "trending-products",
        "from=2026-03-11&to=2026-03-11",
    )
    .await;
    assert_eq!(day2["products"], json!([]));
    assert_eq!(day2["suppressed_groups"], 1);

    // Rolling up again changes nothing.
    assert!(roll_up(&app).await.days.is_empty());
    assert_eq!(
        report(&app, &manager, "trending-products", period).await,
        trending
    );
}

#[actix_web::test]
async fn the_visitor_threshold_is_configurable() {
    let app = TestApp::spawn_configured(|c| {
        c.analytics.min_visitors = 3;
        c.analytics.rollup_interval = Duration::from_secs(3600);
    })
    .await;
    let manager = app.staff(Role::Manager).await;
    let ids = luggage(&app, &manager).await;
    known_events(&app, &ids).await;
    roll_up(&app).await;
    let trending = report(
        &app,
        &manager,
        "trending-products",
        "from=2026-03-10&to=2026-03-11",
    )
    .await;
    assert_eq!(trending["min_visitors"], 3);
    assert_eq!(trending["suppressed_groups"], 0);
    let slugs: Vec<&str> = trending["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["cabin-poly", "large-poly", "medium-abs"]);
}

#[actix_web::test]
async fn raw_events_are_purged_only_once_rolled_up_and_aggregates_stay() {
    let app =
        TestApp::spawn_configured(|c| c.analytics.rollup_interval = Duration::from_secs(3600))
            .await;
    let manager = app.staff(Role::Manager).await;
    let ids = luggage(&app, &manager).await;
    known_events(&app, &ids).await;
    let purge = |before: &'static str, batch: i64| {
        app.query(move |conn| store::purge_raw_events(conn, day(before), batch))
    };
    assert_eq!(
        purge("2026-03-11", 100).await,
        0,
        "day 1 is not rolled up yet"
    );
    roll_up(&app).await;
    let period = "from=2026-03-10&to=2026-03-11";
    let before = report(&app, &manager, "paths", period).await;

    let day1_events = 6 * 4 + 5 + 3 + 1 + 2;
    let (count, pending): (i64, Vec<bool>) = app
        .query(|conn| {
            Ok::<_, anyhow::Error>((
                store::count_purgeable_raw_events(conn, day("2026-03-11"))?,
                analytics_rollups::table
                    .select(analytics_rollups::pending)
                    .load(conn)?,
            ))
        })
        .await;
    assert_eq!(count, day1_events);
    assert_eq!(pending, [false, false]);
    let mut purged = 0;
    loop {
        let n = purge("2026-03-11", 10).await;
        purged += n;
        if n < 10 {
            break;
        }
    }
    assert_eq!(purged as i64, day1_events);
    let left = raw_events(&app).await;
    assert!(left.iter().all(|e| e.0 == day("2026-03-11")));
    assert_eq!(left.len(), 5 * 2 + 3);

    // Aggregates outlive raw events, even when the purged day is rolled up again.
    app.query(|conn| {
        diesel::update(analytics_rollups::table)
            .set(analytics_rollups::pending.eq(true))
            .execute(conn)
    })
    .await;
    roll_up(&app).await;
    assert_eq!(report(&app, &manager, "paths", period).await, before);
}

/// Slugs of a listing page, and its next cursor.
async fn slugs(app: &TestApp, query: &str) -> (Vec<String>, Option<String>) {
    let body = json_of(app.get(query).await, StatusCode::OK).await;
    let page = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect();
    (page, body["next_cursor"].as_str().map(str::to_owned))
}

#[actix_web::test]
async fn sort_popular_follows_product_views_then_newest() {
    let app =
        TestApp::spawn_configured(|c| c.analytics.rollup_interval = Duration::from_secs(3600))
            .await;
    let manager = app.staff(Role::Manager).await;
    let mut ids = Vec::new();
    for slug in [
        "oldest-unseen",
        "much-viewed",
        "once-viewed",
        "newest-unseen",
    ] {
        let body = product(slug, "travel", "nylon", [55, 40, 20], 9900, &[1]);
        ids.push(
            create(&app, &manager, &body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (before, _) = slugs(&app, "/v1/products?sort=popular").await;
    assert_eq!(
        before,
        [
            "newest-unseen",
            "once-viewed",
            "much-viewed",
            "oldest-unseen"
        ]
    );

    for (i, id) in [&ids[1], &ids[1], &ids[1], &ids[2]].into_iter().enumerate() {
        let body = batch(
            &format!("session-popular-{i}"),
            json!([product_view(id), product_view(id)]),
        );
        assert_eq!(
            post_events(&app, &body, &[]).await.status(),
            StatusCode::ACCEPTED
        );
    }
    assert_eq!(roll_up(&app).await.popularity_changed, 2);
    let expected = [
        "much-viewed",
        "once-viewed",
        "newest-unseen",
        "oldest-unseen",
    ];
    assert!(
        eventually(Duration::from_secs(5), || async {
            slugs(&app, "/v1/products?sort=popular").await.0 == expected
        })
        .await,
        "the cached listing follows the new popularity"
    );
    // Keyset pages continue in the same order.
    let (first, cursor) = slugs(&app, "/v1/products?sort=popular&limit=2").await;
    assert_eq!(first, expected[..2]);
    let next = format!(
        "/v1/products?sort=popular&limit=2&cursor={}",
        cursor.unwrap()
    );
    let body = json_of(app.get(&next).await, StatusCode::OK).await;
    let rest: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap())
        .collect();
    assert_eq!(rest, expected[2..]);
    assert_eq!(
        roll_up(&app).await.popularity_changed,
        0,
        "nothing to change"
    );
}

#[actix_web::test]
async fn reports_are_for_managers_and_check_their_period() {
    let app = TestApp::spawn().await;
    let path = "/v1/admin/analytics/trending-products";
    assert_problem(
        app.get(path).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let customer = app
        .register(&crate::helpers::unique_email("c"), "Customer")
        .await;
    for who in [
        customer,
        app.staff(Role::Support).await,
        app.staff(Role::Fulfillment).await,
        app.staff(Role::PrivacyOfficer).await,
    ] {
        assert_problem(
            app.get_as(path, &who).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    let manager = app.staff(Role::Manager).await;
    for kind in [
        "trending-products",
        "size-classes",
        "styles",
        "paths",
        "stay-duration",
    ] {
        let body = report(&app, &manager, kind, "").await;
        assert_eq!(body["report"], kind);
        assert_eq!(body["suppressed_groups"], 0);
        let today = valise::db::now().date();
        assert_eq!(body["to"], today.to_string());
        assert_eq!(
            body["from"],
            (today - chrono::Duration::days(29)).to_string()
        );
    }
    let admin = app.staff(Role::Admin).await;
    assert_eq!(app.get_as(path, &admin).await.status(), StatusCode::OK);
    assert_problem(
        app.get_as("/v1/admin/analytics/visitors", &manager).await,
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-03-11&to=2026-03-10", "from"),
        ("from=2025-01-01&to=2026-03-10", "from"),
        ("from=2026-03-01&session=abc", "session"),
    ] {
        let response = app.get_as(&format!("{path}?{query}"), &manager).await;
        let problem = assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation-failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{query}");
    }
}

#[actix_web::test]
async fn batches_are_rate_limited_per_client_address() {
    let app = TestApp::spawn_configured(|c| {
        c.trusted_proxies = valise::http::client_ip::TrustedProxies::parse("127.0.0.1").unwrap();
        c.analytics.batches_per_minute = 3;
    })
    .await;
    let body = batch("session-0123456789", json!([view("/")]));
    let from = |ip: &'static str| [("X-Forwarded-For", ip)];
    for remaining in ["2", "1", "0"] {
        let response = post_events(&app, &body, &from("198.51.100.1")).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        assert_eq!(response.headers()["x-ratelimit-remaining"], remaining);
    }
    let limited = post_events(&app, &body, &from("198.51.100.1")).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    assert_eq!(
        raw_events(&app).await.len(),
        3,
        "the limited batch is not stored"
    );
    let elsewhere = post_events(&app, &body, &from("198.51.100.2")).await;
    assert_eq!(
        elsewhere.status(),
        StatusCode::ACCEPTED,
        "another address has its own budget"
    );
    // Counted in memory, per instance: no row per batch, and another instance has its own.
    let buckets: i64 = app
        .query(|conn| rate_limits::table.count().get_result(conn))
        .await;
    assert_eq!(buckets, 0);
    let sibling = app.spawn_sibling().await;
    let there = post_events(&sibling, &body, &from("198.51.100.1")).await;
    assert_eq!(there.status(), StatusCode::ACCEPTED);
    assert_eq!(there.headers()["x-ratelimit-remaining"], "2");
}

/// The value of an unlabelled series in `GET /metrics`.
async fn metric(app: &TestApp, admin: &Session, name: &str) -> f64 {
    let response = app.get_as("/metrics", admin).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn accepted_events_wait_in_memory_and_reach_the_report_after_a_flush() {
    let app = TestApp::spawn_configured(|c| {
        c.analytics.rollup_interval = Duration::from_secs(3600);
        c.analytics.flush_interval = Duration::from_secs(60);
        c.analytics.min_visitors = 2;
    })
    .await;
    let manager = app.staff(Role::Manager).await;
    let admin = app.staff(Role::Admin).await;
    let ids = luggage(&app, &manager).await;
    for i in 0..3 {
        let body = batch(
            &format!("session-buffered-{i}"),
            json!([view("/"), product_view(&ids[0])]),
        );
        let response = post_events(&app, &body, &[]).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"accepted": 2})
        );
    }
    assert!(
        stored_events(&app).await.is_empty(),
        "held in memory until the flush interval"
    );
    assert_eq!(
        metric(&app, &admin, "valise_analytics_buffered_events").await,
        6.0
    );

    assert_eq!(app.flush_analytics().await, 6);
    assert_eq!(stored_events(&app).await.len(), 6);
    assert_eq!(
        metric(&app, &admin, "valise_analytics_buffered_events").await,
        0.0
    );
    assert_eq!(
        metric(&app, &admin, "valise_analytics_events_written_total").await,
        6.0
    );
    roll_up(&app).await;
    let trending = report(&app, &manager, "trending-products", "").await;
    assert_eq!(trending["products"][0]["views"], 3, "{trending}");
    assert_eq!(trending["products"][0]["visitors"], 3, "{trending}");
}

/// Holds the database so no analytics event can be written until it is dropped: SQLite's
/// write lock, or on PostgreSQL an exclusive lock on the events table.
fn hold_event_writes(app: &TestApp) -> valise::db::PooledConnection {
    use diesel::connection::SimpleConnection;
    let db = valise::db::Db::connect(&app.config.database_url, 1).unwrap();
    let mut conn = db.get().unwrap();
    let sql = match app.db.backend() {
        valise::db::Backend::Sqlite => "BEGIN IMMEDIATE;",
        valise::db::Backend::Postgres => {
            "BEGIN; LOCK TABLE analytics_events IN ACCESS EXCLUSIVE MODE;"
        }
    };
    conn.batch_execute(sql).unwrap();
    conn
}

fn release(mut lock: valise::db::PooledConnection) {
    use diesel::connection::SimpleConnection;
    lock.batch_execute("ROLLBACK;").unwrap();
}

#[actix_web::test]
async fn a_full_buffer_refuses_batches_with_503_until_the_database_takes_them() {
    let app = TestApp::spawn_configured(|c| {
        c.analytics.buffer_events = 100;
        c.analytics.batches_per_minute = 1_000;
    })
    .await;
    let admin = app.staff(Role::Admin).await;
    // The day's salt is read (created) once; later batches need no database to be accepted.
    let first = batch("session-full-0000", json!([view("/")]));
    assert_eq!(
        post_events(&app, &first, &[]).await.status(),
        StatusCode::ACCEPTED
    );
    app.flush_analytics().await;

    let lock = hold_event_writes(&app);
    let ten = batch("session-full-0001", json!(vec![view("/a"); 10]));
    for i in 0..10 {
        let response = post_events(&app, &ten, &[]).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "batch {i}");
    }
    let refused = post_events(&app, &ten, &[]).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(
        refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "service-unavailable",
    )
    .await;
    let one = batch("session-full-0002", json!([view("/b")]));
    assert_eq!(
        post_events(&app, &one, &[]).await.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "not even one more event"
    );
    release(lock);

    // Everything accepted is written once the database takes it; nothing refused is.
    app.flush_analytics().await;
    let events = stored_events(&app).await;
    assert_eq!(events.len(), 1 + 100);
    assert!(events.iter().all(|e| e.4.as_deref() != Some("/b")));
    let seqs: Vec<i32> = events
        .iter()
        .filter(|e| e.4.as_deref() == Some("/a"))
        .map(|e| e.2)
        .collect();
    assert_eq!(seqs, (1..=100).collect::<Vec<i32>>());
    assert_eq!(
        metric(&app, &admin, "valise_analytics_events_refused_total").await,
        11.0
    );
    assert_eq!(
        metric(&app, &admin, "valise_analytics_events_written_total").await,
        101.0
    );
    // With room again, batches are accepted.
    assert_eq!(
        post_events(&app, &one, &[]).await.status(),
        StatusCode::ACCEPTED
    );
}

#[actix_web::test]
async fn the_worker_inside_serve_rolls_up_and_two_processes_agree() {
    let app =
        TestApp::spawn_configured(|c| c.analytics.rollup_interval = Duration::from_millis(100))
            .await;
    let sibling = app.spawn_sibling().await;
    let manager = app.staff(Role::Manager).await;
    let ids = luggage(&app, &manager).await;
    for i in 0..5 {
        let body = batch(
            &format!("session-live-{i}"),
            json!([view("/"), product_view(&ids[0])]),
        );
        let target = if i % 2 == 0 { &app } else { &sibling };
        assert_eq!(
            post_events(target, &body, &[]).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let shown = eventually(Duration::from_secs(10), || async {
        let body = report(&app, &manager, "trending-products", "").await;
        body["products"] == json!([{"product_id": ids[0], "slug": "cabin-poly", "name": "cabin poly", "views": 5, "visitors": 5, "share": 1.0}])
    })
    .await;
    assert!(
        shown,
        "both workers rolled today up, with every batch counted"
    );
    // Explicit roll-ups racing the workers and each other leave the same numbers.
    let mark_all = |app: &TestApp| {
        app.query(|conn| {
            diesel::update(analytics_rollups::table)
                .set(analytics_rollups::pending.eq(true))
                .execute(conn)?;
            Ok::<_, anyhow::Error>(rollup::roll_up(conn, valise::db::now())?)
        })
    };
    tokio::join!(mark_all(&app), mark_all(&sibling));
    let body = report(&app, &manager, "trending-products", "").await;
    assert_eq!(body["products"][0]["views"], 5);
}

#[actix_web::test]
async fn day_salts_are_rewrapped_by_master_key_rotation() {
    let app = TestApp::spawn().await;
    let body = batch("session-rotation-01", json!([view("/")]));
    assert_eq!(
        post_events(&app, &body, &[]).await.status(),
        StatusCode::ACCEPTED
    );
    let admin = app.staff(Role::Admin).await;
    let response = app
        .authed(Method::POST, "/v1/admin/keys/rotate", &admin)
        .send()
        .await
        .unwrap();
    let status = json_of(response, StatusCode::OK).await;
    assert_eq!(status["remaining"], 0, "{status}");
    let (newest, salt_key): (String, String) = {
        let crypto = app.crypto.clone();
        app.query(move |conn| {
            let kek: String = analytics_salts::table
                .select(analytics_salts::kek_id)
                .first(conn)?;
            Ok::<_, anyhow::Error>((crypto.keyring().get().newest().id().to_owned(), kek))
        })
        .await
    };
    assert_eq!(salt_key, newest);
    // The same session still hashes the same today.
    assert_eq!(
        post_events(&app, &body, &[]).await.status(),
        StatusCode::ACCEPTED
    );
    let events = raw_events(&app).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].1, events[1].1);
}

/// One session's batches sent at once (a page firing several beacons): every one is stored,
/// in an order with no two events at one `seq`, none refused.
#[actix_web::test]
async fn concurrent_batches_of_one_session_are_all_stored() {
    let app = TestApp::spawn_configured(|c| c.analytics.batches_per_minute = 1_000).await;
    let send = || {
        app.client
            .post(app.url(EVENTS))
            .json(&json!({"session": "one-busy-session-0001", "events": [view("/a"), view("/b")]}))
            .send()
    };
    for answer in futures_util::future::join_all((0..16).map(|_| send())).await {
        assert_eq!(answer.unwrap().status(), StatusCode::ACCEPTED);
    }
    app.flush_analytics().await;
    let seqs: Vec<i32> = app
        .query(|conn| {
            analytics_events::table
                .select(analytics_events::seq)
                .order(analytics_events::seq)
                .load(conn)
        })
        .await;
    assert_eq!(seqs, (1..=32).collect::<Vec<i32>>());
}
