// Config section `pointingMonitor` (owned by daemons/pointing-monitor; docs/pointing-monitor.md). The site
// and UT1−UTC live in the shared `site` section.
import { z } from 'zod';
import { pathField, portField, seconds, type SchemaContext } from '../fields.js';
import { DAEMONS } from '../../daemon/table.js';

const calibratorEntry = z.strictObject({
  name: z.string().min(1),
  raDeg: z.number().min(0).lt(360),
  decDeg: z.number().min(-90).max(90),
  fluxJy: z.number().min(0).optional(),
});

export function pointingMonitorSection(ctx: SchemaContext) {
  return z.strictObject({
    port: portField(DAEMONS['pointing-monitor'].port),
    /** 'apparent' (hour angle of the apparent topocentric place = 0) or 'legacy' (LAST = RA J2000). */
    transitModel: z.enum(['apparent', 'legacy']).default('apparent'),
    /** Seconds between looks at hdf5_files (or incomingDir) for new sb00 headers. */
    pollIntervalS: seconds(10, 0.05),
    /** Seconds between status snapshots (pointing_status row; event on change). */
    statusIntervalS: seconds(30, 0.05),
    /** Headers of groups younger than this are read at start-up. */
    backfillHours: z.number().min(0).default(6),
    /** Schedule look-ahead. */
    horizonHours: z
      .number()
      .min(1)
      .max(24 * 14)
      .default(48),
    /** Past transits kept and matched to data. */
    backfillDays: z.number().min(0).max(366).default(60),
    decChangeThresholdDeg: z.number().positive().default(0.1),
    decChangeConfirmGroups: z.number().int().min(1).max(20).default(2),
    decJitterToleranceDeg: z.number().min(0).default(0.01),
    calibratorDecToleranceDeg: z.number().positive().default(1.5),
    minCalibratorFluxJy: z.number().min(0).default(1),
    minPbResponse: z.number().min(0).max(1).default(0.3),
    /** 'fixed': ±activeHalfWindowS around transit; 'beam': the half-power crossing time from the FWHM. */
    activeWindow: z.enum(['fixed', 'beam']).default('fixed'),
    activeHalfWindowS: seconds(300, 1),
    /** A transit is matched to the nearest group within this many seconds when no group covers it. */
    matchWindowS: seconds(600),
    /** No new header for this long raises PointingDataStale. */
    staleAfterS: seconds(900, 1),
    /** Drive envelope in the operator convention el = 90 − (lat − dec). */
    elMinDeg: z.number().default(30),
    elMaxDeg: z.number().default(125),
    /** Always scheduled (for the dashboard), whatever the pointing. */
    watchCalibrators: z.array(z.string().min(1)).default(['3C48', '3C138', '3C147', 'J0834+555', '3C286']),
    /** Additions to the built-in calibrator list. */
    calibrators: z.array(calibratorEntry).default([]),
    /** A VLA calibrator manual (csource.txt), CSV or vla_calibrators.sqlite3, imported at start. */
    vlaCalibratorFile: pathField(ctx).optional(),
    /** Fallback header source when hdf5_files is empty: a folder of `*_sb00.hdf5` files. */
    incomingDir: pathField(ctx).optional(),
    /** Beyond this age of the IERS table's last measured value, PointingEopStale fires. */
    maxIersAgeDays: z.number().positive().default(90),
    upcomingCount: z.number().int().min(1).max(50).default(5),
    beam: z
      .strictObject({
        dishDiameterM: z.number().positive().default(4.65),
        freqHz: z.number().positive().default(1.405e9),
      })
      .prefault({}),
  });
}
