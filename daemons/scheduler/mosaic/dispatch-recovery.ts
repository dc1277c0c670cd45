// Recovery of mosaic builds whose dispatcher died (docs/mosaic-dispatch.md, "Recovery"): at startup every open
// attempt not held by another live dispatcher, later any whose job lease expired. A local build whose supervisor
// still runs (pid + start ticks) under the attempt's own lease is adopted (lease renewed under the same token,
// handed to the worker, awaited and settled like a fresh one); otherwise what carries the attempt's marker is
// stopped and the attempt is settled from its directory under the dead holder's token: a recorded exit is
// classified as usual, none is `crashed` and retried at once. A Slurm build is tracked again by its job id or
// found by its deterministic name; none means the dispatcher died before sbatch.
import { attemptKey, readSupervisor } from '../../../lib/exec/attempt-files.js';
import { markedProcesses, sameProcess } from '../../../lib/exec/procs.js';
import { UNSEEN } from '../../../lib/exec/supervised.js';
import { LeaseLostError } from '../../../lib/errors.js';
import { ownerDeadHere } from '../../../lib/leases/index.js';
import type { Lease } from '../../../lib/queue/index.js';
import type { Settlement, SqliteQueueStore, Worker } from '../../../lib/queue/index.js';
import { jobOf, type BuildClaim } from './dispatch-claim.js';
import type { DispatcherDeps } from './dispatch.js';
import type { LocalBuilds } from './dispatch-local.js';
import type { SlurmBuilds } from './dispatch-slurm.js';
import type { MosaicBuildPayload } from './dispatch-jobs.js';
import { MOSAIC_QUEUE, RETRY_NOW } from './dispatch-jobs.js';
import { attemptDir, MOSAIC_MARKER, pathsOf, untilDetached, type BuildRun } from './dispatch-local.js';
import { emit, type BuildEnd } from './dispatch-outcome.js';
import * as S from './dispatch-store.js';

/** What recovery needs of the dispatcher (MosaicDispatcher). */
export interface RecoveryHost {
  readonly d: DispatcherDeps;
  readonly owner: string;
  readonly store: SqliteQueueStore;
  readonly worker: Worker<MosaicBuildPayload, BuildClaim>;
  readonly local: LocalBuilds;
  readonly slurm: SlurmBuilds;
  build(c: BuildClaim, signal: AbortSignal): Promise<Settlement>;
  conclude(c: BuildClaim, end: BuildEnd): Settlement;
}

export async function recoverAll(x: RecoveryHost, startup: boolean): Promise<number> {
  const { db, clock, log } = x.d;
  const mine = x.worker.jobIds();
  let n = 0;
  for (const a of db.read((c) => S.openAttempts(c))) {
    if (mine.has(a.job_id)) continue;
    const now = clock.now();
    if (startup ? heldElsewhere(a, x.owner, now) : (a.lease_expires_at ?? 0) >= now) continue;
    try {
      if (await recoverAttempt(x, a)) n++;
    } catch (e) {
      log.error({ err: e, attempt: a.id }, 'mosaic recovery of an attempt failed; tried again later');
    }
  }
  if (n > 0) log.warn({ recovered: n, startup }, 'recovered mosaic builds of a daemon that died');
  return n;
}

/** Renew the job's lease under the attempt's own token and record the adoption; false when refused. */
function renewFor(x: RecoveryHost, run: BuildRun, detail: Record<string, unknown>): boolean {
  const { cfg, db, clock } = x.d;
  try {
    run.lease = db.write((conn) => {
      const renewed = x.store.heartbeat(run.lease, cfg.builder.leaseS * 1000);
      emit(
        conn,
        'build_adopted',
        { plan: run.plan.name, planId: run.plan.id, attempt: run.attempt, ...detail },
        clock.now(),
      );
      return renewed;
    });
    return true;
  } catch (e) {
    if (e instanceof LeaseLostError) return false;
    throw e;
  }
}

/**
 * A Slurm attempt of a dispatcher that died: tracked again (by the row's job id, or found by its name), or
 * `crashed` when no job exists. An attempt whose job was claimed since or cancelled has its job scancel'ed
 * and is settled as aborted.
 */
