// How a mosaic build ended, and what that does to the plan (docs/mosaic-dispatch.md, "Outcomes"). classify()
// is pure: the builder's exit (or the dispatcher's own deadline, a crash found by recovery) plus its result
// JSON and outputs → an outcome, whether the queue may retry, and whether the plan is re-planned. settlePlan()
// runs in the queue's settle transaction: the attempt row closed, the plan's state mirrored from the queue's
// decision, the product row for a built mosaic, the events, and MosaicBuildFailed raised or resolved.
import fs from 'node:fs';
import { raiseAlert, resolveAlert, firingLabelSets } from '../../../lib/alerts/index.js';
import type { BackoffPolicy } from '../../../lib/backoff.js';
import type { Connection } from '../../../lib/db/index.js';
import { appendEvent } from '../../../lib/events/index.js';
import type { ChildResult } from '../../../lib/exec/child.js';
import { BUILD_EXIT, parseResult, type MosaicResult } from '../../../lib/mosaic/manifest.js';
import { stripLabel } from '../../../lib/mosaic/plan/describe.js';
import type { SettleDecision } from '../../../lib/queue/index.js';
import type { BuildOutcome } from './dispatch-metrics.js';
import * as S from './dispatch-store.js';

export const TOPIC = 'mosaic';
export const BUILD_FAILED = 'MosaicBuildFailed';

/** What is known when a build attempt has ended. */
export interface BuildEnd {
  res: ChildResult;
  /** The supervisor recorded the exit (exit.json), or the daemon saw it itself. */
  exitKnown: boolean;
  /** The result JSON, parsed against the contract; null with `resultError` when missing or invalid. */
  result: MosaicResult | null;
  resultError: string | null;
  /** Both outputs exist as regular files (the FITS and the weights). */
  outputsExist: boolean;
  /** Set by recovery (crashed) or a cancel: overrides the classification. */
  forced?: Verdict;
}

export interface Verdict {
  outcome: BuildOutcome;
  errorCode: string | null;
  error: string | null;
  retryable: boolean;
  /** A retry due at once (a crash of the dispatcher, not the builder's fault). */
  retryPolicy?: BackoffPolicy;
  /** The inputs changed under the plan: it is superseded, and the planner plans the unit again. */
  replan?: boolean;
  /** Stopped from outside (scancel): the plan is cancelled, not failed. */
  cancelled?: boolean;
}

/** Earlier attempts of the plan that ended in the outcomes that are retried only once. */
export interface Prior {
  timeouts: number;
  buildErrors: number;
}

const firstLine = (s: string): string =>
  s
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '') ?? '';

/** The builder's exit against the contract's table. */
export function classify(e: BuildEnd, prior: Prior): Verdict {
  if (e.forced) return e.forced;
  const { res, result } = e;
  const why = result?.error ?? (firstLine(res.stderrTail) || null);
  if (res.spawnError !== null)
    return { outcome: 'spawn_error', errorCode: null, error: res.spawnError, retryable: true };
  if (res.aborted)
    return { outcome: 'aborted', errorCode: null, error: 'build stopped by the dispatcher', retryable: true };
  if (res.timedOut || res.exitCode === BUILD_EXIT.timeout)
    return {
      outcome: 'timeout',
      errorCode: 'timeout',
      error: res.timedOut ? 'build exceeded its timeout; stopped' : 'builder reported a timeout (exit 124)',
      retryable: prior.timeouts === 0,
    };
  if (res.exitCode === BUILD_EXIT.oom || res.signal === 'SIGKILL')
    return {
      outcome: 'oom',
      errorCode: 'oom',
      error: 'builder killed (out of memory?): split the plan or raise memoryMaxGb',
      retryable: false,
    };
  if (res.exitCode === BUILD_EXIT.ok) {
    if (!result)
      return { outcome: 'bad_result', errorCode: 'bad_result', error: e.resultError, retryable: true };
    if (!result.ok || !result.outputs || !result.grid)
      return {
        outcome: 'bad_result',
        errorCode: 'bad_result',
        error: 'exit 0 but the result is not ok or lacks outputs/grid',
        retryable: true,
      };
    if (!e.outputsExist)
      return {
        outcome: 'bad_result',
        errorCode: 'bad_result',
        error: 'exit 0 but an output is missing',
        retryable: true,
      };
    return { outcome: 'ok', errorCode: null, error: null, retryable: false };
  }
  if (res.exitCode === BUILD_EXIT.io) return { outcome: 'io', errorCode: 'io', error: why, retryable: true };
  if (res.exitCode === BUILD_EXIT.validation) {
    const code = result?.error_code ?? 'validation';
    if (code === 'input_changed')
      return { outcome: 'validation', errorCode: code, error: why, retryable: false, replan: true };
    return { outcome: 'validation', errorCode: code, error: why, retryable: false };
  }
  if (res.exitCode === BUILD_EXIT.buildError)
    return {
      outcome: 'build_error',
      errorCode: 'build_error',
      error: why,
      retryable: prior.buildErrors === 0,
    };
  const how = res.exitCode !== null ? `exit ${res.exitCode}` : `signal ${res.signal ?? 'unknown'}`;
  return {
    outcome: 'failed',
    errorCode: 'failed',
    error: `builder failed (${how})${why ? `: ${why}` : ''}`,
    retryable: true,
  };
}

