// What a notification says, independent of the channel: kind, status, the group's labels and its alerts
// (firing first, then resolved, cut at maxAlertsPerMessage with a count of the rest). Stored as JSON in the
// outbox row and rendered by each channel at send time; it never holds a secret. Pure.
import { createHash } from 'node:crypto';
import type { Severity } from '../alerts/index.js';

export const KINDS = ['firing', 'resolved', 'repeat', 'escalation', 'failover', 'digest', 'test'] as const;
export type Kind = (typeof KINDS)[number];
export type Labels = Record<string, string>;
/** One firing episode of one alert: [fingerprint, episode]. */
export type Pair = readonly [string, number];

/** What the dispatcher knows about one alert (the routing label set includes alertname, severity, source). */
export interface AlertView {
  fingerprint: string;
  alertname: string;
  severity: Severity;
  status: 'firing' | 'resolved';
  episode: number;
  labels: Labels;
  annotations: Record<string, string>;
  source: string;
  startsAt: number;
  endsAt: number | null;
  /** When this dispatcher's database first saw the current episode (group wait counts from here). */
  seenAt: number;
  generatorUrl: string | null;
  /** Alertmanager already grouped and waited: skip our group wait. */
  preGrouped: boolean;
}

export interface ContentAlert {
  fingerprint: string;
  episode: number;
  status: 'firing' | 'resolved';
  alertname: string;
  severity: Severity;
  labels: Labels;
  annotations: Record<string, string>;
  source: string;
  startsAt: number;
  endsAt: number | null;
  generatorUrl: string | null;
  acked: boolean;
}

export interface DigestLine {
  alertname: string;
  severity: Severity;
  firing: number;
  resolved: number;
}

export interface NotificationContent {
  kind: Kind;
  receiver: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  severity: Severity;
  groupLabels: Labels;
  commonLabels: Labels;
  commonAnnotations: Record<string, string>;
  /** Firing first, then resolved; at most maxAlertsPerMessage. */
  alerts: ContentAlert[];
  firingCount: number;
  resolvedCount: number;
  /** Alerts left out of `alerts` ("+N more"). */
  truncated: number;
  /** Every episode announced firing / resolved (not truncated): identity of the content. */
  firing: Pair[];
  resolved: Pair[];
  /** Storm digest: counts per alertname and severity over every group it stands for. */
  digest?: { groups: number; lines: DigestLine[]; more: number };
  /** An extra line: the failing primary for a failover, the test request for a test. */
  note?: string;
  /** E-mail threading: the Message-ID of the first message of this group's episode. */
  threadMessageId?: string | null;
  externalUrl: string;
  host: string;
  createdAt: number;
}

export const SEVERITY_RANK: Record<Severity, number> = { critical: 3, warning: 2, info: 1 };

export function highestSeverity(
  alerts: readonly { severity: Severity }[],
  fallback: Severity = 'info',
): Severity {
  let best: Severity = fallback;
  let rank = 0;
  for (const a of alerts)
    if (SEVERITY_RANK[a.severity] > rank) {
      best = a.severity;
      rank = SEVERITY_RANK[a.severity];
    }
  return best;
}

export function pairOf(a: { fingerprint: string; episode: number }): Pair {
  return [a.fingerprint, a.episode];
}

