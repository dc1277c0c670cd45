// lib/redact, the one redaction helper: secret key names in every spelling, deep redaction of config-like
// objects (every env value, masked argv), argv masking, free-text scrubbing of known and recognisable secrets.
import { describe, expect, it } from 'vitest';
import {
  collectSecrets,
  isSecretKey,
  maskArgv,
  redact,
  redactError,
  REDACTED,
  SecretScrubber,
} from '../../../lib/redact.js';

describe('isSecretKey', () => {
  it.each([
    'token',
    'password',
    'webhookUrl',
    'apiKey',
    'smtpPassword',
    'SLACK_WEBHOOK_URL',
    'API_KEY',
    'DB_PASSWD',
    'DB_PASS',
    'AWS_SECRET_ACCESS_KEY',
    'PGPASSWORD',
    'GITHUB_TOKEN',
    'x-api-key',
    'client-secret',
    'authorization',
    'Authorization',
    'sentry_dsn',
    'privateKey',
    'hmacSecret',
  ])('%s is a secret', (k) => expect(isSecretKey(k)).toBe(true));

  it.each([
    'tokenFile',
    'passwordFile',
    'PASSWORD_FILE',
    'token_file',
    'webhookUrlFile',
    'tokenEnv',
    'host',
    'port',
    'bypass',
    'compass',
    'author',
    'key',
    'sortKey',
    'incomingDir',
    'resumeTtlMs',
    'PATH',
    'fencingToken',
    'fencing_token',
  ])('%s is not a secret', (k) => expect(isSecretKey(k)).toBe(false));

  it('counts a bare key or signature only in flags and query strings (loose)', () => {
    expect(isSecretKey('key', { loose: true })).toBe(true);
    expect(isSecretKey('sig', { loose: true })).toBe(true);
    expect(isSecretKey('keyFile', { loose: true })).toBe(false);
  });
});

