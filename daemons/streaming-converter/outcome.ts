// What happens when a converter run ends: classify it, settle the conversions job (complete, fail → retry
// or dead, release on shutdown), close the attempt and move the group to converted, retry_wait or failed,
// with its event, alert and metrics, all in one transaction fenced by the job's lease token. One path for
// what the dispatcher saw end and for what recovery found after a restart (a finished conversion adopted
// from its attempt directory, or a crash), so a failure raises the same alert and event either way.
import fs from 'node:fs';
import type { BackoffPolicy } from '../../lib/backoff.js';
import type { Connection } from '../../lib/db/index.js';
import { LeaseLostError } from '../../lib/errors.js';
import type { Lease } from '../../lib/queue/index.js';
import { usesPlaceholder } from './argv.js';
import type { ChildResult } from './child.js';
import { alert, emit, resolve, type Ctx } from './context.js';
import { classifyExit, isRetriable, type GroupState, type Outcome } from './rules.js';
import * as S from './store.js';

export type ResultFile = { ok?: unknown; error?: unknown; error_code?: unknown } | null | undefined;

export interface Finished {
  group: S.GroupRow;
  attemptId: number;
  attempt: number;
  lease: Lease;
  res: ChildResult;
  out: string;
  result: ResultFile;
  /** Decided by the caller when no exit status is known (recovery); otherwise classified from `res`. */
  verdict?: { outcome: Outcome; error: string | null };
  /** Retry timing of a failure; the queue's policy (exponential backoff) when absent. */
  retryPolicy?: BackoffPolicy;
  /** Runs inside the settling transaction once the attempt is closed (`to`: null when the job was lost). */
  also?: (conn: Connection, settled: { outcome: Outcome; to: GroupState | null }) => void;
}

/** The result file: undefined when missing, null when not a JSON object. */
export function readResult(p: string): ResultFile {
  let text: string;
  try {
    text = fs.readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as { ok?: unknown }) : null;
  } catch {
    return null;
  }
}

export function spawnFailure(message: string): ChildResult {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    aborted: false,
    spawnError: message,
    stdoutTail: '',
    stderrTail: '',
    durationMs: 0,
  };
}

function describe(outcome: Outcome, res: ChildResult, result: ResultFile): string {
  if (res.spawnError) return `spawn failed: ${res.spawnError}`;
  const fromResult = result && typeof result.error === 'string' ? `: ${result.error}` : '';
  const how = res.signal ? `signal ${res.signal}` : `exit ${res.exitCode}`;
  const tail = res.stderrTail.trim().split('\n').slice(-1)[0] ?? '';
  return `${outcome} (${how})${fromResult}${tail ? ` — ${tail.slice(0, 300)}` : ''}`;
}

/**
 * The success rule on the files alone, for an attempt whose exit status is gone (its supervisor died with
 * the daemon, or never ran): the output exists AND the result file says ok. Without a `{result}` in the
 * argv there is no such evidence, and the attempt counts as crashed.
 */
export function successWithoutExit(ctx: Ctx, out: string, result: ResultFile): boolean {
  if (!usesPlaceholder(ctx.cfg.converter.argv, 'result')) return false;
  return (
    classifyExit({
      exitCode: 0,
      signal: null,
      timedOut: false,
      spawnError: false,
      aborted: false,
      outputExists: fs.existsSync(out),
      expectResult: true,
      result,
    }) === 'ok'
  );
}

function classify(ctx: Ctx, f: Finished): { outcome: Outcome; error: string | null } {
  const outcome = classifyExit({
    exitCode: f.res.exitCode,
    signal: f.res.signal,
    timedOut: f.res.timedOut,
    spawnError: f.res.spawnError !== null,
    aborted: f.res.aborted,
    outputExists: fs.existsSync(f.out),
    expectResult: usesPlaceholder(ctx.cfg.converter.argv, 'result'),
    result: f.result,
  });
  return { outcome, error: outcome === 'ok' ? null : describe(outcome, f.res, f.result) };
}

/**
 * Settle a finished attempt. The write waits for the lock as long as it takes (in slices that yield) until
 * `signal` aborts: losing it would leave the attempt to recovery. Returns the outcome, or null when the
 * attempt had already been closed by someone else (its owner, or recovery): then nothing is changed.
 */
