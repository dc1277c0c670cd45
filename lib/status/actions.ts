// What an operator can do from the status page, on any daemon: acknowledge or un-acknowledge an alert and
// requeue a failed (or incomplete) observation group. Each calls the function the owning daemon's API and the
// CLI call (the alert dispatcher's acks, the converter's requeueGroup), so the rules, the events and the
// alert side effects are theirs; this adds only who did it. The actor is "token" when a token guards the API
// (only its holder gets this far) and "loopback" otherwise (only this host can reach the daemon).
import { ackAlert, unackAlert } from '../../daemons/alert-dispatcher/acks.js';
import { requeueGroup } from '../../daemons/streaming-converter/admin.js';
import type { ActionResult } from '../../web/status/contract.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/index.js';
import { ValidationError } from '../errors.js';
import type { Logger } from '../log.js';

export interface ActionContext {
  config: Config;
  state: Db;
  clock: Clock;
  log: Logger;
  actor: string;
}

/** Who the page's actions are recorded as. */
export function actorFor(token: string | undefined): string {
  return token === undefined ? 'loopback' : 'token';
}

function body(b: unknown): Record<string, unknown> {
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new ValidationError('expected a JSON object body');
  return b as Record<string, unknown>;
}

/** A short free-text comment: at most 500 characters. */
function comment(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new ValidationError('comment: expected a string');
  return v.trim().slice(0, 500);
}

export async function ack(ctx: ActionContext, fingerprint: string, b: unknown): Promise<ActionResult> {
  const text = comment(body(b).comment);
  const row = await ctx.state.writeAsync((c) =>
    ackAlert(c, fingerprint, { by: ctx.actor, comment: text }, ctx.clock.now()),
  );
  ctx.log.info({ action: 'ack', fingerprint, by: row.ackedBy }, 'status page: alert acknowledged');
  return { ok: true, by: row.ackedBy, message: `acknowledged by ${row.ackedBy}` };
}

export async function unack(ctx: ActionContext, fingerprint: string): Promise<ActionResult> {
  await ctx.state.writeAsync((c) => unackAlert(c, fingerprint, ctx.clock.now(), ctx.actor));
  ctx.log.info({ action: 'unack', fingerprint, by: ctx.actor }, 'status page: acknowledgement withdrawn');
  return { ok: true, by: ctx.actor, message: `acknowledgement withdrawn by ${ctx.actor}` };
}

export function requeue(ctx: ActionContext, groupId: string, b: unknown): ActionResult {
  const partial = body(b).partial === true;
  const g = requeueGroup(ctx.state, groupId, ctx.clock.now(), {
    partial,
    maxAttempts: ctx.config.streamingConverter.maxAttempts,
    by: ctx.actor,
  });
  ctx.log.info({ action: 'requeue', groupId, to: g.state, by: ctx.actor }, 'status page: group requeued');
  return { ok: true, by: ctx.actor, message: `requeued by ${ctx.actor}: ${g.groupId} is ${g.state}` };
}
