// One alert as the dispatcher sees it, for the pure tests: a firing warning `Disk` alert unless told otherwise.
import type { AlertView } from '../../../lib/notifiers/content.js';

export function alertView(fp: string, p: Partial<AlertView> = {}): AlertView {
  return {
    fingerprint: fp,
    alertname: 'Disk',
    severity: 'warning',
    status: 'firing',
    episode: 1,
    labels: { alertname: 'Disk', path: fp },
    annotations: {},
    source: 'test',
    startsAt: 0,
    endsAt: null,
    seenAt: 0,
    generatorUrl: null,
    preGrouped: false,
    ...p,
  };
}
