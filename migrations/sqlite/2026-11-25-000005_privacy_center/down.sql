ALTER TABLE policies DROP COLUMN notices_done_at;
ALTER TABLE policies DROP COLUMN notices_after;
DROP TABLE erasure_ledger;
DROP TABLE dsr_codes;
DROP TABLE dsr_requests;
DROP TABLE addresses;
DROP TABLE consents;
