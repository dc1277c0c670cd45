// The health decisions, pure: parsing probe output, statuses and legacy encodings, dampening, overall status.
import { describe, expect, it } from 'vitest';
import {
  dockerStatus,
  gpuStatus,
  parseKeyValues,
  parseNvidiaSmi,
  systemdStatus,
} from '../../../daemons/scheduler/health/commands.js';
import { diskStatus, httpStatus } from '../../../daemons/scheduler/health/local.js';
import {
  dampen,
  LEGACY_VALUE,
  overallStatus,
  type DampState,
  type WantedAlert,
} from '../../../daemons/scheduler/health/status.js';
import type { HealthStatus } from '../../../daemons/scheduler/store.js';

describe('systemd', () => {
  it('parses Key=Value lines in any order, values with =', () => {
    expect(
      parseKeyValues('SubState=running\nActiveState=active\nLoadState=loaded\nResult=success\nX=a=b\n'),
    ).toEqual({
      SubState: 'running',
      ActiveState: 'active',
      LoadState: 'loaded',
      Result: 'success',
      X: 'a=b',
    });
  });

  it.each([
    ['active', 'ok', 'running', null],
    ['activating', 'warn', 'degraded', 'SystemdUnitDown'],
    ['reloading', 'warn', 'degraded', 'SystemdUnitDown'],
    ['deactivating', 'warn', 'degraded', 'SystemdUnitDown'],
    ['inactive', 'crit', 'stopped', 'SystemdUnitDown'],
    ['failed', 'crit', 'error', 'SystemdUnitDown'],
  ])('ActiveState %s → %s (legacy %s)', (active, status, legacy, alert) => {
    const s = systemdStatus('x.service', { LoadState: 'loaded', ActiveState: active, SubState: 'y' });
    expect([s.status, s.legacy, s.alert?.alertname ?? null]).toEqual([status, legacy, alert]);
    if (status === 'crit') expect(s.alert?.severity).toBe('critical');
  });

  it('a unit that is not installed is its own finding, not "stopped"', () => {
    const s = systemdStatus('typo.service', {
      LoadState: 'not-found',
      ActiveState: 'inactive',
      SubState: 'dead',
    });
    expect(s.status).toBe('warn');
    expect(s.alert).toMatchObject({
      alertname: 'SystemdUnitNotFound',
      severity: 'warning',
      labels: { unit: 'typo.service' },
    });
  });
});

describe('docker', () => {
  it.each([
    [{ Status: 'running', Health: { Status: 'healthy' } }, 'ok', 'running'],
    [{ Status: 'running' }, 'ok', 'running'],
    [{ Status: 'running', Health: { Status: 'starting' } }, 'warn', 'degraded'],
    [{ Status: 'running', Health: { Status: 'unhealthy' } }, 'crit', 'error'],
    [{ Status: 'restarting' }, 'crit', 'degraded'],
    [{ Status: 'exited', ExitCode: 1 }, 'crit', 'stopped'],
    [{ Status: 'dead' }, 'crit', 'degraded'],
    [null, 'crit', 'stopped'],
  ])('%j → %s (legacy %s)', (state, status, legacy) => {
    const s = dockerStatus('c', state, true);
    expect([s.status, s.legacy]).toEqual([status, legacy]);
    if (status !== 'ok') expect(s.alert?.alertname).toBe('DockerContainerDown');
  });

  it('ignores the container healthcheck when told to', () => {
    expect(dockerStatus('c', { Status: 'running', Health: { Status: 'unhealthy' } }, false).status).toBe(
      'ok',
    );
  });
});

describe('GPUs', () => {
  const csv =
    '0, NVIDIA A100-SXM4-40GB, 80, 45, 1024, 40960, [N/A]\n1, NVIDIA A100-SXM4-40GB, 41, 3, 0, 40960, 61.50\n';
  it('parses the CSV; [N/A] is null, memory in bytes', () => {
    const [a, b] = parseNvidiaSmi(csv);
    expect(a).toEqual({
      index: '0',
      name: 'NVIDIA A100-SXM4-40GB',
      temperatureC: 80,
      utilizationPct: 45,
      memoryUsedBytes: 1024 * 1024 * 1024,
      memoryTotalBytes: 40960 * 1024 * 1024,
      powerW: null,
    });
    expect(b.powerW).toBe(61.5);
  });

  it('80 °C is a warning, 85 °C critical; memory only alerts when asked', () => {
    const t = { tempWarnC: 75, tempCritC: 85, memWarnPct: 80, memCritPct: 95, alertOnMemory: false };
    const [a] = parseNvidiaSmi(csv);
    expect(gpuStatus(a, t)).toMatchObject({
      status: 'warn',
      alert: { alertname: 'GpuTemperatureHigh', labels: { gpu: '0' } },
    });
    expect(gpuStatus({ ...a, temperatureC: 86 }, t).status).toBe('crit');
    const full = { ...a, temperatureC: 40, memoryUsedBytes: a.memoryTotalBytes };
    expect(gpuStatus(full, t).status).toBe('ok');
    expect(gpuStatus(full, { ...t, alertOnMemory: true }).status).toBe('crit');
  });
});

