-- Mosaicking (docs/mosaicking.md): the scheduler plans mosaics per tier (quicklook, science, deep) from the
-- pipeline's images, dispatches each plan's build through the `mosaic` queue (jobs table, 0001) to an
-- executor (a local process group or a Slurm job, as conversions), and the thumbnail worker renders and grades
-- the product. As for conversions, dispatch, leases and retry timing are the queue job's; a plan's state is the
-- operator-facing view, moved in the same transaction as its job. Times are INTEGER ms since the epoch
-- (observation times too); file mtimes are decimal nanosecond strings (beyond 2^53), as in fits_metadata.

CREATE TABLE mosaic_plans (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  -- <tier>_d<±DD.D>_<YYYYMMDDTHHMM>_<HHMM>, deep_<label>_<ra0>-<ra1>_<from>-<to>; a re-plan of the same
  -- unit with other inputs appends _v<k> (k = version).
  name             TEXT    NOT NULL UNIQUE,
  base_name        TEXT    NOT NULL,
  version          INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
  tier             TEXT    NOT NULL CHECK (tier IN ('quicklook', 'science', 'deep')),
  trigger          TEXT    NOT NULL CHECK (trigger IN ('cron', 'api', 'cli', 'replan')),
  strip_dec_deg    REAL    NOT NULL,
  frame            TEXT,
  window_start     INTEGER NOT NULL,
  window_end       INTEGER NOT NULL,
  ra_min_deg       REAL,
  ra_max_deg       REAL,
  n_candidates     INTEGER NOT NULL DEFAULT 0,
  n_selected       INTEGER NOT NULL DEFAULT 0,
  -- {reason: count} over the candidates the planner turned away (type, format, missing, no_metadata, noise,
  -- dec, gap, frame, not_continuum, duplicate_ms).
  rejected_json    TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(rejected_json)),
  -- SHA-256 over the sorted (path, size, mtime_ns, ino) of the selected inputs.
  inputs_hash      TEXT    NOT NULL,
  -- The output grid the planner fixed (frame, projection, center, pixel_arcsec, nx, ny); NULL when empty.
  grid_json        TEXT    CHECK (grid_json IS NULL OR json_valid(grid_json)),
  est_memory_bytes INTEGER,
  state            TEXT    NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'building', 'retry_wait', 'built', 'graded', 'failed',
                                    'superseded', 'empty', 'cancelled')),
  -- Mirror of the current job's attempt count (for display; the queue decides retries).
  attempts         INTEGER NOT NULL DEFAULT 0,
  -- The plan's current `mosaic` job (no foreign key: finished jobs may be pruned).
  job_id           INTEGER,
  error_code       TEXT,
  error            TEXT,
  superseded_by    INTEGER REFERENCES mosaic_plans (id),
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX mosaic_plans_state ON mosaic_plans (state, updated_at);
CREATE INDEX mosaic_plans_tier_window ON mosaic_plans (tier, window_end);
CREATE INDEX mosaic_plans_strip_window ON mosaic_plans (strip_dec_deg, window_start);
CREATE INDEX mosaic_plans_base ON mosaic_plans (base_name, version);
CREATE INDEX mosaic_plans_job ON mosaic_plans (job_id);

CREATE TABLE mosaic_plan_inputs (
  plan_id          INTEGER NOT NULL REFERENCES mosaic_plans (id),
  ord              INTEGER NOT NULL,
  image_id         INTEGER,
  path             TEXT    NOT NULL,
  size             INTEGER NOT NULL,
  mtime_ns         TEXT    NOT NULL,
  ino              INTEGER NOT NULL,
  obs_mid          INTEGER NOT NULL,
  ra_deg           REAL    NOT NULL,
  dec_deg          REAL    NOT NULL,
  noise_jy         REAL    NOT NULL,
  kind             TEXT    NOT NULL DEFAULT 'image' CHECK (kind IN ('image', 'pbcor')),
  pb_path          TEXT,
  PRIMARY KEY (plan_id, ord)
);
CREATE INDEX mosaic_plan_inputs_path ON mosaic_plan_inputs (path);

