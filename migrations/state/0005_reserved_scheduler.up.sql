-- Placeholder for the scheduler's migration (number 0005 is allotted to the scheduler branch). It is empty
-- here only so that 0006 (alert dispatcher) applies in a branch without the scheduler: the numbering must be
-- gap-free. When the branches meet, the scheduler's 0005 replaces this pair.
SELECT 1;
