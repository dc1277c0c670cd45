// The command table: one entry per module in cli/commands/ (docs/cli.md "Adding a command"). It holds what
// `contimg --help` needs without importing anything (the top-level names, their daemon group and one-line
// summaries), so `contimg --help` imports no command module, `contimg lst` lst's module alone, and
// `contimg completion` every module's register() but none of their implementations (those load inside the
// actions).
import type { Command } from 'commander';

/** Help headings and the docs page that lists each group's commands (checked by test/integration/cli). */
export const GROUPS = {
  converter: { heading: 'Streaming converter:', docs: 'docs/streaming-converter.md' },
  pointing: { heading: 'Pointing monitor:', docs: 'docs/pointing-monitor.md' },
  thumbnails: { heading: 'Thumbnail worker:', docs: 'docs/thumbnail-worker.md' },
  scheduler: { heading: 'Scheduler:', docs: 'docs/scheduler.md' },
  alerts: { heading: 'Alerts:', docs: 'docs/alert-dispatcher.md' },
  platform: { heading: 'Platform and operations:', docs: 'docs/cli.md' },
} as const;
export type GroupName = keyof typeof GROUPS;

export interface CommandModule {
  group: GroupName;
  /** Each top-level command the module's register() adds, with its one-line summary for `contimg --help`. */
  commands: Readonly<Record<string, string>>;
  /** The module: its register(program) defines commands and options, importing implementations lazily. */
  load: () => Promise<{ register(program: Command): void }>;
  /** Its action needs every command registered (completion scripts are generated from the whole tree). */
  wholeTree?: boolean;
}

export const COMMAND_MODULES: readonly CommandModule[] = [
  {
    group: 'converter',
    commands: { converter: 'observation groups: list, show, requeue, abandon' },
    load: () => import('./commands/converter.js'),
  },
  {
    group: 'converter',
    commands: { 'convert-check': 'the built-in conversion check (the local converter)' },
    load: () => import('./commands/convert-check.js'),
  },
  {
    group: 'scheduler',
    commands: { 'mosaic-build': 'build a mosaic from a manifest (the reference builder)' },
    load: () => import('./commands/mosaic-build.js'),
  },
  {
    group: 'pointing',
    commands: { pointing: 'pointing from headers, status, history, calibrators' },
    load: () => import('./commands/pointing.js'),
  },
  {
    group: 'pointing',
    commands: { transits: 'calibrator meridian transits in a time range' },
    load: () => import('./commands/transits.js'),
  },
  {
    group: 'pointing',
    commands: { lst: 'local sidereal time (apparent and mean) at the site' },
    load: () => import('./commands/lst.js'),
  },
  {
    group: 'thumbnails',
    commands: { thumbnails: 'thumbnail rows: list, retry, render all now' },
    load: () => import('./commands/thumbnails.js'),
  },
  {
    group: 'thumbnails',
    commands: { thumbnail: 'render one FITS image to a PNG thumbnail' },
    load: () => import('./commands/thumbnail.js'),
  },
  {
    group: 'thumbnails',
    commands: { fits: 'statistics and metadata of a FITS image' },
    load: () => import('./commands/fits.js'),
  },
  {
    group: 'scheduler',
    commands: { health: 'health targets and overall status of the last health run' },
    load: () => import('./commands/health.js'),
  },
  {
    group: 'scheduler',
    commands: { validity: 'calibration validity now: covering sets and findings' },
    load: () => import('./commands/validity.js'),
  },
  {
    group: 'scheduler',
    commands: { flux: 'calibrator flux ratios and drift, and the findings' },
    load: () => import('./commands/flux.js'),
  },
  {
    group: 'scheduler',
    commands: { scheduler: 'the scheduler jobs: list, history, run one now' },
    load: () => import('./commands/scheduler.js'),
  },
  {
    group: 'scheduler',
    commands: { mosaic: 'mosaic plans: plan, list, show, requeue, cancel' },
    load: () => import('./commands/mosaic.js'),
  },
  {
    group: 'scheduler',
    commands: { retention: 'prune history tables by the `retention` config' },
    load: () => import('./commands/retention.js'),
  },
  {
    group: 'alerts',
    commands: { alerts: 'alerts raised by the daemons: list, show, ack, unack' },
    load: () => import('./commands/alerts.js'),
  },
  {
    group: 'alerts',
    commands: { silences: 'silences: mute matching alerts for a while' },
    load: () => import('./commands/silences.js'),
  },
  {
    group: 'alerts',
    commands: { receivers: 'alert receivers: list, send a test message' },
    load: () => import('./commands/receivers.js'),
  },
  {
    group: 'alerts',
    commands: { outbox: 'the alert dispatcher outbox: list, show, retry' },
    load: () => import('./commands/outbox.js'),
  },
  {
    group: 'platform',
    commands: { status: "each daemon's readiness, both databases' schema" },
    load: () => import('./commands/status.js'),
  },
  {
    group: 'platform',
    commands: { run: 'run one daemon in the foreground' },
    load: () => import('./commands/run.js'),
  },
  {
    group: 'platform',
    commands: { dev: 'every daemon and the simulator locally (npm start)' },
    load: () => import('./commands/dev.js'),
  },
  {
    group: 'platform',
    commands: { simulate: 'write simulated subband files (and images)' },
    load: () => import('./commands/simulate.js'),
  },
  {
    group: 'platform',
    commands: { jobs: 'the durable job queue: list, show, redrive, rerun' },
    load: () => import('./commands/jobs.js'),
  },
  {
    group: 'platform',
    commands: { migrate: 'database migrations: status, up, down, verify' },
    load: () => import('./commands/migrate.js'),
  },
  {
    group: 'platform',
    commands: { 'check-config': 'validate the config file offline (exit 0 or 78)' },
    load: () => import('./commands/config.js'),
  },
  {
    group: 'platform',
    commands: { 'prometheus-config': "print a prometheus.yml for this host's daemons" },
    load: () => import('./commands/prometheus-config.js'),
  },
  {
    group: 'platform',
    commands: { completion: 'print the bash or zsh completion script' },
    load: () => import('./commands/completion.js'),
    wholeTree: true,
  },
];

/**
 * What to register for these arguments (after `contimg`). A command, or `help COMMAND`: that command's module
 * alone, so only its imports load. The root help, a root option, `help` alone or an unknown command:
 * `stubs`, commands made from this table's names and summaries alone (all that the command list and the
 * unknown-command suggestions show), so no module loads at all. A wholeTree module (completion): every module.
 */
export function modulesFor(args: readonly string[]): { load: readonly CommandModule[]; stubs: boolean } {
  const word = args[0] === 'help' ? args[1] : args[0];
  const entry =
    word === undefined || word.startsWith('-')
      ? undefined
      : COMMAND_MODULES.find((m) => Object.hasOwn(m.commands, word));
  if (!entry) return { load: [], stubs: true };
  return { load: entry.wholeTree && args[0] !== 'help' ? COMMAND_MODULES : [entry], stubs: false };
}
