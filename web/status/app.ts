// The status page: load the snapshot (and the daemons' readiness), draw every section, then follow the events
// over the WebSocket. An event changes what it can at once (a group's state, its cells) and marks the parts it
// touches; those are re-read together shortly after (GET /api/status?parts=…) and drawn when the answer is at
// least as new as the events that asked for it. Clocks and countdowns tick every second on the server's clock.
import { act, ApiError, getJson, serverClock } from './api.js';
import { renderAlerts } from './alerts.js';
import {
  PART_NAMES,
  type ClockPart,
  type DaemonView,
  type GroupView,
  type PartName,
  type StatusSnapshot,
} from './contract.js';
import { byId, degrees, hms, hoursHms, setClass, setText } from './dom.js';
import { applyConverterEvent, renderGroups } from './groups.js';
import { renderDaemons, renderScheduler } from './health.js';
import { LiveFeed, type LiveEvent, type LiveState } from './live.js';
import { openThumbnail, renderThumbnails } from './thumbs.js';
import { renderTransits } from './transits.js';

/** Which parts an event topic can change. */
const TOPIC_PARTS: Record<string, PartName[]> = {
  converter: ['groups'],
  pointing: ['pointing', 'transits', 'clock'],
  transit: ['transits', 'pointing'],
  thumbnails: ['thumbnails'],
  alerts: ['alerts'],
  scheduler: ['scheduler'],
};

/** How long events may gather before the parts they touch are re-read (ms). */
const REFRESH_DELAY_MS = 60;
const DAEMON_POLL_MS = 5_000;

const snap: StatusSnapshot = { seq: 0, serverTime: 0 };
/** The seq each part shown was read at, and the newest event that touched it. */
const shownSeq = Object.fromEntries(PART_NAMES.map((p) => [p, 0])) as Record<PartName, number>;
const eventSeq = Object.fromEntries(PART_NAMES.map((p) => [p, 0])) as Record<PartName, number>;
let daemons: DaemonView[] = [];
let live: LiveFeed | null = null;

// ---- feedback --------------------------------------------------------------------------------------------

let toastTimer: number | undefined;
function announce(text: string, kind: 'ok' | 'error' = 'ok'): void {
  const el = byId('toast');
  setClass(el, `toast show ${kind}`);
  setText(el, text);
  window.clearTimeout(toastTimer);
  toastTimer = window.setTimeout(() => setClass(el, 'toast'), 6_000);
}

function failure(e: unknown): string {
  return e instanceof ApiError ? e.message : 'the daemon did not answer';
}

// ---- drawing ---------------------------------------------------------------------------------------------

function drawClock(now: number): void {
  const c: ClockPart | undefined = snap.clock;
  setText(byId('utc'), hms(now));
  if (c) {
    setText(byId('lst'), hoursHms(c.lst.hours + ((now - c.lst.refMs) / 3_600_000) * c.lst.rate));
    setText(byId('site'), `${c.site.name} · served by ${c.servedBy}`);
  }
  const p = snap.pointing;
  if (p) {
    setText(byId('dec'), degrees(p.decDeg, 2));
    const note = byId('dec-note');
    setText(note, p.decDeg === null ? 'no pointing yet' : p.stale ? 'stale' : p.state);
    setClass(note, `note p-${p.stale ? 'stale' : p.state}`);
  }
}

const actions = {
  async requeue(groupId: string): Promise<void> {
    try {
      const r = await act('POST', `/api/status/groups/${encodeURIComponent(groupId)}/requeue`, {});
      announce(r.message);
    } catch (e) {
      announce(`requeue of ${groupId} refused: ${failure(e)}`, 'error');
    }
  },
  async ack(fingerprint: string, alertname: string): Promise<void> {
    try {
      const r = await act('POST', `/api/status/alerts/${encodeURIComponent(fingerprint)}/ack`, {});
      announce(`${alertname} ${r.message}`);
    } catch (e) {
      announce(`ack of ${alertname} refused: ${failure(e)}`, 'error');
    }
  },
  async unack(fingerprint: string, alertname: string): Promise<void> {
    try {
      const r = await act('DELETE', `/api/status/alerts/${encodeURIComponent(fingerprint)}/ack`);
      announce(`${alertname}: ${r.message}`);
    } catch (e) {
      announce(`unack of ${alertname} refused: ${failure(e)}`, 'error');
    }
  },
};

function openThumb(id: number): void {
  openThumbnail(id, document.activeElement).catch((e: unknown) =>
    announce(`cannot open the image: ${failure(e)}`, 'error'),
  );
}

function drawPart(p: PartName, now: number): void {
  switch (p) {
    case 'clock':
    case 'pointing':
      return drawClock(now);
    case 'transits':
      return renderTransits(byId('transit-list'), snap.transits ?? [], now);
    case 'groups':
      return renderGroups(byId('group-list'), snap.groups ?? [], actions);
    case 'thumbnails':
      byId('thumbs-empty').hidden = (snap.thumbnails ?? []).length > 0;
      return renderThumbnails(byId('thumb-list'), snap.thumbnails ?? [], openThumb);
    case 'alerts': {
      const alerts = snap.alerts ?? [];
      const firing = alerts.filter((a) => a.state === 'firing').length;
      setText(
        byId('alerts-count'),
        alerts.length ? `${firing} firing · ${alerts.length - firing} taken` : '',
      );
      byId('alerts-empty').hidden = alerts.length > 0;
      return renderAlerts(byId('alert-list'), alerts, actions, now);
    }
    case 'scheduler':
      return snap.scheduler ? renderScheduler(byId('scheduler'), snap.scheduler, now) : undefined;
  }
}

