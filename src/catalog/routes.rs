//! `GET /v1/products`, `GET /v1/products/{id_or_slug}`: the public catalogue.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::cached::CachedRead;
use super::model::{
    terms, Dimensions, Feature, Material, ProductList, ProductView, SizeClass, Style, Wheels,
};
use super::store::{self, After, Filter, Sort};
use crate::config::Shop;
use crate::db::DbConnection;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::parse_query;
use crate::http::pagination::{encode_cursor, PageQuery};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(get_product);
}

/// Filters, order and page of the product listing.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Words to find in name, brand or description (each word of two or more letters or
    /// digits matches word prefixes; at most 8 distinct words are used). At most 100 characters once
    /// surrounding spaces are trimmed.
    #[param(max_length = 100, example = "spinner")]
    pub q: Option<String>,
    /// Only luggage of this size class.
    pub size_class: Option<SizeClass>,
    /// Only luggage of this style.
    pub style: Option<Style>,
    /// Only luggage of this shell or body material.
    pub material: Option<Material>,
    /// Lowest price in minor units (cents), compared with the cheapest active variant.
    #[param(minimum = 0, example = 5000)]
    pub min_price: Option<i64>,
    /// Highest price in minor units (cents), compared with the cheapest active variant; not
    /// below `min_price`.
    #[param(minimum = 0, example = 20000)]
    pub max_price: Option<i64>,
    /// `true`: only products with a variant in stock; `false`: only products with none.
    pub in_stock: Option<bool>,
    /// A box `LxWxH` in whole centimetres (each 1–500, any order, separated by `x`): only
    /// luggage that fits in it in some orientation, e.g. an airline's cabin limit.
    #[param(
        pattern = r"^(?:[\s\u0085]*\+?0*(?:[1-9][0-9]?|[1-4][0-9]{2}|500)[\s\u0085]*[xX×]){2}[\s\u0085]*\+?0*(?:[1-9][0-9]?|[1-4][0-9]{2}|500)[\s\u0085]*$",
        example = "55x40x23"
    )]
    pub fits: Option<String>,
    /// Only luggage with these wheels.
    pub wheels: Option<Wheels>,
    /// Only luggage weighing at most this many grams (empty weight).
    #[param(minimum = 0, example = 3000)]
    pub max_weight_g: Option<i32>,
    /// Only luggage holding at least this many litres.
    #[param(minimum = 0, example = 40)]
    pub min_capacity_l: Option<i32>,
    /// `true`: the answer carries `facets`, counts over the whole result (all pages) per
    /// brand, wheels, feature, colour and weight and capacity bound. Default `false`.
    pub facets: Option<bool>,
    /// The order: `newest` (default), `price` (cheapest first), `-price` (most expensive
    /// first), or `popular`: product views over the last 30 days (today included) from the
    /// anonymous analytics aggregates, refreshed by each roll-up (every minute by default);
    /// ties, and products never viewed, newest first.
    #[param(inline, example = "price")]
    pub sort: Option<Sort>,
    /// Products per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page, with the same filters and order; omit for the
    /// first page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// The repeatable filters of the product listing: each parameter may be given several times
/// (`feature=tsa_lock&feature=expandable`), at most 20 times.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRepeated {
    /// Only luggage with every one of these features.
    #[param(inline, required = false, style = Form, explode, max_items = 20)]
    pub feature: Vec<Feature>,
    /// Only luggage of any of these brands, spelt exactly as products show it (each 1–60
    /// characters); an unknown brand finds nothing.
    #[param(required = false, style = Form, explode, max_items = 20, example = json!(["Valise"]))]
    pub brand: Vec<String>,
    /// Only luggage with an active variant in any of these colours, spelt exactly as
    /// variants show it (each 1–40 characters); an unknown colour finds nothing.
    #[param(required = false, style = Form, explode, max_items = 20, example = json!(["black"]))]
    pub colour: Vec<String>,
}

/// Most values one repeatable filter takes.
const MAX_REPEATS: usize = 20;

/// Longest query string a listing is cached under as it is (see [`list`]).
const EXACT_KEY_MAX: usize = 256;

