DROP TABLE order_tax_lines;
ALTER TABLE orders DROP COLUMN tax_total;
ALTER TABLE orders DROP COLUMN tax_country;
ALTER TABLE orders DROP COLUMN tax_mode;
DROP TABLE tax_rates;
