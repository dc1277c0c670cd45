// Active-window symmetry (regression for the original's −300/+64 s window) and window edges
// from the wall-clock timer, driven with fake timers.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BUILTIN_CALIBRATORS, nextTransit, parseUtc } from '../../../lib/astro/index.js';
import { systemClock } from '../../../lib/clock.js';
import { DbBusyError } from '../../../lib/errors.js';
import {
  computeSchedule,
  isActive,
  type ScheduleConfig,
} from '../../../daemons/pointing-monitor/schedule.js';
import { WindowTimer, type WindowEdge } from '../../../daemons/pointing-monitor/windows.js';

const CFG: ScheduleConfig = {
  model: 'apparent',
  decToleranceDeg: 1.5,
  minFluxJy: 1,
  minPbResponse: 0.3,
  activeWindow: 'fixed',
  activeHalfWindowS: 300,
  watch: ['3C286'],
  beam: { dishDiameterM: 4.65, freqHz: 1.405e9 },
};
const C3C286 = BUILTIN_CALIBRATORS.find((c) => c.name === '3C286')!;
const FROM = parseUtc('2025-01-01T00:00:00Z');
const T = nextTransit(C3C286, FROM).utcMs;
const scheduleAt = (dec: number, cfg = CFG) =>
  computeSchedule([C3C286], dec, T - 3_600_000, T + 3_600_000, cfg, {}).filter((t) => t.name === '3C286');

afterEach(() => {
  vi.useRealTimers();
});

describe('active window', () => {
  it('is symmetric: active at T ± 299.9 s, inactive at T ± 300.1 s (dec separation 0)', () => {
    const [t] = scheduleAt(C3C286.decDeg);
    expect(t.transitMs).toBe(T);
    expect(t.eligible).toBe(true);
    expect(isActive(t, T - 299_900)).toBe(true);
    expect(isActive(t, T + 299_900)).toBe(true);
    expect(isActive(t, T - 300_100)).toBe(false);
    expect(isActive(t, T + 300_100)).toBe(false);
  });

  it('is never active when the pointing is 24° away (dec 54.5734)', () => {
    const [t] = scheduleAt(54.5734);
    expect(t.eligible).toBe(false);
    for (let dt = -400_000; dt <= 400_000; dt += 1_000) expect(isActive(t, T + dt)).toBe(false);
  });

  it('beam mode: the half-power crossing time, still symmetric', () => {
    const [t] = scheduleAt(C3C286.decDeg, { ...CFG, activeWindow: 'beam' });
    const hw = (T - t.windowStartMs) / 1000;
    expect(hw).toBeGreaterThan(370);
    expect(hw).toBeLessThan(382);
    expect(t.windowEndMs - T).toBeCloseTo(T - t.windowStartMs, 6);
  });
});

