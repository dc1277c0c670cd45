// MosaicStale, the `mosaicWatchdog` job (docs/mosaicking.md "Alerts"): for each tier with a staleAfterS
// (quicklook, science) and each strip, an eligible image observed between 2·staleAfterS and staleAfterS ago
// that no built mosaic covers (its observation is later than the newest built window_end of the tier and
// strip) means mosaics are not keeping up. Images younger than staleAfterS are not yet late; without eligible
// images the check is silent; the next build that covers them resolves it. The clock is the context's.
import type { Connection } from '../../../lib/db/index.js';
import { globToRegExp, judge, stripLabel } from '../../../lib/mosaic/plan/index.js';
import type { JobFn, SchedulerContext } from '../context.js';
import { reconcileAlerts, type Finding } from '../findings.js';
import { loadCandidates } from './plan-candidates.js';
import { plannerSettings } from './plan-job.js';

export const STALE_ALERT = 'MosaicStale';
const TIERS = ['quicklook', 'science'] as const;
type StaleTier = (typeof TIERS)[number];

/** The newest built window_end per (tier, strip label). */
export function lastBuiltEnds(
  conn: Connection,
): Map<string, { tier: StaleTier; strip: string; endMs: number }> {
  const rows = conn
    .prepare(
      `SELECT tier, strip_dec_deg, MAX(window_end) AS end_ms FROM mosaic_plans
       WHERE state IN ('built', 'graded') AND tier IN ('quicklook', 'science') GROUP BY tier, strip_dec_deg`,
    )
    .all() as { tier: StaleTier; strip_dec_deg: number; end_ms: number }[];
  const out = new Map<string, { tier: StaleTier; strip: string; endMs: number }>();
  for (const r of rows) {
    const strip = stripLabel(r.strip_dec_deg);
    const key = `${r.tier}|${strip}`;
    const cur = out.get(key);
    if (!cur || r.end_ms > cur.endMs) out.set(key, { tier: r.tier, strip, endMs: r.end_ms });
  }
  return out;
}

/** Per tier and strip: the newest eligible observation that is older than staleAfterS (within 2·staleAfterS). */
function lateEligible(ctx: SchedulerContext, tier: StaleTier, nowMs: number): Map<string, number> {
  const staleMs = ctx.config.scheduler.mosaic.tiers[tier].staleAfterS * 1000;
  const window = { fromMs: nowMs - 2 * staleMs, toMs: nowMs - staleMs };
  const settings = plannerSettings(ctx.config, { tier, window, trigger: 'cron' });
  const globs = settings.inputGlobs.map(globToRegExp);
  const out = new Map<string, number>();
  for (const c of loadCandidates(ctx.state, ctx.pipeline, {
    window,
    cadenceS: settings.cadenceS,
    frames: false,
  })) {
    if (c.obsMidMs === null || c.decDeg === null) continue;
    if (c.obsMidMs < window.fromMs || c.obsMidMs >= window.toMs) continue;
    if (judge(c, settings, globs, nowMs).kind !== 'eligible') continue;
    const strip = stripLabel(c.decDeg);
    out.set(strip, Math.max(out.get(strip) ?? -Infinity, c.obsMidMs));
  }
  return out;
}

export function staleFindings(ctx: SchedulerContext, nowMs: number): Finding[] {
  const m = ctx.config.scheduler.mosaic;
  if (!m.enabled) return [];
  const built = ctx.state.read(lastBuiltEnds);
  const findings: Finding[] = [];
  for (const tier of TIERS) {
    if (!m.tiers[tier].enabled) continue;
    for (const [strip, newest] of lateEligible(ctx, tier, nowMs)) {
      const last = built.get(`${tier}|${strip}`)?.endMs ?? null;
      if (last !== null && last >= newest) continue;
      findings.push({
        alertname: STALE_ALERT,
        severity: 'warning',
        labels: { tier, strip },
        summary:
          `no ${tier} mosaic built for strip ${strip} covers images observed up to ` +
          `${new Date(newest).toISOString()} (staleAfterS ${m.tiers[tier].staleAfterS})`,
        description:
          last === null
            ? 'no built mosaic of this tier and strip at all'
            : `newest built window ends ${new Date(last).toISOString()}`,
        value: String(Math.round((nowMs - (last ?? newest)) / 1000)),
      });
    }
  }
  return findings;
}

function setGauges(ctx: SchedulerContext, built: ReturnType<typeof lastBuiltEnds>, nowMs: number): void {
  const g = ctx.metrics.mosaic;
  g.lastBuiltWindowEnd.reset();
  const newest = new Map<StaleTier, number>();
  for (const b of built.values()) {
    g.lastBuiltWindowEnd.set({ tier: b.tier, strip: b.strip }, b.endMs / 1000);
    newest.set(b.tier, Math.max(newest.get(b.tier) ?? -Infinity, b.endMs));
  }
  g.lag.reset();
  for (const [tier, end] of newest) g.lag.set({ tier }, (nowMs - end) / 1000);
}

export const mosaicWatchdogJob: JobFn = async (ctx) => {
  const now = ctx.clock.now();
  const findings = staleFindings(ctx, now);
  return {
    result: 'ok',
    summary: { stale: findings.map((f) => `${f.labels.tier} ${f.labels.strip}`) },
    apply: (conn, at) => {
      reconcileAlerts(conn, { source: 'mosaic', host: ctx.host, alertnames: [STALE_ALERT] }, findings, at);
    },
    afterCommit: () => setGauges(ctx, ctx.state.read(lastBuiltEnds), now),
  };
};
