// The contract between the daemons and the ops package, against the built daemons running as child
// processes after some activity (observations converted, thumbnails rendered and one failing, every scheduler
// job run once on a week of simulated calibration, alerts from a daemon, Prometheus and Alertmanager delivered
// by e-mail to a real SMTP server, a silence, API and WebSocket traffic): every metric name the rules and
// dashboards use is exported (by the daemon a `job` matcher names), every exported family has HELP text and
// bounded labels, `promtool check metrics` is clean, and contimg_ready mirrors /readyz.
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseAlert } from '../../lib/alerts/index.js';
import { JOB_NAMES } from '../../lib/config/sections/scheduler.js';
import { DAEMONS, type DaemonName } from '../../lib/daemon/types.js';
import { insertImageRow } from '../../lib/sim/fits-images.js';
import { openDb } from '../../lib/db/index.js';
import { waitFor } from '../helpers/wait.js';
import { SmtpPeer } from '../integration/alert-dispatcher/peers.js';
import {
  builtDaemons,
  dashboardQueries,
  loadRules,
  parseExposition,
  PROMETHEUS_SERIES,
  runTool,
  selectors,
  type Family,
} from './helpers.js';
import { Stack } from './stack.js';

const names = builtDaemons();
let stack: Stack;
const smtp = new SmtpPeer();
const exposition = new Map<DaemonName, string>();
const families = new Map<DaemonName, Map<string, Family>>();

function sampleValue(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

/** The scheduler's jobs, each run once through its API on a week of simulated calibration. */
async function schedulerActivity(): Promise<void> {
  expect(stack.calibrate().measurements).toBeGreaterThan(0);
  for (const job of JOB_NAMES) expect((await stack.runJob(job)).result, job).toBe('ok');
}

/**
 * Alerts from each source the dispatcher takes (a daemon's alerts table, Prometheus's /api/v2/alerts,
 * Alertmanager's webhook) delivered by e-mail, and a silence.
 */
async function dispatcherActivity(): Promise<void> {
  const post = (p: string, body: unknown) =>
    fetch(stack.url('alert-dispatcher', p), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const state = openDb({ name: 'state', path: stack.config.databases.state });
  try {
    state.write((c) =>
      raiseAlert(
        c,
        {
          alertname: 'OpsContractDaemonAlert',
          severity: 'warning',
          labels: { component: 'contract' },
          annotations: { summary: 'raised by the ops contract test' },
          source: 'streaming-converter',
        },
        Date.now(),
      ),
    );
  } finally {
    state.close();
  }
  const labels = { job: 'streaming-converter', instance: '127.0.0.1:9310', severity: 'critical' };
  const prom = await post('/api/v2/alerts', [
    {
      labels: { alertname: 'OpsContractPrometheusAlert', ...labels },
      annotations: { summary: 'posted as Prometheus does' },
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 300_000).toISOString(),
      generatorURL: 'http://127.0.0.1:9090/graph',
    },
  ]);
  expect(prom.status).toBe(200);
  const am = await post('/api/alertmanager/webhook', {
    version: '4',
    groupKey: '{}:{alertname="OpsContractAlertmanagerAlert"}',
    status: 'firing',
    receiver: 'contimg-alert-dispatcher',
    groupLabels: { alertname: 'OpsContractAlertmanagerAlert' },
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'OpsContractAlertmanagerAlert', ...labels },
        annotations: { summary: 'forwarded as Alertmanager does' },
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        fingerprint: '0123456789abcdef',
      },
    ],
  });
  expect(am.status).toBe(200);
  const silence = await post('/api/silences', {
    matchers: ['alertname="OpsContractSilenced"'],
    durationS: 3600,
    createdBy: 'ops-contract',
    comment: 'a silence for the silences gauge',
  });
  expect(silence.status).toBe(200);
  await waitFor(
    () =>
      ['OpsContractDaemonAlert', 'OpsContractPrometheusAlert', 'OpsContractAlertmanagerAlert'].every((a) =>
        smtp.messages.some((m) => m.subject?.includes(a)),
      ),
    { what: 'one e-mail per alert source', timeoutMs: 30_000, intervalMs: 200 },
  );
}

