-- Tables of the alert dispatcher: the durable outbox (`notifications`, one delivery job each in the platform
-- `jobs` table, queue `alerts:<receiver>`), every delivery attempt, the notification log per receiver and
-- alert group (what was announced, so a restart never re-pages), silences, acknowledgements, the state of
-- alerts received from Prometheus/Alertmanager, and the dispatcher's cursor over alert_events. Times are
-- INTEGER ms since the epoch; JSON columns hold TEXT. See docs/alert-dispatcher.md.

CREATE TABLE notifications (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  -- hash(receiver, group, kind, content, repeat epoch): enqueueing the same notification twice is a no-op.
  dedup_key       TEXT    NOT NULL UNIQUE,
  receiver        TEXT    NOT NULL,
  group_key       TEXT    NOT NULL,
  kind            TEXT    NOT NULL
                  CHECK (kind IN ('firing', 'resolved', 'repeat', 'escalation', 'failover', 'digest', 'test')),
  status          TEXT    NOT NULL CHECK (status IN ('firing', 'resolved')),
  severity        TEXT    NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
  -- What to say, receiver-independent and free of secrets; each channel renders it at send time.
  content         TEXT    NOT NULL CHECK (json_valid(content)),
  content_hash    TEXT    NOT NULL,
  state           TEXT    NOT NULL
                  CHECK (state IN ('held', 'pending', 'sending', 'retry_wait', 'sent', 'dead', 'superseded')),
  job_id          INTEGER,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  last_result     TEXT,
  last_error      TEXT,
  -- Render as plain text from now on (the receiver rejected the formatted message once).
  plain_text      INTEGER NOT NULL DEFAULT 0 CHECK (plain_text IN (0, 1)),
  failover_of     INTEGER REFERENCES notifications (id) ON DELETE SET NULL,
  failed_over_at  INTEGER,
  superseded_by   INTEGER REFERENCES notifications (id) ON DELETE SET NULL,
  message_id      TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  sent_at         INTEGER,
  dead_at         INTEGER
);
CREATE INDEX notifications_receiver_state ON notifications (receiver, state, created_at);
CREATE INDEX notifications_group ON notifications (receiver, group_key, id);
CREATE INDEX notifications_job ON notifications (job_id);
CREATE INDEX notifications_state_updated ON notifications (state, updated_at);
-- At most one failover copy per notification.
CREATE UNIQUE INDEX notifications_failover_of ON notifications (failover_of) WHERE failover_of IS NOT NULL;

CREATE TABLE delivery_attempts (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  notification_id INTEGER NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  attempt_no      INTEGER NOT NULL,
  job_id          INTEGER NOT NULL,
  lease_token     INTEGER NOT NULL,
  owner           TEXT    NOT NULL,
  started_at      INTEGER NOT NULL,
  finished_at     INTEGER,
  result          TEXT CHECK (result IS NULL OR result IN
                    ('ok', 'http_4xx', 'http_429', 'http_5xx', 'timeout', 'network', 'smtp_4xx', 'smtp_5xx',
                     'crashed', 'error')),
  http_status     INTEGER,
  smtp_code       INTEGER,
  retry_after_ms  INTEGER,
  plain_text      INTEGER NOT NULL DEFAULT 0 CHECK (plain_text IN (0, 1)),
  -- Redacted and at most 500 characters.
  error           TEXT,
  duration_ms     INTEGER,
  UNIQUE (job_id, lease_token)
);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id, attempt_no);
CREATE INDEX delivery_attempts_open ON delivery_attempts (notification_id) WHERE finished_at IS NULL;

-- The notification log: per receiver and group, the alert episodes announced as firing and not yet announced
-- as resolved, when, and the e-mail thread root. Written in the same transaction as the notification.
CREATE TABLE alert_groups (
  receiver             TEXT    NOT NULL,
  group_key            TEXT    NOT NULL,
  group_labels         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(group_labels)),
  notified             TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(notified)),
  last_notified_at     INTEGER,
  last_notification_id INTEGER,
  repeat_epoch         INTEGER NOT NULL DEFAULT 0,
  thread_message_id    TEXT,
  updated_at           INTEGER NOT NULL,
  PRIMARY KEY (receiver, group_key)
) WITHOUT ROWID;

CREATE TABLE silences (
  id          TEXT    PRIMARY KEY,
  matchers    TEXT    NOT NULL CHECK (json_valid(matchers) AND json_array_length(matchers) >= 1),
  starts_at   INTEGER NOT NULL,
  ends_at     INTEGER NOT NULL CHECK (ends_at > starts_at),
  created_by  TEXT    NOT NULL,
  comment     TEXT    NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  expired_at  INTEGER
);
CREATE INDEX silences_active ON silences (ends_at) WHERE expired_at IS NULL;

-- An acknowledgement holds for one firing episode, until it resolves or `until` passes.
CREATE TABLE alert_acks (
  fingerprint TEXT    PRIMARY KEY REFERENCES alerts (fingerprint) ON DELETE CASCADE,
  episode     INTEGER NOT NULL,
  acked_by    TEXT    NOT NULL,
  comment     TEXT    NOT NULL DEFAULT '',
  acked_at    INTEGER NOT NULL,
  until       INTEGER
);

-- Alerts received from Prometheus (POST /api/v2/alerts) or Alertmanager (webhook): the sender's identity and
-- times. `resolve_at`: when a firing alert that is not refreshed resolves (Prometheus' endsAt, or
-- intake.resolveTimeoutS after the last post).
CREATE TABLE external_alerts (
  fingerprint        TEXT    PRIMARY KEY REFERENCES alerts (fingerprint) ON DELETE CASCADE,
  origin             TEXT    NOT NULL CHECK (origin IN ('alertmanager', 'prometheus')),
  origin_fingerprint TEXT,
  generator_url      TEXT,
  group_key          TEXT,
  origin_starts_at   INTEGER,
  resolve_at         INTEGER,
  last_seen_at       INTEGER NOT NULL
);
CREATE INDEX external_alerts_resolve ON external_alerts (resolve_at) WHERE resolve_at IS NOT NULL;

-- How far the dispatcher has read alert_events (one row).
CREATE TABLE dispatcher_cursor (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  last_event_id INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
