//! The facet counts of a listing filter: two queries over the whole result, counted in
//! memory by the model.

use diesel::prelude::*;

use super::listing::{filtered, Filter};
use super::rows::ACTIVE;
use crate::catalog::model::{FacetProduct, Facets, Feature, Wheels};
use crate::db::schema::{products, variants};
use crate::db::DbConnection;

/// Facets of every product `filter` finds.
pub fn facets(conn: &mut DbConnection, filter: &Filter) -> QueryResult<Facets> {
    let rows: Vec<(String, String, String, String, i32, i32)> = filtered(filter)
        .select((
            products::id,
            products::brand,
            products::wheels,
            products::features,
            products::weight_g,
            products::capacity_l,
        ))
        .load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let products: Vec<FacetProduct> = rows
        .into_iter()
        .map(
            |(_, brand, wheels, features, weight_g, capacity_l)| FacetProduct {
                brand,
                wheels: Wheels::parse(&wheels),
                features: features.split(',').filter_map(Feature::parse).collect(),
                weight_g,
                capacity_l,
            },
        )
        .collect();
    // A boxed query cannot be a subquery on the multi-backend connection: the ids go as
    // parameters, in chunks well under either backend's limit on them.
    let mut colours: Vec<(String, String)> = Vec::new();
    for chunk in ids.chunks(500) {
        colours.extend(
            variants::table
                .filter(variants::status.eq(ACTIVE))
                .filter(variants::product_id.eq_any(chunk))
                .select((variants::product_id, variants::color))
                .distinct()
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(Facets::count(
        &products,
        colours.iter().map(|(_, c)| c.as_str()),
    ))
}
