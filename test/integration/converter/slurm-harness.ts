// The converter on the Slurm executor against a real single-node cluster (test/helpers/slurm.ts): the env,
// the converter that records its argv, and what the cluster and the attempt rows say about a group.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONVERT_CHECK_ARGS } from '../../../lib/config/sections/streaming-converter.js';
import type { SlurmCluster } from '../../helpers/slurm.js';
import { makeEnv, query, type Env } from './harness.js';

export const SLURM_CONVERTER = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../fixtures/converters/slurm-converter.mjs',
);

export function slurmArgv(mode: string, extra: string[] = []): string[] {
  return [process.execPath, SLURM_CONVERTER, mode, ...CONVERT_CHECK_ARGS.slice(1), ...extra];
}

export function slurmEnv(
  cluster: SlurmCluster,
  section: Record<string, unknown> = {},
  executor: Record<string, unknown> = {},
): Promise<Env> {
  return makeEnv({
    executor: {
      kind: 'slurm',
      partition: cluster.partition,
      slurmConf: cluster.conf,
      pollS: 0.3,
      ...executor,
    },
    converter: { argv: slurmArgv('ok'), timeoutS: 600 },
    ...section,
  });
}

export interface SlurmAttempt {
  attempt: number;
  executor: string;
  outcome: string | null;
  slurm_job_name: string | null;
  slurm_job_id: string | null;
  slurm_state: string | null;
  manifest_path: string;
  error: string | null;
}

export function slurmAttempts(env: Env): SlurmAttempt[] {
  return query<SlurmAttempt>(
    env,
    `SELECT attempt, executor, outcome, slurm_job_name, slurm_job_id, slurm_state, manifest_path, error
     FROM converter_attempts ORDER BY id`,
  );
}

/** The cluster's jobs for one group (by the name prefix every attempt's job carries). */
export async function jobsOfGroup(cluster: SlurmCluster, groupId: string) {
  return (await cluster.jobs()).filter((j) => j.name.startsWith(`contimg_${groupId}_`));
}
