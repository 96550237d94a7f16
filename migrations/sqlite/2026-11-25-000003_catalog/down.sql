DROP TABLE consultations;
DROP TABLE counters;
DROP TABLE stock_movements;
DROP TABLE variants;
DROP TABLE product_terms;
DROP TABLE products;
