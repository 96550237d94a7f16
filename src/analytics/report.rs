//! Reports as staff see them, and the rules that shape them: the period asked for, the
//! k-visitor threshold, shares and ranking. No HTTP, no SQL.
//!
//! Visitors are counted per day: a visitor hash exists for one day only, so someone who
//! comes back on two days counts twice in `visitors`. For the same reason the threshold uses
//! the one number that is certain to count distinct people: a group is shown only when on at
//! least one day of the period at least k distinct visitors were in it. Shares are computed
//! among the groups shown, so nothing about a hidden group can be worked out by subtraction.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::model::{SizeClass, Style};
use crate::invalid::Invalid;

/// The default period: the last 30 days, today included.
pub const DEFAULT_DAYS: i64 = 30;
/// The longest period one report covers.
pub const MAX_DAYS: i64 = 366;
/// Rows of a ranked list (products, pages, transitions).
pub const TOP: usize = 100;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReportKind {
    /// Most viewed products.
    TrendingProducts,
    /// Product-view share by size class.
    SizeClasses,
    /// Product-view share by style.
    Styles,
    /// Top pages and page-to-page transitions.
    Paths,
    /// Average and median time on each page.
    StayDuration,
}

/// The days a report covers, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// `to` defaults to today, `from` to 29 days before `to`; at most [`MAX_DAYS`] days.
    pub fn parse(from: Option<&str>, to: Option<&str>, today: NaiveDate) -> Result<Self, Invalid> {
        let to = match to {
            Some(raw) => parse_date("to", raw)?,
            None => today,
        };
        let from = match from {
            Some(raw) => parse_date("from", raw)?,
            None => to - chrono::Duration::days(DEFAULT_DAYS - 1),
        };
        if from > to {
            return Err(Invalid::field("from", "must not be after `to`"));
        }
        if (to - from).num_days() + 1 > MAX_DAYS {
            return Err(Invalid::field(
                "from",
                format!("the period covers at most {MAX_DAYS} days"),
            ));
        }
        Ok(Self { from, to })
    }
}

fn parse_date(field: &'static str, raw: &str) -> Result<NaiveDate, Invalid> {
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| Invalid::field(field, "must be a date written YYYY-MM-DD"))
}

/// A group before the threshold: its numbers over the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted<K> {
    pub key: K,
    /// Views (or moves, or leaves) over the period.
    pub count: i64,
    /// Distinct visitors per day, summed over the period.
    pub visitors: i64,
    /// Distinct visitors on the group's busiest day.
    pub peak_visitors: i64,
}

/// The groups seen by at least `k` distinct visitors on some day, most counted first (ties
/// by key), and how many were hidden.
pub fn visible<K: Ord>(groups: Vec<Counted<K>>, k: i64) -> (Vec<Counted<K>>, i64) {
    let total = groups.len();
    let mut shown: Vec<Counted<K>> = groups
        .into_iter()
        .filter(|g| g.peak_visitors >= k)
        .collect();
    let hidden = i64::try_from(total - shown.len()).unwrap_or(i64::MAX);
    shown.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    (shown, hidden)
}

/// `part / whole`, to four decimals (0 when there is nothing).
pub fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0
}

/// What every report says about itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportHeader {
    /// Which report this is: it tells which of the shapes the rest of the body has.
    pub report: ReportKind,
    /// First day covered (UTC).
    #[schema(value_type = String, format = Date, example = "2026-10-27")]
    pub from: NaiveDate,
    /// Last day covered (UTC), included.
    #[schema(value_type = String, format = Date, example = "2026-11-25")]
    pub to: NaiveDate,
    /// k: groups seen by fewer distinct visitors on every day of the period are not shown.
    #[schema(minimum = 1, example = 5)]
    pub min_visitors: i64,
    /// How many groups were hidden by the threshold.
    #[schema(minimum = 0, example = 3)]
    pub suppressed_groups: i64,
}

/// `trending-products`: the most viewed products.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "report": "trending-products", "from": "2026-10-27", "to": "2026-11-25",
    "min_visitors": 5, "suppressed_groups": 12,
    "products": [{"product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "slug": "voyager-55-spinner", "name": "Voyager 55 Spinner",
        "views": 1840, "visitors": 1210, "share": 0.1825}]
}))]
pub struct TrendingReport {
    #[serde(flatten)]
    pub header: ReportHeader,
    /// At most 100, most viewed first.
    #[schema(max_items = 100)]
    pub products: Vec<TrendingProduct>,
}

/// A product and how often it was viewed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrendingProduct {
    /// The product's `prod_…` id.
    #[schema(example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub product_id: String,
    /// The product's slug now.
    #[schema(example = "voyager-55-spinner")]
    pub slug: String,
    /// The product's name now.
    #[schema(example = "Voyager 55 Spinner")]
    pub name: String,
    /// Product views in the period.
    #[schema(minimum = 0)]
    pub views: i64,
    /// Distinct visitors per day, summed over the period.
    #[schema(minimum = 0)]
    pub visitors: i64,
    /// Share of the views of all products shown (0 to 1, four decimals).
    #[schema(minimum = 0, maximum = 1, example = 0.1825)]
    pub share: f64,
}

