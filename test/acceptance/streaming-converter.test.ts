// Acceptance: the BUILT daemon (dist/daemons/streaming-converter/main.js) with a temporary config and
// databases, fed by the simulator's files and converting with the real built-in check (`contimg
// convert-check`, also built): /healthz, /readyz, /metrics and the /ws event stream along one timeline.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { simulate } from '../../lib/sim/index.js';
import { REPO_ROOT, removeTmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { groups, makeEnv, T0, type Env } from '../integration/converter/harness.js';
import { metricsText, spawnDaemon, type DaemonProc } from '../integration/converter/proc.js';
import { CONVERT_CHECK_ARGS } from '../../lib/config/sections/streaming-converter.js';

const CLI = path.join(REPO_ROOT, 'dist/cli/contimg.js');
let env: Env;
let p: DaemonProc | undefined;
afterEach(async () => {
  if (p && p.child.exitCode === null) {
    p.child.kill('SIGTERM');
    await p.exited;
  }
  removeTmpDir(env.dir);
});

describe('contimg-streaming-converter (built)', () => {
  it('converts simulated observations with convert-check and reports them on /metrics and /ws', async () => {
    const argv = [process.execPath, CLI, ...CONVERT_CHECK_ARGS];
    env = await makeEnv({ converter: { argv, timeoutS: 60, outputName: '{group}.json' } });
    p = await spawnDaemon(env);
    expect((await fetch(`http://127.0.0.1:${p.port}/healthz`)).status).toBe(200);
    const before = await metricsText(p);
    expect(before).toMatch(/contimg_converter_groups\{state="converted"\} 0/);
    expect(before).toMatch(/contimg_converter_dispatch_latency_seconds_count 0/);

    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/ws`);
    const seen: { event: string; payload: { groupId?: string } }[] = [];
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as { type: string; event: string; payload: { groupId?: string } };
      if (m.type === 'event') seen.push(m);
    });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'subscribe', topic: 'converter' }));

    await simulate({
      incomingDir: env.incoming,
      groups: 2,
      cadenceS: 0,
      spacingS: 309,
      startMs: T0,
      jitterS: 2,
      faults: [],
    });
    await waitFor(() => groups(env).filter((g) => g.state === 'converted').length === 2, {
      what: 'two converted',
      timeoutMs: 60_000,
    });
    const [g1] = groups(env);
    const summary = JSON.parse(fs.readFileSync(g1.output_path!, 'utf8')) as {
      ok: boolean;
      nSubbands: number;
      group_id: string;
    };
    expect(summary).toMatchObject({ ok: true, nSubbands: 16, group_id: '2025-06-01T12:00:00' });

    await waitFor(() => seen.filter((e) => e.event === 'converter.converted').length === 2, {
      what: 'ws events',
    });
    const order = seen.filter((e) => e.payload.groupId === '2025-06-01T12:00:00').map((e) => e.event);
    expect(order.indexOf('converter.group_ready')).toBeLessThan(order.indexOf('converter.dispatched'));
    expect(order.indexOf('converter.dispatched')).toBeLessThan(order.indexOf('converter.converted'));
    ws.close();

    const after = await metricsText(p);
    expect(after).toMatch(/contimg_converter_conversion_attempts_total\{outcome="ok"\} 2/);
    expect(after).toMatch(/contimg_converter_dispatch_latency_seconds_count 2/);
    expect(after).toMatch(/contimg_converter_files_total\{result="valid",reason=""\} 32/);
    const groupsJson = (await (
      await fetch(`http://127.0.0.1:${p.port}/api/groups?state=converted`)
    ).json()) as { groupId: string }[];
    expect(groupsJson.map((g) => g.groupId).sort()).toEqual(['2025-06-01T12:00:00', '2025-06-01T12:05:09']);

    // The operator's view through the built CLI, against the same database while the daemon runs.
    const cfg = path.join(env.dir, 'contimg.yaml');
    const listed = JSON.parse(
      execFileSync(process.execPath, [CLI, 'converter', 'groups', '--json', '--config', cfg]).toString(),
    ) as {
      groupId: string;
      state: string;
      nFiles: number;
      attempts: number;
      outputPath: string;
    }[];
    expect(listed.map((g) => [g.groupId, g.state, g.nFiles, g.attempts])).toEqual([
      ['2025-06-01T12:05:09', 'converted', 16, 1],
      ['2025-06-01T12:00:00', 'converted', 16, 1],
    ]);
    const shown = JSON.parse(
      execFileSync(process.execPath, [
        CLI,
        'converter',
        'show',
        '2025-06-01T12:00:00',
        '--json',
        '--config',
        cfg,
      ]).toString(),
    ) as { files: unknown[]; attemptsDetail: { outcome: string }[] };
    expect(shown.files).toHaveLength(16);
    expect(shown.attemptsDetail.map((a) => a.outcome)).toEqual(['ok']);

    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
  });
});
