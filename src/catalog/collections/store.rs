//! Collection queries. Every write bumps the catalogue version, so the rendered collection
//! pages (and the listing's) of every instance go stale with it.

use diesel::prelude::*;

use super::model::{CollectionDraft, ProductRef};
use crate::catalog::store::{bump_catalog_version, ProductRow, ACTIVE};
use crate::db::schema::{collection_products, collections, products};
use crate::db::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = collections)]
#[diesel(treat_none_as_null = true)]
pub struct CollectionRow {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub description: Option<String>,
    pub active: bool,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl CollectionRow {
    /// A new collection at version 1.
    pub fn new(draft: &CollectionDraft) -> Self {
        let now = crate::db::now();
        Self {
            id: crate::ids::new_id("col"),
            slug: draft.slug.as_str().to_owned(),
            title: draft.title.as_str().to_owned(),
            description: draft.description.as_ref().map(|d| d.as_str().to_owned()),
            active: draft.active,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The draft's fields on this collection, one version on.
    pub fn replaced(&self, draft: &CollectionDraft) -> Self {
        Self {
            title: draft.title.as_str().to_owned(),
            description: draft.description.as_ref().map(|d| d.as_str().to_owned()),
            active: draft.active,
            version: self.version + 1,
            updated_at: crate::db::now(),
            ..self.clone()
        }
    }
}

pub fn find(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<CollectionRow>> {
    collections::table
        .filter(collections::slug.eq(slug))
        .select(CollectionRow::as_select())
        .first(conn)
        .optional()
}

/// The active collections, by slug.
pub fn active(conn: &mut DbConnection) -> QueryResult<Vec<CollectionRow>> {
    collections::table
        .filter(collections::active.eq(true))
        .order(collections::slug)
        .select(CollectionRow::as_select())
        .load(conn)
}

/// The product id each reference names, `None` for those no product has. One query for
/// the ids and one for the slugs, whatever the length of the list.
pub fn product_ids(
    conn: &mut DbConnection,
    refs: &[ProductRef],
) -> QueryResult<Vec<Option<String>>> {
    let (mut ids, mut slugs) = (Vec::new(), Vec::new());
    for r in refs {
        match r {
            ProductRef::Id(id) => ids.push(id.clone()),
            ProductRef::Slug(slug) => slugs.push(slug.clone()),
        }
    }
    let known_ids: Vec<String> = products::table
        .filter(products::id.eq_any(ids))
        .select(products::id)
        .load(conn)?;
    let known_slugs: Vec<(String, String)> = products::table
        .filter(products::slug.eq_any(slugs))
        .select((products::slug, products::id))
        .load(conn)?;
    Ok(refs
        .iter()
        .map(|r| match r {
            ProductRef::Id(id) => known_ids.iter().find(|k| *k == id).cloned(),
            ProductRef::Slug(slug) => known_slugs
                .iter()
                .find(|(s, _)| s == slug)
                .map(|(_, id)| id.clone()),
        })
        .collect())
}

/// Inserts a collection and its products (caller's transaction).
pub fn insert(
    conn: &mut DbConnection,
    row: &CollectionRow,
    product_ids: &[String],
) -> QueryResult<()> {
    diesel::insert_into(collections::table)
        .values(row)
        .execute(conn)?;
    insert_products(conn, &row.id, product_ids)?;
    bump_catalog_version(conn)
}

/// Writes a replaced collection and its products if it is still at `expected_version`;
/// false when it moved on.
pub fn replace(
    conn: &mut DbConnection,
    row: &CollectionRow,
    expected_version: i32,
    product_ids: &[String],
) -> QueryResult<bool> {
    let updated = diesel::update(
        collections::table
            .filter(collections::id.eq(&row.id))
            .filter(collections::version.eq(expected_version)),
    )
    .set(row)
    .execute(conn)?;
    if updated == 0 {
        return Ok(false);
    }
    diesel::delete(
        collection_products::table.filter(collection_products::collection_id.eq(&row.id)),
    )
    .execute(conn)?;
    insert_products(conn, &row.id, product_ids)?;
    bump_catalog_version(conn)?;
    Ok(true)
}

/// Deletes a collection and its list; false when there was none.
pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<bool> {
    diesel::delete(collection_products::table.filter(collection_products::collection_id.eq(id)))
        .execute(conn)?;
    let deleted = diesel::delete(collections::table.find(id)).execute(conn)?;
    if deleted == 1 {
        bump_catalog_version(conn)?;
    }
    Ok(deleted == 1)
}

/// One row at a time: multi-row inserts do not compile on the multi-backend connection.
fn insert_products(
    conn: &mut DbConnection,
    collection_id: &str,
    product_ids: &[String],
) -> QueryResult<()> {
    for (position, product_id) in (0..).zip(product_ids) {
        diesel::insert_into(collection_products::table)
            .values((
                collection_products::collection_id.eq(collection_id),
                collection_products::position.eq::<i32>(position),
                collection_products::product_id.eq(product_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The products of a collection in the manager's order; only the active ones when
/// `only_active`.
pub fn products_of(
    conn: &mut DbConnection,
    collection_id: &str,
    only_active: bool,
) -> QueryResult<Vec<ProductRow>> {
    let mut query = collection_products::table
        .inner_join(products::table)
        .filter(collection_products::collection_id.eq(collection_id))
        .order(collection_products::position)
        .select(ProductRow::as_select())
        .into_boxed();
    if only_active {
        query = query.filter(products::status.eq(ACTIVE));
    }
    query.load(conn)
}
