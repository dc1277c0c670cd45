import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { Db } from '../../../lib/db/index.js';
import { ValidationError } from '../../../lib/errors.js';
import {
  alertFingerprint,
  alertHistory,
  getAlert,
  listAlerts,
  raiseAlert,
  resolveAlert,
} from '../../../lib/alerts/index.js';
import { setUpStateDb, tearDownStateDb } from '../../fixtures/queue/state-db.js';
import { thrown } from '../../helpers/thrown.js';

let dir: string;
let db: Db;
beforeEach(async () => {
  ({ dir, db } = await setUpStateDb());
});
afterEach(() => tearDownStateDb({ dir, db }));

const base = {
  alertname: 'DiskSpaceLow',
  severity: 'warning' as const,
  labels: { path: '/data', host: 'h1' },
};

describe('alertFingerprint', () => {
  it('is sha256 of the canonical sorted label set including alertname, first 16 hex chars', () => {
    const expected = createHash('sha256')
      .update(JSON.stringify({ alertname: 'DiskSpaceLow', host: 'h1', path: '/data' }))
      .digest('hex')
      .slice(0, 16);
    expect(alertFingerprint('DiskSpaceLow', { path: '/data', host: 'h1' })).toBe(expected);
    expect(alertFingerprint('DiskSpaceLow', { host: 'h1', path: '/data' })).toBe(expected);
  });
  it('differs when any label or the alertname differs', () => {
    const a = alertFingerprint('A', { x: '1' });
    expect(alertFingerprint('B', { x: '1' })).not.toBe(a);
    expect(alertFingerprint('A', { x: '2' })).not.toBe(a);
    expect(alertFingerprint('A', { x: '1', y: '' })).not.toBe(a);
  });
  it('rejects a missing alertname, a conflicting alertname label and non-string values, saying which', () => {
    expect(thrown(() => alertFingerprint('', { x: '1' }))).toMatchObject({
      constructor: ValidationError,
      message: 'alertname is required',
    });
    expect(thrown(() => alertFingerprint('A', { alertname: 'B' }))).toMatchObject({
      constructor: ValidationError,
      message: 'labels.alertname differs from alertname',
      details: { alertname: 'A', label: 'B' },
    });
    expect(thrown(() => alertFingerprint('A', { n: 3 as unknown as string }))).toMatchObject({
      constructor: ValidationError,
      message: 'label n must be a string',
      details: { key: 'n' },
    });
    expect(alertFingerprint('A', { alertname: 'A' })).toBe(alertFingerprint('A', {}));
  });
});

