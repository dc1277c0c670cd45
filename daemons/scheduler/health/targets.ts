// The health targets of a config: the lists of `scheduler.health`, and where a list is left unset, the
// defaults derived from the rest of the config: every other daemon's /readyz (with the daemons' token), the
// state and pipeline databases, and the data folder's disk, all critical.
import type { Config } from '../../../lib/config/index.js';
import { diskName } from '../../../lib/config/sections/scheduler.js';
import { DAEMONS, type DaemonName } from '../../../lib/daemon/types.js';
import { reachableHost } from '../../../lib/http/reach.js';
import { probeDocker, probeGpus, probeSystemd, type ProbeContext } from './commands.js';
import {
  probeDisk,
  probeHttp,
  probeSqlite,
  type DiskTarget,
  type HttpTarget,
  type SqliteTarget,
} from './local.js';
import type { HealthKind, TargetResult } from './status.js';

export interface Probe {
  kind: HealthKind;
  /** What the probe looks at (a unit, a URL's name, a path), for logs. */
  label: string;
  run(ctx: ProbeContext): Promise<TargetResult[]>;
}

const one = (p: Promise<TargetResult>): Promise<TargetResult[]> => p.then((r) => [r]);

export function httpTargets(config: Config, daemonToken: string | undefined): HttpTarget[] {
  const listed = config.scheduler.health.http;
  if (listed) return listed.map((h) => ({ ...h, token: h.sendToken ? daemonToken : undefined }));
  const host = reachableHost(config.http.host);
  return (Object.keys(DAEMONS) as DaemonName[])
    .filter((d) => d !== 'scheduler')
    .map((d) => ({
      name: d,
      url: `http://${host}:${(config[DAEMONS[d].section] as { port: number }).port}/readyz`,
      expectStatus: 200,
      timeoutMs: 5000,
      critical: true,
      token: daemonToken,
    }));
}

export function sqliteTargets(config: Config): SqliteTarget[] {
  return (
    config.scheduler.health.sqlite ??
    (['state', 'pipeline'] as const).map((name) => ({
      name,
      path: config.databases[name],
      quickCheck: false,
      timeoutMs: 5000,
      critical: true,
    }))
  );
}

export function diskTargets(config: Config): DiskTarget[] {
  const listed = config.scheduler.health.disks;
  if (listed) return listed.map((d) => ({ ...d, name: diskName(d) }));
  return [{ name: 'data', path: config.dataDir, warnFreePct: 25, critFreePct: 15, critical: true }];
}

/** Every probe the config asks for, in a stable order. */
export function healthProbes(config: Config, daemonToken?: string): Probe[] {
  const h = config.scheduler.health;
  const probes: Probe[] = [];
  for (const u of h.systemd.units)
    probes.push({
      kind: 'systemd',
      label: u.unit,
      run: (ctx) => one(probeSystemd(u.unit, { critical: u.critical, timeoutMs: h.systemd.timeoutMs }, ctx)),
    });
  for (const c of h.docker.containers)
    probes.push({ kind: 'docker', label: c, run: (ctx) => one(probeDocker(c, h.docker, ctx)) });
  for (const t of httpTargets(config, daemonToken))
    probes.push({ kind: 'http', label: t.name, run: (ctx) => one(probeHttp(t, ctx.signal)) });
  for (const t of sqliteTargets(config))
    probes.push({ kind: 'sqlite', label: t.name, run: (ctx) => one(probeSqlite(t, ctx.signal)) });
  for (const t of diskTargets(config))
    probes.push({ kind: 'disk', label: t.name, run: (ctx) => one(probeDisk(t, ctx.signal, 5000)) });
  if (h.gpu.enabled !== false)
    probes.push({ kind: 'gpu', label: 'nvidia-smi', run: (ctx) => probeGpus(h.gpu, ctx) });
  return probes;
}
