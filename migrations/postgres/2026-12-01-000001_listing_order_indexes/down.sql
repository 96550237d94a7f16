DROP INDEX products_popular;
DROP INDEX products_price;
CREATE INDEX products_newest ON products (status, id);
CREATE INDEX products_price ON products (status, min_price, id);
CREATE INDEX products_popular ON products (status, popularity, id);
