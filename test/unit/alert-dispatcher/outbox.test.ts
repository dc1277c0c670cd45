// The outbox's rows and jobs on a real state database: what enqueueNotification writes (the row, its job in
// alerts:<receiver>, its Message-ID), enqueueing the same notification twice, failover copies, superseding
// the group's unsent notifications (their jobs cancelled, their resolved alerts carried over), and the row
// mapping. Held notifications and their release: outbox-held.test.ts.
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { dedupKey, type Kind } from '../../../lib/notifiers/content.js';
import {
  getNotification,
  messageIdFor,
  NOTIFICATION_STATES,
  setNotificationState,
} from '../../../daemons/alert-dispatcher/outbox.js';
import {
  ctxOf,
  enq,
  contentOf,
  jobOf,
  jobsIn,
  putInFlight,
  row,
  T0,
  useOutbox,
  write,
} from './outbox-fixture.js';

const t = useOutbox();

const keyOf = (p: { receiver: string; groupKey: string; kind: Kind; hash: string; epoch: number }): string =>
  dedupKey(p);

describe('messageIdFor', () => {
  it('is <key@contimg.host>, each character a domain may not hold replaced by a dash', () => {
    expect(messageIdFor('abc', 'node1.example.org')).toBe('<abc@contimg.node1.example.org>');
    expect(messageIdFor('abc', 'db_1 node/x-2')).toBe('<abc@contimg.db-1-node-x-2>');
    expect(messageIdFor('abc', 'a__b')).toBe('<abc@contimg.a--b>');
  });

  it('an empty host name becomes localhost; without one it is this machine', () => {
    expect(messageIdFor('k', '')).toBe('<k@contimg.localhost>');
    expect(messageIdFor('k')).toBe(messageIdFor('k', hostname()));
  });
});

