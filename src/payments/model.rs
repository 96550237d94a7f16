//! Payment statuses and their order, webhook signatures, the provider interface.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a payment stands: `pending` (started, nothing reported yet), `processing` (the
/// provider is confirming it, e.g. a bank debit), `authorized` (the provider holds the
/// amount), `failed` (an attempt was declined; the customer may try again with the same
/// payment), `cancelled` (abandoned for good; also once the provider cancelled it because its
/// order expired or was cancelled unpaid), `captured` (the money is taken),
/// `partially_refunded` (some of it given back or being given back), `refunded` (all of it),
/// `disputed` (the customer's bank contests the charge), `dispute_lost` (the bank decided
/// for the customer and took the money back: final).
/// Once captured or cancelled, a payment only moves forward along that list, with one
/// exception: a dispute the shop wins returns the payment to where it was (`captured`,
/// `partially_refunded` or `refunded`, from what was refunded). Before capture, the newest
/// report wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Processing,
    Authorized,
    Captured,
    Failed,
    Cancelled,
    PartiallyRefunded,
    Refunded,
    Disputed,
    DisputeLost,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 10] = [
        PaymentStatus::Pending,
        PaymentStatus::Processing,
        PaymentStatus::Authorized,
        PaymentStatus::Captured,
        PaymentStatus::Failed,
        PaymentStatus::Cancelled,
        PaymentStatus::PartiallyRefunded,
        PaymentStatus::Refunded,
        PaymentStatus::Disputed,
        PaymentStatus::DisputeLost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Processing => "processing",
            PaymentStatus::Authorized => "authorized",
            PaymentStatus::Captured => "captured",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Cancelled => "cancelled",
            PaymentStatus::PartiallyRefunded => "partially_refunded",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Disputed => "disputed",
            PaymentStatus::DisputeLost => "dispute_lost",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentStatus> {
        PaymentStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The status stored in a row (only ever written by [`PaymentStatus::as_str`]).
    pub fn from_stored(s: &str) -> PaymentStatus {
        PaymentStatus::parse(s).unwrap_or(PaymentStatus::Failed)
    }

    /// Money was taken (and perhaps partly given back): what a refund may draw on.
    pub fn is_captured(self) -> bool {
        matches!(
            self,
            PaymentStatus::Captured | PaymentStatus::PartiallyRefunded
        )
    }

    /// Before the money is taken: states a newer report may replace in any direction.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PaymentStatus::Pending
                | PaymentStatus::Processing
                | PaymentStatus::Authorized
                | PaymentStatus::Failed
        )
    }

    /// Progress along the list; breaks ties between reports of the same second.
    fn rank(self) -> u8 {
        match self {
            PaymentStatus::Pending => 0,
            PaymentStatus::Processing => 1,
            PaymentStatus::Failed => 2,
            PaymentStatus::Authorized => 3,
            PaymentStatus::Cancelled => 4,
            PaymentStatus::Captured => 5,
            PaymentStatus::PartiallyRefunded => 6,
            PaymentStatus::Refunded => 7,
            PaymentStatus::Disputed => 8,
            PaymentStatus::DisputeLost => 9,
        }
    }

    /// Whether an event reporting `next` may move a payment now in `self`; `age` compares
    /// the event's creation with that of the last event applied (`Greater`: newer).
    /// Providers deliver in any order and more than once: a captured or cancelled payment
    /// never moves backwards, and before that an older report never replaces a newer one.
    pub fn may_become(self, next: PaymentStatus, age: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering;
        if self == next || self == PaymentStatus::Cancelled {
            return false;
        }
        if !self.is_open() {
            // A dispute opened before the last report applied (the close of a dispute the
            // shop won, say) arriving late never reopens it.
            if next == PaymentStatus::Disputed && age == Ordering::Less {
                return false;
            }
            return !next.is_open()
                && next != PaymentStatus::Cancelled
                && next.rank() > self.rank();
        }
        match next {
            PaymentStatus::Captured | PaymentStatus::Cancelled => true,
            // A refund or dispute of money never reported taken: the capture comes first.
            PaymentStatus::PartiallyRefunded
            | PaymentStatus::Refunded
            | PaymentStatus::Disputed
            | PaymentStatus::DisputeLost => false,
            _ => match age {
                Ordering::Greater => true,
                Ordering::Equal => next.rank() > self.rank(),
                Ordering::Less => false,
            },
        }
    }
}

