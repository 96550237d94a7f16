-- The snapshots `valise backup --dir DIR --keep N` keeps: one row a snapshot, removed with
-- its files when rotation deletes them. The erasure ledger is kept back to the oldest of them
-- (a subject erased after a snapshot must be shredded again when it is restored).
CREATE TABLE backups (
    file       TEXT PRIMARY KEY NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX backups_created_at ON backups (created_at);

-- Where the audit chain starts once retention has deleted its oldest entries: the sequence
-- number and MAC of the last deleted entry, signed under a key derived from the master key
-- (so write access to the database alone cannot move it). seq 0: nothing deleted yet.
CREATE TABLE audit_base (
    id  INTEGER PRIMARY KEY NOT NULL,
    seq BIGINT NOT NULL,
    mac BYTEA NOT NULL,
    at  TIMESTAMP NOT NULL,
    sig BYTEA NOT NULL
);
INSERT INTO audit_base (id, seq, mac, at, sig) VALUES (1, 0, ''::bytea, '1970-01-01 00:00:00', ''::bytea);

CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (status, created_at);
CREATE INDEX audit_log_at ON audit_log (at);
