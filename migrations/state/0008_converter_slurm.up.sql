-- The streaming converter's executor (docs/streaming-converter.md, "Executors"): an attempt runs as a local
-- child process under its supervisor, or as a Slurm batch job. A Slurm attempt's row names its job in the
-- dispatch transaction (slurm_job_name carries the group id and the attempt's dispatch time, so a job whose
-- id never reached the row is found again by name), gets the id when sbatch answers, and keeps the last
-- state seen by squeue/sacct.
ALTER TABLE converter_attempts ADD COLUMN executor TEXT NOT NULL DEFAULT 'local'
  CHECK (executor IN ('local', 'slurm'));
ALTER TABLE converter_attempts ADD COLUMN slurm_job_name TEXT;
ALTER TABLE converter_attempts ADD COLUMN slurm_job_id TEXT;
ALTER TABLE converter_attempts ADD COLUMN slurm_state TEXT;
