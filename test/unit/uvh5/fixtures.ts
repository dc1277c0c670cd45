// Invalid and valid UVH5 files for the reader tests, written into a temp folder.
import fs from 'node:fs';
import path from 'node:path';
import { writeSubbandFile } from '../../../lib/uvh5/writer.js';
import { SHARED_DATA } from '../../helpers/tmp.js';

export const REAL_UVH5 = [
  'zen.2458661.23480.HH.uvh5',
  'mwa_integration_time.uvh5',
  'simulated_bda_file.uvh5',
].map((f) => path.join(SHARED_DATA, 'uvh5', f));

export const START_MS = Date.UTC(2025, 5, 1, 12, 0, 0);

export interface BadFiles {
  empty: string;
  text: string;
  truncated: string;
  openForWrite: string;
  corruptBody: string;
  wrongNfreqs: string;
}

export function writeBadFiles(dir: string): BadFiles {
  const real = fs.readFileSync(REAL_UVH5[0]);
  const p = (n: string): string => path.join(dir, n);
  fs.writeFileSync(p('empty.hdf5'), '');
  fs.writeFileSync(p('text.hdf5'), 'this is not an HDF5 file\n'.repeat(40));
  fs.writeFileSync(p('truncated.hdf5'), real.subarray(0, Math.floor(real.length / 2)));
  // Superblock v0 consistency flags live at byte 20: a writer that still has the file open sets them.
  const open = Buffer.from(real);
  open.writeUInt32LE(1, 20);
  fs.writeFileSync(p('open.hdf5'), open);
  // Intact superblock and size, garbage where the root group's object header and B-tree live.
  const corrupt = Buffer.from(real);
  corrupt.fill(0x5a, 96, 8192);
  fs.writeFileSync(p('corrupt.hdf5'), corrupt);
  writeSubbandFile(p('nfreqs.hdf5'), {
    subband: 0,
    startMs: START_MS,
    decRad: 0.5,
    headerNfreqs: 47,
    nChannels: 47,
  });
  return {
    empty: p('empty.hdf5'),
    text: p('text.hdf5'),
    truncated: p('truncated.hdf5'),
    openForWrite: p('open.hdf5'),
    corruptBody: p('corrupt.hdf5'),
    wrongNfreqs: p('nfreqs.hdf5'),
  };
}
