// The dispatcher's side of attempts it did not start in this run, and of attempts its own bookkeeping lost:
// an attempt recovery adopts gets its lease renewed for a whole leaseS under the attempt's own token and an
// `attempt_adopted` event that says it runs; one that ended while no daemon ran is settled through the
// worker; a failure of the dispatcher's own bookkeeping is counted, logged and left to recovery.
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { waitFor } from '../../helpers/wait.js';
import {
  conversionJobs,
  events,
  fakeLog,
  groups,
  makeEnv,
  query,
  T0,
  writeGroupFiles,
  type Env,
} from './harness.js';
import { diedAfterDispatch, openAttempt, spawnSupervised } from './orphans.js';
import { pidAlive } from './proc.js';
import { trackDaemons } from './track.js';

let env: Env;
const { strays, startLogged } = trackDaemons(() => env, { kill: 'group-or-pid' });

async function logged(
  e: Env,
  opts: Parameters<typeof startLogged>[1] = {},
): Promise<{
  d: RunningDaemon;
  lines: Record<string, unknown>[];
}> {
  const { daemon, lines } = await startLogged(e, { level: 'info', ...opts });
  return { d: daemon, lines };
}

async function loopErrors(d: RunningDaemon, loop: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
  const m = new RegExp(`^contimg_converter_loop_errors_total\\{loop="${loop}"\\} (\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`no loop_errors_total{loop="${loop}"} in /metrics`);
  return Number(m[1]);
}

interface JobLease {
  state: string;
  lease_token: number;
  lease_expires_at: number | null;
}

function jobLease(e: Env): JobLease {
  return query<JobLease>(
    e,
    "SELECT state, lease_token, lease_expires_at FROM jobs WHERE queue = 'conversions'",
  )[0];
}

describe('converter dispatch: adopted and lost attempts', () => {
  it("an adopted conversion's lease is renewed for leaseS under the attempt's own token; its event says it runs", async () => {
    env = await makeEnv({ leaseS: 30 });
    const a = await diedAfterDispatch(env);
    strays.push(spawnSupervised(env, a, 'ok', 3000));
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), {
      what: 'orphaned converter running',
    });
    await logged(env);
    const [ev] = await waitFor(
      () => {
        const evs = query<{ payload: string; created_at: number }>(
          env,
          "SELECT payload, created_at FROM events WHERE type = 'converter.attempt_adopted'",
        );
        return evs.length ? evs : null;
      },
      { what: 'attempt adopted' },
    );
    // Read before the worker's first heartbeat (leaseS / 3 later): this is the adoption's own renewal.
    const lease = jobLease(env);
    expect(lease.state).toBe('running');
    expect(lease.lease_token).toBe(a.lease_token);
    expect(lease.lease_expires_at! - ev.created_at).toBeGreaterThanOrEqual(29_000);
    expect(JSON.parse(ev.payload)).toMatchObject({
      groupId: groups(env)[0].group_id,
      attempt: 1,
      running: true,
    });
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(conversionJobs(env)).toMatchObject([{ state: 'done', attempts: 1 }]);
  });

  it('a conversion that ended while no daemon ran is settled through the worker under its own lease', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    const sup = spawnSupervised(env, a, 'ok');
    strays.push(sup);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'end') && !pidAlive(sup), {
      what: 'orphaned converter finished',
    });
    await logged(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    expect(query(env, 'SELECT outcome, exit_code FROM converter_attempts')).toEqual([
      { outcome: 'ok', exit_code: 0 },
    ]);
    const [job] = query<{ state: string; result: string; lease_token: number }>(
      env,
      "SELECT state, result, lease_token FROM jobs WHERE queue = 'conversions'",
    );
    expect(job.state).toBe('done');
    expect(job.lease_token).toBe(a.lease_token);
    expect(JSON.parse(job.result)).toEqual({ outputPath: a.output_path, attempt: 1 });
    expect(events(env, 'converter.converted')).toHaveLength(1);
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
  });

  it('a failure of its own bookkeeping after the dispatch is counted and logged; the attempt is left open for recovery', async () => {
    env = await makeEnv();
    const { d, lines } = await logged(env, {
      hooks: {
        afterDispatchCommit: () => {
          throw new Error('test: bookkeeping fails after the dispatch commit');
        },
      },
    });
    writeGroupFiles(env.incoming, T0);
    const msg = 'conversion bookkeeping failed; recovery will settle the attempt from its directory';
    const [line] = await waitFor(
      () => {
        const l = lines.filter((x) => x.msg === msg);
        return l.length ? l : null;
      },
      { what: 'bookkeeping failure logged' },
    );
    const gid = groups(env)[0].group_id;
    expect(line).toMatchObject({
      level: 'error',
      groupId: gid,
      err: { message: 'test: bookkeeping fails after the dispatch commit' },
    });
    expect(await loopErrors(d, 'dispatch')).toBe(1);
    // Nothing is recorded: the attempt stays open and the job leased, for recovery once the lease expires.
    expect(openAttempt(env)).toMatchObject({ attempt: 1, pid: null });
    expect(groups(env)[0]).toMatchObject({ state: 'converting', job_state: 'running' });
    expect(fakeLog(env)).toEqual([]);
  });
});
