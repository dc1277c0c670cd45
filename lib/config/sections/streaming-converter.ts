// Config section `streamingConverter` (owned by daemons/streaming-converter).
import { z } from 'zod';
import { CONVERT_CHECK_ARGS } from '../convert-check.js';
import { dataPath, pathField, portField, seconds, type SchemaContext } from '../fields.js';
import { DAEMONS } from '../../daemon/table.js';
import { sbatchArgIssues } from '../../slurm/args.js';

export { CONVERT_CHECK_ARGS };

/** Placeholders the converter's argv template may use; each is expanded inside its argument, never by a shell. */
export const ARGV_PLACEHOLDERS = ['manifest', 'out', 'result', 'scratch', 'group'] as const;
export type ArgvPlaceholder = (typeof ARGV_PLACEHOLDERS)[number];
/** `{name}` inside an argument of the argv template or the output name. */
export const PLACEHOLDER_TOKEN = /\{([a-zA-Z_]+)\}/g;

/** One message per unknown placeholder, with its index in `template` (empty when all are known). */
export function unknownPlaceholders(
  template: readonly string[],
  known: readonly string[] = ARGV_PLACEHOLDERS,
): { index: number; message: string }[] {
  const out: { index: number; message: string }[] = [];
  for (const [index, arg] of template.entries())
    for (const m of arg.matchAll(PLACEHOLDER_TOKEN))
      if (!known.includes(m[1]))
        out.push({ index, message: `unknown placeholder {${m[1]}} (known: ${known.join(', ')})` });
  return out;
}

/** Slurm's time formats: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. */
const SLURM_TIME = /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$/;
/** A Slurm name (partition, account, qos): one word, no option syntax. */
const slurmName = () =>
  z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/, 'expected a Slurm name (letters, digits, _ . + -)');

/**
 * What runs a conversion: `local` (a child process under its supervisor on this host, the default) or
 * `slurm` (a batch job; docs/streaming-converter.md, "Executors").
 */
export function executorField(ctx: SchemaContext) {
  return z
    .discriminatedUnion(
      'kind',
      [
        z.strictObject({ kind: z.literal('local') }),
        z.strictObject({
          kind: z.literal('slurm'),
          partition: slurmName(),
          account: slurmName().optional(),
          qos: slurmName().optional(),
          cpusPerTask: z.number().int().min(1).optional(),
          memGb: z.number().positive().optional(),
          /** Slurm's --time; default converter.timeoutS rounded up to whole minutes. */
          timeLimit: z
            .string()
            .regex(SLURM_TIME, 'expected a Slurm time limit (e.g. 30, 1:00:00, 1-00:00:00)')
            .optional(),
          /** Extra sbatch options, `--name` or `--name=value` only; options the executor sets are refused. */
          sbatchArgs: z
            .array(z.string())
            .superRefine((args, refinement) => {
              for (const u of sbatchArgIssues(args))
                refinement.addIssue({ code: 'custom', path: [u.index], message: u.message });
            })
            .default([]),
          /** How often a submitted job's state is asked for (squeue; sacct once it ended). */
          pollS: seconds(10, 0.2),
          /** SLURM_CONF for sbatch/squeue/sacct/scancel; otherwise the environment's. */
          slurmConf: pathField(ctx).optional(),
        }),
      ],
      { error: "expected {kind: 'local'} or {kind: 'slurm', partition, …}" },
    )
    .default({ kind: 'local' });
}

