// Recovery of attempts whose daemon died: at startup (every attempt not held by another live daemon) and
// whenever a conversions job's lease has expired. For each open attempt it looks for what still runs for it
// (its supervisor by the supervisor's file, anything carrying the attempt's marker, the pid in the row):
// - a supervisor still running under the attempt's own lease is adopted: its lease renewed under the same
//   token, then awaited and settled like a live attempt (never a second converter, no work thrown away);
// - anything else is stopped first (SIGTERM to its process groups, SIGKILL after killGraceS) and awaited;
//   then the attempt is settled from its directory: a converter that ended while the daemon was down left
//   its exit status (exit.json) and is classified exactly like a live one, so a success is adopted and never
//   converted again; with no exit status the files decide (output AND result ok), else it is `crashed` and
//   retried at once, or the group fails if that was its last attempt.
// Settling goes through the queue worker's settle (Dispatcher.settleFound) under the dead holder's lease
// token (fenced: nothing changes if anyone has claimed the job since, or settled the attempt meanwhile), with
// the same events and alerts as a live outcome.
import os from 'node:os';
import path from 'node:path';
import type { Lease } from '../../lib/queue/index.js';
import { attemptKey, readSupervisor } from './attempt-files.js';
import type { ChildResult } from './child.js';
import type { AttemptFacts, AttemptRun, Settle } from './conversion.js';
import { emit, type Ctx } from './context.js';
import { attemptDir, outputPathFor, type Dispatcher } from './dispatch.js';
import { QUEUE, RETRY_NOW } from './jobs.js';
import { isAlive, markedProcesses, sameProcess } from './procs.js';
import * as S from './store.js';

/** What the daemon saw of a converter it did not run: nothing. */
const UNSEEN: ChildResult = {
  exitCode: null,
  signal: null,
  timedOut: false,
  aborted: false,
  spawnError: null,
  stdoutTail: '',
  stderrTail: '',
  durationMs: 0,
};

/** Is the converter recorded in the attempt row still the same live process? */
function orphanAlive(a: S.AttemptRow): boolean {
  return a.pid !== null && sameProcess(a.pid, a.pid_start_ticks);
}

/** The job's current lease holder is another daemon that is alive and within its lease. */
function heldElsewhere(a: S.OpenAttempt, self: string, now: number): boolean {
  if (a.job_state !== 'running' || a.job_token !== a.lease_token) return false;
  if (a.lease_owner === null) return false;
  // Our own owner id cannot be on a job at startup (it is new, with a random suffix): kept so that a lease of
  // ours can never count as someone else's.
  // Stryker disable next-line ConditionalExpression: equivalent, see above.
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

type Found = 'killed' | 'finished' | 'dead';

/** How to settle an attempt nothing runs for any more, and which of the recovery outcomes it was. */
function verdictOf(
  d: Dispatcher,
  a: S.OpenAttempt,
  run: AttemptRun,
  facts: AttemptFacts,
  killed: boolean,
  supervised: boolean,
): { found: Found; settle: Settle } {
  if (killed) {
    const verdict = { outcome: 'crashed' as const, error: 'daemon stopped during the conversion' };
    return { found: 'killed', settle: { ...facts, verdict, retryPolicy: RETRY_NOW } };
  }
  if (facts.exitKnown) return { found: 'finished', settle: facts };
  const why =
    a.pid === null && !supervised
      ? 'daemon stopped before the converter started'
      : 'daemon stopped during the conversion';
  return { found: 'dead', settle: d.runner.lostExit(run, facts, why) };
}

/** Adopt the attempt, or stop what runs for it and settle it from its directory. False: left open. */
async function recoverAttempt(
  ctx: Ctx,
  d: Dispatcher,
  a: S.OpenAttempt,
  signal: AbortSignal,
): Promise<boolean> {
  const { db, clock, log, m } = ctx;
  const g = db.read((c) => S.getGroup(c, a.group_ref));
  // Stryker disable next-line BooleanLiteral: unreachable, the attempt's foreign key keeps its group.
  if (!g) return false;
  const run = runOf(ctx, a, g);
  const sup = readSupervisor(run.dir, run.key);
  const supervised = sup !== null && sameProcess(sup.pid, sup.startTicks);
  // adopt() renews the lease through the queue's fenced heartbeat (id, token, running), which refuses a job
  // claimed again or ended since: this check only saves that write.
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, see above.
  const ownLease = a.job_state === 'running' && a.job_token === a.lease_token;
  if (supervised && ownLease && (await d.adopt(run, sup, a.spawned_at ?? sup.startedAt, signal))) {
    m.recovered.inc({ child: 'adopted' });
    return true;
  }
  const rowOrphan = (): number[] => (orphanAlive(a) ? [a.pgid ?? a.pid!] : []);
  const killed = markedProcesses(run.dir).length > 0 || rowOrphan().length > 0;
  if (killed)
    log.warn(
      { groupId: g.group_id, pid: a.pid, attempt: a.attempt },
      'orphaned converter from a previous run: stopping it',
    );
  // The block is not reachable in a test: it takes a process that outlives SIGKILL for 10 s (uninterruptible
  // I/O).
  // Stryker disable all
  if (!(await d.runner.stopMarked(run, rowOrphan, signal))) {
    log.error(
      { groupId: g.group_id, attempt: a.attempt },
      'orphaned converter did not die; the attempt stays open and recovery tries again',
    );
    return false;
  }
  // Stryker restore all
  const facts = d.runner.collect(run, UNSEEN);
  const { found, settle } = verdictOf(d, a, run, facts, killed, sup !== null);
  m.recovered.inc({ child: found });
  const pid = a.pid ?? sup?.pid ?? null;
  settle.also = (conn, { outcome, to }) => {
    const now = clock.now();
    const detail = { groupId: g.group_id, attempt: a.attempt, pid, outcome, to };
    if (outcome === 'crashed' && found !== 'finished') {
      emit(conn, 'attempt_crashed', { ...detail, orphanKilled: killed }, now);
      log.warn({ ...detail, from: 'converting', reason: 'crashed' }, 'recovered attempt');
    } else {
      emit(conn, 'attempt_adopted', { ...detail, running: false }, now);
      log.warn(
        { ...detail, from: 'converting' },
        'adopted the outcome of a conversion that ended while no daemon was watching it',
      );
    }
  };
  await d.settleFound(run, settle);
  return true;
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
