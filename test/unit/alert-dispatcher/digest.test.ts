// Storm control's digest, pure: which lines an operator reads first (most severe, then most frequent, then by
// name), the severity and status of the digest itself, and what it stands for.
import { describe, expect, it } from 'vitest';
import {
  buildDigest,
  DIGEST_LINES,
  digestLines,
  type DigestPart,
} from '../../../daemons/alert-dispatcher/digest.js';
import type { ContentAlert } from '../../../lib/notifiers/content.js';
import type { Severity } from '../../../lib/alerts/index.js';

let n = 0;
function alert(
  alertname: string,
  severity: Severity,
  status: 'firing' | 'resolved' = 'firing',
): ContentAlert {
  n++;
  return {
    fingerprint: `fp${n}`,
    episode: n,
    status,
    alertname,
    severity,
    labels: { alertname },
    annotations: {},
    source: 'test',
    startsAt: 0,
    endsAt: null,
    generatorUrl: null,
    acked: false,
  };
}

function part(groupKey: string, firing: ContentAlert[], resolved: ContentAlert[] = []): DigestPart {
  return { groupKey, firing, resolved };
}

describe('digestLines', () => {
  it('orders lines by severity, then by how many alerts (firing plus resolved), then by name', () => {
    const lines = digestLines([
      part('g1', [alert('Zeta', 'warning'), alert('Zeta', 'warning'), alert('Alpha', 'warning')]),
      part('g2', [alert('Beta', 'critical'), alert('Mid', 'warning')], [alert('Mid', 'warning', 'resolved')]),
      part('g3', [alert('Info', 'info'), alert('Info', 'info'), alert('Info', 'info')]),
      part('g4', [alert('Gamma', 'warning')], [alert('Gamma', 'warning', 'resolved')]),
    ]);
    expect(lines).toEqual([
      { alertname: 'Beta', severity: 'critical', firing: 1, resolved: 0 },
      // Three warnings with two alerts each: by name.
      { alertname: 'Gamma', severity: 'warning', firing: 1, resolved: 1 },
      { alertname: 'Mid', severity: 'warning', firing: 1, resolved: 1 },
      { alertname: 'Zeta', severity: 'warning', firing: 2, resolved: 0 },
      { alertname: 'Alpha', severity: 'warning', firing: 1, resolved: 0 },
      { alertname: 'Info', severity: 'info', firing: 3, resolved: 0 },
    ]);
  });

  it('counts resolved alerts as alerts when ranking (three resolved outrank two firing)', () => {
    const lines = digestLines([
      part('g1', [alert('Firing', 'warning'), alert('Firing', 'warning')]),
      part(
        'g2',
        [],
        [0, 1, 2].map(() => alert('Resolved', 'warning', 'resolved')),
      ),
    ]);
    expect(lines.map((l) => l.alertname)).toEqual(['Resolved', 'Firing']);
  });

  it('a line with firing and resolved alerts counts both: 1 + 2 outrank 2 firing, whichever came first', () => {
    const mixed = () =>
      part(
        'g1',
        [alert('Mixed', 'warning')],
        [0, 1].map(() => alert('Mixed', 'warning', 'resolved')),
      );
    const two = () => part('g2', [alert('Two', 'warning'), alert('Two', 'warning')]);
    expect(digestLines([mixed(), two()]).map((l) => l.alertname)).toEqual(['Mixed', 'Two']);
    expect(digestLines([two(), mixed()]).map((l) => l.alertname)).toEqual(['Mixed', 'Two']);
  });

  it('keeps one line per alertname and severity', () => {
    const lines = digestLines([part('g1', [alert('Disk', 'warning'), alert('Disk', 'critical')])]);
    expect(lines).toEqual([
      { alertname: 'Disk', severity: 'critical', firing: 1, resolved: 0 },
      { alertname: 'Disk', severity: 'warning', firing: 1, resolved: 0 },
    ]);
  });
});

describe('buildDigest', () => {
  const base = { receiver: 'slack', externalUrl: 'http://x', host: 'h', now: 1000 };

  it("is as severe as its most severe firing alert (resolved ones do not count) and stands for every group's alerts", () => {
    const crit = alert('Gone', 'critical', 'resolved');
    const warn = alert('Disk', 'warning');
    const info = alert('Note', 'info');
    const d = buildDigest({ ...base, parts: [part('g1', [info], [crit]), part('g2', [warn])] });
    expect(d).toMatchObject({
      kind: 'digest',
      receiver: 'slack',
      groupKey: 'digest',
      status: 'firing',
      severity: 'warning',
      firingCount: 2,
      resolvedCount: 1,
      firing: [
        [info.fingerprint, info.episode],
        [warn.fingerprint, warn.episode],
      ],
      resolved: [[crit.fingerprint, crit.episode]],
    });
    expect(d.digest).toMatchObject({ groups: 2, more: 0 });
  });

  it('keeps the most severe firing alert whatever comes after it', () => {
    const d = buildDigest({
      ...base,
      parts: [
        part('g1', [alert('Down', 'critical'), alert('Disk', 'warning')]),
        part('g2', [alert('Note', 'info')]),
      ],
    });
    expect(d.severity).toBe('critical');
  });

  it('a digest of resolved alerts only is resolved, at info severity', () => {
    const d = buildDigest({ ...base, parts: [part('g1', [], [alert('Disk', 'critical', 'resolved')])] });
    expect(d).toMatchObject({ status: 'resolved', severity: 'info', firingCount: 0, resolvedCount: 1 });
  });

  it(`shows the first ${DIGEST_LINES} lines and counts the rest as more`, () => {
    const parts = Array.from({ length: DIGEST_LINES + 3 }, (_, i) =>
      part(`g${i}`, [alert(`Alert${String(i).padStart(2, '0')}`, 'warning')]),
    );
    const d = buildDigest({ ...base, parts });
    expect(d.digest!.lines).toHaveLength(DIGEST_LINES);
    expect(d.digest!.lines[0].alertname).toBe('Alert00');
    expect(d.digest!.more).toBe(3);
    expect(d.digest!.groups).toBe(DIGEST_LINES + 3);
  });
});
