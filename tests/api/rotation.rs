//! Master-key rotation over 1,000 customers: every field opens before, during an
//! interrupted run, after it is resumed, and from a process that loaded the old keyring.

use diesel::Connection;
use reqwest::{Method, StatusCode};
use valise::accounts::model::{Email, PersonName, Phone};
use valise::accounts::store::{self as accounts, NewAccount};
use valise::auth::Role;
use valise::crypto::{rotation, Crypto};
use valise::db::DbConnection;

use crate::helpers::{json_of, unique_email, TestApp};

const CUSTOMERS: usize = 1000;

fn create_customers(conn: &mut DbConnection, crypto: &Crypto) -> Vec<(String, String)> {
    // A fixed, valid-looking hash: these customers never log in, and Argon2 a thousand
    // times would only slow the test down.
    let hash =
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
    conn.transaction(|conn| {
        (0..CUSTOMERS)
            .map(|i| {
                let email =
                    Email::parse("email", &format!("customer{i}@rotation.example")).unwrap();
                let row = accounts::create(
                    conn,
                    crypto,
                    NewAccount {
                        email: &email,
                        name: &PersonName::parse("name", &format!("Customer {i}")).unwrap(),
                        phone: Some(&Phone::parse("phone", "+33 6 12 34 56 78").unwrap()),
                        password_hash: hash.to_owned(),
                        role: Role::Customer,
                        status: valise::auth::status::ACTIVE,
                    },
                )?;
                Ok((row.id.to_string(), email.as_str().to_owned()))
            })
            .collect::<Result<Vec<_>, accounts::AccountError>>()
    })
    .unwrap()
}

fn assert_all_open(
    conn: &mut DbConnection,
    crypto: &Crypto,
    customers: &[(String, String)],
    when: &str,
) {
    for (id, email) in customers {
        let row = accounts::get(conn, id).unwrap().unwrap();
        let profile = accounts::open_profile(conn, crypto, &row)
            .unwrap_or_else(|e| panic!("{when}: {id} does not open: {e}"));
        assert_eq!(&profile.email, email, "{when}");
        assert_eq!(profile.phone.as_deref(), Some("+33612345678"), "{when}");
    }
}

#[actix_web::test]
async fn every_field_opens_before_during_and_after_a_resumed_rotation() {
    let app = TestApp::spawn().await;
    let crypto = app.crypto.clone();
    let master_keys = app.config.master_keys.clone();
    app.query(move |conn| {
        let customers = create_customers(conn, &crypto);
        assert_all_open(conn, &crypto, &customers, "before");

        // Another process that loaded the keyring before the rotation.
        let stale = Crypto::init(&master_keys, conn).unwrap();

        let new_id = crypto.keyring().add_version().unwrap();
        assert_eq!(new_id, "k2");
        let interrupted = rotation::rewrap_all(conn, &crypto, 100, Some(3), |_| {}).unwrap();
        assert_eq!(interrupted.rewrapped, 300);
        assert!(interrupted.remaining > 0);
        assert_eq!(interrupted.old_key_ids_in_use, vec!["k1".to_owned()]);
        assert_all_open(conn, &crypto, &customers, "during");
        assert_all_open(conn, &stale, &customers, "during, from a stale process");

        let mut batches = 0;
        let done = rotation::rewrap_all(conn, &crypto, 100, None, |_| batches += 1).unwrap();
        assert_eq!(done.remaining, 0);
        assert!(done.old_key_ids_in_use.is_empty());
        assert!(batches >= 7, "resumed in batches: {batches}");
        assert_eq!(
            crypto.keyring().get().ids(),
            vec!["k2".to_owned()],
            "k1 dropped when complete"
        );
        assert_all_open(conn, &crypto, &customers, "after");
        assert_all_open(conn, &stale, &customers, "after, from a stale process");
        Ok::<_, anyhow::Error>(())
    })
    .await;
}

#[actix_web::test]
async fn an_admin_rotates_through_the_api_and_nothing_breaks() {
    let app = TestApp::spawn().await;
    let admin = app.staff(Role::Admin).await;
    let customer = app.register(&unique_email("rot"), "Rotated Customer").await;
    let response = app
        .authed(Method::POST, "/v1/admin/keys/rotate", &admin)
        .send()
        .await
        .unwrap();
    let status = json_of(response, StatusCode::OK).await;
    assert_eq!(status["newest_key_id"], "k2");
    assert_eq!(status["remaining"], 0);
    assert!(status["rewrapped"].as_i64().unwrap() >= 3, "{status}");
    let me = json_of(app.get_as("/v1/me", &customer).await, StatusCode::OK).await;
    assert_eq!(me["name"], "Rotated Customer");
}
