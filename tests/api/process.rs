//! The `valise` binary as an operator runs it: configuration errors, commands, signals.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::fixtures::{start_server_logging_to, valise, Server};
use crate::helpers::{guest_cart_blocking, json_of_blocking, TestDatabase};

#[test]
fn an_invalid_setting_stops_the_start_with_one_line_naming_it() {
    let output = valise()
        .env("VALISE_BIND", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("VALISE_BIND"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let output = valise()
        .env("DATABASE_URL", "mysql://user:secret@host/db")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DATABASE_URL") && !stderr.contains("secret"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_a_public_address_with_development_secrets() {
    let output = valise()
        .env("VALISE_BIND", "0.0.0.0:0")
        .env("DATABASE_URL", "sqlite::memory:")
        .env_remove("VALISE_MASTER_KEY")
        .env_remove("VALISE_JWT_SECRET")
        .env_remove("VALISE_PAYMENT_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    for var in [
        "VALISE_BIND",
        "VALISE_MASTER_KEY",
        "VALISE_JWT_SECRET",
        "VALISE_PAYMENT_WEBHOOK_SECRET",
    ] {
        assert!(stderr.contains(var), "{stderr}");
    }
    assert!(!stderr.contains(valise::config::DEV_WEBHOOK_SECRET));
}

#[cfg(unix)]
#[test]
fn database_wal_key_and_backup_files_are_private_from_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // Whatever umask the operator's shell has, the files come out private.
    let data = dir.path().join("data");
    let url = format!("sqlite://{}", data.join("valise.db").display());
    let server = start_server_logging_to(
        &url,
        Stdio::null(),
        &[("VALISE_DATA_DIR", data.to_str().unwrap())],
    );
    // A write, so the WAL and its index exist.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let body = r#"{"email":"perm@example.com","password":"correct horse battery staple","name":"Perm","accepted_policy_version":1}"#;
    write!(
        stream,
        "POST /v1/auth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 202"), "{response}");

    let snapshot = dir.path().join("snapshot.db");
    let output = valise()
        .args(["backup", "--out", snapshot.to_str().unwrap()])
        .env("DATABASE_URL", &url)
        .env("VALISE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(snapshot.clone());
    files.push(dir.path().join("snapshot.db.manifest.json"));
    for name in [
        "valise.db",
        "valise.db-wal",
        "valise.db-shm",
        "master.keys",
        "jwt.secret",
    ] {
        assert!(files.contains(&data.join(name)), "{name} exists: {files:?}");
    }
    for file in &files {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
    }
    let dir_mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700, "the data directory is {dir_mode:o}");
    drop(server);
}

#[test]
fn the_openapi_command_prints_the_committed_document() {
    let output = valise().arg("openapi").output().unwrap();
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).unwrap();
    assert_eq!(printed, committed);
}

