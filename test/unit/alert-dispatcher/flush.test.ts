// The flush decision against the notification log: new firing episodes, resolutions (even when muted since),
// repeats after the interval unless acknowledged, flapping inside group wait, re-fired episodes.
import { describe, expect, it } from 'vitest';
import {
  decideFlush,
  emptyLog,
  groupIsIdle,
  repeatIntervalMs,
  type Group,
  type NotifLog,
} from '../../../daemons/alert-dispatcher/flush.js';
import type { AlertView } from '../../../lib/notifiers/content.js';
import { alertView } from './fixtures.js';

const timers = {
  groupWaitMs: 30_000,
  groupIntervalMs: 300_000,
  repeatMs: { critical: 3_600_000, warning: 14_400_000, info: 0 },
};

const view = alertView;

function group(...alerts: AlertView[]): Group {
  return {
    receiver: 'r',
    key: 'k',
    labels: { alertname: 'Disk' },
    timers,
    escalation: false,
    alerts: new Map(alerts.map((a) => [a.fingerprint, a])),
    createdAt: 0,
    nextFlushAt: 0,
  };
}

const ctx = (now: number, muted: string[] = [], acked: string[] = [], sendResolved = true) => ({
  now,
  isMuted: (a: AlertView) => muted.includes(a.fingerprint),
  isAcked: (a: AlertView) => acked.includes(a.fingerprint),
  sendResolved,
});

function logOf(pairs: [string, number][], at = 0): NotifLog {
  return { ...emptyLog(), notified: pairs, lastNotifiedAt: at };
}

