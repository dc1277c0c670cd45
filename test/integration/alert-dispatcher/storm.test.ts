// An alert storm: 200 alerts in 43 groups become one digest instead of 43 messages; changes inside the group
// interval send nothing; the next flush with fewer changed groups sends normal messages (≤ 20 alerts each),
// paced by the token bucket (a burst of 3, then 1/s).
import { describe, expect, it } from 'vitest';
import { advance, attempts, outbox, raise, resolve, scope, waitFor, type Running } from './harness.js';

const t = scope('contimg-ad-storm-');
let r: Running | undefined;

describe('alert storm', () => {
  it('one digest for 43 groups, nothing inside the group interval, then paced per-group messages', async () => {
    const slack = await t.http();
    r = await t.start({
      receivers: [{ name: 'slack-ops', type: 'slack', url: slack.url }],
    });
    // 150 alerts under 3 alertnames, 50 over 40 more (10 of them twice): 43 groups, raised within 10 s.
    let n = 0;
    for (let a = 0; a < 3; a++)
      for (let i = 0; i < 50; i++)
        raise(r, `Storm${a}`, { item: String(i) }, n++ % 2 ? 'warning' : 'critical');
    for (let a = 0; a < 40; a++)
      for (let i = 0; i < (a < 10 ? 2 : 1); i++) raise(r, `Spread${a}`, { item: String(i) });
    r.clock.advance(9000);
    await advance(r, 22_000);
    await waitFor(() => slack.delivered.length === 1, { what: 'the digest' });
    const digest = slack.delivered[0].json;
    expect(digest.text).toBe('[DIGEST] 200 firing in 43 groups · critical');
    const section = JSON.stringify(digest.attachments);
    for (let a = 0; a < 3; a++) expect(section).toContain(`*Storm${a}* (critical): 25 firing`);
    const lines = section.match(/• \*/g) ?? [];
    expect(lines.length).toBeLessThanOrEqual(20);
    expect(section).toContain('+');
    expect(section).toMatch(/\+\d+ more/);
    expect(outbox(r)).toHaveLength(1);
    expect(outbox(r)[0].kind).toBe('digest');

    // Changes inside the group interval (300 s) send nothing.
    for (let g = 0; g < 3; g++) raise(r, `Storm${g}`, { item: 'late' }, 'critical');
    for (let g = 0; g < 5; g++) resolve(r, `Spread${g}`, { item: '0' });
    await advance(r, 120_000, 30_000);
    expect(slack.requests).toHaveLength(1);

    const api = (await (await fetch(`${r.base}/api/alerts?status=firing`)).json()) as { alertname: string }[];
    expect(api).toHaveLength(198);

    // The next flush: 8 changed groups (≤ 10), so normal messages, paced by the bucket.
    await advance(r, 181_000);
    for (let i = 0; i < 40 && slack.delivered.length < 9; i++) await advance(r, 250);
    await waitFor(() => slack.delivered.length === 9, { what: '8 per-group messages' });
    const msgs = slack.delivered.slice(1);
    for (const m of msgs) {
      const blocks = (m.json.attachments as { blocks: { type: string }[] }[])[0].blocks;
      expect(blocks.filter((b) => b.type === 'section').length).toBeLessThanOrEqual(20);
    }
    expect(msgs.filter((m) => String(m.json.text).startsWith('[FIRING:51]'))).toHaveLength(3);
    expect(JSON.stringify(msgs.map((m) => m.json))).toContain('+31 more');
    // When each send started (test clock; the peer's own stamps can fall a clock step later).
    const times = attempts(r)
      .filter((a) => a.notification_id > 1)
      .map((a) => a.started_at)
      .sort((a, b) => a - b);
    expect(times).toHaveLength(8);
    // After the burst of 3, at most one per second: the k-th message no earlier than (k − 2) s after the first.
    for (let k = 3; k < times.length; k++) expect(times[k] - times[0]).toBeGreaterThanOrEqual((k - 2) * 1000);
    expect(times[times.length - 1] - times[0]).toBeLessThan(8000);
  });
});
