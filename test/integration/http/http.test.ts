// lib/http on a real socket: built-in endpoints, JSON routes with the lib/errors status mapping, readiness
// checks (including a schema change under a running daemon), metrics, and the bearer token.
import net from 'node:net';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { DbBusyError, InvalidStateError, NotFoundError } from '../../../lib/errors.js';
import { isLoopbackHost } from '../../../lib/http/index.js';
import { idleDaemonPerTest } from '../ws/helpers.js';

const daemons = idleDaemonPerTest();

const base = (d: RunningDaemon) => `http://127.0.0.1:${d.port}`;

describe('built-in endpoints', () => {
  it('serves /healthz, /readyz and /metrics with every platform series declared', async () => {
    const daemon = await daemons.start();
    const health = await fetch(`${base(daemon)}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true });
    const ready = await fetch(`${base(daemon)}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    expect(body.ready).toBe(true);
    expect(Object.keys(body.checks).sort()).toEqual([
      'db_pipeline',
      'db_state',
      'draining',
      'schema_pipeline',
      'schema_state',
    ]);
    const metrics = await (await fetch(`${base(daemon)}/metrics`)).text();
    // Histograms too are initialised for every known label value (the pipeline database is never written).
    expect(metrics).toContain('contimg_db_tx_seconds_count{db="pipeline",kind="write"} 0');
    expect(metrics).toContain('contimg_db_lock_wait_seconds_count{db="pipeline"} 0');
    for (const name of [
      'contimg_http_requests_total{route="/readyz",code="200"} 1',
      'contimg_ws_connections{endpoint="/ws"} 0',
      'contimg_ws_disconnects_total{reason="heartbeat_timeout"} 0',
      'contimg_ws_messages_total{type="event"} 0',
      'contimg_db_busy_timeouts_total{db="state"} 0',
      'contimg_build_info{daemon="scheduler"',
      // prom-client's default metrics under the contimg_ prefix (process_* and nodejs_* families).
      'contimg_nodejs_eventloop_lag_seconds',
      'contimg_process_cpu_user_seconds_total',
    ]) {
      expect(metrics).toContain(name);
    }
  });

  it('reports 503 with the failing check when the schema changes under it or a daemon check fails', async () => {
    const daemon = await daemons.start();
    const conn = new Database(daemon.deps.state.path);
    conn.pragma(`user_version = ${daemon.deps.state.userVersion() + 1}`);
    conn.close();
    const res = await fetch(`${base(daemon)}/readyz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as {
      ready: boolean;
      checks: Record<string, { ok: boolean; detail: string }>;
    };
    expect(body.ready).toBe(false);
    expect(body.checks.schema_state.ok).toBe(false);
    expect(body.checks.schema_state.detail).toMatch(/user_version \d+, expected \d+/);
    expect(body.checks.db_state.ok).toBe(true);

    daemon.deps.addReadinessCheck('watcher', () => ({ ok: false, detail: 'incoming dir missing' }));
    const again = (await (await fetch(`${base(daemon)}/readyz`)).json()) as {
      checks: Record<string, unknown>;
    };
    expect(again.checks.watcher).toEqual({ ok: false, detail: 'incoming dir missing' });

    // The same verdicts as a series per check, for Prometheus (ContimgDaemonNotReady).
    const metrics = await (await fetch(`${base(daemon)}/metrics`)).text();
    expect(metrics).toContain('contimg_ready{check="schema_state"} 0');
    expect(metrics).toContain('contimg_ready{check="watcher"} 0');
    expect(metrics).toContain('contimg_ready{check="db_state"} 1');
    expect(metrics).toContain('contimg_ready{check="draining"} 1');
  });
});

describe('readiness under write-lock exhaustion', () => {
  it('turns /readyz 503 (db_state) after a write gives up on the budget, and 200 once a write succeeds', async () => {
    const daemon = await daemons.start({
      databases: {
        state: `${daemons.dir}/state.sqlite3`,
        pipeline: `${daemons.dir}/pipeline.sqlite3`,
        busyTimeoutMs: 20,
        syncWriteBudgetMs: 100,
        writeStallMs: 100,
      },
    });
    const holder = new Database(daemon.deps.state.path);
    holder.exec('BEGIN IMMEDIATE');
    expect(() => daemon.deps.state.write((c) => c.exec('DELETE FROM events'))).toThrow(DbBusyError);
    const res = await fetch(`${base(daemon)}/readyz`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { checks: Record<string, { ok: boolean; detail?: string }> };
    expect(body.checks.db_state).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/write lock stalled/),
    });
    holder.exec('COMMIT');
    holder.close();
    daemon.deps.state.write((c) => c.exec('DELETE FROM events'));
    expect((await fetch(`${base(daemon)}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base(daemon)}/metrics`)).text();
    // At least ours; the WAL keeper's tick may also have met the held lock.
    const busy = /^contimg_db_busy_timeouts_total\{db="state"\} (\d+)$/m.exec(metrics);
    expect(Number(busy?.[1])).toBeGreaterThanOrEqual(1);
  });
});

describe('JSON routes', () => {
  it('maps returns and thrown errors onto statuses and the error envelope', async () => {
    const daemon = await daemons.start();
    const { http } = daemon.deps;
    http.route('GET', '/api/jobs/:id', ({ params }) => {
      if (params.id === '404') throw new NotFoundError('no such job', { id: params.id });
      if (params.id === 'busy') throw new InvalidStateError('job is running');
      if (params.id === 'boom') throw new Error('secret internals');
      return { id: params.id };
    });
    http.route('POST', '/api/echo', ({ body }) => ({ got: body }));
    http.route('DELETE', '/api/jobs/:id', () => undefined);
    const b = base(daemon);
    expect(await (await fetch(`${b}/api/jobs/7`)).json()).toEqual({ id: '7' });
    const nf = await fetch(`${b}/api/jobs/404`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toEqual({ error: 'NOT_FOUND', message: 'no such job', details: { id: '404' } });
    expect((await fetch(`${b}/api/jobs/busy`)).status).toBe(409);
    const boom = await fetch(`${b}/api/jobs/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({ error: 'INTERNAL_ERROR', message: 'internal error', details: {} });
    const json = { 'content-type': 'application/json' };
    const echo = await fetch(`${b}/api/echo`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ a: 1 }),
    });
    expect(await echo.json()).toEqual({ got: { a: 1 } });
    const bad = await fetch(`${b}/api/echo`, { method: 'POST', headers: json, body: '{not json' });
    expect(bad.status).toBe(400);
    expect((await fetch(`${b}/api/jobs/1`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${b}/nope`)).status).toBe(404);
    const metrics = await (await fetch(`${b}/metrics`)).text();
    expect(metrics).toContain('contimg_http_requests_total{route="/api/jobs/:id",code="404"} 1');
    expect(metrics).toContain('contimg_http_requests_total{route="unmatched",code="404"} 1');
  });
});

/** Send one raw HTTP/1.1 request (targets fetch() would refuse) and return the status line. */
async function rawRequest(port: number, head: string, reset = false): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write(`${head}\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      // A peer that resets at once, before reading the refusal.
      if (reset) sock.resetAndDestroy();
    });
    sock.on('data', (d) => (text += String(d)));
    sock.on('close', () => resolve(text.split('\r\n')[0]));
    sock.on('error', (e) => (reset ? resolve('') : reject(e)));
  });
}

