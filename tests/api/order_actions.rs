//! No phantom transitions: every action an order view advertises has a route the viewer may
//! take, walked for every reachable status and every role; staff cancel with a reason.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use valise::auth::Role;
use valise::orders::model::Action;

use crate::fixtures::{customer_order, send_event, start_payment, stocked_variant, WEBHOOK_SECRET};
use crate::helpers::{assert_problem, json_of, unique_email, Session, TestApp};

const REASON: &str = "customer_request";

/// The route of each action as the owner and as staff take it; `None` for the service's own
/// actions, which no person may be offered. The match has no catch-all arm: a new `Action`
/// does not compile until it is given a route here (or declared the service's own).
fn route(action: Action, owner: bool) -> Option<(String, Option<Value>)> {
    let (owner_path, staff_path, body) = match action {
        Action::MarkPaid | Action::Expire | Action::Close => return None,
        Action::Cancel => (
            Some("/v1/orders/{n}/cancel"),
            "/v1/admin/orders/{n}/cancel",
            Some(json!({ "reason": REASON })),
        ),
        Action::StartFulfillment => (None, "/v1/admin/orders/{n}/fulfillment", None),
        Action::Ship => (
            None,
            "/v1/admin/orders/{n}/shipments",
            Some(json!({"carrier": "bpost", "tracking_number": "323299901234567890"})),
        ),
        Action::Deliver => (None, "/v1/admin/orders/{n}/deliver", None),
    };
    Some(match (owner, owner_path) {
        (true, Some(path)) => (path.to_owned(), None),
        // The owner has no route to it: staff's route, which answers them 403.
        _ => (staff_path.to_owned(), body),
    })
}

/// Where an action leads (what the walk expects to see after it).
fn target(action: Action) -> &'static str {
    match action {
        Action::Cancel => "cancelled",
        Action::StartFulfillment => "fulfilling",
        Action::Ship => "shipped",
        Action::Deliver => "delivered",
        Action::MarkPaid => "paid",
        Action::Expire => "expired",
        Action::Close => "closed",
    }
}

struct Shop {
    app: TestApp,
    variant: String,
    customer: Session,
    fulfilment: Session,
}

impl Shop {
    async fn open() -> Shop {
        let app = TestApp::spawn().await;
        let variant = stocked_variant(&app, "walked", 500, 12000).await;
        let customer = app.register(&unique_email("walker"), "Wanda Walker").await;
        let fulfilment = app.staff(Role::Fulfillment).await;
        Shop {
            app,
            variant,
            customer,
            fulfilment,
        }
    }

    async fn post(&self, who: &Session, path: &str, body: Option<Value>) -> reqwest::Response {
        let request = self.app.authed(Method::POST, path, who);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.unwrap()
    }

    async fn take(&self, number: &str, action: Action) {
        let (path, body) = route(action, false).unwrap();
        let response = self
            .post(&self.fulfilment, &path.replace("{n}", number), body)
            .await;
        assert!(response.status().is_success(), "{action:?} while building");
    }

    /// A new order of the customer's in `status`, through the API where a person can get it
    /// there, and through the service's own tasks (with the clock moved) where only time can.
    async fn order_in(&self, status: &str) -> String {
        let order = customer_order(&self.app, &self.customer, &self.variant).await;
        let number = order["number"].as_str().unwrap().to_owned();
        if matches!(status, "pending_payment" | "cancelled" | "expired") {
            match status {
                "cancelled" => {
                    let path = format!("/v1/orders/{number}/cancel");
                    let r = self.post(&self.customer, &path, None).await;
                    assert_eq!(r.status(), StatusCode::OK);
                }
                "expired" => {
                    let id = order["id"].as_str().unwrap().to_owned();
                    let n = self
                        .app
                        .query(move |conn| {
                            use diesel::prelude::*;
                            use valise::db::schema::orders;
                            diesel::update(orders::table.find(&id))
                                .set(
                                    orders::expires_at
                                        .eq(valise::db::now() - chrono::Duration::minutes(1)),
                                )
                                .execute(conn)?;
                            valise::orders::lifecycle::expire_due(conn, 100)
                                .map_err(|e| anyhow::anyhow!("{e}"))
                        })
                        .await;
                    assert_eq!(n, 1);
                }
                _ => {}
            }
            return number;
        }
        let payment = start_payment(&self.app, &self.customer, &number).await;
        let paid = send_event(
            &self.app,
            &payment,
            &format!("evt_{number}"),
            "payment.captured",
            chrono::Utc::now().timestamp(),
            WEBHOOK_SECRET,
        )
        .await;
        assert_eq!(paid.status(), StatusCode::OK);
        match status {
            "paid" => {}
            "fulfilling" => self.take(&number, Action::StartFulfillment).await,
            _ => {
                self.take(&number, Action::Ship).await;
                if status != "shipped" {
                    self.take(&number, Action::Deliver).await;
                }
                if status == "closed" {
                    let closed = self
                        .app
                        .query(|conn| {
                            valise::orders::after_sales::close_due(
                                conn,
                                chrono::Duration::zero(),
                                100,
                            )
                            .map_err(|e| anyhow::anyhow!("{e}"))
                        })
                        .await;
                    assert!(closed >= 1);
                }
            }
        }
        number
    }

    /// The view `who` gets of order `number`: the owner's, or the staff view.
    async fn view(&self, who: &Session, owner: bool, number: &str) -> Value {
        let path = if owner {
            format!("/v1/orders/{number}")
        } else {
            format!("/v1/admin/orders/{number}")
        };
        json_of(self.app.get_as(&path, who).await, StatusCode::OK).await
    }
}

