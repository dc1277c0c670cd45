// What every part of the dispatcher shares: config, databases, clock, logger, metrics, the queue store, the
// channel notifiers and this process's identity.
import type { Clock } from '../../lib/clock.js';
import type { AlertDispatcherConfig } from '../../lib/config/sections/alert-dispatcher.js';
import type { Db } from '../../lib/db/index.js';
import type { Logger } from '../../lib/log.js';
import type { Notifier } from '../../lib/notifiers/index.js';
import type { SqliteQueueStore } from '../../lib/queue/index.js';
import type { DispatcherMetrics } from './metrics.js';
import type { OutboxCtx } from './outbox.js';
import type { RetrySettings } from './policy.js';

export interface Ctx {
  cfg: AlertDispatcherConfig;
  db: Db;
  clock: Clock;
  log: Logger;
  m: DispatcherMetrics;
  queue: SqliteQueueStore;
  notifiers: ReadonlyMap<string, Notifier>;
  retry: RetrySettings;
  /** This host's name: the `host` line of messages. */
  host: string;
  externalUrl: string;
  /** Lease owner id of this process (lib/leases format: host:pid:component:hex). */
  owner: string;
}

export function outboxCtx(ctx: Ctx, now = ctx.clock.now()): OutboxCtx {
  return {
    queue: ctx.queue,
    maxAttempts: ctx.cfg.retry.maxAttempts,
    maxAlerts: ctx.cfg.maxAlertsPerMessage,
    now,
    onSuperseded: (n) =>
      ctx.m.notifications.inc({ receiver: n.receiver, kind: n.kind, outcome: 'superseded' }),
  };
}
