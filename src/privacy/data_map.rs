//! `GET /v1/privacy/data-map`: what personal data is held, generated from the code's own
//! tables of fields (which column holds what, sealed or not) and retention rules — the same
//! tables the code uses, so the map cannot drift from what is stored (a test compares it
//! with every sealed column in the database).

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::crypto::Column;
use crate::http::error::ApiError;
use crate::retention::{self, DataCategory, Retention, RetentionRule, Settings};
use crate::{accounts, catalog, idempotency, invoices, orders, privacy, webhooks};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(data_map);
}

/// Where a field lives.
pub struct Field {
    pub name: &'static str,
    pub stored: Stored,
}

/// The column a field is stored in.
pub enum Stored {
    /// Encrypted under a subject's (or a system) key: the store's own constant.
    Sealed(Column),
    /// In the clear: a lookup index, a hash, a status or an anonymous value.
    Plain {
        table: &'static str,
        column: &'static str,
    },
}

/// A category of data, as the code defines it.
pub struct Category {
    pub id: DataCategory,
    pub name: &'static str,
    pub personal: bool,
    pub fields: &'static [Field],
    pub purpose: &'static str,
    pub legal_basis: &'static str,
    pub visible_to: &'static [&'static str],
}

const fn sealed(name: &'static str, column: Column) -> Field {
    Field {
        name,
        stored: Stored::Sealed(column),
    }
}

const fn plain(name: &'static str, table: &'static str, column: &'static str) -> Field {
    Field {
        name,
        stored: Stored::Plain { table, column },
    }
}

impl Field {
    fn stored_in(&self) -> String {
        match self.stored {
            Stored::Sealed(Column { table, name }) => format!("{table}.{name}"),
            Stored::Plain { table, column } => format!("{table}.{column}"),
        }
    }

    fn is_sealed(&self) -> bool {
        matches!(self.stored, Stored::Sealed(_))
    }
}

