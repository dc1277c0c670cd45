// E-mail through nodemailer over SMTP: the configured host, then each backup host in order when one cannot be
// reached; STARTTLS whenever the server offers it (required with requireTLS); explicit connection, greeting
// and socket timeouts (nodemailer's defaults wait minutes). The Message-ID is deterministic per notification
// (retries reuse it), and resolved messages and repeats reply to the thread's first message.
//
// Connections are reused (HostConnections): a session costs a TCP connect, the server's greeting (servers
// delay it on purpose to catch clients that talk too soon: 100 ms for smtp-server, seconds for a postscreen),
// EHLO, STARTTLS and AUTH, and a burst of alerts used to pay all of that for every message. A connection that
// failed or was aborted is closed, so a retry always starts a new session, as it did before reuse.
import nodemailer, { type SendMailOptions, type SMTPPoolOptions } from 'nodemailer';
import type { EmailReceiverConfig } from '../config/sections/alert-dispatcher-receivers.js';
import type { Secret } from '../secret.js';
import { describeFailure } from './redact.js';
import { emailBody, emailSubject } from './render-email.js';
import { classifySmtpError } from './retry.js';
import type { DeliveryFailure, DeliveryOutcome, Notifier, OutgoingNotification } from './types.js';

interface Host {
  host: string;
  port: number;
}

export function parseHostPort(text: string, defaultPort: number): Host {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(text.trim());
  if (!m) return { host: text, port: defaultPort };
  return { host: m[1], port: m[2] ? Number(m[2]) : defaultPort };
}

/** No SMTP reply at all (refused, reset, DNS, connect timeout): the next host may do better. */
function unreachable(f: DeliveryFailure): boolean {
  return f.smtpCode === undefined && (f.result === 'network' || f.result === 'timeout');
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/** How long an unused connection stays open: past a burst, well inside every server's idle timeout. */
export const SMTP_IDLE_MS = 10_000;

/** One reusable connection: a nodemailer pool of one, idle-closed, resending only what it never began to send. */
function openSlot(options: SMTPPoolOptions) {
  const slot = nodemailer.createTransport({
    ...options,
    pool: true,
    maxConnections: 1,
    maxRequeues: 1,
    idleTimeout: SMTP_IDLE_MS,
  });
  // Failures reach the message's callback; a transport-level error must not be an unhandled 'error'.
  slot.on('error', () => undefined);
  return slot;
}
type Slot = ReturnType<typeof openSlot>;

/**
 * Reused SMTP sessions to one host. Each slot is a one-connection nodemailer pool that this class hands one
 * message at a time, so it decides per connection what happens next: after a success the slot waits for
 * the next message (nodemailer closes its connection after SMTP_IDLE_MS unused, and resends a message over
 * a fresh connection only when the server had closed the idle one before a byte of it was sent); after any
 * failure or an abort the slot is closed (its session ends; greylisting and a stuck server see a new one).
 * At most `keep` idle slots are kept (the receiver's concurrency).
 */
export class HostConnections {
  private readonly idle: Slot[] = [];
  private closed = false;

  constructor(
    private readonly options: SMTPPoolOptions,
    private readonly keep: number,
  ) {}

  async send(message: SendMailOptions, signal: AbortSignal): Promise<{ response?: string }> {
    const slot = this.idle.pop() ?? openSlot(this.options);
    let reusable = false;
    try {
      const info = await abortable(slot.sendMail({ ...message, signal }), signal);
      reusable = true;
      return info;
    } finally {
      if (reusable && !this.closed && this.idle.length < this.keep) this.idle.push(slot);
      else slot.close({ force: true });
    }
  }

  close(): void {
    this.closed = true;
    for (const slot of this.idle.splice(0)) slot.close({ force: true });
  }
}

export function emailNotifier(cfg: EmailReceiverConfig, s: { password?: Secret; ca?: string }): Notifier {
  const smtp = cfg.smtp;
  const hosts: Host[] = [
    { host: smtp.host, port: smtp.port },
    ...smtp.backupHosts.map((h) => parseHostPort(h, smtp.port)),
  ];
  const secrets = [s.password];
  const connections = hosts.map(
    (h) =>
      new HostConnections(
        {
          host: h.host,
          port: h.port,
          secure: smtp.secure,
          requireTLS: smtp.requireTLS,
          ...(smtp.user && { auth: { user: smtp.user, pass: s.password?.reveal() ?? '' } }),
          connectionTimeout: smtp.connectionTimeoutMs,
          greetingTimeout: smtp.greetingTimeoutMs,
          socketTimeout: smtp.socketTimeoutMs,
          ...(s.ca !== undefined && { tls: { ca: s.ca } }),
        },
        cfg.concurrency,
      ),
  );
  return {
    name: cfg.name,
    type: 'email',
    target: `${hosts.map((h) => `${h.host}:${h.port}`).join(', ')} → ${cfg.to.join(', ')}`,
    timeoutMs:
      hosts.length * (smtp.connectionTimeoutMs + smtp.greetingTimeoutMs + smtp.socketTimeoutMs) + 5000,
    async notify(n: OutgoingNotification, signal: AbortSignal): Promise<DeliveryOutcome> {
      const thread = n.content.threadMessageId ?? undefined;
      const message = {
        from: cfg.from,
        to: cfg.to,
        subject: emailSubject(n.content, cfg.subjectPrefix),
        text: emailBody(n.content),
        messageId: n.messageId,
        ...(thread && thread !== n.messageId && { inReplyTo: thread, references: [thread] }),
        headers: {
          'Auto-Submitted': 'auto-generated',
          'X-Contimg-Group-Key': n.content.groupKey,
          'X-Contimg-Notification-Id': String(n.id),
        },
      };
      let failure: DeliveryFailure | undefined;
      for (const host of connections) {
        try {
          const info = await host.send(message, signal);
          const code = /^(\d{3})/.exec(info.response ?? '')?.[1];
          return { ok: true, ...(code && { smtpCode: Number(code) }) };
        } catch (e) {
          failure = classifySmtpError(e, describeFailure(e, secrets));
          if (signal.aborted || !unreachable(failure)) return { ok: false, failure };
        }
      }
      return { ok: false, failure: failure! };
    },
    close: () => {
      for (const c of connections) c.close();
      return Promise.resolve();
    },
  };
}
