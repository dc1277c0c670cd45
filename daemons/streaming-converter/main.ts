// contimg-streaming-converter.service: `node dist/daemons/streaming-converter/main.js --config FILE`.
// Wiring only. CONTIMG_CONVERTER_FAULT places a test fault (faults.ts; crash-recovery and chaos tests use it,
// never set in production).
import { runDaemonMain } from '../../lib/daemon/index.js';
import { faultHooks } from './faults.js';
import { makeRun } from './run.js';

await runDaemonMain({
  name: 'streaming-converter',
  run: makeRun({ baseEnv: process.env, ...faultHooks(process.env.CONTIMG_CONVERTER_FAULT) }),
});
