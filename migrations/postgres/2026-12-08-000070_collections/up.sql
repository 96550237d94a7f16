-- Curated collections a manager arranges ("cabin bestsellers"): a handle, a title, an
-- optional description, an active flag, and products in the manager's order. Only active
-- collections are public, and in them only active products.
CREATE TABLE collections (
    id          TEXT PRIMARY KEY NOT NULL,
    slug        TEXT      NOT NULL UNIQUE,
    title       TEXT      NOT NULL,
    description TEXT,
    active      BOOLEAN   NOT NULL,
    version     INTEGER   NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX collections_active ON collections (active, slug);

-- The products of a collection: `position` is the manager's order (0 first); a product is
-- in a collection at most once.
CREATE TABLE collection_products (
    collection_id TEXT    NOT NULL REFERENCES collections (id),
    position      INTEGER NOT NULL,
    product_id    TEXT    NOT NULL REFERENCES products (id),
    PRIMARY KEY (collection_id, position),
    UNIQUE (collection_id, product_id)
);
CREATE INDEX collection_products_product ON collection_products (product_id);
