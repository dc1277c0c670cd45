// What operators read about mosaic plans, for the JSON API and the CLI alike (camelCase, ISO times): the plan
// list, and one plan with its inputs, build attempts, product and QA. Reads only.
import type { Connection } from '../../../lib/db/index.js';
import {
  REJECT_REASONS,
  stripLabel,
  type PlanResult,
  type Rejections,
} from '../../../lib/mosaic/plan/index.js';
import type { PlanRunReport } from './plan-job.js';
import { planByName, type PlanRow } from './plan-row.js';

const iso = (ms: number | null | undefined): string | null =>
  ms == null ? null : new Date(ms).toISOString();

/** Rejections as a list (reason names are data, not keys), in the order of REJECT_REASONS. */
export function rejectionList(r: Rejections): { reason: string; count: number }[] {
  return REJECT_REASONS.filter((k) => r[k]).map((reason) => ({ reason, count: r[reason]! }));
}

const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A row with camelCase keys; *_at columns (ms) as ISO strings. */
function camelRow(row: Record<string, unknown>, json: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (json.includes(k)) out[camel(k.replace(/_json$/, ''))] = v === null ? null : JSON.parse(v as string);
    else if (k.endsWith('_at') && typeof v === 'number') out[camel(k)] = iso(v);
    else out[camel(k)] = v;
  }
  return out;
}

function gridView(g: Record<string, unknown> | null) {
  return g === null
    ? null
    : {
        frame: g.frame,
        projection: g.projection,
        center: g.center,
        pixelArcsec: g.pixel_arcsec,
        nx: g.nx,
        ny: g.ny,
      };
}

export function planView(p: PlanRow) {
  return {
    id: p.id,
    name: p.name,
    baseName: p.base_name,
    version: p.version,
    tier: p.tier,
    trigger: p.trigger,
    strip: stripLabel(p.strip_dec_deg),
    stripDecDeg: p.strip_dec_deg,
    frame: p.frame,
    windowStart: iso(p.window_start),
    windowEnd: iso(p.window_end),
    raMinDeg: p.ra_min_deg,
    raMaxDeg: p.ra_max_deg,
    nCandidates: p.n_candidates,
    nSelected: p.n_selected,
    rejected: rejectionList(JSON.parse(p.rejected_json) as Rejections),
    inputsHash: p.inputs_hash,
    grid: gridView(p.grid_json === null ? null : (JSON.parse(p.grid_json) as Record<string, unknown>)),
    estMemoryBytes: p.est_memory_bytes,
    state: p.state,
    attempts: p.attempts,
    jobId: p.job_id,
    errorCode: p.error_code,
    error: p.error,
    supersededBy: p.superseded_by,
    createdAt: iso(p.created_at),
    updatedAt: iso(p.updated_at),
  };
}
export type PlanView = ReturnType<typeof planView>;

export interface PlanFilter {
  tier?: string;
  state?: string;
  limit?: number;
}

export function listPlans(conn: Connection, f: PlanFilter = {}): PlanView[] {
  const rows = conn
    .prepare(
      `SELECT * FROM mosaic_plans WHERE (@tier IS NULL OR tier = @tier) AND (@state IS NULL OR state = @state)
       ORDER BY window_end DESC, id DESC LIMIT @limit`,
    )
    .all({ tier: f.tier ?? null, state: f.state ?? null, limit: f.limit ?? 50 }) as PlanRow[];
  return rows.map(planView);
}

export function showPlan(conn: Connection, name: string) {
  const p = planByName(conn, name);
  if (!p) return undefined;
  const rows = (sql: string) => conn.prepare(sql).all(p.id) as Record<string, unknown>[];
  const inputs = rows('SELECT * FROM mosaic_plan_inputs WHERE plan_id = ? ORDER BY ord').map((r) => {
    const { plan_id: _p, obs_mid: obsMid, ...rest } = r;
    void _p;
    return { ...camelRow(rest), obsMid: iso(obsMid as number) } as Record<string, unknown> & {
      obsMid: string | null;
    };
  });
  const attempts = rows('SELECT * FROM mosaic_attempts WHERE plan_id = ? ORDER BY attempt').map((r) =>
    camelRow(r, ['result_json']),
  );
  const product = rows('SELECT * FROM mosaics WHERE plan_id = ?').map((r) => camelRow(r))[0] ?? null;
  const qa =
    product === null
      ? []
      : (
          conn
            .prepare('SELECT * FROM mosaic_qa WHERE mosaic_id = ? ORDER BY created_at')
            .all(product.id) as Record<string, unknown>[]
        ).map((r) => camelRow(r, ['reasons_json']));
  return { plan: planView(p), inputs, attempts, product, qa };
}

/** A planning run as the CLI prints it (--json), with or without writes. */
export function planRunView(r: PlanRunReport, dryRun: boolean) {
  const outcomes = new Map(r.writes.map((w, i) => [i, w]));
  return {
    tier: r.tier,
    window: r.window,
    dryRun,
    candidates: r.result.nCandidates,
    waiting: r.result.waiting,
    rejected: rejectionList(r.result.rejected),
    units: r.result.units.map((u, i) => unitView(u, outcomes.get(i))),
  };
}

function unitView(u: PlanResult['units'][number], w: PlanRunReport['writes'][number] | undefined) {
  return {
    name: u.baseName,
    status: u.status,
    strip: stripLabel(u.stripDeg),
    frame: u.frame,
    windowStart: iso(u.windowStartMs),
    windowEnd: iso(u.windowEndMs),
    nCandidates: u.nCandidates,
    nInputs: u.inputs.length,
    rejected: rejectionList(u.rejected),
    inputsHash: u.inputsHash,
    grid: gridView(u.grid as unknown as Record<string, unknown> | null),
    estMemoryBytes: u.estMemoryBytes,
    outcome: w?.outcome ?? null,
    plan: w ? w.plan.name : null,
  };
}
