-- Listing indexes for an attribute filter under every sort (issue #4).
--
-- `GET /v1/products` always has `status = 'active'`, at most one useful attribute equality
-- (size_class, style or material) and one order: newest (id), price (min_price, id; `-price`
-- reads the same index backwards) or popular (popularity, id). An index serves a filter and a
-- sort together only if it holds the attribute and status (equalities) followed by the sort
-- key: then a page is a range scan that stops after `limit` rows, and the keyset cursor seeks
-- into it. With only (attribute, status, id), `size_class=cabin&sort=price` either walked the
-- price index from the cheapest bag, skipping other classes, or sorted every cabin bag.
--
-- So each attribute has one index per sort key: (attribute, status, id) from 000003 serves
-- newest, and the two below serve price and popular. They cannot be folded into fewer: the
-- sort key must come right after the equalities, and each index has room for one sort key.
-- That is 9 attribute indexes plus the 3 status-only ones (no attribute filter) and the
-- `fits` one. The price ones also serve an attribute with a price range under sort=price.
-- Writes pay for them: product rows change on admin edits, on variant price changes
-- (min_price) and in the popularity refresh, which rewrites only the products whose 30-day
-- views changed (a non-HOT update on PostgreSQL, which already had popularity indexed).
-- Stock lives in `variants`, so checkout writes none of these.
-- Combinations of two attributes use one attribute's index and filter the other on the
-- rows it reads; adding indexes for every pair would be 3 × 3 more for little gain.
CREATE INDEX products_size_class_price ON products (size_class, status, min_price, id);
CREATE INDEX products_size_class_popular ON products (size_class, status, popularity, id);
CREATE INDEX products_style_price ON products (style, status, min_price, id);
CREATE INDEX products_style_popular ON products (style, status, popularity, id);
CREATE INDEX products_material_price ON products (material, status, min_price, id);
CREATE INDEX products_material_popular ON products (material, status, popularity, id);
