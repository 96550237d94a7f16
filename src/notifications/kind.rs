//! The kinds of notification, as one type: each kind knows its stable name (for the inbox,
//! templates and the gateway), the integrator event it also raises, and the consent that
//! governs sending it. Adding a kind is adding a variant here; the compiler then lists every
//! `match` that must say what it means.

use crate::privacy::ledger::Purpose;
use crate::webhooks::model::WebhookEventType;

/// A kind of notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    OrderPlaced,
    OrderPaid,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    OrderExpired,
    OrderClosed,
    OrderAddressCorrected,
    PaymentRefunded,
    /// An order's invoice was issued (the customer can download it).
    InvoiceIssued,
    /// A credit note was issued for a refund.
    CreditNoteIssued,
    AfterSalesUpdated,
    ConsultationAnswered,
    PolicyRevised,
    DsrUpdated,
    /// A guest's one-time code: the code and address travel sealed, never in the payload.
    DsrVerificationCode,
    /// A new account's "confirm your address": its token travels sealed, like a code.
    AccountConfirmation,
    /// Someone registered with an address that has an account: its owner is told instead.
    AccountAlreadyRegistered,
    /// A password-reset token, sealed.
    PasswordReset,
    /// The password of the account changed (by its owner or through a reset).
    PasswordChanged,
    /// A new sign-in address to confirm, with its token, sealed, sent to that new address.
    EmailChangeConfirmation,
    /// Someone asked to move their account to this account's address: its owner is told.
    EmailChangeRefused,
    /// A campaign's notice, named `marketing.<campaign>`: sent only with marketing consent.
    Marketing(Campaign),
}

/// The name of a marketing campaign: 1–64 lower-case letters, digits or underscores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign(String);

impl Campaign {
    pub fn parse(name: &str) -> Option<Campaign> {
        let ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| Campaign(format!("{MARKETING_PREFIX}{name}")))
    }
}

/// What happens to a notice without the consent its kind needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithoutConsent {
    /// Never sent, and hidden from the inbox (marketing).
    Suppress,
    /// Kept in the inbox, not sent through the gateway (order notices).
    InboxOnly,
}

const MARKETING_PREFIX: &str = "marketing.";

/// A SQL `LIKE` pattern matching the stored names of marketing kinds.
pub const MARKETING_LIKE: &str = "marketing.%";

/// Every kind but marketing, whose names are open-ended.
pub(super) const FIXED: [Kind; 22] = [
    Kind::OrderPlaced,
    Kind::OrderPaid,
    Kind::OrderShipped,
    Kind::OrderDelivered,
    Kind::OrderCancelled,
    Kind::OrderExpired,
    Kind::OrderClosed,
    Kind::OrderAddressCorrected,
    Kind::PaymentRefunded,
    Kind::InvoiceIssued,
    Kind::CreditNoteIssued,
    Kind::AfterSalesUpdated,
    Kind::ConsultationAnswered,
    Kind::PolicyRevised,
    Kind::DsrUpdated,
    Kind::DsrVerificationCode,
    Kind::AccountConfirmation,
    Kind::AccountAlreadyRegistered,
    Kind::PasswordReset,
    Kind::PasswordChanged,
    Kind::EmailChangeConfirmation,
    Kind::EmailChangeRefused,
];

impl Kind {
    /// The stable name stored in the outbox and shown in the inbox.
    pub fn as_str(&self) -> &str {
        match self {
            Kind::OrderPlaced => "order.placed",
            Kind::OrderPaid => "order.paid",
            Kind::OrderShipped => "order.shipped",
            Kind::OrderDelivered => "order.delivered",
            Kind::OrderCancelled => "order.cancelled",
            Kind::OrderExpired => "order.expired",
            Kind::OrderClosed => "order.closed",
            Kind::OrderAddressCorrected => "order.address_corrected",
            Kind::PaymentRefunded => "payment.refunded",
            Kind::InvoiceIssued => "invoice.issued",
            Kind::CreditNoteIssued => "credit_note.issued",
            Kind::AfterSalesUpdated => "after_sales.updated",
            Kind::ConsultationAnswered => "consultation.answered",
            Kind::PolicyRevised => "policy.revised",
            Kind::DsrUpdated => "dsr.updated",
            Kind::DsrVerificationCode => "dsr.verification_code",
            Kind::AccountConfirmation => "account.confirmation",
            Kind::AccountAlreadyRegistered => "account.already_registered",
            Kind::PasswordReset => "account.password_reset",
            Kind::PasswordChanged => "account.password_changed",
            Kind::EmailChangeConfirmation => "account.email_change",
            Kind::EmailChangeRefused => "account.email_change_refused",
            Kind::Marketing(Campaign(name)) => name,
        }
    }

