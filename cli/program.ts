// Builds the `contimg` command tree from the command table (cli/registry.ts): the modules these arguments
// need, each top-level command under its daemon's help heading with its one-line summary, the lookup order in
// the help of every --config option, and a hook that loads the config loader only when an action that takes
// --config is about to run and a config file exists.
import { Command, type Argument } from 'commander';
import { findConfig } from '../lib/config/locate.js';
import { COMMAND_MODULES, GROUPS, modulesFor, type CommandModule, type GroupName } from './registry.js';
import { loadConfigSupport } from './util.js';

const GROUP_ORDER = Object.keys(GROUPS) as GroupName[];

/** How every --config option's help describes its default (the order of lib/config/locate.ts). */
export const CONFIG_DEFAULT =
  'default: $CONTIMG_CONFIG if set, else ./var/contimg.yaml or /etc/contimg/contimg.yaml if present';

export interface BuildOptions {
  version: string;
  /** Register every module whatever the arguments (the tests' view of the whole tree). */
  all?: boolean;
}

/** Every command under root, depth first, root excluded. */
export function walkCommands(root: Command): Command[] {
  return root.commands.flatMap((c) => [c, ...walkCommands(c)]);
}

function argumentTerm(a: Argument): string {
  const name = `${a.name()}${a.variadic ? '...' : ''}`;
  return a.required ? `<${name}>` : `[${name}]`;
}

/** A module's commands, registered and placed under their group heading with the table's summary. */
async function register(program: Command, m: CommandModule): Promise<void> {
  const before = program.commands.length;
  try {
    (await m.load()).register(program);
  } catch (e) {
    // One broken command module must not take every other command (e.g. migrate) down with it.
    process.stderr.write(
      `contimg: cannot load the ${Object.keys(m.commands).join(', ')} command(s): ${(e as Error).message}\n`,
    );
    return;
  }
  for (const c of program.commands.slice(before)) {
    c.helpGroup(GROUPS[m.group].heading);
    const summary = m.commands[c.name()];
    if (summary !== undefined) c.summary(summary);
  }
}

/** "config file (default: $CONTIMG_CONFIG)" and "… (optional)" become the full lookup order. */
function configHelp(description: string): string {
  const optional = /\(optional\)\s*$/.test(description);
  const base = description.replace(/\s*\((default: [^)]*|optional)\)\s*$/, '');
  return `${base} (${optional ? 'optional; ' : ''}${CONFIG_DEFAULT})`;
}

export async function buildProgram(args: readonly string[], opts: BuildOptions): Promise<Command> {
  const program = new Command('contimg')
    .description('DSA-110 continuum-imaging host daemons and operator tools')
    .version(opts.version, '-V, --version')
    .showHelpAfterError()
    .exitOverride()
    // "run <daemon>" rather than "run [options] <daemon>": the command lists stay one line per command (the
    // root list, built from the command table alone, shows names only).
    .configureHelp({
      subcommandTerm: (c) => [c.name(), ...c.registeredArguments.map(argumentTerm)].join(' '),
    });
  const chosen = opts.all ? { load: COMMAND_MODULES, stubs: false } : modulesFor(args);
  const byGroup = (ms: readonly CommandModule[]) =>
    [...ms].sort((a, b) => GROUP_ORDER.indexOf(a.group) - GROUP_ORDER.indexOf(b.group));
  for (const m of byGroup(chosen.load)) await register(program, m);
  if (chosen.stubs)
    for (const m of byGroup(COMMAND_MODULES))
      for (const [name, summary] of Object.entries(m.commands))
        program.command(name).summary(summary).helpGroup(GROUPS[m.group].heading);
  program.commandsGroup(GROUPS.platform.heading).helpCommand('help [command]', 'display help for a command');
  for (const c of walkCommands(program))
    for (const o of c.options) if (o.long === '--config') o.description = configHelp(o.description);
  program.hook('preAction', async (_root, action) => {
    if (!action.options.some((o) => o.long === '--config')) return;
    const explicit = action.getOptionValue('config') as string | undefined;
    if (findConfig({ explicit, env: process.env, cwd: process.cwd() }).found) await loadConfigSupport();
  });
  return program;
}
