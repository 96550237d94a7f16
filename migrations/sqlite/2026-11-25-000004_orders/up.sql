-- Carts, orders, payments, shipments, after-sales; idempotency keys; the notification outbox.

-- A cart belongs to a customer, or to whoever holds its secret token (guests).
CREATE TABLE carts (
    id            TEXT PRIMARY KEY NOT NULL,
    owner_user_id TEXT REFERENCES users (id),
    token_hash    BLOB,
    status        TEXT      NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL
);
CREATE INDEX carts_owner ON carts (owner_user_id);
CREATE INDEX carts_expiry ON carts (status, expires_at);

CREATE TABLE cart_items (
    cart_id    TEXT      NOT NULL REFERENCES carts (id),
    variant_id TEXT      NOT NULL REFERENCES variants (id),
    quantity   INTEGER   NOT NULL,
    added_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (cart_id, variant_id)
);

-- An order's personal data (contact email, shipping address) is sealed with the order's own
-- data key, so retention can shred one order while its accounting record stays.
CREATE TABLE orders (
    id                       TEXT PRIMARY KEY NOT NULL,
    number                   TEXT      NOT NULL UNIQUE,
    user_id                  TEXT REFERENCES users (id),
    guest_token_hash         BLOB,
    status                   TEXT      NOT NULL,
    currency                 TEXT      NOT NULL,
    subtotal                 BIGINT    NOT NULL,
    shipping                 BIGINT    NOT NULL,
    total                    BIGINT    NOT NULL,
    contact_email_sealed     BLOB,
    contact_email_bidx       BLOB,
    shipping_address_sealed  BLOB,
    policy_version           INTEGER   NOT NULL,
    expires_at               TIMESTAMP NOT NULL,
    delivered_at             TIMESTAMP,
    closed_at                TIMESTAMP,
    version                  INTEGER   NOT NULL,
    created_at               TIMESTAMP NOT NULL,
    updated_at               TIMESTAMP NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, id);
CREATE INDEX orders_status ON orders (status, id);
CREATE INDEX orders_expiry ON orders (status, expires_at);
CREATE INDEX orders_email ON orders (contact_email_bidx);

-- What was bought, at the price then: the accounting record, no personal data.
CREATE TABLE order_items (
    order_id   TEXT    NOT NULL REFERENCES orders (id),
    variant_id TEXT    NOT NULL REFERENCES variants (id),
    product_id TEXT    NOT NULL REFERENCES products (id),
    sku        TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    color      TEXT    NOT NULL,
    unit_price BIGINT  NOT NULL,
    quantity   INTEGER NOT NULL,
    PRIMARY KEY (order_id, variant_id)
);

-- Every status change, with who made it.
CREATE TABLE order_events (
    id          TEXT PRIMARY KEY NOT NULL,
    order_id    TEXT      NOT NULL REFERENCES orders (id),
    from_status TEXT,
    to_status   TEXT      NOT NULL,
    actor_kind  TEXT      NOT NULL,
    actor_id    TEXT,
    note        TEXT,
    at          TIMESTAMP NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id, at);

CREATE TABLE payments (
    id                 TEXT PRIMARY KEY NOT NULL,
    order_id           TEXT      NOT NULL REFERENCES orders (id),
    provider           TEXT      NOT NULL,
    provider_reference TEXT      NOT NULL UNIQUE,
    status             TEXT      NOT NULL,
    amount             BIGINT    NOT NULL,
    refunded_amount    BIGINT    NOT NULL,
    currency           TEXT      NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX payments_order ON payments (order_id);

-- Provider events already applied: webhooks are idempotent per event id.
CREATE TABLE payment_events (
    provider    TEXT      NOT NULL,
    event_id    TEXT      NOT NULL,
    payment_id  TEXT      NOT NULL,
    event_type  TEXT      NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, event_id)
);

CREATE TABLE shipments (
    id              TEXT PRIMARY KEY NOT NULL,
    order_id        TEXT      NOT NULL REFERENCES orders (id),
    carrier         TEXT      NOT NULL,
    tracking_number TEXT      NOT NULL,
    shipped_at      TIMESTAMP NOT NULL
);
CREATE INDEX shipments_order ON shipments (order_id);

-- Personal data handed to third parties (a carrier, the payment provider): shown in exports.
CREATE TABLE disclosures (
    id         TEXT PRIMARY KEY NOT NULL,
    subject_id TEXT      NOT NULL,
    order_id   TEXT,
    recipient  TEXT      NOT NULL,
    fields     TEXT      NOT NULL,
    purpose    TEXT      NOT NULL,
    at         TIMESTAMP NOT NULL
);
CREATE INDEX disclosures_subject ON disclosures (subject_id, at);

CREATE TABLE after_sales_cases (
    id            TEXT PRIMARY KEY NOT NULL,
    order_id      TEXT      NOT NULL REFERENCES orders (id),
    kind          TEXT      NOT NULL,
    reason_sealed BLOB NOT NULL,
    status        TEXT      NOT NULL,
    resolution    TEXT,
    created_at    TIMESTAMP NOT NULL,
    resolved_at   TIMESTAMP
);
CREATE INDEX after_sales_order ON after_sales_cases (order_id, status);

-- Idempotency-Key records (24 h): a replay returns the first response, sealed with the data
-- key of the resource it created (it may hold personal data or a secret token).
CREATE TABLE idempotency_keys (
    scope          TEXT      NOT NULL,
    key            TEXT      NOT NULL,
    request_hash   BLOB NOT NULL,
    subject_id     TEXT      NOT NULL,
    status_code    INTEGER   NOT NULL,
    response_sealed BLOB NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- The notification outbox, written in the same transaction as its cause. Payloads carry ids
-- and statuses only.
CREATE TABLE notifications (
    id                TEXT PRIMARY KEY NOT NULL,
    recipient_user_id TEXT,
    order_id          TEXT,
    kind              TEXT      NOT NULL,
    payload           TEXT      NOT NULL,
    status            TEXT      NOT NULL,
    attempts          INTEGER   NOT NULL,
    next_attempt_at   TIMESTAMP NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    delivered_at      TIMESTAMP,
    read_at           TIMESTAMP
);
CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
CREATE INDEX notifications_recipient ON notifications (recipient_user_id, id);