/// Every category of data the shop holds.
pub const CATEGORIES: &[Category] = &[
    Category {
        id: DataCategory::AccountProfile,
        name: "Customer account",
        personal: true,
        fields: &[
            sealed("email", accounts::store::EMAIL),
            plain("email lookup (blind index)", "users", "email_bidx"),
            sealed("name", accounts::store::NAME),
            sealed("phone", accounts::store::PHONE),
            plain("password (Argon2id hash)", "users", "password_hash"),
            sealed(
                "confirmation or reset token sent by e-mail (until used, 30 minutes to 24 hours)",
                crate::auth::email_tokens::TOKEN,
            ),
            sealed(
                "address the token goes to (a new address until confirmed)",
                crate::auth::email_tokens::EMAIL,
            ),
        ],
        purpose: "Signing in, order contact, and the account's own history.",
        legal_basis: "Contract (GDPR Art. 6(1)(b))",
        visible_to: &[
            "the customer",
            "the shop's mail/SMS gateway (the email only, to deliver notices)",
        ],
    },
    Category {
        id: DataCategory::SavedAddresses,
        name: "Saved shipping addresses",
        personal: true,
        fields: &[sealed("address", accounts::addresses::ADDRESS)],
        purpose: "Faster checkout.",
        legal_basis: "Contract (GDPR Art. 6(1)(b))",
        visible_to: &["the customer"],
    },
    Category {
        id: DataCategory::OrderPersonal,
        name: "Order contact and delivery data",
        personal: true,
        fields: &[
            sealed("contact email", orders::view::CONTACT_EMAIL),
            plain("contact email lookup (blind index)", "orders", "contact_email_bidx"),
            plain(
                "discount code use: account id or guest email blind index",
                "discount_redemptions",
                "customer",
            ),
            sealed("shipping name and address", orders::view::SHIPPING_ADDRESS),
            sealed("after-sales reason", orders::after_sales::REASON),
            sealed("after-sales answers", orders::after_sales::ANSWER),
            sealed("replayed responses of idempotent requests", idempotency::RESPONSE),
        ],
        purpose: "Delivering the order and handling returns, repairs and warranty.",
        legal_basis: "Contract (GDPR Art. 6(1)(b))",
        visible_to: &[
            "the customer (or the guest holding the order token)",
            "support (masked: initials, city, country; an after-sales case's reason and answers, each reading audited)",
            "fulfillment+ (full address of orders to ship, each read audited)",
            "the carrier the order ships with (recorded as a disclosure)",
            "the shop's mail/SMS gateway (a guest's contact email, to deliver order notices)",
        ],
    },
    Category {
        id: DataCategory::Accounting,
        name: "Accounting records",
        personal: false,
        fields: &[
            plain("order number, amounts, dates", "orders", "number"),
            plain("items bought", "order_items", "sku"),
            plain(
                "destination country of the tax record (the rate's member state; kept with \
                 the accounting record after the address is shredded)",
                "orders",
                "tax_country",
            ),
            plain("tax lines: rate, net, tax, gross", "order_tax_lines", "rate_bp"),
            plain("payment status and amounts", "payments", "status"),
        ],
        purpose: "Bookkeeping and tax obligations.",
        legal_basis: "Legal obligation (GDPR Art. 6(1)(c))",
        visible_to: &["the customer", "manager+"],
    },
    Category {
        id: DataCategory::InvoiceBuyers,
        name: "Buyers on invoices and credit notes",
        personal: true,
        fields: &[
            sealed(
                "buyer's name and postal address (under the key of the document's accounting \
                 year, not the customer's or the order's)",
                invoices::issue::BUYER,
            ),
            plain("document number, lines, tax lines and totals", "documents", "number"),
        ],
        purpose: "Invoices and credit notes, which must name the buyer.",
        legal_basis: "Legal obligation (GDPR Art. 6(1)(c)); kept through erasure (Art. 17(3)(b))",
        visible_to: &[
            "the customer (or the guest holding the order token)",
            "support+ (each read audited)",
            "manager+ (the ledger: numbers and amounts, without the buyer)",
        ],
    },
    Category {
        id: DataCategory::Consultations,
        name: "Pre-sale questions",
        personal: true,
        fields: &[
            sealed("question", catalog::consultations::store::QUESTION),
            sealed("contact email (optional)", catalog::consultations::store::CONTACT_EMAIL),
        ],
        purpose: "Answering questions about a product.",
        legal_basis: "Steps prior to a contract (GDPR Art. 6(1)(b))",
        visible_to: &["support+"],
    },
    Category {
        id: DataCategory::ConsentEvidence,
        name: "Consents and policy acceptances",
        personal: true,
        fields: &[
            plain("consent ledger", "consents", "granted"),
            plain("policy acceptances", "policy_acceptances", "policy_version"),
        ],
        purpose: "Proving what was consented to and accepted, and when.",
        legal_basis: "Legal obligation (GDPR Art. 7(1))",
        visible_to: &["the customer", "privacy_officer"],
    },
    Category {
        id: DataCategory::Dsr,
        name: "Data-subject requests",
        personal: true,
        fields: &[
            plain("request, status, due date", "dsr_requests", "status"),
            plain("guest email lookup (blind index)", "dsr_requests", "email_bidx"),
            sealed("one-time code (until used)", privacy::requests::guest::CODE),
            sealed("guest email the code goes to (until used)", privacy::requests::guest::EMAIL),
            plain("fields a guest asks to correct", "dsr_corrections", "fields"),
            sealed(
                "guest's corrected email and address (until applied)",
                privacy::requests::corrections::CORRECTIONS,
            ),
        ],
        purpose: "Answering access, rectification, erasure and withdrawal requests in time.",
        legal_basis: "Legal obligation (GDPR Art. 12)",
        visible_to: &["the requester", "privacy_officer"],
    },
    Category {
        id: DataCategory::Audit,
        name: "Access log",
        personal: false,
        fields: &[plain("who read or changed which fields, why", "audit_log", "fields")],
        purpose: "Accountability: every access to personal data is recorded (ids, never values).",
        legal_basis: "Legal obligation (GDPR Art. 5(2))",
        visible_to: &["the customer (accesses to their data)", "privacy_officer"],
    },
    Category {
        id: DataCategory::ErasureLedger,
        name: "Erasure ledger",
        personal: false,
        fields: &[
            plain("erased subject's id", "erasure_ledger", "subject_id"),
            plain("when it was erased", "erasure_ledger", "erased_at"),
        ],
        purpose: "Shredding again, after a backup is restored, whoever was erased since it was \
                  taken.",
        legal_basis: "Legal obligation (GDPR Art. 17(1)): the erasure must outlast backups",
        visible_to: &["operators (valise erasures export)"],
    },
    Category {
        id: DataCategory::WebhookDeliveries,
        name: "Integrators' webhook delivery log",
        personal: false,
        fields: &[
            plain("event (ids and statuses only)", "webhook_deliveries", "payload"),
            plain("attempts, last answer's status code", "webhook_deliveries", "last_status_code"),
        ],
        purpose: "Showing integrators what was sent and retrying what failed.",
        legal_basis: "Not personal data",
        visible_to: &["admin"],
    },
    Category {
        id: DataCategory::Notifications,
        name: "Notices to customers (outbox and inbox)",
        personal: true,
        fields: &[
            plain("recipient account", "notifications", "recipient_user_id"),
            plain("order", "notifications", "order_id"),
            plain("kind", "notifications", "kind"),
            plain("notice (ids, statuses, amounts; codes and addresses travel sealed)", "notifications", "payload"),
            plain("sent, read, attempts", "notifications", "status"),
        ],
        purpose: "Order status updates and policy revision notices, as the privacy policy \
                  promises; account mails (confirmation, password reset).",
        legal_basis: "Contract (GDPR Art. 6(1)(b)); policy notices: legal obligation",
        visible_to: &["the customer (inbox)", "manager+ (the outbox)"],
    },
    Category {
        id: DataCategory::ServiceSecrets,
        name: "Integrators' webhook signing secrets",
        personal: false,
        fields: &[sealed("signing secret", webhooks::store::SECRET)],
        purpose: "Signing event deliveries so integrators can verify them.",
        legal_basis: "Not personal data",
        visible_to: &["the admin who created the subscription, once"],
    },
    Category {
        id: DataCategory::Analytics,
        name: "Anonymous browsing statistics",
        personal: false,
        fields: &[
            plain("visitor hash (HMAC of the browser's session string under a salt destroyed after its day)", "analytics_events", "visitor_hash"),
            plain("day", "analytics_events", "day"),
            plain("event type", "analytics_events", "event_type"),
            plain("page path (no query string; ids and numbers templated)", "analytics_events", "path"),
            plain("product viewed", "analytics_events", "product_id"),
            plain("time on page", "analytics_events", "dwell_ms"),
        ],
        purpose: "Improving size classes, styles and page layout; no IP, user agent or id.",
        legal_basis: "Not personal data (daily-salted visitor hashes)",
        visible_to: &["manager+ (aggregates, groups under k visitors hidden)"],
    },
];

