-- Reverses 0005_converter_scale.up.sql.
DROP INDEX IF EXISTS converter_archive_moves_pending;
DROP INDEX IF EXISTS converter_archive_moves_from;
DROP TABLE IF EXISTS converter_archive_moves;
DROP INDEX IF EXISTS converter_groups_archivable;
ALTER TABLE converter_groups DROP COLUMN archived_at;
DROP INDEX IF EXISTS converter_attempts_crashed;
DROP INDEX IF EXISTS converter_groups_anchor;
DROP INDEX IF EXISTS hdf5_files_validated;
