//! Command-line interface: `valise [serve]`, `migrate`, `openapi`, `healthcheck`,
//! `admin create`, `keys rotate`, `audit verify`, `backup`, `restore`, `erasures`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};

use crate::accounts::model::{Email, PersonName};
use crate::audit::Actor;
use crate::auth::password::Password;
use crate::auth::Role;
use crate::config::Config;
use crate::crypto::rotation;
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
    /// Ask the running server's readiness probe (`GET /readyz`): exit 0 when it answers 200,
    /// 1 otherwise. For container health checks; needs no other configuration.
    Healthcheck {
        /// The server's VALISE_BIND; a wildcard address (0.0.0.0, [::]) is asked on loopback.
        #[arg(value_name = "ADDRESS", env = "VALISE_BIND", default_value = crate::config::DEFAULT_BIND)]
        address: SocketAddr,
        /// Seconds to wait for the answer.
        #[arg(long, value_name = "SECONDS", default_value_t = 3)]
        timeout: u64,
    },
    /// Staff accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Customer accounts (support tasks).
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Master keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Retention rules (the data map's retention column).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Write a consistent snapshot of the database while it serves, with FILE.manifest.json
    /// beside it; with --dir, a new set in DIR and the older ones rotated out; or, with
    /// --verify, check one.
    Backup {
        /// Where to write the snapshot (must not exist).
        #[arg(long, value_name = "FILE", required_unless_present_any = ["verify", "dir"])]
        out: Option<PathBuf>,
        /// Write `valise-<UTC time>.backup` into DIR with its manifest and the erasure ledger
        /// (`….erasures.jsonl`); once it verifies, delete the sets beyond the newest --keep.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["out", "verify"])]
        dir: Option<PathBuf>,
        /// How many sets --dir keeps, the new one included.
        #[arg(
            long,
            value_name = "N",
            env = "VALISE_BACKUP_KEEP",
            default_value_t = crate::backup::rotation::DEFAULT_KEEP,
            value_parser = clap::value_parser!(u16).range(1..).map(usize::from),
        )]
        keep: usize,
        /// Check a snapshot against its manifest and this binary instead; exits 1 naming what
        /// failed.
        #[arg(long, value_name = "FILE", conflicts_with = "out")]
        verify: Option<PathBuf>,
    },
    /// Restore a verified backup into the empty database of DATABASE_URL, then replay the
    /// erasure ledger so nobody erased since the backup comes back.
    Restore {
        /// The snapshot written by `valise backup --out`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The newest `valise erasures export`, kept beside the key store.
        #[arg(long, value_name = "LEDGER_FILE")]
        ledger: Option<PathBuf>,
    },
    /// The erasure ledger (every shredded subject id, with its time).
    Erasures {
        #[command(subcommand)]
        command: ErasuresCommand,
    },
    /// Load the demo luggage catalogue (idempotent).
    Seed {
        /// The demo catalogue (240 products, 720 variants).
        #[arg(long)]
        demo: bool,
        /// How many products to generate instead (for benchmarks).
        #[arg(long)]
        products: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Run every rule once, in batches; prints the counts per rule as JSON.
    Run {
        /// Only count what is due.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a staff account. The password is read from VALISE_ADMIN_PASSWORD, or else from
    /// the first line of standard input (never from the command line, where `ps` shows it).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// admin, manager, fulfillment, support or privacy_officer.
        #[arg(long, default_value = "admin")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Confirm the address of an account waiting for confirmation, for a customer whose
    /// mail never arrives once support has verified the address another way (audited as the
    /// system). Exits 1 when no account at EMAIL waits for confirmation.
    Confirm {
        #[arg(value_name = "EMAIL")]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-wrap every data key under the newest master key (adding a version first when the
    /// key file is the generated development one). Resumable: run it again after a crash.
    Rotate {
        /// Keys re-wrapped per transaction.
        #[arg(long, default_value_t = rotation::DEFAULT_BATCH)]
        batch: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit chain; exits 1 and names the first broken entry if it is not intact.
    Verify {
        /// Also check the chain against the signed checkpoints in FILE (the instances'
        /// `VALISE_AUDIT_ANCHOR_FILE`, or the `valise::audit_anchor` lines of their logs):
        /// an entry anchored there and gone from the chain means the log was cut.
        #[arg(long, value_name = "FILE")]
        anchor: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ErasuresCommand {
    /// Write the erasure ledger as JSON lines (subject ids and times only), replacing FILE
    /// atomically: ship it with the key store, more often than the backups.
    Export {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Replay a ledger file into the database (idempotent): for a restore made without
    /// --ledger.
    Replay {
        #[arg(value_name = "LEDGER_FILE")]
        file: PathBuf,
    },
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("VALISE_ADMIN_PASSWORD") {
        return Ok(p);
    }
    eprintln!("password (one line on standard input):");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `valise healthcheck`: prints `ready` and succeeds, or says why not on standard error and
/// fails (exit 1), as container health checks expect.
pub fn healthcheck(address: SocketAddr, timeout: u64) -> ExitCode {
    match crate::http::probe::check_ready(address, Duration::from_secs(timeout.max(1))) {
        Ok(()) => {
            println!("ready");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("valise: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command that needs the configuration.
pub fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Openapi => {
            print!("{}", crate::startup::spec_json());
            Ok(())
        }
        Command::Healthcheck { address, timeout } => {
            crate::http::probe::check_ready(address, Duration::from_secs(timeout.max(1)))?;
            Ok(())
        }
        Command::Migrate => {
            let db = Db::connect_with(&config.database_url, 1, config.db_statements)?;
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
            tracing::info!("Valise listening on http://{bind} (port {})", app.port());
            app.run_until_stopped().await?;
            tracing::info!("Valise stopped");
            Ok(())
        }),
        Command::Admin {
            command: AdminCommand::Create { email, name, role },
        } => {
            let role = Role::parse(&role)
                .filter(|r| r.is_staff())
                .ok_or_else(|| anyhow::anyhow!("--role must be a staff role"))?;
            let problem = |e: crate::invalid::Invalid| anyhow::anyhow!("{e:?}");
            let email = Email::parse("--email", &email).map_err(problem)?;
            let name = PersonName::parse("--name", &name).map_err(problem)?;
            let password = Password::parse("password", read_password()?).map_err(problem)?;
            let services = startup::services(&config)?;
            let mut conn = services.db.get()?;
            let row = crate::accounts::staff::create_account(
                &mut conn,
                &services.crypto,
                &Actor::system(),
                &email,
                &name,
                &password,
                role,
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("created {} ({})", row.id, role.as_str());
            Ok(())
        }
        Command::Accounts {
            command: AccountsCommand::Confirm { email },
        } => {
            let email = Email::parse("EMAIL", &email).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let services = startup::services(&config)?;
            let mut conn = services.db.get()?;
            let confirmed =
                crate::auth::register::confirm_by_operator(&mut conn, &services.crypto, &email)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if !confirmed {
                anyhow::bail!("no account waits for confirmation at this address");
            }
            println!("confirmed");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { batch },
        } => {
            let services = startup::services(&config)?;
            let mut conn = services.db.get()?;
            let crypto = &services.crypto;
            if crypto.keyring().can_add_version() {
                let id = crypto.keyring().add_version()?;
                println!("added master key version {id}");
            }
            let status = rotation::rewrap_all(&mut conn, crypto, batch.max(1), None, |s| {
                println!(
                    "re-wrapped {} so far; {} under {}, {} remaining",
                    s.rewrapped, s.current, s.newest_key_id, s.remaining
                );
            })?;
            if status.remaining == 0 {
                println!(
                    "rotation complete: every key is under {}",
                    status.newest_key_id
                );
            } else {
                println!(
                    "rotation incomplete: {} keys still need {:?}",
                    status.remaining, status.old_key_ids_in_use
                );
            }
            Ok(())
        }
        Command::Backup {
            verify: Some(file), ..
        } => {
            let checked = crate::backup::verify(&file)
                .with_context(|| format!("backup {} failed verification", file.display()))?;
            let m = &checked.manifest;
            println!(
                "OK {}: {} snapshot, schema {}, {} bytes, SHA-256 {}, taken {}",
                file.display(),
                m.backend,
                m.schema_version,
                m.size,
                m.sha256,
                m.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            Ok(())
        }
        Command::Backup {
            dir: Some(dir),
            keep,
            ..
        } => {
            let r = crate::backup::rotation::take(&config.database_url, &dir, keep)
                .context("backup failed")?;
            println!(
                "backed up {} to {} ({} bytes, schema {}, SHA-256 {}); erasure ledger {} ({} \
                 entries)",
                config.database_url.redacted(),
                r.snapshot.display(),
                r.manifest.size,
                r.manifest.schema_version,
                r.manifest.sha256,
                r.ledger.display(),
                r.ledger_entries
            );
            for old in &r.removed {
                println!("rotated out {}", old.display());
            }
            println!(
                "{} backup(s) kept in {} (--keep {keep})",
                r.kept,
                dir.display()
            );
            Ok(())
        }
        Command::Backup { out, .. } => {
            let out = out.ok_or_else(|| anyhow::anyhow!("say where: --out FILE"))?;
            let m = crate::backup::take(&config.database_url, &out).context("backup failed")?;
            println!(
                "backed up {} to {} ({} bytes, schema {}, SHA-256 {}); manifest {}",
                config.database_url.redacted(),
                out.display(),
                m.size,
                m.schema_version,
                m.sha256,
                crate::backup::manifest::path_for(&out).display()
            );
            Ok(())
        }
        Command::Restore { file, ledger } => {
            let restored = crate::backup::restore(
                &config.database_url,
                &config.master_keys,
                &file,
                ledger.as_deref(),
            )
            .context("restore failed")?;
            println!(
                "restored {} (taken {}, schema {}) into {}",
                file.display(),
                restored
                    .manifest
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                restored.manifest.schema_version,
                config.database_url.redacted()
            );
            match restored.replay {
                Some(r) => println!(
                    "replayed the erasure ledger: {} entries, {} subjects shredded again, {} \
                     accounts emptied",
                    r.entries, r.shredded, r.accounts_emptied
                ),
                None => eprintln!(
                    "WARNING: no erasure ledger was replayed (--ledger). Anyone erased after \
                     this backup was taken is readable again. Before serving, run: valise \
                     erasures replay LEDGER_FILE (the newest `valise erasures export`)."
                ),
            }
            Ok(())
        }
        Command::Erasures {
            command: ErasuresCommand::Export { out },
        } => {
            let mut conn = crate::db::connect_one(&config.database_url)?;
            let count = crate::backup::ledger::export(&mut conn, &out)
                .context("erasure ledger export failed")?;
            println!("wrote {count} erased subject(s) to {}", out.display());
            Ok(())
        }
        Command::Erasures {
            command: ErasuresCommand::Replay { file },
        } => {
            let entries = crate::backup::ledger::read(&file)?;
            let services = startup::services(&config)?;
            let mut conn = services.db.get()?;
            let r = crate::privacy::erasure::replay(&mut conn, &services.crypto, &entries)
                .context("replaying the erasure ledger")?;
            println!(
                "replayed the erasure ledger: {} entries, {} subjects shredded again, {} \
                 accounts emptied",
                r.entries, r.shredded, r.accounts_emptied
            );
            Ok(())
        }
        Command::Seed { demo, products } => {
            if !demo {
                anyhow::bail!("say what to seed: `valise seed --demo [--products N]`");
            }
            let count = products.unwrap_or(crate::catalog::seed::DEMO_PRODUCTS);
            let db = Db::connect_with(&config.database_url, 1, config.db_statements)?;
            startup::prepare_database(&db)?;
            let mut conn = db.get()?;
            let started = std::time::Instant::now();
            let inserted = crate::catalog::seed::seed(&mut conn, count, |done, total| {
                println!("seeded {done}/{total} products");
            })?;
            crate::db::refresh_statistics(&mut conn, crate::db::Statistics::AfterBulkLoad)?;
            println!(
                "done: {inserted} new products ({} already there) in {:.1} s",
                count - inserted,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Retention {
            command: RetentionCommand::Run { dry_run },
        } => {
            let services = startup::services(&config)?;
            let mut conn = services.db.get()?;
            let settings = crate::retention::Settings::from_config(&config);
            let report = crate::retention::engine::run(
                &mut conn,
                &services.crypto,
                &settings,
                crate::db::now(),
                dry_run,
            )?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { anchor },
        } => {
            let services = startup::services(&config)?;
            let mut conn = services.db.get()?;
            let report = crate::audit::store::verify(&mut conn, &services.crypto)?;
            let anchors = match &anchor {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    Some(crate::audit::anchor::check(
                        &mut conn,
                        &services.crypto,
                        &text,
                    )?)
                }
                None => None,
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "intact": report.intact,
                    "checked": report.checked,
                    "head_seq": report.head_seq,
                    "pruned_through_seq": report.pruned_through_seq,
                    "first_broken_seq": report.first_broken_seq,
                    "problem": report.problem,
                    "anchors": anchors,
                }))?
            );
            if let Some(anchors) = anchors.filter(|a| !a.holds) {
                anyhow::bail!(
                    "audit chain does not hold its anchors: {}",
                    anchors.problem.unwrap_or_default()
                )
            }
            if report.intact {
                Ok(())
            } else {
                anyhow::bail!(
                    "audit chain broken at entry {}",
                    report.first_broken_seq.unwrap_or_default()
                )
            }
        }
    }
}
