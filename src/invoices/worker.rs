//! Background work inside `serve`: documents left due (a crash between a payment's commit and
//! its invoice, a refund settled by a cancellation or by the refund worker) are issued here.
//! Every instance runs it: a document is taken off the queue by one transaction only.

use std::time::Duration;

use super::issue::{issue_due, Issuer};
use crate::db::Db;

/// Documents issued per pass.
const BATCH: i64 = 50;

pub fn spawn(db: Db, issuer: Issuer, every: Duration) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(every);
        loop {
            tick.tick().await;
            let issuer = issuer.clone();
            match db.run(move |conn| issue_due(conn, &issuer, BATCH)).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("issued {n} document(s)"),
                Err(e) => tracing::warn!("issuing documents failed: {e}"),
            }
        }
    })
}
