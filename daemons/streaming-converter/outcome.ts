// What happens when a converter run ends: classify it (finish), and the settle hook that writes the group and
// the attempt beside the queue's own decision (done → converted, retry → retry_wait, dead → failed, released
// → retry_wait, the attempt not counted), with its event, alert and metrics, in the queue worker's settle
// transaction fenced by the job's lease token. One path for what the dispatcher saw end and for what recovery
// found after a restart (a finished conversion adopted from its attempt directory, or a crash), so a failure
// raises the same alert and event either way. A claim that buries a job whose last attempt's holder died
// tells the group through the same hook (failed).
import fs from 'node:fs';
import type { BackoffPolicy } from '../../lib/backoff.js';
import type { Connection } from '../../lib/db/index.js';
import { ContimgError, RetryableError } from '../../lib/errors.js';
import {
  Settle as QueueSettle,
  type SettleDecision,
  type SettleEvent,
  type Settlement,
  type SettlingJob,
} from '../../lib/queue/index.js';
import { usesPlaceholder } from './argv.js';
import type { ChildResult } from '../../lib/exec/child.js';
import type { AttemptBody, AttemptRun } from './conversion.js';
import { alert, emit, resolve, type Ctx } from './context.js';
import type { ConvertPayload } from './jobs.js';
import { classifyExit, isRetriable, type GroupState, type Outcome } from './rules.js';
import * as S from './store.js';

export type ResultFile = { ok?: unknown; error?: unknown; error_code?: unknown } | null | undefined;

/** What an ended attempt left, and how to settle it. */
export interface Finished {
  res: ChildResult;
  result: ResultFile;
  /** Decided by the caller when no exit status is known (recovery); otherwise classified from `res`. */
  verdict?: { outcome: Outcome; error: string | null };
  /** Retry timing of a failure; the queue's policy (exponential backoff) when absent. */
  retryPolicy?: BackoffPolicy;
  /** Runs inside the settling transaction once the attempt is closed (`to`: null when the job was lost). */
  also?: (conn: Connection, settled: { outcome: Outcome; to: GroupState | null }) => void;
}

/** An attempt's end as the settle hook writes it. */
export interface Ended {
  outcome: Outcome;
  error: string | null;
  row: Parameters<typeof S.closeAttempt>[2];
  durationMs: number;
  also?: Finished['also'];
}

/**
 * A conversions job as the queue worker runs it: the attempt onClaim opened (or recovery found), the work
 * that runs it, and how it ended (set by whoever
 * awaited the end; the settle hook writes it; unset, the hook refuses and the attempt is left to its lease
 * and recovery).
 */
