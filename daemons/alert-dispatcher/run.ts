// run(deps, signal) for the alert dispatcher: build the receivers' notifiers (a bad secret is exit 78), recover
// deliveries a killed process left in flight, serve intake and the API, and run the dispatch loop (under the
// `alert-dispatcher` lease: one process routes and enqueues) and one delivery worker per receiver (any number
// of processes deliver; outbox jobs are leased) until the signal aborts; then let sends in flight finish.
import os from 'node:os';
import type { DaemonRun } from '../../lib/daemon/types.js';
import { leaseOwner } from '../../lib/leases/index.js';
import { startLoop } from '../../lib/loop.js';
import { queueMetrics, SqliteQueueStore } from '../../lib/queue/index.js';
import { registerApi } from './api.js';
import type { Ctx } from './context.js';
import { ReceiverWorker, wakeOnCommitsElsewhere } from './delivery.js';
import { DispatchLoop, DISPATCH_LEASE } from './dispatch.js';
import { registerIntake } from './intake.js';
import { dispatcherMetrics } from './metrics.js';
import { JOB_KIND, queueOf } from './outbox.js';
import { retrySettings } from './policy.js';
import { buildNotifiers } from './receivers.js';
import { recoverCrashed } from './settle.js';

export const run: DaemonRun = async (deps, signal) => {
  const cfg = deps.config.alertDispatcher;
  const log = deps.log.child({ component: 'alert-dispatcher' });
  const { notifiers } = buildNotifiers(cfg.receivers, { clock: deps.clock, log: deps.log });
  const names = cfg.receivers.map((r) => r.name);
  const m = dispatcherMetrics(deps.registry, names);
  const qm = queueMetrics(deps.registry, names.map(queueOf), [JOB_KIND]);
  const ctx: Ctx = {
    cfg,
    db: deps.state,
    clock: deps.clock,
    log,
    m,
    queue: new SqliteQueueStore(deps.state, { clock: deps.clock, metrics: qm }),
    notifiers,
    retry: retrySettings(cfg.retry),
    host: os.hostname(),
    externalUrl: cfg.externalUrl ?? `http://127.0.0.1:${cfg.port}`,
    owner: leaseOwner('alert-dispatcher'),
  };
  const hardStop = deps.hardStop ?? new AbortController().signal;
  const workers = new Map(
    cfg.receivers.map((r) => [r.name, new ReceiverWorker(ctx, r, notifiers.get(r.name)!, hardStop)]),
  );
  const dispatch = new DispatchLoop(ctx, (name) => workers.get(name)?.wake());
  await recoverCrashed(ctx);
  const tickMs = cfg.tickMs;
  const { loop, done } = startLoop({
    name: 'dispatch',
    everyMs: tickMs,
    signal,
    clock: deps.clock,
    log,
    lease: { db: deps.state, name: DISPATCH_LEASE, owner: ctx.owner, ttlMs: Math.max(3 * tickMs, 15_000) },
    onError: () => m.loopErrors.inc({ loop: 'dispatch' }),
    tick: ({ token }) => dispatch.tick(token),
  });
  registerIntake(deps, ctx, () => loop.wake());
  registerApi(deps, ctx, workers);
  deps.addReadinessCheck('dispatch', () => {
    const failing = loop.errorStreak;
    return failing < 5
      ? { ok: true, detail: `${dispatch.groupCount} groups` }
      : { ok: false, detail: `${failing} ticks failed in a row` };
  });
  for (const w of workers.values()) w.start(signal);
  wakeOnCommitsElsewhere(deps.state, [...workers.values()], signal);
  deps.setStatus(`delivering to ${names.length} receiver(s): ${names.join(', ')}`);
  log.info({ receivers: names, routes: cfg.routes.length, owner: ctx.owner }, 'alert dispatcher started');
  try {
    await done;
  } finally {
    await Promise.all([...workers.values()].map((w) => w.stopped()));
    await Promise.all([...notifiers.values()].map((n) => n.close()));
  }
};
