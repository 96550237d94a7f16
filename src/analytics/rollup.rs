//! Roll-ups: each day's raw events recomputed into the daily aggregate tables, and products'
//! popularity refreshed from the aggregates.
//!
//! A day is recomputed whole (delete its aggregates, aggregate its raw events again), so a
//! roll-up is idempotent and any number of them may run. Ingestion marks a day pending; a
//! roll-up claims a pending day by clearing the mark in the transaction that recomputes it,
//! so two processes never recompute one day at once, and events stored meanwhile mark the
//! day pending again for the next pass.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::Date;

use super::model::{dwell_bucket_sql, EventType};
use crate::db::schema::{
    analytics_daily_attributes, analytics_daily_dwell, analytics_daily_pages,
    analytics_daily_products, analytics_daily_transitions, analytics_events, analytics_rollups,
};
use crate::db::{write_transaction, DbConnection};

/// `sort=popular` ranks products by their views over this many days (today included).
pub const POPULAR_DAYS: i64 = 30;

/// What a roll-up did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    /// Days recomputed by this call.
    pub days: Vec<NaiveDate>,
    /// Products whose popularity changed.
    pub popularity_changed: usize,
}

/// Rolls every pending day up, then refreshes products' popularity for `now`'s day.
pub fn roll_up(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<Rollup> {
    let pending: Vec<NaiveDate> = analytics_rollups::table
        .filter(analytics_rollups::pending.eq(true))
        .order(analytics_rollups::day)
        .select(analytics_rollups::day)
        .load(conn)?;
    let mut days = Vec::with_capacity(pending.len());
    for day in pending {
        if roll_up_day(conn, day, now)? {
            days.push(day);
        }
    }
    let popularity_changed = refresh_popularity(conn, now.date())?;
    Ok(Rollup {
        days,
        popularity_changed,
    })
}

/// Recomputes `day` if it is pending; false when it is not (another process took it).
pub fn roll_up_day(
    conn: &mut DbConnection,
    day: NaiveDate,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        let claimed = diesel::update(
            analytics_rollups::table
                .filter(analytics_rollups::day.eq(day))
                .filter(analytics_rollups::pending.eq(true)),
        )
        .set((
            analytics_rollups::pending.eq(false),
            analytics_rollups::rolled_at.eq(Some(now)),
        ))
        .execute(conn)?;
        if claimed == 0 {
            return Ok(false);
        }
        let has_events = analytics_events::table
            .filter(analytics_events::day.eq(day))
            .select(analytics_events::seq)
            .first::<i32>(conn)
            .optional()?
            .is_some();
        // A day whose raw events are purged keeps the aggregates made from them.
        if has_events {
            recompute(conn, day)?;
        }
        Ok(true)
    })
}

fn recompute(conn: &mut DbConnection, day: NaiveDate) -> QueryResult<()> {
    diesel::delete(analytics_daily_products::table.filter(analytics_daily_products::day.eq(day)))
        .execute(conn)?;
    diesel::delete(
        analytics_daily_attributes::table.filter(analytics_daily_attributes::day.eq(day)),
    )
    .execute(conn)?;
    diesel::delete(analytics_daily_pages::table.filter(analytics_daily_pages::day.eq(day)))
        .execute(conn)?;
    diesel::delete(analytics_daily_dwell::table.filter(analytics_daily_dwell::day.eq(day)))
        .execute(conn)?;
    diesel::delete(
        analytics_daily_transitions::table.filter(analytics_daily_transitions::day.eq(day)),
    )
    .execute(conn)?;
    for sql in recompute_statements() {
        diesel::sql_query(sql).bind::<Date, _>(day).execute(conn)?;
    }
    Ok(())
}

