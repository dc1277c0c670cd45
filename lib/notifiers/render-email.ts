// E-mail for a notification, pure: subject "[DSA-110][CRITICAL][FIRING:3] Name" / "[DSA-110][RESOLVED] Name"
// and a plain-text body: status, severity, source, group labels, times (UTC), one block per alert (summary,
// description, labels, value, runbook), then how to acknowledge and silence.
import { title, type ContentAlert, type NotificationContent } from './content.js';

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

function kv(map: Record<string, string>, skip: readonly string[] = []): string {
  return Object.entries(map)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

export function emailSubject(c: NotificationContent, prefix: string): string {
  const t = title(c);
  if (c.status === 'resolved' || c.kind === 'digest') return `${prefix}${t}`;
  return `${prefix}[${c.severity.toUpperCase()}]${t}`;
}

function alertBlock(a: ContentAlert): string[] {
  const out = [
    `${a.status === 'resolved' ? 'RESOLVED' : 'FIRING'}  ${a.alertname}${a.acked ? '  (acknowledged)' : ''}`,
  ];
  if (a.annotations.summary) out.push(`  Summary: ${a.annotations.summary}`);
  if (a.annotations.description) out.push(`  Description: ${a.annotations.description}`);
  const labels = kv(a.labels, ['alertname']);
  if (labels) out.push(`  Labels: ${labels}`);
  if (a.annotations.value) out.push(`  Value: ${a.annotations.value}`);
  out.push(`  Started: ${iso(a.startsAt)}`);
  if (a.status === 'resolved') out.push(`  Resolved: ${iso(a.endsAt)}`);
  if (a.annotations.runbook_url) out.push(`  Runbook: ${a.annotations.runbook_url}`);
  if (a.generatorUrl) out.push(`  Source: ${a.generatorUrl}`);
  out.push(`  Fingerprint: ${a.fingerprint}`);
  return out;
}

export function emailBody(c: NotificationContent): string {
  const lines = [title(c), ''];
  lines.push(`Status: ${c.status}`);
  lines.push(`Severity: ${c.severity}`);
  const sources = [...new Set(c.alerts.map((a) => a.source).filter(Boolean))];
  if (sources.length) lines.push(`Source: ${sources.join(', ')}`);
  if (Object.keys(c.groupLabels).length) lines.push(`Group: ${kv(c.groupLabels)}`);
  lines.push(`Host: ${c.host}`);
  lines.push(`Sent: ${iso(c.createdAt)}`);
  if (c.note) lines.push('', c.note);
  if (c.digest) {
    lines.push(
      '',
      `${c.firingCount} firing and ${c.resolvedCount} resolved alerts in ${c.digest.groups} groups:`,
    );
    for (const l of c.digest.lines)
      lines.push(
        `  ${l.alertname} (${l.severity}): ${l.firing} firing${l.resolved ? `, ${l.resolved} resolved` : ''}`,
      );
    if (c.digest.more > 0) lines.push(`  +${c.digest.more} more`);
  }
  if (c.alerts.length) {
    lines.push('', `Alerts (${c.firingCount} firing, ${c.resolvedCount} resolved):`);
    for (const a of c.alerts) lines.push('', ...alertBlock(a));
  }
  if (c.truncated > 0) lines.push('', `+${c.truncated} more`);
  const fp = c.alerts.find((a) => a.status === 'firing')?.fingerprint ?? '<fingerprint>';
  const name = c.groupLabels.alertname ?? c.commonLabels.alertname ?? 'NAME';
  lines.push(
    '',
    '--',
    `Acknowledge: contimg alerts ack ${fp} --by YOUR_NAME   (or POST ${c.externalUrl}/api/alerts/${fp}/ack)`,
    `Silence: contimg silences add --matcher 'alertname="${name}"' --duration 2h --comment "why"`,
    `Dispatcher: ${c.externalUrl}`,
  );
  return `${lines.join('\n')}\n`;
}
