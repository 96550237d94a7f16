//! Shipping rules: carriers' tracking URLs, methods with zones and weight brackets, the
//! chargeable weight of a parcel and what a method charges for it. No HTTP, no SQL.

use serde::{Deserialize, Serialize};

use crate::invalid::{FieldError, Invalid};

/// The most zones a method may have, and brackets a zone may have.
pub const MAX_ZONES: usize = 30;
pub const MAX_BRACKETS: usize = 30;
/// The volumetric divisor (cm³ per kg) a method may use: carriers use 4000–6000.
pub const DIVISOR_RANGE: std::ops::RangeInclusive<i64> = 1_000..=10_000;
/// Brackets stop at 1 000 kg: far above any parcel of luggage.
pub const MAX_GRAMS: i64 = 1_000_000;
/// The placeholder a tracking URL template holds once.
pub const PLACEHOLDER: &str = "{tracking}";

/// A carrier's or a method's code: 1–40 of `a-z`, `0-9`, `-` and `_`, starting with a
/// letter or digit (what URLs and checkouts name it by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    pub fn parse(field: &str, raw: &str) -> Result<Code, Invalid> {
        let code = raw.trim().to_ascii_lowercase();
        let ok = (1..=40).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && code
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        match ok {
            true => Ok(Code(code)),
            false => Err(Invalid::field(
                field,
                "must be 1 to 40 of a-z, 0-9, - and _, starting with a letter or digit",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A carrier's tracking URL template: an `https` URL holding `{tracking}` once, where the
/// tracking number goes (percent-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingTemplate(String);

impl TrackingTemplate {
    pub fn parse(field: &str, raw: &str) -> Result<TrackingTemplate, Invalid> {
        let template = raw.trim();
        let refuse = || {
            Invalid::field(
                field,
                "must be an https URL of at most 500 characters holding {tracking} once, \
                 like https://track.example.com/parcels/{tracking}",
            )
        };
        if template.len() > 500 || template.matches(PLACEHOLDER).count() != 1 {
            return Err(refuse());
        }
        let url = url::Url::parse(&template.replace(PLACEHOLDER, "T")).map_err(|_| refuse())?;
        if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
            return Err(refuse());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refuse());
        }
        Ok(TrackingTemplate(template.to_owned()))
    }

    /// A stored template (checked when written).
    pub fn stored(template: &str) -> TrackingTemplate {
        TrackingTemplate(template.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tracking URL of `tracking_number`: percent-encoded, so a number can never
    /// change the URL's host, path or query structure.
    pub fn url_for(&self, tracking_number: &str) -> String {
        let mut encoded = String::with_capacity(tracking_number.len());
        for b in tracking_number.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    encoded.push(char::from(b))
                }
                _ => encoded.push_str(&format!("%{b:02X}")),
            }
        }
        self.0.replacen(PLACEHOLDER, &encoded, 1)
    }
}

/// A weight bracket: parcels up to `up_to_grams` (inclusive; null for no limit) pay `price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bracket {
    pub up_to_grams: Option<i64>,
    /// Minor units of the shop's currency.
    pub price: i64,
}

/// Destinations and their brackets, lightest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// ISO 3166-1 alpha-2 codes, upper-case; `None`: every country no other zone of the
    /// method lists.
    pub countries: Option<Vec<String>>,
    pub rates: Vec<Bracket>,
}

/// A method's rates as stored in its `zones` document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Zones(pub Vec<Zone>);

impl Zones {
    /// The zone serving `country`: the one listing it, else the method's "every other
    /// country" zone.
    pub fn for_country(&self, country: &str) -> Option<&Zone> {
        self.0
            .iter()
            .find(|z| {
                z.countries
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|c| c == country))
            })
            .or_else(|| self.0.iter().find(|z| z.countries.is_none()))
    }

    /// Zones as submitted, every problem reported at once under `field`.
    pub fn parse(field: &str, zones: Vec<Zone>) -> Result<Zones, Invalid> {
        let mut errors = Vec::new();
        if zones.is_empty() || zones.len() > MAX_ZONES {
            errors.push(FieldError::new(
                field,
                format!("must hold 1 to {MAX_ZONES} zones"),
            ));
        }
        let mut seen: Vec<String> = Vec::new();
        let mut rest_of_world = 0;
        let mut parsed = Vec::with_capacity(zones.len());
        for (i, zone) in zones.into_iter().enumerate() {
            let at = |name: &str| format!("{field}[{i}].{name}");
            let countries = match zone.countries {
                None => {
                    rest_of_world += 1;
                    if rest_of_world > 1 {
                        errors.push(FieldError::new(
                            at("countries"),
                            "only one zone may be null (every other country)",
                        ));
                    }
                    None
                }
                Some(list) => {
                    if list.is_empty() || list.len() > 300 {
                        errors.push(FieldError::new(
                            at("countries"),
                            "must list 1 to 300 countries, or be null for every other country",
                        ));
                    }
                    let mut codes = Vec::with_capacity(list.len());
                    for (j, c) in list.iter().enumerate() {
                        let code = c.trim().to_ascii_uppercase();
                        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                            errors.push(FieldError::new(
                                format!("{field}[{i}].countries[{j}]"),
                                "must be an ISO 3166-1 alpha-2 code like DE",
                            ));
                        } else if seen.contains(&code) {
                            errors.push(FieldError::new(
                                format!("{field}[{i}].countries[{j}]"),
                                "is already in a zone of this method",
                            ));
                        } else {
                            seen.push(code.clone());
                            codes.push(code);
                        }
                    }
                    Some(codes)
                }
            };
            if let Err(e) = brackets(&at("rates"), &zone.rates) {
                errors.extend(e);
            }
            parsed.push(Zone {
                countries,
                rates: zone.rates,
            });
        }
        match errors.is_empty() {
            true => Ok(Zones(parsed)),
            false => Err(Invalid::Fields(errors)),
        }
    }
}

