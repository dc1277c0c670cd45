// `contimg completion bash|zsh`: the scripts the built CLI prints load in the real shells and complete
// commands, subcommands and options from the command tree. bash drives the function the way readline does
// (COMP_WORDS, COMP_CWORD, then the function `complete -F` names); zsh parses the script (zsh -n) and runs the
// completion function with the completion system's _describe and _files standing in, recording what they were
// asked to offer. Both shells are Debian packages the machine and CI install (.ci/run); never skipped.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';

let dir: string;
let bashScript: string;
let zshScript: string;

beforeAll(async () => {
  dir = makeTmpDir('contimg-completion-');
  for (const shell of ['bash', 'zsh']) {
    const r = await runCli(['completion', shell], { built: true });
    expect(r.code, r.stderr).toBe(0);
    fs.writeFileSync(path.join(dir, `contimg.${shell}`), r.stdout);
  }
  bashScript = path.join(dir, 'contimg.bash');
  zshScript = path.join(dir, 'contimg.zsh');
});
afterAll(() => removeTmpDir(dir));

/** What bash offers for the words typed so far (the last one is being completed). */
function bashComplete(words: string[]): string[] {
  const script = [
    'set -u',
    `source ${JSON.stringify(bashScript)}`,
    // The function `complete` registered for contimg is the one to drive.
    'fn=$(complete -p contimg | sed -E "s/.*-F ([^ ]+).*/\\1/")',
    `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
    'COMP_CWORD=$((${#COMP_WORDS[@]} - 1))',
    '"$fn" contimg "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  return execFileSync('bash', ['--norc', '--noprofile', '-c', script], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

/** What the zsh function asks _describe (or _files) to offer for the words typed so far. */
function zshComplete(words: string[]): string[] {
  const script = [
    'compdef() { :; }',
    '_describe() { local arr=${@[-1]}; print -rl -- ${(P)arr} }',
    '_files() { print -r -- FILES }',
    `source ${JSON.stringify(zshScript)}`,
    `words=(${words.map((w) => `'${w}'`).join(' ')})`,
    'CURRENT=${#words}',
    '_contimg',
  ].join('\n');
  return execFileSync('zsh', ['-f', '-c', script], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe('bash completion', () => {
  it('loads in bash and registers a completion function for contimg', () => {
    const out = execFileSync(
      'bash',
      ['--norc', '-c', `source ${JSON.stringify(bashScript)} && complete -p contimg`],
      {
        encoding: 'utf8',
      },
    );
    expect(out).toMatch(/^complete -o default -F \S+ contimg$/m);
  });

  it('completes top-level commands, subcommands and options', () => {
    expect(bashComplete(['contimg', 'conv'])).toEqual(['converter', 'convert-check']);
    expect(bashComplete(['contimg', 'converter', 'gr'])).toEqual(['groups']);
    expect(bashComplete(['contimg', 'migrate', ''])).toEqual(
      expect.arrayContaining(['status', 'up', 'down', 'verify', 'new', 'snapshot']),
    );
    expect(bashComplete(['contimg', 'thumbnails', 'list', '--st'])).toEqual(['--status']);
    expect(bashComplete(['contimg', 'completion', ''])).toEqual([]);
  });

  it('skips option values when finding the command, and leaves values to file-name completion', () => {
    // "--config groups" is a value, not the groups subcommand.
    expect(bashComplete(['contimg', 'jobs', 'list', '--config', 'list', '--q'])).toEqual(['--queue']);
    expect(bashComplete(['contimg', 'converter', 'groups', '--config', ''])).toEqual([]);
  });
});

describe('zsh completion', () => {
  it('parses (zsh -n)', () => {
    expect(() => execFileSync('zsh', ['-n', zshScript])).not.toThrow();
  });

  it('offers commands and options with their descriptions, and files for option values', () => {
    const top = zshComplete(['contimg', '']);
    expect(top).toContain('converter:observation groups: list, show, requeue, abandon');
    expect(top).toContain('lst:local sidereal time (apparent and mean) at the site');
    expect(zshComplete(['contimg', 'converter', ''])).toEqual(
      expect.arrayContaining([expect.stringMatching(/^groups:/), expect.stringMatching(/^requeue:/)]),
    );
    expect(zshComplete(['contimg', 'converter', 'groups', '--'])).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^--json:/),
        expect.stringMatching(/^--config:config file/),
      ]),
    );
    expect(zshComplete(['contimg', 'converter', 'groups', '--config', ''])).toEqual(['FILES']);
  });
});
