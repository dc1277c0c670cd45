// One JSON shape per entity (docs/cli.md "JSON output"): every command of the program's tree that has --json
// is run against a host seeded through the simulator (subband files and images, converted, rendered and
// ingested by the three daemons running in-process) and its output walked: camelCase keys at every depth,
// except inside the documented free-form maps. Every GET route of the running daemons is walked the same
// way, and each entity (a group, a thumbnail, a transit, the pointing status, an alert, a job) must have the
// same keys wherever it appears, in the CLI and the API. The command list comes from the program itself, so a
// command added later is walked without editing this file (one with a required argument fails here until
// ARGS says what to pass it); so does a new GET route (until API_ROUTES says what to ask it).
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raiseAlert } from '../../../lib/alerts/index.js';
import { parseConfig, type Config } from '../../../lib/config/index.js';
import { enqueueTest } from '../../../daemons/alert-dispatcher/admin.js';
import { createSilence } from '../../../daemons/alert-dispatcher/silences.js';
import { writeUnit } from '../../../daemons/scheduler/mosaic/plan-store.js';
import { inputsHash, type UnitInput } from '../../../lib/mosaic/plan/index.js';
import { CONVERT_CHECK_ARGS } from '../../../lib/config/convert-check.js';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { DAEMONS, type DaemonName } from '../../../lib/daemon/types.js';
import { openDb } from '../../../lib/db/index.js';
import { SqliteQueueStore } from '../../../lib/queue/index.js';
import { simulateDemo } from '../../../lib/sim/demo.js';
import { buildProgram, walkCommands } from '../../../cli/program.js';
import { BUILT_CLI, runCli } from '../../helpers/cli.js';
import { startDaemons } from '../../helpers/daemons.js';
import { freePort } from '../../helpers/net.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

/** Maps whose keys are data (label names, FITS keywords, check names), not field names: docs/cli.md. */
const FREE_FORM = ['labels', 'annotations', 'payload', 'result', 'checks', 'wsc', 'removed', 'keptSince'];
const CAMEL = /^[a-z][a-zA-Z0-9]*$/;

interface Fixture {
  dir: string;
  config: string;
  groupIds: string[];
  fingerprint: string;
  doneJobId: number;
  deadJobId: number;
  queuedJobId: number;
  thumbnailId: number;
  image: string;
  subbandFile: string;
  calibratorCsv: string;
  stateCopy: string;
  migrationsCopy: string;
  scratchMigrations: string;
  silenceId: string;
  notificationId: number;
  mosaicPlan: string;
}

