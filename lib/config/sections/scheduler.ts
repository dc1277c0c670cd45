// Config section `scheduler` (owned by daemons/scheduler; docs/scheduler.md): the five jobs and their cron
// triggers, the health targets and thresholds, the calibration-validity and calibrator-flux thresholds.
// Lists left unset (`health.http`, `health.sqlite`, `health.disks`) mean "the defaults derived from the rest
// of the config" (every other daemon's /readyz, both databases, the data folder's disk): see
// daemons/scheduler/health/targets.ts.
import { z } from 'zod';
import { cronProblem, shortestPeriodMs } from '../../cron.js';
import { pathField, portField, type SchemaContext } from '../fields.js';
import { DAEMONS } from '../../daemon/table.js';
import { mosaicSection } from './mosaic.js';

/** The jobs configured under `scheduler.jobs.<name>` (cron, timeoutS, enabled). */
export const CONFIGURED_JOB_NAMES = ['health', 'validity', 'flux', 'retention', 'watchdog'] as const;
export type ConfiguredJobName = (typeof CONFIGURED_JOB_NAMES)[number];
/**
 * The mosaic jobs: scheduled, recorded and watched like the others, but their cron lives with the rest of
 * mosaicking under `scheduler.mosaic` (tiers.quicklook.cron, tiers.science.cron, watchdogCron) and their
 * timeout is scheduler.mosaic.planTimeoutS, so one setting never has two keys (see jobSettings).
 */
export const MOSAIC_JOB_NAMES = ['mosaicQuicklook', 'mosaicScience', 'mosaicWatchdog'] as const;
export const JOB_NAMES = [...CONFIGURED_JOB_NAMES, ...MOSAIC_JOB_NAMES] as const;
export type JobName = (typeof JOB_NAMES)[number];

/** Cron and timeout of each job: health every 5 min, validity every 15, flux hourly, retention daily. */
export const JOB_DEFAULTS: Record<ConfiguredJobName, { cron: string; timeoutS: number }> = {
  health: { cron: '*/5 * * * *', timeoutS: 120 },
  validity: { cron: '*/15 * * * *', timeoutS: 60 },
  flux: { cron: '0 * * * *', timeoutS: 300 },
  retention: { cron: '30 3 * * *', timeoutS: 600 },
  watchdog: { cron: '* * * * *', timeoutS: 10 },
};

function jobSchema(name: ConfiguredJobName) {
  const d = JOB_DEFAULTS[name];
  return z
    .strictObject({
      /** UTC cron expression (5 fields, or 6 with leading seconds). */
      cron: z
        .string()
        .default(d.cron)
        .superRefine((v, ctx) => {
          const problem = cronProblem(v);
          if (problem) ctx.addIssue({ code: 'custom', message: `invalid cron "${v}": ${problem}` });
        }),
      /** The run is aborted (child probes killed) and recorded `timeout` after this long. */
      timeoutS: z.number().positive().default(d.timeoutS),
      enabled: z.boolean().default(true),
    })
    .superRefine((j, ctx) => {
      if (cronProblem(j.cron)) return;
      const periodS = shortestPeriodMs(j.cron) / 1000;
      if (j.timeoutS >= periodS)
        ctx.addIssue({
          code: 'custom',
          path: ['timeoutS'],
          message: `must be shorter than the cron period (${periodS} s)`,
        });
    })
    .prefault({});
}

const SYSTEMD_UNIT = /^[\w@.:-]+\.(service|socket|timer|mount|target|path|slice|scope)$/;
const unitName = z.string().regex(SYSTEMD_UNIT, 'expected a unit name with its suffix, e.g. foo.service');

/** The five daemons' units: a stopped daemon is a critical finding. */
const DEFAULT_UNITS = [
  'contimg-streaming-converter.service',
  'contimg-pointing-monitor.service',
  'contimg-scheduler.service',
  'contimg-alert-dispatcher.service',
  'contimg-thumbnail-worker.service',
].map((unit) => ({ unit, critical: true }));

/** A disk target's name: the configured one, or the path's last component ("root" for /). */
export function diskName(d: { name?: string; path: string }): string {
  return d.name ?? (d.path.split('/').filter(Boolean).pop() || 'root');
}

const httpUrl = z
  .string()
  .refine((v) => /^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v), 'expected an http(s) URL');

const timeoutMs = (dflt: number) => z.number().int().min(1).max(600_000).default(dflt);

