// The converter's disk gate: dispatch pauses while output or scratch has less than minFreeGb free (the input
// folder's free space is only reported), with its metric, alert and event when it closes or opens again.
import { statfsFree } from '../../lib/disk.js';
import { alert, emit, resolve, type Ctx } from './context.js';

export { statfsFree };

export class DiskGate {
  private paused = false;

  constructor(
    private readonly ctx: Ctx,
    /** Free bytes of a path (fs.statfs; tests pass a fake). */
    private readonly freeBytes: (p: string) => number,
  ) {}

  /** Whether dispatch may claim now. */
  ok(): boolean {
    const { cfg, m } = this.ctx;
    const free = this.freeBytes;
    const min = cfg.minFreeGb * 1e9;
    let ok = true;
    for (const [label, p] of [
      ['output', cfg.outputDir],
      ['scratch', cfg.scratchDir],
      ['input', cfg.incomingDir],
    ] as const) {
      let bytes: number;
      try {
        bytes = free(p);
      } catch {
        continue;
      }
      m.diskFree.set({ path: label }, bytes);
      if (label !== 'input' && bytes < min) ok = false;
    }
    if (ok !== !this.paused) this.moved(ok);
    return ok;
  }

  private moved(ok: boolean): void {
    const { cfg, m } = this.ctx;
    this.paused = !ok;
    m.paused.set({ reason: 'disk' }, ok ? 0 : 1);
    const now = this.ctx.clock.now();
    this.ctx.db.write((conn) => {
      if (ok) resolve(conn, 'ConverterDiskLow', {}, now);
      else
        alert(
          conn,
          'ConverterDiskLow',
          'critical',
          {},
          `less than ${cfg.minFreeGb} GB free on output or scratch; dispatch paused`,
          now,
        );
      emit(conn, ok ? 'dispatch_resumed' : 'dispatch_paused', { reason: 'disk' }, now);
    });
    this.ctx.log.warn(
      { paused: !ok },
      ok ? 'disk gate open: dispatch resumed' : 'disk gate closed: dispatch paused',
    );
  }
}
