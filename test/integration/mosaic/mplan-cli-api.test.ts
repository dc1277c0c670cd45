// The operator surfaces of mosaic planning: the built `contimg mosaic plan|list|show` (mosaic acceptance 1: --dry-run
// writes nothing) and the scheduler daemon's /api/v1/mosaics (202, 409 for identical inputs, 422 with the
// reasons when nothing is eligible, list, show), on real SQLite files and FITS images.
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import { startDaemon, type RunningDaemon } from '../../../lib/daemon/index.js';
import { openDb, type Db } from '../../../lib/db/index.js';
import { silentLogger } from '../../../lib/log.js';
import { run } from '../../../daemons/scheduler/run.js';
import { runCli } from '../../helpers/cli.js';
import { configuredDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { rawConfig } from '../scheduler/helpers.js';
import { addImage, addRun, CADENCE_MS, mosaicJobs, plans } from './mplan-helpers.js';

let dir = '';
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  removeTmpDir(dir);
});

const D = Date.parse('2025-12-05T00:00:00Z');
const cli = (args: string[]) => runCli(args, { built: true, timeoutMs: 60_000 });

async function seeded(): Promise<{ config: string; state: Db; statePath: string; pipelinePath: string }> {
  dir = makeTmpDir('contimg-mplan-cli-');
  const { config, statePath, pipelinePath } = await configuredDatabases(dir);
  const state = openDb({ name: 'state', path: statePath });
  const pipelineRw = new Database(pipelinePath);
  closers.push(
    () => state.close(),
    () => pipelineRw.close(),
  );
  // 14 contiguous images at +55.57° (one science segment 10:00–11:00 and a bit), one more at +30°.
  addRun(state, pipelineRw, {
    dir: path.join(dir, 'images'),
    prefix: 'c',
    firstMidMs: D + 36_300_000,
    n: 14,
  });
  addImage(state, pipelineRw, {
    dir: path.join(dir, 'images'),
    stem: 'far',
    obsMidMs: D + 36_000_000,
    decDeg: 30,
  });
  return { config, state, statePath, pipelinePath };
}

interface PlanJson {
  dryRun: boolean;
  candidates: number;
  rejected: { reason: string; count: number }[];
  units: { name: string; status: string; nInputs: number; estMemoryBytes: number; outcome: string | null }[];
}

