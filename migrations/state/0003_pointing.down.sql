-- Reverses 0003_pointing.up.sql.
DROP TABLE pointing_status;
DROP TABLE calibrator_transits;
DROP TABLE pointing_changes;
DROP TABLE pointing_segments;
DROP VIEW pointing_history;
DROP TABLE pointing_observations;
DROP TABLE calibrators;
