// Test helpers for the pointing monitor: a migrated state DB, a monitor built on it with a manual clock,
// and hdf5_files rows pointing at simulator-written sb00 files (as the streaming converter indexes them).
import fs from 'node:fs';
import path from 'node:path';
import { createMonitor } from '../../../daemons/pointing-monitor/run.js';
import type { PointingMonitor } from '../../../daemons/pointing-monitor/monitor.js';
import { ManualClock, type Clock } from '../../../lib/clock.js';
import { parseConfig, type RawConfig } from '../../../lib/config/index.js';
import type { DaemonDeps } from '../../../lib/daemon/types.js';
import { openDb, type Db } from '../../../lib/db/index.js';
import { silentLogger } from '../../../lib/log.js';
import { Registry } from '../../../lib/metrics.js';
import { subbandFileName, writeSubbandFile } from '../../../lib/uvh5/index.js';
import { headerReader } from '../../../lib/uvh5/reader.js';
import { freshDatabases } from '../../helpers/db.js';

export interface Harness {
  monitor: PointingMonitor;
  db: Db;
  clock: ManualClock;
  /** The clock the monitor uses (the ManualClock unless one was passed). */
  used: Clock;
  registry: Registry;
  dir: string;
  /** What the monitor was built from (build a second monitor on the same database with createMonitor). */
  deps: DaemonDeps;
  close(): void;
  /** A new monitor on the same database, config and clock: the daemon after a restart. */
  restart(): PointingMonitor;
}

export async function harness(
  dir: string,
  startMs: number,
  pointingMonitor: RawConfig['pointingMonitor'] = {},
  useClock?: Clock,
): Promise<Harness> {
  const { statePath, pipelinePath } = await freshDatabases(dir);
  // The daemon's headers loop loads the reader when a header is first pending; these tests poll directly.
  await headerReader.load();
  const config = parseConfig(
    { dataDir: dir, databases: { state: statePath, pipeline: pipelinePath }, pointingMonitor },
    dir,
  );
  const clock = new ManualClock(startMs);
  const used = useClock ?? clock;
  const db = openDb({ name: 'state', path: statePath, clock: used });
  const registry = new Registry();
  const deps = {
    name: 'pointing-monitor',
    config,
    log: silentLogger(),
    clock: used,
    state: db,
    registry,
  } as unknown as DaemonDeps;
  const h: Harness = {
    monitor: createMonitor(deps),
    db,
    clock,
    used,
    registry,
    dir,
    deps,
    close() {
      h.monitor.stop();
      db.close();
    },
    restart() {
      h.monitor.stop();
      h.registry = new Registry();
      h.monitor = createMonitor({ ...deps, registry: h.registry });
      return h.monitor;
    },
  };
  return h;
}

/** Write an sb00 file for a group starting at startMs and index it as a valid hdf5_files row. */
export function addGroup(
  db: Db,
  dir: string,
  startMs: number,
  decDeg: number,
  opts: { contentStartMs?: number } = {},
): string {
  const name = subbandFileName(startMs, 0);
  const file = path.join(dir, 'incoming', name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeSubbandFile(file, {
    subband: 0,
    startMs: opts.contentStartMs ?? startMs,
    decRad: (decDeg * Math.PI) / 180,
  });
  indexFile(db, file, startMs);
  return file;
}

export function indexFile(db: Db, file: string, tsMs: number, state = 'valid'): void {
  const st = fs.statSync(file);
  const name = path.basename(file);
  db.write((c) =>
    c
      .prepare(
        `INSERT INTO hdf5_files (path, name, ts_name, ts_ms, subband, size, mtime_ms, inode, dev, state, stable_since,
           first_seen_at, last_checked_at, validated_at)
         VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        file,
        name,
        name.slice(0, 19),
        tsMs,
        st.size,
        Math.floor(st.mtimeMs),
        st.ino,
        st.dev,
        state,
        tsMs,
        tsMs,
        tsMs,
        tsMs,
      ),
  );
}

export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  if (!m) return undefined;
  const v = (await m.get()).values.find((x) =>
    Object.entries(labels).every(([k, val]) => x.labels[k] === val),
  );
  return v?.value;
}
