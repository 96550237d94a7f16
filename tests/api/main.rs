//! End-to-end tests over a real socket against a real database: a temporary SQLite file by
//! default, a fresh PostgreSQL database when `TEST_DATABASE_URL=postgres://…` is set.

// Tests state their expectations with unwrap/expect/panic: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts_mail;
mod after_sales;
mod analytics;
mod audit;
mod auth;
mod backup;
mod body_errors;
mod catalog;
mod catalog_admin;
mod catalog_facets;
mod catalog_plans;
mod collections;
mod container;
mod discounts;
mod errors;
mod fake_stripe;
mod fixtures;
mod fuzz;
mod growth;
mod guest_privacy;
mod guest_rectification;
mod health;
mod helpers;
mod invoices;
mod limits;
mod mail;
mod mail_tls;
mod me;
mod metrics;
mod migrations;
mod money;
mod openapi;
mod order_actions;
mod orders;
mod orders_admin;
mod outbox;
mod policies;
mod pooler;
mod privacy;
mod privacy_center;
mod process;
mod receiver;
mod replica;
mod retention;
mod rotation;
mod shipping;
mod staff;
mod staff_tools;
mod storage;
mod stripe;
mod tax;
mod telemetry;
mod variant_images;
mod webhooks;
