// Alerts from outside our daemons. (1) Alertmanager's webhook (version 4) at POST /api/alertmanager/webhook,
// so an existing Alertmanager forwards into our routing; its alerts skip our group wait (it already waited).
// (2) Alertmanager's own POST /api/v2/alerts (a JSON list of {labels, annotations, startsAt, endsAt,
// generatorURL}), so Prometheus can use the dispatcher as its alertmanager directly; a firing alert that is not
// re-sent resolves at its endsAt (or intake.resolveTimeoutS). A whole request is one transaction: 2xx only after
// it committed, 400 naming the bad field, 503 when the database stays locked (the sender retries).
import { z } from 'zod';
import { raiseAlert, resolveAlert, type Severity } from '../../lib/alerts/index.js';
import type { DaemonDeps } from '../../lib/daemon/types.js';
import { cachedStatement, type Connection } from '../../lib/db/index.js';
import { ContimgError, ValidationError } from '../../lib/errors.js';
import type { Ctx } from './context.js';

export type Origin = 'alertmanager' | 'prometheus';

const stringMap = z.record(z.string(), z.string());
const time = z.string().optional();

const externalAlert = z.looseObject({
  status: z.enum(['firing', 'resolved']).optional(),
  labels: stringMap.refine((l) => typeof l.alertname === 'string' && l.alertname.length > 0, {
    message: 'labels.alertname is required',
  }),
  annotations: stringMap.optional(),
  startsAt: time,
  endsAt: time,
  generatorURL: z.string().optional(),
  fingerprint: z.string().optional(),
});
type ExternalAlert = z.output<typeof externalAlert>;

