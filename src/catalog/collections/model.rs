//! Collections: what a manager sends (as sent and as parsed) and what readers are shown.
//! No SQL; of HTTP only the shapes of the bodies (serde and their OpenAPI schemas).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::model::{
    product_example, ProductStatus, ProductView, ScreenedText, Slug, Text,
};
use crate::invalid::Invalid;

/// A collection's title.
pub type Title = Text<120>;
/// A collection's description.
pub type CollectionDescription = ScreenedText<2000>;

/// The most products one collection holds: the largest listing page, so a collection is
/// always answered whole.
pub const MAX_PRODUCTS: usize = 100;

/// A collection as a manager writes it (created, or replaced whole).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "slug": "cabin-bestsellers", "title": "Cabin bestsellers",
    "description": "The cases that fit every airline's cabin, as our customers choose them.",
    "active": true, "products": ["voyager-55-spinner", "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a11"]
}))]
pub struct CollectionInput {
    /// URL-safe handle, unique among collections: 1–100 lower-case letters, digits and
    /// single dashes, neither first nor last. Required on create; on replace absent, or the
    /// slug in the path (a collection is not renamed).
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[a-z0-9]+(?:-[a-z0-9]+)*$",
        example = "cabin-bestsellers"
    )]
    pub slug: Option<String>,
    /// 1–120 characters (trimmed; no control characters).
    #[schema(min_length = 1, max_length = 120, example = "Cabin bestsellers")]
    pub title: String,
    /// Plain text, 1–2,000 characters (trimmed; line breaks allowed); omit or `null` for
    /// none. Card, bank or identity-document numbers are refused.
    #[schema(min_length = 1, max_length = 2000)]
    pub description: Option<String>,
    /// Whether shoppers see it (`GET /v1/collections…`).
    pub active: bool,
    /// Its products in the order shoppers see them: each a `prod_…` id or a product slug,
    /// at most 100, each product once. Archived products may stay in the list; shoppers do
    /// not see them.
    #[schema(max_items = 100, example = json!(["voyager-55-spinner"]))]
    pub products: Vec<String>,
}

/// A product as a manager names it in a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductRef {
    Id(String),
    Slug(String),
}

/// A collection, parsed; its products still to be found.
#[derive(Debug, Clone)]
pub struct CollectionDraft {
    pub slug: Slug,
    pub title: Title,
    pub description: Option<CollectionDescription>,
    pub active: bool,
    pub products: Vec<ProductRef>,
}

impl CollectionInput {
    /// `path` is the slug in the path on replace (`None` on create).
    pub fn parse(self, path: Option<&str>) -> Result<CollectionDraft, Invalid> {
        let slug = match (self.slug.as_deref(), path) {
            (Some(s), Some(p)) if s != p => {
                return Err(Invalid::field(
                    "slug",
                    "must be absent or the slug in the path",
                ))
            }
            (_, Some(p)) => Slug::parse("slug", p)?,
            (Some(s), None) => Slug::parse("slug", s)?,
            (None, None) => return Err(Invalid::field("slug", "is required")),
        };
        let title = Title::parse("title", &self.title)?;
        let description = self
            .description
            .map(|d| CollectionDescription::parse("description", &d))
            .transpose()?;
        if self.products.len() > MAX_PRODUCTS {
            return Err(Invalid::field("products", "at most 100 products"));
        }
        let products = self
            .products
            .iter()
            .enumerate()
            .map(|(i, raw)| ProductRef::parse(&format!("products[{i}]"), raw))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CollectionDraft {
            slug,
            title,
            description,
            active: self.active,
            products,
        })
    }
}

impl ProductRef {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if raw.starts_with("prod_")
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Ok(Self::Id(raw.to_owned()));
        }
        Slug::parse(field, raw)
            .map(|s| Self::Slug(s.as_str().to_owned()))
            .map_err(|_| Invalid::field(field, "must be a product's `prod_…` id or slug"))
    }
}

/// The products of a draft, found: their ids in the manager's order. `found` answers a
/// reference's product id, `None` when no product has it. Unknown and repeated products
/// are refused, each named by its place in the list.
pub fn resolve(
    refs: &[ProductRef],
    found: impl Fn(&ProductRef) -> Option<String>,
) -> Result<Vec<String>, Invalid> {
    let mut ids: Vec<String> = Vec::with_capacity(refs.len());
    for (i, r) in refs.iter().enumerate() {
        let field = format!("products[{i}]");
        let id = found(r).ok_or_else(|| Invalid::field(&field, "is not a product"))?;
        if ids.contains(&id) {
            return Err(Invalid::field(field, "names a product already in the list"));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// An active collection in the public list.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!(summary_example()))]
pub struct CollectionSummary {
    /// Its handle: `GET /v1/collections/{slug}` shows it with its products.
    #[schema(example = "cabin-bestsellers")]
    pub slug: String,
    /// Its title, as a heading for its page.
    #[schema(example = "Cabin bestsellers")]
    pub title: String,
    /// Plain text; may hold line breaks. `null` when it has none.
    pub description: Option<String>,
    /// When a manager last changed it (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

fn summary_example() -> serde_json::Value {
    serde_json::json!({
        "slug": "cabin-bestsellers", "title": "Cabin bestsellers",
        "description": "The cases that fit every airline's cabin, as our customers choose them.",
        "updated_at": "2026-12-08T10:00:00Z"
    })
}

/// The active collections.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [summary_example()]}))]
pub struct CollectionList {
    /// Every active collection, by slug.
    pub data: Vec<CollectionSummary>,
}

/// An active collection with its active products in the manager's order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "slug": "cabin-bestsellers", "title": "Cabin bestsellers",
    "description": "The cases that fit every airline's cabin, as our customers choose them.",
    "updated_at": "2026-12-08T10:00:00Z",
    "products": [product_example()]
}))]
pub struct CollectionView {
    /// Its handle.
    #[schema(example = "cabin-bestsellers")]
    pub slug: String,
    /// Its title, as a heading for its page.
    #[schema(example = "Cabin bestsellers")]
    pub title: String,
    /// Plain text; may hold line breaks. `null` when it has none.
    pub description: Option<String>,
    /// When a manager last changed it (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
    /// Its active products in the manager's order, as the product listing shows them (active
    /// variants only); archived products are left out.
    #[schema(max_items = 100)]
    pub products: Vec<ProductView>,
}

