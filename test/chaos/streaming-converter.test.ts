// Chaos: the BUILT streaming converter (dist/daemons/streaming-converter/main.js, as systemd runs it) is
// SIGKILLed over and over at chosen moments: during a conversion (restarted at once, or only after the
// converter has finished), right after a converter exits, while groups wait for a free slot, between the
// dispatch commit and the converter's start, and after the converter started while its pid write waits on
// a write lock held by another process (the sqlite3 shell). The fake converter appends every run to a log
// (group, pid, start ticks, start and end) and checks at its own start that no earlier run of its group is
// alive. Afterwards: every group converted exactly once to success, never two converters of one group alive
// at once, nothing stuck. The counts are printed for the record.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { holdWriteLock, type HeldLock } from '../helpers/lock.js';
import { removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import {
  fakeArgv,
  groups,
  makeEnv,
  query,
  T0,
  writeGroupFiles,
  type Env,
} from '../integration/converter/harness.js';
import { pidAlive, spawnDaemon, type DaemonProc } from '../integration/converter/proc.js';
import { RunLog } from './run-log.js';

const GROUPS = 18;
const SPACING_MS = 309_000;
const CONVERT_MS = 1200;
/** Conversions that outlast a restart, or keep both slots busy while another group waits. */
const LONG_CONVERT_MS = 4000;
const MOMENTS = [
  'mid-conversion',
  'finished-while-down',
  'just-after-exit',
  'waiting-for-dispatch',
  'before-spawn',
  'pid-write-locked',
] as const;
type Moment = (typeof MOMENTS)[number];
/** Each moment twice, interleaved. */
const SCHEDULE: Moment[] = [...MOMENTS, ...MOMENTS];

let env: Env;
let daemon: DaemonProc | undefined;
let lock: HeldLock | undefined;
let runLog: RunLog | undefined;

afterAll(async () => {
  runLog?.stop();
  await lock?.release();
  if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null)
    daemon.child.kill('SIGKILL');
  for (const r of runLog?.list() ?? []) if (pidAlive(r.pid)) process.kill(-r.pid, 'SIGKILL');
  if (env) removeTmpDir(env.dir);
});

