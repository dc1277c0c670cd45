// The planner: candidates in, units out, no I/O and no clock of its own (docs/mosaicking.md "Planning").
// 1. judge every candidate (eligibility.ts); two images of one measurement set keep the newest registration;
// 2. cut the observation sequence into runs at gaps and strip changes (sequence.ts); within a strip the
//    majority frame wins and the other images are rejected `frame`;
// 3. lay the tier's windows over each strip: quicklook tiles of (newImages + overlapImages) cadences that
//    advance by newImages cadences, science segments of segmentMinutes (both on a fixed UTC grid, so a
//    window's name does not depend on when it was planned), deep one request box;
// 4. inside a window take the contiguous part(s) with at least minImages eligible images; eligible images
//    cut off by a gap are rejected `gap`; a due window where images existed but none was eligible is an
//    `empty` unit;
// 5. describe each unit (describe.ts): name, inputs hash, grid, memory, split in RA when too large.
import type { MosaicTier } from '../manifest.js';
import { deepName, inputsHash, splitToFit, unitName, unwrapRa } from './describe.js';
import { globToRegExp, judge } from './eligibility.js';
import { cutRuns, type Observed, type Run } from './sequence.js';
import type {
  Candidate,
  PlannedUnit,
  PlannerSettings,
  PlanResult,
  RejectReason,
  Rejections,
  UnitInput,
} from './types.js';

type Status = { kind: 'eligible' } | { kind: 'rejected'; reason: RejectReason } | { kind: 'waiting' };

interface Judged {
  c: Candidate;
  status: Status;
}

function inWindow(c: Candidate, s: PlannerSettings): boolean {
  if (c.obsMidMs !== null && (c.obsMidMs < s.window.fromMs || c.obsMidMs >= s.window.toMs)) return false;
  if (s.deep && c.raDeg !== null) {
    const { raMinDeg: lo, raMaxDeg: hi } = s.deep;
    const ra = ((c.raDeg % 360) + 360) % 360;
    if (lo <= hi ? ra < lo || ra > hi : ra < lo && ra > hi) return false;
  }
  return true;
}

/** Two eligible images of one measurement set (or one file registered twice): the newest registration wins. */
function rejectDuplicates(judged: Judged[]): void {
  const keep = new Map<string, Judged>();
  const byNewest = judged
    .filter((j) => j.status.kind === 'eligible')
    .sort((a, b) => (b.c.imageId ?? 0) - (a.c.imageId ?? 0) || b.c.registeredAtMs - a.c.registeredAtMs);
  for (const j of byNewest) {
    const keys = [`p:${j.c.path}`, ...(j.c.msPath ? [`m:${j.c.msPath}`] : [])];
    if (keys.some((k) => keep.has(k))) j.status = { kind: 'rejected', reason: 'duplicate_ms' };
    else for (const k of keys) keep.set(k, j);
  }
}

/** The frame most eligible images of a strip share (ties: the alphabetically first); the rest `frame`. */
function rejectMinorityFrames(members: readonly Judged[]): string | null {
  const counts = new Map<string, number>();
  for (const j of members)
    if (j.status.kind === 'eligible' && j.c.frame !== null)
      counts.set(j.c.frame, (counts.get(j.c.frame) ?? 0) + 1);
  const frame = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? null;
  for (const j of members)
    if (j.status.kind === 'eligible' && j.c.frame !== frame) j.status = { kind: 'rejected', reason: 'frame' };
  return frame;
}

function toInput(c: Candidate, kind: 'image' | 'pbcor'): UnitInput {
  return {
    imageId: c.imageId,
    path: c.path,
    size: c.file!.size,
    mtimeNs: c.file!.mtimeNs,
    ino: c.file!.ino,
    obsMidMs: c.obsMidMs!,
    raDeg: c.raDeg!,
    decDeg: c.decDeg!,
    noiseJy: c.noiseJy!,
    kind,
    pixelArcsec: c.pixelArcsec!,
    nx: c.naxis![0]!,
    ny: c.naxis![1]!,
    freqHz: c.freqHz,
  };
}