describe('enqueueNotification', () => {
  it('writes a pending row with one delivery job in alerts:<receiver>, due now', () => {
    const r = enq(t, { receiver: 'ops', groupKey: 'g1', firing: ['a'], host: 'node_7' });
    const content = contentOf(t, { receiver: 'ops', groupKey: 'g1', firing: ['a'], host: 'node_7' });
    const hash = row(t, r.id).contentHash;
    const key = keyOf({ receiver: 'ops', groupKey: 'g1', kind: 'firing', hash, epoch: 0 });
    const messageId = `<${key.slice(0, 24)}@contimg.node-7>`;
    expect(r).toEqual({ id: r.id, created: true, state: 'pending', messageId });
    expect(row(t, r.id)).toEqual({
      id: r.id,
      dedupKey: key,
      receiver: 'ops',
      groupKey: 'g1',
      kind: 'firing',
      status: 'firing',
      severity: 'critical',
      content,
      contentHash: hash,
      state: 'pending',
      jobId: jobOf(t, r.id).id,
      attempts: 0,
      nextAttemptAt: T0,
      lastResult: null,
      lastError: null,
      plainText: false,
      failoverOf: null,
      failedOverAt: null,
      supersededBy: null,
      messageId,
      createdAt: T0,
      updatedAt: T0,
      sentAt: null,
      deadAt: null,
    });
    expect(jobsIn(t, 'ops')).toHaveLength(1);
    expect(jobOf(t, r.id)).toMatchObject({
      queue: 'alerts:ops',
      kind: 'deliver',
      payload: { notificationId: r.id },
      dedupeKey: `n${r.id}`,
      maxAttempts: 3,
      runAt: T0,
      state: 'queued',
    });
  });

  it('the same notification again is a no-op that reports the first one and its current state', () => {
    const first = enq(t, { firing: ['a'] });
    t.clock.advance(1000);
    expect(enq(t, { firing: ['a'] })).toEqual({ ...first, created: false });
    putInFlight(t, first.id);
    expect(enq(t, { firing: ['a'] })).toEqual({ ...first, state: 'sending', created: false });
    expect(jobsIn(t)).toHaveLength(1);
    expect(row(t, first.id).updatedAt).toBe(T0 + 1000);
  });

  it('a new repeat epoch, kind or content is a new notification', () => {
    const first = enq(t, { firing: ['a'] });
    const again = enq(t, { firing: ['a'], epoch: 1 });
    const repeat = enq(t, { firing: ['a'], epoch: 1, kind: 'repeat' });
    const other = enq(t, { firing: ['a'], epoch: 1, kind: 'repeat', hash: 'other' });
    expect(new Set([first.id, again.id, repeat.id, other.id]).size).toBe(4);
    expect([again, repeat, other].map((r) => r.created)).toEqual([true, true, true]);
    expect(row(t, other.id).dedupKey).toBe(
      keyOf({ receiver: 'ops', groupKey: 'g1', kind: 'repeat', hash: 'other', epoch: 1 }),
    );
  });

  it('a failover copy is one per notification, whatever its content or epoch, and names its original', () => {
    const orig = enq(t, { receiver: 'slack', firing: ['a'] });
    const copy = enq(t, {
      receiver: 'mail',
      kind: 'failover',
      firing: ['a'],
      failoverOf: orig.id,
      hash: 'h1',
    });
    const key = keyOf({
      receiver: 'mail',
      groupKey: 'g1',
      kind: 'failover',
      hash: `failover-of-${orig.id}`,
      epoch: 0,
    });
    expect(copy).toEqual({
      id: copy.id,
      created: true,
      state: 'pending',
      messageId: `<${key.slice(0, 24)}@contimg.node1>`,
    });
    expect(row(t, copy.id)).toMatchObject({ dedupKey: key, failoverOf: orig.id, contentHash: 'h1' });
    const again = enq(t, {
      receiver: 'mail',
      kind: 'failover',
      firing: ['a', 'b'],
      failoverOf: orig.id,
      hash: 'h2',
      epoch: 4,
    });
    expect(again).toEqual({ ...copy, created: false });
    expect(jobsIn(t, 'mail')).toHaveLength(1);
  });

  it('supersedes the pending one of its receiver and group: job cancelled, no next attempt, counted', () => {
    const old = enq(t, { firing: ['a'] });
    const otherGroup = enq(t, { groupKey: 'g2', firing: ['a'] });
    const otherReceiver = enq(t, { receiver: 'mail', firing: ['a'] });
    t.clock.advance(5000);
    const newer = enq(t, { firing: ['a', 'b'] });
    expect(newer).toMatchObject({ created: true, state: 'pending' });
    expect(row(t, old.id)).toMatchObject({
      state: 'superseded',
      supersededBy: newer.id,
      nextAttemptAt: null,
      updatedAt: T0 + 5000,
    });
    expect(jobOf(t, old.id).state).toBe('cancelled');
    expect(t.superseded).toEqual([{ receiver: 'ops', kind: 'firing' }]);
    for (const id of [otherGroup.id, otherReceiver.id]) {
      expect(row(t, id)).toMatchObject({ state: 'pending', supersededBy: null, nextAttemptAt: T0 });
      expect(jobOf(t, id).state).toBe('queued');
    }
    expect(row(t, newer.id)).toMatchObject({ state: 'pending', nextAttemptAt: T0 + 5000 });
    expect(jobOf(t, newer.id).runAt).toBe(T0 + 5000);
  });

  it('supersedes one waiting to retry, and one whose job already ended, telling no one when no one listens', () => {
    const waiting = enq(t, { kind: 'resolved', resolved: ['a'] });
    write(t, (c) => setNotificationState(c, waiting.id, 'retry_wait', T0, { next_attempt_at: T0 + 60_000 }));
    const second = enq(t, { firing: ['b'] });
    expect(row(t, waiting.id)).toMatchObject({
      state: 'superseded',
      supersededBy: second.id,
      nextAttemptAt: null,
    });
    expect(jobOf(t, waiting.id).state).toBe('cancelled');
    expect(t.superseded).toEqual([{ receiver: 'ops', kind: 'resolved' }]);
    t.queue.cancel(jobOf(t, second.id).id);
    const third = enq(t, { firing: ['c'] }, ctxOf(t, { onSuperseded: undefined }));
    expect(row(t, second.id)).toMatchObject({ state: 'superseded', supersededBy: third.id });
    expect(row(t, third.id).state).toBe('pending');
    expect(t.superseded).toHaveLength(1);
  });

  it("carries the superseded one's resolved alerts that the newer one does not mention", () => {
    const old = enq(t, { firing: ['a'], resolved: ['r1', 'r2'] });
    const newer = enq(t, { firing: ['a'], resolved: ['r2'] });
    const c = row(t, newer.id).content;
    expect(c.resolved).toEqual([
      ['r2', 1],
      ['r1', 1],
    ]);
    expect(c.alerts.map((a) => [a.fingerprint, a.status])).toEqual([
      ['a', 'firing'],
      ['r2', 'resolved'],
      ['r1', 'resolved'],
    ]);
    expect(c.resolvedCount).toBe(2);
    expect(row(t, old.id).state).toBe('superseded');
  });

  it('cuts the carried-over content at maxAlerts, counting the rest', () => {
    enq(t, { resolved: ['r1', 'r2'] });
    const newer = enq(t, { firing: ['a'] }, ctxOf(t, { maxAlerts: 2 }));
    const c = row(t, newer.id).content;
    expect(c.alerts.map((a) => a.fingerprint)).toEqual(['a', 'r1']);
    expect(c.truncated).toBe(1);
  });

  it("keeps the newer content as written when the superseded one's alerts are all mentioned", () => {
    enq(t, { firing: ['a'], resolved: ['r1'] });
    const newer = enq(t, { resolved: ['a', 'r1'] });
    expect(row(t, newer.id).content).toEqual(contentOf(t, { resolved: ['a', 'r1'] }));
  });
});