/** Arguments for commands that need them (beyond --config and --json, which are added when accepted). */
const ARGS: Record<string, (f: Fixture) => string[]> = {
  'alerts show': (f) => [f.fingerprint],
  'alerts ack': (f) => [f.fingerprint, '--comment', 'shape check', '--by', 'test'],
  'alerts unack': (f) => [f.fingerprint],
  'scheduler run': () => ['retention'],
  'silences add': () => [
    '--matcher',
    'alertname="ShapeCheck"',
    '--duration',
    '1h',
    '--comment',
    'shape check',
    '--by',
    'test',
  ],
  'silences expire': (f) => [f.silenceId],
  'receivers test': () => ['log', '--wait', '0', '--by', 'test'],
  'outbox show': (f) => [String(f.notificationId)],
  'outbox retry': (f) => [String(f.notificationId)],
  'mosaic plan': () => [
    '--tier',
    'science',
    '--date',
    new Date(Date.now() - 86_400_000).toISOString().slice(0, 10),
  ],
  'mosaic show': (f) => [f.mosaicPlan],
  'mosaic requeue': (f) => [f.mosaicPlan],
  'mosaic cancel': (f) => [f.mosaicPlan],
  'converter show': (f) => [f.groupIds[0]],
  'converter requeue': (f) => [f.groupIds[1]],
  'converter abandon': (f) => [f.groupIds[1]],
  'jobs show': (f) => [String(f.doneJobId)],
  'jobs redrive': (f) => [String(f.deadJobId)],
  'jobs rerun': (f) => [String(f.doneJobId)],
  'jobs cancel': (f) => [String(f.queuedJobId)],
  'pointing header': (f) => [f.subbandFile],
  'pointing calibrators import': (f) => [f.calibratorCsv],
  'fits stats': (f) => [f.image],
  'fits header': (f) => [f.image],
  thumbnail: (f) => [f.image, '--out', path.join(f.dir, 'one.png')],
  transits: () => ['--next', '30h', '--dec', '55.57'],
  'migrate down': (f) => ['--db', 'state', '--path', f.stateCopy, '--steps', '1', '--yes'],
  'migrate new': (f) => ['shape_check', '--db', 'state', '--dir', f.scratchMigrations],
  'migrate snapshot': (f) => ['--dir', f.migrationsCopy],
  'migrate verify': (f) => ['--dir', f.migrationsCopy],
};
/** Commands that change state: run after the daemons stopped, in tree order (requeue before abandon). */
const WRITES = new Set([
  'converter requeue',
  'converter abandon',
  'jobs redrive',
  'jobs rerun',
  'jobs cancel',
  'thumbnails retry',
  'thumbnails render-all',
  'pointing calibrators import',
  'migrate up',
  'migrate down',
  'migrate new',
  'migrate snapshot',
  'scheduler run',
  'retention run',
  'alerts ack',
  'alerts unack',
  'silences add',
  'silences expire',
  'receivers test',
  'outbox retry',
  'mosaic plan',
  'mosaic requeue',
  'mosaic cancel',
  'mosaic pause',
  'mosaic resume',
]);
/** Exit codes other than 0 that still print the JSON answer. */
const OK_CODES: Record<string, number[]> = {
  // Exit 1 while a daemon is not ready: the scheduler and the alert dispatcher do not run in this test.
  status: [0, 1],
  // Exit 1 unless healthy: no health run has happened here.
  health: [0, 1],
};

type Extract = (json: unknown) => unknown[];
const list: Extract = (j) => j as unknown[];
const one: Extract = (j) => [j];
const without =
  (...keys: string[]): Extract =>
  (j) => [Object.fromEntries(Object.entries(j as object).filter(([k]) => !keys.includes(k)))];
const statusTransits: Extract = (j) => {
  const s = j as { upcoming: unknown[]; activeCalibrator: unknown };
  return [...s.upcoming, ...(s.activeCalibrator ? [s.activeCalibrator] : [])];
};

/** Every GET route and what to ask it. */
const API_ROUTES: Record<string, (f: Fixture) => string> = {
  'GET /api/groups': () => '/api/groups',
  'GET /api/groups/:id': (f) => `/api/groups/${encodeURIComponent(f.groupIds[0])}`,
  'GET /api/thumbnails': () => '/api/thumbnails',
  'GET /api/thumbnails/:id/metadata': (f) => `/api/thumbnails/${f.thumbnailId}/metadata`,
  'GET /api/pointing/status': () => '/api/pointing/status',
  'GET /api/pointing/transits': () => '/api/pointing/transits',
  'GET /api/status': () => '/api/status',
  'GET /api/status/daemons': () => '/api/status/daemons',
  'GET /api/status/thumbnails/:id': (f) => `/api/status/thumbnails/${f.thumbnailId}`,
};
/** GET routes that answer with something other than JSON: the status page, its files, a PNG. */
const notJson = (route: string): boolean =>
  route === 'GET /' || route.startsWith('GET /status/') || route === 'GET /api/thumbnails/:id/png';

