// Config section `alertDispatcher` (owned by daemons/alert-dispatcher; docs/alert-dispatcher.md): receivers,
// the ordered routing list, grouping timers, inhibition, retry/circuit/failover/escalation and intake. Every
// cross-reference (a route's receiver, a failover target, a matcher's syntax) is checked here, so
// `contimg check-config` reports all problems at once with their key paths.
import { z } from 'zod';
import { compileAll, MatcherSyntaxError } from '../../matchers/index.js';
import { portField, seconds, type SchemaContext } from '../fields.js';
import { receiverSchema } from './alert-dispatcher-receivers.js';

const labelName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$|^\.\.\.$/, 'expected a label name (or "...")');

const perSeverity = (critical: number, warning: number, info: number) =>
  z
    .strictObject({ critical: seconds(critical), warning: seconds(warning), info: seconds(info) })
    .prefault({});

const routeSchema = z.strictObject({
  /** Alertmanager matcher strings, all of which must match; none makes a catch-all. */
  matchers: z.array(z.string().min(1)).default([]),
  receivers: z.array(z.string().min(1)).min(1, 'a route needs at least one receiver'),
  /** Keep looking at later routes after this one matched. */
  continue: z.boolean().default(false),
  groupBy: z.array(labelName).optional(),
  groupWaitS: z.number().min(0).optional(),
  groupIntervalS: z.number().positive().optional(),
  /** One number for every severity, or per severity (missing ones use the section default). */
  repeatIntervalS: z
    .union([
      z.number().min(0),
      z.strictObject({
        critical: z.number().min(0).optional(),
        warning: z.number().min(0).optional(),
        info: z.number().min(0).optional(),
      }),
    ])
    .optional(),
});
export type RouteConfig = z.output<typeof routeSchema>;

const inhibitSchema = z.strictObject({
  source: z.array(z.string().min(1)).min(1, 'at least one source matcher'),
  target: z.array(z.string().min(1)).min(1, 'at least one target matcher'),
  /** Labels whose values must be equal on source and target; required (a rule without is far too broad). */
  equal: z.array(labelName).min(1, 'at least one label: without equal a rule mutes far too much'),
});

function matcherIssues(texts: readonly string[], path: (string | number)[], ctx: z.RefinementCtx): void {
  texts.forEach((t, i) => {
    try {
      compileAll([t]);
    } catch (e) {
      const message = e instanceof MatcherSyntaxError ? e.message : String(e);
      ctx.addIssue({ code: 'custom', path: [...path, i], message });
    }
  });
}

/** Follow the failover map from each receiver; a receiver reached twice is a cycle. */
function failoverCycle(map: Record<string, string>): string[] | undefined {
  for (const start of Object.keys(map)) {
    const seen = [start];
    for (let cur = map[start]; cur !== undefined; cur = map[cur]) {
      if (seen.includes(cur)) return [...seen, cur];
      seen.push(cur);
    }
  }
  return undefined;
}

type Section = {
  receivers: { name: string }[];
  routes?: RouteConfig[];
  inhibit: z.output<typeof inhibitSchema>[];
  failover: { map: Record<string, string> };
  escalation: { receivers: string[] };
  groupIntervalS: number;
  repeatIntervalS: Record<'critical' | 'warning' | 'info', number>;
};

function crossChecks(s: Section, ctx: z.RefinementCtx): void {
  const names = s.receivers.map((r) => r.name);
  const known = new Set(names);
  names.forEach((n, i) => {
    if (names.indexOf(n) !== i)
      ctx.addIssue({
        code: 'custom',
        path: ['receivers', i, 'name'],
        message: `duplicate receiver name "${n}"`,
      });
  });
  const unknown = (path: (string | number)[], n: string): void =>
    ctx.addIssue({
      code: 'custom',
      path,
      message: `no receiver named "${n}" (receivers: ${names.join(', ')})`,
    });
  (s.routes ?? []).forEach((r, i) => {
    r.receivers.forEach((n, j) => known.has(n) || unknown(['routes', i, 'receivers', j], n));
    matcherIssues(r.matchers, ['routes', i, 'matchers'], ctx);
  });
  const routes = s.routes ?? [];
  if (routes.length > 0 && routes[routes.length - 1].matchers.length > 0)
    ctx.addIssue({
      code: 'custom',
      path: ['routes', routes.length - 1, 'matchers'],
      message: 'the last route must be a catch-all (no matchers), so no alert goes unrouted',
    });
  s.inhibit.forEach((r, i) => {
    matcherIssues(r.source, ['inhibit', i, 'source'], ctx);
    matcherIssues(r.target, ['inhibit', i, 'target'], ctx);
  });
  for (const [from, to] of Object.entries(s.failover.map)) {
    if (!known.has(from)) unknown(['failover', 'map', from], from);
    if (!known.has(to)) unknown(['failover', 'map', from], to);
  }
  const cycle = failoverCycle(s.failover.map);
  if (cycle)
    ctx.addIssue({
      code: 'custom',
      path: ['failover', 'map'],
      message: `failover cycle: ${cycle.join(' → ')}`,
    });
  s.escalation.receivers.forEach((n, i) => known.has(n) || unknown(['escalation', 'receivers', i], n));
  for (const [sev, v] of Object.entries(s.repeatIntervalS))
    if (v > 0 && v < s.groupIntervalS)
      ctx.addIssue({
        code: 'custom',
        path: ['repeatIntervalS', sev],
        message: `must be 0 (never repeat) or at least groupIntervalS (${s.groupIntervalS})`,
      });
}

