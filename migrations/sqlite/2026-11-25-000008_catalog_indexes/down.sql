DROP INDEX products_material_popular;
DROP INDEX products_material_price;
DROP INDEX products_style_popular;
DROP INDEX products_style_price;
DROP INDEX products_size_class_popular;
DROP INDEX products_size_class_price;
