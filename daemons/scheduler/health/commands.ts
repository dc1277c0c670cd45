// The health probes that run a command: systemd units (`systemctl show`), docker containers
// (`docker inspect`) and GPUs (`nvidia-smi`). Each parses the command's output with a pure function (tested
// on its own), and every command runs through lib/probes with an argument array and a hard deadline.
import { runProbeCommand, type ProbeCommandResult } from '../../../lib/probes/exec.js';
import type { LegacyStatus } from '../store.js';
import { probeFailed, result, type TargetResult } from './status.js';

export interface ProbeContext {
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
}

/** `Key=Value` lines (systemctl show), in any order; a value may itself contain `=`. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

const oneLine = (s: string, max = 200): string => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** Why a command gave no usable answer, and the legacy status that goes with it (timeout = error). */
function commandFailure(
  r: ProbeCommandResult,
  what: string,
  timeoutMs: number,
): { detail: string; legacy: LegacyStatus } {
  if (r.kind === 'timeout') return { detail: `${what} timed out after ${timeoutMs} ms`, legacy: 'error' };
  if (r.kind === 'spawn-error') return { detail: `${what} cannot run: ${r.code}`, legacy: 'unknown' };
  return {
    detail: `${what} exited ${r.code ?? r.signal}: ${oneLine(r.stderr || r.stdout) || 'no output'}`,
    legacy: 'error',
  };
}

// ---- systemd ------------------------------------------------------------------------------------------

export const SYSTEMD_PROPERTIES = 'LoadState,ActiveState,SubState,Result';

/** LoadState not-found → warn (SystemdUnitNotFound); active → ok; (de)activating/reloading → warn; else crit. */
export function systemdStatus(
  unit: string,
  p: Record<string, string>,
): Pick<TargetResult, 'status' | 'legacy' | 'detail' | 'alert' | 'data'> {
  const detail = `${p.LoadState ?? '?'}/${p.ActiveState ?? '?'}/${p.SubState ?? '?'}${p.Result && p.Result !== 'success' ? ` (result ${p.Result})` : ''}`;
  const data = { loadState: p.LoadState, activeState: p.ActiveState, subState: p.SubState, result: p.Result };
  if (p.LoadState === 'not-found')
    return {
      status: 'warn',
      legacy: 'stopped',
      detail: `unit not found (${detail})`,
      data,
      alert: {
        alertname: 'SystemdUnitNotFound',
        severity: 'warning',
        labels: { unit },
        summary: `systemd unit ${unit} is not installed`,
      },
    };
  const active = p.ActiveState;
  if (active === 'active') return { status: 'ok', legacy: 'running', detail, data, alert: null };
  const transitional = active === 'activating' || active === 'deactivating' || active === 'reloading';
  const down = (severity: 'warning' | 'critical') => ({
    alertname: 'SystemdUnitDown',
    severity,
    labels: { unit },
    summary: `systemd unit ${unit} is ${active ?? 'in an unknown state'} (${detail})`,
  });
  if (transitional) return { status: 'warn', legacy: 'degraded', detail, data, alert: down('warning') };
  return {
    status: 'crit',
    legacy: active === 'failed' ? 'error' : 'stopped',
    detail,
    data,
    alert: down('critical'),
  };
}

export async function probeSystemd(
  unit: string,
  o: { critical: boolean; timeoutMs: number },
  ctx: ProbeContext,
): Promise<TargetResult> {
  const base = { kind: 'systemd' as const, name: unit, critical: o.critical };
  const r = await runProbeCommand('systemctl', ['show', unit, `--property=${SYSTEMD_PROPERTIES}`], {
    timeoutMs: o.timeoutMs,
    signal: ctx.signal,
    env: ctx.env,
  });
  if (r.kind !== 'exited' || r.code !== 0) {
    const f = commandFailure(r, 'systemctl show', o.timeoutMs);
    return probeFailed(base, f.detail, r.ms, f.legacy);
  }
  return result(base, { ...systemdStatus(unit, parseKeyValues(r.stdout)), value: null, durationMs: r.ms });
}

