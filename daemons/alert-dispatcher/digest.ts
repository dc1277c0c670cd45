// Storm control, pure: when more groups of one receiver are due in the same tick than maxGroupsPerFlush, one
// digest goes out instead of one message per group: counts per alertname and severity (top lines, "+N more").
// Every group it stands for is logged as announced, so later changes of those groups send normal messages.
import type { Severity } from '../../lib/alerts/index.js';
import {
  SEVERITY_RANK,
  type ContentAlert,
  type DigestLine,
  type NotificationContent,
  type Pair,
} from '../../lib/notifiers/content.js';

export const DIGEST_GROUP_KEY = 'digest';
/** Lines of per-alertname counts a digest shows; the rest are counted in "+N more". */
export const DIGEST_LINES = 20;

export interface DigestPart {
  groupKey: string;
  firing: readonly ContentAlert[];
  resolved: readonly ContentAlert[];
}

export function digestLines(parts: readonly DigestPart[]): DigestLine[] {
  const byName = new Map<string, DigestLine>();
  const add = (a: ContentAlert, field: 'firing' | 'resolved'): void => {
    const key = `${a.alertname}\0${a.severity}`;
    let line = byName.get(key);
    if (!line)
      byName.set(key, (line = { alertname: a.alertname, severity: a.severity, firing: 0, resolved: 0 }));
    line[field]++;
  };
  for (const p of parts) {
    for (const a of p.firing) add(a, 'firing');
    for (const a of p.resolved) add(a, 'resolved');
  }
  return [...byName.values()].sort(
    (a, b) =>
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
      b.firing + b.resolved - (a.firing + a.resolved) ||
      // Stryker disable next-line EqualityOperator: equivalent: `<=` differs only for equal names, and two lines of
      // one severity never share a name (a line is one alertname and severity).
      (a.alertname < b.alertname ? -1 : 1),
  );
}

export function buildDigest(p: {
  receiver: string;
  parts: readonly DigestPart[];
  externalUrl: string;
  host: string;
  now: number;
}): NotificationContent {
  const lines = digestLines(p.parts);
  const firing: Pair[] = [];
  const resolved: Pair[] = [];
  let severity: Severity = 'info';
  for (const part of p.parts) {
    for (const a of part.firing) {
      firing.push([a.fingerprint, a.episode]);
      // Stryker disable next-line EqualityOperator: equivalent (`>=`): an alert of the same rank has the same
      // severity; (`<=`, the least severe: killed).
      if (SEVERITY_RANK[a.severity] > SEVERITY_RANK[severity]) severity = a.severity;
    }
    for (const a of part.resolved) resolved.push([a.fingerprint, a.episode]);
  }
  return {
    kind: 'digest',
    receiver: p.receiver,
    groupKey: DIGEST_GROUP_KEY,
    status: firing.length > 0 ? 'firing' : 'resolved',
    severity,
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    alerts: [],
    firingCount: firing.length,
    resolvedCount: resolved.length,
    truncated: 0,
    firing,
    resolved,
    digest: {
      groups: p.parts.length,
      lines: lines.slice(0, DIGEST_LINES),
      more: Math.max(0, lines.length - DIGEST_LINES),
    },
    externalUrl: p.externalUrl,
    host: p.host,
    createdAt: p.now,
  };
}