describe('redact', () => {
  const cfg = {
    http: { host: '127.0.0.1', token: 'T0KEN-abc', tokenFile: '/etc/contimg/token', auth: true },
    streamingConverter: {
      converter: {
        argv: ['conv', '--password', 'Pw-111', '--token=Tk-222', '--out', '{out}'],
        env: { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T1/B2/XyZ', PATH: '/usr/bin', N: '4' },
      },
    },
    pipelineUrl: 'postgres://ops:Db-333@db.example.org/pipe',
    list: [{ apiKey: 12345 }, 'plain'],
  };

  it('replaces secret values, every env value and masked argv; keeps file paths, booleans and structure', () => {
    const out = redact(cfg);
    const text = JSON.stringify(out);
    for (const s of ['T0KEN-abc', 'Pw-111', 'Tk-222', 'XyZ', 'Db-333', '/usr/bin', '12345'])
      expect(text).not.toContain(s);
    expect(out.http).toEqual({
      host: '127.0.0.1',
      token: REDACTED,
      tokenFile: '/etc/contimg/token',
      auth: true,
    });
    expect(out.streamingConverter.converter.env).toEqual({
      SLACK_WEBHOOK_URL: REDACTED,
      PATH: REDACTED,
      N: REDACTED,
    });
    expect(out.streamingConverter.converter.argv).toEqual([
      'conv',
      '--password',
      REDACTED,
      `--token=${REDACTED}`,
      '--out',
      '{out}',
    ]);
    expect(out.pipelineUrl).toBe(`postgres://${REDACTED}@db.example.org/pipe`);
    expect(out.list).toEqual([{ apiKey: REDACTED }, 'plain']);
    // The input is untouched.
    expect(cfg.http.token).toBe('T0KEN-abc');
  });

  it('copies only along changed paths', () => {
    const clean = { a: { b: 1 }, c: ['x'] };
    expect(redact(clean)).toBe(clean);
  });
});

describe('maskArgv', () => {
  it('masks values of secret flags, assignments, URL credentials and query tokens', () => {
    expect(
      maskArgv([
        'python',
        'convert.py',
        '--api-key',
        'K-1',
        '--key',
        'K-2',
        '--verbose',
        '--secret',
        '--next',
        'DB_PASSWORD=K-3',
        '--db=postgres://u:K-4@h/x',
        'https://h/p?token=K-5&group=g',
        '--token-file',
        '/run/creds/token',
        '{manifest}',
      ]),
    ).toEqual([
      'python',
      'convert.py',
      '--api-key',
      REDACTED,
      '--key',
      REDACTED,
      '--verbose',
      '--secret',
      '--next',
      `DB_PASSWORD=${REDACTED}`,
      `--db=postgres://${REDACTED}@h/x`,
      `https://h/p?token=${REDACTED}&group=g`,
      '--token-file',
      '/run/creds/token',
      '{manifest}',
    ]);
  });
});

describe('SecretScrubber (free text, e.g. a channel error stored by the dispatcher)', () => {
  const webhook = 'https://hooks.example.net/services/T0AAAA1111/B0BBBB2222/abcdefghijklmnopqrstuvwx';
  const scrubber = new SecretScrubber([webhook, 'smtp-Pa55word!', 'eyJhbGciOiJIUzI1NiJ9.payload.sig', 'ab']);

  it('removes a webhook URL and its path, an SMTP password and a bearer token', () => {
    const texts = [
      `POST ${webhook} failed: 404 no_service`,
      'request to /services/T0AAAA1111/B0BBBB2222/abcdefghijklmnopqrstuvwx timed out',
      'token abcdefghijklmnopqrstuvwx rejected',
      '535 5.7.8 Authentication failed for user ops password smtp-Pa55word!',
      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig',
      `url encoded: ${encodeURIComponent(webhook)}`,
    ];
    for (const t of texts) {
      const s = scrubber.scrub(t);
      expect(s).toContain(REDACTED);
      for (const secret of [
        'abcdefghijklmnopqrstuvwx',
        'smtp-Pa55word!',
        'eyJhbGciOiJIUzI1NiJ9',
        'B0BBBB2222',
      ])
        expect(s).not.toContain(secret);
    }
  });

  it('recognises secrets it was not told: URL credentials, query tokens, bearer, Slack hooks, key=value', () => {
    const s = new SecretScrubber();
    const cases: [string, string][] = [
      ['connect https://bob:hunter22@h.example/x failed', 'hunter22'],
      ['GET /api?access_token=QQQ999&x=1', 'QQQ999'],
      ['got Bearer abcdEFGH1234 from client', 'abcdEFGH1234'],
      ['https://hooks.slack.com/services/T1/B2/SLACKSECRET returned 500', 'SLACKSECRET'],
      ['conninfo host=db password=pw-77 user=ops', 'pw-77'],
      ['{"error":"x","api_key":"KEY-88"}', 'KEY-88'],
    ];
    for (const [text, secret] of cases) expect(s.scrub(text)).not.toContain(secret);
    // Ordinary text stays as it is.
    const plain = 'group 2025-06-01T12:00:00 converted in 12 s (state=converted, token budget ok)';
    expect(s.scrub(plain)).toBe(plain);
  });

  it('does not register values too short to scrub safely', () => {
    expect(scrubber.scrub('a tab b')).toBe('a tab b');
  });
});

describe('collectSecrets and redactError', () => {
  it('finds secret values, secret-named env values, argv secrets, URL passwords and secret files', () => {
    const found = collectSecrets(
      {
        http: { tokenFile: '/f/token' },
        x: { password: 'P-1', env: { API_KEY: 'P-2', PATH: '/usr/bin' }, argv: ['c', '--token', 'P-3'] },
        url: 'https://u:P-4@h/',
      },
      (f) => (f === '/f/token' ? 'P-5\n' : undefined),
    );
    expect(found.sort()).toEqual(['P-1', 'P-2', 'P-3', 'P-4', 'P-5']);
  });

  it('drops transport internals of an error and scrubs its message', () => {
    const out = redactError({
      type: 'Error',
      message: 'Request failed: https://hooks.slack.com/services/T/B/SEKRIT',
      config: { url: 'https://hooks.slack.com/services/T/B/SEKRIT', headers: {} },
      response: { status: 404, statusText: 'Not Found', config: { url: 'x' }, data: 'no_service' },
      code: 'slack_webhook_http_error',
    });
    expect(JSON.stringify(out)).not.toContain('SEKRIT');
    expect(out).toMatchObject({ code: 'slack_webhook_http_error', response: { status: 404 } });
    expect(out).not.toHaveProperty('config');
  });
});
