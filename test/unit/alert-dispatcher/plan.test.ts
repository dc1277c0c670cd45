// Planning one tick: only due groups are decided; per receiver one message per group, or one digest for all
// of them when more are due than storm.maxGroupsPerFlush; a group's thread is continued unless it starts anew.
import { describe, expect, it } from 'vitest';
import { emptyLog, type Group, type NotifLog } from '../../../daemons/alert-dispatcher/flush.js';
import { planFlushes, type PlanInput } from '../../../daemons/alert-dispatcher/plan.js';
import { DIGEST_GROUP_KEY } from '../../../daemons/alert-dispatcher/digest.js';
import { contentHash, type AlertView } from '../../../lib/notifiers/content.js';
import { alertView } from './fixtures.js';

const timers = {
  groupWaitMs: 30_000,
  groupIntervalMs: 300_000,
  repeatMs: { critical: 3_600_000, warning: 14_400_000, info: 0 },
};

function group(receiver: string, key: string, nextFlushAt: number, ...alerts: AlertView[]): Group {
  return {
    receiver,
    key,
    labels: { alertname: 'Disk', key },
    timers,
    escalation: false,
    alerts: new Map(alerts.map((a) => [a.fingerprint, a])),
    createdAt: 0,
    nextFlushAt,
  };
}

const NOW = 1_000_000;

function plan(groups: Group[], logs: Map<Group, NotifLog> = new Map(), maxGroupsPerFlush = 3) {
  const input: PlanInput = {
    groups,
    logOf: (g) => logs.get(g) ?? emptyLog(),
    flush: () => ({ now: NOW, isMuted: () => false, isAcked: () => false, sendResolved: true }),
    now: NOW,
    maxGroupsPerFlush,
    maxAlerts: 10,
    externalUrl: 'http://dispatcher.test',
    host: 'host.test',
  };
  return planFlushes(input);
}

describe('planFlushes', () => {
  it('decides only the groups that are due (nextFlushAt at or before now)', () => {
    const due = group('slack', 'due', NOW, alertView('a'));
    const later = group('slack', 'later', NOW + 1, alertView('b'));
    const p = plan([due, later]);
    expect(p.entries.map((e) => e.g.key)).toEqual(['due']);
    expect(p.planned.map((n) => n.groupKey)).toEqual(['due']);
  });

  it('one message per group up to maxGroupsPerFlush, with the group, its content, hash and epoch', () => {
    const a = group('slack', 'ga', 0, alertView('a'));
    const b = group('slack', 'gb', 0, alertView('b', { severity: 'critical' }));
    const p = plan([a, b], new Map(), 2);
    expect(p.planned).toHaveLength(2);
    const [first, second] = p.planned;
    expect(first).toMatchObject({ receiver: 'slack', groupKey: 'ga', epoch: 0, digest: false });
    expect(first.entries.map((e) => e.g)).toEqual([a]);
    expect(first.content).toMatchObject({
      kind: 'firing',
      receiver: 'slack',
      groupKey: 'ga',
      groupLabels: { alertname: 'Disk', key: 'ga' },
      firing: [['a', 1]],
      externalUrl: 'http://dispatcher.test',
      host: 'host.test',
      createdAt: NOW,
      threadMessageId: null,
    });
    expect(first.hash).toBe(contentHash([['a', 1]], []));
    expect(second).toMatchObject({ groupKey: 'gb', content: { severity: 'critical' } });
  });

  it('more groups due than maxGroupsPerFlush: one digest per receiver standing for all of them', () => {
    const slack = ['g1', 'g2', 'g3'].map((k, i) => group('slack', k, 0, alertView(`s${i}`)));
    const mail = group('mail', 'm1', 0, alertView('m'));
    const p = plan([...slack, mail], new Map(), 2);
    const digest = p.planned.find((n) => n.receiver === 'slack')!;
    expect(digest).toMatchObject({ groupKey: DIGEST_GROUP_KEY, digest: true, epoch: 0 });
    expect(digest.entries.map((e) => e.g)).toEqual(slack);
    expect(digest.content).toMatchObject({ kind: 'digest', digest: { groups: 3 }, createdAt: NOW });
    expect(digest.hash).toBe(
      contentHash(
        [
          ['s0', 1],
          ['s1', 1],
          ['s2', 1],
        ],
        [],
      ),
    );
    // The other receiver is under its limit: its group goes out as itself.
    expect(p.planned.filter((n) => n.receiver === 'mail')).toMatchObject([{ groupKey: 'm1', digest: false }]);
    expect(p.planned).toHaveLength(2);
  });

  it('exactly maxGroupsPerFlush groups are still sent one by one', () => {
    const groups = ['g1', 'g2'].map((k, i) => group('slack', k, 0, alertView(`s${i}`)));
    expect(plan(groups, new Map(), 2).planned.map((n) => n.digest)).toEqual([false, false]);
  });

  it('a group with nothing to send is decided (its log kept) but not planned', () => {
    const quiet = group('slack', 'quiet', 0, alertView('a'));
    const logs = new Map([
      [quiet, { ...emptyLog(), notified: [['a', 1]] as [string, number][], lastNotifiedAt: NOW }],
    ]);
    const p = plan([quiet], logs);
    expect(p.entries).toMatchObject([{ g: quiet, d: { enqueue: false } }]);
    expect(p.planned).toEqual([]);
  });

  it("continues the group's thread, except for a message that starts a new one; a repeat keeps its epoch", () => {
    const ongoing = group('mail', 'ongoing', 0, alertView('a', { severity: 'critical' }));
    const fresh = group('mail', 'fresh', 0, alertView('b'));
    const logs = new Map<Group, NotifLog>([
      [
        ongoing,
        {
          ...emptyLog(),
          notified: [['a', 1]],
          lastNotifiedAt: NOW - timers.repeatMs.critical,
          repeatEpoch: 2,
          threadMessageId: '<thread@test>',
        },
      ],
      [fresh, { ...emptyLog(), threadMessageId: '<old@test>' }],
    ]);
    const p = plan([ongoing, fresh], logs);
    expect(p.planned.map((n) => [n.groupKey, n.content.kind, n.epoch, n.content.threadMessageId])).toEqual([
      ['ongoing', 'repeat', 3, '<thread@test>'],
      ['fresh', 'firing', 0, null],
    ]);
  });
});
