// Mutants Stryker cannot make: inside SQL text it only empties a whole string, which any test kills. These
// are the SQL bugs that look real (a dropped WHERE condition, an off-by-one comparison, a swapped branch, a
// counter that stops counting), one small text edit each, run by scripts/mutate.ts after Stryker against the
// same test files. `find` must occur exactly once in the file: when the SQL changes, a stale entry fails the
// run instead of silently testing nothing.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface SqlMutant {
  file: string;
  find: string;
  replace: string;
}

const QUEUE_SQL = 'lib/queue/sql.ts';
const SUPERVISOR = 'lib/exec/supervise.ts';
const LEASES = 'lib/leases/index.ts';
const ALERTS = 'lib/alerts/index.ts';
const OUTBOX = 'daemons/alert-dispatcher/outbox.ts';

const q = (find: string, replace: string): SqlMutant => ({ file: QUEUE_SQL, find, replace });
const l = (find: string, replace: string): SqlMutant => ({ file: LEASES, find, replace });
const a = (find: string, replace: string): SqlMutant => ({ file: ALERTS, find, replace });
const o = (find: string, replace: string): SqlMutant => ({ file: OUTBOX, find, replace });
const sup = (find: string, replace: string): SqlMutant => ({ file: SUPERVISOR, find, replace });