/// How a dispute ended, as far as the payment is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeOutcome {
    /// The shop keeps the money (won, or an inquiry closed without becoming a dispute).
    Kept,
    /// The customer's bank took the money back for good.
    Lost,
}

impl PaymentStatus {
    /// The status of a payment in `self` whose dispute closed with `outcome`, given its
    /// `amount` and what of it is refunded or being refunded; `None` when the close changes
    /// nothing (a payment never reported disputed keeps its status when the shop wins).
    pub fn after_dispute(
        self,
        outcome: DisputeOutcome,
        amount: i64,
        refunded: i64,
    ) -> Option<PaymentStatus> {
        match outcome {
            DisputeOutcome::Kept if self == PaymentStatus::Disputed => Some(if refunded <= 0 {
                PaymentStatus::Captured
            } else if refunded < amount {
                PaymentStatus::PartiallyRefunded
            } else {
                PaymentStatus::Refunded
            }),
            DisputeOutcome::Lost
                if self == PaymentStatus::Disputed
                    || self.is_captured()
                    || self == PaymentStatus::Refunded =>
            {
                Some(PaymentStatus::DisputeLost)
            }
            _ => None,
        }
    }
}

/// Where a refund stands: `pending` (asked of the provider, or being asked), `succeeded`
/// (the money is on its way back), `failed` (the provider refused, or reported it failed or
/// cancelled: its amount may be refunded again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 3] = [
        RefundStatus::Pending,
        RefundStatus::Succeeded,
        RefundStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }

    pub fn from_stored(s: &str) -> RefundStatus {
        RefundStatus::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .unwrap_or(RefundStatus::Pending)
    }

    /// A provider reports refunds in any order: a refund succeeds or fails once pending, and
    /// a succeeded one may still fail (the bank returned it); a failed one stays failed.
    pub fn may_become(self, next: RefundStatus) -> bool {
        matches!(
            (self, next),
            (RefundStatus::Pending, RefundStatus::Succeeded)
                | (RefundStatus::Pending, RefundStatus::Failed)
                | (RefundStatus::Succeeded, RefundStatus::Failed)
        )
    }
}

/// The `Valise-Signature` scheme of the provider's webhooks (and of Valise's own outgoing
/// deliveries) lives with the other keyed digests.
pub use crate::crypto::signature::{sign, verify_signature, SIGNATURE_TOLERANCE_SECS};

/// The payment providers this API knows: the built-in `test` provider, and `stripe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentProvider {
    Test,
    Stripe,
}

