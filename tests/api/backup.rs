//! `valise backup`, `restore` and `erasures export` as an operator runs them, against the real
//! binary and a server taking traffic: consistent snapshots, refused corruption, and no
//! erased subject coming back from a backup.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use valise::accounts::store as accounts;
use valise::config::SecretSource;
use valise::crypto::Crypto;
use valise::db::schema::{data_keys, order_items, orders, users, variants};
use valise::db::{DatabaseUrl, DbConnection};

use crate::fixtures::{contains, database_bytes, start_server_logging_to, Server};
use crate::helpers::{guest_cart_blocking, json_of_blocking, unique_email, TestDatabase, PASSWORD};

/// Runs `valise ARGS` against a database and the key files of `keys`.
fn valise(url: &DatabaseUrl, keys: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_valise"))
        .args(args)
        .env_remove("VALISE_BIND")
        .env("DATABASE_URL", url.to_env_value())
        .env("VALISE_DATA_DIR", keys)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn succeeded(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Exit 1 with one line naming the failure; returns that line.
fn failed(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn server(url: &DatabaseUrl, keys: &Path) -> Server {
    start_server_logging_to(
        &url.to_env_value(),
        Stdio::null(),
        &[("VALISE_DATA_DIR", keys.to_str().unwrap())],
    )
}

fn base(server: &Server) -> String {
    format!("http://127.0.0.1:{}", server.port)
}

/// Registers an account (unconfirmed: the mail is not read here).
fn register(base: &str, email: &str, name: &str) {
    let response = reqwest::blocking::Client::new()
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "name": name, "accepted_policy_version": 1}))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

/// A registered customer, confirmed by the operator's `valise accounts confirm`, logged in:
/// `{"user": {"id"}, "access_token", "refresh_token"}`.
fn customer(url: &DatabaseUrl, keys: &Path, base: &str, email: &str, name: &str) -> Value {
    register(base, email, name);
    succeeded(valise(url, keys, &["accounts", "confirm", email]));
    let response = reqwest::blocking::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .unwrap();
    let mut tokens = json_of_blocking(response, StatusCode::OK);
    let id = crate::helpers::subject_of(tokens["access_token"].as_str().unwrap());
    tokens["user"] = json!({ "id": id });
    tokens
}

fn login_status(base: &str, email: &str) -> u16 {
    reqwest::blocking::Client::new()
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// A guest checkout of one unit of `variant`; returns the checkout's status.
fn guest_checkout(base: &str, variant: &str, key: &str) -> u16 {
    let client = reqwest::blocking::Client::new();
    let (id, token) = guest_cart_blocking(&client, base, variant);
    client
        .post(format!("{base}/v1/carts/{id}/checkout"))
        .header("x-cart-token", token)
        .header("idempotency-key", key)
        .json(&json!({
            "contact_email": "guest@example.com",
            "shipping_address": {"name": "G Uest", "line1": "1 Main St", "city": "Lyon", "postal_code": "69001", "country": "FR"},
            "accepted_policy_version": 1
        }))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// `DELETE /v1/me` as the registered customer `session`.
fn erase_self(base: &str, session: &Value) {
    let erased = reqwest::blocking::Client::new()
        .delete(format!("{base}/v1/me"))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(erased.status(), 202);
}

/// `valise backup --out DIR/nightly.backup`; returns the snapshot's path.
fn back_up(url: &DatabaseUrl, keys: &Path, dir: &tempfile::TempDir) -> String {
    let (_, snapshot_arg) = snapshot_in(dir);
    succeeded(valise(url, keys, &["backup", "--out", &snapshot_arg]));
    snapshot_arg
}

fn connect(url: &DatabaseUrl) -> DbConnection {
    valise::db::connect_one(url).unwrap()
}

fn crypto(conn: &mut DbConnection, keys: &Path) -> Crypto {
    Crypto::init(&SecretSource::Generated(keys.join("master.keys")), conn).unwrap()
}

fn table_names(url: &DatabaseUrl) -> Vec<String> {
    valise::db::snapshot::table_names(&mut connect(url)).unwrap()
}

fn snapshot_in(dir: &tempfile::TempDir) -> (PathBuf, String) {
    let path = dir.path().join("nightly.backup");
    let text = path.to_str().unwrap().to_owned();
    (path, text)
}

#[test]
fn a_backup_taken_while_customers_buy_verifies_and_restores_a_consistent_database() {
    const STOCK: i32 = 1_000;
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    succeeded(valise(
        &url,
        keys.path(),
        &["seed", "--demo", "--products", "1"],
    ));
    let variant: String = {
        let mut conn = connect(&url);
        let id: String = variants::table
            .select(variants::id)
            .order(variants::id)
            .first(&mut conn)
            .unwrap();
        diesel::update(variants::table)
            .set(variants::available.eq(STOCK))
            .execute(&mut conn)
            .unwrap();
        id
    };
    let live = server(&url, keys.path());
    let early = unique_email("early");
    customer(&url, keys.path(), &base(&live), &early, "Early Customer");

    // Three clients register and check out without pause while the backup is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (base, variant, stop) = (base(&live), variant.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut done = 0;
                while !stop.load(Ordering::Relaxed) {
                    register(&base, &unique_email("busy"), "Busy Customer");
                    let status = guest_checkout(&base, &variant, &format!("bk-{w}-{done}"));
                    assert_eq!(status, 201, "checkout");
                    done += 1;
                }
                done
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    let dir = tempfile::tempdir().unwrap();
    let (snapshot, snapshot_arg) = snapshot_in(&dir);
    let out = succeeded(valise(
        &url,
        keys.path(),
        &["backup", "--out", &snapshot_arg],
    ));
    assert!(out.contains("backed up"), "{out}");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let placed: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(placed > 0);

    let manifest: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("nightly.backup.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["format"], "valise.backup");
    assert_eq!(manifest["format_version"], 1);
    assert_eq!(manifest["backend"], url.backend().name());
    assert_eq!(
        manifest["size"].as_u64(),
        Some(std::fs::metadata(&snapshot).unwrap().len())
    );
    assert_eq!(manifest["sha256"].as_str().map(str::len), Some(64));
    let ok = succeeded(valise(
        &url,
        keys.path(),
        &["backup", "--verify", &snapshot_arg],
    ));
    assert!(
        ok.starts_with("OK ") && ok.trim().lines().count() == 1,
        "{ok}"
    );

    let (restored, _restored_guard) = TestDatabase::create();
    let out = succeeded(valise(&restored, keys.path(), &["restore", &snapshot_arg]));
    assert!(out.contains("restored"), "{out}");

    // Every order the snapshot holds took its stock in the same snapshot, and every
    // customer and order has its data key: nothing torn.
    let mut conn = connect(&restored);
    let available: i32 = variants::table
        .find(&variant)
        .select(variants::available)
        .first(&mut conn)
        .unwrap();
    let quantities: Vec<i32> = order_items::table
        .filter(order_items::variant_id.eq(&variant))
        .select(order_items::quantity)
        .load(&mut conn)
        .unwrap();
    assert!(
        !quantities.is_empty(),
        "orders placed before the backup are in it"
    );
    assert!(quantities.len() <= placed);
    assert_eq!(available + quantities.iter().sum::<i32>(), STOCK);
    let keyless_users: i64 = users::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            data_keys::table.filter(data_keys::subject_id.eq(users::id)),
        )))
        .count()
        .get_result(&mut conn)
        .unwrap();
    let keyless_orders: i64 = orders::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            data_keys::table.filter(data_keys::subject_id.eq(orders::id)),
        )))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!((keyless_users, keyless_orders), (0, 0));
    drop(conn);

    drop(live);
    let again = server(&restored, keys.path());
    assert_eq!(login_status(&base(&again), &early), 200);
}

