// A mosaic plan's row (migration 0009), read by the planner (plan-store.ts) and the dispatcher
// (dispatch-store.ts): one type and one pair of reads for both.
import { cachedStatement as st, type Connection } from '../../../lib/db/index.js';
import type { MosaicTier } from '../../../lib/mosaic/manifest.js';

export type PlanState =
  'queued' | 'building' | 'retry_wait' | 'built' | 'graded' | 'failed' | 'superseded' | 'empty' | 'cancelled';
export type PlanTrigger = 'cron' | 'api' | 'cli' | 'replan';

export interface PlanRow {
  id: number;
  name: string;
  base_name: string;
  version: number;
  tier: MosaicTier;
  trigger: PlanTrigger;
  strip_dec_deg: number;
  frame: string | null;
  window_start: number;
  window_end: number;
  ra_min_deg: number | null;
  ra_max_deg: number | null;
  n_candidates: number;
  n_selected: number;
  rejected_json: string;
  inputs_hash: string;
  grid_json: string | null;
  est_memory_bytes: number | null;
  state: PlanState;
  attempts: number;
  job_id: number | null;
  error_code: string | null;
  error: string | null;
  superseded_by: number | null;
  created_at: number;
  updated_at: number;
}

export function getPlan(conn: Connection, id: number): PlanRow | undefined {
  return st(conn, 'SELECT * FROM mosaic_plans WHERE id = ?').get(id) as PlanRow | undefined;
}

export function planByName(conn: Connection, name: string): PlanRow | undefined {
  return st(conn, 'SELECT * FROM mosaic_plans WHERE name = ?').get(name) as PlanRow | undefined;
}
