// A secret in the converter's argv or env never reaches the daemon's log: the "converter started" line shows
// the argv with secret flag values and URL credentials masked, and nothing else in the output quotes them.
import fs from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { configScrubber } from '../../../lib/config/index.js';
import { startDaemon, type RunningDaemon } from '../../../lib/daemon/index.js';
import { createLogger } from '../../../lib/log.js';
import { makeRun } from '../../../daemons/streaming-converter/run.js';
import { waitFor } from '../../helpers/wait.js';
import { removeTmpDir } from '../../helpers/tmp.js';
import { fakeArgv, groups, makeEnv, T0, writeGroupFiles, type Env } from './harness.js';

const SECRET = 'Cv-S3cret-4e1f';

let env: Env;
let d: RunningDaemon | undefined;
afterEach(async () => {
  await d?.stop();
  d = undefined;
  removeTmpDir(env.dir);
});

it('logs "converter started" with the argv masked and never prints a converter secret', async () => {
  const argv = [
    ...fakeArgv('ok'),
    '--password',
    `${SECRET}-pw`,
    `--token=${SECRET}-tok`,
    '--api-key',
    `${SECRET}-key`,
    `https://ops:${SECRET}-url@archive.example/x?sig=${SECRET}-sig`,
  ];
  env = await makeEnv({
    converter: { argv, timeoutS: 20, env: { API_KEY: `${SECRET}-env`, DB_PASSWD: `${SECRET}-db` } },
  });
  const lines: string[] = [];
  const log = createLogger({
    daemon: 'streaming-converter',
    level: 'debug',
    destination: { write: (s: string) => lines.push(s) },
    scrubber: configScrubber(env.config),
  });
  d = await startDaemon({
    name: 'streaming-converter',
    run: makeRun({ baseEnv: { ...process.env, FAKE_CONVERTER_LOG: env.log } }),
    config: env.config,
    log,
    port: 0,
  });
  writeGroupFiles(env.incoming, T0);
  await waitFor(() => groups(env).some((g) => g.state === 'converted'), { what: 'converted' });
  // The converter really got the secrets (masking is for output only).
  expect(fs.readFileSync(env.log, 'utf8')).toContain('"event":"end"');
  const started = lines
    .map((l) => JSON.parse(l) as { msg: string; argv?: string[] })
    .find((l) => l.msg === 'converter started');
  expect(started?.argv?.slice(-6)).toEqual([
    '--password',
    '[redacted]',
    '--token=[redacted]',
    '--api-key',
    '[redacted]',
    'https://[redacted]@archive.example/x?sig=[redacted]',
  ]);
  expect(started?.argv?.slice(0, 3)).toEqual(fakeArgv('ok').slice(0, 3));
  expect(lines.join('')).not.toContain(SECRET);
});
