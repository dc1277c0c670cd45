// The outbox on a real state database (migrated to head, in a temp folder) with the real queue store and a
// manual clock: helpers to write notifications as the dispatcher does, read their rows and jobs back, and put
// one in flight as a delivery worker would (claim its job, mark it sending).
import { afterEach, beforeEach } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import type { Connection, Db } from '../../../lib/db/index.js';
import {
  buildContent,
  contentHash,
  toContentAlert,
  type Kind,
  type NotificationContent,
} from '../../../lib/notifiers/content.js';
import { SqliteQueueStore, type Job } from '../../../lib/queue/index.js';
import {
  enqueueNotification,
  getNotification,
  queueOf,
  setNotificationState,
  type NotificationRow,
  type OutboxCtx,
} from '../../../daemons/alert-dispatcher/outbox.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { alertView } from './fixtures.js';

export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

export interface Outbox {
  db: Db;
  clock: ManualClock;
  queue: SqliteQueueStore;
  /** What onSuperseded was told, in order. */
  superseded: { receiver: string; kind: Kind }[];
}

/** A fresh outbox per test (set up in beforeEach, closed and removed in afterEach). */
export function useOutbox(): Outbox {
  const t = {} as Outbox & { dir: string };
  beforeEach(async () => {
    const { dir, db } = await setUpStateDb();
    t.dir = dir;
    t.db = db;
    t.clock = new ManualClock(T0);
    t.queue = new SqliteQueueStore(db, { clock: t.clock });
    t.superseded = [];
  });
  afterEach(() => tearDownStateDb({ dir: t.dir, db: t.db }));
  return t;
}

export function ctxOf(t: Outbox, over: Partial<OutboxCtx> = {}): OutboxCtx {
  return {
    queue: t.queue,
    maxAttempts: 3,
    maxAlerts: 10,
    now: t.clock.now(),
    onSuperseded: (n) => t.superseded.push(n),
    ...over,
  };
}

export interface Spec {
  receiver?: string;
  groupKey?: string;
  kind?: Kind;
  /** Fingerprints of firing and resolved alerts. */
  firing?: string[];
  resolved?: string[];
  host?: string;
  epoch?: number;
  hash?: string;
  failoverOf?: number;
}

export function contentOf(t: Outbox, s: Spec): NotificationContent {
  return buildContent({
    kind: s.kind ?? 'firing',
    receiver: s.receiver ?? 'ops',
    groupKey: s.groupKey ?? 'g1',
    groupLabels: { alertname: 'Disk' },
    firing: (s.firing ?? []).map((fp) => toContentAlert(alertView(fp, { severity: 'critical' }), false)),
    resolved: (s.resolved ?? []).map((fp) =>
      toContentAlert(alertView(fp, { status: 'resolved', endsAt: T0 }), false),
    ),
    maxAlerts: 10,
    externalUrl: 'http://dispatcher.test',
    host: s.host ?? 'node1',
    now: t.clock.now(),
  });
}

/** enqueueNotification in its own write, as the dispatch loop calls it. */
export function enq(t: Outbox, s: Spec, ctx: OutboxCtx = ctxOf(t)): ReturnType<typeof enqueueNotification> {
  const content = contentOf(t, s);
  return t.db.write((conn) =>
    enqueueNotification(
      conn,
      {
        receiver: s.receiver ?? 'ops',
        groupKey: s.groupKey ?? 'g1',
        kind: s.kind ?? 'firing',
        content,
        hash: s.hash ?? contentHash(content.firing, content.resolved),
        epoch: s.epoch ?? 0,
        ...(s.failoverOf !== undefined && { failoverOf: s.failoverOf }),
      },
      ctx,
    ),
  );
}

export function row(t: Outbox, id: number): NotificationRow {
  const n = t.db.read((c) => getNotification(c, id));
  if (!n) throw new Error(`no notification ${id}`);
  return n;
}

export function jobOf(t: Outbox, id: number): Job {
  const { jobId } = row(t, id);
  if (jobId === null) throw new Error(`notification ${id} has no job`);
  return t.queue.get(jobId)!;
}

export function jobsIn(t: Outbox, receiver = 'ops'): Job[] {
  return t.queue.list({ queue: queueOf(receiver) });
}

/** As a delivery worker: claim the notification's job and mark it sending. */
export function putInFlight(t: Outbox, id: number): void {
  const n = row(t, id);
  const claimed = t.queue.claim({ queue: queueOf(n.receiver), owner: 'worker', leaseMs: 60_000, limit: 50 });
  const mine = claimed.find((j) => j.id === n.jobId);
  if (!mine) throw new Error(`the job of notification ${id} was not claimable`);
  for (const other of claimed) if (other !== mine) t.queue.release(other.lease);
  t.db.write((c) => setNotificationState(c, id, 'sending', t.clock.now(), { attempts: mine.attempts }));
}

/** Any write on the outbox's connection. */
export function write<T>(t: Outbox, fn: (c: Connection) => T): T {
  return t.db.write(fn);
}
