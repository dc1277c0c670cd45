// Declination-change detection, pure. A new value is a candidate when it differs from the current *stable*
// segment by at least the threshold; it is confirmed after `confirmGroups` consecutive groups at the
// candidate value (within the jitter tolerance). A group back at the stable value drops the candidate (a
// one-group glitch). The comparison is always against the stable segment, never against the row just
// written (the original compared a file with itself and never fired: defect 10).

export interface DecObservation {
  groupId: string;
  midUnix: number;
  decDeg: number;
}

export interface DetectorConfig {
  thresholdDeg: number;
  confirmGroups: number;
  jitterDeg: number;
}

export interface StableSegment {
  decDeg: number;
  firstGroupId: string;
  lastGroupId: string;
  startUnix: number;
  /** Mid-time of the last group at this declination. */
  endUnix: number;
  nGroups: number;
}

export interface DetectorState {
  stable: StableSegment | null;
  candidate: DecObservation[];
}

export type DetectorAction =
  | { kind: 'started'; segment: StableSegment }
  | { kind: 'extended'; segment: StableSegment }
  | { kind: 'slewing'; fromDecDeg: number; candidateDecDeg: number; groups: number }
  | { kind: 'glitch_dropped'; decDeg: number; groups: number }
  | {
      kind: 'confirmed';
      old: StableSegment;
      segment: StableSegment;
      deltaDeg: number;
      groups: DecObservation[];
    };

export const emptyDetector = (): DetectorState => ({ stable: null, candidate: [] });

export function isSlewing(s: DetectorState): boolean {
  return s.candidate.length > 0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function segmentFrom(groups: DecObservation[]): StableSegment {
  return {
    decDeg: median(groups.map((g) => g.decDeg)),
    firstGroupId: groups[0].groupId,
    lastGroupId: groups[groups.length - 1].groupId,
    startUnix: groups[0].midUnix,
    endUnix: groups[groups.length - 1].midUnix,
    nGroups: groups.length,
  };
}

/** Feed one group (in mid-time order); returns the new state and what happened. */
export function stepDetector(
  state: DetectorState,
  obs: DecObservation,
  cfg: DetectorConfig,
): { state: DetectorState; actions: DetectorAction[] } {
  const { stable, candidate } = state;
  if (!stable) {
    const segment = segmentFrom([obs]);
    return { state: { stable: segment, candidate: [] }, actions: [{ kind: 'started', segment }] };
  }
  if (Math.abs(obs.decDeg - stable.decDeg) < cfg.thresholdDeg) {
    const segment: StableSegment = {
      ...stable,
      lastGroupId: obs.groupId,
      endUnix: Math.max(stable.endUnix, obs.midUnix),
      nGroups: stable.nGroups + 1,
    };
    const actions: DetectorAction[] = [];
    if (candidate.length)
      actions.push({ kind: 'glitch_dropped', decDeg: candidate[0].decDeg, groups: candidate.length });
    actions.push({ kind: 'extended', segment });
    return { state: { stable: segment, candidate: [] }, actions };
  }
  const sameCandidate = candidate.length > 0 && Math.abs(obs.decDeg - candidate[0].decDeg) <= cfg.jitterDeg;
  const next = sameCandidate ? [...candidate, obs] : [obs];
  if (next.length >= cfg.confirmGroups) {
    const segment = segmentFrom(next);
    return {
      state: { stable: segment, candidate: [] },
      actions: [
        { kind: 'confirmed', old: stable, segment, deltaDeg: segment.decDeg - stable.decDeg, groups: next },
      ],
    };
  }
  return {
    state: { stable, candidate: next },
    actions: [
      { kind: 'slewing', fromDecDeg: stable.decDeg, candidateDecDeg: obs.decDeg, groups: next.length },
    ],
  };
}
