// Webhook bodies, pure: Alertmanager's webhook JSON (version 4), so any Alertmanager consumer works, or the
// legacy {severity, title, message, source, timestamp} the original system's consumers expect.
import { alertLine, title, type NotificationContent } from './content.js';

/** Alertmanager's "zero" time for endsAt while an alert fires. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export function alertmanagerV4(c: NotificationContent): Record<string, unknown> {
  return {
    version: '4',
    groupKey: `${c.receiver}/${c.groupKey}`,
    truncatedAlerts: c.truncated,
    status: c.status,
    receiver: c.receiver,
    groupLabels: c.groupLabels,
    commonLabels: c.commonLabels,
    commonAnnotations: c.commonAnnotations,
    externalURL: c.externalUrl,
    alerts: c.alerts.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: new Date(a.startsAt).toISOString(),
      endsAt: a.endsAt === null || a.status === 'firing' ? ZERO_TIME : new Date(a.endsAt).toISOString(),
      generatorURL: a.generatorUrl ?? '',
      fingerprint: a.fingerprint,
    })),
  };
}

export function legacyWebhook(c: NotificationContent): Record<string, unknown> {
  return {
    severity: c.severity,
    title: title(c),
    message: [c.note, ...c.alerts.map(alertLine), c.truncated ? `+${c.truncated} more` : undefined]
      .filter(Boolean)
      .join('\n'),
    source: 'contimg-alert-dispatcher',
    timestamp: new Date(c.createdAt).toISOString(),
  };
}
