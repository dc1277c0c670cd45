// Each daemon's readiness and last sign of life, as the serving daemon sees it. Daemons share no heartbeat
// table, and a row a daemon writes says nothing about whether its HTTP server answers; so the serving daemon
// asks every other daemon what `contimg status` asks: its /healthz (uptime) and /readyz (checks), on the
// configured host and port from the daemon table, with the token. Its own readiness is read in-process.
// Answers are kept for a moment so many open pages cost one round of probes, and "last seen" is the last
// time a daemon answered while this daemon ran.
import type { ReadyReport } from '../http/index.js';
import { reachableHost } from '../http/reach.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { DAEMONS, type DaemonName } from '../daemon/types.js';
import type { DaemonView } from '../../web/status/contract.js';

export interface ProbeOptions {
  config: Config;
  self: DaemonName;
  /** The serving daemon's own readiness and start time. */
  readiness: () => ReadyReport;
  startedAt: number;
  token?: string;
  clock: Clock;
  /** How long one probe may take; default 1500 ms. */
  timeoutMs?: number;
  /** How long answers are reused; default 2000 ms. */
  cacheMs?: number;
}

function failingChecks(report: Pick<ReadyReport, 'checks'> | undefined): string[] {
  return Object.entries(report?.checks ?? {})
    .filter(([, c]) => !c.ok)
    .map(([name, c]) => (c.detail ? `${name}: ${c.detail}` : name));
}

export class DaemonProbe {
  private readonly lastSeen = new Map<DaemonName, number>();
  private cached: { at: number; views: Promise<DaemonView[]> } | null = null;

  constructor(private readonly o: ProbeOptions) {}

  /** Every daemon of the table, in table order. */
  views(): Promise<DaemonView[]> {
    const now = this.o.clock.now();
    if (this.cached && now - this.cached.at < (this.o.cacheMs ?? 2_000)) return this.cached.views;
    const views = Promise.all((Object.keys(DAEMONS) as DaemonName[]).map((n) => this.probe(n)));
    this.cached = { at: now, views };
    return views;
  }

  private port(name: DaemonName): number {
    return (this.o.config[DAEMONS[name].section] as { port: number }).port;
  }

  private async probe(name: DaemonName): Promise<DaemonView> {
    const { clock } = this.o;
    const base = { name, port: this.port(name), self: name === this.o.self };
    if (name === this.o.self) {
      const r = this.o.readiness();
      const now = clock.now();
      this.lastSeen.set(name, now);
      return {
        ...base,
        up: true,
        ready: r.ready,
        failing: failingChecks(r),
        uptimeS: Math.round((now - this.o.startedAt) / 1000),
        lastSeenAt: now,
        probedAt: now,
      };
    }
    const url = `http://${reachableHost(this.o.config.http.host)}:${base.port}`;
    const headers = this.o.token ? { authorization: `Bearer ${this.o.token}` } : undefined;
    const get = async (p: string): Promise<{ status: number; body: unknown }> => {
      const res = await fetch(url + p, { headers, signal: AbortSignal.timeout(this.o.timeoutMs ?? 1_500) });
      return { status: res.status, body: await res.json().catch(() => undefined) };
    };
    const [health, ready] = await Promise.allSettled([get('/healthz'), get('/readyz')]);
    const now = clock.now();
    const up = health.status === 'fulfilled' && health.value.status === 200;
    if (up) this.lastSeen.set(name, now);
    const readyBody =
      ready.status === 'fulfilled' ? (ready.value.body as Partial<ReadyReport> | undefined) : undefined;
    const uptime = up ? (health.value.body as { uptimeS?: unknown } | undefined)?.uptimeS : undefined;
    return {
      ...base,
      up,
      ready: up && ready.status === 'fulfilled' && ready.value.status === 200 && readyBody?.ready === true,
      failing: up
        ? ready.status === 'fulfilled' && ready.value.status === 401
          ? ['readyz: the token was refused']
          : failingChecks(readyBody as ReadyReport | undefined)
        : [],
      uptimeS: typeof uptime === 'number' ? uptime : null,
      lastSeenAt: this.lastSeen.get(name) ?? null,
      probedAt: now,
    };
  }
}
