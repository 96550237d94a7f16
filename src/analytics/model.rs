//! Analytics rules: events as the API takes them, parsed into what may be stored (a templated
//! path, a product id, a bounded dwell time), the dwell histogram and its median. No HTTP, no
//! SQL.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::invalid::{FieldError, Invalid};

/// Events per request.
pub const MAX_BATCH: usize = 100;
/// A path longer than this is refused rather than templated.
pub const RAW_PATH_MAX: usize = 2048;
/// Segments kept of a path; deeper ones end in `/{more}`.
pub const SEGMENTS_MAX: usize = 8;
/// A longer segment is a `{param}`: no page name is this long, free text often is.
pub const SEGMENT_MAX: usize = 48;
/// The longest dwell accepted (a tab left open all day)…
pub const DWELL_ACCEPTED_MAX_MS: i64 = 86_400_000;
/// …and the longest stored: beyond an hour nobody is reading, and one idle tab should not
/// move a page's average.
pub const DWELL_STORED_MAX_MS: i32 = 3_600_000;
const SESSION_MIN: usize = 8;
const SESSION_MAX: usize = 128;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A page was shown (`path`).
    PageView,
    /// A product was shown (`product_id`).
    ProductView,
    /// A page was left after `dwell_ms` (`path`, `dwell_ms`).
    PageLeave,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PageView => "page_view",
            Self::ProductView => "product_view",
            Self::PageLeave => "page_leave",
        }
    }
}

/// A batch of anonymous events from one browsing session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "session": "4f1c2a9e-7b3d-4e8a-9c61-2d5f0b8e7a13",
    "events": [
        {"type": "page_view", "path": "/products/voyager-55-spinner?utm_source=mail"},
        {"type": "product_view", "product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10"},
        {"type": "page_leave", "path": "/products/voyager-55-spinner", "dwell_ms": 42000}
    ]
}))]
pub struct EventBatch {
    /// A random string the client generates per browsing session (8–128 printable ASCII
    /// characters, e.g. a UUID). Never stored: only a keyed hash of it, under a salt that
    /// changes every UTC day.
    #[schema(
        min_length = 8,
        max_length = 128,
        pattern = "^[!-~]{8,128}$",
        example = "4f1c2a9e-7b3d-4e8a-9c61-2d5f0b8e7a13"
    )]
    pub session: String,
    /// 1 to 100 events, in the order they happened.
    #[schema(min_items = 1, max_items = 100)]
    pub events: Vec<EventInput>,
}

/// One event. Send only the fields its type uses; others are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// What happened; it decides which other fields the event takes.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// `page_view`, `page_leave` (required there, refused otherwise): the page's path, at most
    /// 2,048 bytes, starting with a single `/` (no scheme or host). Query string and fragment
    /// are dropped, it is lower-cased, and ids, numbers and order numbers become templates
    /// (`/orders/{number}`, `/products/{id}`).
    #[schema(
        max_length = 2048,
        pattern = "^/(?:[^/]|$)",
        example = "/products/voyager-55-spinner"
    )]
    pub path: Option<String>,
    /// `product_view` (required there, refused otherwise): the `prod_…` id of the product
    /// shown.
    #[schema(
        pattern = "^prod_[0-9A-Fa-f]{32}$",
        example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10"
    )]
    pub product_id: Option<String>,
    /// `page_leave` (required there, refused otherwise): milliseconds spent on the page (0 to
    /// 86,400,000, a day; stored at most one hour).
    #[schema(minimum = 0, maximum = 86_400_000, example = 42000)]
    pub dwell_ms: Option<i64>,
}

/// The session string, checked and never stored.
#[derive(Debug, Clone)]
pub struct Session(String);

impl Session {
    pub fn parse(raw: String) -> Result<Self, FieldError> {
        let ok = (SESSION_MIN..=SESSION_MAX).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw))
        } else {
            Err(FieldError::new(
                "session",
                "must be 8 to 128 printable ASCII characters without spaces",
            ))
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// An event as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PageView { path: String },
    ProductView { product_id: String },
    PageLeave { path: String, dwell_ms: i32 },
}

impl Event {
    pub fn kind(&self) -> EventType {
        match self {
            Self::PageView { .. } => EventType::PageView,
            Self::ProductView { .. } => EventType::ProductView,
            Self::PageLeave { .. } => EventType::PageLeave,
        }
    }

