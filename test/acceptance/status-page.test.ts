// Acceptance: the live status page in a real Chromium (Debian's /usr/bin/chromium through playwright-core)
// against the five BUILT daemons as child processes on the simulator, with a token. Every section renders
// with data; a new observation's cells fill in live and it turns converted; its thumbnail appears and loads;
// ack/unack change the alert row and a second tab; requeue of the failed group is recorded with who did it;
// killing and restarting the serving daemon shows "reconnecting" and then catches up from the last seq (or,
// when the events it missed were pruned, reloads its snapshot); path traversal and token probes are refused;
// no console errors. Screenshots (1280×800 and 390×844) land in
// test-artifacts/status-page/.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDb } from '../../lib/db/index.js';
import { launchChromium, screenshots, watchProblems, type PageProblems } from '../helpers/browser.js';
import { waitFor } from '../helpers/wait.js';
import { fillStatusStack, startStatusStack, TEST_CALIBRATOR, type StatusStack } from './status-stack.js';

/**
 * What the browser itself logs while the page's daemon is away (its requests and WebSocket refused or cut):
 * allowed only in the tests that stop that daemon; anything else, such as an HTTP error answer, still fails.
 */
const DAEMON_AWAY =
  /net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|CONNECTION_CLOSED)|WebSocket connection to .* failed/;
/** An image element as the page sees it (the test program is compiled without the DOM library). */
type Img = { naturalWidth: number };
const GROUPS = 6;
/** The correlator's cadence: observations closer than the converter's grouping tolerance would merge. */
const OBSERVATION_MS = 309_000;
let s: StatusStack;
let browser: Browser;
let context: BrowserContext;
const watched: { page: Page; problems: PageProblems; allow?: RegExp }[] = [];

beforeAll(async () => {
  s = await startStatusStack();
  await fillStatusStack(s, GROUPS);
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await s?.stop();
}, 60_000);

afterEach(async () => {
  for (const w of watched.splice(0)) {
    const errors = w.problems.errors.filter((e) => !w.allow?.test(e));
    await w.page.close();
    expect(errors, `browser console errors:\n${errors.join('\n')}`).toEqual([]);
  }
});

/** A tab on a daemon's page, ready (first snapshot drawn and the WebSocket live). */
async function open(daemon: Parameters<StatusStack['pageUrl']>[0], allow?: RegExp): Promise<Page> {
  const page = await context.newPage();
  const problems = watchProblems(page);
  watched.push({ page, problems, allow });
  await page.goto(s.pageUrl(daemon));
  await page.waitForSelector('html[data-ready="true"]', { timeout: 30_000 });
  await page.waitForSelector('body[data-conn="live"]', { timeout: 30_000 });
  return page;
}

const one = <T>(sql: string, ...args: unknown[]): T | undefined => s.query<T>(sql, ...args)[0];
const maxSeq = (): number => one<{ n: number }>('SELECT coalesce(max(seq), 0) AS n FROM events')!.n;

function writeState(sql: string, ...args: unknown[]): void {
  const db = openDb({ name: 'state', path: s.stack.config.databases.state });
  try {
    db.write((c) => c.prepare(sql).run(...args));
  } finally {
    db.close();
  }
}

/** A GET with the request path sent exactly as given (fetch would resolve `..` before sending). */
function rawGet(port: number, rawPath: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>(
    (resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: rawPath, headers }, (res) => {
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    },
  );
}

