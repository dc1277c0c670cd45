// Reconnect-token resume replays what was missed exactly once, in order; a used
// or expired token gives resumed:false; an unauthenticated upgrade is refused with 401.
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lib/clock.js';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { ConfigError } from '../../../lib/errors.js';
import { waitFor } from '../../helpers/wait.js';
import { idleDaemonPerTest, publish, TestClient } from './helpers.js';

const daemons = idleDaemonPerTest();

async function connections(d: RunningDaemon): Promise<number> {
  const m = await d.deps.registry.getSingleMetric('contimg_ws_connections')!.get();
  return m.values[0].value;
}

async function drop(d: RunningDaemon, c: TestClient): Promise<void> {
  const before = await connections(d);
  c.ws.terminate();
  await waitFor(async () => (await connections(d)) === before - 1, { what: 'server saw the drop' });
}

/** Connect, subscribe to topic, run `meanwhile`, drop the connection; returns its reconnect token. */
async function subscribeAndDrop(
  d: RunningDaemon,
  url: string,
  topic: string,
  meanwhile?: (c: TestClient) => Promise<void>,
): Promise<string> {
  const a = await TestClient.open(url);
  const token = (await a.next('connected'))[0].reconnect_token as string;
  a.send({ type: 'subscribe', topic });
  await a.next('subscribed');
  await meanwhile?.(a);
  await drop(d, a);
  return token;
}

describe('reconnect-token resume', () => {
  it('replays 6–8 after last_seq 5 exactly once, in order, then continues live', async () => {
    const daemon = await daemons.start();
    const url = `ws://127.0.0.1:${daemon.port}/ws`;
    const a = await TestClient.open(url);
    const token = (await a.next('connected'))[0].reconnect_token as string;
    a.send({ type: 'subscribe', topic: 'job:42' });
    await a.next('subscribed');
    for (let i = 1; i <= 5; i++) publish(daemon, 'job:42', 'progress', { i });
    await a.next('event', 5);
    expect(a.eventSeqs()).toEqual([1, 2, 3, 4, 5]);
    await drop(daemon, a);

    publish(daemon, 'job:42', 'progress', { i: 6 });
    publish(daemon, 'other', 'noise'); // seq 7, another topic: never replayed
    publish(daemon, 'job:42', 'progress', { i: 8 });
    publish(daemon, 'job:42', 'complete', { i: 9 });
    await waitFor(() => daemon.hub.lastSeq === 9, { what: 'tail caught up' });

    const b = await TestClient.open(`${url}?reconnect_token=${encodeURIComponent(token)}&last_seq=5`);
    const [resumed] = await b.next('resumed');
    expect(resumed).toMatchObject({ resumed: true, subscriptions: ['job:42'], replayed: 3, last_seq: 9 });
    expect(b.eventSeqs()).toEqual([6, 8, 9]);
    expect(b.of('event').map((m) => m.payload)).toEqual([{ i: 6 }, { i: 8 }, { i: 9 }]);
    // Order on the wire: connected, the replay, then resumed.
    expect(b.messages.map((m) => m.type).filter((t) => t !== 'heartbeat')).toEqual([
      'connected',
      'event',
      'event',
      'event',
      'resumed',
    ]);

    publish(daemon, 'job:42', 'progress', { i: 10 });
    await b.next('event', 4);
    expect(b.eventSeqs()).toEqual([6, 8, 9, 10]);
    b.ws.close();
  });

  it('a used token gives resumed:false and an empty subscription set', async () => {
    const daemon = await daemons.start();
    const url = `ws://127.0.0.1:${daemon.port}/ws`;
    const token = await subscribeAndDrop(daemon, url, 'job:42');

    const b = await TestClient.open(url);
    b.send({ type: 'resume', reconnect_token: token, last_seq: 0 });
    expect((await b.next('resumed'))[0]).toMatchObject({ resumed: true, subscriptions: ['job:42'] });
    await drop(daemon, b);

    const c = await TestClient.open(url);
    c.send({ type: 'resume', reconnect_token: token, last_seq: 0 });
    expect((await c.next('resumed'))[0]).toMatchObject({ resumed: false, subscriptions: [], replayed: 0 });
    publish(daemon, 'job:42', 'progress');
    // The probe message proves the event had its chance to arrive first (one socket, in order).
    await waitFor(() => daemon.hub.lastSeq === 1, { what: 'tail delivered' });
    c.send({ type: 'ping' });
    await c.next('pong');
    expect(c.of('event')).toEqual([]);
    c.ws.close();
  });

  it('an expired token gives resumed:false', async () => {
    const clock = new ManualClock(Date.now());
    const daemon = await daemons.start({ timeouts: { resumeTtlMs: 1_000 } }, clock);
    const url = `ws://127.0.0.1:${daemon.port}/ws`;
    const token = await subscribeAndDrop(daemon, url, 'job:42');
    clock.advance(1_001);
    const b = await TestClient.open(`${url}?reconnect_token=${token}&last_seq=0`);
    expect((await b.next('resumed'))[0]).toMatchObject({ resumed: false, subscriptions: [] });
    b.ws.close();
  });

  it('resume is only accepted as the first message', async () => {
    const daemon = await daemons.start();
    const c = await TestClient.open(`ws://127.0.0.1:${daemon.port}/ws`);
    c.send({ type: 'subscribe', topic: 'x' });
    c.send({ type: 'resume', reconnect_token: 'whatever', last_seq: 0 });
    expect((await c.next('error'))[0]).toMatchObject({ error: 'resume_not_first' });
    c.ws.close();
  });

  it('delivers every event exactly once while events are being written during the resume', async () => {
    const daemon = await daemons.start();
    const url = `ws://127.0.0.1:${daemon.port}/ws`;
    const token = await subscribeAndDrop(daemon, url, 'job:1', async (a) => {
      for (let i = 0; i < 50; i++) publish(daemon!, 'job:1', 'p');
      await a.next('event', 50);
    });
    for (let i = 0; i < 50; i++) publish(daemon, 'job:1', 'p');
    let writing = true;
    const writer = (async () => {
      while (writing) {
        publish(daemon!, 'job:1', 'p');
        await new Promise((r) => setImmediate(r));
      }
    })();
    const b = await TestClient.open(`${url}?reconnect_token=${token}&last_seq=50`);
    await b.next('resumed');
    await b.next('event', 150);
    writing = false;
    await writer;
    const last = publish(daemon, 'job:1', 'p');
    const seqs = await waitFor(() => (b.eventSeqs().at(-1) === last ? b.eventSeqs() : undefined), {
      what: 'all',
    });
    expect(seqs).toEqual(Array.from({ length: last - 50 }, (_, i) => 51 + i));
    b.ws.close();
  });
});