impl PaymentProvider {
    pub const ALL: [PaymentProvider; 2] = [PaymentProvider::Test, PaymentProvider::Stripe];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentProvider::Test => TestProvider::NAME,
            PaymentProvider::Stripe => "stripe",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentProvider> {
        PaymentProvider::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A payment provider. The built-in `test` provider is deterministic, for tests and demos;
/// a real one would call out to its API here.
pub struct TestProvider;

impl TestProvider {
    pub const NAME: &'static str = "test";

    /// A reference for a new payment (what the provider's webhooks will name).
    pub fn create(&self, payment_id: &str) -> String {
        format!("test_{}", payment_id.trim_start_matches("pay_"))
    }

    /// A reference for a refund, which the `test` provider makes at once.
    pub fn refund(&self, refund_id: &str) -> String {
        format!("test_{refund_id}")
    }
}

/// What a provider webhook event reports: `payment.authorized`, `payment.captured`,
/// `payment.failed` or `payment.refunded` (the payment's whole remaining amount).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum ProviderEventType {
    #[serde(rename = "payment.authorized")]
    #[schema(rename = "payment.authorized")]
    PaymentAuthorized,
    #[serde(rename = "payment.captured")]
    #[schema(rename = "payment.captured")]
    PaymentCaptured,
    #[serde(rename = "payment.failed")]
    #[schema(rename = "payment.failed")]
    PaymentFailed,
    #[serde(rename = "payment.refunded")]
    #[schema(rename = "payment.refunded")]
    PaymentRefunded,
    /// Any other type a provider may add: acknowledged as `ignored`, never applied nor
    /// stored, and not part of the documented vocabulary.
    #[serde(other, skip_serializing)]
    Other,
}

impl ProviderEventType {
    /// The type as the provider spells it (`None` for one this API does not know).
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            ProviderEventType::PaymentAuthorized => Some("payment.authorized"),
            ProviderEventType::PaymentCaptured => Some("payment.captured"),
            ProviderEventType::PaymentFailed => Some("payment.failed"),
            ProviderEventType::PaymentRefunded => Some("payment.refunded"),
            ProviderEventType::Other => None,
        }
    }

    /// The payment status the event reports (`None` for an unknown type).
    pub fn status(self) -> Option<PaymentStatus> {
        match self {
            ProviderEventType::PaymentAuthorized => Some(PaymentStatus::Authorized),
            ProviderEventType::PaymentCaptured => Some(PaymentStatus::Captured),
            ProviderEventType::PaymentFailed => Some(PaymentStatus::Failed),
            ProviderEventType::PaymentRefunded => Some(PaymentStatus::Refunded),
            ProviderEventType::Other => None,
        }
    }
}

/// A provider webhook event (the `test` provider's format). Fields other than these are
/// ignored.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "evt_0193a7c2d41f", "type": "payment.captured", "created": 1764082800,
    "data": {"payment_id": "pay_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "provider_reference": "test_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "amount": 12900}
}))]
pub struct WebhookEvent {
    /// The provider's id of this event: an event id seen before is acknowledged as
    /// `duplicate` and not applied again.
    pub id: String,
    /// What happened. A type not listed here is acknowledged as `ignored` and changes nothing.
    #[serde(rename = "type")]
    pub event_type: ProviderEventType,
    /// When the provider created the event, in seconds since the Unix epoch (informative: the
    /// signature's timestamp is the one checked).
    pub created: i64,
    /// The payment the event is about.
    pub data: WebhookData,
}

/// The payment a webhook event is about, as the provider names it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct WebhookData {
    /// The `pay_…` id of the payment, as returned when it was started.
    pub payment_id: String,
    /// The provider's reference of that payment (`provider_reference` of the payment); both
    /// must match.
    pub provider_reference: String,
    /// The amount the event is about, in minor units (cents); for `payment.authorized` and
    /// `payment.captured` it must equal the payment's amount.
    pub amount: i64,
}

impl WebhookEvent {
    pub fn status(&self) -> Option<PaymentStatus> {
        self.event_type.status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus::*;

    #[test]
    fn payments_never_move_backwards() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        for age in [Less, Equal, Greater] {
            assert!(
                Pending.may_become(Captured, age),
                "authorisation may be skipped"
            );
            assert!(
                Failed.may_become(Captured, age),
                "a retry after a decline succeeds"
            );
            assert!(Processing.may_become(Cancelled, age));
            assert!(Captured.may_become(Refunded, age));
            // A dispute opened before the last report applied is the late copy of one
            // closed since (the `a_won_dispute_…` test).
            assert_eq!(Captured.may_become(Disputed, age), age != Less);
            for earlier in [Pending, Processing, Authorized, Failed, Cancelled] {
                assert!(!Captured.may_become(earlier, age), "{earlier:?}");
                assert!(!Refunded.may_become(earlier, age), "{earlier:?}");
                assert!(!Cancelled.may_become(earlier, age), "{earlier:?}");
            }
            assert!(!Refunded.may_become(Captured, age));
            assert!(!Cancelled.may_become(Captured, age));
            assert!(!Pending.may_become(Disputed, age));
        }
        assert!(Processing.may_become(Failed, Equal) && !Failed.may_become(Processing, Equal));
        assert!(
            Failed.may_become(Processing, Greater),
            "the customer tried again"
        );
        assert!(
            !Processing.may_become(Failed, Less),
            "an older decline arriving late"
        );
    }

