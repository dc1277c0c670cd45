// Test faults for the built daemon, chosen by CONTIMG_CONVERTER_FAULT (read by main.ts only; never set in
// production). They place a crash or a pause at a moment a test cannot hit from outside:
//   after-dispatch-commit          SIGKILL itself between the dispatch commit and starting the converter
//   pause-after-dispatch-commit:F  after each dispatch commit, write the group id to file F and wait (without
//                                  blocking the event loop) until F is removed, then start the converter
//   after-archive-rename           SIGKILL itself between an archive rename and its row update
import fs from 'node:fs';
import { kill, pid } from 'node:process';
import { pause } from '../../lib/clock.js';
import type { RunOptions } from './run.js';

export function faultHooks(spec: string | undefined): RunOptions {
  if (spec === 'after-dispatch-commit') return { afterDispatchCommit: () => void kill(pid, 'SIGKILL') };
  if (spec === 'after-archive-rename') return { afterArchiveRename: () => void kill(pid, 'SIGKILL') };
  const gate = spec?.startsWith('pause-after-dispatch-commit:')
    ? spec.slice('pause-after-dispatch-commit:'.length)
    : '';
  if (!gate) return {};
  return {
    afterDispatchCommit: async (groupId) => {
      fs.writeFileSync(gate, groupId);
      while (fs.existsSync(gate)) await pause(20);
    },
  };
}