/// `size-classes` and `styles`: how product views divide among a catalogue attribute.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "report": "size-classes", "from": "2026-10-27", "to": "2026-11-25",
    "min_visitors": 5, "suppressed_groups": 0,
    "groups": [{"value": "cabin", "views": 5120, "visitors": 3900, "share": 0.4811},
               {"value": "medium", "views": 3020, "visitors": 2450, "share": 0.2838}]
}))]
pub struct ShareReport {
    #[serde(flatten)]
    pub header: ReportHeader,
    /// Most viewed first.
    pub groups: Vec<ShareGroup>,
}

/// One size class or style and its part of the product views.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareGroup {
    /// The size class (`size-classes`) or the style (`styles`).
    pub value: ShareValue,
    /// Views of products of this size class or style in the period.
    #[schema(minimum = 0)]
    pub views: i64,
    /// Distinct visitors per day, summed over the period.
    #[schema(minimum = 0)]
    pub visitors: i64,
    /// Share of the product views of all groups shown (0 to 1, four decimals).
    #[schema(minimum = 0, maximum = 1, example = 0.4811)]
    pub share: f64,
}

/// The catalogue attribute value a share group stands for: a size class in the
/// `size-classes` report, a style in the `styles` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ShareValue {
    SizeClass(SizeClass),
    Style(Style),
}

/// One string enum of both vocabularies (no value is in both), as the body carries it:
/// simpler for generated clients than a union of two enums.
impl utoipa::PartialSchema for ShareValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let values = SizeClass::ALL
            .iter()
            .map(|v| v.as_str())
            .chain(Style::ALL.iter().map(|v| v.as_str()));
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A size class (in the `size-classes` report) or a style (in the `styles` \
                 report).",
            ))
            .enum_values(Some(values))
            .into()
    }
}

impl ToSchema for ShareValue {}

impl ShareValue {
    /// The value of the attribute `kind` divides views by, as the aggregates store it.
    pub fn parse(kind: ReportKind, raw: &str) -> Option<Self> {
        match kind {
            ReportKind::SizeClasses => SizeClass::parse(raw).map(Self::SizeClass),
            ReportKind::Styles => Style::parse(raw).map(Self::Style),
            _ => None,
        }
    }
}

/// `paths`: top pages and page-to-page transitions. `suppressed_groups` is the sum of the
/// two sections' hidden groups.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "report": "paths", "from": "2026-10-27", "to": "2026-11-25",
    "min_visitors": 5, "suppressed_groups": 41,
    "pages": [{"path": "/products/{id}", "views": 9100, "visitors": 4020, "share": 0.3512}],
    "suppressed_pages": 9,
    "transitions": [{"from_path": "/", "to_path": "/collections/cabin-bags", "moves": 820, "visitors": 760}],
    "suppressed_transitions": 32
}))]
pub struct PathsReport {
    #[serde(flatten)]
    pub header: ReportHeader,
    /// At most 100, most viewed first.
    #[schema(max_items = 100)]
    pub pages: Vec<TopPage>,
    /// How many pages were hidden by the threshold.
    #[schema(minimum = 0, example = 9)]
    pub suppressed_pages: i64,
    /// At most 100, most taken first.
    #[schema(max_items = 100)]
    pub transitions: Vec<Transition>,
    /// How many transitions were hidden by the threshold.
    #[schema(minimum = 0, example = 32)]
    pub suppressed_transitions: i64,
}

/// A page and how often it was viewed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopPage {
    /// The normalised path (ids as `{id}`, order numbers as `{number}`).
    #[schema(example = "/products/{id}")]
    pub path: String,
    /// Page views in the period.
    #[schema(minimum = 0)]
    pub views: i64,
    /// Distinct visitors per day, summed over the period.
    #[schema(minimum = 0)]
    pub visitors: i64,
    /// Share of the page views of all pages shown (0 to 1, four decimals).
    #[schema(minimum = 0, maximum = 1, example = 0.3512)]
    pub share: f64,
}

/// A move from one page to the next.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PageTransition)]
pub struct Transition {
    /// The normalised path of the page left.
    #[schema(example = "/")]
    pub from_path: String,
    /// The normalised path of the next page viewed.
    #[schema(example = "/collections/cabin-bags")]
    pub to_path: String,
    /// Times a visitor's next page view after `from_path` was `to_path`.
    #[schema(minimum = 0)]
    pub moves: i64,
    /// Distinct visitors per day who made the move, summed over the period.
    #[schema(minimum = 0)]
    pub visitors: i64,
}

/// `stay-duration`: time on each page, from `page_leave` events.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "report": "stay-duration", "from": "2026-10-27", "to": "2026-11-25",
    "min_visitors": 5, "suppressed_groups": 4,
    "stays": [{"path": "/products/{id}", "leaves": 8700, "visitors": 3980,
               "average_dwell_ms": 48210, "median_dwell_ms": 31000}]
}))]
pub struct StayReport {
    #[serde(flatten)]
    pub header: ReportHeader,
    /// At most 100 pages, most left first.
    #[schema(max_items = 100)]
    pub stays: Vec<PageStay>,
}

