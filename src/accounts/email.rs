//! Email addresses as Valise accepts them: one canonical form per mailbox, nothing that can
//! look like another address, nothing that is markup.
//!
//! - The whole address is NFKC-normalised (full-width `ａｄａ` is `ada`) and lower-cased.
//! - The part before `@` is an RFC 5322 dot-atom in ASCII: letters, digits and
//!   ``! # $ % & ' * + / = ? ^ _ ` { | } ~ -``, dots between them. Quoted local parts,
//!   spaces, `<`, `>`, `"` and any other character are refused: they are legal in some
//!   mailers and a way to smuggle markup or look-alikes in all of them.
//! - The domain is converted to ASCII by IDNA (UTS #46, STD3 rules): `bücher.example` is
//!   stored as `xn--bcher-kva.example`, so the two spellings are one account. A domain that
//!   IDNA would silently change (an invisible zero-width character it drops, a character it
//!   maps) or refuses (bidi controls, symbols) is refused, as is a label that mixes scripts
//!   the way look-alikes do (Latin with Cyrillic `а`), following the "highly restrictive"
//!   profile of UTS #39.

use std::collections::HashSet;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use unicode_script::{Script, UnicodeScript};

/// Why an address was refused, for the client (never repeating the address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    /// Not `local@domain` with a dot in the domain, or too long.
    Shape,
    /// The part before `@` is not a plain dot-atom.
    LocalPart,
    /// Invisible, control or direction-changing characters.
    Invisible,
    /// The domain is not a valid internationalised domain name.
    Domain,
    /// A label of the domain mixes scripts (a look-alike).
    MixedScripts,
}

impl EmailError {
    pub fn message(self) -> &'static str {
        match self {
            EmailError::Shape => "must be an email address like name@example.com",
            EmailError::LocalPart => {
                "the part before @ may hold only letters a–z, digits, dots between them and \
                 ! # $ % & ' * + / = ? ^ _ ` { | } ~ -"
            }
            EmailError::Invisible => {
                "must not contain invisible, control or text-direction characters"
            }
            EmailError::Domain => "the domain after @ is not a valid domain name",
            EmailError::MixedScripts => {
                "the domain mixes alphabets within a name (as look-alike addresses do)"
            }
        }
    }
}

/// The canonical form of an address: ASCII local part @ ASCII (punycode) domain.
pub fn canonical(raw: &str) -> Result<String, EmailError> {
    let normalized = icu_normalizer::ComposingNormalizerBorrowed::new_nfkc().normalize(raw.trim());
    let value = normalized.to_lowercase();
    if value.chars().any(is_invisible) {
        return Err(EmailError::Invisible);
    }
    let (local, domain) = value.rsplit_once('@').ok_or(EmailError::Shape)?;
    if local.is_empty() || local.len() > 64 || domain.is_empty() {
        return Err(EmailError::Shape);
    }
    if !is_dot_atom(local) {
        return Err(EmailError::LocalPart);
    }
    let ascii = Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Check,
            DnsLength::Verify,
        )
        .map_err(|_| EmailError::Domain)?;
    // What IDNA would silently drop or map is not what the person typed: refuse it. Labels
    // typed in punycode (`xn--…`) are compared as what they decode to.
    let (unicode, errors) =
        Uts46::new().to_unicode(ascii.as_bytes(), AsciiDenyList::STD3, Hyphens::Check);
    if errors.is_err() {
        return Err(EmailError::Domain);
    }
    let typed: Vec<&str> = domain.split('.').collect();
    let shown: Vec<&str> = unicode.split('.').collect();
    if typed.len() != shown.len()
        || typed
            .iter()
            .zip(&shown)
            .any(|(t, s)| !t.starts_with("xn--") && t != s)
    {
        return Err(EmailError::Invisible);
    }
    if shown.len() < 2 {
        return Err(EmailError::Shape);
    }
    if shown.iter().any(|label| mixes_scripts(label)) {
        return Err(EmailError::MixedScripts);
    }
    let address = format!("{local}@{ascii}");
    if address.len() > 254 {
        return Err(EmailError::Shape);
    }
    Ok(address)
}

/// RFC 5322 `dot-atom-text` in ASCII.
fn is_dot_atom(local: &str) -> bool {
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~-".contains(&b);
    local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.bytes().all(atext))
}

