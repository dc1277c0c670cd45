// contimg-streaming-converter.service: `node dist/daemons/streaming-converter/main.js --config FILE`.
// Wiring only. CONTIMG_CONVERTER_FAULT=after-dispatch-commit makes the process die between the dispatch
// commit and spawn, =after-archive-rename between an archive rename and its row update (the crash-recovery
// tests use them; never set in production).
import { runDaemonMain } from '../../lib/daemon/index.js';
import { makeRun } from './run.js';

const fault = process.env.CONTIMG_CONVERTER_FAULT;

await runDaemonMain({
  name: 'streaming-converter',
  run: makeRun({
    baseEnv: process.env,
    afterDispatchCommit:
      fault === 'after-dispatch-commit' ? () => process.kill(process.pid, 'SIGKILL') : undefined,
    afterArchiveRename:
      fault === 'after-archive-rename' ? () => process.kill(process.pid, 'SIGKILL') : undefined,
  }),
});
