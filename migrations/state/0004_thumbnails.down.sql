-- Reverses 0004_thumbnails.up.sql.
SELECT 1;
