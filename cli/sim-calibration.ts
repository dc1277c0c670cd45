// The simulator's calibration products for `contimg simulate` and `contimg dev`: the calibrator transits the
// pointing monitor schedules (built-in list plus config additions, watch list and the calibrators eligible at
// the simulated pointing, with the configured transit model and site), handed to lib/sim/calibration.
// Imported lazily by the commands, so its static imports do not slow `contimg --help`.
import path from 'node:path';
import { computeSchedule, scheduleConfigFrom } from '../daemons/pointing-monitor/schedule.js';
import { BUILTIN_CALIBRATORS } from '../lib/astro/index.js';
import type { Config } from '../lib/config/index.js';
import type { Db } from '../lib/db/index.js';
import {
  writeSimulatedCalibration,
  type CalibrationFault,
  type CalibrationSimResult,
} from '../lib/sim/calibration.js';

export function simulateCalibration(o: {
  config: Config;
  pipelineDb: Db;
  decDeg: number;
  fromMs: number;
  nowMs: number;
  faults: readonly CalibrationFault[];
}): CalibrationSimResult {
  const pm = o.config.pointingMonitor;
  const cals = [
    ...BUILTIN_CALIBRATORS,
    ...pm.calibrators.map((c) => ({
      ...c,
      fluxJy: c.fluxJy ?? null,
      altNames: [],
      catalog: 'manual' as const,
    })),
  ];
  const site = o.config.site;
  const schedule = computeSchedule(cals, o.decDeg, o.fromMs, o.nowMs, scheduleConfigFrom(pm), {
    site: { latDeg: site.latDeg, lonDeg: site.lonDeg, heightM: site.heightM },
    dut1: site.dut1Seconds,
  });
  return writeSimulatedCalibration({
    pipelineDb: o.pipelineDb,
    tableDir: path.join(o.config.dataDir, 'caltables'),
    transits: schedule.map((t) => ({ calibrator: t.name, transitMs: t.transitMs, fluxJy: t.fluxJy })),
    nowMs: o.nowMs,
    faults: o.faults,
  });
}
