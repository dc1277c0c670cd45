// The status snapshot (pointing_status row, `pointing.status` event, `contimg pointing status`), pure.
import {
  elevationAtTransitDeg,
  isoUtc,
  lstHours,
  type Site,
  type TransitModel,
} from '../../lib/astro/index.js';
import { isSlewing, type DetectorState } from './detector.js';
import { isActive, type ScheduledTransit } from './schedule.js';
import { transitView, type TransitView } from './views.js';

export interface StatusSnapshot {
  utc: string;
  lstHours: number;
  lstMeanHours: number;
  decDeg: number | null;
  elevationDeg: number | null;
  state: 'stable' | 'slewing' | 'unknown';
  /** The transit whose active window contains now (same shape as every transit: views.ts). */
  activeCalibrator: TransitView | null;
  /** The next transits, eligible ones first (upcomingCount of them), in time order. */
  upcoming: TransitView[];
  lastObservationUtc: string | null;
  stale: boolean;
  dut1S: number;
  dut1Source: 'constant' | 'iers';
  eopAgeDays: number | null;
  transitModel: TransitModel;
}

export interface StatusInput {
  nowMs: number;
  site: Site;
  dut1S: number;
  dut1Source: 'constant' | 'iers';
  eopAgeDays: number | null;
  detector: DetectorState;
  schedule: readonly ScheduledTransit[];
  upcomingCount: number;
  lastObservationMs: number | null;
  stale: boolean;
  model: TransitModel;
}

export function buildStatus(i: StatusInput): StatusSnapshot {
  const dec = i.detector.stable?.decDeg ?? null;
  const active = i.schedule.find((t) => isActive(t, i.nowMs));
  // Eligible calibrators (usable at this pointing) first, then the watch list, each in time order.
  const future = i.schedule.filter((t) => t.transitMs >= i.nowMs);
  const upcoming = [...future.filter((t) => t.eligible), ...future.filter((t) => !t.eligible)]
    .slice(0, i.upcomingCount)
    .sort((a, b) => a.transitMs - b.transitMs);
  return {
    utc: isoUtc(i.nowMs),
    lstHours: lstHours(i.nowMs, { lonDeg: i.site.lonDeg, dut1S: i.dut1S }),
    lstMeanHours: lstHours(i.nowMs, { lonDeg: i.site.lonDeg, dut1S: i.dut1S, kind: 'mean' }),
    decDeg: dec,
    elevationDeg: dec === null ? null : elevationAtTransitDeg(dec, i.site.latDeg).elevationDeg,
    state: dec === null ? 'unknown' : isSlewing(i.detector) ? 'slewing' : 'stable',
    activeCalibrator: active ? transitView(active) : null,
    upcoming: upcoming.map(transitView),
    lastObservationUtc: i.lastObservationMs === null ? null : isoUtc(i.lastObservationMs),
    stale: i.stale,
    dut1S: i.dut1S,
    dut1Source: i.dut1Source,
    eopAgeDays: i.eopAgeDays,
    transitModel: i.model,
  };
}

/** What counts as a change worth a `pointing.status` event (LST and countdowns always move). */
export function statusKey(s: StatusSnapshot): string {
  return JSON.stringify([
    s.decDeg,
    s.state,
    s.activeCalibrator?.name ?? null,
    s.stale,
    s.upcoming[0]?.name,
    s.upcoming[0]?.transitUtc,
  ]);
}
