// The host the status page tests and bench look at: all five built daemons as child processes (test/ops/stack),
// on the dev config with a token, fed by the simulator: observations with their images, a week of the
// pipeline's calibration (with a drifting calibrator), and a calibrator at the simulated pointing whose
// transit window is open while the tests run. The converter converts every group but fails the first one, so
// a failed group with its critical alert is there to requeue and acknowledge.
import fs from 'node:fs';
import path from 'node:path';
import { simulateCalibration } from '../../cli/sim-calibration.js';
import { lstHours } from '../../lib/astro/index.js';
import { CONVERT_CHECK_ARGS } from '../../lib/config/sections/streaming-converter.js';
import type { DaemonName } from '../../lib/daemon/types.js';
import { openDb } from '../../lib/db/index.js';
import { writeObservationImage } from '../../lib/sim/fits-images.js';
import { DSA110, subbandFileName, writeSubbandFile } from '../../lib/uvh5/writer.js';
import { Stack } from '../ops/stack.js';
import { waitFor } from '../helpers/wait.js';
import { REPO_ROOT } from '../helpers/tmp.js';

export const ALL_DAEMONS: DaemonName[] = [
  'streaming-converter',
  'pointing-monitor',
  'scheduler',
  'alert-dispatcher',
  'thumbnail-worker',
];
/** The simulator's pointing (its default 0.9 rad). */
export const SIM_DEC_DEG = (0.9 * 180) / Math.PI;
export const TEST_CALIBRATOR = 'J0000+5134';
const CONVERTER = path.join(REPO_ROOT, 'test', 'fixtures', 'status-page', 'converter.mjs');
const OBSERVATION_S = 309;

export interface StatusStack {
  stack: Stack;
  token: string;
  /** The page URL on a daemon (with the token). */
  pageUrl(daemon: DaemonName): string;
  /** SQL on the state database (read-only connection per call). */
  query<T>(sql: string, ...args: unknown[]): T[];
  /** Write one observation the way the correlator does, a subband every `gapMs`, then its image. */
  observe(startMs: number, gapMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** A right ascension whose apparent transit is about `inMs` from now (precession moves it by a minute or so). */
function raTransitingIn(inMs: number, lonDeg: number): number {
  return (lstHours(Date.now() + inMs, { lonDeg }) * 15 + 360) % 360;
}

export async function startStatusStack(
  opts: { names?: DaemonName[]; token?: string; failOnce?: boolean } = {},
): Promise<StatusStack> {
  const token = opts.token ?? 'status-page-test-token';
  const stack = await Stack.create({
    names: opts.names ?? ALL_DAEMONS,
    token,
    overrides: {
      streamingConverter: {
        converter: {
          argv: [
            process.execPath,
            CONVERTER,
            '--fail-once',
            '{scratch}/../../fail-once',
            ...CONVERT_CHECK_ARGS.slice(1),
          ],
          outputName: '{group}.json',
          timeoutS: 60,
        },
        settleS: 0.3,
        // Scans often, so files are judged one by one as they arrive whether or not the watcher fires.
        scanIntervalS: 0.5,
        watchDebounceMs: 50,
      },
      pointingMonitor: {
        calibrators: [
          {
            name: TEST_CALIBRATOR,
            raDeg: raTransitingIn(8 * 60_000, -118.2817),
            decDeg: SIM_DEC_DEG,
            fluxJy: 12,
          },
        ],
        activeWindow: 'fixed',
        activeHalfWindowS: 1500,
      },
    },
  });
  const cfg = stack.config;
  // One conversion fails: the first one to take this file ({scratch}/../.. is scratchDir).
  fs.mkdirSync(cfg.streamingConverter.scratchDir, { recursive: true });
  if (opts.failOnce !== false)
    fs.writeFileSync(path.join(cfg.streamingConverter.scratchDir, 'fail-once'), '');
  const pipelineDb = openDb({ name: 'pipeline', path: cfg.databases.pipeline });
  try {
    simulateCalibration({
      config: cfg,
      pipelineDb,
      decDeg: SIM_DEC_DEG,
      fromMs: Date.now() - 8 * 86_400_000,
      nowMs: Date.now(),
      faults: ['flux-drift'],
    });
  } finally {
    pipelineDb.close();
  }
  const query = <T>(sql: string, ...args: unknown[]): T[] => {
    const db = openDb({ name: 'state', path: cfg.databases.state, readonly: true });
    try {
      return db.read((c) => c.prepare(sql).all(...args) as T[]);
    } finally {
      db.close();
    }
  };
  const observe = async (startMs: number, gapMs = 0): Promise<string> => {
    const dir = cfg.streamingConverter.incomingDir;
    fs.mkdirSync(dir, { recursive: true });
    for (let sb = 0; sb < DSA110.nSubbands; sb++) {
      const name = subbandFileName(startMs, sb);
      const tmp = path.join(dir, `.${name}.tmp`);
      writeSubbandFile(tmp, { subband: sb, startMs, decRad: 0.9 });
      fs.renameSync(tmp, path.join(dir, name));
      if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    }
    const groupId = new Date(Math.floor(startMs / 1000) * 1000).toISOString().slice(0, 19);
    const db = openDb({ name: 'pipeline', path: cfg.databases.pipeline });
    try {
      writeObservationImage({
        dir: path.join(cfg.dataDir, 'images'),
        groupId,
        seed: startMs % 997,
        pipelineDb: db,
      });
    } finally {
      db.close();
    }
    return groupId;
  };
  return {
    stack,
    token,
    pageUrl: (d) => stack.url(d, `/?token=${encodeURIComponent(token)}`),
    query,
    observe,
    stop: () => stack.stop(),
  };
}

/** Start the daemons, write `groups` past observations and wait until each is converted or failed. */
export async function fillStatusStack(s: StatusStack, groups: number): Promise<void> {
  await s.stack.start();
  const t0 = Math.floor(Date.now() / 1000) * 1000 - (groups + 1) * OBSERVATION_S * 1000;
  for (let g = 0; g < groups; g++) await s.observe(t0 + g * OBSERVATION_S * 1000);
  await waitFor(
    () =>
      s.query<{ n: number }>(
        "SELECT count(*) AS n FROM converter_groups WHERE state IN ('converted', 'failed')",
      )[0].n >= groups &&
      s.query<{ n: number }>("SELECT count(*) AS n FROM thumbnails WHERE status = 'done'")[0].n >= groups,
    { what: `${groups} groups converted and their thumbnails`, timeoutMs: 120_000, intervalMs: 250 },
  );
}
