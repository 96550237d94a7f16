-- Delivery: the outbox worker's claims and errors, and integrators' webhook subscriptions with
-- their delivery log. Nothing here holds personal values: payloads are ids and statuses, errors
-- are status codes or error classes.

-- A claimed row is `sending`, owned by `claimed_by` until `next_attempt_at` (the lease); a
-- worker that died mid-delivery loses its claim when the lease runs out.
ALTER TABLE notifications ADD COLUMN claimed_by TEXT;
ALTER TABLE notifications ADD COLUMN last_error TEXT;
ALTER TABLE notifications ADD COLUMN last_attempt_at TIMESTAMP;
-- The staff outbox lists by status, newest first.
CREATE INDEX notifications_status ON notifications (status, id);

-- The signing secret is sealed with the subscription's own data key (subject = its id), so
-- master-key rotation re-wraps it and deleting the subscription shreds it.
CREATE TABLE webhook_subscriptions (
    id            TEXT PRIMARY KEY NOT NULL,
    url           TEXT      NOT NULL,
    events        TEXT      NOT NULL,
    secret_sealed BLOB,
    created_by    TEXT      NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    deleted_at    TIMESTAMP
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY NOT NULL,
    subscription_id  TEXT      NOT NULL REFERENCES webhook_subscriptions (id),
    event_id         TEXT      NOT NULL,
    event_type       TEXT      NOT NULL,
    payload          TEXT      NOT NULL,
    status           TEXT      NOT NULL,
    attempts         INTEGER   NOT NULL,
    next_attempt_at  TIMESTAMP NOT NULL,
    claimed_by       TEXT,
    last_status_code INTEGER,
    last_error       TEXT,
    last_attempt_at  TIMESTAMP,
    delivered_at     TIMESTAMP,
    created_at       TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, id);
