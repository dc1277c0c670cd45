// The converter's decisions as pure functions: which group a file joins, when a group is complete or timed
// out, which state changes are allowed, how a converter exit is classified and whether it is retried
// (when and how often is the conversions queue's retry policy).
// No I/O and no clock: callers pass `now`.
export const GROUP_STATES = [
  'collecting',
  'ready',
  'converting',
  'retry_wait',
  'converted',
  'incomplete',
  'failed',
  'abandoned',
] as const;
export type GroupState = (typeof GROUP_STATES)[number];

export const FILE_STATES = ['settling', 'valid', 'invalid', 'duplicate', 'late', 'gone', 'changed'] as const;
export type FileState = (typeof FILE_STATES)[number];

/** Groups that still accept members. */
export const OPEN_STATES: readonly GroupState[] = ['collecting', 'ready'];

/** Allowed transitions (docs/streaming-converter.md). Every UPDATE of a group's state is a CAS along one of these edges. */
export const TRANSITIONS: Readonly<Record<GroupState, readonly GroupState[]>> = {
  collecting: ['ready', 'incomplete', 'abandoned'],
  ready: ['converting', 'collecting', 'abandoned'],
  // abandoned: an operator stopped a running conversion (its job cancelled; the executor stops the work).
  converting: ['converted', 'retry_wait', 'failed', 'abandoned'],
  retry_wait: ['converting', 'ready', 'abandoned'],
  converted: ['ready'],
  incomplete: ['ready', 'collecting', 'abandoned'],
  failed: ['ready', 'converting', 'abandoned'],
  abandoned: ['ready', 'collecting'],
};

export function canTransition(from: GroupState, to: GroupState): boolean {
  return TRANSITIONS[from].includes(to);
}

export interface GroupCandidate {
  ref: number;
  anchorMs: number;
  state: GroupState;
}

export type Placement = { kind: 'join'; ref: number } | { kind: 'late'; ref: number } | { kind: 'new' };

/**
 * Where a file with name time `tsMs` goes: the open group whose anchor is nearest within the tolerance;
 * if only a dispatched or closed group is within reach the file is late; otherwise a new group. Numeric
 * time, never string comparison, so midnight and year boundaries need no special case.
 */
export function placeFile(tsMs: number, groups: readonly GroupCandidate[], toleranceMs: number): Placement {
  let open: GroupCandidate | undefined;
  let closed: GroupCandidate | undefined;
  for (const g of groups) {
    const d = Math.abs(g.anchorMs - tsMs);
    if (d > toleranceMs) continue;
    if (OPEN_STATES.includes(g.state)) {
      if (!open || d < Math.abs(open.anchorMs - tsMs)) open = g;
    } else if (!closed || d < Math.abs(closed.anchorMs - tsMs)) closed = g;
  }
  if (open) return { kind: 'join', ref: open.ref };
  if (closed) return { kind: 'late', ref: closed.ref };
  return { kind: 'new' };
}

/** All subbands 0..expected-1 present. A count of rows is not enough (the original counted rows). */
export function isComplete(subbands: Iterable<number>, expected: number): boolean {
  const have = new Set(subbands);
  for (let s = 0; s < expected; s++) if (!have.has(s)) return false;
  return true;
}

export function missingSubbands(subbands: Iterable<number>, expected: number): number[] {
  const have = new Set(subbands);
  return Array.from({ length: expected }, (_, s) => s).filter((s) => !have.has(s));
}

/** Group id: sb00's name timestamp when present, otherwise the earliest member's. */
export function groupIdFor(
  members: readonly { subband: number; tsName: string; tsMs: number }[],
): string | null {
  if (members.length === 0) return null;
  const sb0 = members.find((m) => m.subband === 0);
  if (sb0) return sb0.tsName;
  return [...members].sort((a, b) => a.tsMs - b.tsMs)[0].tsName;
}

export function hasTimedOut(firstSeenAt: number, now: number, timeoutMs: number): boolean {
  return now - firstSeenAt > timeoutMs;
}

/** A file is settled when it has looked the same at least twice and for at least settleMs. */
export function isSettled(
  f: { stableLooks: number; stableSince: number },
  now: number,
  settleMs: number,
): boolean {
  return f.stableLooks >= 2 && now - f.stableSince >= settleMs;
}

export interface FileIdentity {
  size: number;
  mtimeMs: number;
  inode: number;
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && Math.floor(a.mtimeMs) === Math.floor(b.mtimeMs) && a.inode === b.inode;
}

export const OUTCOMES = [
  'ok',
  'timeout',
  'oom',
  'io',
  'validation',
  'conversion',
  'crashed',
  'spawn_error',
  'no_output',
  'bad_result',
  'failed',
  'aborted',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface ExitFacts {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  spawnError: boolean;
  /** The daemon was stopping and killed the child itself. */
  aborted: boolean;
  outputExists: boolean;
  /** Whether `{result}` was in the argv (then the result file must say ok: true). */
  expectResult: boolean;
  /** Parsed result file, undefined if missing, null if unreadable JSON. */
  result: { ok?: unknown } | null | undefined;
}

/**
 * Success is exit 0 AND the output exists AND (when a result file was asked for) it says ok: true.
 * Exit codes follow the original executor (2 I/O, 5 validation, 8 conversion, 124 timeout, 137 SIGKILL).
 */
export function classifyExit(f: ExitFacts): Outcome {
  if (f.spawnError) return 'spawn_error';
  if (f.aborted) return 'aborted';
  if (f.timedOut || f.exitCode === 124) return 'timeout';
  if (f.signal === 'SIGKILL' || f.exitCode === 137) return 'oom';
  if (f.signal) return 'crashed';
  if (f.exitCode === 2) return 'io';
  if (f.exitCode === 5) return 'validation';
  if (f.exitCode === 8) return 'conversion';
  if (f.exitCode !== 0) return 'failed';
  if (f.expectResult && (f.result === null || f.result === undefined)) return 'bad_result';
  if (f.expectResult && f.result?.ok !== true) return 'bad_result';
  if (!f.outputExists) return 'no_output';
  return 'ok';
}

/** Whether another attempt may help. Conversion errors (8) get one retry, then count as permanent. */
export function isRetriable(outcome: Outcome, attempt: number): boolean {
  switch (outcome) {
    case 'validation':
    case 'bad_result':
    case 'ok':
      return false;
    case 'conversion':
      return attempt < 2;
    default:
      return true;
  }
}
