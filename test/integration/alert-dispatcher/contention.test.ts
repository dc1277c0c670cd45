// SQLite contention: two writer processes raise and resolve alerts at 1000 updates a minute together while the
// built dispatcher routes and delivers. No SQLITE_BUSY escapes anywhere, every update is counted (alert
// events = the writers' transitions; the notification log ends equal to what is firing), and deliveries keep
// coming throughout.
import { execFile } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabases } from '../../helpers/db.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { startChild, stopChild, dispatcherConfig, type Child } from './child.js';
import { HttpPeer } from './peers.js';

const WRITER = path.join(REPO_ROOT, 'test/fixtures/alert-dispatcher/writer.ts');
let dir = '';
let child: Child | undefined;
const hook = new HttpPeer();
afterAll(async () => {
  await stopChild(child, 'SIGKILL');
  await hook.stop();
  removeTmpDir(dir);
});

function writer(
  statePath: string,
  prefix: string,
  perMin: number,
  ms: number,
): Promise<{ fired: number; resolved: number; updates: number; errors: number; busy: number }> {
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', WRITER, statePath, prefix, String(perMin), String(ms)],
      { cwd: REPO_ROOT },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout.trim()) as never),
    ),
  );
}

describe('SQLite contention', () => {
  it('1000 updates/min from two processes while delivering: nothing lost, no SQLITE_BUSY', async () => {
    dir = makeTmpDir('contimg-ad-contention-');
    const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
    await hook.start();
    const port = await freePort();
    const config = dispatcherConfig(
      dir,
      { statePath, pipelinePath },
      {
        port,
        tickMs: 100,
        groupWaitS: 0.5,
        groupIntervalS: 1,
        delivery: { pollMs: 100 },
        receivers: [{ name: 'hook', type: 'webhook', url: hook.url, rate: { perMinute: 0 }, concurrency: 4 }],
      },
    );
    child = await startChild(config, port);
    const t0 = Date.now();
    const [a, b] = await Promise.all([
      writer(statePath, 'Left', 500, 20_000),
      writer(statePath, 'Right', 500, 20_000),
    ]);
    const tEnd = Date.now();
    expect(a.errors + b.errors).toBe(0);
    expect(a.updates + b.updates).toBeGreaterThan(250);
    const db = new Database(statePath, { readonly: true });
    const q = <T>(sql: string): T[] => db.prepare(sql).all() as T[];
    try {
      // Quiet: every notification delivered and the log caught up with what is firing.
      await waitFor(
        () => {
          const pending = q<{ n: number }>(
            "SELECT count(*) AS n FROM notifications WHERE state NOT IN ('sent', 'superseded')",
          )[0].n;
          const firing = new Set(
            q<{ fingerprint: string; episode: number }>(
              "SELECT fingerprint, episode FROM alerts WHERE status = 'firing'",
            ).map((x) => `${x.fingerprint}:${x.episode}`),
          );
          const logged = new Set(
            q<{ notified: string }>('SELECT notified FROM alert_groups').flatMap((g) =>
              (JSON.parse(g.notified) as [string, number][]).map(([fp, ep]) => `${fp}:${ep}`),
            ),
          );
          return pending === 0 && firing.size === logged.size && [...firing].every((k) => logged.has(k));
        },
        { what: 'dispatcher caught up', timeoutMs: 30_000, intervalMs: 200 },
      );
      const events = q<{ event: string; n: number }>(
        'SELECT event, count(*) AS n FROM alert_events GROUP BY event',
      );
      const count = (e: string) => events.find((x) => x.event === e)?.n ?? 0;
      expect(count('fired')).toBe(a.fired + b.fired);
      expect(count('resolved')).toBe(a.resolved + b.resolved);
      expect(count('updated')).toBe(0);
      // Deliveries throughout the run, not only at the end.
      const during = hook.delivered.filter((r) => r.at > t0 && r.at < tEnd);
      for (let w = t0 + 2000; w < tEnd - 5000; w += 5000)
        expect(during.some((r) => r.at >= w && r.at < w + 5000)).toBe(true);
      const sent = q<{ n: number }>("SELECT count(*) AS n FROM notifications WHERE state = 'sent'")[0].n;
      expect(hook.delivered.length).toBe(sent);
    } finally {
      db.close();
    }
    const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(m).toMatch(/contimg_alerts_loop_errors_total\{loop="dispatch"\} 0/);
    expect(m).toMatch(/contimg_alerts_loop_errors_total\{loop="delivery"\} 0/);
    await stopChild(child);
    expect(child.out() + child.err()).not.toMatch(/SQLITE_BUSY|DB_BUSY|database is locked/);
  });
});
