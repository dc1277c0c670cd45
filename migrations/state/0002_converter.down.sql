-- Reverses 0002_converter.up.sql.
SELECT 1;
