//! The sensitive-data refusal: one validator for every name, address and free-text field.
//!
//! The shop never collects payment-card numbers, bank-account numbers or identity-document
//! numbers (privacy policy; DESIGN §2). A value that looks like one is refused with 422
//! `sensitive-data-refused`, and the value itself is neither logged nor echoed.
//! The patterns are deliberately narrow so that house numbers, postcodes and phone numbers
//! written in an address pass.

use crate::invalid::Invalid;

/// What a refused value looked like (for tests and metrics; never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    PaymentCard,
    Iban,
    IdentityNumber,
}

/// Refuses `value` when it carries sensitive data; `field` names it in the problem.
pub fn refuse_sensitive(field: &str, value: &str) -> Result<(), Invalid> {
    match scan(value) {
        None => Ok(()),
        Some(_) => Err(Invalid::Sensitive {
            field: field.to_owned(),
        }),
    }
}

pub fn scan(value: &str) -> Option<Finding> {
    if contains_card_number(value) {
        return Some(Finding::PaymentCard);
    }
    if contains_iban(value) {
        return Some(Finding::Iban);
    }
    if contains_identity_number(value) {
        return Some(Finding::IdentityNumber);
    }
    None
}

/// 13–19 digits, optionally grouped by single spaces or dashes, passing the Luhn check.
fn contains_card_number(value: &str) -> bool {
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run of digits joined by single separators.
        let mut digits = Vec::new();
        let mut j = i;
        while j < chars.len() {
            let c = chars[j];
            if c.is_ascii_digit() {
                digits.push(c as u8 - b'0');
                j += 1;
            } else if (c == ' ' || c == '-')
                && j + 1 < chars.len()
                && chars[j + 1].is_ascii_digit()
                && j > i
            {
                j += 1;
            } else {
                break;
            }
        }
        if (13..=19).contains(&digits.len()) && luhn(&digits) {
            return true;
        }
        i = j.max(i + 1);
    }
    false
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A country code, two check digits and 11–30 letters or digits (spaces allowed between
/// groups), passing the ISO 13616 mod-97 check.
fn contains_iban(value: &str) -> bool {
    let upper: Vec<char> = value.to_uppercase().chars().collect();
    for start in 0..upper.len() {
        if start > 0 && upper[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let mut compact = String::new();
        let mut k = start;
        while k < upper.len() && compact.len() < 34 {
            let c = upper[k];
            if c.is_ascii_alphanumeric() {
                compact.push(c);
            } else if c != ' ' {
                break;
            }
            k += 1;
        }
        let b = compact.as_bytes();
        if b.len() < 15
            || !b[0].is_ascii_uppercase()
            || !b[1].is_ascii_uppercase()
            || !b[2].is_ascii_digit()
            || !b[3].is_ascii_digit()
        {
            continue;
        }
        if (15..=b.len()).any(|len| iban_checksum_ok(&compact[..len])) {
            return true;
        }
    }
    false
}

fn iban_checksum_ok(iban: &str) -> bool {
    let rearranged = iban[4..].chars().chain(iban[..4].chars());
    let mut remainder: u32 = 0;
    for c in rearranged {
        let n = match c.to_digit(36) {
            Some(n) => n,
            None => return false,
        };
        remainder = if n >= 10 {
            (remainder * 100 + n) % 97
        } else {
            (remainder * 10 + n) % 97
        };
    }
    remainder == 1
}

/// US social-security numbers (`123-45-6789`), passport-style tokens (one or two letters and
/// 6–9 digits, e.g. `X12345678`), and six or more digits next to words like "passport".
fn contains_identity_number(value: &str) -> bool {
    let tokens: Vec<&str> = value
        .split(|c: char| c.is_whitespace() || ",;:()/#".contains(c))
        .filter(|t| !t.is_empty())
        .collect();
    let is_ssn = |t: &str| {
        let parts: Vec<&str> = t.split('-').collect();
        parts.len() == 3
            && [3, 2, 4]
                .iter()
                .zip(&parts)
                .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let is_passport = |t: &str| {
        let letters = t.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        let digits = &t[letters..];
        (1..=2).contains(&letters)
            && (6..=9).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if tokens.iter().any(|t| is_ssn(t) || is_passport(t)) {
        return true;
    }
    let lower = value.to_lowercase();
    let keyword = [
        "passport",
        "national id",
        "id card",
        "identity card",
        "social security",
        "ssn",
        "tax id",
    ]
    .iter()
    .any(|k| lower.contains(k));
    keyword && value.bytes().filter(|b| b.is_ascii_digit()).count() >= 6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_found_in_every_common_format() {
        for v in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "my card is 5500 0000 0000 0004 thanks",
            "378282246310005",
            "6011111111111117",
        ] {
            assert_eq!(scan(v), Some(Finding::PaymentCard), "{v}");
        }
    }

    #[test]
    fn ibans_are_found() {
        for v in [
            "DE89370400440532013000",
            "GB29 NWBK 6016 1331 9268 19",
            "iban fr1420041010050500013m02606",
        ] {
            assert_eq!(scan(v), Some(Finding::Iban), "{v}");
        }
    }

    #[test]
    fn identity_numbers_are_found() {
        for v in [
            "123-45-6789",
            "X12345678",
            "my passport number is 0123 4567",
            "ID card 99887766",
        ] {
            assert_eq!(scan(v), Some(Finding::IdentityNumber), "{v}");
        }
    }

    #[test]
    fn ordinary_names_addresses_and_questions_pass() {
        for v in [
            "Ada Lovelace",
            "José Ñúñez-García",
            "12 Rue de Rivoli",
            "Flat 4B, 221B Baker Street",
            "SW1A 1AA",
            "75001",
            "1600 Amphitheatre Parkway, Mountain View, CA 94043",
            "Does the 55x40x23 cabin case fit a 15 inch laptop?",
            "Order LG-7KQ2-9XF4 arrived, thanks",
            "4111 1111 1111 1112",
            "+33 6 12 34 56 78",
            "Postfach 10 01 23, 80331 München",
        ] {
            assert_eq!(scan(v), None, "{v}");
        }
    }

    #[test]
    fn the_refusal_names_the_field_but_never_the_value() {
        let err = refuse_sensitive("shipping_address.line1", "4111 1111 1111 1111").unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("4111"), "{text}");
        assert!(matches!(err, Invalid::Sensitive { field } if field == "shipping_address.line1"));
    }
}
