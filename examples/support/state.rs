//! The database as the checks see it: every row an order consists of, read through the
//! crate's schema (one query per table), and the invariants every order must satisfy; the
//! invoices and credit notes, and the invariants of their numbering.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;
use valise::db::schema::{
    data_keys, document_counters, documents, documents_due, idempotency_keys, notifications,
    order_events, order_items, orders, payments, policy_acceptances, refunds, variants,
};
use valise::db::{DatabaseUrl, Db};
use valise::invoices::model::{self, DocumentKind};

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

/// An issued invoice or credit note, as the numbering checks see it.
pub struct Doc {
    pub number: String,
    pub kind: String,
    pub series: String,
    pub year: i32,
    pub seq: i64,
    pub order_id: String,
    pub payment_id: String,
    pub source_id: String,
    pub corrects: Option<String>,
    pub gross_total: i64,
}

pub struct Refund {
    pub id: String,
    pub payment_id: String,
    pub amount: i64,
    pub status: String,
}

/// What invoicing wrote: the orders and their payment history, refunds, documents, the
/// number counters and what is still due.
pub struct Invoicing {
    /// id → (number, status)
    pub orders: HashMap<String, (String, String)>,
    /// The orders that were ever paid (an event to `paid`).
    pub paid: HashSet<String>,
    /// id → order id
    pub payments: HashMap<String, String>,
    pub refunds: Vec<Refund>,
    pub documents: Vec<Doc>,
    /// (series, year) → last
    pub counters: BTreeMap<(String, i32), i64>,
    pub due: i64,
}

/// How many documents are still due: (invoices, credit notes).
pub fn documents_due(db: &Db) -> anyhow::Result<(i64, i64)> {
    let mut conn = db.get()?;
    let kinds: Vec<String> = documents_due::table
        .select(documents_due::kind)
        .load(&mut *conn)?;
    let invoices = kinds
        .iter()
        .filter(|k| *k == DocumentKind::Invoice.as_str())
        .count();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    Ok((count(invoices), count(kinds.len() - invoices)))
}

pub fn load_invoicing(db: &Db) -> anyhow::Result<Invoicing> {
    let mut conn = db.get()?;
    let conn = &mut *conn;
    let documents = documents::table
        .select((
            documents::number,
            documents::kind,
            documents::series,
            documents::year,
            documents::seq,
            documents::order_id,
            documents::payment_id,
            documents::source_id,
            documents::corrects,
            documents::gross_total,
        ))
        .load::<(
            String,
            String,
            String,
            i32,
            i64,
            String,
            String,
            String,
            Option<String>,
            i64,
        )>(conn)?
        .into_iter()
        .map(
            |(
                number,
                kind,
                series,
                year,
                seq,
                order_id,
                payment_id,
                source_id,
                corrects,
                gross_total,
            )| Doc {
                number,
                kind,
                series,
                year,
                seq,
                order_id,
                payment_id,
                source_id,
                corrects,
                gross_total,
            },
        )
        .collect();
    Ok(Invoicing {
        orders: orders::table
            .select((orders::id, orders::number, orders::status))
            .load::<(String, String, String)>(conn)?
            .into_iter()
            .map(|(id, number, status)| (id, (number, status)))
            .collect(),
        paid: order_events::table
            .filter(order_events::to_status.eq("paid"))
            .select(order_events::order_id)
            .load::<String>(conn)?
            .into_iter()
            .collect(),
        payments: payments::table
            .select((payments::id, payments::order_id))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect(),
        refunds: refunds::table
            .select((
                refunds::id,
                refunds::payment_id,
                refunds::amount,
                refunds::status,
            ))
            .load::<(String, String, i64, String)>(conn)?
            .into_iter()
            .map(|(id, payment_id, amount, status)| Refund {
                id,
                payment_id,
                amount,
                status,
            })
            .collect(),
        documents,
        counters: document_counters::table
            .select((
                document_counters::series,
                document_counters::year,
                document_counters::last,
            ))
            .load::<(String, i32, i64)>(conn)?
            .into_iter()
            .map(|(series, year, last)| ((series, year), last))
            .collect(),
        due: documents_due::table.count().get_result(conn)?,
    })
}

impl Invoicing {
    pub fn invoices(&self) -> impl Iterator<Item = &Doc> {
        self.documents
            .iter()
            .filter(|d| d.kind == DocumentKind::Invoice.as_str())
    }

    pub fn credit_notes(&self) -> impl Iterator<Item = &Doc> {
        self.documents
            .iter()
            .filter(|d| d.kind == DocumentKind::CreditNote.as_str())
    }

