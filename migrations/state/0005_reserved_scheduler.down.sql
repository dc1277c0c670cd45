-- Reverses 0005_reserved_scheduler.up.sql (nothing to undo).
SELECT 1;
