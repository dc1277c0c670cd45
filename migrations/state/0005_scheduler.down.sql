-- Reverses 0005_scheduler.up.sql.
DROP INDEX IF EXISTS alerts_resolved_ends;
DROP INDEX IF EXISTS alert_events_at;
DROP TABLE IF EXISTS health_history;
DROP TABLE IF EXISTS health_checks;
DROP TABLE IF EXISTS job_runs;
