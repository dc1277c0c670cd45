// The scan model at scale (issue 17): a quick pass costs the work in flight, not the history; a file the
// watcher never reported is still found by the reconcile, and so is a file that changed under a known name;
// without a watcher, a directory change is listed at the next quick pass.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { RACY_MS } from '../../../daemons/streaming-converter/dirstamp.js';
import { waitFor } from '../../helpers/wait.js';
import { groups, makeEnv, query, T0, writeGroupFiles, writeSubband, type Env } from './harness.js';
import { seedConverted } from './seed.js';
import { trackDaemons } from './track.js';

let env: Env;
let d: RunningDaemon | undefined;
const tracker = trackDaemons(() => env);

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${d!.port}/metrics`)).text();
}

/** A converter series' value; `labels` exactly as exposed (`kind="quick"`), '' for none. */
function series(m: string, name: string, labels: string): number {
  const line = `contimg_converter_${name}${labels ? `{${labels}}` : ''} `;
  const at = m.split('\n').find((l) => l.startsWith(line));
  return at === undefined ? NaN : Number(at.slice(line.length));
}

const reconciles = async (reason: string): Promise<number> =>
  series(await metrics(), 'reconciles_total', `reason="${reason}"`);

/**
 * Make the kernel drop the watcher's events for whatever `act` does: with this (single) event loop blocked,
 * fill the inotify queue (max_queued_events, 16384 by default) with alternating events on two junk files —
 * identical consecutive events would be merged — so the events of `act` overflow and are lost.
 */
function withEventsDropped(dir: string, act: () => void): void {
  const junk = [path.join(dir, 'flood-a.dat'), path.join(dir, 'flood-b.dat')];
  const queued = Number(fs.readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
  const t = new Date();
  for (let i = 0; i < queued * 2 + 1000; i++) fs.utimesSync(junk[i % 2], t, t);
  act();
}

function fileRow(p: string): { state: string; first_seen_at: number } | undefined {
  return query<{ state: string; first_seen_at: number }>(
    env,
    'SELECT state, first_seen_at FROM hdf5_files WHERE path = ?',
    p,
  )[0];
}

describe('scan model', () => {
  it('a file whose watcher events were dropped is found by the periodic reconcile', async () => {
    env = await makeEnv({ reconcileIntervalS: 3 });
    for (const j of ['flood-a.dat', 'flood-b.dat']) fs.writeFileSync(path.join(env.incoming, j), 'x');
    d = await tracker.start(env);
    await waitFor(async () => (await reconciles('start')) === 1, { what: 'start-up listing' });
    const before = await reconciles('interval');
    let missed = '';
    withEventsDropped(env.incoming, () => {
      missed = writeSubband(env.incoming, T0, 3);
    });
    const flood = series(await metrics(), 'watch_events_total', 'type="change"');
    await waitFor(() => fileRow(missed)?.state === 'valid', {
      what: 'the missed file valid',
      timeoutMs: 30_000,
    });
    const m = await metrics();
    // The watcher did deliver the flood (it is healthy), the quick passes saw the directory change with
    // events, so nothing but the interval reconcile listed the directory.
    expect(flood).toBeGreaterThan(1000);
    expect(series(m, 'reconciles_total', 'reason="interval"')).toBeGreaterThan(before);
    expect(series(m, 'reconciles_total', 'reason="unexplained"')).toBe(0);
    expect(series(m, 'reconciles_total', 'reason="overflow"')).toBe(0);
    expect(groups(env)).toMatchObject([{ state: 'collecting', n_valid: 1 }]);
  });

  it('a converted input that changes under its name while no event arrives is caught by the reconcile', async () => {
    env = await makeEnv({ reconcileIntervalS: 3 });
    for (const j of ['flood-a.dat', 'flood-b.dat']) fs.writeFileSync(path.join(env.incoming, j), 'x');
    const paths = writeGroupFiles(env.incoming, T0);
    d = await tracker.start(env);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    withEventsDropped(env.incoming, () => fs.appendFileSync(paths[7], Buffer.alloc(512)));
    await waitFor(() => fileRow(paths[7])?.state === 'changed', { what: 'changed', timeoutMs: 30_000 });
    expect(
      query<{ status: string }>(env, "SELECT status FROM alerts WHERE alertname = 'ConverterInputChanged'"),
    ).toEqual([{ status: 'firing' }]);
    expect(await reconciles('interval')).toBeGreaterThan(0);
  });

  it('without a watcher, a directory change is listed at the next quick pass', async () => {
    env = await makeEnv({ watch: false });
    d = await tracker.start(env);
    await waitFor(async () => (await reconciles('start')) === 1, { what: 'start-up listing' });
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    expect(await reconciles('unexplained')).toBeGreaterThan(0);
    expect(await reconciles('interval')).toBe(0);
    // Once the directory has been quiet for longer than a timestamp tick can hide a change (RACY_MS), quick
    // passes stop listing it.
    const quick = async (): Promise<number> =>
      series(await metrics(), 'scan_duration_seconds_count', 'kind="quick"');
    let q = await quick();
    await waitFor(async () => (await quick()) >= q + (2 * RACY_MS) / 500, { what: 'the racy window passed' });
    const listings = await reconciles('unexplained');
    q = await quick();
    await waitFor(async () => (await quick()) >= q + 8, { what: 'eight more quick passes' });
    expect(await reconciles('unexplained')).toBe(listings);
  });

  it('another directory put in place of incomingDir is listed and watched at the next quick pass', async () => {
    env = await makeEnv();
    d = await tracker.start(env);
    await waitFor(async () => (await reconciles('start')) === 1, { what: 'start-up listing' });
    fs.renameSync(env.incoming, `${env.incoming}.old`);
    fs.mkdirSync(env.incoming);
    writeGroupFiles(env.incoming, T0);
    await waitFor(() => groups(env)[0]?.state === 'converted', { what: 'converted' });
    expect(await reconciles('replaced')).toBe(1);
    // The new directory is watched: a straggler is judged without another listing.
    const late = writeSubband(env.incoming, T0, 5, { jitterS: 3 });
    await waitFor(() => fileRow(late)?.state === 'late', { what: 'late file judged' });
    expect(await reconciles('replaced')).toBe(1);
    expect(await reconciles('unexplained')).toBe(0);
  });

  it('quick passes examine the files in flight, not the 3,200 converted ones; the reconcile examines them all', async () => {
    env = await makeEnv();
    seedConverted(env.incoming, env.statePath, 200, T0 - 200 * 309_000);
    d = await tracker.start(env);
    await waitFor(
      async () => series(await metrics(), 'scan_duration_seconds_count', 'kind="reconcile"') >= 1,
      {
        what: 'start-up reconcile',
      },
    );
    writeGroupFiles(env.incoming, T0, { skip: [15] });
    await waitFor(() => groups(env).some((g) => g.state === 'collecting' && g.n_valid === 15), {
      what: '15 of 16 valid',
    });
    const m0 = await metrics();
    const count = (m: string): number => series(m, 'scan_files_examined_count', 'kind="quick"');
    const sum = (m: string): number => series(m, 'scan_files_examined_sum', 'kind="quick"');
    await waitFor(async () => count(await metrics()) >= count(m0) + 4, { what: 'four more quick passes' });
    const m1 = await metrics();
    const perPass = (sum(m1) - sum(m0)) / (count(m1) - count(m0));
    // The open group's 15 files (plus a hinted or settling one now and then), never the history.
    expect(perPass).toBeGreaterThanOrEqual(15);
    expect(perPass).toBeLessThan(40);
    // The start-up reconcile listed every entry and verified every known row.
    expect(series(m1, 'scan_files_examined_sum', 'kind="reconcile"')).toBeGreaterThanOrEqual(2 * 3200);
    expect(series(m1, 'scan_entries', '')).toBeGreaterThanOrEqual(3200);
  });
});
