// Startup recovery, before the first scan: every attempt left open by a dead daemon is closed as crashed,
// its converter (still alive in its own process group) is killed and awaited first, its partial output is
// removed, and the group goes to retry_wait due now: exactly one more attempt, never two at once.
import fs from 'node:fs';
import os from 'node:os';
import { pause } from '../../lib/clock.js';
import { emit, type Ctx } from './context.js';
import { isAlive, pidStartTicks, signalGroup } from './child.js';
import { afterFailure } from './rules.js';
import type { BackoffPolicy } from '../../lib/backoff.js';
import * as S from './store.js';

/** Is the converter recorded in the attempt row still the same live process? */
function orphanAlive(a: S.AttemptRow): boolean {
  if (a.pid === null || !isAlive(a.pid)) return false;
  if (a.pid_start_ticks === null) return true;
  return pidStartTicks(a.pid) === a.pid_start_ticks;
}

/** Another daemon on this host that is alive and holds an unexpired lease owns the attempt. */
function ownedElsewhere(a: S.AttemptRow, self: string, now: number): boolean {
  if (a.owner === self || a.lease_expires_at <= now) return false;
  const [host, pidText] = a.owner.split(':');
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

async function recoverAttempt(
  ctx: Ctx,
  a: S.AttemptRow,
  policy: BackoffPolicy,
  signal: AbortSignal,
): Promise<void> {
  const { db, clock, log, m, cfg } = ctx;
  const alive = orphanAlive(a);
  if (alive) await killOrphan(ctx, a, signal);
  m.recovered.inc({ child: alive ? 'killed' : 'dead' });
  if (a.output_path) fs.rmSync(`${a.output_path}.partial`, { recursive: true, force: true });
  const now = clock.now();
  const error =
    a.pid === null ? 'daemon stopped before the converter started' : 'daemon stopped during the conversion';
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
    const g = S.getGroup(conn, a.group_ref);
    if (!g || g.state !== 'converting') return;
    const next = afterFailure('crashed', g.attempts, cfg.maxAttempts, now, policy);
    if (next.state === 'retry_wait')
      S.casGroup(conn, g.id, 'converting', 'retry_wait', now, {
        next_attempt_at: now,
        error,
        error_code: 'crashed',
      });
    else
      S.casGroup(conn, g.id, 'converting', 'failed', now, { finished_at: now, error, error_code: 'crashed' });
    const detail = {
      groupId: g.group_id,
      attempt: a.attempt,
      pid: a.pid,
      orphanKilled: alive,
      to: next.state,
    };
    emit(conn, 'attempt_crashed', detail, now);
    log.warn({ ...detail, from: 'converting', reason: 'crashed' }, 'recovered attempt');
  });
}

export async function recover(
  ctx: Ctx,
  self: string,
  policy: BackoffPolicy,
  signal: AbortSignal,
): Promise<number> {
  const { db, clock, log } = ctx;
  let recovered = 0;
  for (const a of db.read((c) => S.openAttempts(c))) {
    if (ownedElsewhere(a, self, clock.now())) {
      log.warn({ attempt: a.id, owner: a.owner }, 'attempt owned by another live daemon; leaving it');
      continue;
    }
    await recoverAttempt(ctx, a, policy, signal);
    recovered++;
  }
  // A converting group without an open attempt cannot make progress; put it back.
  db.write((conn) => {
    for (const g of S.groupsInState(conn, 'converting')) {
      if (S.attemptsOf(conn, g.id).some((x) => x.ended_at === null)) continue;
      const now = clock.now();
      S.casGroup(conn, g.id, 'converting', 'retry_wait', now, {
        next_attempt_at: now,
        error: 'no open attempt at startup',
      });
    }
  });
  return recovered;
}
