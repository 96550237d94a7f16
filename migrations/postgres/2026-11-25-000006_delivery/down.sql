DROP INDEX notifications_status;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
ALTER TABLE notifications DROP COLUMN last_attempt_at;
ALTER TABLE notifications DROP COLUMN last_error;
ALTER TABLE notifications DROP COLUMN claimed_by;