#[test]
fn the_migrate_command_prepares_a_database() {
    let (url, _guard) = TestDatabase::create();
    let raw = url.to_env_value();
    for _ in 0..2 {
        let output = valise()
            .arg("migrate")
            .env("DATABASE_URL", &raw)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Returns once a session waits for a lock on `policies` (the holder's own connection can
/// still look at `pg_locks`), so the signal is sent while the request is inside its handler.
fn wait_for_a_blocked_read(conn: &mut valise::db::PooledConnection) {
    use diesel::RunQueryDsl;
    let waiting = "(SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                   WHERE c.relname = 'policies' AND NOT l.granted)";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let blocked: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(waiting))
            .get_result(&mut **conn)
            .unwrap();
        if blocked > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the request never reached the database"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start_server(database_url: &str) -> Server {
    start_server_logging_to(database_url, Stdio::null(), &[])
}

/// On PostgreSQL, holds a lock that makes every read of `policies` wait until it is dropped,
/// so a request can be caught in flight. SQLite in WAL mode has no lock that blocks readers
/// from another process; there the request simply completes before the signal.
fn lock_policies(url: &valise::db::DatabaseUrl) -> Option<valise::db::PooledConnection> {
    use diesel::connection::SimpleConnection;
    if url.backend() != valise::db::Backend::Postgres {
        return None;
    }
    let db = valise::db::Db::connect(url, 1).unwrap();
    let mut conn = db.get().unwrap();
    conn.batch_execute("BEGIN; LOCK TABLE policies IN ACCESS EXCLUSIVE MODE;")
        .unwrap();
    Some(conn)
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_cleanly() {
    let (url, _guard) = TestDatabase::create();
    let mut server = start_server(&url.to_env_value());

    let mut lock = lock_policies(&url);
    let port = server.port;
    let request = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        stream
            .write_all(b"GET /v1/policies/current HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    });
    match &mut lock {
        // The request is in flight once its read of `policies` waits for the lock.
        Some(conn) => wait_for_a_blocked_read(conn),
        // Nothing can hold it in flight: it finishes first, and the signal comes after.
        None => {
            while !request.is_finished() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    server.sigterm();
    std::thread::sleep(Duration::from_millis(500));
    if lock.is_some() {
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "the server exited with a request in flight"
        );
    }
    drop(lock);

    let response = request.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // Then the process exits on its own, successfully, and accepts nothing more.
    let status = server.exit_within(Duration::from_secs(20));
    assert!(status.success(), "exit status {status}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn the_access_log_has_one_line_per_request_without_the_query_string() {
    let (url, _guard) = TestDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = start_server_logging_to(&url.to_env_value(), log, &[]);

    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .write_all(
            b"GET /v1/policies?limit=5&cursor=c2VjcmV0 HTTP/1.1\r\nHost: localhost\r\n\
              X-Request-Id: log-probe-1\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    drop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("log-probe-1")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    let line = lines[0];
    assert!(line.contains("valise::access"), "{line}");
    // The client's id is a labelled field; the request's id is the server's own.
    let server_id = response
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap()
        .trim();
    assert!(
        line.contains(&format!("rid={server_id} client_rid=log-probe-1")),
        "{line}"
    );
    assert!(
        line.contains("method=GET route=/v1/policies status=422"),
        "{line}"
    );
    assert!(line.contains("latency_ms="), "latency: {line}");
    assert!(
        !line.contains("limit=") && !line.contains("c2VjcmV0"),
        "query logged: {line}"
    );
}

fn login_status(port: u16, email: &str, password: &str) -> u16 {
    reqwest::blocking::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn the_first_admin_comes_from_the_environment_once() {
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    let dir = keys.path().to_str().unwrap();
    let env = [
        ("VALISE_DATA_DIR", dir),
        ("VALISE_ADMIN_EMAIL", "root@shop.example"),
        ("VALISE_ADMIN_PASSWORD", "first admin password"),
    ];
    let server = start_server_logging_to(&url.to_env_value(), Stdio::null(), &env);
    assert_eq!(
        login_status(server.port, "root@shop.example", "first admin password"),
        200
    );
    drop(server);
    // A second start with other credentials creates nobody: an admin exists.
    let env = [
        ("VALISE_DATA_DIR", dir),
        ("VALISE_ADMIN_EMAIL", "other@shop.example"),
        ("VALISE_ADMIN_PASSWORD", "another admin password"),
    ];
    let server = start_server_logging_to(&url.to_env_value(), Stdio::null(), &env);
    assert_eq!(
        login_status(server.port, "other@shop.example", "another admin password"),
        401
    );
}

#[test]
fn admin_create_reads_the_password_from_the_environment() {
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    let output = valise()
        .args(["admin", "create", "--email", "boss@shop.example"])
        .env("DATABASE_URL", url.to_env_value())
        .env("VALISE_DATA_DIR", keys.path())
        .env_remove("VALISE_ADMIN_EMAIL")
        .env("VALISE_ADMIN_PASSWORD", "boss password 1234")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let server = start_server_logging_to(
        &url.to_env_value(),
        Stdio::null(),
        &[("VALISE_DATA_DIR", keys.path().to_str().unwrap())],
    );
    assert_eq!(
        login_status(server.port, "boss@shop.example", "boss password 1234"),
        200
    );
}

#[test]
fn admin_create_reads_the_password_from_standard_input() {
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    let mut child = valise()
        .args([
            "admin",
            "create",
            "--email",
            "officer@shop.example",
            "--role",
            "privacy_officer",
        ])
        .env("DATABASE_URL", url.to_env_value())
        .env("VALISE_DATA_DIR", keys.path())
        .env_remove("VALISE_ADMIN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"officer password 123\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("privacy_officer"));

    let server = start_server_logging_to(
        &url.to_env_value(),
        Stdio::null(),
        &[("VALISE_DATA_DIR", keys.path().to_str().unwrap())],
    );
    assert_eq!(
        login_status(server.port, "officer@shop.example", "officer password 123"),
        200
    );
}

/// Runs `valise` with these arguments against a database and a key directory.
fn run_cli(database_url: &str, key_dir: &std::path::Path, args: &[&str]) -> String {
    let output = valise()
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("VALISE_DATA_DIR", key_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn two_server_processes_sharing_a_database_never_oversell() {
    use diesel::prelude::*;
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    let raw = url.to_env_value();
    run_cli(&raw, keys.path(), &["seed", "--demo", "--products", "1"]);
    let variant: String = {
        use valise::db::schema::variants;
        let db = valise::db::Db::connect(&url, 1).unwrap();
        let mut pooled = db.get().unwrap();
        let conn = &mut *pooled;
        let id: String = variants::table
            .select(variants::id)
            .order(variants::id)
            .first(conn)
            .unwrap();
        diesel::update(variants::table.find(&id))
            .set(variants::available.eq(5))
            .execute(conn)
            .unwrap();
        id
    };
    let dir = keys.path().to_str().unwrap();
    let servers = [
        start_server_logging_to(&raw, Stdio::null(), &[("VALISE_DATA_DIR", dir)]),
        start_server_logging_to(&raw, Stdio::null(), &[("VALISE_DATA_DIR", dir)]),
    ];
    let bases: Vec<String> = servers
        .iter()
        .map(|s| format!("http://127.0.0.1:{}", s.port))
        .collect();
    let client = reqwest::blocking::Client::new();

    // Thirty guest carts, half made through each process, each holding one unit.
    let carts: Vec<(String, String, String)> = (0..30)
        .map(|i| {
            let base = bases[i % 2].clone();
            let (id, token) = guest_cart_blocking(&client, &base, &variant);
            // Checkout goes through the other process.
            (bases[(i + 1) % 2].clone(), id, token)
        })
        .collect();

    let handles: Vec<_> = carts
        .into_iter()
        .enumerate()
        .map(|(i, (base, id, token))| {
            std::thread::spawn(move || {
                reqwest::blocking::Client::new()
                    .post(format!("{base}/v1/carts/{id}/checkout"))
                    .header("x-cart-token", token)
                    .header("idempotency-key", format!("mp-{i}"))
                    .json(&serde_json::json!({
                        "contact_email": "multi@example.com",
                        "shipping_address": {"name": "M P", "line1": "1 Main St", "city": "Lyon", "postal_code": "69001", "country": "FR"},
                        "accepted_policy_version": 1
                    }))
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        25,
        "{statuses:?}"
    );

    use valise::db::schema::{orders, variants};
    let db = valise::db::Db::connect(&url, 1).unwrap();
    let mut pooled = db.get().unwrap();
    let conn = &mut *pooled;
    let left: i32 = variants::table
        .find(&variant)
        .select(variants::available)
        .first(conn)
        .unwrap();
    let placed: i64 = orders::table.count().get_result(conn).unwrap();
    assert_eq!((left, placed), (0, 5));
}

#[test]
fn seeding_leaves_statistics_for_the_query_planner() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let (url, _guard) = TestDatabase::create();
    let keys = tempfile::tempdir().unwrap();
    run_cli(
        &url.to_env_value(),
        keys.path(),
        &["seed", "--demo", "--products", "30"],
    );
    let sql = match url.backend() {
        valise::db::Backend::Sqlite => {
            "SELECT count(*) AS n FROM sqlite_stat1 WHERE tbl = 'products'"
        }
        valise::db::Backend::Postgres => {
            "SELECT count(*) AS n FROM pg_stat_user_tables \
             WHERE relname = 'products' AND last_analyze IS NOT NULL"
        }
    };
    let db = valise::db::Db::connect(&url, 1).unwrap();
    let mut pooled = db.get().unwrap();
    let conn = &mut *pooled;
    let analysed: Count = diesel::sql_query(sql).get_result(conn).unwrap();
    assert!(analysed.n > 0, "no statistics after seeding");
}

/// How many analytics events the database holds.
fn stored_analytics_events(url: &valise::db::DatabaseUrl) -> i64 {
    use diesel::prelude::*;
    use valise::db::schema::analytics_events;
    let db = valise::db::Db::connect(url, 1).unwrap();
    let mut conn = db.get().unwrap();
    analytics_events::table
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

#[test]
fn sigterm_writes_the_buffered_analytics_events_before_exiting() {
    let (url, _guard) = TestDatabase::create();
    // Flushed only every minute: the events are still in memory when the signal comes.
    // Both processes share the key files.
    let keys = tempfile::tempdir().unwrap();
    let env = [
        ("VALISE_ANALYTICS_FLUSH_MS", "60000"),
        ("VALISE_ANALYTICS_ROLLUP_SECONDS", "3600"),
        ("VALISE_DATA_DIR", keys.path().to_str().unwrap()),
    ];
    let mut server = start_server_logging_to(&url.to_env_value(), Stdio::null(), &env);
    let client = reqwest::blocking::Client::new();
    let events = serde_json::json!({"session": "session-at-closing", "events": [
        {"type": "page_view", "path": "/"},
        {"type": "page_view", "path": "/cart"},
        {"type": "page_leave", "path": "/cart", "dwell_ms": 1500},
    ]});
    let response = client
        .post(format!(
            "http://127.0.0.1:{}/v1/analytics/events",
            server.port
        ))
        .json(&events)
        .send()
        .unwrap();
    assert_eq!(
        json_of_blocking(response, StatusCode::ACCEPTED)["accepted"],
        3
    );
    assert_eq!(
        stored_analytics_events(&url),
        0,
        "buffered, not yet written"
    );

    server.sigterm();
    let exit = server.exit_within(Duration::from_secs(20));
    assert!(exit.success(), "exit status {exit}");
    assert_eq!(stored_analytics_events(&url), 3, "written at the stop");

    // A new process on the same database starts and serves with them in place.
    let server = start_server_logging_to(&url.to_env_value(), Stdio::null(), &env);
    let response = client
        .post(format!(
            "http://127.0.0.1:{}/v1/analytics/events",
            server.port
        ))
        .json(&events)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    drop(server);
    assert_eq!(
        stored_analytics_events(&url),
        3,
        "a kill loses what was buffered"
    );
}
