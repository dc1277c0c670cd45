// `contimg dev --with-prometheus`: the built daemons plus a real Prometheus on loopback with the shipped
// rules, its URL printed, every daemon scraped; stopped with the rest on SIGTERM. Without prometheus on PATH
// the flag is a usage error that says what to install.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { makeTmpDir, removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { pidAlive } from '../integration/converter/proc.js';
import { builtDaemons, loadRules } from './helpers.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) removeTmpDir(dir);
  dir = undefined;
});

describe('contimg dev --with-prometheus', () => {
  it('runs Prometheus with our rules against the demo daemons and stops it with them', async () => {
    dir = makeTmpDir('contimg-devprom-');
    const base = ((await freePort()) % 40_000) + 20_000;
    const promPort = await freePort();
    let out = '';
    const { child, done } = spawnCli(
      [
        'dev',
        ...['--data-dir', path.join(dir, 'var'), '--port-base', String(base), '--no-simulate'],
        ...['--with-prometheus', '--prometheus-port', String(promPort), '--for-seconds', '120'],
      ],
      { built: true, timeoutMs: 150_000 },
    );
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const url = `http://127.0.0.1:${promPort}`;
      const pid = await waitFor(
        () => new RegExp(`started prometheus \\(pid (\\d+)\\): ${url}`).exec(out)?.[1],
        {
          what: `the prometheus line (${out.slice(-2000)})`,
          timeoutMs: 60_000,
          intervalMs: 100,
        },
      );
      const names = builtDaemons();
      const targets = await waitFor(
        async () => {
          const body = (await (await fetch(`${url}/api/v1/targets`)).json()) as {
            data: { activeTargets: { labels: { job: string }; health: string }[] };
          };
          const t = body.data.activeTargets;
          return t.length === names.length && t.every((x) => x.health === 'up') && t;
        },
        { what: 'every demo daemon scraped', timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(targets.map((t) => t.labels.job).sort()).toEqual([...names].sort());
      const rules = (await (await fetch(`${url}/api/v1/rules`)).json()) as {
        data: { groups: { name: string; rules: { name: string; health: string }[] }[] };
      };
      const loaded = rules.data.groups.flatMap((g) => g.rules.map((r) => r.name)).sort();
      const shipped = loadRules()
        .map((r) => (r.alert ?? r.record)!)
        .sort();
      expect(loaded).toEqual(shipped);

      child.kill('SIGTERM');
      expect((await done).code).toBe(0);
      expect(pidAlive(Number(pid))).toBe(false);
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await done;
      }
    }
  });

  it('without prometheus on PATH, says what to install and exits 2 before starting anything', async () => {
    dir = makeTmpDir('contimg-devprom-');
    // A PATH with node and nothing else (node and prometheus share /usr/bin on Debian).
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    const base = ((await freePort()) % 40_000) + 20_000;
    const r = await runCli(
      [
        'dev',
        '--data-dir',
        path.join(dir, 'var'),
        '--port-base',
        String(base),
        '--with-prometheus',
        '--no-simulate',
      ],
      { built: true, env: { PATH: bin }, timeoutMs: 30_000 },
    );
    expect(r.stderr).toMatch(
      /prometheus is not on PATH .*apt-get install -y --no-install-recommends prometheus/,
    );
    expect(r.code).toBe(2);
    expect(r.stdout).not.toMatch(/started/);
  });
});
