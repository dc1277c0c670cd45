// The one config schema for all daemons. Users write RawConfig (almost everything optional); code uses
// Config, with every default filled in here and nowhere else.
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_TIMEOUTS, type Timeouts } from '../timeouts.js';
import { pathField, type SchemaContext } from './fields.js';
import { alertDispatcherSection } from './sections/alert-dispatcher.js';
import { pointingMonitorSection } from './sections/pointing-monitor.js';
import { schedulerSection } from './sections/scheduler.js';
import { databasesSection, httpSection, logSection, siteSection } from './sections/shared.js';
import { streamingConverterSection } from './sections/streaming-converter.js';
import { thumbnailWorkerSection } from './sections/thumbnail-worker.js';

function timeoutsSection() {
  const shape = Object.fromEntries(
    (Object.keys(DEFAULT_TIMEOUTS) as (keyof Timeouts)[]).map((k) => [
      k,
      z.number().int().min(1).default(DEFAULT_TIMEOUTS[k]),
    ]),
  ) as Record<keyof Timeouts, z.ZodDefault<z.ZodNumber>>;
  return z.strictObject(shape);
}

export function configSchema(ctx: SchemaContext) {
  return z.strictObject({
    dataDir: pathField(ctx),
    databases: databasesSection(ctx),
    http: httpSection(ctx).prefault({}),
    log: logSection().prefault({}),
    site: siteSection(ctx).prefault({}),
    timeouts: timeoutsSection().prefault({}),
    streamingConverter: streamingConverterSection(ctx).prefault({}),
    pointingMonitor: pointingMonitorSection(ctx).prefault({}),
    scheduler: schedulerSection().prefault({}),
    alertDispatcher: alertDispatcherSection(ctx).prefault({}),
    thumbnailWorker: thumbnailWorkerSection(ctx).prefault({}),
  });
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
