// Config section `thumbnailWorker` (owned by daemons/thumbnail-worker).
import { z } from 'zod';
import { dataPath, portField, type SchemaContext } from '../fields.js';

export function thumbnailWorkerSection(ctx: SchemaContext) {
  return z.strictObject({
    port: portField(9314),
    outputDir: dataPath(ctx, 'thumbnails'),
  });
}