async function adoptSlurm(x: RecoveryHost, a: S.OpenAttempt, run: BuildRun): Promise<boolean> {
  const ownLease = a.job_state === 'running' && a.job_token === a.lease_token;
  if (ownLease && renewFor(x, run, { slurmJobId: a.slurm_job_id, slurmJobName: a.slurm_job_name })) {
    const claim: BuildClaim = { run, work: (kill, detach) => x.slurm.adopt(run, a, kill, detach) };
    x.worker.adopt(jobOf(run), claim, (_job, h) => x.build(h.claim, h.signal));
    x.d.log.warn(
      { plan: run.plan.name, attempt: a.attempt, slurmJobId: a.slurm_job_id },
      'adopted a mosaic Slurm job',
    );
    return true;
  }
  await x.slurm.cancel(a);
  const end: BuildEnd = {
    res: { ...UNSEEN, aborted: true },
    exitKnown: false,
    result: null,
    resultError: null,
    outputsExist: false,
  };
  const claim: BuildClaim = { run, work: () => Promise.resolve(end) };
  await x.worker.settleFor(jobOf(run), claim, x.conclude(claim, end));
  return true;
}

async function recoverAttempt(x: RecoveryHost, a: S.OpenAttempt): Promise<boolean> {
  const { cfg, db, log } = x.d;
  const plan = db.read((c) => S.getPlan(c, a.plan_id));
  if (!plan) return false;
  const lease: Lease = {
    jobId: a.job_id,
    queue: MOSAIC_QUEUE,
    owner: a.lease_owner ?? '',
    token: a.lease_token,
    attempt: a.job_attempts ?? a.attempt,
    expiresAt: a.lease_expires_at ?? 0,
  };
  const run: BuildRun = {
    plan,
    attemptId: a.id,
    attempt: a.attempt,
    key: attemptKey(a),
    dir: attemptDir(cfg.scratchDir, plan.name, a.attempt),
    paths: pathsOf(cfg, plan),
    lease,
  };
  if (a.executor === 'slurm') return adoptSlurm(x, a, run);
  const sup = readSupervisor(run.dir, run.key);
  const alive = sup !== null && sameProcess(sup.pid, sup.startTicks);
  const ownLease = a.job_state === 'running' && a.job_token === a.lease_token;
  if (alive && ownLease && renewFor(x, run, { pid: sup.pid })) {
    const spawnedAt = a.spawned_at ?? sup.startedAt;
    const claim: BuildClaim = {
      run,
      work: async (kill, detach) => {
        const seen = await untilDetached(x.local.watch(run, sup, spawnedAt, kill), detach);
        return seen === null ? null : x.local.collect(run, seen);
      },
    };
    x.worker.adopt(jobOf(run), claim, (_job, h) => x.build(h.claim, h.signal));
    log.warn(
      { plan: plan.name, attempt: a.attempt, pid: sup.pid },
      'adopted a mosaic builder still running from a previous run',
    );
    return true;
  }
  // Nothing to adopt: stop whatever is left, then settle from the attempt directory.
  const rowOrphan = (): number[] =>
    a.pid !== null && sameProcess(a.pid, a.pid_start_ticks) ? [a.pgid ?? a.pid] : [];
  const killed = markedProcesses(run.dir, MOSAIC_MARKER).length > 0 || rowOrphan().length > 0;
  if (!(await x.local.stop(run, rowOrphan, x.d.signal))) return false;
  const end = x.local.collect(run, UNSEEN);
  if (killed || !end.exitKnown) {
    end.forced = {
      outcome: 'crashed',
      errorCode: 'crashed',
      error: killed
        ? 'dispatcher stopped during the build; builder stopped'
        : 'dispatcher stopped during the build',
      retryable: true,
      retryPolicy: RETRY_NOW,
    };
  }
  const claim: BuildClaim = { run, work: () => Promise.resolve(end) };
  const settlement = x.conclude(claim, end);
  await x.worker.settleFor(jobOf(run), claim, settlement);
  log.warn(
    { plan: plan.name, attempt: a.attempt, outcome: claim.ended?.verdict.outcome },
    'recovered a mosaic build attempt',
  );
  return true;
}

/** The job's current lease holder is another dispatcher, within its lease and not known to be dead. */
function heldElsewhere(a: S.OpenAttempt, self: string, now: number): boolean {
  if (a.job_state !== 'running' || a.job_token !== a.lease_token) return false;
  if (a.lease_owner === null || a.lease_owner === self) return false;
  if ((a.lease_expires_at ?? 0) < now) return false;
  return !ownerDeadHere(a.lease_owner);
}
