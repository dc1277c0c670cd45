// The one config schema for all daemons. Users write RawConfig (almost everything optional); code uses
// Config, with every default filled in here and nowhere else.
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_TIMEOUTS, type Timeouts } from '../timeouts.js';
import { pathField, type SchemaContext } from './fields.js';
import { alertDispatcherSection } from './sections/alert-dispatcher.js';
import { pointingMonitorSection } from './sections/pointing-monitor.js';
import { retentionSection } from './sections/retention.js';
import { schedulerSection } from './sections/scheduler.js';
import { databasesSection, httpSection, logSection, siteSection } from './sections/shared.js';
import { streamingConverterSection } from './sections/streaming-converter.js';
import { thumbnailWorkerSection } from './sections/thumbnail-worker.js';

/**
 * Upper bounds of timeouts. The drain, then the 2 s hard-abort grace and closing, must end before systemd's
 * TimeoutStopSec=60 s in ops/systemd kills the daemon mid-drain.
 */
export const TIMEOUT_MAX: Partial<Record<keyof Timeouts, { max: number; why: string }>> = {
  drainMs: { max: 55_000, why: "the drain must end before the units' TimeoutStopSec (60 s)" },
};

function timeoutsSection() {
  const shape = Object.fromEntries(
    (Object.keys(DEFAULT_TIMEOUTS) as (keyof Timeouts)[]).map((k) => {
      const bound = TIMEOUT_MAX[k];
      const field = z.number().int().min(1);
      return [
        k,
        (bound ? field.max(bound.max, `at most ${bound.max} (${bound.why})`) : field).default(
          DEFAULT_TIMEOUTS[k],
        ),
      ];
    }),
  ) as Record<keyof Timeouts, z.ZodDefault<z.ZodNumber>>;
  return z.strictObject(shape);
}

/** Two daemons on one port: the second cannot bind, exits 1 and systemd restarts it in a loop. */
function refineDistinctPorts(cfg: Record<DaemonSection, { port: number }>, ctx: z.RefinementCtx): void {
  const seen = new Map<number, DaemonSection>();
  for (const section of DAEMON_SECTIONS) {
    const port = cfg[section].port;
    if (port === 0) continue; // any free port (tests)
    const other = seen.get(port);
    if (other === undefined) seen.set(port, section);
    else
      ctx.addIssue({
        code: 'custom',
        path: [section, 'port'],
        message: `port ${port} is also ${other}.port (every daemon needs its own port)`,
      });
  }
}

/**
 * Every check a daemon makes on its config at start lives here (field bounds, cross-field rules, argv
 * placeholders, distinct ports, a token off loopback), so `contimg check-config` and the daemons agree. Only
 * the contents of files the config names (secret files, IERS and calibrator tables) are read by the daemon,
 * because they may exist only inside the service (systemd LoadCredential=).
 */
export function configSchema(ctx: SchemaContext) {
  return z
    .strictObject({
      dataDir: pathField(ctx),
      databases: databasesSection(ctx),
      http: httpSection(ctx).prefault({}),
      log: logSection().prefault({}),
      site: siteSection(ctx).prefault({}),
      timeouts: timeoutsSection().prefault({}),
      retention: retentionSection().prefault({}),
      streamingConverter: streamingConverterSection(ctx).prefault({}),
      pointingMonitor: pointingMonitorSection(ctx).prefault({}),
      scheduler: schedulerSection(ctx).prefault({}),
      alertDispatcher: alertDispatcherSection(ctx).prefault({}),
      thumbnailWorker: thumbnailWorkerSection(ctx).prefault({}),
    })
    .superRefine(refineDistinctPorts);
}

export type Config = z.output<ReturnType<typeof configSchema>>;
export type RawConfig = z.input<ReturnType<typeof configSchema>>;

/** dataDir must be known before the rest parses, because section defaults live under it. */
export const dataDirOnly = (baseDir: string) =>
  z.object({ dataDir: pathField({ baseDir, dataDir: baseDir }) });

export const DAEMON_SECTIONS = [
  'streamingConverter',
  'pointingMonitor',
  'scheduler',
  'alertDispatcher',
  'thumbnailWorker',
] as const;
export type DaemonSection = (typeof DAEMON_SECTIONS)[number];

export function resolveAgainst(baseDir: string, p: string): string {
  return path.resolve(baseDir, p);
}