    pub fn path(&self) -> Option<&str> {
        match self {
            Self::PageView { path } | Self::PageLeave { path, .. } => Some(path),
            Self::ProductView { .. } => None,
        }
    }

    pub fn product_id(&self) -> Option<&str> {
        match self {
            Self::ProductView { product_id } => Some(product_id),
            _ => None,
        }
    }

    pub fn dwell_ms(&self) -> Option<i32> {
        match self {
            Self::PageLeave { dwell_ms, .. } => Some(*dwell_ms),
            _ => None,
        }
    }
}

/// A validated batch.
#[derive(Debug, Clone)]
pub struct Batch {
    pub session: Session,
    pub events: Vec<Event>,
}

impl EventBatch {
    /// Checks every event; all problems are reported at once, each naming its field
    /// (`events[3].path`).
    pub fn parse(self) -> Result<Batch, Invalid> {
        let mut errors = Vec::new();
        let session = Session::parse(self.session)
            .map_err(|e| errors.push(e))
            .ok();
        let count_ok = match self.events.len() {
            0 => {
                errors.push(FieldError::new("events", "must hold at least one event"));
                false
            }
            n if n > MAX_BATCH => {
                errors.push(FieldError::new(
                    "events",
                    format!("must hold at most {MAX_BATCH} events; send several batches"),
                ));
                false
            }
            _ => true,
        };
        let mut events = Vec::with_capacity(self.events.len().min(MAX_BATCH));
        if count_ok {
            for (i, input) in self.events.into_iter().enumerate() {
                match input.parse() {
                    Ok(event) => events.push(event),
                    Err((field, message)) => {
                        errors.push(FieldError::new(format!("events[{i}].{field}"), message))
                    }
                }
            }
        }
        match session {
            Some(session) if errors.is_empty() => Ok(Batch { session, events }),
            _ => Err(Invalid::Fields(errors)),
        }
    }
}

/// One broken rule of an event: the field and what is wrong with it.
type Broken = (&'static str, &'static str);

impl EventInput {
    fn parse(self) -> Result<Event, Broken> {
        const NOT_FOR_TYPE: &str = "is not sent with this event type";
        let path = |raw: Option<String>| -> Result<String, Broken> {
            let raw = raw.ok_or(("path", "is required for this event type"))?;
            normalize_path(&raw).map_err(|message| ("path", message))
        };
        match self.kind {
            EventType::PageView => {
                refuse(self.product_id.is_some(), "product_id", NOT_FOR_TYPE)?;
                refuse(self.dwell_ms.is_some(), "dwell_ms", NOT_FOR_TYPE)?;
                Ok(Event::PageView {
                    path: path(self.path)?,
                })
            }
            EventType::ProductView => {
                refuse(self.path.is_some(), "path", NOT_FOR_TYPE)?;
                refuse(self.dwell_ms.is_some(), "dwell_ms", NOT_FOR_TYPE)?;
                let product_id = self
                    .product_id
                    .ok_or(("product_id", "is required for this event type"))?;
                if !crate::ids::is_id("prod", &product_id) {
                    return Err(("product_id", "must be a `prod_…` id"));
                }
                Ok(Event::ProductView { product_id })
            }
            EventType::PageLeave => {
                refuse(self.product_id.is_some(), "product_id", NOT_FOR_TYPE)?;
                let dwell = self
                    .dwell_ms
                    .ok_or(("dwell_ms", "is required for this event type"))?;
                let dwell_ms =
                    bound_dwell(dwell).ok_or(("dwell_ms", "must be 0 to 86400000 milliseconds"))?;
                Ok(Event::PageLeave {
                    path: path(self.path)?,
                    dwell_ms,
                })
            }
        }
    }
}

fn refuse(present: bool, field: &'static str, message: &'static str) -> Result<(), Broken> {
    if present {
        Err((field, message))
    } else {
        Ok(())
    }
}

/// A dwell time as stored: refused when negative or over a day, capped at an hour.
pub fn bound_dwell(ms: i64) -> Option<i32> {
    if !(0..=DWELL_ACCEPTED_MAX_MS).contains(&ms) {
        return None;
    }
    i32::try_from(ms.min(i64::from(DWELL_STORED_MAX_MS))).ok()
}

