// A planned unit into the state database, one BEGIN IMMEDIATE transaction per unit (docs/mosaicking.md
// "Plan states"): the plan row, its inputs, its build job on the `mosaic` queue, its event and its
// MosaicNoInputs alert commit together or not at all. Re-planning the same unit is idempotent:
//   same name and inputs hash        → nothing (`duplicate`);
//   other inputs, plan queued/retry  → the old plan `superseded`, `<base>_v<k+1>` inserted;
//   other inputs, building or later  → a `mosaic.late_inputs` event (once per plan and inputs); science
//                                      re-plans as v<k+1> (replanLate);
//   images but none eligible          → an `empty` plan and MosaicNoInputs{tier, strip}.
import { cachedStatement as stmt, type Connection } from '../../../lib/db/index.js';
import { cancelQueuedIn } from '../../../lib/queue/index.js';
import { appendEvent } from '../../../lib/events/index.js';
import type { MosaicTier } from '../../../lib/mosaic/manifest.js';
import { stripLabel, type PlannedUnit } from '../../../lib/mosaic/plan/index.js';
import { reconcileAlerts } from '../findings.js';
import { enqueueBuild } from './dispatch-jobs.js';
import type { PlanRow, PlanTrigger } from './plan-row.js';

export type PlanOutcome = 'planned' | 'duplicate' | 'superseded' | 'empty' | 'late' | 'too_large';

export const EVENT_TOPIC = 'mosaic';
export const NO_INPUTS_ALERT = 'MosaicNoInputs';
const NOT_STARTED = new Set(['queued', 'retry_wait', 'empty']);

export interface WriteOptions {
  trigger: PlanTrigger;
  host: string;
  maxAttempts: number;
  replanLate: boolean;
}

export interface WriteResult {
  outcome: PlanOutcome;
  plan: PlanRow;
  /** The plan this write superseded, or that was building when late inputs came. */
  previous?: PlanRow;
  jobId?: number;
}

export function latestPlan(conn: Connection, baseName: string): PlanRow | undefined {
  return stmt(conn, 'SELECT * FROM mosaic_plans WHERE base_name = ? ORDER BY version DESC LIMIT 1').get(
    baseName,
  ) as PlanRow | undefined;
}

export function planByHash(conn: Connection, tier: MosaicTier, hash: string): PlanRow | undefined {
  return stmt(
    conn,
    `SELECT * FROM mosaic_plans WHERE tier = ? AND inputs_hash = ? AND state NOT IN ('superseded', 'empty')
     ORDER BY id DESC LIMIT 1`,
  ).get(tier, hash) as PlanRow | undefined;
}

