// A fixed pool of render threads, each started when a task first needs its slot (an idle daemon that has
// rendered nothing carries no thread: each costs about 12 MB of resident memory, docs/performance.md). A task whose signal aborts (job timeout, shutdown, lost lease) terminates
// its thread, because a synchronous render cannot be interrupted. A thread blocked in a system call (a hung
// mount) cannot be terminated until that call returns: its slot stays `stuck` and counts against the pool
// until the thread really exits, and only then is the slot free again (its next task starts a fresh thread). The pool never holds more
// than `size` threads, whatever the number of timeouts; when every slot is stuck, onCapacity tells the
// daemon so it stops claiming jobs that could only wait for a thread.
import { Worker } from 'node:worker_threads';
import { fitsError } from '../../lib/fits/errors.js';
import { PermanentError, RetryableError, type ContimgError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { nextWake } from './gate.js';
import type { MosaicOutput, MosaicRequest } from './mosaic-task.js';
import type {
  MetadataOutput,
  MetadataRequest,
  RenderFailure,
  RenderOutput,
  RenderRequest,
} from './render-task.js';

type SlotState = 'idle' | 'busy' | 'stuck';

interface Slot {
  /** The slot's thread; undefined until a task needs it, and again after it exited. */
  worker: Worker | undefined;
  state: SlotState;
  /** The task id holding the slot while busy (0 otherwise). */
  task: number;
}

interface Pending {
  worker: Worker;
  resolve: (out: never) => void;
  reject: (e: unknown) => void;
}

type Reply = { id: number; ok: true; out: never } | { id: number; ok: false; failure: RenderFailure };

/** How long a terminated thread may take to exit before it is logged as stuck in a system call. */
const STUCK_LOG_MS = 5000;

/**
 * The thread next to this module: render-thread.js when built; under tsx or vitest (sources) a small
 * bootstrap registers tsx's loader inside the thread first, because loader flags do not reach workers.
 */
function spawnRenderThread(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./render-thread.js', import.meta.url));
  const target = JSON.stringify(new URL('./render-thread.ts', import.meta.url).href);
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${target}); });`, {
    eval: true,
  });
}

export function failureToError(f: RenderFailure): ContimgError {
  const opts = { code: f.code, details: { fitsCode: f.code } };
  return f.retryable ? new RetryableError(f.message, opts) : new PermanentError(f.message, opts);
}

export interface PoolCapacity {
  size: number;
  idle: number;
  busy: number;
  stuck: number;
}

export interface RenderPoolOptions {
  /** Called whenever slot states change (the daemon's gauge and its `threads` pause). */
  onCapacity?: (c: PoolCapacity) => void;
  /** The thread to run (tests use a thread that blocks in open() like a hung mount). */
  spawnThread?: () => Worker;
}

export class RenderPool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Set<() => void>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly log: Logger,
    private readonly opts: RenderPoolOptions = {},
  ) {
    for (let i = 0; i < size; i++) this.slots.push({ worker: undefined, state: 'idle', task: 0 });
    this.changed();
  }

  capacity(): PoolCapacity {
    const count = (s: SlotState): number => this.slots.filter((x) => x.state === s).length;
    return { size: this.size, idle: count('idle'), busy: count('busy'), stuck: count('stuck') };
  }

  private changed(): void {
    this.opts.onCapacity?.(this.capacity());
  }

  private spawn(): Worker {
    const w = (this.opts.spawnThread ?? spawnRenderThread)();
    w.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.out);
      else p.reject(failureToError(m.failure));
    });
    w.on('error', (e) => this.log.error({ err: e }, 'render thread crashed'));
    w.on('exit', (code) => {
      for (const [id, p] of this.pending) {
        if (p.worker !== w) continue;
        this.pending.delete(id);
        p.reject(fitsError('IO_ERROR', `render thread exited with code ${code}`));
      }
      // A thread that died on its own (out of memory, a native crash) frees its slot; the slot's next task
      // starts a fresh thread.
      const slot = this.slots.find((s) => s.worker === w);
      if (slot && slot.state !== 'stuck' && !this.closed) {
        slot.worker = undefined;
        slot.state = 'idle';
        slot.task = 0;
        this.wakeOne();
        this.changed();
      }
    });
    return w;
  }

  /** Terminate the slot's thread; the slot is `stuck` until the thread has really exited. */
  private retire(slot: Slot, old: Worker): void {
    slot.state = 'stuck';
    const warn = setTimeout(
      () => this.log.warn({ threadId: old.threadId }, 'render thread does not exit: stuck in a system call'),
      STUCK_LOG_MS,
    );
    warn.unref();
    old.once('exit', () => {
      clearTimeout(warn);
      if (this.closed) return;
      slot.worker = undefined;
      slot.state = 'idle';
      slot.task = 0;
      this.log.info({ threadId: old.threadId }, 'terminated render thread exited; slot free again');
      this.wakeOne();
      this.changed();
    });
    void old.terminate();
    this.changed();
  }

  private wakeOne(): void {
    const [first] = this.waiting;
    first?.();
  }

  private async acquire(signal: AbortSignal, task: number): Promise<Slot & { worker: Worker }> {
    for (;;) {
      if (this.closed) throw new RetryableError('render pool closed', { code: 'SHUTDOWN' });
      if (signal.aborted) throw signal.reason ?? fitsError('IO_ERROR', 'render aborted');
      const free = this.slots.find((s) => s.state === 'idle');
      if (free) {
        const worker = (free.worker ??= this.spawn());
        free.state = 'busy';
        free.task = task;
        this.changed();
        return Object.assign(free, { worker });
      }
      await nextWake(this.waiting, signal);
    }
  }

  run(req: RenderRequest, signal: AbortSignal): Promise<RenderOutput> {
    return this.exec<RenderOutput>(req, signal);
  }

  /** Header metadata (and the fingerprint) of a source, read in a pool thread like a render. */
  metadata(req: MetadataRequest, signal: AbortSignal): Promise<MetadataOutput> {
    return this.exec<MetadataOutput>(req, signal);
  }

  /** Render and grade a mosaic (daemons/thumbnail-worker/mosaic-task.ts) in a pool thread. */
  mosaic(req: MosaicRequest, signal: AbortSignal): Promise<MosaicOutput> {
    return this.exec<MosaicOutput>(req, signal);
  }

  private async exec<T>(
    req: RenderRequest | MetadataRequest | MosaicRequest,
    signal: AbortSignal,
  ): Promise<T> {
    const id = this.nextId++;
    const slot = await this.acquire(signal, id);
    let aborted = false;
    try {
      return await new Promise<T>((resolve, reject) => {
        const onAbort = (): void => {
          aborted = true;
          this.pending.delete(id);
          this.retire(slot, slot.worker);
          reject(signal.reason ?? fitsError('IO_ERROR', 'render aborted'));
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        const done = (): void => signal.removeEventListener('abort', onAbort);
        this.pending.set(id, {
          worker: slot.worker,
          resolve: (o: T) => (done(), resolve(o)),
          reject: (e) => (done(), reject(e)),
        });
        slot.worker.postMessage({ id, req });
      });
    } finally {
      if (!aborted && slot.state === 'busy' && slot.task === id) {
        slot.state = 'idle';
        slot.task = 0;
        this.wakeOne();
        this.changed();
      }
    }
  }

  /** Terminate every thread; threads stuck in a system call are left to exit when it returns. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of [...this.waiting]) w();
    const exits = this.slots
      .filter((s) => s.state !== 'stuck')
      .map((s) => s.worker?.terminate().then(() => undefined));
    for (const s of this.slots.filter((x) => x.state === 'stuck')) s.worker?.unref();
    await Promise.all(exits);
  }
}
