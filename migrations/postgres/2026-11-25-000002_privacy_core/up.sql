-- Privacy core: wrapped keys, accounts, tokens, API keys, throttling, acceptances, audit chain.

-- One data key per data subject, only ever stored wrapped by a master key. A shredded key
-- keeps its row (wrapped = NULL) as proof of when the subject was erased.
CREATE TABLE data_keys (
    subject_id  TEXT PRIMARY KEY NOT NULL,
    kek_id      TEXT      NOT NULL,
    wrapped     BYTEA,
    created_at  TIMESTAMP NOT NULL,
    shredded_at TIMESTAMP
);
CREATE INDEX data_keys_kek_id ON data_keys (kek_id);

-- Secrets the service derives its MAC keys from, wrapped by a master key.
CREATE TABLE system_keys (
    name       TEXT PRIMARY KEY NOT NULL,
    kek_id     TEXT      NOT NULL,
    wrapped    BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Customers and staff. Personal fields are sealed with the user's data key; the email is
-- findable only through its blind index.
CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    role          TEXT      NOT NULL,
    status        TEXT      NOT NULL,
    email_bidx    BYTEA UNIQUE,
    email_sealed  BYTEA,
    name_sealed   BYTEA,
    phone_sealed  BYTEA,
    password_hash TEXT,
    version       INTEGER   NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE INDEX users_role ON users (role);

CREATE TABLE refresh_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    family_id  TEXT      NOT NULL,
    user_id    TEXT      NOT NULL REFERENCES users (id),
    token_hash BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT      NOT NULL,
    role         TEXT      NOT NULL,
    secret_hash  BYTEA NOT NULL UNIQUE,
    created_by   TEXT      NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);

-- Fixed-window counters shared by every API process (login throttling). Buckets hold
-- blind indexes, never an email or an IP address.
CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY NOT NULL,
    window_start TIMESTAMP NOT NULL,
    hits         INTEGER   NOT NULL
);

CREATE TABLE policy_acceptances (
    id             TEXT PRIMARY KEY NOT NULL,
    subject_id     TEXT      NOT NULL,
    policy_version INTEGER   NOT NULL REFERENCES policies (version),
    accepted_at    TIMESTAMP NOT NULL,
    source         TEXT      NOT NULL
);
CREATE INDEX policy_acceptances_subject ON policy_acceptances (subject_id);

-- Append-only, MAC-chained record of access to personal data: ids, field names and
-- purposes, never values.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY NOT NULL,
    at         TIMESTAMP NOT NULL,
    actor_kind TEXT      NOT NULL,
    actor_id   TEXT,
    actor_role TEXT,
    action     TEXT      NOT NULL,
    subject_id TEXT,
    fields     TEXT      NOT NULL,
    purpose    TEXT      NOT NULL,
    request_id TEXT,
    mac        BYTEA NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor_id, seq);

-- The chain head: appends serialize on this row, and truncating the log's tail shows.
CREATE TABLE audit_head (
    id  INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT  NOT NULL,
    mac BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, mac) VALUES (1, 0, ''::bytea);
