// Every list route (converter groups, thumbnails, pointing transits) and every CLI --limit share one
// parser (lib/paging): a limit is 1..max, an offset 0..; anything else is a 400 (or usage error), never a
// negative SQL LIMIT that would return every row.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/index.js';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import type { DaemonName } from '../../../lib/daemon/types.js';
import { MAX_LIMIT, pagingFrom } from '../../../lib/paging.js';
import { runCli } from '../../helpers/cli.js';
import { startDaemons } from '../../helpers/daemons.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { seedConverted } from '../converter/seed.js';

const BAD = ['-1', '0', 'abc', '1.5', '1e3', '', ' 5x', String(MAX_LIMIT + 1), '99999999999999999999'];

let dir: string;
let configFile: string;
const daemons: Partial<Record<DaemonName, RunningDaemon>> = {};

beforeAll(async () => {
  dir = makeTmpDir('contimg-paging-');
  const db = await freshDatabases(dir);
  const incoming = path.join(dir, 'incoming');
  fs.mkdirSync(incoming);
  seedConverted(incoming, db.statePath, 5, Date.UTC(2025, 5, 1, 12));
  const raw = {
    dataDir: dir,
    databases: { state: db.statePath, pipeline: db.pipelinePath },
    streamingConverter: { incomingDir: incoming, minFreeGb: 0, watch: false },
  };
  configFile = path.join(dir, 'contimg.yaml');
  fs.writeFileSync(configFile, JSON.stringify(raw));
  const config = parseConfig(raw, dir);
  Object.assign(daemons, await startDaemons(config));
});

afterAll(async () => {
  for (const d of Object.values(daemons)) await d?.stop();
  removeTmpDir(dir);
});

const ROUTES: [DaemonName, string][] = [
  ['streaming-converter', '/api/groups'],
  ['thumbnail-worker', '/api/thumbnails'],
  ['pointing-monitor', '/api/pointing/transits'],
];

async function get(name: DaemonName, pathAndQuery: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${daemons[name]!.port}${pathAndQuery}`);
  return { status: res.status, body: await res.json() };
}

describe('?limit= and ?offset= on every list route', () => {
  it.each(ROUTES)('%s %s refuses bad values with 400', async (name, route) => {
    for (const v of BAD) {
      const r = await get(name, `${route}?limit=${encodeURIComponent(v)}`);
      expect(r.status, `limit=${v}`).toBe(400);
      expect(r.body).toMatchObject({ error: 'VALIDATION_ERROR', details: { parameter: 'limit' } });
    }
    for (const v of ['-1', 'x', '2.5'])
      expect((await get(name, `${route}?offset=${v}`)).status, `offset=${v}`).toBe(400);
    expect((await get(name, `${route}?limit=1&offset=0`)).status).toBe(200);
  });

  it('pages converter groups newest first', async () => {
    const all = (await get('streaming-converter', '/api/groups')).body as { groupId: string }[];
    expect(all).toHaveLength(5);
    const page = (await get('streaming-converter', '/api/groups?limit=2&offset=1')).body as typeof all;
    expect(page.map((g) => g.groupId)).toEqual(all.slice(1, 3).map((g) => g.groupId));
    expect((await get('streaming-converter', '/api/groups?state=bogus')).status).toBe(400);
  });

  it('pages the transit schedule', async () => {
    const all = (await get('pointing-monitor', '/api/pointing/transits')).body as { name: string }[];
    expect(all.length).toBeGreaterThan(3);
    const page = (await get('pointing-monitor', '/api/pointing/transits?limit=2&offset=1')).body;
    expect(page).toEqual(all.slice(1, 3));
  });

  it('the thumbnail list keeps its own smaller maximum', async () => {
    expect((await get('thumbnail-worker', '/api/thumbnails?limit=1000')).status).toBe(200);
    expect((await get('thumbnail-worker', '/api/thumbnails?limit=1001')).status).toBe(400);
  });

  it('defaults apply when the parameters are absent', () => {
    expect(pagingFrom(new URLSearchParams(''), { defaultLimit: 100 })).toEqual({ limit: 100, offset: 0 });
  });
});

describe('CLI --limit uses the same rule', () => {
  it.each([
    ['converter', 'groups'],
    ['jobs', 'list'],
    ['thumbnails', 'list'],
    ['alerts', 'list'],
  ])('contimg %s %s --limit refuses bad values (exit 2) and accepts good ones', async (...cmd) => {
    for (const v of ['-1', '0', '1.5', String(MAX_LIMIT + 1)]) {
      const r = await runCli([...cmd, '--config', configFile, `--limit=${v}`, '--json']);
      expect(r.code, `--limit=${v}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/--limit: expected a whole number from 1 to 10000/);
    }
    const ok = await runCli([...cmd, '--config', configFile, '--limit=2', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as unknown[]).length).toBeLessThanOrEqual(2);
  });
});
