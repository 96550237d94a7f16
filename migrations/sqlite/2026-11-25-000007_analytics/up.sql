-- Anonymous analytics (DESIGN.md §7). Nothing here identifies a person: no IP address, user
-- agent, account id, cookie or free text. A visitor is an HMAC of a client-generated session
-- string under a salt that exists for one UTC day (plus a short grace) and is then destroyed,
-- so the same session on two days gives two unrelated hashes.

-- One random salt per UTC day, wrapped by the master key (never stored in plaintext). Rows
-- are deleted once the day and its grace period are over. No creation time: it would be the
-- time of the day's first visit.
CREATE TABLE analytics_salts (
    day        DATE PRIMARY KEY NOT NULL,
    kek_id     TEXT      NOT NULL,
    wrapped    BLOB      NOT NULL
);

-- Raw events, kept VALISE_ANALYTICS_RAW_DAYS days. Nothing records when an event happened
-- beyond its day, nor the order of events across visitors: `seq` numbers one visitor's events
-- within the day (for page-to-page transitions) and there is no global sequence (no rowid
-- either) that could be lined up with a proxy's request log to put an address on a hash.
CREATE TABLE analytics_events (
    day          DATE    NOT NULL,
    visitor_hash BLOB    NOT NULL,
    seq          INTEGER NOT NULL,
    event_type   TEXT    NOT NULL,
    path         TEXT,
    product_id   TEXT,
    dwell_ms     INTEGER,
    PRIMARY KEY (day, visitor_hash, seq)
) WITHOUT ROWID;

-- Days whose raw events changed since their last roll-up. Ingestion marks a day pending in
-- the transaction that stores its events; a roll-up claims it by clearing the mark in the
-- transaction that recomputes it, so several processes never roll up one day at once.
CREATE TABLE analytics_rollups (
    day       DATE    PRIMARY KEY NOT NULL,
    pending   BOOLEAN NOT NULL,
    rolled_at TIMESTAMP
);

-- Daily aggregates, kept longer than raw events. `visitors` counts distinct visitor hashes
-- of that day (hashes cannot be linked across days).
CREATE TABLE analytics_daily_products (
    day        DATE    NOT NULL,
    product_id TEXT    NOT NULL,
    views      INTEGER NOT NULL,
    visitors   INTEGER NOT NULL,
    PRIMARY KEY (day, product_id)
);
-- `sort=popular` sums each product's views over the last 30 days.
CREATE INDEX analytics_daily_products_product ON analytics_daily_products (product_id, day);

-- Product views by a catalogue attribute (`size_class`, `style`) as it was that day.
CREATE TABLE analytics_daily_attributes (
    day       DATE    NOT NULL,
    dimension TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    views     INTEGER NOT NULL,
    visitors  INTEGER NOT NULL,
    PRIMARY KEY (day, dimension, value)
);

CREATE TABLE analytics_daily_pages (
    day            DATE    NOT NULL,
    path           TEXT    NOT NULL,
    views          INTEGER NOT NULL,
    visitors       INTEGER NOT NULL,
    leaves         INTEGER NOT NULL,
    leave_visitors INTEGER NOT NULL,
    dwell_ms_total BIGINT  NOT NULL,
    PRIMARY KEY (day, path)
);

-- Dwell times per page as a histogram (bucket lower bounds), so a median over any period
-- can be computed from daily rows.
CREATE TABLE analytics_daily_dwell (
    day       DATE    NOT NULL,
    path      TEXT    NOT NULL,
    bucket_ms INTEGER NOT NULL,
    leaves    INTEGER NOT NULL,
    PRIMARY KEY (day, path, bucket_ms)
);

CREATE TABLE analytics_daily_transitions (
    day       DATE    NOT NULL,
    from_path TEXT    NOT NULL,
    to_path   TEXT    NOT NULL,
    moves     INTEGER NOT NULL,
    visitors  INTEGER NOT NULL,
    PRIMARY KEY (day, from_path, to_path)
);
