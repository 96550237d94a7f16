//! Orders: the state machine, shipping addresses, order numbers, totals. No HTTP, no SQL.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Role;
use crate::invalid::Invalid;
use crate::notifications::Kind;
use crate::privacy::refuse_sensitive;

/// Order statuses (DESIGN §5): `pending_payment` (placed, stock reserved, awaiting payment),
/// `paid`, `fulfilling` (being picked and packed), `shipped`, `delivered` (the after-sales
/// window runs), and the final ones: `closed` (the window ended), `expired` (never paid),
/// `cancelled`. Payment-side states live on the payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Fulfilling,
    Shipped,
    Delivered,
    Closed,
    Expired,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
        OrderStatus::Fulfilling,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Closed,
        OrderStatus::Expired,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Fulfilling => "fulfilling",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Closed => "closed",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Before shipment the stock is still ours to release.
    pub fn before_shipment(self) -> bool {
        matches!(
            self,
            OrderStatus::PendingPayment | OrderStatus::Paid | OrderStatus::Fulfilling
        )
    }

    /// The names of the final statuses, for queries over orders that are done (or not).
    pub fn final_names() -> Vec<&'static str> {
        OrderStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .map(OrderStatus::as_str)
            .collect()
    }

    /// No further status can follow.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Closed | OrderStatus::Expired | OrderStatus::Cancelled
        )
    }
}

/// Something that moves an order: `mark_paid` (the payment was captured), `expire` (unpaid
/// too long), `cancel` (before shipment), `start_fulfillment`, `ship`, `deliver`, `close` (the
/// after-sales window ended with no open case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = OrderAction)]
pub enum Action {
    /// The payment was captured (provider webhook).
    MarkPaid,
    /// Unpaid for too long (the expiry task).
    Expire,
    /// The customer or staff cancels before shipment.
    Cancel,
    /// Fulfilment starts picking and packing.
    StartFulfillment,
    /// Handed to a carrier.
    Ship,
    /// The carrier delivered it.
    Deliver,
    /// The after-sales window ended with no open case.
    Close,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::MarkPaid,
        Action::Expire,
        Action::Cancel,
        Action::StartFulfillment,
        Action::Ship,
        Action::Deliver,
        Action::Close,
    ];
}

/// Who changed an order's status, as its history shows it: `owner` (the customer or guest who
/// placed it), `staff` (a staff member or integrator key) or `system` (the service itself:
/// payment webhooks, expiry, closing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangedBy {
    Owner,
    Staff,
    System,
}

impl ChangedBy {
    pub const ALL: [ChangedBy; 3] = [ChangedBy::Owner, ChangedBy::Staff, ChangedBy::System];

    /// As stored in the order's events.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangedBy::Owner => "owner",
            ChangedBy::Staff => "staff",
            ChangedBy::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<ChangedBy> {
        ChangedBy::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl OrderStatus {
    /// The notification an order's owner gets when it enters this status (integrators get
    /// its event). Fulfilment is an internal step; no transition leads back to pending.
    pub fn notice(self) -> Option<Kind> {
        match self {
            OrderStatus::Paid => Some(Kind::OrderPaid),
            OrderStatus::Shipped => Some(Kind::OrderShipped),
            OrderStatus::Delivered => Some(Kind::OrderDelivered),
            OrderStatus::Cancelled => Some(Kind::OrderCancelled),
            OrderStatus::Expired => Some(Kind::OrderExpired),
            OrderStatus::Closed => Some(Kind::OrderClosed),
            OrderStatus::PendingPayment | OrderStatus::Fulfilling => None,
        }
    }
}

/// Who is acting on an order, for the transition rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The customer or guest who placed it.
    Owner,
    /// Staff with at least the fulfillment role.
    Fulfillment,
    /// Support staff (may cancel on a customer's behalf).
    Support,
    /// The service itself: payment webhooks, expiry, closing.
    System,
}

impl Actor {
    /// Whom a staff member acts as: fulfilment and above run the warehouse (start
    /// fulfilment, ship, deliver) and may cancel; support, and the privacy officer who has
    /// support's rights, may only cancel on a customer's behalf.
    pub fn staff(role: Role) -> Actor {
        if role.includes(Role::Fulfillment) {
            Actor::Fulfillment
        } else {
            Actor::Support
        }
    }
}

/// Why staff cancelled an order, as the order's history shows it to staff and to its owner.
/// A vocabulary rather than free text: a note typed about a customer would be personal data
/// in the clear, kept for the years of the accounting record. Never sent to integrators or
/// in notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The customer asked (by phone, mail or the after-sales desk).
    CustomerRequest,
    /// The goods cannot be supplied.
    OutOfStock,
    /// The payment was not right (a dispute, a mismatch).
    PaymentProblem,
    /// The order looks fraudulent.
    SuspectedFraud,
    /// The carrier cannot deliver to the address.
    UndeliverableAddress,
    /// The customer placed the same order twice.
    DuplicateOrder,
    /// Anything else.
    Other,
}

