// The calibration-validity check, pure: group the active caltables rows into sets, and answer the questions
// that matter to operations: is there a usable calibration for now, how old is the nearest complete one,
// when does coverage end, is the newest set complete, do recent sets contradict each other. The type map is
// fixed (K delay; BA, BP bandpass; GA, GP, 2G gain; FLUX flux) and a set is complete when it has every
// required role (bandpass and gain by default): the original's mapping recognised none of the registered
// types, so it found no set ever. "Expired" means ended within the lookback (every historical ±1 h window
// has ended, so counting all of them carried no signal); "expiring" is a gauge, never an alert, because
// with ±1 h windows it would fire after every calibrator pass.
import type { SchedulerConfig } from '../../../lib/config/sections/scheduler.js';
import type { Finding } from '../findings.js';

export const VALIDITY_ALERTS = [
  'CalibrationStale',
  'CalibrationSetIncomplete',
  'CalibrationTableMissing',
  'CalibrationOverlapConflict',
  'CalibratorTransitMissed',
] as const;

export type Role = 'delay' | 'bandpass' | 'gain' | 'flux' | 'other';

export const TYPE_ROLES: Readonly<Record<string, Role>> = Object.freeze({
  K: 'delay',
  BA: 'bandpass',
  BP: 'bandpass',
  GA: 'gain',
  GP: 'gain',
  '2G': 'gain',
  FLUX: 'flux',
});

export const roleOf = (tableType: string): Role => TYPE_ROLES[tableType.toUpperCase()] ?? 'other';

export interface CaltableRow {
  setName: string;
  path: string;
  tableType: string;
  /** Unix seconds, as the pipeline stores it. */
  createdAt: number;
  startMjd: number | null;
  endMjd: number | null;
  calField: string | null;
  refant: string | null;
}

export interface CalSet {
  name: string;
  tables: { path: string; type: string; role: Role }[];
  roles: Role[];
  /** Window bounds in Unix ms; null = open on that side. */
  startMs: number | null;
  endMs: number | null;
  createdMs: number;
  refants: string[];
  calFields: string[];
  missingRoles: Role[];
  complete: boolean;
}

export type ValidityConfig = SchedulerConfig['validity'];

const msFromMjd = (mjd: number): number => (mjd - 40587) * 86_400_000;
const HOUR = 3_600_000;

/** One CalSet per set_name. The rows of a set share a window; if they do not, the union is used. */
export function groupSets(rows: readonly CaltableRow[], required: readonly Role[]): CalSet[] {
  const by = new Map<string, CaltableRow[]>();
  for (const r of rows) {
    let g = by.get(r.setName);
    if (!g) by.set(r.setName, (g = []));
    g.push(r);
  }
  const sets: CalSet[] = [];
  for (const [name, g] of by) {
    const starts = g.map((r) => r.startMjd);
    const ends = g.map((r) => r.endMjd);
    const roles = [...new Set(g.map((r) => roleOf(r.tableType)))].sort();
    const missingRoles = required.filter((x) => !roles.includes(x));
    const distinct = (xs: (string | null)[]): string[] =>
      [...new Set(xs.filter((x): x is string => x !== null && x !== ''))].sort();
    sets.push({
      name,
      tables: g.map((r) => ({ path: r.path, type: r.tableType, role: roleOf(r.tableType) })),
      roles,
      startMs: starts.some((s) => s === null) ? null : msFromMjd(Math.min(...(starts as number[]))),
      endMs: ends.some((e) => e === null) ? null : msFromMjd(Math.max(...(ends as number[]))),
      createdMs: Math.max(...g.map((r) => r.createdAt)) * 1000,
      refants: distinct(g.map((r) => r.refant)),
      calFields: distinct(g.map((r) => r.calField)),
      missingRoles,
      complete: missingRoles.length === 0,
    });
  }
  return sets.sort((a, b) => a.createdMs - b.createdMs || (a.name < b.name ? -1 : 1));
}

export const covers = (s: Pick<CalSet, 'startMs' | 'endMs'>, tMs: number): boolean =>
  (s.startMs === null || s.startMs <= tMs) && (s.endMs === null || s.endMs >= tMs);

/** The pipeline's own selection metric: the window's midpoint (a bound when the other is open). */
export function midpointMs(s: CalSet): number {
  if (s.startMs !== null && s.endMs !== null) return (s.startMs + s.endMs) / 2;
  return s.startMs ?? s.endMs ?? s.createdMs;
}

/** Whether a set's window reaches into [fromMs, toMs]. */
const touches = (s: CalSet, fromMs: number, toMs: number): boolean =>
  (s.endMs === null || s.endMs >= fromMs) && (s.startMs === null || s.startMs <= toMs);