function insertPlan(
  conn: Connection,
  u: PlannedUnit,
  version: number,
  trigger: PlanTrigger,
  state: string,
  now: number,
): PlanRow {
  const name = version === 1 ? u.baseName : `${u.baseName}_v${version}`;
  const row = stmt(
    conn,
    `INSERT INTO mosaic_plans (name, base_name, version, tier, trigger, strip_dec_deg, frame, window_start,
       window_end, ra_min_deg, ra_max_deg, n_candidates, n_selected, rejected_json, inputs_hash, grid_json,
       est_memory_bytes, state, error_code, error, created_at, updated_at)
     VALUES (@name, @base, @version, @tier, @trigger, @strip, @frame, @ws, @we, @raMin, @raMax, @nc, @ns,
       @rejected, @hash, @grid, @mem, @state, @errorCode, @error, @now, @now)
     RETURNING *`,
  ).get({
    name,
    base: u.baseName,
    version,
    tier: u.tier,
    trigger,
    strip: u.stripDeg,
    frame: u.frame,
    ws: u.windowStartMs,
    we: u.windowEndMs,
    raMin: u.raMinDeg,
    raMax: u.raMaxDeg,
    nc: u.nCandidates,
    ns: u.inputs.length,
    rejected: JSON.stringify(u.rejected),
    hash: u.inputsHash,
    grid: u.grid ? JSON.stringify(u.grid) : null,
    mem: u.estMemoryBytes,
    state,
    errorCode: u.status === 'grid_too_large' ? 'grid_too_large' : null,
    error:
      u.status === 'grid_too_large'
        ? 'no split of the unit in RA fits memoryMaxGb and maxCanvasPixels (a single input does not fit)'
        : null,
    now,
  }) as PlanRow;
  const ins = stmt(
    conn,
    `INSERT INTO mosaic_plan_inputs (plan_id, ord, image_id, path, size, mtime_ns, ino, obs_mid, ra_deg, dec_deg,
       noise_jy, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  u.inputs.forEach((i, ord) =>
    ins.run(
      row.id,
      ord,
      i.imageId,
      i.path,
      i.size,
      i.mtimeNs,
      i.ino,
      Math.round(i.obsMidMs),
      i.raDeg,
      i.decDeg,
      i.noiseJy,
      i.kind,
    ),
  );
  return row;
}

function event(conn: Connection, type: string, payload: Record<string, unknown>, now: number): void {
  appendEvent(conn, { topic: EVENT_TOPIC, type, payload }, now);
}

const planSummary = (p: PlanRow) => ({
  planId: p.id,
  name: p.name,
  tier: p.tier,
  strip: stripLabel(p.strip_dec_deg),
  nSelected: p.n_selected,
  inputsHash: p.inputs_hash,
});

function topReasons(rejected: PlannedUnit['rejected']): string {
  return Object.entries(rejected)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
}

/** MosaicNoInputs{tier, strip}: firing after an empty plan, resolved by the next plan with inputs. */
function reconcileNoInputs(conn: Connection, u: PlannedUnit, o: WriteOptions, now: number): void {
  const labels = { tier: u.tier, strip: stripLabel(u.stripDeg) };
  reconcileAlerts(
    conn,
    { source: 'mosaic', host: o.host, alertnames: [NO_INPUTS_ALERT], scope: labels },
    u.status === 'empty'
      ? [
          {
            alertname: NO_INPUTS_ALERT,
            severity: 'warning',
            labels,
            summary: `no eligible images for the ${u.tier} mosaic ${u.baseName}: ${u.nCandidates} image(s), all rejected`,
            description: `rejected: ${topReasons(u.rejected)}`,
            value: String(u.nCandidates),
          },
        ]
      : [],
    now,
  );
}

function insertWithJob(conn: Connection, u: PlannedUnit, version: number, o: WriteOptions, now: number) {
  const state = u.status === 'empty' ? 'empty' : u.status === 'grid_too_large' ? 'failed' : 'queued';
  const plan = insertPlan(conn, u, version, o.trigger, state, now);
  reconcileNoInputs(conn, u, o, now);
  if (state !== 'queued') {
    event(conn, state === 'empty' ? 'mosaic.planned' : 'mosaic.failed', { ...planSummary(plan), state }, now);
    return { plan };
  }
  const job = enqueueBuild(conn, { id: plan.id, tier: u.tier, name: plan.name }, o.maxAttempts, now);
  plan.job_id = job.id;
  event(conn, 'mosaic.planned', { ...planSummary(plan), jobId: job.id }, now);
  return { plan, jobId: job.id };
}

function lateReported(conn: Connection, plan: PlanRow, hash: string): boolean {
  return (
    stmt(
      conn,
      `SELECT 1 FROM events WHERE created_at >= @since AND topic = 'mosaic' AND type = 'mosaic.late_inputs'
         AND json_extract(payload, '$.planId') = @id AND json_extract(payload, '$.newInputsHash') = @hash LIMIT 1`,
    ).get({ since: plan.created_at, id: plan.id, hash }) !== undefined
  );
}

/** Write one unit (call inside db.write). */
export function writeUnit(conn: Connection, u: PlannedUnit, o: WriteOptions, now: number): WriteResult {
  const prev = latestPlan(conn, u.baseName);
  if (!prev) {
    const r = insertWithJob(conn, u, 1, o, now);
    return { outcome: outcomeOf(u, 'planned'), ...r };
  }
  // A unit refused as too large becomes plannable when the limits change (same inputs, now fitting).
  const refused =
    prev.state === 'failed' && prev.error_code === 'grid_too_large' && u.status !== 'grid_too_large';
  if (prev.inputs_hash === u.inputsHash && !refused) return { outcome: 'duplicate', plan: prev };
  // A plan superseded without a successor (its builder found an input changed) is planned again.
  const orphaned = prev.state === 'superseded';
  if (NOT_STARTED.has(prev.state) || refused || orphaned) {
    const r = insertWithJob(conn, u, prev.version + 1, o, now);
    stmt(
      conn,
      `UPDATE mosaic_plans SET state = 'superseded', superseded_by = ?, updated_at = ? WHERE id = ?`,
    ).run(r.plan.id, now, prev.id);
    if (orphaned) return { outcome: outcomeOf(u, 'planned'), previous: prev, ...r };
    // Its build job must not run: cancelled while still queued (a claimed one is the dispatcher's to stop).
    if (prev.job_id !== null) cancelQueuedIn(conn, prev.job_id, now);
    event(conn, 'mosaic.superseded', { ...planSummary(prev), supersededBy: r.plan.id, by: r.plan.name }, now);
    return { outcome: prev.state === 'empty' ? outcomeOf(u, 'planned') : 'superseded', previous: prev, ...r };
  }
  // Re-planning every tick sees the same late inputs again: one event per (plan, new inputs) is enough.
  if (lateReported(conn, prev, u.inputsHash)) return { outcome: 'duplicate', plan: prev, previous: prev };
  event(
    conn,
    'mosaic.late_inputs',
    { ...planSummary(prev), state: prev.state, newInputsHash: u.inputsHash, nNew: u.inputs.length },
    now,
  );
  if (u.tier === 'science' && o.replanLate) {
    const r = insertWithJob(conn, u, prev.version + 1, { ...o, trigger: 'replan' }, now);
    return { outcome: 'late', previous: prev, ...r };
  }
  return { outcome: 'late', plan: prev, previous: prev };
}

const outcomeOf = (u: PlannedUnit, ok: PlanOutcome): PlanOutcome =>
  u.status === 'empty' ? 'empty' : u.status === 'grid_too_large' ? 'too_large' : ok;