const webhookV4 = z.looseObject({
  version: z.literal('4', { error: 'expected version "4" (Alertmanager webhook payload)' }),
  groupKey: z.string(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  alerts: z.array(externalAlert.extend({ status: z.enum(['firing', 'resolved']) })),
});

const postableAlerts = z.array(externalAlert);

function fieldError(e: z.ZodError, root: string): ValidationError {
  const issue = e.issues[0];
  const where = [root, ...issue.path.map(String)].filter(Boolean).join('.') || '(body)';
  return new ValidationError(`${where}: ${issue.message}`, { field: where });
}

/** Alertmanager's zero time means "not set". */
function parseTime(text: string | undefined, field: string): number | null {
  if (text === undefined || text === '' || text.startsWith('0001-01-01')) return null;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new ValidationError(`${field}: not an RFC 3339 time`, { field });
  return t;
}

/** Our three severities from a `severity` label: anything unknown counts as a warning. */
export function severityOf(label: string | undefined): Severity {
  const s = (label ?? '').toLowerCase();
  if (['critical', 'page', 'error', 'high', 'emergency', 'fatal'].includes(s)) return 'critical';
  if (['info', 'informational', 'low', 'none', 'notice'].includes(s)) return 'info';
  return 'warning';
}

function upsertExternal(
  conn: Connection,
  p: {
    fingerprint: string;
    origin: Origin;
    originFingerprint: string | null;
    generatorUrl: string | null;
    groupKey: string | null;
    startsAt: number | null;
    resolveAt: number | null;
    newEpisode: boolean;
    now: number;
  },
): void {
  cachedStatement(
    conn,
    `INSERT INTO external_alerts (fingerprint, origin, origin_fingerprint, generator_url, group_key, origin_starts_at,
       resolve_at, last_seen_at)
     VALUES (@fingerprint, @origin, @originFingerprint, @generatorUrl, @groupKey, @startsAt, @resolveAt, @now)
     ON CONFLICT (fingerprint) DO UPDATE SET origin = excluded.origin,
       origin_fingerprint = coalesce(excluded.origin_fingerprint, external_alerts.origin_fingerprint),
       generator_url = excluded.generator_url, group_key = coalesce(excluded.group_key, external_alerts.group_key),
       origin_starts_at = CASE WHEN @newEpisode OR external_alerts.origin_starts_at IS NULL
         THEN excluded.origin_starts_at ELSE external_alerts.origin_starts_at END,
       resolve_at = excluded.resolve_at, last_seen_at = excluded.last_seen_at`,
  ).run({ ...p, newEpisode: p.newEpisode ? 1 : 0 });
}

/** One external alert into `alerts` (raise or resolve) and `external_alerts`; joins the caller's transaction. */
export function ingestAlert(
  conn: Connection,
  a: ExternalAlert,
  p: { origin: Origin; groupKey: string | null; now: number; resolveTimeoutMs: number; field: string },
): void {
  const startsAt = parseTime(a.startsAt, `${p.field}.startsAt`);
  const endsAt = parseTime(a.endsAt, `${p.field}.endsAt`);
  const labels = a.labels;
  const alertname = labels.alertname;
  const resolved = a.status === 'resolved' || (endsAt !== null && endsAt <= p.now);
  const common = {
    origin: p.origin,
    originFingerprint: a.fingerprint ?? null,
    generatorUrl: a.generatorURL || null,
    groupKey: p.groupKey,
    startsAt,
    now: p.now,
  };
  if (resolved) {
    const r = resolveAlert(conn, { alertname, labels }, p.now);
    if (r.resolved)
      upsertExternal(conn, { ...common, fingerprint: r.fingerprint, resolveAt: null, newEpisode: false });
    return;
  }
  const r = raiseAlert(
    conn,
    {
      alertname,
      severity: severityOf(labels.severity),
      labels,
      annotations: a.annotations ?? {},
      source: p.origin,
    },
    p.now,
  );
  // Alertmanager sends an explicit resolved notification; Prometheus re-sends while firing, so silence resolves.
  const resolveAt = p.origin === 'alertmanager' ? null : (endsAt ?? p.now + p.resolveTimeoutMs);
  upsertExternal(conn, { ...common, fingerprint: r.fingerprint, resolveAt, newEpisode: r.isNewEpisode });
}

async function withCounting<T>(ctx: Ctx, endpoint: Origin, fn: () => Promise<T>): Promise<T> {
  try {
    const out = await fn();
    ctx.m.intake.inc({ endpoint, code: '200' });
    return out;
  } catch (e) {
    const code = e instanceof ContimgError ? e.httpStatus : 500;
    ctx.m.intake.inc({ endpoint, code: String(code) });
    if (code >= 500) ctx.log.warn({ err: e, endpoint }, 'intake request failed; the sender will retry');
    throw e;
  }
}

export function registerIntake(deps: DaemonDeps, ctx: Ctx, wake: () => void): void {
  const { intake } = ctx.cfg;
  const write = (fn: (conn: Connection) => void): Promise<void> =>
    ctx.db.writeAsync(fn, { budgetMs: intake.writeBudgetMs });
  /** Validate, then ingest every alert of the request in one transaction; 2xx only after it committed. */
  const accept = (
    origin: Origin,
    body: unknown,
    parse: (b: unknown) => { alerts: ExternalAlert[]; groupKey: string | null },
  ): Promise<{ status: string; received: number }> =>
    withCounting(ctx, origin, async () => {
      const p = parse(body);
      await write((conn) => {
        const now = ctx.clock.now();
        const resolveTimeoutMs = intake.resolveTimeoutS * 1000;
        p.alerts.forEach((a, i) =>
          ingestAlert(conn, a, { origin, groupKey: p.groupKey, now, resolveTimeoutMs, field: `alerts.${i}` }),
        );
      });
      wake();
      return { status: 'success', received: p.alerts.length };
    });
  if (intake.alertmanager)
    deps.http.route('POST', '/api/alertmanager/webhook', ({ body }) =>
      accept('alertmanager', body, (b) => {
        const parsed = webhookV4.safeParse(b);
        if (!parsed.success) throw fieldError(parsed.error, '');
        return { alerts: parsed.data.alerts, groupKey: parsed.data.groupKey };
      }),
    );
  if (intake.prometheus)
    deps.http.route('POST', '/api/v2/alerts', ({ body }) =>
      accept('prometheus', body, (b) => {
        const parsed = postableAlerts.safeParse(b);
        if (!parsed.success) throw fieldError(parsed.error, 'alerts');
        return { alerts: parsed.data, groupKey: null };
      }),
    );
}
