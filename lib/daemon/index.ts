// The daemon lifecycle: runDaemonMain for daemons/<name>/main.ts and `contimg run`; startDaemon for tests
// that run a whole daemon in-process (deps, the bound port, stop()).
export { runDaemonMain, type MainOptions } from './main.js';
export { startDaemon, type StartOptions, type RunningDaemon, type StopOutcome } from './start.js';
export * from './types.js';
