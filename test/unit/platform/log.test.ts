// The root logger never prints a secret: fixed paths near the top, and any string under a secret-looking key
// however deep (a whole config section logged at once); other fields and errors pass through unchanged.
import { expect, it } from 'vitest';
import { REDACTED } from '../../../lib/config/index.js';
import { createLogger } from '../../../lib/log.js';
import { SecretScrubber } from '../../../lib/redact.js';

const SECRET = 'Sh0uld-N3ver-Print';

function capture(scrubber?: SecretScrubber): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return {
    lines,
    log: createLogger({ daemon: 'test', destination: { write: (s: string) => lines.push(s) }, scrubber }),
  };
}

it('redacts secrets at any depth and keeps everything else', () => {
  const { lines, log } = capture();
  const cfg = {
    alertDispatcher: { channels: { slack: { webhookUrl: SECRET, channel: '#ops' } } },
    http: { host: '127.0.0.1', token: SECRET, tokenFile: '/etc/contimg/token' },
    smtp: [{ relay: { smtpPassword: SECRET, port: 25 } }],
  };
  log.info({ cfg }, 'config loaded');
  log.child({ component: 'x' }).warn({ deep: { a: { b: { c: { apiKey: SECRET } } } } }, 'deep');
  const text = lines.join('');
  expect(text).not.toContain(SECRET);
  const first = JSON.parse(lines[0]) as { cfg: typeof cfg };
  expect(first.cfg.alertDispatcher.channels.slack).toEqual({ webhookUrl: REDACTED, channel: '#ops' });
  expect(first.cfg.http.tokenFile).toBe('/etc/contimg/token');
  expect(first.cfg.smtp[0].relay).toEqual({ smtpPassword: REDACTED, port: 25 });
  // The caller's object is not modified.
  expect(cfg.http.token).toBe(SECRET);
});

it('leaves errors to the err serializer', () => {
  const { lines, log } = capture();
  log.error({ err: new Error('disk full') }, 'write failed');
  expect((JSON.parse(lines[0]) as { err: { message: string } }).err.message).toBe('disk full');
});

it('uses lib/redact: env maps, argv, underscore names, URL credentials, child bindings, messages and errors', () => {
  const known = 'kn0wn-Secret-Value';
  const { lines, log } = capture(new SecretScrubber([known]));
  log.info(
    {
      argv: ['conv', '--password', SECRET, `--api-key=${SECRET}`],
      converter: { env: { PYTHONPATH: '/opt/x', AWS_SECRET_ACCESS_KEY: SECRET } },
      DB_PASSWD: SECRET,
      db: `postgres://ops:${SECRET}@h/db`,
    },
    'converter started',
  );
  log.child({ component: 'x', SLACK_WEBHOOK_URL: SECRET }).info('child');
  log.warn(`channel failed: ${known} rejected`);
  log.error({ err: new Error(`POST https://u:${SECRET}@hooks.example/x failed (${known})`) }, 'send failed');
  const text = lines.join('');
  expect(text).not.toContain(SECRET);
  expect(text).not.toContain(known);
  const first = JSON.parse(lines[0]) as { argv: string[]; converter: { env: Record<string, string> } };
  expect(first.argv).toEqual(['conv', '--password', REDACTED, `--api-key=${REDACTED}`]);
  expect(first.converter.env).toEqual({ PYTHONPATH: REDACTED, AWS_SECRET_ACCESS_KEY: REDACTED });
  expect((JSON.parse(lines[3]) as { err: { message: string } }).err.message).toContain('failed');
});

it('a non-Error under err is redacted as a value, not taken apart', () => {
  const { lines, log } = capture();
  log.error({ err: `failed: https://u:${SECRET}@h/x` }, 'odd throw');
  expect((JSON.parse(lines[0]) as { err: unknown }).err).toBe('failed: https://[redacted]@h/x');
});
