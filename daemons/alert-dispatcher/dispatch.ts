// The dispatch loop (one tick every tickMs, only in the process holding the `alert-dispatcher` lease): resolve
// external alerts nobody refreshed, read alert changes past the cursor, route them into groups, load silences
// and acks, add unacknowledged old critical alerts to escalation groups, decide every due group's flush, and
// enqueue the result in one transaction (fenced by the lease token) together with the notification log and
// the cursor. In-memory groups change only after that transaction commits.
import { resolveAlert } from '../../lib/alerts/index.js';
import { assertLeaseHeld } from '../../lib/leases/index.js';
import type { AlertView } from '../../lib/notifiers/content.js';
import type { ReceiverConfig } from '../../lib/config/sections/alert-dispatcher-receivers.js';
import { ackHolds, allAcks, type AckRow } from './acks.js';
import { outboxCtx, type Ctx } from './context.js';
import { emptyLog, groupIsIdle, type Group, type NotifLog } from './flush.js';
import {
  compileInhibitRules,
  compileSilence,
  InhibitionIndex,
  silencedBy,
  type ActiveSilence,
  type InhibitRule,
} from './mute.js';
import { enqueueNotification, releaseOrphanedHeld } from './outbox.js';
import { planFlushes, type Entry, type Plan } from './plan.js';
import { compileRoutes, placeAlert, type CompiledRoute, type Timers } from './routing.js';
import { unexpiredSilences } from './silences.js';
import * as S from './store.js';

export const DISPATCH_LEASE = 'alert-dispatcher';
const PAGE = 1000;
const ESCALATION_PREFIX = 'escalation:';
/** The least time between two ticks (the config's least tickMs), whatever is due. */
const MIN_TICK_GAP_MS = 10;

const gid = (receiver: string, key: string): string => `${receiver}\0${key}`;

export class DispatchLoop {
  private readonly groups = new Map<string, Group>();
  private readonly logs = new Map<string, S.StoredLog>();
  /** fingerprint → ids of the groups it is in. */
  private readonly membership = new Map<string, Set<string>>();
  /** Every firing alert (inhibition sources, escalation, gauges). */
  private readonly firing = new Map<string, AlertView>();
  private readonly routes: CompiledRoute[];
  private readonly inhibitRules: InhibitRule[];
  private readonly receivers: Map<string, ReceiverConfig>;
  private silences: ActiveSilence[] = [];
  private acks = new Map<string, AckRow>();
  private inhibition: InhibitionIndex;
  private cursor = 0;
  private token: number | null | undefined = undefined;
  private lastHousekeeping = 0;
  private lastPrune = 0;
  private lastOutboxGauges = 0;
  private lastGauges = 0;

  constructor(
    private readonly ctx: Ctx,
    private readonly wakeReceiver: (name: string) => void,
  ) {
    this.routes = compileRoutes(ctx.cfg);
    this.inhibitRules = compileInhibitRules(ctx.cfg.inhibit);
    this.receivers = new Map(ctx.cfg.receivers.map((r) => [r.name, r]));
    this.inhibition = new InhibitionIndex(this.inhibitRules, []);
  }

  /** Number of groups in memory (for status and tests). */
  get groupCount(): number {
    return this.groups.size;
  }

  /** One tick; returns when the next one is due: the next group flush, or tickMs from now if that is sooner. */
  async tick(token: number | null): Promise<number> {
    const now = this.ctx.clock.now();
    if (token !== this.token) {
      this.rebuild(now);
      this.token = token;
    }
    await this.resolveExpired(now);
    this.readChanges(now);
    this.loadMutes(now);
    this.escalate(now);
    await this.commit(this.plan(now), token, now);
    this.gauges(now);
    await this.housekeeping(now);
    this.ctx.m.heartbeat.set(Date.now() / 1000);
    return Math.max(now + MIN_TICK_GAP_MS, this.nextFlushAt(now + this.ctx.cfg.tickMs));
  }

  /**
   * The earliest group flush before `limit`: a group wait or group interval that ends between two ticks is
   * flushed when it ends, not up to tickMs later (the tick still runs at least every tickMs for new changes).
   */
  private nextFlushAt(limit: number): number {
    let next = limit;
    for (const g of this.groups.values()) if (g.nextFlushAt < next) next = g.nextFlushAt;
    return next;
  }

  private isMuted = (a: AlertView, now = this.ctx.clock.now()): boolean =>
    silencedBy(a.labels, this.silences, now) !== null || this.inhibition.inhibitedBy(a) !== null;

