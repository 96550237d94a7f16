-- A payment whose order expired or was cancelled before it was paid, still open at its
-- provider: the customer could still pay it. The order's transaction sets cancel_due_at; the
-- payments worker asks the provider to cancel it (outside any transaction, with retries) and
-- clears it once the provider has answered.
ALTER TABLE payments ADD COLUMN cancel_due_at TIMESTAMP;
CREATE INDEX payments_cancel_due ON payments (cancel_due_at) WHERE cancel_due_at IS NOT NULL;
