-- Reverses 0003_pointing.up.sql.
SELECT 1;
