// Typed jobs: each job kind is declared once (queue, kind, payload schema) beside the daemon that runs it,
// and the declaration is the only way that daemon enqueues and claims it. The payload is checked when it is
// enqueued (ValidationError, nothing written) and again when it is claimed: a job that was enqueued by an
// older build, redriven or rerun with overrides, or written by hand, and no longer fits, goes `dead` with the
// reason instead of reaching a handler. Handlers get the parsed payload and never cast it.
import type { z } from 'zod';
import type { Connection } from '../db/index.js';
import { ValidationError } from '../errors.js';
import { enqueue } from './store.js';
import type { EnqueueSpec, Job, JsonObject } from './types.js';

export interface JobType<P extends JsonObject = JsonObject> {
  /** The queue, or for a family of queues (one per receiver, say) the common prefix. */
  readonly queue: string;
  readonly family: boolean;
  readonly kind: string;
  readonly schema: z.ZodType<P>;
  /** The payload, checked; ValidationError names the job kind and each bad key path. */
  parse(payload: unknown): P;
  /** Whether jobs of this type live in `queue`. */
  accepts(queue: string): boolean;
  /** A family member's queue: prefix + member (a fixed queue ignores `member`). */
  queueFor(member?: string): string;
  /** Enqueue inside the caller's write transaction (see lib/queue enqueue), the payload checked first. */
  enqueue(
    conn: Connection,
    payload: P,
    spec: Omit<EnqueueSpec, 'queue' | 'kind' | 'payload'> & { member?: string },
    nowMs: number,
  ): { job: Job<P>; created: boolean };
}

export function defineJob<S extends z.ZodType<JsonObject>>(d: {
  /** A fixed queue name, or `{ prefix }` for a family of queues. */
  queue: string | { prefix: string };
  kind: string;
  payload: S;
}): JobType<z.output<S>> {
  type P = z.output<S>;
  const family = typeof d.queue !== 'string';
  const queue = typeof d.queue === 'string' ? d.queue : d.queue.prefix;
  const parse = (payload: unknown): P => {
    const r = d.payload.safeParse(payload);
    if (r.success) return r.data;
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`);
    throw new ValidationError(`${queue}${family ? '*' : ''} ${d.kind}: bad payload (${issues.join('; ')})`, {
      kind: d.kind,
      issues,
    });
  };
  const queueFor = (member?: string): string => {
    if (!family) return queue;
    if (!member) throw new ValidationError(`${d.kind}: a queue of the ${queue}* family needs a member name`);
    return `${queue}${member}`;
  };
  return Object.freeze({
    queue,
    family,
    kind: d.kind,
    schema: d.payload as unknown as z.ZodType<P>,
    parse,
    accepts: (q: string) => (family ? q.startsWith(queue) && q.length > queue.length : q === queue),
    queueFor,
    enqueue(conn, payload, spec, nowMs) {
      const { member, ...rest } = spec;
      const r = enqueue(
        conn,
        { ...rest, queue: queueFor(member), kind: d.kind, payload: parse(payload) },
        nowMs,
      );
      return r as { job: Job<P>; created: boolean };
    },
  } satisfies JobType<P>);
}