export function alertDispatcherSection(ctx: SchemaContext) {
  return z
    .strictObject({
      port: portField(9313),
      /** The stage loop (read changes, route, group, mute, flush, enqueue) runs this often. */
      tickMs: z.number().int().min(10).default(1000),
      /** Link to this dispatcher shown in messages (acks, silences); http://127.0.0.1:<port> by default. */
      externalUrl: z.url().optional(),
      receivers: z.array(receiverSchema(ctx)).default([{ name: 'log', type: 'log' } as never]),
      /** Ordered; the first match wins unless it says `continue`; the last must be a catch-all. Default: one
       * catch-all route to every receiver. */
      routes: z.array(routeSchema).optional(),
      groupBy: z.array(labelName).default(['alertname']),
      groupWaitS: seconds(30),
      groupIntervalS: z.number().positive().default(300),
      /** Re-send a still-firing, unacknowledged group this often (0 = never). */
      repeatIntervalS: perSeverity(3600, 14_400, 0),
      maxAlertsPerMessage: z.number().int().min(1).max(100).default(20),
      storm: z.strictObject({ maxGroupsPerFlush: z.number().int().min(1).default(10) }).prefault({}),
      inhibit: z.array(inhibitSchema).default([]),
      silence: z.strictObject({ maxDurationDays: z.number().positive().default(14) }).prefault({}),
      retry: z
        .strictObject({
          initialDelayS: seconds(5, 0.001),
          maxDelayS: seconds(300, 0.001),
          jitter: z.number().min(0).max(1).default(0.2),
          maxAttempts: z.number().int().min(1).default(12),
          maxAgeS: seconds(21_600, 1),
          resolvedMaxAgeS: seconds(3600, 1),
          retryAfterMaxS: seconds(900, 1),
        })
        .prefault({}),
      circuit: z
        .strictObject({
          failureThreshold: z.number().int().min(1).default(5),
          openS: seconds(60, 0.001),
        })
        .prefault({}),
      failover: z
        .strictObject({
          /** A receiver whose circuit stays open with notifications older than this fails them over. */
          afterS: seconds(300),
          /** Primary receiver name → fallback receiver name. */
          map: z.record(z.string(), z.string()).default({}),
        })
        .prefault({}),
      escalation: z
        .strictObject({
          afterS: seconds(1800),
          severities: z.array(z.enum(['critical', 'warning', 'info'])).default(['critical']),
          receivers: z.array(z.string()).default([]),
        })
        .prefault({}),
      intake: z
        .strictObject({
          /** POST /api/alertmanager/webhook (an Alertmanager webhook receiver points here). */
          alertmanager: z.boolean().default(true),
          /** POST /api/v2/alerts (Prometheus uses the dispatcher as its alertmanager). */
          prometheus: z.boolean().default(true),
          /** An external alert not refreshed and without endsAt resolves after this long. */
          resolveTimeoutS: seconds(300, 1),
          /** An intake write waiting longer than this for the lock answers 503 (the sender retries). */
          writeBudgetMs: z.number().int().min(1).default(5000),
        })
        .prefault({}),
      delivery: z
        .strictObject({
          /** How often an idle receiver worker looks for due notifications (other processes' enqueues). */
          pollMs: z.number().int().min(10).default(1000),
          /** Send timeout + this = the outbox lease; an expired lease is reclaimed as a crashed attempt. */
          leaseSlackS: seconds(30, 1),
        })
        .prefault({}),
      /** Sent, dead and superseded notifications and their attempts are deleted after this many days. */
      retentionDays: z.number().positive().default(30),
    })
    .superRefine((s, c) => crossChecks(s, c))
    .transform((s) => ({
      ...s,
      routes: s.routes ?? [{ matchers: [], receivers: s.receivers.map((r) => r.name), continue: false }],
    }));
}

export type AlertDispatcherConfig = z.output<ReturnType<typeof alertDispatcherSection>>;
