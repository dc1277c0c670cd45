// The subband simulator: writes DSA-110-layout UVH5 files (real HDF5 via h5wasm) for one observation every
// cadenceS into an incoming directory, the way the correlator nodes and rsync deliver them: a hidden temp
// name, then rename; every subband's name timestamp jittered by a few seconds. Faults on chosen groups: a
// missing subband, a corrupt (truncated) file, a slow writer that grows the final name in place, a
// duplicate subband with a nearby timestamp, and a header with the wrong Nfreqs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pid } from 'node:process';
import { pause } from '../clock.js';
import { DSA110, subbandFileName, writeSubbandFile } from '../uvh5/writer.js';

export const FAULTS = [
  'missing-subband',
  'corrupt-file',
  'slow-writer',
  'duplicate-subband',
  'wrong-nfreqs',
] as const;
export type FaultKind = (typeof FAULTS)[number];

export interface Fault {
  kind: FaultKind;
  /** Which group (0-based) it applies to. */
  group: number;
  /** Which subband it hits. */
  subband: number;
}

export interface SimOptions {
  incomingDir: string;
  groups: number;
  /** Wall-clock seconds between groups. */
  cadenceS: number;
  /** Observation-time seconds between groups' timestamps (default cadenceS; 309 s on the telescope). */
  spacingS?: number;
  startMs: number;
  /** Largest name-timestamp jitter between subbands of one observation (s). */
  jitterS?: number;
  decRad?: number;
  nAnts?: number;
  faults?: Fault[];
  /** How long the slow writer takes to grow its file (s). */
  slowWriterS?: number;
  signal?: AbortSignal;
  /** Called after each file appears under its final name. */
  onFile?: (file: { path: string; group: number; subband: number }) => void;
  /**
   * Real-time pacing: an observation is written once its data would be complete on the telescope (its start
   * plus spacingS), never sooner than cadenceS after the previous one. A start in the past therefore replays
   * a backlog at cadenceS, then the simulator keeps step with the wall clock.
   */
  realTime?: boolean;
  /** Wall clock for real-time pacing (ms); injectable for tests. */
  now?: () => number;
}

/** How long to wait before writing group g (g > 0). */
export function waitBeforeGroupMs(o: SimOptions, g: number, nowMs: number): number {
  const cadenceMs = o.cadenceS * 1000;
  if (!o.realTime) return cadenceMs;
  const completeAt = o.startMs + (g + 1) * (o.spacingS ?? o.cadenceS) * 1000;
  return Math.max(cadenceMs, completeAt - nowMs);
}

/** Parse `kind[@group[:subband]]`, e.g. `missing-subband@2:7`. */
export function parseFault(text: string): Fault {
  const m = /^([a-z-]+)(?:@(\d+)(?::(\d+))?)?$/.exec(text.trim());
  if (!m || !(FAULTS as readonly string[]).includes(m[1]))
    throw new Error(`bad fault "${text}": expected one of ${FAULTS.join(', ')}, optionally @GROUP[:SUBBAND]`);
  const defaults: Record<FaultKind, number> = {
    'missing-subband': 7,
    'corrupt-file': 3,
    'slow-writer': 5,
    'duplicate-subband': 9,
    'wrong-nfreqs': 11,
  };
  const kind = m[1] as FaultKind;
  return { kind, group: m[2] ? Number(m[2]) : 0, subband: m[3] ? Number(m[3]) : defaults[kind] };
}

/** Deterministic per-(group, subband) jitter in [0, maxS] whole seconds; sb00 keeps the observation time. */
export function jitterSeconds(group: number, subband: number, maxS: number): number {
  if (subband === 0 || maxS <= 0) return 0;
  const x = Math.sin((group + 1) * 12.9898 + subband * 78.233) * 43758.5453;
  return Math.floor((x - Math.floor(x)) * (maxS + 1));
}

function writeViaRename(dir: string, name: string, write: (tmp: string) => void): string {
  const final = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${pid}.tmp`);
  write(tmp);
  fs.renameSync(tmp, final);
  return final;
}

async function slowCopy(src: string, dest: string, seconds: number, signal?: AbortSignal): Promise<void> {
  const data = fs.readFileSync(src);
  const steps = 5;
  const chunk = Math.ceil(data.length / steps);
  const fd = fs.openSync(dest, 'w');
  try {
    for (let i = 0; i < steps; i++) {
      fs.writeSync(fd, data, i * chunk, Math.min(chunk, data.length - i * chunk), i * chunk);
      if (i < steps - 1 && (await pause((seconds * 1000) / (steps - 1), signal))) break;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Write one observation's files; returns the final paths written. */
export async function writeGroup(o: SimOptions, group: number): Promise<string[]> {
  const startMs = o.startMs + group * (o.spacingS ?? o.cadenceS) * 1000;
  const faults = (o.faults ?? []).filter((f) => f.group === group);
  const fault = (kind: FaultKind, sb: number): boolean =>
    faults.some((f) => f.kind === kind && f.subband === sb);
  const written: string[] = [];
  fs.mkdirSync(o.incomingDir, { recursive: true });
  for (let sb = 0; sb < DSA110.nSubbands; sb++) {
    if (o.signal?.aborted) break;
    if (fault('missing-subband', sb)) continue;
    const name = subbandFileName(startMs + jitterSeconds(group, sb, o.jitterS ?? 2) * 1000, sb);
    const spec = { subband: sb, startMs, decRad: o.decRad ?? 0.9, haRad: 0, nAnts: o.nAnts ?? 3 };
    let p: string;
    if (fault('slow-writer', sb)) {
      const tmp = path.join(os.tmpdir(), `contimg-sim-${pid}-${name}`);
      writeSubbandFile(tmp, spec);
      p = path.join(o.incomingDir, name);
      await slowCopy(tmp, p, o.slowWriterS ?? 6, o.signal);
      fs.rmSync(tmp, { force: true });
    } else {
      p = writeViaRename(o.incomingDir, name, (tmp) => {
        writeSubbandFile(tmp, fault('wrong-nfreqs', sb) ? { ...spec, nChannels: 47 } : spec);
        if (fault('corrupt-file', sb)) fs.truncateSync(tmp, Math.floor(fs.statSync(tmp).size / 2));
      });
    }
    written.push(p);
    o.onFile?.({ path: p, group, subband: sb });
    if (fault('duplicate-subband', sb)) {
      const dup = subbandFileName(startMs + (jitterSeconds(group, sb, o.jitterS ?? 2) + 3) * 1000, sb);
      const q = writeViaRename(o.incomingDir, dup, (tmp) => writeSubbandFile(tmp, spec));
      written.push(q);
      o.onFile?.({ path: q, group, subband: sb });
    }
  }
  return written;
}

/** Write `groups` observations, the first at once, then paced (see realTime). Stops early when aborted. */
export async function simulate(o: SimOptions): Promise<number> {
  let done = 0;
  const now = o.now ?? Date.now;
  for (let g = 0; g < o.groups; g++) {
    if (g > 0 && (await pause(waitBeforeGroupMs(o, g, now()), o.signal))) break;
    if (o.signal?.aborted) break;
    await writeGroup(o, g);
    done++;
  }
  return done;
}
