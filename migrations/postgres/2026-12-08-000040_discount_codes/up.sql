-- Discount codes (issue 21): percentage, fixed amount or free shipping, with a validity
-- window, a minimum goods subtotal, and total and per-customer usage limits.
--
-- `code` is stored normalised (trimmed, upper case), so codes are case-insensitive and
-- unique. `value` is basis points of the goods subtotal for `percentage` (1000 is 10 %),
-- minor units for `fixed_amount`, and 0 for `free_shipping`. `uses` counts the orders that
-- hold a use now: checkout raises it with a conditional update (never past `usage_limit`),
-- an unpaid order that is cancelled or expires gives its use back.
CREATE TABLE discount_codes (
    id                 TEXT      PRIMARY KEY,
    code               TEXT      NOT NULL UNIQUE,
    kind               TEXT      NOT NULL,
    value              BIGINT    NOT NULL,
    starts_at          TIMESTAMP,
    ends_at            TIMESTAMP,
    minimum_subtotal   BIGINT    NOT NULL,
    usage_limit        INTEGER,
    per_customer_limit INTEGER,
    uses               INTEGER   NOT NULL DEFAULT 0,
    active             BOOLEAN   NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);

-- The code a cart carries (at most one); it is checked again at checkout.
CREATE TABLE cart_discounts (
    cart_id    TEXT      PRIMARY KEY REFERENCES carts (id) ON DELETE CASCADE,
    code_id    TEXT      NOT NULL REFERENCES discount_codes (id),
    applied_at TIMESTAMP NOT NULL
);

-- One row per order holding a use of a code. `customer` is `user:<id>` for an account and
-- `email:<hex blind index of the contact e-mail>` for a guest (never the e-mail itself);
-- `slot` is 1..per_customer_limit, so the unique constraint is the per-customer limit even
-- when two checkouts of one customer race; null without a per-customer limit (a unique
-- constraint ignores nulls). Erasing the order's subject nulls `customer` like every blind
-- index (the use still counts towards the code's total).
CREATE TABLE discount_redemptions (
    order_id   TEXT      PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    code_id    TEXT      NOT NULL REFERENCES discount_codes (id),
    customer   TEXT,
    slot       INTEGER,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (code_id, customer, slot)
);

-- The discount lines of an order, as charged: what came off the goods and off shipping.
CREATE TABLE order_discounts (
    order_id        TEXT   NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    code_id         TEXT   NOT NULL REFERENCES discount_codes (id),
    code            TEXT   NOT NULL,
    goods_amount    BIGINT NOT NULL,
    shipping_amount BIGINT NOT NULL,
    PRIMARY KEY (order_id, code_id)
);
