// The mosaic dispatch gate: builds are not claimed while the output or scratch folder has less free space
// than builder.minFreeGbOutput / minFreeGbScratch, or while an operator's pause is set (`contimg mosaic
// pause`). Every reason is a row of mosaic_dispatch_pauses with its start (the disk rows are written here when
// the space runs out and deleted when it comes back; the operator's by ops.ts), a gauge
// contimg_mosaic_dispatch_paused{reason}, and, once it has held for PAUSE_ALERT_MS, MosaicDispatchPaused
// {reason}, resolved when it lifts. Builds already running are never stopped by the gate.
import { raiseAlert, resolveAlert, firingLabelSets } from '../../../lib/alerts/index.js';
import type { Clock } from '../../../lib/clock.js';
import type { MosaicConfig } from '../../../lib/config/sections/mosaic.js';
import { cachedStatement as st, type Connection, type Db } from '../../../lib/db/index.js';
import type { Logger } from '../../../lib/log.js';
import { PAUSE_REASONS, type DispatchMetrics, type PauseReason } from './dispatch-metrics.js';
import { emit } from './dispatch-outcome.js';
import * as S from './dispatch-store.js';

export const DISPATCH_PAUSED = 'MosaicDispatchPaused';
/** A pause becomes an alert after this long. */
export const PAUSE_ALERT_MS = 15 * 60_000;

const GB = 1e9;

/**
 * Raise MosaicDispatchPaused for each reason paused for PAUSE_ALERT_MS or more, resolve it for reasons no
 * longer paused (inside the caller's write). The gate calls it on every check; the watchdog may too.
 */
export function evaluatePauses(conn: Connection, now: number): void {
  const rows = S.pauses(conn);
  for (const p of rows)
    if (now - p.since >= PAUSE_ALERT_MS)
      raiseAlert(
        conn,
        {
          alertname: DISPATCH_PAUSED,
          severity: 'warning',
          labels: { reason: p.reason },
          annotations: {
            summary: `mosaic dispatch paused (${p.reason}) for ${Math.round((now - p.since) / 60_000)} min`,
            description:
              p.reason === 'operator'
                ? `paused by ${p.by ?? 'an operator'}; \`contimg mosaic resume\` lifts it`
                : `free space on the mosaic ${p.reason === 'disk_output' ? 'output' : 'scratch'} folder is below its minimum`,
          },
          source: 'scheduler',
        },
        now,
      );
  const held = new Set(rows.map((r) => r.reason));
  for (const labels of firingLabelSets(conn, DISPATCH_PAUSED))
    if (!held.has(labels.reason ?? '')) resolveAlert(conn, { alertname: DISPATCH_PAUSED, labels }, now);
}

export class DispatchGate {
  constructor(
    private readonly o: {
      cfg: MosaicConfig;
      db: Db;
      clock: Clock;
      log: Logger;
      m: DispatchMetrics;
      /** Free bytes of a path (fs.statfs by default; tests pass a fake). */
      freeBytes: (p: string) => number;
    },
  ) {}

  /** The disk reasons that hold now (a folder that cannot be measured does not pause). */
  private diskShort(): Set<PauseReason> {
    const { cfg, freeBytes } = this.o;
    const short = new Set<PauseReason>();
    const checks = [
      ['disk_output', cfg.outputDir, cfg.builder.minFreeGbOutput],
      ['disk_scratch', cfg.scratchDir, cfg.builder.minFreeGbScratch],
    ] as const;
    for (const [reason, dir, minGb] of checks) {
      try {
        if (freeBytes(dir) < minGb * GB) short.add(reason);
      } catch {
        // not measurable (missing folder): the build's own I/O error says more
      }
    }
    return short;
  }

  /**
   * Look at the disks and the pause rows: write the disk rows that changed, set the gauges, raise or resolve
   * the alert. Returns the reasons dispatch is paused for (empty: open).
   */
  check(): PauseReason[] {
    const { db, clock, m, log } = this.o;
    const short = this.diskShort();
    const now = clock.now();
    // The common case (no pause, nothing short) takes no write lock.
    if (short.size === 0 && db.read((c) => S.pauses(c)).length === 0) {
      for (const r of PAUSE_REASONS) m.paused.set({ reason: r }, 0);
      return [];
    }
    const held = db.write((conn) => {
      const rows = new Set(S.pauses(conn).map((p) => p.reason as PauseReason));
      for (const r of ['disk_output', 'disk_scratch'] as const) {
        if (short.has(r) && !rows.has(r)) {
          st(conn, 'INSERT INTO mosaic_dispatch_pauses (reason, since, by) VALUES (?, ?, ?)').run(
            r,
            now,
            'scheduler',
          );
          emit(conn, 'dispatch_paused', { reason: r }, now);
          log.warn({ reason: r }, 'mosaic dispatch paused: free space below the minimum');
        } else if (!short.has(r) && rows.has(r)) {
          st(conn, 'DELETE FROM mosaic_dispatch_pauses WHERE reason = ?').run(r);
          emit(conn, 'dispatch_resumed', { reason: r }, now);
          log.info({ reason: r }, 'mosaic dispatch resumed: free space is back');
        }
      }
      evaluatePauses(conn, now);
      return S.pauses(conn).map((p) => p.reason as PauseReason);
    });
    for (const r of PAUSE_REASONS) m.paused.set({ reason: r }, held.includes(r) ? 1 : 0);
    return held;
  }
}