  private isAcked = (a: AlertView, now = this.ctx.clock.now()): boolean =>
    ackHolds(this.acks.get(a.fingerprint), a, now);

  /**
   * (Re)load everything from the database: on start and whenever the lease changes hands. Groups this process
   * already had keep their timers; groups with an announced, unresolved alert are looked at now (a resolution
   * during a downtime is announced at once; the log keeps anything from being sent twice).
   */
  private rebuild(now: number): void {
    const timing = new Map(
      [...this.groups].map(([id, g]) => [id, { createdAt: g.createdAt, nextFlushAt: g.nextFlushAt }]),
    );
    this.groups.clear();
    this.logs.clear();
    this.membership.clear();
    this.firing.clear();
    const { views, stored } = this.ctx.db.read((c) => {
      this.cursor = S.maxChangeId(c);
      const stored = S.liveLogs(c);
      const firing = S.firingViews(c);
      const have = new Set(firing.map((v) => v.fingerprint));
      const notified = [...new Set(stored.flatMap((s) => s.log.notified.map((p) => p[0])))].filter(
        (fp) => !have.has(fp),
      );
      return { views: [...firing, ...S.alertViews(c, notified)], stored };
    });
    for (const s of stored) this.logs.set(gid(s.receiver, s.groupKey), s);
    const byFp = new Map(views.map((v) => [v.fingerprint, v]));
    for (const v of views) this.place(v, now);
    for (const s of stored.filter((x) => x.groupKey.startsWith(ESCALATION_PREFIX))) {
      const v = byFp.get(s.groupKey.slice(ESCALATION_PREFIX.length));
      if (v) this.addToEscalation(s.receiver, v, now);
    }
    for (const [id, g] of this.groups) {
      const t = timing.get(id);
      if (t) Object.assign(g, t);
      else if ((this.logs.get(id)?.log.notified.length ?? 0) > 0) g.nextFlushAt = now;
    }
    this.ctx.log.info(
      { groups: this.groups.size, firing: this.firing.size, cursor: this.cursor },
      'dispatch state loaded',
    );
  }

  private announced(id: string, fp: string): boolean {
    return this.logs.get(id)?.log.notified.some((p) => p[0] === fp) ?? false;
  }

  /** Put an alert (new or changed) into its groups; take it out of groups it no longer routes to. */
  private place(v: AlertView, now: number): void {
    if (v.status === 'firing') this.firing.set(v.fingerprint, v);
    else this.firing.delete(v.fingerprint);
    const ids = new Set<string>();
    for (const p of placeAlert(v.labels, this.routes)) {
      const id = gid(p.receiver, p.groupKey);
      let g = this.groups.get(id);
      if (!g) {
        // A resolved alert nobody was told about needs no group.
        if (v.status === 'resolved' && !this.announced(id, v.fingerprint)) continue;
        // Group wait counts from when the episode began here (an alert that fired while no dispatcher ran
        // has waited already); Alertmanager's alerts were grouped and waited for upstream.
        const due = v.preGrouped ? now : Math.max(now, Math.min(now, v.seenAt) + p.timers.groupWaitMs);
        g = this.newGroup(p.receiver, p.groupKey, p.groupLabels, p.timers, false, due);
      }
      g.alerts.set(v.fingerprint, v);
      ids.add(id);
    }
    for (const id of this.membership.get(v.fingerprint) ?? []) {
      if (ids.has(id)) continue;
      const g = this.groups.get(id);
      if (!g) continue;
      if (g.escalation) {
        g.alerts.set(v.fingerprint, v);
        ids.add(id);
      } else g.alerts.delete(v.fingerprint);
    }
    if (ids.size) this.membership.set(v.fingerprint, ids);
    else this.membership.delete(v.fingerprint);
  }

  private newGroup(
    receiver: string,
    key: string,
    labels: Record<string, string>,
    timers: Timers,
    escalation: boolean,
    nextFlushAt: number,
  ): Group {
    const g: Group = {
      receiver,
      key,
      labels,
      timers,
      escalation,
      alerts: new Map(),
      createdAt: this.ctx.clock.now(),
      nextFlushAt,
    };
    this.groups.set(gid(receiver, key), g);
    return g;
  }

  private async resolveExpired(now: number): Promise<void> {
    const expired = this.ctx.db.read((c) => S.expiredExternal(c, now));
    if (expired.length === 0) return;
    await this.ctx.db.writeAsync((conn) => {
      for (const a of expired) resolveAlert(conn, a, now);
    });
    this.ctx.log.info({ count: expired.length }, 'external alerts not refreshed in time: resolved');
  }

