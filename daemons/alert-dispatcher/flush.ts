// The flush decision for one group, pure (Alertmanager's dedup stage against its notification log). Given
// the group's alerts, what the log says was already announced, the mutes and acks, and the time:
//   - new firing episodes (not muted) → a `firing` notification listing every firing, unmuted alert;
//   - announced episodes that resolved → listed as resolved (even when muted meanwhile); when nothing fires
//     any more the notification is `resolved`;
//   - nothing new, still firing, unacknowledged, repeat interval passed → `repeat`;
//   - fired and resolved before anything was announced (flapping inside group wait) → nothing.
// The returned log is what to store with the notification (marked at enqueue: the outbox then owns delivery).
import type { Severity } from '../../lib/alerts/index.js';
import {
  highestSeverity,
  pairOf,
  toContentAlert,
  type AlertView,
  type ContentAlert,
  type Kind,
  type Labels,
  type Pair,
} from '../../lib/notifiers/content.js';
import type { Timers } from './routing.js';

/** The notification log of one receiver's group (table alert_groups). */
export interface NotifLog {
  /** Episodes announced firing and not yet announced resolved. */
  notified: Pair[];
  lastNotifiedAt: number | null;
  lastNotificationId: number | null;
  repeatEpoch: number;
  threadMessageId: string | null;
}

export const emptyLog = (): NotifLog => ({
  notified: [],
  lastNotifiedAt: null,
  lastNotificationId: null,
  repeatEpoch: 0,
  threadMessageId: null,
});

/** An aggregation group: one receiver, one route, one set of group label values. */
export interface Group {
  receiver: string;
  key: string;
  labels: Labels;
  timers: Timers;
  /** An escalation group: first and repeated announcements are `escalation`. */
  escalation: boolean;
  alerts: Map<string, AlertView>;
  createdAt: number;
  /** When the group is next looked at: group wait after creation, then every group interval. */
  nextFlushAt: number;
}

export interface FlushContext {
  now: number;
  isMuted(a: AlertView): boolean;
  isAcked(a: AlertView): boolean;
  /** The receiver wants resolved messages. */
  sendResolved: boolean;
}

export type FlushDecision =
  | { enqueue: false; log: NotifLog; remove: string[] }
  | {
      enqueue: true;
      kind: Kind;
      firing: ContentAlert[];
      resolved: ContentAlert[];
      epoch: number;
      /** The log after this notification (lastNotificationId and thread are the caller's to fill). */
      log: NotifLog;
      /** First message of the group's episode (starts an e-mail thread); last (ends it). */
      startsThread: boolean;
      endsThread: boolean;
      /** Resolved alerts now done with: remove them from the group. */
      remove: string[];
    };

function byStart(a: AlertView, b: AlertView): number {
  // Stryker disable next-line EqualityOperator: equivalent: `<=` differs only for equal fingerprints, and a group's
  // alerts are a Map keyed by fingerprint.
  return a.startsAt - b.startsAt || (a.fingerprint < b.fingerprint ? -1 : 1);
}

/** The repeat interval of a group: that of its most severe unacknowledged firing alert. */
export function repeatIntervalMs(timers: Timers, firingUnacked: readonly { severity: Severity }[]): number {
  if (firingUnacked.length === 0) return 0;
  return timers.repeatMs[highestSeverity(firingUnacked)];
}

export function decideFlush(group: Group, log: NotifLog, ctx: FlushContext): FlushDecision {
  const alerts = [...group.alerts.values()].sort(byStart);
  const firing = alerts.filter((a) => a.status === 'firing' && !ctx.isMuted(a));
  const announced = new Map(log.notified.map(([fp, ep]) => [fp, ep]));
  const newFiring = firing.filter((a) => announced.get(a.fingerprint) !== a.episode);
  const resolvedNow: AlertView[] = [];
  const keep: Pair[] = [];
  for (const [fp, ep] of log.notified) {
    const a = group.alerts.get(fp);
    // Gone from the group, or fired again as a new episode (announced below as new): drop silently.
    if (!a || a.episode !== ep) continue;
    if (a.status === 'resolved') {
      if (ctx.sendResolved) resolvedNow.push(a);
    } else keep.push([fp, ep]);
  }
  const remove = alerts.filter((a) => a.status === 'resolved').map((a) => a.fingerprint);
  const nextNotified: Pair[] = [...keep, ...newFiring.map(pairOf)];
  const content = (a: AlertView): ContentAlert => toContentAlert(a, ctx.isAcked(a));
  const wasEmpty = log.notified.length === 0;
  if (newFiring.length > 0 || resolvedNow.length > 0) {
    const kind: Kind = firing.length === 0 ? 'resolved' : group.escalation ? 'escalation' : 'firing';
    return {
      enqueue: true,
      kind,
      firing: firing.map(content),
      resolved: resolvedNow.map(content),
      epoch: 0,
      log: { ...log, notified: nextNotified, lastNotifiedAt: ctx.now, repeatEpoch: 0 },
      startsThread: wasEmpty,
      endsThread: nextNotified.length === 0,
      remove,
    };
  }
  const unacked = firing.filter((a) => !ctx.isAcked(a));
  const repeatMs = repeatIntervalMs(group.timers, unacked);
  const due = repeatMs > 0 && log.lastNotifiedAt !== null && log.lastNotifiedAt + repeatMs <= ctx.now;
  if (
    due &&
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: `due` needs a repeat interval,
    // which needs an unacknowledged firing alert, so firing is never empty here.
    firing.length > 0
  ) {
    const epoch = log.repeatEpoch + 1;
    return {
      enqueue: true,
      kind: group.escalation ? 'escalation' : 'repeat',
      firing: firing.map(content),
      resolved: [],
      epoch,
      log: { ...log, notified: nextNotified, lastNotifiedAt: ctx.now, repeatEpoch: epoch },
      startsThread: false,
      endsThread: false,
      remove,
    };
  }
  return { enqueue: false, log: { ...log, notified: nextNotified }, remove };
}

/** A group with nothing left to announce or watch can be dropped from memory. */
export function groupIsIdle(group: Group, log: NotifLog): boolean {
  return group.alerts.size === 0 && log.notified.length === 0;
}
