// `contimg dev` (npm start) shows alert delivery: the simulated fault becomes a log line from the `log`
// receiver and an e-mail file in <data dir>/mail/ (the local SMTP capture), then a resolved e-mail.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/net.js';
import { makeTmpDir, REPO_ROOT, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

let dir = '';
afterEach(() => removeTmpDir(dir));

describe('contimg dev and alerts', () => {
  it('the simulated fault turns into a log line and e-mail files', async () => {
    dir = makeTmpDir('contimg-ad-dev-');
    const data = path.join(dir, 'var');
    const base = ((await freePort()) % 40_000) + 20_000;
    let out = '';
    const child = spawn(
      process.execPath,
      [
        path.join(REPO_ROOT, 'dist/cli/contimg.js'),
        'dev',
        '--data-dir',
        data,
        '--port-base',
        String(base),
        '--no-simulate',
        '--for-seconds',
        '45',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const mailDir = path.join(data, 'mail');
      const mails = () => (fs.existsSync(mailDir) ? fs.readdirSync(mailDir).sort() : []);
      // Other alerts may be mailed too (with --no-simulate the scheduler finds no calibration): pick the fault's.
      const faultMails = async () =>
        (
          await Promise.all(mails().map(async (f) => simpleParser(fs.readFileSync(path.join(mailDir, f)))))
        ).filter((m) => m.subject?.endsWith('DevSimulatedFault'));
      const [firing, resolved] = await waitFor(
        async () => {
          const found = await faultMails();
          return found.length >= 2 ? found : null;
        },
        { what: 'firing and resolved e-mails', timeoutMs: 60_000, intervalMs: 500 },
      ).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}\n${out.slice(-3000)}`);
      });
      expect(firing.subject).toBe('[DSA-110][WARNING][FIRING:1] DevSimulatedFault');
      expect(firing.text).toContain('a simulated fault raised by contimg dev');
      expect(resolved.subject).toBe('[DSA-110][RESOLVED] DevSimulatedFault');
      expect(out).toContain('alert notification: [FIRING:1] DevSimulatedFault');
      expect(out).toContain('[mail] captured an e-mail');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