describe('contimg mosaic (mosaic acceptance 1: --dry-run writes nothing)', () => {
  it('plan --dry-run prints the units and writes nothing; plan writes them once; list and show read them', async () => {
    const { config, state } = await seeded();
    const plan = (...extra: string[]) =>
      cli(['mosaic', 'plan', '--tier', 'science', '--date', '2025-12-05', ...extra, '--config', config]);
    const dry = await plan('--strip', '55.6', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const out = JSON.parse(dry.stdout) as PlanJson;
    expect(out.dryRun).toBe(true);
    expect(out.candidates).toBe(15);
    expect(out.rejected).toEqual([{ reason: 'dec', count: 1 }]);
    expect(out.units.map((u) => [u.name, u.status, u.nInputs, u.outcome])).toEqual([
      ['science_d+55.6_20251205T1000_1100', 'ok', 11, null],
      ['science_d+55.6_20251205T1100_1200', 'ok', 5, null],
    ]);
    expect(out.units[0]!.estMemoryBytes).toBeGreaterThan(128 * 1024 * 1024);
    expect(plans(state)).toEqual([]);
    expect(mosaicJobs(state)).toEqual([]);
    const text = await plan('--dry-run');
    expect(text.stdout).toMatch(/dry run: nothing written/);
    expect(text.stdout).toMatch(
      /science_d\+55\.6_20251205T1000_1100\s+ok\s+11 input\(s\).*memory \d+\.\d\d GB/,
    );
    expect(plans(state)).toEqual([]);

    for (let i = 0; i < 2; i++) {
      const wet = await plan('--json');
      expect(wet.code, wet.stderr).toBe(0);
      const units = (JSON.parse(wet.stdout) as PlanJson).units;
      expect(units.map((u) => u.outcome)).toEqual(
        i === 0 ? ['planned', 'planned'] : ['duplicate', 'duplicate'],
      );
    }
    expect(plans(state).map((p) => p.name)).toEqual([
      'science_d+55.6_20251205T1000_1100',
      'science_d+55.6_20251205T1100_1200',
    ]);
    expect(mosaicJobs(state)).toHaveLength(2);

    const list = JSON.parse((await cli(['mosaic', 'list', '--json', '--config', config])).stdout) as {
      name: string;
      state: string;
    }[];
    expect(list.map((p) => p.name)).toEqual([
      'science_d+55.6_20251205T1100_1200',
      'science_d+55.6_20251205T1000_1100',
    ]);
    const show = await cli([
      'mosaic',
      'show',
      'science_d+55.6_20251205T1000_1100',
      '--json',
      '--config',
      config,
    ]);
    const shown = JSON.parse(show.stdout) as {
      plan: { nSelected: number; state: string };
      inputs: unknown[];
      attempts: unknown[];
      product: unknown;
    };
    expect(shown.plan).toMatchObject({ nSelected: 11, state: 'queued' });
    expect(shown.inputs).toHaveLength(11);
    expect(shown).toMatchObject({ attempts: [], product: null });
    const missing = await cli(['mosaic', 'show', 'no_such_plan', '--config', config]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no mosaic plan named no_such_plan/);
    const bad = await cli(['mosaic', 'plan', '--tier', 'weekly', '--date', '2025-12-05', '--config', config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/tier/);
  });
});

describe('scheduler API /api/v1/mosaics', () => {
  it('POST plans (202), refuses identical inputs (409) and nothing eligible (422); GET lists and shows', async () => {
    const { state, statePath, pipelinePath } = await seeded();
    // This daemon also dispatches builds: an operator pause keeps the plans as planned (what this test reads).
    state.write((c) =>
      c
        .prepare("INSERT INTO mosaic_dispatch_pauses (reason, since, by) VALUES ('operator', 0, 'test')")
        .run(),
    );
    const raw = rawConfig(dir, statePath, pipelinePath, {
      scheduler: {
        mosaic: { tiers: { quicklook: { enabled: false }, science: { enabled: false } }, enabled: true },
      },
    });
    const daemon: RunningDaemon = await startDaemon({
      name: 'scheduler',
      run,
      config: parseConfig(raw, dir),
      log: silentLogger(),
      port: 0,
    });
    closers.push(() => daemon.stop('test over'));
    const base = `http://127.0.0.1:${daemon.port}/api/v1/mosaics`;
    const post = (body: unknown) =>
      fetch(base, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const window = { from: '2025-12-05T10:00:00Z', to: '2025-12-05T11:00:00Z' };

    const created = await post({ tier: 'science', window });
    expect(created.status).toBe(202);
    const c = (await created.json()) as {
      name: string;
      plan: { state: string; nSelected: number; trigger: string };
    };
    expect(c.name).toBe('science_d+55.6_20251205T1000_1100');
    expect(c.plan).toMatchObject({ state: 'queued', nSelected: 11, trigger: 'api' });

    const again = await post({ tier: 'science', window });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { details: { plan: { name: string } } }).details.plan.name).toBe(c.name);

    const nothing = await post({ tier: 'science', window, strip: 30 });
    expect(nothing.status).toBe(422);
    const n = (await nothing.json()) as {
      error: string;
      details: { rejected: { reason: string; count: number }[] };
    };
    expect(n.error).toBe('NO_ELIGIBLE_INPUTS');
    expect(n.details.rejected).toEqual([{ reason: 'dec', count: 11 }]);

    expect((await post({ tier: 'science' })).status).toBe(400);

    const listed = (await (await fetch(`${base}?tier=science&state=queued&limit=5`)).json()) as {
      name: string;
    }[];
    expect(listed.map((p) => p.name)).toEqual([c.name]);
    expect((await fetch(`${base}?state=bogus`)).status).toBe(400);
    const one = await fetch(`${base}/${c.name}`);
    expect(one.status).toBe(200);
    expect(((await one.json()) as { inputs: unknown[] }).inputs).toHaveLength(11);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    void CADENCE_MS;
  });
});