describe('subscribe with since_seq (catching up without a token, e.g. after a daemon restart)', () => {
  it('sends the topic’s history after since_seq, then subscribed{replayed}, then live events', async () => {
    const daemon = await daemons.start();
    for (let i = 1; i <= 5; i++) publish(daemon, i === 4 ? 'other' : 'job:7', 'p', { i });
    await waitFor(() => daemon.hub.lastSeq === 5, { what: 'tail caught up' });
    const c = await TestClient.open(`ws://127.0.0.1:${daemon.port}/ws`);
    c.send({ type: 'subscribe', topic: 'job:7', since_seq: 1 });
    expect((await c.next('subscribed'))[0]).toMatchObject({ topic: 'job:7', replayed: 3 });
    expect(c.messages.map((m) => m.type).filter((t) => t !== 'heartbeat')).toEqual([
      'connected',
      'event',
      'event',
      'event',
      'subscribed',
    ]);
    expect(c.eventSeqs()).toEqual([2, 3, 5]);
    publish(daemon, 'job:7', 'p');
    await c.next('event', 4);
    expect(c.eventSeqs()).toEqual([2, 3, 5, 6]);

    // A topic already covered would repeat events: refused, nothing sent.
    c.send({ type: 'subscribe', topic: 'job:7', since_seq: 0 });
    expect((await c.next('error'))[0]).toMatchObject({ error: 'since_seq_overlap' });
    c.send({ type: 'subscribe', topic: '*', since_seq: 0 });
    await c.next('error', 2);
    expect(c.eventSeqs()).toEqual([2, 3, 5, 6]);
    c.ws.close();
  });
});

describe('token check on upgrade', () => {
  it('refuses an unauthenticated upgrade with 401 on a non-loopback bind; a bearer or ?token= passes', async () => {
    const daemon = await daemons.start({ http: { host: '0.0.0.0', token: 'sekrit-token-123' } });
    const url = `ws://127.0.0.1:${daemon.port}/ws`;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('upgrade was accepted without a token')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(401);
    const bad = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { headers: { authorization: 'Bearer wrong' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    expect(bad).toBe(401);
    const withHeader = await TestClient.open(url, { headers: { authorization: 'Bearer sekrit-token-123' } });
    await withHeader.next('connected');
    const withQuery = await TestClient.open(`${url}?token=sekrit-token-123`);
    await withQuery.next('connected');
    withHeader.ws.close();
    withQuery.ws.close();
    const counts = await daemon.deps.registry.getSingleMetric('contimg_http_requests_total')!.get();
    expect(counts.values.find((v) => v.labels.route === '/ws' && v.labels.code === '401')?.value).toBe(2);
  });

  it('refuses to start on a non-loopback bind without a token', async () => {
    await expect(daemons.start({ http: { host: '0.0.0.0' } })).rejects.toBeInstanceOf(ConfigError);
  });
});