describe('http and disks', () => {
  const t = { name: 'api', url: 'http://127.0.0.1:1/readyz', expectStatus: 200 };
  it.each([
    [{ status: 200 }, 'ok', null],
    [{ status: 404 }, 'warn', 'HttpEndpointDegraded'],
    [{ status: 503 }, 'crit', 'HttpEndpointDown'],
    [{ error: 'ECONNREFUSED' }, 'crit', 'HttpEndpointDown'],
    [{ error: 'no answer within 5000 ms' }, 'crit', 'HttpEndpointDown'],
  ])('%j → %s', (outcome, status, alert) => {
    const s = httpStatus(t, outcome);
    expect([s.status, s.alert?.alertname ?? null]).toEqual([status, alert]);
  });

  it('free space below warn/crit percentages', () => {
    const d = { name: 'data', path: '/data', warnFreePct: 25, critFreePct: 15, critical: true };
    expect(diskStatus(d, { freeBytes: 30, sizeBytes: 100 }).status).toBe('ok');
    expect(diskStatus(d, { freeBytes: 20, sizeBytes: 100 })).toMatchObject({
      status: 'warn',
      alert: { severity: 'warning' },
    });
    expect(diskStatus(d, { freeBytes: 10, sizeBytes: 100 })).toMatchObject({
      status: 'crit',
      alert: { alertname: 'DiskSpaceLow', severity: 'critical' },
    });
  });
});

describe('dampening', () => {
  const cfg = { failuresBeforeAlert: 2, successesBeforeResolve: 1 };
  const down: WantedAlert = {
    alertname: 'HttpEndpointDown',
    severity: 'critical',
    labels: { endpoint: 'api' },
    summary: '',
  };
  const degraded: WantedAlert = { ...down, alertname: 'HttpEndpointDegraded', severity: 'warning' };
  const step = (prev: DampState | null, status: HealthStatus, alert: WantedAlert | null = null) =>
    dampen(prev, { status, alert }, cfg, 'h1');

  it('fires on the 2nd consecutive non-ok result, resolves on the 1st ok, re-arms', () => {
    const a = step(null, 'crit', down);
    expect(a.raise).toBeNull();
    expect(a.next.failures).toBe(1);
    // The counters are all it needs: a restart that reads them back continues the count.
    const b = step({ ...a.next }, 'crit', down);
    expect(b.raise).toEqual({
      alertname: 'HttpEndpointDown',
      severity: 'critical',
      labels: { endpoint: 'api', host: 'h1' },
    });
    const c = step(b.next, 'ok');
    expect(c.resolve?.alertname).toBe('HttpEndpointDown');
    expect(c.next.alert).toBeNull();
    const d = step(c.next, 'crit', down);
    expect(d.raise).toBeNull();
  });

  it('a non-ok result between oks restarts the count; a change of kind swaps the alert', () => {
    let s = step(null, 'crit', down).next;
    s = step(s, 'ok').next;
    expect(step(s, 'crit', down).raise).toBeNull();
    const fired = step(step(null, 'warn', degraded).next, 'warn', degraded);
    const swapped = step(fired.next, 'crit', down);
    expect(swapped.resolve?.alertname).toBe('HttpEndpointDegraded');
    expect(swapped.raise?.alertname).toBe('HttpEndpointDown');
  });

  it('needs successesBeforeResolve oks to resolve', () => {
    const two = { failuresBeforeAlert: 1, successesBeforeResolve: 2 };
    const f = dampen(null, { status: 'crit', alert: down }, two, 'h');
    expect(f.raise).not.toBeNull();
    const o1 = dampen(f.next, { status: 'ok', alert: null }, two, 'h');
    expect(o1.resolve).toBeNull();
    expect(dampen(o1.next, { status: 'ok', alert: null }, two, 'h').resolve).not.toBeNull();
  });
});

describe('overall status and legacy values', () => {
  it('healthy / degraded / unhealthy', () => {
    expect(
      overallStatus([
        { status: 'ok', critical: true },
        { status: 'unavailable', critical: false },
      ]),
    ).toBe('healthy');
    expect(
      overallStatus([
        { status: 'ok', critical: true },
        { status: 'crit', critical: false },
      ]),
    ).toBe('degraded');
    expect(overallStatus([{ status: 'warn', critical: true }])).toBe('degraded');
    expect(overallStatus([{ status: 'unknown', critical: true }])).toBe('degraded');
    expect(
      overallStatus([
        { status: 'crit', critical: true },
        { status: 'ok', critical: false },
      ]),
    ).toBe('unhealthy');
  });

  it('keeps the original gauge encoding', () => {
    expect(LEGACY_VALUE).toEqual({ running: 1, degraded: 0.5, stopped: 0, error: -1, unknown: -2 });
  });
});
