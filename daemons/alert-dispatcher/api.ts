// The dispatcher's JSON API (on its lib/http server, behind the token when one is configured): alerts with
// their state, acknowledgements, silences, receivers (with a test message), and the outbox. Every answer is
// built from rows and config without secrets.
import os from 'node:os';
import type { DaemonDeps } from '../../lib/daemon/types.js';
import { NotFoundError, ValidationError } from '../../lib/errors.js';
import { ackAlert, unackAlert } from './acks.js';
import {
  alertsWithState,
  enqueueTest,
  listOutbox,
  retryNotification,
  showAlert,
  showOutbox,
} from './admin.js';
import { outboxCtx, type Ctx } from './context.js';
import type { ReceiverWorker } from './delivery.js';
import { describeReceiver } from './receivers.js';
import { createSilence, expireSilence, getSilence, listSilences, type SilenceRow } from './silences.js';

function obj(body: unknown): Record<string, unknown> {
  if (body === undefined) return {};
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new ValidationError('expected a JSON object body');
  return body as Record<string, unknown>;
}

/** A time given as ms since the epoch or an RFC 3339 string. */
export function timeField(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const t = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(t))
    throw new ValidationError(`${field}: expected a time (ms since the epoch or RFC 3339)`);
  return t;
}

function positive(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0)) throw new ValidationError(`${field}: expected a positive number`);
  return v;
}

function intParam(text: string | null | undefined, field: string, dflt: number): number {
  if (text === null || text === undefined || text === '') return dflt;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new ValidationError(`${field}: expected a positive integer`);
  return n;
}

export function registerApi(deps: DaemonDeps, ctx: Ctx, workers: ReadonlyMap<string, ReceiverWorker>): void {
  const { http } = deps;
  const now = () => ctx.clock.now();
  http.route('GET', '/api/alerts', ({ url }) => {
    const status = url.searchParams.get('status') ?? undefined;
    if (status !== undefined && status !== 'firing' && status !== 'resolved')
      throw new ValidationError('status: expected firing or resolved');
    const limit = intParam(url.searchParams.get('limit'), 'limit', 1000);
    return ctx.db.read((c) => alertsWithState(c, ctx.cfg, now(), { status, limit }));
  });
  http.route('GET', '/api/alerts/:fingerprint', ({ params }) =>
    ctx.db.read((c) => showAlert(c, ctx.cfg, params.fingerprint, now())),
  );
  http.route('POST', '/api/alerts/:fingerprint/ack', ({ params, body }) => {
    const b = obj(body);
    const t = now();
    const duration = positive(b.durationS, 'durationS');
    const until = timeField(b.until, 'until') ?? (duration !== undefined ? t + duration * 1000 : null);
    return ctx.db.writeAsync((c) =>
      ackAlert(c, params.fingerprint, { by: b.by, comment: b.comment, until }, t),
    );
  });
  http.route('DELETE', '/api/alerts/:fingerprint/ack', async ({ params }) => {
    await ctx.db.writeAsync((c) => unackAlert(c, params.fingerprint, now()));
    return { fingerprint: params.fingerprint, acked: false };
  });
  const silenceLimits = () => ({ now: now(), maxDurationMs: ctx.cfg.silence.maxDurationDays * 86_400_000 });
  http.route('GET', '/api/silences', ({ url }) => {
    const state = url.searchParams.get('state') ?? undefined;
    if (state !== undefined && !['pending', 'active', 'expired'].includes(state))
      throw new ValidationError('state: expected pending, active or expired');
    return ctx.db.read((c) => listSilences(c, now(), { state: state as SilenceRow['state'] | undefined }));
  });
  http.route('POST', '/api/silences', ({ body }) => {
    const b = obj(body);
    const duration = positive(b.durationS, 'durationS');
    const input = {
      matchers: b.matchers,
      startsAt: timeField(b.startsAt, 'startsAt'),
      endsAt: timeField(b.endsAt, 'endsAt'),
      durationMs: duration === undefined ? undefined : duration * 1000,
      createdBy: b.createdBy,
      comment: b.comment,
    };
    return ctx.db.writeAsync((c) => createSilence(c, input, silenceLimits()));
  });
  http.route('GET', '/api/silences/:id', ({ params }) => {
    const s = ctx.db.read((c) => getSilence(c, params.id, now()));
    if (!s) throw new NotFoundError(`no silence ${params.id}`);
    return s;
  });
  http.route('DELETE', '/api/silences/:id', ({ params }) =>
    ctx.db.writeAsync((c) => expireSilence(c, params.id, now())),
  );
  http.route('GET', '/api/receivers', () =>
    ctx.cfg.receivers.map((r) => {
      const w = workers.get(r.name);
      return { ...describeReceiver(r), circuit: w ? w.circuit.state(now()) : 'closed' };
    }),
  );
  http.route('POST', '/api/receivers/:name/test', async ({ params, body }) => {
    const b = obj(body);
    const by = typeof b.by === 'string' && b.by.trim() ? b.by.trim() : 'api';
    const r = await ctx.db.writeAsync((c) =>
      enqueueTest(
        c,
        params.name,
        { cfg: ctx.cfg, by, host: ctx.host || os.hostname(), externalUrl: ctx.externalUrl },
        outboxCtx(ctx),
      ),
    );
    workers.get(params.name)?.wake();
    return r;
  });
  http.route('GET', '/api/outbox', ({ url }) => {
    const s = url.searchParams;
    return ctx.db.read((c) =>
      listOutbox(c, {
        state: s.get('state') ?? undefined,
        receiver: s.get('receiver') ?? undefined,
        limit: intParam(s.get('limit'), 'limit', 100),
      }),
    );
  });
  http.route('GET', '/api/outbox/:id', ({ params }) =>
    ctx.db.read((c) => showOutbox(c, intParam(params.id, 'id', 0))),
  );
  http.route('POST', '/api/outbox/:id/retry', async ({ params }) => {
    const n = await ctx.db.writeAsync((c) =>
      retryNotification(c, intParam(params.id, 'id', 0), outboxCtx(ctx)),
    );
    workers.get(n.receiver)?.wake();
    return n;
  });
}
