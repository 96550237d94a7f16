//! The database as the checks see it: every row an order consists of, read through the
//! crate's schema (one query per table), and the invariants every order must satisfy.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use valise::db::schema::{
    data_keys, idempotency_keys, notifications, order_events, order_items, orders,
    policy_acceptances, variants,
};
use valise::db::{DatabaseUrl, Db};

use super::Verdict;

pub struct Order {
    pub id: String,
    pub number: String,
    pub status: String,
    pub subtotal: i64,
    pub shipping: i64,
    pub total: i64,
}

pub struct Item {
    pub order_id: String,
    pub variant_id: String,
    pub quantity: i32,
    pub unit_price: i64,
}

pub struct Notification {
    pub id: String,
    pub order_id: Option<String>,
    pub kind: String,
    pub status: String,
}

/// Every row an order is made of.
pub struct State {
    pub available: HashMap<String, i32>,
    pub orders: Vec<Order>,
    pub items: Vec<Item>,
    /// (order, from, to)
    pub events: Vec<(String, Option<String>, String)>,
    /// subject → its key is still there (not shredded)
    pub data_keys: HashMap<String, bool>,
    /// (subject, source)
    pub acceptances: Vec<(String, String)>,
    /// (scope, subject)
    pub idempotency: Vec<(String, String)>,
    pub notifications: Vec<Notification>,
}

pub fn connect(url: &str) -> anyhow::Result<Db> {
    let url = DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?;
    Db::connect(&url, 1)
}

pub fn stock(db: &Db) -> anyhow::Result<HashMap<String, i32>> {
    let mut conn = db.get()?;
    Ok(variants::table
        .select((variants::id, variants::available))
        .load::<(String, i32)>(&mut *conn)?
        .into_iter()
        .collect())
}

pub fn load(db: &Db) -> anyhow::Result<State> {
    let mut conn = db.get()?;
    let conn = &mut *conn;
    let orders = orders::table
        .select((
            orders::id,
            orders::number,
            orders::status,
            orders::subtotal,
            orders::shipping,
            orders::total,
        ))
        .load::<(String, String, String, i64, i64, i64)>(conn)?
        .into_iter()
        .map(|(id, number, status, subtotal, shipping, total)| Order {
            id,
            number,
            status,
            subtotal,
            shipping,
            total,
        })
        .collect();
    let items = order_items::table
        .select((
            order_items::order_id,
            order_items::variant_id,
            order_items::quantity,
            order_items::unit_price,
        ))
        .load::<(String, String, i32, i64)>(conn)?
        .into_iter()
        .map(|(order_id, variant_id, quantity, unit_price)| Item {
            order_id,
            variant_id,
            quantity,
            unit_price,
        })
        .collect();
    let notifications = notifications::table
        .select((
            notifications::id,
            notifications::order_id,
            notifications::kind,
            notifications::status,
        ))
        .load::<(String, Option<String>, String, String)>(conn)?
        .into_iter()
        .map(|(id, order_id, kind, status)| Notification {
            id,
            order_id,
            kind,
            status,
        })
        .collect();
    Ok(State {
        available: variants::table
            .select((variants::id, variants::available))
            .load::<(String, i32)>(conn)?
            .into_iter()
            .collect(),
        orders,
        items,
        events: order_events::table
            .select((
                order_events::order_id,
                order_events::from_status,
                order_events::to_status,
            ))
            .load(conn)?,
        data_keys: data_keys::table
            .select((data_keys::subject_id, data_keys::wrapped.is_not_null()))
            .load::<(String, bool)>(conn)?
            .into_iter()
            .collect(),
        acceptances: policy_acceptances::table
            .select((policy_acceptances::subject_id, policy_acceptances::source))
            .load(conn)?,
        idempotency: idempotency_keys::table
            .select((idempotency_keys::scope, idempotency_keys::subject_id))
            .load(conn)?,
        notifications,
    })
}

/// Stock no longer held by an order: cancelled and expired orders gave theirs back.
pub fn holds_stock(status: &str) -> bool {
    !matches!(status, "cancelled" | "expired")
}

impl State {
    pub fn order_numbers(&self) -> HashSet<&str> {
        self.orders.iter().map(|o| o.number.as_str()).collect()
    }

