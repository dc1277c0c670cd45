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
import { readResult, recordOutcome, spawnFailure, type ResultFile } from './outcome.js';
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
      if (
        !S.casGroup(conn, g.id, 'ready', 'converting', now, {
          attempts: budget,
          dispatched_at: now,
          next_attempt_at: null,
        })
      )
        return null;
      const attemptId = S.insertAttempt(
        conn,
        {
          group_ref: g.id,
          attempt,
          owner: this.owner,
          lease_expires_at: now + cfg.leaseS * 1000,
          manifest_path: manifest,
          output_path: out,
        },
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

  private start(g: S.GroupRow, attemptId: number, attempt: number): void {
    const abort = new AbortController();
    const entry: InFlight = { groupRef: g.id, groupId: g.group_id, abort, done: Promise.resolve() };
    this.inFlight.set(g.id, entry);
    this.ctx.m.inFlight.set(this.inFlight.size);
    entry.done = this.execute(g, attemptId, attempt, abort.signal)
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
    signal: AbortSignal,
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
    const renew = this.leaseRenewal(attemptId, g.group_id);
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
          db.write((c) =>
            S.recordSpawn(c, attemptId, { pid, pgid: pid, pid_start_ticks: pidStartTicks(pid) }, now),
          );
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

  /** Renew the attempt's lease every leaseS/3 while the converter runs (a dead daemon's lease expires). */
  private leaseRenewal(attemptId: number, groupId: string): NodeJS.Timeout {
    const { cfg, clock, db } = this.ctx;
    return setInterval(
      () => {
        try {
          db.write((c) => S.renewAttemptLease(c, attemptId, this.owner, clock.now() + cfg.leaseS * 1000));
        } catch (e) {
          this.ctx.log.warn({ err: e, groupId }, 'attempt lease renewal failed');
        }
      },
      (cfg.leaseS * 1000) / 3,
    );
  }

  private finish(
    g: S.GroupRow,
    attemptId: number,
    attempt: number,
    res: ChildResult,
    out: string,
    result: ResultFile,
  ): void {
    recordOutcome(this.ctx, this.policy, { group: g, attemptId, attempt, res, out, result });
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