const add = (r: Rejections, reason: RejectReason, n = 1) => (r[reason] = (r[reason] ?? 0) + n);

interface Window {
  startMs: number;
  endMs: number;
}

/** The fixed UTC grid of windows of a tier that lie wholly inside the planning window. */
function windowsOf(s: PlannerSettings): { windows: Window[]; prepend: number } {
  const { fromMs, toMs } = s.window;
  let len: number;
  let step: number;
  let prepend = 0;
  if (s.tier === 'quicklook') {
    const n = s.rules.newImages ?? 8;
    const overlap = s.rules.overlapImages ?? 2;
    step = n * s.cadenceS * 1000;
    len = Math.min((n + overlap) * s.cadenceS, s.rules.maxSpanS ?? Infinity) * 1000;
  } else {
    step = len = (s.rules.segmentMinutes ?? 60) * 60_000;
    prepend = s.rules.overlapImages ?? 0;
  }
  const windows: Window[] = [];
  for (let k = Math.ceil(fromMs / step); k * step + len <= toMs; k++)
    windows.push({ startMs: k * step, endMs: k * step + len });
  return { windows, prepend };
}

interface Strip {
  stripDeg: number;
  frame: string | null;
  runs: Run<Judged>[];
  /** Every observed member, time order. */
  members: Observed<Judged>[];
}

export function planMosaics(candidates: readonly Candidate[], s: PlannerSettings, nowMs: number): PlanResult {
  const globs = s.inputGlobs.map(globToRegExp);
  const judged: Judged[] = candidates
    .filter((c) => inWindow(c, s))
    .map((c) => ({ c, status: judge(c, s, globs, nowMs) }));
  rejectDuplicates(judged);

  const observed: Observed<Judged>[] = [];
  const offStrip: Observed<Judged>[] = [];
  for (const j of judged) {
    const { obsMidMs, decDeg } = j.c;
    if (obsMidMs === null || decDeg === null) continue;
    // Off the requested strip: rejected `dec` by judge(), counted in the window, no part of its sequence.
    if (s.stripDeg !== undefined && Math.abs(decDeg - s.stripDeg) > s.stripTolDeg)
      offStrip.push({ item: j, obsMidMs, decDeg });
    else observed.push({ item: j, obsMidMs, decDeg });
  }
  const strips = new Map<number, Strip>();
  for (const run of cutRuns(observed, s)) {
    let st = strips.get(run.stripDeg);
    if (!st) strips.set(run.stripDeg, (st = { stripDeg: run.stripDeg, frame: null, runs: [], members: [] }));
    st.runs.push(run);
    st.members.push(...run.members);
  }
  for (const st of strips.values()) st.frame = rejectMinorityFrames(st.members.map((m) => m.item));

  const gapRejected = new Set<Judged>();
  const units: PlannedUnit[] = [];
  for (const st of strips.values()) {
    if (s.tier === 'deep') units.push(...deepUnits(st, s));
    else units.push(...windowUnits(st, s, nowMs, gapRejected, offStrip));
  }

  const rejected: Rejections = {};
  let waiting = 0;
  for (const j of judged) {
    if (j.status.kind === 'rejected') add(rejected, j.status.reason);
    else if (j.status.kind === 'waiting') waiting++;
    else if (gapRejected.has(j)) add(rejected, 'gap');
  }
  return { units, rejected, nCandidates: judged.length, waiting };
}

const eligible = (ms: readonly Observed<Judged>[]) => ms.filter((m) => m.item.status.kind === 'eligible');

/** Rejections among a window's members (the gap ones included). */
function countRejected(members: readonly Observed<Judged>[], gap: ReadonlySet<Judged>): Rejections {
  const r: Rejections = {};
  for (const m of members) {
    const st = m.item.status;
    if (st.kind === 'rejected') add(r, st.reason);
    else if (st.kind === 'eligible' && gap.has(m.item)) add(r, 'gap');
  }
  return r;
}