const overlaps = (a: CalSet, b: CalSet): boolean =>
  (a.startMs === null || b.endMs === null || a.startMs <= b.endMs) &&
  (b.startMs === null || a.endMs === null || b.startMs <= a.endMs);

function newestComplete(sets: readonly CalSet[]): CalSet | null {
  let best: CalSet | null = null;
  for (const s of sets) if (s.complete && (!best || s.createdMs > best.createdMs)) best = s;
  return best;
}

function nearestComplete(sets: readonly CalSet[], nowMs: number): CalSet | null {
  let best: CalSet | null = null;
  for (const s of sets)
    if (s.complete && (!best || Math.abs(nowMs - midpointMs(s)) < Math.abs(nowMs - midpointMs(best))))
      best = s;
  return best;
}

/**
 * The sets whose tables must exist on disk: the ones a consumer could pick now (covering now, the nearest
 * complete one) and the recent ones. Older sets' tables may be archived legitimately.
 */
export function setsToCheckOnDisk(sets: readonly CalSet[], nowMs: number, cfg: ValidityConfig): CalSet[] {
  const from = nowMs - cfg.overlapLookbackHours * HOUR;
  const nearest = nearestComplete(sets, nowMs);
  return sets.filter((s) => s === nearest || covers(s, nowMs) || touches(s, from, nowMs));
}

export interface TransitRow {
  calibrator: string;
  transitMs: number;
}

export interface OverlapConflict {
  a: string;
  b: string;
  refants: [string[], string[]];
  calFields: [string[], string[]];
}

export interface ValidityReport {
  sets: number;
  covering: string[];
  activeSets: number;
  hoursUntilExpiry: number;
  expiringSoon: number;
  expired: number;
  nearest: { set: string; ageHours: number; midpoint: string } | null;
  newestComplete: { set: string; createdAt: string } | null;
  lastValidMs: number | null;
  incomplete: string[];
  conflicts: OverlapConflict[];
  missingTables: Record<string, string[]>;
  missedTransits: { calibrator: string; transit: string }[];
  findings: Finding[];
}

const differ = (x: string[], y: string[]): boolean =>
  x.length > 0 && y.length > 0 && (x.length !== y.length || x.some((v, i) => v !== y[i]));

function conflictsOf(recent: CalSet[]): OverlapConflict[] {
  const out: OverlapConflict[] = [];
  const sorted = [...recent].sort((p, q) => (p.name < q.name ? -1 : 1));
  for (let i = 0; i < sorted.length; i++)
    for (let j = i + 1; j < sorted.length; j++) {
      const [a, b] = [sorted[i], sorted[j]];
      if (!overlaps(a, b)) continue;
      if (differ(a.refants, b.refants) || differ(a.calFields, b.calFields))
        out.push({
          a: a.name,
          b: b.name,
          refants: [a.refants, b.refants],
          calFields: [a.calFields, b.calFields],
        });
    }
  return out;
}

/** Transits with data whose calibrator has no set covering them after afterHours (newest per calibrator). */
function missedTransitsOf(
  transits: readonly TransitRow[],
  sets: readonly CalSet[],
  nowMs: number,
  cfg: ValidityConfig,
) {
  const tc = cfg.transitCheck;
  if (!tc.enabled) return [];
  const latest = new Map<string, TransitRow>();
  for (const t of transits) {
    if (t.transitMs > nowMs - tc.afterHours * HOUR || t.transitMs < nowMs - tc.lookbackHours * HOUR) continue;
    const cur = latest.get(t.calibrator);
    if (!cur || t.transitMs > cur.transitMs) latest.set(t.calibrator, t);
  }
  return [...latest.values()]
    .filter((t) => !sets.some((s) => covers(s, t.transitMs)))
    .map((t) => ({ calibrator: t.calibrator, transit: new Date(t.transitMs).toISOString() }))
    .sort((a, b) => (a.calibrator < b.calibrator ? -1 : 1));
}

function staleFinding(nearest: CalSet | null, ageHours: number | null, cfg: ValidityConfig): Finding[] {
  if (ageHours !== null && ageHours <= cfg.staleWarnHours) return [];
  const crit = ageHours === null || ageHours > cfg.staleCritHours;
  const limit = crit ? cfg.staleCritHours : cfg.staleWarnHours;
  return [
    {
      alertname: 'CalibrationStale',
      severity: crit ? 'critical' : 'warning',
      labels: {},
      summary:
        ageHours === null
          ? 'no complete active calibration set in the registry'
          : `nearest complete calibration set is ${Math.floor(ageHours)} h from now (limit ${limit} h)`,
      description: nearest
        ? `Nearest complete set ${nearest.name} (window midpoint ${new Date(midpointMs(nearest)).toISOString()}).`
        : `No active set has both ${cfg.requiredTypes.join(' and ')} tables.`,
      value: ageHours === null ? 'none' : String(Math.floor(ageHours)),
    },
  ];
}

