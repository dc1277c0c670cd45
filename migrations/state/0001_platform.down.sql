DROP TABLE jobs;
DROP TABLE leases;
DROP TABLE alert_events;
DROP TABLE alerts;
DROP TABLE events;