// ---- docker -------------------------------------------------------------------------------------------

interface DockerState {
  Status?: string;
  Running?: boolean;
  ExitCode?: number;
  Health?: { Status?: string } | null;
}

/**
 * running (healthy, or without a healthcheck) → ok; running+starting → warn; unhealthy, restarting, exited,
 * dead, missing → crit. Legacy as the original: running, exited/missing → stopped, other states degraded.
 */
export function dockerStatus(
  container: string,
  state: DockerState | null,
  useHealth: boolean,
): Pick<TargetResult, 'status' | 'legacy' | 'detail' | 'alert' | 'data'> {
  const down = (severity: 'warning' | 'critical', what: string) => ({
    alertname: 'DockerContainerDown',
    severity,
    labels: { container },
    summary: `container ${container} is ${what}`,
  });
  if (!state)
    return {
      status: 'crit',
      legacy: 'stopped',
      detail: 'no such container',
      data: {},
      alert: down('critical', 'missing'),
    };
  const status = state.Status ?? 'unknown';
  const health = useHealth ? (state.Health?.Status ?? null) : null;
  const detail = health ? `${status} (${health})` : status;
  const data = { status, health };
  if (status === 'running') {
    if (health === 'unhealthy')
      return { status: 'crit', legacy: 'error', detail, data, alert: down('critical', 'unhealthy') };
    if (health === 'starting')
      return { status: 'warn', legacy: 'degraded', detail, data, alert: down('warning', 'starting') };
    return { status: 'ok', legacy: 'running', detail, data, alert: null };
  }
  return {
    status: 'crit',
    legacy: status === 'exited' ? 'stopped' : 'degraded',
    detail,
    data,
    alert: down('critical', status),
  };
}

export async function probeDocker(
  container: string,
  o: { timeoutMs: number; useHealthStatus: boolean },
  ctx: ProbeContext,
): Promise<TargetResult> {
  const base = { kind: 'docker' as const, name: container, critical: false };
  const r = await runProbeCommand('docker', ['inspect', '--format', '{{json .State}}', container], {
    timeoutMs: o.timeoutMs,
    signal: ctx.signal,
    env: ctx.env,
  });
  if (r.kind === 'exited' && r.code !== 0 && /no such (object|container)/i.test(r.stderr))
    return result(base, {
      ...dockerStatus(container, null, o.useHealthStatus),
      value: null,
      durationMs: r.ms,
    });
  if (r.kind !== 'exited' || r.code !== 0) {
    const f = commandFailure(r, 'docker inspect', o.timeoutMs);
    return probeFailed(base, f.detail, r.ms, f.legacy);
  }
  let state: DockerState;
  try {
    state = JSON.parse(r.stdout) as DockerState;
  } catch {
    return probeFailed(base, `docker inspect printed no JSON: ${oneLine(r.stdout)}`, r.ms, 'error');
  }
  return result(base, {
    ...dockerStatus(container, state, o.useHealthStatus),
    value: null,
    durationMs: r.ms,
  });
}

// ---- GPUs ---------------------------------------------------------------------------------------------

export const NVIDIA_QUERY = 'index,name,temperature.gpu,utilization.gpu,memory.used,memory.total,power.draw';

export interface GpuReading {
  index: string;
  name: string;
  temperatureC: number | null;
  utilizationPct: number | null;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  powerW: number | null;
}

const MIB = 1024 * 1024;

/** One GPU per line; "[N/A]" (or any bracketed driver note) and blanks become null. */
export function parseNvidiaSmi(text: string): GpuReading[] {
  const num = (s: string | undefined): number | null => {
    const t = (s ?? '').trim();
    if (t === '' || t.startsWith('[')) return null;
    const n = Number(t);
    return Number.isFinite(n) ? n : null;
  };
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const f = l.split(',').map((x) => x.trim());
      const used = num(f[4]);
      const total = num(f[5]);
      return {
        index: f[0],
        name: f[1] ?? '',
        temperatureC: num(f[2]),
        utilizationPct: num(f[3]),
        memoryUsedBytes: used === null ? null : used * MIB,
        memoryTotalBytes: total === null ? null : total * MIB,
        powerW: num(f[6]),
      };
    });
}

