-- What a guest's rectification asks to correct: the field names in the clear (a vocabulary,
-- so the privacy officer's queue and the audit log can name them), the values sealed under
-- a key of their own (subject `<request id>.corrections`), which applying the request or
-- erasing the guest's data shreds.
CREATE TABLE dsr_corrections (
    dsr_id             TEXT PRIMARY KEY NOT NULL REFERENCES dsr_requests (id),
    fields             TEXT NOT NULL,
    corrections_sealed BYTEA,
    applied_at         TIMESTAMP
);
