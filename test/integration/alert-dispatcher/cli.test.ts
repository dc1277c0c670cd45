// The operator's commands: alerts ack/unack, silences add/list/expire, outbox list/show/retry, receivers
// list/test (against the running dispatcher), each read command with --json in the documented shape.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseAlert } from '../../../lib/alerts/index.js';
import { runCli } from '../../helpers/cli.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { freshDatabases } from '../../helpers/db.js';
import { openDb, type Db } from '../../../lib/db/index.js';
import { freePort } from '../../helpers/net.js';
import { waitFor } from '../../helpers/wait.js';
import { startChild, stopChild, dispatcherConfig, type Child } from './child.js';
import { HttpPeer } from './peers.js';

let dir = '';
let config = '';
let db: Db;
let child: Child | undefined;
let fp = '';
const slack = new HttpPeer();

beforeAll(async () => {
  dir = makeTmpDir('contimg-ad-cli-');
  const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
  await slack.start();
  slack.script = [{ status: 404, body: 'no_service' }];
  const port = await freePort();
  config = dispatcherConfig(
    dir,
    { statePath, pipelinePath },
    {
      port,
      groupWaitS: 0.1,
      receivers: [
        { name: 'slack-ops', type: 'slack', url: slack.url, rate: { perMinute: 0 } },
        { name: 'log', type: 'log' },
      ],
      routes: [{ receivers: ['slack-ops'] }],
    },
  );
  db = openDb({ name: 'state', path: statePath });
  child = await startChild(config, port);
  fp = db.write((c) =>
    raiseAlert(
      c,
      {
        alertname: 'DiskLow',
        severity: 'critical',
        labels: { path: '/data' },
        annotations: { summary: 'low' },
      },
      Date.now(),
    ),
  ).fingerprint;
  await waitFor(
    () =>
      (db.read((c) => c.prepare('SELECT state FROM notifications').get()) as { state: string } | undefined)
        ?.state === 'dead',
    { what: 'a dead notification' },
  );
});
afterAll(async () => {
  await stopChild(child);
  db.close();
  await slack.stop();
  removeTmpDir(dir);
});

const cli = (...args: string[]) => runCli([...args, '--config', config], { built: true });

describe('contimg outbox', () => {
  it('list --json has the documented shape; show has the attempts; retry sends a dead one again', async () => {
    const list = await cli('outbox', 'list', '--json');
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0]).sort()).toEqual([
      'attempts',
      'createdAt',
      'groupKey',
      'id',
      'kind',
      'receiver',
      'sentAt',
      'state',
    ]);
    expect(rows[0]).toMatchObject({
      receiver: 'slack-ops',
      kind: 'firing',
      state: 'dead',
      attempts: 1,
      groupKey: 'r0:{alertname="DiskLow"}',
      sentAt: null,
    });
    const show = JSON.parse((await cli('outbox', 'show', String(rows[0].id), '--json')).stdout) as {
      attemptLog: { result: string; httpStatus: number }[];
    };
    expect(show.attemptLog).toMatchObject([{ result: 'http_4xx', httpStatus: 404 }]);
    expect((await cli('outbox', 'list', '--state', 'dead')).stdout).toContain('slack-ops');
    const retry = await cli('outbox', 'retry', String(rows[0].id), '--json');
    expect(retry.code).toBe(0);
    await waitFor(() => slack.delivered.length === 1, { what: 'sent after retry' });
    const after = JSON.parse((await cli('outbox', 'list', '--json')).stdout) as {
      state: string;
      attempts: number;
    }[];
    expect(after[0]).toMatchObject({ state: 'sent', attempts: 1 });
    const again = await cli('outbox', 'retry', String(rows[0].id));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is sent: only dead or waiting ones can be retried');
    expect((await cli('outbox', 'show', 'x')).code).toBe(2);
  });
});

describe('contimg silences and alerts', () => {
  it('silences add --json, list, expire; bad matchers are refused', async () => {
    const add = await cli(
      'silences',
      'add',
      '--matcher',
      'alertname="DiskLow"',
      '--duration',
      '1h',
      '--comment',
      'maintenance',
      '--by',
      'ops',
      '--json',
    );
    expect(add.code).toBe(0);
    const s = JSON.parse(add.stdout) as { id: string; matchers: string[]; state: string; createdBy: string };
    expect(s).toMatchObject({ matchers: ['alertname="DiskLow"'], state: 'active', createdBy: 'ops' });
    const list = JSON.parse((await cli('silences', 'list', '--json')).stdout) as { id: string }[];
    expect(list.map((x) => x.id)).toEqual([s.id]);
    const alerts = JSON.parse((await cli('alerts', 'list', '--json')).stdout) as {
      fingerprint: string;
      state: string;
      silencedBy: string;
    }[];
    expect(alerts[0]).toMatchObject({ fingerprint: fp, state: 'muted', silencedBy: s.id });
    expect(JSON.parse((await cli('silences', 'expire', s.id, '--json')).stdout)).toMatchObject({
      state: 'expired',
    });
    const bad = await cli(
      'silences',
      'add',
      '--matcher',
      'alertname=~"("',
      '--duration',
      '1h',
      '--comment',
      'x',
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid regular expression');
    expect(
      (await cli('silences', 'add', '--matcher', 'a="b"', '--duration', '30d', '--comment', 'x')).stderr,
    ).toContain('at most 14 days');
  });

  it('alerts ack and unack', async () => {
    const ack = await cli(
      'alerts',
      'ack',
      fp,
      '--by',
      'alice',
      '--comment',
      'on it',
      '--for',
      '2h',
      '--json',
    );
    expect(ack.code).toBe(0);
    expect(JSON.parse(ack.stdout)).toMatchObject({
      fingerprint: fp,
      ackedBy: 'alice',
      comment: 'on it',
      episode: 1,
    });
    const shown = JSON.parse((await cli('alerts', 'show', fp, '--json')).stdout) as {
      state: string;
      ack: { ackedBy: string };
    };
    expect(shown).toMatchObject({ state: 'acked', ack: { ackedBy: 'alice' } });
    expect((await cli('alerts', 'unack', fp, '--json')).code).toBe(0);
    expect((await cli('alerts', 'unack', fp)).code).toBe(1);
    expect((await cli('alerts', 'ack', 'nope', '--by', 'x')).stderr).toContain(
      'no alert with fingerprint nope',
    );
  });
});

describe('contimg receivers', () => {
  it('list shows targets without secrets; test is delivered by the running dispatcher', async () => {
    const list = JSON.parse((await cli('receivers', 'list', '--json')).stdout) as {
      name: string;
      type: string;
      target: string;
    }[];
    expect(list.map((r) => [r.name, r.type])).toEqual([
      ['slack-ops', 'slack'],
      ['log', 'log'],
    ]);
    expect(list[0].target).toBe(`127.0.0.1:${slack.port}`);
    const test = await cli('receivers', 'test', 'slack-ops', '--json', '--wait', '20');
    expect(test.code).toBe(0);
    expect(JSON.parse(test.stdout)).toMatchObject({ receiver: 'slack-ops', state: 'sent' });
    expect(String(slack.delivered[slack.delivered.length - 1].json.text)).toContain('[TEST]');
    const missing = await cli('receivers', 'test', 'nope', '--wait', '0');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no receiver named "nope"');
  });
});
