-- Refunds as rows of their own, and the provider time of a payment's last applied event.
--
-- A refund is reserved (its amount added to payments.refunded_amount by one conditional
-- UPDATE that never lets the total pass the captured amount) and committed before the
-- provider is called, so no transaction stays open across the call and parallel refunds of
-- one payment can never give back more than was taken. request_key and request_hash tie a
-- refund to the Idempotency-Key that asked for it: a retry resumes that refund.
CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY NOT NULL,
    payment_id         TEXT      NOT NULL REFERENCES payments (id),
    amount             BIGINT    NOT NULL,
    status             TEXT      NOT NULL,
    provider_reference TEXT UNIQUE,
    request_key        TEXT,
    request_hash       BYTEA,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE UNIQUE INDEX refunds_request ON refunds (payment_id, request_key);

-- Unix seconds of the provider's `created` of the last status event applied: an older event
-- never overwrites a newer state (providers deliver in any order).
ALTER TABLE payments ADD COLUMN last_event_at BIGINT;
