// The streaming converter's body: recovery, then a loop of (full scan every scanIntervalS | targeted looks
// at hinted and settling files) → timed rules → dispatch, sleeping until the next thing is due or a hint,
// a finished conversion or shutdown wakes it. chokidar only hints; the scan is the truth.
import fs from 'node:fs';
import { watch, type FSWatcher } from 'chokidar';
import { pause } from '../../lib/clock.js';
import type { DaemonDeps, DaemonRun } from '../../lib/daemon/types.js';
import { DbCorruptError, DbIoError, ValidationError } from '../../lib/errors.js';
import { pagingFrom } from '../../lib/paging.js';
import { queueMetrics } from '../../lib/queue/index.js';
import { headerReader } from '../../lib/uvh5/reader.js';
import { abandonGroup, listGroupSummaries, requeueGroup, showGroup } from './admin.js';
import { validateArgvTemplate } from './argv.js';
import type { Ctx } from './context.js';
import { Dispatcher, type DispatchHooks } from './dispatch.js';
import { Housekeeping } from './housekeeping.js';
import { Intake } from './intake.js';
import { conversionStore, KIND, QUEUE } from './jobs.js';
import { converterMetrics } from './metrics.js';
import { recover } from './recovery.js';
import { GROUP_STATES } from './rules.js';

export type RunOptions = DispatchHooks;

/** Resolves a pending wait early; waits end at a deadline, on wake(), or on abort. */
class Waker {
  private pending: (() => void) | null = null;
  private woken = false;
  wake(): void {
    this.woken = true;
    this.pending?.();
  }
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.woken || signal.aborted) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.pending = null;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
      this.pending = done;
    });
  }
}

function isFatal(e: unknown): boolean {
  return e instanceof DbIoError || e instanceof DbCorruptError;
}

function registerRoutes(deps: DaemonDeps, ctx: Ctx): void {
  deps.http.route('GET', '/api/groups', (req) => {
    const { limit, offset } = pagingFrom(req.url.searchParams, { defaultLimit: 1000 });
    const state = req.url.searchParams.get('state') ?? undefined;
    if (state !== undefined && !(GROUP_STATES as readonly string[]).includes(state))
      throw new ValidationError(`state: expected one of ${GROUP_STATES.join(', ')}`, { parameter: 'state' });
    return listGroupSummaries(ctx.db, state, limit, offset);
  });
  deps.http.route('GET', '/api/groups/:id', (req) => showGroup(ctx.db, req.params.id));
  deps.http.route('POST', '/api/groups/:id/requeue', (req) =>
    requeueGroup(ctx.db, req.params.id, ctx.clock.now(), {
      partial: (req.body as { partial?: boolean } | null)?.partial === true,
      maxAttempts: ctx.cfg.maxAttempts,
    }),
  );
  deps.http.route('POST', '/api/groups/:id/abandon', (req) =>
    abandonGroup(ctx.db, req.params.id, ctx.clock.now()),
  );
}

function startWatcher(ctx: Ctx, hints: Set<string>, waker: Waker): FSWatcher | null {
  if (!ctx.cfg.watch || !fs.existsSync(ctx.cfg.incomingDir)) return null;
  let timer: NodeJS.Timeout | undefined;
  const w = watch(ctx.cfg.incomingDir, { depth: 0, ignoreInitial: true, awaitWriteFinish: false });
  const hint = (type: string) => (p: string) => {
    ctx.m.watchEvents.inc({ type });
    hints.add(p);
    timer ??= setTimeout(() => {
      timer = undefined;
      waker.wake();
    }, ctx.cfg.watchDebounceMs);
  };
  w.on('add', hint('add')).on('change', hint('change')).on('unlink', hint('unlink'));
  w.on('error', (e) => {
    ctx.m.watchEvents.inc({ type: 'error' });
    ctx.log.warn({ err: e }, 'watcher error; scans continue');
  });
  return w;
}

interface Parts {
  ctx: Ctx;
  intake: Intake;
  housekeeping: Housekeeping;
  dispatcher: Dispatcher;
  waker: Waker;
  hints: Set<string>;
  onFirstScan: () => void;
}

function runStep(ctx: Ctx, loop: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (isFatal(e)) throw e;
    ctx.m.loopErrors.inc({ loop });
    ctx.log.error({ err: e, loop }, 'loop step failed; continuing');
  }
}