impl ListRepeated {
    /// Takes the repeatable parameters out of a query string; answers them with the rest,
    /// for [`ListQuery`].
    fn split(query: &str) -> Result<(ListRepeated, String), ApiError> {
        let mut repeated = ListRepeated::default();
        let mut rest = form_urlencoded::Serializer::new(String::new());
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let (values, max_chars) = match &*name {
                "feature" => {
                    let feature = Feature::parse(value.trim())
                        .ok_or_else(|| ApiError::validation("feature", feature_choices()))?;
                    repeated.feature.push(feature);
                    if repeated.feature.len() > MAX_REPEATS {
                        return Err(ApiError::validation("feature", "at most 20 values"));
                    }
                    continue;
                }
                "brand" => (&mut repeated.brand, 60),
                "colour" => (&mut repeated.colour, 40),
                _ => {
                    rest.append_pair(&name, &value);
                    continue;
                }
            };
            let value = value.trim();
            if value.is_empty()
                || value.chars().count() > max_chars
                || value.chars().any(char::is_control)
            {
                return Err(ApiError::validation(
                    name.into_owned(),
                    format!("must be 1–{max_chars} characters without control characters"),
                ));
            }
            values.push(value.to_owned());
            if values.len() > MAX_REPEATS {
                return Err(ApiError::validation(name.into_owned(), "at most 20 values"));
            }
        }
        for values in [&mut repeated.brand, &mut repeated.colour] {
            values.sort();
            values.dedup();
        }
        repeated.feature.sort_by_key(|f| f.as_str());
        repeated.feature.dedup();
        Ok((repeated, rest.finish()))
    }
}

fn feature_choices() -> String {
    let names: Vec<&str> = Feature::ALL.iter().map(|f| f.as_str()).collect();
    format!("must be one of {}", names.join(", "))
}

impl ListQuery {
    fn parse(self, repeated: ListRepeated) -> Result<(Filter, Sort, PageQuery), ApiError> {
        let sort = self.sort.unwrap_or(Sort::Newest);
        let terms = match self.q.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(q) if q.chars().count() > 100 => {
                return Err(ApiError::validation("q", "must be at most 100 characters"))
            }
            Some(q) => {
                let t = terms(&[q]);
                if t.is_empty() {
                    return Err(ApiError::validation(
                        "q",
                        "needs a word of at least two letters",
                    ));
                }
                t.into_iter().take(8).collect()
            }
        };
        for (field, value) in [("min_price", self.min_price), ("max_price", self.max_price)] {
            if value.is_some_and(|v| v < 0) {
                return Err(ApiError::validation(field, "must not be negative"));
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_price, self.max_price) {
            if lo > hi {
                return Err(ApiError::validation(
                    "max_price",
                    "must not be below min_price",
                ));
            }
        }
        let fits = match self.fits.as_deref() {
            None => None,
            Some(raw) => Some(
                Dimensions::parse_box(raw)
                    .ok_or_else(|| {
                        ApiError::validation("fits", "must be LxWxH in cm, e.g. 55x40x23")
                    })?
                    .sorted(),
            ),
        };
        for (field, value) in [
            ("max_weight_g", self.max_weight_g),
            ("min_capacity_l", self.min_capacity_l),
        ] {
            if value.is_some_and(|v| v < 0) {
                return Err(ApiError::validation(field, "must not be negative"));
            }
        }
        let filter = Filter {
            terms,
            wheels: self.wheels,
            features: repeated.feature,
            brands: repeated.brand,
            colours: repeated.colour,
            max_weight_g: self.max_weight_g,
            min_capacity_l: self.min_capacity_l,
            size_class: self.size_class,
            style: self.style,
            material: self.material,
            min_price: self.min_price,
            max_price: self.max_price,
            in_stock: self.in_stock,
            fits,
        };
        Ok((
            filter,
            sort,
            PageQuery {
                limit: self.limit,
                cursor: self.cursor,
            },
        ))
    }
}

fn listing_name(sort: Sort) -> String {
    format!("products:{}", sort.as_str())
}

