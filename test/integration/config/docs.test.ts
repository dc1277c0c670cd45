// docs/config.md is checked against the schema: every top-level key, and every key of the shared sections
// (databases, http, log, site, timeouts, retention), must appear as `path.to.key`.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import type { z } from 'zod';
import { configSchema } from '../../../lib/config/index.js';
import { REPO_ROOT } from '../../helpers/tmp.js';

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType> };

/** Strip default/prefault/optional/pipe wrappers down to the object (or leaf) schema. */
function unwrap(s: z.ZodType): z.ZodType {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    const def = (cur as unknown as { _zod: { def: Def } })._zod.def;
    if (def.innerType) cur = def.innerType;
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else break;
  }
  return cur;
}

function keysOf(s: z.ZodType): string[] {
  const def = (unwrap(s) as unknown as { _zod: { def: Def } })._zod.def;
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

it('documents every top-level key and every key of the shared sections', () => {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs/config.md'), 'utf8');
  const schema = configSchema({ baseDir: '/etc/contimg', dataDir: '/data' });
  const top = keysOf(schema);
  expect(top.length).toBeGreaterThan(8);
  const missing: string[] = [];
  for (const key of top) if (!doc.includes(`\`${key}\``)) missing.push(key);
  const shape = (unwrap(schema) as unknown as { _zod: { def: Def } })._zod.def.shape!;
  for (const section of ['databases', 'http', 'log', 'site', 'timeouts', 'retention']) {
    const keys = keysOf(shape[section]);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) if (!doc.includes(`\`${section}.${k}\``)) missing.push(`${section}.${k}`);
  }
  for (const section of [
    'streamingConverter',
    'pointingMonitor',
    'scheduler',
    'alertDispatcher',
    'thumbnailWorker',
  ]) {
    if (keysOf(shape[section]).includes('port') && !doc.includes(`\`${section}.port\``))
      missing.push(`${section}.port`);
  }
  expect(missing).toEqual([]);
});