/// The statements that aggregate one day (`$1`) of raw events. Portable SQL: window functions
/// and conditional aggregates work alike on SQLite and PostgreSQL.
fn recompute_statements() -> Vec<String> {
    let (view, product, leave) = (
        EventType::PageView.as_str(),
        EventType::ProductView.as_str(),
        EventType::PageLeave.as_str(),
    );
    // Products that exist (ids that were never products are not counted).
    let products = format!(
        "INSERT INTO analytics_daily_products (day, product_id, views, visitors) \
         SELECT e.day, e.product_id, COUNT(*), COUNT(DISTINCT e.visitor_hash) \
         FROM analytics_events e JOIN products p ON p.id = e.product_id \
         WHERE e.day = $1 AND e.event_type = '{product}' \
         GROUP BY e.day, e.product_id"
    );
    // Attributes as the catalogue has them when the day is rolled up.
    let attribute = |dimension: &str| {
        format!(
            "INSERT INTO analytics_daily_attributes (day, dimension, value, views, visitors) \
             SELECT e.day, '{dimension}', p.{dimension}, COUNT(*), COUNT(DISTINCT e.visitor_hash) \
             FROM analytics_events e JOIN products p ON p.id = e.product_id \
             WHERE e.day = $1 AND e.event_type = '{product}' \
             GROUP BY e.day, p.{dimension}"
        )
    };
    let pages = format!(
        "INSERT INTO analytics_daily_pages \
         (day, path, views, visitors, leaves, leave_visitors, dwell_ms_total) \
         SELECT e.day, e.path, \
         SUM(CASE WHEN e.event_type = '{view}' THEN 1 ELSE 0 END), \
         COUNT(DISTINCT CASE WHEN e.event_type = '{view}' THEN e.visitor_hash END), \
         SUM(CASE WHEN e.event_type = '{leave}' THEN 1 ELSE 0 END), \
         COUNT(DISTINCT CASE WHEN e.event_type = '{leave}' THEN e.visitor_hash END), \
         COALESCE(SUM(CASE WHEN e.event_type = '{leave}' THEN e.dwell_ms ELSE 0 END), 0) \
         FROM analytics_events e \
         WHERE e.day = $1 AND e.path IS NOT NULL \
         GROUP BY e.day, e.path"
    );
    let dwell = format!(
        "INSERT INTO analytics_daily_dwell (day, path, bucket_ms, leaves) \
         SELECT b.day, b.path, b.bucket_ms, COUNT(*) FROM (\
         SELECT e.day AS day, e.path AS path, {} AS bucket_ms \
         FROM analytics_events e WHERE e.day = $1 AND e.event_type = '{leave}') b \
         GROUP BY b.day, b.path, b.bucket_ms",
        dwell_bucket_sql("e.dwell_ms")
    );
    // A transition is a visitor's page view followed by their next page view that day
    // (reloading the same page is not a move).
    let transitions = format!(
        "INSERT INTO analytics_daily_transitions (day, from_path, to_path, moves, visitors) \
         SELECT m.day, m.from_path, m.to_path, COUNT(*), COUNT(DISTINCT m.visitor_hash) FROM (\
         SELECT e.day AS day, e.visitor_hash AS visitor_hash, e.path AS to_path, \
         LAG(e.path) OVER (PARTITION BY e.visitor_hash ORDER BY e.seq) AS from_path \
         FROM analytics_events e WHERE e.day = $1 AND e.event_type = '{view}') m \
         WHERE m.from_path IS NOT NULL AND m.from_path <> m.to_path \
         GROUP BY m.day, m.from_path, m.to_path"
    );
    vec![
        products,
        attribute("size_class"),
        attribute("style"),
        pages,
        dwell,
        transitions,
    ]
}

/// Sets each product's `popularity` to its views over the last [`POPULAR_DAYS`] days, and
/// tells every instance the cached listings are stale when any changed. Returns how many
/// changed.
pub fn refresh_popularity(conn: &mut DbConnection, today: NaiveDate) -> QueryResult<usize> {
    let since = today - chrono::Duration::days(POPULAR_DAYS - 1);
    let views = "COALESCE((SELECT SUM(a.views) FROM analytics_daily_products a \
                 WHERE a.product_id = products.id AND a.day >= $N), 0)";
    // Only products viewed in the window or popular before can change.
    let sql = format!(
        "UPDATE products SET popularity = {} \
         WHERE (popularity <> 0 OR id IN \
         (SELECT a.product_id FROM analytics_daily_products a WHERE a.day >= $2)) \
         AND popularity <> {}",
        views.replace("$N", "$1"),
        views.replace("$N", "$3"),
    );
    write_transaction(conn, |conn| {
        let changed = diesel::sql_query(&sql)
            .bind::<Date, _>(since)
            .bind::<Date, _>(since)
            .bind::<Date, _>(since)
            .execute(conn)?;
        if changed > 0 {
            crate::catalog::store::bump_catalog_version(conn)?;
        }
        Ok(changed)
    })
}