beforeAll(async () => {
  await smtp.start();
  stack = await Stack.create({ names, mailPort: smtp.port });
  await stack.start();
  await Promise.all([schedulerActivity(), dispatcherActivity()]);
  // Three observations, one with a truncated subband (an invalid file with a reason label), and a corrupt
  // image registered in the pipeline database (a failed render with an error code label).
  await stack.simulate(3, [{ kind: 'corrupt-file', group: 1, subband: 7 }]);
  const imageDir = path.join(stack.config.dataDir, 'images');
  const bad = path.join(imageDir, 'broken-image.fits');
  fs.writeFileSync(bad, 'SIMPLE  =                    T'.padEnd(2880, ' ').slice(0, 1000));
  const pipeline = openDb({ name: 'pipeline', path: stack.config.databases.pipeline });
  insertImageRow(pipeline, bad, { imsize: 256 });
  pipeline.close();

  await waitFor(
    async () => {
      const conv = await stack.scrape('streaming-converter');
      const thumbs = await stack.scrape('thumbnail-worker');
      const point = await stack.scrape('pointing-monitor');
      return (
        sampleValue(conv, /contimg_converter_conversion_attempts_total\{outcome="ok"\} (\d+)/) >= 2 &&
        sampleValue(thumbs, /contimg_thumbnails_jobs_total\{outcome="done",code=""\} (\d+)/) >= 2 &&
        /contimg_thumbnails_fits_errors_total\{code="[A-Z_]+"\} [1-9]/.test(thumbs) &&
        sampleValue(point, /contimg_pointing_header_reads_total\{result="ok"\} (\d+)/) >= 1
      );
    },
    { what: 'conversions, thumbnails (one failing) and header reads', timeoutMs: 90_000, intervalMs: 500 },
  );

  // API and WebSocket traffic: a route with a group id in its path, a 404, a client that comes and goes.
  const groups = (await (
    await fetch(stack.url('streaming-converter', '/api/groups'), { headers: stack.headers })
  ).json()) as {
    groupId: string;
  }[];
  expect(groups.length).toBeGreaterThan(0);
  for (const name of names) {
    expect((await fetch(stack.url(name, '/no/such/route'))).status).toBe(404);
    const ws = new WebSocket(stack.url(name, '/ws').replace('http', 'ws'));
    await new Promise((r) => ws.once('message', r));
    ws.close();
  }
  const one = await fetch(
    stack.url('streaming-converter', `/api/groups/${encodeURIComponent(groups[0].groupId)}`),
  );
  expect(one.status).toBe(200);

  for (const name of names) {
    const text = await stack.scrape(name);
    exposition.set(name, text);
    families.set(name, parseExposition(text));
  }
}, 150_000);

afterAll(async () => {
  await stack?.stop();
  await smtp.stop();
});

