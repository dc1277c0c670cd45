// The health job with PATH shims for systemctl/docker/nvidia-smi and a real HTTP server on loopback:
// statuses, the overall status, legacy gauges, alerts only from the 2nd consecutive failure, a probe that
// hangs past its deadline is `unknown` within the budget, and recovery resolves.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { JobRunner } from '../../../daemons/scheduler/runner.js';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { firing, sample, schedulerEnv, type SchedulerEnv } from './helpers.js';
import { statusServer, writeShims } from './shims.js';

let env: SchedulerEnv | undefined;
let dir = '';
let server: Awaited<ReturnType<typeof statusServer>> | undefined;
afterEach(async () => {
  env?.close();
  env = undefined;
  await server?.close();
  server = undefined;
  removeTmpDir(dir);
});

function checks(
  statePath: string,
): Record<string, { status: string; legacy: string; detail: string; failures: number; ms: number }> {
  const db = new Database(statePath, { readonly: true });
  try {
    const rows = db
      .prepare(
        'SELECT target_id, status, legacy, detail, consecutive_failures, duration_ms FROM health_checks',
      )
      .all() as {
      target_id: string;
      status: string;
      legacy: string;
      detail: string;
      consecutive_failures: number;
      duration_ms: number;
    }[];
    return Object.fromEntries(
      rows.map((r) => [
        r.target_id,
        {
          status: r.status,
          legacy: r.legacy,
          detail: r.detail,
          failures: r.consecutive_failures,
          ms: r.duration_ms,
        },
      ]),
    );
  } finally {
    db.close();
  }
}

