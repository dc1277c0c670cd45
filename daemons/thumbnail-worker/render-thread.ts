// Worker-thread entry: renders requests posted by the pool, one at a time, and posts back the output or a
// failure as data. Rendering blocks for up to a few hundred ms; here it never stalls /metrics or /ws.
import { parentPort } from 'node:worker_threads';
import {
  runMetadata,
  runRender,
  toFailure,
  type MetadataRequest,
  type RenderRequest,
} from './render-task.js';

parentPort?.on('message', (msg: { id: number; req: RenderRequest | MetadataRequest }) => {
  try {
    const out = 'kind' in msg.req ? runMetadata(msg.req) : runRender(msg.req);
    parentPort?.postMessage({ id: msg.id, ok: true, out });
  } catch (e) {
    parentPort?.postMessage({ id: msg.id, ok: false, failure: toFailure(e) });
  }
});