impl CancelReason {
    pub const ALL: [CancelReason; 7] = [
        CancelReason::CustomerRequest,
        CancelReason::OutOfStock,
        CancelReason::PaymentProblem,
        CancelReason::SuspectedFraud,
        CancelReason::UndeliverableAddress,
        CancelReason::DuplicateOrder,
        CancelReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::CustomerRequest => "customer_request",
            CancelReason::OutOfStock => "out_of_stock",
            CancelReason::PaymentProblem => "payment_problem",
            CancelReason::SuspectedFraud => "suspected_fraud",
            CancelReason::UndeliverableAddress => "undeliverable_address",
            CancelReason::DuplicateOrder => "duplicate_order",
            CancelReason::Other => "other",
        }
    }

    /// The reason a stored name stands for.
    pub fn parse(name: &str) -> Option<CancelReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTransition {
    pub from: OrderStatus,
    pub action: Action,
}

impl From<InvalidTransition> for Invalid {
    fn from(e: InvalidTransition) -> Self {
        Invalid::Transition(format!(
            "An order that is {} cannot be {}.",
            e.from.as_str().replace('_', " "),
            match e.action {
                Action::MarkPaid => "marked paid",
                Action::Expire => "expired",
                Action::Cancel => "cancelled",
                Action::StartFulfillment => "put into fulfilment",
                Action::Ship => "shipped",
                Action::Deliver => "delivered",
                Action::Close => "closed",
            }
        ))
    }
}

/// The one transition function: where `action` by `actor` takes an order in `from`.
pub fn transition(
    from: OrderStatus,
    action: Action,
    actor: Actor,
) -> Result<OrderStatus, InvalidTransition> {
    use OrderStatus::*;
    let allowed_actor = match action {
        Action::MarkPaid | Action::Expire | Action::Close => actor == Actor::System,
        Action::Cancel => true,
        Action::StartFulfillment | Action::Ship | Action::Deliver => {
            matches!(actor, Actor::Fulfillment | Actor::System)
        }
    };
    let to = match (from, action) {
        (PendingPayment, Action::MarkPaid) => Some(Paid),
        (PendingPayment, Action::Expire) => Some(Expired),
        (PendingPayment | Paid | Fulfilling, Action::Cancel) => Some(Cancelled),
        (Paid, Action::StartFulfillment) => Some(Fulfilling),
        (Paid | Fulfilling, Action::Ship) => Some(Shipped),
        (Shipped, Action::Deliver) => Some(Delivered),
        (Delivered, Action::Close) => Some(Closed),
        _ => None,
    };
    match to {
        Some(to) if allowed_actor => Ok(to),
        _ => Err(InvalidTransition { from, action }),
    }
}

/// What `actor` may do next with an order in `from` (so clients never hard-code the rules).
pub fn allowed_actions(from: OrderStatus, actor: Actor) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| transition(from, *a, actor).is_ok())
        .collect()
}

