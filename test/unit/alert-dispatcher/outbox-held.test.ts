// At most one notification per receiver and group in flight, on a real state database: a newer one waits
// held (no job) behind the one being sent; releaseHeld gives the newest held one its job when the one in flight
// settles; releaseOrphanedHeld frees groups whose one in flight is gone; yieldToNewer lets a newer held one
// take over from one that failed and waits to retry.
import { describe, expect, it } from 'vitest';
import { retryNotification } from '../../../daemons/alert-dispatcher/admin.js';
import {
  releaseHeld,
  releaseOrphanedHeld,
  setNotificationState,
  yieldToNewer,
  type NotificationState,
} from '../../../daemons/alert-dispatcher/outbox.js';
import {
  ctxOf,
  enq,
  jobOf,
  jobsIn,
  putInFlight,
  row,
  T0,
  useOutbox,
  write,
  type Outbox,
} from './outbox-fixture.js';

const t = useOutbox();

const setState = (
  o: Outbox,
  id: number,
  state: NotificationState,
  extra: Record<string, unknown> = {},
): void => write(o, (c) => setNotificationState(c, id, state, o.clock.now(), extra));
/** `contimg outbox retry` of a dead notification while another of its group is in flight: held again. */
const retryHeld = (id: number): void => {
  setState(t, id, 'dead', { dead_at: t.clock.now() });
  expect(write(t, (c) => retryNotification(c, id, ctxOf(t))).state).toBe('held');
};
const release = (receiver = 'ops', groupKey = 'g1'): number | null =>
  write(t, (c) => releaseHeld(c, receiver, groupKey, ctxOf(t)));
const yieldOf = (id: number): boolean => write(t, (c) => yieldToNewer(c, row(t, id), ctxOf(t)));

describe('held behind the one in flight', () => {
  it('a newer notification of a group being sent waits held, with no job; the one in flight goes on', () => {
    const sending = enq(t, { firing: ['a'] });
    putInFlight(t, sending.id);
    const next = enq(t, { firing: ['a'], resolved: ['r'] });
    expect(next).toMatchObject({ created: true, state: 'held' });
    expect(row(t, next.id)).toMatchObject({ state: 'held', jobId: null, nextAttemptAt: null, updatedAt: T0 });
    expect(row(t, sending.id)).toMatchObject({ state: 'sending', supersededBy: null });
    expect(jobOf(t, sending.id).state).toBe('running');
    expect(jobsIn(t)).toHaveLength(1);
    expect(t.superseded).toEqual([]);
  });

  it('a newer one supersedes the held one and carries its resolved alerts; still held', () => {
    const sending = enq(t, { firing: ['a'] });
    putInFlight(t, sending.id);
    const held = enq(t, { firing: ['a'], resolved: ['r'] });
    const newest = enq(t, { firing: ['a', 'b'] });
    expect(newest.state).toBe('held');
    expect(row(t, held.id)).toMatchObject({ state: 'superseded', supersededBy: newest.id });
    expect(row(t, newest.id).content.resolved).toEqual([['r', 1]]);
    expect(row(t, sending.id).state).toBe('sending');
    expect(t.superseded).toEqual([{ receiver: 'ops', kind: 'firing' }]);
  });
});

describe('releaseHeld', () => {
  it('with nothing held returns null and changes nothing', () => {
    const sent = enq(t, { firing: ['a'] });
    setState(t, sent.id, 'sent', { sent_at: T0 });
    expect(release()).toBeNull();
    expect(row(t, sent.id).state).toBe('sent');
    expect(jobsIn(t)).toHaveLength(1);
  });

  it('gives the held one its job, due now', () => {
    const sending = enq(t, { firing: ['a'] });
    putInFlight(t, sending.id);
    const held = enq(t, { firing: ['a', 'b'] });
    const other = enq(t, { groupKey: 'g2', firing: ['x'] });
    t.clock.advance(3000);
    setState(t, sending.id, 'sent', { sent_at: t.clock.now() });
    expect(release()).toBe(held.id);
    expect(row(t, held.id)).toMatchObject({
      state: 'pending',
      nextAttemptAt: T0 + 3000,
      updatedAt: T0 + 3000,
    });
    expect(jobOf(t, held.id)).toMatchObject({
      queue: 'alerts:ops',
      kind: 'deliver',
      payload: { notificationId: held.id },
      runAt: T0 + 3000,
      state: 'queued',
    });
    expect(row(t, other.id)).toMatchObject({ state: 'pending', updatedAt: T0 });
  });

  it('several held: the newest is released, the others superseded by it with their resolved alerts', () => {
    const ids = ['r1', 'r2', 'r3'].map((r) => {
      const n = enq(t, { resolved: [r] });
      setState(t, n.id, 'dead');
      return n.id;
    });
    const sending = enq(t, { firing: ['a'] });
    putInFlight(t, sending.id);
    const elsewhere = enq(t, { groupKey: 'g2', firing: ['x'] });
    putInFlight(t, elsewhere.id);
    const heldElsewhere = enq(t, { groupKey: 'g2', firing: ['y'] });
    for (const id of ids) retryHeld(id);
    setState(t, sending.id, 'sent');
    expect(release()).toBe(ids[2]);
    expect(row(t, ids[2])).toMatchObject({ state: 'pending', supersededBy: null });
    expect(jobOf(t, ids[2]).state).toBe('queued');
    for (const id of ids.slice(0, 2))
      expect(row(t, id)).toMatchObject({ state: 'superseded', supersededBy: ids[2] });
    expect(
      row(t, ids[2])
        .content.resolved.map((p) => p[0])
        .sort(),
    ).toEqual(['r1', 'r2', 'r3']);
    expect(t.superseded).toEqual([
      { receiver: 'ops', kind: 'firing' },
      { receiver: 'ops', kind: 'firing' },
    ]);
    expect(row(t, heldElsewhere.id).state).toBe('held');
  });
});

