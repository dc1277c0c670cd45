// Slack message for a notification, pure: a `text` fallback ("[FIRING:3] Name · critical") and one attachment
// coloured by status holding blocks: a header (≤ 150 chars), one section per alert (≤ 3000 chars, & < >
// escaped), "+N more", and a context line (source, host, start, runbook, how to acknowledge). A plain-text
// rendering is used when Slack rejected the blocks (400).
import { alertLine, title, type ContentAlert, type NotificationContent } from './content.js';

export const SLACK_COLORS = { critical: '#d00000', warning: '#f2a900', info: '#439fe0', resolved: '#2eb67d' };
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const PLAIN_MAX = 3900;

export function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z');
}

export interface SlackStyle {
  username: string;
  iconEmoji: string;
}

type Block = Record<string, unknown>;

function alertSection(a: ContentAlert): Block {
  const mark = a.status === 'resolved' ? '✅' : a.acked ? '☑️' : '•';
  const runbook = a.annotations.runbook_url ? ` <${a.annotations.runbook_url}|runbook>` : '';
  const desc =
    a.annotations.description && a.annotations.summary ? `\n${slackEscape(a.annotations.description)}` : '';
  const text = `${mark} *${slackEscape(alertLine(a))}*${desc}${runbook}`;
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(text, SECTION_MAX) } };
}

function context(c: NotificationContent): Block {
  const first = c.alerts[0];
  const parts = [
    first ? `source ${first.source || '-'}` : undefined,
    `host ${c.host}`,
    first ? `since ${iso(first.startsAt)}` : undefined,
    first && c.status === 'firing' ? `ack: \`contimg alerts ack ${first.fingerprint}\`` : undefined,
    `<${c.externalUrl}|dispatcher>`,
  ].filter((p): p is string => p !== undefined);
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(parts.join(' · '), SECTION_MAX) }] };
}

function digestBlocks(c: NotificationContent): Block[] {
  const d = c.digest!;
  const lines = d.lines.map(
    (l) =>
      `• *${slackEscape(l.alertname)}* (${l.severity}): ${l.firing} firing${l.resolved ? `, ${l.resolved} resolved` : ''}`,
  );
  if (d.more > 0) lines.push(`+${d.more} more`);
  return [{ type: 'section', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), SECTION_MAX) } }];
}

/** Every line an operator needs, as plain text (also the e-mail body's core). */
export function plainLines(c: NotificationContent): string[] {
  const lines = [`${title(c)} · ${c.severity}`];
  if (c.note) lines.push(c.note);
  if (c.digest) {
    for (const l of c.digest.lines)
      lines.push(
        `- ${l.alertname} (${l.severity}): ${l.firing} firing${l.resolved ? `, ${l.resolved} resolved` : ''}`,
      );
    if (c.digest.more > 0) lines.push(`+${c.digest.more} more`);
  }
  for (const a of c.alerts) lines.push(`${a.status === 'resolved' ? 'RESOLVED' : 'FIRING'} ${alertLine(a)}`);
  if (c.truncated > 0) lines.push(`+${c.truncated} more`);
  return lines;
}

export function renderSlack(
  c: NotificationContent,
  style: SlackStyle,
  plainText: boolean,
): Record<string, unknown> {
  const fallback = `${title(c)} · ${c.severity}`;
  const base = { username: style.username, icon_emoji: style.iconEmoji };
  if (plainText) return { ...base, text: truncate(plainLines(c).join('\n'), PLAIN_MAX) };
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title(c), HEADER_MAX), emoji: true } },
  ];
  if (c.note)
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(slackEscape(c.note), SECTION_MAX) },
    });
  if (c.digest) blocks.push(...digestBlocks(c));
  for (const a of c.alerts) blocks.push(alertSection(a));
  if (c.truncated > 0)
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `+${c.truncated} more` }] });
  blocks.push(context(c));
  const color = c.status === 'resolved' ? SLACK_COLORS.resolved : SLACK_COLORS[c.severity];
  return { ...base, text: truncate(fallback, PLAIN_MAX), attachments: [{ color, fallback, blocks }] };
}