/// A product of a collection, as managers see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CollectionProduct {
    /// The product's `prod_…` id.
    #[schema(example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub id: String,
    /// The product's slug.
    #[schema(example = "voyager-55-spinner")]
    pub slug: String,
    /// The product's name.
    #[schema(example = "Voyager 55 Spinner")]
    pub name: String,
    /// `archived` products stay in the list but shoppers do not see them.
    pub status: ProductStatus,
}

/// A collection as managers see it: inactive or not, every product it names.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "col_0193a7c25b7e7d1a9c1e2f6c1f7e9a20", "slug": "cabin-bestsellers",
    "title": "Cabin bestsellers",
    "description": "The cases that fit every airline's cabin, as our customers choose them.",
    "active": true,
    "products": [{"id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "slug": "voyager-55-spinner",
                  "name": "Voyager 55 Spinner", "status": "active"}],
    "created_at": "2026-12-08T09:00:00Z", "updated_at": "2026-12-08T10:00:00Z"
}))]
pub struct CollectionAdminView {
    /// The collection's `col_…` id.
    #[schema(example = "col_0193a7c25b7e7d1a9c1e2f6c1f7e9a20")]
    pub id: String,
    /// Its handle, unique among collections.
    #[schema(example = "cabin-bestsellers")]
    pub slug: String,
    /// Its title.
    #[schema(example = "Cabin bestsellers")]
    pub title: String,
    /// Plain text; `null` when it has none.
    pub description: Option<String>,
    /// Whether shoppers see it.
    pub active: bool,
    /// Every product it names, in the manager's order.
    #[schema(max_items = 100)]
    pub products: Vec<CollectionProduct>,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(products: &[&str]) -> CollectionInput {
        CollectionInput {
            slug: Some("cabin".into()),
            title: " Cabin ".into(),
            description: None,
            active: true,
            products: products.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn products_are_named_by_id_or_slug_and_bad_ones_by_place() {
        let draft = input(&["prod_abc", "voyager-55"]).parse(None).unwrap();
        assert_eq!(draft.title.as_str(), "Cabin");
        assert_eq!(
            draft.products,
            [
                ProductRef::Id("prod_abc".into()),
                ProductRef::Slug("voyager-55".into())
            ]
        );
        assert_eq!(
            input(&["ok", "Not A Slug"]).parse(None).unwrap_err(),
            Invalid::field("products[1]", "must be a product's `prod_…` id or slug")
        );
        assert_eq!(
            input(&["a"; 101]).parse(None).unwrap_err(),
            Invalid::field("products", "at most 100 products")
        );
    }

    #[test]
    fn a_replace_keeps_the_slug_of_its_path() {
        assert!(input(&[]).parse(Some("cabin")).is_ok());
        assert_eq!(
            input(&[]).parse(Some("other")).unwrap_err(),
            Invalid::field("slug", "must be absent or the slug in the path")
        );
        let mut no_slug = input(&[]);
        no_slug.slug = None;
        assert!(no_slug.clone().parse(Some("cabin")).is_ok());
        assert_eq!(
            no_slug.parse(None).unwrap_err(),
            Invalid::field("slug", "is required")
        );
    }

    #[test]
    fn unknown_and_repeated_products_are_refused_by_place() {
        let refs = [
            ProductRef::Slug("a".into()),
            ProductRef::Id("prod_a".into()),
            ProductRef::Slug("b".into()),
        ];
        let known = |r: &ProductRef| match r {
            ProductRef::Slug(s) if s == "a" => Some("prod_a".to_owned()),
            ProductRef::Id(i) => Some(i.clone()),
            _ => None,
        };
        assert_eq!(
            resolve(&refs, known).unwrap_err(),
            Invalid::field("products[1]", "names a product already in the list")
        );
        assert_eq!(
            resolve(&refs[1..], known).unwrap_err(),
            Invalid::field("products[1]", "is not a product")
        );
        assert_eq!(resolve(&refs[..1], known).unwrap(), ["prod_a"]);
    }
}
