// Exactly-once dispatch: a compare-and-set ready→converting plus an attempt row (with a lease) in one
// transaction, then the manifest, then spawn. The attempt row records pid/pgid/start ticks as soon as the
// child exists, so a restarted daemon can find (and kill) an orphan. Outcomes close the attempt and move
// the group in one transaction with its event and alert.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env as processEnv, pid as ownPid } from 'node:process';
import type { BackoffPolicy } from '../../lib/backoff.js';
import { expandArgv, usesPlaceholder } from './argv.js';
import { runChild, pidStartTicks, type ChildResult } from './child.js';
import { alert, emit, resolve, type Ctx } from './context.js';
import { afterFailure, classifyExit, type Outcome } from './rules.js';
import * as S from './store.js';

export interface DispatchHooks {
  /** Test fault: called after the dispatch transaction committed and before spawn(). */
  afterDispatchCommit?: (groupId: string) => void;
  /** Free bytes of a path (fs.statfs by default); tests pass a fake to exercise the disk gate. */
  freeBytes?: (p: string) => number;
  /** Environment for the converter (process.env from main.ts, plus converter.env). */
  baseEnv?: NodeJS.ProcessEnv;
}

interface InFlight {
  groupRef: number;
  groupId: string;
  abort: AbortController;
  done: Promise<void>;
}

export function statfsFree(p: string): number {
  const s = fs.statfsSync(p);
  return s.bavail * s.bsize;
}

/** The attempt directory: scratch/<group id with ':' kept>/attempt-N (cwd of the converter). */
export function attemptDir(scratchDir: string, groupId: string, attempt: number): string {
  return path.join(scratchDir, groupId, `attempt-${attempt}`);
}

export function outputPathFor(outputDir: string, template: string, groupId: string): string {
  return path.join(outputDir, template.replaceAll('{group}', groupId));
}

