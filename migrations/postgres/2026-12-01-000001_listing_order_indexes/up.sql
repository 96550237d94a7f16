-- The listing's order indexes without `status` in front (issue #4).
--
-- `products_newest (status, id)`, `products_price (status, min_price, id)` and
-- `products_popular (status, popularity, id)` led with a column that is `active` on nearly
-- every row. It narrows nothing (a page is a walk in the sort order that stops after
-- `limit` rows either way; the few archived rows are skipped as they come), and on
-- PostgreSQL it misled the planner: an index scan's heap cost is estimated from the
-- correlation of the index's *first* column with the table's order, and a single-valued
-- column correlates perfectly, so walking the price index looked like a sequential read.
-- `size_class=cabin&sort=price` then walked the price index from the cheapest bag and
-- skipped the other classes (13,335 rows at 100,000 products, 37 ms) instead of reading
-- `products_size_class_price` in order (21 rows, 0.15 ms): the planner assumed cabin bags
-- spread evenly over prices, which they do not (BENCHMARKS.md).
--
-- Without the status column the order indexes are costed as the random reads they are, and
-- the attribute indexes of 000008 (attribute, status, sort key, id) win whenever an
-- attribute is filtered. Newest-first needs no index of its own: the primary key is the id.
DROP INDEX products_newest;
DROP INDEX products_price;
DROP INDEX products_popular;
CREATE INDEX products_price ON products (min_price, id);
CREATE INDEX products_popular ON products (popularity, id);
