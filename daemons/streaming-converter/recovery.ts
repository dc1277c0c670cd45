// Recovery of attempts whose daemon died: at startup (every attempt not held by another live daemon) and
// whenever a conversions job's lease has expired. The orphaned converter (alive in its own process group)
// is killed and awaited first, using the pid, process group and start ticks in the attempt row; only then
// is the job failed under the dead holder's own lease token (fenced: nothing changes if anyone else has
// claimed it since), the attempt closed as crashed and the group moved, in one write. The crashed run
// counted as an attempt, so the group gets exactly one more try (due at once), or fails when none is left.
import fs from 'node:fs';
import os from 'node:os';
import { pause } from '../../lib/clock.js';
import { LeaseLostError } from '../../lib/errors.js';
import type { Lease } from '../../lib/queue/index.js';
import { emit, type Ctx } from './context.js';
import { isAlive, pidStartTicks, signalGroup } from './child.js';
import { QUEUE, RETRY_NOW } from './jobs.js';
import * as S from './store.js';

/** Is the converter recorded in the attempt row still the same live process? */
function orphanAlive(a: S.AttemptRow): boolean {
  if (a.pid === null || !isAlive(a.pid)) return false;
  if (a.pid_start_ticks === null) return true;
  return pidStartTicks(a.pid) === a.pid_start_ticks;
}

/** The job's current lease holder is another daemon that is alive and within its lease. */
function heldElsewhere(a: S.OpenAttempt, self: string, now: number): boolean {
  if (a.job_state !== 'running' || a.job_token !== a.lease_token) return false;
  if (a.lease_owner === self || a.lease_owner === null || (a.lease_expires_at ?? 0) < now) return false;
  const [host, pidText] = a.lease_owner.split(':');
  if (host !== os.hostname()) return true;
  return isAlive(Number(pidText));
}

async function killOrphan(ctx: Ctx, a: S.AttemptRow, signal: AbortSignal): Promise<void> {
  const pgid = a.pgid ?? a.pid!;
  ctx.log.warn(
    { pid: a.pid, pgid, attempt: a.attempt },
    'orphaned converter from a previous run: stopping it',
  );
  signalGroup(pgid, 'SIGTERM');
  const deadline = ctx.clock.monotonic() + ctx.cfg.killGraceS * 1000;
  while (orphanAlive(a) && ctx.clock.monotonic() < deadline) if (await pause(50, signal)) break;
  signalGroup(pgid, 'SIGKILL');
  // SIGKILL cannot be ignored; wait for the kernel to reap it (bounded, in case it is stuck in D state).
  const hard = ctx.clock.monotonic() + 10_000;
  while (orphanAlive(a) && ctx.clock.monotonic() < hard) await pause(20);
}

/** Fail the job under the dead holder's token, close the attempt, move the group: one write. */
function settleCrashed(ctx: Ctx, a: S.OpenAttempt, orphanKilled: boolean): void {
  const { db, clock, log, m } = ctx;
  const now = clock.now();
  const error =
    a.pid === null ? 'daemon stopped before the converter started' : 'daemon stopped during the conversion';
  const lease: Lease = {
    jobId: a.job_id,
    queue: QUEUE,
    owner: a.lease_owner ?? '',
    token: a.lease_token,
    attempt: a.job_attempts ?? a.attempt,
    expiresAt: a.lease_expires_at ?? now,
  };
  db.write((conn) => {
    const closed = S.closeAttempt(
      conn,
      a.id,
      {
        outcome: 'crashed',
        exit_code: null,
        signal: null,
        stdout_tail: null,
        stderr_tail: null,
        result_json: null,
        error,
      },
      now,
    );
    if (!closed) return;
    m.attempts.inc({ outcome: 'crashed' });
    let to: 'retry_wait' | 'failed' | null = null;
    try {
      const next = ctx.queue.fail(lease, new Error(error), { retryable: true, policy: RETRY_NOW });
      to = next.state === 'queued' ? 'retry_wait' : 'failed';
    } catch (e) {
      if (!(e instanceof LeaseLostError)) throw e;
    }
    const g = S.getGroup(conn, a.group_ref);
    if (g && to && g.state === 'converting')
      S.casGroup(conn, g.id, 'converting', to, now, {
        error,
        error_code: 'crashed',
        ...(to === 'failed' ? { finished_at: now } : {}),
      });
    const detail = { groupId: g?.group_id, attempt: a.attempt, pid: a.pid, orphanKilled, to };
    emit(conn, 'attempt_crashed', detail, now);
    log.warn({ ...detail, from: 'converting', reason: 'crashed' }, 'recovered attempt');
  });
}

async function recoverAttempt(ctx: Ctx, a: S.OpenAttempt, signal: AbortSignal): Promise<void> {
  const alive = orphanAlive(a);
  if (alive) await killOrphan(ctx, a, signal);
  ctx.m.recovered.inc({ child: alive ? 'killed' : 'dead' });
  if (a.output_path) fs.rmSync(`${a.output_path}.partial`, { recursive: true, force: true });
  settleCrashed(ctx, a, alive);
}

/**
 * Recover open attempts. At startup (`startup`) every attempt not held by another live daemon; later only
 * those whose job lease has expired and that this process is not running itself (`mine`).
 */
export async function recover(
  ctx: Ctx,
  self: string,
  signal: AbortSignal,
  opts: { startup: boolean; mine?: ReadonlySet<number> } = { startup: true },
): Promise<number> {
  const { db, clock, log } = ctx;
  let recovered = 0;
  for (const a of db.read((c) => S.openAttempts(c))) {
    if (opts.mine?.has(a.job_id)) continue;
    const now = clock.now();
    if (opts.startup ? heldElsewhere(a, self, now) : (a.lease_expires_at ?? 0) >= now) {
      if (opts.startup)
        log.warn({ attempt: a.id, owner: a.lease_owner }, 'attempt held by another live daemon');
      continue;
    }
    await recoverAttempt(ctx, a, signal);
    recovered++;
  }
  return recovered;
}
