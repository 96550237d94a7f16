//! End-to-end tests over a real socket against a real database: a temporary SQLite file by
//! default, a fresh PostgreSQL database when `TEST_DATABASE_URL=postgres://…` is set.

// Tests state their expectations with unwrap/expect/panic: a failure there is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod body_errors;
mod errors;
mod health;
mod helpers;
mod migrations;
mod openapi;
mod policies;
mod process;