describe('chaos: the streaming converter under repeated SIGKILL', () => {
  it('converts every group exactly once, never two converters of a group at once, nothing stuck', async () => {
    const t0 = Date.now();
    env = await makeEnv({
      maxConcurrent: 2,
      maxAttempts: 20,
      leaseS: 5,
      killGraceS: 1,
      converter: { argv: fakeArgv('ok', CONVERT_MS), timeoutS: 60 },
    });
    // A sync write blocked by the external lock gives up after 2 s instead of 15: the lock moments stay short.
    env.raw.databases = { ...(env.raw.databases as object), writeBudgetMs: 2000, busyTimeoutMs: 500 };
    const log = (runLog = new RunLog(env.log));
    log.start();
    let written = 0;
    const write = (n: number): void => {
      for (; n > 0 && written < GROUPS; n--) writeGroupFiles(env.incoming, T0 + SPACING_MS * written++);
    };
    /** Groups written but not dispatched yet (collecting, ready or waiting for a retry). */
    const pending = (): number =>
      written - groups(env).filter((g) => g.state === 'converted' || g.state === 'converting').length;
    const kills = Object.fromEntries(MOMENTS.map((m) => [m, 0])) as Record<Moment, number>;
    let pidlessKills = 0;

    /** The converter argv of the next daemon (a dispatched attempt keeps the one it started with). */
    const converterTakes = (ms: number): void => {
      (env.raw.streamingConverter as Record<string, unknown>).converter = {
        argv: fakeArgv('ok', ms),
        timeoutS: 60,
      };
    };
    const start = async (extra: Record<string, string> = {}): Promise<DaemonProc> =>
      (daemon = await spawnDaemon(env, extra));
    const kill = async (moment: Moment): Promise<void> => {
      daemon!.child.kill('SIGKILL');
      await daemon!.exited;
      kills[moment]++;
    };
    const newStart = (after: number) =>
      waitFor(() => log.list().find((r) => r.start >= after && r.end === undefined), {
        what: 'a converter starting',
        timeoutMs: 30_000,
      });

    write(4);
    for (const [i, moment] of SCHEDULE.entries()) {
      // Every moment needs a dispatch after the restart; a group waits for a slot only behind two others.
      write((moment === 'waiting-for-dispatch' ? 3 : 1) - pending());
      const cycleAt = Date.now();
      const gate = path.join(env.dir, `dispatch-gate-${i}`);
      const gated = moment === 'before-spawn' || moment === 'pid-write-locked';
      const long = moment === 'mid-conversion' || moment === 'waiting-for-dispatch';
      converterTakes(long ? LONG_CONVERT_MS : CONVERT_MS);
      await start(gated ? { CONTIMG_CONVERTER_FAULT: `pause-after-dispatch-commit:${gate}` } : {});
      switch (moment) {
        case 'mid-conversion': {
          // Restarted at once: the next daemon finds the converter still running.
          const run = await newStart(cycleAt);
          const into = ((i * 397) % (CONVERT_MS - 200)) + 100;
          await waitFor(() => Date.now() >= run.start + into, { what: 'into the conversion' });
          await kill(moment);
          break;
        }
        case 'finished-while-down': {
          const run = await newStart(cycleAt);
          await kill(moment);
          await waitFor(() => run.end !== undefined, { what: 'the orphaned converter finishing' });
          break;
        }
        case 'just-after-exit':
          await waitFor(() => log.list().some((r) => r.how === 'end' && r.end! >= cycleAt), {
            what: 'a converter exiting',
            timeoutMs: 30_000,
          });
          await kill(moment);
          break;
        case 'waiting-for-dispatch':
          await waitFor(() => log.live().length === 2 && groups(env).some((g) => g.state === 'ready'), {
            what: 'a complete group waiting for a slot',
            timeoutMs: 30_000,
          });
          await kill(moment);
          break;
        case 'before-spawn':
          await waitFor(() => fs.existsSync(gate), { what: 'a dispatch committed', timeoutMs: 30_000 });
          await kill(moment);
          fs.rmSync(gate);
          break;
        case 'pid-write-locked': {
          await waitFor(() => fs.existsSync(gate), { what: 'a dispatch committed', timeoutMs: 30_000 });
          lock = await holdWriteLock(env.statePath);
          const released = Date.now();
          fs.rmSync(gate);
          await newStart(released);
          if (query(env, 'SELECT 1 FROM converter_attempts WHERE ended_at IS NULL AND pid IS NULL').length)
            pidlessKills++;
          await kill(moment);
          await lock.release();
          lock = undefined;
          break;
        }
      }
    }

    // The last daemon runs undisturbed until every group is converted, then stops cleanly.
    write(GROUPS);
    converterTakes(CONVERT_MS);
    await start();
    await waitFor(() => groups(env).filter((g) => g.state === 'converted').length === GROUPS, {
      what: 'every group converted',
      timeoutMs: 90_000,
    });
    daemon!.child.kill('SIGTERM');
    expect((await daemon!.exited).code).toBe(0);
    await waitFor(() => log.live().length === 0, { what: 'no converter left running' });
    log.stop();

    const runs = log.list();
    const successes = runs.filter((r) => r.how === 'end');
    const overlaps = log.intervalOverlaps();
    const attempts = query<{ group_id: string; outcome: string | null }>(
      env,
      `SELECT g.group_id, a.outcome FROM converter_attempts a JOIN converter_groups g ON g.id = a.group_ref`,
    );
    const adopted = query<{ payload: string }>(
      env,
      "SELECT payload FROM events WHERE type = 'converter.attempt_adopted'",
    ).map((e) => JSON.parse(e.payload) as { running: boolean });
    const counts = {
      kills: Object.values(kills).reduce((a, b) => a + b, 0),
      killsByMoment: kills,
      killsWithPidUnrecorded: pidlessKills,
      groups: groups(env).length,
      converterRuns: runs.length,
      successfulRuns: successes.length,
      killedRuns: runs.filter((r) => r.how === 'died').length,
      overlaps: overlaps.length + log.reported,
      attempts: attempts.length,
      attemptsByOutcome: attempts.reduce<Record<string, number>>(
        (m, a) => ({ ...m, [a.outcome ?? 'open']: (m[a.outcome ?? 'open'] ?? 0) + 1 }),
        {},
      ),
      adoptedRunning: adopted.filter((p) => p.running).length,
      adoptedFinished: adopted.filter((p) => !p.running).length,
      seconds: Math.round((Date.now() - t0) / 1000),
    };
    console.log(`chaos counts: ${JSON.stringify(counts)}`);
    expect(counts.kills).toBe(SCHEDULE.length);
    for (const m of MOMENTS) expect(kills[m]).toBeGreaterThanOrEqual(2);
    expect(pidlessKills).toBeGreaterThanOrEqual(1);
    // Restarts found converters still running and others finished: both were adopted, none run again.
    expect(counts.adoptedRunning).toBeGreaterThanOrEqual(1);
    expect(counts.adoptedFinished).toBeGreaterThanOrEqual(1);
    // Every group converted, each by exactly one successful run and one ok attempt.
    expect(groups(env).map((g) => g.state)).toEqual(Array<string>(GROUPS).fill('converted'));
    const byGroup = (list: { group: string }[]) =>
      Object.fromEntries(
        groups(env).map((g) => [g.group_id, list.filter((x) => x.group === g.group_id).length]),
      );
    const ones = Object.fromEntries(groups(env).map((g) => [g.group_id, 1]));
    expect(byGroup(successes)).toEqual(ones);
    expect(byGroup(attempts.filter((a) => a.outcome === 'ok').map((a) => ({ group: a.group_id })))).toEqual(
      ones,
    );
    // Never two converters of one group alive at once.
    expect(overlaps).toEqual([]);
    expect(log.reported).toBe(0);
    // Nothing stuck: no open attempt, no conversions job left queued or running.
    expect(attempts.filter((a) => a.outcome === null)).toEqual([]);
    expect(
      query(env, "SELECT id, state FROM jobs WHERE queue = 'conversions' AND state IN ('queued', 'running')"),
    ).toEqual([]);
  }, 240_000);
});
