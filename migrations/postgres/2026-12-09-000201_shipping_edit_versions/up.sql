-- Edit versions of carriers and methods: their ETag, which a replacement or a removal must
-- name in If-Match.
ALTER TABLE shipping_carriers ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE shipping_methods ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
