// Write DSA-110-layout UVH5 subband files with h5wasm: real HDF5 with the header datasets the upstream
// writer (dsa110-meridian-fs dsamfs/io.py) creates, correct units and dtypes, and small data arrays (a few
// antennas) so simulated files stay small. Used by the simulator, tests and benches.
import fs from 'node:fs';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import { unixMsToJd } from './time.js';

await h5wasm.ready;

/** DSA-110 constants: 48 channels of 244.140625 kHz per subband, 16 subbands, 12.884902 s. */
export const DSA110 = Object.freeze({
  nSubbands: 16,
  nChannels: 48,
  channelWidthHz: 244_140.625,
  /** Top of the band: sb00 holds the highest frequencies, channels descend (negative channel_width). */
  topFreqHz: 1_498_600_000,
  nIntegrations: 24,
  integrationS: 12.884902,
  latitudeDeg: 37.2314,
  longitudeDeg: -118.2817,
  altitudeM: 1222,
});

export interface SubbandSpec {
  /** Subband index 0..15. */
  subband: number;
  /** Start of the first integration (Unix ms); identical for all subbands of one observation. */
  startMs: number;
  /** Pointing declination (radians) written to extra_keywords/phase_center_dec. */
  decRad: number;
  /** Hour angle of the phase centre (radians), extra_keywords/ha_phase_center. */
  haRad?: number;
  nAnts?: number;
  nIntegrations?: number;
  nChannels?: number;
  /** Override Nfreqs in the header only (to simulate a header mismatch). */
  headerNfreqs?: number;
  /** Write freq_array as (Nfreqs), the pyuvdata >= 3 shape, instead of dsamfs's (1, Nfreqs). */
  flatFreqArray?: boolean;
}

/** Channel centre frequencies (Hz) of one subband, descending, contiguous with the neighbours. */
export function subbandFreqsHz(subband: number, nChannels: number = DSA110.nChannels): number[] {
  const df = DSA110.channelWidthHz;
  const top = DSA110.topFreqHz - subband * nChannels * df;
  return Array.from({ length: nChannels }, (_, i) => top - (i + 0.5) * df);
}

function baselines(nAnts: number): [number[], number[]] {
  const a1: number[] = [];
  const a2: number[] = [];
  for (let i = 0; i < nAnts; i++)
    for (let j = i; j < nAnts; j++) {
      a1.push(i);
      a2.push(j);
    }
  return [a1, a2];
}

type H5Group = InstanceType<typeof h5wasm.Group>;

function int64(g: H5Group, name: string, v: number): void {
  g.create_dataset({ name, data: BigInt64Array.from([BigInt(v)]), shape: [], dtype: '<q' });
}
function float64(g: H5Group, name: string, v: number): void {
  g.create_dataset({ name, data: Float64Array.from([v]), shape: [], dtype: '<d' });
}

type FullSpec = Required<SubbandSpec>;

