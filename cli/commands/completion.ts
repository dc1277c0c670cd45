// contimg completion bash|zsh: print a completion script generated from the whole command tree (every
// command, subcommand and option; cli/completion.ts). The command table marks this module wholeTree, so every
// command is registered when it runs.
import type { Command } from 'commander';
import { UsageError } from '../util.js';

export function register(program: Command): void {
  program
    .command('completion')
    .argument('<shell>', 'bash or zsh')
    .description('print a shell completion script for every contimg command and option')
    .addHelpText(
      'after',
      '\nbash: contimg completion bash > /etc/bash_completion.d/contimg  (or: source <(contimg completion bash))' +
        '\nzsh:  contimg completion zsh > "${fpath[1]}/_contimg"  (then start a new shell)\n',
    )
    .action(async (shell: string, _opts: unknown, cmd: Command) => {
      if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`expected bash or zsh, got "${shell}"`);
      const { bashCompletion, zshCompletion } = await import('../completion.js');
      const root = cmd.parent ?? cmd;
      process.stdout.write(shell === 'bash' ? bashCompletion(root) : zshCompletion(root));
    });
}