describe('status page in Chromium', () => {
  it('renders every section with data from the state database', async () => {
    const page = await open('pointing-monitor');
    // Clocks tick in the browser: UTC within a few seconds of ours, LST formatted.
    await waitFor(async () => /^\d\d:\d\d:\d\d$/.test((await page.textContent('#lst')) ?? ''), {
      what: 'LST',
    });
    const utc = (await page.textContent('#utc'))!;
    const [hh, mm, ss] = utc.split(':').map(Number);
    const now = new Date();
    const diff = Math.abs(
      hh * 3600 + mm * 60 + ss - (now.getUTCHours() * 3600 + now.getUTCMinutes() * 60 + now.getUTCSeconds()),
    );
    expect(Math.min(diff, 86_400 - diff)).toBeLessThan(10);
    expect(await page.textContent('#dec')).toMatch(/^\+51\.\d\d°$/);
    // Daemons: all five, ready.
    await waitFor(async () => (await page.locator('#daemon-list li.st-ready').count()) === 5, {
      what: 'five daemons ready',
      timeoutMs: 20_000,
    });
    // Groups: every observation with 16 cells, the failed one marked, the others converted with a time.
    const rows = page.locator('#group-list li');
    expect(await rows.count()).toBe(GROUPS);
    for (let i = 0; i < GROUPS; i++) expect(await rows.nth(i).locator('.cell').count()).toBe(16);
    expect(await page.locator('#group-list li.s-failed').count()).toBe(1);
    expect(await page.locator('#group-list li.s-converted').count()).toBe(GROUPS - 1);
    expect(await page.locator('#group-list li.s-converted .g-detail').first().textContent()).toMatch(
      /converted in/,
    );
    expect(await page.locator('#group-list li.s-failed .c-valid').count()).toBe(16);
    // Transits: the test calibrator, in the beam, window open now.
    const transit = page.locator('#transit-list li', { hasText: TEST_CALIBRATOR });
    await expect
      .poll(() => transit.getAttribute('class'))
      .toMatch(/\bopen\b.*\beligible\b|\beligible\b.*\bopen\b/);
    expect(await transit.locator('.t-when').textContent()).toMatch(/window open · \d+:\d\d left/);
    // Thumbnails: one per group, loaded, with a QA grade.
    const thumbs = page.locator('#thumb-list img');
    expect(await thumbs.count()).toBe(GROUPS);
    await waitFor(
      () => thumbs.evaluateAll((imgs) => imgs.every((i) => (i as unknown as Img).naturalWidth > 0)),
      { what: 'thumbnails loaded' },
    );
    expect(await page.locator('#thumb-list .qa').first().textContent()).toMatch(
      /^(excellent|good|marginal|poor|unknown)$/,
    );
    // Alerts: the failed group's critical alert with an Ack button.
    const alert = page.locator('#alert-list li', { hasText: 'ConverterGroupFailed' });
    expect(await alert.getAttribute('class')).toContain('sev-critical');
    expect(await alert.locator('button').textContent()).toBe('Ack');
    // Scheduler: health targets, the calibration in use, the drifting calibrator's flux.
    await waitFor(async () => (await page.locator('#health-list li').count()) > 0, {
      what: 'health targets',
    });
    expect(await page.textContent('#health-overall')).toMatch(/^(healthy|degraded|unhealthy)$/);
    expect(await page.textContent('#calibration')).toMatch(/h old/);
    // Flux drift: one row per calibrator of the scheduler's newest flux run, classed by its finding.
    const flux = JSON.parse(
      one<{ summary: string }>(
        "SELECT summary FROM job_runs WHERE job = 'flux' AND summary IS NOT NULL ORDER BY id DESC LIMIT 1",
      )!.summary,
    ) as { calibrators: { calibrator: string; drift: string; driftPct: number }[] };
    expect(flux.calibrators.length).toBeGreaterThan(0);
    await waitFor(async () => (await page.locator('#flux-list li').count()) === flux.calibrators.length, {
      what: 'flux rows',
    });
    for (const c of flux.calibrators) {
      const li = page.locator('#flux-list li', { hasText: c.calibrator });
      const cls = c.drift === 'critical' ? 'st-crit' : c.drift === 'warning' ? 'st-warn' : 'st-ok';
      expect(await li.getAttribute('class')).toContain(cls);
      expect(await li.textContent()).toContain(`drift ${c.driftPct.toFixed(1)} %`);
    }
    await screenshots(page, 'sections');
    // Readable on a phone: nothing wider than the screen, every group's cells on screen.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    // No group row's parts overlap (time, cells, count, state, detail, button) and none leaves the screen.
    const overlaps = (await page.evaluate(`[...document.querySelectorAll('#group-list li')].flatMap((li) => {
      const r = [...li.children].filter((e) => !e.hidden && getComputedStyle(e).display !== 'none')
        .map((e) => [e.className, e.getBoundingClientRect()]);
      const bad = [];
      for (let i = 0; i < r.length; i++) {
        if (r[i][1].right > innerWidth) bad.push(r[i][0] + ' off screen');
        for (let j = i + 1; j < r.length; j++) {
          const [a, b] = [r[i][1], r[j][1]];
          if (a.width && b.width && a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
            bad.push(r[i][0] + ' overlaps ' + r[j][0]);
        }
      }
      return bad;
    })`)) as string[];
    expect(overlaps).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 800 });
    // The thumbnail dialog: keyboard only (focus, Enter), the full PNG and the metadata, Esc closes.
    await page.locator('#thumb-list button').first().focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#thumb-dialog[open]');
    await waitFor(() => page.$eval('#thumb-full', (i) => (i as unknown as Img).naturalWidth > 0), {
      what: 'full PNG loaded',
    });
    expect(await page.textContent('#thumb-meta')).toMatch(/frequency.*GHz/s);
    await screenshots(page, 'dialog');
    await page.keyboard.press('Escape');
    await waitFor(async () => !(await page.$('#thumb-dialog[open]')), { what: 'dialog closed' });
    // Focus is back on the thumbnail that opened it.
    expect(await page.evaluate('document.activeElement.closest("#thumb-list") !== null')).toBe(true);
  });

  it("fills a new group's cells as its files arrive, turns it converted and shows its thumbnail, without a reload", async () => {
    const page = await open('scheduler');
    await page.evaluate('window.marker = 1');
    const thumbsBefore = s
      .query<{ id: number }>("SELECT id FROM thumbnails WHERE status = 'done'")
      .map((r) => r.id);
    // One observation after the simulated ones (they end two observations ago).
    const startMs = Math.floor(Date.now() / 1000) * 1000 - OBSERVATION_MS;
    const groupId = new Date(startMs).toISOString().slice(0, 19);
    // Record every distinct number of filled cells the row shows, sampled every 10 ms.
    await page.evaluate(`(() => {
      const seen = (window.seen = []);
      window.setInterval(() => {
        const n = document.querySelectorAll('#group-list li[data-key="${groupId}"] .c-valid').length;
        if (seen[seen.length - 1] !== n) seen.push(n);
      }, 10);
    })()`);
    await s.observe(startMs, 400);
    const row = page.locator(`#group-list li[data-key="${groupId}"]`);
    await waitFor(async () => ((await row.getAttribute('class')) ?? '').includes('s-converted'), {
      what: `${groupId} converted on the page`,
      timeoutMs: 60_000,
    });
    const seen = (await page.evaluate('window.seen')) as number[];
    // Cells filled in steps (at least one state between none and all 16), ending with all 16.
    expect(
      seen.some((n) => n > 0 && n < 16),
      `cell counts seen: ${seen.join(', ')}`,
    ).toBe(true);
    expect(seen[seen.length - 1]).toBe(16);
    expect(await row.locator('.g-count').textContent()).toBe('16/16');
    expect(
      one<{ state: string }>('SELECT state FROM converter_groups WHERE group_id = ?', groupId)?.state,
    ).toBe('converted');
    // Its thumbnail: a new row, shown and loaded.
    const fresh = await waitFor(
      () =>
        s
          .query<{ id: number }>("SELECT id FROM thumbnails WHERE status = 'done'")
          .find((r) => !thumbsBefore.includes(r.id)),
      { what: 'the new thumbnail rendered', timeoutMs: 60_000 },
    );
    const img = page.locator(`#thumb-list li[data-id="${fresh.id}"] img`);
    await waitFor(
      async () =>
        (await img.count()) === 1 && (await img.evaluate((i) => (i as unknown as Img).naturalWidth)) > 0,
      {
        what: 'the new thumbnail loaded in the page',
      },
    );
    expect(await page.evaluate('window.marker')).toBe(1);
    await screenshots(page, 'new-group');
  }, 180_000);

  it('ack changes the alert row in the database and in a second tab; unack withdraws it; requeue is recorded', async () => {
    const fp = one<{ fingerprint: string }>(
      "SELECT fingerprint FROM alerts WHERE alertname = 'ConverterGroupFailed' AND status = 'firing'",
    )!.fingerprint;
    const a = await open('alert-dispatcher');
    const b = await open('thumbnail-worker');
    const rowA = a.locator(`#alert-list li[data-key="${fp}"]`);
    const rowB = b.locator(`#alert-list li[data-key="${fp}"]`);
    // Keyboard only: focus the Ack button and press Enter.
    await rowA.locator('button').focus();
    await a.keyboard.press('Enter');
    await waitFor(
      () => one<{ acked_by: string }>('SELECT acked_by FROM alert_acks WHERE fingerprint = ?', fp),
      {
        what: 'the ack row',
      },
    );
    expect(
      one<{ acked_by: string }>('SELECT acked_by FROM alert_acks WHERE fingerprint = ?', fp)!.acked_by,
    ).toBe('token');
    await waitFor(async () => (await rowB.getAttribute('data-state')) === 'acked', {
      what: 'second tab shows the ack',
    });
    expect(await rowB.locator('.a-meta').textContent()).toMatch(/acked by token/);
    expect(await a.textContent('#toast')).toMatch(/acknowledged by token/);
    await screenshots(b, 'acked');
    // Unack from the second tab.
    await rowB.locator('button', { hasText: 'Unack' }).click();
    await waitFor(() => !one('SELECT 1 FROM alert_acks WHERE fingerprint = ?', fp), {
      what: 'the ack row removed',
    });
    await waitFor(async () => (await rowA.getAttribute('data-state')) === 'firing', {
      what: 'first tab shows firing',
    });
    const unacked = one<{ payload: string }>(
      "SELECT payload FROM events WHERE type = 'alert.unacked' ORDER BY seq DESC",
    );
    expect(JSON.parse(unacked!.payload)).toMatchObject({ fingerprint: fp, by: 'token' });
    // Requeue the failed group: two presses (ask, confirm); it converts and the alert resolves.
    const failed = one<{ group_id: string }>(
      "SELECT group_id FROM converter_groups WHERE state = 'failed'",
    )!.group_id;
    const button = a.locator(`#group-list li[data-key="${failed}"] button`);
    await button.click();
    expect(await button.textContent()).toBe('Confirm requeue');
    await button.click();
    await waitFor(
      async () =>
        ((await a.locator(`#group-list li[data-key="${failed}"]`).getAttribute('class')) ?? '').includes(
          's-converted',
        ),
      {
        what: 'requeued group converted on the page',
        timeoutMs: 60_000,
      },
    );
    const requeued = one<{ payload: string }>(
      "SELECT payload FROM events WHERE type = 'converter.requeued' ORDER BY seq DESC",
    );
    expect(JSON.parse(requeued!.payload)).toMatchObject({ groupId: failed, from: 'failed', by: 'token' });
    await waitFor(async () => (await rowB.count()) === 0, {
      what: 'the resolved alert leaves the second tab',
    });
  }, 180_000);

  it('shows "reconnecting" while the serving daemon is down and catches up with every event it missed', async () => {
    // While the daemon is down the browser itself logs the refused connections; nothing else may appear.
    const page = await open('pointing-monitor', DAEMON_AWAY);
    await page.evaluate('window.marker = 1');
    await s.stack.kill('pointing-monitor');
    await page.waitForSelector('body[data-conn="reconnecting"]', { timeout: 15_000 });
    expect(await page.isVisible('#offline')).toBe(true);
    expect(await page.textContent('#conn')).toMatch(/reconnecting/);
    await screenshots(page, 'reconnecting');
    // Events the page misses: a whole observation converted while its daemon is away.
    const startMs = Math.floor(Date.now() / 1000) * 1000;
    const groupId = await s.observe(startMs);
    await waitFor(
      () =>
        one<{ state: string }>(
          "SELECT state FROM converter_groups WHERE group_id = ? AND state = 'converted'",
          groupId,
        ),
      {
        what: `${groupId} converted while the page's daemon is down`,
        timeoutMs: 60_000,
      },
    );
    const missedUpTo = maxSeq();
    await s.stack.start('pointing-monitor');
    await page.waitForSelector('body[data-conn="live"]', { timeout: 30_000 });
    await waitFor(async () => Number(await page.getAttribute('body', 'data-seq')) >= missedUpTo, {
      what: `the page caught up to seq ${missedUpTo}`,
    });
    const row = page.locator(`#group-list li[data-key="${groupId}"]`);
    await waitFor(async () => ((await row.getAttribute('class')) ?? '').includes('s-converted'), {
      what: 'the missed group shown converted',
    });
    expect(await row.locator('.c-valid').count()).toBe(16);
    // Resumed from the last seq, not by reloading: the same document, no snapshot reload for a gap.
    expect(await page.evaluate('window.marker')).toBe(1);
    expect(await page.getAttribute('body', 'data-reloads')).toBeNull();
    expect(await page.isVisible('#offline')).toBe(false);
    await screenshots(page, 'caught-up');
  }, 180_000);

  it('reloads its snapshot when events it missed were pruned while its daemon was down', async () => {
    const page = await open('pointing-monitor', DAEMON_AWAY);
    await page.evaluate('window.marker = 1');
    await s.stack.kill('pointing-monitor');
    await page.waitForSelector('body[data-conn="reconnecting"]', { timeout: 15_000 });
    // An observation older than the others (a free slot) converts while the page is away.
    const groupId = await s.observe(Math.floor(Date.now() / 1000) * 1000 - 9 * OBSERVATION_MS);
    await waitFor(
      () => one("SELECT 1 FROM converter_groups WHERE group_id = ? AND state = 'converted'", groupId),
      { what: `${groupId} converted while the page's daemon is down`, timeoutMs: 60_000 },
    );
    // Retention prunes every event so far: the page's next seq is gone.
    writeState('DELETE FROM events WHERE seq <= ?', maxSeq());
    await s.stack.start('pointing-monitor');
    await waitFor(async () => (await page.getAttribute('body', 'data-reloads')) === '1', {
      what: 'the page reloaded its snapshot',
    });
    await page.waitForSelector('body[data-conn="live"]', { timeout: 30_000 });
    const row = page.locator(`#group-list li[data-key="${groupId}"]`);
    await waitFor(async () => ((await row.getAttribute('class')) ?? '').includes('s-converted'), {
      what: 'the missed group shown converted',
    });
    // The same document: a snapshot reload, not a page reload; and it follows events again.
    expect(await page.evaluate('window.marker')).toBe(1);
    const seqBefore = Number(await page.getAttribute('body', 'data-seq'));
    writeState(
      "INSERT INTO events (topic, type, payload, created_at) VALUES ('pointing', 'pointing.test', '{}', ?)",
      Date.now(),
    );
    await waitFor(async () => Number(await page.getAttribute('body', 'data-seq')) > seqBefore, {
      what: 'a new event applied after the reload',
    });
    await screenshots(page, 'reloaded');
  }, 180_000);

  it('refuses path traversal and token probes', async () => {
    const port = s.stack.ports['thumbnail-worker'];
    const auth = { authorization: `Bearer ${s.token}` };
    // The token rule: the page and every data route need it; only the fixed code files are public.
    for (const p of [
      '/',
      '/?token=wrong',
      '/api/status',
      '/api/status/daemons',
      '/api/thumbnails/1/png',
      '/api/status/thumbnails/1',
    ])
      expect((await rawGet(port, p)).status, p).toBe(401);
    expect((await rawGet(port, '/', { authorization: 'Bearer wrong' })).status).toBe(401);
    const page = await rawGet(port, '/', auth);
    expect(page.status).toBe(200);
    const csp = page.headers['content-security-policy'] as string;
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect((await rawGet(port, '/status/app.js')).status).toBe(200);
    // Traversal: nothing outside the fixed asset list and the thumbnail rows, however the path is spelt.
    const probes = [
      '/status/../../package.json',
      '/status/..%2f..%2fpackage.json',
      '/status/%2e%2e/%2e%2e/package.json',
      '/status/..\\..\\package.json',
      '/status/index.html',
      '/status/contract.ts',
      '/web/status/index.html',
      '/dist/lib/status/index.js',
      '/api/thumbnails/..%2f..%2f..%2fetc%2fpasswd/png',
      '/api/thumbnails/1%2f..%2f..%2fetc%2fpasswd/png',
      '/api/thumbnails/-1/png',
      '/api/thumbnails/1e3/png',
      '/api/thumbnails/0x1/png',
      '//etc/passwd',
    ];
    for (const p of probes) {
      const r = await rawGet(port, p, auth);
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(r.body, p).not.toMatch(/contimg-daemons|root:x:0/);
    }
    // A row whose png_path points outside thumbnailWorker.outputDir (a real PNG) is not served, nor a symlink
    // inside the folder that leads outside it.
    const row = one<{ id: number; png_path: string }>(
      "SELECT id, png_path FROM thumbnails WHERE status = 'done' ORDER BY updated_at DESC, id DESC LIMIT 1",
    )!;
    expect((await rawGet(port, `/api/thumbnails/${row.id}/png`, auth)).status).toBe(200);
    const outside = path.join(s.stack.dir, 'outside.png');
    fs.copyFileSync(row.png_path, outside);
    const link = path.join(s.stack.config.thumbnailWorker.outputDir, 'escape.png');
    fs.symlinkSync(outside, link);
    for (const p of [outside, link]) {
      writeState('UPDATE thumbnails SET png_path = ? WHERE id = ?', p, row.id);
      expect((await rawGet(port, `/api/thumbnails/${row.id}/png`, auth)).status, p).toBe(404);
    }
    writeState('UPDATE thumbnails SET png_path = ? WHERE id = ?', row.png_path, row.id);
    // Actions need the token and a same-origin browser.
    const fp = 'ffffffffffffffff';
    const post = (headers: Record<string, string>) =>
      fetch(s.stack.url('thumbnail-worker', `/api/status/alerts/${fp}/ack`), {
        method: 'POST',
        headers,
        body: '{}',
      });
    expect((await post({ 'content-type': 'application/json' })).status).toBe(401);
    expect(
      (await post({ ...auth, 'content-type': 'application/json', origin: 'http://evil.example' })).status,
    ).toBe(403);
    // The WebSocket: no token, a wrong one, a foreign Origin.
    const wsStatus = (url: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, { headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => undefined);
      });
    const wsBase = `ws://127.0.0.1:${port}/ws`;
    expect(await wsStatus(wsBase)).toBe(401);
    expect(await wsStatus(`${wsBase}?token=wrong`)).toBe(401);
    expect(await wsStatus(`${wsBase}?token=${s.token}`, { origin: 'http://evil.example' })).toBe(403);
    expect(await wsStatus(`${wsBase}?token=${s.token}`)).toBe(101);
    // The page after the probes: the restored thumbnail loads, everything still live.
    const tab = await open('thumbnail-worker');
    const img = tab.locator(`#thumb-list li[data-id="${row.id}"] img`);
    await waitFor(async () => (await img.evaluate((i) => (i as unknown as Img).naturalWidth)) > 0, {
      what: 'the restored thumbnail loaded',
    });
    await screenshots(tab, 'after-probes');
  });
});
