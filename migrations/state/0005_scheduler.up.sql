-- Tables of the scheduler (daemons/scheduler; docs/scheduler.md) and the indexes retention needs.
-- Times are INTEGER milliseconds since the Unix epoch (UTC), as in the platform tables; JSON columns hold TEXT.

-- One row per job run, whatever triggered it. A run is inserted as 'running' before its check starts and
-- finished in the same transaction as its findings (alerts, health state). A row left 'running' by a process
-- that died is marked 'crashed' by the next scheduler that takes the lease.
CREATE TABLE job_runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  job           TEXT    NOT NULL,
  trigger       TEXT    NOT NULL CHECK (trigger IN ('cron', 'catchup', 'manual')),
  -- The cron slot this run is for (NULL for a manual run).
  scheduled_for INTEGER,
  started_at    INTEGER NOT NULL,
  finished_at   INTEGER,
  duration_ms   INTEGER,
  result        TEXT    NOT NULL
                CHECK (result IN ('running', 'ok', 'error', 'timeout', 'skipped_overlap', 'crashed')),
  summary       TEXT    CHECK (summary IS NULL OR json_valid(summary)),
  error         TEXT,
  -- Lease owner id of the process that ran it (lib/leases format) and its job-lease fencing token.
  owner         TEXT    NOT NULL,
  lease_token   INTEGER
);
-- One row per cron slot and job, even if two schedulers both believed they led: the second insert is ignored.
CREATE UNIQUE INDEX job_runs_one_per_slot ON job_runs (job, scheduled_for) WHERE trigger = 'cron';
-- History of one job, newest first; the last run and last success.
CREATE INDEX job_runs_job_started ON job_runs (job, started_at);
CREATE INDEX job_runs_job_ok ON job_runs (job, started_at) WHERE result = 'ok';
-- Unfinished runs (crash recovery looks at these only).
CREATE INDEX job_runs_running ON job_runs (job) WHERE result = 'running';
-- Retention walks runs by age.
CREATE INDEX job_runs_started ON job_runs (started_at);

-- Current state of each health target, with the dampening counters (so a restart keeps them).
CREATE TABLE health_checks (
  target_id             TEXT    PRIMARY KEY,
  kind                  TEXT    NOT NULL,
  name                  TEXT    NOT NULL,
  status                TEXT    NOT NULL CHECK (status IN ('ok', 'warn', 'crit', 'unknown', 'unavailable')),
  -- The old health vocabulary (running, stopped, degraded, error, unknown) for the legacy gauges.
  legacy                TEXT    NOT NULL,
  critical              INTEGER NOT NULL DEFAULT 0 CHECK (critical IN (0, 1)),
  detail                TEXT    NOT NULL DEFAULT '',
  value                 REAL,
  data                  TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(data)),
  duration_ms           REAL,
  checked_at            INTEGER NOT NULL,
  status_since          INTEGER NOT NULL,
  consecutive_failures  INTEGER NOT NULL DEFAULT 0,
  consecutive_successes INTEGER NOT NULL DEFAULT 0,
  -- The alert this target currently holds firing ({alertname, labels}), NULL when none.
  alert                 TEXT    CHECK (alert IS NULL OR json_valid(alert))
);

-- Status transitions only (not every check).
CREATE TABLE health_history (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  target_id   TEXT    NOT NULL,
  at          INTEGER NOT NULL,
  from_status TEXT,
  to_status   TEXT    NOT NULL,
  detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX health_history_target ON health_history (target_id, at);
CREATE INDEX health_history_at ON health_history (at);

-- Retention prunes alert history and resolved alerts by age.
CREATE INDEX alert_events_at ON alert_events (at);
CREATE INDEX alerts_resolved_ends ON alerts (ends_at) WHERE status = 'resolved';