/** Where each entity appears: CLI command paths and API routes, and how to pick it out of the answer. */
const ENTITIES: Record<string, { cli: Record<string, Extract>; api: Record<string, Extract> }> = {
  group: {
    cli: { 'converter groups': list, 'converter requeue': one, 'converter abandon': one },
    api: { 'GET /api/groups': list },
  },
  groupDetail: { cli: { 'converter show': one }, api: { 'GET /api/groups/:id': one } },
  thumbnail: { cli: { 'thumbnails list': list }, api: { 'GET /api/thumbnails': list } },
  thumbnailMetadata: { cli: {}, api: { 'GET /api/thumbnails/:id/metadata': one } },
  transit: {
    cli: { transits: list, 'pointing status': statusTransits },
    api: { 'GET /api/pointing/transits': list, 'GET /api/pointing/status': statusTransits },
  },
  pointingStatus: { cli: { 'pointing status': one }, api: { 'GET /api/pointing/status': one } },
  alert: { cli: { 'alerts list': list, 'alerts show': without('history', 'external') }, api: {} },
  mosaicPlan: {
    cli: { 'mosaic list': list, 'mosaic show': (j) => [(j as { plan: unknown }).plan] },
    api: {},
  },
  job: {
    cli: { 'jobs list': list, 'jobs show': one, 'jobs redrive': one, 'jobs rerun': one, 'jobs cancel': one },
    api: {},
  },
};

