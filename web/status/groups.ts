// The observation strip: the newest groups, newest first, each a row of subband cells coloured by the state of
// the file in that slot, the group's state, and its conversion time (or what went wrong). Events move a
// group's state and fill its cells at once; the snapshot part re-read after them has the final word.
import type { CellState, GroupState, GroupView } from './contract.js';
import { duration, h, hms, reconcile, setClass, setText } from './dom.js';

export const GROUP_LIMIT = 24;

/** Group states an event type moves a group to (the converter's own transitions). */
const STATE_AFTER: Record<string, GroupState> = {
  'converter.group_ready': 'ready',
  'converter.dispatched': 'converting',
  'converter.converted': 'converted',
  'converter.retry_scheduled': 'retry_wait',
  'converter.attempt_aborted': 'retry_wait',
  'converter.failed': 'failed',
  'converter.incomplete': 'incomplete',
  'converter.abandoned': 'abandoned',
};

const REQUEUEABLE: readonly GroupState[] = ['failed', 'incomplete'];

const CELL_TEXT: Record<CellState, string> = {
  missing: 'not yet arrived',
  valid: 'valid',
  late: 'arrived late',
  duplicate: 'duplicate',
  changed: 'changed after dispatch',
  gone: 'gone',
  invalid: 'invalid',
};

/** The anchor of a group id (its sb00 name timestamp, UTC). */
function anchorOf(groupId: string): number {
  const t = Date.parse(`${groupId}Z`);
  return Number.isFinite(t) ? t : Date.now();
}

/**
 * Apply a converter event to the groups shown; returns whether anything changed. Unknown groups are added
 * when the event says enough (its files), and the list stays the newest GROUP_LIMIT.
 */
export function applyConverterEvent(groups: GroupView[], type: string, p: Record<string, unknown>): boolean {
  const id = typeof p.groupId === 'string' ? p.groupId : null;
  if (id === null) return false;
  const prev = typeof p.previousGroupId === 'string' ? p.previousGroupId : null;
  let g = groups.find((x) => x.groupId === id) ?? (prev ? groups.find((x) => x.groupId === prev) : undefined);
  if (type === 'converter.group_files') {
    const subbands = Array.isArray(p.subbands)
      ? p.subbands.filter((s): s is number => typeof s === 'number')
      : [];
    if (!g) {
      const expected = Math.max(16, ...subbands.map((s) => s + 1));
      g = {
        groupId: id,
        state: 'collecting',
        nFiles: 0,
        expected,
        cells: Array.from({ length: expected }, (): CellState => 'missing'),
        anchorMs: anchorOf(id),
        dispatchedAt: null,
        finishedAt: null,
        conversionMs: null,
        attempts: 0,
        partial: false,
        errorCode: null,
        error: null,
      };
      groups.push(g);
    }
    g.groupId = id;
    g.anchorMs = anchorOf(id);
    g.nFiles = typeof p.nFiles === 'number' ? p.nFiles : subbands.length;
    const valid = new Set(subbands);
    g.cells = g.cells.map((c, i) => (valid.has(i) ? 'valid' : c === 'valid' ? 'missing' : c));
  } else {
    if (!g) return false;
    const to = type === 'converter.requeued' ? (p.to as GroupState | undefined) : STATE_AFTER[type];
    if (!to) return false;
    g.state = to;
    if (to === 'converted' && typeof p.durationMs === 'number') g.conversionMs = p.durationMs;
    if (to === 'failed' && typeof p.outcome === 'string') g.errorCode = p.outcome;
  }
  groups.sort((a, b) => b.anchorMs - a.anchorMs);
  groups.splice(GROUP_LIMIT);
  return true;
}

function detailOf(g: GroupView): string {
  if (g.state === 'converted' && g.conversionMs !== null)
    return `converted in ${g.conversionMs < 1000 ? `${g.conversionMs} ms` : duration(g.conversionMs)}`;
  if ((g.state === 'failed' || g.state === 'retry_wait') && g.errorCode) return g.errorCode;
  if (g.partial) return 'partial';
  if (g.attempts > 1) return `attempt ${g.attempts}`;
  return '';
}

export interface GroupActions {
  requeue(groupId: string): Promise<void>;
}

function createRow(g: GroupView, act: GroupActions): HTMLLIElement {
  const cells = h('span', { class: 'cells', attrs: { 'aria-hidden': 'true' } });
  const button = h('button', { class: 'btn g-act', attrs: { type: 'button' } }, 'Requeue');
  let armed: number | undefined;
  const disarm = (): void => {
    window.clearTimeout(armed);
    armed = undefined;
    button.classList.remove('armed');
    setText(button, 'Requeue');
  };
  // Two steps: the first press asks, the second (within 5 s) requeues.
  button.addEventListener('click', () => {
    const groupId = button.closest('li')?.dataset.key ?? g.groupId;
    if (armed === undefined) {
      button.classList.add('armed');
      setText(button, 'Confirm requeue');
      armed = window.setTimeout(disarm, 5_000);
      return;
    }
    disarm();
    button.disabled = true;
    void act.requeue(groupId).finally(() => (button.disabled = false));
  });
  button.addEventListener('blur', disarm);
  button.addEventListener('keydown', (e) => e.key === 'Escape' && disarm());
  return h(
    'li',
    { class: 'group' },
    h('time', { class: 'g-time' }),
    cells,
    h('span', { class: 'g-count' }),
    h('span', { class: 'badge' }),
    h('span', { class: 'g-detail' }),
    button,
  );
}

function updateRow(li: HTMLLIElement, g: GroupView): void {
  const [time, cells, count, badge, detail, button] = Array.from(li.children) as HTMLElement[];
  setClass(li, `group s-${g.state}`);
  li.setAttribute(
    'aria-label',
    `observation ${g.groupId} UTC: ${g.state.replace('_', ' ')}, ${g.nFiles} of ${g.expected} subbands`,
  );
  setText(time, hms(g.anchorMs));
  time.setAttribute('datetime', new Date(g.anchorMs).toISOString());
  time.title = `${g.groupId} UTC`;
  while (cells.children.length < g.cells.length) cells.append(h('i', { class: 'cell' }));
  while (cells.children.length > g.cells.length) cells.lastElementChild?.remove();
  g.cells.forEach((c, i) => {
    const cell = cells.children[i] as HTMLElement;
    setClass(cell, `cell c-${c}`);
    cell.title = `sb${String(i).padStart(2, '0')}: ${CELL_TEXT[c]}`;
  });
  setText(count, `${g.nFiles}/${g.expected}`);
  setClass(badge, `badge s-${g.state}`);
  setText(badge, g.state.replace('_', ' '));
  setText(detail, detailOf(g));
  detail.title = g.error ?? '';
  button.hidden = !REQUEUEABLE.includes(g.state);
  button.setAttribute('aria-label', `requeue observation ${g.groupId}`);
}

export function renderGroups(list: HTMLElement, groups: readonly GroupView[], act: GroupActions): void {
  reconcile(
    list,
    groups,
    (g) => g.groupId,
    (g) => createRow(g, act),
    updateRow,
  );
}
