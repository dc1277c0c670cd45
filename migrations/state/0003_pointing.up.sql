-- Tables of the pointing monitor (calibrators, pointing, transits). (Reserved number; the owning daemon's change fills it.)
SELECT 1;
