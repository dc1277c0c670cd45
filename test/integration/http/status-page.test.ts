// The status page's routes on one in-process daemon (lib/daemon registers them on every daemon): the fixed
// public files and the token rule, the security headers and ETag revalidation, the snapshot and its part
// filter, the actions' actor on loopback, a missing build answered 503, and lib/http's rule that only fixed
// GET routes can be public. The page itself is tested in Chromium in test/acceptance/status-page.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { raiseAlert } from '../../../lib/alerts/index.js';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import type { DaemonHttpServer } from '../../../lib/http/index.js';
import { loadAssets } from '../../../lib/status/assets.js';
import { PART_NAMES } from '../../../web/status/contract.js';
import { makeTmpDir, removeTmpDir, REPO_ROOT } from '../../helpers/tmp.js';
import { idleDaemonPerTest } from '../ws/helpers.js';

const daemons = idleDaemonPerTest();
const base = (d: RunningDaemon) => `http://127.0.0.1:${d.port}`;

describe('status page routes', () => {
  it('serves the page behind the token with a strict CSP, and only its fixed code files without it', async () => {
    const d = await daemons.start({ http: { token: 'tok-page' } });
    const auth = { authorization: 'Bearer tok-page' };
    expect((await fetch(`${base(d)}/`)).status).toBe(401);
    expect((await fetch(`${base(d)}/api/status`)).status).toBe(401);
    const page = await fetch(`${base(d)}/`, { headers: auth });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
        `connect-src 'self' ws://127.0.0.1:${d.port} wss://127.0.0.1:${d.port}; object-src 'none'; ` +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(await page.text()).toContain('<script type="module" src="/status/app.js"></script>');
    for (const p of ['/status/app.js', '/status/live.js', '/status/style.css', '/status/icon.svg']) {
      const r = await fetch(`${base(d)}${p}`);
      expect(r.status, p).toBe(200);
      expect(r.headers.get('cache-control')).toBe('no-cache');
    }
    // Not on the list: the TypeScript sources, the compiled server code, anything else.
    for (const p of ['/status/app.ts', '/status/contract.js.map', '/status/', '/status/tsconfig.json'])
      expect((await fetch(`${base(d)}${p}`, { headers: auth })).status, p).toBe(404);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const d = await daemons.start();
    const first = await fetch(`${base(d)}/status/app.js`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{22}"$/);
    const again = await fetch(`${base(d)}/status/app.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('reads every part with the newest seq, or only the parts asked; an unknown part is a 400', async () => {
    const d = await daemons.start();
    const all = (await (await fetch(`${base(d)}/api/status`)).json()) as Record<string, unknown>;
    expect(Object.keys(all).sort()).toEqual(['seq', 'serverTime', ...PART_NAMES].sort());
    expect(all.groups).toEqual([]);
    expect(all.alerts).toEqual([]);
    expect(all.clock).toMatchObject({ servedBy: 'scheduler', actor: 'loopback' });
    const some = (await (await fetch(`${base(d)}/api/status?parts=groups,alerts`)).json()) as object;
    expect(Object.keys(some).sort()).toEqual(['alerts', 'groups', 'seq', 'serverTime']);
    const bad = await fetch(`${base(d)}/api/status?parts=groups,bogus`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/parts: unknown bogus/);
  });

  it('records a loopback ack as "loopback" and an unknown alert as a 404', async () => {
    const d = await daemons.start();
    const { fingerprint } = d.deps.state.write((c) =>
      raiseAlert(c, { alertname: 'DiskFull', severity: 'critical', labels: { mount: '/data' } }, Date.now()),
    );
    const json = { 'content-type': 'application/json' };
    const ack = await fetch(`${base(d)}/api/status/alerts/${fingerprint}/ack`, {
      method: 'POST',
      headers: json,
      body: '{}',
    });
    expect(ack.status).toBe(200);
    expect(await ack.json()).toMatchObject({ ok: true, by: 'loopback' });
    const row = d.deps.state.read((c) => c.prepare('SELECT acked_by FROM alert_acks').get()) as {
      acked_by: string;
    };
    expect(row.acked_by).toBe('loopback');
    const snap = (await (await fetch(`${base(d)}/api/status?parts=alerts`)).json()) as {
      alerts: { state: string }[];
    };
    expect(snap.alerts[0].state).toBe('acked');
    const unack = await fetch(`${base(d)}/api/status/alerts/${fingerprint}/ack`, { method: 'DELETE' });
    expect(await unack.json()).toMatchObject({ by: 'loopback' });
    expect(
      (await fetch(`${base(d)}/api/status/alerts/${fingerprint}/ack`, { method: 'DELETE' })).status,
    ).toBe(404);
    expect(
      (
        await fetch(`${base(d)}/api/status/groups/2026-01-01T00:00:00/requeue`, {
          method: 'POST',
          headers: json,
          body: '{}',
        })
      ).status,
    ).toBe(404);
  });

  it('reports a missing build instead of serving a broken page', () => {
    // The package's static files without the compiled browser module (dist/web/status).
    const dir = makeTmpDir();
    fs.mkdirSync(path.join(dir, 'web', 'status'), { recursive: true });
    for (const f of ['index.html', 'style.css', 'icon.svg'])
      fs.copyFileSync(path.join(REPO_ROOT, 'web', 'status', f), path.join(dir, 'web', 'status', f));
    try {
      const a = loadAssets(dir);
      expect(a.page).toBeNull();
      expect(a.problem).toMatch(/app\.js is missing: run `npm run build`/);
    } finally {
      removeTmpDir(dir);
    }
  });

  it('allows only fixed GET routes to be public', async () => {
    const d = await daemons.start();
    const http: DaemonHttpServer = d.http;
    expect(() => http.route('POST', '/x', () => 1, { public: true })).toThrow(
      /only fixed GET routes can be public/,
    );
    expect(() => http.route('GET', '/x/:id', () => 1, { public: true })).toThrow(/only fixed GET routes/);
  });
});
