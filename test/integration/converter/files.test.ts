// What becomes a valid file, and what does not.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { subbandFileName, writeSubbandFile } from '../../../lib/uvh5/writer.js';
import { waitFor } from '../../helpers/wait.js';
import {
  events,
  fakeLog,
  groups,
  makeEnv,
  query,
  T0,
  writeGroupFiles,
  writeSubband,
  type Env,
} from './harness.js';
import { trackDaemons } from './track.js';

let env: Env;
let d: RunningDaemon | undefined;
const tracker = trackDaemons(() => env);

interface FileLite {
  path: string;
  state: string;
  reason: string | null;
}
const files = (e: Env): FileLite[] =>
  query<FileLite>(e, 'SELECT path, state, reason FROM hdf5_files ORDER BY path');
const fileState = (e: Env, p: string): FileLite | undefined => files(e).find((f) => f.path === p);

describe('file acceptance', () => {
  it('slow writer: a growing file stays settling and is accepted after it stops', async () => {
    env = await makeEnv({ settleS: 0.6 });
    d = await tracker.start(env);
    const tmp = path.join(env.dir, 'whole.hdf5');
    writeSubbandFile(tmp, { subband: 4, startMs: T0, decRad: 0.97 });
    const data = fs.readFileSync(tmp);
    const final = path.join(env.incoming, subbandFileName(T0, 4));
    const fd = fs.openSync(final, 'w');
    const chunk = Math.ceil(data.length / 4);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      fs.writeSync(fd, data, i * chunk, Math.min(chunk, data.length - i * chunk), i * chunk);
      // Grow over 3 × settleS; each pause is shorter than settleS, so the file never settles meanwhile.
      const until = Date.now() + 450;
      while (Date.now() < until) {
        const f = fileState(env, final);
        if (f) seen.push(f.state);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    fs.closeSync(fd);
    expect(new Set(seen)).toEqual(new Set(['settling']));
    // A writer pause longer than settleS (a loaded machine) can make a half-written file look stable; the
    // superblock check (EOF address != size) then keeps it settling, so h5wasm never sees it growing.
    expect(['settling', 'valid']).toContain(fileState(env, final)?.state);
    await waitFor(() => fileState(env, final)?.state === 'valid', { what: 'valid after the last write' });
  });

  it('a file open by a writer (consistency flags set) is not accepted until closed', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    const tmp = path.join(env.dir, 'w.hdf5');
    writeSubbandFile(tmp, { subband: 2, startMs: T0, decRad: 0.97 });
    const bytes = fs.readFileSync(tmp);
    const open = Buffer.from(bytes);
    open[11] = 1; // superblock v2/v3 flags byte: "file is open for writing"
    const final = path.join(env.incoming, subbandFileName(T0, 2));
    fs.writeFileSync(final, open);
    await waitFor(() => fileState(env, final)?.reason === 'open_for_write', { what: 'open_for_write seen' });
    expect(fileState(env, final)?.state).toBe('settling');
    fs.writeFileSync(final, bytes); // the writer closes: flags back to 0
    await waitFor(() => fileState(env, final)?.state === 'valid', { what: 'valid after close' });
  });

  it('duplicate events and a second daemon tick give one row, one group, one attempt; temp names ignored', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    fs.writeFileSync(path.join(env.incoming, '.2025-06-01T12:00:00_sb00.hdf5.tmp'), 'partial');
    fs.writeFileSync(path.join(env.incoming, '2025-06-01T12:00:00_sb00.hdf5.tmp'), 'partial');
    const paths = writeGroupFiles(env.incoming, T0);
    for (const p of paths.slice(0, 4)) fs.utimesSync(p, new Date(), fs.statSync(p).mtime); // 'change' events
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    // More scans go by: nothing new may happen.
    const scans = Number(
      /contimg_converter_scan_duration_seconds_count\{kind="quick"\} (\d+)/.exec(await metrics(d))![1],
    );
    await waitFor(
      async () =>
        Number(
          /contimg_converter_scan_duration_seconds_count\{kind="quick"\} (\d+)/.exec(await metrics(d!))![1],
        ) >=
        scans + 2,
      {
        what: 'two more scans',
      },
    );
    expect(files(env)).toHaveLength(16);
    expect(groups(env)).toHaveLength(1);
    expect(query(env, 'SELECT * FROM converter_attempts')).toHaveLength(1);
    expect(fakeLog(env).filter((l) => l.event === 'start')).toHaveLength(1);
    const m = await metrics(d);
    expect(m).toMatch(/files_total\{result="bad_name",reason="dotfile"\} 1/);
    expect(m).toMatch(/files_total\{result="bad_name",reason="temp_suffix"\} 1/);
  });

  it('a valid file that vanishes before dispatch is gone (alert); the group completes when it is back', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    const paths = writeGroupFiles(env.incoming, T0, { skip: [15] });
    await waitFor(() => files(env).filter((f) => f.state === 'valid').length === 15, { what: '15 valid' });
    const saved = fs.readFileSync(paths[4]);
    fs.rmSync(paths[4]);
    await waitFor(() => fileState(env, paths[4])?.state === 'gone', { what: 'gone' });
    const gone = () =>
      query<{ status: string }>(env, "SELECT status FROM alerts WHERE alertname = 'ConverterInputGone'");
    expect(gone()).toEqual([{ status: 'firing' }]);
    fs.writeFileSync(paths[4], saved);
    writeSubband(env.incoming, T0, 15);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    expect(fakeLog(env).find((l) => l.event === 'start')?.subbands).toEqual([...Array(16).keys()]);
    expect(gone()).toEqual([{ status: 'resolved' }]);
  });

  it('bad names are ignored without groups, counted once each', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    const bad = [
      '.2025-06-01T12:00:00_sb01.hdf5',
      'x2025-06-01T12:00:00_sb01.hdf5',
      '2025-06-01T12:00:00_sb16.hdf5',
      '2025-06-01T12:00:00_sb1.hdf5',
      '2025-06-01T12:00:00_SB01.hdf5',
      '2025-06-01T12:00:00_sb01.hdf5.tmp',
      '2025-06-01T12:00:00_sb01.h5',
      '2025-13-40T25:61:61_sb01.hdf5',
    ];
    const tmp = path.join(env.dir, 'valid.hdf5');
    writeSubbandFile(tmp, { subband: 1, startMs: T0, decRad: 0.97 });
    for (const n of bad) fs.copyFileSync(tmp, path.join(env.incoming, n));
    await waitFor(
      async () => {
        const m = await metrics(d!);
        const counts = [...m.matchAll(/files_total\{result="bad_name",reason="[a-z_]+"\} (\d+)/g)].map((x) =>
          Number(x[1]),
        );
        return counts.reduce((a, b) => a + b, 0) === bad.length;
      },
      { what: 'all bad names counted' },
    );
    const before = await metrics(d);
    const scans = Number(/scan_duration_seconds_count\{kind="quick"\} (\d+)/.exec(before)![1]);
    await waitFor(
      async () =>
        Number(/scan_duration_seconds_count\{kind="quick"\} (\d+)/.exec(await metrics(d!))![1]) >= scans + 2,
      { what: 'more scans' },
    );
    const after = await metrics(d);
    expect([...after.matchAll(/files_total\{result="bad_name".*/g)].map(String)).toEqual(
      [...before.matchAll(/files_total\{result="bad_name".*/g)].map(String),
    );
    expect(files(env)).toHaveLength(0);
    expect(groups(env)).toHaveLength(0);
  });

  it('corrupt input: zero-byte, text, truncated, wrong Nfreqs → invalid with reasons; no dispatch', async () => {
    // A truncated file waits (a copy may still be growing) until maxSettleS, then becomes invalid.
    env = await makeEnv({ maxSettleS: 1 });
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0, { skip: [1, 2, 3, 4] });
    const p = (sb: number) => path.join(env.incoming, subbandFileName(T0, sb));
    fs.writeFileSync(p(1), '');
    fs.writeFileSync(p(2), 'not hdf5 at all\n'.repeat(10));
    const whole = path.join(env.dir, 'whole.hdf5');
    writeSubbandFile(whole, { subband: 3, startMs: T0, decRad: 0.97 });
    fs.writeFileSync(p(3), fs.readFileSync(whole).subarray(0, 5000));
    writeSubband(env.incoming, T0, 4, { spec: { nChannels: 47 } });
    await waitFor(() => files(env).filter((f) => f.state === 'invalid').length === 4, {
      what: 'four invalid',
    });
    expect(
      Object.fromEntries(
        files(env)
          .filter((f) => f.state === 'invalid')
          .map((f) => [path.basename(f.path).slice(-9, -5), f.reason]),
      ),
    ).toEqual({
      sb01: 'empty',
      sb02: 'not_hdf5',
      sb03: 'truncated',
      sb04: 'header_mismatch',
    });
    expect(groups(env)[0].state).toBe('collecting');
    expect(fakeLog(env)).toHaveLength(0);
  });

  it('a straggler for an already converted group is late, not a new group', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    writeGroupFiles(env.incoming, T0);
    await waitFor(
      () =>
        files(env).filter((f) => f.state === 'valid').length === 16 && groups(env)[0].state === 'converted',
      { what: 'converted' },
    );
    const dup = writeSubband(env.incoming, T0, 5, { jitterS: 3 });
    await waitFor(() => fileState(env, dup)?.state !== 'settling' && fileState(env, dup), {
      what: 'dup judged',
    });
    expect(fileState(env, dup)?.state).toBe('late');
    expect(groups(env)).toHaveLength(1);
    expect(query(env, "SELECT 1 FROM alerts WHERE alertname = 'ConverterLateFile'")).toHaveLength(1);
  });

  it('duplicate before dispatch: the second path for a slot is a duplicate; the group converts with the first', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    const firsts = writeGroupFiles(env.incoming, T0, { skip: [15] });
    await waitFor(() => files(env).filter((f) => f.state === 'valid').length === 15, { what: '15 valid' });
    const dup = writeSubband(env.incoming, T0, 5, { jitterS: 3 });
    await waitFor(() => fileState(env, dup)?.state === 'duplicate', { what: 'duplicate' });
    writeSubband(env.incoming, T0, 15);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    expect(groups(env)).toHaveLength(1);
    expect(fileState(env, firsts[5])?.state).toBe('valid');
    const alerts = query<{ alertname: string; labels: string }>(
      env,
      "SELECT alertname, labels FROM alerts WHERE alertname = 'ConverterDuplicateSubband'",
    );
    expect(alerts).toHaveLength(1);
    expect(events(env, 'converter.file_duplicate')).toHaveLength(1);
  });
});

async function metrics(daemon: RunningDaemon): Promise<string> {
  return (await fetch(`http://127.0.0.1:${daemon.port}/metrics`)).text();
}
