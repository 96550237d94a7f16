//! Sealed-field throughput: seal + open of a 64-byte field with a subject's data key.
//! `cargo bench --bench crypto` (release build). Target: ≥ 500k seal+open pairs/s on one core.

use std::time::Instant;

use valise::config::SecretSource;
use valise::crypto::{Crypto, Place};
use valise::db::{migrations, DatabaseUrl, Db};

fn main() -> anyhow::Result<()> {
    let db = Db::connect(&DatabaseUrl::SqliteMemory, 1)?;
    let mut conn = db.get()?;
    migrations::run_pending(&mut conn)?;
    let crypto = Crypto::init(&SecretSource::Ephemeral, &mut conn)?;
    let key = crypto.create_data_key(&mut conn, "usr_bench")?;
    let place = Place::new("users", "name_sealed", "usr_bench");
    let field = [0x61u8; 64];

    // Warm up, then measure.
    for _ in 0..10_000 {
        let sealed = key.seal(&place, &field)?;
        key.open(&place, &sealed)?;
    }
    let rounds = 1_000_000;
    let started = Instant::now();
    for _ in 0..rounds {
        let sealed = key.seal(&place, &field)?;
        let opened = key.open(&place, &sealed)?;
        std::hint::black_box(opened);
    }
    let elapsed = started.elapsed();
    let per_sec = rounds as f64 / elapsed.as_secs_f64();
    println!(
        "seal+open 64 B: {rounds} pairs in {:.2} s = {:.0} pairs/s ({:.0} ns per pair), one core",
        elapsed.as_secs_f64(),
        per_sec,
        elapsed.as_nanos() as f64 / rounds as f64
    );

    let started = Instant::now();
    let unwraps = 100_000;
    for _ in 0..unwraps {
        std::hint::black_box(crypto.data_key(&mut conn, "usr_bench")?);
    }
    let elapsed = started.elapsed();
    println!(
        "data-key load + unwrap (SQLite in memory): {:.0}/s ({:.1} µs each)",
        unwraps as f64 / elapsed.as_secs_f64(),
        elapsed.as_micros() as f64 / unwraps as f64
    );

    let started = Instant::now();
    let hashes = 20;
    let password = valise::auth::password::Password::parse("p", "benchmark password".into())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut stored = String::new();
    for _ in 0..hashes {
        stored = password.hash()?;
    }
    let hash_ms = started.elapsed().as_secs_f64() * 1000.0 / hashes as f64;
    let started = Instant::now();
    for _ in 0..hashes {
        std::hint::black_box(valise::auth::password::verify(
            &stored,
            "benchmark password",
        ));
    }
    let verify_ms = started.elapsed().as_secs_f64() * 1000.0 / hashes as f64;
    println!(
        "Argon2id m={} KiB t={} p={}: hash {hash_ms:.1} ms, verify {verify_ms:.1} ms",
        valise::auth::password::MEMORY_KIB,
        valise::auth::password::ITERATIONS,
        valise::auth::password::PARALLELISM
    );
    Ok(())
}
