// Small DOM helpers for the status page: an element builder, a keyed list update that keeps existing rows
// (and so keyboard focus) in place, and the formatters every section shares. No framework: the page is a few
// lists that change a row at a time.

type Child = Node | string | null | undefined | false;

/** Create an element with classes, attributes and children (text is always text, never HTML). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { class?: string; attrs?: Record<string, string> } | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props?.class) el.className = props.class;
  for (const [k, v] of Object.entries(props?.attrs ?? {})) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`status page: #${id} is missing from index.html`);
  return el as T;
}

/** Replace the text of an element only when it changed (no needless layout, no flicker). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Set the class list to exactly `cls` when it differs. */
export function setClass(el: Element, cls: string): void {
  if (el.className !== cls) el.className = cls;
}

/**
 * Make `list`'s children the rows for `items`, in order: a row whose key exists is updated in place, a new key
 * gets a new row, a vanished key's row is removed. Rows are moved only when out of order, so a focused button
 * stays focused while its list updates around it.
 */
export function reconcile<T, E extends HTMLElement>(
  list: HTMLElement,
  items: readonly T[],
  key: (item: T) => string,
  create: (item: T) => E,
  update: (el: E, item: T) => void,
): void {
  const existing = new Map<string, E>();
  for (const child of Array.from(list.children) as E[]) {
    const k = child.dataset.key;
    if (k !== undefined) existing.set(k, child);
  }
  const wanted = new Set<string>();
  let at = 0;
  for (const item of items) {
    const k = key(item);
    wanted.add(k);
    let el = existing.get(k);
    if (!el) {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    const here = list.children[at];
    if (here !== el) list.insertBefore(el, here ?? null);
    at++;
  }
  for (const [k, el] of existing) if (!wanted.has(k)) el.remove();
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** HH:MM:SS of a UTC instant. */
export function hms(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** HH:MM:SS of hours in [0, 24). */
export function hoursHms(hours: number): string {
  const s = Math.floor((((hours % 24) + 24) % 24) * 3600);
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

/** A duration as the operator reads it: 42 s, 7m 05s, 3h 12m, 2d 4h. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** A countdown: 1:02:03 or 4:05 (hours only when needed). */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  return hh > 0 ? `${hh}:${pad(mm)}:${pad(s % 60)}` : `${mm}:${pad(s % 60)}`;
}

/** Degrees with a sign and a fixed number of decimals: +51.420°. */
export function degrees(v: number | null, digits = 3): string {
  if (v === null || !Number.isFinite(v)) return '—';
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}°`;
}

export function fixed(v: number | null | undefined, digits: number, unit = ''): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${v.toFixed(digits)}${unit}`;
}