function sortedPairs(pairs: readonly Pair[]): Pair[] {
  return [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
}

/** Identity of what is announced: the firing and resolved episodes (not the wording). */
export function contentHash(firing: readonly Pair[], resolved: readonly Pair[], extra = ''): string {
  return createHash('sha256')
    .update(JSON.stringify([sortedPairs(firing), sortedPairs(resolved), extra]))
    .digest('hex')
    .slice(0, 32);
}

/** The dedup key of the outbox: receiver, group, kind, content and repeat epoch. */
export function dedupKey(p: {
  receiver: string;
  groupKey: string;
  kind: Kind;
  hash: string;
  epoch: number;
}): string {
  return createHash('sha256')
    .update(JSON.stringify([p.receiver, p.groupKey, p.kind, p.hash, p.epoch]))
    .digest('hex')
    .slice(0, 40);
}

/** Labels (or annotations) every alert shares with the same value. */
export function common(maps: readonly Record<string, string>[]): Record<string, string> {
  if (maps.length === 0) return {};
  const out: Record<string, string> = { ...maps[0] };
  for (const m of maps.slice(1)) for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  return out;
}

export function toContentAlert(a: AlertView, acked: boolean): ContentAlert {
  return {
    fingerprint: a.fingerprint,
    episode: a.episode,
    status: a.status,
    alertname: a.alertname,
    severity: a.severity,
    labels: a.labels,
    annotations: a.annotations,
    source: a.source,
    startsAt: a.startsAt,
    endsAt: a.endsAt,
    generatorUrl: a.generatorUrl,
    acked,
  };
}

export interface BuildInput {
  kind: Kind;
  receiver: string;
  groupKey: string;
  groupLabels: Labels;
  firing: readonly ContentAlert[];
  resolved: readonly ContentAlert[];
  maxAlerts: number;
  externalUrl: string;
  host: string;
  now: number;
  note?: string;
  threadMessageId?: string | null;
}

export function buildContent(i: BuildInput): NotificationContent {
  const all = [...i.firing, ...i.resolved];
  const shown = all.slice(0, i.maxAlerts);
  const status = i.firing.length > 0 ? 'firing' : 'resolved';
  return {
    kind: i.kind,
    receiver: i.receiver,
    groupKey: i.groupKey,
    status,
    severity: highestSeverity(i.firing.length > 0 ? i.firing : i.resolved),
    groupLabels: i.groupLabels,
    commonLabels: common(all.map((a) => a.labels)),
    commonAnnotations: common(all.map((a) => a.annotations)),
    alerts: shown,
    firingCount: i.firing.length,
    resolvedCount: i.resolved.length,
    truncated: all.length - shown.length,
    firing: i.firing.map(pairOf),
    resolved: i.resolved.map(pairOf),
    ...(i.note !== undefined && { note: i.note }),
    ...(i.threadMessageId !== undefined && { threadMessageId: i.threadMessageId }),
    externalUrl: i.externalUrl,
    host: i.host,
    createdAt: i.now,
  };
}

/**
 * A newer notification replaces an unsent older one of the same group: the older's resolved alerts that the
 * newer does not mention are carried over, so no resolution is lost.
 */
export function carryResolved(
  newer: NotificationContent,
  older: NotificationContent,
  maxAlerts: number,
): NotificationContent {
  const mentioned = new Set([...newer.firing, ...newer.resolved].map((p) => p[0]));
  const carried = older.alerts.filter((a) => a.status === 'resolved' && !mentioned.has(a.fingerprint));
  const carriedPairs = older.resolved.filter((p) => !mentioned.has(p[0]));
  if (carriedPairs.length === 0) return newer;
  const firing = newer.alerts.filter((a) => a.status === 'firing');
  const resolved = [...newer.alerts.filter((a) => a.status === 'resolved'), ...carried];
  const all = [...firing, ...resolved];
  const shown = all.slice(0, maxAlerts);
  const total = newer.firingCount + newer.resolvedCount + carriedPairs.length;
  return {
    ...newer,
    alerts: shown,
    resolvedCount: newer.resolvedCount + carriedPairs.length,
    resolved: [...newer.resolved, ...carriedPairs],
    truncated: total - shown.length,
  };
}

/** The title every channel starts with: `[FIRING:3] CalibratorFluxDrift` / `[RESOLVED] …`. */
export function title(c: NotificationContent): string {
  if (c.kind === 'test') return `[TEST] contimg alert dispatcher test notification (${c.host})`;
  if (c.kind === 'digest' && c.digest) return `[DIGEST] ${c.firingCount} firing in ${c.digest.groups} groups`;
  const name =
    c.groupLabels.alertname ??
    c.commonLabels.alertname ??
    (Object.values(c.groupLabels).join(' ') || `${c.alerts.length} alerts`);
  const state = c.status === 'firing' ? `[FIRING:${c.firingCount}]` : '[RESOLVED]';
  const prefix = c.kind === 'escalation' ? '[ESCALATED]' : '';
  return `${prefix}${state} ${name}`;
}

/** One line per alert: its summary (or description), else its labels. */
export function alertLine(a: ContentAlert): string {
  const text = a.annotations.summary ?? a.annotations.description;
  const labels = Object.entries(a.labels)
    .filter(([k]) => k !== 'alertname' && k !== 'severity' && k !== 'source')
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const base = text ? `${a.alertname}: ${text}` : a.alertname;
  return labels ? `${base} (${labels})` : base;
}