/** Key paths (a.b[].c) that are not camelCase, outside the free-form maps. */
function badKeys(value: unknown, at = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => badKeys(v, `${at}[]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const here = at ? `${at}.${k}` : k;
    const own = CAMEL.test(k) ? [] : [here];
    return FREE_FORM.includes(k) ? own : [...own, ...badKeys(v, here)];
  });
}

const keysOf = (o: unknown): string => JSON.stringify(Object.keys(o as object).sort());

let fx: Fixture;
const daemons: Partial<Record<DaemonName, RunningDaemon>> = {};
const cliJson = new Map<string, unknown>();
const apiJson = new Map<string, unknown>();
let tree: { path: string; cmd: Command }[] = [];

async function seed(dir: string): Promise<{ raw: Record<string, unknown> } & Partial<Fixture>> {
  const dbs = await freshDatabases(path.join(dir, 'db'));
  const incoming = path.join(dir, 'incoming');
  const images = path.join(dir, 'images');
  fs.mkdirSync(incoming);
  fs.mkdirSync(images);
  // Four observations through the simulator, two at each of two declinations (a declination change).
  const first = Math.floor(Date.now() / 1000) * 1000 - 5 * 309_000;
  for (const [i, decDeg] of [55.57, 30.5].entries())
    await simulateDemo({
      incomingDir: incoming,
      imageDir: images,
      pipelinePath: dbs.pipelinePath,
      groups: 2,
      cadenceS: 0,
      spacingS: 309,
      startMs: first + i * 2 * 309_000,
      jitterS: 0,
      decRad: (decDeg * Math.PI) / 180,
    });
  const state = openDb({ name: 'state', path: dbs.statePath });
  const queue = new SqliteQueueStore(state);
  const queued = queue.enqueue({ queue: 'shapes', kind: 'check', payload: { step: 1 } }).job;
  const doomed = queue.enqueue({ queue: 'shapes-dead', kind: 'check', maxAttempts: 1 }).job;
  const [lease] = queue.claim({ queue: 'shapes-dead', owner: 'test', leaseMs: 60_000 });
  queue.fail(lease.lease, new Error('seeded failure'), { retryable: false });
  const fingerprint = state.write(
    (c) =>
      raiseAlert(
        c,
        {
          alertname: 'ShapeCheck',
          severity: 'warning',
          labels: { group: 'g1', some_label: 'x' },
          annotations: { summary: 'seeded', runbook_url: 'docs/runbook.md' },
          source: 'test',
        },
        Date.now(),
      ).fingerprint,
  );
  state.close();
  const raw = {
    dataDir: dir,
    databases: { state: dbs.statePath, pipeline: dbs.pipelinePath },
    log: { level: 'warn' },
    streamingConverter: {
      incomingDir: incoming,
      settleS: 0.2,
      scanIntervalS: 0.3,
      minFreeGb: 0,
      converter: { argv: [process.execPath, BUILT_CLI, ...CONVERT_CHECK_ARGS], timeoutS: 60 },
    },
    pointingMonitor: { pollIntervalS: 0.2, statusIntervalS: 0.3, backfillDays: 1 },
    thumbnailWorker: {
      outputDir: path.join(dir, 'thumbs'),
      settleS: 0,
      pollS: 0.1,
      reconcileS: 0.3,
      backoffBaseS: 0.2,
    },
  };
  const image = path.join(images, fs.readdirSync(images).sort()[0]);
  const subbandFile = path.join(incoming, fs.readdirSync(incoming).sort()[0]);
  return {
    raw,
    queuedJobId: queued.id,
    deadJobId: doomed.id,
    fingerprint,
    image,
    subbandFile,
    stateCopy: path.join(dir, 'state-copy.sqlite3'),
  };
}

/** A silence and a notification in the outbox, for the dispatcher's commands that take their ids. */
function seedDispatcher(config: Config): { silenceId: string; notificationId: number } {
  const db = openDb({ name: 'state', path: config.databases.state });
  try {
    const ad = config.alertDispatcher;
    const now = Date.now();
    return db.write((c) => ({
      silenceId: createSilence(
        c,
        { matchers: ['severity="info"'], durationMs: 3_600_000, createdBy: 'test', comment: 'seeded' },
        { now, maxDurationMs: ad.silence.maxDurationDays * 86_400_000 },
      ).id,
      notificationId: enqueueTest(
        c,
        'log',
        { cfg: ad, by: 'test', host: 'test-host', externalUrl: 'http://127.0.0.1:1' },
        { queue: new SqliteQueueStore(db), maxAttempts: 1, maxAlerts: 20, now },
      ).id,
    }));
  } finally {
    db.close();
  }
}

/** A mosaic plan with one input and its queued build job, as the scheduler's planner writes it. */
function seedMosaicPlan(config: Config, image: string): string {
  const db = openDb({ name: 'state', path: config.databases.state });
  try {
    const st = fs.statSync(image, { bigint: true });
    const now = Date.now();
    const input: UnitInput = {
      imageId: 1,
      path: image,
      size: Number(st.size),
      mtimeNs: st.mtimeNs.toString(),
      ino: Number(st.ino),
      obsMidMs: now - 3_600_000,
      raDeg: 120,
      decDeg: 55.57,
      noiseJy: 0.0005,
      kind: 'image',
      pixelArcsec: 2.5,
      nx: 256,
      ny: 256,
      freqHz: null,
    };
    const name = 'quicklook_d+55.6_20250101T0000_0051';
    db.write((c) =>
      writeUnit(
        c,
        {
          tier: 'quicklook',
          baseName: name,
          stripDeg: 55.6,
          frame: 'FK5/2000',
          windowStartMs: now - 4_000_000,
          windowEndMs: now - 900_000,
          raMinDeg: 120,
          raMaxDeg: 120,
          nCandidates: 2,
          rejected: { noise: 1 },
          inputs: [input],
          inputsHash: inputsHash([input]),
          grid: {
            frame: 'FK5/2000',
            projection: 'SIN',
            center: { ra: 120, dec: 55.6 },
            pixel_arcsec: 2.5,
            nx: 256,
            ny: 256,
          },
          estMemoryBytes: 300_000_000,
          status: 'ok',
        },
        { trigger: 'cli', host: 'test-host', maxAttempts: 3, replanLate: false },
        now,
      ),
    );
    return name;
  } finally {
    db.close();
  }
}

/** The seeded work done by the daemons: groups converted, headers ingested, thumbnails rendered. */
async function settled(
  statePath: string,
): Promise<{ groupIds: string[]; doneJobId: number; thumbnailId: number }> {
  const db = openDb({ name: 'state', path: statePath, readonly: true });
  try {
    return await waitFor(
      () =>
        db.read((c) => {
          const groups = c
            .prepare("SELECT group_id FROM converter_groups WHERE state = 'converted' ORDER BY group_id")
            .all() as { group_id: string }[];
          const n = (sql: string) => (c.prepare(sql).get() as { n: number }).n;
          const thumb = c.prepare("SELECT id, job_id FROM thumbnails WHERE status = 'done' LIMIT 1").get() as
            { id: number; job_id: number } | undefined;
          const ready =
            groups.length === 4 &&
            n('SELECT count(*) AS n FROM pointing_changes') >= 1 &&
            n('SELECT count(*) AS n FROM pointing_status') === 1 &&
            n("SELECT count(*) AS n FROM thumbnails WHERE status = 'done'") === 4 &&
            thumb;
          return ready
            ? { groupIds: groups.map((g) => g.group_id), doneJobId: thumb.job_id, thumbnailId: thumb.id }
            : undefined;
        }),
      {
        what: 'converted groups, a declination change and rendered thumbnails',
        timeoutMs: 90_000,
        intervalMs: 200,
      },
    );
  } finally {
    db.close();
  }
}

async function runCommand(p: string, cmd: Command): Promise<void> {
  const args = [...p.split(' '), ...(ARGS[p]?.(fx) ?? [])];
  if (cmd.options.some((o) => o.long === '--config')) args.push('--config', fx.config);
  args.push('--json');
  const r = await runCli(args, { built: true, cwd: fx.dir, timeoutMs: 120_000 });
  expect(OK_CODES[p] ?? [0], `contimg ${args.join(' ')} exited ${r.code}: ${r.stderr}`).toContain(r.code);
  cliJson.set(p, JSON.parse(r.stdout));
}

beforeAll(async () => {
  const dir = makeTmpDir('contimg-shapes-');
  const s = await seed(dir);
  const config = parseConfig(s.raw, dir);
  Object.assign(daemons, await startDaemons(config));
  const done = await settled(config.databases.state);
  // The CLI's config names the ports the daemons got, so `contimg status` asks them; a daemon not running
  // here gets a free port nobody answers on (never the fixed 931x ports another process may hold).
  const cliRaw = structuredClone(s.raw) as Record<string, Record<string, unknown>>;
  for (const name of Object.keys(DAEMONS) as DaemonName[])
    cliRaw[DAEMONS[name].section] = {
      ...cliRaw[DAEMONS[name].section],
      port: daemons[name]?.port ?? (await freePort()),
    };
  const configFile = path.join(dir, 'contimg.yaml');
  fs.writeFileSync(configFile, JSON.stringify(cliRaw));
  const migrationsCopy = path.join(dir, 'migrations');
  fs.cpSync(path.join(REPO_ROOT, 'migrations'), migrationsCopy, { recursive: true });
  const scratchMigrations = path.join(dir, 'scratch-migrations');
  for (const set of ['state', 'pipeline'])
    fs.mkdirSync(path.join(scratchMigrations, set), { recursive: true });
  fs.copyFileSync(config.databases.state, s.stateCopy!);
  const { silenceId, notificationId } = seedDispatcher(config);
  const mosaicPlan = seedMosaicPlan(config, s.image!);
  const calibratorCsv = path.join(dir, 'calibrators.csv');
  fs.writeFileSync(calibratorCsv, '# name,ra,dec,flux\nJ0000+000,0.5,0.5,2.5\n');
  fx = {
    ...(s as Fixture),
    ...done,
    dir,
    config: configFile,
    migrationsCopy,
    scratchMigrations,
    calibratorCsv,
    silenceId,
    notificationId,
    mosaicPlan,
  };

  // API: every GET route of every running daemon.
  for (const d of Object.values(daemons))
    for (const route of d!.http.routeList().filter((r) => r.startsWith('GET ') && !notJson(r))) {
      const url = API_ROUTES[route];
      expect(url, `no request for ${route}: add it to API_ROUTES`).toBeDefined();
      const res = await fetch(`http://127.0.0.1:${d!.port}${url(fx)}`);
      expect(res.status, `${route}: ${res.status}`).toBe(200);
      apiJson.set(route, await res.json());
    }

  // CLI: every command with --json, reads while the daemons run, then the writes.
  const program = await buildProgram([], { version: '0.0.0', all: true });
  tree = walkCommands(program)
    .filter((c) => c.commands.length === 0 && c.options.some((o) => o.long === '--json'))
    .map((cmd) => {
      const names: string[] = [];
      for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
      return { path: names.join(' '), cmd };
    });
  const missing = tree.filter(
    (t) =>
      !ARGS[t.path] &&
      (t.cmd.registeredArguments.some((a) => a.required) || t.cmd.options.some((o) => o.mandatory)),
  );
  expect(
    missing.map((t) => t.path),
    'commands with required arguments need an ARGS entry',
  ).toEqual([]);
  const reads = tree.filter((t) => !WRITES.has(t.path));
  for (let i = 0; i < reads.length; i += 4)
    await Promise.all(reads.slice(i, i + 4).map((t) => runCommand(t.path, t.cmd)));
  for (const d of Object.values(daemons)) await d!.stop('reads done');
  for (const t of tree.filter((x) => WRITES.has(x.path))) await runCommand(t.path, t.cmd);
}, 300_000);

