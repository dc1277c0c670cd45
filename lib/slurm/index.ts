// Slurm through its commands (sbatch, squeue, sacct, scancel): a generated batch script that execs an argv,
// the sbatch command line, the job states as decisions, and a client whose failures carry a retry decision.
export * from './args.js';
export * from './client.js';
export * from './script.js';
export * from './states.js';
export * from './track.js';