    #[test]
    fn a_won_dispute_returns_the_payment_to_where_it_was_and_a_lost_one_is_final() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        use DisputeOutcome::{Kept, Lost};
        assert_eq!(Disputed.after_dispute(Kept, 500, 0), Some(Captured));
        assert_eq!(
            Disputed.after_dispute(Kept, 500, 200),
            Some(PartiallyRefunded)
        );
        assert_eq!(Disputed.after_dispute(Kept, 500, 500), Some(Refunded));
        assert_eq!(Captured.after_dispute(Kept, 500, 0), None);
        for from in [Disputed, Captured, PartiallyRefunded, Refunded] {
            assert_eq!(from.after_dispute(Lost, 500, 0), Some(DisputeLost));
        }
        for from in [Pending, Failed, Cancelled, DisputeLost] {
            assert_eq!(from.after_dispute(Lost, 500, 0), None, "{from:?}");
        }
        for age in [Less, Equal, Greater] {
            for next in PaymentStatus::ALL {
                assert!(!DisputeLost.may_become(next, age), "{next:?}");
            }
        }
        assert!(Captured.may_become(Disputed, Greater));
        assert!(
            !Captured.may_become(Disputed, Less),
            "a dispute older than the close of a won one"
        );
    }

    #[test]
    fn refunds_settle_once_and_may_still_fail() {
        use RefundStatus as R;
        assert!(R::Pending.may_become(R::Succeeded) && R::Pending.may_become(R::Failed));
        assert!(R::Succeeded.may_become(R::Failed));
        assert!(!R::Failed.may_become(R::Succeeded) && !R::Succeeded.may_become(R::Pending));
        for r in R::ALL {
            assert_eq!(R::from_stored(r.as_str()), r);
        }
    }

    #[test]
    fn event_types_read_as_the_provider_spells_them_and_unknown_ones_are_kept_out() {
        let event = |t: &str| -> WebhookEvent {
            serde_json::from_value(serde_json::json!({
                "id": "evt_1", "type": t, "created": 1,
                "data": {"payment_id": "pay_1", "provider_reference": "test_1", "amount": 1}
            }))
            .unwrap()
        };
        for (t, status) in [
            ("payment.authorized", Authorized),
            ("payment.captured", Captured),
            ("payment.failed", Failed),
            ("payment.refunded", Refunded),
        ] {
            let e = event(t);
            assert_eq!(e.event_type.as_str(), Some(t));
            assert_eq!(e.status(), Some(status));
            assert_eq!(serde_json::to_value(e.event_type).unwrap(), t);
        }
        let other = event("payment.disputed");
        assert_eq!(other.event_type, ProviderEventType::Other);
        assert_eq!((other.status(), other.event_type.as_str()), (None, None));
    }

    #[test]
    fn stored_names_are_the_wire_names() {
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::from_stored(s.as_str()), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for p in PaymentProvider::ALL {
            assert_eq!(PaymentProvider::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }

    #[test]
    fn signatures_verify_only_when_fresh_and_exact() {
        let secret = b"whsec";
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(secret, 1_000_000, body);
        assert!(verify_signature(secret, &header, body, 1_000_100).is_ok());
        assert!(
            verify_signature(secret, &header, body, 1_000_400).is_err(),
            "stale"
        );
        assert!(
            verify_signature(secret, &header, br#"{"id":"evt_2"}"#, 1_000_100).is_err(),
            "tampered"
        );
        assert!(
            verify_signature(b"other", &header, body, 1_000_100).is_err(),
            "forged"
        );
        assert!(
            verify_signature(secret, "v1=00", body, 1_000_100).is_err(),
            "no timestamp"
        );
        for extreme in [i64::MIN, i64::MAX] {
            let header = sign(secret, extreme, body);
            assert!(
                verify_signature(secret, &header, body, 1_000_100).is_err(),
                "timestamp {extreme} is far outside the tolerance, without overflowing"
            );
        }
    }

    /// Bounded fuzzing of the `Valise-Signature` parser and verifier: whatever a sender puts
    /// in the header, verification ends in `Err` without panicking unless the header holds an
    /// HMAC made with the secret. `PROPTEST_CASES` runs them longer.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        const NOW: i64 = 1_764_082_800;

        /// Header parts a sender might write: the two keys we read, other keys, junk, and
        /// odd spacing around any of them.
        fn part() -> impl Strategy<Value = String> {
            prop_oneof![
                (NOW - 400..NOW + 400).prop_map(|t| format!("t={t}")),
                any::<i64>().prop_map(|t| format!("t={t}")),
                "t=[-+0-9 ]{0,25}",
                prop::collection::vec(any::<u8>(), 0..40)
                    .prop_map(|b| format!("v1={}", hex::encode(b))),
                "v1=[0-9a-fA-F]{0,80}",
                "v[0-9]=[0-9a-f]{0,64}",
                "[ =,a-z0-9]{0,12}",
                any::<String>(),
            ]
            .prop_flat_map(|p| ("[ \t]{0,2}", Just(p), "[ \t]{0,2}"))
            .prop_map(|(before, p, after)| format!("{before}{p}{after}"))
        }

        fn structured_header() -> impl Strategy<Value = String> {
            prop::collection::vec(part(), 0..6).prop_map(|parts| parts.join(","))
        }

        proptest! {
            #[test]
            fn fuzz_any_header_never_panics_nor_verifies(
                secret in prop::collection::vec(any::<u8>(), 1..64),
                header in prop_oneof![any::<String>(), structured_header()],
                body in prop::collection::vec(any::<u8>(), 0..256),
                now in prop_oneof![Just(NOW), any::<i64>()],
            ) {
                prop_assert!(verify_signature(&secret, &header, &body, now).is_err());
            }

            #[test]
            fn fuzz_a_header_signed_with_another_secret_never_verifies(
                secret in prop::collection::vec(any::<u8>(), 1..64),
                other in prop::collection::vec(any::<u8>(), 1..64),
                body in prop::collection::vec(any::<u8>(), 0..256),
                skew in -300i64..=300,
                junk in structured_header(),
            ) {
                prop_assume!(secret != other);
                let forged = sign(&other, NOW + skew, &body);
                prop_assert!(verify_signature(&secret, &forged, &body, NOW).is_err());
                let padded = format!("{junk},{forged}");
                prop_assert!(verify_signature(&secret, &padded, &body, NOW).is_err());
            }

            #[test]
            fn fuzz_a_genuine_signature_verifies_its_body_only(
                secret in prop::collection::vec(any::<u8>(), 1..64),
                body in prop::collection::vec(any::<u8>(), 0..256),
                other_body in prop::collection::vec(any::<u8>(), 0..256),
                skew in -300i64..=300,
                junk in structured_header(),
            ) {
                let header = sign(&secret, NOW + skew, &body);
                prop_assert!(verify_signature(&secret, &header, &body, NOW).is_ok());
                // Extra parts after the genuine ones (other schemes, more v1 values) are
                // ignored, unless they replace the timestamp.
                let extended = format!("{header},{}", junk.replace("t=", "x="));
                prop_assert!(verify_signature(&secret, &extended, &body, NOW).is_ok());
                if other_body != body {
                    prop_assert!(verify_signature(&secret, &header, &other_body, NOW).is_err());
                }
            }
        }
    }
}
