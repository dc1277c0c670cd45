// Recovery of attempts whose daemon died: at startup (every attempt not held by another live daemon) and
// whenever a conversions job's lease has expired. Each open attempt goes to the executor that ran it (the
// row's `executor`, whatever the config says now): the local executor adopts a supervisor still running or
// stops what is left and settles from the attempt directory (local-executor.ts); the Slurm executor keeps
// tracking a job Slurm still has or settles one that ended, and never submits again while Slurm has it
// (slurm-executor.ts). An attempt still running is handed to the queue worker (Dispatcher.adopt: it takes a
// maxConcurrent slot, is heartbeated, drains and is settled like a fresh one); an ended one is settled
// through the worker's settle (Dispatcher.settleFound) under the dead holder's lease token (fenced: nothing
// changes if anyone has claimed the job since, or settled the attempt meanwhile), with the same events and
// alerts as a live outcome.
import os from 'node:os';
import path from 'node:path';
import type { Lease } from '../../lib/queue/index.js';
import { attemptKey } from '../../lib/exec/attempt-files.js';
import type { AttemptRun } from './conversion.js';
import type { Ctx } from './context.js';
import { attemptDir, outputPathFor, type Dispatcher } from './dispatch.js';
import { QUEUE } from './jobs.js';
import { isAlive } from '../../lib/exec/procs.js';
import * as S from './store.js';

/** The job's current lease holder is another daemon that is alive and within its lease. */
function heldElsewhere(a: S.OpenAttempt, self: string, now: number): boolean {
  if (a.job_state !== 'running' || a.job_token !== a.lease_token) return false;
  if (a.lease_owner === null) return false;
  // Our own owner id cannot be on a job at startup (it is new, with a random suffix): kept so that a lease of
  // ours can never count as someone else's.
  // Stryker disable next-line ConditionalExpression,BooleanLiteral: equivalent, see above.
  if (a.lease_owner === self) return false;
  // Stryker disable next-line EqualityOperator: equivalent, `<` and `<=` differ only within one millisecond.
  if ((a.lease_expires_at ?? 0) < now) return false;
  const [host, pidText] = a.lease_owner.split(':');
  if (host !== os.hostname()) return true;
  return isAlive(Number(pidText));
}

function runOf(ctx: Ctx, a: S.OpenAttempt, g: S.GroupRow): AttemptRun {
  const { cfg } = ctx;
  const lease: Lease = {
    jobId: a.job_id,
    queue: QUEUE,
    // Stryker disable next-line StringLiteral: equivalent, settling is fenced by the token, not the owner.
    owner: a.lease_owner ?? '',
    token: a.lease_token,
    attempt: a.job_attempts ?? a.attempt,
    expiresAt: a.lease_expires_at ?? 0,
  };
  return {
    group: g,
    attemptId: a.id,
    attempt: a.attempt,
    key: attemptKey(a),
    dir: a.manifest_path ? path.dirname(a.manifest_path) : attemptDir(cfg.scratchDir, g.group_id, a.attempt),
    out: a.output_path ?? outputPathFor(cfg.outputDir, cfg.converter.outputName, g.group_id),
    lease,
  };
}

/** Hand the attempt to the executor that ran it (adopt, or stop and settle). False: left open. */
async function recoverAttempt(
  ctx: Ctx,
  d: Dispatcher,
  a: S.OpenAttempt,
  signal: AbortSignal,
): Promise<boolean> {
  const g = ctx.db.read((c) => S.getGroup(c, a.group_ref));
  // Stryker disable next-line BooleanLiteral: unreachable, the attempt's foreign key keeps its group.
  if (!g) return false;
  return d.executorFor(a.executor).adopt(a, runOf(ctx, a, g), signal);
}

/**
 * Recover open attempts. At startup (`startup`) every attempt not held by another live daemon; later only
 * those whose job lease has expired and that this process is not running itself (`mine`).
 */
export async function recover(
  ctx: Ctx,
  d: Dispatcher,
  signal: AbortSignal,
  opts: { startup: boolean; mine?: ReadonlySet<number> } = { startup: true },
): Promise<number> {
  const { db, clock, log } = ctx;
  let recovered = 0;
  for (const a of db.read((c) => S.openAttempts(c))) {
    if (opts.mine?.has(a.job_id)) continue;
    const now = clock.now();
    // `>=` and `>` differ only when the lease expires in this very millisecond (the queue's gate uses `<`);
    // the `<` mutant of this line is killed by recovery-expiry.test.ts (checked by hand).
    // Stryker disable next-line EqualityOperator: equivalent, see above.
    if (opts.startup ? heldElsewhere(a, d.owner, now) : (a.lease_expires_at ?? 0) >= now) {
      if (opts.startup)
        log.warn({ attempt: a.id, owner: a.lease_owner }, 'attempt held by another live daemon');
      continue;
    }
    if (await recoverAttempt(ctx, d, a, signal)) recovered++;
  }
  if (recovered > 0)
    log.info(
      { recovered, at: opts.startup ? 'startup' : 'lease expiry' },
      'recovered open attempts of a daemon that died',
    );
  return recovered;
}
