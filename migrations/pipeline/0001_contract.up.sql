-- The contract the daemons read from the imaging pipeline's database (pipeline.sqlite3). The pipeline owns
-- that file; this migration creates exactly these three tables for fresh installs, the local demo and tests,
-- and `contimg migrate verify --db pipeline` checks a file against them. Columns follow the pipeline's
-- schema.sql (platform.md §1.3, thumbnail-worker.md §1.2/§1.4, scheduler-and-alerts.md §1.1/§3.1).
-- Times are REAL Unix seconds and MJD as in the pipeline, not the state database's integer milliseconds.

-- One row per image product. The pipeline upserts with INSERT OR REPLACE on path, so id changes when a
-- path is re-imaged: consumers key by path. No FK to ms_index: that table is not part of the contract.
CREATE TABLE images (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  path              TEXT    NOT NULL UNIQUE,
  ms_path           TEXT    NOT NULL,
  created_at        REAL    NOT NULL,
  type              TEXT    NOT NULL,
  beam_major_arcsec REAL,
  beam_minor_arcsec REAL,
  beam_pa_deg       REAL,
  noise_jy          REAL,
  dynamic_range     REAL,
  pbcor             INTEGER NOT NULL DEFAULT 0,
  imsize_x          INTEGER,
  imsize_y          INTEGER,
  cellsize_arcsec   REAL,
  freq_ghz          REAL,
  bandwidth_mhz     REAL,
  center_ra_deg     REAL,
  center_dec_deg    REAL
);
CREATE INDEX idx_images_ms_path ON images (ms_path);
CREATE INDEX idx_images_created_at ON images (created_at);
CREATE INDEX idx_images_type ON images (type);

-- Calibration tables with their validity windows (NULL bound = open on that side).
CREATE TABLE caltables (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  set_name        TEXT    NOT NULL,
  path            TEXT    NOT NULL UNIQUE,
  table_type      TEXT    NOT NULL,
  order_index     INTEGER NOT NULL,
  cal_field       TEXT,
  refant          TEXT,
  created_at      REAL    NOT NULL,
  valid_start_mjd REAL,
  valid_end_mjd   REAL,
  status          TEXT    NOT NULL DEFAULT 'active',
  notes           TEXT,
  source_ms_path  TEXT,
  solver_command  TEXT,
  solver_version  TEXT,
  solver_params   TEXT,
  quality_metrics TEXT
);
CREATE INDEX idx_caltables_set_name ON caltables (set_name);
CREATE INDEX idx_caltables_valid ON caltables (valid_start_mjd, valid_end_mjd);
CREATE INDEX idx_caltables_status ON caltables (status);
CREATE INDEX idx_caltables_source_ms ON caltables (source_ms_path);

-- One row per calibrator observation: observed vs catalog flux (flux_ratio is 0.0 when catalog <= 0).
CREATE TABLE calibration_monitoring (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  calibrator_name  TEXT    NOT NULL,
  ms_path          TEXT    NOT NULL,
  observed_flux_jy REAL    NOT NULL,
  catalog_flux_jy  REAL    NOT NULL,
  flux_ratio       REAL    NOT NULL,
  frequency_ghz    REAL    NOT NULL,
  mjd              REAL    NOT NULL,
  timestamp_iso    TEXT,
  phase_rms_deg    REAL,
  amp_rms          REAL,
  flagged_fraction REAL,
  created_at       REAL    NOT NULL,
  notes            TEXT
);
CREATE INDEX idx_calmon_calibrator_mjd ON calibration_monitoring (calibrator_name, mjd DESC);
CREATE INDEX idx_calmon_mjd ON calibration_monitoring (mjd DESC);
CREATE INDEX idx_calmon_ms_path ON calibration_monitoring (ms_path);
