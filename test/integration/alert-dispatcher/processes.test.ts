// The built dispatcher as a child process where crashes matter: SIGKILL while Slack holds the request (the
// attempt is recorded crashed, the notification re-sent and sent with attempts = 2, the others in order, one
// completed request each); a restart does not re-page (nothing until the repeat interval); two dispatchers on
// one database never send one notification twice.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { raiseAlert } from '../../../lib/alerts/index.js';
import { openDb } from '../../../lib/db/index.js';
import { freshDatabases } from '../../helpers/db.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { startChild, stopChild, dispatcherConfig, type Child } from './child.js';
import { HttpPeer } from './peers.js';

let dir = '';
const children: Child[] = [];
const peers: HttpPeer[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) await stopChild(c, 'SIGKILL');
  for (const p of peers.splice(0)) await p.stop();
  removeTmpDir(dir);
});

async function setup(
  dispatcher: Record<string, unknown>,
): Promise<{ statePath: string; config: (port: number, name?: string) => string }> {
  dir = makeTmpDir('contimg-ad-proc-');
  const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
  const config = (port: number, name = 'contimg.yaml'): string =>
    dispatcherConfig(
      dir,
      { statePath, pipelinePath },
      { port, ...dispatcher },
      { name, top: { log: { level: 'info' } } },
    );
  return { statePath, config };
}

function raiseIn(statePath: string, alerts: [string, Record<string, string>][]): void {
  const db = openDb({ name: 'state', path: statePath });
  try {
    db.write((c) => {
      for (const [alertname, labels] of alerts)
        raiseAlert(
          c,
          {
            alertname,
            severity: 'warning',
            labels,
            annotations: { summary: `${alertname} bad` },
            source: 'test',
          },
          Date.now(),
        );
    });
  } finally {
    db.close();
  }
}

