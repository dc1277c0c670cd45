// Stopping an attempt's Slurm job, shared by the executor (a lost lease, recovery of an abandoned attempt)
// and `contimg converter abandon` (which stops it even while the daemon is down): by the row's job id, or by
// the job's name when the id never reached the row (lib/slurm/track.ts, shared with the mosaic dispatcher).
import { cancelByIdOrName, SlurmClient, type SlurmClientOptions } from '../../lib/slurm/index.js';
import type { AttemptRow } from './attempts.js';
import type { ConverterConfig } from './context.js';

/** A client on the configured SLURM_CONF (the environment's when the executor does not name one). */
export function slurmClientFor(
  cfg: Pick<ConverterConfig, 'executor'>,
  opts: Pick<SlurmClientOptions, 'exec' | 'onCall'> = {},
): SlurmClient {
  const ex = cfg.executor;
  return new SlurmClient({ slurmConf: ex.kind === 'slurm' ? ex.slurmConf : undefined, ...opts });
}

/** scancel the attempt's job(s); returns the ids cancelled. Idempotent (a finished job is no error). */
export function cancelSlurmAttempt(
  client: SlurmClient,
  a: Pick<AttemptRow, 'slurm_job_id' | 'slurm_job_name'>,
): Promise<string[]> {
  return cancelByIdOrName(client, a);
}