/** An expired conversions lease with an open attempt: adopt or stop its converter, then settle the attempt. */
async function reclaim(p: Parts, signal: AbortSignal): Promise<void> {
  p.dispatcher.wantRecovery = false;
  const mine = new Set([...p.dispatcher.inFlight.values()].map((f) => f.jobId));
  try {
    await recover(p.ctx, p.dispatcher, signal, { startup: false, mine });
  } catch (e) {
    if (isFatal(e)) throw e;
    p.ctx.m.loopErrors.inc({ loop: 'recovery' });
    p.ctx.log.error({ err: e }, 'recovery of an expired conversion lease failed; will retry');
  }
}

/**
 * Load the UVH5 header reader the first time a settled file needs it. A failed load (a broken install) is
 * logged and counted as a loop error; the files stay due and the next pass tries again after a second.
 */
async function loadHeaderReader(ctx: Ctx, signal: AbortSignal): Promise<void> {
  try {
    await headerReader.load();
  } catch (e) {
    ctx.m.loopErrors.inc({ loop: 'scan' });
    ctx.log.error({ err: e }, 'cannot load the UVH5 header reader (h5wasm); will retry');
    await pause(1000, signal);
  }
}

/** The main loop: scan or look, timed rules, dispatch, then sleep until something is due or wakes us. */
async function loop(p: Parts, deps: DaemonDeps, signal: AbortSignal): Promise<void> {
  const { ctx, intake } = p;
  let nextScanAt = 0;
  while (!signal.aborted) {
    if (intake.wantsReader) await loadHeaderReader(ctx, signal);
    const now = ctx.clock.now();
    runStep(ctx, 'scan', () => {
      if (now >= nextScanAt) {
        nextScanAt = now + ctx.cfg.scanIntervalS * 1000;
        p.hints.clear();
        const s = intake.fullScan();
        p.onFirstScan();
        ctx.log.debug(s, 'scan done');
      } else {
        const paths = [...p.hints];
        p.hints.clear();
        if (paths.length) intake.look(paths);
        intake.lookDue();
      }
    });
    runStep(ctx, 'housekeeping', () => p.housekeeping.tick());
    if (p.dispatcher.wantRecovery) await reclaim(p, signal);
    runStep(ctx, 'dispatch', () => p.dispatcher.dispatch());
    deps.setStatus(`in flight ${p.dispatcher.inFlight.size}; settling ${intake.settleDue.size}`);
    const due = Math.min(nextScanAt, intake.nextDueAt() ?? Infinity, ctx.clock.now() + 1000);
    await p.waker.wait(due - ctx.clock.now(), signal);
  }
}

export function makeRun(opts: RunOptions = {}): DaemonRun {
  return async (deps, signal) => {
    const cfg = deps.config.streamingConverter;
    validateArgvTemplate(cfg.converter.argv);
    const log = deps.log.child({ component: 'converter' });
    const queue = conversionStore(deps.state, cfg, {
      clock: deps.clock,
      metrics: queueMetrics(deps.registry, [QUEUE], [KIND]),
    });
    const ctx: Ctx = {
      cfg,
      db: deps.state,
      clock: deps.clock,
      log,
      m: converterMetrics(deps.registry),
      queue,
    };
    for (const d of [cfg.outputDir, cfg.scratchDir]) fs.mkdirSync(d, { recursive: true });
    const waker = new Waker();
    const dispatcher = new Dispatcher(ctx, opts, () => waker.wake());
    let scanned = false;
    deps.addReadinessCheck('first_scan', () =>
      scanned ? { ok: true } : { ok: false, detail: 'first scan not finished' },
    );
    registerRoutes(deps, ctx);
    await recover(ctx, dispatcher, signal);
    const hints = new Set<string>();
    const watcher = startWatcher(ctx, hints, waker);
    const onFirstScan = (): void => {
      if (!scanned) log.info('first scan done; ready');
      scanned = true;
    };
    const parts = {
      ctx,
      intake: new Intake(ctx),
      housekeeping: new Housekeeping(ctx),
      dispatcher,
      waker,
      hints,
      onFirstScan,
    };
    let fatal: unknown = null;
    try {
      await loop(parts, deps, signal);
    } catch (e) {
      fatal = e;
      log.fatal({ err: e }, 'database unusable; stopping');
    } finally {
      await watcher?.close();
      await dispatcher.drain(fatal ? AbortSignal.abort() : deps.hardStop);
    }
    if (fatal) throw fatal;
  };
}

/** What `contimg run streaming-converter` and main.ts start. */
export const run: DaemonRun = makeRun();
