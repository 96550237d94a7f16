//! `TestApp`: the real application on port 0, on its own fresh database.

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use valise::config::{Config, SecretSource};
use valise::crypto::Crypto;
use valise::db::{DatabaseUrl, Db, DbConnection};
use valise::startup::Application;

/// Where test databases live: `TEST_DATABASE_URL` (PostgreSQL) or temporary SQLite files.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
}

/// A database that exists for one test and is removed afterwards.
pub enum TestDatabase {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// An empty database.
    pub fn create() -> (DatabaseUrl, TestDatabase) {
        Self::create_from(None)
    }

    /// A database with every migration applied, as the application would leave it before its
    /// first start. On PostgreSQL a copy of this process's template ([`template`]).
    pub fn migrated() -> (DatabaseUrl, TestDatabase) {
        Self::create_from(postgres_admin_url().map(|admin| template(&admin)))
    }

    fn create_from(template: Option<&str>) -> (DatabaseUrl, TestDatabase) {
        match postgres_admin_url() {
            Some(admin_url) => {
                let name = format!("valise_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = PgConnection::establish(&admin_url)
                    .expect("TEST_DATABASE_URL must reach PostgreSQL");
                let create = match template {
                    Some(template) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
                    None => format!("CREATE DATABASE \"{name}\""),
                };
                diesel::sql_query(create)
                    .execute(&mut conn)
                    .expect("create test database");
                let mut url = url::Url::parse(&admin_url).expect("valid TEST_DATABASE_URL");
                url.set_path(&name);
                let db_url = DatabaseUrl::parse(url.as_str()).expect("valid database url");
                (db_url, TestDatabase::Postgres { admin_url, name })
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("valise.db");
                let db_url = DatabaseUrl::parse(&format!("sqlite://{}", path.display()))
                    .expect("valid sqlite url");
                (db_url, TestDatabase::Sqlite { _dir: dir })
            }
        }
    }
}

/// This process's template: a PostgreSQL database migrated once, then closed to connections,
/// that every [`TestDatabase::migrated`] copies (`CREATE DATABASE … TEMPLATE` copies files;
/// running the migrations anew for each test was most of the PostgreSQL suite's database
/// time). Named after the process, so that the templates of test processes that have ended
/// are dropped by the next one.
fn template(admin_url: &str) -> &'static str {
    static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut conn =
            PgConnection::establish(admin_url).expect("TEST_DATABASE_URL must reach PostgreSQL");
        drop_templates_of_ended_processes(&mut conn);
        let name = format!(
            "valise_template_{}_{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        );
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .expect("create the template database");
        let mut url = url::Url::parse(admin_url).expect("valid TEST_DATABASE_URL");
        url.set_path(&name);
        let url = DatabaseUrl::parse(url.as_str()).expect("valid database url");
        {
            let mut migrating = valise::db::connect_one(&url).expect("reach the template");
            valise::db::migrations::run_pending(&mut migrating).expect("migrate the template");
        }
        // No connection may stay open to a template being copied, autovacuum's included.
        diesel::sql_query(format!(
            "ALTER DATABASE \"{name}\" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
        ))
        .execute(&mut conn)
        .expect("close the template");
        name
    })
}

