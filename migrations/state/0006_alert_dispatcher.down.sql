-- Reverses 0006_alert_dispatcher.up.sql.
DROP TABLE IF EXISTS dispatcher_cursor;
DROP TABLE IF EXISTS external_alerts;
DROP TABLE IF EXISTS alert_acks;
DROP TABLE IF EXISTS silences;
DROP TABLE IF EXISTS alert_groups;
DROP TABLE IF EXISTS delivery_attempts;
DROP TABLE IF EXISTS notifications;
