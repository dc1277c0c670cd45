// Worker-thread entry: renders requests posted by the pool, one at a time, and posts back the output or a
// failure as data. Rendering blocks for up to a few hundred ms; here it never stalls /metrics or /ws.
import { parentPort } from 'node:worker_threads';
import { runMosaic, type MosaicRequest } from './mosaic-task.js';
import {
  runMetadata,
  runRender,
  toFailure,
  type MetadataRequest,
  type RenderRequest,
} from './render-task.js';

type Request = RenderRequest | MetadataRequest | MosaicRequest;

function runRequest(req: Request): unknown {
  if (!('kind' in req)) return runRender(req);
  return req.kind === 'mosaic' ? runMosaic(req) : runMetadata(req);
}

parentPort?.on('message', (msg: { id: number; req: Request }) => {
  try {
    const out = runRequest(msg.req);
    parentPort?.postMessage({ id: msg.id, ok: true, out });
  } catch (e) {
    parentPort?.postMessage({ id: msg.id, ok: false, failure: toFailure(e) });
  }
});
