// Requests a browser on the host could forge against a token-less loopback daemon are refused in lib/http,
// once for every route: cross-site bodies that are not JSON (415), foreign Origins on state-changing requests
// and WebSocket upgrades (403), and Host headers that are not our loopback address and port (DNS rebinding,
// 403). The WebSocket connection cap answers 503 before upgrading.
import http from 'node:http';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { checkHost, parseHostHeader } from '../../../lib/http/index.js';
import { waitFor } from '../../helpers/wait.js';
import { idleDaemonPerTest, TestClient } from '../ws/helpers.js';

const daemons = idleDaemonPerTest();

interface Reply {
  status: number;
  body: string;
}

/** One request through node:http, which sends exactly the Host and Origin headers given. */
function request(
  port: number,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: string },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: o.method ?? 'GET',
        path: o.path ?? '/',
        headers: { host: `127.0.0.1:${port}`, ...o.headers },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A daemon with one state-changing route that counts its calls. */
async function withCounter(): Promise<{ d: RunningDaemon; calls: () => number }> {
  const d = await daemons.start();
  let n = 0;
  d.http.route('POST', '/api/act', () => ({ n: ++n }));
  d.http.route('DELETE', '/api/thing/:id', () => void n++);
  return { d, calls: () => n };
}

const JSON_TYPE = { 'content-type': 'application/json' };

describe('forged state-changing requests', () => {
  it('refuses bodies that are not JSON with 415 and runs nothing', async () => {
    const { d, calls } = await withCounter();
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const r = await request(d.port, {
        method: 'POST',
        path: '/api/act',
        headers: { 'content-type': type },
        body: '{"a":1}',
      });
      expect(r.status).toBe(415);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'UNSUPPORTED_MEDIA_TYPE' });
    }
    const noType = await request(d.port, { method: 'POST', path: '/api/act', body: '{"a":1}' });
    expect(noType.status).toBe(415);
    expect(calls()).toBe(0);
    const ok = await request(d.port, {
      method: 'POST',
      path: '/api/act',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"a":1}',
    });
    expect(ok.status).toBe(200);
    // A body-less POST needs no content type (curl -X POST, the CLI).
    expect((await request(d.port, { method: 'POST', path: '/api/act' })).status).toBe(200);
    expect(calls()).toBe(2);
  });

  it('refuses a foreign or opaque Origin with 403, accepts the same origin and requests without one', async () => {
    const { d, calls } = await withCounter();
    const post = (headers: Record<string, string>) =>
      request(d.port, {
        method: 'POST',
        path: '/api/act',
        headers: { ...JSON_TYPE, ...headers },
        body: '{}',
      });
    for (const origin of ['http://evil.example', `http://localhost:${d.port + 1}`, 'null', 'file://']) {
      const r = await post({ origin });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'FORBIDDEN' });
    }
    const del = await request(d.port, {
      method: 'DELETE',
      path: '/api/thing/1',
      headers: { origin: 'http://evil.example' },
    });
    expect(del.status).toBe(403);
    expect(calls()).toBe(0);
    expect((await post({ origin: `http://127.0.0.1:${d.port}` })).status).toBe(200);
    expect((await post({})).status).toBe(200);
    // Reads are not refused for an Origin (the browser's CORS rules keep the answer from the page).
    const read = await request(d.port, { path: '/readyz', headers: { origin: 'http://evil.example' } });
    expect(read.status).toBe(200);
    expect(calls()).toBe(2);
    const metrics = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
    expect(metrics).toContain('contimg_http_requests_total{route="/api/act",code="403"} 4');
  });

  it('refuses a Host that is not this loopback server (DNS rebinding), on every route but /healthz', async () => {
    const { d, calls } = await withCounter();
    for (const host of ['evil.example', `evil.example:${d.port}`, `127.0.0.1:${d.port + 1}`, '10.0.0.1']) {
      expect((await request(d.port, { path: '/metrics', headers: { host } })).status).toBe(403);
      const post = await request(d.port, {
        method: 'POST',
        path: '/api/act',
        headers: { host, ...JSON_TYPE },
      });
      expect(post.status).toBe(403);
    }
    expect(calls()).toBe(0);
    for (const host of [`localhost:${d.port}`, `127.0.0.1:${d.port}`, `LOCALHOST:${d.port}`])
      expect((await request(d.port, { path: '/readyz', headers: { host } })).status).toBe(200);
    expect((await request(d.port, { path: '/healthz', headers: { host: 'evil.example' } })).status).toBe(200);
  });

  it('parses Host headers and skips the Host check off loopback (a token guards those binds)', () => {
    expect(parseHostHeader('[::1]:9310')).toEqual({ host: '[::1]', port: 9310 });
    expect(parseHostHeader('localhost')).toEqual({ host: 'localhost', port: null });
    expect(parseHostHeader('a:b:c')).toBeNull();
    const req = { headers: { host: 'dsa110.example.org:9310' } } as http.IncomingMessage;
    expect(checkHost(req, { loopback: false, port: 9310 })).toBeUndefined();
    expect(checkHost(req, { loopback: true, port: 9310 })?.httpStatus).toBe(403);
    const v6 = { headers: { host: '[::1]:9310' } } as http.IncomingMessage;
    expect(checkHost(v6, { loopback: true, port: 9310 })).toBeUndefined();
  });
});

/** The HTTP status an upgrade was answered with (101 when it became a WebSocket). */
function upgradeStatus(url: string, opts: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}

describe('WebSocket upgrades', () => {
  it('refuses a foreign Origin or Host with 403 before upgrading', async () => {
    const d = await daemons.start();
    const url = `ws://127.0.0.1:${d.port}/ws`;
    expect(await upgradeStatus(url, { origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(url, { headers: { host: `evil.example:${d.port}` } })).toBe(403);
    expect(await upgradeStatus(url, { origin: `http://127.0.0.1:${d.port}` })).toBe(101);
    expect(await upgradeStatus(url)).toBe(101);
    const metrics = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
    expect(metrics).toContain('contimg_ws_refused_total{reason="forbidden"} 2');
  });

  it('caps open connections at http.wsMaxConnections: the next upgrade gets 503, a freed slot is reused', async () => {
    const d = await daemons.start({ http: { wsMaxConnections: 2 } });
    const url = `ws://127.0.0.1:${d.port}/ws`;
    const a = await TestClient.open(url);
    const b = await TestClient.open(url);
    await a.next('connected');
    await b.next('connected');
    expect(await upgradeStatus(url)).toBe(503);
    expect(await upgradeStatus(url)).toBe(503);
    expect(d.hub.connections).toBe(2);
    const metrics = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
    expect(metrics).toContain('contimg_ws_refused_total{reason="capacity"} 2');
    expect(metrics).toContain('contimg_ws_connections{endpoint="/ws"} 2');
    a.ws.close();
    await waitFor(() => d.hub.connections === 1, { what: 'one connection left' });
    const c = await TestClient.open(url);
    await c.next('connected');
    expect(d.hub.connections).toBe(2);
    b.ws.close();
    c.ws.close();
  });
});