/** The result file, parsed; null with the reason when it is missing or breaks the contract. */
export function readResultFile(file: string): { result: MosaicResult | null; error: string | null } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { result: null, error: `no result file (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})` };
  }
  try {
    return { result: parseResult(text), error: null };
  } catch (e) {
    return { result: null, error: (e as Error).message };
  }
}

export const isFile = (p: string): boolean => {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
};

export function buildFailedLabels(p: Pick<S.PlanRow, 'tier' | 'strip_dec_deg' | 'name'>) {
  return { tier: p.tier, strip: stripLabel(p.strip_dec_deg), plan: p.name };
}

export function emit(conn: Connection, type: string, payload: Record<string, unknown>, now: number): void {
  appendEvent(conn, { topic: TOPIC, type: `mosaic.${type}`, payload }, now);
}

/** Resolve MosaicBuildFailed of one plan (an operator's requeue or cancel). */
export function resolveBuildFailed(conn: Connection, p: S.PlanRow, now: number): void {
  resolveAlert(conn, { alertname: BUILD_FAILED, labels: buildFailedLabels(p) }, now);
}

/** What the settle knows of the attempt besides the queue's decision. */
export interface SettleInput {
  plan: S.PlanRow;
  attemptId: number;
  attempt: number;
  jobAttempt: number;
  manifestPath: string;
  end: BuildEnd;
  verdict: Verdict;
  outputs: { fits: string; weights: string };
}

/**
 * Inside the settle transaction: close the attempt (false: it was closed already, refuse the settle) and
 * move the plan as the queue decided.
 */
export function settlePlan(conn: Connection, s: SettleInput, d: SettleDecision, now: number): boolean {
  const { plan, verdict: v, end } = s;
  const closed = S.closeAttempt(
    conn,
    s.attemptId,
    {
      exit_code: end.res.exitCode,
      signal: end.res.signal,
      outcome: v.outcome,
      error_code: v.errorCode,
      error: v.error,
      stderr_tail: end.res.stderrTail,
      result_json: end.result ? JSON.stringify(end.result) : null,
    },
    now,
  );
  if (!closed) return false;
  const base = { plan: plan.name, planId: plan.id, tier: plan.tier, attempt: s.attempt, outcome: v.outcome };
  const from = ['building'] as const;
  if (d.state === 'done') {
    S.casPlan(conn, plan.id, from, 'built', now, { attempts: s.jobAttempt, error_code: null, error: null });
    const id = S.insertMosaic(conn, plan, end.result!, s.outputs, end.res.durationMs / 1000, now);
    emit(conn, 'built', { ...base, mosaicId: id, path: s.outputs.fits }, now);
    // A later plan of the same tier and strip built: the strip's build failures are over.
    const strip = stripLabel(plan.strip_dec_deg);
    for (const labels of firingLabelSets(conn, BUILD_FAILED))
      if (labels.tier === plan.tier && labels.strip === strip)
        resolveAlert(conn, { alertname: BUILD_FAILED, labels }, now);
    return true;
  }
  if (d.state === 'retry') {
    S.casPlan(conn, plan.id, from, 'retry_wait', now, {
      attempts: s.jobAttempt,
      error_code: v.errorCode,
      error: v.error,
    });
    emit(conn, 'retry_wait', { ...base, errorCode: v.errorCode, runAt: d.runAt }, now);
    return true;
  }
  if (d.state === 'dead') {
    if (v.replan) {
      S.casPlan(conn, plan.id, from, 'superseded', now, {
        attempts: s.jobAttempt,
        error_code: v.errorCode,
        error: v.error,
      });
      emit(conn, 'superseded', { ...base, reason: 'input_changed' }, now);
      return true;
    }
    if (v.cancelled) {
      S.casPlan(conn, plan.id, from, 'cancelled', now, {
        attempts: s.jobAttempt,
        error_code: v.errorCode,
        error: v.error,
      });
      emit(conn, 'cancelled', { ...base, by: 'slurm', error: v.error }, now);
      return true;
    }
    S.casPlan(conn, plan.id, from, 'failed', now, {
      attempts: s.jobAttempt,
      error_code: v.errorCode,
      error: v.error,
    });
    emit(conn, 'failed', { ...base, errorCode: v.errorCode, error: v.error }, now);
    raiseBuildFailed(conn, s, now);
    return true;
  }
  // released or lost: the attempt is closed; the plan goes back to where a claim finds it.
  S.casPlan(conn, plan.id, from, 'retry_wait', now, { attempts: s.jobAttempt });
  return true;
}

function raiseBuildFailed(conn: Connection, s: SettleInput, now: number): void {
  const { plan, verdict: v } = s;
  const stderr = firstLine(s.end.res.stderrTail);
  const split =
    v.outcome === 'oom' ? ' Split the plan (smaller RA segments) or raise builder.memoryMaxGb.' : '';
  raiseAlert(
    conn,
    {
      alertname: BUILD_FAILED,
      severity: plan.tier === 'quicklook' ? 'warning' : 'critical',
      labels: buildFailedLabels(plan),
      annotations: {
        summary: `mosaic ${plan.name} failed: ${v.errorCode ?? v.outcome}`,
        description:
          `error_code=${v.errorCode ?? v.outcome}; attempts=${s.jobAttempt}; ` +
          `stderr: ${stderr || '(empty)'}; manifest: ${s.manifestPath}.${split}`,
      },
      source: 'scheduler',
    },
    now,
  );
}
