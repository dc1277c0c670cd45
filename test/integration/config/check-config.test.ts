// The config test table: each bad file makes `contimg check-config` exit 78 naming the key path on stderr;
// --print-config redacts secrets; a daemon never logs a secret, even when its config is rejected.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { startChild, writeConfig } from '../daemon/helpers.js';

const SECRET = 'S3cr3t-Value-9f8e7d';

let dir: string;
beforeAll(() => {
  dir = makeTmpDir();
});
afterAll(() => removeTmpDir(dir));

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

const DB = 'databases: { state: state.sqlite3, pipeline: pipeline.sqlite3 }\n';

const TABLE: [string, string, RegExp][] = [
  ['unknown top-level key', `dataDir: .\n${DB}bogus: 1\n`, /bogus: unknown key/],
  ['unknown nested key', `dataDir: .\n${DB}http: { hots: 127.0.0.1 }\n`, /http\.hots: unknown key/],
  ['wrong type', `dataDir: .\n${DB}streamingConverter: { settleS: five }\n`, /streamingConverter\.settleS: /],
  ['wrong type in timeouts', `dataDir: .\n${DB}timeouts: { drainMs: -5 }\n`, /timeouts\.drainMs: /],
  [
    'secret and secret file',
    `dataDir: .\n${DB}http: { token: ${SECRET}, tokenFile: tok }\n`,
    /http\.token: give either/,
  ],
  [
    'bad path',
    `dataDir: .\ndatabases: { state: '', pipeline: p.sqlite3 }\n`,
    /databases\.state: expected a non-empty path/,
  ],
  ['missing required key', `dataDir: .\ndatabases: { state: s.sqlite3 }\n`, /databases\.pipeline: /],
  ['missing dataDir', `${DB}`, /dataDir: /],
  // Checks the daemons made only at start, now in the schema (check-config used to pass these).
  [
    'unknown argv placeholder',
    `dataDir: .\n${DB}streamingConverter: { converter: { argv: [conv, '{manifest}', '{python}'] } }\n`,
    /streamingConverter\.converter\.argv\.2: unknown placeholder \{python\}/,
  ],
  [
    'output name without the group',
    `dataDir: .\n${DB}streamingConverter: { converter: { outputName: '{grp}.ms' } }\n`,
    /streamingConverter\.converter\.outputName: unknown placeholder \{grp\}[\s\S]*must contain \{group\}/,
  ],
  [
    'two daemons on one port',
    `dataDir: .\n${DB}thumbnailWorker: { port: 9310 }\n`,
    /thumbnailWorker\.port: port 9310 is also streamingConverter\.port/,
  ],
  [
    'drainMs above its documented limit',
    `dataDir: .\n${DB}timeouts: { drainMs: 90000 }\n`,
    /timeouts\.drainMs: at most 55000/,
  ],
  [
    'a non-loopback bind without a token',
    `dataDir: .\n${DB}http: { host: 0.0.0.0 }\n`,
    /http\.token: required \(or http\.tokenFile\) when http\.host is not a loopback address/,
  ],
  [
    'no WebSocket connections allowed',
    `dataDir: .\n${DB}http: { wsMaxConnections: 0 }\n`,
    /http\.wsMaxConnections: /,
  ],
];

/** The same files, given to the daemon itself: it refuses them with the same key path and exit 78. */
const DAEMON_AGREES = TABLE.filter(([name]) =>
  ['unknown argv placeholder', 'two daemons on one port', 'a non-loopback bind without a token'].includes(
    name,
  ),
);