#[test]
fn a_tampered_or_newer_backup_is_refused_by_verify_and_restore() {
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    succeeded(valise(&url, keys.path(), &["migrate"]));
    let dir = tempfile::tempdir().unwrap();
    let snapshot_arg = back_up(&url, keys.path(), &dir);
    let snapshot = PathBuf::from(&snapshot_arg);
    let original = std::fs::read(&snapshot).unwrap();
    let (target, _target_guard) = TestDatabase::create();

    let mut tampered = original.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    std::fs::write(&snapshot, &tampered).unwrap();
    let err = failed(valise(
        &url,
        keys.path(),
        &["backup", "--verify", &snapshot_arg],
    ));
    assert!(err.contains("checksum mismatch"), "{err}");
    let err = failed(valise(&target, keys.path(), &["restore", &snapshot_arg]));
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(table_names(&target).is_empty(), "nothing was restored");

    let manifest_path = dir.path().join("nightly.backup.manifest.json");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    if url.backend() == valise::db::Backend::Sqlite {
        // Damage that the checksum does not catch (the manifest rewritten to match) still
        // fails SQLite's own integrity check.
        let mut damaged = original.clone();
        damaged[4096..4096 + 64].fill(0xff);
        std::fs::write(&snapshot, &damaged).unwrap();
        let mut lying = manifest.clone();
        lying["sha256"] = json!(sha256_hex(&damaged));
        std::fs::write(&manifest_path, serde_json::to_vec(&lying).unwrap()).unwrap();
        let err = failed(valise(
            &url,
            keys.path(),
            &["backup", "--verify", &snapshot_arg],
        ));
        assert!(err.contains("SQLite") || err.contains("integrity"), "{err}");
    }

    // A schema newer than this binary knows.
    std::fs::write(&snapshot, &original).unwrap();
    let mut newer = manifest.clone();
    newer["schema_version"] = json!("99991231000001");
    std::fs::write(&manifest_path, serde_json::to_vec(&newer).unwrap()).unwrap();
    let err = failed(valise(
        &url,
        keys.path(),
        &["backup", "--verify", &snapshot_arg],
    ));
    assert!(err.contains("newer than this binary"), "{err}");
    let err = failed(valise(&target, keys.path(), &["restore", &snapshot_arg]));
    assert!(err.contains("newer than this binary"), "{err}");

    // Without its manifest a snapshot is not a backup.
    std::fs::remove_file(&manifest_path).unwrap();
    let err = failed(valise(
        &url,
        keys.path(),
        &["backup", "--verify", &snapshot_arg],
    ));
    assert!(err.contains("manifest"), "{err}");
    assert!(table_names(&target).is_empty(), "nothing was restored");
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

#[test]
fn restore_refuses_a_database_that_holds_data_and_accepts_one_only_migrated() {
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    let live = server(&url, keys.path());
    let email = unique_email("kept");
    customer(&url, keys.path(), &base(&live), &email, "Kept Customer");
    let dir = tempfile::tempdir().unwrap();
    let snapshot_arg = back_up(&url, keys.path(), &dir);
    drop(live);

    let err = failed(valise(&url, keys.path(), &["restore", &snapshot_arg]));
    assert!(err.contains("not empty") && err.contains("users"), "{err}");
    let live = server(&url, keys.path());
    assert_eq!(login_status(&base(&live), &email), 200, "untouched");
    drop(live);

    // Migrated, even served, but nobody in it: that counts as empty.
    let (target, _target_guard) = TestDatabase::create();
    let other_keys = tempfile::tempdir().unwrap();
    drop(server(&target, other_keys.path()));
    succeeded(valise(&target, keys.path(), &["restore", &snapshot_arg]));
    let restored = server(&target, keys.path());
    assert_eq!(login_status(&base(&restored), &email), 200);
}

#[test]
fn a_customer_erased_after_the_backup_stays_erased_when_it_is_restored_with_the_ledger() {
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    let live = server(&url, keys.path());
    let (a_email, a_name) = (unique_email("zebediah.quux"), "Zebediah Quux-Fairweather");
    let (b_email, b_name) = (unique_email("philippa.ortolan"), "Philippa Ortolan");
    let a = customer(&url, keys.path(), &base(&live), &a_email, a_name);
    customer(&url, keys.path(), &base(&live), &b_email, b_name);
    let a_id = a["user"]["id"].as_str().unwrap().to_owned();
    let a_refresh = a["refresh_token"].as_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let snapshot_arg = back_up(&url, keys.path(), &dir);

    // A has no open order: the erasure happens at once.
    erase_self(&base(&live), &a);
    assert_eq!(login_status(&base(&live), &a_email), 401);
    let ledger = dir.path().join("erasures.jsonl");
    let out = succeeded(valise(
        &url,
        keys.path(),
        &["erasures", "export", "--out", ledger.to_str().unwrap()],
    ));
    assert!(out.contains("wrote 1 "), "{out}");
    let lines: Vec<Value> = std::fs::read_to_string(&ledger)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    let fields: Vec<&String> = lines[0].as_object().unwrap().keys().collect();
    assert_eq!(fields, ["erased_at", "subject_id"], "ids and times only");
    assert_eq!(lines[0]["subject_id"], a_id);
    drop(live);

    // Control: the backup itself still has A, readable, and a restore without the ledger
    // says so loudly.
    let (bare, _bare_guard) = TestDatabase::create();
    let output = valise(&bare, keys.path(), &["restore", &snapshot_arg]);
    let warning = String::from_utf8_lossy(&output.stderr).into_owned();
    succeeded(output);
    assert!(
        warning.contains("WARNING: no erasure ledger was replayed"),
        "{warning}"
    );
    let a_wrapped_key: Vec<u8> = {
        let mut conn = connect(&bare);
        let crypto = crypto(&mut conn, keys.path());
        let row = accounts::get(&mut conn, &a_id).unwrap().unwrap();
        let profile = accounts::open_profile(&mut conn, &crypto, &row).unwrap();
        assert_eq!(profile.name, a_name, "the backup holds A");
        data_keys::table
            .find(&a_id)
            .select(data_keys::wrapped)
            .first::<Option<Vec<u8>>>(&mut conn)
            .unwrap()
            .unwrap()
    };

    let (restored, _restored_guard) = TestDatabase::create();
    let out = succeeded(valise(
        &restored,
        keys.path(),
        &[
            "restore",
            &snapshot_arg,
            "--ledger",
            ledger.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("1 subjects shredded again"), "{out}");
    {
        let mut conn = connect(&restored);
        let crypto = crypto(&mut conn, keys.path());
        let wrapped: Option<Vec<u8>> = data_keys::table
            .find(&a_id)
            .select(data_keys::wrapped)
            .first(&mut conn)
            .unwrap();
        assert!(wrapped.is_none(), "A's data key is destroyed");
        assert!(matches!(
            crypto.data_key(&mut conn, &a_id),
            Err(valise::crypto::CryptoError::Shredded)
        ));
        let row = accounts::get(&mut conn, &a_id).unwrap().unwrap();
        assert!(row.email_bidx.is_none(), "A cannot be found by email");
        assert!(row.email_sealed.is_none() && row.name_sealed.is_none());
        assert!(accounts::open_profile(&mut conn, &crypto, &row).is_err());
        let ledger_rows: i64 = valise::db::schema::erasure_ledger::table
            .filter(valise::db::schema::erasure_ledger::subject_id.eq(&a_id))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(ledger_rows, 1, "the restored ledger knows A again");
        let b_id: String = users::table
            .filter(users::id.ne(&a_id))
            .filter(users::role.eq("customer"))
            .select(users::id)
            .first(&mut conn)
            .unwrap();
        let b_row = accounts::get(&mut conn, &b_id).unwrap().unwrap();
        let b = accounts::open_profile(&mut conn, &crypto, &b_row).unwrap();
        assert_eq!(
            (b.name.as_str(), b.email.as_str()),
            (b_name, b_email.as_str())
        );
    }
    let stored = database_bytes(&restored);
    for secret in [a_email.as_str(), a_name] {
        assert!(!contains(&stored, secret), "{secret} readable on disk");
    }
    assert!(
        !stored
            .windows(a_wrapped_key.len())
            .any(|w| w == a_wrapped_key)
            && !contains(&stored, &hex::encode(&a_wrapped_key)),
        "A's wrapped data key left a copy on disk"
    );

    let served = server(&restored, keys.path());
    assert_eq!(login_status(&base(&served), &a_email), 401);
    assert_eq!(login_status(&base(&served), &b_email), 200);
    let refreshed = reqwest::blocking::Client::new()
        .post(format!("{}/v1/auth/refresh", base(&served)))
        .json(&json!({"refresh_token": a_refresh}))
        .send()
        .unwrap();
    assert_eq!(
        refreshed.status(),
        401,
        "A's session from before the backup is gone"
    );
}

#[test]
fn a_restore_without_the_ledger_can_be_made_good_by_replaying_it() {
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    let live = server(&url, keys.path());
    let email = unique_email("later");
    let a = customer(&url, keys.path(), &base(&live), &email, "Later Erased");
    let dir = tempfile::tempdir().unwrap();
    let snapshot_arg = back_up(&url, keys.path(), &dir);
    erase_self(&base(&live), &a);
    let ledger = dir.path().join("erasures.jsonl");
    let ledger_arg = ledger.to_str().unwrap();
    succeeded(valise(
        &url,
        keys.path(),
        &["erasures", "export", "--out", ledger_arg],
    ));
    drop(live);

    let (restored, _restored_guard) = TestDatabase::create();
    succeeded(valise(&restored, keys.path(), &["restore", &snapshot_arg]));
    let out = succeeded(valise(
        &restored,
        keys.path(),
        &["erasures", "replay", ledger_arg],
    ));
    assert!(out.contains("1 subjects shredded again"), "{out}");
    let out = succeeded(valise(
        &restored,
        keys.path(),
        &["erasures", "replay", ledger_arg],
    ));
    assert!(
        out.contains("0 subjects shredded again"),
        "idempotent: {out}"
    );
    let served = server(&restored, keys.path());
    assert_eq!(login_status(&base(&served), &email), 401);
}

#[test]
fn a_restore_with_another_master_key_fails_and_leaves_the_target_empty() {
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    let live = server(&url, keys.path());
    customer(
        &url,
        keys.path(),
        &base(&live),
        &unique_email("keyed"),
        "Keyed Customer",
    );
    let dir = tempfile::tempdir().unwrap();
    let snapshot_arg = back_up(&url, keys.path(), &dir);
    drop(live);

    let (target, _target_guard) = TestDatabase::create();
    let missing = tempfile::tempdir().unwrap();
    let err = failed(valise(&target, missing.path(), &["restore", &snapshot_arg]));
    assert!(err.contains("no master key"), "{err}");
    assert!(
        !missing.path().join("master.keys").exists(),
        "no key is generated"
    );

    let other = tempfile::tempdir().unwrap();
    succeeded(valise(&target, other.path(), &["migrate"]));
    drop(server(&target, other.path()));
    let err = failed(valise(&target, other.path(), &["restore", &snapshot_arg]));
    assert!(err.contains("master key does not open"), "{err}");
    // SQLite keeps the migrated file it had; PostgreSQL dropped the restored tables.
    if table_names(&target).iter().any(|t| t == "users") {
        let users: i64 = users::table
            .count()
            .get_result(&mut connect(&target))
            .unwrap();
        assert_eq!(users, 0, "nothing of the backup stayed");
    }
}