CREATE TABLE mosaic_attempts (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  plan_id          INTEGER NOT NULL REFERENCES mosaic_plans (id),
  attempt          INTEGER NOT NULL,
  -- The job claim this attempt ran under: the lease itself (owner, expiry) lives on the job.
  job_id           INTEGER NOT NULL,
  lease_token      INTEGER NOT NULL,
  executor         TEXT    NOT NULL DEFAULT 'local' CHECK (executor IN ('local', 'slurm')),
  started_at       INTEGER NOT NULL,
  spawned_at       INTEGER,
  ended_at         INTEGER,
  pid              INTEGER,
  pgid             INTEGER,
  -- /proc/<pid>/stat field 22: tells a live builder from an unrelated process that reused the pid.
  pid_start_ticks  INTEGER,
  -- contimg-mosaic-<plan>-<attempt>: written in the dispatch transaction, so a job whose id never reached
  -- the row is found again by name.
  slurm_job_name   TEXT,
  slurm_job_id     TEXT,
  slurm_state      TEXT,
  exit_code        INTEGER,
  signal           TEXT,
  outcome          TEXT CHECK (outcome IS NULL OR outcome IN
                     ('ok', 'timeout', 'oom', 'io', 'validation', 'build_error', 'crashed', 'spawn_error',
                      'bad_result', 'cancelled', 'failed', 'aborted')),
  error_code       TEXT,
  error            TEXT,
  stderr_tail      TEXT,
  manifest_path    TEXT,
  result_json      TEXT    CHECK (result_json IS NULL OR json_valid(result_json)),
  UNIQUE (plan_id, attempt),
  UNIQUE (job_id, lease_token)
);
-- At most one open attempt per plan: two builders for one plan cannot both be recorded.
CREATE UNIQUE INDEX mosaic_attempts_open ON mosaic_attempts (plan_id) WHERE ended_at IS NULL;

CREATE TABLE mosaics (
  id                    INTEGER PRIMARY KEY AUTOINCREMENT,
  plan_id               INTEGER NOT NULL UNIQUE REFERENCES mosaic_plans (id),
  path                  TEXT    NOT NULL UNIQUE,
  weights_path          TEXT    NOT NULL,
  tier                  TEXT    NOT NULL CHECK (tier IN ('quicklook', 'science', 'deep')),
  nx                    INTEGER NOT NULL,
  ny                    INTEGER NOT NULL,
  pixel_arcsec          REAL    NOT NULL,
  center_ra_deg         REAL    NOT NULL,
  center_dec_deg        REAL    NOT NULL,
  frame                 TEXT    NOT NULL,
  n_inputs              INTEGER NOT NULL,
  n_used                INTEGER NOT NULL,
  coverage_sq_deg       REAL,
  effective_noise_jy    REAL,
  median_input_noise_jy REAL,
  build_seconds         REAL,
  peak_rss_bytes        INTEGER,
  builder_version       TEXT,
  bytes                 INTEGER,
  state                 TEXT    NOT NULL DEFAULT 'built' CHECK (state IN ('built', 'graded', 'deleted')),
  qa_status             TEXT    CHECK (qa_status IS NULL OR qa_status IN ('pass', 'warn', 'fail', 'unknown')),
  qa_grade              TEXT    CHECK (qa_grade IS NULL OR qa_grade IN ('excellent', 'good', 'marginal', 'poor', 'unknown')),
  thumbnail_path        TEXT,
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL
);
CREATE INDEX mosaics_state ON mosaics (state, created_at);
CREATE INDEX mosaics_tier ON mosaics (tier, created_at);

-- One row per QA measurement of a mosaic (a re-measure adds a row; mosaics.qa_* mirror the latest).
CREATE TABLE mosaic_qa (
  id                              INTEGER PRIMARY KEY AUTOINCREMENT,
  mosaic_id                       INTEGER NOT NULL REFERENCES mosaics (id),
  noise_jy                        REAL,
  noise_expected_jy               REAL,
  noise_ratio                     REAL,
  peak_jy                         REAL,
  dynamic_range                   REAL,
  coverage_fraction               REAL,
  nan_fraction                    REAL,
  banding                         REAL,
  n_ref                           INTEGER NOT NULL DEFAULT 0,
  astrometry_offset_arcsec_median REAL,
  flux_ratio_median               REAL,
  grade                           TEXT    NOT NULL CHECK (grade IN ('excellent', 'good', 'marginal', 'poor', 'unknown')),
  status                          TEXT    NOT NULL CHECK (status IN ('pass', 'warn', 'fail', 'unknown')),
  -- [{rule, value, threshold, level: warn|fail|not_measured}]
  reasons_json                    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(reasons_json)),
  measured_by                     TEXT    NOT NULL,
  created_at                      INTEGER NOT NULL
);
CREATE INDEX mosaic_qa_mosaic ON mosaic_qa (mosaic_id, created_at);

-- Why mosaic dispatch is paused, one row per reason while it holds: `operator` (contimg mosaic pause),
-- `disk_output`, `disk_scratch` (free space below the builder's minimum). `since` drives MosaicDispatchPaused.
CREATE TABLE mosaic_dispatch_pauses (
  reason           TEXT    PRIMARY KEY CHECK (reason IN ('operator', 'disk_output', 'disk_scratch')),
  since            INTEGER NOT NULL,
  by               TEXT,
  note             TEXT
);
