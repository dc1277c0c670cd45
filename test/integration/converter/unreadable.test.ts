// EACCES on an input: invalid:unreadable, re-checked later, accepted once readable. Needs a process
// that permission bits apply to: when the tests run as root the built daemon is started as `nobody`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { groups, makeEnv, query, T0, writeGroupFiles, type Env } from './harness.js';
import { spawnDaemon, type DaemonProc } from './proc.js';

let env: Env;
let p: DaemonProc | undefined;
afterEach(async () => {
  if (p && p.child.exitCode === null) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
  removeTmpDir(env.dir);
});

const runningAsRoot = process.getuid?.() === 0;
const nobody = (): { uid: number; gid: number } => ({
  uid: Number(execFileSync('id', ['-u', 'nobody']).toString()),
  gid: Number(execFileSync('id', ['-g', 'nobody']).toString()),
});

function openUp(dir: string): void {
  fs.chmodSync(dir, 0o777);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const q = path.join(dir, e.name);
    if (e.isDirectory()) openUp(q);
    else fs.chmodSync(q, 0o666);
  }
}

describe('unreadable input', () => {
  it('EACCES → invalid:unreadable, re-checked, valid once readable; the group converts', async () => {
    env = await makeEnv({ recheckInvalidS: 0.3, maxRechecks: 1000 });
    const files = writeGroupFiles(env.incoming, T0);
    openUp(env.dir);
    for (const f of files) fs.chmodSync(f, 0o644);
    fs.chmodSync(files[6], 0o000);
    p = await spawnDaemon(env, {}, runningAsRoot ? nobody() : undefined);
    const row = () =>
      query<{ state: string; reason: string; rechecks: number }>(
        env,
        'SELECT state, reason, rechecks FROM hdf5_files WHERE path = ?',
        files[6],
      )[0];
    await waitFor(() => row()?.state === 'invalid' && row().reason === 'unreadable', {
      what: 'unreadable',
    });
    await waitFor(() => row().rechecks >= 2, { what: 'rechecked' });
    expect(groups(env)[0].state).toBe('collecting');
    fs.chmodSync(files[6], 0o644);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted', timeoutMs: 30_000 });
    expect(row().state).toBe('valid');
  });
});