fn drop_templates_of_ended_processes(conn: &mut PgConnection) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let names: Vec<Name> = diesel::sql_query(
        "SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'valise\\_template\\_%'",
    )
    .load(conn)
    .unwrap_or_default();
    for Name { datname } in names {
        let pid = datname
            .split('_')
            .nth(2)
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            continue;
        }
        let _ = diesel::sql_query(format!("ALTER DATABASE \"{datname}\" IS_TEMPLATE false"))
            .execute(conn);
        let _ = diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS \"{datname}\" WITH (FORCE)"
        ))
        .execute(conn);
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let TestDatabase::Postgres { admin_url, name } = self {
            if let Ok(mut conn) = PgConnection::establish(admin_url) {
                let _ =
                    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .execute(&mut conn);
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub config: Config,
    pub client: reqwest::Client,
    pub db: Db,
    pub crypto: Crypto,
    /// The instance's analytics buffer: [`TestApp::flush_analytics`] writes it.
    pub analytics: std::sync::Arc<valise::analytics::Ingest>,
    handle: actix_web::dev::ServerHandle,
    // Dropped last: the database and key files outlive the server that uses them.
    _database: Option<TestDatabase>,
    _keys: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl TestApp {
    /// The application on a fresh database, with development key files in a temp dir.
    pub async fn spawn() -> TestApp {
        Self::spawn_configured(|_| {}).await
    }

    /// As [`TestApp::spawn`], with the configuration adjusted first.
    pub async fn spawn_configured(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let (url, database) = TestDatabase::migrated();
        let keys = std::sync::Arc::new(tempfile::tempdir().expect("key dir"));
        let mut config = Config::for_tests(url);
        config.master_keys = SecretSource::Generated(keys.path().join("master.keys"));
        config.jwt_secret = SecretSource::Generated(keys.path().join("jwt.secret"));
        config.data_dir = keys.path().to_owned();
        adjust(&mut config);
        Self::spawn_with(config, Some(database), Some(keys)).await
    }

    /// A second instance on the same database and keys as `self` (another "process" for
    /// tests of cross-instance behaviour).
    pub async fn spawn_sibling(&self) -> TestApp {
        Self::spawn_with(self.config.clone(), None, self._keys.clone()).await
    }

    async fn spawn_with(
        config: Config,
        database: Option<TestDatabase>,
        keys: Option<std::sync::Arc<tempfile::TempDir>>,
    ) -> TestApp {
        let app = Application::build(config.clone())
            .await
            .expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let db = app.db();
        let crypto = app.crypto();
        let analytics = app.analytics_ingest();
        actix_web::rt::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        TestApp {
            address,
            config,
            client,
            db,
            crypto,
            analytics,
            handle,
            _database: database,
            _keys: keys,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Runs `work` on a pooled connection, off the async workers as the application does,
    /// and returns its value. An error (of the work, or the pool's) fails the test with its
    /// message and the line that asked. The future holds its own handle, not `self`.
    #[track_caller]
    pub fn query<T, E, F>(&self, work: F) -> impl std::future::Future<Output = T>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<anyhow::Error> + 'static,
    {
        let (db, caller) = (self.db.clone(), std::panic::Location::caller());
        async move {
            db.run(move |conn| work(conn).map_err(Into::into))
                .await
                .unwrap_or_else(|e: anyhow::Error| {
                    panic!("database work at {caller} failed: {e:#}")
                })
        }
    }

    /// Writes every analytics event this instance accepted and still holds, as its flusher
    /// would; returns how many. Tests call it rather than waiting for the flush interval.
    #[track_caller]
    pub fn flush_analytics(&self) -> impl std::future::Future<Output = usize> {
        let (ingest, db) = (self.analytics.clone(), self.db.clone());
        let caller = std::panic::Location::caller();
        async move {
            ingest
                .flush(&db)
                .await
                .unwrap_or_else(|e| panic!("flushing analytics at {caller} failed: {e}"))
        }
    }

    /// Executes raw SQL (one or more `;`-separated statements) on a pooled connection.
    #[track_caller]
    pub fn sql(&self, statements: &str) {
        use diesel::connection::SimpleConnection;
        let mut conn = self.db.get().expect("a database connection");
        if let Err(e) = conn.batch_execute(statements) {
            panic!("{statements}: {e}");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Ask the server to stop; the database guard then removes the database.
        drop(self.handle.stop(false));
    }
}

/// Asserts a problem+json response with this status and slug, and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode, slug: &str) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["type"], format!("urn:valise:problem:{slug}"), "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert_eq!(
        body["request_id"], request_id,
        "problem carries the request id"
    );
    body
}

/// The JSON body of a response that must have status `expected`. Any other status fails here,
/// naming both statuses, the request, the line that read it and the body (its first KiB): a 403
/// reads as a 403, not later as a missing field.
#[track_caller]
pub fn json_of(
    response: Response,
    expected: StatusCode,
) -> impl std::future::Future<Output = Value> {
    let caller = std::panic::Location::caller();
    async move {
        let (status, url) = (response.status(), response.url().clone());
        let text = response.text().await.expect("response body read");
        checked_json(status, expected, &url, &text, caller)
    }
}

/// A guest cart holding one unit of `variant`, made with the blocking client against a real
/// `valise serve` at `base`: the cart's id and token.
#[track_caller]
pub fn guest_cart_blocking(
    client: &reqwest::blocking::Client,
    base: &str,
    variant: &str,
) -> (String, String) {
    let cart = json_of_blocking(
        client
            .post(format!("{base}/v1/carts"))
            .json(&serde_json::json!({}))
            .send()
            .unwrap(),
        StatusCode::CREATED,
    );
    let id = cart["id"].as_str().unwrap().to_owned();
    let token = cart["cart_token"].as_str().unwrap().to_owned();
    json_of_blocking(
        client
            .post(format!("{base}/v1/carts/{id}/items"))
            .header("x-cart-token", &token)
            .json(&serde_json::json!({"variant_id": variant, "quantity": 1}))
            .send()
            .unwrap(),
        StatusCode::OK,
    );
    (id, token)
}

/// [`json_of`] for a response of the blocking client.
#[track_caller]
pub fn json_of_blocking(response: reqwest::blocking::Response, expected: StatusCode) -> Value {
    let caller = std::panic::Location::caller();
    let (status, url) = (response.status(), response.url().clone());
    let text = response.text().expect("response body read");
    checked_json(status, expected, &url, &text, caller)
}

fn checked_json(
    status: StatusCode,
    expected: StatusCode,
    url: &url::Url,
    text: &str,
    caller: &std::panic::Location<'_>,
) -> Value {
    let request = &url[url::Position::BeforePath..];
    assert!(
        status == expected,
        "expected {expected}, got {status} from {request} (read at {caller}); body: {}",
        truncated(text, 1024)
    );
    serde_json::from_str(text).unwrap_or_else(|e| {
        panic!(
            "{status} from {request} (read at {caller}) is not JSON: {e}; body: {}",
            truncated(text, 1024)
        )
    })
}

/// At most `limit` bytes of `text`, cut at a character boundary, marked when cut.
fn truncated(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

/// Polls `check` until it returns true or `within` elapses.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A logged-in person.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        session: &Session,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&session.access)
    }

    pub async fn get_as(&self, path: &str, session: &Session) -> Response {
        self.authed(reqwest::Method::GET, path, session)
            .send()
            .await
            .expect("request sent")
    }

    /// Registers a customer through the API and confirms the address with the token mailed
    /// to it (read the way the gateway gets it: the notice's lookup opens it), as a person
    /// clicking the link would; the session is the one confirming starts.
    pub async fn register(&self, email: &str, name: &str) -> Session {
        let response = self
            .post_json(
                "/v1/auth/register",
                &serde_json::json!({
                    "email": email, "password": PASSWORD, "name": name, "accepted_policy_version": 1
                }),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::ACCEPTED,
            "registration answers 202"
        );
        let token = self
            .mailed_token("account.confirmation", email)
            .await
            .expect("a confirmation token mailed to the address");
        let response = self
            .post_json("/v1/auth/confirm", &serde_json::json!({ "token": token }))
            .await;
        let body = json_of(response, StatusCode::OK).await;
        let access = body["access_token"].as_str().unwrap().to_owned();
        Session {
            user_id: subject_of(&access),
            email: email.to_owned(),
            access,
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// An active customer created in the store, as a confirmed registration leaves it but
    /// with no mail in the outbox: for tests that count what a gateway receives.
    pub async fn customer(&self, email: &str, name: &str) -> Session {
        use valise::accounts::model::{Email, PersonName};
        use valise::accounts::store::{self as accounts, NewAccount};
        use valise::auth::password::Password;
        let (crypto, address, name) = (self.crypto.clone(), email.to_owned(), name.to_owned());
        let user_id = self
            .query(move |conn| {
                let invalid = |e: valise::invalid::Invalid| anyhow::anyhow!("{e:?}");
                let email = Email::parse("email", &address).map_err(invalid)?;
                let name = PersonName::parse("name", &name).map_err(invalid)?;
                let hash = Password::parse("password", PASSWORD.to_owned())
                    .map_err(invalid)?
                    .hash()?;
                let row = accounts::create(
                    conn,
                    &crypto,
                    NewAccount {
                        email: &email,
                        name: &name,
                        phone: None,
                        password_hash: hash,
                        role: valise::auth::Role::Customer,
                        status: valise::auth::status::ACTIVE,
                    },
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok::<_, anyhow::Error>(row.id.to_string())
            })
            .await;
        let body = json_of(self.login(email, PASSWORD).await, StatusCode::OK).await;
        Session {
            user_id,
            email: email.to_owned(),
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// The newest unused token mailed to `email` in a notice of `kind` (its outbox payload
    /// names the token's row; the lookup opens the sealed address and token).
    pub async fn mailed_token(&self, kind: &'static str, email: &str) -> Option<String> {
        use diesel::prelude::*;
        use valise::db::schema::notifications;
        let crypto = self.crypto.clone();
        let email = valise::accounts::model::Email::parse("email", email)
            .expect("a valid address")
            .as_str()
            .to_owned();
        self.query(move |conn| {
            let payloads: Vec<String> = notifications::table
                .filter(notifications::kind.eq(kind))
                .order(notifications::created_at.desc())
                .select(notifications::payload)
                .load(conn)?;
            for payload in payloads {
                let payload: Value = serde_json::from_str(&payload)?;
                let id = payload["token_id"].as_str().unwrap_or_default();
                if let Some((to, token)) = valise::auth::email_tokens::pending(conn, &crypto, id)? {
                    if to == email {
                        return Ok::<_, anyhow::Error>(Some(token));
                    }
                }
            }
            Ok(None)
        })
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/v1/auth/login",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    /// Creates a staff member with `role` (as `valise admin create` would) and logs them in.
    pub async fn staff(&self, role: valise::auth::Role) -> Session {
        use valise::accounts::model::{Email, PersonName};
        use valise::auth::password::Password;
        let email = format!(
            "{}-{}@shop.example",
            role.as_str(),
            uuid::Uuid::now_v7().simple()
        );
        let (db, crypto, address) = (self.db.clone(), self.crypto.clone(), email.clone());
        let user_id = db
            .run(move |conn| {
                valise::accounts::staff::create_account(
                    conn,
                    &crypto,
                    &valise::audit::Actor::system(),
                    &Email::parse("email", &address)?,
                    &PersonName::parse("name", "Staff Member")?,
                    &Password::parse("password", PASSWORD.to_owned())?,
                    role,
                )
                .map(|row| row.id)
            })
            .await
            .expect("staff created");
        let response = self.login(&email, PASSWORD).await;
        let body = json_of(response, StatusCode::OK).await;
        Session {
            user_id: user_id.to_string(),
            email,
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }
}

/// The account id (`sub`) of an access token.
pub fn subject_of(access: &str) -> String {
    use base64::Engine;
    let claims = access.split('.').nth(1).expect("a JWT");
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .expect("base64url claims");
    let claims: Value = serde_json::from_slice(&claims).expect("JSON claims");
    claims["sub"].as_str().expect("a subject").to_owned()
}

/// A unique email for a test.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::now_v7().simple())
}
