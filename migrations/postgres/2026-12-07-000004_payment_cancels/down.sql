DROP INDEX payments_cancel_due;
ALTER TABLE payments DROP COLUMN cancel_due_at;
