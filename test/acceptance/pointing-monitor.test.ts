// Acceptance: the BUILT pointing monitor (dist/daemons/pointing-monitor/main.js) next to the BUILT
// streaming converter on one temporary state database. The simulator writes DSA-110 subband groups into
// incoming/, the converter indexes them in hdf5_files, and the pointing monitor reads the sb00 headers it
// indexed: /metrics, the /ws event stream and the pointing tables along one timeline, then SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import YAML from 'yaml';
import { simulate } from '../../lib/sim/index.js';
import { freshDatabases } from '../helpers/db.js';
import { freePort } from '../helpers/net.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { CONVERT_CHECK_ARGS } from '../../lib/config/sections/streaming-converter.js';

const POINTING = path.join(REPO_ROOT, 'dist/daemons/pointing-monitor/main.js');
const CONVERTER = path.join(REPO_ROOT, 'dist/daemons/streaming-converter/main.js');
const CLI = path.join(REPO_ROOT, 'dist/cli/contimg.js');
const DEG = Math.PI / 180;

interface Proc {
  child: ChildProcess;
  port: number;
  out: () => string;
  exited: Promise<{ code: number | null }>;
}

async function start(main: string, config: string, port: number): Promise<Proc> {
  let out = '';
  const child = spawn(process.execPath, [main, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null }>((r) => child.once('exit', (code) => r({ code })));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${main} exited ${child.exitCode}: ${out.slice(-2000)}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    },
    { what: `${path.basename(path.dirname(main))} ready`, timeoutMs: 30_000, intervalMs: 100 },
  );
  return { child, port, out: () => out, exited };
}

const metric = (text: string, re: RegExp): number | undefined => {
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
};

let dir = '';
const procs: Proc[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }
  removeTmpDir(dir);
});

