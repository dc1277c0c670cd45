// The health probes that need no command: HTTP endpoints (node:http), SQLite files (a read-only connection that
// never waits on a lock inside SQLite, so a locked file cannot stall the event loop) and disks (statfs).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { sleep } from '../../../lib/clock.js';
import { openDb } from '../../../lib/db/index.js';
import { probeFailed, result, type TargetResult } from './status.js';

const since = (t0: number): number => performance.now() - t0;

// ---- http ---------------------------------------------------------------------------------------------

export interface HttpTarget {
  name: string;
  url: string;
  expectStatus: number;
  timeoutMs: number;
  critical: boolean;
  token?: string;
}

/** The expected status → ok; another status below 500 → warn; 500 and above, refused, timeout → crit. */
export function httpStatus(
  t: Pick<HttpTarget, 'name' | 'url' | 'expectStatus'>,
  outcome: { status: number } | { error: string },
): Pick<TargetResult, 'status' | 'legacy' | 'detail' | 'alert' | 'value'> {
  const down = (detail: string) => ({
    alertname: 'HttpEndpointDown',
    severity: 'critical' as const,
    labels: { endpoint: t.name },
    summary: `${t.name} (${t.url}) is down: ${detail}`,
  });
  if ('error' in outcome)
    return {
      status: 'crit',
      legacy: 'stopped',
      detail: outcome.error,
      value: null,
      alert: down(outcome.error),
    };
  const s = outcome.status;
  const detail = `HTTP ${s}${s === t.expectStatus ? '' : ` (expected ${t.expectStatus})`}`;
  if (s === t.expectStatus) return { status: 'ok', legacy: 'running', detail, value: s, alert: null };
  if (s < 500)
    return {
      status: 'warn',
      legacy: 'degraded',
      detail,
      value: s,
      alert: {
        alertname: 'HttpEndpointDegraded',
        severity: 'warning',
        labels: { endpoint: t.name },
        summary: `${t.name} (${t.url}) answers ${detail}`,
      },
    };
  return { status: 'crit', legacy: 'error', detail, value: s, alert: down(detail) };
}

