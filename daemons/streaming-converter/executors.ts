// The converter's executors by kind: the configured one runs new attempts; the other is made when recovery
// meets an attempt it ran before a config change (a Slurm job is still tracked after switching to local).
import type { Ctx } from './context.js';
import type { RunnerHooks } from './conversion.js';
import type { AdoptionHost, ConversionExecutor, ExecutorKind } from './executor.js';
import { LocalExecutor } from './local-executor.js';
import { SlurmExecutor } from './slurm-executor.js';

export function createExecutors(
  ctx: Ctx,
  host: AdoptionHost,
  hooks: RunnerHooks,
): (kind: ExecutorKind) => ConversionExecutor {
  const local = new LocalExecutor(ctx, host);
  let slurm: SlurmExecutor | null = null;
  ctx.m.executor.set({ kind: ctx.cfg.executor.kind }, 1);
  return (kind) => (kind === 'slurm' ? (slurm ??= new SlurmExecutor(ctx, host, hooks.slurmExec)) : local);
}