/// List products.
///
/// Active products, filtered and ordered, one page at a time (keyset pagination: a page
/// never repeats or skips a product when others are added meanwhile). Listed availability may
/// be up to two seconds old; checkout is always exact. Public and cacheable for 5 seconds.
#[utoipa::path(
    operation_id = "listProducts",
    tag = "catalog",
    params(ListQuery, ListRepeated),
    responses(
        (status = 200, description = "One page of products", body = ProductList),
        (status = 422, description = "A parameter is invalid (the problem names it)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/products")]
async fn list(
    req: HttpRequest,
    read: CachedRead,
    shop: web::Data<Shop>,
) -> Result<HttpResponse, ApiError> {
    // A repeated request is answered before its query string is parsed again: that string
    // names the answer exactly (it was valid when the answer was cached). A long one is
    // cached under its parsed form instead, so that keys stay small.
    let exact = (req.query_string().len() <= EXACT_KEY_MAX)
        .then(|| format!("products?{}", req.query_string()));
    if let Some(hit) = exact.as_deref().and_then(|key| read.hit(key)) {
        return Ok(hit);
    }
    let (repeated, rest) = ListRepeated::split(req.query_string())?;
    let query: ListQuery = parse_query(&rest)?;
    let with_facets = query.facets.unwrap_or(false);
    let (filter, sort, paging) = query.parse(repeated)?;
    let listing = listing_name(sort);
    let page = paging.validate(&listing)?;
    let after = match &page.after {
        None => None,
        Some(key) => Some(After::parse(sort, key).ok_or_else(|| {
            ApiError::validation("cursor", "is not a cursor returned by this listing")
        })?),
    };
    let checked_already = exact.is_some();
    let key = exact.unwrap_or_else(|| {
        let mut key = String::with_capacity(48);
        key.push_str(sort.as_str());
        key.push('|');
        key.push_str(itoa::Buffer::new().format(page.limit));
        key.push_str(if with_facets { "|facets|" } else { "|" });
        if let Some(after) = &after {
            key.push_str(itoa::Buffer::new().format(after.value));
            key.push(':');
            key.push_str(itoa::Buffer::new().format(after.id.len()));
            key.push(':');
            key.push_str(&after.id);
            key.push('|');
        }
        filter.write_key(&mut key);
        key
    });
    let limit = page.limit as usize;
    let currency = shop.currency.code();
    let render = move |conn: &mut DbConnection| {
        let mut rows = store::list(conn, &filter, sort, after.as_ref(), limit as i64 + 1)?;
        let next_cursor = (rows.len() > limit)
            .then(|| {
                rows.truncate(limit);
                rows.last().map(|r| encode_cursor(&listing, &sort.key(r)))
            })
            .flatten();
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let variants = store::variants_of(conn, &ids, true)?;
        let data: Vec<ProductView> = rows
            .iter()
            .zip(variants.iter())
            .map(|(r, v)| r.view(v, currency))
            .collect();
        let facets = if with_facets {
            Some(store::facets(conn, &filter)?)
        } else {
            None
        };
        Ok(ProductList {
            data,
            next_cursor,
            facets,
        })
    };
    if checked_already {
        // `hit` missed just now: render without asking the cache again.
        read.render(key, render).await
    } else {
        read.json(key, render).await
    }
}

/// One product.
///
/// By `prod_…` id or by slug, with every variant and its availability (at most two
/// seconds old, like listings; checkout is always exact). Archived products stay readable (orders
/// refer to them) with `status: archived`. Carries an `ETag`.
#[utoipa::path(
    operation_id = "getProduct",
    tag = "catalog",
    params(("id_or_slug" = String, Path, description = "The product's `prod_…` id or its slug", example = "voyager-55-spinner")),
    responses(
        (status = 200, description = "The product", body = ProductView,
            headers(("ETag" = String, description = "Strong validator of the body: send it as `If-None-Match` to get a 304 while unchanged"))),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag"),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/products/{id_or_slug}")]
async fn get_product(
    read: CachedRead,
    shop: web::Data<Shop>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let key = ["product:", id.as_str()].concat();
    let currency = shop.currency.code();
    read.json(key, move |conn| {
        let row = store::find(conn, &id)?.ok_or(ApiError::NotFound)?;
        let variants = store::variants_of(conn, std::slice::from_ref(&row.id), false)?;
        Ok(row.view(&variants[0], currency))
    })
    .await
}
