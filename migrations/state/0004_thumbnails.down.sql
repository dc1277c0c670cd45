-- Reverses 0004_thumbnails.up.sql.
DROP TABLE IF EXISTS fits_metadata;
DROP TABLE IF EXISTS thumbnails;