export const SQL_MUTANTS: Record<string, SqlMutant[]> = {
  queue: [
    // claim: which rows are candidates, and in which order the limit cuts
    q("state = 'queued' AND ${UNFINISHED} AND +run_at <= @now", "state = 'queued' AND ${UNFINISHED}"),
    q('+run_at <= @now', '+run_at < @now'),
    q(
      "state = 'running' AND ${UNFINISHED} AND +lease_expires_at < @now",
      "state = 'running' AND ${UNFINISHED}",
    ),
    q('+lease_expires_at < @now', '+lease_expires_at <= @now'),
    q(
      "WHERE queue = @queue AND state = 'running' AND ${UNFINISHED} AND +lease_expires_at",
      "WHERE state = 'running' AND ${UNFINISHED} AND +lease_expires_at",
    ),
    q(
      "WHERE queue = @queue AND state = 'queued' AND ${UNFINISHED} AND +run_at",
      "WHERE state = 'queued' AND ${UNFINISHED} AND +run_at",
    ),
    // the partial claim index's term (without it the claim reads every row) and the counts' two halves
    q("AND state = 'queued' AND ${UNFINISHED} AND +run_at", "AND state = 'queued' AND +run_at"),
    q(
      "AND state = 'running' AND ${UNFINISHED} AND +lease_expires_at",
      "AND state = 'running' AND +lease_expires_at",
    ),
    q('FROM jobs WHERE ${UNFINISHED} GROUP BY queue, state', 'FROM jobs GROUP BY queue, state'),
    q('FROM jobs WHERE finished_at IS NOT NULL AND NOT', 'FROM jobs WHERE NOT'),
    q(') ORDER BY priority DESC, run_at, id LIMIT ${LIMIT}`', ') ORDER BY run_at, id LIMIT ${LIMIT}`'),
    q("const EXHAUSTED = 'attempts >= max_attempts'", "const EXHAUSTED = 'attempts > max_attempts'"),
    q('lease_token = lease_token + 1,', 'lease_token = lease_token,'),
    q('THEN attempts ELSE attempts + 1 END', 'THEN attempts ELSE attempts END'),
    // fail: retry or dead, and when
    q(
      "state = CASE WHEN @retryable AND attempts < max_attempts THEN 'queued'",
      "state = CASE WHEN @retryable AND attempts <= max_attempts THEN 'queued'",
    ),
    q(
      "state = CASE WHEN @retryable AND attempts < max_attempts THEN 'queued'",
      "state = CASE WHEN attempts < max_attempts THEN 'queued'",
    ),
    q(
      'run_at = CASE WHEN @retryable AND attempts < max_attempts THEN @retryAt ELSE run_at END',
      'run_at = run_at',
    ),
    q(
      'finished_at = CASE WHEN @retryable AND attempts < max_attempts THEN NULL ELSE @now END',
      'finished_at = @now',
    ),
    // the fencing guard of every operation on a claimed job
    q(
      'const GUARD = "id = @id AND lease_token = @token AND state = \'running\'"',
      'const GUARD = "id = @id AND state = \'running\'"',
    ),
    q(
      'const GUARD = "id = @id AND lease_token = @token AND state = \'running\'"',
      'const GUARD = "id = @id AND lease_token = @token"',
    ),
    q('SET lease_expires_at = @expires, updated_at = @now WHERE', 'SET updated_at = @now WHERE'),
    // release, cancel, redrive
    q('attempts = max(attempts - 1, 0)', 'attempts = attempts'),
    q("WHERE id = @id AND state IN ('queued', 'running')`", 'WHERE id = @id`'),
    q("WHERE id = @id AND state = 'dead'`", 'WHERE id = @id`'),
    q("UPDATE jobs SET state = 'queued', attempts = 0,", "UPDATE jobs SET state = 'queued',"),
    // dedupe, list, prune
    q(
      "dedupe_key = @dedupeKey AND state IN ('queued', 'running')`",
      "dedupe_key = @dedupeKey AND state = 'queued'`",
    ),
    q('(@beforeId IS NULL OR id < @beforeId)', '(@beforeId IS NULL OR id <= @beforeId)'),
    q('AND (@kind IS NULL OR kind = @kind)', ''),
    q('j.finished_at < @cutoff', 'j.finished_at <= @cutoff'),
    q('AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_id = j.id)', ''),
  ],
  leases: [
    l(
      "leases.owner IS excluded.owner AND leases.expires_at > @now'",
      "leases.owner IS excluded.owner AND leases.expires_at >= @now'",
    ),
    l('WHERE leases.expires_at <= @now OR', 'WHERE leases.expires_at < @now OR'),
    l(' OR leases.owner IS NULL OR', ' OR'),
    l(' OR leases.owner = excluded.owner', ''),
    l('ELSE leases.token + 1 END', 'ELSE leases.token END'),
    l(
      'THEN leases.acquired_at ELSE excluded.acquired_at END',
      'THEN excluded.acquired_at ELSE excluded.acquired_at END',
    ),
    l(
      'AND owner = @owner AND token = @token AND expires_at > @now',
      'AND owner = @owner AND expires_at > @now',
    ),
    l('AND owner = @owner AND token = @token AND expires_at > @now', 'AND owner = @owner AND token = @token'),
    l('AND token = @token AND expires_at > @now', 'AND token = @token AND expires_at >= @now'),
    l('WHERE name = @name AND owner = @owner AND token = @token`', 'WHERE name = @name AND owner = @owner`'),
    l('SET owner = NULL, expires_at = 0,', 'SET owner = NULL,'),
  ],
  alerts: [
    a("'firing', @now, NULL, @now, 1, @source)", "'firing', @now, NULL, @now, 0, @source)"),
    a(
      'SET severity = @severity, annotations = @annotations, source = @source, updated_at = @now',
      'SET annotations = @annotations, source = @source, updated_at = @now',
    ),
    a('episode = episode + 1', 'episode = episode'),
    a('starts_at = @now, ends_at = NULL,', 'ends_at = NULL,'),
    a('starts_at = @now, ends_at = NULL,', 'starts_at = @now,'),
    a("SET status = 'resolved', ends_at = @now,", "SET status = 'resolved',"),
    a('WHERE (@status IS NULL OR status = @status)', 'WHERE (1 OR status = @status)'),
    a('ORDER BY updated_at DESC, fingerprint', 'ORDER BY updated_at, fingerprint'),
    a('WHERE fingerprint = ? ORDER BY id', 'WHERE fingerprint = ? ORDER BY id DESC'),
  ],
  'dispatcher-outbox': [
    // siblings: what a new notification supersedes, or waits behind
    o(
      "AND state IN ('held', 'pending', 'retry_wait', 'sending') ORDER BY id",
      "AND state IN ('held', 'pending', 'retry_wait') ORDER BY id",
    ),
    o(
      "AND state IN ('held', 'pending', 'retry_wait', 'sending') ORDER BY id",
      "AND state IN ('held', 'pending', 'sending') ORDER BY id",
    ),
    o(
      'WHERE receiver = ? AND group_key = ? AND id <> ?',
      'WHERE receiver = ? AND (group_key = ? OR 1) AND id <> ?',
    ),
    // releaseHeld: the newest held one stands for the others
    o("AND state = 'held' ORDER BY id\",", "AND state = 'held' ORDER BY id DESC\","),
    // releaseOrphanedHeld: only groups with nothing in flight
    o('s.receiver = h.receiver AND s.group_key = h.group_key AND', 's.receiver = h.receiver AND'),
    o("WHERE h.state = 'held' AND NOT EXISTS (", "WHERE h.state = 'held' AND EXISTS ("),
    // yieldToNewer: gives way to the newest held one
    o('AND id > ? ORDER BY id DESC LIMIT 1', 'AND id > ? ORDER BY id LIMIT 1'),
    // every state change stamps updated_at
    o('SET state = @state, updated_at = @now${sets}', 'SET state = @state${sets}'),
  ],
  // Not SQL: the supervisor runs in a child process, out of Stryker's reach (see scripts/mutate.ts).
  'converter-supervisor': [
    // dies of the SIGTERM meant for its converter, so nobody records how the converter ended
    sup("for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => undefined);", ''),
    // no supervisor.json: a restarted daemon cannot adopt the running conversion
    sup('writeJsonAtomic(SUPERVISOR_FILE, {', 'void (SUPERVISOR_FILE, {'),
    // wrong start ticks: the live supervisor looks like a reused pid
    sup('startTicks: pidStartTicks(process.pid),', 'startTicks: (pidStartTicks(process.pid) ?? 0) + 1,'),
    // the converter's exit status or signal lost from exit.json
    sup(
      "child.once('exit', (code, signal) => finish({ exitCode: code, signal, spawnError: null }));",
      "child.once('exit', (code, signal) => finish({ exitCode: code ?? 0, signal, spawnError: null }));",
    ),
    sup(
      "child.once('exit', (code, signal) => finish({ exitCode: code, signal, spawnError: null }));",
      "child.once('exit', (code) => finish({ exitCode: code, signal: null, spawnError: null }));",
    ),
    // a converter that cannot start leaves the supervisor waiting for an exit that never comes
    sup("child.once('error', (e) => finish({ exitCode: null, signal: null, spawnError: e.message }));", ''),
    // no exit.json: every finished conversion looks like a crash
    sup('writeJsonAtomic(EXIT_FILE,', 'void (EXIT_FILE,'),
    // what the converter left behind outlives the attempt
    sup("if (processGroupOf(process.pid) === process.pid) process.kill(-process.pid, 'SIGKILL');", ''),
    // stderr goes nowhere: no reason in the attempt's error
    sup("stdio: ['ignore', out, err]", "stdio: ['ignore', out, 'ignore']"),
    sup("stdio: ['ignore', out, err]", "stdio: ['ignore', 'ignore', err]"),
  ],
};