  private readChanges(now: number): void {
    for (;;) {
      const changes = this.ctx.db.read((c) => S.changesAfter(c, this.cursor, PAGE));
      if (changes.length === 0) return;
      const fps = [...new Set(changes.map((c) => c.fingerprint))];
      // In the order the changes happened, so notifications are enqueued (and sent) in that order too.
      const order = new Map(fps.map((fp, i) => [fp, i]));
      const views = this.ctx.db
        .read((c) => S.alertViews(c, fps))
        .sort((a, b) => order.get(a.fingerprint)! - order.get(b.fingerprint)!);
      for (const ch of changes) if (ch.event === 'fired') this.ctx.m.fired.inc({ severity: ch.severity });
      for (const v of views) this.place(v, now);
      for (const fp of fps.filter((f) => !views.some((v) => v.fingerprint === f))) this.forget(fp);
      this.cursor = changes[changes.length - 1].id;
      if (changes.length < PAGE) return;
    }
  }

  /** An alert row that is gone (deleted by retention): out of every group. */
  private forget(fp: string): void {
    for (const id of this.membership.get(fp) ?? []) this.groups.get(id)?.alerts.delete(fp);
    this.membership.delete(fp);
    this.firing.delete(fp);
  }

  private loadMutes(now: number): void {
    const { silences, acks } = this.ctx.db.read((c) => ({
      silences: unexpiredSilences(c, now),
      acks: allAcks(c),
    }));
    this.silences = silences.map(compileSilence);
    this.acks = acks;
    this.inhibition = new InhibitionIndex(this.inhibitRules, this.firing.values());
  }

  private addToEscalation(receiver: string, v: AlertView, now: number): void {
    const key = `${ESCALATION_PREFIX}${v.fingerprint}`;
    const id = gid(receiver, key);
    const critical = this.ctx.cfg.repeatIntervalS.critical * 1000;
    const g =
      this.groups.get(id) ??
      this.newGroup(
        receiver,
        key,
        { alertname: v.alertname },
        {
          groupWaitMs: 0,
          groupIntervalMs: this.ctx.cfg.groupIntervalS * 1000,
          repeatMs: { critical, warning: critical, info: critical },
        },
        true,
        now,
      );
    g.alerts.set(v.fingerprint, v);
    const ids = this.membership.get(v.fingerprint) ?? new Set<string>();
    ids.add(id);
    this.membership.set(v.fingerprint, ids);
  }

  /** A firing alert of an escalating severity, unacknowledged and unmuted past escalation.afterS. */
  private escalate(now: number): void {
    const e = this.ctx.cfg.escalation;
    if (e.receivers.length === 0) return;
    for (const v of this.firing.values()) {
      if (!e.severities.includes(v.severity) || v.startsAt + e.afterS * 1000 > now) continue;
      if (this.isAcked(v, now) || this.isMuted(v, now)) continue;
      for (const r of e.receivers)
        if (!this.groups.has(gid(r, `${ESCALATION_PREFIX}${v.fingerprint}`))) this.addToEscalation(r, v, now);
    }
  }

  private logOf(g: Group): NotifLog {
    return this.logs.get(gid(g.receiver, g.key))?.log ?? emptyLog();
  }

  /** Decide every due group (see plan.ts). */
  private plan(now: number): Plan {
    return planFlushes({
      groups: this.groups.values(),
      logOf: (g) => this.logOf(g),
      flush: (g) => ({
        now,
        isMuted: (a) => this.isMuted(a, now),
        isAcked: (a) => this.isAcked(a, now),
        sendResolved: this.receivers.get(g.receiver)?.sendResolved ?? true,
      }),
      now,
      maxGroupsPerFlush: this.ctx.cfg.storm.maxGroupsPerFlush,
      maxAlerts: this.ctx.cfg.maxAlertsPerMessage,
      externalUrl: this.ctx.externalUrl,
      host: this.ctx.host,
    });
  }

