//! Invoices and credit notes: issued when an order is paid and when a refund succeeds,
//! numbered without gaps per series and year, never changed, read by the customer and by
//! staff (audited), announced to integrators.

use chrono::Datelike;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;

use crate::fixtures::paid_order;
use crate::helpers::{assert_problem, json_of, Session, TestApp};

fn year() -> i32 {
    chrono::Utc::now().year()
}

async fn documents_of(app: &TestApp, who: &Session, number: &str) -> Vec<Value> {
    let list = json_of(
        app.get_as(&format!("/v1/orders/{number}/invoices"), who)
            .await,
        StatusCode::OK,
    )
    .await;
    list["documents"].as_array().unwrap().clone()
}

async fn refund(
    app: &TestApp,
    manager: &Session,
    payment: &Value,
    key: &str,
    amount: Option<i64>,
) -> Value {
    let path = format!(
        "/v1/admin/payments/{}/refund",
        payment["id"].as_str().unwrap()
    );
    json_of(
        app.authed(Method::POST, &path, manager)
            .header("idempotency-key", key)
            .json(&json!({ "amount": amount }))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

#[actix_web::test]
async fn a_paid_order_has_an_invoice_with_its_tax_lines_and_buyer() {
    let app = TestApp::spawn().await;
    let (customer, number, _payment) = paid_order(&app).await;
    let order = json_of(
        app.get_as(&format!("/v1/orders/{number}"), &customer).await,
        StatusCode::OK,
    )
    .await;
    let documents = documents_of(&app, &customer, &number).await;
    assert_eq!(documents.len(), 1, "{documents:?}");
    let invoice = &documents[0];
    assert_eq!(invoice["kind"], "invoice");
    assert_eq!(invoice["number"], format!("INV-{}-000001", year()));
    assert_eq!(invoice["order_number"], number.as_str());
    assert_eq!(invoice["buyer"]["name"], "Quentin Zephyrine");
    assert_eq!(invoice["buyer"]["country"], "FR");
    assert_eq!(invoice["tax_country"], "FR");
    assert_eq!(invoice["prices"], "inclusive");
    assert_eq!(invoice["seller"]["vat_id"], "BE0123456789");
    assert_eq!(invoice["gross_total"], order["totals"]["total"]);
    assert_eq!(invoice["tax_total"], order["tax"]["total"]);
    assert_eq!(invoice["tax_lines"], order["tax"]["lines"]);
    // The lines add up to the total: goods, then shipping when charged.
    let lines: i64 = invoice["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"]["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(lines, order["totals"]["total"]["amount"].as_i64().unwrap());
    // One document by its number, the same as in the list.
    let one = json_of(
        app.get_as(
            &format!(
                "/v1/orders/{number}/invoices/{}",
                invoice["number"].as_str().unwrap()
            ),
            &customer,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(&one, invoice);
}

#[actix_web::test]
async fn a_refund_yields_a_credit_note_and_full_refunds_add_up_to_the_invoice() {
    let app = TestApp::spawn().await;
    let (customer, number, payment) = paid_order(&app).await;
    let manager = app.staff(Role::Manager).await;
    refund(&app, &manager, &payment, "cn-1", Some(2500)).await;
    // A retry of the same key replays: no second refund, no second credit note.
    refund(&app, &manager, &payment, "cn-1", Some(2500)).await;
    refund(&app, &manager, &payment, "cn-2", None).await;
    let documents = documents_of(&app, &customer, &number).await;
    assert_eq!(documents.len(), 3, "{documents:#?}");
    let invoice = &documents[0];
    let (first, second) = (&documents[1], &documents[2]);
    assert_eq!(first["kind"], "credit_note");
    assert_eq!(first["number"], format!("CN-{}-000001", year()));
    assert_eq!(second["number"], format!("CN-{}-000002", year()));
    assert_eq!(first["corrects"], invoice["number"]);
    assert_eq!(first["gross_total"]["amount"], 2500);
    assert_eq!(first["buyer"], invoice["buyer"]);
    let sum = |field: &str| {
        first[field]["amount"].as_i64().unwrap() + second[field]["amount"].as_i64().unwrap()
    };
    assert_eq!(
        sum("gross_total"),
        invoice["gross_total"]["amount"].as_i64().unwrap()
    );
    assert_eq!(
        sum("tax_total"),
        invoice["tax_total"]["amount"].as_i64().unwrap()
    );
    assert_eq!(
        sum("net_total"),
        invoice["net_total"]["amount"].as_i64().unwrap()
    );
}

#[actix_web::test]
async fn others_cannot_read_an_order_s_documents() {
    let app = TestApp::spawn().await;
    let (_customer, number, _payment) = paid_order(&app).await;
    let stranger = app
        .register(&crate::helpers::unique_email("nosy"), "Nosy Parker")
        .await;
    let response = app
        .get_as(&format!("/v1/orders/{number}/invoices"), &stranger)
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    let response = app
        .get_as(
            &format!("/v1/orders/{number}/invoices/INV-{}-000001", year()),
            &stranger,
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND, "not-found").await;
}

#[actix_web::test]
async fn staff_read_documents_with_an_audited_read_and_keep_a_ledger() {
    let app = TestApp::spawn().await;
    let (_customer, _number, payment) = paid_order(&app).await;
    let manager = app.staff(Role::Manager).await;
    refund(&app, &manager, &payment, "ledger-1", Some(1000)).await;
    let support = app.staff(Role::Support).await;
    let denied = app.get_as("/v1/admin/invoices", &support).await;
    assert_problem(denied, StatusCode::FORBIDDEN, "forbidden").await;
    let ledger = json_of(
        app.get_as("/v1/admin/invoices?limit=1", &manager).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ledger["documents"].as_array().unwrap().len(), 1);
    // Credit notes' series sorts first.
    assert_eq!(ledger["documents"][0]["kind"], "credit_note");
    assert!(ledger["documents"][0].get("buyer").is_none());
    let cursor = ledger["next_cursor"].as_str().unwrap();
    let next = json_of(
        app.get_as(
            &format!("/v1/admin/invoices?limit=1&cursor={cursor}"),
            &manager,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(next["documents"][0]["kind"], "invoice");
    assert!(next["next_cursor"].is_null());
    let invoice = next["documents"][0]["number"].as_str().unwrap().to_owned();
    let read = json_of(
        app.get_as(&format!("/v1/admin/invoices/{invoice}"), &support)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["buyer"]["name"], "Quentin Zephyrine");
    let audited: i64 = app
        .query(|conn| {
            use diesel::prelude::*;
            use valise::db::schema::audit_log;
            audit_log::table
                .filter(audit_log::action.eq("invoice.read"))
                .count()
                .get_result::<i64>(conn)
        })
        .await;
    assert_eq!(audited, 1);
    let missing = app
        .get_as(
            &format!("/v1/admin/invoices/INV-{}-999999", year()),
            &support,
        )
        .await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
}

#[actix_web::test]
async fn documents_come_as_pdf_to_who_asks_for_it() {
    let app = TestApp::spawn().await;
    let (customer, number, _payment) = paid_order(&app).await;
    let invoice = format!("INV-{}-000001", year());
    let path = format!("/v1/orders/{number}/invoices/{invoice}");
    let pdf = app
        .client
        .get(app.url(&path))
        .bearer_auth(&customer.access)
        .header("accept", "application/pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert_eq!(pdf.headers()["cache-control"], "private, no-store");
    assert!(pdf.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("{invoice}.pdf")));
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(
        bytes.len() > 1000 && bytes.len() < 120_000,
        "{}",
        bytes.len()
    );
    // A refusal of PDF (q=0) or another type gets JSON.
    let json = app
        .client
        .get(app.url(&path))
        .bearer_auth(&customer.access)
        .header("accept", "application/pdf;q=0, application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.headers()["content-type"], "application/json");
    // Staff get the same document as PDF.
    let support = app.staff(Role::Support).await;
    let staff_pdf = app
        .client
        .get(app.url(&format!("/v1/admin/invoices/{invoice}")))
        .bearer_auth(&support.access)
        .header("accept", "application/pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(staff_pdf.status(), StatusCode::OK);
    assert!(staff_pdf.bytes().await.unwrap().starts_with(b"%PDF-"));
}

#[actix_web::test]
async fn parallel_payments_get_consecutive_invoice_numbers() {
    use crate::fixtures::{
        customer_order, send_event, start_payment, stocked_variant, WEBHOOK_SECRET,
    };
    let app = TestApp::spawn().await;
    let variant = stocked_variant(&app, "parallel-invoices", 100, 4900).await;
    let customer = app
        .register(&crate::helpers::unique_email("many"), "Mia Many")
        .await;
    let mut payments = Vec::new();
    for _ in 0..12 {
        let order = customer_order(&app, &customer, &variant).await;
        let number = order["number"].as_str().unwrap().to_owned();
        payments.push(start_payment(&app, &customer, &number).await);
    }
    let now = chrono::Utc::now().timestamp();
    let captures = payments.iter().enumerate().map(|(i, payment)| {
        let app = &app;
        async move {
            send_event(
                app,
                payment,
                &format!("evt_par_{i}"),
                "payment.captured",
                now,
                WEBHOOK_SECRET,
            )
            .await
            .status()
        }
    });
    for status in futures_util::future::join_all(captures).await {
        assert_eq!(status, StatusCode::OK);
    }
    let issued = || {
        app.query(|conn| {
            use diesel::prelude::*;
            use valise::db::schema::documents;
            documents::table
                .filter(documents::kind.eq("invoice"))
                .select(documents::seq)
                .order(documents::seq)
                .load::<i64>(conn)
        })
    };
    // Each webhook issues its own order's invoice before it answers.
    assert_eq!(issued().await, (1..=12).collect::<Vec<i64>>());
}

#[actix_web::test]
async fn an_erasure_keeps_the_invoice_buyer_until_the_period_ends_then_retention_destroys_it() {
    use diesel::prelude::*;
    use valise::db::schema::{data_keys, documents, orders};
    let app = TestApp::spawn_configured(|c| c.retention.accounting_years = 2).await;
    let (customer, number, _payment) = paid_order(&app).await;
    let invoice = format!("INV-{}-000001", year());
    // The order is delivered and closed: nothing holds the erasure back.
    let n = number.clone();
    let t0 = valise::db::now();
    app.query(move |conn| {
        diesel::update(orders::table.filter(orders::number.eq(n)))
            .set((orders::status.eq("closed"), orders::closed_at.eq(Some(t0))))
            .execute(conn)
    })
    .await;
    let erased = json_of(
        app.authed(Method::DELETE, "/v1/me", &customer)
            .send()
            .await
            .unwrap(),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(erased["status"], "completed");
    let until = format!("{}-12-31", year() + 2);
    assert_eq!(
        erased["kept_by_law"],
        json!([{
            "record": invoice, "fields": ["name", "postal address"], "until": until,
            "reason": "Invoices and credit notes must name the buyer and be kept for the statutory period (GDPR Art. 17(3)(b))."
        }])
    );
    // The order's own copy is gone; the invoice still names the buyer.
    let support = app.staff(Role::Support).await;
    let read = json_of(
        app.get_as(&format!("/v1/admin/invoices/{invoice}"), &support)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["buyer"]["name"], "Quentin Zephyrine");

    let (crypto, settings) = (
        app.crypto.clone(),
        valise::retention::Settings::from_config(&app.config),
    );
    let run_at = |now: chrono::NaiveDateTime| {
        let (crypto, settings) = (crypto.clone(), settings.clone());
        app.query(move |conn| valise::retention::engine::run(conn, &crypto, &settings, now, false))
    };
    let handled = |report: &valise::retention::engine::Report, rule: &str| {
        report
            .rules
            .iter()
            .find(|r| r.rule == rule)
            .map(|r| r.count)
            .unwrap()
    };
    let period = format!("accounting-{}", year());
    let key_live = || {
        let period = period.clone();
        app.query(move |conn| {
            data_keys::table
                .find(period)
                .select(data_keys::wrapped.is_not_null())
                .first::<bool>(conn)
        })
    };
    let last_day = chrono::NaiveDate::from_ymd_opt(year() + 2, 12, 31)
        .unwrap()
        .and_hms_opt(23, 0, 0)
        .unwrap();
    let report = run_at(last_day).await;
    assert_eq!(handled(&report, "accounting_periods"), 0);
    assert_eq!(
        handled(&report, "accounting"),
        0,
        "the invoice keeps its order"
    );
    assert!(key_live().await);
    let report = run_at(last_day + chrono::Duration::hours(2)).await;
    assert_eq!(handled(&report, "accounting_periods"), 1);
    assert_eq!(handled(&report, "accounting"), 1);
    assert!(!key_live().await);
    let left: i64 = app
        .query(|conn| documents::table.count().get_result(conn))
        .await;
    assert_eq!(left, 0);
}

#[actix_web::test]
async fn an_issued_document_never_changes() {
    let app = TestApp::spawn().await;
    let (_customer, _number, _payment) = paid_order(&app).await;
    let changed = app
        .query(|conn| {
            use diesel::prelude::*;
            use valise::db::schema::documents;
            Ok::<_, anyhow::Error>(
                diesel::update(documents::table)
                    .set(documents::gross_total.eq(1))
                    .execute(conn)
                    .is_err(),
            )
        })
        .await;
    assert!(changed, "the database refused the update");
}

#[actix_web::test]
async fn a_stripe_payment_is_invoiced_and_a_refund_it_confirms_yields_one_credit_note() {
    use crate::fake_stripe::{self, FakeStripe};
    use crate::stripe::{app_with, captured, outcome, refund};
    let fake = FakeStripe::start();
    let app = app_with(&fake).await;
    let (customer, number, payment) = captured(&app).await;
    let pi = payment["provider_reference"].as_str().unwrap().to_owned();
    // Paid through Stripe: the invoice states the order's French VAT.
    let documents = documents_of(&app, &customer, &number).await;
    assert_eq!(documents.len(), 1);
    let invoice = &documents[0];
    assert_eq!(invoice["tax_country"], "FR");
    assert_eq!(invoice["tax_lines"][0]["rate_basis_points"], 2000);
    assert_eq!(invoice["gross_total"]["amount"], 5990);
    assert_eq!(invoice["tax_total"]["amount"], 998);

    // A refund Stripe is still working on has no credit note yet; a retry replays it.
    let manager = app.staff(Role::Manager).await;
    for _ in 0..2 {
        let pending = refund(
            &app,
            &manager,
            &payment,
            "cn-stripe",
            &json!({"amount": 2000}),
        )
        .await;
        assert_eq!(pending.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(fake.requests_to("/v1/refunds").len(), 1);
    assert_eq!(documents_of(&app, &customer, &number).await.len(), 1);
    let listed = json_of(
        app.get_as(
            &format!(
                "/v1/admin/payments/{}/refunds",
                payment["id"].as_str().unwrap()
            ),
            &manager,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let re = listed["data"][0]["provider_reference"]
        .as_str()
        .unwrap()
        .to_owned();
    // Its success, reported twice, makes one credit note.
    let now = chrono::Utc::now().timestamp();
    let done = fake_stripe::event(
        "evt_cn_ok",
        "refund.updated",
        now,
        fake_stripe::refund(&re, &pi, 2000, "succeeded"),
    );
    assert_eq!(outcome(&app, &done).await, "applied");
    assert_eq!(outcome(&app, &done).await, "duplicate");
    let documents = documents_of(&app, &customer, &number).await;
    assert_eq!(documents.len(), 2, "{documents:#?}");
    let note = &documents[1];
    assert_eq!(note["kind"], "credit_note");
    assert_eq!(note["corrects"], invoice["number"]);
    assert_eq!(note["gross_total"]["amount"], 2000);
    // 20 % included in 20.00: 3.33.
    assert_eq!(note["tax_total"]["amount"], 333);
    // A refund Stripe reports failed makes none.
    let failed = json_of(
        refund(
            &app,
            &manager,
            &payment,
            "cn-stripe-2",
            &json!({"amount": 1000}),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    let re2 = failed["refund"]["provider_reference"].as_str().unwrap();
    let event = fake_stripe::event(
        "evt_cn_failed",
        "refund.failed",
        now,
        fake_stripe::refund(re2, &pi, 1000, "failed"),
    );
    assert_eq!(outcome(&app, &event).await, "applied");
    assert_eq!(documents_of(&app, &customer, &number).await.len(), 2);
}
