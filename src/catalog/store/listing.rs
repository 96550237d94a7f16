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

impl Filter {
    /// Appends to `key` a short text that two filters share exactly when they are equal: the
    /// response cache's key. Only the fields that are set are written, each behind its own tag;
    /// free text (terms, brands, colours) is length-prefixed so no value can pass for another.
    /// Formatting the whole struct with `Debug` cost ~6,000 instructions on every listing
    /// request, a tenth of a cached page's whole cost.
    pub fn write_key(&self, key: &mut String) {
        fn text(key: &mut String, tag: char, values: &[String]) {
            for value in values {
                key.push(tag);
                key.push_str(itoa::Buffer::new().format(value.len()));
                key.push(':');
                key.push_str(value);
            }
        }
        fn number(key: &mut String, tag: char, value: Option<impl itoa::Integer>) {
            if let Some(value) = value {
                key.push(tag);
                key.push_str(itoa::Buffer::new().format(value));
            }
        }
        fn word(key: &mut String, tag: char, value: Option<&str>) {
            if let Some(value) = value {
                key.push(tag);
                key.push_str(value);
            }
        }
        text(key, 't', &self.terms);
        word(key, 's', self.size_class.map(SizeClass::as_str));
        word(key, 'y', self.style.map(Style::as_str));
        word(key, 'm', self.material.map(Material::as_str));
        number(key, 'p', self.min_price);
        number(key, 'P', self.max_price);
        word(key, 'i', self.in_stock.map(|v| if v { "1" } else { "0" }));
        if let Some([l, w, h]) = self.fits {
            number(key, 'f', Some(l));
            number(key, 'x', Some(w));
            number(key, 'x', Some(h));
        }
        word(key, 'w', self.wheels.map(Wheels::as_str));
        for feature in &self.features {
            word(key, 'e', Some(feature.as_str()));
        }
        text(key, 'b', &self.brands);
        text(key, 'c', &self.colours);
        number(key, 'g', self.max_weight_g);
        number(key, 'l', self.min_capacity_l);
    }
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
    use super::{Filter, Sort};
    use crate::catalog::model::{Feature, Material, SizeClass, Style, Wheels};
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

    fn key(filter: &Filter) -> String {
        let mut key = String::new();
        filter.write_key(&mut key);
        key
    }

    #[test]
    fn cache_keys_of_filters_differ_exactly_when_the_filters_do() {
        let empty = Filter::default();
        let one_of_each = Filter {
            terms: vec!["cabin".into()],
            size_class: Some(SizeClass::Cabin),
            style: Some(Style::Travel),
            material: Some(Material::Polycarbonate),
            min_price: Some(100),
            max_price: Some(20_000),
            in_stock: Some(true),
            fits: Some([55, 40, 23]),
            wheels: Some(Wheels::Four),
            features: vec![Feature::TsaLock],
            brands: vec!["Acme".into()],
            colours: vec!["red".into()],
            max_weight_g: Some(3_000),
            min_capacity_l: Some(30),
        };
        assert_eq!(key(&empty), "");
        assert_eq!(key(&one_of_each), key(&one_of_each.clone()));
        // Each field on its own gives a key of its own.
        let singles = [
            Filter {
                terms: one_of_each.terms.clone(),
                ..Filter::default()
            },
            Filter {
                size_class: one_of_each.size_class,
                ..Filter::default()
            },
            Filter {
                style: one_of_each.style,
                ..Filter::default()
            },
            Filter {
                material: one_of_each.material,
                ..Filter::default()
            },
            Filter {
                min_price: Some(20_000),
                ..Filter::default()
            },
            Filter {
                max_price: Some(20_000),
                ..Filter::default()
            },
            Filter {
                in_stock: Some(true),
                ..Filter::default()
            },
            Filter {
                in_stock: Some(false),
                ..Filter::default()
            },
            Filter {
                fits: one_of_each.fits,
                ..Filter::default()
            },
            Filter {
                wheels: one_of_each.wheels,
                ..Filter::default()
            },
            Filter {
                features: one_of_each.features.clone(),
                ..Filter::default()
            },
            Filter {
                brands: vec!["red".into()],
                ..Filter::default()
            },
            Filter {
                colours: vec!["red".into()],
                ..Filter::default()
            },
            Filter {
                max_weight_g: Some(30),
                ..Filter::default()
            },
            Filter {
                min_capacity_l: Some(30),
                ..Filter::default()
            },
            one_of_each,
        ];
        let keys: std::collections::HashSet<String> = singles.iter().map(key).collect();
        assert_eq!(keys.len(), singles.len(), "{keys:?}");
        // Free text cannot pass for another field or another split of the same letters.
        let brand_like_colour = Filter {
            brands: vec!["1:c".into()],
            ..Filter::default()
        };
        let two_brands = Filter {
            brands: vec!["a".into(), "b".into()],
            ..Filter::default()
        };
        let one_brand = Filter {
            brands: vec!["ab".into()],
            ..Filter::default()
        };
        assert_ne!(key(&two_brands), key(&one_brand));
        assert_ne!(
            key(&brand_like_colour),
            key(&Filter {
                brands: vec!["1".into()],
                colours: vec!["c".into()],
                ..Filter::default()
            })
        );
    }
}
