DROP INDEX audit_log_at;
DROP INDEX webhook_deliveries_finished;
DROP TABLE audit_base;
DROP TABLE backups;