export interface GpuThresholds {
  tempWarnC: number;
  tempCritC: number;
  memWarnPct: number;
  memCritPct: number;
  alertOnMemory: boolean;
}

export function gpuStatus(
  g: GpuReading,
  t: GpuThresholds,
): Pick<TargetResult, 'status' | 'detail' | 'alert'> {
  const memPct =
    g.memoryUsedBytes !== null && g.memoryTotalBytes ? (100 * g.memoryUsedBytes) / g.memoryTotalBytes : null;
  const temp = g.temperatureC;
  const detail = `${g.name}: ${temp ?? '?'} °C, util ${g.utilizationPct ?? '?'} %, memory ${memPct === null ? '?' : memPct.toFixed(0)} %, power ${g.powerW ?? 'n/a'} W`;
  /** warn at or above `warn`, crit at or above `crit`, with the alert that goes with it. */
  const graded = (alertname: string, value: number, warn: number, crit: number, what: string) => {
    const c = value >= crit;
    return {
      status: c ? ('crit' as const) : ('warn' as const),
      detail,
      alert: {
        alertname,
        severity: c ? ('critical' as const) : ('warning' as const),
        labels: { gpu: g.index },
        summary: `GPU ${g.index} (${g.name}) ${what} (limit ${c ? crit : warn})`,
      },
    };
  };
  if (temp !== null && temp >= t.tempWarnC)
    return graded('GpuTemperatureHigh', temp, t.tempWarnC, t.tempCritC, `at ${temp} °C`);
  if (t.alertOnMemory && memPct !== null && memPct >= t.memWarnPct)
    return graded('GpuMemoryHigh', memPct, t.memWarnPct, t.memCritPct, `memory ${memPct.toFixed(0)} % used`);
  return { status: 'ok', detail, alert: null };
}

/** What nvidia-smi prints when the machine has no usable GPU (not a failure: the GPU is unavailable). */
const NO_GPU = /no devices were found|couldn't communicate with the nvidia driver|nvidia-smi has failed/i;

export async function probeGpus(
  o: GpuThresholds & { enabled: 'auto' | boolean; timeoutMs: number },
  ctx: ProbeContext,
): Promise<TargetResult[]> {
  const base = { kind: 'gpu' as const, name: 'nvidia', critical: false };
  const r = await runProbeCommand(
    'nvidia-smi',
    [`--query-gpu=${NVIDIA_QUERY}`, '--format=csv,noheader,nounits'],
    { timeoutMs: o.timeoutMs, signal: ctx.signal, env: ctx.env },
  );
  const unavailable = (detail: string): TargetResult[] => [
    result(base, {
      status: 'unavailable',
      legacy: 'unknown',
      detail,
      value: null,
      data: {},
      durationMs: r.ms,
      alert: null,
    }),
  ];
  if (r.kind === 'spawn-error' && r.code === 'ENOENT' && o.enabled === 'auto')
    return unavailable('no nvidia-smi');
  if (r.kind === 'exited' && r.code !== 0 && NO_GPU.test(`${r.stdout}\n${r.stderr}`))
    return unavailable(oneLine(r.stdout || r.stderr));
  if (r.kind !== 'exited' || r.code !== 0) {
    const f = commandFailure(r, 'nvidia-smi', o.timeoutMs);
    return [probeFailed(base, f.detail, r.ms, f.legacy)];
  }
  const gpus = parseNvidiaSmi(r.stdout);
  if (gpus.length === 0) return unavailable('nvidia-smi listed no GPU');
  return gpus.map((g) => {
    const s = gpuStatus(g, o);
    return result(
      { kind: 'gpu', name: g.index, critical: false },
      {
        ...s,
        legacy: s.status === 'ok' ? 'running' : s.status === 'warn' ? 'degraded' : 'error',
        value: g.temperatureC,
        data: { ...g },
        durationMs: r.ms,
      },
    );
  });
}
