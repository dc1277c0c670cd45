// Exactly-once dispatch: one transaction claims due `conversions` jobs (lease + fencing token), moves each
// group ready|retry_wait→converting and inserts its attempt row keyed to (job id, lease token); then the
// manifest, then the converter under its supervisor (conversion.ts), whose marker and files in the attempt
// directory let a restarted daemon find the attempt's processes and its exit status even before the pid is
// in the row. Recovery hands attempts it adopts back here, so they count against maxConcurrent and drain
// like any other. Outcomes settle the job, the attempt and the group in one write.
import fs from 'node:fs';
import path from 'node:path';
import { leaseOwner } from '../../lib/leases/index.js';
import { LeaseLostError } from '../../lib/errors.js';
import type { ClaimedJob } from '../../lib/queue/index.js';
import { maskArgv } from '../../lib/redact.js';
import { attemptKey } from './attempt-files.js';
import { AttemptRunner, type AttemptRun, type RunnerHooks } from './conversion.js';
import { alert, emit, resolve, type Ctx } from './context.js';
import type { ConversionExecutor, ExecutorKind } from './executor.js';
import { createExecutors } from './executors.js';
import { QUEUE } from './jobs.js';
import type { GroupState } from './rules.js';
import * as S from './store.js';

export interface DispatchHooks extends RunnerHooks {
  /** Free bytes of a path (fs.statfs by default); tests pass a fake to exercise the disk gate. */
  freeBytes?: (p: string) => number;
}

interface InFlight {
  groupRef: number;
  jobId: number;
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

const DISPATCHABLE: readonly GroupState[] = ['ready', 'retry_wait', 'converting', 'failed'];

export class Dispatcher {
  readonly inFlight = new Map<number, InFlight>();
  /** `<host>:<pid>:converter:<random>`: recovery tells a live holder on this host from a dead one by the pid. */
  readonly owner = leaseOwner('converter');
  readonly runner: AttemptRunner;
  /** The configured executor, and the other one for attempts it ran before a config change. */
  private readonly executors: (kind: ExecutorKind) => ConversionExecutor;
  private paused = false;
  /** Aborted at the hard stop: settles and pid writes waiting on a lock give up (recovery takes over). */
  private readonly quit = new AbortController();
  /** Set when dispatch saw an expired lease; the loop runs recovery before the next dispatch. */
  wantRecovery = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly hooks: DispatchHooks,
    private readonly wake: () => void,
  ) {
    this.runner = new AttemptRunner(ctx, hooks, this.quit.signal, (run, pid, argv) =>
      this.started(run, pid, argv),
    );
    this.executors = createExecutors(ctx, this, hooks);
  }

  /** The executor new attempts run on (streamingConverter.executor.kind). */
  get executor(): ConversionExecutor {
    return this.executors(this.ctx.cfg.executor.kind);
  }

  /** The executor an attempt ran on (its row's `executor`). */
  executorFor(kind: ExecutorKind): ConversionExecutor {
    return this.executors(kind);
  }

  /** The converter runs under its supervisor and its pid is in the attempt row. */
  private started(run: AttemptRun, pid: number, argv: string[]): void {
    const g = run.group;
    const attempt = run.attempt;
    this.ctx.log.info({ groupId: g.group_id, attempt, pid, argv: maskArgv(argv) }, 'converter started');
  }