/// The page a path names, without anything that could identify a visitor: the query string
/// and fragment are dropped, it is lower-cased, and each segment that is an id, a number, an
/// order number or anything but a plain word becomes a template.
///
/// `/Orders/LG-7KQ2-9XF4?tab=items` → `/orders/{number}`;
/// `/products/prod_0193…` → `/products/{id}`; `/search/ada@example.com` → `/search/{param}`.
pub fn normalize_path(raw: &str) -> Result<String, &'static str> {
    if raw.len() > RAW_PATH_MAX {
        return Err("must be at most 2048 characters");
    }
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let path = &raw[..end];
    if !path.starts_with('/') || path.starts_with("//") {
        return Err("must be a path starting with `/`, without scheme or host");
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = String::with_capacity(path.len().min(512));
    for segment in segments.iter().take(SEGMENTS_MAX) {
        out.push('/');
        out.push_str(&template(segment));
    }
    if segments.len() > SEGMENTS_MAX {
        out.push_str("/{more}");
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

fn template(segment: &str) -> String {
    let plain = segment.len() <= SEGMENT_MAX
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if !plain {
        return "{param}".into();
    }
    if crate::orders::model::is_order_number(&segment.to_ascii_uppercase()) {
        return "{number}".into();
    }
    let lower = segment.to_ascii_lowercase();
    if looks_like_id(&lower) {
        return "{id}".into();
    }
    lower
}

/// Ids, numbers and tokens, as opposed to page names and product slugs
/// (`voyager-55-spinner` stays).
fn looks_like_id(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let letters = s.bytes().filter(u8::is_ascii_alphabetic).count();
    let hex = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit());
    let longest_digit_run = s
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    // Numbers; and phone, postcode or card numbers inside a slug.
    digits == s.len() || longest_digit_run >= 5
        // Typed ids: `prod_…`, `ord_…`.
        || s.split_once('_').is_some_and(|(prefix, rest)| {
            (2..=8).contains(&prefix.len())
                && prefix.bytes().all(|b| b.is_ascii_lowercase())
                && rest.len() >= 16
                && hex(rest)
        })
        // UUIDs and hex digests.
        || (s.len() >= 16 && hex(&s.replace('-', "")) && digits > 0)
        // Random tokens: long, letters and digits mixed, no word separators.
        || (s.len() >= 12 && digits > 0 && letters > 0 && !s.contains(['-', '.']))
}

/// Dwell-time histogram buckets: `(upper bound exclusive, width)`. A median is known to its
/// bucket's width: 1 s under a minute, 10 s under ten minutes, 1 min above.
const DWELL_BUCKETS: [(i64, i64); 3] = [(60_000, 1_000), (600_000, 10_000), (i64::MAX, 60_000)];

/// The lower bound of the histogram bucket a dwell time falls in.
pub fn dwell_bucket(ms: i64) -> i64 {
    let width = DWELL_BUCKETS
        .iter()
        .find(|(below, _)| ms < *below)
        .map_or(60_000, |(_, width)| *width);
    ms / width * width
}

/// [`dwell_bucket`] as an SQL expression over `column` (integer division on both backends).
pub fn dwell_bucket_sql(column: &str) -> String {
    let mut sql = String::from("CASE");
    for (below, width) in &DWELL_BUCKETS[..DWELL_BUCKETS.len() - 1] {
        sql.push_str(&format!(
            " WHEN {column} < {below} THEN ({column} / {width}) * {width}"
        ));
    }
    let (_, last) = DWELL_BUCKETS[DWELL_BUCKETS.len() - 1];
    sql.push_str(&format!(" ELSE ({column} / {last}) * {last} END"));
    sql
}

/// The median of values counted in histogram buckets `(lower bound, count)`, each value
/// taken as its bucket's lower bound; for an even count, the mean of the two middle values.
/// `None` without values.
pub fn median_of_buckets(buckets: &[(i64, i64)]) -> Option<i64> {
    let mut sorted: Vec<(i64, i64)> = buckets.iter().copied().filter(|(_, n)| *n > 0).collect();
    sorted.sort_unstable();
    let total: i64 = sorted.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let nth = |index: i64| {
        let mut seen = 0;
        for (value, count) in &sorted {
            seen += count;
            if index < seen {
                return *value;
            }
        }
        sorted.last().map_or(0, |(value, _)| *value)
    };
    let (low, high) = (nth((total - 1) / 2), nth(total / 2));
    Some(low + (high - low) / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(raw: &str) -> String {
        normalize_path(raw).unwrap()
    }

    #[test]
    fn query_strings_and_fragments_are_dropped_and_paths_lower_cased() {
        assert_eq!(
            path("/Products/Voyager-55-Spinner?utm=mail#reviews"),
            "/products/voyager-55-spinner"
        );
        assert_eq!(path("/cart#top"), "/cart");
        assert_eq!(path("/?q=ada"), "/");
        assert_eq!(path("/account//addresses/"), "/account/addresses");
    }

    #[test]
    fn ids_numbers_and_order_numbers_become_templates() {
        assert_eq!(path("/orders/LG-7KQ2-9XF4"), "/orders/{number}");
        assert_eq!(
            path("/orders/lg-7kq2-9xf4/payments"),
            "/orders/{number}/payments"
        );
        assert_eq!(
            path("/products/prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10"),
            "/products/{id}"
        );
        assert_eq!(path("/page/2"), "/page/{id}");
        assert_eq!(
            path("/carts/4f1c2a9e-7b3d-4e8a-9c61-2d5f0b8e7a13"),
            "/carts/{id}"
        );
        assert_eq!(path("/reset/Zx81kQ2mP0aLw9"), "/reset/{id}");
        assert_eq!(path("/track/tracking-0123456789"), "/track/{id}");
    }

    #[test]
    fn slugs_and_page_names_stay() {
        assert_eq!(
            path("/products/voyager-55-spinner"),
            "/products/voyager-55-spinner"
        );
        assert_eq!(path("/collections/cabin-bags"), "/collections/cabin-bags");
        assert_eq!(path("/help/faq.html"), "/help/faq.html");
    }

    #[test]
    fn free_text_and_personal_values_never_survive() {
        assert_eq!(path("/search/ada@example.com"), "/search/{param}");
        assert_eq!(path("/search/red%20suitcase"), "/search/{param}");
        assert_eq!(path("/u/+44 20 7946 0958"), "/u/{param}");
        assert_eq!(path("/call/442079460958"), "/call/{id}");
        assert_eq!(path("/pay/4111-1111-1111-1111"), "/pay/{id}");
        let long = format!("/notes/{}", "a".repeat(SEGMENT_MAX + 1));
        assert_eq!(path(&long), "/notes/{param}");
        assert_eq!(path("/ümlaut"), "/{param}");
    }

    #[test]
    fn paths_are_bounded() {
        assert_eq!(path("/a/b/c/d/e/f/g/h/i/j"), "/a/b/c/d/e/f/g/h/{more}");
        let deepest = format!("/{}", vec!["x".repeat(SEGMENT_MAX); 20].join("/"));
        assert!(path(&deepest).len() <= SEGMENTS_MAX * (SEGMENT_MAX + 1) + "/{more}".len());
        assert!(normalize_path(&format!("/{}", "a".repeat(RAW_PATH_MAX))).is_err());
    }

    #[test]
    fn urls_and_relative_paths_are_refused() {
        for bad in [
            "https://shop.example/cart",
            "cart",
            "",
            "//evil.example/x",
            "?q=1",
        ] {
            assert!(normalize_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dwell_is_refused_out_of_range_and_capped_at_an_hour() {
        assert_eq!(bound_dwell(0), Some(0));
        assert_eq!(bound_dwell(42_000), Some(42_000));
        assert_eq!(bound_dwell(7_200_000), Some(DWELL_STORED_MAX_MS));
        assert_eq!(bound_dwell(-1), None);
        assert_eq!(bound_dwell(DWELL_ACCEPTED_MAX_MS + 1), None);
    }

    #[test]
    fn dwell_buckets_are_a_second_a_ten_seconds_and_a_minute_wide() {
        assert_eq!(dwell_bucket(0), 0);
        assert_eq!(dwell_bucket(4_999), 4_000);
        assert_eq!(dwell_bucket(59_999), 59_000);
        assert_eq!(dwell_bucket(60_000), 60_000);
        assert_eq!(dwell_bucket(125_000), 120_000);
        assert_eq!(dwell_bucket(600_000), 600_000);
        assert_eq!(dwell_bucket(659_999), 600_000);
        assert_eq!(dwell_bucket(3_600_000), 3_600_000);
        assert_eq!(
            dwell_bucket_sql("d"),
            "CASE WHEN d < 60000 THEN (d / 1000) * 1000 \
             WHEN d < 600000 THEN (d / 10000) * 10000 ELSE (d / 60000) * 60000 END"
        );
    }

    #[test]
    fn the_median_of_a_histogram() {
        assert_eq!(median_of_buckets(&[]), None);
        assert_eq!(median_of_buckets(&[(5_000, 0)]), None);
        assert_eq!(median_of_buckets(&[(5_000, 1)]), Some(5_000));
        // 2 s, 4 s, 4 s, 9 s, 20 s: the middle value.
        assert_eq!(
            median_of_buckets(&[(20_000, 1), (2_000, 1), (4_000, 2), (9_000, 1)]),
            Some(4_000)
        );
        // An even count: the mean of the two middle values.
        assert_eq!(median_of_buckets(&[(1_000, 1), (2_000, 1)]), Some(1_500));
        assert_eq!(median_of_buckets(&[(1_000, 2), (3_000, 2)]), Some(2_000));
        // Buckets from several days merge by adding counts.
        assert_eq!(
            median_of_buckets(&[(1_000, 3), (1_000, 1), (8_000, 3)]),
            Some(1_000)
        );
    }

    fn batch(events: serde_json::Value) -> Result<Batch, Invalid> {
        let body = serde_json::json!({"session": "session-0123456789", "events": events});
        // Through the edge's JSON reader, as the route reads it: unknown fields are named there.
        match crate::http::extract::parse_json::<EventBatch>(body.to_string().as_bytes()) {
            Ok(batch) => batch.parse(),
            Err(crate::http::error::ApiError::Validation(errors)) => Err(Invalid::Fields(errors)),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    fn fields(result: Result<Batch, Invalid>) -> Vec<String> {
        match result {
            Err(Invalid::Fields(errors)) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn each_type_takes_exactly_its_fields() {
        let ok = batch(serde_json::json!([
            {"type": "page_view", "path": "/cart"},
            {"type": "product_view", "product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10"},
            {"type": "page_leave", "path": "/cart", "dwell_ms": 1500},
        ]))
        .unwrap();
        assert_eq!(ok.events.len(), 3);
        assert_eq!(
            fields(batch(serde_json::json!([
                {"type": "page_view", "path": "/cart"},
                {"type": "page_view"},
                {"type": "page_view", "path": "/x", "dwell_ms": 5},
                {"type": "product_view", "product_id": "voyager"},
                {"type": "page_leave", "path": "/x"},
                {"type": "page_leave", "path": "/x", "dwell_ms": -3},
                {"type": "page_leave", "path": "https://x.example/", "dwell_ms": 3},
            ]))),
            [
                "events[1].path",
                "events[2].dwell_ms",
                "events[3].product_id",
                "events[4].dwell_ms",
                "events[5].dwell_ms",
                "events[6].path"
            ]
        );
    }

    #[test]
    fn unknown_fields_and_types_are_named() {
        assert_eq!(
            fields(batch(
                serde_json::json!([{"type": "page_view", "path": "/", "ip": "1.2.3.4"}])
            )),
            ["events[0].ip"]
        );
        assert_eq!(
            fields(batch(serde_json::json!([{"type": "click", "path": "/"}]))),
            ["events[0].type"]
        );
    }

    #[test]
    fn batches_hold_one_to_a_hundred_events_of_one_valid_session() {
        let view = serde_json::json!({"type": "page_view", "path": "/"});
        assert!(batch(serde_json::json!(vec![view.clone(); MAX_BATCH])).is_ok());
        assert_eq!(
            fields(batch(serde_json::json!(vec![view; MAX_BATCH + 1]))),
            ["events"]
        );
        assert_eq!(fields(batch(serde_json::json!([]))), ["events"]);
        for session in ["short", "has a space in it", &"x".repeat(129)] {
            let body = serde_json::json!({"session": session, "events": [{"type": "page_view", "path": "/"}]});
            let parsed =
                crate::http::extract::parse_json::<EventBatch>(body.to_string().as_bytes())
                    .unwrap()
                    .parse();
            assert_eq!(fields(parsed), ["session"]);
        }
    }
}
