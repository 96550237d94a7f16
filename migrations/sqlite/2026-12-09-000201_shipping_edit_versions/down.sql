ALTER TABLE shipping_methods DROP COLUMN version;
ALTER TABLE shipping_carriers DROP COLUMN version;
