//! What a rule answers when what it is given breaks it. Models and parsers return
//! [`Invalid`] and know nothing of HTTP; the edge (`http::error`) turns it into a problem
//! answer: `validation-failed`, `sensitive-data-refused` or `invalid-transition`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One invalid field. Messages never repeat the submitted value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Dotted path of the field (`shipping_address.country`, `items[2].quantity`); `$` is the
    /// whole body.
    pub field: String,
    /// What is wrong with it, in words for a person (`must be 1–100 characters`).
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a rule refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Fields that break a rule, each with what is wrong with it.
    #[error("{} invalid field(s)", .0.len())]
    Fields(Vec<FieldError>),
    /// A free-text field holds what looks like a card, bank-account or identity-document
    /// number, which the shop never collects.
    #[error("sensitive data in {field}")]
    Sensitive { field: String },
    /// The thing acted on is not in a state the action applies to; the words say why.
    #[error("invalid transition: {0}")]
    Transition(String),
}

impl Invalid {
    /// One field that breaks a rule.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Fields(vec![FieldError::new(field, message)])
    }
}
