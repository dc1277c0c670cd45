// The streaming converter's body: recovery, then the main loop (lib/loop) of (quick pass every scanIntervalS |
// targeted looks at hinted and settling files) → timed rules → dispatch, sleeping until the next thing is due
// or a hint, a finished conversion or shutdown wakes it. Beside it, the reconcile loop (lib/loop) lists the
// directory at start, every reconcileIntervalS and when a quick pass asks (scans.ts). fs.watch only hints.
import fs from 'node:fs';
import { pause } from '../../lib/clock.js';
import type { DaemonDeps, DaemonRun } from '../../lib/daemon/types.js';
import { DbCorruptError, DbIoError, ValidationError } from '../../lib/errors.js';
import { Loop, startLoop, type LoopTick } from '../../lib/loop.js';
import { pagingFrom } from '../../lib/paging.js';
import { queueMetrics } from '../../lib/queue/index.js';
import { headerReader } from '../../lib/uvh5/reader.js';
import { abandonGroup, listGroupSummaries, requeueGroup, showGroup } from './admin.js';
import { Archiver, type ArchiveHooks } from './archive.js';
import { validateArgvTemplate } from './argv.js';
import type { Ctx } from './context.js';
import { Dispatcher, type DispatchHooks } from './dispatch.js';
import { Housekeeping } from './housekeeping.js';
import { Intake } from './intake.js';
import { conversionStore, KIND, QUEUE } from './jobs.js';
import { converterMetrics } from './metrics.js';
import { recover } from './recovery.js';
import { GROUP_STATES } from './rules.js';
import { Scans } from './scans.js';

export type RunOptions = DispatchHooks & ArchiveHooks;

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

interface Parts {
  ctx: Ctx;
  intake: Intake;
  scans: Scans;
  housekeeping: Housekeeping;
  dispatcher: Dispatcher;
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
  const mine = p.dispatcher.worker.jobIds();
  try {
    await recover(p.ctx, p.dispatcher, signal, { startup: false, mine });
  } catch (e) {
    if (isFatal(e)) throw e;
    p.ctx.m.loopErrors.inc({ loop: 'recovery' });
    p.ctx.log.error({ err: e }, 'recovery of an expired conversion lease failed; will retry');
  }
}

/**
/**
 * Load the UVH5 header reader the first time a file is settling (or a settled file needs it). A failed load
 * (a broken install) is logged and counted as a loop error; the files stay due and the next pass tries again
 * after a second.
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

/**
 * The main loop's tick: scan or look, timed rules, dispatch; returns when the next thing is due (a hint, a
 * finished conversion or shutdown wakes the loop earlier). Each step logs and counts its own errors; only a
 * fatal one (the database is unusable) leaves the tick, and ends the loop.
 */
function mainTick(p: Parts, deps: DaemonDeps): LoopTick {
  const { ctx, intake } = p;
  let nextScanAt = 0;
  return async ({ signal }) => {
    // Load the reader as soon as any file is settling, so it is there before the first file is settled (one
    // pass then validates every settled file, as it would with the reader loaded at start).
    if (!headerReader.get() && (intake.wantsReader || intake.settleDue.size > 0))
      await loadHeaderReader(ctx, signal);
    const now = ctx.clock.now();
    runStep(ctx, 'scan', () => {
      if (now >= nextScanAt) {
        nextScanAt = now + ctx.cfg.scanIntervalS * 1000;
        p.scans.quick();
      } else p.scans.look();
    });
    runStep(ctx, 'housekeeping', () => p.housekeeping.tick());
    if (p.dispatcher.wantRecovery) await reclaim(p, signal);
    runStep(ctx, 'dispatch', () => p.dispatcher.dispatch());
    deps.setStatus(`in flight ${p.dispatcher.inFlight}; settling ${intake.settleDue.size}`);
    return Math.min(nextScanAt, intake.nextDueAt() ?? Infinity, ctx.clock.now() + 1000);
  };
}

/** The reconcile loop and, when the archive policy is on, the archive loop (lib/loop); their done promises. */
function startBackgroundLoops(
  ctx: Ctx,
  scans: Scans,
  archiver: Archiver,
  signal: AbortSignal,
): Promise<void>[] {
  const start = (name: 'reconcile' | 'archive', tick: LoopTick, everyMs: number) =>
    startLoop({
      name,
      tick,
      everyMs,
      signal,
      clock: ctx.clock,
      log: ctx.log,
      onError: () => ctx.m.loopErrors.inc({ loop: name }),
      isFatal,
    });
  const reconcile = start(
    'reconcile',
    ({ signal: s }) => scans.reconciler.tick(s),
    ctx.cfg.reconcileIntervalS * 1000,
  );
  scans.onListingWanted = () => reconcile.loop.wake();
  const done = [reconcile.done];
  // An index lookup per tick: looking for due groups as often as the quick pass costs nothing.
  if (ctx.cfg.archive) done.push(start('archive', () => archiver.tick(), ctx.cfg.scanIntervalS * 1000).done);
  return done;
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
    // A fatal error in any loop stops them all.
    const stop = new AbortController();
    const stopAll = AbortSignal.any([signal, stop.signal]);
    let parts: Parts | null = null;
    let tick: LoopTick | null = null;
    const main = new Loop({
      name: 'main',
      everyMs: 1000,
      signal: stopAll,
      clock: ctx.clock,
      log,
      onError: () => ctx.m.loopErrors.inc({ loop: 'main' }),
      isFatal,
      // Made once the parts exist (they need the loop's wake); it keeps the next quick pass's time.
      tick: (t) => (tick ??= mainTick(parts!, deps))(t),
    });
    const dispatcher = new Dispatcher(ctx, opts, () => main.wake());
    let scanned = false;
    deps.addReadinessCheck('first_scan', () =>
      scanned ? { ok: true } : { ok: false, detail: 'first listing of incomingDir not finished' },
    );
    registerRoutes(deps, ctx);
    const archiver = new Archiver(ctx, opts);
    archiver.prepare();
    await recover(ctx, dispatcher, signal);
    // Before any scan: a move a crash left half-done would otherwise look like a vanished input.
    archiver.repair();
    const intake = new Intake(ctx);
    const scans = new Scans(ctx, intake, {
      wake: () => main.wake(),
      onListed: () => {
        if (!scanned) log.info('first listing of incomingDir done; ready');
        scanned = true;
      },
    });
    parts = { ctx, intake, scans, housekeeping: new Housekeeping(ctx), dispatcher };
    const background = startBackgroundLoops(ctx, scans, archiver, stopAll);
    scans.start();
    let fatal: unknown = null;
    const loops = [main.run(), ...background].map((done) =>
      done.catch((e: unknown) => {
        fatal ??= e;
        stop.abort();
      }),
    );
    try {
      await Promise.all(loops);
      if (fatal) log.fatal({ err: fatal }, 'database unusable; stopping');
    } finally {
      scans.close();
      await dispatcher.drain(fatal ? AbortSignal.abort() : deps.hardStop);
    }
    if (fatal) throw fatal;
  };
}

/** What `contimg run streaming-converter` and main.ts start. */
export const run: DaemonRun = makeRun();
