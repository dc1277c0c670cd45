-- Reverses 0002_converter.up.sql.
DROP INDEX IF EXISTS converter_attempts_open;
DROP TABLE IF EXISTS converter_attempts;
DROP INDEX IF EXISTS hdf5_files_group;
DROP INDEX IF EXISTS hdf5_files_ts;
DROP INDEX IF EXISTS hdf5_files_state;
DROP INDEX IF EXISTS hdf5_files_slot;
DROP TABLE IF EXISTS hdf5_files;
DROP INDEX IF EXISTS converter_groups_job;
DROP INDEX IF EXISTS converter_groups_state_anchor;
DROP TABLE IF EXISTS converter_groups;