/// Controls, and the characters Unicode marks `Default_Ignorable_Code_Point` or `Bidi_Control`
/// (DerivedCoreProperties.txt, PropList.txt): they render as nothing or reorder what is
/// around them. A fixed list: these properties have been stable for a decade.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// Whether a label's letters come from more than one script, beyond the combinations UTS #39
/// calls highly restrictive (Latin with Han and Japanese kana, with Han and Bopomofo, or with
/// Han and Hangul). Digits, hyphens and combining marks belong to every script.
fn mixes_scripts(label: &str) -> bool {
    let scripts: HashSet<Script> = label
        .chars()
        .map(|c| c.script())
        .filter(|s| !matches!(s, Script::Common | Script::Inherited | Script::Unknown))
        .collect();
    if scripts.len() <= 1 {
        return false;
    }
    let allowed: [&[Script]; 3] = [
        &[
            Script::Latin,
            Script::Han,
            Script::Hiragana,
            Script::Katakana,
        ],
        &[Script::Latin, Script::Han, Script::Bopomofo],
        &[Script::Latin, Script::Han, Script::Hangul],
    ];
    !allowed
        .iter()
        .any(|set| scripts.iter().all(|s| set.contains(s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_are_lower_cased_and_kept() {
        assert_eq!(
            canonical(" Ada.Lovelace+shop@Example.COM ").unwrap(),
            "ada.lovelace+shop@example.com"
        );
        assert_eq!(
            canonical("o'brien@example.ie").unwrap(),
            "o'brien@example.ie"
        );
    }

    #[test]
    fn full_width_and_unicode_domains_have_one_canonical_form() {
        assert_eq!(
            canonical("ａｄａ＠ｅｘａｍｐｌｅ．ｃｏｍ").unwrap(),
            "ada@example.com"
        );
        assert_eq!(
            canonical("ada@Bücher.example").unwrap(),
            "ada@xn--bcher-kva.example"
        );
        assert_eq!(
            canonical("ada@xn--bcher-kva.example").unwrap(),
            "ada@xn--bcher-kva.example"
        );
        assert_eq!(
            canonical("ada@пример.рф").unwrap(),
            "ada@xn--e1afmkfd.xn--p1ai"
        );
        assert_eq!(canonical("ada@例え.jp").unwrap(), "ada@xn--r8jz45g.jp");
    }

    #[test]
    fn invisible_and_direction_characters_are_refused() {
        for raw in [
            "ada\u{200B}@example.com",
            "ada@exa\u{200B}mple.com",
            "ada@exam\u{00AD}ple.com",
            "ada@example\u{202E}moc.com",
            "ada@exam\u{2066}ple.com",
            "ad\u{FEFF}a@example.com",
            "ada@example.com\u{0000}",
        ] {
            assert_eq!(canonical(raw), Err(EmailError::Invisible), "{raw:?}");
        }
    }

    #[test]
    fn markup_quoted_and_odd_local_parts_are_refused() {
        for raw in [
            "<script>@example.com",
            "\"quoted local\"@example.com",
            "a b@example.com",
            ".ada@example.com",
            "ada.@example.com",
            "a..da@example.com",
            "adä@example.com",
            "ada@evil@example.com",
        ] {
            assert!(canonical(raw).is_err(), "{raw:?}");
        }
        assert_eq!(
            canonical("<script>@example.com"),
            Err(EmailError::LocalPart)
        );
    }

    #[test]
    fn look_alike_domains_are_refused() {
        // Latin with a Cyrillic а, Latin with a Greek ο.
        assert_eq!(
            canonical("ada@p\u{0430}ypal.com"),
            Err(EmailError::MixedScripts)
        );
        assert_eq!(
            canonical("ada@g\u{03BF}\u{03BF}gle.com"),
            Err(EmailError::MixedScripts)
        );
        // Whole-script labels are fine.
        assert!(canonical("ada@\u{0430}\u{0440}\u{0435}.com").is_ok());
    }

    #[test]
    fn a_look_alike_typed_in_punycode_is_refused_too() {
        let ascii = idna::domain_to_ascii("p\u{0430}ypal.com").unwrap();
        assert!(ascii.starts_with("xn--"));
        assert_eq!(
            canonical(&format!("ada@{ascii}")),
            Err(EmailError::MixedScripts)
        );
    }

    mod fuzz {
        use super::super::*;
        use proptest::prelude::*;

        fn address() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                // Near-valid addresses with arbitrary characters spliced in.
                (
                    "[a-z]{1,8}",
                    any::<char>(),
                    "[a-z]{1,8}",
                    any::<char>(),
                    "[a-z]{2,4}"
                )
                    .prop_map(|(a, x, b, y, tld)| format!("{a}{x}@{b}{y}.{tld}")),
                ("\\PC{0,12}", "\\PC{0,12}").prop_map(|(l, d)| format!("{l}@{d}.com")),
            ]
        }

        proptest! {
            #[test]
            fn fuzz_an_address_is_refused_or_canonical_and_stable(raw in address()) {
                if let Ok(address) = canonical(&raw) {
                    prop_assert!(address.is_ascii() && address.len() <= 254, "{address}");
                    prop_assert!(!address.chars().any(is_invisible));
                    prop_assert_eq!(canonical(&address), Ok(address.clone()));
                }
            }
        }
    }

    #[test]
    fn shapes_and_domains_are_checked() {
        for raw in [
            "",
            "@",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "ada@-example.com",
            "ada@exa_mple.com",
            "ada@example..com",
        ] {
            assert!(canonical(raw).is_err(), "{raw:?}");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert_eq!(canonical(&long), Err(EmailError::Shape));
    }
}