    /// No half-written order and no order without its stock decrement:
    /// - every order has at least one item, and its totals are its items' sum (nothing
    ///   missing), its first event (`null → pending_payment`), its data key, its policy
    ///   acceptance, its idempotency record and its "order placed" notice; a cancelled or
    ///   expired order also has the event that says so;
    /// - for every variant, `initial − Σ quantities of orders still holding stock =
    ///   available`.
    pub fn check_orders(&self, initial: &HashMap<String, i32>, verdict: &mut Verdict) {
        let mut items_of: HashMap<&str, Vec<&Item>> = HashMap::new();
        for item in &self.items {
            items_of.entry(&item.order_id).or_default().push(item);
        }
        let mut events_of: HashMap<&str, Vec<(Option<&str>, &str)>> = HashMap::new();
        for (order, from, to) in &self.events {
            events_of
                .entry(order)
                .or_default()
                .push((from.as_deref(), to.as_str()));
        }
        let accepted: HashSet<&str> = self
            .acceptances
            .iter()
            .filter(|(_, source)| source == "checkout")
            .map(|(subject, _)| subject.as_str())
            .collect();
        let remembered: HashSet<&str> = self
            .idempotency
            .iter()
            .filter(|(scope, _)| scope.starts_with("checkout:"))
            .map(|(_, subject)| subject.as_str())
            .collect();
        let placed: HashSet<&str> = self
            .notifications
            .iter()
            .filter(|n| n.kind == "order.placed")
            .filter_map(|n| n.order_id.as_deref())
            .collect();
        let ids: HashSet<&str> = self.orders.iter().map(|o| o.id.as_str()).collect();
        for o in &self.orders {
            let items = items_of.get(o.id.as_str()).map_or(&[][..], Vec::as_slice);
            verdict.check(!items.is_empty(), || {
                format!("order {} has no items", o.number)
            });
            let sum: i64 = items
                .iter()
                .map(|i| i.unit_price * i64::from(i.quantity))
                .sum();
            verdict.check(
                sum == o.subtotal && o.total == o.subtotal + o.shipping,
                || {
                    format!(
                        "order {}: subtotal {} and total {} but its items sum to {sum}",
                        o.number, o.subtotal, o.total
                    )
                },
            );
            let events = events_of.get(o.id.as_str()).map_or(&[][..], Vec::as_slice);
            verdict.check(events.contains(&(None, "pending_payment")), || {
                format!("order {} has no first event", o.number)
            });
            if o.status != "pending_payment" {
                verdict.check(events.iter().any(|(_, to)| *to == o.status), || {
                    format!("order {} is {} without the event", o.number, o.status)
                });
            }
            verdict.check(self.data_keys.contains_key(o.id.as_str()), || {
                format!("order {} has no data key", o.number)
            });
            verdict.check(accepted.contains(o.id.as_str()), || {
                format!("order {} has no policy acceptance", o.number)
            });
            verdict.check(remembered.contains(o.id.as_str()), || {
                format!("order {} has no idempotency record", o.number)
            });
            verdict.check(placed.contains(o.id.as_str()), || {
                format!("order {} has no order.placed notification", o.number)
            });
        }
        verdict.check(
            self.items.iter().all(|i| ids.contains(i.order_id.as_str())),
            || "items without an order".into(),
        );
        let holding: HashMap<&str, &str> = self
            .orders
            .iter()
            .map(|o| (o.id.as_str(), o.status.as_str()))
            .collect();
        let mut held: HashMap<&str, i64> = HashMap::new();
        for item in &self.items {
            if holding
                .get(item.order_id.as_str())
                .is_some_and(|s| holds_stock(s))
            {
                *held.entry(&item.variant_id).or_default() += i64::from(item.quantity);
            }
        }
        for (variant, start) in initial {
            let held = held.get(variant.as_str()).copied().unwrap_or(0);
            let now = self.available.get(variant).copied().unwrap_or(-1);
            verdict.check(i64::from(*start) - held == i64::from(now), || {
                format!("variant {variant}: started with {start}, orders hold {held}, but {now} available")
            });
            verdict.check(now >= 0, || format!("variant {variant}: {now} available"));
        }
    }
}
