//! The product listing: filters, orders and keyset pagination, one index range scan each.

use diesel::dsl::exists;
use diesel::prelude::*;

use super::rows::{ProductRow, ACTIVE};
use crate::catalog::model::{Feature, Material, SizeClass, Style, Wheels};
use crate::db::schema::{product_terms, products, variants};
use crate::db::DbConnection;

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
    pub wheels: Option<Wheels>,
    /// Every one of these features (sorted, each once, so equal filters print alike).
    pub features: Vec<Feature>,
    /// Any of these brands, exactly as products spell them (sorted, each once).
    pub brands: Vec<String>,
    /// An active variant in any of these colours, exactly as variants spell them (sorted,
    /// each once).
    pub colours: Vec<String>,
    pub max_weight_g: Option<i32>,
    pub min_capacity_l: Option<i32>,
}

/// Active products matching a filter, every column, in no order: the listing pages them,
/// the facets count them.
pub type FilteredQuery =
    products::BoxedQuery<'static, <DbConnection as diesel::Connection>::Backend>;

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
    let mut query = filtered(filter)
        .select(ProductRow::as_select())
        .limit(fetch);
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

/// The filter alone, shared by the listing and its facets.
pub fn filtered(filter: &Filter) -> FilteredQuery {
    let mut query = products::table
        .filter(products::status.eq(ACTIVE))
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
    if let Some(w) = filter.wheels {
        query = query.filter(products::wheels.eq(w.as_str()));
    }
    for f in &filter.features {
        // Stored comma-separated; no feature's name holds another's (a model test says
        // so), so a substring match is exact.
        query = query.filter(products::features.like(format!("%{}%", f.as_str())));
    }
    if !filter.brands.is_empty() {
        query = query.filter(products::brand.eq_any(filter.brands.clone()));
    }
    if !filter.colours.is_empty() {
        query = query.filter(exists(
            variants::table
                .filter(variants::product_id.eq(products::id))
                .filter(variants::status.eq(ACTIVE))
                .filter(variants::color.eq_any(filter.colours.clone())),
        ));
    }
    if let Some(g) = filter.max_weight_g {
        query = query.filter(products::weight_g.le(g));
    }
    if let Some(l) = filter.min_capacity_l {
        query = query.filter(products::capacity_l.ge(l));
    }
    query
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
