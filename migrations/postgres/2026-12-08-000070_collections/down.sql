DROP INDEX collection_products_product;
DROP TABLE collection_products;
DROP INDEX collections_active;
DROP TABLE collections;
