//! Catalog queries: listing with filters and keyset pagination, products and variants,
//! stock that never goes negative.

use diesel::dsl::exists;
use diesel::prelude::*;

use super::model::{
    terms, Dimensions, Feature, Features, Images, Material, Money, ProductChanges, ProductDraft,
    ProductStatus, ProductView, SizeClass, Stock, StockDelta, Style, VariantChanges, VariantDraft,
    VariantStatus, VariantView, Wheels,
};
use crate::db::schema::{counters, product_terms, products, variants};
use crate::db::DbConnection;

pub const ACTIVE: &str = "active";
pub const ARCHIVED: &str = "archived";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub brand: String,
    pub description: String,
    pub style: String,
    pub material: String,
    pub wheels: String,
    pub features: String,
    pub warranty_years: i32,
    pub images: String,
    pub height_cm: i32,
    pub width_cm: i32,
    pub depth_cm: i32,
    pub dim_max: i32,
    pub dim_mid: i32,
    pub dim_min: i32,
    pub size_class: String,
    pub weight_g: i32,
    pub capacity_l: i32,
    pub base_price: i64,
    pub min_price: i64,
    pub popularity: i64,
    pub status: String,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = variants)]
pub struct VariantRow {
    pub id: String,
    pub product_id: String,
    pub sku: String,
    pub color: String,
    pub price_override: Option<i64>,
    pub available: i32,
    pub status: String,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl ProductRow {
    /// A new active product at version 1. Its `min_price` starts at the base price; see
    /// [`recompute_min_price`].
    pub fn new(p: &ProductDraft) -> Self {
        let now = crate::db::now();
        let mut row = ProductRow {
            id: crate::ids::new_id("prod"),
            slug: p.slug.as_str().to_owned(),
            name: p.name.as_str().to_owned(),
            brand: p.brand.as_str().to_owned(),
            description: p.description.as_str().to_owned(),
            style: p.style.as_str().to_owned(),
            material: p.material.as_str().to_owned(),
            wheels: p.wheels.as_str().to_owned(),
            features: features_text(&p.features),
            warranty_years: p.warranty.get(),
            images: images_text(&p.images),
            height_cm: 0,
            width_cm: 0,
            depth_cm: 0,
            dim_max: 0,
            dim_mid: 0,
            dim_min: 0,
            size_class: String::new(),
            weight_g: p.weight.get(),
            capacity_l: p.capacity.get(),
            base_price: p.price.amount(),
            min_price: p.price.amount(),
            popularity: 0,
            status: ACTIVE.to_owned(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        row.set_dimensions(p.dimensions);
        row
    }

    /// Applies parsed changes; the version and `updated_at` are the caller's.
    pub fn apply(&mut self, c: ProductChanges) {
        if let Some(v) = c.name {
            self.name = v.into_string();
        }
        if let Some(v) = c.brand {
            self.brand = v.into_string();
        }
        if let Some(v) = c.description {
            self.description = v.into_string();
        }
        if let Some(v) = c.style {
            self.style = v.as_str().to_owned();
        }
        if let Some(v) = c.material {
            self.material = v.as_str().to_owned();
        }
        if let Some(v) = c.wheels {
            self.wheels = v.as_str().to_owned();
        }
        if let Some(v) = c.features {
            self.features = features_text(&v);
        }
        if let Some(v) = c.warranty {
            self.warranty_years = v.get();
        }
        if let Some(v) = c.images {
            self.images = images_text(&v);
        }
        if let Some(v) = c.dimensions {
            self.set_dimensions(v);
        }
        if let Some(v) = c.weight {
            self.weight_g = v.get();
        }
        if let Some(v) = c.capacity {
            self.capacity_l = v.get();
        }
        if let Some(v) = c.price {
            self.base_price = v.amount();
        }
    }

    pub fn dimensions(&self) -> Dimensions {
        Dimensions {
            height: self.height_cm,
            width: self.width_cm,
            depth: self.depth_cm,
        }
    }

    /// Sets the dimensions and everything derived from them.
    pub fn set_dimensions(&mut self, d: Dimensions) {
        let [max, mid, min] = d.sorted();
        self.height_cm = d.height;
        self.width_cm = d.width;
        self.depth_cm = d.depth;
        self.dim_max = max;
        self.dim_mid = mid;
        self.dim_min = min;
        self.size_class = SizeClass::classify(d).as_str().to_owned();
    }

    pub fn view(&self, variants: &[VariantRow], currency: &str) -> ProductView {
        let money = |amount| Money {
            amount,
            currency: currency.to_owned(),
        };
        ProductView {
            id: self.id.clone(),
            slug: self.slug.clone(),
            name: self.name.clone(),
            brand: self.brand.clone(),
            description: self.description.clone(),
            style: Style::parse(&self.style).unwrap_or(Style::Travel),
            material: Material::parse(&self.material).unwrap_or(Material::Polyester),
            wheels: Wheels::parse(&self.wheels).unwrap_or(Wheels::None),
            features: self
                .features
                .split(',')
                .filter_map(Feature::parse)
                .collect(),
            warranty_years: self.warranty_years,
            images: self
                .images
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            size_class: SizeClass::parse(&self.size_class).unwrap_or(SizeClass::Medium),
            dimensions_cm: self.dimensions(),
            weight_g: self.weight_g,
            capacity_l: self.capacity_l,
            price: money(self.min_price),
            variants: variants
                .iter()
                .map(|v| VariantView {
                    id: v.id.clone(),
                    sku: v.sku.clone(),
                    color: v.color.clone(),
                    price: money(v.price_override.unwrap_or(self.base_price)),
                    available: v.available,
                    status: VariantStatus::parse(&v.status).unwrap_or(VariantStatus::Archived),
                })
                .collect(),
            status: ProductStatus::parse(&self.status).unwrap_or(ProductStatus::Archived),
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        }
    }

    pub fn search_terms(&self) -> Vec<String> {
        terms(&[&self.name, &self.brand, &self.description])
    }
}

/// Features as stored: their names, comma-separated (the order [`Features`] keeps).
fn features_text(features: &Features) -> String {
    let names: Vec<&str> = features.as_slice().iter().map(|f| f.as_str()).collect();
    names.join(",")
}

/// Image URLs as stored: one per line (a URL holds no whitespace).
fn images_text(images: &Images) -> String {
    images.as_slice().join("\n")
}

impl VariantRow {
    /// A new active variant of `product_id` at version 1.
    pub fn new(product_id: &str, v: &VariantDraft) -> Self {
        let now = crate::db::now();
        VariantRow {
            id: crate::ids::new_id("var"),
            product_id: product_id.to_owned(),
            sku: v.sku.as_str().to_owned(),
            color: v.color.as_str().to_owned(),
            price_override: v.price.map(|p| p.amount()),
            available: v.available.get(),
            status: ACTIVE.to_owned(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies parsed changes; the version and `updated_at` are the caller's.
    pub fn apply(&mut self, c: VariantChanges) {
        if let Some(v) = c.color {
            self.color = v.into_string();
        }
        if let Some(v) = c.price {
            self.price_override = v.map(|p| p.amount());
        }
    }
}

/// The order of the product listing. Each is a total order (ties broken by id) for keyset
/// pagination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = ProductSort)]
pub enum Sort {
    /// Newest first (the default).
    #[schema(rename = "newest")]
    Newest,
    /// Most viewed over the last 30 days first (anonymous analytics aggregates); ties, and
    /// products never viewed, newest first.
    #[schema(rename = "popular")]
    Popular,
    /// Cheapest first.
    #[schema(rename = "price")]
    Price,
    /// Most expensive first.
    #[schema(rename = "-price")]
    PriceDesc,
}

/// `?sort=` as the listing takes it: one of [`Sort::as_str`]'s names, refused with the same
/// message whatever else is sent.
impl<'de> serde::Deserialize<'de> for Sort {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Sort::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom("must be newest, price, -price or popular"))
    }
}

impl Sort {
    pub fn parse(s: &str) -> Option<Sort> {
        match s {
            "newest" => Some(Sort::Newest),
            "popular" => Some(Sort::Popular),
            "price" => Some(Sort::Price),
            "-price" => Some(Sort::PriceDesc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Popular => "popular",
            Sort::Price => "price",
            Sort::PriceDesc => "-price",
        }
    }

    /// The cursor key of a row in this order.
    pub fn key(self, row: &ProductRow) -> String {
        match self {
            Sort::Newest => row.id.clone(),
            Sort::Popular => format!("{}|{}", row.popularity, row.id),
            Sort::Price | Sort::PriceDesc => format!("{}|{}", row.min_price, row.id),
        }
    }
}

/// Where a page continues: after the row with this sort value and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub value: i64,
    pub id: String,
}

impl After {
    pub fn parse(sort: Sort, key: &str) -> Option<After> {
        match sort {
            Sort::Newest => Some(After {
                value: 0,
                id: key.to_owned(),
            }),
            _ => {
                let (value, id) = key.split_once('|')?;
                Some(After {
                    value: value.parse().ok()?,
                    id: id.to_owned(),
                })
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Every term must prefix-match a word of the product.
    pub terms: Vec<String>,
    pub size_class: Option<SizeClass>,
    pub style: Option<Style>,
    pub material: Option<Material>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: Option<bool>,
    /// A box the luggage must fit in (sorted, longest first).
    pub fits: Option<[i32; 3]>,
}

/// The listing query as diesel builds it: what [`list`] runs, and what the plan tests explain.
pub type ListingQuery = products::BoxedQuery<
    'static,
    <DbConnection as diesel::Connection>::Backend,
    diesel::dsl::SqlTypeOf<
        diesel::dsl::AsSelect<ProductRow, <DbConnection as diesel::Connection>::Backend>,
    >,
>;

/// One page of active products (plus one extra row telling whether more exist).
pub fn list(
    conn: &mut DbConnection,
    filter: &Filter,
    sort: Sort,
    after: Option<&After>,
    fetch: i64,
) -> QueryResult<Vec<ProductRow>> {
    listing_query(filter, sort, after, fetch).load(conn)
}

/// The query behind [`list`]. Every filter and sort is meant to be a range scan of one index
/// (migrations `…000003_catalog` and `…000008_catalog_indexes`; `tests/api/catalog_plans.rs`
/// asks both backends for the plan of each): `status` and at most one attribute are
/// equalities, and the sort key follows them in the index, so rows come out in order.
pub fn listing_query(
    filter: &Filter,
    sort: Sort,
    after: Option<&After>,
    fetch: i64,
) -> ListingQuery {
    let mut query = products::table
        .filter(products::status.eq(ACTIVE))
        .select(ProductRow::as_select())
        .limit(fetch)
        .into_boxed();
    for term in &filter.terms {
        // A prefix range, so the (term, product_id) primary key serves it on both backends.
        let upper = format!("{term}\u{10FFFF}");
        query = query.filter(
            products::id.eq_any(
                product_terms::table
                    .filter(product_terms::term.ge(term.clone()))
                    .filter(product_terms::term.lt(upper))
                    .select(product_terms::product_id),
            ),
        );
    }
    if let Some(c) = filter.size_class {
        query = query.filter(products::size_class.eq(c.as_str()));
    }
    if let Some(s) = filter.style {
        query = query.filter(products::style.eq(s.as_str()));
    }
    if let Some(m) = filter.material {
        query = query.filter(products::material.eq(m.as_str()));
    }
    if let Some(p) = filter.min_price {
        query = query.filter(products::min_price.ge(p));
    }
    if let Some(p) = filter.max_price {
        query = query.filter(products::min_price.le(p));
    }
    if let Some([a, b, c]) = filter.fits {
        query = query
            .filter(products::dim_max.le(a))
            .filter(products::dim_mid.le(b))
            .filter(products::dim_min.le(c));
    }
    if let Some(in_stock) = filter.in_stock {
        let stocked = exists(
            variants::table
                .filter(variants::product_id.eq(products::id))
                .filter(variants::status.eq(ACTIVE))
                .filter(variants::available.gt(0)),
        );
        query = if in_stock {
            query.filter(stocked)
        } else {
            query.filter(diesel::dsl::not(stocked))
        };
    }
    // The keyset condition "(value, id) after (a.value, a.id)" is written with the sort
    // column bounded on its own (`value <= a.value AND (value < a.value OR id < a.id)`, same
    // rows as the plain OR): given the OR alone, with bound values, neither backend seeks
    // the index to the cursor, and each page walks again every row before it.
    query = match (sort, after) {
        (Sort::Newest, Some(a)) => query.filter(products::id.lt(a.id.clone())),
        (Sort::Popular, Some(a)) => query.filter(
            products::popularity.le(a.value).and(
                products::popularity
                    .lt(a.value)
                    .or(products::id.lt(a.id.clone())),
            ),
        ),
        (Sort::Price, Some(a)) => query.filter(
            products::min_price.ge(a.value).and(
                products::min_price
                    .gt(a.value)
                    .or(products::id.gt(a.id.clone())),
            ),
        ),
        (Sort::PriceDesc, Some(a)) => query.filter(
            products::min_price.le(a.value).and(
                products::min_price
                    .lt(a.value)
                    .or(products::id.lt(a.id.clone())),
            ),
        ),
        (_, None) => query,
    };
    query = match sort {
        Sort::Newest => query.order(products::id.desc()),
        Sort::Popular => query.order((products::popularity.desc(), products::id.desc())),
        Sort::Price => query.order((products::min_price.asc(), products::id.asc())),
        Sort::PriceDesc => query.order((products::min_price.desc(), products::id.desc())),
    };
    query
}

/// Variants of these products, grouped per product in `ids` order.
pub fn variants_of(
    conn: &mut DbConnection,
    ids: &[String],
    only_active: bool,
) -> QueryResult<Vec<Vec<VariantRow>>> {
    let mut query = variants::table
        .filter(variants::product_id.eq_any(ids))
        .order((variants::product_id, variants::sku))
        .select(VariantRow::as_select())
        .into_boxed();
    if only_active {
        query = query.filter(variants::status.eq(ACTIVE));
    }
    let rows = query.load(conn)?;
    Ok(ids
        .iter()
        .map(|id| {
            rows.iter()
                .filter(|v| &v.product_id == id)
                .cloned()
                .collect()
        })
        .collect())
}

/// A product by `prod_…` id or by slug, archived ones included (past orders show them).
pub fn find(conn: &mut DbConnection, id_or_slug: &str) -> QueryResult<Option<ProductRow>> {
    let query = products::table.select(ProductRow::as_select());
    if id_or_slug.starts_with("prod_") {
        query
            .filter(products::id.eq(id_or_slug))
            .first(conn)
            .optional()
    } else {
        query
            .filter(products::slug.eq(id_or_slug))
            .first(conn)
            .optional()
    }
}

pub fn get_variant(conn: &mut DbConnection, id: &str) -> QueryResult<Option<VariantRow>> {
    variants::table
        .find(id)
        .select(VariantRow::as_select())
        .first(conn)
        .optional()
}

/// Tells every instance that cached catalog responses are stale.
pub fn bump_catalog_version(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(counters::table.find("catalog"))
        .set(counters::value.eq(counters::value + 1))
        .execute(conn)?;
    Ok(())
}

pub fn catalog_version(conn: &mut DbConnection) -> QueryResult<i64> {
    counters::table
        .find("catalog")
        .select(counters::value)
        .first(conn)
}

fn replace_terms(conn: &mut DbConnection, row: &ProductRow) -> QueryResult<()> {
    diesel::delete(product_terms::table.filter(product_terms::product_id.eq(&row.id)))
        .execute(conn)?;
    // One row at a time: multi-row inserts do not compile on the multi-backend connection.
    for term in row.search_terms() {
        diesel::insert_into(product_terms::table)
            .values((
                product_terms::term.eq(term),
                product_terms::product_id.eq(&row.id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The cheapest active variant's price, or the base price when none is active.
pub fn recompute_min_price(conn: &mut DbConnection, product_id: &str) -> QueryResult<()> {
    let base: i64 = products::table
        .find(product_id)
        .select(products::base_price)
        .first(conn)?;
    let overrides: Vec<Option<i64>> = variants::table
        .filter(variants::product_id.eq(product_id))
        .filter(variants::status.eq(ACTIVE))
        .select(variants::price_override)
        .load(conn)?;
    let min = overrides
        .into_iter()
        .map(|o| o.unwrap_or(base))
        .min()
        .unwrap_or(base);
    diesel::update(products::table.find(product_id))
        .set(products::min_price.eq(min))
        .execute(conn)?;
    Ok(())
}

/// Inserts a product with its variants and search terms (caller's transaction); returns
/// its id.
pub fn insert_product(conn: &mut DbConnection, product: &ProductDraft) -> QueryResult<String> {
    let row = ProductRow::new(product);
    let variants: Vec<VariantRow> = product
        .variants
        .iter()
        .map(|v| VariantRow::new(&row.id, v))
        .collect();
    insert_product_rows(conn, &row, &variants)?;
    recompute_min_price(conn, &row.id)?;
    bump_catalog_version(conn)?;
    Ok(row.id)
}

/// The rows alone, for bulk loads that set `min_price` themselves and bump the catalog
/// version once at the end.
pub fn insert_product_rows(
    conn: &mut DbConnection,
    row: &ProductRow,
    variants: &[VariantRow],
) -> QueryResult<()> {
    diesel::insert_into(products::table)
        .values(row)
        .execute(conn)?;
    for v in variants {
        diesel::insert_into(variants::table)
            .values(v)
            .execute(conn)?;
    }
    for term in row.search_terms() {
        diesel::insert_into(product_terms::table)
            .values((
                product_terms::term.eq(term),
                product_terms::product_id.eq(&row.id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn existing_slugs(conn: &mut DbConnection) -> QueryResult<std::collections::HashSet<String>> {
    Ok(products::table
        .select(products::slug)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// Records why stock changed (inventory trail; not personal data).
pub fn record_stock_movement(
    conn: &mut DbConnection,
    variant_id: &str,
    delta: i32,
    reason: &str,
    actor_id: &str,
) -> QueryResult<()> {
    use crate::db::schema::stock_movements;
    diesel::insert_into(stock_movements::table)
        .values((
            stock_movements::id.eq(crate::ids::new_id("stm")),
            stock_movements::variant_id.eq(variant_id),
            stock_movements::delta.eq(delta),
            stock_movements::reason.eq(reason),
            stock_movements::actor_id.eq(actor_id),
            stock_movements::at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Writes a changed product if it is still at `expected_version`; false when it moved on.
pub fn update_product(
    conn: &mut DbConnection,
    row: &ProductRow,
    expected_version: i32,
) -> QueryResult<bool> {
    let updated = diesel::update(
        products::table
            .filter(products::id.eq(&row.id))
            .filter(products::version.eq(expected_version)),
    )
    .set(row)
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    replace_terms(conn, row)?;
    recompute_min_price(conn, &row.id)?;
    bump_catalog_version(conn)?;
    Ok(true)
}

/// Adds a variant to a product (caller's transaction); returns its id.
pub fn insert_variant(
    conn: &mut DbConnection,
    product_id: &str,
    variant: &VariantDraft,
) -> QueryResult<String> {
    let v = VariantRow::new(product_id, variant);
    diesel::insert_into(variants::table)
        .values(&v)
        .execute(conn)?;
    recompute_min_price(conn, &v.product_id)?;
    bump_catalog_version(conn)?;
    Ok(v.id)
}

/// Writes a changed variant if it is still at `expected_version`.
pub fn update_variant(
    conn: &mut DbConnection,
    v: &VariantRow,
    expected_version: i32,
) -> QueryResult<bool> {
    let updated = diesel::update(
        variants::table
            .filter(variants::id.eq(&v.id))
            .filter(variants::version.eq(expected_version)),
    )
    .set((
        variants::color.eq(&v.color),
        variants::price_override.eq(v.price_override),
        variants::status.eq(&v.status),
        variants::version.eq(v.version),
        variants::updated_at.eq(v.updated_at),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    recompute_min_price(conn, &v.product_id)?;
    bump_catalog_version(conn)?;
    Ok(true)
}

/// Sets the stock of a variant; returns the previous level, `None` when there is no such
/// variant.
pub fn set_stock(conn: &mut DbConnection, id: &str, available: Stock) -> QueryResult<Option<i32>> {
    let Some(previous) = get_variant(conn, id)?.map(|v| v.available) else {
        return Ok(None);
    };
    diesel::update(variants::table.find(id))
        .set((
            variants::available.eq(available.get()),
            variants::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    bump_catalog_version(conn)?;
    Ok(Some(previous))
}

/// Adds `delta` units to a variant's stock if the result stays a [`Stock`] (0 to
/// `MAX_STOCK`); false, and nothing changed, otherwise. The condition lives in the UPDATE
/// itself, so concurrent adjustments and checkouts (in any process) can interleave without
/// ever overselling.
pub fn adjust_stock(conn: &mut DbConnection, id: &str, delta: StockDelta) -> QueryResult<bool> {
    let (delta, max) = (delta.get(), Stock::MAX);
    let n = diesel::update(
        variants::table
            .filter(variants::id.eq(id))
            .filter(variants::available.ge(-delta))
            .filter(variants::available.le(max - delta)),
    )
    .set((
        variants::available.eq(variants::available + delta),
        variants::updated_at.eq(crate::db::now()),
    ))
    .execute(conn)?;
    if n == 1 {
        bump_catalog_version(conn)?;
    }
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::Sort;
    use crate::http::error::ApiError;
    use crate::http::extract::parse_query;

    #[derive(Debug, serde::Deserialize)]
    struct Params {
        sort: Option<Sort>,
    }

    #[test]
    fn sort_takes_its_four_names_and_refuses_others_in_the_same_words() {
        for sort in [Sort::Newest, Sort::Popular, Sort::Price, Sort::PriceDesc] {
            let params: Params = parse_query(&format!("sort={}", sort.as_str())).unwrap();
            assert_eq!(params.sort, Some(sort));
        }
        assert_eq!(parse_query::<Params>("").unwrap().sort, None);
        for bad in ["sort=cheapest", "sort=", "sort=Price"] {
            match parse_query::<Params>(bad) {
                Err(ApiError::Validation(errors)) => {
                    assert_eq!(errors[0].field, "sort");
                    assert_eq!(
                        errors[0].message,
                        "must be newest, price, -price or popular"
                    );
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