describe('rows', () => {
  it('reads every column back, set by setNotificationState with the time of the change', () => {
    const orig = enq(t, { receiver: 'slack', firing: ['a'] });
    const copy = enq(t, { receiver: 'mail', kind: 'failover', firing: ['a'], failoverOf: orig.id });
    const other = enq(t, { groupKey: 'g9', firing: ['x'] });
    write(t, (c) =>
      setNotificationState(c, copy.id, 'dead', T0 + 9, {
        attempts: 2,
        next_attempt_at: T0 + 5,
        last_result: 'http_5xx',
        last_error: 'boom',
        plain_text: 1,
        failed_over_at: T0 + 6,
        superseded_by: orig.id,
        sent_at: T0 + 7,
        dead_at: T0 + 8,
      }),
    );
    const before = row(t, copy.id);
    expect(before).toMatchObject({
      receiver: 'mail',
      kind: 'failover',
      state: 'dead',
      attempts: 2,
      nextAttemptAt: T0 + 5,
      lastResult: 'http_5xx',
      lastError: 'boom',
      plainText: true,
      failoverOf: orig.id,
      failedOverAt: T0 + 6,
      supersededBy: orig.id,
      sentAt: T0 + 7,
      deadAt: T0 + 8,
      createdAt: T0,
      updatedAt: T0 + 9,
    });
    expect(row(t, other.id)).toMatchObject({ state: 'pending', updatedAt: T0, attempts: 0 });
    expect(t.db.read((c) => getNotification(c, 999_999))).toBeUndefined();
  });

  it('NOTIFICATION_STATES are exactly the states the notifications table accepts', () => {
    const sql = t.db.read(
      (c) => c.prepare("SELECT sql FROM sqlite_master WHERE name = 'notifications'").get() as { sql: string },
    ).sql;
    const list = /state\s+TEXT\s+NOT NULL\s+CHECK \(state IN \(([^)]*)\)\)/.exec(sql)![1];
    expect([...NOTIFICATION_STATES]).toEqual(list.split(',').map((s) => s.trim().replace(/'/g, '')));
  });
});