describe('malformed requests', () => {
  it('answers a request target that does not parse with 400 and keeps serving', async () => {
    const daemon = await daemons.start();
    daemon.http.route('GET', '/api/jobs/:id', ({ params }) => params);
    const port = daemon.port;
    expect(await rawRequest(port, 'GET http://[x/ HTTP/1.1\r\nConnection: close')).toMatch(/^HTTP\/1.1 400/);
    expect(await rawRequest(port, 'GET /api/jobs/%ZZ HTTP/1.1\r\nConnection: close')).toMatch(
      /^HTTP\/1.1 400/,
    );
    const upgrade = 'GET http://[x/ HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket';
    expect(await rawRequest(port, upgrade)).toMatch(/^HTTP\/1.1 400/);
    // Peers that reset while being refused (404 on a wrong path) must not take the process down.
    const wrongPath = 'GET /nope HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket';
    for (let i = 0; i < 20; i++) await rawRequest(port, wrongPath, true);
    expect((await fetch(`${base(daemon)}/healthz`)).status).toBe(200);
    const metrics = await (await fetch(`${base(daemon)}/metrics`)).text();
    expect(metrics).toContain('contimg_http_requests_total{route="unmatched",code="400"} 2');
    expect(metrics).toContain('contimg_http_requests_total{route="/ws",code="400"} 1');
  });
});

describe('bearer token', () => {
  it('guards everything but /healthz when a token is configured', async () => {
    const daemon = await daemons.start({ http: { token: 'tok-abc' } });
    const b = base(daemon);
    expect((await fetch(`${b}/healthz`)).status).toBe(200);
    expect((await fetch(`${b}/metrics`)).status).toBe(401);
    expect((await fetch(`${b}/readyz`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    const ok = await fetch(`${b}/metrics`, { headers: { authorization: 'Bearer tok-abc' } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).not.toContain('tok-abc');
  });

  it('knows which hosts are loopback', () => {
    for (const h of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
      expect(isLoopbackHost(h)).toBe(true);
    }
    for (const h of ['0.0.0.0', '::', '10.1.2.3', 'dsa110.example.org', '128.0.0.1'])
      expect(isLoopbackHost(h)).toBe(false);
  });
});