function writeHeader(H: H5Group, spec: FullSpec): number {
  const [a1, a2] = baselines(spec.nAnts);
  const nbls = a1.length;
  const nblts = nbls * spec.nIntegrations;
  const times = new Float64Array(nblts);
  for (let t = 0; t < spec.nIntegrations; t++) {
    const mid = spec.startMs + (t + 0.5) * DSA110.integrationS * 1000;
    times.fill(unixMsToJd(mid), t * nbls, (t + 1) * nbls);
  }
  H.create_dataset({ name: 'telescope_name', data: 'OVRO_MMA' });
  H.create_dataset({ name: 'instrument', data: 'DSA' });
  H.create_dataset({ name: 'object_name', data: 'search' });
  H.create_dataset({ name: 'history', data: 'written by contimg simulate (DSA-110 layout)' });
  H.create_dataset({ name: 'phase_type', data: 'drift' });
  float64(H, 'latitude', DSA110.latitudeDeg);
  float64(H, 'longitude', DSA110.longitudeDeg);
  float64(H, 'altitude', DSA110.altitudeM);
  int64(H, 'Nants_data', spec.nAnts);
  int64(H, 'Nants_telescope', spec.nAnts);
  int64(H, 'Nbls', nbls);
  int64(H, 'Nblts', nblts);
  int64(H, 'Nfreqs', spec.headerNfreqs);
  int64(H, 'Npols', 2);
  int64(H, 'Ntimes', spec.nIntegrations);
  int64(H, 'Nspws', 1);
  // ant_1/ant_2 are per baseline-time, like time_array: the baseline list repeated for every integration.
  const rep = (a: number[]): Int32Array => Int32Array.from({ length: nblts }, (_, i) => a[i % nbls]);
  H.create_dataset({ name: 'ant_1_array', data: rep(a1), shape: [nblts], dtype: '<i' });
  H.create_dataset({ name: 'ant_2_array', data: rep(a2), shape: [nblts], dtype: '<i' });
  H.create_dataset({
    name: 'antenna_numbers',
    data: Int32Array.from({ length: spec.nAnts }, (_, i) => i),
    shape: [spec.nAnts],
    dtype: '<i',
  });
  H.create_dataset({
    name: 'antenna_names',
    data: Array.from({ length: spec.nAnts }, (_, i) => `DSA-${i + 1}`),
  });
  H.create_dataset({
    name: 'antenna_positions',
    data: new Float64Array(spec.nAnts * 3),
    shape: [spec.nAnts, 3],
    dtype: '<d',
  });
  H.create_dataset({ name: 'uvw_array', data: new Float64Array(nblts * 3), shape: [nblts, 3], dtype: '<d' });
  H.create_dataset({ name: 'time_array', data: times, shape: [nblts], dtype: '<d' });
  H.create_dataset({
    name: 'integration_time',
    data: new Float64Array(nblts).fill(DSA110.integrationS),
    shape: [nblts],
    dtype: '<d',
  });
  const freqs = subbandFreqsHz(spec.subband, spec.nChannels);
  H.create_dataset({
    name: 'freq_array',
    data: Float64Array.from(freqs),
    shape: spec.flatFreqArray ? [spec.nChannels] : [1, spec.nChannels],
    dtype: '<d',
  });
  float64(H, 'channel_width', -DSA110.channelWidthHz);
  H.create_dataset({ name: 'spw_array', data: Int32Array.from([0]), shape: [1], dtype: '<i' });
  H.create_dataset({ name: 'polarization_array', data: Int32Array.from([-5, -6]), shape: [2], dtype: '<i' });
  const ek = H.create_group('extra_keywords');
  float64(ek, 'phase_center_dec', spec.decRad);
  float64(ek, 'ha_phase_center', spec.haRad);
  ek.create_dataset({ name: 'phase_center_epoch', data: 'HADEC' });
  return nblts;
}

function writeData(D: H5Group, nblts: number, nChannels: number): void {
  const n = nblts * nChannels * 2;
  const shape = [nblts, 1, nChannels, 2];
  const vis = new Map([
    ['r', new Float32Array(n).fill(1)],
    ['i', new Float32Array(n)],
  ]);
  D.create_dataset({
    name: 'visdata',
    data: vis,
    shape,
    dtype: [
      ['r', '<f'],
      ['i', '<f'],
    ],
  });
  D.create_dataset({ name: 'flags', data: new Uint8Array(n), shape, dtype: '|b1' });
  D.create_dataset({ name: 'nsamples', data: new Float32Array(n).fill(1), shape, dtype: '<f' });
}

/** Write one subband file at `filePath` (created or overwritten; no temp name: callers rename). */
export function writeSubbandFile(filePath: string, spec: SubbandSpec): void {
  const full: FullSpec = {
    subband: spec.subband,
    startMs: spec.startMs,
    decRad: spec.decRad,
    haRad: spec.haRad ?? 0,
    nAnts: spec.nAnts ?? 3,
    nIntegrations: spec.nIntegrations ?? DSA110.nIntegrations,
    nChannels: spec.nChannels ?? DSA110.nChannels,
    headerNfreqs: spec.headerNfreqs ?? spec.nChannels ?? DSA110.nChannels,
    flatFreqArray: spec.flatFreqArray ?? false,
  };
  fs.mkdirSync(path.dirname(filePath), { recursive: true });
  const file = new h5wasm.File(path.resolve(filePath), 'w');
  if (!(file.file_id > 0n)) throw new Error(`cannot create HDF5 file ${filePath}`);
  try {
    const nblts = writeHeader(file.create_group('Header'), full);
    writeData(file.create_group('Data'), nblts, full.nChannels);
  } finally {
    file.close();
  }
}

/** The DSA-110 file name for a subband: `YYYY-MM-DDTHH:MM:SS_sbNN.hdf5` (UTC, whole seconds). */
export function subbandFileName(nameMs: number, subband: number): string {
  const iso = new Date(Math.floor(nameMs / 1000) * 1000).toISOString().slice(0, 19);
  return `${iso}_sb${String(subband).padStart(2, '0')}.hdf5`;
}