export interface ConversionClaim {
  run: AttemptRun;
  /** What the worker's handler runs: the executor's submit, or an adopted attempt's await (unset when
   * recovery settles an end it found). */
  work?: AttemptBody;
  ended?: Ended;
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

function classify(ctx: Ctx, out: string, f: Finished): { outcome: Outcome; error: string | null } {
  const outcome = classifyExit({
    exitCode: f.res.exitCode,
    signal: f.res.signal,
    timedOut: f.res.timedOut,
    spawnError: f.res.spawnError !== null,
    aborted: f.res.aborted,
    outputExists: fs.existsSync(out),
    expectResult: usesPlaceholder(ctx.cfg.converter.argv, 'result'),
    result: f.result,
  });
  return { outcome, error: outcome === 'ok' ? null : describe(outcome, f.res, f.result) };
}

/**
 * How an attempt ended and what to tell the queue: done (ok), released (stopped by shutdown: not the
 * converter's fault, retried at once after restart, the attempt not counted), or failed (retried while the
 * outcome allows and attempts remain). A failed attempt's partial output is removed here.
 */
export function finish(ctx: Ctx, run: AttemptRun, f: Finished): { ended: Ended; settlement: Settlement } {
  const { outcome, error } = f.verdict ?? classify(ctx, run.out, f);
  if (outcome !== 'ok') fs.rmSync(`${run.out}.partial`, { recursive: true, force: true });
  const ended: Ended = {
    outcome,
    error,
    row: {
      outcome,
      exit_code: f.res.exitCode,
      signal: f.res.signal,
      stdout_tail: f.res.stdoutTail,
      stderr_tail: f.res.stderrTail,
      result_json: f.result ? JSON.stringify(f.result) : null,
      error,
    },
    durationMs: f.res.durationMs,
    also: f.also,
  };
  let settlement: Settlement;
  if (outcome === 'ok') settlement = QueueSettle.done({ outputPath: run.out, attempt: run.attempt });
  else if (outcome === 'aborted') settlement = QueueSettle.released();
  else
    settlement = QueueSettle.failed(new Error(error ?? outcome), {
      retryable: isRetriable(outcome, run.lease.attempt),
      retryPolicy: f.retryPolicy,
    });
  return { ended, settlement };
}

/**
 * The settle hook (inside the queue's settle transaction): close the attempt and move the group after the
 * queue's decision. False when the attempt was already closed by someone else (its owner, or recovery), or
 * when its end is unknown: then nothing is recorded. A write of ours that fails is worth trying again (the
 * outcome is known; losing it would leave a finished conversion to recovery).
 */
export function settleConversion(
  ctx: Ctx,
  conn: Connection,
  ev: SettleEvent<ConvertPayload, ConversionClaim>,
): void | false {
  const d = ev.decision;
  try {
    if (d.state === 'dead' && d.buried) return buried(ctx, conn, ev.job);
    const c = ev.claim;
    if (!c?.ended) return false;
    const now = ctx.clock.now();
    if (!S.closeAttempt(conn, c.run.attemptId, c.ended.row, now)) {
      ctx.log.warn(
        { groupId: c.run.group.group_id, attempt: c.run.attempt, outcome: c.ended.outcome },
        'attempt already settled elsewhere; outcome not applied',
      );
      return false;
    }
    const to = moveGroup(ctx, conn, c, d, now);
    c.ended.also?.(conn, { outcome: c.ended.outcome, to });
  } catch (e) {
    if (e instanceof ContimgError) throw e;
    throw new RetryableError(`converter rows not written: ${(e as Error).message}`, { cause: e });
  }
}

/** After the settle committed: the attempt's metrics (counted once it is recorded), a lost lease logged. */
export function settledConversion(ctx: Ctx, ev: SettleEvent<ConvertPayload, ConversionClaim>): void {
  const c = ev.claim;
  if (!c?.ended) return;
  const { outcome, durationMs } = c.ended;
  if (ev.decision.state === 'lost')
    ctx.log.error(
      { groupId: c.run.group.group_id, jobId: ev.job.id, outcome },
      'job lease lost; outcome not applied',
    );
  ctx.m.attempts.inc({ outcome });
  ctx.m.conversionSeconds.observe({ outcome }, durationMs / 1000);
}

/** The group after the queue's decision; null when the job was lost (its new holder owns the group). */
function moveGroup(
  ctx: Ctx,
  conn: Connection,
  c: ConversionClaim,
  d: SettleDecision,
  now: number,
): GroupState | null {
  const { run } = c;
  const { outcome, error } = c.ended!;
  switch (d.state) {
    case 'done':
      return converted(ctx, conn, run, c.ended!, now);
    case 'released':
      return aborted(ctx, conn, run, error, now);
    case 'retry':
      return failedAttempt(ctx, conn, run, outcome, error, d.runAt, now);
    case 'dead':
      return failedAttempt(ctx, conn, run, outcome, error, null, now);
    case 'lost':
      return null;
  }
}

/**
 * A claim buried the group's job: its last attempt's lease expired, the holder gone, the attempt already
 * closed (an open one is recovery's: the claim waits for it). The group follows its job to failed.
 */
function buried(ctx: Ctx, conn: Connection, job: SettlingJob<ConvertPayload>): void {
  const g = S.getGroup(conn, job.payload.groupRef);
  if (!g || g.state !== 'converting' || g.job_id !== job.id || S.openAttemptOf(conn, g.id)) return;
  const now = ctx.clock.now();
  const error = 'lease expired on the last attempt';
  S.casGroup(conn, g.id, 'converting', 'failed', now, { finished_at: now, error, error_code: 'crashed' });
  emit(conn, 'failed', { groupId: g.group_id, outcome: 'crashed', error }, now);
  alert(conn, 'ConverterGroupFailed', 'critical', { group: g.group_id }, error, now);
  ctx.log.error({ groupId: g.group_id, from: 'converting', to: 'failed' }, error);
}

function converted(ctx: Ctx, conn: Connection, run: AttemptRun, e: Ended, now: number): GroupState {
  const g = run.group;
  S.casGroup(conn, g.id, 'converting', 'converted', now, {
    finished_at: now,
    output_path: run.out,
    error: null,
    error_code: null,
  });
  emit(
    conn,
    'converted',
    { groupId: g.group_id, attempt: run.attempt, outputPath: run.out, durationMs: e.durationMs },
    now,
  );
  resolve(conn, 'ConverterGroupFailed', { group: g.group_id }, now);
  resolve(conn, 'ConverterInputGone', { group: g.group_id }, now);
  ctx.m.lastConverted.set(g.anchor_ms / 1000);
  ctx.log.info(
    { groupId: g.group_id, from: 'converting', to: 'converted', attempt: run.attempt },
    'converted',
  );
  return 'converted';
}

/** Shutdown, not the converter's fault: give the attempt back and retry at once after restart. */
function aborted(ctx: Ctx, conn: Connection, run: AttemptRun, error: string | null, now: number): GroupState {
  const g = run.group;
  S.casGroup(conn, g.id, 'converting', 'retry_wait', now, { attempts: g.attempts - 1, error });
  emit(conn, 'attempt_aborted', { groupId: g.group_id, attempt: run.attempt }, now);
  ctx.log.warn(
    { groupId: g.group_id, from: 'converting', to: 'retry_wait', attempt: run.attempt },
    'conversion stopped by shutdown',
  );
  return 'retry_wait';
}

/** A failed attempt: the group follows the queue's decision, retry_wait at runAt (retry) or failed (dead). */
function failedAttempt(
  ctx: Ctx,
  conn: Connection,
  run: AttemptRun,
  outcome: Outcome,
  error: string | null,
  runAt: number | null,
  now: number,
): GroupState {
  const g = run.group;
  const to = runAt === null ? 'failed' : 'retry_wait';
  const where = { groupId: g.group_id, from: 'converting', to, attempt: run.attempt, reason: outcome };
  if (runAt !== null) {
    S.casGroup(conn, g.id, 'converting', 'retry_wait', now, { error, error_code: outcome });
    emit(
      conn,
      'retry_scheduled',
      { groupId: g.group_id, attempt: run.attempt, outcome, nextAttemptAt: runAt, error },
      now,
    );
    ctx.log.warn(where, 'conversion failed; will retry');
    return to;
  }
  S.casGroup(conn, g.id, 'converting', 'failed', now, { finished_at: now, error, error_code: outcome });
  emit(conn, 'failed', { groupId: g.group_id, attempt: run.attempt, outcome, error }, now);
  alert(
    conn,
    'ConverterGroupFailed',
    'critical',
    { group: g.group_id },
    `conversion failed after ${g.attempts} attempt(s): ${error}`,
    now,
  );
  ctx.log.error(where, 'conversion failed');
  return 'failed';
}