/// One field of a category and where it is stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldEntry {
    /// What the field holds, in words (e.g. `email`, `phone`).
    pub name: &'static str,
    /// `table.column` where it is stored.
    pub stored_in: String,
    /// Sealed with AES-256-GCM under the subject's own data key.
    pub encrypted: bool,
}

/// A category of data held, with why, for whom and how long.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryEntry {
    /// The category's id.
    pub id: DataCategory,
    /// The category's name, for people.
    pub name: &'static str,
    /// Whether the category identifies a person.
    pub personal: bool,
    /// Its fields and where each is stored.
    pub fields: Vec<FieldEntry>,
    /// Why it is held.
    pub purpose: &'static str,
    /// The legal basis of holding it, e.g. `Contract (GDPR Art. 6(1)(b))`.
    pub legal_basis: &'static str,
    /// Who can see it.
    pub visible_to: Vec<&'static str>,
    /// Whether every personal value in it is encrypted at rest.
    pub encrypted: bool,
    /// How long it is kept.
    pub retention: Retention,
    /// The retention engine's rules that enforce it (`valise retention run`); empty when
    /// erasure alone ends it.
    pub enforced_by: Vec<RetentionRule>,
}

/// Every category of data the shop holds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "policy_version": 1,
    "categories": [{
        "id": "saved_addresses",
        "name": "Saved shipping addresses",
        "personal": true,
        "fields": [
            {"name": "address", "stored_in": "addresses.address_sealed", "encrypted": true}
        ],
        "purpose": "Faster checkout.",
        "legal_basis": "Contract (GDPR Art. 6(1)(b))",
        "visible_to": ["the customer"],
        "encrypted": true,
        "retention": {
            "from": "account erased",
            "days": null,
            "description": "Kept while the account exists; erased on request (at once, or when the last order closes), or after 3 years without a sign-in."
        },
        "enforced_by": []
    }]
}))]
pub struct DataMap {
    /// The privacy-policy version in force.
    #[schema(minimum = 1)]
    pub policy_version: i32,
    /// Every category, in a fixed order.
    pub categories: Vec<CategoryEntry>,
}

/// The map, from the tables above and the retention settings.
pub fn build(settings: &Settings, policy_version: i32) -> DataMap {
    let categories = CATEGORIES
        .iter()
        .map(|c| CategoryEntry {
            id: c.id,
            name: c.name,
            personal: c.personal,
            fields: c
                .fields
                .iter()
                .map(|fl| FieldEntry {
                    name: fl.name,
                    stored_in: fl.stored_in(),
                    encrypted: fl.is_sealed(),
                })
                .collect(),
            purpose: c.purpose,
            legal_basis: c.legal_basis,
            visible_to: c.visible_to.to_vec(),
            encrypted: c.fields.iter().any(Field::is_sealed),
            retention: retention::rule(c.id, settings),
            enforced_by: retention::engine::RULES
                .iter()
                .filter(|r| r.category == c.id)
                .map(|r| r.name)
                .collect(),
        })
        .collect();
    DataMap {
        policy_version,
        categories,
    }
}

/// The data map.
///
/// Each category of data held: its fields and where they are stored, purpose, legal basis,
/// who can see it, whether it is encrypted, and how long it is kept. Generated from the
/// code's own field and retention tables.
#[utoipa::path(
    operation_id = "getDataMap",
    tag = "privacy",
    responses(
        (status = 200, description = "Every personal field, its purpose and how long it is kept", body = DataMap,
            headers(("ETag" = String, description = "Strong validator of the body"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
    )
)]
#[get("/privacy/data-map")]
async fn data_map(
    req: actix_web::HttpRequest,
    settings: web::Data<Settings>,
    versions: web::Data<crate::versions::Versions>,
) -> Result<HttpResponse, ApiError> {
    let map = build(&settings, versions.policy());
    crate::http::cache::json_with_etag(&req, &map, crate::http::cache::PUBLIC_SHORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_sealed_column_is_listed_as_plain() {
        for field in CATEGORIES.iter().flat_map(|c| c.fields) {
            if let Stored::Plain { column, .. } = field.stored {
                assert!(
                    !column.ends_with("_sealed"),
                    "{}: list it with its store's constant",
                    field.name
                );
            }
        }
    }
}
