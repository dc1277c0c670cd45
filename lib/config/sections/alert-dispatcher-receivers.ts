// The `alertDispatcher.receivers[]` schema: one entry per channel, discriminated by `type` (slack, email,
// webhook, log). Secrets are a value or a `…File` path, never both; inline values become Secret objects at
// parse time so the resolved config can never print them. Files are read by the dispatcher at start (with
// systemd LoadCredential= only its own unit can read them), not here.
import { z } from 'zod';
import { Secret } from '../../secret.js';
import { isLoopbackHost } from '../../http/loopback.js';
import { pathField, type SchemaContext } from '../fields.js';

export const RECEIVER_TYPES = ['slack', 'email', 'webhook', 'log'] as const;
export type ReceiverType = (typeof RECEIVER_TYPES)[number];

/** Receiver URLs must be https://, except http:// to a loopback host (tests, local relays). */
export function receiverUrlProblem(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'expected an absolute URL';
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return undefined;
  return 'expected an https:// URL (http:// only for a loopback host)';
}

const secretValue = z
  .string()
  .min(1)
  .transform((v) => new Secret(v));

const urlSecret = z
  .string()
  .min(1)
  .superRefine((v, ctx) => {
    const problem = receiverUrlProblem(v);
    // Never echo the value: a webhook URL is a credential.
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((v) => new Secret(v));

const rateSchema = z.strictObject({
  /** Sustained messages per minute; 0 turns the limit off. */
  perMinute: z.number().min(0),
  /** Messages that may go at once after a quiet spell. */
  burst: z.number().int().min(1).default(1),
});
export type RateLimit = z.output<typeof rateSchema>;

const common = {
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'receiver names: 1–64 of A-Z a-z 0-9 _ . -'),
  /** Send a message when the alerts of a notified group resolve. */
  sendResolved: z.boolean().default(true),
  /** Token bucket; the type's default when absent. */
  rate: rateSchema.optional(),
  /** Notifications in flight at once (never two of one group). */
  concurrency: z.number().int().min(1).max(32).default(2),
};

/** A URL that is the credential (Slack, webhooks), inline or from a file, and the HTTP timeout. */
function urlFields(ctx: SchemaContext) {
  return {
    url: urlSecret.optional(),
    urlFile: pathField(ctx).optional(),
    timeoutMs: z.number().int().min(100).default(10_000),
  };
}

function slackReceiver(ctx: SchemaContext) {
  return z.strictObject({
    ...common,
    ...urlFields(ctx),
    type: z.literal('slack'),
    username: z.string().min(1).default('DSA-110 Pipeline'),
    iconEmoji: z.string().min(1).default(':telescope:'),
  });
}

function emailReceiver(ctx: SchemaContext) {
  return z.strictObject({
    ...common,
    type: z.literal('email'),
    smtp: z.strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(587),
      /** Implicit TLS (port 465). Otherwise STARTTLS is used whenever the server offers it. */
      secure: z.boolean().default(false),
      /** Refuse to send unless STARTTLS succeeds. */
      requireTLS: z.boolean().default(false),
      user: z.string().min(1).optional(),
      password: secretValue.optional(),
      passwordFile: pathField(ctx).optional(),
      /** More servers tried in order when one cannot be reached: `host` or `host:port`. */
      backupHosts: z.array(z.string().min(1)).default([]),
      /** PEM CA bundle to verify the server's certificate (a private CA). */
      caFile: pathField(ctx).optional(),
      connectionTimeoutMs: z.number().int().min(100).default(10_000),
      greetingTimeoutMs: z.number().int().min(100).default(10_000),
      socketTimeoutMs: z.number().int().min(100).default(30_000),
    }),
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1, 'at least one recipient'),
    subjectPrefix: z.string().default('[DSA-110]'),
  });
}

function webhookReceiver(ctx: SchemaContext) {
  return z.strictObject({
    ...common,
    ...urlFields(ctx),
    type: z.literal('webhook'),
    /** alertmanager-v4: Alertmanager's webhook JSON; legacy: {severity, title, message, source, timestamp}. */
    format: z.enum(['alertmanager-v4', 'legacy']).default('alertmanager-v4'),
    token: secretValue.optional(),
    tokenFile: pathField(ctx).optional(),
    hmacSecret: secretValue.optional(),
    hmacSecretFile: pathField(ctx).optional(),
  });
}

function logReceiver() {
  return z.strictObject({
    ...common,
    type: z.literal('log'),
    level: z.enum(['info', 'warn', 'error']).default('warn'),
  });
}

/** A value and its …File both given, or neither where one is required. */
function secretPairIssues(
  r: Record<string, unknown>,
  key: string,
  required: boolean,
  ctx: z.RefinementCtx,
  path: (string | number)[] = [],
): void {
  const both = r[key] !== undefined && r[`${key}File`] !== undefined;
  const neither = r[key] === undefined && r[`${key}File`] === undefined;
  if (both)
    ctx.addIssue({
      code: 'custom',
      path: [...path, key],
      message: `give either ${key} or ${key}File, not both`,
    });
  else if (required && neither)
    ctx.addIssue({ code: 'custom', path: [...path, key], message: `required: give ${key} or ${key}File` });
}

export function receiverSchema(ctx: SchemaContext) {
  return z
    .discriminatedUnion(
      'type',
      [slackReceiver(ctx), emailReceiver(ctx), webhookReceiver(ctx), logReceiver()],
      {
        error: `expected type to be one of ${RECEIVER_TYPES.join(', ')}`,
      },
    )
    .superRefine((r, c) => {
      const rec = r as Record<string, unknown>;
      if (r.type === 'slack') secretPairIssues(rec, 'url', true, c);
      if (r.type === 'webhook') {
        secretPairIssues(rec, 'url', true, c);
        secretPairIssues(rec, 'token', false, c);
        secretPairIssues(rec, 'hmacSecret', false, c);
      }
      if (r.type === 'email') {
        secretPairIssues(r.smtp as Record<string, unknown>, 'password', false, c, ['smtp']);
        const hasPassword = r.smtp.password !== undefined || r.smtp.passwordFile !== undefined;
        if (hasPassword && !r.smtp.user)
          c.addIssue({
            code: 'custom',
            path: ['smtp', 'user'],
            message: 'required when a password is given',
          });
      }
    });
}

export type ReceiverConfig = z.output<ReturnType<typeof receiverSchema>>;
export type SlackReceiverConfig = Extract<ReceiverConfig, { type: 'slack' }>;
export type EmailReceiverConfig = Extract<ReceiverConfig, { type: 'email' }>;
export type WebhookReceiverConfig = Extract<ReceiverConfig, { type: 'webhook' }>;
export type LogReceiverConfig = Extract<ReceiverConfig, { type: 'log' }>;

/** The token bucket of a receiver: its own `rate`, or the type's default (Slack allows about 1 message/s). */
export function defaultRate(type: ReceiverType): RateLimit {
  switch (type) {
    case 'slack':
      return { perMinute: 60, burst: 3 };
    case 'email':
      return { perMinute: 10, burst: 5 };
    case 'webhook':
      return { perMinute: 600, burst: 20 };
    case 'log':
      return { perMinute: 0, burst: 1 };
  }
}
