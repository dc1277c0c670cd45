// Routing: ordered routes, first match unless `continue`, the catch-all, group keys from groupBy, and timers
// from the route or the section default.
import { describe, expect, it } from 'vitest';
import {
  compileRoutes,
  groupKeyOf,
  groupLabelsFor,
  matchRoutes,
  placeAlert,
} from '../../../daemons/alert-dispatcher/routing.js';

const defaults = {
  groupBy: ['alertname'],
  groupWaitS: 30,
  groupIntervalS: 300,
  repeatIntervalS: { critical: 3600, warning: 14_400, info: 0 },
};

const routes = compileRoutes({
  ...defaults,
  routes: [
    {
      matchers: ['severity="critical"'],
      receivers: ['slack-ops', 'email-ops'],
      continue: true,
      groupBy: ['alertname', 'host'],
      repeatIntervalS: 600,
    },
    { matchers: ['alertname=~"Calibr.*"'], receivers: ['science'], continue: false, groupWaitS: 5 },
    { matchers: [], receivers: ['slack-ops'], continue: false },
  ],
});

describe('routing', () => {
  it('continue keeps matching; a later match without continue ends it', () => {
    const m = matchRoutes({ alertname: 'CalibratorFluxDrift', severity: 'critical' }, routes);
    expect(m.map((r) => r.index)).toEqual([0, 1]);
    expect(matchRoutes({ alertname: 'DiskLow', severity: 'critical' }, routes).map((r) => r.index)).toEqual([
      0, 2,
    ]);
    expect(matchRoutes({ alertname: 'DiskLow', severity: 'warning' }, routes).map((r) => r.index)).toEqual([
      2,
    ]);
  });

  it('places one alert in one group per receiver and route, keyed by the groupBy labels', () => {
    const p = placeAlert({ alertname: 'DiskLow', severity: 'critical', host: 'h1', path: '/data' }, routes);
    expect(p.map((x) => [x.receiver, x.groupKey])).toEqual([
      ['slack-ops', 'r0:{alertname="DiskLow",host="h1"}'],
      ['email-ops', 'r0:{alertname="DiskLow",host="h1"}'],
      ['slack-ops', 'r2:{alertname="DiskLow"}'],
    ]);
    expect(p[0].timers.repeatMs).toEqual({ critical: 600_000, warning: 600_000, info: 600_000 });
    expect(p[2].timers).toEqual({
      groupWaitMs: 30_000,
      groupIntervalMs: 300_000,
      repeatMs: { critical: 3_600_000, warning: 14_400_000, info: 0 },
    });
  });

  it('takes per-route timers and defaults', () => {
    const [p] = placeAlert({ alertname: 'CalibratorFluxDrift', severity: 'warning' }, routes);
    expect(p.receiver).toBe('science');
    expect(p.timers.groupWaitMs).toBe(5000);
    expect(p.timers.groupIntervalMs).toBe(300_000);
  });

  it('group labels: missing labels absent, "..." groups by everything', () => {
    expect(groupLabelsFor({ alertname: 'A', x: '1' }, ['alertname', 'host'])).toEqual({ alertname: 'A' });
    expect(groupLabelsFor({ alertname: 'A', x: '1' }, ['...'])).toEqual({ alertname: 'A', x: '1' });
    expect(groupKeyOf(3, { b: '2', a: '1' })).toBe('r3:{a="1",b="2"}');
  });

  it('group labels come in label-name order, with no entry for a missing label', () => {
    const g = groupLabelsFor({ zone: 'z', alertname: 'A', host: 'h' }, ['zone', 'host', 'rack', 'alertname']);
    expect(Object.keys(g)).toEqual(['alertname', 'host', 'zone']);
    expect(g).toStrictEqual({ alertname: 'A', host: 'h', zone: 'z' });
  });
});
