// Exactly-once dispatch: one transaction claims due `conversions` jobs (lease + fencing token), moves each
// group ready|retry_wait→converting and inserts its attempt row keyed to (job id, lease token); then the
// manifest, then spawn. The attempt row records pid/pgid/start ticks as soon as the child exists, so a
// restarted daemon can find (and kill) an orphan before the job's lease is taken over. The lease is
// heartbeated while the converter runs; outcomes settle the job, the attempt and the group in one write.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env as processEnv, pid as ownPid } from 'node:process';
import { pause } from '../../lib/clock.js';
import { LeaseLostError } from '../../lib/errors.js';
import type { ClaimedJob, Lease } from '../../lib/queue/index.js';
import { maskArgv } from '../../lib/redact.js';
import { expandArgv, usesPlaceholder } from './argv.js';
import { runChild, pidStartTicks, type ChildResult } from './child.js';
import { alert, emit, resolve, type Ctx } from './context.js';
import { QUEUE } from './jobs.js';
import { readResult, recordOutcome, spawnFailure, type ResultFile } from './outcome.js';
import type { GroupState } from './rules.js';
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

/** Tries to record a finished attempt's outcome before leaving it to recovery (1 s, 2 s, … apart). */
const SETTLE_TRIES = 5;

const DISPATCHABLE: readonly GroupState[] = ['ready', 'retry_wait', 'converting', 'failed'];

