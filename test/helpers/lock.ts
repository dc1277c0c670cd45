// Hold a database's write lock from another process, the way an operator's sqlite3 shell or another
// program's long transaction does: `BEGIN IMMEDIATE` in the sqlite3 shell, kept open until release().
// The sqlite3 shell must be installed (the test fails, not skips, without it).
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait.js';

export interface HeldLock {
  child: ChildProcess;
  /** Roll back, leave the shell and wait until it has exited. */
  release(): Promise<void>;
}

export async function holdWriteLock(dbPath: string): Promise<HeldLock> {
  const child = spawn('sqlite3', [dbPath], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let failed: Error | null = null;
  child.once('error', (e) => (failed = e));
  child.stdin!.write(".timeout 30000\nBEGIN IMMEDIATE;\nSELECT 'locked';\n");
  await waitFor(
    () => {
      if (failed) throw failed;
      if (child.exitCode !== null) throw new Error(`sqlite3 exited ${child.exitCode}: ${err}`);
      return out.includes('locked');
    },
    { what: 'the sqlite3 shell holding the write lock', timeoutMs: 40_000 },
  );
  return {
    child,
    release: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin!.end('ROLLBACK;\n.quit\n');
        await exited;
      }
    },
  };
}