function healthSection(ctx: SchemaContext) {
  return z.strictObject({
    /** Consecutive non-ok results before a target's alert fires. */
    failuresBeforeAlert: z.number().int().min(1).default(2),
    /** Consecutive ok results before it resolves. */
    successesBeforeResolve: z.number().int().min(1).default(1),
    /** Probes run in parallel up to this many. */
    concurrency: z.number().int().min(1).max(32).default(8),
    /** Unset: every other daemon's /readyz on http.host (with http.token). [] probes none. */
    http: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[\w.-]{1,64}$/, 'letters, digits, . _ - (1–64)'),
          url: httpUrl,
          expectStatus: z.number().int().min(100).max(599).default(200),
          timeoutMs: timeoutMs(5000),
          critical: z.boolean().default(false),
          /** Send http.token as a bearer token (for the daemons' own endpoints). */
          sendToken: z.boolean().default(false),
        }),
      )
      .optional(),
    systemd: z
      .strictObject({
        /** Units checked with `systemctl show`; a name, or {unit, critical}. [] turns the probe off. */
        units: z
          .array(
            z.union([
              unitName.transform((unit) => ({ unit, critical: false })),
              z.strictObject({ unit: unitName, critical: z.boolean().default(false) }),
            ]),
          )
          .default(DEFAULT_UNITS),
        timeoutMs: timeoutMs(5000),
      })
      .prefault({}),
    /** Unset: the state and pipeline databases (both critical). */
    sqlite: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[\w.-]{1,64}$/, 'letters, digits, . _ - (1–64)'),
          path: pathField(ctx),
          /** Also run PRAGMA quick_check (reads the whole file: slow on a large database). */
          quickCheck: z.boolean().default(false),
          timeoutMs: timeoutMs(5000),
          critical: z.boolean().default(false),
        }),
      )
      .optional(),
    /** Unset: the data folder (dataDir, named `data`), critical. */
    disks: z
      .array(
        z
          .strictObject({
            /** The target's name in metrics and `contimg health` (a path is no metric label); default: the
             * path's last component. */
            name: z
              .string()
              .regex(/^[\w.-]{1,64}$/, 'letters, digits, . _ - (1–64)')
              .optional(),
            path: pathField(ctx),
            warnFreePct: z.number().min(0).max(100).default(25),
            critFreePct: z.number().min(0).max(100).default(15),
            critical: z.boolean().default(false),
          })
          .refine((d) => d.critFreePct < d.warnFreePct, {
            message: 'critFreePct must be below warnFreePct',
            path: ['critFreePct'],
          }),
      )
      .superRefine((disks, c) => {
        const seen = new Set<string>();
        disks.forEach((d, i) => {
          const name = diskName(d);
          if (seen.has(name))
            c.addIssue({ code: 'custom', path: [i, 'name'], message: `disk name "${name}" is used twice` });
          seen.add(name);
        });
      })
      .optional(),
    gpu: z
      .strictObject({
        /** 'auto': probe when nvidia-smi exists; without one the GPU is `unavailable`, never an alert. */
        enabled: z.union([z.literal('auto'), z.boolean()]).default('auto'),
        tempWarnC: z.number().default(75),
        tempCritC: z.number().default(85),
        memWarnPct: z.number().min(0).max(100).default(80),
        memCritPct: z.number().min(0).max(100).default(95),
        utilWarnPct: z.number().min(0).max(100).default(90),
        utilCritPct: z.number().min(0).max(100).default(98),
        /** Memory/utilisation only feed gauges unless this is on (imaging legitimately saturates GPUs). */
        alertOnMemory: z.boolean().default(false),
        timeoutMs: timeoutMs(5000),
      })
      .superRefine((g, c) => {
        for (const [w, k] of [
          ['tempWarnC', 'tempCritC'],
          ['memWarnPct', 'memCritPct'],
          ['utilWarnPct', 'utilCritPct'],
        ] as const)
          if (g[k] <= g[w]) c.addIssue({ code: 'custom', path: [k], message: `must be above ${w}` });
      })
      .prefault({}),
    docker: z
      .strictObject({
        /** Containers checked with `docker inspect`; [] (default) turns the probe off. */
        containers: z.array(z.string().regex(/^[\w.-]{1,128}$/, 'a container name')).default([]),
        timeoutMs: timeoutMs(10_000),
        /** Count a container's own healthcheck (unhealthy → crit, starting → warn). */
        useHealthStatus: z.boolean().default(true),
      })
      .prefault({}),
  });
}

const ROLES = ['delay', 'bandpass', 'gain', 'flux'] as const;

