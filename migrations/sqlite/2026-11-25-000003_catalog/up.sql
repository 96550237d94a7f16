-- Catalog: luggage products, their variants and stock, search terms, pre-sale consultations.

CREATE TABLE products (
    id             TEXT PRIMARY KEY NOT NULL,
    slug           TEXT      NOT NULL UNIQUE,
    name           TEXT      NOT NULL,
    brand          TEXT      NOT NULL,
    description    TEXT      NOT NULL,
    style          TEXT      NOT NULL,
    material       TEXT      NOT NULL,
    wheels         TEXT      NOT NULL,
    features       TEXT      NOT NULL,
    warranty_years INTEGER   NOT NULL,
    images         TEXT      NOT NULL,
    height_cm      INTEGER   NOT NULL,
    width_cm       INTEGER   NOT NULL,
    depth_cm       INTEGER   NOT NULL,
    -- The dimensions sorted longest first, for "fits in this box" in any orientation.
    dim_max        INTEGER   NOT NULL,
    dim_mid        INTEGER   NOT NULL,
    dim_min        INTEGER   NOT NULL,
    size_class     TEXT      NOT NULL,
    weight_g       INTEGER   NOT NULL,
    capacity_l     INTEGER   NOT NULL,
    base_price     BIGINT    NOT NULL,
    -- The cheapest active variant's price: what price filters and sorts use.
    min_price      BIGINT    NOT NULL,
    popularity     BIGINT    NOT NULL,
    status         TEXT      NOT NULL,
    version        INTEGER   NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX products_newest ON products (status, id);
CREATE INDEX products_price ON products (status, min_price, id);
CREATE INDEX products_popular ON products (status, popularity, id);
CREATE INDEX products_style ON products (style, status, id);
CREATE INDEX products_material ON products (material, status, id);
CREATE INDEX products_size_class ON products (size_class, status, id);
CREATE INDEX products_fits ON products (dim_max, dim_mid, dim_min);

-- Lower-cased words of name, brand and description: "q" matches word prefixes through an
-- ordinary index on both backends.
CREATE TABLE product_terms (
    term       TEXT NOT NULL,
    product_id TEXT NOT NULL REFERENCES products (id),
    PRIMARY KEY (term, product_id)
);

CREATE TABLE variants (
    id             TEXT PRIMARY KEY NOT NULL,
    product_id     TEXT      NOT NULL REFERENCES products (id),
    sku            TEXT      NOT NULL UNIQUE,
    color          TEXT      NOT NULL,
    price_override BIGINT,
    available      INTEGER   NOT NULL CHECK (available >= 0),
    status         TEXT      NOT NULL,
    version        INTEGER   NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX variants_product ON variants (product_id, available);

-- Why stock changed, outside checkout (stock takes, damage, returns to stock).
CREATE TABLE stock_movements (
    id         TEXT PRIMARY KEY NOT NULL,
    variant_id TEXT      NOT NULL REFERENCES variants (id),
    delta      INTEGER   NOT NULL,
    reason     TEXT      NOT NULL,
    actor_id   TEXT      NOT NULL,
    at         TIMESTAMP NOT NULL
);
CREATE INDEX stock_movements_variant ON stock_movements (variant_id, at);

-- Shared counters every instance watches (catalog version: bumped by every catalog change).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('catalog', 0);

-- Pre-sale questions. The question and the optional contact email are personal data,
-- sealed with the consultation's own data key; only an answer published by staff, with a
-- question text they chose to publish, is public.
CREATE TABLE consultations (
    id                   TEXT PRIMARY KEY NOT NULL,
    product_id           TEXT      NOT NULL REFERENCES products (id),
    question_sealed      BLOB NOT NULL,
    contact_email_sealed BLOB,
    status               TEXT      NOT NULL,
    answer               TEXT,
    public_question      TEXT,
    answered_by          TEXT,
    answered_at          TIMESTAMP,
    created_at           TIMESTAMP NOT NULL
);
CREATE INDEX consultations_product ON consultations (product_id, status, id);
CREATE INDEX consultations_status ON consultations (status, id);
