// Every converter run of a chaos test, from the fake converter's append-only log (start, end, overlap lines
// with group, pid, start ticks and time), plus, for a run that ends without an end line (killed), the last
// time it was seen alive (polled; a zombie is dead). Two runs of one group overlap when one started before
// the other ended (or was last seen alive), or when a run reported, at its own start, an earlier run of its
// group still alive: that check is exact, the polled one only ever errs towards missing an overlap.
import fs from 'node:fs';
import type { FakeLine } from '../integration/converter/harness.js';
import { procStat } from '../integration/converter/proc.js';

export interface Run {
  pid: number;
  group: string;
  ticks: number | undefined;
  start: number;
  /** The end line's time, or the last time a killed run was seen alive (undefined while it runs). */
  end?: number;
  how?: 'end' | 'died';
  seenAlive: number;
}

export class RunLog {
  readonly runs = new Map<number, Run>();
  /** Overlaps reported by the runs themselves (`overlap` lines). */
  reported = 0;
  private offset = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly file: string) {}

  /** Poll the log and the liveness of unfinished runs every `everyMs` until stop(). */
  start(everyMs = 20): void {
    this.timer = setInterval(() => this.poll(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll();
  }

  poll(): void {
    if (fs.existsSync(this.file)) {
      const text = fs.readFileSync(this.file, 'utf8');
      const complete = text.lastIndexOf('\n') + 1;
      for (const line of text.slice(this.offset, complete).split('\n').filter(Boolean)) {
        const l = JSON.parse(line) as FakeLine;
        if (l.event === 'start')
          this.runs.set(l.pid, { pid: l.pid, group: l.group, ticks: l.ticks, start: l.t, seenAlive: l.t });
        else if (l.event === 'end' && this.runs.has(l.pid))
          Object.assign(this.runs.get(l.pid)!, { end: l.t, how: 'end' });
        else if (l.event === 'overlap') this.reported++;
      }
      this.offset = complete;
    }
    const now = Date.now();
    for (const r of this.runs.values()) {
      if (r.end !== undefined) continue;
      const p = procStat(r.pid);
      if (!p || p.state === 'Z' || p.ticks !== r.ticks) Object.assign(r, { end: r.seenAlive, how: 'died' });
      else r.seenAlive = now;
    }
  }

  list(): Run[] {
    return [...this.runs.values()].sort((a, b) => a.start - b.start);
  }

  /** Runs still alive. */
  live(): Run[] {
    return this.list().filter((r) => r.end === undefined);
  }

  /** Pairs of runs of one group whose [start, end] intervals intersect. */
  intervalOverlaps(): [Run, Run][] {
    const found: [Run, Run][] = [];
    const byGroup = new Map<string, Run[]>();
    for (const r of this.list()) byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), r]);
    for (const runs of byGroup.values())
      for (let i = 1; i < runs.length; i++)
        for (let j = 0; j < i; j++)
          if (runs[i].start < (runs[j].end ?? Infinity)) found.push([runs[j], runs[i]]);
    return found;
  }
}
