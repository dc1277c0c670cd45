// Every contimg_converter_* series, declared up front and initialised for its known label values.
import { Counter, Gauge, Histogram, type Registry } from '../../lib/metrics.js';
import { GROUP_STATES, OUTCOMES } from './rules.js';

const P = 'contimg_converter_';

export const FILE_RESULTS = [
  'valid',
  'invalid',
  'duplicate',
  'late',
  'changed',
  'gone',
  'bad_name',
  'ignored',
] as const;
export type FileResult = (typeof FILE_RESULTS)[number];

export const SCAN_KINDS = ['quick', 'reconcile'] as const;
export type ScanKind = (typeof SCAN_KINDS)[number];
export const RECONCILE_REASONS = ['start', 'interval', 'unexplained', 'replaced', 'overflow'] as const;
export type ReconcileReason = (typeof RECONCILE_REASONS)[number];
const WATCH_EVENT_TYPES = ['rename', 'change', 'error', 'dropped'] as const;

export function converterMetrics(registry: Registry) {
  const r = [registry];
  const m = {
    files: new Counter({
      name: `${P}files_total`,
      help: 'Subband files by outcome (valid, invalid, duplicate, late, changed, gone, bad_name, ignored: not a regular file or a refused symlink) and reason.',
      labelNames: ['result', 'reason'],
      registers: r,
    }),
    filesSettling: new Gauge({ name: `${P}files_settling`, help: 'Files waiting to settle.', registers: r }),
    filesInvalid: new Gauge({ name: `${P}files_invalid`, help: 'Files in state invalid.', registers: r }),
    groups: new Gauge({ name: `${P}groups`, help: 'Groups by state.', labelNames: ['state'], registers: r }),
    assembly: new Histogram({
      name: `${P}group_assembly_seconds`,
      help: 'First file seen → group ready.',
      buckets: [1, 10, 30, 60, 120, 300, 600, 900, 1800],
      registers: r,
    }),
    dispatchLatency: new Histogram({
      name: `${P}dispatch_latency_seconds`,
      help: "Last subband's arrival (max of mtime and first seen) → converter spawned. The key SLO.",
      buckets: [0.25, 0.5, 1, 1.5, 2, 5, 10, 15, 30, 60, 120],
      registers: r,
    }),
    conversionSeconds: new Histogram({
      name: `${P}conversion_duration_seconds`,
      help: 'Converter run time by outcome.',
      labelNames: ['outcome'],
      buckets: [1, 10, 30, 60, 120, 300, 600, 900, 1800],
      registers: r,
    }),
    attempts: new Counter({
      name: `${P}conversion_attempts_total`,
      help: 'Finished conversion attempts by outcome.',
      labelNames: ['outcome'],
      registers: r,
    }),
    inFlight: new Gauge({ name: `${P}conversions_in_flight`, help: 'Converters running now.', registers: r }),
    backlog: new Gauge({
      name: `${P}backlog_groups`,
      help: 'Groups ready or waiting to retry.',
      registers: r,
    }),
    lastValidFile: new Gauge({
      name: `${P}last_valid_file_timestamp_seconds`,
      help: 'When the last file became valid (Unix s).',
      registers: r,
    }),
    lastConverted: new Gauge({
      name: `${P}last_converted_group_timestamp_seconds`,
      help: 'Observation time of the last converted group (Unix s); lag = now − this.',
      registers: r,
    }),
    scanSeconds: new Histogram({
      name: `${P}scan_duration_seconds`,
      help: 'One pass over incomingDir by kind: quick (hints and files in flight, every scanIntervalS) or reconcile (the whole listing and every known file, in slices; wall time including its yields).',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers: r,
    }),
    scanExamined: new Histogram({
      name: `${P}scan_files_examined`,
      help: "Names looked up and files stat'ed per pass, by kind (quick | reconcile); _sum is the total work.",
      labelNames: ['kind'],
      buckets: [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7],
      registers: r,
    }),
    reconciles: new Counter({
      name: `${P}reconciles_total`,
      help: 'Listings of incomingDir by reason: start, interval (reconcileIntervalS), unexplained (the directory changed without a watcher event), replaced (another directory at incomingDir), overflow (too many hints).',
      labelNames: ['reason'],
      registers: r,
    }),
    scanEntries: new Gauge({
      name: `${P}scan_entries`,
      help: 'Directory entries in the last complete listing of incomingDir.',
      registers: r,
    }),
    headerSeconds: new Histogram({
      name: `${P}header_read_seconds`,
      help: 'Superblock check plus h5wasm header read per file.',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
      registers: r,
    }),
    watchEvents: new Counter({
      name: `${P}watch_events_total`,
      help: 'fs.watch events on incomingDir (hints only) by type: rename, change, error, dropped (hint set full).',
      labelNames: ['type'],
      registers: r,
    }),
    diskFree: new Gauge({
      name: `${P}disk_free_bytes`,
      help: 'Free bytes on the output, scratch and input file systems.',
      labelNames: ['path'],
      registers: r,
    }),
    paused: new Gauge({
      name: `${P}dispatch_paused`,
      help: '1 while dispatch is paused, by reason.',
      labelNames: ['reason'],
      registers: r,
    }),
    loopErrors: new Counter({
      name: `${P}loop_errors_total`,
      help: 'Errors caught in background loops (logged, backed off, continued).',
      labelNames: ['loop'],
      registers: r,
    }),
    archived: new Counter({
      name: `${P}archived_files_total`,
      help: 'Inputs of converted groups moved by the archive policy, by result: moved, repaired (a move completed at start after a crash), failed.',
      labelNames: ['result'],
      registers: r,
    }),
    recovered: new Counter({
      name: `${P}recovered_attempts_total`,
      help: 'Open attempts recovered after their daemon died, by what recovery found: adopted (converter still running, awaited), finished (ended meanwhile: its recorded outcome settled), killed (stopped, crashed), dead (nothing ran, no exit status: crashed unless the files show success).',
      labelNames: ['child'],
      registers: r,
    }),
    executor: new Gauge({
      name: `${P}executor_info`,
      help: 'What runs new conversion attempts (streamingConverter.executor.kind): 1 for the configured kind.',
      labelNames: ['kind'],
      registers: r,
    }),
    slurmJobs: new Gauge({
      name: `${P}slurm_jobs`,
      help: 'Slurm jobs this daemon tracks now, by the last state seen (PENDING, RUNNING, …); each job id and state is on /api/groups and `contimg converter show` (ids are not labels: unbounded).',
      labelNames: ['state'],
      registers: r,
    }),
    slurmCommands: new Counter({
      name: `${P}slurm_commands_total`,
      help: 'Slurm commands run (sbatch, squeue, sacct, scancel) by result: ok, error, unreachable (the controller did not answer).',
      labelNames: ['command', 'result'],
      registers: r,
    }),
    slurmUp: new Gauge({
      name: `${P}slurm_controller_up`,
      help: '0 while the Slurm controller does not answer (conversions wait, nothing is submitted twice), 1 otherwise.',
      registers: r,
    }),
    slurmQueueWait: new Histogram({
      name: `${P}slurm_queue_wait_seconds`,
      help: 'Slurm job submitted → first seen RUNNING (bounded below by the poll interval).',
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: r,
    }),
  };
  m.slurmUp.set(1);
  for (const state of ['PENDING', 'RUNNING', 'COMPLETING']) m.slurmJobs.set({ state }, 0);
  for (const command of ['sbatch', 'squeue', 'sacct', 'scancel'])
    for (const result of ['ok', 'error', 'unreachable']) m.slurmCommands.inc({ command, result }, 0);
  for (const result of FILE_RESULTS) m.files.inc({ result, reason: '' }, 0);
  for (const state of GROUP_STATES) m.groups.set({ state }, 0);
  for (const outcome of OUTCOMES) {
    m.attempts.inc({ outcome }, 0);
  }
  for (const type of WATCH_EVENT_TYPES) m.watchEvents.inc({ type }, 0);
  for (const kind of SCAN_KINDS) {
    m.scanSeconds.zero({ kind });
    m.scanExamined.zero({ kind });
  }
  for (const reason of RECONCILE_REASONS) m.reconciles.inc({ reason }, 0);
  for (const result of ['moved', 'repaired', 'failed']) m.archived.inc({ result }, 0);
  for (const path of ['output', 'scratch', 'input']) m.diskFree.set({ path }, 0);
  m.paused.set({ reason: 'disk' }, 0);
  for (const loop of [
    'main',
    'scan',
    'dispatch',
    'housekeeping',
    'watch',
    'recovery',
    'reconcile',
    'archive',
  ])
    m.loopErrors.inc({ loop }, 0);
  for (const child of ['adopted', 'finished', 'killed', 'dead']) m.recovered.inc({ child }, 0);
  return m;
}

export type ConverterMetrics = ReturnType<typeof converterMetrics>;