export function streamingConverterSection(ctx: SchemaContext) {
  return z
    .strictObject({
      port: portField(DAEMONS['streaming-converter'].port),
      incomingDir: dataPath(ctx, 'incoming'),
      outputDir: dataPath(ctx, 'ms'),
      scratchDir: dataPath(ctx, 'scratch'),
      settleS: seconds(5),
      scanIntervalS: seconds(30, 0.1),
      groupToleranceS: seconds(60),
      groupTimeoutS: seconds(900),
      expectedSubbands: z.number().int().min(1).max(64).default(16),
      expectedNfreqs: z.number().int().min(1).default(48),
      maxConcurrent: z.number().int().min(1).default(1),
      maxAttempts: z.number().int().min(1).default(3),
      dispatchPartial: z.boolean().default(false),
      minFreeGb: z.number().min(0).default(50),
      /** Ntimes other than this only logs a warning (a short observation is still converted). */
      expectedNtimes: z.number().int().min(0).default(24),
      /** A file not acceptable after this long (still open, truncated, never stable) becomes invalid. */
      maxSettleS: seconds(1800),
      /** Unreadable files (EACCES, EIO) are looked at again after this long, up to maxRechecks times. */
      recheckInvalidS: seconds(120),
      maxRechecks: z.number().int().min(0).default(10),
      /**
       * A subband-named symlink whose target is outside incomingDir is refused (counted, logged once) unless
       * this is true: inputs are expected to land in incomingDir, and a link out of it can expose any file.
       */
      followExternalSymlinks: z.boolean().default(false),
      /**
       * fs.watch on incomingDir (no per-file state): an event schedules a targeted look after watchDebounceMs.
       * Hints only: the quick pass and the reconcile stay the truth.
       */
      watch: z.boolean().default(true),
      watchDebounceMs: z.number().int().min(0).default(100),
      /**
       * The full pass over incomingDir (every name listed, every known file stat'ed), run in slices that yield:
       * at start, then this often. It finds what the watcher missed and files changed under a known name.
       */
      reconcileIntervalS: seconds(3600, 1),
      /**
       * Off unless given: the inputs of a converted group move to `dir/YYYY-MM-DD/` (observation date, UTC)
       * `afterHours` after the conversion finished, by rename on the same file system, recorded in
       * hdf5_files and converter_archive_moves.
       */
      archive: z
        .strictObject({
          afterHours: z.number({ error: 'expected a number of hours' }).min(0),
          dir: pathField(ctx),
        })
        .optional(),
      /** Retry delay retryBaseS × 2^(attempt-1), ±10 % jitter, capped at retryMaxS. */
      retryBaseS: seconds(60),
      retryMaxS: seconds(1800),
      /** Conversion job lease; renewed every leaseS/3 while the converter runs. */
      leaseS: seconds(60, 1),
      /** After SIGTERM to the converter's process group, SIGKILL follows after this long. */
      killGraceS: seconds(30),
      backlogAlertGroups: z.number().int().min(1).default(6),
      /** No new valid file for this long raises the stale-input alert (0 disables). */
      staleInputAlertS: seconds(1200),
      executor: executorField(ctx),
      converter: z
        .strictObject({
          argv: z
            .array(z.string().min(1), { error: 'expected an array of strings (argv template)' })
            .min(1)
            .superRefine((argv, ctx) => {
              for (const u of unknownPlaceholders(argv))
                ctx.addIssue({ code: 'custom', path: [u.index], message: u.message });
            })
            .default(['contimg', ...CONVERT_CHECK_ARGS]),
          /** Output name under outputDir; {group} is the group id (e.g. 2025-06-01T12:00:00.ms). */
          outputName: z
            .string()
            .min(1)
            .refine((v) => !v.includes('/'), 'expected a file name, not a path')
            .superRefine((name, ctx) => {
              for (const u of unknownPlaceholders([name], ['group']))
                ctx.addIssue({ code: 'custom', message: u.message });
              // Without the group id every group would write the same output.
              if (!name.includes('{group}'))
                ctx.addIssue({ code: 'custom', message: 'must contain {group}' });
            })
            .default('{group}.ms'),
          timeoutS: seconds(900, 1),
          env: z.record(z.string(), z.string()).default({}),
        })
        .prefault({}),
    })
    .superRefine((c, refinement) => {
      if (c.archive && (c.archive.dir === c.incomingDir || c.archive.dir.startsWith(`${c.incomingDir}/`)))
        refinement.addIssue({
          code: 'custom',
          path: ['archive', 'dir'],
          message: 'must be outside incomingDir (archived inputs leave the directory the scans read)',
        });
    });
}