describe('window timer with fake timers', () => {
  function drive(dec: number): { edge: WindowEdge; at: number }[] {
    vi.useFakeTimers({ now: T - 400_000 });
    const seen: { edge: WindowEdge; at: number }[] = [];
    const timer = new WindowTimer({ clock: systemClock, onEdge: (edge, at) => seen.push({ edge, at }) });
    timer.setTransits(scheduleAt(dec));
    for (let i = 0; i < 800; i++) vi.advanceTimersByTime(1_000);
    timer.stop();
    return seen;
  }

  it('emits exactly one open at T−300 s, peak at T, close at T+300 s (±1 s)', () => {
    const seen = drive(C3C286.decDeg);
    expect(seen.map((s) => s.edge.kind)).toEqual(['window_open', 'peak', 'window_close']);
    const expected = [T - 300_000, T, T + 300_000];
    seen.forEach((s, i) => expect(Math.abs(s.at - expected[i])).toBeLessThanOrEqual(1_000));
  });

  it('emits nothing for a calibrator outside tolerance', () => {
    expect(drive(54.5734)).toEqual([]);
  });

  it('does not repeat edges when the schedule is recomputed, and skips persisted ones', () => {
    vi.useFakeTimers({ now: T - 400_000 });
    const kinds: string[] = [];
    const timer = new WindowTimer({
      clock: systemClock,
      onEdge: (e) => kinds.push(e.kind),
      isEmitted: (e) => e.kind === 'peak',
    });
    timer.setTransits(scheduleAt(C3C286.decDeg));
    vi.advanceTimersByTime(200_000);
    timer.setTransits(scheduleAt(C3C286.decDeg));
    vi.advanceTimersByTime(600_000);
    timer.stop();
    expect(kinds).toEqual(['window_open', 'window_close']);
  });

  it('a window found already open is opened late, once', () => {
    vi.useFakeTimers({ now: T - 100_000 });
    const seen: WindowEdge[] = [];
    const timer = new WindowTimer({ clock: systemClock, onEdge: (e) => seen.push(e) });
    timer.setTransits(scheduleAt(C3C286.decDeg));
    vi.advanceTimersByTime(500_000);
    timer.stop();
    expect(seen.map((e) => [e.kind, e.late])).toEqual([
      ['window_open', true],
      ['peak', false],
      ['window_close', false],
    ]);
  });
  it('an edge whose write failed is retried a second later, not lost', () => {
    vi.useFakeTimers({ now: T - 400_000 });
    const seen: { kind: string; at: number }[] = [];
    let failures = 2;
    const timer = new WindowTimer({
      clock: systemClock,
      onEdge: (e, at) => {
        if (e.kind === 'peak' && failures-- > 0) throw new Error('test: database busy');
        seen.push({ kind: e.kind, at });
      },
      onError: () => undefined,
    });
    timer.setTransits(scheduleAt(C3C286.decDeg));
    vi.advanceTimersByTime(800_000);
    timer.stop();
    expect(seen.map((s) => s.kind)).toEqual(['window_open', 'peak', 'window_close']);
    expect(Math.abs(seen[1].at - (T + 2_000))).toBeLessThanOrEqual(1_000);
  });
  it('an edge whose write keeps failing with a retryable error (a long lock) lands late, not lost', () => {
    vi.useFakeTimers({ now: T - 400_000 });
    const seen: { kind: string; at: number }[] = [];
    const failures: number[] = [];
    let busyUntil = T + 150_000;
    const timer = new WindowTimer({
      clock: systemClock,
      onEdge: (e, at) => {
        if (e.kind === 'peak' && Date.now() < busyUntil) throw new DbBusyError('test: locked elsewhere');
        seen.push({ kind: e.kind, at });
      },
      onError: (_e, edge) => failures.push(edge.failures ?? 0),
    });
    timer.setTransits(scheduleAt(C3C286.decDeg));
    vi.advanceTimersByTime(800_000);
    timer.stop();
    busyUntil = 0;
    // Locked for 150 s from the peak: more than the minute a permanent error is retried for.
    expect(seen.map((s) => s.kind)).toEqual(['window_open', 'peak', 'window_close']);
    expect(Math.abs(seen[1].at - (T + 150_000))).toBeLessThanOrEqual(1_000);
    expect(failures[0]).toBe(1);
    expect(failures.at(-1)).toBeGreaterThan(100);
  });
  it('a recompute while an armed edge is overdue (busy event loop) still fires it', () => {
    vi.useFakeTimers({ now: T - 400_000 });
    const kinds: string[] = [];
    const timer = new WindowTimer({ clock: systemClock, onEdge: (e) => kinds.push(e.kind) });
    timer.setTransits(scheduleAt(C3C286.decDeg));
    vi.advanceTimersByTime(399_000);
    // The loop was blocked across the peak: the wall clock moved on, the timer has not run yet.
    vi.setSystemTime(T + 5_000);
    timer.setTransits(scheduleAt(C3C286.decDeg));
    vi.advanceTimersByTime(400_000);
    timer.stop();
    expect(kinds).toEqual(['window_open', 'peak', 'window_close']);
  });
});
