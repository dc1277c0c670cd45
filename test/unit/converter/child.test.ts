// runChild: the converter's process group never outlives the attempt, even when the leader exits first.
import { describe, expect, it } from 'vitest';
import { runChild } from '../../../lib/exec/child.js';
import { isAlive } from '../../../lib/exec/procs.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

describe('runChild', () => {
  it('a leader that exits leaving a background child holding stdout: resolves and the child is killed', async () => {
    const dir = makeTmpDir('contimg-child-');
    try {
      let leader = 0;
      const res = await runChild({
        argv: ['/bin/sh', '-c', 'sleep 60 & echo $!; exit 0'],
        cwd: dir,
        env: process.env,
        timeoutMs: 120_000,
        killGraceMs: 500,
        signal: new AbortController().signal,
        onSpawn: (pid) => (leader = pid),
        now: () => Date.now(),
      });
      expect(leader).toBeGreaterThan(0);
      expect(res.exitCode).toBe(0);
      const bg = Number(res.stdoutTail.trim());
      expect(bg).toBeGreaterThan(0);
      // SIGKILL was sent when the leader exited; its delivery takes a moment on a loaded machine.
      await waitFor(() => !isAlive(bg), { what: 'background child killed', timeoutMs: 5000 });
    } finally {
      removeTmpDir(dir);
    }
  }, 15_000);
});