export interface SqlOutcome {
  mutant: SqlMutant;
  killed: boolean;
}

/**
 * Run each mutant in `sandbox` (a copy of the repository): edit the file, run the test files with vitest
 * (bail at the first failure), put the file back. A failing run kills the mutant.
 */
export async function runSqlMutants(
  sandbox: string,
  mutants: readonly SqlMutant[],
  testFiles: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<SqlOutcome[]> {
  const originals = new Map<string, string>();
  for (const m of mutants) {
    const text = originals.get(m.file) ?? fs.readFileSync(path.join(sandbox, m.file), 'utf8');
    originals.set(m.file, text);
    const hits = text.split(m.find).length - 1;
    if (hits !== 1)
      throw new Error(`stale SQL mutant in scripts/sql-mutants.ts: "${m.find}" occurs ${hits}× in ${m.file}`);
  }
  const outcomes: SqlOutcome[] = [];
  for (const m of mutants) {
    const file = path.join(sandbox, m.file);
    fs.writeFileSync(file, originals.get(m.file)!.replace(m.find, m.replace));
    try {
      const passed = await vitestPasses(sandbox, testFiles, env);
      outcomes.push({ mutant: m, killed: !passed });
      console.log(`  ${passed ? 'Survived' : 'Killed  '} ${m.file}: ${m.find} → ${m.replace || '(removed)'}`);
    } finally {
      fs.writeFileSync(file, originals.get(m.file)!);
    }
  }
  return outcomes;
}

export function vitestPasses(
  cwd: string,
  testFiles: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<boolean> {
  const args = [
    path.join(cwd, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    '--config',
    'scripts/vitest.mutate.config.ts',
    '--bail',
    '1',
    '--reporter',
    'dot',
  ];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      {
        cwd,
        env: { ...env, CONTIMG_MUTATE_TESTS: JSON.stringify(testFiles) },
        maxBuffer: 64 << 20,
        timeout: 15 * 60_000,
      },
      (err) => {
        if (!err) return resolve(true);
        // Failing tests, or a run that hung until the timeout: either way the mutant was noticed.
        if (typeof err.code === 'number' || err.killed) return resolve(false);
        reject(err);
      },
    );
  });
}