describe('releaseOrphanedHeld', () => {
  it('releases held groups with nothing in flight, of this receiver and group only', () => {
    // g1: held behind one still sending: stays.
    const a = enq(t, { groupKey: 'g1', firing: ['a'] });
    putInFlight(t, a.id);
    const waiting = enq(t, { groupKey: 'g1', firing: ['a', 'b'] });
    // g2: its one in flight was recovered as pending (a crashed process): the held one is orphaned.
    const b = enq(t, { groupKey: 'g2', firing: ['c'] });
    putInFlight(t, b.id);
    const orphan = enq(t, { groupKey: 'g2', firing: ['c', 'd'] });
    setState(t, b.id, 'pending');
    // mail/g1: held, while ops/g1 (another receiver) is the one sending.
    const m = enq(t, { receiver: 'mail', groupKey: 'g1', firing: ['e'] });
    putInFlight(t, m.id);
    const mailHeld = enq(t, { receiver: 'mail', groupKey: 'g1', firing: ['e', 'f'] });
    setState(t, m.id, 'sent');
    t.clock.advance(2000);
    expect(write(t, (c) => releaseOrphanedHeld(c, ctxOf(t)))).toBe(2);
    expect(row(t, waiting.id)).toMatchObject({ state: 'held', jobId: null });
    for (const id of [orphan.id, mailHeld.id]) {
      expect(row(t, id)).toMatchObject({ state: 'pending', nextAttemptAt: T0 + 2000 });
      expect(jobOf(t, id).state).toBe('queued');
    }
    expect(jobOf(t, mailHeld.id).queue).toBe('alerts:mail');
  });

  it('with nothing held releases nothing', () => {
    const a = enq(t, { firing: ['a'] });
    expect(write(t, (c) => releaseOrphanedHeld(c, ctxOf(t)))).toBe(0);
    expect(row(t, a.id).state).toBe('pending');
  });
});

describe('yieldToNewer', () => {
  it('one that failed gives way to the newest held one: superseded by it, its job cancelled', () => {
    const failed = enq(t, { firing: ['a'], resolved: ['r'] });
    putInFlight(t, failed.id);
    const older = enq(t, { firing: ['a', 'b'] });
    setState(t, older.id, 'dead');
    const newest = enq(t, { firing: ['a', 'c'] });
    retryHeld(older.id);
    setState(t, failed.id, 'retry_wait', { next_attempt_at: T0 + 60_000 });
    expect(yieldOf(failed.id)).toBe(true);
    expect(row(t, failed.id)).toMatchObject({
      state: 'superseded',
      supersededBy: newest.id,
      nextAttemptAt: null,
    });
    expect(jobOf(t, failed.id).state).toBe('cancelled');
    expect(row(t, newest.id).content.resolved).toEqual([['r', 1]]);
    expect(row(t, older.id).state).toBe('held');
    expect(t.superseded).toEqual([{ receiver: 'ops', kind: 'firing' }]);
  });

  it('nothing newer held in its receiver and group: stays waiting to retry', () => {
    const earlier = enq(t, { firing: ['a'] });
    setState(t, earlier.id, 'dead');
    const failed = enq(t, { firing: ['b'] });
    putInFlight(t, failed.id);
    retryHeld(earlier.id);
    // Newer held ones of another group and of another receiver's same group.
    for (const other of [{ groupKey: 'g2' }, { receiver: 'mail' }]) {
      putInFlight(t, enq(t, { ...other, firing: ['x'] }).id);
      expect(enq(t, { ...other, firing: ['x', 'y'] }).state).toBe('held');
    }
    setState(t, failed.id, 'retry_wait', { next_attempt_at: T0 + 60_000 });
    expect(yieldOf(failed.id)).toBe(false);
    expect(row(t, failed.id)).toMatchObject({ state: 'retry_wait', nextAttemptAt: T0 + 60_000 });
    expect(jobOf(t, failed.id).state).toBe('running');
    expect(t.superseded).toEqual([]);
  });
});
