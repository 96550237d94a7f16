//! The audit log: an append-only, MAC-chained record of every access to personal data.
//!
//! Each entry says who (staff id and role, an API key, the subject, or the system), what
//! action, which subject and which fields, why, and when — never the values. Entries are
//! written in the same transaction as the access or change they record, and chained:
//! `mac = HMAC-SHA256(audit key, prev_mac || canonical(entry))`, with the audit key derived
//! from the master key's root secret, so write access to the database alone cannot re-forge
//! the chain. [`chain::verify`] recomputes it and reports the first broken entry.

pub mod anchor;
pub mod base;
pub mod chain;
pub mod routes;
pub mod store;

use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Principal, PrincipalKind, Role};

/// Who performed an access: `staff` (a staff member), `api_key` (an integrator's key),
/// `subject` (the data subject themself) or `system` (retention, rotation, scheduled work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A staff member.
    Staff,
    /// An integrator's API key.
    ApiKey,
    /// The data subject themself.
    Subject,
    /// The service (retention, rotation, scheduled work).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Staff => "staff",
            ActorKind::ApiKey => "api_key",
            ActorKind::Subject => "subject",
            ActorKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Staff, Self::ApiKey, Self::Subject, Self::System]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// The who and the request of an access; built in the handler, moved into the blocking work.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
    pub role: Option<Role>,
    pub request_id: Option<String>,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            kind: ActorKind::System,
            id: None,
            role: None,
            request_id: None,
        }
    }

    /// The authenticated caller; a person acting on their own data is the subject.
    pub fn from_principal(principal: &Principal, subject_id: Option<&str>) -> Self {
        let kind = match principal.kind {
            PrincipalKind::ApiKey => ActorKind::ApiKey,
            PrincipalKind::User if subject_id == Some(principal.id.as_str()) => ActorKind::Subject,
            PrincipalKind::User if principal.role.is_staff() => ActorKind::Staff,
            PrincipalKind::User => ActorKind::Subject,
        };
        Self {
            kind,
            id: Some(principal.id.clone()),
            role: Some(principal.role),
            request_id: crate::http::request_id::current_request_id(),
        }
    }

    /// A person acting on their own record (registration, profile correction).
    pub fn subject(id: &str, role: Role) -> Self {
        Self {
            kind: ActorKind::Subject,
            id: Some(id.to_owned()),
            role: Some(role),
            request_id: crate::http::request_id::current_request_id(),
        }
    }
}

/// What was done, as the log names it (`GET /v1/admin/audit?action=…` filters on the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    AccountRegister,
    /// The address of a new account confirmed (by its token, or by an operator).
    AccountConfirm,
    /// The owner changed their password (the current one given).
    PasswordChange,
    /// A password set through a reset token sent by e-mail.
    PasswordReset,
    /// A new sign-in address applied after its confirmation.
    EmailChange,
    ProfileUpdate,
    AddressCreate,
    AddressUpdate,
    AddressDelete,
    StaffCreate,
    StaffRead,
    StaffUpdate,
    OrderAddressRead,
    OrderAddressUpdate,
    /// Staff reading an invoice or credit note with its buyer's name and address.
    InvoiceRead,
    /// Staff searching orders (by e-mail, number, status or date): the kinds of filter used.
    OrderSearch,
    /// Orders exported as CSV for accounting: the personal fields included, if any.
    OrderExport,
    ConsultationRead,
    /// Support opening an after-sales case's reason and answers.
    AfterSalesRead,
    AfterSalesAnswer,
    AfterSalesResolve,
    PolicyPublish,
    BackupRestore,
    DsrComplete,
    DsrExtend,
    DsrDeny,
    /// The privacy officer opening a guest's requested corrections.
    DsrCorrectionsRead,
    /// The privacy officer applying a guest's corrections to their orders.
    DsrApply,
    SubjectErase,
    RetentionRun,
    /// A manager registering, replacing or removing a shipping carrier (no personal data).
    ShippingCarrierCreate,
    ShippingCarrierUpdate,
    ShippingCarrierDelete,
    /// A manager adding, replacing or removing a shipping method (no personal data).
    ShippingMethodCreate,
    ShippingMethodUpdate,
    ShippingMethodDelete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::AccountRegister => "account.register",
            Action::AccountConfirm => "account.confirm",
            Action::PasswordChange => "password.change",
            Action::PasswordReset => "password.reset",
            Action::EmailChange => "email.change",
            Action::ProfileUpdate => "profile.update",
            Action::AddressCreate => "address.create",
            Action::AddressUpdate => "address.update",
            Action::AddressDelete => "address.delete",
            Action::StaffCreate => "staff.create",
            Action::StaffRead => "staff.read",
            Action::StaffUpdate => "staff.update",
            Action::OrderAddressRead => "order.address.read",
            Action::OrderAddressUpdate => "order.address.update",
            Action::InvoiceRead => "invoice.read",
            Action::OrderSearch => "order.search",
            Action::OrderExport => "order.export",
            Action::ConsultationRead => "consultation.read",
            Action::AfterSalesRead => "after_sales.read",
            Action::AfterSalesAnswer => "after_sales.answer",
            Action::AfterSalesResolve => "after_sales.resolve",
            Action::PolicyPublish => "policy.publish",
            Action::BackupRestore => "backup.restore",
            Action::DsrComplete => "dsr.complete",
            Action::DsrExtend => "dsr.extend",
            Action::DsrDeny => "dsr.deny",
            Action::DsrCorrectionsRead => "dsr.corrections.read",
            Action::DsrApply => "dsr.apply",
            Action::SubjectErase => "subject.erase",
            Action::RetentionRun => "retention.run",
            Action::ShippingCarrierCreate => "shipping.carrier.create",
            Action::ShippingCarrierUpdate => "shipping.carrier.update",
            Action::ShippingCarrierDelete => "shipping.carrier.delete",
            Action::ShippingMethodCreate => "shipping.method.create",
            Action::ShippingMethodUpdate => "shipping.method.update",
            Action::ShippingMethodDelete => "shipping.method.delete",
        }
    }
}

