// The scheduler's mosaic JSON API (docs/mosaicking.md "CLI and API"): POST /api/v1/mosaics plans on request
// (202 with the plan; 409 with the existing plan when a plan with the identical inputs hash exists; 422 with
// the rejection reasons when nothing is eligible), GET /api/v1/mosaics lists plans, GET /api/v1/mosaics/:name
// shows one with its inputs, attempts, product and QA. The dispatcher's routes (requeue, cancel) are its own.
import type { HttpRoutes } from '../../../lib/daemon/types.js';
import { ContimgError, InvalidStateError, NotFoundError, ValidationError } from '../../../lib/errors.js';
import { RawResponse } from '../../../lib/http/index.js';
import { MOSAIC_TIERS } from '../../../lib/mosaic/manifest.js';
import { parseCount } from '../../../lib/paging.js';
import type { SchedulerContext } from '../context.js';
import { listPlans, planView, rejectionList, showPlan } from './plan-admin.js';
import { planMosaicWindow } from './plan-job.js';
import { planRequestOf } from './plan-request.js';
import { planByHash } from './plan-store.js';

class NothingEligibleError extends ContimgError {
  constructor(message: string, details: Record<string, unknown>) {
    super(message, { code: 'NO_ELIGIBLE_INPUTS', httpStatus: 422, details });
  }
}

const PLAN_STATES = [
  'queued',
  'building',
  'retry_wait',
  'built',
  'graded',
  'failed',
  'superseded',
  'empty',
  'cancelled',
];

export function registerMosaicRoutes(http: HttpRoutes, ctx: SchedulerContext): void {
  http.route('POST', '/api/v1/mosaics', async (req) => {
    const request = planRequestOf(req.body, 'api');
    if (request.dryRun) throw new ValidationError('dryRun is for the CLI (contimg mosaic plan --dry-run)');
    // An identical plan already exists: 409 with it, nothing written.
    const probe = await planMosaicWindow(ctx, { ...request, dryRun: true });
    const withInputs = probe.result.units.filter((u) => u.status !== 'empty');
    if (!withInputs.length)
      throw new NothingEligibleError('no eligible images for this request', {
        candidates: probe.result.nCandidates,
        waiting: probe.result.waiting,
        rejected: rejectionList(probe.result.rejected),
      });
    const existing = ctx.state.read((c) => withInputs.map((u) => planByHash(c, u.tier, u.inputsHash)));
    if (existing.every((p) => p !== undefined))
      throw new InvalidStateError('a plan with these inputs exists', { plan: planView(existing[0]!) });
    const report = await planMosaicWindow(ctx, request, ctx.metrics.mosaic);
    const written = report.writes.filter((w) => w.outcome !== 'duplicate').map((w) => planView(w.plan));
    const first = written[0] ?? planView(report.writes[0]!.plan);
    return new RawResponse(
      202,
      { 'content-type': 'application/json; charset=utf-8' },
      JSON.stringify({ plan: first, name: first.name, plans: written }),
    );
  });
  http.route('GET', '/api/v1/mosaics', (req) => {
    const q = req.url.searchParams;
    const tier = q.get('tier') ?? undefined;
    const state = q.get('state') ?? undefined;
    if (tier !== undefined && !(MOSAIC_TIERS as readonly string[]).includes(tier))
      throw new ValidationError(`tier must be one of ${MOSAIC_TIERS.join(', ')}`, { tier });
    if (state !== undefined && !PLAN_STATES.includes(state))
      throw new ValidationError(`state must be one of ${PLAN_STATES.join(', ')}`, { state });
    const limitText = q.get('limit');
    const limit = limitText === null ? 50 : parseCount(limitText, 'limit', 1, 1000);
    if (typeof limit === 'string') throw new ValidationError(limit);
    return ctx.state.read((c) => listPlans(c, { tier, state, limit }));
  });
  http.route('GET', '/api/v1/mosaics/:name', (req) => {
    const shown = ctx.state.read((c) => showPlan(c, req.params.name!));
    if (!shown) throw new NotFoundError(`no mosaic plan named ${req.params.name}`, { name: req.params.name });
    return shown;
  });
}
