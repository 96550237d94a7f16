//! Command-line interface: `valise [serve]`, `valise migrate`, `valise openapi`.

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::db::Db;
use crate::startup::{self, Application};

#[derive(Debug, Parser)]
#[command(name = "valise", version, about = "Valise commerce API")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default). Migrates the database first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document (what `openapi/openapi.json` must contain).
    Openapi,
}

/// Runs a command that needs the configuration.
pub fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Openapi => {
            print!("{}", crate::http::openapi::spec_json());
            Ok(())
        }
        Command::Migrate => {
            let db = Db::connect(&config.database_url, 1)?;
            startup::prepare_database(&db)?;
            println!(
                "database is up to date ({})",
                config.database_url.redacted()
            );
            Ok(())
        }
        Command::Serve => actix_web::rt::System::new().block_on(async move {
            let bind = config.bind;
            let app = Application::build(config).await?;
            log::info!("Valise listening on http://{bind} (port {})", app.port());
            app.run_until_stopped().await?;
            log::info!("Valise stopped");
            Ok(())
        }),
    }
}
