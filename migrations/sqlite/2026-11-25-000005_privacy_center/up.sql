-- Privacy center: consent ledger, saved addresses, data-subject requests, guest verification
-- codes, the erasure ledger, and the fan-out cursor of policy revision notices.

-- Append-only: the current consent for a purpose is the newest row.
CREATE TABLE consents (
    id             TEXT PRIMARY KEY NOT NULL,
    subject_id     TEXT      NOT NULL,
    purpose        TEXT      NOT NULL,
    granted        BOOLEAN   NOT NULL,
    policy_version INTEGER   NOT NULL,
    source         TEXT      NOT NULL,
    at             TIMESTAMP NOT NULL
);
CREATE INDEX consents_subject ON consents (subject_id, purpose, id);

-- Saved shipping addresses, sealed with the customer's data key.
CREATE TABLE addresses (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT      NOT NULL REFERENCES users (id),
    address_sealed BLOB NOT NULL,
    version        INTEGER   NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX addresses_user ON addresses (user_id, id);

-- Data-subject requests. Customers are known by user id; guests by the blind index of the
-- email they used at checkout (nulled when the request's own key is shredded).
CREATE TABLE dsr_requests (
    id                TEXT PRIMARY KEY NOT NULL,
    kind              TEXT      NOT NULL,
    status            TEXT      NOT NULL,
    user_id           TEXT,
    email_bidx        BLOB,
    received_at       TIMESTAMP NOT NULL,
    due_at            TIMESTAMP NOT NULL,
    extension_months  INTEGER   NOT NULL,
    extension_reason  TEXT,
    denial_reason     TEXT,
    verified_at       TIMESTAMP,
    completed_at      TIMESTAMP,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX dsr_requests_queue ON dsr_requests (status, due_at);
CREATE INDEX dsr_requests_user ON dsr_requests (user_id, id);

-- One-time codes for guest requests: the hash to check, and the code sealed with the
-- request's own data key so the delivery worker can send it; both end with the key.
CREATE TABLE dsr_codes (
    dsr_id       TEXT PRIMARY KEY NOT NULL REFERENCES dsr_requests (id),
    code_hash    BLOB NOT NULL,
    code_sealed  BLOB,
    email_sealed BLOB,
    attempts     INTEGER   NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    consumed_at  TIMESTAMP
);

-- Every erased subject, by id only. Exported beside the key store and replayed on restore,
-- so a restored backup never brings an erased subject back.
CREATE TABLE erasure_ledger (
    subject_id TEXT PRIMARY KEY NOT NULL,
    erased_at  TIMESTAMP NOT NULL,
    reason     TEXT      NOT NULL
);

-- Revision notices are queued in batches after a publish; the cursor makes that resumable.
ALTER TABLE policies ADD COLUMN notices_after TEXT;
ALTER TABLE policies ADD COLUMN notices_done_at TIMESTAMP;