export class Dispatcher {
  readonly inFlight = new Map<number, InFlight>();
  readonly owner = `${os.hostname()}:${ownPid}`;
  private paused = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly hooks: DispatchHooks,
    private readonly policy: BackoffPolicy,
    private readonly wake: () => void,
  ) {}

  /** Disk gate: pause dispatch while output or scratch has less than minFreeGb free. */
  private diskOk(): boolean {
    const { cfg, m } = this.ctx;
    const free = this.hooks.freeBytes ?? statfsFree;
    const min = cfg.minFreeGb * 1e9;
    let ok = true;
    for (const [label, p] of [['output', cfg.outputDir], ['scratch', cfg.scratchDir], ['input', cfg.incomingDir]] as const) {
      let bytes: number;
      try {
        bytes = free(p);
      } catch {
        continue;
      }
      m.diskFree.set({ path: label }, bytes);
      if (label !== 'input' && bytes < min) ok = false;
    }
    if (ok !== !this.paused) {
      this.paused = !ok;
      m.paused.set({ reason: 'disk' }, ok ? 0 : 1);
      const now = this.ctx.clock.now();
      this.ctx.db.write((conn) => {
        if (ok) resolve(conn, 'ConverterDiskLow', {}, now);
        else alert(conn, 'ConverterDiskLow', 'critical', {}, `less than ${cfg.minFreeGb} GB free on output or scratch; dispatch paused`, now);
        emit(conn, ok ? 'dispatch_resumed' : 'dispatch_paused', { reason: 'disk' }, now);
      });
      this.ctx.log.warn({ paused: !ok }, ok ? 'disk gate open: dispatch resumed' : 'disk gate closed: dispatch paused');
    }
    return ok;
  }

  /** Start conversions for the oldest ready groups, up to maxConcurrent in flight. */
  dispatch(): number {
    const { cfg } = this.ctx;
    const slots = cfg.maxConcurrent - this.inFlight.size;
    if (slots <= 0) return 0;
    const ready = this.ctx.db.read((c) => S.groupsInState(c, 'ready'));
    if (ready.length === 0 || !this.diskOk()) return 0;
    let started = 0;
    for (const g of ready) {
      if (started >= slots) break;
      if (this.inFlight.has(g.id)) continue;
      const claimed = this.claim(g);
      if (!claimed) continue;
      started++;
      this.start({ ...g, attempts: claimed.budget }, claimed.attemptId, claimed.attempt);
    }
    return started;
  }

  /** CAS ready→converting and the attempt row, in one transaction. `budget` is the attempt counted against maxAttempts. */
  private claim(g: S.GroupRow): { attemptId: number; attempt: number; budget: number } | null {
    const { cfg, clock } = this.ctx;
    const now = clock.now();
    const budget = g.attempts + 1;
    const out = outputPathFor(cfg.outputDir, cfg.converter.outputName, g.group_id);
    return this.ctx.db.write((conn) => {
      const attempt = S.nextAttemptNo(conn, g.id);
      const manifest = path.join(attemptDir(cfg.scratchDir, g.group_id, attempt), 'manifest.json');
      if (!S.casGroup(conn, g.id, 'ready', 'converting', now, { attempts: budget, dispatched_at: now, next_attempt_at: null }))
        return null;
      const attemptId = S.insertAttempt(
        conn,
        { group_ref: g.id, attempt, owner: this.owner, lease_expires_at: now + cfg.leaseS * 1000, manifest_path: manifest, output_path: out },
        now,
      );
      emit(conn, 'dispatched', { groupId: g.group_id, attempt, outputPath: out }, now);
      this.ctx.log.info({ groupId: g.group_id, from: 'ready', to: 'converting', attempt }, 'dispatching');
      return { attemptId, attempt, budget };
    });
  }

  private writeManifest(g: S.GroupRow, attempt: number, dir: string, out: string): string {
    const members = this.ctx.db.read((c) => S.validMembers(c, g.id));
    const manifest = {
      group_id: g.group_id,
      attempt,
      expected_subbands: g.expected,
      partial: g.partial === 1,
      files: members.map((f) => ({ subband: f.subband, path: f.path, size: f.size, mtime_ms: f.mtime_ms, inode: f.inode })),
      output_path: out,
      partial_path: `${out}.partial`,
      header: { dec_rad: g.dec_rad, mid_jd: g.mid_jd },
    };
    fs.mkdirSync(dir, { recursive: true });
    const p = path.join(dir, 'manifest.json');
    fs.writeFileSync(`${p}.tmp`, JSON.stringify(manifest, null, 2));
    fs.renameSync(`${p}.tmp`, p);
    return p;
  }

  private start(g: S.GroupRow, attemptId: number, attempt: number): void {
    const abort = new AbortController();
    const entry: InFlight = { groupRef: g.id, groupId: g.group_id, abort, done: Promise.resolve() };
    this.inFlight.set(g.id, entry);
    this.ctx.m.inFlight.set(this.inFlight.size);
    entry.done = this.execute(g, attemptId, attempt, abort.signal)
      .catch((e: unknown) => {
        this.ctx.m.loopErrors.inc({ loop: 'dispatch' });
        this.ctx.log.error({ err: e, groupId: g.group_id }, 'conversion bookkeeping failed; startup recovery will close the attempt');
      })
      .finally(() => {
        this.inFlight.delete(g.id);
        this.ctx.m.inFlight.set(this.inFlight.size);
        this.wake();
      });
  }

  private async execute(g: S.GroupRow, attemptId: number, attempt: number, signal: AbortSignal): Promise<void> {
    const { cfg, clock, db } = this.ctx;
    const dir = attemptDir(cfg.scratchDir, g.group_id, attempt);
    const out = outputPathFor(cfg.outputDir, cfg.converter.outputName, g.group_id);
    const result = path.join(dir, 'result.json');
    let manifest: string;
    try {
      fs.mkdirSync(cfg.outputDir, { recursive: true });
      manifest = this.writeManifest(g, attempt, dir, out);
      fs.rmSync(result, { force: true });
      fs.rmSync(`${out}.partial`, { recursive: true, force: true });
    } catch (e) {
      return this.finish(g, attemptId, attempt, this.spawnFailure(`cannot prepare attempt: ${(e as Error).message}`), out, undefined);
    }
    this.hooks.afterDispatchCommit?.(g.group_id);
    const argv = expandArgv(cfg.converter.argv, { manifest, out, result, scratch: dir, group: g.group_id });
    const lastArrival = db.read((c) => S.validMembers(c, g.id)).reduce((t, f) => Math.max(t, f.mtime_ms, f.first_seen_at), 0);
    const renew = setInterval(() => {
      try {
        db.write((c) => S.renewAttemptLease(c, attemptId, this.owner, clock.now() + cfg.leaseS * 1000));
      } catch (e) {
        this.ctx.log.warn({ err: e, groupId: g.group_id }, 'attempt lease renewal failed');
      }
    }, (cfg.leaseS * 1000) / 3);
    try {
      const res = await runChild({
        argv,
        cwd: dir,
        env: { ...(this.hooks.baseEnv ?? processEnv), ...cfg.converter.env },
        timeoutMs: cfg.converter.timeoutS * 1000,
        killGraceMs: cfg.killGraceS * 1000,
        signal,
        now: () => clock.now(),
        onSpawn: (pid) => {
          const now = clock.now();
          db.write((c) => S.recordSpawn(c, attemptId, { pid, pgid: pid, pid_start_ticks: pidStartTicks(pid) }, now));
          this.ctx.m.dispatchLatency.observe(Math.max(0, now - lastArrival) / 1000);
          this.ctx.log.info({ groupId: g.group_id, attempt, pid, argv }, 'converter started');
        },
      });
      const parsed = usesPlaceholder(cfg.converter.argv, 'result') ? readResult(result) : undefined;
      this.finish(g, attemptId, attempt, res, out, parsed);
    } finally {
      clearInterval(renew);
    }
  }

  private spawnFailure(message: string): ChildResult {
    return { exitCode: null, signal: null, timedOut: false, aborted: false, spawnError: message, stdoutTail: '', stderrTail: '', durationMs: 0 };
  }

  private finish(g: S.GroupRow, attemptId: number, attempt: number, res: ChildResult, out: string, result: ResultFile): void {
    const { cfg, clock, m, log } = this.ctx;
    const outcome: Outcome = classifyExit({
      exitCode: res.exitCode,
      signal: res.signal,
      timedOut: res.timedOut,
      spawnError: res.spawnError !== null,
      aborted: res.aborted,
      outputExists: fs.existsSync(out),
      expectResult: usesPlaceholder(cfg.converter.argv, 'result'),
      result,
    });
    const now = clock.now();
    const error = outcome === 'ok' ? null : describe(outcome, res, result);
    m.attempts.inc({ outcome });
    m.conversionSeconds.observe({ outcome }, res.durationMs / 1000);
    if (outcome !== 'ok') fs.rmSync(`${out}.partial`, { recursive: true, force: true });
    this.ctx.db.write((conn) => {
      S.closeAttempt(
        conn,
        attemptId,
        {
          outcome,
          exit_code: res.exitCode,
          signal: res.signal,
          stdout_tail: res.stdoutTail,
          stderr_tail: res.stderrTail,
          result_json: result ? JSON.stringify(result) : null,
          error,
        },
        now,
      );
      if (outcome === 'ok') {
        S.casGroup(conn, g.id, 'converting', 'converted', now, { finished_at: now, output_path: out, error: null, error_code: null });
        emit(conn, 'converted', { groupId: g.group_id, attempt, outputPath: out, durationMs: res.durationMs }, now);
        resolve(conn, 'ConverterGroupFailed', { group: g.group_id }, now);
        m.lastConverted.set(g.anchor_ms / 1000);
        log.info({ groupId: g.group_id, from: 'converting', to: 'converted', attempt }, 'converted');
        return;
      }
      if (outcome === 'aborted') {
        // Shutdown, not the converter's fault: give the attempt back and retry at once after restart.
        S.casGroup(conn, g.id, 'converting', 'retry_wait', now, { attempts: g.attempts - 1, next_attempt_at: now, error });
        emit(conn, 'attempt_aborted', { groupId: g.group_id, attempt }, now);
        log.warn({ groupId: g.group_id, from: 'converting', to: 'retry_wait', attempt }, 'conversion stopped by shutdown');
        return;
      }
      const next = afterFailure(outcome, g.attempts, cfg.maxAttempts, now, this.policy);
      if (next.state === 'retry_wait') {
        S.casGroup(conn, g.id, 'converting', 'retry_wait', now, { next_attempt_at: next.nextAttemptAt, error, error_code: outcome });
        emit(conn, 'retry_scheduled', { groupId: g.group_id, attempt, outcome, nextAttemptAt: next.nextAttemptAt, error }, now);
        log.warn({ groupId: g.group_id, from: 'converting', to: 'retry_wait', attempt, reason: outcome }, 'conversion failed; will retry');
      } else {
        S.casGroup(conn, g.id, 'converting', 'failed', now, { finished_at: now, error, error_code: outcome });
        emit(conn, 'failed', { groupId: g.group_id, attempt, outcome, error }, now);
        alert(conn, 'ConverterGroupFailed', 'critical', { group: g.group_id }, `conversion failed after ${g.attempts} attempt(s): ${error}`, now);
        log.error({ groupId: g.group_id, from: 'converting', to: 'failed', attempt, reason: outcome }, 'conversion failed');
      }
    });
  }

  /** Stop: wait up to killGraceS for running converters, then stop their process groups. */
  async drain(hardStop?: AbortSignal): Promise<void> {
    if (this.inFlight.size === 0) return;
    const all = Promise.all([...this.inFlight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => {
      timer = setTimeout(r, this.ctx.cfg.killGraceS * 1000);
      hardStop?.addEventListener('abort', () => r(), { once: true });
    });
    await Promise.race([all, grace]);
    clearTimeout(timer);
    for (const f of this.inFlight.values()) f.abort.abort();
    await all;
  }
}

type ResultFile = { ok?: unknown; error?: unknown; error_code?: unknown } | null | undefined;

function readResult(p: string): ResultFile {
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

function describe(outcome: Outcome, res: ChildResult, result: ResultFile): string {
  if (res.spawnError) return `spawn failed: ${res.spawnError}`;
  const fromResult = result && typeof result.error === 'string' ? `: ${result.error}` : '';
  const how = res.signal ? `signal ${res.signal}` : `exit ${res.exitCode}`;
  const tail = res.stderrTail.trim().split('\n').slice(-1)[0] ?? '';
  return `${outcome} (${how})${fromResult}${tail ? ` — ${tail.slice(0, 300)}` : ''}`;
}
