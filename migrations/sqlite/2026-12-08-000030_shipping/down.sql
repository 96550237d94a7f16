ALTER TABLE shipments DROP COLUMN tracking_url;
DROP TABLE order_shipping;
DROP TABLE shipping_methods;
DROP TABLE shipping_carriers;
