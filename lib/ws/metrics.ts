// contimg_ws_* series, declared up front and initialised for every reason and message type.
import { Counter, Gauge, once, type Registry } from '../metrics.js';
import { DISCONNECT_REASONS, SERVER_MSG_TYPES } from './protocol.js';

/** Why an upgrade was answered with an HTTP status instead of becoming a WebSocket. */
export const WS_REFUSALS = [
  'bad_request',
  'not_found',
  'forbidden',
  'unauthorized',
  'draining',
  'capacity',
] as const;
export type WsRefusal = (typeof WS_REFUSALS)[number];

export interface WsMetrics {
  connections: Gauge<'endpoint'>;
  disconnects: Counter<'reason'>;
  messages: Counter<'type'>;
  refused: Counter<'reason'>;
}

export function wsMetrics(registry: Registry, endpoint: string): WsMetrics {
  const m = once(registry, 'contimg_ws_connections', () => ({
    connections: new Gauge({
      name: 'contimg_ws_connections',
      help: 'Open WebSocket connections.',
      labelNames: ['endpoint'],
      registers: [registry],
    }),
    disconnects: new Counter({
      name: 'contimg_ws_disconnects_total',
      help: 'WebSocket connections ended, by reason (client_disconnect when the client closed first).',
      labelNames: ['reason'],
      registers: [registry],
    }),
    messages: new Counter({
      name: 'contimg_ws_messages_total',
      help: 'WebSocket messages sent to clients, by message type.',
      labelNames: ['type'],
      registers: [registry],
    }),
    refused: new Counter({
      name: 'contimg_ws_refused_total',
      help: 'WebSocket upgrades refused with an HTTP status, by reason (capacity: http.wsMaxConnections reached).',
      labelNames: ['reason'],
      registers: [registry],
    }),
  }));
  m.connections.set({ endpoint }, 0);
  for (const reason of DISCONNECT_REASONS) m.disconnects.inc({ reason }, 0);
  for (const type of SERVER_MSG_TYPES) m.messages.inc({ type }, 0);
  for (const reason of WS_REFUSALS) m.refused.inc({ reason }, 0);
  return m;
}