/// Brackets: 1 to [`MAX_BRACKETS`], limits rising strictly, only the last without one,
/// prices from 0 to [`crate::money::MAX_AMOUNT`].
fn brackets(field: &str, rates: &[Bracket]) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    if rates.is_empty() || rates.len() > MAX_BRACKETS {
        errors.push(FieldError::new(
            field,
            format!("must hold 1 to {MAX_BRACKETS} brackets"),
        ));
    }
    let mut last = 0;
    for (i, b) in rates.iter().enumerate() {
        let at = |name: &str| format!("{field}[{i}].{name}");
        match b.up_to_grams {
            None if i + 1 != rates.len() => errors.push(FieldError::new(
                at("up_to_grams"),
                "only the last bracket may have no limit (null)",
            )),
            Some(g) if g <= last || g > MAX_GRAMS => errors.push(FieldError::new(
                at("up_to_grams"),
                format!("must be above the previous bracket's limit, at most {MAX_GRAMS} grams"),
            )),
            Some(g) => last = g,
            None => {}
        }
        if !(0..=crate::money::MAX_AMOUNT).contains(&b.price) {
            errors.push(FieldError::new(
                at("price"),
                "must be 0 or more minor units of the shop's currency",
            ));
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(errors),
    }
}

/// One article of a parcel: its outer dimensions in cm, its weight in grams, how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Article {
    pub dimensions_cm: [i64; 3],
    pub weight_g: i64,
    pub quantity: i64,
}

/// What a cart ships as: the articles' weight and their volume (each article its own box,
/// since cases are not packed inside one another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parcel {
    pub weight_g: i64,
    pub volume_cm3: i64,
}

impl Parcel {
    pub fn of(articles: impl IntoIterator<Item = Article>) -> Parcel {
        articles.into_iter().fold(Parcel::default(), |p, a| {
            let [h, w, d] = a.dimensions_cm.map(|x| x.max(0));
            Parcel {
                weight_g: p
                    .weight_g
                    .saturating_add(a.weight_g.max(0).saturating_mul(a.quantity)),
                volume_cm3: p.volume_cm3.saturating_add(
                    h.saturating_mul(w)
                        .saturating_mul(d)
                        .saturating_mul(a.quantity),
                ),
            }
        })
    }

    /// Volumetric weight in grams: `volume / divisor` kilograms, rounded up to the gram.
    pub fn volumetric_g(self, divisor: i64) -> i64 {
        let divisor = divisor.max(1);
        let grams = i128::from(self.volume_cm3) * 1_000;
        i64::try_from((grams + i128::from(divisor) - 1) / i128::from(divisor)).unwrap_or(i64::MAX)
    }

    /// The weight a carrier charges: the greater of the actual and the volumetric weight
    /// (bulky, light luggage pays for the room it takes).
    pub fn chargeable_g(self, divisor: i64) -> i64 {
        self.weight_g.max(self.volumetric_g(divisor))
    }
}

/// A method's pricing rules, as [`quote`] reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rates {
    pub volumetric_divisor: i64,
    /// Goods of at least this (minor units) ship free with this method.
    pub free_from: Option<i64>,
    pub zones: Zones,
}

/// What a method charges for one parcel to one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// Minor units of the shop's currency; 0 when free.
    pub price: i64,
    pub chargeable_g: i64,
    /// The free-shipping threshold made it free.
    pub free: bool,
}

/// What `rates` charge to ship `parcel` to `country` for goods worth `goods_subtotal`;
/// `None` when the method does not serve that country or the parcel is heavier than its
/// last bracket. An empty cart ships nothing and pays nothing.
pub fn quote(rates: &Rates, country: &str, parcel: Parcel, goods_subtotal: i64) -> Option<Quote> {
    let zone = rates.zones.for_country(country)?;
    let chargeable_g = parcel.chargeable_g(rates.volumetric_divisor);
    let bracket = zone
        .rates
        .iter()
        .find(|b| b.up_to_grams.is_none_or(|limit| chargeable_g <= limit))?;
    let free = goods_subtotal == 0 || rates.free_from.is_some_and(|f| goods_subtotal >= f);
    Some(Quote {
        price: if free { 0 } else { bracket.price },
        chargeable_g,
        free,
    })
}