describe('the built daemons export what ops uses', () => {
  it('covers every daemon of the daemon table, each after its own activity', () => {
    expect([...names].sort()).toEqual(Object.keys(DAEMONS).sort());
    const text = (n: DaemonName) => exposition.get(n)!;
    // The scheduler ran its jobs, so its per-target, per-disk and per-calibrator series have label values.
    for (const job of JOB_NAMES)
      expect(text('scheduler')).toMatch(
        new RegExp(`contimg_scheduler_job_runs_total\\{task="${job}",result="ok"\\} [1-9]`),
      );
    expect(text('scheduler')).toMatch(/contimg_health_target_status\{kind="http",target="[a-z-]+"\} 0/);
    expect(text('scheduler')).toMatch(/contimg_flux_ratio\{calibrator="[^"]+"\} \d/);
    // The dispatcher delivered by e-mail, took alerts from both intake endpoints and counts the silence.
    expect(text('alert-dispatcher')).toMatch(
      /contimg_alerts_notifications_total\{receiver="dev-mail",kind="firing",outcome="sent"\} [1-9]/,
    );
    for (const endpoint of ['prometheus', 'alertmanager'])
      expect(text('alert-dispatcher')).toMatch(
        new RegExp(`contimg_alerts_intake_requests_total\\{endpoint="${endpoint}",code="200"\\} [1-9]`),
      );
    expect(text('alert-dispatcher')).toMatch(/contimg_alerts_silences_active 1/);
  });

  it('promtool check metrics is clean on every daemon', async () => {
    for (const name of names) {
      const r = await runTool('promtool', ['check', 'metrics'], { input: exposition.get(name) });
      expect(r.stdout + r.stderr, name).toBe('');
      expect(r.code, name).toBe(0);
    }
  });

  it('every family has HELP text and a type', () => {
    for (const [name, fams] of families)
      for (const f of fams.values()) {
        expect(f.help.length, `${name}: ${f.name} has no HELP`).toBeGreaterThan(5);
        expect(['counter', 'gauge', 'histogram', 'summary'], `${name}: ${f.name}`).toContain(f.type);
      }
  });

  it('labels are bounded: no path, group id, file name or fingerprint as a value', () => {
    const groupId = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/;
    const fingerprint = /^[0-9a-f]{12,}$/i;
    const file = /\.(hdf5|h5|fits|png|json|ms|sqlite3)\b/i;
    for (const [name, fams] of families)
      for (const f of fams.values()) {
        // Label sets of the family; a histogram's bucket bound (le) is not a label value anyone chose.
        const series = new Set(
          f.samples.map((s) => JSON.stringify(Object.entries(s.labels).filter(([k]) => k !== 'le'))),
        );
        expect(series.size, `${name}: ${f.name} has ${series.size} label sets`).toBeLessThanOrEqual(300);
        for (const s of f.samples)
          for (const [label, value] of Object.entries(s.labels)) {
            const where = `${name}: ${s.name}{${label}="${value}"}`;
            expect(value.includes(stack.dir), where).toBe(false);
            expect(groupId.test(value), where).toBe(false);
            expect(fingerprint.test(value), where).toBe(false);
            expect(file.test(value), where).toBe(false);
            if (label === 'route') expect(value === 'unmatched' || value.startsWith('/'), where).toBe(true);
          }
      }
    // The group-id request counted under its route pattern.
    expect(exposition.get('streaming-converter')).toMatch(
      /contimg_http_requests_total\{route="\/api\/groups\/:id",code="200"\} [1-9]/,
    );
  });

  it('contimg_ready mirrors every /readyz check', async () => {
    for (const name of names) {
      const ready = (await (await fetch(stack.url(name, '/readyz'))).json()) as {
        checks: Record<string, { ok: boolean }>;
      };
      const text = await stack.scrape(name);
      const checks = Object.keys(ready.checks);
      expect(checks.length).toBeGreaterThanOrEqual(5);
      for (const check of checks)
        expect(text, `${name} ${check}`).toContain(
          `contimg_ready{check="${check}"} ${ready.checks[check].ok ? 1 : 0}`,
        );
    }
  });

  it('every metric name in the rules and dashboards is exported by a running daemon', () => {
    const rules = loadRules();
    const recorded = new Set(rules.filter((r) => r.record).map((r) => r.record!));
    const exportedBy = new Map<string, Set<DaemonName>>();
    for (const [name, fams] of families)
      for (const f of fams.values())
        for (const s of f.samples) {
          if (!exportedBy.has(s.name)) exportedBy.set(s.name, new Set());
          exportedBy.get(s.name)!.add(name);
        }
    // Series of a daemon that is not built yet (its rules and panels may land with it) are not required.
    const unbuilt = (Object.keys(DAEMONS) as DaemonName[]).filter((n) => !names.includes(n));
    const deferred = (metric: string) => unbuilt.some((n) => metric.startsWith(DAEMONS[n].metricPrefix));

    const uses = [
      ...rules.map((r) => ({ where: `${r.file} ${r.alert ?? r.record}`, expr: r.expr })),
      ...dashboardQueries().map((q) => ({ where: `${q.file} "${q.panel}"`, expr: q.expr })),
    ];
    const missing: string[] = [];
    const usedRecordings = new Set<string>();
    for (const { where, expr } of uses)
      for (const s of selectors(expr)) {
        if (PROMETHEUS_SERIES.has(s.name)) continue;
        if (recorded.has(s.name)) {
          usedRecordings.add(s.name);
          continue;
        }
        if (deferred(s.name)) continue;
        const by = exportedBy.get(s.name);
        const job = s.equals.job as DaemonName | undefined;
        if (!by) missing.push(`${where}: ${s.name} is exported by no daemon`);
        else if (job && names.includes(job) && !by.has(job))
          missing.push(
            `${where}: ${s.name}{job="${job}"} is not exported by ${job} (only ${[...by].join(', ')})`,
          );
      }
    expect(missing).toEqual([]);
    // And the reverse: a recording rule nothing reads is dead weight.
    expect([...recorded].filter((r) => !usedRecordings.has(r))).toEqual([]);
    expect(uses.length).toBeGreaterThan(40);
  });
});
