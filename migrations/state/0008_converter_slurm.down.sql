-- Reverses 0008_converter_slurm.up.sql.
ALTER TABLE converter_attempts DROP COLUMN slurm_state;
ALTER TABLE converter_attempts DROP COLUMN slurm_job_id;
ALTER TABLE converter_attempts DROP COLUMN slurm_job_name;
ALTER TABLE converter_attempts DROP COLUMN executor;