afterAll(async () => {
  for (const d of Object.values(daemons)) await d?.stop();
  if (fx) removeTmpDir(fx.dir);
});

describe('JSON output: one shape per entity, camelCase keys', () => {
  it('walks every command of the tree that has --json (at least the known ones)', () => {
    const walked = [...cliJson.keys()];
    expect([...walked].sort()).toEqual(tree.map((t) => t.path).sort());
    for (const known of [
      'converter groups',
      'thumbnails list',
      'alerts list',
      'jobs list',
      'transits',
      'lst',
    ])
      expect(walked).toContain(known);
    for (const p of [...Object.keys(ARGS), ...WRITES])
      expect(walked, `${p} is in this test's tables`).toContain(p);
  });

  it('every CLI --json output has camelCase keys at every depth (free-form maps aside)', () => {
    const bad = [...cliJson].flatMap(([p, v]) => badKeys(v).map((k) => `contimg ${p}: ${k}`));
    expect(bad).toEqual([]);
  });

  it('every GET route of the daemons answers with camelCase keys at every depth', () => {
    expect([...apiJson.keys()].sort()).toEqual(Object.keys(API_ROUTES).sort());
    const bad = [...apiJson].flatMap(([r, v]) => badKeys(v).map((k) => `${r}: ${k}`));
    expect(bad).toEqual([]);
  });

  it.each(Object.keys(ENTITIES))(
    'a %s has the same keys in every command and route it appears in',
    (name) => {
      const e = ENTITIES[name];
      const sources = [
        ...Object.entries(e.cli).map(([p, x]) => [`contimg ${p}`, x(cliJson.get(p))] as const),
        ...Object.entries(e.api).map(([r, x]) => [r, x(apiJson.get(r))] as const),
      ];
      const shapes = new Map<string, string[]>();
      for (const [where, objects] of sources) {
        expect(objects.length, `${where} shows no ${name} (seed one)`).toBeGreaterThan(0);
        for (const o of objects) shapes.set(keysOf(o), [...(shapes.get(keysOf(o)) ?? []), where]);
      }
      expect([...shapes].map(([k, w]) => `${[...new Set(w)].join(', ')}: ${k}`)).toHaveLength(1);
    },
  );

  it('the free-form maps are the ones docs/cli.md documents', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
    const line = doc.split('\n').find((l) => l.startsWith('Free-form maps'));
    expect(line, 'docs/cli.md has a "Free-form maps" line').toBeDefined();
    expect([...line!.matchAll(/`([a-zA-Z]+)`/g)].map((m) => m[1]).sort()).toEqual([...FREE_FORM].sort());
  });
});