    /// Numbering and coverage, whatever the history that led here:
    /// - every order ever paid has exactly one invoice, for one of its payments, and every
    ///   invoice is of an order that was paid;
    /// - every succeeded refund of an invoiced payment has exactly one credit note, which
    ///   corrects that invoice for the refund's amount, and every credit note is of one;
    /// - every number is its series, year and seq; numbers and sources are unique;
    /// - for every (series, year) the seqs are exactly 1..n and its counter is at n, and no
    ///   counter has moved without a document;
    /// - nothing is left in `documents_due`.
    ///
    /// Returns the (series, year) groups with their counts.
    pub fn check_documents(&self, verdict: &mut Verdict) -> BTreeMap<(String, i32), usize> {
        let mut invoices_of: HashMap<&str, Vec<&Doc>> = HashMap::new();
        let mut invoice_of_payment: HashMap<&str, &Doc> = HashMap::new();
        for d in self.invoices() {
            invoices_of.entry(&d.order_id).or_default().push(d);
            invoice_of_payment.insert(&d.payment_id, d);
            verdict.check(self.paid.contains(&d.order_id), || {
                format!(
                    "invoice {} is of order {}, never paid",
                    d.number, d.order_id
                )
            });
            verdict.check(
                d.source_id == d.payment_id
                    && self.payments.get(&d.payment_id) == Some(&d.order_id),
                || {
                    format!(
                        "invoice {} is for payment {} (source {}), not one of order {}",
                        d.number, d.payment_id, d.source_id, d.order_id
                    )
                },
            );
        }
        for order in &self.paid {
            let n = invoices_of.get(order.as_str()).map_or(0, Vec::len);
            verdict.check(n == 1, || {
                let number = self.orders.get(order).map_or("?", |o| o.0.as_str());
                format!("paid order {number} has {n} invoices")
            });
        }

        let mut notes_of: HashMap<&str, Vec<&Doc>> = HashMap::new();
        for d in self.credit_notes() {
            notes_of.entry(&d.source_id).or_default().push(d);
        }
        let refunds: HashMap<&str, &Refund> =
            self.refunds.iter().map(|r| (r.id.as_str(), r)).collect();
        for r in &self.refunds {
            let Some(invoice) = invoice_of_payment.get(r.payment_id.as_str()) else {
                continue;
            };
            let notes = notes_of.get(r.id.as_str()).map_or(&[][..], Vec::as_slice);
            if r.status != "succeeded" {
                verdict.check(notes.is_empty(), || {
                    format!("refund {} is {} but has a credit note", r.id, r.status)
                });
                continue;
            }
            verdict.check(notes.len() == 1, || {
                format!(
                    "succeeded refund {} of invoice {} has {} credit notes",
                    r.id,
                    invoice.number,
                    notes.len()
                )
            });
            for note in notes {
                verdict.check(
                    note.corrects.as_deref() == Some(invoice.number.as_str())
                        && note.payment_id == r.payment_id
                        && note.order_id == invoice.order_id
                        && note.gross_total == r.amount,
                    || {
                        format!(
                            "credit note {} (corrects {:?}, {} gross) for refund {} of {} on \
                             invoice {}",
                            note.number,
                            note.corrects,
                            note.gross_total,
                            r.id,
                            r.amount,
                            invoice.number
                        )
                    },
                );
            }
        }
        for d in self.credit_notes() {
            let ok = refunds.get(d.source_id.as_str()).is_some_and(|r| {
                r.status == "succeeded" && invoice_of_payment.contains_key(r.payment_id.as_str())
            });
            verdict.check(ok, || {
                format!(
                    "credit note {} is for {}, no succeeded refund of an invoiced payment",
                    d.number, d.source_id
                )
            });
        }

        let mut numbers = HashSet::new();
        let mut sources = HashSet::new();
        let mut groups: BTreeMap<(String, i32), Vec<i64>> = BTreeMap::new();
        for d in &self.documents {
            let kind = DocumentKind::parse(&d.kind);
            verdict.check(
                kind.is_some_and(|k| {
                    k.series() == d.series && d.number == model::number(k, d.year, d.seq)
                }),
                || {
                    format!(
                        "document {} is a {} of series {} year {} seq {}",
                        d.number, d.kind, d.series, d.year, d.seq
                    )
                },
            );
            verdict.check(numbers.insert(d.number.as_str()), || {
                format!("number {} issued twice", d.number)
            });
            verdict.check(sources.insert(d.source_id.as_str()), || {
                format!("two documents for {}", d.source_id)
            });
            groups
                .entry((d.series.clone(), d.year))
                .or_default()
                .push(d.seq);
        }
        for ((series, year), seqs) in &mut groups {
            seqs.sort_unstable();
            let n = seqs.len();
            let expected: Vec<i64> = (1..=i64::try_from(n).unwrap_or(i64::MAX)).collect();
            verdict.check(*seqs == expected, || {
                let present: HashSet<i64> = seqs.iter().copied().collect();
                let mut seen = HashSet::new();
                let duplicates: Vec<i64> =
                    seqs.iter().copied().filter(|s| !seen.insert(*s)).collect();
                let top = seqs.last().copied().unwrap_or(0);
                let missing: Vec<i64> = (1..=top).filter(|s| !present.contains(s)).collect();
                format!(
                    "{series}-{year}: {n} documents, seq up to {top}; missing {missing:?}, \
                     duplicated {duplicates:?}"
                )
            });
            let last = self.counters.get(&(series.clone(), *year)).copied();
            verdict.check(last == i64::try_from(n).ok(), || {
                format!("{series}-{year}: {n} documents but the counter is at {last:?}")
            });
        }
        for ((series, year), last) in &self.counters {
            verdict.check(groups.contains_key(&(series.clone(), *year)), || {
                format!("{series}-{year}: the counter is at {last} but no document has the series")
            });
        }
        verdict.check(self.due == 0, || {
            format!("{} document(s) still due", self.due)
        });
        groups.into_iter().map(|(k, v)| (k, v.len())).collect()
    }
}
