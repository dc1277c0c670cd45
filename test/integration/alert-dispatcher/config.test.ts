// A bad alertDispatcher section: `contimg check-config` and the built daemon both exit 78 and list every
// problem as `path: message`, never a secret; a receiver secret file that cannot be read stops the daemon at
// start (exit 78) with the key path.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { spawnDispatcher, writeConfig } from './child.js';

const MARK = 'MARKER-7c1e';
let dir = '';
let dbs: { statePath: string; pipelinePath: string };
beforeAll(async () => {
  dir = makeTmpDir('contimg-ad-config-');
  dbs = await freshDatabases(path.join(dir, 'db'));
});
afterAll(() => removeTmpDir(dir));

function config(name: string, dispatcher: Record<string, unknown>): string {
  return writeConfig(dir, name, {
    dataDir: dir,
    databases: { state: dbs.statePath, pipeline: dbs.pipelinePath },
    alertDispatcher: { port: 0, ...dispatcher },
  });
}

const EXPECTED = [
  'alertDispatcher.bogus: unknown key',
  'alertDispatcher.routes.0.receivers.1: no receiver named "pager"',
  'alertDispatcher.failover.map: failover cycle: slack-ops → email-ops → slack-ops',
  'alertDispatcher.receivers.2.url: required: give url or urlFile',
  'alertDispatcher.receivers.3.url: expected an https:// URL (http:// only for a loopback host)',
  'alertDispatcher.routes.0.matchers.0: bad matcher',
  'alertDispatcher.inhibit.0.equal: at least one label',
];

describe('bad alertDispatcher config', () => {
  const bad = () =>
    config('bad.yaml', {
      bogus: 1,
      receivers: [
        { name: 'slack-ops', type: 'slack', url: `https://hooks.slack.com/services/${MARK}` },
        {
          name: 'email-ops',
          type: 'email',
          smtp: { host: 'smtp.example', password: `pw-${MARK}`, user: 'u' },
          from: 'a@b.c',
          to: ['x@y.z'],
        },
        { name: 'no-url', type: 'slack' },
        { name: 'plain', type: 'webhook', url: `http://example.com/hook/${MARK}`, token: `tok-${MARK}` },
      ],
      routes: [
        { matchers: ['alertname=~"("'], receivers: ['slack-ops', 'pager'] },
        { receivers: ['slack-ops'] },
      ],
      failover: { map: { 'slack-ops': 'email-ops', 'email-ops': 'slack-ops' } },
      inhibit: [{ source: ['severity="critical"'], target: ['severity="warning"'], equal: [] }],
    });

  it('check-config exits 78 listing every problem, no secret in the output', async () => {
    const r = await runCli(['check-config', '--config', bad()], { built: true });
    expect(r.code).toBe(78);
    for (const line of EXPECTED) expect(r.stderr).toContain(line);
    expect(r.stderr + r.stdout).not.toContain(MARK);
  });

  it('the built daemon exits 78 with the same lines', async () => {
    const c = spawnDispatcher(bad());
    const { code } = await c.exited;
    expect(code).toBe(78);
    for (const line of EXPECTED) expect(c.err()).toContain(line);
    expect(c.err() + c.out()).not.toContain(MARK);
  });

  it('--print-config of a valid config shows no secret', async () => {
    const secretFile = path.join(dir, 'slack-url');
    fs.writeFileSync(secretFile, `https://hooks.slack.com/services/${MARK}\n`);
    const f = config('good.yaml', {
      receivers: [
        { name: 'slack-ops', type: 'slack', urlFile: secretFile },
        { name: 'hook', type: 'webhook', url: `https://example.com/${MARK}`, hmacSecret: `h-${MARK}` },
      ],
    });
    const r = await runCli(['check-config', '--config', f, '--print-config'], { built: true });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(secretFile);
    expect(r.stdout).not.toContain(MARK);
  });

  it('an unreadable secret file or a non-https URL in it stops the daemon at start with exit 78', async () => {
    const urlFile = path.join(dir, 'webhook-url');
    fs.writeFileSync(urlFile, `http://example.com/${MARK}\n`);
    const f = config('files.yaml', {
      receivers: [
        { name: 'slack-ops', type: 'slack', urlFile: path.join(dir, 'missing-file') },
        { name: 'hook', type: 'webhook', urlFile },
      ],
    });
    expect((await runCli(['check-config', '--config', f], { built: true })).code).toBe(0);
    const c = spawnDispatcher(f);
    expect((await c.exited).code).toBe(78);
    expect(c.err()).toContain(
      `alertDispatcher.receivers.0.urlFile: cannot read ${path.join(dir, 'missing-file')} (ENOENT)`,
    );
    expect(c.err()).toContain('alertDispatcher.receivers.1.urlFile: the URL in');
    expect(c.err() + c.out()).not.toContain(MARK);
  });
});
