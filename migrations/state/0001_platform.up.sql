-- Platform tables of the state database: events, alerts (+ history), leases, the job queue.
-- Times are INTEGER milliseconds since the Unix epoch (UTC) throughout; JSON columns hold TEXT.

CREATE TABLE events (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  topic      TEXT    NOT NULL,
  type       TEXT    NOT NULL,
  payload    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
  created_at INTEGER NOT NULL
);
CREATE INDEX events_topic_seq ON events (topic, seq);
CREATE INDEX events_created_at ON events (created_at);

CREATE TABLE alerts (
  fingerprint TEXT    PRIMARY KEY,
  alertname   TEXT    NOT NULL,
  severity    TEXT    NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
  labels      TEXT    NOT NULL CHECK (json_valid(labels)),
  annotations TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(annotations)),
  status      TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
  starts_at   INTEGER NOT NULL,
  ends_at     INTEGER,
  updated_at  INTEGER NOT NULL,
  episode     INTEGER NOT NULL DEFAULT 1,
  source      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX alerts_status ON alerts (status, updated_at);

CREATE TABLE alert_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  fingerprint TEXT    NOT NULL REFERENCES alerts (fingerprint) ON DELETE CASCADE,
  episode     INTEGER NOT NULL,
  event       TEXT    NOT NULL CHECK (event IN ('fired', 'updated', 'resolved')),
  severity    TEXT    NOT NULL,
  annotations TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(annotations)),
  at          INTEGER NOT NULL
);
CREATE INDEX alert_events_fingerprint ON alert_events (fingerprint, id);

CREATE TABLE leases (
  name        TEXT    PRIMARY KEY,
  owner       TEXT,
  token       INTEGER NOT NULL DEFAULT 0,
  expires_at  INTEGER NOT NULL DEFAULT 0,
  acquired_at INTEGER,
  host        TEXT,
  pid         INTEGER
);

CREATE TABLE jobs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  queue            TEXT    NOT NULL,
  kind             TEXT    NOT NULL,
  payload          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
  dedupe_key       TEXT,
  run_id           TEXT,
  priority         INTEGER NOT NULL DEFAULT 0,
  run_at           INTEGER NOT NULL,
  state            TEXT    NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead', 'cancelled')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL DEFAULT 3,
  -- Per-job handler timeout (AbortSignal); NULL means the worker's default.
  timeout_ms       INTEGER CHECK (timeout_ms IS NULL OR timeout_ms > 0),
  lease_owner      TEXT,
  lease_token      INTEGER NOT NULL DEFAULT 0,
  lease_expires_at INTEGER,
  last_error       TEXT,
  result           TEXT CHECK (result IS NULL OR json_valid(result)),
  parent_id        INTEGER REFERENCES jobs (id),
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  updated_at       INTEGER NOT NULL
);
-- One unfinished job per (queue, dedupe_key): the idempotency guarantee of enqueue.
CREATE UNIQUE INDEX jobs_dedupe_unfinished ON jobs (queue, dedupe_key)
  WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
CREATE INDEX jobs_claim ON jobs (queue, state, priority DESC, run_at, id);
CREATE INDEX jobs_parent ON jobs (parent_id);
-- Retention prune walks finished rows by age.
CREATE INDEX jobs_finished ON jobs (state, finished_at);
