// Crash recovery, pinned through the daemon's own entry points: a daemon started on top of what a dead one
// left (an open attempt, an orphaned converter, a stale partial output) and what it then does to the
// database, the processes and the files. Each test fails when the guard it names is removed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { waitFor } from '../../helpers/wait.js';
import {
  conversionJobs,
  events,
  fakeArgv,
  fakeLog,
  groups,
  makeEnv,
  query,
  T0,
  writeGroupFiles,
  type Env,
} from './harness.js';
import {
  DEAD_PID,
  diedAfterDispatch,
  openAttempt,
  recordAsConverter,
  spawnBystander,
  spawnOrphan,
  spawnSupervised,
  startTicks,
  tamper,
  withSection,
} from './orphans.js';
import { pidAlive, spawnSourceDaemon } from './proc.js';
import { trackDaemons } from './track.js';

let env: Env;
const { procs, strays, start, startLogged } = trackDaemons(() => env, { kill: 'group-or-pid' });

/** Ready = the first scan is done, so startup recovery (which runs before it) has finished. */
async function ready(d: RunningDaemon): Promise<void> {
  await waitFor(async () => (await fetch(`http://127.0.0.1:${d.port}/readyz`)).status === 200, {
    what: 'daemon ready',
  });
}

function outcomes(e: Env): string[] {
  return query<{ outcome: string | null }>(e, 'SELECT outcome FROM converter_attempts ORDER BY id').map(
    (r) => r.outcome ?? 'open',
  );
}

/** The daemon's count of recovered attempts by what recovery found (its Prometheus counter). */
async function recoveredCount(d: RunningDaemon, child: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
  const m = new RegExp(`^contimg_converter_recovered_attempts_total\\{child="${child}"\\} (\\d+)$`, 'm').exec(
    text,
  );
  if (!m) throw new Error(`no recovered_attempts_total{child="${child}"} in /metrics`);
  return Number(m[1]);
}

/** The payloads of the converter's events of one type. */
function payloads<T = Record<string, unknown>>(e: Env, type: string): T[] {
  return events(e, type).map((x) => JSON.parse(x.payload) as T);
}

