//! Background work inside `serve`: expiring unpaid orders and closing orders whose
//! after-sales window ended. Every instance runs it; conditional status changes make that
//! safe.

use std::time::Duration;

use crate::db::Db;
use crate::http::error::ApiError;

pub const EVERY: Duration = Duration::from_secs(5);

pub fn spawn(db: Db, after_sales_window: chrono::Duration) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(EVERY);
        loop {
            tick.tick().await;
            let result: Result<usize, ApiError> =
                db.run(|conn| super::lifecycle::expire_due(conn, 100)).await;
            match result {
                Ok(0) => {}
                Ok(n) => tracing::info!("expired {n} unpaid order(s) and released their stock"),
                Err(e) => tracing::warn!("order expiry failed: {e}"),
            }
            let result: Result<usize, ApiError> = db
                .run(move |conn| super::after_sales::close_due(conn, after_sales_window, 100))
                .await;
            match result {
                Ok(0) => {}
                Ok(n) => tracing::info!("closed {n} order(s) after their after-sales window"),
                Err(e) => tracing::warn!("closing orders failed: {e}"),
            }
        }
    })
}
