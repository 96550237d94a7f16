//! Bounded free text, parsed once at the edge: the rule every room's short text fields share
//! (names of carriers, reasons, descriptions). Rooms name their own lengths.

use crate::invalid::Invalid;

/// Free text as typed into a form: surrounding spaces trimmed, 1 to `max` characters, no
/// control characters except line breaks. The rule behind [`Text`].
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, Invalid> {
    let value = raw.trim();
    let len = value.chars().count();
    if len == 0 || len > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Invalid::field(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// Free text of 1 to `MAX` characters (see [`text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        text(field, raw, MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}
