// Muting: silences in their window; inhibition needs a firing source (another alert) with equal labels.
import { describe, expect, it } from 'vitest';
import {
  compileInhibitRules,
  compileSilence,
  InhibitionIndex,
  silencedBy,
} from '../../../daemons/alert-dispatcher/mute.js';
import { parseMatchers } from '../../../lib/matchers/index.js';
import type { AlertView } from '../../../lib/notifiers/content.js';
import { alertView } from './fixtures.js';

function view(
  fingerprint: string,
  labels: Record<string, string>,
  status: 'firing' | 'resolved' = 'firing',
): AlertView {
  return alertView(fingerprint, { alertname: labels.alertname, labels, status });
}

describe('silences', () => {
  const s = compileSilence({
    id: 's1',
    matchers: parseMatchers('alertname="SystemdUnitDown"'),
    startsAt: 1000,
    endsAt: 2000,
  });
  it('mute matching alerts only inside their window', () => {
    expect(silencedBy({ alertname: 'SystemdUnitDown' }, [s], 999)).toBeNull();
    expect(silencedBy({ alertname: 'SystemdUnitDown' }, [s], 1000)).toBe('s1');
    expect(silencedBy({ alertname: 'SystemdUnitDown' }, [s], 2000)).toBeNull();
    expect(silencedBy({ alertname: 'Other' }, [s], 1500)).toBeNull();
  });
});

describe('inhibition', () => {
  const rules = compileInhibitRules([
    {
      source: ['alertname="SystemdUnitDown"', 'unit="contimg-api.service"'],
      target: ['alertname="HttpEndpointDown"', 'endpoint="api"'],
      equal: ['host'],
    },
    { source: ['severity="critical"'], target: ['severity="warning"'], equal: ['alertname', 'host'] },
  ]);
  const unit = view('u', { alertname: 'SystemdUnitDown', unit: 'contimg-api.service', host: 'h1' });
  const endpoint = view('e', { alertname: 'HttpEndpointDown', endpoint: 'api', host: 'h1' });

  it('a firing source mutes a target with the same equal labels', () => {
    expect(new InhibitionIndex(rules, [unit, endpoint]).inhibitedBy(endpoint)).toBe(0);
    expect(new InhibitionIndex(rules, [unit, endpoint]).inhibitedBy(unit)).toBeNull();
  });

  it('not when the equal labels differ, or the source resolved', () => {
    const other = view('e2', { alertname: 'HttpEndpointDown', endpoint: 'api', host: 'h2' });
    expect(new InhibitionIndex(rules, [unit, other]).inhibitedBy(other)).toBeNull();
    expect(
      new InhibitionIndex(rules, [{ ...unit, status: 'resolved' }, endpoint]).inhibitedBy(endpoint),
    ).toBeNull();
  });

  it('an alert matching both sides never inhibits itself', () => {
    const rule = compileInhibitRules([
      { source: ['alertname="X"'], target: ['alertname="X"'], equal: ['host'] },
    ]);
    const a = view('a', { alertname: 'X', host: 'h' });
    const b = view('b', { alertname: 'X', host: 'h' });
    expect(new InhibitionIndex(rule, [a]).inhibitedBy(a)).toBeNull();
    expect(new InhibitionIndex(rule, [a, b]).inhibitedBy(a)).toBe(0);
  });

  it('critical mutes warning of the same alertname and host', () => {
    const crit = view('c', { alertname: 'Disk', severity: 'critical', host: 'h' });
    const warn = view('w', { alertname: 'Disk', severity: 'warning', host: 'h' });
    expect(new InhibitionIndex(rules, [crit, warn]).inhibitedBy(warn)).toBe(1);
  });
});
