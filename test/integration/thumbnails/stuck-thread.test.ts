// A FIFO in `images` never reaches a render thread, and a thread stuck in a system call (a hung mount,
// played by a thread blocked in open() on a FIFO) counts against the pool: no thread leaks per timeout, no
// task is handed to it, and its slot is free again once the call returns.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { openForRead, renderThumbnail } from '../../../lib/fits/index.js';
import { silentLogger } from '../../../lib/log.js';
import { writeSimulatedImage } from '../../../lib/sim/fits-images.js';
import { RenderPool, type PoolCapacity } from '../../../daemons/thumbnail-worker/pool.js';
import type { RenderRequest } from '../../../daemons/thumbnail-worker/render-task.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { addImageRow, makeEnv, metricValue, rowFor, startInProcess, type Env } from './harness.js';

const BLOCKING = path.join(REPO_ROOT, 'test/fixtures/thumbnails/blocking-thread.mjs');

let dir: string | undefined;
let env: Env | undefined;
let daemon: RunningDaemon | undefined;
let pool: RenderPool | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  await daemon?.stop('test over');
  daemon = undefined;
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await pool?.close();
  pool = undefined;
  for (const d of [dir, env?.dir]) if (d) removeTmpDir(d);
  dir = env = undefined;
});

function mkfifo(p: string): string {
  execFileSync('mkfifo', [p]);
  return p;
}

/** A writer that opens the FIFO after ms: a reader blocked in open() would be released then. */
function writerAfter(fifo: string, ms: number): void {
  children.push(spawn('sh', ['-c', `sleep ${ms / 1000}; exec 3>"$0"`, fifo], { stdio: 'ignore' }));
}

const threadCount = (): number =>
  Number(/^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]);

const req = (fitsPath: string): RenderRequest =>
  ({
    fitsPath,
    variant: 'q512',
    expectFingerprint: '',
    outputDir: '',
    options: {},
  }) as unknown as RenderRequest;

describe('non-regular files and stuck render threads', () => {
  it('refuses a FIFO at once, before open() could block on it', () => {
    dir = makeTmpDir('fifo-');
    const fifo = mkfifo(path.join(dir, 'x-image.fits'));
    // Were the reader to block in open(), this writer would release it after 3 s (and the codes would differ).
    writerAfter(fifo, 3000);
    const t0 = Date.now();
    expect(() => openForRead(fifo)).toThrow(
      expect.objectContaining({ code: 'NOT_REGULAR_FILE', retryable: false }),
    );
    expect(() => renderThumbnail(fifo)).toThrow(expect.objectContaining({ code: 'NOT_REGULAR_FILE' }));
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('keeps a stuck thread in its slot: no new thread per timeout, and the slot is free again when open() returns', async () => {
    dir = makeTmpDir('stuck-');
    const fifo = mkfifo(path.join(dir, 'hung.fifo'));
    const seen: PoolCapacity[] = [];
    pool = new RenderPool(1, silentLogger(), {
      spawnThread: () => new Worker(BLOCKING),
      onCapacity: (c) => seen.push(c),
    });
    expect((await pool.run(req('warm-up'), new AbortController().signal)).pngPath).toBe('warm-up');
    const before = threadCount();
    // Five "renders" that each time out: the first thread is stuck in open(); the others find no free slot.
    for (let i = 0; i < 5; i++) {
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(new Error(`timeout ${i}`)), 150);
      await expect(pool.run(req(fifo), ac.signal)).rejects.toThrow(`timeout ${i}`);
      clearTimeout(t);
    }
    expect(pool.capacity()).toEqual({ size: 1, idle: 0, busy: 0, stuck: 1 });
    expect(seen.at(-1)).toMatchObject({ stuck: 1 });
    expect(threadCount()).toBeLessThanOrEqual(before);
    // The hung call returns (a writer opens the FIFO): the thread exits, a fresh one takes the slot.
    writerAfter(fifo, 0);
    await waitFor(() => pool!.capacity().idle === 1, { what: 'slot free again' });
    expect((await pool.run(req('after'), new AbortController().signal)).pngPath).toBe('after');
  });

  it('the daemon fails a FIFO in images with NOT_REGULAR_FILE and keeps rendering', async () => {
    env = await makeEnv();
    const fifo = mkfifo(path.join(env.imagesDir, 'pipe-image.fits'));
    addImageRow(env, fifo);
    daemon = await startInProcess(env);
    const row = await waitFor(() => rowFor(env!, fifo)?.status === 'failed' && rowFor(env!, fifo), {
      what: 'FIFO row failed',
    });
    expect(row.error_code).toBe('NOT_REGULAR_FILE');
    const good = writeSimulatedImage({
      dir: env.imagesDir,
      name: 'after-image.fits',
      nx: 64,
      ny: 64,
      seed: 2,
    });
    addImageRow(env, good);
    await waitFor(() => rowFor(env!, good)?.status === 'done', { what: 'next image rendered' });
    expect(await metricValue(daemon, 'contimg_thumbnails_render_threads', { state: 'stuck' })).toBe(0);
  });
});
