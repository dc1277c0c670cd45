// A fixed pool of render threads. A task whose signal aborts (job timeout, shutdown, lost lease) terminates
// its thread, because a synchronous render cannot be interrupted, and a fresh thread takes its place.
import { Worker } from 'node:worker_threads';
import { fitsError } from '../../lib/fits/errors.js';
import { PermanentError, RetryableError, type ContimgError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import type { RenderFailure, RenderOutput, RenderRequest } from './render-task.js';

interface Slot {
  worker: Worker;
  busy: boolean;
}

interface Pending {
  worker: Worker;
  resolve: (out: RenderOutput) => void;
  reject: (e: unknown) => void;
}

type Reply = { id: number; ok: true; out: RenderOutput } | { id: number; ok: false; failure: RenderFailure };

/**
 * The thread next to this module: render-thread.js when built; under tsx or vitest (sources) a small
 * bootstrap registers tsx's loader inside the thread first, because loader flags do not reach workers.
 */
function spawnThread(): Worker {
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

export class RenderPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(
    readonly size: number,
    private readonly log: Logger,
  ) {
    for (let i = 0; i < size; i++) this.slots.push({ worker: this.spawn(), busy: false });
  }

  private spawn(): Worker {
    const w = spawnThread();
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
    });
    return w;
  }

  private async acquire(): Promise<Slot> {
    for (;;) {
      if (this.closed) throw new RetryableError('render pool closed', { code: 'SHUTDOWN' });
      const free = this.slots.find((s) => !s.busy);
      if (free) {
        free.busy = true;
        return free;
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  private releaseSlot(slot: Slot): void {
    slot.busy = false;
    this.waiting.shift()?.();
  }

  async run(req: RenderRequest, signal: AbortSignal): Promise<RenderOutput> {
    const slot = await this.acquire();
    const id = this.nextId++;
    try {
      return await new Promise<RenderOutput>((resolve, reject) => {
        const onAbort = (): void => {
          this.pending.delete(id);
          const old = slot.worker;
          slot.worker = this.spawn();
          void old.terminate();
          reject(signal.reason ?? fitsError('IO_ERROR', 'render aborted'));
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        const done = (): void => signal.removeEventListener('abort', onAbort);
        this.pending.set(id, {
          worker: slot.worker,
          resolve: (o) => (done(), resolve(o)),
          reject: (e) => (done(), reject(e)),
        });
        slot.worker.postMessage({ id, req });
      });
    } finally {
      this.releaseSlot(slot);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