/// A shipping address as a client sends it: the wire form, which only [`Address::parse`]
/// turns into an [`Address`]. Documented as `Address`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddressFields {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    #[serde(default)]
    pub region: Option<String>,
    pub country: String,
}

// Its fields are private: an `Address` exists only through `Address::parse` (or opened from
// a sealed one, which was parsed before it was sealed). The doc comment is the document's.
/// A shipping address as submitted and as sealed (one document per order). Surrounding
/// whitespace is trimmed from every field before its limits are checked; the name, lines,
/// city and region refuse control characters, and a payment card, IBAN or identity number
/// in any of them is refused (422 `sensitive-data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Lotte Vermeulen", "line1": "Kortrijksesteenweg 214", "line2": "bus 3",
    "city": "Gent", "postal_code": "9000", "country": "BE"
}))]
pub struct Address {
    /// The recipient's name, 1–100 characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Street and house number, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    line1: String,
    /// More of the address (box, floor, building), 1–200 characters; null or absent when
    /// there is none.
    #[schema(min_length = 1, max_length = 200)]
    line2: Option<String>,
    /// City or town, 1–100 characters.
    #[schema(min_length = 1, max_length = 100)]
    city: String,
    /// Postal code: 1–12 letters, digits, spaces or dashes, e.g. `9000` or `1012 AB`.
    #[schema(min_length = 1, max_length = 12, pattern = r"^[A-Za-z0-9 -]+$")]
    postal_code: String,
    /// Province, state or region, 1–100 characters; null or absent when there is none.
    #[schema(min_length = 1, max_length = 100)]
    region: Option<String>,
    /// Country: two letters, an ISO 3166-1 alpha-2 code such as `BE` or `NL`, in either case;
    /// stored and shown upper-case.
    #[schema(pattern = r"^[A-Za-z]{2}$")]
    country: String,
}

