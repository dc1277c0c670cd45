// E-mail through nodemailer over SMTP: the configured host, then each backup host in order when one cannot be
// reached; STARTTLS whenever the server offers it (required with requireTLS); explicit connection, greeting
// and socket timeouts (nodemailer's defaults wait minutes). The Message-ID is deterministic per notification
// (retries reuse it), and resolved messages and repeats reply to the thread's first message.
import nodemailer from 'nodemailer';
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

export function emailNotifier(cfg: EmailReceiverConfig, s: { password?: Secret; ca?: string }): Notifier {
  const smtp = cfg.smtp;
  const hosts: Host[] = [
    { host: smtp.host, port: smtp.port },
    ...smtp.backupHosts.map((h) => parseHostPort(h, smtp.port)),
  ];
  const secrets = [s.password];
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
      for (const h of hosts) {
        const transport = nodemailer.createTransport({
          host: h.host,
          port: h.port,
          secure: smtp.secure,
          requireTLS: smtp.requireTLS,
          ...(smtp.user && { auth: { user: smtp.user, pass: s.password?.reveal() ?? '' } }),
          connectionTimeout: smtp.connectionTimeoutMs,
          greetingTimeout: smtp.greetingTimeoutMs,
          socketTimeout: smtp.socketTimeoutMs,
          ...(s.ca !== undefined && { tls: { ca: s.ca } }),
        });
        try {
          const info = (await abortable(transport.sendMail(message), signal)) as { response?: string };
          const code = /^(\d{3})/.exec(info.response ?? '')?.[1];
          return { ok: true, ...(code && { smtpCode: Number(code) }) };
        } catch (e) {
          failure = classifySmtpError(e, describeFailure(e, secrets));
          if (signal.aborted || !unreachable(failure)) return { ok: false, failure };
        } finally {
          transport.close();
        }
      }
      return { ok: false, failure: failure! };
    },
    close: async () => undefined,
  };
}
