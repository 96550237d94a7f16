use std::process::ExitCode;

use clap::Parser;
use valise::cli::{self, Cli, Command};
use valise::config::Config;

fn main() -> ExitCode {
    // Files are private from the moment they exist: the SQLite database, its WAL and shared
    // memory, generated keys and backups are created 0600 (directories 0700) by whatever
    // creates them, with no window between create and chmod.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
    let command = Cli::parse().command.unwrap_or(Command::Serve);
    match command {
        Command::Openapi => {
            // Needs no configuration, so it works on any machine (CI, code generators).
            print!("{}", valise::startup::spec_json());
            return ExitCode::SUCCESS;
        }
        // Runs beside the server every few seconds: no configuration, no log set-up.
        Command::Healthcheck { address, timeout } => return cli::healthcheck(address, timeout),
        _ => {}
    }
    let serves = matches!(command, Command::Serve);
    let config = match Config::from_env().and_then(|c| {
        if serves {
            c.check_listener()?;
        }
        Ok(c)
    }) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("valise: {e}");
            return ExitCode::from(2);
        }
    };
    // After the configuration, which chooses the log format and the collector; its errors
    // above go to standard error as one plain line.
    let telemetry = match valise::telemetry::init(&config.telemetry, serves) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("valise: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let code = match cli::run(command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    };
    // Flushes the spans still queued for the collector.
    drop(telemetry);
    code
}
