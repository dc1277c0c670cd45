// Timed rules and gauges, run every tick: collecting → incomplete (or ready with dispatchPartial) after
// groupTimeoutS, backlog / stale-input / repeated-crash alerts, state and queue gauges. Retry timing is the
// conversions queue's (a retry_wait group's job becomes claimable at its run_at). Every query of a tick is
// an index lookup over work in flight; the counts that walk all history (groups by state, the queue's stats)
// refresh only every GAUGE_EVERY_MS.
import type { Connection } from '../../lib/db/index.js';
import { alert, emit, resolve, type Ctx } from './context.js';
import { enqueueConversion, jobView, QUEUE } from './jobs.js';
import { GROUP_STATES, hasTimedOut, missingSubbands } from './rules.js';
import * as S from './store.js';

const HOUR_MS = 3_600_000;
const GAUGE_EVERY_MS = 15_000;
const BACKLOG_STATES = ['ready', 'retry_wait'] as const;

export class Housekeeping {
  private lastValidAt: number | null = null;
  private gaugedAt = -Infinity;

  constructor(private readonly ctx: Ctx) {
    this.lastValidAt = ctx.db.read((c) => S.lastValidatedAt(c));
  }

  tick(): void {
    const { db, clock, cfg, log } = this.ctx;
    const now = clock.now();
    db.write((conn) => {
      for (const g of S.groupsInState(conn, 'collecting')) {
        if (!hasTimedOut(g.first_seen_at, now, cfg.groupTimeoutS * 1000)) continue;
        const missing = missingSubbands(
          S.validMembers(conn, g.id).map((f) => f.subband),
          g.expected,
        );
        if (cfg.dispatchPartial && g.n_valid > 0) {
          if (
            S.casGroup(conn, g.id, 'collecting', 'ready', now, { ready_at: now, partial: 1, attempts: 0 })
          ) {
            enqueueConversion(conn, g, cfg.maxAttempts, now);
            emit(conn, 'group_ready', { groupId: g.group_id, partial: true, missing }, now);
          }
          log.warn(
            { groupId: g.group_id, from: 'collecting', to: 'ready', missing },
            'dispatching partial group',
          );
        } else if (
          S.casGroup(conn, g.id, 'collecting', 'incomplete', now, {
            finished_at: now,
            error: `missing subbands ${missing.join(',')}`,
          })
        ) {
          emit(conn, 'incomplete', { groupId: g.group_id, nFiles: g.n_valid, missing }, now);
          alert(
            conn,
            'ConverterGroupIncomplete',
            'warning',
            { group: g.group_id },
            `${g.n_valid}/${g.expected} subbands after ${cfg.groupTimeoutS} s; missing ${missing.join(',')}`,
            now,
          );
          log.warn(
            { groupId: g.group_id, from: 'collecting', to: 'incomplete', missing },
            'group incomplete',
          );
        }
      }
      this.cancelledWhileConverting(conn, now);
      this.alerts(conn, now);
    });
    this.gauges();
  }

  /**
   * `contimg jobs cancel` on a running conversion: the converter was stopped when its lease was lost and its
   * attempt closed; the group follows its job to failed (else it is stuck: neither requeueable nor
   * abandonable). (A claim that buries a job whose last attempt's holder died fails its group itself, in the
   * burying transaction: outcome.ts.)
   */
  private cancelledWhileConverting(conn: Connection, now: number): void {
    for (const g of S.groupsInState(conn, 'converting')) {
      if (S.openAttemptOf(conn, g.id) || jobView(conn, g.job_id)?.state !== 'cancelled') continue;
      const error = 'conversion job cancelled by an operator';
      S.casGroup(conn, g.id, 'converting', 'failed', now, {
        finished_at: now,
        error,
        error_code: 'cancelled',
      });
      emit(conn, 'failed', { groupId: g.group_id, outcome: 'cancelled', error }, now);
      this.ctx.log.warn({ groupId: g.group_id, from: 'converting', to: 'failed' }, error);
    }
  }

  private alerts(conn: Connection, now: number): void {
    const { cfg } = this.ctx;
    const backlog = S.countGroups(conn, BACKLOG_STATES);
    if (backlog > cfg.backlogAlertGroups)
      alert(conn, 'ConverterBacklog', 'warning', {}, `${backlog} groups waiting for conversion`, now);
    else resolve(conn, 'ConverterBacklog', {}, now);
    this.lastValidAt = S.lastValidatedAt(conn) ?? this.lastValidAt;
    if (
      cfg.staleInputAlertS > 0 &&
      this.lastValidAt !== null &&
      now - this.lastValidAt > cfg.staleInputAlertS * 1000
    )
      alert(
        conn,
        'ConverterInputStale',
        'warning',
        {},
        `no new valid subband file for ${Math.round((now - this.lastValidAt) / 1000)} s`,
        now,
      );
    else resolve(conn, 'ConverterInputStale', {}, now);
    const crashes = S.crashesSince(conn, now - HOUR_MS);
    if (crashes > 3)
      alert(
        conn,
        'ConverterRepeatedCrashes',
        'critical',
        {},
        `${crashes} conversion attempts crashed in the last hour`,
        now,
      );
    else resolve(conn, 'ConverterRepeatedCrashes', {}, now);
  }

  private gauges(): void {
    const { m, db } = this.ctx;
    db.read((c) => {
      m.backlog.set(S.countGroups(c, BACKLOG_STATES));
      m.filesSettling.set(S.countFiles(c, 'settling'));
      m.filesInvalid.set(S.countFiles(c, 'invalid'));
    });
    // Groups by state and the queue's stats() count every row ever written: every GAUGE_EVERY_MS is plenty.
    const now = this.ctx.clock.now();
    if (now - this.gaugedAt >= GAUGE_EVERY_MS) {
      this.gaugedAt = now;
      const groups = db.read((c) => S.groupStateCounts(c));
      for (const state of GROUP_STATES) m.groups.set({ state }, groups[state] ?? 0);
      this.ctx.queue.refreshGauges([QUEUE]);
    }
  }
}
