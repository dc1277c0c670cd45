// `contimg --help` lists the commands grouped by daemon, one line each; the command table (cli/registry.ts)
// says truly which module defines which command; and each group's docs page names every command of the group.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, walkCommands } from '../../../cli/program.js';
import { COMMAND_MODULES, GROUPS, type GroupName } from '../../../cli/registry.js';
import { runCli } from '../../helpers/cli.js';
import { REPO_ROOT } from '../../helpers/tmp.js';

const COMMANDS_DIR = path.join(REPO_ROOT, 'cli', 'commands');

/** Command paths a docs page names: `contimg a b`, with `a|b` alternatives expanded (each prefix counts). */
function mentionedCommands(doc: string): Set<string> {
  const out = new Set<string>();
  // Words may wrap onto the next line inside a code span (`contimg silences\nadd|list`).
  for (const m of doc.matchAll(/contimg((?:\s+[a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)*)+)/g)) {
    let prefixes = [''];
    for (const word of m[1].trim().split(/\s+/)) {
      prefixes = prefixes.flatMap((p) => word.split('|').map((alt) => (p ? `${p} ${alt}` : alt)));
      for (const p of prefixes) out.add(p);
    }
  }
  return out;
}

/** "converter groups" for a command below the root. */
function pathOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

describe('the command table', () => {
  it('each module registers exactly the top-level commands its entry names', async () => {
    for (const m of COMMAND_MODULES) {
      const p = new Command('t');
      (await m.load()).register(p);
      expect(p.commands.map((c) => c.name()).sort()).toEqual(Object.keys(m.commands).sort());
    }
  });

  it('every file in cli/commands/ has its entry (a file without one would never be loaded)', async () => {
    const loaded = await Promise.all(COMMAND_MODULES.map((m) => m.load()));
    for (const f of fs.readdirSync(COMMANDS_DIR).filter((x) => x.endsWith('.ts'))) {
      const mod: unknown = await import(path.join(COMMANDS_DIR, f));
      expect(loaded.includes(mod as (typeof loaded)[number]), `${f} is not in cli/registry.ts`).toBe(true);
    }
  });
});

describe('contimg --help', () => {
  it('lists every command under its daemon heading, in group order, one line each with its summary', async () => {
    const r = await runCli(['--help'], { built: true });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const headings = lines.filter((l) => /^\S.*:$/.test(l) && l !== 'Options:');
    const used = (Object.keys(GROUPS) as GroupName[]).filter((g) =>
      COMMAND_MODULES.some((m) => m.group === g),
    );
    expect(headings).toEqual(used.map((g) => GROUPS[g].heading));
    for (const g of used) {
      const start = lines.indexOf(GROUPS[g].heading) + 1;
      const block = lines.slice(start, lines.indexOf('', start));
      const expected = COMMAND_MODULES.filter((m) => m.group === g).flatMap((m) =>
        Object.entries(m.commands),
      );
      if (g === 'platform') expected.push(['help', 'display help for a command']);
      // One line per command: "  name [args]   summary", no wrapped continuation lines.
      expect(block).toHaveLength(expected.length);
      for (const [i, [name, summary]] of expected.entries())
        expect(block[i]).toMatch(new RegExp(`^  ${name}( \\S+)* +${summary.replace(/[()]/g, '\\$&')}$`));
    }
  });

  it('a command help and an unknown command still work with only the needed modules loaded', async () => {
    const sub = await runCli(['converter', '--help'], { built: true });
    expect([sub.code, sub.stdout]).toEqual([0, expect.stringContaining('requeue <group>')]);
    const typo = await runCli(['convertr'], { built: true });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown command 'convertr'[\s\S]*Did you mean converter\?/);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag], { built: true });
      expect([r.code, r.stdout]).toEqual([0, `${pkg.version}\n`]);
    }
  });

  it('every --config option says where the config comes from when it is not given', async () => {
    const program = await buildProgram([], { version: '0', all: true });
    const configs = walkCommands(program).flatMap((c) => c.options.filter((o) => o.long === '--config'));
    expect(configs.length).toBeGreaterThan(10);
    for (const o of configs)
      expect(o.description).toMatch(
        /\$CONTIMG_CONFIG if set, else \.\/var\/contimg\.yaml or \/etc\/contimg\/contimg\.yaml/,
      );
  });
});

describe("each group's docs page lists its commands", () => {
  // Groups with commands in this build (the scheduler's join with its daemon).
  const groups = (Object.keys(GROUPS) as GroupName[]).filter((g) =>
    COMMAND_MODULES.some((m) => m.group === g),
  );
  it.each(groups)('%s', async (group) => {
    const modules = COMMAND_MODULES.filter((m) => m.group === group);
    const program = new Command('contimg');
    for (const m of modules) (await m.load()).register(program);
    const leaves = walkCommands(program)
      .filter((c) => c.commands.length === 0)
      .map(pathOf);
    const page = path.join(REPO_ROOT, GROUPS[group].docs);
    expect(fs.existsSync(page), `${GROUPS[group].docs} exists`).toBe(true);
    const named = mentionedCommands(fs.readFileSync(page, 'utf8'));
    expect(
      leaves.filter((l) => !named.has(l)),
      `not in ${GROUPS[group].docs}`,
    ).toEqual([]);
  });
});
