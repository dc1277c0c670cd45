// Planning a tick's notifications, pure: every due group's flush decision, then per receiver either one
// message per group or, when more groups are due than storm.maxGroupsPerFlush, one digest standing for them
// all. The result is enqueued (with the groups' new logs) in one transaction by the dispatch loop.
import { buildContent, contentHash, type NotificationContent } from '../../lib/notifiers/content.js';
import { buildDigest, DIGEST_GROUP_KEY } from './digest.js';
import { decideFlush, type FlushContext, type FlushDecision, type Group, type NotifLog } from './flush.js';

type Enqueue = FlushDecision & { enqueue: true };

/** A due group and what its flush decided. */
export interface Entry {
  g: Group;
  d: FlushDecision;
}

/** One notification to enqueue and the groups it stands for (one, or all of a digest). */
export interface Planned {
  receiver: string;
  groupKey: string;
  content: NotificationContent;
  hash: string;
  epoch: number;
  entries: Entry[];
  digest: boolean;
}

export interface Plan {
  entries: Entry[];
  planned: Planned[];
}

export interface PlanInput {
  groups: Iterable<Group>;
  logOf(g: Group): NotifLog;
  flush(g: Group): FlushContext;
  now: number;
  maxGroupsPerFlush: number;
  maxAlerts: number;
  externalUrl: string;
  host: string;
}

export function planFlushes(i: PlanInput): Plan {
  const entries: Entry[] = [];
  const byReceiver = new Map<string, Entry[]>();
  for (const g of i.groups) {
    if (g.nextFlushAt > i.now) continue;
    const e = { g, d: decideFlush(g, i.logOf(g), i.flush(g)) };
    entries.push(e);
    if (e.d.enqueue) byReceiver.set(g.receiver, [...(byReceiver.get(g.receiver) ?? []), e]);
  }
  const planned: Planned[] = [];
  const base = { externalUrl: i.externalUrl, host: i.host, now: i.now };
  for (const [receiver, list] of byReceiver) {
    if (list.length > i.maxGroupsPerFlush) {
      const parts = list.map(({ g, d }) => ({
        groupKey: g.key,
        firing: (d as Enqueue).firing,
        resolved: (d as Enqueue).resolved,
      }));
      const content = buildDigest({ receiver, parts, ...base });
      const hash = contentHash(content.firing, content.resolved);
      planned.push({
        receiver,
        groupKey: DIGEST_GROUP_KEY,
        content,
        hash,
        epoch: 0,
        entries: list,
        digest: true,
      });
      continue;
    }
    for (const e of list) {
      const d = e.d as Enqueue;
      const content = buildContent({
        kind: d.kind,
        receiver,
        groupKey: e.g.key,
        groupLabels: e.g.labels,
        firing: d.firing,
        resolved: d.resolved,
        maxAlerts: i.maxAlerts,
        threadMessageId: d.startsThread ? null : i.logOf(e.g).threadMessageId,
        ...base,
      });
      const hash = contentHash(content.firing, content.resolved);
      planned.push({
        receiver,
        groupKey: e.g.key,
        content,
        hash,
        epoch: d.epoch,
        entries: [e],
        digest: false,
      });
    }
  }
  return { entries, planned };
}