  /** Disk gate: pause dispatch while output or scratch has less than minFreeGb free. */
  private diskOk(): boolean {
    const { cfg, m } = this.ctx;
    const free = this.hooks.freeBytes ?? statfsFree;
    const min = cfg.minFreeGb * 1e9;
    let ok = true;
    for (const [label, p] of [
      ['output', cfg.outputDir],
      ['scratch', cfg.scratchDir],
      ['input', cfg.incomingDir],
    ] as const) {
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
        else
          alert(
            conn,
            'ConverterDiskLow',
            'critical',
            {},
            `less than ${cfg.minFreeGb} GB free on output or scratch; dispatch paused`,
            now,
          );
        emit(conn, ok ? 'dispatch_resumed' : 'dispatch_paused', { reason: 'disk' }, now);
      });
      this.ctx.log.warn(
        { paused: !ok },
        ok ? 'disk gate open: dispatch resumed' : 'disk gate closed: dispatch paused',
      );
    }
    return ok;
  }

  /** Claim due conversion jobs (oldest observation first) up to maxConcurrent in flight and start them. */
  dispatch(): number {
    const { cfg, clock, db } = this.ctx;
    const slots = cfg.maxConcurrent - this.inFlight.size;
    if (slots <= 0) return 0;
    // A running job with an expired lease and an open attempt is an orphan's: recovery (async: kill or
    // await it) takes it over, never the claim, so a second converter cannot start beside a live one.
    if (db.read((c) => S.expiredRunning(c, QUEUE, clock.now()))) {
      this.wantRecovery = true;
      return 0;
    }
    if (!db.read((c) => S.claimableJob(c, QUEUE, clock.now())) || !this.diskOk()) return 0;
    const started = db.write((conn) => {
      if (S.expiredRunning(conn, QUEUE, clock.now())) return [];
      const jobs = this.ctx.queue.claim({
        queue: QUEUE,
        owner: this.owner,
        leaseMs: cfg.leaseS * 1000,
        limit: slots,
      });
      return jobs.map((job) => this.take(conn, job)).filter((x) => x !== null);
    });
    for (const run of started) this.start(run, (abort) => this.executor.submit(run, abort));
    return started.length;
  }

  /** Inside the claim's write: group → converting and its attempt row, or finish a job whose group moved on. */
  private take(conn: Parameters<Parameters<Ctx['db']['write']>[0]>[0], job: ClaimedJob): AttemptRun | null {
    const { cfg, clock } = this.ctx;
    const now = clock.now();
    const ref = Number(job.payload.groupRef);
    const g = S.getGroup(conn, ref);
    // converting: an expired claim whose attempt was already closed (no converter can be running);
    // failed: its dead job was redriven with `contimg jobs` instead of `converter requeue`.
    const from = g && DISPATCHABLE.includes(g.state) ? g.state : null;
    if (!g || from === null || g.job_id !== job.id || S.openAttemptOf(conn, g.id)) {
      this.ctx.queue.complete(job.lease, { skipped: `group is ${g?.state ?? 'gone'}` });
      this.ctx.log.warn({ jobId: job.id, groupRef: ref, state: g?.state }, 'stale conversion job; skipped');
      return null;
    }
    const attempt = S.nextAttemptNo(conn, g.id);
    const out = outputPathFor(cfg.outputDir, cfg.converter.outputName, g.group_id);
    const dir = attemptDir(cfg.scratchDir, g.group_id, attempt);
    const manifest = path.join(dir, 'manifest.json');
    S.casGroup(conn, g.id, from, 'converting', now, { attempts: job.lease.attempt, dispatched_at: now });
    const attemptId = S.insertAttempt(
      conn,
      {
        group_ref: g.id,
        attempt,
        job_id: job.id,
        lease_token: job.lease.token,
        manifest_path: manifest,
        output_path: out,
        ...this.executor.attemptColumns(g.group_id, attempt, now),
      },
      now,
    );
    emit(conn, 'dispatched', { groupId: g.group_id, attempt, outputPath: out, jobId: job.id }, now);
    this.ctx.log.info({ groupId: g.group_id, from, to: 'converting', attempt, jobId: job.id }, 'dispatching');
    return {
      group: { ...g, attempts: job.lease.attempt },
      attemptId,
      attempt,
      key: attemptKey({ id: attemptId, started_at: now }),
      dir,
      out,
      lease: job.lease,
    };
  }

  /**
   * Take over an attempt recovery found still running (an executor's adopt): renew the job's lease under the
   * attempt's own token first (refused when someone has claimed the job since: then the executor stops or
   * settles it instead), then run `body` (await and settle) as one of ours. Returns whether it was adopted.
   * The write waits out a lock (yielding) until `signal` aborts.
   */
  async adopt(
    run: AttemptRun,
    detail: Record<string, unknown>,
    body: (abort: AbortController) => Promise<void>,
    signal: AbortSignal,
  ): Promise<boolean> {
    const { cfg, clock, db } = this.ctx;
    const now = clock.now();
    try {
      run.lease = await db.writeAsync(
        (conn) => {
          const renewed = this.ctx.queue.heartbeat(run.lease, cfg.leaseS * 1000);
          emit(
            conn,
            'attempt_adopted',
            { groupId: run.group.group_id, attempt: run.attempt, ...detail, running: true },
            now,
          );
          return renewed;
        },
        { budgetMs: Infinity, signal },
      );
    } catch (e) {
      if (e instanceof LeaseLostError) return false;
      throw e;
    }
    this.start(run, body);
    return true;
  }

  private start(run: AttemptRun, body: (abort: AbortController) => Promise<void>): void {
    const g = run.group;
    const abort = new AbortController();
    const entry: InFlight = {
      groupRef: g.id,
      jobId: run.lease.jobId,
      groupId: g.group_id,
      abort,
      done: Promise.resolve(),
    };
    this.inFlight.set(g.id, entry);
    this.ctx.m.inFlight.set(this.inFlight.size);
    entry.done = body(abort)
      .catch((e: unknown) => {
        this.ctx.m.loopErrors.inc({ loop: 'dispatch' });
        this.ctx.log.error(
          { err: e, groupId: g.group_id },
          'conversion bookkeeping failed; recovery will settle the attempt from its directory',
        );
      })
      .finally(() => {
        this.inFlight.delete(g.id);
        this.ctx.m.inFlight.set(this.inFlight.size);
        this.wake();
      });
  }

  /** Stop: wait up to killGraceS for running converters, then stop their process groups. */
  async drain(hardStop?: AbortSignal): Promise<void> {
    if (hardStop?.aborted) this.quit.abort();
    else hardStop?.addEventListener('abort', () => this.quit.abort(), { once: true });
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