function windowUnits(
  st: Strip,
  s: PlannerSettings,
  nowMs: number,
  gapRejected: Set<Judged>,
  offStrip: readonly Observed<Judged>[],
): PlannedUnit[] {
  const tier = s.tier as Exclude<MosaicTier, 'deep'>;
  const { windows, prepend } = windowsOf(s);
  const last = st.members[st.members.length - 1]?.obsMidMs ?? -Infinity;
  const out: PlannedUnit[] = [];
  for (const w of windows) {
    const members = st.members.filter((m) => m.obsMidMs >= w.startMs && m.obsMidMs < w.endMs);
    if (!members.length) continue;
    // Due: the strip was observed past the window's end, or the images have had their metadata wait.
    const due = last >= w.endMs || nowMs >= w.endMs + s.metadataWaitS * 1000;
    if (!due || members.some((m) => m.item.status.kind === 'waiting')) continue;
    const parts = st.runs
      .map((run) => ({ run, members: members.filter((m) => run.members.includes(m)) }))
      .filter((p) => p.members.length > 0);
    // Each part's images: its eligible ones, after (science) the last `overlapImages` eligible images of
    // the same run before the window, which count towards minImages (a run's short tail still makes a unit).
    const selection = (p: (typeof parts)[number]) => {
      let picked = eligible(p.members);
      if (tier === 'quicklook') picked = picked.slice(-s.rules.maxImages);
      if (prepend > 0 && picked.length > 0) {
        const before = eligible(p.run.members.filter((m) => m.obsMidMs < w.startMs));
        picked = [...before.slice(-prepend), ...picked];
      }
      return picked;
    };
    let chosen = parts.filter((p) => selection(p).length >= s.rules.minImages);
    if (tier === 'quicklook' && chosen.length > 1)
      chosen = [chosen.reduce((a, b) => (eligible(b.members).length >= eligible(a.members).length ? b : a))];
    for (const p of parts)
      if (!chosen.includes(p)) for (const m of eligible(p.members)) gapRejected.add(m.item);
    const inW = (m: Observed<Judged>) => m.obsMidMs >= w.startMs && m.obsMidMs < w.endMs;
    const windowRejected = () => countRejected([...members, ...offStrip.filter(inW)], gapRejected);
    if (!chosen.length) {
      // Nothing to build. An empty plan (and MosaicNoInputs) when images were turned away for what they are;
      // a window that is merely short of images (a strip's edge, an observing gap) is not an alarm.
      const rejected = windowRejected();
      if (Object.keys(rejected).some((r) => r !== 'gap'))
        out.push(emptyUnit(tier, st, w, members.length, rejected));
      continue;
    }
    const selections = chosen.flatMap((p) => {
      const picked = selection(p);
      const chunks: Observed<Judged>[][] = [];
      for (let i = 0; i < picked.length; i += s.rules.maxImages)
        chunks.push(picked.slice(i, i + s.rules.maxImages));
      return chunks;
    });
    const rejected = windowRejected();
    for (const sel of selections) {
      const bounds =
        selections.length === 1
          ? w
          : {
              startMs: floorMinute(sel[0]!.obsMidMs - (s.cadenceS * 1000) / 2),
              endMs: ceilMinute(sel[sel.length - 1]!.obsMidMs + (s.cadenceS * 1000) / 2),
            };
      out.push(
        ...describeUnit(s, {
          tier,
          baseName: unitName(tier, st.stripDeg, bounds.startMs, bounds.endMs),
          stripDeg: st.stripDeg,
          frame: st.frame,
          window: bounds,
          nCandidates: members.length,
          rejected,
          inputs: sel.map((m) => toInput(m.item.c, s.inputKind)),
        }),
      );
    }
  }
  return out;
}

const floorMinute = (ms: number) => Math.floor(ms / 60_000) * 60_000;
const ceilMinute = (ms: number) => Math.ceil(ms / 60_000) * 60_000;