  /** One transaction: every notification, every changed log, the cursor. Then update memory. */
  private async commit(p: Plan, token: number | null, now: number): Promise<void> {
    const newLogs = new Map<string, S.StoredLog>();
    const logFor = (e: Entry, id?: number, messageId?: string, digest = false): S.StoredLog => {
      const d = e.d;
      const before = this.logOf(e.g);
      let log: NotifLog = d.log;
      if (d.enqueue) {
        const thread = digest
          ? before.threadMessageId
          : d.startsThread
            ? (messageId ?? null)
            : before.threadMessageId;
        log = { ...d.log, lastNotificationId: id ?? null, threadMessageId: d.endsThread ? null : thread };
      }
      return { receiver: e.g.receiver, groupKey: e.g.key, groupLabels: e.g.labels, log };
    };
    const woken = new Set<string>();
    await this.ctx.db.writeAsync((conn) => {
      // Whatever another attempt of this write had counted is recounted: start from scratch each try.
      newLogs.clear();
      woken.clear();
      if (token !== null) assertLeaseHeld(conn, DISPATCH_LEASE, token, now);
      const oc = outboxCtx(this.ctx, now);
      for (const pl of p.planned) {
        const r = enqueueNotification(
          conn,
          {
            receiver: pl.receiver,
            groupKey: pl.groupKey,
            kind: pl.content.kind,
            content: pl.content,
            hash: pl.hash,
            epoch: pl.epoch,
          },
          oc,
        );
        if (r.created) {
          this.ctx.m.enqueued.inc({ receiver: pl.receiver, kind: pl.content.kind });
          woken.add(pl.receiver);
        }
        for (const e of pl.entries)
          newLogs.set(gid(e.g.receiver, e.g.key), logFor(e, r.id, r.messageId, pl.digest));
      }
      for (const e of p.entries) {
        const id = gid(e.g.receiver, e.g.key);
        const s = newLogs.get(id) ?? logFor(e);
        newLogs.set(id, s);
        if (JSON.stringify(s.log) !== JSON.stringify(this.logOf(e.g))) S.saveLog(conn, s, now);
      }
      S.saveCursor(conn, this.cursor, now);
    });
    for (const e of p.entries) this.afterFlush(e, newLogs.get(gid(e.g.receiver, e.g.key))!, now);
    for (const r of woken) this.wakeReceiver(r);
  }

  private afterFlush(e: Entry, s: S.StoredLog, now: number): void {
    const id = gid(e.g.receiver, e.g.key);
    this.logs.set(id, s);
    for (const fp of e.d.remove) {
      e.g.alerts.delete(fp);
      const ids = this.membership.get(fp);
      ids?.delete(id);
      if (ids && ids.size === 0) this.membership.delete(fp);
    }
    e.g.nextFlushAt = now + e.g.timers.groupIntervalMs;
    if (groupIsIdle(e.g, s.log) && !s.log.threadMessageId) {
      this.groups.delete(id);
      this.logs.delete(id);
    }
  }

  private gauges(now: number): void {
    const m = this.ctx.m;
    // At most once a second: with thousands of alerts and a short tick this would dominate the loop.
    const wallNow = Date.now();
    if (wallNow - this.lastGauges < 1000) return;
    this.lastGauges = wallNow;
    const counts = new Map<string, number>();
    for (const v of this.firing.values()) {
      const state = this.isMuted(v, now) ? 'muted' : this.isAcked(v, now) ? 'acked' : 'firing';
      counts.set(`${v.severity}\0${state}`, (counts.get(`${v.severity}\0${state}`) ?? 0) + 1);
    }
    for (const severity of ['critical', 'warning', 'info'])
      for (const state of ['firing', 'muted', 'acked'])
        m.active.set({ severity, state }, counts.get(`${severity}\0${state}`) ?? 0);
    m.silences.set(this.silences.filter((s) => s.startsAt <= now && now < s.endsAt).length);
    const wall = Date.now();
    if (wall - this.lastOutboxGauges < 2000) return;
    this.lastOutboxGauges = wall;
    const pending = this.ctx.db.read((c) => S.pendingByReceiver(c));
    for (const r of this.receivers.keys()) {
      const p = pending.get(r);
      m.pending.set({ receiver: r }, p?.n ?? 0);
      m.oldestPendingAge.set({ receiver: r }, p ? Math.max(0, now - p.oldest) / 1000 : 0);
    }
  }

  /** Every 10 s: held notifications left without a sibling in flight; hourly retention. */
  private async housekeeping(now: number): Promise<void> {
    if (now - this.lastHousekeeping < 10_000 && now >= this.lastHousekeeping) return;
    this.lastHousekeeping = now;
    await this.ctx.db.writeAsync((conn) => releaseOrphanedHeld(conn, outboxCtx(this.ctx, now)));
    if (now - this.lastPrune >= 3_600_000 || now < this.lastPrune) {
      this.lastPrune = now;
      const cutoff = now - this.ctx.cfg.retentionDays * 86_400_000;
      let pruned = 0;
      for (let n = -1; n !== 0; pruned += n)
        n = await this.ctx.db.writeAsync((conn) => S.pruneOld(conn, cutoff, 500));
      if (pruned) this.ctx.log.info({ pruned }, 'old notifications pruned');
    }
  }
}
