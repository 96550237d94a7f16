ALTER TABLE payments DROP COLUMN last_event_at;
DROP TABLE refunds;
