// The JSON the status page reads (GET /api/status, /api/status/daemons, /api/status/thumbnails/:id and the
// actions), shared by the server (lib/status) and the browser module. No imports (neither node nor DOM), so
// both programs compile it. Keys are camelCase; times are ms since the epoch (UTC).

/** Parts of the snapshot; `GET /api/status?parts=groups,alerts` reads only those. */
export const PART_NAMES = [
  'clock',
  'pointing',
  'transits',
  'groups',
  'thumbnails',
  'alerts',
  'scheduler',
] as const;
export type PartName = (typeof PART_NAMES)[number];

export interface StatusSnapshot {
  /** The newest event seq the parts include: subscribe with since_seq = seq and nothing is missed or doubled. */
  seq: number;
  /** The server's clock when it read the parts (the page's clock offset comes from it). */
  serverTime: number;
  clock?: ClockPart;
  pointing?: PointingPart;
  transits?: TransitView[];
  groups?: GroupView[];
  thumbnails?: ThumbnailView[];
  alerts?: AlertView[];
  scheduler?: SchedulerPart;
}

export interface ClockPart {
  site: { name: string; latDeg: number; lonDeg: number };
  /**
   * Apparent LST at refMs; the page advances it at `rate` sidereal hours per solar hour (what it leaves out,
   * the equation of the equinoxes' drift, is below 0.01 s a day).
   */
  lst: { refMs: number; hours: number; rate: number; dut1S: number };
  /** The daemon that served this page. */
  servedBy: string;
  /** Who the page's actions are recorded as: "token" when a token guards the API, else "loopback". */
  actor: string;
}

export interface PointingPart {
  decDeg: number | null;
  elevationDeg: number | null;
  state: 'stable' | 'slewing' | 'unknown';
  stale: boolean;
  lastObservationMs: number | null;
  activeCalibrator: string | null;
  transitModel: string;
  /** When the pointing monitor last wrote its status (null: it never has). */
  updatedMs: number | null;
}

export interface TransitView {
  name: string;
  transitMs: number;
  windowStartMs: number | null;
  windowEndMs: number | null;
  /** Within tolerance of the pointing and above the beam response: its window is a calibration chance. */
  eligible: boolean;
  fluxJy: number | null;
  hasData: boolean;
}

/** A subband slot of a group, by the state of the file that fills it ("missing": none yet). */
export type CellState = 'missing' | 'valid' | 'late' | 'duplicate' | 'changed' | 'gone' | 'invalid';

export type GroupState =
  'collecting' | 'ready' | 'converting' | 'retry_wait' | 'converted' | 'incomplete' | 'failed' | 'abandoned';

export interface GroupView {
  groupId: string;
  state: GroupState;
  nFiles: number;
  expected: number;
  /** One entry per subband, sb00 first. */
  cells: CellState[];
  anchorMs: number;
  dispatchedAt: number | null;
  finishedAt: number | null;
  /** finishedAt − dispatchedAt of a converted group. */
  conversionMs: number | null;
  attempts: number;
  partial: boolean;
  errorCode: string | null;
  error: string | null;
}

export interface ThumbnailView {
  /** The thumbnails row id: the PNG is GET /api/thumbnails/:id/png. */
  id: number;
  fitsPath: string;
  name: string;
  variant: string;
  qaGrade: string | null;
  width: number | null;
  height: number | null;
  renderedAt: number | null;
  /** Changes whenever the PNG is re-rendered (cache key). */
  version: number;
}

export interface MetadataView {
  object: string | null;
  telescope: string | null;
  dateObs: string | null;
  bunit: string | null;
  raDeg: number | null;
  decDeg: number | null;
  freqHz: number | null;
  bandwidthHz: number | null;
  bmajDeg: number | null;
  bminDeg: number | null;
  bpaDeg: number | null;
  naxis: number[];
  madStd: number | null;
  peakAbs: number | null;
  dynamicRange: number | null;
  qaGrade: string | null;
  nFinite: number | null;
  /** The metadata describes the file as it was rendered; false when the source has changed since. */
  current: boolean;
}

export interface ThumbnailDetail {
  thumbnail: ThumbnailView;
  metadata: MetadataView | null;
}

export interface AlertView {
  fingerprint: string;
  alertname: string;
  severity: 'critical' | 'warning' | 'info';
  /** firing (being delivered), muted (silenced or inhibited) or acked. */
  state: 'firing' | 'muted' | 'acked';
  summary: string;
  labels: Record<string, string>;
  startsAt: number;
  source: string;
  ack: { by: string; at: number; comment: string } | null;
}

export interface HealthTargetView {
  targetId: string;
  kind: string;
  name: string;
  status: 'ok' | 'warn' | 'crit' | 'unknown' | 'unavailable';
  critical: boolean;
  detail: string | null;
  statusSince: number;
}

export interface CalibrationView {
  /** When the scheduler's validity run that found this started. */
  checkedAt: number;
  readable: boolean;
  nearestSet: string | null;
  /** Midpoint of the nearest complete set's window: its age is now − this. */
  nearestMidpointMs: number | null;
  newestSet: string | null;
  newestCreatedAt: number | null;
  /** Hours until the covering sets end at that run; null when open-ended or none covers. */
  hoursUntilExpiry: number | null;
  covering: string[];
  staleWarnHours: number;
  staleCritHours: number;
}

export interface FluxView {
  checkedAt: number;
  windowDays: number;
  noData: boolean;
  newestMs: number | null;
  calibrators: {
    calibrator: string;
    n: number;
    mean: number;
    latest: number;
    driftPct: number;
    drift: 'ok' | 'warning' | 'critical';
  }[];
  driftWarnPct: number;
  driftCritPct: number;
}

export interface SchedulerPart {
  health: {
    status: 'healthy' | 'degraded' | 'unhealthy';
    checkedAt: number | null;
    targets: HealthTargetView[];
  };
  calibration: CalibrationView | null;
  flux: FluxView | null;
}

export interface DaemonView {
  name: string;
  port: number;
  /** The daemon serving this page (its readiness is read in-process). */
  self: boolean;
  up: boolean;
  ready: boolean;
  /** Readiness checks that fail, as `name: detail`. */
  failing: string[];
  uptimeS: number | null;
  /** When the serving daemon last heard from it (ms); null: never since the serving daemon started. */
  lastSeenAt: number | null;
  probedAt: number;
}

export interface ActionResult {
  ok: true;
  /** Who the action was recorded as. */
  by: string;
  message: string;
}