/// Time spent on a page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageStay {
    /// The normalised path (ids as `{id}`, order numbers as `{number}`).
    #[schema(example = "/products/{id}")]
    pub path: String,
    /// `page_leave` events counted.
    #[schema(minimum = 0)]
    pub leaves: i64,
    /// Distinct visitors per day, summed over the period.
    #[schema(minimum = 0)]
    pub visitors: i64,
    /// Mean time on the page in milliseconds (each stay counted at most one hour).
    #[schema(minimum = 0, maximum = 3_600_000, example = 48210)]
    pub average_dwell_ms: i64,
    /// Median time on the page in milliseconds, to its bucket: 1 s under a minute, 10 s under
    /// ten minutes, 1 min above.
    #[schema(minimum = 0, maximum = 3_600_000, example = 31000)]
    pub median_dwell_ms: i64,
}

/// One of the reports; `report` tells which (`size-classes` and `styles` share one shape).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(
    discriminator(property_name = "report", mapping(
        ("trending-products" = "#/components/schemas/TrendingReport"),
        ("size-classes" = "#/components/schemas/ShareReport"),
        ("styles" = "#/components/schemas/ShareReport"),
        ("paths" = "#/components/schemas/PathsReport"),
        ("stay-duration" = "#/components/schemas/StayReport"),
    )),
    example = json!({
        "report": "trending-products", "from": "2026-10-27", "to": "2026-11-25",
        "min_visitors": 5, "suppressed_groups": 12,
        "products": [{"product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
            "slug": "voyager-55-spinner", "name": "Voyager 55 Spinner",
            "views": 1840, "visitors": 1210, "share": 0.1825}]
    })
)]
pub enum AnalyticsReport {
    Trending(TrendingReport),
    Shares(ShareReport),
    Paths(PathsReport),
    Stay(StayReport),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn field(e: Invalid) -> String {
        match e {
            Invalid::Fields(errors) => errors[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_default_period_is_the_last_thirty_days() {
        let today = day("2026-11-25");
        let p = Period::parse(None, None, today).unwrap();
        assert_eq!((p.from, p.to), (day("2026-10-27"), today));
        let p = Period::parse(None, Some("2026-01-31"), today).unwrap();
        assert_eq!(p.from, day("2026-01-02"));
        let p = Period::parse(Some("2026-11-20"), None, today).unwrap();
        assert_eq!((p.from, p.to), (day("2026-11-20"), today));
    }

    #[test]
    fn periods_are_checked() {
        let today = day("2026-11-25");
        assert!(Period::parse(Some("2025-11-25"), Some("2026-11-25"), today).is_ok());
        let too_long = Period::parse(Some("2025-11-24"), Some("2026-11-25"), today);
        assert_eq!(field(too_long.unwrap_err()), "from");
        let reversed = Period::parse(Some("2026-11-26"), Some("2026-11-25"), today);
        assert_eq!(field(reversed.unwrap_err()), "from");
        for bad in [
            "2026-1-5",
            "25/11/2026",
            "2026-02-30",
            "2026-11-25T00:00:00Z",
            "",
        ] {
            assert_eq!(
                field(Period::parse(None, Some(bad), today).unwrap_err()),
                "to"
            );
        }
    }

    fn group(key: &str, count: i64, peak: i64) -> Counted<String> {
        Counted {
            key: key.to_owned(),
            count,
            visitors: peak * 2,
            peak_visitors: peak,
        }
    }

    #[test]
    fn groups_under_k_visitors_on_every_day_are_hidden_and_counted() {
        let (shown, hidden) = visible(
            vec![
                group("a", 10, 5),
                group("b", 50, 4),
                group("c", 30, 7),
                group("d", 30, 9),
            ],
            5,
        );
        let keys: Vec<&str> = shown.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["c", "d", "a"]);
        assert_eq!(hidden, 1);
    }

    #[test]
    fn share_values_are_their_vocabulary_names_and_no_name_is_in_both() {
        let value = ShareValue::parse(ReportKind::SizeClasses, "extra_large").unwrap();
        assert_eq!(serde_json::to_value(value).unwrap(), "extra_large");
        let value = ShareValue::parse(ReportKind::Styles, "weekender").unwrap();
        assert_eq!(serde_json::to_value(value).unwrap(), "weekender");
        assert_eq!(ShareValue::parse(ReportKind::Styles, "cabin"), None);
        assert!(SizeClass::ALL
            .iter()
            .all(|c| Style::parse(c.as_str()).is_none()));
    }

    #[test]
    fn shares_have_four_decimals() {
        assert_eq!(share(1, 3), 0.3333);
        assert_eq!(share(2, 3), 0.6667);
        assert_eq!(share(5, 0), 0.0);
    }
}