function emptyUnit(
  tier: MosaicTier,
  st: Strip,
  w: Window,
  nCandidates: number,
  rejected: Rejections,
  baseName = unitName(tier as Exclude<MosaicTier, 'deep'>, st.stripDeg, w.startMs, w.endMs),
): PlannedUnit {
  return {
    tier,
    baseName,
    stripDeg: st.stripDeg,
    frame: null,
    windowStartMs: w.startMs,
    windowEndMs: w.endMs,
    raMinDeg: null,
    raMaxDeg: null,
    nCandidates,
    rejected,
    inputs: [],
    inputsHash: inputsHash([]),
    grid: null,
    estMemoryBytes: null,
    status: 'empty',
  };
}

function deepUnits(st: Strip, s: PlannerSettings): PlannedUnit[] {
  const d = s.deep!;
  const w = { startMs: s.window.fromMs, endMs: s.window.toMs };
  const baseName = deepName(d.label, d.raMinDeg, d.raMaxDeg, w.startMs, w.endMs);
  const members = st.members;
  let picked = eligible(members);
  if (picked.length > s.rules.maxImages) {
    // Nights stack: the quietest maxImages images, the others turned away as `noise`.
    const quiet = new Set(
      [...picked].sort((a, b) => a.item.c.noiseJy! - b.item.c.noiseJy!).slice(0, s.rules.maxImages),
    );
    for (const m of picked) if (!quiet.has(m)) m.item.status = { kind: 'rejected', reason: 'noise' };
    picked = picked.filter((m) => quiet.has(m));
  }
  const rejected = countRejected(members, new Set());
  if (!picked.length) return [emptyUnit('deep', st, w, members.length, rejected, baseName)];
  if (picked.length < s.rules.minImages) return [];
  return describeUnit(s, {
    tier: 'deep',
    baseName,
    stripDeg: st.stripDeg,
    frame: st.frame,
    window: w,
    nCandidates: members.length,
    rejected,
    inputs: picked.map((m) => toInput(m.item.c, s.inputKind)),
  });
}

/** Grid, memory and hash of a unit; split in RA (`<name>_p<i>`) when one canvas would not fit. */
function describeUnit(
  s: PlannerSettings,
  u: {
    tier: MosaicTier;
    baseName: string;
    stripDeg: number;
    frame: string | null;
    window: Window;
    nCandidates: number;
    rejected: Rejections;
    inputs: UnitInput[];
  },
): PlannedUnit[] {
  const common = {
    tier: u.tier,
    stripDeg: u.stripDeg,
    frame: u.frame,
    windowStartMs: u.window.startMs,
    windowEndMs: u.window.endMs,
    nCandidates: u.nCandidates,
    rejected: u.rejected,
  };
  const parts = splitToFit(u.inputs, {
    frame: u.frame ?? 'ICRS',
    projection: s.projection,
    pixelArcsec: s.pixelArcsec,
    memoryMaxBytes: s.memoryMaxBytes,
    maxCanvasPixels: s.maxCanvasPixels,
  });
  if (parts === null) {
    const ras = unwrapRa(u.inputs.map((i) => i.raDeg));
    return [
      {
        ...common,
        baseName: u.baseName,
        raMinDeg: (Math.min(...ras) + 360) % 360,
        raMaxDeg: (Math.max(...ras) + 360) % 360,
        inputs: u.inputs,
        inputsHash: inputsHash(u.inputs),
        grid: null,
        estMemoryBytes: null,
        status: 'grid_too_large',
      },
    ];
  }
  return parts.map((p, i) => {
    const { raMin, raMax, ...grid } = p.grid;
    return {
      ...common,
      baseName: parts.length === 1 ? u.baseName : `${u.baseName}_p${i + 1}`,
      raMinDeg: raMin,
      raMaxDeg: raMax,
      inputs: p.inputs,
      inputsHash: inputsHash(p.inputs),
      grid,
      estMemoryBytes: p.estMemoryBytes,
      status: 'ok' as const,
    };
  });
}
