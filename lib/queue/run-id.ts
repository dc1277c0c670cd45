// The rerun run-id convention kept from the original job API: `<base>_rerun_<UTC YYYYMMDD_HHMMSS>`.
// The base is the original's run id with any earlier `_rerun_…` suffix removed, so reruns of reruns stay
// one level deep (`obs_x_rerun_20250102_030405`, not `obs_x_rerun_…_rerun_…`). Jobs without a run id use
// `job_<id>`. Pure, clock passed in.

const RERUN_SUFFIX = /_rerun_\d{8}_\d{6}$/;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

export function utcStamp(nowMs: number): string {
  const d = new Date(nowMs);
  return (
    `${pad(d.getUTCFullYear(), 4)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}_` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`
  );
}

export function rerunRunId(original: { id: number; runId: string | null }, nowMs: number): string {
  const base = (original.runId ?? `job_${original.id}`).replace(RERUN_SUFFIX, '');
  return `${base}_rerun_${utcStamp(nowMs)}`;
}
