// Config section `streamingConverter` (owned by daemons/streaming-converter).
import { z } from 'zod';
import { dataPath, portField, seconds, type SchemaContext } from '../fields.js';

export function streamingConverterSection(ctx: SchemaContext) {
  return z.strictObject({
    port: portField(9310),
    incomingDir: dataPath(ctx, 'incoming'),
    outputDir: dataPath(ctx, 'ms'),
    scratchDir: dataPath(ctx, 'scratch'),
    settleS: seconds(5),
    scanIntervalS: seconds(30, 0.1),
    groupToleranceS: seconds(60),
    groupTimeoutS: seconds(900),
    expectedSubbands: z.number().int().min(1).max(64).default(16),
    expectedNfreqs: z.number().int().min(1).default(48),
    maxConcurrent: z.number().int().min(1).default(1),
    maxAttempts: z.number().int().min(1).default(3),
    dispatchPartial: z.boolean().default(false),
    minFreeGb: z.number().min(0).default(50),
    converter: z
      .strictObject({
        argv: z
          .array(z.string().min(1), { error: 'expected an array of strings (argv template)' })
          .min(1)
          .default(['contimg', 'convert-check', '--manifest', '{manifest}', '--out', '{out}', '--result', '{result}']),
        timeoutS: seconds(900, 1),
        env: z.record(z.string(), z.string()).default({}),
      })
      .prefault({}),
  });
}
