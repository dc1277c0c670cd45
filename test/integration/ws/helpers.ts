// In-process daemon and WebSocket client helpers for the hub tests.
import WebSocket, { type ClientOptions } from 'ws';
import { afterEach, beforeEach } from 'vitest';
import type { Clock } from '../../../lib/clock.js';
import { parseConfig } from '../../../lib/config/index.js';
import { startDaemon, type RunningDaemon } from '../../../lib/daemon/index.js';
import { appendEvent } from '../../../lib/events/index.js';
import { silentLogger } from '../../../lib/log.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

/** A daemon whose run() only waits for the stop signal, on a free port, with shrunk timeouts. */
export async function idleDaemon(
  dir: string,
  extra: Record<string, unknown> = {},
  clock?: Clock,
): Promise<RunningDaemon> {
  const db = await freshDatabases(dir);
  const { timeouts, http, ...rest } = extra as { timeouts?: object; http?: object };
  const config = parseConfig(
    {
      dataDir: dir,
      databases: { state: db.statePath, pipeline: db.pipelinePath },
      timeouts: { wsPingMs: 100, wsMaxMissed: 3, resumeTtlMs: 60_000, drainMs: 2_000, ...timeouts },
      ...(http ? { http } : {}),
      ...rest,
    },
    dir,
  );
  return startDaemon({
    name: 'scheduler',
    config,
    log: silentLogger(),
    clock,
    port: 0,
    run: (_deps, signal) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())),
  });
}

/**
 * A fresh folder per test and the idle daemon a test starts in it: `start` runs idleDaemon there; after each
 * test the daemon is stopped and the folder removed. Call once at the top of a test file.
 */
export function idleDaemonPerTest(): {
  readonly dir: string;
  start: (extra?: Record<string, unknown>, clock?: Clock) => Promise<RunningDaemon>;
} {
  let dir = '';
  let daemon: RunningDaemon | undefined;
  beforeEach(() => {
    dir = makeTmpDir();
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    removeTmpDir(dir);
  });
  return {
    get dir() {
      return dir;
    },
    start: async (extra, clock) => (daemon = await idleDaemon(dir, extra, clock)),
  };
}

export function publish(d: RunningDaemon, topic: string, type: string, payload: unknown = {}): number {
  return d.deps.state.write((c) => appendEvent(c, { topic, type, payload }, Date.now()));
}

export interface Msg {
  type: string;
  [k: string]: unknown;
}

export class TestClient {
  readonly messages: Msg[] = [];
  close?: { code: number; reason: string };
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => this.messages.push(JSON.parse(String(d)) as Msg));
    ws.on('close', (code, reason) => (this.close = { code, reason: String(reason) }));
  }

  static async open(url: string, opts: ClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, opts);
    const c = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return c;
  }

  send(msg: object): void {
    this.ws.send(JSON.stringify(msg));
  }

  of(type: string): Msg[] {
    return this.messages.filter((m) => m.type === type);
  }

  async next(type: string, count = 1): Promise<Msg[]> {
    return waitFor(() => (this.of(type).length >= count ? this.of(type) : undefined), {
      what: `${count}× ${type}`,
    });
  }

  eventSeqs(): number[] {
    return this.of('event').map((m) => m.seq as number);
  }
}