/// The seeded method's rates from the configured flat charge and threshold: every country,
/// one bracket.
pub fn configured_zones(flat: i64) -> Zones {
    Zones(vec![Zone {
        countries: None,
        rates: vec![Bracket {
            up_to_grams: None,
            price: flat,
        }],
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(zones: Zones, free_from: Option<i64>) -> Rates {
        Rates {
            volumetric_divisor: 5_000,
            free_from,
            zones,
        }
    }

    fn zone(countries: Option<&[&str]>, brackets: &[(Option<i64>, i64)]) -> Zone {
        Zone {
            countries: countries.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
            rates: brackets
                .iter()
                .map(|(up_to_grams, price)| Bracket {
                    up_to_grams: *up_to_grams,
                    price: *price,
                })
                .collect(),
        }
    }

    fn parcel(kg: i64, dims: [i64; 3]) -> Parcel {
        Parcel::of([Article {
            dimensions_cm: dims,
            weight_g: kg * 1_000,
            quantity: 1,
        }])
    }

    #[test]
    fn bulky_light_cases_pay_for_their_volume() {
        // 80 × 50 × 30 cm = 120 000 cm³ / 5000 = 24 kg, though it weighs 5 kg.
        let p = parcel(5, [80, 50, 30]);
        assert_eq!(p.volumetric_g(5_000), 24_000);
        assert_eq!(p.chargeable_g(5_000), 24_000);
        // A small heavy one pays its weight.
        assert_eq!(parcel(10, [10, 10, 10]).chargeable_g(5_000), 10_000);
        // Rounded up to the gram.
        assert_eq!(parcel(0, [1, 1, 1]).volumetric_g(3_000), 1);
    }

    #[test]
    fn the_bracket_holding_the_chargeable_weight_prices_it() {
        let r = rates(
            Zones(vec![
                zone(Some(&["DE"]), &[(Some(10_000), 500), (Some(30_000), 1_500)]),
                zone(None, &[(Some(30_000), 2_500)]),
            ]),
            Some(20_000),
        );
        let light = parcel(5, [10, 10, 10]);
        assert_eq!(quote(&r, "DE", light, 100).map(|q| q.price), Some(500));
        assert_eq!(quote(&r, "FR", light, 100).map(|q| q.price), Some(2_500));
        let bulky = parcel(5, [80, 50, 30]);
        assert_eq!(quote(&r, "DE", bulky, 100).map(|q| q.price), Some(1_500));
        assert_eq!(quote(&r, "DE", parcel(31, [1, 1, 1]), 100), None);
        let free = quote(&r, "DE", bulky, 20_000).unwrap();
        assert_eq!((free.price, free.free), (0, true));
        let only_de = rates(Zones(vec![zone(Some(&["DE"]), &[(None, 1)])]), None);
        assert_eq!(quote(&only_de, "FR", light, 100), None);
    }

    #[test]
    fn zones_are_checked_field_by_field() {
        let bad = vec![
            zone(Some(&["de", "DE", "X1"]), &[(None, 1), (Some(5), 2)]),
            zone(None, &[(Some(10), -1)]),
            zone(None, &[]),
        ];
        let Err(Invalid::Fields(errors)) = Zones::parse("zones", bad) else {
            panic!("invalid zones")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "zones[0].countries[1]",
                "zones[0].countries[2]",
                "zones[0].rates[0].up_to_grams",
                "zones[1].rates[0].price",
                "zones[2].countries",
                "zones[2].rates",
            ]
        );
        let ok = Zones::parse(
            "zones",
            vec![zone(Some(&["de"]), &[(Some(1), 1), (None, 2)])],
        );
        assert_eq!(ok.unwrap().0[0].countries, Some(vec!["DE".to_owned()]));
    }

    #[test]
    fn tracking_templates_are_https_with_one_placeholder() {
        let t =
            TrackingTemplate::parse("t", "https://track.example.com/p/{tracking}?l=en").unwrap();
        assert_eq!(
            t.url_for("AB 12/3&x"),
            "https://track.example.com/p/AB%2012%2F3%26x?l=en"
        );
        for bad in [
            "http://track.example.com/{tracking}",
            "https://track.example.com/",
            "https://{tracking}/{tracking}",
            "javascript:{tracking}",
            "https://user:pw@example.com/{tracking}",
        ] {
            assert!(TrackingTemplate::parse("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn codes_are_lower_case_slugs() {
        assert_eq!(
            Code::parse("c", " DHL-Express ").unwrap().as_str(),
            "dhl-express"
        );
        assert!(Code::parse("c", "-x").is_err());
        assert!(Code::parse("c", "a b").is_err());
        assert!(Code::parse("c", "").is_err());
    }
}
