// The CLI starts at once because a command loads only what it uses (docs/cli.md "Start-up"). Checked on the
// built CLI with a module-resolution hook (node:module register) that records every module the process
// loads: --version loads nothing but its entry file; --help the command table and commander, no command
// module; completion every command definition but no implementation (no YAML, schema or database code);
// `contimg lst` without a config lst's module and the astronomy code, not the other commands nor the config
// loader. The
// timings themselves are in bench/cli-start.ts (run by hand).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { moduleTraceEnv, readModuleTrace } from '../../helpers/module-trace.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;

beforeAll(() => {
  dir = makeTmpDir('contimg-lazy-');
});
afterAll(() => removeTmpDir(dir));

/** Run the built CLI and return the repository files and node_modules packages it loaded. */
async function loaded(args: string[]): Promise<{ files: string[]; packages: string[]; code: number }> {
  const trace = path.join(dir, `trace-${args.join('_').replace(/\W/g, '')}.txt`);
  fs.writeFileSync(trace, '');
  const r = await runCli(args, { built: true, env: moduleTraceEnv(dir, trace) });
  return { ...readModuleTrace(trace), code: r.code };
}

const HEAVY = /^dist\/lib\/(config\/(index|load|schema|sections\/)|db\/|migrations\/|fits\/index|astro\/)/;

describe('what a command loads', () => {
  it('--version: the entry file alone', async () => {
    const r = await loaded(['--version']);
    expect(r.code).toBe(0);
    expect(r).toMatchObject({ files: ['dist/cli/contimg.js'], packages: [] });
  });

  it('--help: the command table alone, no command module', async () => {
    const r = await loaded(['--help']);
    expect(r.code).toBe(0);
    expect(r.packages).toEqual(['commander']);
    expect(r.files.filter((f) => f.startsWith('dist/cli/commands/'))).toEqual([]);
    expect(r.files.filter((f) => HEAVY.test(f))).toEqual([]);
  });

  it('completion: every command definition (the whole tree), no implementation', async () => {
    const r = await loaded(['completion', 'bash']);
    expect(r.code).toBe(0);
    expect(r.packages).toEqual(['commander']);
    const commands = r.files.filter((f) => f.startsWith('dist/cli/commands/'));
    expect(commands.length).toBe(fs.readdirSync(path.join(REPO_ROOT, 'cli', 'commands')).length);
    expect(r.files.filter((f) => HEAVY.test(f))).toEqual([]);
  });

  it('lst without a config: its own module and the astronomy code, nothing else', async () => {
    const r = await loaded(['lst', '--at', '2025-06-01T00:00:00Z']);
    expect(r.code).toBe(0);
    expect(r.packages).toEqual(['astronomy-engine', 'commander']);
    // lst shares the site options with pointing (its module is lst's dependency), no other command.
    expect(r.files.filter((f) => f.startsWith('dist/cli/commands/'))).toEqual([
      'dist/cli/commands/lst.js',
      'dist/cli/commands/pointing.js',
    ]);
    expect(r.files.filter((f) => /^dist\/lib\/(config\/(index|load|schema)|db\/)/.test(f))).toEqual([]);
  });

  it('a command that reads a config loads the config loader only then', async () => {
    const cfgDir = path.join(dir, 'cfg');
    fs.mkdirSync(cfgDir, { recursive: true });
    const cfg = path.join(cfgDir, 'contimg.yaml');
    fs.writeFileSync(cfg, JSON.stringify({ dataDir: cfgDir, databases: { state: 's', pipeline: 'p' } }));
    const r = await loaded(['check-config', '--config', cfg]);
    expect(r.code).toBe(0);
    // The scheduler section's cron expressions are checked by both parsers the scheduler uses (lib/cron.ts).
    expect(r.packages).toEqual(['commander', 'cron-parser', 'node-cron', 'yaml', 'zod']);
    expect(r.files.filter((f) => f.startsWith('dist/cli/commands/'))).toEqual([
      'dist/cli/commands/config.js',
    ]);
  });
});
