-- Tables of the thumbnail worker (thumbnails, fits_metadata). (Reserved number; the owning daemon's change fills it.)
SELECT 1;
