//! Every background loop of `serve`, started in one place: the version watcher, order expiry
//! and closing, erasures, the policy-notice resumer, outgoing deliveries, retention, the
//! analytics flusher and roll-up, and the audit anchor. Every instance runs them all; each is safe with
//! several processes on one database.
//!
//! This is also where the rooms meet the delivery worker: each room that sends notifications
//! registers the lookup that opens its notices' one address ([`recipients`]).

use actix_web::rt::task::JoinHandle;
use actix_web::web;

use crate::config::Config;
use crate::crypto::Crypto;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::notifications::delivery::NotificationOutbox;
use crate::notifications::mail::Mailer;
use crate::notifications::recipients::Recipients;
use crate::versions::{Sources, Versions};
use crate::webhooks::delivery::WebhookOutbox;
use crate::{
    accounts, analytics, audit, auth, catalog, delivery, invoices, orders, payments, policies,
    privacy, retention, versions,
};

/// What the loops are started with.
pub struct Context<'a> {
    pub db: &'a Db,
    pub crypto: &'a Crypto,
    pub config: &'a Config,
    pub versions: &'a web::Data<Versions>,
    pub retention: &'a retention::Settings,
    pub metrics: &'a web::Data<Metrics>,
    pub analytics: &'a web::Data<analytics::Ingest>,
}

/// Whom each kind of notification is written to, by the room that owns it.
pub fn recipients() -> Recipients {
    Recipients::default()
        .for_accounts(accounts::store::notice_address)
        .for_kinds(privacy::requests::guest::RECIPIENTS)
        .for_kinds(auth::email_tokens::RECIPIENTS)
        .for_kinds(catalog::consultations::RECIPIENTS)
        .for_orders(orders::view::notice_address)
}

/// Where the shared versions are read, by the room that owns each.
pub fn versions() -> Sources {
    Sources {
        policy: policies::store::current_version,
        catalog: catalog::store::catalog_version,
        principals: auth::store::principals_version,
    }
}

/// Starts every loop; they run until the server stops (their handles are aborted).
pub fn spawn_all(cx: Context<'_>) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let Context {
        db,
        crypto,
        config,
        versions,
        retention,
        metrics,
        analytics: ingest,
    } = cx;
    Ok(vec![
        versions::spawn_watcher(db.clone(), versions.clone()),
        orders::worker::spawn(db.clone(), config.shop.after_sales_window),
        payments::worker::spawn(
            db.clone(),
            std::sync::Arc::new(payments::provider::PaymentSettings::from_config(config)?),
            config.delivery.interval,
        ),
        invoices::worker::spawn(
            db.clone(),
            invoices::issue::Issuer::new(crypto.clone(), &config.shop.seller),
            config.delivery.interval,
        ),
        privacy::erasure::spawn(db.clone(), crypto.clone()),
        policies::admin::spawn_resumer(db.clone()),
        delivery::spawn(
            db.clone(),
            crypto.clone(),
            config.delivery.clone(),
            vec![
                Box::new(NotificationOutbox::new(
                    recipients(),
                    config
                        .delivery
                        .mail
                        .as_ref()
                        .map(|mail| Mailer::new(mail, config.delivery.timeout))
                        .transpose()?,
                )),
                Box::new(WebhookOutbox),
            ],
        )?,
        retention::routes::spawn(
            db.clone(),
            crypto.clone(),
            retention.clone(),
            metrics.clone(),
        ),
        analytics::ingest::spawn_flusher(
            ingest.clone().into_inner(),
            db.clone(),
            config.analytics.flush_interval,
        ),
        analytics::spawn(
            db.clone(),
            ingest.clone().into_inner(),
            config.analytics.rollup_interval,
        ),
        audit::anchor::spawn(
            db.clone(),
            crypto.clone(),
            audit::anchor::AnchorConfig {
                file: config.audit_anchor_file.clone(),
                interval: config.audit_anchor_interval,
            },
        ),
    ])
}
