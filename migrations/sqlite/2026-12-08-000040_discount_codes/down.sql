DROP TABLE order_discounts;
DROP TABLE discount_redemptions;
DROP TABLE cart_discounts;
DROP TABLE discount_codes;
