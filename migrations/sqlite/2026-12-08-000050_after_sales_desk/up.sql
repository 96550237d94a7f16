-- How staff settled a case, one of a vocabulary (refunded, repaired, replaced, rejected); the
-- words told to the customer are an answer, sealed. The refund a `refunded` return made.
ALTER TABLE after_sales_cases ADD COLUMN outcome TEXT;
ALTER TABLE after_sales_cases ADD COLUMN refund_id TEXT;

-- Support's answers to a case, sealed under the order's key (they are about the customer).
CREATE TABLE after_sales_answers (
    id          TEXT PRIMARY KEY NOT NULL,
    case_id     TEXT      NOT NULL REFERENCES after_sales_cases (id),
    order_id    TEXT      NOT NULL REFERENCES orders (id),
    body_sealed BLOB NOT NULL,
    author_id   TEXT      NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX after_sales_answers_case ON after_sales_answers (case_id, id);
CREATE INDEX after_sales_answers_order ON after_sales_answers (order_id);
CREATE INDEX after_sales_queue ON after_sales_cases (status, kind, id);
