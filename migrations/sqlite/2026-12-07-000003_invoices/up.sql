-- Invoices and credit notes.
--
-- A document is due (documents_due) in the transaction that makes it so: the payment's
-- capture for an invoice, the refund's success for a credit note. It is issued later in a
-- transaction of its own that takes the next number of its series and year from
-- document_counters, writes the document and removes it from documents_due: the number and
-- the document commit together or not at all, so numbers have no gaps, and the counter row is
-- locked only while a document is written, never during a checkout or a payment.
CREATE TABLE document_counters (
    series TEXT    NOT NULL,
    year   INTEGER NOT NULL,
    last   BIGINT  NOT NULL,
    PRIMARY KEY (series, year)
);

CREATE TABLE documents_due (
    -- The payment an invoice is for, or the refund a credit note is for.
    source_id  TEXT PRIMARY KEY NOT NULL,
    kind       TEXT      NOT NULL,
    order_id   TEXT      NOT NULL,
    payment_id TEXT      NOT NULL,
    amount     BIGINT    NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX documents_due_order ON documents_due (order_id);
CREATE INDEX documents_due_created ON documents_due (created_at);

-- An issued document. body holds what it says apart from the buyer (seller, lines, tax
-- lines, note: no personal data); the buyer's name and address are sealed under the data
-- key of the accounting year (buyer_key, `accounting-<year>`), which retention destroys
-- when the statutory period of that year ends.
CREATE TABLE documents (
    id           TEXT PRIMARY KEY NOT NULL,
    number       TEXT      NOT NULL UNIQUE,
    kind         TEXT      NOT NULL,
    series       TEXT      NOT NULL,
    year         INTEGER   NOT NULL,
    seq          BIGINT    NOT NULL,
    order_id     TEXT      NOT NULL,
    payment_id   TEXT      NOT NULL,
    source_id    TEXT      NOT NULL UNIQUE,
    corrects     TEXT,
    issued_at    TIMESTAMP NOT NULL,
    currency     TEXT      NOT NULL,
    net_total    BIGINT    NOT NULL,
    tax_total    BIGINT    NOT NULL,
    gross_total  BIGINT    NOT NULL,
    body         TEXT      NOT NULL,
    buyer_key    TEXT      NOT NULL,
    buyer_sealed BLOB,
    UNIQUE (series, year, seq)
);
CREATE INDEX documents_order ON documents (order_id);
CREATE INDEX documents_payment ON documents (payment_id, kind);

-- An issued document never changes: the database refuses it, whatever the code does.
CREATE TRIGGER documents_never_change BEFORE UPDATE ON documents
BEGIN
    SELECT RAISE(ABORT, 'an issued document never changes');
END;
