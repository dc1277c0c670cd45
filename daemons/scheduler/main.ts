// Composition root of the scheduler: nothing but wiring (lib/daemon does config, logging, DBs, HTTP,
// WebSocket, systemd and signals).
import { runDaemonMain } from '../../lib/daemon/index.js';
import { run } from './run.js';

await runDaemonMain({ name: 'scheduler', run });
