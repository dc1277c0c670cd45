// The operator commands, as separate processes (the built CLI): `scheduler run` twice keeps the dampening
// counters between processes; the simulator's calibration faults show up in `flux`, `validity` and, after
// `scheduler run`, in `alerts list`; `scheduler jobs|history`, `health`, `retention run`; usage and config
// errors.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { configuredDatabases } from '../../helpers/db.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir = '';
afterEach(() => removeTmpDir(dir));

const cli = (args: string[]) => runCli(args, { built: true, timeoutMs: 60_000 });

async function setup(scheduler: Record<string, unknown>): Promise<string> {
  dir = makeTmpDir('contimg-sched-cli-');
  const { config, statePath, pipelinePath } = await configuredDatabases(dir);
  fs.writeFileSync(
    config,
    YAML.stringify({ dataDir: dir, databases: { state: statePath, pipeline: pipelinePath }, scheduler }),
  );
  return config;
}

describe('contimg scheduler / health / validity / flux / retention', () => {
  it("runs the health job in two processes: the second continues the first one's count and alerts", async () => {
    const refused = `http://127.0.0.1:${await freePort()}/readyz`;
    const config = await setup({
      health: {
        http: [{ name: 'api', url: refused, timeoutMs: 1000, critical: true }],
        systemd: { units: [] },
        sqlite: [],
        disks: [],
        gpu: { enabled: false },
      },
    });
    const first = await cli(['scheduler', 'run', 'health', '--config', config, '--json']);
    expect(first.code).toBe(0);
    const out = JSON.parse(first.stdout) as {
      job: string;
      result: string;
      runId: number;
      summary: { overall: string };
    };
    expect(out).toMatchObject({ job: 'health', result: 'ok', summary: { overall: 'unhealthy' } });
    let alerts = JSON.parse((await cli(['alerts', 'list', '--config', config, '--json'])).stdout) as {
      alertname: string;
    }[];
    expect(alerts).toEqual([]);
    expect((await cli(['scheduler', 'run', 'health', '--config', config, '--json'])).code).toBe(0);
    alerts = JSON.parse((await cli(['alerts', 'list', '--config', config, '--json'])).stdout) as {
      alertname: string;
    }[];
    expect(alerts.map((a) => a.alertname)).toEqual(['HttpEndpointDown']);

    const health = await cli(['health', '--config', config, '--json']);
    expect(health.code).toBe(1);
    const h = JSON.parse(health.stdout) as {
      status: string;
      targets: { targetId: string; consecutiveFailures: number; alerting: string }[];
    };
    expect(h.status).toBe('unhealthy');
    expect(h.targets).toEqual([
      expect.objectContaining({ targetId: 'http:api', consecutiveFailures: 2, alerting: 'HttpEndpointDown' }),
    ]);
    const text = await cli(['health', '--config', config]);
    expect(text.stdout).toMatch(/overall: unhealthy/);
    expect(text.stdout).toMatch(/crit\s+http:api .*ECONNREFUSED.*ALERT HttpEndpointDown/);

    const jobs = JSON.parse((await cli(['scheduler', 'jobs', '--config', config, '--json'])).stdout) as {
      job: string;
      lastRun: { trigger: string } | null;
      cron: string;
    }[];
    expect(jobs.map((j) => j.job)).toEqual([
      'health',
      'validity',
      'flux',
      'retention',
      'watchdog',
      'mosaicQuicklook',
      'mosaicScience',
      'mosaicWatchdog',
    ]);
    expect(jobs[0]).toMatchObject({ cron: '*/5 * * * *', lastRun: { trigger: 'manual' } });
    const history = JSON.parse(
      (await cli(['scheduler', 'history', '--job', 'health', '--config', config, '--json'])).stdout,
    ) as { result: string }[];
    expect(history.map((r) => r.result)).toEqual(['ok', 'ok']);
    expect((await cli(['scheduler', 'run', 'nope', '--config', config])).code).toBe(2);
    expect((await cli(['scheduler', 'history', '--job', 'nope', '--config', config])).code).toBe(2);
  });

  it("shows the simulator's calibration faults in flux and validity, and as alerts after the jobs run", async () => {
    const config = await setup({});
    const out = path.join(dir, 'incoming');
    const sim = await cli([
      'simulate',
      '--config',
      config,
      '--groups',
      '1',
      '--out',
      out,
      '--fault',
      'flux-drift',
      '--fault',
      'missing-table',
    ]);
    expect(sim.code).toBe(0);
    expect(sim.stdout).toMatch(/simulate: \d+ calibration set\(s\), \d+ flux measurement\(s\)/);
    const flux = JSON.parse((await cli(['flux', '--config', config, '--json'])).stdout) as {
      calibrators: { calibrator: string; drift: string; n: number }[];
      findings: { alertname: string }[];
    };
    expect(flux.calibrators.length).toBeGreaterThanOrEqual(3);
    expect(flux.calibrators.filter((c) => c.drift === 'warning')).toHaveLength(1);
    expect(flux.findings.map((f) => f.alertname)).toContain('CalibratorFluxDrift');
    const validity = JSON.parse((await cli(['validity', '--config', config, '--json'])).stdout) as {
      nearest: { ageHours: number } | null;
      findings: { alertname: string; severity: string }[];
    };
    expect(validity.nearest!.ageHours).toBeLessThan(26);
    expect(validity.findings.map((f) => `${f.alertname}:${f.severity}`)).toEqual([
      'CalibrationTableMissing:critical',
    ]);
    const text = await cli(['validity', '--config', config]);
    expect(text.stdout).toMatch(/nearest complete set: \S+, [\d.]+ h from now/);

    for (const job of ['flux', 'validity'])
      expect((await cli(['scheduler', 'run', job, '--config', config])).code).toBe(0);
    const alerts = JSON.parse((await cli(['alerts', 'list', '--config', config, '--json'])).stdout) as {
      alertname: string;
      source: string;
    }[];
    expect(alerts.map((a) => `${a.source}:${a.alertname}`).sort()).toEqual([
      'flux:CalibratorFluxDrift',
      'flux:CalibratorFluxScaleOffset',
      'validity:CalibrationTableMissing',
    ]);

    // A second simulator run over the same week writes nothing twice.
    const again = await cli(['simulate', '--config', config, '--groups', '1', '--out', out]);
    expect(again.stdout).toMatch(/simulate: 0 calibration set\(s\), 0 flux measurement\(s\)/);
  });

  it('stale-calibration leaves the last 36 h without a set', async () => {
    const config = await setup({});
    await cli([
      'simulate',
      '--config',
      config,
      '--groups',
      '1',
      '--out',
      path.join(dir, 'in'),
      '--fault',
      'stale-calibration',
    ]);
    const v = JSON.parse((await cli(['validity', '--config', config, '--json'])).stdout) as {
      findings: { alertname: string }[];
      nearest: { ageHours: number };
    };
    expect(v.nearest.ageHours).toBeGreaterThan(26);
    expect(v.findings.map((f) => f.alertname)).toEqual(['CalibrationStale']);
  });

  it('retention run prunes now and prints the rows removed per table', async () => {
    const config = await setup({});
    const r = await cli(['retention', 'run', '--config', config, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { removed: Record<string, number>; batches: number };
    expect(Object.keys(out.removed).sort()).toEqual([
      'alert_events',
      'alerts',
      'events',
      'health_history',
      'job_runs',
      'jobs',
    ]);
    expect(Object.values(out.removed).every((n) => n === 0)).toBe(true);
    const text = await cli(['retention', 'run', '--config', config]);
    expect(text.stdout).toMatch(/^events\s+0 removed/m);
  });

  it('a bad cron or a timeout as long as the period is a config error naming the key (exit 78)', async () => {
    const config = await setup({
      jobs: { health: { cron: '61 * * * *' }, flux: { cron: '*/5 * * * *', timeoutS: 300 } },
    });
    const r = await cli(['check-config', '--config', config]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/scheduler\.jobs\.health\.cron: invalid cron "61 \* \* \* \*": minute/);
    expect(r.stderr).toMatch(
      /scheduler\.jobs\.flux\.timeoutS: must be shorter than the cron period \(300 s\)/,
    );
  });
});
