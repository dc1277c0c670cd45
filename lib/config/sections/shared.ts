// Shared sections: databases, http, log, site.
import { z } from 'zod';
import { isLoopbackHost } from '../../http/loopback.js';
import { pathField, refineSecret, secretFields, type SchemaContext } from '../fields.js';

export function databasesSection(ctx: SchemaContext) {
  return z.strictObject({
    state: pathField(ctx),
    pipeline: pathField(ctx),
    /** Milliseconds a statement outside a write (a read, a checkpoint) waits for a lock (SQLite's handler). */
    busyTimeoutMs: z.number().int().min(0).default(5000),
    /** Milliseconds db.writeAsync() waits for the write lock before DbBusyError (unless the call says). */
    writeBudgetMs: z.number().int().min(0).default(15_000),
    /**
     * Milliseconds a daemon's synchronous db.write() may block its event loop waiting for the write lock
     * before DbBusyError; kept far below the watchdog (half of WatchdogSec) so a lock held elsewhere cannot
     * get a daemon killed.
     */
    syncWriteBudgetMs: z.number().int().min(0).max(5_000).default(250),
    /** Milliseconds without the write lock after which a daemon reports a stall (log, /readyz 503). */
    writeStallMs: z.number().int().min(0).default(5_000),
    /** WAL size (bytes) above which the WAL guard checkpoints with RESTART and warns about readers. */
    walMaxBytes: z
      .number()
      .int()
      .min(0)
      .default(64 * 1024 * 1024),
    /** Milliseconds between WAL keeper ticks (WAL size sampling; the wal-keeper lease holder checkpoints). */
    walCheckMs: z.number().int().min(50).default(5_000),
  });
}

export function httpSection(ctx: SchemaContext) {
  return z
    .strictObject({
      /** Bind address for every daemon's HTTP server. Anything but loopback requires a token. */
      host: z.string().min(1).default('127.0.0.1'),
      ...secretFields(ctx, 'token'),
      /** Open WebSocket connections per daemon; further upgrades get HTTP 503 before upgrading. */
      wsMaxConnections: z.number().int().min(1).max(65_535).default(256),
    })
    .superRefine(refineSecret('token'))
    .superRefine((h, refinement) => {
      if (!isLoopbackHost(h.host) && h.token === undefined && h.tokenFile === undefined)
        refinement.addIssue({
          code: 'custom',
          path: ['token'],
          message: `required (or http.tokenFile) when http.host is not a loopback address (${h.host})`,
        });
    });
}

export function logSection() {
  return z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  });
}

export function siteSection(ctx: SchemaContext) {
  return z.strictObject({
    name: z.string().default('OVRO DSA-110'),
    latDeg: z.number().min(-90).max(90).default(37.2314),
    lonDeg: z.number().min(-180).max(360).default(-118.2817),
    heightM: z.number().default(1222),
    /** UT1−UTC in seconds: used when iersFile is unset or does not cover the date. */
    dut1Seconds: z.number().min(-1).max(1).default(0),
    /** A local IERS finals2000A file; never downloaded. */
    iersFile: pathField(ctx).optional(),
  });
}