describe('converter crash recovery', () => {
  it('a converter still running under its supervisor, its pid never recorded, is adopted: awaited, settled, not run again', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    const supervisor = spawnSupervised(env, a, 'ok', 3000);
    strays.push(supervisor);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), {
      what: 'orphaned converter running',
    });
    expect(openAttempt(env)!.pid).toBeNull();
    await start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(query(env, 'SELECT outcome, exit_code FROM converter_attempts')).toEqual([
      { outcome: 'ok', exit_code: 0 },
    ]);
    const adopted = events(env, 'converter.attempt_adopted').map((e) => JSON.parse(e.payload) as unknown);
    // The event names the supervisor it adopted (the pid supervisor.json recorded), not the converter's.
    expect(adopted).toMatchObject([{ attempt: 1, running: true, pid: supervisor }]);
    expect(conversionJobs(env)).toMatchObject([{ state: 'done', attempts: 1 }]);
  });

  it('a converter that ended while no daemon ran is settled from what its supervisor recorded', async () => {
    env = await makeEnv({ maxAttempts: 3 });
    const a = await diedAfterDispatch(env);
    const sup = spawnSupervised(env, a, 'exit5');
    strays.push(sup);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'end') && !pidAlive(sup), {
      what: 'orphaned converter finished',
    });
    await ready(await start(env));
    // Exit 5 is a validation failure: not retried, even with attempts left.
    expect(groups(env)[0]).toMatchObject({ state: 'failed', job_state: 'dead' });
    expect(query(env, 'SELECT outcome, exit_code FROM converter_attempts')).toEqual([
      { outcome: 'validation', exit_code: 5 },
    ]);
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(
      events(env, 'converter.attempt_adopted').map((e) => JSON.parse(e.payload) as unknown),
    ).toMatchObject([{ attempt: 1, running: false, outcome: 'validation', to: 'failed' }]);
    expect(events(env, 'converter.failed')).toHaveLength(1);
  });

  it('a converter whose supervisor was SIGKILLed (no exit status) is stopped before the retry', async () => {
    env = await makeEnv({ killGraceS: 1 });
    const a = await diedAfterDispatch(env);
    const sup = spawnSupervised(env, a, 'ok', 60_000);
    strays.push(sup);
    const orphan = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
      what: 'orphaned converter running',
    });
    process.kill(sup, 'SIGKILL');
    await waitFor(() => !pidAlive(sup), { what: 'supervisor gone' });
    expect(pidAlive(orphan.pid)).toBe(true);
    await start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    const lines = fakeLog(env);
    const stopped = lines.find((l) => l.pid === orphan.pid && l.event === 'sigterm');
    expect(stopped).toBeDefined();
    const retry = lines.find((l) => l.event === 'start' && l.pid !== orphan.pid);
    expect(retry!.t).toBeGreaterThanOrEqual(stopped!.t);
    expect(lines.filter((l) => l.event === 'overlap')).toHaveLength(0);
    expect(outcomes(env)).toEqual(['crashed', 'ok']);
  });

  it('a live pid with other start ticks (a reused pid) is not killed', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    const bystander = spawnBystander();
    strays.push(bystander);
    recordAsConverter(env, a.id, bystander, startTicks(bystander) + 1);
    await start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    expect(pidAlive(bystander)).toBe(true);
    expect(outcomes(env)).toEqual(['crashed', 'ok']);
  });

  it("an attempt leased to a daemon on another host, within its lease, is that daemon's: left alone and logged", async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    // Its pid means nothing here (no such process on this host): the host alone makes it live.
    const remote = `elsewhere.example:${DEAD_PID}:converter:remote`;
    tamper(env, (db) =>
      db
        .prepare('UPDATE jobs SET lease_owner = ?, lease_expires_at = ? WHERE id = ?')
        .run(remote, Date.now() + 600_000, a.job_id),
    );
    const { daemon, lines } = await startLogged(env);
    await ready(daemon);
    expect(outcomes(env)).toEqual(['open']);
    expect(query(env, 'SELECT state, lease_owner FROM jobs WHERE id = ?', a.job_id)).toEqual([
      { state: 'running', lease_owner: remote },
    ]);
    expect(lines.find((l) => l.msg === 'attempt held by another live daemon')).toMatchObject({
      level: 'warn',
      attempt: a.id,
      owner: remote,
    });
    expect(fakeLog(env)).toHaveLength(0);
  });

  it('a damaged attempt row (pid 0, no start ticks) is no orphan: recovery never signals its own process group', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    // kill(0, …) reaches every process of the caller's group: before the guard this SIGTERMed the daemon
    // (here the test worker itself) as "the orphan".
    tamper(env, (db) =>
      db
        .prepare('UPDATE converter_attempts SET pid = 0, pgid = 0, pid_start_ticks = NULL WHERE id = ?')
        .run(a.id),
    );
    await start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    expect(outcomes(env)).toEqual(['crashed', 'ok']);
    expect(
      events(env, 'converter.attempt_crashed').map((e) => JSON.parse(e.payload) as { orphanKilled: boolean }),
    ).toMatchObject([{ orphanKilled: false }]);
  });

  it("an attempt whose job was claimed again (job token ≠ the attempt's token) is closed as crashed at startup; the job stays its holder's", async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    const holder = `${os.hostname()}:${process.pid}:converter:live00`;
    tamper(env, (db) =>
      db
        .prepare(
          'UPDATE jobs SET lease_token = lease_token + 1, lease_owner = ?, lease_expires_at = ? WHERE id = ?',
        )
        .run(holder, Date.now() + 600_000, a.job_id),
    );
    await ready(await start(env));
    expect(outcomes(env)).toEqual(['crashed']);
    const [job] = query<{ state: string; lease_token: number; lease_owner: string }>(
      env,
      'SELECT state, lease_token, lease_owner FROM jobs WHERE id = ?',
      a.job_id,
    );
    expect(job).toEqual({ state: 'running', lease_token: a.lease_token + 1, lease_owner: holder });
    expect(groups(env)[0].state).toBe('converting');
    expect(fakeLog(env)).toHaveLength(0);
  });

  it('an orphan that ignores SIGTERM is SIGKILLed (with what it started) before the retry', async () => {
    env = await makeEnv({ killGraceS: 1 });
    const a = await diedAfterDispatch(env);
    const grandchildFile = path.join(env.dir, 'grandchild.pid');
    const orphan = spawnOrphan(env, a, 'hang', 0, { FAKE_CONVERTER_GRANDCHILD: grandchildFile });
    strays.push(orphan);
    await waitFor(() => fs.existsSync(grandchildFile) && fs.readFileSync(grandchildFile, 'utf8').length > 0, {
      what: 'orphan running',
    });
    const grandchild = Number(fs.readFileSync(grandchildFile, 'utf8'));
    recordAsConverter(env, a.id, orphan);
    await start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    expect(pidAlive(orphan)).toBe(false);
    expect(pidAlive(grandchild)).toBe(false);
    const lines = fakeLog(env);
    const ignored = lines.find((l) => l.pid === orphan && l.event === 'sigterm-ignored');
    expect(ignored).toBeDefined();
    const retry = lines.find((l) => l.event === 'start' && l.pid !== orphan);
    expect(retry!.t).toBeGreaterThanOrEqual(ignored!.t);
    expect(outcomes(env)).toEqual(['crashed', 'ok']);
  });

  it('tells the operator what it stopped and how it settled the attempt: log lines and the crash event', async () => {
    env = await makeEnv({ killGraceS: 1 });
    const a = await diedAfterDispatch(env);
    const orphan = spawnOrphan(env, a, 'hang');
    strays.push(orphan);
    await waitFor(() => fakeLog(env).some((l) => l.pid === orphan && l.event === 'start'), {
      what: 'orphan running',
    });
    recordAsConverter(env, a.id, orphan);
    const { lines } = await startLogged(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    const groupId = groups(env)[0].group_id;
    const said = (msg: string): Record<string, unknown> | undefined => lines.find((l) => l.msg === msg);
    expect(said('orphaned converter from a previous run: stopping it')).toMatchObject({
      level: 'warn',
      groupId,
      pid: orphan,
      attempt: 1,
    });
    expect(said('recovered attempt')).toMatchObject({
      level: 'warn',
      groupId,
      attempt: 1,
      pid: orphan,
      outcome: 'crashed',
      to: 'retry_wait',
      from: 'converting',
      reason: 'crashed',
    });
    const crashed = events(env, 'converter.attempt_crashed').map((e) => JSON.parse(e.payload) as unknown);
    expect(crashed).toEqual([
      { groupId, attempt: 1, pid: orphan, outcome: 'crashed', to: 'retry_wait', orphanKilled: true },
    ]);
    expect(query(env, 'SELECT error FROM converter_attempts WHERE id = ?', a.id)).toEqual([
      { error: 'daemon stopped during the conversion' },
    ]);
  });

  it('after a crash the group is retry_wait, due at once, and a stale <out>.partial is removed', async () => {
    env = await makeEnv({ maxAttempts: 2 });
    const a = await diedAfterDispatch(env);
    const partial = `${a.output_path}.partial`;
    fs.mkdirSync(partial, { recursive: true });
    fs.writeFileSync(path.join(partial, 'table.f0'), 'half a measurement set');
    // The disk gate is closed after recovery, so the group stays where recovery put it.
    await ready(await start(withSection(env, { minFreeGb: 1 }), { freeBytes: () => 0 }));
    expect(groups(env)[0]).toMatchObject({ state: 'retry_wait', attempts: 1, job_state: 'queued' });
    const [closed] = query<{ outcome: string; ended_at: number; error: string }>(
      env,
      'SELECT outcome, ended_at, error FROM converter_attempts',
    );
    expect(closed.outcome).toBe('crashed');
    // Nothing ever ran for it (no pid, no supervisor): the operator reads why.
    expect(closed.error).toContain('daemon stopped before the converter started');
    // Due at once (the retry backoff would be ≥ 180 ms here): the crash was not the converter's fault.
    expect(groups(env)[0].next_attempt_at).toBeLessThanOrEqual(closed.ended_at + 50);
    expect(fs.existsSync(partial)).toBe(false);
    expect(events(env, 'converter.attempt_crashed')).toHaveLength(1);
    expect(fakeLog(env)).toHaveLength(0);
  });

  it('a crash on the last attempt fails the group, buries its job and raises the failed alert and event', async () => {
    env = await makeEnv({ maxAttempts: 1 });
    await diedAfterDispatch(env);
    await ready(await start(env));
    const [g] = groups(env);
    expect(g).toMatchObject({ state: 'failed', job_state: 'dead' });
    expect(conversionJobs(env)).toMatchObject([{ state: 'dead', attempts: 1 }]);
    expect(outcomes(env)).toEqual(['crashed']);
    expect(fakeLog(env)).toHaveLength(0);
    // The same signals as a conversion that failed live: the critical alert and converter.failed.
    const alerts = query<{ labels: string; status: string; severity: string }>(
      env,
      "SELECT labels, status, severity FROM alerts WHERE alertname = 'ConverterGroupFailed'",
    );
    expect(alerts.map((a) => ({ ...a, labels: JSON.parse(a.labels) as unknown }))).toMatchObject([
      { labels: { group: g.group_id }, status: 'firing', severity: 'critical' },
    ]);
    const failed = events(env, 'converter.failed');
    expect(failed).toHaveLength(1);
    expect(JSON.parse(failed[0].payload)).toMatchObject({ groupId: g.group_id, outcome: 'crashed' });
  });

  it("a second daemon on the same database never kills (nor adopts) the first one's running conversion", async () => {
    env = await makeEnv({ converter: { argv: fakeArgv('ok', 6000), timeoutS: 60 } });
    const first = await spawnSourceDaemon(env);
    procs.push(first);
    writeGroupFiles(env.incoming, T0);
    const run = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
      what: 'converter started by the first daemon',
    });
    await ready(await start(env));
    // Neither stopped nor taken over: the live daemon keeps its attempt.
    expect(pidAlive(run.pid)).toBe(true);
    expect(openAttempt(env)).toBeDefined();
    expect(events(env, 'converter.attempt_adopted')).toHaveLength(0);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    expect(fakeLog(env).filter((l) => l.event === 'sigterm')).toHaveLength(0);
    expect(outcomes(env)).toEqual(['ok']);
  });

  it('an attempt its owner settles while recovery is stopping the orphan is left alone', async () => {
    env = await makeEnv({ leaseS: 1, killGraceS: 3 });
    let orphan = 0;
    await start(env, {
      afterDispatchCommit: () => {
        if (orphan) return;
        const a = openAttempt(env)!;
        orphan = spawnOrphan(env, a, 'hang');
        recordAsConverter(env, a.id, orphan);
        throw new Error('test: the dispatcher stalls after the commit (no heartbeat, no outcome)');
      },
    });
    writeGroupFiles(env.incoming, T0);
    // The lease expires, recovery sends SIGTERM (ignored) and waits killGraceS: the owner settles meanwhile.
    await waitFor(() => fakeLog(env).some((l) => l.pid === orphan && l.event === 'sigterm-ignored'), {
      what: 'recovery stopping the orphan',
    });
    const a = openAttempt(env)!;
    tamper(env, (db) =>
      db.transaction(() => {
        const now = Date.now();
        db.prepare(
          "UPDATE converter_attempts SET ended_at = ?, outcome = 'ok', exit_code = 0 WHERE id = ?",
        ).run(now, a.id);
        db.prepare(
          "UPDATE jobs SET state = 'done', finished_at = ?, lease_expires_at = NULL WHERE id = ? AND lease_token = ?",
        ).run(now, a.job_id, a.lease_token);
        db.prepare(
          "UPDATE converter_groups SET state = 'converted', finished_at = ?, output_path = ? WHERE id = ?",
        ).run(now, a.output_path, a.group_ref);
      })(),
    );
    // A second group converts only after the loop is past that recovery: a barrier, not a sleep.
    writeGroupFiles(env.incoming, T0 + 309_000);
    await waitFor(() => groups(env)[1]?.state === 'converted', { what: 'second group converted' });
    expect(pidAlive(orphan)).toBe(false);
    expect(groups(env)[0]).toMatchObject({ state: 'converted', job_state: 'done' });
    expect(query(env, 'SELECT outcome FROM converter_attempts WHERE id = ?', a.id)).toEqual([
      { outcome: 'ok' },
    ]);
    expect(events(env, 'converter.attempt_crashed')).toHaveLength(0);
    expect(
      fakeLog(env).filter((l) => l.event === 'start' && l.group === groups(env)[0].group_id),
    ).toHaveLength(1);
  });
  it('a killed orphan is crashed and retried even when its output and result look complete (a stopped converter is not trusted)', async () => {
    env = await makeEnv({ killGraceS: 1 });
    const a = await diedAfterDispatch(env);
    const orphan = spawnOrphan(env, a, 'hang');
    strays.push(orphan);
    await waitFor(() => fakeLog(env).some((l) => l.pid === orphan && l.event === 'start'), {
      what: 'orphan running',
    });
    recordAsConverter(env, a.id, orphan);
    // What a converter leaves just before it would have exited 0: the output and an ok result.
    fs.writeFileSync(a.output_path, 'converted\n');
    fs.writeFileSync(
      path.join(path.dirname(a.manifest_path), 'result.json'),
      JSON.stringify({ ok: true, ms_path: a.output_path, metrics: {} }),
    );
    const d = await start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    expect(outcomes(env)).toEqual(['crashed', 'ok']);
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(2);
    expect(payloads(env, 'converter.attempt_crashed')).toMatchObject([{ attempt: 1, orphanKilled: true }]);
    expect(await recoveredCount(d, 'killed')).toBe(1);
    expect(await recoveredCount(d, 'dead')).toBe(0);
  });

  it('an attempt whose supervisor and converter both died (supervisor file, no pid row) was stopped during the conversion', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    const sup = spawnSupervised(env, a, 'hang');
    strays.push(sup);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), { what: 'converter running' });
    process.kill(-sup, 'SIGKILL');
    await waitFor(() => !pidAlive(sup) && fakeLog(env).every((l) => !pidAlive(l.pid)), {
      what: 'supervisor and converter gone',
    });
    expect(openAttempt(env)!.pid).toBeNull();
    const d = await start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    expect(outcomes(env)).toEqual(['crashed', 'ok']);
    // The supervisor's file shows the converter had started: not "before the converter started".
    expect(query(env, 'SELECT error FROM converter_attempts WHERE id = ?', a.id)).toEqual([
      { error: 'daemon stopped during the conversion' },
    ]);
    expect(payloads(env, 'converter.attempt_crashed')).toMatchObject([{ attempt: 1, orphanKilled: false }]);
    expect(payloads(env, 'converter.attempt_adopted')).toHaveLength(0);
    expect(await recoveredCount(d, 'dead')).toBe(1);
    expect(await recoveredCount(d, 'killed')).toBe(0);
  });

  it('a converter that crashed on its own while no daemon ran is adopted as finished (its crash is its own), not as a recovery crash', async () => {
    env = await makeEnv({ maxAttempts: 3 });
    const a = await diedAfterDispatch(env);
    const sup = spawnSupervised(env, a, 'crash');
    strays.push(sup);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'end') && !pidAlive(sup), {
      what: 'orphaned converter crashed and its supervisor exited',
    });
    const d = await start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted on the retry' });
    const [first] = query<{ outcome: string; error: string }>(
      env,
      'SELECT outcome, error FROM converter_attempts ORDER BY id LIMIT 1',
    );
    expect(first.outcome).toBe('crashed');
    expect(first.error).toContain('SIGABRT');
    expect(payloads(env, 'converter.attempt_adopted')).toMatchObject([
      { attempt: 1, running: false, outcome: 'crashed', to: 'retry_wait' },
    ]);
    expect(payloads(env, 'converter.attempt_crashed')).toHaveLength(0);
    expect(await recoveredCount(d, 'finished')).toBe(1);
  });

  it('a converter still running under its supervisor is adopted, logged with its group, attempt and supervisor, and counted as adopted', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    const supervisor = spawnSupervised(env, a, 'ok', 2000);
    strays.push(supervisor);
    await waitFor(() => fakeLog(env).some((l) => l.event === 'start'), { what: 'converter running' });
    const { daemon: d, lines } = await startLogged(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(lines.filter((l) => l.msg === 'recovered open attempts of a daemon that died')).toMatchObject([
      { level: 'info', recovered: 1, at: 'startup' },
    ]);
    expect(
      lines.filter((l) => l.msg === 'adopted a converter still running from a previous run'),
    ).toMatchObject([{ level: 'warn', groupId: groups(env)[0]!.group_id, attempt: 1, pid: supervisor }]);
    expect(await recoveredCount(d, 'adopted')).toBe(1);
    expect(await recoveredCount(d, 'killed')).toBe(0);
    expect(await recoveredCount(d, 'finished')).toBe(0);
  });

  it("a live supervisor whose job another daemon has claimed since is not adopted: it is stopped and the attempt closed, the job stays the holder's", async () => {
    env = await makeEnv({ killGraceS: 1 });
    const a = await diedAfterDispatch(env);
    const sup = spawnSupervised(env, a, 'ok', 60_000);
    strays.push(sup);
    const conv = await waitFor(() => fakeLog(env).find((l) => l.event === 'start'), {
      what: 'converter running',
    });
    const holder = `${os.hostname()}:${process.pid}:converter:live01`;
    tamper(env, (db) =>
      db
        .prepare(
          'UPDATE jobs SET lease_token = lease_token + 1, lease_owner = ?, lease_expires_at = ? WHERE id = ?',
        )
        .run(holder, Date.now() + 600_000, a.job_id),
    );
    const d = await start(env);
    await ready(d);
    await waitFor(() => !pidAlive(conv.pid) && !pidAlive(sup), { what: 'supervised converter stopped' });
    expect(fakeLog(env).filter((l) => l.pid === conv.pid && l.event === 'sigterm')).toHaveLength(1);
    expect(outcomes(env)).toEqual(['crashed']);
    expect(payloads(env, 'converter.attempt_adopted')).toHaveLength(0);
    expect(query(env, 'SELECT state, lease_owner FROM jobs WHERE id = ?', a.job_id)).toEqual([
      { state: 'running', lease_owner: holder },
    ]);
    expect(await recoveredCount(d, 'adopted')).toBe(0);
    expect(await recoveredCount(d, 'killed')).toBe(1);
  });

  it('a peer on this host that is alive but let its lease expire does not hold the attempt: it is recovered at startup', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    // A live process (this test's own) as the holder, its lease a second past.
    const peer = `${os.hostname()}:${process.pid}:converter:late00`;
    tamper(env, (db) =>
      db
        .prepare('UPDATE jobs SET lease_owner = ?, lease_expires_at = ? WHERE id = ?')
        .run(peer, Date.now() - 1000, a.job_id),
    );
    const { lines } = await startLogged(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    expect(outcomes(env)).toEqual(['crashed', 'ok']);
    expect(lines.find((l) => l.msg === 'attempt held by another live daemon')).toBeUndefined();
  });

  it('a live peer on this host within its lease holds the attempt: left alone and logged', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    const peer = `${os.hostname()}:${process.pid}:converter:peer00`;
    tamper(env, (db) =>
      db
        .prepare('UPDATE jobs SET lease_owner = ?, lease_expires_at = ? WHERE id = ?')
        .run(peer, Date.now() + 600_000, a.job_id),
    );
    const { daemon, lines } = await startLogged(env);
    await ready(daemon);
    expect(outcomes(env)).toEqual(['open']);
    expect(lines.find((l) => l.msg === 'attempt held by another live daemon')).toMatchObject({
      attempt: a.id,
      owner: peer,
    });
    expect(await recoveredCount(daemon, 'dead')).toBe(0);
    // Nothing recovered, nothing said about it.
    expect(lines.find((l) => l.msg === 'recovered open attempts of a daemon that died')).toBeUndefined();
  });

  it('a running job with no recorded owner holds nothing: its open attempt is recovered at startup', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    tamper(env, (db) =>
      db
        .prepare('UPDATE jobs SET lease_owner = NULL, lease_expires_at = ? WHERE id = ?')
        .run(Date.now() + 600_000, a.job_id),
    );
    const d = await start(env);
    await waitFor(() => outcomes(env)[0] === 'crashed', { what: 'attempt recovered' });
    expect(await recoveredCount(d, 'dead')).toBe(1);
  });
  it('a recorded converter that is gone, with no supervisor file, was stopped during the conversion; nothing is signalled', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    const gone = spawnBystander();
    const ticks = startTicks(gone);
    process.kill(gone, 'SIGKILL');
    await waitFor(() => !pidAlive(gone), { what: 'recorded converter gone' });
    recordAsConverter(env, a.id, gone, ticks);
    const { lines } = await startLogged(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted after recovery' });
    expect(query(env, 'SELECT error FROM converter_attempts WHERE id = ?', a.id)).toEqual([
      { error: 'daemon stopped during the conversion' },
    ]);
    expect(
      lines.find((l) => l.msg === 'orphaned converter from a previous run: stopping it'),
    ).toBeUndefined();
    expect(lines.filter((l) => l.msg === 'recovered open attempts of a daemon that died')).toMatchObject([
      { recovered: 1, at: 'startup' },
    ]);
    expect(payloads(env, 'converter.attempt_crashed')).toMatchObject([{ pid: gone, orphanKilled: false }]);
  });

  it('a converter that finished its output and ok result but left no exit status is adopted as ok, never run again', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    fs.writeFileSync(a.output_path, 'converted\n');
    fs.writeFileSync(
      path.join(path.dirname(a.manifest_path), 'result.json'),
      JSON.stringify({ ok: true, ms_path: a.output_path, metrics: {} }),
    );
    const { daemon, lines } = await startLogged(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted from its files' });
    expect(outcomes(env)).toEqual(['ok']);
    expect(fakeLog(env)).toHaveLength(0);
    const groupId = groups(env)[0].group_id;
    expect(payloads(env, 'converter.attempt_adopted')).toEqual([
      { groupId, attempt: 1, pid: null, outcome: 'ok', to: 'converted', running: false },
    ]);
    expect(payloads(env, 'converter.attempt_crashed')).toHaveLength(0);
    expect(
      lines.find(
        (l) => l.msg === 'adopted the outcome of a conversion that ended while no daemon was watching it',
      ),
    ).toMatchObject({
      level: 'warn',
      groupId,
      attempt: 1,
      outcome: 'ok',
      to: 'converted',
      from: 'converting',
    });
    expect(await recoveredCount(daemon, 'dead')).toBe(1);
  });

  it('an open attempt whose job has ended holds nothing, even with a live owner still named on the job', async () => {
    env = await makeEnv();
    const a = await diedAfterDispatch(env);
    const peer = `${os.hostname()}:${process.pid}:converter:gone00`;
    tamper(env, (db) =>
      db
        .prepare("UPDATE jobs SET state = 'dead', lease_owner = ?, lease_expires_at = ? WHERE id = ?")
        .run(peer, Date.now() + 600_000, a.job_id),
    );
    const { daemon, lines } = await startLogged(env);
    await ready(daemon);
    expect(outcomes(env)).toEqual(['crashed']);
    expect(lines.find((l) => l.msg === 'attempt held by another live daemon')).toBeUndefined();
  });
});
