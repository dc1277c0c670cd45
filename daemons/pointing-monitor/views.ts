// The transit's JSON shape, pure: one for GET /api/pointing/transits, the status snapshot (its active and
// upcoming transits) and `contimg transits`, so a transit looks the same wherever it appears (docs/cli.md
// "JSON output").
import { isoUtc, type TransitModel } from '../../lib/astro/index.js';
import type { ScheduledTransit } from './schedule.js';

/** A calibrator transit: the prediction, its separation from the pointing and its active window. */
export interface TransitView {
  name: string;
  model: TransitModel;
  transitUtc: string;
  /** The same instant as Unix seconds (sub-millisecond, as stored). */
  transitUnix: number;
  lstHours: number;
  elevationDeg: number;
  northOfZenith: boolean;
  raDeg: number;
  decDeg: number;
  fluxJy: number | null;
  dut1S: number;
  /** From the pointing declination; null when none is known (or given). */
  decSepDeg: number | null;
  pbResponse: number | null;
  windowStartUtc: string;
  windowEndUtc: string;
  /** Within tolerance of the pointing and above the beam response: its window can be active. */
  eligible: boolean;
}

export function transitView(t: ScheduledTransit): TransitView {
  return {
    name: t.name,
    model: t.model,
    transitUtc: isoUtc(t.transitMs),
    transitUnix: t.transitMs / 1000,
    lstHours: t.lstHours,
    elevationDeg: t.elevationDeg,
    northOfZenith: t.northOfZenith,
    raDeg: t.raDeg,
    decDeg: t.decDeg,
    fluxJy: t.fluxJy,
    dut1S: t.dut1S,
    decSepDeg: t.decSepDeg,
    pbResponse: t.pbResponse,
    windowStartUtc: isoUtc(t.windowStartMs),
    windowEndUtc: isoUtc(t.windowEndMs),
    eligible: t.eligible,
  };
}
