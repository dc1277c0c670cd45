// The next calibrator transits: a countdown to each, and the window that is open now highlighted with the
// time left in it. Countdowns run on the server's clock (the page's clock offset), every second.
import type { TransitView } from './contract.js';
import { countdown, h, hms, reconcile, setClass, setText } from './dom.js';

const keyOf = (t: TransitView): string => `${t.name}@${t.transitMs}`;

function phase(t: TransitView, now: number): 'open' | 'ahead' | 'past' {
  if (
    t.eligible &&
    t.windowStartMs !== null &&
    t.windowEndMs !== null &&
    now >= t.windowStartMs &&
    now <= t.windowEndMs
  )
    return 'open';
  return now < t.transitMs ? 'ahead' : 'past';
}

function when(t: TransitView, now: number): string {
  const p = phase(t, now);
  if (p === 'open') return `window open · ${countdown((t.windowEndMs ?? now) - now)} left`;
  if (p === 'past') return `transited ${countdown(now - t.transitMs)} ago`;
  return `in ${countdown(t.transitMs - now)}`;
}

function create(): HTMLLIElement {
  return h(
    'li',
    { class: 'transit' },
    h('span', { class: 't-name' }),
    h('span', { class: 't-tag' }),
    h('time', { class: 't-time' }),
    h('span', { class: 't-when' }),
    h('span', { class: 't-flux' }),
  );
}

function update(li: HTMLLIElement, t: TransitView, now: number): void {
  const [name, tag, time, whenEl, flux] = Array.from(li.children) as HTMLElement[];
  setClass(li, `transit ${phase(t, now)}${t.eligible ? ' eligible' : ''}`);
  setText(name, t.name);
  setText(tag, t.eligible ? 'in beam' : 'watch');
  tag.title = t.eligible
    ? 'within the declination tolerance and above the beam response: a calibration chance'
    : 'on the watch list, outside the beam at this pointing';
  setText(time, `${hms(t.transitMs)} UTC`);
  time.setAttribute('datetime', new Date(t.transitMs).toISOString());
  setText(whenEl, when(t, now));
  setText(flux, t.fluxJy === null ? '' : `${t.fluxJy.toFixed(1)} Jy`);
}

export function renderTransits(list: HTMLElement, transits: readonly TransitView[], now: number): void {
  reconcile(list, transits, keyOf, create, (li, t) => update(li, t, now));
}
