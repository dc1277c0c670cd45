// The optional archive policy (streamingConverter.archive): a converted group's inputs move to
// dir/YYYY-MM-DD/ by rename, recorded in hdf5_files and converter_archive_moves; a SIGKILL between the
// renames and the row update is repaired at the next start; another file system is refused.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../../lib/db/index.js';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { parseConfig } from '../../../lib/config/index.js';
import { ConfigError } from '../../../lib/errors.js';
import { requeueGroup } from '../../../daemons/streaming-converter/admin.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { mountTmpfs, unmountTmpfs } from '../../helpers/tmpfs.js';
import { waitFor } from '../../helpers/wait.js';
import {
  events,
  fakeLog,
  groups,
  makeEnv,
  query,
  startInProcess,
  T0,
  writeConfigFile,
  writeGroupFiles,
  type Env,
} from './harness.js';
import { MAIN, metricsText, spawnDaemon, type DaemonProc } from './proc.js';

let env: Env;
let d: RunningDaemon | undefined;
const procs: DaemonProc[] = [];
let mounted: string | undefined;
afterEach(async () => {
  await d?.stop();
  d = undefined;
  for (const p of procs.splice(0))
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  if (mounted) unmountTmpfs(mounted);
  mounted = undefined;
  removeTmpDir(env.dir);
});

const GROUP = '2025-06-01T12:00:00';

function archiveDir(e: Env): string {
  return path.join(e.dir, 'archive');
}

/** The same folders and databases with the archive policy on (afterHours) or off (null). */
function withArchive(e: Env, afterHours: number | null): Env {
  (e.raw.streamingConverter as Record<string, unknown>).archive =
    afterHours === null ? undefined : { afterHours, dir: archiveDir(e) };
  return { ...e, config: parseConfig(e.raw, e.dir) };
}

async function archivedEnv(afterHours: number): Promise<Env> {
  return withArchive(await makeEnv(), afterHours);
}

const rows = (e: Env) =>
  query<{ path: string; state: string }>(e, 'SELECT path, state FROM hdf5_files ORDER BY subband');
const moves = (e: Env) =>
  query<{ from_path: string; to_path: string; moved_at: number | null }>(
    e,
    'SELECT from_path, to_path, moved_at FROM converter_archive_moves ORDER BY id',
  );
const archivedAt = (e: Env) =>
  query<{ archived_at: number | null }>(e, 'SELECT archived_at FROM converter_groups')[0]?.archived_at;

/** Every input of the group is in dir/2025-06-01/, its row says so, and each move is recorded as done. */
function expectArchived(e: Env, inputs: string[]): void {
  const dated = path.join(archiveDir(e), '2025-06-01');
  const expected = inputs.map((p) => path.join(dated, path.basename(p)));
  for (const p of inputs) expect(fs.existsSync(p), p).toBe(false);
  for (const p of expected) expect(fs.existsSync(p), p).toBe(true);
  expect(rows(e)).toEqual(expected.map((p) => ({ path: p, state: 'valid' })));
  const done = moves(e).filter((m) => m.moved_at !== null);
  expect(done.map((m) => m.from_path).sort()).toEqual([...inputs].sort());
  expect(done.map((m) => m.to_path).sort()).toEqual([...expected].sort());
  expect(moves(e).filter((m) => m.moved_at === null)).toEqual([]);
  expect(archivedAt(e)).not.toBeNull();
  expect(
    query(e, "SELECT 1 FROM alerts WHERE alertname IN ('ConverterInputGone', 'ConverterArchiveFailed')"),
  ).toEqual([]);
}