describe('contimg check-config', () => {
  it.each(TABLE)('%s → exit 78 with the key path', async (name, text, pattern) => {
    const f = file(`${name.replace(/\W+/g, '-')}.yaml`, text);
    const r = await runCli(['check-config', '--config', f]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr + r.stdout).not.toContain(SECRET);
  });

  it.each(DAEMON_AGREES)('the built daemon refuses %s the same way', async (name, text, pattern) => {
    const f = file(`daemon-${name.replace(/\W+/g, '-')}.yaml`, text);
    const r = await runCli(['run', 'streaming-converter', '--config', f], { built: true });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(pattern);
  });

  it.each([
    ['unterminated quote', `dataDir: .\n${DB}http:\n  token: "${SECRET}\nlog: {}\n`],
    ['nested mapping', `dataDir: .\n${DB}http:\n  token: ${SECRET}: x\n`],
    ['duplicate key', `dataDir: .\n${DB}http:\n  token: a\n  token: ${SECRET}\n`],
  ])('a YAML syntax error (%s) exits 78 with the line but never echoes the text', async (name, text) => {
    const res = await runCli([
      'check-config',
      '--config',
      file(`yaml-${name.replace(/\W/g, '-')}.yaml`, text),
    ]);
    expect(res.code).toBe(78);
    expect(res.stderr).toMatch(/YAML syntax error: .* at line \d+, column \d+/);
    expect(res.stderr + res.stdout).not.toContain(SECRET);
  });

  it('accepts the minimal file and ops/contimg.example.yaml', async () => {
    const minimal = file('minimal.yaml', `dataDir: .\n${DB}`);
    expect((await runCli(['check-config', '--config', minimal])).code).toBe(0);
    const example = await runCli([
      'check-config',
      '--config',
      path.join(REPO_ROOT, 'ops/contimg.example.yaml'),
    ]);
    expect(example.stderr).toBe('');
    expect(example.code).toBe(0);
  });

  it('--print-config shows defaults and redacts secrets but keeps secret file paths', async () => {
    const f = file('secret.yaml', `dataDir: .\n${DB}http: { token: ${SECRET} }\n`);
    const r = await runCli(['check-config', '--config', f, '--print-config']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(SECRET);
    const printed = JSON.parse(r.stdout) as { http: { token: string }; timeouts: { drainMs: number } };
    expect(printed.http.token).toBe('[redacted]');
    expect(printed.timeouts.drainMs).toBe(50_000);
    const g = file('secretfile.yaml', `dataDir: .\n${DB}http: { tokenFile: secrets/token }\n`);
    const r2 = await runCli(['check-config', '--config', g, '--print-config']);
    expect((JSON.parse(r2.stdout) as { http: { tokenFile: string } }).http.tokenFile).toBe(
      path.join(dir, 'secrets/token'),
    );
  });

  it('--print-config hides every converter env value and the secrets in the converter argv', async () => {
    const env = {
      SLACK_WEBHOOK_URL: `https://hooks.slack.com/services/T1/B2/${SECRET}-slack`,
      API_KEY: `${SECRET}-api`,
      DB_PASSWD: `${SECRET}-db`,
      AWS_SECRET_ACCESS_KEY: `${SECRET}-aws`,
      OMP_NUM_THREADS: '4',
    };
    const argv = ['conv', '{manifest}', '--password', `${SECRET}-pw`, `--db=postgres://u:${SECRET}-url@h/x`];
    const f = file(
      'env-secrets.yaml',
      `dataDir: .\n${DB}streamingConverter: ${JSON.stringify({ converter: { argv, env } })}\n`,
    );
    const r = await runCli(['check-config', '--config', f, '--print-config']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(SECRET);
    const printed = JSON.parse(r.stdout) as {
      streamingConverter: { converter: { env: Record<string, string>; argv: string[] } };
    };
    expect(printed.streamingConverter.converter.env).toEqual(
      Object.fromEntries(Object.keys(env).map((k) => [k, '[redacted]'])),
    );
    expect(printed.streamingConverter.converter.argv).toEqual([
      'conv',
      '{manifest}',
      '--password',
      '[redacted]',
      '--db=postgres://[redacted]@h/x',
    ]);
  });
});

describe('secrets in daemon output', () => {
  it('a running daemon with a token never prints it, even at debug level and on bad requests', async () => {
    const d = makeTmpDir();
    try {
      const db = await freshDatabases(d);
      fs.writeFileSync(path.join(d, 'token'), `${SECRET}\n`);
      const cfg = writeConfig(d, {
        dataDir: d,
        databases: { state: db.statePath, pipeline: db.pipelinePath },
        http: { tokenFile: 'token' },
        log: { level: 'trace' },
        scheduler: { port: 0 },
      });
      const c = startChild(cfg);
      const ready = await waitFor(() => c.find('ready'), { what: 'ready' });
      const url = `http://127.0.0.1:${ready.port as number}`;
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${SECRET}` } })).status).toBe(
        200,
      );
      expect((await fetch(`${url}/nope`, { headers: { authorization: `Bearer ${SECRET}` } })).status).toBe(
        404,
      );
      c.child.kill('SIGTERM');
      expect((await c.exit).code).toBe(0);
      expect(c.find('listening')?.auth).toBe(true);
      expect([...c.stdout, ...c.stderr].join('\n')).not.toContain(SECRET);
    } finally {
      removeTmpDir(d);
    }
  });

  it('a daemon with a bad config exits 78, names the key path and does not echo the secret', async () => {
    const f = file(
      'daemon-bad.yaml',
      `dataDir: .\n${DB}http: { token: ${SECRET}, tokenFile: tok }\nscheduler: { port: 0 }\n`,
    );
    const c = startChild(f);
    expect((await c.exit).code).toBe(78);
    expect(c.stderr.join('\n')).toMatch(/http\.token: give either/);
    expect([...c.stdout, ...c.stderr].join('\n')).not.toContain(SECRET);
  });
});
