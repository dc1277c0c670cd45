// The status page in Chromium (Debian's /usr/bin/chromium through playwright-core) against the built converter
// and pointing monitor as child processes, with a token, on the simulator (test/acceptance/status-stack.ts):
//   - page weight without thumbnails: the HTML and every script, style and icon the page loads (bytes as
//     served, and gzip -9 for reference); goal ≤ 150 kB;
//   - first full render: navigation start to the page's `status:rendered` mark (first snapshot drawn), median
//     and worst of N fresh tabs, with 24 groups on the page; goal ≤ 500 ms;
//   - event-to-pixel latency of a group state change: a real observation is written, the converter converts
//     it, and the time from the `converter.converted` event's commit (its created_at) to the page's row turning
//     `converted` (a MutationObserver in the page, on the same host clock), first idle and then with 1,000
//     other events a minute flowing on the topics the page follows; goal p95 ≤ 1 s. Ratios first.
//   npx tsx bench/status-page.ts [samples=12] [renders=10]     (npm run build first)
import zlib from 'node:zlib';
import { launchChromium } from '../test/helpers/browser.js';
import { startStatusStack, type StatusStack } from '../test/acceptance/status-stack.js';
import { waitFor } from '../test/helpers/wait.js';
import { appendEvent } from '../lib/events/index.js';
import { openDb } from '../lib/db/index.js';
import { median } from './baseline.js';

const SAMPLES = Number(process.argv[2] ?? 12);
const RENDERS = Number(process.argv[3] ?? 10);
const OBSERVATION_MS = 309_000;
const SERVING = 'pointing-monitor';

const p95 = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];
const fmt = (xs: number[]): string =>
  `median ${median(xs).toFixed(0)} ms, p95 ${p95(xs).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (n=${xs.length})`;

/** 1,000 events a minute on the topics the page follows, until stopped (each its own commit). */
function backgroundLoad(s: StatusStack): () => Promise<number> {
  const db = openDb({ name: 'state', path: s.stack.config.databases.state });
  const topics = ['pointing', 'thumbnails', 'alerts', 'converter', 'scheduler'];
  let n = 0;
  const timer = setInterval(() => {
    const topic = topics[n % topics.length];
    db.write((c) => appendEvent(c, { topic, type: `${topic}.bench_noise`, payload: { n } }, Date.now()));
    n++;
  }, 60_000 / 1000);
  return async () => {
    clearInterval(timer);
    db.close();
    return n;
  };
}

async function main(): Promise<void> {
  const s = await startStatusStack({ names: ['streaming-converter', SERVING], failOnce: false });
  const browser = await launchChromium();
  try {
    await s.stack.start();
    // 24 observations so the strip is full, spaced as the telescope writes them, ending well before now.
    let next = Math.floor(Date.now() / 1000) * 1000 - (24 + 2 * SAMPLES + 2) * OBSERVATION_MS;
    for (let i = 0; i < 24; i++, next += OBSERVATION_MS) await s.observe(next);
    await waitFor(
      () =>
        s.query<{ n: number }>("SELECT count(*) AS n FROM converter_groups WHERE state = 'converted'")[0].n >=
        24,
      { what: '24 converted groups', timeoutMs: 180_000, intervalMs: 250 },
    );

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // Page weight: the document and every resource it loads except thumbnails.
    const page = await context.newPage();
    await page.goto(s.pageUrl(SERVING));
    await page.waitForSelector('html[data-ready="true"]');
    const urls = (await page.evaluate(
      "[location.href, ...performance.getEntriesByType('resource').map((e) => e.name)]",
    )) as string[];
    let raw = 0;
    let gz = 0;
    const files: string[] = [];
    for (const u of urls) {
      const path = new URL(u).pathname;
      if (path.startsWith('/api/')) continue;
      const body = Buffer.from(await (await fetch(u, { headers: s.stack.headers })).arrayBuffer());
      raw += body.length;
      gz += zlib.gzipSync(body, { level: 9 }).length;
      files.push(`${path} ${body.length}`);
    }
    const snapshot = await (
      await fetch(s.stack.url(SERVING, '/api/status'), { headers: s.stack.headers })
    ).arrayBuffer();

    // First full render, fresh tabs.
    const renders: number[] = [];
    for (let i = 0; i < RENDERS; i++) {
      const p = await context.newPage();
      await p.goto(s.pageUrl(SERVING));
      await p.waitForSelector('html[data-ready="true"]');
      renders.push(
        (await p.evaluate("performance.getEntriesByName('status:rendered')[0].startTime")) as number,
      );
      await p.close();
    }

    // Event-to-pixel: record when each row first shows `converted`, in the page's clock (Date.now, same host).
    await page.evaluate(`(() => {
      window.convertedAt = {};
      new MutationObserver(() => {
        for (const li of document.querySelectorAll('#group-list li.s-converted'))
          if (!(li.dataset.key in window.convertedAt)) window.convertedAt[li.dataset.key] = Date.now();
      }).observe(document.getElementById('group-list'), { subtree: true, attributes: true, childList: true });
    })()`);
    const latency = async (n: number): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < n; i++, next += OBSERVATION_MS) {
        const groupId = await s.observe(next);
        const committed = await waitFor(
          () =>
            s.query<{ created_at: number }>(
              "SELECT created_at FROM events WHERE type = 'converter.converted' AND json_extract(payload, '$.groupId') = ?",
              groupId,
            )[0]?.created_at,
          { what: `${groupId} converted`, timeoutMs: 60_000, intervalMs: 50 },
        );
        const shown = await waitFor(
          async () =>
            (await page.evaluate(`window.convertedAt[${JSON.stringify(groupId)}]`)) as number | undefined,
          { what: `${groupId} converted on the page`, timeoutMs: 30_000, intervalMs: 50 },
        );
        out.push(shown - committed);
      }
      return out;
    };
    const idle = await latency(SAMPLES);
    const stopLoad = backgroundLoad(s);
    const loaded = await latency(SAMPLES);
    const noise = await stopLoad();

    console.log(`event-to-pixel p95, under 1,000 events/min ÷ idle: ${(p95(loaded) / p95(idle)).toFixed(2)}`);
    console.log(`event-to-pixel, idle:                   ${fmt(idle)}`);
    console.log(`event-to-pixel, 1,000 events/min (${noise} sent): ${fmt(loaded)}   goal p95 ≤ 1000 ms`);
    console.log(
      `first full render: median ${median(renders).toFixed(0)} ms, max ${Math.max(...renders).toFixed(0)} ms (n=${renders.length})   goal ≤ 500 ms`,
    );
    console.log(
      `page weight without thumbnails: ${(raw / 1000).toFixed(1)} kB (${(gz / 1000).toFixed(1)} kB gzip -9) in ${files.length} files   goal ≤ 150 kB`,
    );
    console.log(`  ${files.join('\n  ')}`);
    console.log(`snapshot (GET /api/status, 24 groups): ${(snapshot.byteLength / 1000).toFixed(1)} kB`);
  } finally {
    await browser.close();
    await s.stop();
  }
}

await main();