describe('decideFlush', () => {
  it('announces new firing alerts, listing every firing one', () => {
    const d = decideFlush(group(view('a'), view('b')), logOf([['a', 1]], 1000), ctx(2000));
    expect(d.enqueue).toBe(true);
    if (!d.enqueue) return;
    expect(d.kind).toBe('firing');
    expect(d.firing.map((a) => a.fingerprint)).toEqual(['a', 'b']);
    expect(d.log.notified).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(d.log.lastNotifiedAt).toBe(2000);
    expect(d.startsThread).toBe(false);
  });

  it('nothing new and within the repeat interval: nothing', () => {
    const d = decideFlush(group(view('a')), logOf([['a', 1]], 1000), ctx(1000 + 14_399_999));
    expect(d.enqueue).toBe(false);
  });

  it('repeats after the interval, with a new epoch; an acknowledged alert does not make a group repeat', () => {
    const d = decideFlush(group(view('a')), logOf([['a', 1]], 1000), ctx(1000 + 14_400_000));
    expect(d.enqueue && d.kind).toBe('repeat');
    expect(d.enqueue && d.epoch).toBe(1);
    expect(
      decideFlush(group(view('a')), logOf([['a', 1]], 1000), ctx(1000 + 14_400_000, [], ['a'])).enqueue,
    ).toBe(false);
  });

  it('the repeat interval is that of the most severe unacknowledged alert; info never repeats', () => {
    const g = group(view('a', { severity: 'critical' }), view('b'));
    const log = logOf(
      [
        ['a', 1],
        ['b', 1],
      ],
      0,
    );
    expect(decideFlush(g, log, ctx(3_600_000)).enqueue).toBe(true);
    expect(decideFlush(g, log, ctx(3_600_000, [], ['a'])).enqueue).toBe(false);
    expect(decideFlush(group(view('i', { severity: 'info' })), logOf([['i', 1]]), ctx(1e12)).enqueue).toBe(
      false,
    );
  });

  it('announces a resolution of something announced, even when it was muted since', () => {
    const d = decideFlush(group(view('a', { status: 'resolved' })), logOf([['a', 1]]), ctx(5000, ['a']));
    expect(d.enqueue && d.kind).toBe('resolved');
    expect(d.enqueue && d.resolved.map((a) => a.fingerprint)).toEqual(['a']);
    expect(d.log.notified).toEqual([]);
    expect(d.enqueue && d.endsThread).toBe(true);
    expect(d.remove).toEqual(['a']);
  });

  it('fired and resolved before anything was announced (flapping in group wait): nothing, and removed', () => {
    const g = group(view('a', { status: 'resolved' }));
    const d = decideFlush(g, emptyLog(), ctx(30_000));
    expect(d.enqueue).toBe(false);
    expect(d.remove).toEqual(['a']);
  });

  it('a muted alert is not announced; once the mute ends it is', () => {
    const g = group(view('a'));
    expect(decideFlush(g, emptyLog(), ctx(1, ['a'])).enqueue).toBe(false);
    expect(decideFlush(g, emptyLog(), ctx(2)).enqueue).toBe(true);
  });

  it('partial resolution: still firing, with the resolved one listed', () => {
    const d = decideFlush(
      group(view('a'), view('b', { status: 'resolved' })),
      logOf([
        ['a', 1],
        ['b', 1],
      ]),
      ctx(10),
    );
    expect(d.enqueue && d.kind).toBe('firing');
    expect(d.enqueue && d.resolved.map((a) => a.fingerprint)).toEqual(['b']);
    expect(d.log.notified).toEqual([['a', 1]]);
    // The thread goes on while an announced alert still fires.
    expect(d.enqueue && [d.startsThread, d.endsThread]).toEqual([false, false]);
  });

  it('sendResolved false: the resolution is forgotten silently', () => {
    const d = decideFlush(
      group(view('a', { status: 'resolved' })),
      logOf([['a', 1]]),
      ctx(10, [], [], false),
    );
    expect(d.enqueue).toBe(false);
    expect(d.log.notified).toEqual([]);
  });

  it('a new episode of an announced alert is announced again', () => {
    const d = decideFlush(group(view('a', { episode: 2 })), logOf([['a', 1]]), ctx(10));
    expect(d.enqueue && d.kind).toBe('firing');
    expect(d.log.notified).toEqual([['a', 2]]);
  });

  it('escalation groups announce as escalation', () => {
    const g = { ...group(view('a', { severity: 'critical' })), escalation: true };
    expect(decideFlush(g, emptyLog(), ctx(1)).enqueue && decideFlush(g, emptyLog(), ctx(1))).toMatchObject({
      kind: 'escalation',
    });
  });

  it('idle once empty and nothing announced', () => {
    expect(groupIsIdle(group(), emptyLog())).toBe(true);
    expect(groupIsIdle(group(), logOf([['a', 1]]))).toBe(false);
  });

  it('idle needs both: a group holding an alert is not idle though nothing was announced yet', () => {
    expect(groupIsIdle(group(view('a')), emptyLog())).toBe(false);
  });

  it('lists firing alerts by start time, then by fingerprint, whatever order they arrived in', () => {
    const g = group(
      view('a', { startsAt: 3000 }),
      view('y', { startsAt: 2000 }),
      view('x', { startsAt: 2000 }),
      view('b', { startsAt: 1000 }),
      view('w', { startsAt: 2000 }),
    );
    const d = decideFlush(g, emptyLog(), ctx(5000));
    expect(d.enqueue && d.firing.map((a) => a.fingerprint)).toEqual(['b', 'w', 'x', 'y', 'a']);
    expect(d.log.notified.map(([fp]) => fp)).toEqual(['b', 'w', 'x', 'y', 'a']);
  });

  it('removes only the resolved alerts from the group; firing ones stay, announced or not', () => {
    const g = group(
      view('a'),
      view('b', { status: 'resolved' }),
      view('c'),
      view('d', { status: 'resolved' }),
    );
    const announced = logOf([
      ['a', 1],
      ['b', 1],
    ]);
    expect(decideFlush(g, announced, ctx(10)).remove).toEqual(['b', 'd']);
    // Nothing to announce (all announced and within the repeat interval): still only the resolved go.
    const quiet = group(view('a'), view('b', { status: 'resolved' }));
    const d = decideFlush(quiet, logOf([['a', 1]], 5), ctx(10));
    expect(d.enqueue).toBe(false);
    expect(d.remove).toEqual(['b']);
  });

  it('the first announcement starts a thread and does not end it', () => {
    const first = decideFlush(group(view('a')), emptyLog(), ctx(10));
    expect(first.enqueue && [first.startsThread, first.endsThread]).toEqual([true, false]);
  });

  it('a repeat neither starts nor ends the thread and keeps what was announced', () => {
    const d = decideFlush(group(view('a')), logOf([['a', 1]], 1000), ctx(1000 + 14_400_000));
    expect(d.enqueue && d.kind).toBe('repeat');
    expect(d.enqueue && [d.startsThread, d.endsThread]).toEqual([false, false]);
    expect(d.log).toMatchObject({ notified: [['a', 1]], lastNotifiedAt: 1000 + 14_400_000, repeatEpoch: 1 });
  });

  it('no unacknowledged firing alert: no repeat interval, even where info alerts would repeat', () => {
    const everyMinute = { ...timers, repeatMs: { critical: 60_000, warning: 60_000, info: 60_000 } };
    expect(repeatIntervalMs(everyMinute, [])).toBe(0);
    expect(repeatIntervalMs(everyMinute, [{ severity: 'info' }])).toBe(60_000);
    expect(repeatIntervalMs(timers, [{ severity: 'info' }, { severity: 'critical' }])).toBe(3_600_000);
  });
});
