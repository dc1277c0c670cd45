// Slow-consumer protection: a client that stops reading is closed with 4002 slow_consumer once its unsent
// bytes pass the limit, while a reading client on the same hub gets every event.
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { systemClock } from '../../../lib/clock.js';
import { openDb, type Db } from '../../../lib/db/index.js';
import { appendEvent } from '../../../lib/events/index.js';
import { DaemonHttpServer } from '../../../lib/http/index.js';
import { silentLogger } from '../../../lib/log.js';
import { createRegistry } from '../../../lib/metrics.js';
import { WsHub } from '../../../lib/ws/index.js';
import { freshDatabases } from '../../helpers/db.js';
import { makeTmpDir, removeTmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import { TestClient } from './helpers.js';

let dir: string;
let db: Db;
let http: DaemonHttpServer;
let hub: WsHub;
beforeEach(async () => {
  dir = makeTmpDir();
  db = openDb({ name: 'state', path: (await freshDatabases(dir)).statePath, withReader: true });
});
afterEach(async () => {
  await hub.shutdown(200);
  await http.close();
  db.close();
  removeTmpDir(dir);
});

/** A hub with a 256 KiB slow-consumer limit on a fresh HTTP server (not yet listening). */
function startHub(pingMs = 60_000): ReturnType<typeof createRegistry> {
  const registry = createRegistry({ daemon: 'test', defaultMetrics: false });
  const log = silentLogger();
  http = new DaemonHttpServer({ host: '127.0.0.1', port: 0, registry, log });
  hub = new WsHub({
    http,
    db,
    log,
    registry,
    clock: systemClock,
    pingMs,
    maxMissed: 3,
    resumeTtlMs: 60_000,
    maxBufferedBytes: 256 * 1024,
    tailPollMs: 10,
  });
  hub.start();
  return registry;
}

it('closes a client that stops reading with slow_consumer and keeps serving the others', async () => {
  const registry = startHub();
  const url = `ws://127.0.0.1:${await http.listen()}/ws`;
  const reader = await TestClient.open(url);
  const stalled = await TestClient.open(url);
  for (const c of [reader, stalled]) {
    c.send({ type: 'subscribe', topic: 'big' });
    await c.next('subscribed');
  }
  // Stop reading from the socket: the server's send buffer for this client can only grow.
  (stalled.ws as unknown as { _socket: Socket })._socket.pause();
  const written = await writeUntilSlow(registry);
  expect(await disconnects(registry, 'slow_consumer')).toBe(1);
  await reader.next('event', written);
  expect(reader.eventSeqs()).toEqual(Array.from({ length: written }, (_, i) => i + 1));
  expect(reader.close).toBeUndefined();
  // The server terminated the stalled connection (its unsent frames are dropped with it).
  (stalled.ws as unknown as { _socket: Socket })._socket.resume();
  await waitFor(() => stalled.close, { what: 'stalled client closed' });
  expect(written).toBeLessThan(2_000);
});

/** Append 64 KiB events on `big`, each delivered by the tail, until a slow_consumer disconnect (≤ 2,000). */
async function writeUntilSlow(registry: ReturnType<typeof createRegistry>): Promise<number> {
  const blob = 'x'.repeat(64 * 1024);
  let written = 0;
  while ((await disconnects(registry, 'slow_consumer')) === 0 && written < 2_000) {
    db.write((c) => appendEvent(c, { topic: 'big', type: 'blob', payload: { blob } }, Date.now()));
    written++;
    await waitFor(() => hub.lastSeq === written, { what: 'tail delivered' });
  }
  return written;
}

async function disconnects(registry: ReturnType<typeof createRegistry>, reason: string): Promise<number> {
  const m = await registry.getSingleMetric('contimg_ws_disconnects_total')!.get();
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

it('a slow consumer that resumes without last_seq gets the events it was never sent', async () => {
  const registry = startHub();
  const url = `ws://127.0.0.1:${await http.listen()}/ws`;
  const stalled = await TestClient.open(url);
  const token = (await stalled.next('connected'))[0].reconnect_token as string;
  stalled.send({ type: 'subscribe', topic: 'big' });
  await stalled.next('subscribed');
  (stalled.ws as unknown as { _socket: Socket })._socket.pause();
  const written = await writeUntilSlow(registry);
  expect(await disconnects(registry, 'slow_consumer')).toBe(1);
  (stalled.ws as unknown as { _socket: Socket })._socket.resume();
  await waitFor(() => stalled.close, { what: 'stalled client closed' });
  const after = db.write((c) => appendEvent(c, { topic: 'big', type: 'small' }, Date.now()));
  await waitFor(() => hub.lastSeq === after, { what: 'tail delivered the later event' });

  const again = await TestClient.open(`${url}?reconnect_token=${encodeURIComponent(token)}`);
  const [resumed] = await again.next('resumed');
  expect(resumed).toMatchObject({ resumed: true, subscriptions: ['big'] });
  // The event that found the client slow was never sent to it: it is replayed, and so is the later one.
  expect(again.eventSeqs()).toContain(written);
  expect(again.eventSeqs()).toContain(after);
  again.ws.close();
});

it('a resume whose replay overflows the client keeps the session at the last event actually sent', async () => {
  const registry = startHub(100);
  const url = `ws://127.0.0.1:${await http.listen()}/ws`;
  const a = await TestClient.open(url);
  const tokenA = (await a.next('connected'))[0].reconnect_token as string;
  a.send({ type: 'subscribe', topic: 'big' });
  await a.next('subscribed');
  a.ws.terminate();
  await waitFor(async () => (await disconnects(registry, 'client_disconnect')) === 1, { what: 'a gone' });
  // ~12.8 MB missed while away: far more than the socket buffers plus the 256 KiB limit can hold, and the
  // replay is synchronous, so the resuming client cannot read in between.
  const blob = 'x'.repeat(64 * 1024);
  for (let i = 0; i < 200; i++)
    db.write((c) => appendEvent(c, { topic: 'big', type: 'blob', payload: { blob } }, Date.now()));
  await waitFor(() => hub.lastSeq === 200, { what: 'tail caught up' });

  const b = await TestClient.open(`${url}?reconnect_token=${encodeURIComponent(tokenA)}&last_seq=0`);
  const tokenB = (await b.next('connected'))[0].reconnect_token as string;
  await waitFor(() => b.close, { what: 'b closed as a slow consumer' });
  expect(await disconnects(registry, 'slow_consumer')).toBe(1);
  // b's session (what a resume without last_seq continues from) stops where the replay was cut, not at 200.
  const sessions = (hub as unknown as { sessions: { take(t: string): { lastSeq: number } | undefined } })
    .sessions;
  const session = sessions.take(tokenB);
  expect(session).toBeDefined();
  expect(session!.lastSeq).toBeLessThan(200);
  expect(session!.lastSeq).toBeGreaterThanOrEqual(b.eventSeqs().at(-1) ?? 0);
});