describe('raiseAlert / resolveAlert', () => {
  it('fires a new alert as episode 1 with a fired history row', () => {
    const r = db.write((c) =>
      raiseAlert(c, { ...base, annotations: { summary: 'low' }, source: 'health' }, 1000),
    );
    expect(r).toEqual({
      fingerprint: alertFingerprint(base.alertname, base.labels),
      isNewEpisode: true,
      episode: 1,
    });
    const a = db.read((c) => getAlert(c, r.fingerprint));
    expect(a).toMatchObject({
      status: 'firing',
      episode: 1,
      startsAt: 1000,
      endsAt: null,
      source: 'health',
      labels: { alertname: 'DiskSpaceLow', host: 'h1', path: '/data' },
      annotations: { summary: 'low' },
    });
    expect(db.read((c) => alertHistory(c, r.fingerprint)).map((e) => e.event)).toEqual(['fired']);
  });

  it('re-raising a firing alert updates it without a new episode; history only on change', () => {
    db.write((c) => raiseAlert(c, { ...base, annotations: { value: '20' } }, 1000));
    const same = db.write((c) => raiseAlert(c, { ...base, annotations: { value: '20' } }, 2000));
    expect(same.isNewEpisode).toBe(false);
    const changed = db.write((c) =>
      raiseAlert(c, { ...base, severity: 'critical', annotations: { value: '10' } }, 3000),
    );
    expect(changed).toMatchObject({ isNewEpisode: false, episode: 1 });
    const a = db.read((c) => getAlert(c, changed.fingerprint))!;
    expect(a).toMatchObject({
      severity: 'critical',
      annotations: { value: '10' },
      startsAt: 1000,
      updatedAt: 3000,
    });
    const events = db.read((c) => alertHistory(c, a.fingerprint));
    expect(events.map((e) => [e.event, e.episode, e.at])).toEqual([
      ['fired', 1, 1000],
      ['updated', 1, 3000],
    ]);
  });

  it('re-raising with the same annotations in another key order records no new history', () => {
    const fp = db.write((c) => raiseAlert(c, { ...base, annotations: { summary: 's', value: '20' } }, 1000));
    db.write((c) => raiseAlert(c, { ...base, annotations: { value: '20', summary: 's' } }, 2000));
    expect(db.read((c) => alertHistory(c, fp.fingerprint)).map((e) => e.event)).toEqual(['fired']);
    const events = db.read((c) => c.prepare("SELECT type FROM events WHERE topic = 'alerts'").all());
    expect(events).toEqual([{ type: 'alert.fired' }]);
    expect(db.read((c) => getAlert(c, fp.fingerprint))).toMatchObject({
      updatedAt: 2000,
      annotations: { summary: 's', value: '20' },
    });
  });

  it('a severity change alone is an update', () => {
    const { fingerprint } = db.write((c) => raiseAlert(c, { ...base, annotations: { v: '1' } }, 1000));
    db.write((c) => raiseAlert(c, { ...base, severity: 'critical', annotations: { v: '1' } }, 2000));
    expect(db.read((c) => alertHistory(c, fingerprint)).map((e) => [e.event, e.severity])).toEqual([
      ['fired', 'warning'],
      ['updated', 'critical'],
    ]);
  });

  it('resolves a firing alert once, and a later raise starts episode 2', () => {
    const { fingerprint } = db.write((c) => raiseAlert(c, base, 1000));
    expect(db.write((c) => resolveAlert(c, base, 5000))).toEqual({ fingerprint, resolved: true });
    expect(db.write((c) => resolveAlert(c, base, 6000))).toEqual({ fingerprint, resolved: false });
    expect(db.read((c) => getAlert(c, fingerprint))).toMatchObject({ status: 'resolved', endsAt: 5000 });
    const again = db.write((c) => raiseAlert(c, base, 9000));
    expect(again).toEqual({ fingerprint, isNewEpisode: true, episode: 2 });
    expect(db.read((c) => getAlert(c, fingerprint))).toMatchObject({
      status: 'firing',
      episode: 2,
      startsAt: 9000,
      endsAt: null,
    });
    expect(db.read((c) => alertHistory(c, fingerprint)).map((e) => `${e.event}:${e.episode}`)).toEqual([
      'fired:1',
      'resolved:1',
      'fired:2',
    ]);
  });

  it('appends each recorded transition to the events table (topic alerts) in the same transaction', () => {
    db.write((c) => raiseAlert(c, { ...base, annotations: { v: '1' } }, 1000));
    db.write((c) => raiseAlert(c, { ...base, annotations: { v: '1' } }, 1500)); // no change: no event
    db.write((c) => raiseAlert(c, { ...base, annotations: { v: '2' } }, 2000));
    db.write((c) => resolveAlert(c, base, 3000));
    const events = db.read((c) =>
      c.prepare("SELECT type, payload, created_at FROM events WHERE topic = 'alerts' ORDER BY seq").all(),
    ) as { type: string; payload: string; created_at: number }[];
    expect(events.map((e) => [e.type, e.created_at])).toEqual([
      ['alert.fired', 1000],
      ['alert.updated', 2000],
      ['alert.resolved', 3000],
    ]);
    expect(JSON.parse(events[2].payload)).toMatchObject({
      fingerprint: alertFingerprint(base.alertname, base.labels),
      alertname: 'DiskSpaceLow',
      status: 'resolved',
      episode: 1,
      annotations: { v: '2' },
      labels: { alertname: 'DiskSpaceLow', host: 'h1', path: '/data' },
    });
  });

  it('resolving an unknown alert is a no-op', () => {
    expect(db.write((c) => resolveAlert(c, { alertname: 'Nope', labels: {} }, 1)).resolved).toBe(false);
    expect(db.read((c) => listAlerts(c))).toEqual([]);
  });

  it('rejects an unknown severity, naming the allowed ones, and writes nothing', () => {
    expect(
      thrown(() => db.write((c) => raiseAlert(c, { ...base, severity: 'page' as unknown as 'info' }, 1))),
    ).toMatchObject({
      constructor: ValidationError,
      message: 'severity must be one of critical, warning, info',
      details: { severity: 'page' },
    });
    expect(db.read((c) => listAlerts(c))).toEqual([]);
  });

  it('stores an empty source when none is given, and the latest one on a re-raise', () => {
    const { fingerprint } = db.write((c) => raiseAlert(c, base, 1));
    expect(db.read((c) => getAlert(c, fingerprint))?.source).toBe('');
    db.write((c) => raiseAlert(c, { ...base, source: 'health' }, 2));
    expect(db.read((c) => getAlert(c, fingerprint))?.source).toBe('health');
  });

  it('rolls back with the caller transaction', () => {
    expect(() =>
      db.write((c) => {
        raiseAlert(c, base, 1);
        throw new Error('domain write failed');
      }),
    ).toThrow('domain write failed');
    expect(db.read((c) => listAlerts(c))).toEqual([]);
    expect(db.read((c) => c.prepare('SELECT count(*) AS n FROM events').get())).toEqual({ n: 0 });
  });

  it('lists by status, most recently updated first', () => {
    db.write((c) => {
      raiseAlert(c, { ...base, labels: { path: '/a' } }, 1);
      raiseAlert(c, { ...base, labels: { path: '/b' } }, 2);
      raiseAlert(c, { ...base, labels: { path: '/c' } }, 3);
      resolveAlert(c, { alertname: base.alertname, labels: { path: '/b' } }, 4);
    });
    const paths = (status?: 'firing' | 'resolved'): string[] =>
      db.read((c) => listAlerts(c, { status })).map((a) => a.labels.path);
    expect(paths()).toEqual(['/b', '/c', '/a']);
    expect(paths('firing')).toEqual(['/c', '/a']);
    expect(paths('resolved')).toEqual(['/b']);
  });
});