fn line(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    let v = value.trim();
    let len = v.chars().count();
    if len == 0 || len > max || v.chars().any(char::is_control) {
        return Err(Invalid::field(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    refuse_sensitive(field, v)?;
    Ok(v.to_owned())
}

impl Address {
    /// Trims, bounds, upper-cases the country, and refuses sensitive values; errors name
    /// their field under `field` (`shipping_address.line2`).
    pub fn parse(input: &AddressFields, field: &str) -> Result<Address, Invalid> {
        let f = |name: &str| format!("{field}.{name}");
        let country = input.country.trim().to_uppercase();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Invalid::field(
                f("country"),
                "must be an ISO 3166-1 alpha-2 code like FR",
            ));
        }
        let postal = input.postal_code.trim();
        if postal.is_empty()
            || postal.len() > 12
            || !postal
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
        {
            return Err(Invalid::field(
                f("postal_code"),
                "must be 1 to 12 letters, digits, spaces or dashes",
            ));
        }
        Ok(Address {
            name: line(&f("name"), &input.name, 100)?,
            line1: line(&f("line1"), &input.line1, 200)?,
            line2: input
                .line2
                .as_deref()
                .map(|l| line(&f("line2"), l, 200))
                .transpose()?,
            city: line(&f("city"), &input.city, 100)?,
            postal_code: postal.to_owned(),
            region: input
                .region
                .as_deref()
                .map(|r| line(&f("region"), r, 100))
                .transpose()?,
            country,
        })
    }

    /// An address opened from its sealed JSON: parsed when it was accepted, so read as is.
    pub fn from_sealed_json(json: &[u8]) -> serde_json::Result<Address> {
        let f: AddressFields = serde_json::from_slice(json)?;
        Ok(Address {
            name: f.name,
            line1: f.line1,
            line2: f.line2,
            city: f.city,
            postal_code: f.postal_code,
            region: f.region,
            country: f.country,
        })
    }

    /// Back to the wire form, to apply a correction and parse the result again.
    pub fn into_fields(self) -> AddressFields {
        AddressFields {
            name: self.name,
            line1: self.line1,
            line2: self.line2,
            city: self.city,
            postal_code: self.postal_code,
            region: self.region,
            country: self.country,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn city(&self) -> &str {
        &self.city
    }

    /// The ISO 3166-1 alpha-2 code, upper-case.
    pub fn country(&self) -> &str {
        &self.country
    }

    /// What support sees: initials, city, country.
    pub fn masked(&self) -> MaskedAddress {
        let initials: String = self
            .name
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .flat_map(|c| [c, '.'])
            .collect();
        MaskedAddress {
            initials,
            city: self.city.clone(),
            country: self.country.clone(),
        }
    }
}

/// An address as support sees it: a separate type, so no full field can leak into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MaskedAddress {
    /// The first letter of each word of the recipient's name, each followed by a dot.
    pub initials: String,
    /// City or town.
    pub city: String,
    /// ISO 3166-1 alpha-2 country code, upper-case.
    pub country: String,
}

/// Crockford base32 without the ambiguous letters: easy to read out on the phone.
const NUMBER_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// What [`is_order_number`] accepts, as an ECMA-262 pattern (for the API document).
pub const ORDER_NUMBER_PATTERN: &str = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$";

/// A human order number like `LG-7KQ2-9XF4`: 40 random bits, not sequential, not guessable.
pub fn new_order_number() -> anyhow::Result<String> {
    let mut bytes = [0u8; 8];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("random generator failed"))?;
    let chars: String = bytes
        .iter()
        .map(|b| NUMBER_ALPHABET[usize::from(*b) % NUMBER_ALPHABET.len()] as char)
        .collect();
    Ok(format!("LG-{}-{}", &chars[..4], &chars[4..]))
}

/// Whether `s` has the shape of an order number (cheap rejection before any query).
pub fn is_order_number(s: &str) -> bool {
    s.len() == 12
        && s.starts_with("LG-")
        && s.as_bytes()[7] == b'-'
        && s.bytes()
            .enumerate()
            .filter(|(i, _)| ![0, 1, 2, 7].contains(i))
            .all(|(_, b)| NUMBER_ALPHABET.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn support_only_cancels_and_fulfilment_upwards_runs_the_warehouse() {
        assert_eq!(Actor::staff(Role::Support), Actor::Support);
        assert_eq!(Actor::staff(Role::PrivacyOfficer), Actor::Support);
        for role in [Role::Fulfillment, Role::Manager, Role::Admin] {
            assert_eq!(Actor::staff(role), Actor::Fulfillment);
        }
        assert_eq!(allowed_actions(Paid, Actor::Support), vec![Action::Cancel]);
        assert_eq!(allowed_actions(Paid, Actor::Owner), vec![Action::Cancel]);
        assert_eq!(
            allowed_actions(Paid, Actor::Fulfillment),
            vec![Action::Cancel, Action::StartFulfillment, Action::Ship]
        );
    }

    #[test]
    fn every_cancel_reason_reads_back_from_its_name() {
        for reason in CancelReason::ALL {
            assert_eq!(CancelReason::parse(reason.as_str()), Some(reason));
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
        assert_eq!(CancelReason::parse("because"), None);
    }

    #[test]
    fn every_legal_transition_and_only_those() {
        let legal = [
            (PendingPayment, Action::MarkPaid, Actor::System, Paid),
            (PendingPayment, Action::Expire, Actor::System, Expired),
            (PendingPayment, Action::Cancel, Actor::Owner, Cancelled),
            (Paid, Action::Cancel, Actor::Owner, Cancelled),
            (Fulfilling, Action::Cancel, Actor::Support, Cancelled),
            (
                Paid,
                Action::StartFulfillment,
                Actor::Fulfillment,
                Fulfilling,
            ),
            (Paid, Action::Ship, Actor::Fulfillment, Shipped),
            (Fulfilling, Action::Ship, Actor::Fulfillment, Shipped),
            (Shipped, Action::Deliver, Actor::Fulfillment, Delivered),
            (Delivered, Action::Close, Actor::System, Closed),
        ];
        for (from, action, actor, to) in legal {
            assert_eq!(
                transition(from, action, actor),
                Ok(to),
                "{from:?} {action:?} {actor:?}"
            );
        }
        let mut count = 0;
        for from in OrderStatus::ALL {
            for action in Action::ALL {
                for actor in [
                    Actor::Owner,
                    Actor::Fulfillment,
                    Actor::Support,
                    Actor::System,
                ] {
                    if transition(from, action, actor).is_ok() {
                        count += 1;
                    }
                }
            }
        }
        // The legal list above plus the same moves by other permitted actors.
        assert_eq!(count, 23, "unexpected extra transitions");
        assert!(
            transition(Shipped, Action::Cancel, Actor::Owner).is_err(),
            "no cancel after shipment"
        );
        assert!(
            transition(PendingPayment, Action::MarkPaid, Actor::Owner).is_err(),
            "owners cannot mark paid"
        );
        assert!(transition(Paid, Action::Ship, Actor::Owner).is_err());
        for from in [Closed, Expired, Cancelled] {
            assert!(from.is_final());
            assert!(allowed_actions(from, Actor::System).is_empty());
        }
    }

    #[test]
    fn owners_see_what_they_may_do() {
        assert_eq!(
            allowed_actions(PendingPayment, Actor::Owner),
            vec![Action::Cancel]
        );
        assert_eq!(allowed_actions(Shipped, Actor::Owner), vec![]);
        assert_eq!(
            allowed_actions(Paid, Actor::Fulfillment),
            vec![Action::Cancel, Action::StartFulfillment, Action::Ship]
        );
    }

    #[test]
    fn order_numbers_are_well_formed_and_distinct() {
        let a = new_order_number().unwrap();
        let b = new_order_number().unwrap();
        assert!(is_order_number(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_order_number("LG-0000-000I"));
        assert!(!is_order_number("ord_123"));
    }

    #[test]
    fn addresses_are_validated_and_masked() {
        let a = AddressFields {
            name: " Ada  Lovelace ".into(),
            line1: "Flat 4B, 221B Baker Street".into(),
            line2: None,
            city: "London".into(),
            postal_code: "NW1 6XE".into(),
            region: None,
            country: "gb".into(),
        };
        let v = Address::parse(&a, "shipping_address").unwrap();
        assert_eq!(v.country(), "GB");
        assert_eq!(
            v.masked(),
            MaskedAddress {
                initials: "A.L.".into(),
                city: "London".into(),
                country: "GB".into()
            }
        );
        let mut bad = a.clone();
        bad.line2 = Some("card 4111 1111 1111 1111".into());
        assert!(
            matches!(Address::parse(&bad, "shipping_address"), Err(Invalid::Sensitive { field }) if field == "shipping_address.line2")
        );
        let mut bad = a;
        bad.country = "France".into();
        assert!(Address::parse(&bad, "shipping_address").is_err());
    }

    #[test]
    fn the_number_pattern_names_the_alphabet() {
        // The character class of the pattern, as runs of consecutive characters.
        let mut class = String::new();
        let mut run: Vec<u8> = Vec::new();
        for &b in NUMBER_ALPHABET.iter().chain([0u8].iter()) {
            if run.last().is_some_and(|&last| last + 1 != b) {
                let (first, last) = (run[0] as char, run[run.len() - 1] as char);
                match run.len() {
                    1 => class.push(first),
                    2 => class.extend([first, last]),
                    _ => class.extend([first, '-', last]),
                }
                run.clear();
            }
            run.push(b);
        }
        assert_eq!(
            ORDER_NUMBER_PATTERN,
            format!("^LG-[{class}]{{4}}-[{class}]{{4}}$")
        );
    }

    #[test]
    fn changed_by_is_stored_as_its_wire_name() {
        for by in ChangedBy::ALL {
            assert_eq!(ChangedBy::parse(by.as_str()), Some(by));
            assert_eq!(
                serde_json::to_value(by).unwrap(),
                serde_json::Value::from(by.as_str())
            );
        }
    }
}
