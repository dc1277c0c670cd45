-- Reverses 0001_contract.up.sql.
DROP TABLE calibration_monitoring;
DROP TABLE caltables;
DROP TABLE images;
