// The builder's checks of its inputs before any pixel is read: the fingerprint the planner recorded
// (size, mtime_ns, inode: the file must be the one that was planned), then each header: a 2-D celestial
// image (every other axis of length 1), in the grid's frame, in a projection we can invert. Each failure is
// a BuildFailure carrying the manifest's validation code and exit 5; an unreadable file is exit 2.
import fs from 'node:fs';
import { fitsCodeOf } from '../fits/errors.js';
import type { FitsHeader } from '../fits/header.js';
import { openImage, type OpenImage } from '../fits/plane.js';
import { BUILD_EXIT, frameKey, type MosaicInput, type ResultErrorCode } from './manifest.js';
import { WcsError, wcsFromHeader, type CelestialWcs } from './wcs.js';

/** A build that stops: the exit code, the result's error_code and a message naming the file or field. */
export class BuildFailure extends Error {
  constructor(
    readonly exitCode: number,
    readonly errorCode: ResultErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BuildFailure';
  }
}

const validation = (code: ResultErrorCode, msg: string): BuildFailure =>
  new BuildFailure(BUILD_EXIT.validation, code, msg);

/** The input is the file that was planned; a vanished or replaced file is input_changed (re-plan). */
export function checkFingerprint(input: MosaicInput): void {
  let st: fs.BigIntStats;
  try {
    st = fs.statSync(input.path, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw validation('input_changed', `${input.path}: gone since planning`);
    throw new BuildFailure(BUILD_EXIT.io, 'io', `${input.path}: ${(e as Error).message}`);
  }
  const now = { size: Number(st.size), mtime_ns: st.mtimeNs.toString(), ino: Number(st.ino) };
  if (now.size !== input.size || now.mtime_ns !== input.mtime_ns || now.ino !== input.ino) {
    throw validation(
      'input_changed',
      `${input.path}: changed since planning (size ${now.size}, mtime_ns ${now.mtime_ns}, ino ${now.ino}; ` +
        `planned ${input.size}, ${input.mtime_ns}, ${input.ino})`,
    );
  }
}

export interface InspectedInput {
  input: MosaicInput;
  wcs: CelestialWcs;
  nx: number;
  ny: number;
  frame: string;
  /** Frequency for the beam: FREQ axis, else RESTFRQ, else the manifest's pb.freq_hz. */
  freqHz: number;
  freqSource: 'FREQ axis' | 'RESTFRQ' | 'manifest';
  header: FitsHeader;
}

/** Open a FITS input, mapping lib/fits errors onto exit codes (missing → input_changed, I/O → 2). */
export function openInput(path: string): OpenImage {
  try {
    return openImage(path);
  } catch (e) {
    const code = fitsCodeOf(e);
    if (code === 'SOURCE_MISSING') throw validation('input_changed', `${path}: gone since planning`);
    if (code === 'IO_ERROR' || code === 'TRUNCATED_DATA' || code === 'TRUNCATED_HEADER')
      throw new BuildFailure(BUILD_EXIT.io, 'io', (e as Error).message);
    throw new BuildFailure(BUILD_EXIT.buildError, 'build_error', `${path}: ${(e as Error).message}`);
  }
}

function num(h: FitsHeader, key: string): number | undefined {
  const v = h.values.get(key);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function ctype(h: FitsHeader, n: number): string {
  const v = h.values.get(`CTYPE${n}`);
  return typeof v === 'string' ? v.trim().toUpperCase() : '';
}

/** Validate one opened input against the grid's frame; returns what the build needs from its header. */
export function inspectInput(input: MosaicInput, img: OpenImage, gridFrame: string): InspectedInput {
  const h = img.hdu.header;
  const extra = img.hdu.axes.slice(2);
  const long = extra.findIndex((n) => n !== 1);
  if (long >= 0) {
    throw validation(
      'not_continuum',
      `${input.path}: axis ${long + 3} (${ctype(h, long + 3) || 'unnamed'}) has ${extra[long]} pixels; ` +
        'a continuum image has two celestial axes and every other axis of length 1',
    );
  }
  let wcs: CelestialWcs;
  try {
    wcs = wcsFromHeader(h);
  } catch (e) {
    if (!(e instanceof WcsError)) throw e;
    throw validation(
      e.kind === 'not_celestial' ? 'not_continuum' : 'unsupported_projection',
      `${input.path}: ${e.message}`,
    );
  }
  const radesys = h.values.get('RADESYS') ?? h.values.get('RADECSYS');
  const equinox = num(h, 'EQUINOX') ?? num(h, 'EPOCH');
  const frame = frameKey(typeof radesys === 'string' ? radesys : undefined, equinox);
  if (frame !== gridFrame) {
    throw validation(
      'frame_mismatch',
      `${input.path}: frame ${frame} (RADESYS ${String(radesys ?? 'unset')}, EQUINOX ${String(equinox ?? 'unset')}) ` +
        `is not the grid's ${gridFrame}; the builder never converts frames`,
    );
  }
  const { freqHz, freqSource } = frequencyOf(h, input.pb.freq_hz);
  return { input, wcs, nx: img.nx, ny: img.ny, frame, freqHz, freqSource, header: h };
}

/** The observing frequency: the FREQ axis at pixel 1, else RESTFRQ (RESTFREQ), else the manifest default. */
export function frequencyOf(
  h: FitsHeader,
  fallbackHz: number,
): { freqHz: number; freqSource: InspectedInput['freqSource'] } {
  const naxis = num(h, 'NAXIS') ?? 0;
  for (let n = 3; n <= naxis; n++) {
    if (!ctype(h, n).startsWith('FREQ')) continue;
    const f = (num(h, `CRVAL${n}`) ?? NaN) + (1 - (num(h, `CRPIX${n}`) ?? 1)) * (num(h, `CDELT${n}`) ?? 0);
    if (f > 0) return { freqHz: f, freqSource: 'FREQ axis' };
  }
  const rest = num(h, 'RESTFRQ') ?? num(h, 'RESTFREQ');
  if (rest !== undefined && rest > 0) return { freqHz: rest, freqSource: 'RESTFRQ' };
  return { freqHz: fallbackHz, freqSource: 'manifest' };
}