export class Dispatcher {
  readonly inFlight = new Map<number, InFlight>();
  readonly owner = `${os.hostname()}:${ownPid}`;
  private paused = false;
  /** Set when dispatch saw an expired lease; the loop runs recovery before the next dispatch. */
  wantRecovery = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly hooks: DispatchHooks,
    private readonly wake: () => void,
  ) {}

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
    for (const t of started) this.start(t.group, t.attemptId, t.attempt, t.lease);
    return started.length;
  }

  /** Inside the claim's write: group → converting and its attempt row, or finish a job whose group moved on. */
  private take(
    conn: Parameters<Parameters<Ctx['db']['write']>[0]>[0],
    job: ClaimedJob,
  ): { group: S.GroupRow; attemptId: number; attempt: number; lease: Lease } | null {
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
    const manifest = path.join(attemptDir(cfg.scratchDir, g.group_id, attempt), 'manifest.json');
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
      },
      now,
    );
    emit(conn, 'dispatched', { groupId: g.group_id, attempt, outputPath: out, jobId: job.id }, now);
    this.ctx.log.info({ groupId: g.group_id, from, to: 'converting', attempt, jobId: job.id }, 'dispatching');
    return { group: { ...g, attempts: job.lease.attempt }, attemptId, attempt, lease: job.lease };
  }

  private writeManifest(g: S.GroupRow, attempt: number, dir: string, out: string): string {
    const members = this.ctx.db.read((c) => S.validMembers(c, g.id));
    const manifest = {
      group_id: g.group_id,
      attempt,
      expected_subbands: g.expected,
      partial: g.partial === 1,
      files: members.map((f) => ({
        subband: f.subband,
        path: f.path,
        size: f.size,
        mtime_ms: f.mtime_ms,
        inode: f.inode,
      })),
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

  private start(g: S.GroupRow, attemptId: number, attempt: number, lease: Lease): void {
    const abort = new AbortController();
    const entry: InFlight = {
      groupRef: g.id,
      jobId: lease.jobId,
      groupId: g.group_id,
      abort,
      done: Promise.resolve(),
    };
    this.inFlight.set(g.id, entry);
    this.ctx.m.inFlight.set(this.inFlight.size);
    entry.done = this.execute(g, attemptId, attempt, lease, abort)
      .catch((e: unknown) => {
        this.ctx.m.loopErrors.inc({ loop: 'dispatch' });
        this.ctx.log.error(
          { err: e, groupId: g.group_id },
          'conversion bookkeeping failed; startup recovery will close the attempt',
        );
      })
      .finally(() => {
        this.inFlight.delete(g.id);
        this.ctx.m.inFlight.set(this.inFlight.size);
        this.wake();
      });
  }

  private async execute(
    g: S.GroupRow,
    attemptId: number,
    attempt: number,
    lease: Lease,
    abort: AbortController,
  ): Promise<void> {
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
      return this.finish(
        g,
        attemptId,
        attempt,
        lease,
        spawnFailure(`cannot prepare attempt: ${(e as Error).message}`),
        out,
        undefined,
      );
    }
    this.hooks.afterDispatchCommit?.(g.group_id);
    const argv = expandArgv(cfg.converter.argv, { manifest, out, result, scratch: dir, group: g.group_id });
    const lastArrival = db
      .read((c) => S.validMembers(c, g.id))
      .reduce((t, f) => Math.max(t, f.mtime_ms, f.first_seen_at), 0);
    const renew = this.heartbeat(lease, g.group_id, abort);
    // A converter whose pid is not in the attempt row could not be found (and stopped) by recovery after a
    // crash: stop it and count the attempt as a spawn failure. (A throw here would escape the 'spawn' event.)
    let unrecorded: string | null = null;
    try {
      const res = await runChild({
        argv,
        cwd: dir,
        env: { ...(this.hooks.baseEnv ?? processEnv), ...cfg.converter.env },
        timeoutMs: cfg.converter.timeoutS * 1000,
        killGraceMs: cfg.killGraceS * 1000,
        signal: abort.signal,
        now: () => clock.now(),
        onSpawn: (pid) => {
          const now = clock.now();
          try {
            db.write((c) =>
              S.recordSpawn(c, attemptId, { pid, pgid: pid, pid_start_ticks: pidStartTicks(pid) }, now),
            );
          } catch (e) {
            unrecorded = `cannot record the converter's pid: ${(e as Error).message}`;
            this.ctx.log.error(
              { err: e, groupId: g.group_id, pid },
              'cannot record converter pid; stopping it',
            );
            abort.abort();
            return;
          }
          this.ctx.m.dispatchLatency.observe(Math.max(0, now - lastArrival) / 1000);
          this.ctx.log.info({ groupId: g.group_id, attempt, pid, argv: maskArgv(argv) }, 'converter started');
        },
      });
      const parsed = usesPlaceholder(cfg.converter.argv, 'result') ? readResult(result) : undefined;
      if (unrecorded !== null)
        return await this.settle(
          g,
          attemptId,
          attempt,
          renew.lease,
          spawnFailure(unrecorded),
          out,
          undefined,
        );
      await this.settle(g, attemptId, attempt, renew.lease, res, out, parsed);
    } finally {
      renew.stop();
    }
  }

  /**
   * Heartbeat the job's lease every leaseS/3 while the converter runs (a dead daemon's lease expires). A lost
   * lease means another holder may take over: stop our converter so two never run for one group.
   */
  private heartbeat(
    first: Lease,
    groupId: string,
    abort: AbortController,
  ): { lease: () => Lease; stop: () => void } {
    const { cfg } = this.ctx;
    let lease = first;
    const timer = setInterval(
      () => {
        try {
          lease = this.ctx.queue.heartbeat(lease, cfg.leaseS * 1000);
        } catch (e) {
          if (e instanceof LeaseLostError) {
            this.ctx.log.error(
              { groupId, jobId: lease.jobId },
              'conversion job lease lost; stopping converter',
            );
            abort.abort();
          } else this.ctx.log.warn({ err: e, groupId }, 'conversion job heartbeat failed');
        }
      },
      (cfg.leaseS * 1000) / 3,
    );
    return { lease: () => lease, stop: () => clearInterval(timer) };
  }

  /**
   * Record the outcome, retrying a failed write a few times while the lease is still heartbeated: a finished
   * conversion left with an open attempt would be taken for a crash by recovery and run a second time.
   */
  private async settle(
    g: S.GroupRow,
    attemptId: number,
    attempt: number,
    lease: () => Lease,
    res: ChildResult,
    out: string,
    result: ResultFile,
  ): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        return this.finish(g, attemptId, attempt, lease(), res, out, result);
      } catch (e) {
        if (i >= SETTLE_TRIES) throw e;
        this.ctx.m.loopErrors.inc({ loop: 'dispatch' });
        this.ctx.log.warn({ err: e, groupId: g.group_id, try: i }, 'cannot record the outcome; retrying');
        await pause(i * 1000);
      }
    }
  }

  private finish(
    g: S.GroupRow,
    attemptId: number,
    attempt: number,
    lease: Lease,
    res: ChildResult,
    out: string,
    result: ResultFile,
  ): void {
    recordOutcome(this.ctx, { group: g, attemptId, attempt, lease, res, out, result });
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