/// Why an access happened, in the words the log keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    AccountCreation,
    /// Keeping an account's sign-in credentials and address its owner's.
    AccountSecurity,
    /// The data subject correcting their own data.
    Rectification,
    SavedAddresses,
    StaffAdministration,
    Shipping,
    /// Keeping and showing the accounting record (invoices and credit notes).
    Accounting,
    AnsweringQuestion,
    /// Handling a return, repair or warranty case.
    AfterSales,
    /// Staff finding a customer's orders to answer them.
    CustomerService,
    PolicyRevision,
    AnsweringRequest,
    ErasureRequested,
    ErasureInactive,
    /// A registration whose address was never confirmed.
    ErasureUnconfirmed,
    ErasureReplayed,
    RestoreReplayed,
    RestoreNotReplayed,
    Retention,
    /// Managers keeping the shop's configuration (shipping carriers and methods).
    ShopConfiguration,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::AccountCreation => "account creation",
            Purpose::AccountSecurity => "account security (credentials and sign-in address)",
            Purpose::Rectification => "rectification by the data subject",
            Purpose::SavedAddresses => "saved addresses managed by the data subject",
            Purpose::StaffAdministration => "staff administration",
            Purpose::Shipping => "shipping the order",
            Purpose::Accounting => "accounting record (invoices and credit notes)",
            Purpose::AnsweringQuestion => "answering a pre-sale question",
            Purpose::AfterSales => "after-sales (return, repair, warranty)",
            Purpose::CustomerService => "customer service: finding a customer's orders",
            Purpose::PolicyRevision => "privacy-policy revision",
            Purpose::AnsweringRequest => "answering a data-subject request",
            Purpose::ErasureRequested => "erasure requested by the data subject",
            Purpose::ErasureInactive => "retention: account inactive",
            Purpose::ErasureUnconfirmed => "retention: address never confirmed",
            Purpose::ErasureReplayed => "erasure ledger replayed after a restore",
            Purpose::RestoreReplayed => "restored from a backup; the erasure ledger was replayed",
            Purpose::RestoreNotReplayed => {
                "restored from a backup without replaying an erasure ledger"
            }
            Purpose::Retention => "retention rules (counts per rule)",
            Purpose::ShopConfiguration => "shop configuration (shipping carriers and methods)",
        }
    }
}

/// One access to record.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub action: Action,
    pub subject_id: Option<&'a str>,
    /// Names of the personal fields read or changed.
    pub fields: &'a [&'a str],
    /// Why the access happened.
    pub purpose: Purpose,
}

pub use store::record;
