// Muting, pure: an alert is muted while an active silence matches it, or while an inhibition rule has a firing
// source alert (another one) whose `equal` labels have the same values. Muted alerts stay in their group and
// are announced when the mute ends; a muted alert that was already announced still gets its resolved message.
import { compileAll, matchesAll, type CompiledMatcher, type Matcher } from '../../lib/matchers/index.js';
import { compileMatcher } from '../../lib/matchers/index.js';
import type { AlertView, Labels } from '../../lib/notifiers/content.js';

export interface ActiveSilence {
  id: string;
  matchers: CompiledMatcher[];
  startsAt: number;
  endsAt: number;
}

export function compileSilence(s: {
  id: string;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
}): ActiveSilence {
  return {
    id: s.id,
    matchers: s.matchers.map((m) => compileMatcher(m)),
    startsAt: s.startsAt,
    endsAt: s.endsAt,
  };
}

/** The id of the first silence muting these labels now, or null. */
export function silencedBy(labels: Labels, silences: readonly ActiveSilence[], now: number): string | null {
  for (const s of silences)
    if (s.startsAt <= now && now < s.endsAt && matchesAll(s.matchers, labels)) return s.id;
  return null;
}

export interface InhibitRule {
  source: CompiledMatcher[];
  target: CompiledMatcher[];
  equal: string[];
}

export function compileInhibitRules(
  rules: readonly { source: string[]; target: string[]; equal: string[] }[],
): InhibitRule[] {
  return rules.map((r) => ({
    source: compileAll(r.source),
    target: compileAll(r.target),
    equal: [...r.equal],
  }));
}

function equalKey(labels: Labels, equal: readonly string[]): string {
  return JSON.stringify(equal.map((k) => labels[k] ?? ''));
}

/** Built once per tick from the firing alerts; answers "is this alert inhibited, and by which rule?". */
export class InhibitionIndex {
  /** Per rule: equal-label values → fingerprints of firing source alerts. */
  private readonly sources: Map<string, Set<string>>[];

  constructor(
    private readonly rules: readonly InhibitRule[],
    firing: Iterable<AlertView>,
  ) {
    this.sources = rules.map(() => new Map());
    if (rules.length === 0) return;
    for (const a of firing) {
      if (a.status !== 'firing') continue;
      rules.forEach((r, i) => {
        if (!matchesAll(r.source, a.labels)) return;
        const key = equalKey(a.labels, r.equal);
        let set = this.sources[i].get(key);
        if (!set) this.sources[i].set(key, (set = new Set()));
        set.add(a.fingerprint);
      });
    }
  }

  /** The index of the first rule inhibiting this alert, or null. An alert never inhibits itself. */
  inhibitedBy(a: { fingerprint: string; labels: Labels }): number | null {
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (!matchesAll(r.target, a.labels)) continue;
      const set = this.sources[i].get(equalKey(a.labels, r.equal));
      if (set && (set.size > 1 || !set.has(a.fingerprint))) return i;
    }
    return null;
  }
}
