-- Streaming converter at scale (docs/streaming-converter.md, "Scan model"): the incoming directory keeps
-- every input, so hdf5_files grows by ~4,500 rows a day. Indexes that keep the daemon's per-tick queries
-- independent of that history, and the optional archive policy's record of moved inputs.

-- max(validated_at) for the stale-input alert: an index lookup instead of a scan of every row.
CREATE INDEX hdf5_files_validated ON hdf5_files (validated_at);

-- Groups near a file's name time (placing a valid file): a range on anchor_ms, not a scan of every group.
CREATE INDEX converter_groups_anchor ON converter_groups (anchor_ms);

-- Crashed attempts in the last hour (the repeated-crash alert): only crashed attempts are indexed.
CREATE INDEX converter_attempts_crashed ON converter_attempts (ended_at) WHERE outcome = 'crashed';

-- When the archive policy moved the group's inputs out of incomingDir (NULL: not archived).
ALTER TABLE converter_groups ADD COLUMN archived_at INTEGER;
-- Converted groups not archived yet, oldest finish first: what the archive policy picks from.
CREATE INDEX converter_groups_archivable ON converter_groups (finished_at)
  WHERE state = 'converted' AND archived_at IS NULL;

-- One row per input moved by the archive policy. Written before the rename (moved_at NULL: intent) and
-- completed in the transaction that updates hdf5_files.path, so a crash between the two is repaired at the
-- next start from this row. Manifests keep the path at conversion time: from_path → to_path maps it.
CREATE TABLE converter_archive_moves (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  group_ref   INTEGER NOT NULL REFERENCES converter_groups (id),
  from_path   TEXT    NOT NULL,
  to_path     TEXT    NOT NULL UNIQUE,
  -- The file's identity when the move was planned: repair trusts a path only if it holds this inode.
  inode       INTEGER NOT NULL,
  dev         INTEGER NOT NULL,
  started_at  INTEGER NOT NULL,
  moved_at    INTEGER
);
CREATE INDEX converter_archive_moves_from ON converter_archive_moves (from_path);
CREATE INDEX converter_archive_moves_pending ON converter_archive_moves (id) WHERE moved_at IS NULL;
