-- Shipping methods, carriers and the method an order was placed with (issue 21).
--
-- `shipping_carriers`: who carries parcels, with the tracking URL template (`{tracking}` is
-- replaced by the shipment's tracking number) a shipment's tracking URL is built from.
-- `shipping_methods`: what a customer chooses at checkout. `zones` is the method's rate
-- document (JSON, checked by the application when written): a list of zones, each a set of
-- ISO 3166-1 alpha-2 countries (or null: every other country) with weight brackets in grams
-- and prices in minor units of the shop's currency. `configured` marks the seeded method
-- whose price and threshold follow VALISE_SHIPPING_FLAT / VALISE_SHIPPING_FREE_FROM at
-- start-up, until a manager edits it.
CREATE TABLE shipping_carriers (
    code         TEXT      PRIMARY KEY NOT NULL,
    name         TEXT      NOT NULL,
    tracking_url TEXT      NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE TABLE shipping_methods (
    code               TEXT      PRIMARY KEY NOT NULL,
    name               TEXT      NOT NULL,
    carrier_code       TEXT      REFERENCES shipping_carriers (code),
    active             BOOLEAN   NOT NULL,
    volumetric_divisor INTEGER   NOT NULL,
    free_from          BIGINT,
    zones              TEXT      NOT NULL,
    configured         BOOLEAN   NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX shipping_methods_carrier ON shipping_methods (carrier_code);
-- Today's behaviour: 9.90 everywhere, free from 100.00 of goods.
INSERT INTO shipping_methods (code, name, carrier_code, active, volumetric_divisor, free_from,
                              zones, configured, created_at, updated_at)
VALUES ('standard', 'Standard shipping', NULL, TRUE, 5000, 10000,
        '[{"countries":null,"rates":[{"up_to_grams":null,"price":990}]}]', TRUE,
        '2026-12-08 00:00:00', '2026-12-08 00:00:00');

-- The method an order was placed with, frozen: later edits of the method change nothing here.
CREATE TABLE order_shipping (
    order_id     TEXT   PRIMARY KEY NOT NULL REFERENCES orders (id),
    method_code  TEXT   NOT NULL,
    method_name  TEXT   NOT NULL,
    carrier_code TEXT,
    carrier_name TEXT,
    price        BIGINT NOT NULL,
    chargeable_grams BIGINT NOT NULL
);

-- The tracking URL built from the carrier's template when the parcel was handed over.
ALTER TABLE shipments ADD COLUMN tracking_url TEXT;