describe('health job', () => {
  it('probes units, containers, endpoints, databases, disks and GPUs; dampens; resolves', async () => {
    dir = makeTmpDir('contimg-health-');
    const shims = writeShims(dir);
    server = await statusServer();
    const refused = `http://127.0.0.1:${await freePort()}/readyz`;
    env = await schedulerEnv(
      dir,
      {
        scheduler: {
          health: {
            systemd: {
              units: [
                'active.service',
                { unit: 'inactive.service', critical: true },
                'failed.service',
                'activating.service',
                'notfound.service',
                'sleepy.service',
              ],
              timeoutMs: 800,
            },
            docker: { containers: ['web', 'sick', 'loop', 'gone'] },
            http: [
              { name: 'ok', url: server.url('/ok') },
              { name: 'missing', url: server.url('/missing') },
              { name: 'broken', url: server.url('/broken') },
              { name: 'hang', url: server.url('/hang'), timeoutMs: 800 },
              { name: 'refused', url: refused },
            ],
            gpu: { enabled: true },
          },
        },
      },
      { env: shims.env },
    );
    const runner = new JobRunner(env.ctx);
    const t0 = performance.now();
    const first = await runner.run({ job: 'health', trigger: 'manual', scheduledFor: null });
    const wall = performance.now() - t0;
    expect(first.result).toBe('ok');
    // The sleeping shim and the hanging endpoint are cut at 800 ms, in parallel: far inside the job's timeout.
    expect(wall).toBeLessThan(8_000);
    const c = checks(env.statePath);
    const status = Object.fromEntries(Object.entries(c).map(([k, v]) => [k, `${v.status}/${v.legacy}`]));
    expect(status).toEqual({
      'systemd:active.service': 'ok/running',
      'systemd:inactive.service': 'crit/stopped',
      'systemd:failed.service': 'crit/error',
      'systemd:activating.service': 'warn/degraded',
      'systemd:notfound.service': 'warn/stopped',
      'systemd:sleepy.service': 'unknown/error',
      'docker:web': 'ok/running',
      'docker:sick': 'crit/error',
      'docker:loop': 'crit/degraded',
      'docker:gone': 'crit/stopped',
      'http:ok': 'ok/running',
      'http:missing': 'warn/degraded',
      'http:broken': 'crit/error',
      'http:hang': 'crit/stopped',
      'http:refused': 'crit/stopped',
      'sqlite:state': 'ok/running',
      'sqlite:pipeline': 'ok/running',
      'disk:data': expect.stringMatching(/^(ok|warn|crit)\//),
      'gpu:0': 'warn/degraded',
      'gpu:1': 'ok/running',
    });
    expect(c['systemd:sleepy.service'].detail).toMatch(/timed out after 800 ms/);
    expect(c['systemd:sleepy.service'].ms).toBeLessThan(3_000);
    expect(c['http:hang'].detail).toMatch(/no answer within 800 ms/);
    expect(c['http:refused'].detail).toBe('ECONNREFUSED');
    // Argument arrays, exactly as documented.
    expect(shims.calls()).toContain('show active.service --property=LoadState,ActiveState,SubState,Result');
    expect(shims.calls()).toContain('inspect --format {{json .State}} web');
    expect(shims.calls()).toContain(
      '--query-gpu=index,name,temperature.gpu,utilization.gpu,memory.used,memory.total,power.draw --format=csv,noheader,nounits',
    );

    const g = (s: string) => sample(env!.registry, s);
    expect(await g('contimg_health_overall_status')).toBe(2); // inactive.service is critical and down
    expect((first.summary as { overall: string }).overall).toBe('unhealthy');
    expect(await g('contimg_systemd_service_status{service="active.service"}')).toBe(1);
    expect(await g('contimg_systemd_service_status{service="activating.service"}')).toBe(0.5);
    expect(await g('contimg_systemd_service_status{service="inactive.service"}')).toBe(0);
    expect(await g('contimg_systemd_service_status{service="failed.service"}')).toBe(-1);
    expect(await g('contimg_docker_container_status{container="web"}')).toBe(1);
    expect(await g('contimg_docker_container_status{container="sick"}')).toBe(-1);
    expect(await g('contimg_docker_container_status{container="gone"}')).toBe(0);
    expect(await g('contimg_health_target_status{kind="http",target="missing"}')).toBe(1);
    expect(await g('contimg_health_target_status{kind="systemd",target="sleepy.service"}')).toBe(3);
    expect(await g('contimg_health_target_up{kind="http",target="broken"}')).toBe(0);
    expect(await g('contimg_health_gpu_temperature_celsius{gpu="0"}')).toBe(80);
    expect(await g('contimg_health_gpu_power_watts{gpu="0"}')).toBeNaN();
    expect(await g('contimg_health_gpu_power_watts{gpu="1"}')).toBe(30.5);
    expect(await g('contimg_health_disk_free_ratio{disk="data"}')).toBeGreaterThan(0);
    // The first failure alerts nothing.
    expect(firing(env.statePath)).toEqual([]);

    await runner.run({ job: 'health', trigger: 'manual', scheduledFor: null });
    expect(firing(env.statePath)).toEqual([
      'DockerContainerDown{gone}:critical',
      'DockerContainerDown{loop}:critical',
      'DockerContainerDown{sick}:critical',
      'GpuTemperatureHigh{0}:warning',
      'HealthProbeFailed{systemd:sleepy.service}:warning',
      'HttpEndpointDegraded{missing}:warning',
      'HttpEndpointDown{broken}:critical',
      'HttpEndpointDown{hang}:critical',
      'HttpEndpointDown{refused}:critical',
      'SystemdUnitDown{activating.service}:warning',
      'SystemdUnitDown{failed.service}:critical',
      'SystemdUnitDown{inactive.service}:critical',
      'SystemdUnitNotFound{notfound.service}:warning',
    ]);
    const hist = new Database(env.statePath, { readonly: true });
    const transitions = (hist.prepare('SELECT count(*) AS n FROM health_history').get() as { n: number }).n;
    hist.close();
    expect(transitions).toBe(Object.keys(c).length); // the first sighting of each target; nothing changed since

    server.fix();
    await runner.run({ job: 'health', trigger: 'manual', scheduledFor: null });
    expect(firing(env.statePath)).not.toContain('HttpEndpointDown{broken}:critical');
    expect(checks(env.statePath)['http:broken'].status).toBe('ok');
  });

  it('a target removed from the config is dropped and its alert resolved', async () => {
    dir = makeTmpDir('contimg-health-');
    const shims = writeShims(dir);
    env = await schedulerEnv(
      dir,
      { scheduler: { health: { systemd: { units: ['inactive.service'] }, sqlite: [], disks: [] } } },
      { env: shims.env },
    );
    const runner = new JobRunner(env.ctx);
    await runner.run({ job: 'health', trigger: 'manual', scheduledFor: null });
    await runner.run({ job: 'health', trigger: 'manual', scheduledFor: null });
    expect(firing(env.statePath)).toEqual(['SystemdUnitDown{inactive.service}:critical']);
    const ctx2 = {
      ...env.ctx,
      config: {
        ...env.config,
        scheduler: {
          ...env.config.scheduler,
          health: { ...env.config.scheduler.health, systemd: { units: [], timeoutMs: 5000 } },
        },
      },
    };
    await new JobRunner(ctx2).run({ job: 'health', trigger: 'manual', scheduledFor: null });
    expect(firing(env.statePath)).toEqual([]);
    expect(Object.keys(checks(env.statePath))).toEqual([]);
  });
});
