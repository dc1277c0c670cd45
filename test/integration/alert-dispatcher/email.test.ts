// E-mail through a real smtp-server: 451 at RCPT twice then accepted (delivered on attempt 3), a server that
// never answers DATA (each attempt aborted at socketTimeoutMs, then backoff), 535 (dead at once), the parsed
// message (subject, plain-text sections, deterministic Message-ID, In-Reply-To on the resolved message), and
// SMTP credentials actually used; sessions are reused across messages, and a failed one is not.
import { describe, expect, it } from 'vitest';
import { advance, attempts, outbox, raise, resolve, scope, waitFor, type Running } from './harness.js';
import type { SmtpPeer } from './peers.js';

const t = scope('contimg-ad-mail-');
let r: Running | undefined;
let smtp: SmtpPeer;

async function start(
  smtpExtra: Record<string, unknown> = {},
  receiverExtra: Record<string, unknown> = {},
): Promise<Running> {
  smtp = await t.smtp();
  r = await t.start({
    groupWaitS: 0,
    groupIntervalS: 60,
    receivers: [
      {
        name: 'email-ops',
        type: 'email',
        smtp: {
          host: '127.0.0.1',
          port: smtp.port,
          socketTimeoutMs: 600,
          user: 'contimg',
          password: 'hunter2-smtp',
          ...smtpExtra,
        },
        from: 'contimg@dsa110.test',
        to: ['ops@dsa110.test', 'oncall@dsa110.test'],
        rate: { perMinute: 0 },
        ...receiverExtra,
      },
    ],
  });
  return r;
}

describe('e-mail delivery', () => {
  it('451 at RCPT twice, then accepted: delivered on attempt 3 with the expected message', async () => {
    await start();
    smtp.faults.rcpt451 = 2;
    raise(r!, 'CalibratorFluxDrift', { calibrator: '3C286' }, 'critical', {
      description: 'drift 36.0 % over 7 d',
      value: '36.0',
    });
    await waitFor(() => attempts(r!).length === 1 && attempts(r!)[0].result !== null, {
      what: 'first attempt',
    });
    for (let i = 0; i < 10 && smtp.messages.length === 0; i++) await advance(r!, 6000);
    // Received by the server, and the outcome recorded by the dispatcher.
    await waitFor(() => smtp.messages.length === 1 && outbox(r!)[0]?.state === 'sent', {
      what: 'the e-mail',
    });
    const a = attempts(r!);
    expect(a.map((x) => x.result)).toEqual(['smtp_4xx', 'smtp_4xx', 'ok']);
    expect(a[0].smtp_code).toBe(451);
    const m = smtp.messages[0];
    const n = outbox(r!)[0];
    expect(m.subject).toBe('[DSA-110][CRITICAL][FIRING:1] CalibratorFluxDrift');
    const stored = r!.db.read(
      (c) =>
        c.prepare('SELECT message_id FROM notifications WHERE id = ?').get(n.id) as { message_id: string },
    );
    expect(m.messageId).toBe(stored.message_id);
    expect(m.messageId).toMatch(/^<[0-9a-f]{24}@contimg\..+>$/);
    expect(m.headers.get('auto-submitted')).toBe('auto-generated');
    expect(m.headers.get('x-contimg-notification-id')).toBe(String(n.id));
    for (const part of [
      'Status: firing',
      'Severity: critical',
      'Summary: CalibratorFluxDrift is bad',
      'Description: drift 36.0 % over 7 d',
      'Value: 36.0',
      'calibrator=3C286',
      'Acknowledge: contimg alerts ack',
    ])
      expect(m.text).toContain(part);
    expect(smtp.auths).toContainEqual({ username: 'contimg', password: 'hunter2-smtp' });

    // Resolved: a reply in the same thread.
    resolve(r!, 'CalibratorFluxDrift', { calibrator: '3C286' });
    await advance(r!, 61_000);
    await waitFor(() => smtp.messages.length === 2, { what: 'the resolved e-mail' });
    const resolved = smtp.messages[1];
    expect(resolved.subject).toBe('[DSA-110][RESOLVED] CalibratorFluxDrift');
    expect(resolved.inReplyTo).toBe(m.messageId);
    expect(resolved.references).toBe(m.messageId);
    expect(resolved.messageId).not.toBe(m.messageId);
  });

  it('a server that never answers DATA: each attempt aborted at socketTimeoutMs, then backoff', async () => {
    await start();
    smtp.faults.hangData = true;
    raise(r!, 'UnitDown', { unit: 'a' });
    await waitFor(() => attempts(r!)[0]?.result === 'timeout', {
      what: 'first attempt timed out',
      timeoutMs: 10_000,
    });
    const first = attempts(r!)[0];
    expect(first.finished_at! - first.started_at).toBeLessThan(5000);
    expect(outbox(r!)[0].state).toBe('retry_wait');
    await advance(r!, 3900); // less than 5 s × 0.8: no second attempt yet
    expect(attempts(r!)).toHaveLength(1);
    await advance(r!, 2200);
    await waitFor(() => attempts(r!)[1]?.result === 'timeout', {
      what: 'second attempt timed out',
      timeoutMs: 10_000,
    });
    expect(smtp.dataAttempts).toBe(2);
    smtp.faults.hangData = false;
    for (let i = 0; i < 5 && smtp.messages.length === 0; i++) await advance(r!, 12_100);
    await waitFor(() => smtp.messages.length === 1, { what: 'delivered once the server answers' });
  });

  it('535 at AUTH: dead at once, nothing retried', async () => {
    await start();
    smtp.faults.auth535 = true;
    raise(r!, 'UnitDown', { unit: 'a' });
    await waitFor(() => outbox(r!)[0]?.state === 'dead', { what: 'dead' });
    expect(attempts(r!)).toMatchObject([{ result: 'smtp_5xx', smtp_code: 535 }]);
    expect(outbox(r!)[0].last_error).not.toContain('hunter2');
  });

  it('a burst shares sessions (at most `concurrency`, one AUTH each); a failed session is not reused', async () => {
    await start({}, { concurrency: 2 });
    for (let i = 0; i < 8; i++) raise(r!, `Burst${i}`, { unit: String(i) });
    await waitFor(() => smtp.messages.length === 8, { what: 'eight e-mails' });
    const burst = new Set(smtp.dataSessions);
    expect(burst.size).toBeGreaterThanOrEqual(1);
    expect(burst.size).toBeLessThanOrEqual(2);
    expect(smtp.connections).toBe(burst.size);
    expect(smtp.auths).toHaveLength(burst.size);
    expect(new Set(smtp.messages.map((m) => m.messageId)).size).toBe(8);

    // 451 at RCPT (both recipients) on a reused session: the retry comes in a new session.
    smtp.faults.rcpt451Next = 2;
    raise(r!, 'AfterBurst', { unit: 'x' });
    await waitFor(() => attempts(r!).some((a) => a.result === 'smtp_4xx'), { what: 'the 451' });
    const refused = smtp.refusedSessions[0];
    expect(burst.has(refused)).toBe(true);
    for (let i = 0; i < 10 && smtp.messages.length === 8; i++) await advance(r!, 6000);
    await waitFor(() => smtp.messages.length === 9, { what: 'the retried e-mail' });
    expect(smtp.dataSessions[8]).not.toBe(refused);
    // The server has the message before the daemon has read its 250 and recorded the send.
    await waitFor(() => outbox(r!).filter((n) => n.state === 'sent').length === 9, {
      what: 'nine sent',
    });
  });
});