function requestError(e: unknown, timeoutMs: number): string {
  const err = e as { name?: string; code?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return err.code ?? err.cause?.code ?? err.cause?.message ?? (e as Error).message;
}

/**
 * GET url and resolve with the status once the headers arrive (the body is drained and dropped). node:http
 * rather than fetch: undici would add ~12 MB to an otherwise idle daemon for a handful of probes. The deadline
 * is a plain timer and the caller's signal a plain listener: http's own `signal` option holds its signal
 * weakly, and a composite AbortSignal.any() that nothing else references can be collected before it fires.
 */
function getStatus(
  url: string,
  signal: AbortSignal,
  timeoutMs: number,
  token: string | undefined,
): Promise<number> {
  const u = new URL(url);
  const get = u.protocol === 'https:' ? https.get : http.get;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const req = get(u, { agent: false, headers }, (res) => {
      done();
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    const onAbort = (): void => void req.destroy(signal.reason as Error);
    const timer = setTimeout(
      () =>
        req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError' })),
      timeoutMs,
    );
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    req.once('error', (e) => {
      done();
      reject(e);
    });
  });
}

export async function probeHttp(t: HttpTarget, signal: AbortSignal): Promise<TargetResult> {
  const base = { kind: 'http' as const, name: t.name, critical: t.critical };
  const t0 = performance.now();
  let outcome: { status: number } | { error: string };
  try {
    outcome = { status: await getStatus(t.url, signal, t.timeoutMs, t.token) };
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    outcome = { error: requestError(e, t.timeoutMs) };
  }
  return result(base, { ...httpStatus(t, outcome), data: {}, durationMs: since(t0) });
}

// ---- sqlite -------------------------------------------------------------------------------------------

export interface SqliteTarget {
  name: string;
  path: string;
  quickCheck: boolean;
  timeoutMs: number;
  critical: boolean;
}

const BUSY = /^SQLITE_(BUSY|LOCKED)/;

/** Open read-only, SELECT 1 (and quick_check); a lock is retried without blocking until the deadline. */
export async function probeSqlite(t: SqliteTarget, signal: AbortSignal): Promise<TargetResult> {
  const base = { kind: 'sqlite' as const, name: t.name, critical: t.critical };
  const t0 = performance.now();
  const crit = (detail: string): TargetResult =>
    result(base, {
      status: 'crit',
      legacy: 'error',
      detail,
      value: null,
      data: { path: t.path },
      durationMs: since(t0),
      alert: {
        alertname: 'SqliteDatabaseUnhealthy',
        severity: 'critical',
        labels: { db: t.name },
        summary: `database ${t.name} (${t.path}): ${detail}`,
      },
    });
  if (!fs.existsSync(t.path)) return crit('file missing');
  let db;
  try {
    db = openDb({ name: t.name, path: t.path, readonly: true, busyTimeoutMs: 0 });
  } catch (e) {
    return crit(`cannot open: ${(e as Error).message}`);
  }
  try {
    for (;;) {
      signal.throwIfAborted();
      try {
        db.reader.prepare('SELECT 1').get();
        if (t.quickCheck) {
          const rows = db.reader.pragma('quick_check') as { quick_check: string }[];
          const bad = rows.map((r) => r.quick_check).filter((x) => x !== 'ok');
          if (bad.length) return crit(`quick_check: ${bad.slice(0, 3).join('; ')}`);
        }
        const sizeBytes = fs.statSync(t.path).size;
        return result(base, {
          status: 'ok',
          legacy: 'running',
          detail: `select 1 in ${since(t0).toFixed(1)} ms`,
          value: sizeBytes,
          data: { path: t.path, sizeBytes },
          durationMs: since(t0),
          alert: null,
        });
      } catch (e) {
        const code = String((e as { code?: unknown }).code ?? '');
        if (!BUSY.test(code)) return crit((e as Error).message);
        if (since(t0) >= t.timeoutMs) return crit(`locked for more than ${t.timeoutMs} ms`);
        await sleep(25, signal);
      }
    }
  } finally {
    db.close();
  }
}

// ---- disks --------------------------------------------------------------------------------------------

export interface DiskTarget {
  name: string;
  path: string;
  warnFreePct: number;
  critFreePct: number;
  critical: boolean;
}

export interface DiskUsage {
  freeBytes: number;
  sizeBytes: number;
}

export function diskStatus(
  t: DiskTarget,
  u: DiskUsage,
): Pick<TargetResult, 'status' | 'detail' | 'alert' | 'value'> {
  const ratio = u.sizeBytes > 0 ? u.freeBytes / u.sizeBytes : 0;
  const pct = ratio * 100;
  const detail = `${t.path}: ${pct.toFixed(1)} % free (${(u.freeBytes / 1e9).toFixed(1)} of ${(u.sizeBytes / 1e9).toFixed(1)} GB)`;
  if (pct >= t.warnFreePct) return { status: 'ok', detail, value: ratio, alert: null };
  const crit = pct < t.critFreePct;
  return {
    status: crit ? 'crit' : 'warn',
    detail,
    value: ratio,
    alert: {
      alertname: 'DiskSpaceLow',
      severity: crit ? 'critical' : 'warning',
      labels: { path: t.path },
      summary: `${t.path}: only ${pct.toFixed(1)} % free (limit ${crit ? t.critFreePct : t.warnFreePct} %)`,
    },
  };
}

export async function probeDisk(
  t: DiskTarget,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<TargetResult> {
  const base = { kind: 'disk' as const, name: t.name, critical: t.critical };
  const t0 = performance.now();
  let s: fs.StatsFs;
  const timer = new AbortController();
  try {
    // statfs cannot be cancelled (a hung network mount): the race gives the answer at the deadline anyway.
    s = await Promise.race([
      fs.promises.statfs(t.path),
      sleep(timeoutMs, AbortSignal.any([signal, timer.signal])).then(() => {
        throw new Error(`statfs timed out after ${timeoutMs} ms`);
      }),
    ]);
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    return probeFailed(base, (e as NodeJS.ErrnoException).code ?? (e as Error).message, since(t0));
  } finally {
    timer.abort();
  }
  const usage = { freeBytes: s.bavail * s.bsize, sizeBytes: s.blocks * s.bsize };
  const st = diskStatus(t, usage);
  return result(base, {
    ...st,
    legacy: st.status === 'ok' ? 'running' : st.status === 'warn' ? 'degraded' : 'error',
    data: { ...usage, path: t.path },
    durationMs: since(t0),
  });
}
