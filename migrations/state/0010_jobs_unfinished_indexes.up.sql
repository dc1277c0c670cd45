-- The queue's two state indexes hold only the rows they serve (docs/database.md §7, "Indexes that hold only
-- what they serve"). jobs_claim is walked by claims and "is anything due" reads, which only look at queued and
-- running jobs; jobs_finished by retention, which only looks at finished ones. As full indexes, every claim
-- and every completion moved an entry in both (four index pages per step), and the claim index grew with
-- every finished job until retention pruned it. Queries that walk jobs_claim repeat the index's WHERE term
-- exactly (`state IN ('queued', 'running')`, lib/queue/sql.ts UNFINISHED): SQLite uses a partial index only
-- when the query's WHERE contains it. jobs_finished carries `queue` so per-queue counts of finished jobs
-- are read from it alone.
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (queue, state, priority DESC, run_at, id) WHERE state IN ('queued', 'running');
DROP INDEX jobs_finished;
CREATE INDEX jobs_finished ON jobs (state, finished_at, queue) WHERE finished_at IS NOT NULL;
