// A client that stops answering pings is closed with 4000 heartbeat_timeout
// within wsPingMs × (wsMaxMissed + 1); a well-behaved client over the same period stays open.
import { expect, it } from 'vitest';
import type { RunningDaemon } from '../../../lib/daemon/index.js';
import { waitFor } from '../../helpers/wait.js';
import { idleDaemonPerTest, TestClient } from './helpers.js';

const daemons = idleDaemonPerTest();

async function gauge(d: RunningDaemon, name: string): Promise<number> {
  const m = await d.deps.registry.getSingleMetric(name)!.get();
  return m.values.reduce((s, v) => s + v.value, 0);
}

it('closes a silent client with 4000 heartbeat_timeout and keeps a good one', async () => {
  const pingMs = 100;
  const maxMissed = 3;
  const daemon = await daemons.start({ timeouts: { wsPingMs: pingMs, wsMaxMissed: maxMissed } });
  const url = `ws://127.0.0.1:${daemon.port}/ws`;
  const good = await TestClient.open(url);
  const silent = await TestClient.open(url, { autoPong: false });
  await waitFor(() => silent.close, { what: 'silent client closed', timeoutMs: 10_000 });

  expect(silent.close).toEqual({ code: 4000, reason: 'heartbeat_timeout' });
  const disconnect = silent.of('disconnect')[0];
  expect(disconnect).toMatchObject({ reason: 'heartbeat_timeout', can_reconnect: true });
  expect(typeof disconnect.reconnect_token).toBe('string');
  // Counted in ping ticks rather than wall time: one ping (and application heartbeat) per tick, and the
  // close comes on the tick after the maxMissed-th unanswered ping, i.e. within wsPingMs × (wsMaxMissed+1).
  expect(silent.of('heartbeat').length).toBe(maxMissed);

  // The good client has seen more heartbeats than the silent one and is still open.
  await good.next('heartbeat', silent.of('heartbeat').length + 1);
  expect(good.close).toBeUndefined();
  expect(good.ws.readyState).toBe(good.ws.OPEN);
  await waitFor(async () => (await gauge(daemon!, 'contimg_ws_connections')) === 1, {
    what: 'gauge back to 1',
  });
  const disc = await daemon.deps.registry.getSingleMetric('contimg_ws_disconnects_total')!.get();
  expect(disc.values.find((v) => v.labels.reason === 'heartbeat_timeout')?.value).toBe(1);
  good.ws.close();
});
