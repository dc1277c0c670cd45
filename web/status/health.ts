// The host's health as the scheduler last found it (its targets, the age of the calibration in use, the
// calibrators' flux drift) and each daemon's readiness and last sign of life as the serving daemon sees it.
import type { DaemonView, SchedulerPart } from './contract.js';
import { duration, h, reconcile, setClass, setText } from './dom.js';

const STATUS_TEXT: Record<string, string> = {
  ok: 'ok',
  warn: 'warning',
  crit: 'critical',
  unknown: 'unknown',
  unavailable: 'n/a',
};

function row(): HTMLLIElement {
  return h(
    'li',
    null,
    h('span', { class: 'dot' }),
    h('span', { class: 'r-name' }),
    h('span', { class: 'r-info' }),
  );
}

function fill(li: HTMLLIElement, cls: string, name: string, info: string, title = ''): void {
  const [dot, n, i] = Array.from(li.children) as HTMLElement[];
  setClass(li, cls);
  setClass(dot, 'dot');
  setText(n, name);
  setText(i, info);
  li.title = title;
}

export function renderDaemons(list: HTMLElement, daemons: readonly DaemonView[], now: number): void {
  reconcile(
    list,
    daemons,
    (d) => d.name,
    row,
    (li, d) => {
      const state = !d.up ? 'down' : d.ready ? 'ready' : 'not-ready';
      const seen =
        d.lastSeenAt === null
          ? 'never seen'
          : d.self
            ? 'serving this page'
            : `seen ${duration(now - d.lastSeenAt)} ago`;
      const up = d.up && d.uptimeS !== null ? `up ${duration(d.uptimeS * 1000)} · ` : '';
      const what = !d.up ? 'down' : d.ready ? 'ready' : `not ready: ${d.failing.join('; ')}`;
      fill(li, `st st-${state}`, d.name, `${what} · ${up}${seen}`, `port ${d.port}`);
    },
  );
}

function calibrationLine(s: SchedulerPart, now: number): { cls: string; text: string } {
  const c = s.calibration;
  if (!c) return { cls: 'st st-unknown', text: 'no validity check has run yet' };
  if (!c.readable) return { cls: 'st st-crit', text: 'calibration registry unreadable' };
  if (c.nearestMidpointMs === null) return { cls: 'st st-crit', text: 'no complete calibration set' };
  const ageH = Math.abs(now - c.nearestMidpointMs) / 3_600_000;
  const level = ageH > c.staleCritHours ? 'crit' : ageH > c.staleWarnHours ? 'warn' : 'ok';
  const expiry =
    c.covering.length === 0
      ? 'none covers now'
      : c.hoursUntilExpiry === null
        ? 'open-ended'
        : `valid ${c.hoursUntilExpiry.toFixed(1)} h more`;
  return {
    cls: `st st-${level}`,
    text: `${c.nearestSet} · ${ageH.toFixed(1)} h old (warn ${c.staleWarnHours} h) · ${expiry}`,
  };
}

export function renderScheduler(root: HTMLElement, s: SchedulerPart, now: number): void {
  const overall = root.querySelector<HTMLElement>('#health-overall')!;
  setClass(overall, `badge h-${s.health.status}`);
  setText(overall, s.health.status);
  setText(
    root.querySelector('#health-checked')!,
    s.health.checkedAt === null ? 'not checked yet' : `checked ${duration(now - s.health.checkedAt)} ago`,
  );
  reconcile(
    root.querySelector<HTMLElement>('#health-list')!,
    s.health.targets,
    (t) => t.targetId,
    row,
    (li, t) =>
      fill(
        li,
        `st st-${t.status}`,
        t.name,
        `${t.kind} · ${STATUS_TEXT[t.status] ?? t.status} for ${duration(now - t.statusSince)}`,
        t.detail ?? '',
      ),
  );
  const cal = calibrationLine(s, now);
  const calEl = root.querySelector<HTMLElement>('#calibration')!;
  setClass(calEl, cal.cls);
  setText(calEl.querySelector('.r-info')!, cal.text);
  const flux = s.flux;
  setText(
    root.querySelector('#flux-note')!,
    !flux
      ? 'no flux check has run yet'
      : flux.noData
        ? 'no recent flux measurements'
        : `${flux.windowDays} d window · warn above ${flux.driftWarnPct} %, critical above ${flux.driftCritPct} %`,
  );
  reconcile(
    root.querySelector<HTMLElement>('#flux-list')!,
    flux?.calibrators ?? [],
    (c) => c.calibrator,
    row,
    (li, c) =>
      fill(
        li,
        `st st-${c.drift === 'critical' ? 'crit' : c.drift === 'warning' ? 'warn' : 'ok'}`,
        c.calibrator,
        `drift ${c.driftPct.toFixed(1)} % · mean ratio ${c.mean.toFixed(3)} · latest ${c.latest.toFixed(3)} · n=${c.n}`,
      ),
  );
}