describe('contimg-pointing-monitor (built)', () => {
  it('reads the headers the streaming converter indexed, detects a declination change, reports it', async () => {
    dir = makeTmpDir('contimg-pointing-acc-');
    const { statePath, pipelinePath } = await freshDatabases(path.join(dir, 'db'));
    const incoming = path.join(dir, 'incoming');
    fs.mkdirSync(incoming);
    const [convPort, pointPort] = [await freePort(), await freePort()];
    const config = path.join(dir, 'contimg.yaml');
    fs.writeFileSync(
      config,
      YAML.stringify({
        dataDir: dir,
        databases: { state: statePath, pipeline: pipelinePath },
        log: { level: 'warn' },
        streamingConverter: {
          port: convPort,
          incomingDir: incoming,
          settleS: 0.2,
          scanIntervalS: 0.3,
          minFreeGb: 0,
          converter: {
            argv: [process.execPath, CLI, ...CONVERT_CHECK_ARGS],
            timeoutS: 60,
          },
        },
        pointingMonitor: { port: pointPort, pollIntervalS: 0.2, statusIntervalS: 0.3, backfillDays: 1 },
      }),
    );
    const pm = await start(POINTING, config, pointPort);
    procs.push(pm);
    const text0 = await (await fetch(`http://127.0.0.1:${pointPort}/metrics`)).text();
    expect(text0).toMatch(/contimg_pointing_header_reads_total\{result="ok"\} 0/);
    expect(text0).toMatch(/contimg_pointing_next_transit_timestamp_seconds\{calibrator="3C286"\} \d+/);
    expect(
      metric(text0, /contimg_pointing_local_sidereal_time_seconds\{kind="apparent"\} ([\d.]+)/),
    ).toBeLessThan(86_400);
    expect(metric(text0, /contimg_pointing_upcoming_transits ([\d.]+)/)).toBeGreaterThan(0);

    const ws = new WebSocket(`ws://127.0.0.1:${pointPort}/ws`);
    const seen: { event: string; payload: Record<string, unknown> }[] = [];
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as {
        type: string;
        event: string;
        payload: Record<string, unknown>;
      };
      if (m.type === 'event') seen.push(m);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', topic: 'pointing' }));

    procs.push(await start(CONVERTER, config, convPort));
    // Recent observations (the monitor looks back backfillHours): 3 groups at 54.5734°, then 2 at 16.27°.
    const t0 = Math.floor((Date.now() - 40 * 60_000) / 1000) * 1000;
    await simulate({
      incomingDir: incoming,
      groups: 3,
      cadenceS: 0,
      spacingS: 309,
      startMs: t0,
      decRad: 54.5734 * DEG,
      faults: [],
    });
    await simulate({
      incomingDir: incoming,
      groups: 2,
      cadenceS: 0,
      spacingS: 309,
      startMs: t0 + 3 * 309_000,
      decRad: 16.27 * DEG,
      faults: [],
    });

    const db = new Database(statePath, { readonly: true });
    try {
      await waitFor(
        () => (db.prepare('SELECT count(*) AS n FROM pointing_observations').get() as { n: number }).n === 5,
        {
          what: 'five observations',
          timeoutMs: 60_000,
        },
      );
      const indexed = db
        .prepare("SELECT count(*) AS n FROM hdf5_files WHERE subband = 0 AND state = 'valid'")
        .get() as { n: number };
      expect(indexed.n).toBe(5);
      const obs = db
        .prepare('SELECT group_id, dec_deg, source_path FROM pointing_observations ORDER BY mid_unix')
        .all() as {
        group_id: string;
        dec_deg: number;
        source_path: string;
      }[];
      expect(obs.map((o) => o.dec_deg.toFixed(4))).toEqual([
        '54.5734',
        '54.5734',
        '54.5734',
        '16.2700',
        '16.2700',
      ]);
      expect(obs.every((o) => o.source_path.endsWith(`${o.group_id}_sb00.hdf5`))).toBe(true);
      await waitFor(() => seen.some((e) => e.event === 'pointing.dec_changed'), {
        what: 'dec_changed on /ws',
      });
      const change = seen.find((e) => e.event === 'pointing.dec_changed')!.payload;
      expect(change.oldDecDeg).toBeCloseTo(54.5734, 6);
      expect(change.newDecDeg).toBeCloseTo(16.27, 6);
      expect(seen.filter((e) => e.event === 'pointing.observation')).toHaveLength(5);

      const text = await (await fetch(`http://127.0.0.1:${pointPort}/metrics`)).text();
      expect(text).toMatch(/contimg_pointing_header_reads_total\{result="ok"\} 5/);
      expect(text).toMatch(/contimg_pointing_declination_changes_total 1/);
      expect(metric(text, /contimg_pointing_declination_degrees ([\d.]+)/)).toBeCloseTo(16.27, 6);
      expect(text).toMatch(/contimg_pointing_slewing 0/);
      expect(text).toMatch(/contimg_pointing_next_transit_timestamp_seconds\{calibrator="3C138"\} \d+/);
      const alert = db
        .prepare("SELECT status FROM alerts WHERE alertname = 'PointingDeclinationChanged'")
        .get() as { status: string };
      expect(alert.status).toBe('firing');
      await waitFor(
        () => {
          const s = db.prepare('SELECT snapshot FROM pointing_status WHERE id = 1').get() as
            { snapshot: string } | undefined;
          const snap = s ? (JSON.parse(s.snapshot) as { decDeg: number; state: string }) : undefined;
          return snap?.decDeg === 16.27 && snap.state === 'stable';
        },
        { what: 'status snapshot at 16.27' },
      );
      const status = (await (await fetch(`http://127.0.0.1:${pointPort}/api/pointing/status`)).json()) as {
        decDeg: number;
      };
      expect(status.decDeg).toBe(16.27);
    } finally {
      db.close();
      ws.close();
    }
    for (const p of procs) p.child.kill('SIGTERM');
    for (const p of procs.splice(0)) expect((await p.exited).code).toBe(0);
  });
});
