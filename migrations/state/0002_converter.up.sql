-- Tables of the streaming converter (hdf5_files, groups, attempts). (Reserved number; the owning daemon's change fills it.)
SELECT 1;
