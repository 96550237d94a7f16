//! Consultations: where one stands, what a shopper asks and support answers (as sent and
//! as parsed), and what each reader is shown. No SQL; of HTTP only the shapes of the bodies
//! (serde and their OpenAPI schemas).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::model::Email;
use crate::catalog::model::ScreenedText;
use crate::invalid::Invalid;

/// A question in the asker's words, 1–2,000 characters: also the limit of the question
/// support publishes with an answer.
pub type QuestionText = ScreenedText<2000>;
/// Support's answer, 1–4,000 characters.
pub type AnswerText = ScreenedText<4000>;

/// Where a consultation stands: `open` until support answers, then `answered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsultationStatus {
    /// Waiting for an answer.
    Open,
    /// Answered by support (answering again replaces the answer).
    Answered,
}

impl ConsultationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Answered => "answered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "answered" => Some(Self::Answered),
            _ => None,
        }
    }
}

/// `?status=` of the queue: refused with the same message whatever else is sent.
impl<'de> Deserialize<'de> for ConsultationStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("must be open or answered"))
    }
}

/// A shopper's question about a product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"question": "Does the 55 cm case fit a 15-inch laptop?", "contact_email": "ada@example.com"}))]
pub struct NewConsultation {
    /// The question, 1–2,000 characters (surrounding spaces are trimmed; line breaks
    /// allowed, no other control characters). Never published as written; card, bank or
    /// identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub question: String,
    /// Optional: where to send the answer. Kept encrypted, deleted with the consultation.
    #[schema(format = "email", example = "ada@example.com")]
    pub contact_email: Option<String>,
}

/// A consultation as received or answered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "status": "open", "created_at": "2026-03-12T10:04:51Z"
}))]
pub struct ConsultationReceipt {
    /// The consultation's `con_…` id.
    #[schema(example = "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12")]
    pub id: String,
    /// The `prod_…` id of the product asked about.
    #[schema(example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub product_id: String,
    /// `open` until support answers, then `answered`.
    pub status: ConsultationStatus,
    /// When the question was asked (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

/// A published question and its answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "question": "Does it fit a 15-inch laptop?",
    "answer": "Yes: the laptop sleeve takes up to 15.6 inches.", "answered_at": "2026-03-12T14:30:00Z"
}))]
pub struct PublicConsultation {
    /// The consultation's `con_…` id.
    #[schema(example = "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12")]
    pub id: String,
    /// The question as support chose to publish it (not the asker's own words).
    pub question: String,
    /// Support's answer.
    pub answer: String,
    /// When it was last answered (RFC 3339, UTC).
    pub answered_at: Option<DateTime<Utc>>,
}

/// One page of published questions and answers, oldest question first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{"id": "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "question": "Does it fit a 15-inch laptop?",
        "answer": "Yes: the laptop sleeve takes up to 15.6 inches.", "answered_at": "2026-03-12T14:30:00Z"}],
    "next_cursor": null
}))]
pub struct PublicConsultationList {
    /// The consultations of this page (at most `limit`).
    #[schema(max_items = 100)]
    pub data: Vec<PublicConsultation>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A consultation as support sees it (audited).
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedConsultation {
    /// The consultation's `con_…` id.
    #[schema(example = "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12")]
    pub id: String,
    /// The `prod_…` id of the product asked about.
    #[schema(example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub product_id: String,
    /// `open` or `answered`.
    pub status: ConsultationStatus,
    /// The asker's question, decrypted; empty once retention or erasure has destroyed it.
    pub question: String,
    /// Whether the asker left an email for the answer (the address itself is not shown).
    pub has_contact_email: bool,
    /// The answer given; `null` while open.
    pub answer: Option<String>,
    /// When the question was asked (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

/// One page of the consultation queue, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{"id": "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "status": "open", "question": "Does the 55 cm case fit a 15-inch laptop?", "has_contact_email": true,
        "answer": null, "created_at": "2026-03-12T10:04:51Z"}],
    "next_cursor": null
}))]
pub struct ConsultationQueue {
    /// The consultations of this page (at most `limit`).
    #[schema(max_items = 100)]
    pub data: Vec<QueuedConsultation>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Support's answer to a consultation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answer": "Yes: the laptop sleeve takes up to 15.6 inches.", "public_question": "Does it fit a 15-inch laptop?"}))]
pub struct ConsultationAnswer {
    /// The answer, 1–4,000 characters (trimmed; line breaks allowed, no other control
    /// characters). Card, bank or identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub answer: String,
    /// The question as it may be shown publicly with the answer, 1–2,000 characters (trimmed;
    /// line breaks allowed, no other control characters); omit (or `null`) to keep it
    /// private.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub public_question: Option<String>,
}

/// A shopper's question, parsed.
#[derive(Debug, Clone)]
pub struct Question {
    pub text: QuestionText,
    pub contact_email: Option<Email>,
}

impl NewConsultation {
    pub fn parse(self) -> Result<Question, Invalid> {
        Ok(Question {
            text: QuestionText::parse("question", &self.question)?,
            contact_email: self
                .contact_email
                .as_deref()
                .map(|e| Email::parse("contact_email", e))
                .transpose()?,
        })
    }
}

/// Support's answer, parsed.
#[derive(Debug, Clone)]
pub struct Answer {
    pub text: AnswerText,
    /// The question as published with the answer; `None` keeps the answer private.
    pub public_question: Option<QuestionText>,
}

impl ConsultationAnswer {
    pub fn parse(self) -> Result<Answer, Invalid> {
        Ok(Answer {
            text: AnswerText::parse("answer", &self.answer)?,
            public_question: self
                .public_question
                .as_deref()
                .map(|q| QuestionText::parse("public_question", q))
                .transpose()?,
        })
    }
}
