-- Streaming converter: the hdf5_files index (one row per subband file seen), observation groups, and one
-- row per conversion attempt. Times are INTEGER ms since the epoch. Group state changes are compare-and-set
-- UPDATEs (… WHERE state = ?). Dispatch, leases and retry timing are the `conversions` queue's (jobs table,
-- 0001): a group's state is the operator-facing view, moved in the same transaction as its job
-- (docs/streaming-converter.md).

CREATE TABLE converter_groups (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  -- sb00's name timestamp (e.g. 2025-06-01T12:00:00) when sb00 is valid, else the earliest member's;
  -- recomputed until dispatch, then frozen.
  group_id        TEXT    NOT NULL UNIQUE,
  anchor_ms       INTEGER NOT NULL,
  state           TEXT    NOT NULL DEFAULT 'collecting'
                  CHECK (state IN ('collecting', 'ready', 'converting', 'retry_wait', 'converted',
                                   'incomplete', 'failed', 'abandoned')),
  expected        INTEGER NOT NULL,
  n_valid         INTEGER NOT NULL DEFAULT 0,
  partial         INTEGER NOT NULL DEFAULT 0 CHECK (partial IN (0, 1)),
  first_seen_at   INTEGER NOT NULL,
  last_file_at    INTEGER NOT NULL,
  ready_at        INTEGER,
  dispatched_at   INTEGER,
  finished_at     INTEGER,
  -- Mirror of the current job's attempt count (for display; the queue decides retries).
  attempts        INTEGER NOT NULL DEFAULT 0,
  -- The group's current `conversions` job (no foreign key: finished jobs may be pruned).
  job_id          INTEGER,
  output_path     TEXT,
  error_code      TEXT,
  error           TEXT,
  dec_rad         REAL,
  mid_jd          REAL,
  updated_at      INTEGER NOT NULL
);
CREATE INDEX converter_groups_state_anchor ON converter_groups (state, anchor_ms);
CREATE INDEX converter_groups_job ON converter_groups (job_id);

CREATE TABLE hdf5_files (
  path            TEXT    PRIMARY KEY,
  name            TEXT    NOT NULL,
  ts_name         TEXT    NOT NULL,
  ts_ms           INTEGER NOT NULL,
  subband         INTEGER NOT NULL CHECK (subband >= 0 AND subband < 64),
  size            INTEGER NOT NULL,
  mtime_ms        INTEGER NOT NULL,
  inode           INTEGER NOT NULL,
  dev             INTEGER NOT NULL,
  state           TEXT    NOT NULL
                  CHECK (state IN ('settling', 'valid', 'invalid', 'duplicate', 'late', 'gone', 'changed')),
  reason          TEXT,
  -- How many consecutive looks saw the same size/mtime/inode (settled needs >= 2 and settleS elapsed).
  stable_looks    INTEGER NOT NULL DEFAULT 1,
  stable_since    INTEGER NOT NULL,
  first_seen_at   INTEGER NOT NULL,
  last_checked_at INTEGER NOT NULL,
  rechecks        INTEGER NOT NULL DEFAULT 0,
  group_ref       INTEGER REFERENCES converter_groups (id),
  start_jd        REAL,
  end_jd          REAL,
  dec_rad         REAL,
  ha_rad          REAL,
  nfreqs          INTEGER,
  ntimes          INTEGER,
  freq_min_hz     REAL,
  freq_max_hz     REAL,
  validated_at    INTEGER
);
-- The database itself enforces one file per (group, subband) slot.
CREATE UNIQUE INDEX hdf5_files_slot ON hdf5_files (group_ref, subband) WHERE state = 'valid';
CREATE INDEX hdf5_files_state ON hdf5_files (state);
CREATE INDEX hdf5_files_ts ON hdf5_files (ts_ms);
CREATE INDEX hdf5_files_group ON hdf5_files (group_ref);

CREATE TABLE converter_attempts (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  group_ref        INTEGER NOT NULL REFERENCES converter_groups (id),
  attempt          INTEGER NOT NULL,
  -- The job claim this attempt ran under: the lease itself (owner, expiry) lives on the job.
  job_id           INTEGER NOT NULL,
  lease_token      INTEGER NOT NULL,
  started_at       INTEGER NOT NULL,
  spawned_at       INTEGER,
  ended_at         INTEGER,
  pid              INTEGER,
  pgid             INTEGER,
  -- /proc/<pid>/stat field 22: tells a live converter from an unrelated process that reused the pid.
  pid_start_ticks  INTEGER,
  exit_code        INTEGER,
  signal           TEXT,
  outcome          TEXT CHECK (outcome IS NULL OR outcome IN
                     ('ok', 'timeout', 'oom', 'io', 'validation', 'conversion', 'crashed', 'spawn_error',
                      'no_output', 'bad_result', 'failed', 'aborted')),
  stdout_tail      TEXT,
  stderr_tail      TEXT,
  result_json      TEXT,
  manifest_path    TEXT,
  output_path      TEXT,
  error            TEXT,
  UNIQUE (group_ref, attempt),
  UNIQUE (job_id, lease_token)
);
-- At most one open attempt per group: two converters for one group cannot both be recorded.
CREATE UNIQUE INDEX converter_attempts_open ON converter_attempts (group_ref) WHERE ended_at IS NULL;
