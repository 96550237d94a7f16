-- Single-use tokens sent by e-mail: confirming a new account's address, resetting a
-- password, confirming a new address. Only the SHA-256 of a token finds its row; the token
-- itself and the address it goes to are sealed under the account's key for the delivery
-- worker, and dropped once the token is used. No foreign key to users: retention deletes
-- account rows it is done with, and a token row never keeps one alive (its sealed copies
-- die with the account's key).
CREATE TABLE account_tokens (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT      NOT NULL,
    purpose      TEXT      NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    token_sealed BLOB,
    email_bidx   BLOB,
    email_sealed BLOB,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    used_at      TIMESTAMP
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose);