function rows<T>(statePath: string, sql: string): T[] {
  const db = new Database(statePath, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe('built dispatcher, crashes and restarts', () => {
  it('SIGKILL mid-send: the attempt is crashed, the notification re-sent once and sent with attempts = 2', async () => {
    const slack = new HttpPeer();
    peers.push(slack);
    await slack.start();
    const { statePath, config } = await setup({
      groupWaitS: 0.2,
      receivers: [
        {
          name: 'slack-ops',
          type: 'slack',
          url: slack.url,
          timeoutMs: 60_000,
          concurrency: 1,
          rate: { perMinute: 0 },
        },
      ],
    });
    slack.script = ['hang'];
    const port = await freePort();
    const file = config(port);
    const first = await startChild(file, port);
    children.push(first);
    raiseIn(statePath, [['AlertA', {}]]);
    await waitFor(() => slack.requests.length === 1, { what: 'A held by Slack' });
    raiseIn(statePath, [
      ['AlertB', {}],
      ['AlertC', {}],
    ]);
    await waitFor(() => rows(statePath, 'SELECT id FROM notifications').length === 3, {
      what: 'B and C queued',
    });
    await stopChild(first, 'SIGKILL');
    expect(
      rows<{ state: string }>(statePath, 'SELECT state FROM notifications ORDER BY id').map((n) => n.state),
    ).toEqual(['sending', 'pending', 'pending']);

    const second = await startChild(file, port);
    children.push(second);
    await waitFor(
      () =>
        rows<{ state: string }>(statePath, "SELECT state FROM notifications WHERE state <> 'sent'").length ===
        0,
      { what: 'all sent' },
    );
    const notes = rows<{ id: number; group_key: string; attempts: number }>(
      statePath,
      'SELECT id, group_key, attempts FROM notifications ORDER BY id',
    );
    expect(notes.map((n) => n.attempts)).toEqual([2, 1, 1]);
    const a = rows<{ notification_id: number; attempt_no: number; result: string; error: string | null }>(
      statePath,
      'SELECT * FROM delivery_attempts ORDER BY id',
    );
    expect(a.filter((x) => x.notification_id === notes[0].id).map((x) => x.result)).toEqual([
      'crashed',
      'ok',
    ]);
    expect(a.find((x) => x.result === 'crashed')!.error).toContain('stopped during this attempt');
    // One completed request per notification; the killed one never completed. B and C kept their order.
    expect(slack.requests).toHaveLength(4);
    expect(slack.delivered.map((q) => String(q.json.text))).toEqual([
      '[FIRING:1] AlertB · warning',
      '[FIRING:1] AlertC · warning',
      '[FIRING:1] AlertA · warning',
    ]);
  });

  it('a restart does not re-page: nothing until the repeat interval', async () => {
    const slack = new HttpPeer();
    peers.push(slack);
    await slack.start();
    const { statePath, config } = await setup({
      groupWaitS: 0.2,
      groupIntervalS: 1,
      repeatIntervalS: { warning: 8 },
      receivers: [{ name: 'slack-ops', type: 'slack', url: slack.url, rate: { perMinute: 0 } }],
    });
    const port = await freePort();
    const file = config(port);
    const first = await startChild(file, port);
    children.push(first);
    raiseIn(statePath, [['StillFiring', { unit: 'x' }]]);
    await waitFor(() => slack.delivered.length === 1, { what: 'first message' });
    const t0 = slack.delivered[0].at;
    await stopChild(first);
    const second = await startChild(file, port);
    children.push(second);
    // Restarted within a second: for the rest of the 8 s repeat interval nothing is sent.
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + 6000 - Date.now())));
    expect(slack.delivered).toHaveLength(1);
    await waitFor(() => slack.delivered.length === 2, { what: 'the repeat', timeoutMs: 20_000 });
    // The repeat interval runs from the flush that planned the first message (its created_at), not from its
    // arrival here, which trails the flush by the delivery time (hundreds of ms on a loaded machine).
    const sent = rows<{ kind: string; created_at: number }>(
      statePath,
      'SELECT kind, created_at FROM notifications ORDER BY id',
    );
    expect(sent.map((n) => n.kind)).toEqual(['firing', 'repeat']);
    expect(sent[1]!.created_at - sent[0]!.created_at).toBeGreaterThanOrEqual(8000);
    expect(slack.delivered[1].at - sent[0]!.created_at).toBeGreaterThanOrEqual(7900);
  });

  it('two dispatchers on one database: each notification delivered exactly once', async () => {
    const hook = new HttpPeer();
    peers.push(hook);
    hook.delayMs = 15;
    await hook.start();
    const { statePath, config } = await setup({
      groupWaitS: 0.1,
      groupIntervalS: 0.5,
      groupBy: ['alertname', 'n'],
      storm: { maxGroupsPerFlush: 1000 },
      receivers: [{ name: 'hook', type: 'webhook', url: hook.url, concurrency: 2, rate: { perMinute: 0 } }],
    });
    const [p1, p2] = [await freePort(), await freePort()];
    const a = await startChild(config(p1, 'a.yaml'), p1);
    children.push(a);
    const b = await startChild(config(p2, 'b.yaml'), p2);
    children.push(b);
    for (let round = 0; round < 4; round++) {
      raiseIn(
        statePath,
        Array.from(
          { length: 30 },
          (_, i) => [`Twin${round}`, { n: String(i) }] as [string, Record<string, string>],
        ),
      );
      await new Promise((r) => setTimeout(r, 150));
    }
    await waitFor(
      () =>
        rows(statePath, 'SELECT id FROM notifications').length === 120 &&
        rows(statePath, "SELECT id FROM notifications WHERE state <> 'sent'").length === 0,
      {
        what: '120 notifications sent',
        timeoutMs: 60_000,
      },
    );
    const keys = hook.delivered.map((q) => q.headers['idempotency-key']);
    expect(keys).toHaveLength(120);
    expect(new Set(keys).size).toBe(120);
    const owners = rows<{ owner: string }>(statePath, 'SELECT DISTINCT owner FROM delivery_attempts');
    expect(owners.length).toBe(2);
    expect(rows(statePath, "SELECT id FROM delivery_attempts WHERE result <> 'ok'")).toHaveLength(0);
  });
});
