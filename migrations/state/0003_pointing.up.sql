-- Tables of the pointing monitor (daemons/pointing-monitor; docs/pointing-monitor.md).
-- Instants here are REAL Unix seconds (UTC) in columns named *_unix, plus ISO/MJD copies where old tools
-- expect them: transit times need sub-millisecond resolution. JSON columns hold TEXT.

CREATE TABLE calibrators (
  name         TEXT    PRIMARY KEY,
  alt_names    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(alt_names)),
  ra_deg       REAL    NOT NULL CHECK (ra_deg >= 0 AND ra_deg < 360),
  dec_deg      REAL    NOT NULL CHECK (dec_deg BETWEEN -90 AND 90),
  flux_jy_20cm REAL,
  flux_ref     TEXT,
  catalog      TEXT    NOT NULL CHECK (catalog IN ('builtin', 'vla', 'nvss', 'manual')),
  roles        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(roles)),
  active       INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  notes        TEXT,
  updated_unix REAL    NOT NULL
);
CREATE INDEX calibrators_dec ON calibrators (dec_deg);

-- One row per observation group (read from its sb00 header).
CREATE TABLE pointing_observations (
  id          INTEGER PRIMARY KEY,
  group_id    TEXT    NOT NULL UNIQUE,
  source_path TEXT,
  start_unix  REAL,
  mid_unix    REAL    NOT NULL,
  end_unix    REAL,
  mid_mjd     REAL    NOT NULL,
  dec_deg     REAL    NOT NULL,
  ha_deg      REAL,
  ra_app_deg  REAL,
  ra_icrs_deg REAL,
  lst_hours   REAL,
  read_unix   REAL    NOT NULL,
  reader      TEXT
);
CREATE INDEX pointing_observations_mid ON pointing_observations (mid_unix);

-- The one pointing-history shape old queries expect (timestamp = MJD UTC).
CREATE VIEW pointing_history (timestamp, ra_deg, dec_deg) AS
  SELECT mid_mjd, ra_app_deg, dec_deg FROM pointing_observations;

CREATE TABLE pointing_segments (
  id             INTEGER PRIMARY KEY,
  dec_deg        REAL    NOT NULL,
  start_unix     REAL    NOT NULL,
  end_unix       REAL,
  n_groups       INTEGER NOT NULL DEFAULT 1,
  first_group_id TEXT    NOT NULL,
  last_group_id  TEXT    NOT NULL,
  status         TEXT    NOT NULL CHECK (status IN ('current', 'closed'))
);
CREATE UNIQUE INDEX pointing_segments_one_current ON pointing_segments (status) WHERE status = 'current';
CREATE INDEX pointing_segments_start ON pointing_segments (start_unix);

CREATE TABLE pointing_changes (
  id                    INTEGER PRIMARY KEY,
  detected_unix         REAL    NOT NULL,
  old_dec_deg           REAL,
  new_dec_deg           REAL    NOT NULL,
  delta_deg             REAL,
  first_group_id        TEXT    NOT NULL,
  first_mid_unix        REAL    NOT NULL,
  confirm_groups        INTEGER NOT NULL,
  segment_id_old        INTEGER REFERENCES pointing_segments (id),
  segment_id_new        INTEGER REFERENCES pointing_segments (id),
  calibrator_candidates TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(calibrator_candidates))
);
CREATE INDEX pointing_changes_detected ON pointing_changes (detected_unix);

-- Predicted transits. Upsert rule (daemons/pointing-monitor/store.ts): same (calibrator_name, model) and
-- |Δt| < 600 s updates the row, otherwise insert. window_*_emitted_unix record which transit.* events were
-- written, so a restart never emits one twice.
CREATE TABLE calibrator_transits (
  id                        INTEGER PRIMARY KEY,
  calibrator_name           TEXT    NOT NULL,
  model                     TEXT    NOT NULL CHECK (model IN ('apparent', 'legacy')),
  transit_unix              REAL    NOT NULL,
  transit_mjd               REAL    NOT NULL,
  transit_iso               TEXT    NOT NULL,
  lst_hours                 REAL    NOT NULL,
  elevation_deg             REAL,
  dec_sep_deg               REAL,
  pb_response               REAL,
  pointing_dec_deg          REAL,
  window_start_unix         REAL,
  window_end_unix           REAL,
  dut1_s                    REAL    NOT NULL DEFAULT 0,
  computed_unix             REAL    NOT NULL,
  updated_unix              REAL    NOT NULL,
  has_data                  INTEGER NOT NULL DEFAULT 0 CHECK (has_data IN (0, 1)),
  group_id                  TEXT,
  delta_sec                 REAL,
  open_emitted_unix         REAL,
  peak_emitted_unix         REAL,
  close_emitted_unix        REAL
);
CREATE INDEX calibrator_transits_name_time ON calibrator_transits (calibrator_name, transit_unix);
CREATE INDEX calibrator_transits_time ON calibrator_transits (transit_unix);

-- A single row: the latest status snapshot (the same JSON as the pointing.status event).
CREATE TABLE pointing_status (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  updated_unix REAL    NOT NULL,
  snapshot     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(snapshot))
);
