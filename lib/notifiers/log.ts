// The `log` channel: one structured log line per notification (journald on the host, the terminal on a
// laptop). It cannot fail, so it is the safe last fallback.
import type { LogReceiverConfig } from '../config/sections/alert-dispatcher-receivers.js';
import type { Logger } from '../log.js';
import { alertLine, title } from './content.js';
import type { DeliveryOutcome, Notifier, OutgoingNotification } from './types.js';

export function logNotifier(cfg: LogReceiverConfig, log: Logger): Notifier {
  const out = log.child({ component: 'alert-log', receiver: cfg.name });
  return {
    name: cfg.name,
    type: 'log',
    target: 'log',
    timeoutMs: 1000,
    async notify(n: OutgoingNotification): Promise<DeliveryOutcome> {
      const c = n.content;
      out[cfg.level](
        {
          notification: {
            id: n.id,
            kind: n.kind,
            status: c.status,
            severity: c.severity,
            groupKey: c.groupKey,
            firing: c.firingCount,
            resolved: c.resolvedCount,
            alerts: c.alerts.map((a) => ({
              fingerprint: a.fingerprint,
              status: a.status,
              line: alertLine(a),
            })),
            ...(c.note && { note: c.note }),
            ...(c.digest && { digest: c.digest }),
          },
        },
        `alert notification: ${title(c)}`,
      );
      return { ok: true };
    },
    close: async () => undefined,
  };
}