/** Only the newest set (by created_at) is judged: older incomplete ones are history. */
function incompleteFinding(newestSet: CalSet | null): Finding[] {
  if (!newestSet || newestSet.complete) return [];
  return [
    {
      alertname: 'CalibrationSetIncomplete',
      severity: 'warning',
      labels: { set_name: newestSet.name },
      summary: `newest calibration set ${newestSet.name} lacks ${newestSet.missingRoles.join(' and ')}`,
      description: `It has ${newestSet.tables.map((t) => t.type).join(', ') || 'no tables'}.`,
    },
  ];
}

function missingFindings(
  missingTables: Readonly<Record<string, string[]>>,
  newest: CalSet | null,
): Finding[] {
  return Object.entries(missingTables)
    .sort()
    .filter(([, paths]) => paths.length > 0)
    .map(([name, paths]) => ({
      alertname: 'CalibrationTableMissing',
      severity: newest?.name === name ? 'critical' : 'warning',
      labels: { set_name: name },
      summary: `${paths.length} table(s) of calibration set ${name} missing on disk`,
      description: `Missing: ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ` (+${paths.length - 5} more)` : ''}`,
      value: String(paths.length),
    }));
}

function conflictFinding(c: OverlapConflict): Finding {
  return {
    alertname: 'CalibrationOverlapConflict',
    severity: 'warning',
    labels: { set_a: c.a, set_b: c.b },
    summary: `overlapping calibration sets ${c.a} and ${c.b} disagree on refant or cal_field`,
    description:
      `refant ${c.refants[0].join('/') || '-'} vs ${c.refants[1].join('/') || '-'}; ` +
      `cal_field ${c.calFields[0].join('/') || '-'} vs ${c.calFields[1].join('/') || '-'}`,
  };
}

export function evaluateValidity(
  sets: readonly CalSet[],
  nowMs: number,
  cfg: ValidityConfig,
  missingTables: Readonly<Record<string, string[]>> = {},
  transits: readonly TransitRow[] = [],
): ValidityReport {
  const covering = sets.filter((s) => covers(s, nowMs));
  const coveringComplete = covering.filter((s) => s.complete);
  const hoursUntilExpiry = coveringComplete.length
    ? Math.max(...coveringComplete.map((s) => (s.endMs === null ? Infinity : (s.endMs - nowMs) / HOUR)))
    : 0;
  const expiringSoon = covering.filter(
    (s) => s.endMs !== null && s.endMs - nowMs <= cfg.expiringWarnHours * HOUR,
  ).length;
  const expired = sets.filter(
    (s) => s.endMs !== null && s.endMs < nowMs && s.endMs >= nowMs - cfg.expiredLookbackHours * HOUR,
  ).length;
  const nearest = nearestComplete(sets, nowMs);
  const newest = newestComplete(sets);
  const recent = sets.filter((s) => touches(s, nowMs - cfg.overlapLookbackHours * HOUR, nowMs));
  const incomplete = recent.filter((s) => !s.complete).map((s) => s.name);
  const conflicts = conflictsOf(recent);
  const missedTransits = missedTransitsOf(transits, sets, nowMs, cfg);
  const ageHours = nearest ? Math.abs(nowMs - midpointMs(nearest)) / HOUR : null;
  const findings = [
    ...staleFinding(nearest, ageHours, cfg),
    ...incompleteFinding(sets.length ? sets[sets.length - 1] : null),
    ...missingFindings(missingTables, newest),
    ...conflicts.map(conflictFinding),
    ...missedTransits.map((t): Finding => ({
      alertname: 'CalibratorTransitMissed',
      severity: 'warning',
      labels: { calibrator: t.calibrator },
      summary: `transit of ${t.calibrator} at ${t.transit} had data but no calibration set covers it`,
    })),
  ];
  return {
    sets: sets.length,
    covering: covering.map((s) => s.name),
    activeSets: covering.length,
    hoursUntilExpiry,
    expiringSoon,
    expired,
    nearest: nearest && {
      set: nearest.name,
      ageHours: ageHours!,
      midpoint: new Date(midpointMs(nearest)).toISOString(),
    },
    newestComplete: newest && { set: newest.name, createdAt: new Date(newest.createdMs).toISOString() },
    lastValidMs: newest?.createdMs ?? null,
    incomplete,
    conflicts,
    missingTables: Object.fromEntries(Object.entries(missingTables).filter(([, p]) => p.length > 0)),
    missedTransits,
    findings,
  };
}
