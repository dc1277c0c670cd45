-- Reverses 0010_jobs_unfinished_indexes.up.sql: both indexes over every row again.
DROP INDEX jobs_finished;
CREATE INDEX jobs_finished ON jobs (state, finished_at);
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (queue, state, priority DESC, run_at, id);
