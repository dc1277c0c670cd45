// The alert-dispatcher part of `contimg dev`: a config section with a `log` receiver and an e-mail receiver
// pointed at a local SMTP capture (smtp-server on loopback, writing each message to <dataDir>/mail/), and a
// simulated fault raised and later resolved, so the demo shows an alert turning into a log line and an e-mail.
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../lib/config/index.js';
import type { SMTPServer as SMTPServerClass } from 'smtp-server';

/** The port of the mail capture: next after the daemons' ports when they are given, or 9315. */
export function devMailPort(ports: Partial<Record<string, number>>): number {
  const given = Object.values(ports).filter((p): p is number => p !== undefined);
  return given.length ? Math.max(...given) + 1 : 9315;
}

export function devAlertDispatcher(port: { port?: number }, mailPort: number): Record<string, unknown> {
  return {
    ...port,
    groupWaitS: 5,
    groupIntervalS: 20,
    repeatIntervalS: { critical: 3600, warning: 3600, info: 0 },
    receivers: [
      { name: 'log', type: 'log' },
      {
        name: 'dev-mail',
        type: 'email',
        smtp: { host: '127.0.0.1', port: mailPort, connectionTimeoutMs: 5000, socketTimeoutMs: 10000 },
        from: 'contimg-dev@localhost',
        to: ['operator@localhost'],
      },
    ],
    routes: [{ receivers: ['log', 'dev-mail'] }],
  };
}

/** The configured e-mail receiver on a loopback host, if any: that is where the capture listens. */
function captureTarget(cfg: Config): { host: string; port: number } | undefined {
  for (const r of cfg.alertDispatcher.receivers)
    if (r.type === 'email' && ['127.0.0.1', 'localhost', '::1'].includes(r.smtp.host))
      return { host: r.smtp.host, port: r.smtp.port };
  return undefined;
}

/** Start the SMTP capture; every message received is written to <dataDir>/mail/<time>-<n>.eml. */
export async function startMailCapture(
  cfg: Config,
  out: NodeJS.WritableStream,
): Promise<{ close(): Promise<void> } | null> {
  const target = captureTarget(cfg);
  if (!target) {
    out.write(
      'dev: no loopback e-mail receiver in the config: no mail capture (delete the config to get one)\n',
    );
    return null;
  }
  let SMTPServer: typeof SMTPServerClass;
  try {
    ({ SMTPServer } = await import('smtp-server'));
  } catch {
    out.write('dev: smtp-server is not installed (a dev dependency): no mail capture\n');
    return null;
  }
  const dir = path.join(cfg.dataDir, 'mail');
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${++n}.eml`);
        fs.writeFileSync(file, Buffer.concat(chunks));
        out.write(`[mail] captured an e-mail: ${file}\n`);
        callback();
      });
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(target.port, target.host, () => resolve());
    });
  } catch (e) {
    out.write(`dev: mail capture cannot listen on ${target.host}:${target.port}: ${(e as Error).message}\n`);
    return null;
  }
  out.write(`dev: mail capture on smtp://${target.host}:${target.port}, messages in ${dir}\n`);
  return { close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * A simulated fault: `DevSimulatedFault` fires after `afterS` and resolves `forS` later (or when dev stops), so
 * the dispatcher sends one firing and one resolved message. `forS` (22 s) ends a little before the group's
 * second look (group wait 5 s + group interval 20 s after the raise), so the resolved message goes out at that
 * look rather than a whole group interval later (a resolution exactly on the look's time could land after it).
 */
export async function simulateFault(
  cfg: Config,
  signal: AbortSignal,
  out: NodeJS.WritableStream,
  afterS = 5,
  forS = 22,
): Promise<void> {
  const { openDb } = await import('../lib/db/index.js');
  const { raiseAlert, resolveAlert } = await import('../lib/alerts/index.js');
  const { pause } = await import('../lib/clock.js');
  const alert = { alertname: 'DevSimulatedFault', labels: { component: 'simulator' } };
  if (await pause(afterS * 1000, signal)) return;
  const db = openDb({ name: 'state', path: cfg.databases.state });
  try {
    db.write((c) =>
      raiseAlert(
        c,
        {
          ...alert,
          severity: 'warning',
          annotations: {
            summary: 'a simulated fault raised by contimg dev to show alert delivery',
            description: 'Nothing is wrong: `contimg dev` raised this alert and resolves it shortly.',
          },
          source: 'simulator',
        },
        Date.now(),
      ),
    );
    out.write('[simulator] raised the alert DevSimulatedFault (watch the log line and var/mail)\n');
    await pause(forS * 1000, signal);
    db.write((c) => resolveAlert(c, alert, Date.now()));
    out.write('[simulator] resolved DevSimulatedFault\n');
  } finally {
    db.close();
  }
}
