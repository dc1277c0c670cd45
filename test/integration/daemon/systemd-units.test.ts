// The systemd units in ops/systemd: one per daemon plus contimg-migrate and contimg.target, with the settings
// the lifecycle relies on; and `systemd-analyze verify` finds nothing to complain about where it is installed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { DAEMON_NODE_FLAGS, DAEMONS } from '../../../lib/daemon/types.js';
import { DEFAULT_TIMEOUTS } from '../../../lib/timeouts.js';
import { REPO_ROOT } from '../../helpers/tmp.js';

const DIR = path.join(REPO_ROOT, 'ops/systemd');

function parseUnit(file: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1];
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    (out[section][key] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

it('has a notify unit per daemon with watchdog, drain, exit-78 and hardening settings', () => {
  const files = fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith('.service'))
    .sort();
  expect(files).toEqual(
    [...Object.keys(DAEMONS).map((n) => `contimg-${n}.service`), 'contimg-migrate.service'].sort(),
  );
  for (const name of Object.keys(DAEMONS)) {
    const u = parseUnit(path.join(DIR, `contimg-${name}.service`));
    const svc = u.Service;
    expect(svc.Type).toEqual(['notify']);
    expect(svc.NotifyAccess).toEqual(['all']);
    expect(svc.WatchdogSec).toEqual(['30']);
    expect(svc.KillMode).toEqual(['mixed']);
    expect(svc.RestartPreventExitStatus).toEqual(['78']);
    expect(svc.ExecStart).toEqual([
      `/usr/bin/node ${DAEMON_NODE_FLAGS.join(' ')} /opt/contimg/dist/daemons/${name}/main.js --config /etc/contimg/contimg.yaml`,
    ]);
    // systemd must not SIGKILL before the drain budget has run out.
    expect(Number(svc.TimeoutStopSec[0]) * 1000).toBeGreaterThan(DEFAULT_TIMEOUTS.drainMs);
    for (const k of ['NoNewPrivileges', 'PrivateTmp']) expect(svc[k]).toEqual(['yes']);
    expect(svc.ProtectSystem).toEqual(['strict']);
    expect(svc.ReadWritePaths?.length).toBe(1);
    // Start limits only work in [Unit] (the originals had them in [Service], where systemd ignores them).
    expect(u.Unit.StartLimitIntervalSec).toEqual(['300']);
    expect(svc.StartLimitIntervalSec).toBeUndefined();
    // Part of the set: started after the migration, stopped and restarted with contimg.target.
    expect(u.Unit.After.join(' ')).toMatch(/contimg-migrate\.service/);
    expect(u.Unit.PartOf).toEqual(['contimg.target']);
    expect(u.Install.WantedBy).toEqual(['contimg.target']);
  }
  const m = parseUnit(path.join(DIR, 'contimg-migrate.service')).Service;
  expect(m.Type).toEqual(['oneshot']);
  expect(m.ExecStart[0]).toMatch(/contimg\.js migrate up --db state/);
});

it('contimg.target runs the migration first, then wants every daemon of the daemon table', () => {
  const t = parseUnit(path.join(DIR, 'contimg.target'));
  expect(t.Unit.Requires).toEqual(['contimg-migrate.service']);
  expect(t.Unit.After).toEqual(['contimg-migrate.service']);
  const wants = t.Unit.Wants.flatMap((w) => w.split(/\s+/)).sort();
  expect(wants).toEqual(
    Object.keys(DAEMONS)
      .map((n) => `contimg-${n}.service`)
      .sort(),
  );
  expect(t.Install.WantedBy).toEqual(['multi-user.target']);
});

it('passes systemd-analyze verify without warnings (where systemd is installed)', () => {
  const files = fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith('.service') || f.endsWith('.target'))
    .map((f) => path.join(DIR, f));
  const r = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    // No systemd here (e.g. a container CI): the static checks above are what runs.
    expect(files).toHaveLength(7);
    return;
  }
  expect(r.stderr + r.stdout).toBe('');
  expect(r.status).toBe(0);
});