    /// The kind a stored name stands for; `None` for a name no version of Valise wrote.
    pub fn parse(name: &str) -> Option<Kind> {
        if let Some(campaign) = name.strip_prefix(MARKETING_PREFIX) {
            return Campaign::parse(campaign).map(Kind::Marketing);
        }
        FIXED.into_iter().find(|k| k.as_str() == name)
    }

    /// The event integrators also receive for it (with the payload's ids and statuses only).
    pub fn integrator_event(&self) -> Option<WebhookEventType> {
        match self {
            Kind::OrderPlaced => Some(WebhookEventType::OrderPlaced),
            Kind::OrderPaid => Some(WebhookEventType::OrderPaid),
            Kind::OrderShipped => Some(WebhookEventType::OrderShipped),
            Kind::OrderDelivered => Some(WebhookEventType::OrderDelivered),
            Kind::OrderCancelled => Some(WebhookEventType::OrderCancelled),
            Kind::OrderExpired => Some(WebhookEventType::OrderExpired),
            Kind::OrderClosed => Some(WebhookEventType::OrderClosed),
            Kind::OrderAddressCorrected => Some(WebhookEventType::OrderAddressCorrected),
            Kind::PaymentRefunded => Some(WebhookEventType::PaymentRefunded),
            Kind::InvoiceIssued => Some(WebhookEventType::InvoiceIssued),
            Kind::CreditNoteIssued => Some(WebhookEventType::CreditNoteIssued),
            Kind::DsrUpdated => Some(WebhookEventType::DsrUpdated),
            Kind::DsrVerificationCode => Some(WebhookEventType::DsrVerificationCode),
            // Account mail is between the shop and the person: integrators never see it.
            Kind::AccountConfirmation
            | Kind::AccountAlreadyRegistered
            | Kind::PasswordReset
            | Kind::PasswordChanged
            | Kind::EmailChangeConfirmation
            | Kind::EmailChangeRefused
            | Kind::AfterSalesUpdated
            | Kind::ConsultationAnswered
            | Kind::PolicyRevised
            | Kind::Marketing(_) => None,
        }
    }

    /// The consent that governs sending it, and what happens without it; `None` when the
    /// notice is part of a service the person asked for (a code, an answer, a policy change).
    pub fn consent(&self) -> Option<(Purpose, WithoutConsent)> {
        match self {
            Kind::Marketing(_) => Some((Purpose::MarketingNotifications, WithoutConsent::Suppress)),
            Kind::OrderPlaced
            | Kind::OrderPaid
            | Kind::OrderShipped
            | Kind::OrderDelivered
            | Kind::OrderCancelled
            | Kind::OrderExpired
            | Kind::OrderClosed
            | Kind::OrderAddressCorrected
            | Kind::PaymentRefunded
            | Kind::InvoiceIssued
            | Kind::CreditNoteIssued
            | Kind::AfterSalesUpdated => {
                Some((Purpose::OrderNotifications, WithoutConsent::InboxOnly))
            }
            Kind::ConsultationAnswered
            | Kind::PolicyRevised
            | Kind::DsrUpdated
            | Kind::DsrVerificationCode
            | Kind::AccountConfirmation
            | Kind::AccountAlreadyRegistered
            | Kind::PasswordReset
            | Kind::PasswordChanged
            | Kind::EmailChangeConfirmation
            | Kind::EmailChangeRefused => None,
        }
    }

    /// Whether it is marketing (hidden from the inbox unless delivered).
    pub fn is_marketing(&self) -> bool {
        matches!(self, Kind::Marketing(_))
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in FIXED {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        let sale = Kind::parse("marketing.spring_sale").unwrap();
        assert_eq!(sale.as_str(), "marketing.spring_sale");
        assert!(sale.is_marketing());
        assert_eq!(Kind::parse("marketing."), None);
        assert_eq!(Kind::parse("marketing.Spring Sale"), None);
        assert_eq!(Kind::parse("order.teleported"), None);
        assert_eq!(MARKETING_LIKE.trim_end_matches('%'), MARKETING_PREFIX);
    }

    #[test]
    fn integrator_events_keep_their_names() {
        for kind in FIXED {
            if let Some(event) = kind.integrator_event() {
                assert_eq!(event.as_str(), kind.as_str());
            }
        }
    }

    #[test]
    fn order_notices_need_order_consent_and_marketing_needs_marketing_consent() {
        assert_eq!(
            Kind::OrderShipped.consent(),
            Some((Purpose::OrderNotifications, WithoutConsent::InboxOnly))
        );
        assert_eq!(
            Kind::AfterSalesUpdated.consent(),
            Some((Purpose::OrderNotifications, WithoutConsent::InboxOnly))
        );
        assert_eq!(
            Kind::parse("marketing.x").unwrap().consent(),
            Some((Purpose::MarketingNotifications, WithoutConsent::Suppress))
        );
        assert_eq!(Kind::DsrVerificationCode.consent(), None);
    }
}