describe('archive policy', () => {
  it('moves a converted group into dir/YYYY-MM-DD/ with its rows and a record; a requeue converts from there', async () => {
    env = await archivedEnv(0);
    const inputs = writeGroupFiles(env.incoming, T0);
    d = await startInProcess(env);
    await waitFor(() => archivedAt(env), { what: 'archived' });
    expectArchived(env, inputs);
    expect(events(env, 'converter.archived')).toHaveLength(1);
    expect(JSON.parse(events(env, 'converter.archived')[0].payload)).toMatchObject({
      groupId: GROUP,
      files: 16,
    });
    const m = await (await fetch(`http://127.0.0.1:${d.port}/metrics`)).text();
    expect(m).toMatch(/contimg_converter_archived_files_total\{result="moved"\} 16/);
    // Downstream paths stay true: a requeued group is converted from the archived paths.
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      requeueGroup(db, GROUP, Date.now());
    } finally {
      db.close();
    }
    await waitFor(() => fakeLog(env).filter((l) => l.event === 'start').length === 2, {
      what: 'second conversion',
    });
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted again' });
    const manifest = query<{ manifest_path: string }>(
      env,
      'SELECT manifest_path FROM converter_attempts ORDER BY attempt DESC LIMIT 1',
    )[0].manifest_path;
    const files = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { files: { path: string }[] }).files;
    expect(files.map((f) => f.path)).toEqual(rows(env).map((r) => r.path));
    expect(rows(env).every((r) => r.state === 'valid')).toBe(true);
  });

  it('leaves a converted group in place until afterHours have passed', async () => {
    env = await archivedEnv(1);
    const inputs = writeGroupFiles(env.incoming, T0);
    d = await startInProcess(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    const quick = async (): Promise<number> =>
      Number(
        /contimg_converter_scan_duration_seconds_count\{kind="quick"\} (\d+)/.exec(
          await (await fetch(`http://127.0.0.1:${d!.port}/metrics`)).text(),
        )![1],
      );
    const q = await quick();
    // The archive loop ticks every scanIntervalS, like the quick pass.
    await waitFor(async () => (await quick()) >= q + 6, { what: 'six more ticks' });
    for (const p of inputs) expect(fs.existsSync(p)).toBe(true);
    expect(archivedAt(env)).toBeNull();
    expect(moves(env)).toEqual([]);
  });

  it('SIGKILL between the renames and the row update: the next start completes the move', async () => {
    env = await archivedEnv(0);
    const a = await spawnDaemon(env, { CONTIMG_CONVERTER_FAULT: 'after-archive-rename' });
    procs.push(a);
    const inputs = writeGroupFiles(env.incoming, T0);
    expect((await a.exited).signal).toBe('SIGKILL');
    // The crash left the files renamed, the rows at their old paths and the intents open.
    for (const p of inputs) expect(fs.existsSync(p)).toBe(false);
    expect(rows(env).map((r) => r.path)).toEqual(inputs);
    expect(moves(env).filter((m) => m.moved_at === null)).toHaveLength(16);
    const b = await spawnDaemon(env);
    procs.push(b);
    await waitFor(() => archivedAt(env), { what: 'archived after restart' });
    expectArchived(env, inputs);
    expect(await metricsText(b)).toMatch(/contimg_converter_archived_files_total\{result="repaired"\} 16/);
    expect(groups(env)).toMatchObject([{ state: 'converted', attempts: 1 }]);
  });

  it('an intent whose rename never happened is dropped at start; the group is archived afterwards', async () => {
    env = await makeEnv();
    const inputs = writeGroupFiles(env.incoming, T0);
    // What a crash right after the intent transaction leaves: open intents, files still in incomingDir.
    d = await startInProcess(withArchive(env, null));
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    await d.stop();
    d = undefined;
    const db = openDb({ name: 'state', path: env.statePath });
    try {
      db.write((conn) => {
        const ins = conn.prepare(
          `INSERT INTO converter_archive_moves (group_ref, from_path, to_path, inode, dev, started_at)
           SELECT group_ref, path, ?, inode, dev, 0 FROM hdf5_files WHERE path = ?`,
        );
        for (const p of inputs) ins.run(path.join(archiveDir(env), '2025-06-01', path.basename(p)), p);
      });
    } finally {
      db.close();
    }
    d = await startInProcess(withArchive(env, 0));
    await waitFor(() => archivedAt(env), { what: 'archived' });
    expectArchived(env, inputs);
    expect(moves(env)).toHaveLength(16);
  });

  it('refuses (exit 78) an archive dir on another file system than incomingDir', async () => {
    env = await makeEnv();
    mounted = mountTmpfs(path.join(env.dir, 'other-fs'), 1 << 20);
    (env.raw.streamingConverter as Record<string, unknown>).archive = {
      afterHours: 0,
      dir: path.join(mounted, 'archive'),
    };
    const cfg = writeConfigFile(env);
    const child = spawn(process.execPath, [MAIN, '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(78);
    expect(err).toMatch(/streamingConverter\.archive\.dir: .* another file system than incomingDir/);
  });

  it('rejects an archive dir inside incomingDir in the schema (check-config and the daemon agree)', async () => {
    env = await makeEnv();
    const raw = structuredClone(env.raw);
    (raw.streamingConverter as Record<string, unknown>).archive = {
      afterHours: 24,
      dir: path.join(env.incoming, 'archive'),
    };
    expect(() => parseConfig(raw, env.dir)).toThrow(ConfigError);
    expect(() => parseConfig(raw, env.dir)).toThrow(
      /streamingConverter\.archive\.dir: must be outside incomingDir/,
    );
  });
});
