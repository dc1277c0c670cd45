// /metrics cost per daemon in the demo: the built daemons as child processes (as `contimg dev` runs them),
// scraped once idle and again after one hour of simulated data (12 observations at the 309 s cadence, their
// conversions and thumbnails), each time N sequential scrapes as Prometheus makes them. Goals: p99 ≤ 20 ms
// and ≤ 200 kB per scrape; the series count must not grow with data (bounded labels).
//   npm run build && npx tsx bench/metrics-scrape.ts [scrapes=300]
import { builtDaemons } from '../test/ops/helpers.js';
import { Stack } from '../test/ops/stack.js';
import type { DaemonName } from '../lib/daemon/types.js';

const SCRAPES = Number(process.argv[2] ?? 300);
const GOAL_P99_MS = 20;
const GOAL_BYTES = 200 * 1024;

interface Figures {
  /** Server-side mean (contimg_http_request_seconds{route="/metrics"}), without client and scheduling noise. */
  serverMean: number;
  p50: number;
  p99: number;
  max: number;
  bytes: number;
  series: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function serverSide(text: string): { sum: number; count: number } {
  const v = (k: string) =>
    Number(new RegExp(`contimg_http_request_seconds_${k}\\{route="/metrics"\\} (\\S+)`).exec(text)?.[1] ?? 0);
  return { sum: v('sum'), count: v('count') };
}

async function measure(stack: Stack, name: DaemonName): Promise<Figures> {
  for (let i = 0; i < 10; i++) await stack.scrape(name); // warm-up
  const ms: number[] = [];
  let text = await stack.scrape(name);
  const before = serverSide(text);
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    text = await stack.scrape(name);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const after = serverSide(text);
  const serverMean = ((after.sum - before.sum) / Math.max(1, after.count - before.count)) * 1000;
  const series = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  return {
    serverMean,
    p50: quantile(ms, 0.5),
    p99: quantile(ms, 0.99),
    max: ms.at(-1)!,
    bytes: Buffer.byteLength(text),
    series,
  };
}

async function waitForHour(stack: Stack): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const conv = await stack.scrape('streaming-converter');
    const thumbs = await stack.scrape('thumbnail-worker');
    const ok = Number(
      /contimg_converter_conversion_attempts_total\{outcome="ok"\} (\d+)/.exec(conv)?.[1] ?? 0,
    );
    const done = Number(
      /contimg_thumbnails_jobs_total\{outcome="done",code=""\} (\d+)/.exec(thumbs)?.[1] ?? 0,
    );
    if (ok >= 12 && done >= 12) return;
    if (Date.now() > deadline) throw new Error(`after 5 min: ${ok} conversions, ${done} thumbnails`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const fmt = (n: number, d = 1): string => n.toFixed(d).padStart(7);

async function main(): Promise<void> {
  const names = builtDaemons();
  const stack = await Stack.create({ names });
  try {
    await stack.start();
    const idle = new Map<DaemonName, Figures>();
    for (const n of names) idle.set(n, await measure(stack, n));
    await stack.simulate(12);
    await waitForHour(stack);
    const hour = new Map<DaemonName, Figures>();
    for (const n of names) hour.set(n, await measure(stack, n));

    const os = await import('node:os');
    process.stdout.write(
      `/metrics, ${SCRAPES} sequential scrapes per daemon, after one simulated hour (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)\n`,
    );
    process.stdout.write(
      'daemon               p99/goal  size/goal  series(hour/idle) | server ms  p50 ms  p99 ms  max ms      kB  series  idle p99  idle kB\n',
    );
    for (const n of names) {
      const h = hour.get(n)!;
      const i = idle.get(n)!;
      process.stdout.write(
        `${n.padEnd(20)} ${fmt(h.p99 / GOAL_P99_MS, 2)}  ${fmt(h.bytes / GOAL_BYTES, 2)}   ${fmt(h.series / i.series, 2)}          |` +
          `  ${fmt(h.serverMean, 2)} ${fmt(h.p50, 2)} ${fmt(h.p99, 2)} ${fmt(h.max, 2)} ${fmt(h.bytes / 1024)} ${String(h.series).padStart(7)}` +
          ` ${fmt(i.p99, 2)}   ${fmt(i.bytes / 1024)}\n`,
      );
    }
  } finally {
    await stack.stop();
  }
}

await main();
