-- VAT (issue: money that knows its currency, EU VAT on orders).
--
-- `tax_rates`: the standard VAT rate of each EU member state, in basis points (1900 is
-- 19 %), from the day it takes effect; the rate of an order is the row of its destination
-- with the latest `effective_from` not after the order's day (UTC). Admins add rows
-- (`POST /v1/admin/tax-rates`); a later row never changes orders already placed, which keep
-- their own tax lines. Seeded with the standard rates in force in 2025 and since, each from
-- the first day of 2025 or the day it changed since (Estonia 24 % from 1 July 2025, Romania
-- 21 % from 1 August 2025).
CREATE TABLE tax_rates (
    country        TEXT      NOT NULL,
    effective_from DATE      NOT NULL,
    rate_bp        INTEGER   NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (country, effective_from)
);
INSERT INTO tax_rates (country, effective_from, rate_bp, updated_at) VALUES
    ('AT', '2025-01-01', 2000, '2026-12-07 00:00:00'),
    ('BE', '2025-01-01', 2100, '2026-12-07 00:00:00'),
    ('BG', '2025-01-01', 2000, '2026-12-07 00:00:00'),
    ('CY', '2025-01-01', 1900, '2026-12-07 00:00:00'),
    ('CZ', '2025-01-01', 2100, '2026-12-07 00:00:00'),
    ('DE', '2025-01-01', 1900, '2026-12-07 00:00:00'),
    ('DK', '2025-01-01', 2500, '2026-12-07 00:00:00'),
    ('EE', '2025-01-01', 2200, '2026-12-07 00:00:00'),
    ('EE', '2025-07-01', 2400, '2026-12-07 00:00:00'),
    ('ES', '2025-01-01', 2100, '2026-12-07 00:00:00'),
    ('FI', '2025-01-01', 2550, '2026-12-07 00:00:00'),
    ('FR', '2025-01-01', 2000, '2026-12-07 00:00:00'),
    ('GR', '2025-01-01', 2400, '2026-12-07 00:00:00'),
    ('HR', '2025-01-01', 2500, '2026-12-07 00:00:00'),
    ('HU', '2025-01-01', 2700, '2026-12-07 00:00:00'),
    ('IE', '2025-01-01', 2300, '2026-12-07 00:00:00'),
    ('IT', '2025-01-01', 2200, '2026-12-07 00:00:00'),
    ('LT', '2025-01-01', 2100, '2026-12-07 00:00:00'),
    ('LU', '2025-01-01', 1700, '2026-12-07 00:00:00'),
    ('LV', '2025-01-01', 2100, '2026-12-07 00:00:00'),
    ('MT', '2025-01-01', 1800, '2026-12-07 00:00:00'),
    ('NL', '2025-01-01', 2100, '2026-12-07 00:00:00'),
    ('PL', '2025-01-01', 2300, '2026-12-07 00:00:00'),
    ('PT', '2025-01-01', 2300, '2026-12-07 00:00:00'),
    ('RO', '2025-01-01', 1900, '2026-12-07 00:00:00'),
    ('RO', '2025-08-01', 2100, '2026-12-07 00:00:00'),
    ('SE', '2025-01-01', 2500, '2026-12-07 00:00:00'),
    ('SI', '2025-01-01', 2200, '2026-12-07 00:00:00'),
    ('SK', '2025-01-01', 2300, '2026-12-07 00:00:00');

-- Each order's tax record: the mode its prices were in, the destination country that chose
-- the rate (part of the accounting record: a VAT return is made per member state of
-- arrival), the tax it holds or adds, and one line per rate. Orders placed before this
-- migration have no lines and a tax of 0.
ALTER TABLE orders ADD COLUMN tax_mode TEXT NOT NULL DEFAULT 'inclusive';
ALTER TABLE orders ADD COLUMN tax_country TEXT;
ALTER TABLE orders ADD COLUMN tax_total BIGINT NOT NULL DEFAULT 0;

CREATE TABLE order_tax_lines (
    order_id TEXT    NOT NULL REFERENCES orders (id),
    rate_bp  INTEGER NOT NULL,
    net      BIGINT  NOT NULL,
    tax      BIGINT  NOT NULL,
    gross    BIGINT  NOT NULL,
    PRIMARY KEY (order_id, rate_bp)
);
