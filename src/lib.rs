//! Valise: a headless commerce API for an online luggage shop, built so that its privacy
//! policy is kept by the code.

pub mod cli;
pub mod config;
pub mod db;
pub mod http;
pub mod policies;
pub mod startup;
pub mod versions;
