// Routing, pure: an alert's label set goes down the ordered route list (first match wins unless the route says
// `continue`; the last route is a catch-all), and each matched route places it in one group per receiver,
// keyed by the route and the values of its groupBy labels. Timers come from the route or the section default.
import type { Severity } from '../../lib/alerts/index.js';
import type { AlertDispatcherConfig, RouteConfig } from '../../lib/config/sections/alert-dispatcher.js';
import { compileAll, matchesAll, type CompiledMatcher } from '../../lib/matchers/index.js';
import type { Labels } from '../../lib/notifiers/content.js';

export interface Timers {
  groupWaitMs: number;
  groupIntervalMs: number;
  /** Per severity; 0 = never repeat. */
  repeatMs: Record<Severity, number>;
}

export interface CompiledRoute {
  index: number;
  matchers: CompiledMatcher[];
  receivers: string[];
  continue: boolean;
  groupBy: string[];
  timers: Timers;
}

/** Where one alert goes: one group of one receiver. */
export interface Placement {
  receiver: string;
  groupKey: string;
  groupLabels: Labels;
  timers: Timers;
}

type Defaults = Pick<AlertDispatcherConfig, 'groupBy' | 'groupWaitS' | 'groupIntervalS' | 'repeatIntervalS'>;

function timersOf(r: RouteConfig, d: Defaults): Timers {
  const rep = r.repeatIntervalS;
  const repeatS = (sev: Severity): number =>
    rep === undefined
      ? d.repeatIntervalS[sev]
      : typeof rep === 'number'
        ? rep
        : (rep[sev] ?? d.repeatIntervalS[sev]);
  return {
    groupWaitMs: (r.groupWaitS ?? d.groupWaitS) * 1000,
    groupIntervalMs: (r.groupIntervalS ?? d.groupIntervalS) * 1000,
    repeatMs: {
      critical: repeatS('critical') * 1000,
      warning: repeatS('warning') * 1000,
      info: repeatS('info') * 1000,
    },
  };
}

export function compileRoutes(cfg: Defaults & { routes: readonly RouteConfig[] }): CompiledRoute[] {
  return cfg.routes.map((r, index) => ({
    index,
    matchers: compileAll(r.matchers),
    receivers: [...r.receivers],
    continue: r.continue,
    groupBy: [...(r.groupBy ?? cfg.groupBy)],
    timers: timersOf(r, cfg),
  }));
}

/** The group labels: the groupBy labels' values (missing ones absent); `...` groups by every label. */
export function groupLabelsFor(labels: Labels, groupBy: readonly string[]): Labels {
  if (groupBy.includes('...')) return { ...labels };
  const out: Labels = {};
  for (const k of [...groupBy].sort()) if (labels[k] !== undefined) out[k] = labels[k];
  return out;
}

/** `r<route>:{a="x",b="y"}`: stable, readable, and distinct per route. */
export function groupKeyOf(routeIndex: number, groupLabels: Labels): string {
  const body = Object.keys(groupLabels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(groupLabels[k])}`)
    .join(',');
  return `r${routeIndex}:{${body}}`;
}

/** The routes an alert matches, in order: stop at the first match without `continue`. */
export function matchRoutes(labels: Labels, routes: readonly CompiledRoute[]): CompiledRoute[] {
  const out: CompiledRoute[] = [];
  for (const r of routes) {
    if (!matchesAll(r.matchers, labels)) continue;
    out.push(r);
    if (!r.continue) break;
  }
  return out;
}

/** Every group (receiver × matched route) the alert belongs to. */
export function placeAlert(labels: Labels, routes: readonly CompiledRoute[]): Placement[] {
  const out: Placement[] = [];
  for (const r of matchRoutes(labels, routes)) {
    const groupLabels = groupLabelsFor(labels, r.groupBy);
    const groupKey = groupKeyOf(r.index, groupLabels);
    for (const receiver of r.receivers) out.push({ receiver, groupKey, groupLabels, timers: r.timers });
  }
  return out;
}