function validitySection() {
  return z
    .strictObject({
      /** Nearest complete set older than this (hours) → CalibrationStale warning. */
      staleWarnHours: z.number().positive().default(26),
      /** … older than this → critical. */
      staleCritHours: z.number().positive().default(48),
      /** A set covering now that ends within this many hours counts as expiring (a gauge, not an alert). */
      expiringWarnHours: z.number().positive().default(2),
      /** Table roles a set needs to be complete. */
      requiredTypes: z.array(z.enum(ROLES)).min(1).default(['bandpass', 'gain']),
      /** Check that the tables of the sets in use (covering now, nearest, recent) exist on disk. */
      checkFilesExist: z.boolean().default(true),
      /** Overlapping sets within this many hours whose refant or cal_field differ → conflict. */
      overlapLookbackHours: z.number().positive().default(48),
      /** The expired gauge counts sets that ended within this many hours. */
      expiredLookbackHours: z.number().positive().default(24),
      /** Consecutive unreadable runs before CalibrationRegistryUnreadable fires. */
      unreadableFailuresBeforeAlert: z.number().int().min(1).default(2),
      /** CalibratorTransitMissed: a transit with data and no set covering it after afterHours. */
      transitCheck: z
        .strictObject({
          enabled: z.boolean().default(false),
          afterHours: z.number().positive().default(3),
          lookbackHours: z.number().positive().default(48),
        })
        .prefault({}),
    })
    .refine((v) => v.staleCritHours > v.staleWarnHours, {
      message: 'staleCritHours must be above staleWarnHours',
      path: ['staleCritHours'],
    });
}

function fluxSection() {
  return z
    .strictObject({
      windowDays: z.number().gt(0).max(90).default(7),
      minMeasurements: z.number().int().min(2).default(3),
      driftWarnPct: z.number().positive().default(20),
      driftCritPct: z.number().positive().default(40),
      /** A firing drift alert resolves only at or below this (hysteresis). */
      resolveBelowPct: z.number().positive().default(18),
      /** No measurement at all for this long → CalibratorFluxNoData; 0 turns it off. */
      noDataHours: z.number().min(0).default(36),
      scaleCheck: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** |mean ratio − 1| above this → CalibratorFluxScaleOffset. */
          maxAbsOffset: z.number().min(0).max(1).default(0.1),
          /** max − min ratio at or above this → CalibratorFluxScaleOffset. */
          maxSpread: z.number().min(0).max(1).default(0.2),
        })
        .prefault({}),
    })
    .superRefine((f, ctx) => {
      if (!(f.resolveBelowPct < f.driftWarnPct && f.driftWarnPct < f.driftCritPct))
        ctx.addIssue({
          code: 'custom',
          path: ['driftWarnPct'],
          message: 'need resolveBelowPct < driftWarnPct < driftCritPct',
        });
    });
}

export function schedulerSection(ctx: SchemaContext) {
  return z.strictObject({
    port: portField(DAEMONS.scheduler.port),
    /** Only the holder of the `scheduler` lease fires the cron jobs; a standby takes over when it expires. */
    leaseTtlS: z.number().min(1).max(600).default(30),
    /** On start (and on taking over), a job that missed its last slot runs once at once. */
    catchUpOnStart: z.boolean().default(true),
    /** SchedulerJobLate fires after this many slots without a successful run. */
    staleAfterPeriods: z.number().int().min(2).default(3),
    /** SchedulerJobFailing fires after this many consecutive failed runs. */
    failingAfterRuns: z.number().int().min(1).default(3),
    /** Seconds between refreshes of the findings gauges from the databases (between jobs). */
    gaugeRefreshS: z.number().min(1).default(60),
    jobs: z
      .strictObject(
        Object.fromEntries(CONFIGURED_JOB_NAMES.map((n) => [n, jobSchema(n)])) as {
          [K in ConfiguredJobName]: ReturnType<typeof jobSchema>;
        },
      )
      .prefault({}),
    health: healthSection(ctx).prefault({}),
    validity: validitySection().prefault({}),
    flux: fluxSection().prefault({}),
    /** Mosaicking: planning on cron, builds through the `mosaic` queue (docs/mosaicking.md). */
    mosaic: mosaicSection(ctx).prefault({}),
  });
}

export type SchedulerConfig = z.output<ReturnType<typeof schedulerSection>>;

export interface JobSettings {
  cron: string;
  timeoutS: number;
  enabled: boolean;
}

/** A job's cron, timeout and switch, wherever the config keeps them (scheduler.jobs, or scheduler.mosaic). */
export function jobSettings(cfg: SchedulerConfig, job: JobName): JobSettings {
  const m = cfg.mosaic;
  switch (job) {
    case 'mosaicQuicklook':
      return {
        cron: m.tiers.quicklook.cron,
        timeoutS: m.planTimeoutS,
        enabled: m.enabled && m.tiers.quicklook.enabled,
      };
    case 'mosaicScience':
      return {
        cron: m.tiers.science.cron,
        timeoutS: m.planTimeoutS,
        enabled: m.enabled && m.tiers.science.enabled,
      };
    case 'mosaicWatchdog':
      return { cron: m.watchdogCron, timeoutS: m.planTimeoutS, enabled: m.enabled };
    default:
      return cfg.jobs[job];
  }
}
