// Firing alerts: severity, name, summary, labels, how long it has fired, whether someone has taken it, and the
// ack / unack buttons. Unacknowledged alerts come first, the most severe and then the oldest on top.
import type { AlertView } from './contract.js';
import { duration, h, reconcile, setClass, setText } from './dom.js';

const SEVERITY_RANK: Record<AlertView['severity'], number> = { critical: 0, warning: 1, info: 2 };
const STATE_RANK: Record<AlertView['state'], number> = { firing: 0, acked: 1, muted: 2 };

export function sortAlerts(alerts: readonly AlertView[]): AlertView[] {
  return [...alerts].sort(
    (a, b) =>
      STATE_RANK[a.state] - STATE_RANK[b.state] ||
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      a.startsAt - b.startsAt,
  );
}

export interface AlertActions {
  ack(fingerprint: string, alertname: string): Promise<void>;
  unack(fingerprint: string, alertname: string): Promise<void>;
}

/** Labels worth a glance (alertname is the title; host and source are the same for most). */
function labelText(a: AlertView): string {
  return Object.entries(a.labels)
    .filter(([k]) => k !== 'alertname' && k !== 'host')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function create(act: AlertActions): HTMLLIElement {
  const button = h('button', { class: 'btn a-act', attrs: { type: 'button' } });
  // The row's current alert is on its dataset (rows are updated in place).
  button.addEventListener('click', () => {
    const d = (button.closest('li') as HTMLLIElement).dataset;
    button.disabled = true;
    const done =
      d.state === 'acked' ? act.unack(d.key ?? '', d.name ?? '') : act.ack(d.key ?? '', d.name ?? '');
    void done.finally(() => (button.disabled = false));
  });
  return h(
    'li',
    { class: 'alert' },
    h('span', { class: 'sev' }),
    h(
      'div',
      { class: 'a-main' },
      h('p', { class: 'a-title' }, h('strong', null), ' ', h('span', { class: 'a-labels' })),
      h('p', { class: 'a-summary' }),
      h('p', { class: 'a-meta' }),
    ),
    button,
  );
}

function update(li: HTMLLIElement, a: AlertView, now: number): void {
  const [sev, main, button] = Array.from(li.children) as HTMLElement[];
  const [title, summary, meta] = Array.from(main.children) as HTMLElement[];
  setClass(li, `alert sev-${a.severity} st-${a.state}`);
  li.dataset.state = a.state;
  li.dataset.name = a.alertname;
  setText(sev, a.severity);
  setText(title.firstElementChild!, a.alertname);
  setText(title.lastElementChild!, labelText(a));
  setText(summary, a.summary);
  summary.hidden = a.summary === '';
  const taken =
    a.state === 'acked' && a.ack
      ? ` · acked by ${a.ack.by} ${duration(now - a.ack.at)} ago${a.ack.comment ? `: ${a.ack.comment}` : ''}`
      : a.state === 'muted'
        ? ' · muted'
        : '';
  setText(meta, `firing for ${duration(now - a.startsAt)}${taken}`);
  setText(button, a.state === 'acked' ? 'Unack' : 'Ack');
  button.setAttribute(
    'aria-label',
    `${a.state === 'acked' ? 'withdraw acknowledgement of' : 'acknowledge'} ${a.alertname}`,
  );
}

export function renderAlerts(
  list: HTMLElement,
  alerts: readonly AlertView[],
  act: AlertActions,
  now: number,
): void {
  reconcile(
    list,
    sortAlerts(alerts),
    (a) => a.fingerprint,
    () => create(act),
    (li, a) => update(li, a, now),
  );
}