fn advertised(view: &Value) -> Vec<Action> {
    serde_json::from_value(view["allowed_transitions"].clone()).unwrap()
}

#[actix_web::test]
async fn every_advertised_action_of_every_status_for_every_role_has_a_route_that_works() {
    // The table covers every action: the service's own have no route, every other one has.
    for action in Action::ALL {
        let system = matches!(action, Action::MarkPaid | Action::Expire | Action::Close);
        assert_eq!(route(action, false).is_none(), system, "{action:?}");
    }
    let shop = Shop::open().await;
    let staff = [
        (Role::Support, shop.app.staff(Role::Support).await),
        (Role::Fulfillment, shop.app.staff(Role::Fulfillment).await),
        (Role::Manager, shop.app.staff(Role::Manager).await),
        (Role::Admin, shop.app.staff(Role::Admin).await),
    ];
    let mut people: Vec<(&str, &Session, bool)> = vec![("owner", &shop.customer, true)];
    people.extend(staff.iter().map(|(r, s)| (r.as_str(), s, false)));
    let statuses = [
        "pending_payment",
        "paid",
        "fulfilling",
        "shipped",
        "delivered",
        "closed",
        "cancelled",
        "expired",
    ];
    let mut performed = 0;
    for status in statuses {
        for (role, who, owner) in &people {
            let number = shop.order_in(status).await;
            let view = shop.view(who, *owner, &number).await;
            assert_eq!(view["status"], status, "{role} sees {number}");
            let offered = advertised(&view);
            let before_shipment = matches!(status, "pending_payment" | "paid" | "fulfilling");
            if *owner || *role == "support" {
                let only_cancel = if before_shipment {
                    vec![Action::Cancel]
                } else {
                    vec![]
                };
                assert_eq!(offered, only_cancel, "{role} in {status}");
            }
            // Nothing offered is refused: 403 where the role may not, 409 where the status
            // does not allow it; and the order stays where it was.
            for action in Action::ALL {
                let Some((path, body)) = route(action, *owner) else {
                    assert!(!offered.contains(&action), "{action:?} offered to {role}");
                    continue;
                };
                if offered.contains(&action) {
                    continue;
                }
                let response = shop.post(who, &path.replace("{n}", &number), body).await;
                let code = response.status();
                assert!(
                    code == StatusCode::FORBIDDEN || code == StatusCode::CONFLICT,
                    "{role} {action:?} in {status}: {code}"
                );
                let slug = if code == StatusCode::FORBIDDEN {
                    "forbidden"
                } else {
                    "invalid-transition"
                };
                assert_problem(response, code, slug).await;
            }
            assert_eq!(shop.view(who, *owner, &number).await["status"], status);
            // Every action offered works, each on an order of its own in this status.
            for (i, action) in offered.iter().enumerate() {
                let number = if i == 0 {
                    number.clone()
                } else {
                    shop.order_in(status).await
                };
                let (path, body) = route(*action, *owner).unwrap();
                let response = shop.post(who, &path.replace("{n}", &number), body).await;
                assert!(
                    response.status().is_success(),
                    "{role} {action:?} in {status}: {}",
                    response.status()
                );
                let after = response.json::<Value>().await.unwrap();
                assert_eq!(after["status"], target(*action), "{role} {action:?}");
                performed += 1;
            }
        }
    }
    // Owner 3 cancels, support 3, each warehouse role 7 (cancel ×3, start, ship ×2, deliver).
    assert_eq!(performed, 3 + 3 + 3 * 7);
}

#[actix_web::test]
async fn staff_cancel_with_a_reason_refunds_and_both_histories_show_it() {
    let shop = Shop::open().await;
    let support = shop.app.staff(Role::Support).await;
    let number = shop.order_in("paid").await;
    let path = format!("/v1/admin/orders/{number}/cancel");

    for bad in [
        json!({}),
        json!({"reason": ""}),
        json!({"reason": "Customer phoned: ordered the wrong colour."}),
        json!({"reason": "Customer_Request"}),
        json!({"reason": 7}),
    ] {
        let refused = shop.post(&support, &path, Some(bad.clone())).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let refused = shop
        .post(&shop.customer, &path, Some(json!({"reason": REASON})))
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;

    let cancelled = shop
        .post(&support, &path, Some(json!({ "reason": REASON })))
        .await;
    let cancelled = json_of(cancelled, StatusCode::OK).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["payment_status"], "refunded");
    assert_eq!(cancelled["allowed_transitions"], json!([]));
    let last = cancelled["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["by"], "staff");
    assert_eq!(last["reason"], REASON);

    let owner = shop.view(&shop.customer, true, &number).await;
    let history = owner["history"].as_array().unwrap();
    assert_eq!(history.last().unwrap()["reason"], REASON);
    assert_eq!(history.last().unwrap()["by"], "staff");
    assert!(history[..history.len() - 1]
        .iter()
        .all(|h| h["reason"].is_null()));

    let again = shop
        .post(&support, &path, Some(json!({"reason": REASON})))
        .await;
    assert_problem(again, StatusCode::CONFLICT, "invalid-transition").await;
    let actor: String = shop
        .app
        .query(move |conn| {
            use diesel::prelude::*;
            use valise::db::schema::{order_events, orders};
            order_events::table
                .inner_join(orders::table.on(orders::id.eq(order_events::order_id)))
                .filter(orders::number.eq(&number))
                .filter(order_events::to_status.eq("cancelled"))
                .select(order_events::actor_id.assume_not_null())
                .first::<String>(conn)
                .map_err(anyhow::Error::from)
        })
        .await;
    assert_eq!(actor, support.user_id);
}
