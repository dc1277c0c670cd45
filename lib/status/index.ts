// The live status page, served by every daemon (lib/daemon registers it once for all): the page and its
// files, the JSON snapshot of the whole host read from the shared state database, each daemon's readiness,
// a thumbnail's PNG and metadata by row id, and the page's actions. See docs/status-page.md.
//
//   GET  /                                  the page (token rule as the API)
//   GET  /status/<file>                     its script, style and icon (fixed list, no data, no token)
//   GET  /api/status[?parts=a,b]            the snapshot (all parts, or those named) with its event seq
//   GET  /api/status/daemons                every daemon's readiness and last sign of life
//   GET  /api/status/thumbnails/:id         a thumbnail and its stored FITS metadata
//   GET  /api/thumbnails/:id/png            the PNG of a thumbnails row
//   POST /api/status/alerts/:fingerprint/ack     DELETE the same to withdraw
//   POST /api/status/groups/:id/requeue
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import type { DaemonName, HttpRoutes } from '../daemon/types.js';
import type { Db } from '../db/index.js';
import { NotFoundError, RetryableError, ValidationError } from '../errors.js';
import { RawResponse, type ReadyReport } from '../http/index.js';
import type { Logger } from '../log.js';
import { PART_NAMES, type PartName, type ThumbnailDetail } from '../../web/status/contract.js';
import { getRow } from '../../daemons/thumbnail-worker/store.js';
import { ack, actorFor, requeue, unack, type ActionContext } from './actions.js';
import { assetResponse, contentSecurityPolicy, loadAssets, type Asset, type PageAssets } from './assets.js';
import { DaemonProbe } from './daemons.js';
import type * as Parts from './parts.js';
import { rowId, thumbnailPng } from './png.js';

export { actorFor } from './actions.js';

export interface StatusPageOptions {
  name: DaemonName;
  config: Config;
  state: Db;
  clock: Clock;
  log: Logger;
  /** The token the API requires, if any (sent to the other daemons' probes; decides the actor). */
  token?: string;
  /** This daemon's readiness (the same report as /readyz). */
  readiness: () => ReadyReport;
  /** Tests pass their own files. */
  assets?: PageAssets;
}

/** `?parts=a,b` → the named parts (unknown names are a 400); absent → all. */
export function partsFrom(url: URL): PartName[] {
  const text = url.searchParams.get('parts');
  if (text === null || text === '') return [...PART_NAMES];
  const asked = text.split(',').map((p) => p.trim());
  const bad = asked.filter((p) => !(PART_NAMES as readonly string[]).includes(p));
  if (bad.length)
    throw new ValidationError(`parts: unknown ${bad.join(', ')} (expected ${PART_NAMES.join(', ')})`);
  return [...new Set(asked)] as PartName[];
}

function notModified(a: Asset, headers: Record<string, unknown> | undefined): boolean {
  return headers?.['if-none-match'] === a.etag;
}

function serveAsset(a: Asset, headers: Record<string, unknown> | undefined, extra?: Record<string, string>) {
  const r = assetResponse(a, extra);
  return notModified(a, headers) ? new RawResponse(304, r.headers, '') : r;
}

/**
 * The views behind the page's API (parts.ts), loaded with the first request: they import every daemon's
 * store and the astronomy code, which a daemon nobody is looking at need not carry (docs/performance.md).
 */
let partsModule: Promise<typeof Parts> | undefined;
function loadParts(): Promise<typeof Parts> {
  partsModule ??= import('./parts.js').catch((e: unknown) => {
    partsModule = undefined;
    throw e;
  });
  return partsModule;
}

export function registerStatusPage(http: HttpRoutes, o: StatusPageOptions): void {
  const assets = o.assets ?? loadAssets();
  if (assets.problem) o.log.warn({ problem: assets.problem }, 'status page unavailable');
  const actor = actorFor(o.token);
  const parts = { config: o.config, name: o.name, actor };
  const actions: ActionContext = { config: o.config, state: o.state, clock: o.clock, log: o.log, actor };
  const probe = new DaemonProbe({
    config: o.config,
    self: o.name,
    readiness: o.readiness,
    startedAt: o.clock.now(),
    token: o.token,
    clock: o.clock,
  });

  http.route('GET', '/', ({ headers }) => {
    if (!assets.page)
      throw new RetryableError(`status page unavailable: ${assets.problem}`, { code: 'UNAVAILABLE' });
    const host = typeof headers?.host === 'string' ? headers.host : undefined;
    return serveAsset(assets.page, headers, { 'content-security-policy': contentSecurityPolicy(host) });
  });
  for (const [p, a] of assets.files)
    http.route('GET', p, ({ headers }) => serveAsset(a, headers), { public: true });

  http.route('GET', '/api/status', async ({ url }) => {
    const asked = partsFrom(url);
    const { readSnapshot } = await loadParts();
    return o.state.read((c) => readSnapshot(c, parts, asked, o.clock.now()));
  });
  http.route('GET', '/api/status/daemons', () => probe.views());
  http.route('GET', '/api/status/thumbnails/:id', async ({ params }): Promise<ThumbnailDetail> => {
    const id = rowId(params.id);
    const { metadataView, thumbnailView } = await loadParts();
    return o.state.read((c) => {
      const row = getRow(c, id);
      if (!row || row.status !== 'done') throw new NotFoundError(`no rendered thumbnail ${id}`);
      return { thumbnail: thumbnailView(row), metadata: metadataView(c, row) };
    });
  });
  http.route('GET', '/api/thumbnails/:id/png', ({ params }) =>
    thumbnailPng(o.state, o.config.thumbnailWorker.outputDir, params.id),
  );
  http.route('POST', '/api/status/alerts/:fingerprint/ack', ({ params, body }) =>
    ack(actions, params.fingerprint, body),
  );
  http.route('DELETE', '/api/status/alerts/:fingerprint/ack', ({ params }) =>
    unack(actions, params.fingerprint),
  );
  http.route('POST', '/api/status/groups/:id/requeue', ({ params, body }) =>
    requeue(actions, params.id, body),
  );
}