function tick(): void {
  const now = serverClock.now();
  drawClock(now);
  for (const p of ['transits', 'alerts', 'scheduler'] as const) drawPart(p, now);
  renderDaemons(byId('daemon-list'), daemons, now);
  // The next tick just after the server clock's next second.
  window.setTimeout(tick, 1000 - (now % 1000) + 5);
}

// ---- data ------------------------------------------------------------------------------------------------

function take(s: StatusSnapshot, parts: readonly PartName[]): void {
  const now = serverClock.now();
  for (const p of parts) {
    if (s[p] === undefined) continue;
    (snap as unknown as Record<string, unknown>)[p] = s[p];
    shownSeq[p] = s.seq;
    drawPart(p, now);
  }
  snap.seq = Math.max(snap.seq, s.seq);
}

/** Re-reads the parts events marked, a few at a time; an answer older than those events is asked again. */
const refresher = {
  dirty: new Set<PartName>(),
  timer: undefined as number | undefined,
  busy: false,
  failures: 0,
  mark(parts: readonly PartName[], seq: number): void {
    for (const p of parts) {
      eventSeq[p] = Math.max(eventSeq[p], seq);
      this.dirty.add(p);
    }
    this.schedule(REFRESH_DELAY_MS);
  },
  schedule(ms: number): void {
    if (this.timer === undefined && !this.busy && this.dirty.size)
      this.timer = window.setTimeout(() => void this.run(), ms);
  },
  async run(): Promise<void> {
    this.timer = undefined;
    this.busy = true;
    const asked = [...this.dirty];
    this.dirty.clear();
    try {
      const s = await getJson<StatusSnapshot>(`/api/status?parts=${asked.join(',')}`);
      const fresh = asked.filter((p) => s.seq >= eventSeq[p]);
      for (const p of asked) if (!fresh.includes(p)) this.dirty.add(p);
      take(s, fresh);
      this.failures = 0;
    } catch {
      for (const p of asked) this.dirty.add(p);
      this.failures++;
    } finally {
      this.busy = false;
      this.schedule(this.failures ? Math.min(5_000, 250 * 2 ** this.failures) : REFRESH_DELAY_MS);
    }
  },
};

function onEvent(e: LiveEvent): void {
  // The newest event applied, for whoever watches the page (tests, a curious operator's devtools).
  document.body.dataset.seq = String(e.seq);
  const parts = TOPIC_PARTS[e.topic];
  if (!parts) return;
  // What the event says is drawn now; the part read after it settles the details (times, errors).
  if (e.topic === 'converter' && e.seq > shownSeq.groups && snap.groups) {
    const groups: GroupView[] = snap.groups;
    if (applyConverterEvent(groups, e.event, e.payload)) drawPart('groups', serverClock.now());
  }
  refresher.mark(parts, e.seq);
}

function onState(state: LiveState, detail: string): void {
  const el = byId('conn');
  setClass(el, `conn c-${state}`);
  setText(el, state === 'live' ? 'live' : detail);
  document.body.dataset.conn = state;
  byId('offline').hidden = state !== 'reconnecting';
  // Back after an outage: the other daemons may have come or gone meanwhile.
  if (state === 'live' && detail !== 'live') void pollDaemons();
}

/** Events were lost: read the whole snapshot again (until it answers), then follow from its seq. */
async function reload(): Promise<void> {
  for (let wait = 500; ; wait = Math.min(wait * 2, 5_000)) {
    try {
      const s = await getJson<StatusSnapshot>('/api/status');
      take(s, PART_NAMES);
      document.body.dataset.seq = String(s.seq);
      document.body.dataset.reloads = String(Number(document.body.dataset.reloads ?? 0) + 1);
      live?.restart(s.seq);
      return;
    } catch {
      await new Promise((r) => window.setTimeout(r, wait));
    }
  }
}

async function pollDaemons(): Promise<void> {
  try {
    daemons = await getJson<DaemonView[]>('/api/status/daemons');
    renderDaemons(byId('daemon-list'), daemons, serverClock.now());
  } catch {
    /* the serving daemon is away: the connection state says so */
  }
}

async function boot(): Promise<void> {
  let first: StatusSnapshot;
  try {
    [first] = await Promise.all([getJson<StatusSnapshot>('/api/status'), pollDaemons()]);
  } catch (e) {
    const el = byId('fatal');
    el.hidden = false;
    setText(
      el,
      e instanceof ApiError && e.status === 401
        ? 'This daemon needs its token: open the page as /?token=… (the http.token of the config).'
        : `The status could not be loaded: ${failure(e)}. Reload to try again.`,
    );
    return;
  }
  take(first, PART_NAMES);
  document.body.dataset.seq = String(first.seq);
  document.documentElement.dataset.ready = 'true';
  performance.mark('status:rendered');
  live = new LiveFeed(first.seq, { onEvent, onState, onGap: () => void reload() });
  live.start();
  tick();
  window.setInterval(() => void pollDaemons(), DAEMON_POLL_MS);
  byId('thumb-close').addEventListener('click', () => byId<HTMLDialogElement>('thumb-dialog').close());
}

void boot();