export async function recordOutcome(
  ctx: Ctx,
  f: Finished,
  opts: { signal?: AbortSignal } = {},
): Promise<Outcome | null> {
  const { clock, m } = ctx;
  const { outcome, error } = f.verdict ?? classify(ctx, f);
  const now = clock.now();
  if (outcome !== 'ok') fs.rmSync(`${f.out}.partial`, { recursive: true, force: true });
  const closeRow = {
    outcome,
    exit_code: f.res.exitCode,
    signal: f.res.signal,
    stdout_tail: f.res.stdoutTail,
    stderr_tail: f.res.stderrTail,
    result_json: f.result ? JSON.stringify(f.result) : null,
    error,
  };
  const write = <T>(fn: (conn: Connection) => T): Promise<T> =>
    ctx.db.writeAsync(fn, { budgetMs: Infinity, signal: opts.signal });
  let closed: boolean;
  try {
    closed = await write((conn) => {
      if (!S.closeAttempt(conn, f.attemptId, closeRow, now)) return false;
      let to: GroupState;
      if (outcome === 'ok') to = converted(ctx, conn, f, now);
      else if (outcome === 'aborted') to = aborted(ctx, conn, f, error, now);
      else to = failedAttempt(ctx, conn, f, outcome, error, now);
      f.also?.(conn, { outcome, to });
      return true;
    });
  } catch (e) {
    if (!(e instanceof LeaseLostError)) throw e;
    // The job was taken over (or cancelled): its new holder owns the group; keep only this attempt's facts.
    closed = await write((conn) => {
      const ok = S.closeAttempt(conn, f.attemptId, closeRow, now);
      if (ok) f.also?.(conn, { outcome, to: null });
      return ok;
    });
    if (closed)
      ctx.log.error(
        { groupId: f.group.group_id, jobId: f.lease.jobId, outcome },
        'job lease lost; outcome not applied',
      );
  }
  if (!closed) {
    ctx.log.warn(
      { groupId: f.group.group_id, attempt: f.attempt, outcome },
      'attempt already settled elsewhere; outcome not applied',
    );
    return null;
  }
  // Counted once the outcome is recorded (the caller retries a failed write).
  m.attempts.inc({ outcome });
  m.conversionSeconds.observe({ outcome }, f.res.durationMs / 1000);
  return outcome;
}

function converted(ctx: Ctx, conn: Connection, f: Finished, now: number): GroupState {
  const g = f.group;
  ctx.queue.complete(f.lease, { outputPath: f.out, attempt: f.attempt });
  S.casGroup(conn, g.id, 'converting', 'converted', now, {
    finished_at: now,
    output_path: f.out,
    error: null,
    error_code: null,
  });
  emit(
    conn,
    'converted',
    { groupId: g.group_id, attempt: f.attempt, outputPath: f.out, durationMs: f.res.durationMs },
    now,
  );
  resolve(conn, 'ConverterGroupFailed', { group: g.group_id }, now);
  resolve(conn, 'ConverterInputGone', { group: g.group_id }, now);
  ctx.m.lastConverted.set(g.anchor_ms / 1000);
  ctx.log.info({ groupId: g.group_id, from: 'converting', to: 'converted', attempt: f.attempt }, 'converted');
  return 'converted';
}

/** Shutdown, not the converter's fault: give the attempt back and retry at once after restart. */
function aborted(ctx: Ctx, conn: Connection, f: Finished, error: string | null, now: number): GroupState {
  const g = f.group;
  ctx.queue.release(f.lease);
  S.casGroup(conn, g.id, 'converting', 'retry_wait', now, { attempts: g.attempts - 1, error });
  emit(conn, 'attempt_aborted', { groupId: g.group_id, attempt: f.attempt }, now);
  ctx.log.warn(
    { groupId: g.group_id, from: 'converting', to: 'retry_wait', attempt: f.attempt },
    'conversion stopped by shutdown',
  );
  return 'retry_wait';
}

function failedAttempt(
  ctx: Ctx,
  conn: Connection,
  f: Finished,
  outcome: Outcome,
  error: string | null,
  now: number,
): GroupState {
  const g = f.group;
  const next = ctx.queue.fail(f.lease, new Error(error ?? outcome), {
    retryable: isRetriable(outcome, f.lease.attempt),
    policy: f.retryPolicy,
  });
  const to = next.state === 'queued' ? 'retry_wait' : 'failed';
  const where = { groupId: g.group_id, from: 'converting', to, attempt: f.attempt, reason: outcome };
  if (to === 'retry_wait') {
    S.casGroup(conn, g.id, 'converting', 'retry_wait', now, { error, error_code: outcome });
    emit(
      conn,
      'retry_scheduled',
      { groupId: g.group_id, attempt: f.attempt, outcome, nextAttemptAt: next.runAt, error },
      now,
    );
    ctx.log.warn(where, 'conversion failed; will retry');
    return to;
  }
  S.casGroup(conn, g.id, 'converting', 'failed', now, { finished_at: now, error, error_code: outcome });
  emit(conn, 'failed', { groupId: g.group_id, attempt: f.attempt, outcome, error }, now);
  alert(
    conn,
    'ConverterGroupFailed',
    'critical',
    { group: g.group_id },
    `conversion failed after ${g.attempts} attempt(s): ${error}`,
    now,
  );
  ctx.log.error(where, 'conversion failed');
  return to;
}
